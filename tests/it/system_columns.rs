//! Source columns named like PostgreSQL's system columns (xmin, xmax, cmin, cmax, ctid,
//! tableoid) are renamed the same way every time, `plan` and the report say so, and `verify`
//! and `--data-only` follow the rename.

use crate::harness::{
    assert_identical, expect_code, one, pgcutover, read_json, sqlite_from_sql, stderr, stdout,
    MyDb, TestDb,
};

async fn columns(client: &tokio_postgres::Client, table: &str) -> Vec<String> {
    client
        .query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = quote_ident($1)::regclass \
             AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&table],
        )
        .await
        .expect("columns")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// plan, copy (with its report), verify, then a data-only load into a schema made by
/// `--schema-only`, all through the renamed columns.
async fn renames_everywhere(source: &str, tag: &str, table: &str, want: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDb::new(tag).await;
    let plan = pgcutover(dir.path(), &["plan", source, &db.url]);
    expect_code(&plan, 0);
    let text = stdout(&plan);
    assert!(
        text.contains("renamed to \"xmin_3\": PostgreSQL reserves the name \"xmin\"")
            && text.contains("(source \"xmin\")"),
        "plan says so:\n{text}"
    );
    let report_path = dir.path().join("report.json");
    let copy = pgcutover(
        dir.path(),
        &[
            "copy",
            source,
            &db.url,
            "--report",
            report_path.to_str().expect("utf-8"),
        ],
    );
    expect_code(&copy, 0);
    let warnings = read_json(&report_path)["warnings"].to_string();
    assert!(warnings.contains("renamed to \\\"ctid_2\\\""), "{warnings}");
    let client = db.client().await;
    assert_eq!(columns(&client, table).await, want);
    assert_eq!(
        one(
            &client,
            &format!("SELECT xmin_3 || '/' || ctid_2 FROM \"{table}\" WHERE id = 2")
        )
        .await
        .as_deref(),
        Some("second/20")
    );
    assert_identical(dir.path(), source, &db.url);

    // A data-only load finds the columns under the same names.
    let target = TestDb::new(&format!("{tag}_do")).await;
    expect_code(
        &pgcutover(dir.path(), &["copy", source, &target.url, "--schema-only"]),
        0,
    );
    let reset = pgcutover(dir.path(), &["reset", &target.url, "--keep-data", "--yes"]);
    expect_code(&reset, 0);
    let load = pgcutover(dir.path(), &["copy", source, &target.url, "--data-only"]);
    expect_code(&load, 0);
    assert!(
        !stderr(&load).contains("no such column"),
        "{}",
        stderr(&load)
    );
    assert_identical(dir.path(), source, &target.url);
    target.drop().await;
    db.drop().await;
}

#[tokio::test]
async fn sqlite_system_column_names_are_renamed_and_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("sys.sqlite");
    sqlite_from_sql(
        &src,
        r#"CREATE TABLE ev (id INTEGER PRIMARY KEY, xmin TEXT UNIQUE, xmin_2 TEXT, ctid INTEGER,
                            tableoid TEXT, cmin INTEGER, xmax INTEGER, cmax INTEGER);
           CREATE INDEX ev_ctid ON ev (ctid);
           INSERT INTO ev VALUES (1, 'first', 'a', 10, 't', 1, 2, 3),
                                 (2, 'second', 'b', 20, 'u', 4, 5, 6);"#,
    );
    renames_everywhere(
        src.to_str().expect("utf-8"),
        "sys_sqlite",
        "ev",
        &[
            "id",
            "xmin_3",
            "xmin_2",
            "ctid_2",
            "tableoid_2",
            "cmin_2",
            "xmax_2",
            "cmax_2",
        ],
    )
    .await;
}

#[tokio::test]
async fn mysql_system_column_names_are_renamed_and_followed() {
    let name = "pgctit_syscols";
    let my = MyDb::from_sql(
        name,
        "CREATE TABLE ev (id INT PRIMARY KEY, xmin VARCHAR(20) UNIQUE, xmin_2 VARCHAR(20),
                          ctid INT, tableoid VARCHAR(5), cmin INT, xmax INT, cmax INT, KEY (ctid));
         INSERT INTO ev VALUES (1, 'first', 'a', 10, 't', 1, 2, 3), (2, 'second', 'b', 20, 'u', 4, 5, 6);",
    )
    .await;
    renames_everywhere(
        &my.url,
        "sys_mysql",
        "ev",
        &[
            "id",
            "xmin_3",
            "xmin_2",
            "ctid_2",
            "tableoid_2",
            "cmin_2",
            "xmax_2",
            "cmax_2",
        ],
    )
    .await;
    my.drop().await;
}
