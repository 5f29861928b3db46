//! A source user that may not see triggers, routines, events or view definitions is told so by
//! `plan` and `copy`: `information_schema` leaves such objects out without a word, so a plan
//! that lists none could mean there are none, or that the user cannot see them.

use mysql_async::prelude::Queryable;

use crate::harness::{
    expect_code, mysql, mysql_admin_url, pgcutover, read_json, stderr, stdout, MyDb, TestDb,
};

/// The source URL for `user` (no password) on the test server.
fn url_as(user: &str, db: &str) -> String {
    let admin = mysql_admin_url();
    let host = admin.rsplit_once('@').map_or(admin.as_str(), |(_, h)| h);
    format!("mysql://{user}@{host}/{db}")
}

#[tokio::test]
async fn a_select_only_user_is_told_what_it_cannot_see() {
    let name = "pgctit_privs";
    let sql = "
        CREATE TABLE t (id INT PRIMARY KEY, v INT);
        CREATE VIEW vv AS SELECT id FROM t;
        CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.v = 1;
        CREATE PROCEDURE p() SELECT 1;
        CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DO SELECT 1;
        INSERT INTO t VALUES (1, 1);
    ";
    let my = MyDb::from_sql(name, sql).await;
    let mut admin = mysql("mysql").await;
    admin
        .query_drop(format!(
            "DROP USER IF EXISTS 'pgctit_ro'@'%', 'pgctit_rw'@'%';
             CREATE USER 'pgctit_ro'@'%'; GRANT SELECT ON `{name}`.* TO 'pgctit_ro'@'%';
             CREATE USER 'pgctit_rw'@'%';
             GRANT SELECT, TRIGGER, EXECUTE, EVENT, SHOW VIEW ON `{name}`.* TO 'pgctit_rw'@'%';"
        ))
        .await
        .expect("users");

    let db = TestDb::new("my_privs").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ro = url_as("pgctit_ro", name);
    let plan = pgcutover(dir.path(), &["plan", &ro, &db.url]);
    expect_code(&plan, 0);
    let text = format!("{}{}", stdout(&plan), stderr(&plan));
    for privilege in ["TRIGGER", "EXECUTE", "EVENT", "SHOW VIEW"] {
        assert!(
            text.contains(&format!(
                "has no {privilege} privilege on database `{name}`"
            )),
            "plan names the missing {privilege}:\n{text}"
        );
    }
    assert!(
        !text.contains("trigger \"tr\""),
        "the trigger is hidden from this user"
    );

    // copy says it too, on the terminal and in the report.
    let report = dir.path().join("report.json");
    let copy = pgcutover(
        dir.path(),
        &[
            "copy",
            &ro,
            &db.url,
            "--report",
            report.to_str().expect("utf-8"),
        ],
    );
    expect_code(&copy, 0);
    assert!(
        stderr(&copy).contains("has no TRIGGER privilege"),
        "{}",
        stderr(&copy)
    );
    let warnings = read_json(&report)["warnings"].to_string();
    assert!(warnings.contains("source user pgctit_ro@%"), "{warnings}");

    // With the privileges, the objects are listed and nothing is said about privileges.
    let plan = pgcutover(dir.path(), &["plan", &url_as("pgctit_rw", name), &db.url]);
    expect_code(&plan, 0);
    let text = format!("{}{}", stdout(&plan), stderr(&plan));
    assert!(!text.contains("privilege on database"), "{text}");
    for object in [
        "trigger \"tr\"",
        "routine \"p\"",
        "event \"ev\"",
        "view \"vv\"",
    ] {
        assert!(text.contains(object), "{object} is listed:\n{text}");
    }
    admin
        .query_drop("DROP USER IF EXISTS 'pgctit_ro'@'%', 'pgctit_rw'@'%'")
        .await
        .expect("drop users");
    db.drop().await;
    my.drop().await;
}
