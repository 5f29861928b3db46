//! Documented behaviour that no other test exercised: each test checks what README.md or
//! docs/resume.md promises, to the exit code, the message and the state afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value as J;

use crate::harness::{
    expect_code, one, output_of, pgcutover, spawn_stopping, sqlite_from_sql, stderr, stdout,
    wait_for_stop, MyDb, Stop, TestDb, TlsCluster,
};

/// A SQLite file with one table `t (id INTEGER PRIMARY KEY, v TEXT)` of `rows` rows, so a
/// copy with `--chunk-rows` cuts it into key ranges.
fn numbers_db(dir: &Path, rows: u32) -> PathBuf {
    let path = dir.join("numbers.sqlite");
    let _ = std::fs::remove_file(&path);
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

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `copy SRC TARGET --chunk-rows 250 --jobs 1`: [`numbers_db`]'s rows in chunks of 250 taken
/// one after another by one worker, so a test point's nth pass is a known place in the run.
fn one_worker_copy<'a>(src: &'a Path, target: &'a str) -> [&'a str; 7] {
    ["copy", s(src), target, "--chunk-rows", "250", "--jobs", "1"]
}

/// The one JSON line a `--format json` command printed on stdout.
fn json_line(out: &std::process::Output) -> J {
    let text = stdout(out);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "one JSON line on stdout:\n{text}\n--- stderr\n{}",
        stderr(out)
    );
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {}", lines[0]))
}

/// Waits for the child, killing it (and failing) if it has not ended within `secs`.
fn output_within(mut child: std::process::Child, secs: u64) -> std::process::Output {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().expect("poll child").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = output_of(child);
            panic!(
                "pgcutover hung for {secs}s\n--- stdout\n{}\n--- stderr\n{}",
                stdout(&out),
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    output_of(child)
}

/// Stops a copy (with `--retries 2`) at `point`, shuts its role out of the target database
/// (a connection limit of 0 refuses new sessions with SQLSTATE 53300, "too many
/// connections", which is transient) and ends its sessions, then lets it go on. Asserts that
/// it retries twice, with the documented pauses, then stops resumably (exit 8), and that once
/// connections are allowed again the same command finishes the copy.
async fn retries_run_out_after_a_fault_at(point: &str, nth: u64, tag: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = numbers_db(dir.path(), 2000);
    let db = TestDb::new(tag).await;
    let admin = db.client().await;
    // A connection limit binds only roles that are not superusers.
    let role = format!("pgct_{tag}_role");
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; ALTER DATABASE {} OWNER TO {role}",
            db.name
        ))
        .await
        .expect("a role of the test's own owns the database");
    let url = db.url.replacen("postgres@", &format!("{role}@"), 1);
    assert_ne!(url, db.url, "the test URL names the user postgres");
    let args = [
        "copy",
        s(&src),
        &url,
        "--chunk-rows",
        "500",
        "--batch-rows",
        "100",
        "--jobs",
        "1",
        "--retries",
        "2",
    ];
    let (mut child, stop) = spawn_stopping(dir.path(), &args, point, nth);
    assert!(matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint));
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} CONNECTION LIMIT 0;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}';",
            db.name
        ))
        .await
        .expect("shut the run out");
    std::fs::remove_file(&stop).expect("let it go on");
    let out = output_within(child, 60);
    expect_code(&out, 8);
    let err = stderr(&out);
    // Two retries, logged as warnings, with the documented pauses, then the run stops.
    assert!(err.contains("trying again in 0.5s (1/2)"), "{err}");
    assert!(err.contains("trying again in 1.0s (2/2)"), "{err}");
    let all = format!("{}{err}", stdout(&out));
    assert!(all.contains("failed after 3 tries"), "{all}");
    assert!(all.contains("too many connections"), "{all}");
    assert!(all.contains("outcome: interrupted (exit 8)"), "{all}");

    admin
        .batch_execute(&format!("ALTER DATABASE {} CONNECTION LIMIT -1", db.name))
        .await
        .expect("let connections in again");
    let status = pgcutover(dir.path(), &["status", &db.url]);
    expect_code(&status, 0);
    assert!(stdout(&status).contains("loading"), "{}", stdout(&status));
    let again = pgcutover(dir.path(), &args);
    expect_code(&again, 0);
    assert!(
        stderr(&again).contains("resuming the run"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        one(
            &admin,
            "SELECT count(*)::text || ' ' || count(DISTINCT id)::text FROM t"
        )
        .await
        .as_deref(),
        Some("2000 2000")
    );
    drop(admin);
    db.drop().await;
    let (admin, conn) =
        tokio_postgres::connect(&crate::harness::admin_url(), tokio_postgres::NoTls)
            .await
            .expect("admin connection");
    tokio::spawn(conn);
    let _ = admin
        .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
        .await;
}

/// README: `--retries N` "tries again after a transient fault … before stopping resumably
/// (exit 8)". The fault comes between two chunks (the first has committed, the next begins
/// on a dead session), and lasts longer than the retries.
#[tokio::test]
async fn retries_running_out_stop_the_run_resumably_with_exit_8() {
    retries_run_out_after_a_fault_at("chunk-committed", 1, "doc_retries").await;
}

/// The same, with the connection lost while a chunk's COPY is streaming (docs/resume.md,
/// "Transient faults": "a lost or reset connection" is tried again).
#[tokio::test]
async fn retries_running_out_in_mid_copy_stop_the_run_resumably_with_exit_8() {
    retries_run_out_after_a_fault_at("chunk-batch", 1, "doc_retries_mid_copy").await;
}

/// docs/resume.md, "One run at a time": a second pgcutover on the same target schema waits up
/// to 10 seconds for the first's advisory lock, then refuses with exit 4 and writes nothing.
#[tokio::test]
async fn a_second_copy_into_the_same_schema_waits_then_refuses_with_exit_4() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = numbers_db(dir.path(), 1000);
    let db = TestDb::new("doc_lock").await;
    let args = one_worker_copy(&src, &db.url);
    let (mut first, stop) = spawn_stopping(dir.path(), &args, "chunk-committed", 1);
    assert!(matches!(wait_for_stop(&mut first, &stop), Stop::AtPoint));

    let started = Instant::now();
    let second = pgcutover(dir.path(), &args);
    let waited = started.elapsed();
    expect_code(&second, 4);
    let err = stderr(&second);
    assert!(
        err.contains("another pgcutover is running against schema"),
        "{err}"
    );
    assert!(err.contains("pgcutover status TARGET"), "the hint: {err}");
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(30),
        "waits about 10 seconds first, waited {waited:?}"
    );
    let client = db.client().await;
    let state = "SELECT attempts::text || ' ' || (SELECT count(done_at) FROM pgcutover.chunks)::text FROM pgcutover.runs";
    assert_eq!(
        one(&client, state).await.as_deref(),
        Some("1 1"),
        "the refused copy recorded no attempt and copied nothing"
    );

    std::fs::remove_file(&stop).expect("let the first go on");
    let out = output_of(first);
    expect_code(&out, 0);
    assert_eq!(
        one(&client, "SELECT count(*)::text FROM t")
            .await
            .as_deref(),
        Some("1000")
    );
    assert_eq!(one(&client, state).await.as_deref(), Some("1 4"));
    db.drop().await;
}

/// docs/resume.md, `reset`: without `--yes` and without a terminal it refuses (exit 2); while a
/// run holds the schema it refuses (exit 4); when the run's tables were written after it
/// completed it refuses (exit 4, naming the table) unless `--force`; `--dry-run` lists and
/// changes nothing (exit 0). Each refusal leaves the tables and the record as they were.
#[tokio::test]
async fn reset_refuses_without_yes_while_running_and_after_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = numbers_db(dir.path(), 1000);
    let db = TestDb::new("doc_reset").await;
    let client = db.client().await;
    let args = one_worker_copy(&src, &db.url);
    let what = "SELECT (SELECT count(*) FROM t)::text || ' ' || (SELECT count(*) FROM pgcutover.runs)::text";

    // A run going on: reset refuses while it holds the schema.
    let (mut child, stop) = spawn_stopping(dir.path(), &args, "chunk-committed", 1);
    assert!(matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint));
    let busy = pgcutover(dir.path(), &["reset", &db.url, "--yes"]);
    expect_code(&busy, 4);
    assert!(
        stderr(&busy).contains("is running now"),
        "{}",
        stderr(&busy)
    );
    // --dry-run takes no lock: it lists even now.
    let dry = pgcutover(dir.path(), &["reset", &db.url, "--dry-run"]);
    expect_code(&dry, 0);
    assert!(
        stdout(&dry).contains("dry run: nothing was changed"),
        "{}",
        stdout(&dry)
    );
    std::fs::remove_file(&stop).expect("let it go on");
    expect_code(&output_of(child), 0);
    assert_eq!(one(&client, what).await.as_deref(), Some("1000 1"));

    // No terminal (stdin is /dev/null here) and no --yes.
    let asked = pgcutover(dir.path(), &["reset", &db.url]);
    expect_code(&asked, 2);
    assert!(
        stderr(&asked).contains("there is no terminal to ask on"),
        "{}",
        stderr(&asked)
    );
    assert!(stderr(&asked).contains("Add --yes"), "{}", stderr(&asked));
    assert_eq!(one(&client, what).await.as_deref(), Some("1000 1"));

    // A row written after the run completed: refused without --force, naming the table.
    client
        .batch_execute("INSERT INTO t VALUES (5000, 'the application''s row')")
        .await
        .expect("write after the cutover");
    let written = pgcutover(dir.path(), &["reset", &db.url, "--yes"]);
    expect_code(&written, 4);
    let err = stderr(&written);
    assert!(
        err.contains("were written after the run completed"),
        "{err}"
    );
    assert!(
        err.contains("\"public\".\"t\": 1 row(s) inserted or updated"),
        "names the table: {err}"
    );
    assert_eq!(one(&client, what).await.as_deref(), Some("1001 1"));

    let forced = pgcutover(dir.path(), &["reset", &db.url, "--yes", "--force"]);
    expect_code(&forced, 0);
    assert_eq!(
        one(
            &client,
            "SELECT (to_regclass('public.t') IS NULL)::text || ' ' || (to_regnamespace('pgcutover') IS NULL)::text"
        )
        .await
        .as_deref(),
        Some("true true")
    );
    db.drop().await;
}

/// README: `copy --format json` prints `{"type": "report", "data": …}` on stdout, and docs/
/// resume.md's `status --format json` one object per recorded run with its status, source,
/// mode, attempts, last exit code and per table the chunks done, rows in, source rows and
/// rejects. The numbers are checked against what the run did.
#[tokio::test]
async fn copy_and_status_speak_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("mixed.sqlite");
    sqlite_from_sql(
        &src,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 900)
         INSERT INTO t SELECT i, CASE WHEN i % 100 = 0 THEN 'x' || char(0) ELSE 'ok' END FROM n;",
    );
    let db = TestDb::new("doc_json").await;
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            s(&src),
            &db.url,
            "--chunk-rows",
            "300",
            "--format",
            "json",
        ],
    );
    expect_code(&out, 5);
    let r = json_line(&out);
    assert_eq!(r["type"], "report", "{r:#}");
    let d = &r["data"];
    assert_eq!(d["outcome"], "rows_rejected");
    assert_eq!(d["exit_code"], 5);
    assert_eq!(d["target_schema"], "public");
    assert_eq!(d["rejects_file"], "pgcutover-rejects.jsonl");
    assert!(!d["source"].as_str().expect("source").is_empty());
    let t = &d["tables"][0];
    assert_eq!(t["table"], "t");
    assert_eq!(
        (&t["rows_read"], &t["rows_written"], &t["rows_rejected"]),
        (&J::from(900), &J::from(891), &J::from(9)),
        "{t:#}"
    );
    assert_eq!(
        (&t["chunks"], &t["chunks_done"]),
        (&J::from(3), &J::from(3))
    );
    assert_eq!(d["totals"]["rows_written"], 891);
    assert_eq!(d["run"]["attempt"], 1);
    assert_eq!(d["run"]["resumed"], false);
    assert!(d["post_load"]
        .as_array()
        .expect("steps")
        .iter()
        .all(|s| s["ok"] == true));

    let st = pgcutover(dir.path(), &["status", &db.url, "--format", "json"]);
    expect_code(&st, 0);
    let j = json_line(&st);
    assert_eq!(j["type"], "status", "{j:#}");
    let runs = j["data"].as_array().expect("one entry per run");
    assert_eq!(runs.len(), 1, "{j:#}");
    let run = &runs[0];
    assert_eq!(run["target_schema"], "public");
    assert_eq!(run["status"], "complete");
    assert_eq!(run["mode"], "full");
    assert_eq!(
        run["source"], d["source"],
        "the same source as the report shows"
    );
    assert_eq!(run["attempts"], 1);
    assert_eq!(run["last_exit_code"], 5);
    assert_eq!(
        (&run["chunks"], &run["chunks_done"]),
        (&J::from(3), &J::from(3))
    );
    assert!(
        run["started_at"].is_string() && run["updated_at"].is_string(),
        "{run:#}"
    );
    let table = &run["tables"][0];
    assert_eq!(table["table"], "t");
    assert_eq!(table["source_rows"], 900);
    assert_eq!(table["rows_written"], 891);
    assert_eq!(table["rows_rejected"], 9);
    assert_eq!(
        (&table["chunks"], &table["chunks_done"]),
        (&J::from(3), &J::from(3))
    );
    db.drop().await;
}

/// README: `--rejects FILE` is where rejected rows go, instead of `pgcutover-rejects.jsonl`;
/// the report names that file.
#[tokio::test]
async fn rejects_go_to_the_file_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("bad.sqlite");
    sqlite_from_sql(
        &src,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO t VALUES (1, 'fine'), (2, 'x' || char(0) || 'y'), (3, 'fine too');",
    );
    let db = TestDb::new("doc_rejects_file").await;
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    let file = elsewhere.join("my-rejects.jsonl");
    let report = dir.path().join("report.json");
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            s(&src),
            &db.url,
            "--rejects",
            s(&file),
            "--report",
            s(&report),
        ],
    );
    expect_code(&out, 5);
    assert!(
        !dir.path().join("pgcutover-rejects.jsonl").exists(),
        "nothing in the default file"
    );
    let lines: Vec<J> = std::fs::read_to_string(&file)
        .expect("the rejects file given")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (lines[0]["table"].as_str(), lines[0]["key"].as_str()),
        (Some("t"), Some("id=2"))
    );
    assert_eq!(lines[0]["column"], "v");
    let r = crate::harness::read_json(&report);
    assert_eq!(r["rejects_file"], s(&file), "{r:#}");
    let client = db.client().await;
    assert_eq!(
        one(
            &client,
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM t"
        )
        .await
        .as_deref(),
        Some("1,3")
    );
    db.drop().await;
}

/// README: `--sqlite-epoch auto|s|ms`, how integers in date/time columns are read. The same
/// integers become seconds with `s` and milliseconds with `ms`.
#[tokio::test]
async fn sqlite_epoch_reads_the_same_integers_as_seconds_or_milliseconds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("epoch.sqlite");
    sqlite_from_sql(
        &src,
        "CREATE TABLE ev (id INTEGER PRIMARY KEY, at DATETIME);
         INSERT INTO ev VALUES (1, 86400), (2, 1700000000);",
    );
    let db = TestDb::new("doc_epoch").await;
    for (unit, schema) in [("s", "secs"), ("ms", "millis")] {
        let out = pgcutover(
            dir.path(),
            &[
                "copy",
                s(&src),
                &db.url,
                "--sqlite-epoch",
                unit,
                "--target-schema",
                schema,
            ],
        );
        expect_code(&out, 0);
    }
    let client = db.client().await;
    let sql =
        |schema: &str| format!("SELECT string_agg(at::text, ' | ' ORDER BY id) FROM {schema}.ev");
    assert_eq!(
        one(&client, &sql("secs")).await.as_deref(),
        Some("1970-01-02 00:00:00 | 2023-11-14 22:13:20")
    );
    assert_eq!(
        one(&client, &sql("millis")).await.as_deref(),
        Some("1970-01-01 00:01:26.4 | 1970-01-20 16:13:20")
    );
    db.drop().await;
}

/// docs/resume.md, data-only "What is refused": a target column that is `GENERATED ALWAYS`,
/// and a `NOT NULL` target column without a default that the source lacks, are refused with
/// exit 2 and nothing written.
#[tokio::test]
async fn data_only_refuses_a_generated_target_column_and_a_required_column_the_source_lacks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("items.sqlite");
    sqlite_from_sql(
        &src,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, total INTEGER);
         INSERT INTO items VALUES (1, 'a', 2), (2, 'b', 4);",
    );
    let db = TestDb::new("doc_data_only_refusals").await;
    let client = db.client().await;
    let nothing_written = "SELECT (SELECT count(*) FROM items)::text || ' ' || (to_regnamespace('pgcutover') IS NULL)::text";
    for (target, want) in [
        (
            "CREATE TABLE items (id integer PRIMARY KEY, name text, total integer GENERATED ALWAYS AS (id * 2) STORED)",
            "the target computes it (GENERATED ALWAYS), so it cannot be loaded",
        ),
        (
            "CREATE TABLE items (id integer PRIMARY KEY, name text, total integer, sku text NOT NULL)",
            "NOT NULL without a default in the target, and the source has no such column",
        ),
    ] {
        client
            .batch_execute(&format!("DROP TABLE IF EXISTS items; {target}"))
            .await
            .expect("the migration's schema");
        let out = pgcutover(dir.path(), &["copy", s(&src), &db.url, "--data-only"]);
        expect_code(&out, 2);
        let err = stderr(&out);
        assert!(err.contains(want), "{target}: {err}");
        let column = if target.contains("sku") { "\"sku\"" } else { "\"total\"" };
        assert!(err.contains(column), "names the column: {err}");
        assert_eq!(
            one(&client, nothing_written).await.as_deref(),
            Some("0 true"),
            "{target}: nothing written"
        );
    }
    db.drop().await;
}

/// Runs `pgcutover` with the environment given (and none of the PG* variables the test
/// process may have).
fn pgcutover_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgcutover"));
    c.args(args).current_dir(dir).env("NO_COLOR", "1");
    for v in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGSSLMODE",
        "PGSERVICE",
    ] {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run pgcutover")
}

/// README, TARGET: what the string leaves out comes from PGHOST, PGPORT, PGUSER and
/// PGDATABASE, as in libpq; `postgresql://` alone is then a whole target.
#[tokio::test]
async fn pg_environment_variables_fill_what_the_target_leaves_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = numbers_db(dir.path(), 10);
    let db = TestDb::new("doc_pgenv").await;
    let admin = url::Url::parse(&crate::harness::admin_url()).expect("admin URL");
    let host = admin.host_str().expect("host").to_owned();
    let port = admin.port().unwrap_or(5432).to_string();
    let env = |port: &str| {
        [
            ("PGHOST", host.clone()),
            ("PGPORT", port.to_owned()),
            ("PGUSER", "postgres".to_owned()),
            ("PGDATABASE", db.name.clone()),
            // libpq's last resort for the user; not the one to take here.
            ("USER", "nobody_of_this_test".to_owned()),
        ]
    };
    let report = dir.path().join("report.json");
    let vars = env(&port);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = pgcutover_env(
        dir.path(),
        &["copy", s(&src), "postgresql://", "--report", s(&report)],
        &vars,
    );
    expect_code(&out, 0);
    let r = crate::harness::read_json(&report);
    assert_eq!(
        r["target"],
        format!("postgresql://postgres@{host}:{port}/{}", db.name),
        "{r:#}"
    );
    let client = db.client().await;
    assert_eq!(
        one(&client, "SELECT count(*)::text FROM t")
            .await
            .as_deref(),
        Some("10")
    );

    // PGPORT is really read: a port nothing listens on cannot connect (exit 3).
    let vars = env("1");
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = pgcutover_env(dir.path(), &["status", "postgresql://"], &vars);
    expect_code(&out, 3);
    assert!(stderr(&out).contains(":1"), "{}", stderr(&out));
    db.drop().await;
}

/// README, TARGET: `?host=/path` connects over a Unix socket. While the copy waits at a test
/// point, its sessions are seen in pg_stat_activity with no client address (a Unix socket).
#[tokio::test]
async fn host_query_parameter_connects_over_a_unix_socket() {
    let socket_dir = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-Atc",
            "show unix_socket_directories",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .split(',')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "/var/run/postgresql".to_owned());
    let dir = tempfile::tempdir().expect("tempdir");
    let src = numbers_db(dir.path(), 10);
    let db = TestDb::new("doc_socket").await;
    // `postgresql:///DB?host=…&user=…`, as libpq's manual writes it (`postgresql://postgres@/DB`
    // is refused as an "empty host", which libpq accepts).
    let url = format!("postgresql:///{}?host={socket_dir}&user=postgres", db.name);
    let (mut child, stop) = spawn_stopping(dir.path(), &["copy", s(&src), &url], "created", 1);
    assert!(matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint));
    let client = db.client().await;
    let sessions = one(
        &client,
        "SELECT count(*)::text || ' ' || count(client_addr)::text FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
    )
    .await;
    std::fs::remove_file(&stop).expect("let it go on");
    let out = output_of(child);
    expect_code(&out, 0);
    let sessions = sessions.expect("a row");
    let (n, tcp) = sessions.split_once(' ').expect("two numbers");
    assert!(
        n.parse::<u32>().expect("count") >= 1,
        "the copy is connected: {sessions}"
    );
    assert_eq!(
        tcp, "0",
        "every session of the copy is on the socket: {sessions}"
    );
    assert_eq!(
        one(&client, "SELECT count(*)::text FROM t")
            .await
            .as_deref(),
        Some("10")
    );
    db.drop().await;
}

/// README, exit 1: "an unexpected error that every chunk would meet (the rejects file cannot
/// be written …); the message says where". The rejects file's folder is there when the run
/// checks it, and gone when the first row is rejected.
#[tokio::test]
async fn an_unwritable_rejects_file_in_mid_run_fails_with_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("bad.sqlite");
    sqlite_from_sql(
        &src,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO t VALUES (1, 'fine'), (2, 'x' || char(0) || 'y');",
    );
    let db = TestDb::new("doc_exit_1").await;
    let folder = dir.path().join("rejects-here");
    std::fs::create_dir(&folder).expect("mkdir");
    let file = folder.join("rejects.jsonl");
    let args = ["copy", s(&src), &db.url, "--rejects", s(&file)];
    let (mut child, stop) = spawn_stopping(dir.path(), &args, "created", 1);
    assert!(matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint));
    std::fs::remove_dir(&folder).expect("the folder goes away");
    std::fs::remove_file(&stop).expect("let it go on");
    let out = output_of(child);
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains(s(&file)), "the message says where: {err}");
    // The chunk was rolled back: the row that could not be listed is not half-recorded.
    let client = db.client().await;
    assert_eq!(
        one(&client, "SELECT count(*)::text || ' ' || (SELECT count(done_at) FROM pgcutover.chunks)::text FROM t").await.as_deref(),
        Some("0 0")
    );
    db.drop().await;
}

/// Sends `signal` to the child (`kill -SIG pid`).
fn send(child: &std::process::Child, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success(), "kill -{signal}");
}

/// docs/resume.md, "Interrupting on purpose": SIGTERM stops like Ctrl-C (exit 8, the report
/// says `interrupted: stopped by SIGTERM`, what is committed stays) and the same command
/// resumes.
#[tokio::test]
async fn sigterm_stops_gracefully_with_exit_8_and_the_run_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = numbers_db(dir.path(), 2000);
    let db = TestDb::new("doc_sigterm").await;
    let args = one_worker_copy(&src, &db.url);
    let (mut child, stop) = spawn_stopping(dir.path(), &args, "chunk-committed", 2);
    assert!(matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint));
    send(&child, "TERM");
    std::thread::sleep(Duration::from_millis(200));
    std::fs::remove_file(&stop).expect("let it go on");
    let out = output_of(child);
    expect_code(&out, 8);
    assert!(
        stderr(&out).contains("SIGTERM: stopping"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("interrupted: stopped by SIGTERM"),
        "{}",
        stdout(&out)
    );
    let client = db.client().await;
    let done = one(&client, "SELECT count(done_at)::text FROM pgcutover.chunks").await;
    let done: u32 = done.expect("count").parse().expect("number");
    assert!((2..8).contains(&done), "the committed chunks stay: {done}");
    let again = pgcutover(dir.path(), &args);
    expect_code(&again, 0);
    assert!(
        stdout(&again).contains(&format!("skipped {done} chunk(s)")),
        "{}",
        stdout(&again)
    );
    assert_eq!(
        one(
            &client,
            "SELECT count(*)::text || ' ' || count(DISTINCT id)::text FROM t"
        )
        .await
        .as_deref(),
        Some("2000 2000")
    );
    db.drop().await;
}

/// src/cancel.rs and docs/resume.md: "A second Ctrl-C exits at once, and even then the run
/// resumes". The run is held at a test point (where a graceful stop would wait up to a
/// minute); the second SIGINT ends it at once with exit 8.
#[tokio::test]
async fn a_second_ctrl_c_stops_at_once_and_the_run_still_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = numbers_db(dir.path(), 2000);
    let db = TestDb::new("doc_second_sigint").await;
    let args = one_worker_copy(&src, &db.url);
    let (mut child, stop) = spawn_stopping(dir.path(), &args, "chunk-batch", 3);
    assert!(matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint));
    send(&child, "INT");
    std::thread::sleep(Duration::from_millis(300));
    let sent_second = Instant::now();
    send(&child, "INT");
    let out = output_of(child);
    let took = sent_second.elapsed();
    assert!(stop.exists(), "it ended while still held at the test point");
    let _ = std::fs::remove_file(&stop);
    expect_code(&out, 8);
    let err = stderr(&out);
    assert!(err.contains("SIGINT: stopping"), "{err}");
    assert!(err.contains("SIGINT again: stopping now"), "{err}");
    assert!(took < Duration::from_secs(5), "at once: took {took:?}");

    let again = pgcutover(dir.path(), &args);
    expect_code(&again, 0);
    assert!(
        stderr(&again).contains("resuming the run"),
        "{}",
        stderr(&again)
    );
    let client = db.client().await;
    assert_eq!(
        one(
            &client,
            "SELECT count(*)::text || ' ' || count(DISTINCT id)::text FROM t"
        )
        .await
        .as_deref(),
        Some("2000 2000")
    );
    db.drop().await;
}

/// docs/type-mapping.md: `bigint unsigned AUTO_INCREMENT` becomes a `bigint` identity, and "a
/// value above 2^63-1 is rejected" (with its key); the rest arrives, and the identity hands
/// out the value after the largest loaded.
#[tokio::test]
async fn a_bigint_unsigned_auto_increment_above_2_63_is_rejected_with_its_key() {
    let name = "pgctit_doc_unsigned_ai";
    let my = MyDb::from_sql(
        name,
        "CREATE TABLE big (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10));
         INSERT INTO big VALUES (1, 'one'), (9223372036854775806, 'near'),
                                (9223372036854775808, 'over'), (18446744073709551615, 'top');",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDb::new("doc_unsigned_ai").await;
    let out = pgcutover(dir.path(), &["copy", &my.url, &db.url]);
    expect_code(&out, 5);
    let client = db.client().await;
    assert_eq!(
        crate::harness::column_type(&client, "big", "id")
            .await
            .as_deref(),
        Some("bigint")
    );
    assert_eq!(
        one(
            &client,
            "SELECT attidentity::text FROM pg_attribute WHERE attrelid = 'big'::regclass AND attname = 'id'"
        )
        .await
        .as_deref(),
        Some("d"),
        "an identity column (GENERATED BY DEFAULT)"
    );
    assert_eq!(
        one(
            &client,
            "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM big"
        )
        .await
        .as_deref(),
        Some("1=one,9223372036854775806=near")
    );
    let mut rejected: Vec<(String, String, String)> = crate::harness::read_rejects(dir.path())
        .iter()
        .map(|r| {
            let f = |k: &str| r[k].as_str().expect("string").to_owned();
            (f("table"), f("key"), f("column"))
        })
        .collect();
    rejected.sort();
    assert_eq!(
        rejected,
        [
            (
                "big".to_owned(),
                "id=18446744073709551615".to_owned(),
                "id".to_owned()
            ),
            (
                "big".to_owned(),
                "id=9223372036854775808".to_owned(),
                "id".to_owned()
            ),
        ]
    );
    assert_eq!(
        one(
            &client,
            "SELECT nextval(pg_get_serial_sequence('big', 'id'))::text"
        )
        .await
        .as_deref(),
        Some("9223372036854775807")
    );
    db.drop().await;
    my.drop().await;
}

/// The boundary of the same rule: 2^63-1 itself is not above 2^63-1, so it arrives, and the
/// copy succeeds.
#[tokio::test]
async fn a_bigint_unsigned_auto_increment_of_exactly_2_63_minus_1_arrives_and_the_copy_succeeds() {
    let name = "pgctit_doc_unsigned_ai_max";
    let my = MyDb::from_sql(
        name,
        "CREATE TABLE big (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10));
         INSERT INTO big VALUES (1, 'one'), (9223372036854775807, 'max');",
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDb::new("doc_unsigned_ai_max").await;
    let out = pgcutover(dir.path(), &["copy", &my.url, &db.url]);
    expect_code(&out, 0);
    let client = db.client().await;
    assert_eq!(
        one(
            &client,
            "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM big"
        )
        .await
        .as_deref(),
        Some("1=one,9223372036854775807=max")
    );
    db.drop().await;
    my.drop().await;
}

/// README, `--jobs N`: "chunks copied, and indexes built, in parallel". A session of the
/// test's holds a lock on `a_locked`, so the first post-load step (its primary key) waits;
/// with `--jobs 2` the other worker goes on and builds `b_free`'s key and indexes meanwhile.
/// (With one worker nothing could: `a_locked`'s key comes first in the queue.)
#[tokio::test]
async fn jobs_build_indexes_in_parallel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("two.sqlite");
    sqlite_from_sql(
        &src,
        "CREATE TABLE a_locked (id INTEGER PRIMARY KEY, v TEXT);
         CREATE TABLE b_free (id INTEGER PRIMARY KEY, x INT, y INT);
         CREATE INDEX b_x ON b_free (x);
         CREATE INDEX b_y ON b_free (y);
         INSERT INTO a_locked VALUES (1, 'a');
         INSERT INTO b_free VALUES (1, 2, 3);",
    );
    let db = TestDb::new("doc_parallel_index").await;
    let args = ["copy", s(&src), &db.url, "--jobs", "2"];
    let (mut child, stop) = spawn_stopping(dir.path(), &args, "created", 1);
    assert!(matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint));
    let holder = db.client().await;
    // ACCESS SHARE lets the COPY in (ROW EXCLUSIVE) and keeps ADD PRIMARY KEY out.
    holder
        .batch_execute("BEGIN; LOCK TABLE a_locked IN ACCESS SHARE MODE")
        .await
        .expect("lock");
    std::fs::remove_file(&stop).expect("let it go on");

    let client = db.client().await;
    let probe = "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                   AND wait_event_type = 'Lock' AND query LIKE '%a_locked_pkey%')::text || ' ' || \
                 (SELECT count(*) FROM pgcutover.steps \
                   WHERE step LIKE 'primary key|b_free|%' OR step LIKE 'index|b_free|%')::text";
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = None;
    while Instant::now() < deadline {
        seen = one(&client, probe).await;
        if seen.as_deref() == Some("1 3") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen.as_deref(),
        Some("1 3"),
        "a_locked's key waits on the lock while b_free's key and two indexes are built"
    );
    assert!(
        child.try_wait().expect("poll").is_none(),
        "the copy is still waiting on a_locked"
    );
    holder.batch_execute("COMMIT").await.expect("unlock");
    let out = output_within(child, 60);
    expect_code(&out, 0);
    assert_eq!(
        one(
            &client,
            "SELECT count(*)::text FROM pg_indexes WHERE schemaname = 'public'"
        )
        .await
        .as_deref(),
        Some("4")
    );
    db.drop().await;
}

/// README, TARGET: `sslmode=verify-ca` checks the server's certificate against `sslrootcert`
/// and, unlike `verify-full`, not the host name in it. The server takes only TLS connections
/// and its certificate names another host: verify-ca with its CA copies; verify-ca with
/// another CA, and verify-full with the right one, cannot connect (exit 3).
#[tokio::test]
async fn sslmode_verify_ca_checks_the_ca_but_not_the_host_name() {
    let cluster = TlsCluster::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let src = numbers_db(dir.path(), 10);
    let ca = s(&cluster.ca).to_owned();

    let other_ca = dir.path().join("other-ca.pem");
    {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, "another CA");
        let other = CertifiedIssuer::self_signed(p, KeyPair::generate().expect("key")).expect("CA");
        std::fs::write(&other_ca, other.pem()).expect("write");
    }
    let wrong = pgcutover(
        dir.path(),
        &[
            "copy",
            s(&src),
            &cluster.url(&format!("sslmode=verify-ca&sslrootcert={}", s(&other_ca))),
        ],
    );
    expect_code(&wrong, 3);
    assert!(stderr(&wrong).contains("certificate"), "{}", stderr(&wrong));
    let full = pgcutover(
        dir.path(),
        &[
            "copy",
            s(&src),
            &cluster.url(&format!("sslmode=verify-full&sslrootcert={ca}")),
        ],
    );
    expect_code(&full, 3);
    assert!(
        stderr(&full).contains("IP address mismatch"),
        "verify-full checks the host: {}",
        stderr(&full)
    );

    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            s(&src),
            &cluster.url(&format!("sslmode=verify-ca&sslrootcert={ca}")),
        ],
    );
    expect_code(&out, 0);
    // Without TLS the server lets nobody in (hostssl only), and with it the rows are there.
    let plain = pgcutover(dir.path(), &["status", &cluster.url("sslmode=disable")]);
    expect_code(&plain, 3);
    let status = pgcutover(
        dir.path(),
        &[
            "status",
            &cluster.url(&format!("sslmode=verify-ca&sslrootcert={ca}")),
            "--format",
            "json",
        ],
    );
    expect_code(&status, 0);
    let j = json_line(&status);
    assert_eq!(j["data"][0]["status"], "complete", "{j:#}");
    assert_eq!(j["data"][0]["tables"][0]["rows_written"], 10, "{j:#}");
}
