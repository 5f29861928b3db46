//! What an operator meets at the command line: refusals before anything is written, exit codes,
//! the options that shape a copy, and secrets kept out of output.

use std::path::{Path, PathBuf};

use crate::harness::{
    code, expect_code, one, pgcutover, read_json, sqlite_from_sql, stderr, stdout, TestDb,
    TlsCluster,
};

const SMALL: &str = "
CREATE TABLE author (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);
CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES author(id), title TEXT);
CREATE TABLE audit_log (at DATETIME, what TEXT);
INSERT INTO author VALUES (1, 'Ann'), (2, 'Bo');
INSERT INTO book VALUES (10, 1, 'One'), (11, 2, 'Two'), (12, 2, 'Three');
INSERT INTO audit_log VALUES ('2024-01-01 00:00:00', 'seed');
";

fn small_db(dir: &Path) -> PathBuf {
    let path = dir.join("small.sqlite");
    sqlite_from_sql(&path, SMALL);
    path
}

#[tokio::test]
async fn refuses_existing_tables_before_writing_then_drop_existing_replaces_them() {
    let db = TestDb::new("cli_existing").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = small_db(dir.path());
    expect_code(
        &pgcutover(dir.path(), &["copy", src.to_str().expect("path"), &db.url]),
        0,
    );
    let client = db.client().await;
    client
        .batch_execute("INSERT INTO author (name) VALUES ('added in target')")
        .await
        .expect("insert");

    // The same command again: the run is complete, so there is nothing to do.
    let again = pgcutover(dir.path(), &["copy", src.to_str().expect("path"), &db.url]);
    expect_code(&again, 0);
    assert!(
        stderr(&again).contains("already complete; nothing to do"),
        "{}",
        stderr(&again)
    );
    // Another copy into the same tables (other options) refuses.
    let other = pgcutover(
        dir.path(),
        &[
            "copy",
            src.to_str().expect("path"),
            &db.url,
            "--enum-as",
            "text",
        ],
    );
    expect_code(&other, 4);
    assert!(
        stderr(&other).contains("--drop-existing"),
        "{}",
        stderr(&other)
    );
    assert_eq!(
        one(&client, "SELECT count(*) FROM author").await.as_deref(),
        Some("3"),
        "nothing written"
    );

    // The row added in the target since the run completed would be lost: --force says so.
    let replace = [
        "copy",
        src.to_str().expect("path"),
        &db.url,
        "--drop-existing",
    ];
    let refused = pgcutover(dir.path(), &replace);
    expect_code(&refused, 4);
    assert!(
        stderr(&refused).contains("\"public\".\"author\": 1 row(s) inserted or updated since"),
        "{}",
        stderr(&refused)
    );
    expect_code(
        &pgcutover(dir.path(), &[&replace[..], &["--force"]].concat()),
        0,
    );
    assert_eq!(
        one(&client, "SELECT count(*) FROM author").await.as_deref(),
        Some("2")
    );
    db.drop().await;
}

#[tokio::test]
async fn schema_only_then_data_only() {
    let db = TestDb::new("cli_phases").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = small_db(dir.path());
    let src = src.to_str().expect("path");
    expect_code(
        &pgcutover(dir.path(), &["copy", src, &db.url, "--schema-only"]),
        0,
    );
    let client = db.client().await;
    assert_eq!(
        one(&client, "SELECT count(*) FROM book").await.as_deref(),
        Some("0")
    );
    assert_eq!(
        one(
            &client,
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace::regnamespace::text <> 'pgcutover'"
        )
        .await
        .as_deref(),
        Some("1")
    );

    // The FK exists now, so data-only must load parents first.
    expect_code(
        &pgcutover(
            dir.path(),
            &["copy", src, &db.url, "--data-only", "--jobs", "2"],
        ),
        0,
    );
    assert_eq!(
        one(&client, "SELECT count(*) FROM book").await.as_deref(),
        Some("3")
    );
    assert_eq!(
        one(
            &client,
            "SELECT nextval(pg_get_serial_sequence('author', 'id'))"
        )
        .await
        .as_deref(),
        Some("3")
    );

    let missing = pgcutover(
        dir.path(),
        &[
            "copy",
            src,
            &db.url,
            "--data-only",
            "--target-schema",
            "nowhere",
        ],
    );
    expect_code(&missing, 2);
    assert!(
        stderr(&missing).contains("--schema-only"),
        "{}",
        stderr(&missing)
    );
    db.drop().await;
}

#[tokio::test]
async fn include_exclude_and_target_schema() {
    let db = TestDb::new("cli_filters").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = small_db(dir.path());
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            &format!("sqlite:{}", src.display()),
            &db.url,
            "--include",
            "a*",
            "--exclude",
            "audit_*",
            "--target-schema",
            "staging",
        ],
    );
    expect_code(&out, 0);
    let client = db.client().await;
    assert_eq!(one(&client, "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'staging'").await.as_deref(), Some("author"));
    assert_eq!(
        one(
            &client,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        .await
        .as_deref(),
        Some("0")
    );
    db.drop().await;
}

#[tokio::test]
async fn plan_writes_nothing_and_speaks_json() {
    let db = TestDb::new("cli_plan").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = small_db(dir.path());
    let text = pgcutover(dir.path(), &["plan", src.to_str().expect("path"), &db.url]);
    expect_code(&text, 0);
    let t = stdout(&text);
    assert!(t.contains("CREATE TABLE \"public\".\"book\""), "{t}");
    assert!(
        t.contains("\"book\".\"author_id\"  INTEGER → bigint"),
        "{t}"
    );
    assert!(
        t.contains("FOREIGN KEY (\"author_id\") REFERENCES \"public\".\"author\""),
        "{t}"
    );
    let json = pgcutover(
        dir.path(),
        &[
            "plan",
            src.to_str().expect("path"),
            &db.url,
            "--format",
            "json",
        ],
    );
    expect_code(&json, 0);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(v["type"], "plan");
    assert_eq!(v["data"]["tables"].as_array().expect("tables").len(), 3);
    assert_eq!(v["data"]["load_order"][0], "author");
    let client = db.client().await;
    assert_eq!(
        one(
            &client,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        .await
        .as_deref(),
        Some("0")
    );
    db.drop().await;
}

#[test]
fn usage_and_connection_errors_have_codes_hints_and_no_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = small_db(dir.path());
    let src = src.to_str().expect("path");

    let unknown = pgcutover(
        dir.path(),
        &["copy", "whatever", "postgresql://localhost/x"],
    );
    expect_code(&unknown, 2);
    assert!(stderr(&unknown).contains("hint:"));
    assert_eq!(code(&pgcutover(dir.path(), &["copy", "--no-such-flag"])), 2);

    // copy and verify: the same code, the same hint, the same care with secrets.
    for command in ["copy", "verify"] {
        let refused = pgcutover(
            dir.path(),
            &[
                command,
                src,
                "postgresql://ann:hunter2@127.0.0.1:1/db?sslmode=disable",
            ],
        );
        expect_code(&refused, 3);
        let all = format!("{}{}", stdout(&refused), stderr(&refused));
        assert!(
            !all.contains("hunter2"),
            "{command}: password leaked: {all}"
        );
        assert!(all.contains("postgresql://ann@127.0.0.1:1/db"), "{all}");
        assert!(all.contains("hint:"), "{all}");
    }

    let missing = pgcutover(
        dir.path(),
        &[
            "copy",
            "sqlite:/no/such/file.db",
            "postgresql://localhost/x",
        ],
    );
    expect_code(&missing, 3);
    assert!(stderr(&missing).contains("does not exist"));

    let bad_mode = pgcutover(
        dir.path(),
        &["verify", src, "postgresql://localhost/x", "--mode", "rows"],
    );
    expect_code(&bad_mode, 2);
}

#[tokio::test]
async fn orphaned_rows_fail_the_foreign_key_with_exit_6_and_keep_the_data() {
    let db = TestDb::new("cli_orphans").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("orphans.sqlite");
    // SQLite does not enforce foreign keys unless asked: book 11 points at a missing author.
    sqlite_from_sql(
        &src,
        "
        PRAGMA foreign_keys = OFF;
        CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES author(id));
        INSERT INTO author VALUES (1, 'Ann');
        INSERT INTO book VALUES (10, 1), (11, 99);",
    );
    let report = dir.path().join("report.json");
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            src.to_str().expect("path"),
            &db.url,
            "--report",
            report.to_str().expect("path"),
        ],
    );
    expect_code(&out, 6);
    assert!(
        stdout(&out).contains("FAILED: foreign key \"book_author_id_fkey\" on \"book\""),
        "{}",
        stdout(&out)
    );
    let report = read_json(&report);
    assert_eq!(report["outcome"], "post_load_failed");
    assert_eq!(report["totals"]["post_load_failed"], 1);
    let client = db.client().await;
    assert_eq!(
        one(&client, "SELECT count(*) FROM book").await.as_deref(),
        Some("2"),
        "the rows are in"
    );
    db.drop().await;
}

/// Copies a one-table SQLite file of `rows` random 1 MB blobs into `name`, checks the bytes
/// arrived, and returns the run's peak resident memory.
async fn peak_copying_blobs(name: &str, rows: u32) -> u64 {
    let db = TestDb::new(name).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("blobs.sqlite");
    sqlite_from_sql(
        &src,
        &format!(
            "
        CREATE TABLE files (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
        INSERT INTO files SELECT i, randomblob(1000000) FROM n;"
        ),
    );
    let report = dir.path().join("report.json");
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            src.to_str().expect("path"),
            &db.url,
            "--report",
            report.to_str().expect("path"),
        ],
    );
    expect_code(&out, 0);
    let report = read_json(&report);
    let peak = report["peak_memory_bytes"]
        .as_u64()
        .expect("peak memory is reported on Linux");
    let client = db.client().await;
    assert_eq!(
        one(&client, "SELECT sum(length(body))::text FROM files")
            .await
            .as_deref(),
        Some((u64::from(rows) * 1_000_000).to_string().as_str())
    );
    db.drop().await;
    peak
}

#[tokio::test]
async fn memory_stays_bounded_with_100_mb_of_blobs() {
    // The same copy with one blob and with a hundred: what the other 99 MB cost. A copy that
    // held the table (or any fixed share of it) would grow by about 99 MB or more; a streaming
    // one holds a few 4 MB batches (reader buffer, 2 in the channel, the COPY being written),
    // whatever the table size. Measured (debug build, 2 cores, six runs): 1 blob 25 MB,
    // 100 blobs 57-83 MB, so a growth of 32-60 MB; the bound is 1.5 times the worst, still
    // below the 99 MB a buffering copy would add. An absolute bound would have to allow for the
    // process's own baseline, which varies with the build and the machine.
    let one_blob = peak_copying_blobs("cli_blobs_one", 1).await;
    let hundred = peak_copying_blobs("cli_blobs", 100).await;
    let growth = hundred.saturating_sub(one_blob);
    eprintln!(
        "peak memory: 1 MB of blobs {one_blob} bytes, 100 MB {hundred} bytes, growth {growth}"
    );
    assert!(
        growth < 90_000_000,
        "peak memory grew by {growth} bytes from 1 MB to 100 MB of blobs ({one_blob} → {hundred}): \
         the copy holds more than a few batches"
    );
}

#[tokio::test]
async fn sslmode_require_encrypts_and_verify_full_checks_the_certificate() {
    // A server of the test's own that takes TCP connections only over TLS (`hostssl`): a copy
    // that gets in was encrypted. Its certificate is signed by a CA of the test's own.
    let tls = TlsCluster::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let src = small_db(dir.path());
    let src = src.to_str().expect("path");
    let plain = pgcutover(
        dir.path(),
        &[
            "copy",
            src,
            &tls.url("sslmode=disable"),
            "--include",
            "author",
        ],
    );
    expect_code(&plain, 3);
    let copy = pgcutover(
        dir.path(),
        &[
            "copy",
            src,
            &tls.url("sslmode=require"),
            "--include",
            "author",
        ],
    );
    expect_code(&copy, 0);
    let client = tls.cluster.socket_client().await;
    assert_eq!(
        one(&client, "SELECT count(*) FROM author").await.as_deref(),
        Some("2")
    );
    // verify-full checks the certificate against the system's CAs, which did not sign it.
    let strict = tls.url("sslmode=verify-full");
    let out = pgcutover(dir.path(), &["plan", src, &strict]);
    assert!(
        stderr(&out).contains("TLS") || stderr(&out).contains("certificate"),
        "{}",
        stderr(&out)
    );
    let out = pgcutover(dir.path(), &["copy", src, &strict, "--drop-existing"]);
    expect_code(&out, 3);
}
