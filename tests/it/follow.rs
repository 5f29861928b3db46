//! Following the binary log (issue 15), against a MariaDB of the test's own with its binary
//! log on in ROW format: where the log is, whether a server can be followed, and the row
//! changes read back exactly as they were written.

use mysql_async::prelude::Queryable;
use mysql_async::Value;
use pgcutover_mysql::binlog::{current_position, preflight, Change, Changes, Position};

use crate::harness::{mysql, PrivateMariadb};

/// A MariaDB whose binary log can be followed.
async fn logging_mariadb() -> PrivateMariadb {
    PrivateMariadb::start(|d| {
        vec![
            format!("--log-bin={}", d.join("binlog").display()),
            "--binlog-format=ROW".to_owned(),
            "--binlog-row-image=FULL".to_owned(),
            "--server-id=1".to_owned(),
        ]
    })
    .await
}

async fn root(server: &PrivateMariadb) -> mysql_async::Conn {
    mysql_async::Conn::from_url(server.root_url())
        .await
        .expect("root")
}

#[tokio::test]
async fn preflight_names_what_keeps_a_server_from_being_followed() {
    // The shared server runs with its binary log off.
    let mut shared = mysql("mysql").await;
    let problems = preflight(&mut shared).await.expect("preflight");
    assert_eq!(problems[0].what, "the binary log is off", "{problems:?}");
    assert!(problems[0].hint.contains("log_bin"), "{problems:?}");
    assert_eq!(current_position(&mut shared).await.expect("status"), None);
    let _ = shared.disconnect().await;

    let server = logging_mariadb().await;
    let mut conn = root(&server).await;
    assert_eq!(preflight(&mut conn).await.expect("preflight"), []);
    let position = current_position(&mut conn)
        .await
        .expect("status")
        .expect("a position while the log is on");
    assert!(position.file.starts_with("binlog."), "{position}");
    conn.query_drop(
        "SET GLOBAL binlog_format = 'STATEMENT'; SET GLOBAL binlog_row_image = 'MINIMAL'",
    )
    .await
    .expect("set");
    let what: Vec<String> = preflight(&mut conn)
        .await
        .expect("preflight")
        .into_iter()
        .map(|p| p.what)
        .collect();
    assert_eq!(
        what,
        [
            "binlog_format is STATEMENT, not ROW",
            "binlog_row_image is MINIMAL, not FULL"
        ]
    );
    // A user with only SELECT may not read the log.
    conn.query_drop(
        "CREATE USER 'reader'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON *.* TO 'reader'@'%'",
    )
    .await
    .expect("user");
    let mut reader =
        mysql_async::Conn::from_url(format!("mysql://reader:pw@127.0.0.1:{}/mysql", server.port))
            .await
            .expect("reader");
    let what: Vec<String> = preflight(&mut reader)
        .await
        .expect("preflight")
        .into_iter()
        .map(|p| p.what)
        .collect();
    assert!(
        what.contains(&"the user may not read the binary log".to_owned()),
        "{what:?}"
    );
    let _ = reader.disconnect().await;
    let _ = conn.disconnect().await;
}

/// Reads changes until `commits` transactions have committed.
async fn read_commits(changes: &mut Changes, commits: usize) -> Vec<Change> {
    let mut out = Vec::new();
    let mut seen = 0;
    while seen < commits {
        let next = tokio::time::timeout(std::time::Duration::from_secs(20), changes.next())
            .await
            .expect("a change within 20 s")
            .expect("the stream goes on")
            .expect("a change");
        if matches!(next, Change::Commit { .. }) {
            seen += 1;
        }
        out.push(next);
    }
    out
}

#[tokio::test]
async fn row_changes_read_back_as_they_were_written() {
    let server = logging_mariadb().await;
    let mut conn = root(&server).await;
    conn.query_drop(
        "CREATE DATABASE shop;
         CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20), qty INT UNSIGNED) ENGINE=InnoDB",
    )
    .await
    .expect("schema");
    let from: Position = current_position(&mut conn)
        .await
        .expect("status")
        .expect("position");
    conn.query_drop(
        "INSERT INTO shop.items VALUES (1, 'bolt', 10), (2, 'nut', 20);
         START TRANSACTION;
         UPDATE shop.items SET id = 3, qty = 11 WHERE id = 1;
         DELETE FROM shop.items WHERE id = 2;
         COMMIT;
         START TRANSACTION;
         INSERT INTO shop.items VALUES (9, 'never', 0);
         ROLLBACK;
         ALTER TABLE shop.items ADD COLUMN note TEXT;",
    )
    .await
    .expect("writes");
    let to = current_position(&mut conn)
        .await
        .expect("status")
        .expect("position");

    let replica = root(&server).await;
    let mut changes = Changes::open(replica, &from, 4242).await.expect("open");
    let got = read_commits(&mut changes, 2).await;
    let row = |before: Option<(i64, &str, i64)>, after: Option<(i64, &str, i64)>| {
        let image = |r: Option<(i64, &str, i64)>| {
            r.map(|(id, name, qty)| {
                vec![
                    Value::Int(id),
                    Value::Bytes(name.as_bytes().to_vec()),
                    Value::Int(qty),
                ]
            })
        };
        Change::Row {
            database: "shop".into(),
            table: "items".into(),
            before: image(before),
            after: image(after),
        }
    };
    let rows: Vec<&Change> = got
        .iter()
        .filter(|c| matches!(c, Change::Row { .. }))
        .collect();
    assert_eq!(
        rows,
        [
            &row(None, Some((1, "bolt", 10))),
            &row(None, Some((2, "nut", 20))),
            &row(Some((1, "bolt", 10)), Some((3, "bolt", 11))),
            &row(Some((2, "nut", 20)), None),
        ],
        "{got:#?}"
    );
    // The rolled-back insert left nothing; the ALTER comes next, as a statement, and ends where
    // the server's log ended.
    let next = tokio::time::timeout(std::time::Duration::from_secs(20), changes.next())
        .await
        .expect("the ALTER within 20 s")
        .expect("the stream goes on")
        .expect("a change");
    match next {
        Change::Statement { database, sql, end } => {
            // The session's default database, not the table's.
            assert_eq!(database, "mysql");
            assert_eq!(sql, "ALTER TABLE shop.items ADD COLUMN note TEXT");
            assert_eq!(end, to);
        }
        other => panic!("expected the ALTER, got {other:?}"),
    }
    // A new log file: the changes go on in it, and their positions say so.
    conn.query_drop(
        "FLUSH BINARY LOGS; INSERT INTO shop.items VALUES (4, 'washer', 5, 'new file')",
    )
    .await
    .expect("rotate");
    let after = current_position(&mut conn)
        .await
        .expect("status")
        .expect("position");
    assert_ne!(after.file, to.file);
    let got = read_commits(&mut changes, 1).await;
    assert_eq!(got.last(), Some(&Change::Commit { end: after }), "{got:#?}");
    changes.close().await;
    let _ = conn.disconnect().await;
}
