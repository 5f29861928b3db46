//! Transient faults on the MySQL side: reader sessions killed in mid-copy are replaced and
//! the chunk is retried; under --consistent the snapshot cannot be rejoined, so the run stops
//! resumably (exit 8) and the same command finishes it.

use mysql_async::prelude::Queryable;

use crate::harness::{
    assert_identical, expect_code, mysql, output_of, pgcutover, spawn_stopping, stderr,
    wait_for_stop, MyDb, PrivateMariadb, Stop, TestDb,
};

const SOURCE: &str = "
CREATE TABLE item (id INT PRIMARY KEY, label VARCHAR(40) NOT NULL, price DECIMAL(10,2));
INSERT INTO item SELECT seq, CONCAT('item ', seq), seq / 7 FROM seq_1_to_3000;
";

/// Kills every session of the source database but the caller's: what a server restart, a
/// network cut or a DBA's KILL does to the readers.
async fn kill_sessions(db: &str) -> usize {
    let mut c = mysql("mysql").await;
    let ids: Vec<u64> = c
        .exec(
            "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
            (db,),
        )
        .await
        .expect("processlist");
    for id in &ids {
        let _ = c.query_drop(format!("KILL CONNECTION {id}")).await;
    }
    let _ = c.disconnect().await;
    ids.len()
}

#[tokio::test]
async fn killed_reader_sessions_are_replaced_and_the_chunk_retried() {
    let name = "pgctit_resume_kill";
    let my = MyDb::from_sql(name, SOURCE).await;
    let db = TestDb::new("mysql_resume_kill").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let source = my.url.clone();
    let args = [
        "copy",
        &source,
        &db.url,
        "--chunk-rows",
        "300",
        "--jobs",
        "1",
    ];
    let (mut child, stop) = spawn_stopping(dir.path(), &args, "chunk-committed", 2);
    assert!(matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint));
    assert!(
        kill_sessions(name).await >= 1,
        "the reader's session was there to kill"
    );
    std::fs::remove_file(&stop).expect("let it go on");
    let out = output_of(child);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("trying again"), "{}", stderr(&out));
    assert_identical(dir.path(), &source, &db.url);
    db.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn a_lost_consistent_snapshot_stops_resumably_and_the_same_command_finishes() {
    let name = "pgctit_resume_snapshot";
    let my = MyDb::from_sql(name, SOURCE).await;
    let db = TestDb::new("mysql_resume_snapshot").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let source = my.url.clone();
    let args = [
        "copy",
        &source,
        &db.url,
        "--chunk-rows",
        "300",
        "--jobs",
        "1",
        "--consistent",
    ];
    let (mut child, stop) = spawn_stopping(dir.path(), &args, "chunk-committed", 2);
    assert!(matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint));
    assert!(kill_sessions(name).await >= 1);
    std::fs::remove_file(&stop).expect("let it go on");
    let out = output_of(child);
    expect_code(&out, 8);
    assert!(
        stderr(&out).contains("--consistent snapshot was lost")
            || String::from_utf8_lossy(&out.stdout).contains("--consistent snapshot was lost"),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    let again = pgcutover(dir.path(), &args);
    expect_code(&again, 0);
    assert!(
        stderr(&again).contains("resuming the run"),
        "{}",
        stderr(&again)
    );
    assert_identical(dir.path(), &source, &db.url);
    db.drop().await;
    my.drop().await;
}

/// The source server goes down between two chunks and comes back a few seconds later: the
/// next chunk's reader cannot log in at first, and that is worth another try, not the end of
/// the run. The copy finishes, and the target is identical.
#[tokio::test]
async fn a_source_server_down_for_seconds_is_waited_for() {
    let mut server = PrivateMariadb::start(|_| vec!["--skip-log-bin".to_owned()]).await;
    let mut root = mysql_async::Conn::from_url(server.root_url())
        .await
        .expect("root");
    root.query_drop(format!("CREATE DATABASE shop; USE shop; {SOURCE}"))
        .await
        .expect("source");
    let _ = root.disconnect().await;
    let source = format!("mysql://root@127.0.0.1:{}/shop", server.port);
    let db = TestDb::new("mysql_resume_down").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "copy",
        &source,
        &db.url,
        "--chunk-rows",
        "300",
        "--jobs",
        "1",
        "--retries",
        "8",
    ];
    let (mut child, stop) = spawn_stopping(dir.path(), &args, "chunk-committed", 2);
    assert!(matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint));
    server.kill();
    std::fs::remove_file(&stop).expect("let it go on");
    // Long enough for the next chunk to fail to log in at least once.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    server.start_again().await;
    let out = output_of(child);
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains("cannot connect") && stderr(&out).contains("trying again"),
        "{}",
        stderr(&out)
    );
    assert_identical(dir.path(), &source, &db.url);
    db.drop().await;
}

/// A source that takes inserts while a copy is interrupted: its AUTO_INCREMENT moves, which is
/// data, not schema, so the same command still resumes the run (and the new row, in a chunk
/// not yet copied, arrives).
#[tokio::test]
async fn a_source_whose_auto_increment_moved_still_resumes() {
    let name = "pgctit_resume_autoinc";
    let my = MyDb::from_sql(
        name,
        "CREATE TABLE item (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(40) NOT NULL);
         INSERT INTO item (label) SELECT CONCAT('item ', seq) FROM seq_1_to_3000;",
    )
    .await;
    let db = TestDb::new("mysql_resume_autoinc").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "copy",
        my.url.as_str(),
        db.url.as_str(),
        "--chunk-rows",
        "300",
        "--jobs",
        "1",
    ];
    crate::harness::kill_at(dir.path(), &args, "chunk-committed", 2);
    let mut c = mysql(name).await;
    c.query_drop("INSERT INTO item (label) VALUES ('while interrupted')")
        .await
        .expect("insert");
    let _ = c.disconnect().await;
    let out = pgcutover(dir.path(), &args);
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains("resuming the run"),
        "{}",
        stderr(&out)
    );
    assert_identical(dir.path(), &my.url, &db.url);
    db.drop().await;
    my.drop().await;
}
