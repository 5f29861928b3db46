//! Transient faults on the MySQL side: reader sessions killed in mid-copy are replaced and
//! the chunk is retried; under --consistent the snapshot cannot be rejoined, so the run stops
//! resumably (exit 8) and the same command finishes it.

use mysql_async::prelude::Queryable;

use crate::harness::{
    assert_identical, expect_code, mysql, output_of, pgcutover, spawn_stopping, stderr,
    wait_for_stop, MyDb, Stop, TestDb,
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
