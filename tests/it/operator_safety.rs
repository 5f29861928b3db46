//! Commands that could hurt the operator (issue 12, section 4): bad output paths and patterns
//! refused before anything is written, no run of zero tables, --drop-existing that replaces
//! everything an earlier run made, a reset that lists, asks and refuses to destroy rows written
//! after the copy completed, and a resume hint that does not repeat --restart.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value as J;

use crate::harness::{
    expect_code, interrupt_at, one, pgcutover, read_json, sqlite_from_sql, stderr, stdout, MyDb,
    TestDb,
};

const SMALL: &str = "
CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES author(id), title TEXT);
INSERT INTO author VALUES (1, 'Ann'), (2, 'Bo');
INSERT INTO book VALUES (10, 1, 'One'), (11, 2, 'Two'), (12, 2, 'Three');
";

fn small_db(dir: &Path) -> String {
    let path = dir.join("small.sqlite");
    sqlite_from_sql(&path, SMALL);
    path.to_str().expect("utf-8 path").to_owned()
}

/// Whether the target holds anything pgcutover writes: its state schema, or a table.
async fn target_untouched(db: &TestDb) -> bool {
    let client = db.client().await;
    one(
        &client,
        "SELECT count(*)::text FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid \
         WHERE n.nspname = 'pgcutover' OR (n.nspname = 'public' AND c.relkind = 'r')",
    )
    .await
    .as_deref()
        == Some("0")
}

#[tokio::test]
async fn report_and_rejects_paths_are_checked_before_anything_is_written() {
    let db = TestDb::new("ops_paths").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = small_db(dir.path());
    let nowhere = dir.path().join("no/such/dir/report.json");
    let nowhere = nowhere.to_str().expect("path");

    let out = pgcutover(dir.path(), &["copy", &src, &db.url, "--report", nowhere]);
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains(&format!("--report {nowhere}: the directory")),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hint: nothing was written"),
        "{}",
        stderr(&out)
    );
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            &src,
            &db.url,
            "--rejects",
            dir.path().to_str().expect("path"),
        ],
    );
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains("--rejects") && stderr(&out).contains("is a directory"),
        "{}",
        stderr(&out)
    );
    let out = pgcutover(dir.path(), &["verify", &src, &db.url, "--report", nowhere]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("--report"), "{}", stderr(&out));
    assert!(
        target_untouched(&db).await,
        "a refused path wrote to the target"
    );

    // A report file that exists keeps its contents when the run stops before its end (here:
    // the target already has a table the copy would create), and none is left behind when
    // there was none.
    db.client()
        .await
        .batch_execute("CREATE TABLE author (id int)")
        .await
        .expect("a table in the way");
    let old = dir.path().join("old.json");
    std::fs::write(&old, "the last run's report").expect("write");
    let fresh = dir.path().join("fresh.json");
    for report in [&old, &fresh] {
        let out = pgcutover(
            dir.path(),
            &[
                "copy",
                &src,
                &db.url,
                "--report",
                report.to_str().expect("path"),
            ],
        );
        expect_code(&out, 4);
    }
    assert_eq!(
        std::fs::read_to_string(&old).expect("read"),
        "the last run's report"
    );
    assert!(!fresh.exists(), "an empty report was left behind");
    assert!(
        !dir.path().join("pgcutover-rejects.jsonl").exists(),
        "the rejects file is created only when a row is rejected"
    );
    db.drop().await;
}

#[tokio::test]
async fn an_include_that_matches_nothing_is_refused_and_an_exclude_warns() {
    let db = TestDb::new("ops_patterns").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = small_db(dir.path());

    for command in ["copy", "plan", "verify"] {
        let out = pgcutover(
            dir.path(),
            &[command, &src, &db.url, "--include", "author,authors_typo"],
        );
        expect_code(&out, 2);
        let err = stderr(&out);
        assert!(
            err.contains("--include \"authors_typo\" matches no table of sqlite:"),
            "{command}: {err}"
        );
        assert!(err.contains("\"author\", \"book\""), "{command}: {err}");
    }
    assert!(
        target_untouched(&db).await,
        "a refused --include wrote to the target"
    );

    // --exclude that matches nothing: a warning on stderr, in the plan, and in the report.
    let plan = pgcutover(
        dir.path(),
        &[
            "plan",
            &src,
            &db.url,
            "--exclude",
            "nosuch*",
            "--format",
            "json",
        ],
    );
    expect_code(&plan, 0);
    assert!(
        stderr(&plan).contains("warning: --exclude \"nosuch*\": matches no table"),
        "{}",
        stderr(&plan)
    );
    let v: J = serde_json::from_str(stdout(&plan).trim()).expect("plan JSON");
    assert_eq!(v["data"]["warnings"][0]["object"], "--exclude \"nosuch*\"");
    let report = dir.path().join("report.json");
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            &src,
            &db.url,
            "--exclude",
            "nosuch*",
            "--report",
            report.to_str().expect("path"),
        ],
    );
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains("warning: --exclude \"nosuch*\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        read_json(&report)["warnings"][0]["object"],
        "--exclude \"nosuch*\""
    );

    // --cast means nothing to a SQLite source: refused, not ignored.
    let out = pgcutover(
        dir.path(),
        &["plan", &src, &db.url, "--cast", "author.name=varchar(10)"],
    );
    expect_code(&out, 2);
    assert!(
        stderr(&out)
            .contains("--cast \"author.name=varchar(10)\": --cast applies to MySQL sources only"),
        "{}",
        stderr(&out)
    );
    db.drop().await;
}

#[tokio::test]
async fn a_copy_of_zero_tables_is_refused_and_never_recorded_complete() {
    let db = TestDb::new("ops_zero").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = small_db(dir.path());
    let empty = dir.path().join("empty.sqlite");
    sqlite_from_sql(&empty, "CREATE VIEW v AS SELECT 1 AS one;");
    let empty = empty.to_str().expect("path");

    for args in [
        vec!["copy", src.as_str(), db.url.as_str(), "--exclude", "*"],
        vec![
            "copy",
            src.as_str(),
            db.url.as_str(),
            "--include",
            "a*",
            "--exclude",
            "author",
        ],
        vec!["plan", src.as_str(), db.url.as_str(), "--exclude", "*"],
        vec!["verify", src.as_str(), db.url.as_str(), "--exclude", "*"],
        vec!["copy", empty, db.url.as_str()],
        vec!["copy", empty, db.url.as_str(), "--schema-only"],
        vec!["plan", empty, db.url.as_str()],
    ] {
        let out = pgcutover(dir.path(), &args);
        expect_code(&out, 2);
        let err = stderr(&out);
        assert!(
            err.contains("leave no table") || err.contains("has no table to copy"),
            "{args:?}: {err}"
        );
    }
    assert!(
        target_untouched(&db).await,
        "a copy of nothing recorded a run"
    );
    db.drop().await;
}

#[tokio::test]
async fn cast_rules_must_name_a_table_and_column_of_the_source() {
    let name = "pgctit_ops_cast";
    let my = MyDb::from_sql(
        name,
        "CREATE TABLE t (id INT PRIMARY KEY, flag TINYINT(1), n INT UNSIGNED);
         CREATE TABLE other (id INT PRIMARY KEY);
         INSERT INTO t VALUES (1, 1, 4), (2, 7, 5);",
    )
    .await;
    let db = TestDb::new("ops_cast").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = my.url.clone();

    for (rule, said) in [
        ("nosuch.flag=smallint", "the source has no table \"nosuch\""),
        ("t.nosuch=smallint", "table \"t\" has no column \"nosuch\""),
    ] {
        for command in ["copy", "plan"] {
            let out = pgcutover(dir.path(), &[command, &src, &db.url, "--cast", rule]);
            expect_code(&out, 2);
            assert!(
                stderr(&out).contains(&format!("--cast \"{rule}\": {said}")),
                "{command} --cast {rule}: {}",
                stderr(&out)
            );
        }
    }
    assert!(
        target_untouched(&db).await,
        "a refused --cast wrote to the target"
    );

    // Rules are matched ignoring case, as they are applied; a type no column has, or a table
    // --exclude leaves out, only warns.
    let out = pgcutover(
        dir.path(),
        &[
            "plan",
            &src,
            &db.url,
            "--cast",
            "T.FLAG=smallint",
            "--cast",
            "datetime=timestamptz",
            "--cast",
            "other.id=bigint",
            "--exclude",
            "other",
        ],
    );
    expect_code(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("--cast \"datetime=timestamptz\": no column of the tables copied has the MySQL type datetime"),
        "{err}"
    );
    assert!(
        err.contains("--cast \"other.id=bigint\": table \"other\" is left out"),
        "{err}"
    );
    assert!(!err.contains("T.FLAG"), "{err}");
    assert!(
        stdout(&out).contains("\"t\".\"flag\"  tinyint(1) → smallint"),
        "{}",
        stdout(&out)
    );
    db.drop().await;
    my.drop().await;
}

/// The objects a MySQL copy of [`ENUMS_AND_ON_UPDATE`] creates besides tables, by kind.
async fn types_and_functions(db: &TestDb) -> (String, String) {
    let client = db.client().await;
    let types = one(
        &client,
        "SELECT coalesce(string_agg(typname, ',' ORDER BY typname), '') FROM pg_type \
         WHERE typnamespace = 'public'::regnamespace AND typtype = 'e'",
    )
    .await
    .unwrap_or_default();
    let functions = one(
        &client,
        "SELECT coalesce(string_agg(proname, ',' ORDER BY proname), '') FROM pg_proc \
         WHERE pronamespace = 'public'::regnamespace",
    )
    .await
    .unwrap_or_default();
    (types, functions)
}

const ENUMS_AND_ON_UPDATE: &str =
    "CREATE TABLE orders (id INT PRIMARY KEY, status ENUM('new', 'paid', 'sent') NOT NULL,
       changed TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
     CREATE TABLE notes (id INT PRIMARY KEY, body TEXT);
     INSERT INTO orders VALUES (1, 'new', '2024-01-01 00:00:00'), (2, 'sent', '2024-01-02 00:00:00');
     INSERT INTO notes VALUES (1, 'a');";

#[tokio::test]
async fn drop_existing_replaces_all_an_earlier_mysql_run_created() {
    let name = "pgctit_ops_drop";
    let my = MyDb::from_sql(name, ENUMS_AND_ON_UPDATE).await;
    let db = TestDb::new("ops_drop_mysql").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = my.url.clone();
    let copy = ["copy", src.as_str(), db.url.as_str()];
    let drop_existing = [&copy[..], &["--drop-existing"]].concat();
    expect_code(&pgcutover(dir.path(), &copy), 0);
    let made = types_and_functions(&db).await;
    assert_eq!(made.0, "orders_status");
    assert_eq!(made.1, "orders_on_update");

    // After a complete run.
    let out = pgcutover(dir.path(), &drop_existing);
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains("--drop-existing: replacing the run"),
        "{}",
        stderr(&out)
    );
    // After `reset --keep-data`: no record, the names are this run's own.
    expect_code(
        &pgcutover(dir.path(), &["reset", &db.url, "--keep-data", "--yes"]),
        0,
    );
    expect_code(&pgcutover(dir.path(), &drop_existing), 0);
    assert_eq!(types_and_functions(&db).await, made);
    let client = db.client().await;
    assert_eq!(
        one(
            &client,
            "SELECT string_agg(status::text, ',' ORDER BY id) FROM orders"
        )
        .await
        .as_deref(),
        Some("new,sent")
    );

    // A run that replaces one drops what only the earlier run had (here the table `notes`
    // and the enum type, which this run does not copy).
    expect_code(
        &pgcutover(
            dir.path(),
            &[&drop_existing[..], &["--include", "notes"]].concat(),
        ),
        0,
    );
    assert_eq!(
        one(
            &client,
            "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'"
        )
        .await
        .as_deref(),
        Some("notes")
    );
    assert_eq!(
        types_and_functions(&db).await,
        (String::new(), String::new())
    );

    // Types and functions left behind by tables dropped by hand stop a new copy before it
    // writes (exit 4, naming them), not half-way through its first transaction.
    expect_code(&pgcutover(dir.path(), &drop_existing), 0);
    expect_code(
        &pgcutover(dir.path(), &["reset", &db.url, "--keep-data", "--yes"]),
        0,
    );
    client
        .batch_execute("DROP TABLE orders, notes")
        .await
        .expect("drop by hand");
    let out = pgcutover(dir.path(), &copy);
    expect_code(&out, 4);
    assert!(
        stderr(&out).contains("type \"public\".\"orders_status\"")
            && stderr(&out).contains("function \"public\".\"orders_on_update\"()"),
        "{}",
        stderr(&out)
    );
    expect_code(&pgcutover(dir.path(), &drop_existing), 0);
    db.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn drop_existing_after_keep_data_and_after_a_complete_sqlite_run() {
    let db = TestDb::new("ops_drop_sqlite").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = small_db(dir.path());
    let copy = ["copy", src.as_str(), db.url.as_str()];
    let drop_existing = [&copy[..], &["--drop-existing"]].concat();
    expect_code(&pgcutover(dir.path(), &copy), 0);
    expect_code(&pgcutover(dir.path(), &drop_existing), 0);
    expect_code(
        &pgcutover(dir.path(), &["reset", &db.url, "--keep-data", "--yes"]),
        0,
    );
    expect_code(&pgcutover(dir.path(), &drop_existing), 0);
    let client = db.client().await;
    assert_eq!(
        one(&client, "SELECT count(*)::text FROM book")
            .await
            .as_deref(),
        Some("3")
    );
    assert_eq!(
        one(&client, "SELECT status FROM pgcutover.runs")
            .await
            .as_deref(),
        Some("complete")
    );
    db.drop().await;
}

/// Runs `pgcutover reset` on a pseudo-terminal (through `script`), typing `answer`.
fn reset_on_a_terminal(dir: &Path, url: &str, answer: &str) -> std::process::Output {
    let bin = env!("CARGO_BIN_EXE_pgcutover");
    let mut child = Command::new("script")
        .args([
            "-qec",
            &format!("{bin} reset {url} --target-schema app"),
            "/dev/null",
        ])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`script` (util-linux) runs the command on a pseudo-terminal");
    // Held open until the command ends: `script` passes an end of input on as one.
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{answer}\n").as_bytes())
        .expect("type the answer");
    let out = child.wait_with_output().expect("wait");
    drop(stdin);
    out
}

#[tokio::test]
async fn reset_lists_asks_and_will_not_destroy_rows_written_after_the_copy() {
    let db = TestDb::new("ops_reset").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = small_db(dir.path());
    let copy = [
        "copy",
        src.as_str(),
        db.url.as_str(),
        "--target-schema",
        "app",
    ];
    expect_code(&pgcutover(dir.path(), &copy), 0);
    let client = db.client().await;
    let books = "SELECT count(*)::text FROM app.book";

    // No --yes and no terminal: the list, a refusal, nothing changed.
    let out = pgcutover(dir.path(), &["reset", &db.url]);
    expect_code(&out, 2);
    let listed = stdout(&out);
    for line in [
        "drop table \"app\".\"book\": 3 row(s)",
        "drop table \"app\".\"author\": 2 row(s)",
        "drop schema \"app\" (the run created it)",
        "rows lost: 5 in 2 table(s)",
    ] {
        assert!(listed.contains(line), "{line}: {listed}");
    }
    assert!(stderr(&out).contains("Add --yes"), "{}", stderr(&out));
    assert_eq!(one(&client, books).await.as_deref(), Some("3"));

    // --dry-run, in JSON: the same list, nothing changed.
    let out = pgcutover(
        dir.path(),
        &["reset", &db.url, "--dry-run", "--format", "json"],
    );
    expect_code(&out, 0);
    let v: J = serde_json::from_str(stdout(&out).trim()).expect("reset JSON");
    assert_eq!(v["type"], "reset");
    assert_eq!(v["data"]["dry_run"], true);
    assert_eq!(v["data"]["done"], false);
    assert_eq!(v["data"]["rows_lost"], 5);
    assert_eq!(v["data"]["drop_tables"].as_array().map(Vec::len), Some(2));
    assert_eq!(one(&client, books).await.as_deref(), Some("3"));
    assert_eq!(
        one(&client, "SELECT count(*)::text FROM pgcutover.runs")
            .await
            .as_deref(),
        Some("1"),
        "the dry run forgot nothing"
    );

    // On a terminal, a wrong answer changes nothing.
    let out = reset_on_a_terminal(dir.path(), &db.url, "yes");
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("Type the name of the schema (app)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(one(&client, books).await.as_deref(), Some("3"));

    // The cutover: the application writes into the copy.
    client
        .batch_execute("INSERT INTO app.book VALUES (13, 1, 'Written by the application')")
        .await
        .expect("the application's row");
    for args in [
        vec!["reset", db.url.as_str(), "--yes"],
        [&copy[..], &["--restart"]].concat(),
        [&copy[..], &["--drop-existing"]].concat(),
    ] {
        let out = pgcutover(dir.path(), &args);
        expect_code(&out, 4);
        assert!(
            stderr(&out)
                .contains("\"app\".\"book\": 1 row(s) inserted or updated since the run completed"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
        assert_eq!(one(&client, books).await.as_deref(), Some("4"), "{args:?}");
    }

    let out = pgcutover(
        dir.path(),
        &["reset", &db.url, "--yes", "--force", "--format", "json"],
    );
    expect_code(&out, 0);
    let v: J = serde_json::from_str(stdout(&out).trim()).expect("reset JSON");
    assert_eq!(v["data"]["done"], true);
    assert_eq!(v["data"]["rows_lost"], 6);
    assert_eq!(
        one(
            &client,
            "SELECT count(*)::text FROM pg_namespace WHERE nspname IN ('app', 'pgcutover')"
        )
        .await
        .as_deref(),
        Some("0")
    );

    // Typed on a terminal: the schema's name goes ahead.
    expect_code(&pgcutover(dir.path(), &copy), 0);
    let out = reset_on_a_terminal(dir.path(), &db.url, "app");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        one(
            &client,
            "SELECT count(*)::text FROM pg_namespace WHERE nspname = 'app'"
        )
        .await
        .as_deref(),
        Some("0")
    );
    db.drop().await;
}

/// `reset --dry-run --format json`'s tables written after the run completed.
fn written_after(dir: &Path, url: &str) -> Vec<String> {
    let out = pgcutover(dir, &["reset", url, "--dry-run", "--format", "json"]);
    expect_code(&out, 0);
    let v: J = serde_json::from_str(stdout(&out).trim()).expect("reset JSON");
    v["data"]["written_after_completion"]
        .as_array()
        .expect("list")
        .iter()
        .map(|w| w["table"].as_str().expect("table").to_owned())
        .collect()
}

#[tokio::test]
async fn written_after_completion_sees_updates_and_deletes_not_vacuum_or_a_stats_reset() {
    let db = TestDb::new("ops_written").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = small_db(dir.path());
    let copy = ["copy", src.as_str(), db.url.as_str()];
    expect_code(&pgcutover(dir.path(), &copy), 0);
    let client = db.client().await;
    // Work on the tables that writes nothing: not a write.
    for sql in [
        "VACUUM FREEZE book",
        "VACUUM FULL author",
        "ANALYZE",
        "SELECT pg_stat_reset()",
        "SELECT * FROM book FOR UPDATE",
    ] {
        client.batch_execute(sql).await.expect(sql);
    }
    assert!(written_after(dir.path(), &db.url).is_empty());
    // Running the complete run's command again keeps its first completion mark.
    client
        .batch_execute("UPDATE book SET title = 'Changed' WHERE id = 10")
        .await
        .expect("update");
    expect_code(&pgcutover(dir.path(), &copy), 0);
    assert_eq!(written_after(dir.path(), &db.url), ["book"]);

    let restart = [&copy[..], &["--restart", "--force"]].concat();
    expect_code(&pgcutover(dir.path(), &restart), 0);
    assert!(written_after(dir.path(), &db.url).is_empty());
    client
        .batch_execute("DELETE FROM book WHERE id = 12")
        .await
        .expect("delete");
    assert_eq!(written_after(dir.path(), &db.url), ["book"]);
    db.drop().await;
}

/// A SQLite table of `rows` rows, copied in many chunks.
fn many_chunks(dir: &Path, rows: u32) -> PathBuf {
    let path = dir.join("chunks.sqlite");
    sqlite_from_sql(
        &path,
        &format!(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
             INSERT INTO t SELECT i, 'row ' || i FROM n;"
        ),
    );
    path
}

#[tokio::test]
async fn an_interrupted_restart_says_to_resume_without_restart() {
    let db = TestDb::new("ops_restart_hint").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = many_chunks(dir.path(), 4000);
    let src = src.to_str().expect("path");
    let plain = [
        "copy",
        src,
        db.url.as_str(),
        "--chunk-rows",
        "200",
        "--jobs",
        "1",
    ];
    expect_code(&pgcutover(dir.path(), &plain), 0);

    let restart = [&plain[..], &["--restart"]].concat();
    let out = interrupt_at(dir.path(), &restart, "chunk-committed", 3);
    expect_code(&out, 8);
    let said = stdout(&out);
    assert!(
        !said.contains("run the same command again"),
        "the hint repeats --restart: {said}"
    );
    assert!(said.contains("WITHOUT --restart"), "{said}");
    let shown = format!("  pgcutover {}", plain.join(" "));
    assert!(said.contains(&shown), "{shown:?} not in: {said}");
    assert!(
        stderr(&out).contains("again without --restart"),
        "{}",
        stderr(&out)
    );

    // The command shown resumes the run.
    let again = pgcutover(dir.path(), &plain);
    expect_code(&again, 0);
    assert!(
        stderr(&again).contains("resuming the run"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        one(&db.client().await, "SELECT count(*)::text FROM t")
            .await
            .as_deref(),
        Some("4000")
    );
    db.drop().await;
}

#[tokio::test]
async fn a_data_only_truncate_will_not_empty_tables_written_after_the_copy() {
    let db = TestDb::new("ops_truncate").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = small_db(dir.path());
    // The application's schema, loaded once by a data-only run.
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE author (id bigint PRIMARY KEY, name text NOT NULL);
             CREATE TABLE book (id bigint PRIMARY KEY, author_id bigint REFERENCES author (id), title text);",
        )
        .await
        .expect("the application's schema");
    let load = ["copy", src.as_str(), db.url.as_str(), "--data-only"];
    expect_code(&pgcutover(dir.path(), &load), 0);
    // After the cutover the application writes; then someone loads again with --truncate
    // (other options: another run, which would replace the complete one).
    client
        .batch_execute("INSERT INTO book VALUES (99, 1, 'Written by the application')")
        .await
        .expect("the application's row");
    let again = [&load[..], &["--truncate", "--nul-bytes", "strip"]].concat();
    let out = pgcutover(dir.path(), &again);
    expect_code(&out, 4);
    assert!(
        stderr(&out).contains("written after the run completed") && stderr(&out).contains("book"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        one(&client, "SELECT count(*)::text FROM book")
            .await
            .as_deref(),
        Some("4"),
        "nothing was emptied"
    );
    // --force on its own means nothing, and is refused; with --truncate it goes ahead.
    expect_code(
        &pgcutover(dir.path(), &[&load[..], &["--force"]].concat()),
        2,
    );
    let forced = [&again[..], &["--force"]].concat();
    expect_code(&pgcutover(dir.path(), &forced), 0);
    assert_eq!(
        one(&client, "SELECT count(*)::text FROM book")
            .await
            .as_deref(),
        Some("3")
    );
    db.drop().await;
}
