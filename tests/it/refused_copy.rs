//! A COPY PostgreSQL refuses fails that chunk only: the other chunks and tables go in, the
//! summary, the report and `status` name the table with PostgreSQL's message, the exit code
//! is 9, and the same command, once the cause is fixed, loads only what failed and then the
//! post-load steps that waited for it.

use serde_json::Value as J;

use crate::harness::{
    assert_identical, expect_code, one, output_of, pgcutover, read_json, report_table as table,
    spawn_stopping, sqlite_from_sql, stderr, stdout, wait_for_stop, Stop, TestDb,
};

const SOURCE: &str = "
    CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customer (id), qty INTEGER NOT NULL);
    CREATE TABLE note (body TEXT);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
    INSERT INTO customer SELECT i, 'customer ' || i FROM n;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
    INSERT INTO orders SELECT i, 1 + i % 50, CASE WHEN i = 777 THEN -1 ELSE 1 + i % 9 END FROM n;
    INSERT INTO note VALUES ('a'), ('b');
";

#[tokio::test]
async fn a_refused_chunk_fails_alone_and_the_same_command_loads_only_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("shop.sqlite");
    sqlite_from_sql(&src, SOURCE);
    let db = TestDb::new("refused_copy").await;
    let report_path = dir.path().join("report.json");
    let args = [
        "copy",
        src.to_str().expect("utf-8"),
        &db.url,
        "--chunk-rows",
        "100",
        "--jobs",
        "2",
        "--report",
        report_path.to_str().expect("utf-8"),
    ];

    // Once the tables exist, a constraint of the operator's refuses one row of orders (in the
    // chunk holding id 777).
    let (mut child, stop) = spawn_stopping(dir.path(), &args, "created", 1);
    assert!(matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint));
    let client = db.client().await;
    client
        .batch_execute("ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 0)")
        .await
        .expect("add the constraint");
    std::fs::remove_file(&stop).expect("let the run go on");
    let out = output_of(child);
    expect_code(&out, 9);
    let text = stdout(&out);
    assert!(
        text.contains("FAILED: \"orders\": 1 of 10 chunk(s) not loaded")
            && text.contains("qty_positive"),
        "the summary names the table and PostgreSQL's message:\n{text}"
    );
    assert!(
        stderr(&out).contains("FAILED and was rolled back"),
        "{}",
        stderr(&out)
    );
    let report = read_json(&report_path);
    assert_eq!(report["exit_code"], 9);
    assert_eq!(report["outcome"], "load_failed");
    let orders = table(&report, "orders");
    assert!(
        orders["error"]
            .as_str()
            .is_some_and(|e| e.contains("violates check constraint \"qty_positive\"")),
        "{orders:#}"
    );
    assert_eq!(orders["chunks_done"], 9);
    assert_eq!(orders["rows_written"], 900);
    // Every other table is in; the steps on orders (its key, its foreign key) wait for it.
    assert_eq!(table(&report, "customer")["rows_written"], 50);
    assert_eq!(table(&report, "note")["rows_written"], 2);
    assert!(
        report["run"]["steps_waiting"].as_u64().unwrap_or(0) >= 2,
        "{report:#}"
    );
    assert_eq!(
        one(
            &client,
            "SELECT count(*)::text FROM pg_constraint WHERE conname = 'customer_pkey'"
        )
        .await
        .as_deref(),
        Some("1"),
        "customer's key is made"
    );
    assert_eq!(
        one(&client, "SELECT count(*)::text FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype IN ('p', 'f')")
            .await
            .as_deref(),
        Some("0"),
        "orders' keys wait"
    );
    let status = pgcutover(dir.path(), &["status", &db.url]);
    assert!(
        stdout(&status).contains("FAILED chunk") && stdout(&status).contains("qty_positive"),
        "{}",
        stdout(&status)
    );

    // The same command, cause unfixed: the same chunk fails again, alone.
    let again = pgcutover(dir.path(), &args);
    expect_code(&again, 9);
    assert_eq!(read_json(&report_path)["run"]["rows_this_attempt"], 0);

    // Fixed: only the failed chunk is loaded, then the waiting steps.
    client
        .batch_execute("ALTER TABLE orders DROP CONSTRAINT qty_positive")
        .await
        .expect("drop the constraint");
    let fixed = pgcutover(dir.path(), &args);
    expect_code(&fixed, 0);
    let report = read_json(&report_path);
    assert_eq!(report["run"]["chunks_skipped"], 11, "{report:#}");
    assert_eq!(report["run"]["rows_this_attempt"], 100, "{report:#}");
    assert!(table(&report, "orders").get("error").is_none());
    assert_eq!(
        one(&client, "SELECT count(*)::text FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype IN ('p', 'f')")
            .await
            .as_deref(),
        Some("2"),
        "orders' key and foreign key are made"
    );
    assert_identical(dir.path(), src.to_str().expect("utf-8"), &db.url);
    db.drop().await;
}

#[tokio::test]
async fn a_data_only_load_refused_by_the_targets_constraint_loads_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("shop.sqlite");
    sqlite_from_sql(&src, SOURCE);
    let db = TestDb::new("refused_data_only").await;
    let client = db.client().await;
    // The application's migrations made the tables, with a rule the source breaks once.
    client
        .batch_execute(
            "CREATE TABLE customer (id bigint PRIMARY KEY, name text NOT NULL);
             CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customer (id),
                                  qty bigint NOT NULL CONSTRAINT qty_positive CHECK (qty > 0));
             CREATE TABLE note (body text);",
        )
        .await
        .expect("the application's schema");
    let args = [
        "copy",
        src.to_str().expect("utf-8"),
        &db.url,
        "--data-only",
        "--format",
        "json",
    ];
    let out = pgcutover(dir.path(), &args);
    expect_code(&out, 9);
    let report: J = serde_json::from_str(stdout(&out).trim()).expect("JSON report");
    let report = &report["data"];
    assert!(table(report, "orders")["error"]
        .as_str()
        .is_some_and(|e| e.contains("qty_positive")));
    assert_eq!(table(report, "customer")["rows_written"], 50);
    assert_eq!(table(report, "note")["rows_written"], 2);
    assert_eq!(
        one(&client, "SELECT count(*)::text FROM orders")
            .await
            .as_deref(),
        Some("0")
    );
    client
        .batch_execute("ALTER TABLE orders DROP CONSTRAINT qty_positive")
        .await
        .expect("fix");
    let fixed = pgcutover(dir.path(), &args);
    expect_code(&fixed, 0);
    let report: J = serde_json::from_str(stdout(&fixed).trim()).expect("JSON report");
    assert_eq!(report["data"]["run"]["rows_this_attempt"], 1000);
    assert_eq!(
        one(&client, "SELECT count(*)::text FROM orders")
            .await
            .as_deref(),
        Some("1000")
    );
    db.drop().await;
}
