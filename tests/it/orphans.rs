//! Foreign-key orphans: `plan` counts them in the source, `copy` counts them in PostgreSQL
//! before creating the key and applies `--orphans`; a key is never silently missing.

use crate::harness::{
    expect_code, one, pgcutover, read_json, sqlite_from_sql, stdout, MyDb, TestDb,
};

/// SQLite never enforced these keys (no `PRAGMA foreign_keys`): orders 11, 12 and 14 point at
/// customers that do not exist; order 13 has no customer at all (NULL is not an orphan). The
/// customer with a NUL byte in its name is rejected by the copy, which orphans order 15 in
/// PostgreSQL though it has a parent in the source.
const FIXTURE: &str = "
    PRAGMA foreign_keys = OFF; -- as most applications run SQLite
    CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer(id), note TEXT);
    CREATE TABLE line (order_id INTEGER NOT NULL REFERENCES orders(id), n INTEGER NOT NULL, PRIMARY KEY (order_id, n));
    INSERT INTO customer VALUES (1, 'a'), (2, 'b'), (5, 'nul' || char(0));
    INSERT INTO orders VALUES (10, 1, 'ok'), (11, 3, 'orphan'), (12, 4, 'orphan'), (13, NULL, 'none'),
                              (14, 3, 'orphan too'), (15, 5, 'parent rejected');
    INSERT INTO line VALUES (10, 1), (11, 1);";

#[tokio::test]
async fn orphans_are_counted_named_and_handled_by_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("orphans.db");
    sqlite_from_sql(&file, FIXTURE);
    let source = format!("sqlite:{}", file.display());

    // plan: counted in the source, with examples and what copy will do.
    let db = TestDb::new("orphans_fail").await;
    let out = pgcutover(dir.path(), &["plan", &source, &db.url, "--format", "json"]);
    expect_code(&out, 0);
    let plan: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    let orphans = plan["data"]["orphans"].as_array().expect("orphans");
    assert_eq!(orphans.len(), 1, "{orphans:?}");
    assert_eq!(orphans[0]["table"], "orders");
    assert_eq!(orphans[0]["columns"], serde_json::json!(["customer_id"]));
    assert_eq!(orphans[0]["orphans"], 3);
    assert_eq!(
        orphans[0]["examples"],
        serde_json::json!(["customer_id=3", "customer_id=4"])
    );
    let text = stdout(&pgcutover(dir.path(), &["plan", &source, &db.url]));
    assert!(
        text.contains(
            "Foreign-key orphans in the source (copy will not create these keys and will exit 6"
        ),
        "{text}"
    );

    // copy, default policy (fail): exit 6, the key named with its orphans, counted in
    // PostgreSQL (so the orphan made by the rejected parent counts too).
    let report_path = dir.path().join("report.json");
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            &source,
            &db.url,
            "--report",
            report_path.to_str().expect("utf-8"),
        ],
    );
    expect_code(&out, 6);
    assert!(
        stdout(&out).contains(r#"FAILED: foreign key "orders_customer_id_fkey" on "orders": 4 orphan row(s): "orders" ("customer_id") → "customer" ("id") finds no parent for customer_id=3; customer_id=4; customer_id=5"#),
        "{}",
        stdout(&out)
    );
    let report = read_json(&report_path);
    let step = report["post_load"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["object"] == "orders_customer_id_fkey")
        .expect("the FK step");
    assert_eq!(step["ok"], false);
    assert_eq!(step["orphans"], 4);
    let line_fk = report["post_load"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["object"] == "line_order_id_fkey")
        .expect("the other FK");
    assert_eq!(
        (line_fk["ok"].clone(), line_fk["orphans"].clone()),
        (true.into(), 0.into())
    );
    let client = db.client().await;
    let fks = "SELECT string_agg(conname || ':' || convalidated, ',' ORDER BY conname) FROM pg_constraint WHERE contype = 'f' AND connamespace::regnamespace::text <> 'pgcutover'";
    assert_eq!(
        one(&client, fks).await.as_deref(),
        Some("line_order_id_fkey:true")
    );
    db.drop().await;

    // skip: exit 0 (the operator chose it), but a warning in the output and the report.
    let db = TestDb::new("orphans_skip").await;
    let report_path = dir.path().join("skip.json");
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            &source,
            &db.url,
            "--orphans",
            "skip",
            "--report",
            report_path.to_str().expect("utf-8"),
        ],
    );
    expect_code(&out, 5); // the NUL row's reject still counts
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped (--orphans skip)"));
    let report = read_json(&report_path);
    assert!(
        report["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| {
                w["object"] == "foreign key \"orders_customer_id_fkey\""
                    && w["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("4 orphan row(s)"))
            }),
        "{:#}",
        report["warnings"]
    );
    assert_eq!(
        one(&db.client().await, fks).await.as_deref(),
        Some("line_order_id_fkey:true")
    );
    db.drop().await;

    // not-valid: the key exists, enforced for new rows, not validated.
    let db = TestDb::new("orphans_not_valid").await;
    let out = pgcutover(
        dir.path(),
        &["copy", &source, &db.url, "--orphans", "not-valid"],
    );
    expect_code(&out, 5);
    assert!(
        stdout(&out).contains("created NOT VALID (--orphans not-valid)"),
        "{}",
        stdout(&out)
    );
    let client = db.client().await;
    assert_eq!(
        one(&client, fks).await.as_deref(),
        Some("line_order_id_fkey:true,orders_customer_id_fkey:false")
    );
    let refused = client
        .batch_execute("INSERT INTO orders VALUES (99, 42, 'new orphan')")
        .await;
    assert!(refused.is_err(), "a NOT VALID key still checks new rows");
    db.drop().await;
}

#[tokio::test]
async fn plan_counts_orphans_in_a_mysql_source_loaded_without_key_checks() {
    let name = "pgctit_orphans";
    let my = MyDb::from_sql(
        name,
        "SET FOREIGN_KEY_CHECKS = 0;
         CREATE TABLE parent (a INT NOT NULL, b VARCHAR(5) NOT NULL, PRIMARY KEY (a, b)) ENGINE=InnoDB;
         CREATE TABLE child (id INT PRIMARY KEY, a INT, b VARCHAR(5),
           FOREIGN KEY (a, b) REFERENCES parent (a, b)) ENGINE=InnoDB;
         INSERT INTO parent VALUES (1, 'x');
         INSERT INTO child VALUES (1, 1, 'x'), (2, 1, 'y'), (3, 2, 'x'), (4, NULL, 'zz');
         SET FOREIGN_KEY_CHECKS = 1;",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDb::new("orphans_mysql").await;
    let out = pgcutover(dir.path(), &["plan", &my.url, &db.url, "--format", "json"]);
    expect_code(&out, 0);
    let plan: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    let orphans = &plan["data"]["orphans"];
    assert_eq!(orphans[0]["orphans"], 2, "{orphans:#}");
    assert_eq!(
        orphans[0]["examples"],
        serde_json::json!(["a=1, b=y", "a=2, b=x"])
    );

    let out = pgcutover(dir.path(), &["copy", &my.url, &db.url]);
    expect_code(&out, 6);
    assert!(stdout(&out).contains("2 orphan row(s)"), "{}", stdout(&out));
    db.drop().await;
    my.drop().await;
}
