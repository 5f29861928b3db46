//! `pgcutover cutover` (issue 15) against a MariaDB of the test's own with its binary log on:
//! with a follower running and without one, over rejects, over writes that did not stop, and
//! a follower killed (SIGKILL) at seeded points that goes on with nothing applied twice.

use mysql_async::prelude::Queryable;

use crate::follow::{interrupt, logging_mariadb, root, wait_for};
use crate::harness::{
    assert_identical, expect_code, one, output_of, pgcutover, spawn_stopping, stderr, stdout,
    wait_for_stop, PrivateMariadb, Stop, TestDb,
};

/// A shop whose tables have a foreign key with a cascade, an identity, and a column MySQL
/// sets itself on update.
const SHOP: &str = "CREATE DATABASE shop CHARACTER SET utf8mb4;
     USE shop;
     CREATE TABLE customer (
       id INT AUTO_INCREMENT PRIMARY KEY,
       name VARCHAR(40) NOT NULL,
       touched TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)
     ) ENGINE=InnoDB;
     CREATE TABLE orders (
       id INT AUTO_INCREMENT PRIMARY KEY,
       customer_id INT NOT NULL,
       note TEXT,
       FOREIGN KEY (customer_id) REFERENCES customer (id) ON DELETE CASCADE ON UPDATE CASCADE
     ) ENGINE=InnoDB;
     INSERT INTO customer (name, touched) VALUES ('ada', '2020-01-01 00:00:00.000'), ('bob', '2020-01-01 00:00:00.000');
     INSERT INTO orders (customer_id, note) VALUES (1, 'first'), (2, 'second');";

/// `copy --follow` started, once it follows.
fn following(dir: &std::path::Path, url: &str, target: &str) -> std::process::Child {
    let (mut follower, stop) =
        spawn_stopping(dir, &["copy", url, target, "--follow"], "following", 1);
    assert!(matches!(wait_for_stop(&mut follower, &stop), Stop::AtPoint));
    std::fs::remove_file(&stop).expect("let it follow");
    follower
}

/// A MariaDB of the test's own holding [`SHOP`], a root connection to it, its URL, an empty
/// target, a client of it, and a directory to run pgcutover in.
async fn shop(
    name: &str,
) -> (
    PrivateMariadb,
    mysql_async::Conn,
    String,
    TestDb,
    tokio_postgres::Client,
    tempfile::TempDir,
) {
    let server = logging_mariadb().await;
    let mut conn = root(&server).await;
    conn.query_drop(SHOP).await.expect("source");
    let url = format!("mysql://root@127.0.0.1:{}/shop", server.port);
    let db = TestDb::new(name).await;
    let client = db.client().await;
    let dir = tempfile::tempdir().expect("tempdir");
    (server, conn, url, db, client, dir)
}

/// `cutover URL TARGET --wait 60 --verify checksums`.
fn checksums_cutover<'a>(url: &'a str, target: &'a str) -> [&'a str; 7] {
    [
        "cutover",
        url,
        target,
        "--wait",
        "60",
        "--verify",
        "checksums",
    ]
}

/// Waits (at most a minute) for a child to end by itself, and returns its output.
fn ended(mut child: std::process::Child) -> std::process::Output {
    for _ in 0..600 {
        if child.try_wait().expect("poll").is_some() {
            return output_of(child);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("did not end by itself: {}", stderr(&output_of(child)));
}

/// The operator's cutover: `copy --follow` runs while the application writes; writes stop;
/// `cutover --set-read-only --verify checksums` waits for the follower, proves the target and
/// marks the run as cut over; the follower then ends by itself with exit 0.
#[tokio::test]
async fn cutover_waits_for_the_running_follower_proves_the_target_and_ends_it() {
    let (_server, mut conn, url, db, client, dir) = shop("cutover_follower").await;

    let follower = following(dir.path(), &url, &db.url);
    // The application writes on: new rows, a key change its children follow by cascade, a
    // customer deleted with its orders, and an update that keeps `touched` as it was (the
    // target's ON UPDATE trigger must not set it to its own time).
    conn.query_drop(
        "INSERT INTO customer (name) VALUES ('cy');
         INSERT INTO orders (customer_id, note) VALUES (3, 'third'), (1, 'fourth');
         UPDATE customer SET id = 10 WHERE id = 1;
         DELETE FROM customer WHERE id = 2;
         UPDATE customer SET name = 'cyd', touched = touched WHERE id = 3;
         START TRANSACTION;
         INSERT INTO orders (customer_id, note) VALUES (3, 'never');
         ROLLBACK;",
    )
    .await
    .expect("writes while following");
    let orders = "SELECT string_agg(customer_id || ':' || note, ',' ORDER BY id) FROM orders";
    wait_for(&client, orders, "10:first,3:third,10:fourth").await;

    let out = pgcutover(
        dir.path(),
        &[
            "cutover",
            &url,
            &db.url,
            "--set-read-only",
            "--verify",
            "checksums",
            "--wait",
            "60",
        ],
    );
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("cutover: cut over at"), "{text}");
    // The follower had applied everything by then (or cutover waited for it).
    assert!(
        stderr(&out).contains("a follower (copy --follow) is running")
            || stderr(&out).contains("the target is caught up"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("the source is read-only now"),
        "{}",
        stderr(&out)
    );
    let read_only: u8 = conn
        .query_first("SELECT @@global.read_only")
        .await
        .expect("read_only")
        .expect("a row");
    assert_eq!(read_only, 1);
    conn.query_drop("SET GLOBAL read_only = OFF")
        .await
        .expect("undo");

    // The follower ends by itself, with exit 0.
    let out = ended(follower);
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains("the run was cut over"),
        "{}",
        stderr(&out)
    );
    // The identity is past the source's next value (a rolled-back insert used one up).
    let next: u64 = conn
        .query_first(
            "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'orders'",
        )
        .await
        .expect("auto_increment")
        .expect("a row");
    assert_eq!(
        one(
            &client,
            "SELECT nextval(pg_get_serial_sequence('orders', 'id'))::text"
        )
        .await,
        Some(next.to_string())
    );
    assert_identical(dir.path(), &url, &db.url);
    // status says so; a second cutover has nothing to do; copy --follow does not follow again.
    let status = stdout(&pgcutover(dir.path(), &["status", &db.url]));
    assert!(status.contains("cut over at"), "{status}");
    let again = pgcutover(dir.path(), &["cutover", &url, &db.url, "--wait", "60"]);
    expect_code(&again, 0);
    assert!(
        stderr(&again).contains("nothing to do"),
        "{}",
        stderr(&again)
    );
    let copy = pgcutover(dir.path(), &["copy", &url, &db.url, "--follow"]);
    expect_code(&copy, 0);
    assert!(
        stderr(&copy).contains("nothing to follow"),
        "{}",
        stderr(&copy)
    );
    db.drop().await;
    let _ = conn.disconnect().await;
}

/// Without a running follower, `cutover` applies the last changes itself. A changed row the
/// mapping rejects goes to the rejects file with its transaction's position, and keeps the run
/// from being cut over (exit 5) until checksums prove it superseded; writes that did not stop
/// keep it from being cut over too.
#[tokio::test]
async fn cutover_applies_the_last_changes_itself_and_refuses_over_rejects_and_writes() {
    let (_server, mut conn, url, db, client, dir) = shop("cutover_itself").await;
    let follower = following(dir.path(), &url, &db.url);
    interrupt(&follower);
    expect_code(&output_of(follower), 8);

    // Written while nobody follows: one note holds a NUL byte, which PostgreSQL text cannot.
    conn.query_drop(
        "INSERT INTO orders (customer_id, note) VALUES (2, CONCAT('nul', CHAR(0), 'byte'));
         INSERT INTO orders (customer_id, note) VALUES (1, 'fine');
         UPDATE customer SET name = 'bea' WHERE id = 2;",
    )
    .await
    .expect("writes while stopped");
    let out = pgcutover(dir.path(), &["cutover", &url, &db.url, "--wait", "60"]);
    expect_code(&out, 5);
    let err = stderr(&out);
    assert!(err.contains("no follower is running"), "{err}");
    assert!(err.contains("rejected while following"), "{err}");
    assert!(stdout(&out).contains("NOT cut over"), "{}", stdout(&out));
    let rejects =
        std::fs::read_to_string(dir.path().join("pgcutover-rejects.jsonl")).expect("rejects file");
    let line: serde_json::Value =
        serde_json::from_str(rejects.lines().next().expect("a line")).expect("json");
    assert_eq!(line["table"], "orders", "{line}");
    assert_eq!(line["column"], "note", "{line}");
    assert!(
        line["position"].as_str().is_some_and(|p| p.contains(':')),
        "{line}"
    );
    // The other changes are in.
    assert_eq!(
        one(&client, "SELECT name FROM customer WHERE id = 2")
            .await
            .as_deref(),
        Some("bea")
    );
    let status = stdout(&pgcutover(dir.path(), &["status", &db.url]));
    assert!(status.contains("1 rejected"), "{status}");

    // Checksums find the row the target lacks is one the mapping rejects (exit 5).
    let out = pgcutover(dir.path(), &checksums_cutover(&url, &db.url));
    expect_code(&out, 5);
    assert!(stdout(&out).contains("NOT cut over"), "{}", stdout(&out));
    // The operator fixes the row in the source. The update's before image holds the NUL byte
    // too, but only its key is needed: the row arrives whole from the after image.
    conn.query_drop("UPDATE orders SET note = 'nul byte' WHERE note LIKE 'nul%'")
        .await
        .expect("fix");

    // Writes that go on during the cutover keep the run from being cut over.
    let (mut cutover, stop) = spawn_stopping(
        dir.path(),
        &checksums_cutover(&url, &db.url),
        "cutover-verifying",
        1,
    );
    assert!(matches!(wait_for_stop(&mut cutover, &stop), Stop::AtPoint));
    conn.query_drop("INSERT INTO customer (name) VALUES ('late')")
        .await
        .expect("a late write");
    std::fs::remove_file(&stop).expect("go on");
    let out = output_of(cutover);
    expect_code(&out, 1);
    assert!(
        stderr(&out).contains("the source took writes during the cutover"),
        "{}",
        stderr(&out)
    );

    // Writes to the run's tables stopped (another database on the server takes some, which
    // does not matter): cut over, the rejected change superseded.
    let (mut cutover, stop) = spawn_stopping(
        dir.path(),
        &checksums_cutover(&url, &db.url),
        "cutover-verifying",
        1,
    );
    assert!(matches!(wait_for_stop(&mut cutover, &stop), Stop::AtPoint));
    conn.query_drop(
        "CREATE DATABASE other; CREATE TABLE other.log (id INT PRIMARY KEY); INSERT INTO other.log VALUES (1)",
    )
    .await
    .expect("writes elsewhere");
    std::fs::remove_file(&stop).expect("go on");
    let out = output_of(cutover);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("superseded"), "{}", stderr(&out));
    assert_identical(dir.path(), &url, &db.url);
    db.drop().await;
    let _ = conn.disconnect().await;
}

/// A follower killed (SIGKILL) after applying part of what it read, just before its commit,
/// and just after it, goes on from the position it committed: at the end the target is
/// identical and the run state counts every change exactly once.
#[tokio::test]
async fn a_follower_killed_at_any_moment_goes_on_with_nothing_applied_twice() {
    let (_server, mut conn, url, db, client, dir) = shop("cutover_killed").await;
    let args = ["copy", url.as_str(), db.url.as_str(), "--follow"];
    let mut written = 0u64;
    for (round, point) in ["follow-applied", "follow-before-commit", "follow-committed"]
        .into_iter()
        .enumerate()
    {
        let (mut follower, stop) = spawn_stopping(dir.path(), &args, point, 2);
        // The copy records its snapshot's position first: what is written after it is
        // followed, whether the copy is still copying or not.
        wait_for(
            &client,
            "SELECT (to_regclass('pgcutover.follow') IS NOT NULL)::text",
            "true",
        )
        .await;
        wait_for(
            &client,
            "SELECT (count(*) > 0)::text FROM pgcutover.follow",
            "true",
        )
        .await;
        // Transactions of three changes each: an insert in both tables and an update.
        for i in 0..20 {
            let name = format!("r{round}-{i}");
            conn.exec_drop("INSERT INTO customer (name) VALUES (?)", (name.as_str(),))
                .await
                .expect("insert");
            conn.query_drop(format!(
                "START TRANSACTION;
                 INSERT INTO orders (customer_id, note) VALUES (LAST_INSERT_ID(), '{name}');
                 UPDATE customer SET name = CONCAT(name, '+') WHERE id = LAST_INSERT_ID();
                 COMMIT;"
            ))
            .await
            .expect("transaction");
            written += 3;
        }
        match wait_for_stop(&mut follower, &stop) {
            Stop::AtPoint => {}
            Stop::Exited(code) => panic!(
                "the follower ended ({code}) before {point}: {}",
                stderr(&output_of(follower))
            ),
        }
        follower.kill().expect("SIGKILL");
        let _ = follower.wait();
        let _ = std::fs::remove_file(&stop);
    }
    // The last run goes on and catches up; cutover ends it.
    let follower = std::process::Command::new(env!("CARGO_BIN_EXE_pgcutover"))
        .args(args)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start pgcutover");
    let out = pgcutover(dir.path(), &checksums_cutover(&url, &db.url));
    expect_code(&out, 0);
    expect_code(&ended(follower), 0);
    assert_identical(dir.path(), &url, &db.url);
    assert_eq!(
        one(&client, "SELECT changes::text FROM pgcutover.follow").await,
        Some(written.to_string()),
        "every change counted once"
    );
    db.drop().await;
    let _ = conn.disconnect().await;
}

/// Every mapped type and two tables with a cascading foreign key, written to by a client
/// during the copy and during the follow (inserts, updates, key changes, deletes, a
/// multi-statement transaction, rollbacks, one large transaction); after `cutover --verify
/// checksums`, a comparator that shares no code with the converter finds every value equal.
#[tokio::test]
async fn a_writer_during_the_copy_and_the_follow_leaves_every_value_identical() {
    let server = logging_mariadb().await;
    let mut conn = root(&server).await;
    conn.query_drop(
        "CREATE DATABASE shop CHARACTER SET utf8mb4;
         USE shop;
         CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(30) NOT NULL) ENGINE=InnoDB;
         CREATE TABLE child (
           id INT PRIMARY KEY, parent_id INT, note TEXT,
           FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE
         ) ENGINE=InnoDB;
         CREATE TABLE typed (
           id INT PRIMARY KEY,
           e ENUM('red','green','blue'), s SET('a','b','c'), j JSON,
           d DECIMAL(14,4), dt DATETIME(6), ts TIMESTAMP(3) NULL, dd DATE, tm TIME(6),
           b BLOB, vb VARBINARY(16), u INT UNSIGNED, ub BIGINT UNSIGNED, ti TINYINT, m MEDIUMINT,
           bt BIT(5), f FLOAT, g DOUBLE, yr YEAR, txt VARCHAR(40), pt POINT
         ) ENGINE=InnoDB;",
    )
    .await
    .expect("schema");
    conn.query_drop(
        "INSERT INTO shop.parent SELECT seq, CONCAT('p', seq) FROM seq_1_to_200;
         INSERT INTO shop.child SELECT seq, 1 + seq % 200, CONCAT('c', seq) FROM seq_1_to_2000;
         INSERT INTO shop.typed SELECT seq, ELT(1 + seq % 3, 'red','green','blue'), ELT(1 + seq % 4, '', 'a', 'a,b', 'b,c'),
           CONCAT('{\"n\": ', seq, ', \"s\": \"x', seq, '\", \"f\": 1.5}'), seq / 7, FROM_UNIXTIME(1600000000 + seq * 37.123456),
           FROM_UNIXTIME(1600000000 + seq * 11.5), DATE('2020-01-01') + INTERVAL seq DAY, SEC_TO_TIME(CAST(seq AS SIGNED) * 13.5 - 100000),
           UNHEX(MD5(seq)), UNHEX(SUBSTR(MD5(seq), 1, 2 + seq % 20)), 4000000000 - seq, 18446744073709551615 - seq, CAST(seq % 128 AS SIGNED) - 64,
           CAST(seq AS SIGNED) * 100 - 8000000, seq % 32, seq / 3, seq / 7, 1901 + seq % 254, CONCAT('tëxt ', seq), POINT(seq, -seq)
         FROM seq_1_to_20000;",
    )
    .await
    .expect("rows");
    let url = format!("mysql://root@127.0.0.1:{}/shop", server.port);
    let db = TestDb::new("cutover_writer").await;
    let client = db.client().await;
    let dir = tempfile::tempdir().expect("tempdir");

    // The writer: starts before the copy, goes on while it copies and while it follows.
    let writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = {
        let writing = std::sync::Arc::clone(&writing);
        let mut w = root(&server).await;
        tokio::spawn(async move {
            w.query_drop("USE shop").await.expect("use");
            let mut i: u64 = 0;
            let mut next_id = 1_000_000u64;
            while writing.load(std::sync::atomic::Ordering::Relaxed) || i < 300 {
                i += 1;
                let k = 1 + (i * 7919) % 20000;
                let sql = match i % 9 {
                    0 => format!(
                        "INSERT INTO typed VALUES ({next_id}, 'blue', 'a,c', '{{\"w\": [{i}, null, true]}}', -{i}.1234, '2024-02-29 23:59:59.{:06}', '2038-01-19 03:14:07.999', '0001-01-01', '-838:59:59.000000', x'00ff{:04x}', x'', 4294967295, 0, -128, -8388608, b'10101', -1.5e-7, 2.2250738585072014e-308, 2155, '\\'quoted\\' {i}', POINT(0.1, 0.2))",
                        i % 1_000_000,
                        i % 65536
                    ),
                    1 => format!("UPDATE typed SET e = 'green', s = 'a,b,c', j = JSON_SET(j, '$.w', {i}), d = d + 0.0001, ts = NULL, b = NULL WHERE id = {k}"),
                    2 => format!("UPDATE typed SET id = {next_id} WHERE id = {k}"),
                    3 => format!("DELETE FROM typed WHERE id = {k}"),
                    4 => format!(
                        "START TRANSACTION; INSERT INTO parent VALUES ({next_id}, 'new'); INSERT INTO child VALUES ({next_id}, {next_id}, 'new child'); UPDATE child SET parent_id = {next_id} WHERE id = {}; COMMIT",
                        1 + i % 2000
                    ),
                    5 => format!("UPDATE parent SET id = {next_id} WHERE id = {}", 1 + i % 200),
                    6 => format!("DELETE FROM parent WHERE id = {}", 1 + (i * 31) % 200),
                    7 => format!("START TRANSACTION; UPDATE typed SET txt = 'rolled back' WHERE id = {k}; INSERT INTO parent VALUES ({next_id}, 'never'); ROLLBACK"),
                    _ => format!("REPLACE INTO parent VALUES ({}, 'replaced {i}')", 1 + (i * 17) % 200),
                };
                next_id += 1;
                w.query_drop(&sql)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                if i == 150 {
                    // One large transaction: every typed row.
                    w.query_drop("UPDATE typed SET u = u - 1, tm = ADDTIME(tm, '00:00:01.5')")
                        .await
                        .expect("large update");
                }
            }
            i
        })
    };
    let follower = following(dir.path(), &url, &db.url);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    let statements = writer.await.expect("writer");
    assert!(statements >= 300, "{statements}");

    let out = pgcutover(dir.path(), &checksums_cutover(&url, &db.url));
    expect_code(&out, 0);
    expect_code(&ended(follower), 0);
    let compared = crate::mysql_compare::assert_same_mysql_data_on(
        root(&server).await,
        "shop",
        &client,
        &Default::default(),
    )
    .await;
    assert!(compared > 20000, "{compared}");
    db.drop().await;
    let _ = conn.disconnect().await;
}

/// The source's log may end past its last transaction (a new log file after FLUSH BINARY LOGS,
/// with nothing written since): cutover still gets there, with the follower running and
/// without it.
#[tokio::test]
async fn cutover_reaches_a_log_that_ends_after_a_rotation() {
    let (_server, mut conn, url, db, client, dir) = shop("cutover_rotated").await;
    let follower = following(dir.path(), &url, &db.url);
    conn.query_drop("INSERT INTO customer (name) VALUES ('cy'); FLUSH BINARY LOGS")
        .await
        .expect("write, then rotate");
    wait_for(&client, "SELECT count(*)::text FROM customer", "3").await;
    // The follower, idle, records where the new file's opening events end.
    let head: String = conn
        .query_first::<mysql_async::Row, _>("SHOW MASTER STATUS")
        .await
        .expect("status")
        .map(|r| {
            format!(
                "{}:{}",
                r.get::<String, _>(0).expect("file"),
                r.get::<u64, _>(1).expect("pos")
            )
        })
        .expect("a position");
    wait_for(&client, "SELECT position FROM pgcutover.follow", &head).await;
    interrupt(&follower);
    expect_code(&output_of(follower), 8);
    // Stopped, then another rotation: cutover applies up to the new end itself.
    conn.query_drop("INSERT INTO customer (name) VALUES ('dee'); FLUSH BINARY LOGS")
        .await
        .expect("write, then rotate");
    let out = pgcutover(dir.path(), &["cutover", &url, &db.url, "--wait", "30"]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("cutover: cut over at"),
        "{}",
        stdout(&out)
    );
    assert_identical(dir.path(), &url, &db.url);
    db.drop().await;
    let _ = conn.disconnect().await;
}
