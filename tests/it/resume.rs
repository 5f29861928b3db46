//! Resumable copies: kill -9 at many points and resume, graceful SIGINT, refusal on another
//! fingerprint, --restart, reset, and a retry across a PostgreSQL restart.
//!
//! A run is stopped at an exact point through the binary's test hook (`src/testpoint.rs`):
//! PGCUTOVER_TEST_STOP_AT=POINT:N makes it write a file and wait there, and the test kills it.

use std::path::{Path, PathBuf};

use serde_json::Value as J;

use crate::harness::{
    assert_identical, datasets_dir, expect_code, interrupt_at, kill_at, one, output_of, pgcutover,
    settled, spawn_stopping, sqlite_from_sql, stderr, stdout, wait_for_stop, PgCluster, Stop,
    TestDb,
};

/// A copy of Chinook (11 tables, foreign keys, a self-reference) plus a keyless table, so
/// that tables load both as key-range chunks and as units.
pub fn chinook_plus_keyless(dir: &Path) -> Option<PathBuf> {
    let src = datasets_dir()?.join("chinook/Chinook_Sqlite.sqlite");
    let path = dir.join("chinook.sqlite");
    std::fs::copy(&src, &path).expect("copy chinook");
    let conn = rusqlite::Connection::open(&path).expect("open copy");
    conn.execute_batch(
        "CREATE TABLE Note (TrackId INTEGER REFERENCES Track (TrackId), Body TEXT, Score REAL);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
         INSERT INTO Note SELECT 1 + i % 3000, 'note ' || i, i / 7.0 FROM n;
         INSERT INTO Note VALUES (1, 'a duplicate row', 1.0), (1, 'a duplicate row', 1.0);",
    )
    .expect("add the keyless table");
    Some(path)
}

/// A small, seeded generator (splitmix64), so a failing sequence of kills can be replayed
/// with PGCUTOVER_CRASH_SEED.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Every phase's points, with how many times a run passes each (at most).
const POINTS: &[(&str, u64)] = &[
    ("before-create", 1),
    ("created", 1),
    ("chunk-batch", 12),
    ("chunk-before-commit", 18),
    ("chunk-committed", 18),
    ("step-before-commit", 45),
    ("step-committed", 45),
    ("finishing", 1),
];

#[tokio::test]
async fn killed_at_two_dozen_points_and_resumed_each_time_the_copy_is_exact() {
    let Some(dir) = tempfile::tempdir().ok() else {
        panic!("tempdir")
    };
    let Some(src) = chinook_plus_keyless(dir.path()) else {
        return;
    };
    let src = src.to_str().expect("path").to_owned();
    let db = TestDb::new("resume_crash").await;
    let seed: u64 = std::env::var("PGCUTOVER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261121);
    eprintln!("crash test seed {seed} (set PGCUTOVER_CRASH_SEED to replay)");
    let mut rng = Rng(seed);
    let args = [
        "copy",
        src.as_str(),
        db.url.as_str(),
        "--chunk-rows",
        "400",
        "--batch-rows",
        "100",
    ];
    let mut kills = Vec::new();
    // The points a run was actually killed at: a point the run never reaches (renamed, moved
    // behind a condition, or a phase skipped) would otherwise go unnoticed.
    let mut killed_at = std::collections::BTreeSet::new();
    let mut campaign = 0;
    let mut spawns = 0;
    // Two dozen kills, and at least one at every point; the campaign cap stops a run that never
    // reaches some point (the assertion below then names it).
    while (kills.len() < 24 || killed_at.len() < POINTS.len()) && campaign < 40 {
        campaign += 1;
        // A campaign: kill the run again and again until it completes untouched; the points
        // go through every phase in turn, with a random pass count.
        let mut finished = false;
        for _ in 0..8 {
            let (point, max) = POINTS[spawns % POINTS.len()];
            spawns += 1;
            let nth = 1 + rng.below(max);
            let (mut child, stop) = spawn_stopping(dir.path(), &args, point, nth);
            match wait_for_stop(&mut child, &stop) {
                Stop::AtPoint => {
                    child.kill().expect("SIGKILL");
                    let _ = child.wait();
                    kills.push(format!("{point}:{nth}"));
                    killed_at.insert(point);
                }
                Stop::Exited(code) => {
                    let out = output_of(child);
                    assert_eq!(
                        code,
                        0,
                        "campaign {campaign} after kills {kills:?}: {}\n{}",
                        stdout(&out),
                        stderr(&out)
                    );
                    finished = true;
                    break;
                }
            }
        }
        if !finished {
            let out = pgcutover(dir.path(), &args);
            expect_code(&out, 0);
        }
        // Exact, every row once: verify compares every row (duplicates count), and the
        // primary keys exist (a duplicate key would have failed to create).
        assert_identical(dir.path(), &src, &db.url);
        let client = db.client().await;
        // And by a comparer that shares no code with the converter or verify: every value of
        // every row, read from both sides and normalised on its own.
        let compared = crate::compare::assert_same_data(
            Path::new(&src),
            &client,
            &db.url,
            &std::collections::BTreeMap::new(),
        )
        .await;
        assert!(
            compared > 1502,
            "every table's rows were compared: {compared}"
        );
        assert_eq!(
            one(&client, "SELECT count(*)::text FROM \"Note\"")
                .await
                .as_deref(),
            Some("1502")
        );
        assert_eq!(
            one(
                &client,
                "SELECT count(*)::text FROM pg_constraint WHERE contype IN ('p', 'f') AND connamespace = 'public'::regnamespace"
            )
            .await
            .as_deref(),
            Some("23"),
            "every key after kills {kills:?}"
        );
        // The next campaign starts from nothing.
        expect_code(&pgcutover(dir.path(), &["reset", &db.url, "--yes"]), 0);
    }
    eprintln!(
        "killed at {} points in {campaign} campaigns: {kills:?}",
        kills.len()
    );
    assert_eq!(
        killed_at,
        POINTS.iter().map(|(p, _)| *p).collect(),
        "every phase's point killed a run at least once: {kills:?}"
    );
    assert!(kills.len() >= 24, "{kills:?}");
    db.drop().await;
}

#[tokio::test]
async fn sigint_stops_gracefully_and_the_same_command_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(src) = chinook_plus_keyless(dir.path()) else {
        return;
    };
    let src = src.to_str().expect("path");
    let db = TestDb::new("resume_sigint").await;
    let args = ["copy", src, &db.url, "--chunk-rows", "400", "--jobs", "1"];
    let out = interrupt_at(dir.path(), &args, "chunk-committed", 3);
    expect_code(&out, 8);
    assert!(
        stderr(&out).contains("SIGINT: stopping"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("interrupted: stopped by SIGINT"),
        "{}",
        stdout(&out)
    );

    let client = db.client().await;
    let done: i64 = client
        .query_one(
            "SELECT count(*) FROM pgcutover.chunks WHERE done_at IS NOT NULL",
            &[],
        )
        .await
        .expect("state")
        .get(0);
    assert!(
        (3..20).contains(&done),
        "3 chunks committed before the stop, got {done}"
    );
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
    assert!(
        stdout(&again).contains(&format!("skipped {done} chunk(s)")),
        "{}",
        stdout(&again)
    );
    assert_identical(dir.path(), src, &db.url);
    db.drop().await;
}

#[tokio::test]
async fn another_fingerprint_refuses_and_restart_starts_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(src) = chinook_plus_keyless(dir.path()) else {
        return;
    };
    let src_s = src.to_str().expect("path");
    let db = TestDb::new("resume_fingerprint").await;
    let args = ["copy", src_s, &db.url, "--chunk-rows", "400"];
    kill_at(dir.path(), &args, "chunk-committed", 4);
    let client = db.client().await;
    settled(&client).await;
    let state = "SELECT count(*)::text || '/' || count(done_at)::text FROM pgcutover.chunks";
    let before = one(&client, state).await;

    // Other options.
    let other = pgcutover(
        dir.path(),
        &["copy", src_s, &db.url, "--nul-bytes", "strip"],
    );
    expect_code(&other, 4);
    assert!(
        stderr(&other)
            .contains("option --nul-bytes: the run used reject, this command gives strip"),
        "{}",
        stderr(&other)
    );
    // A changed source schema.
    rusqlite::Connection::open(&src)
        .expect("open")
        .execute_batch("ALTER TABLE Genre ADD COLUMN Origin TEXT")
        .expect("alter");
    let changed = pgcutover(dir.path(), &args);
    expect_code(&changed, 4);
    assert!(
        stderr(&changed).contains("the source schema"),
        "{}",
        stderr(&changed)
    );
    assert!(
        stderr(&changed).contains("--restart"),
        "{}",
        stderr(&changed)
    );
    // Another source.
    let elsewhere = dir.path().join("other.sqlite");
    std::fs::copy(&src, &elsewhere).expect("copy");
    let moved = pgcutover(
        dir.path(),
        &["copy", elsewhere.to_str().expect("path"), &db.url],
    );
    expect_code(&moved, 4);
    assert!(
        stderr(&moved).contains("another source"),
        "{}",
        stderr(&moved)
    );
    assert_eq!(one(&client, state).await, before, "refusals write nothing");

    let restarted = pgcutover(
        dir.path(),
        &["copy", src_s, &db.url, "--chunk-rows", "400", "--restart"],
    );
    expect_code(&restarted, 0);
    assert!(
        stderr(&restarted).contains("--restart"),
        "{}",
        stderr(&restarted)
    );
    assert_eq!(
        one(
            &client,
            "SELECT count(*)::text FROM information_schema.columns WHERE table_name = 'Genre'"
        )
        .await
        .as_deref(),
        Some("3")
    );
    assert_identical(dir.path(), src_s, &db.url);
    db.drop().await;
}

#[tokio::test]
async fn reset_removes_what_the_run_created_and_only_that() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(src) = chinook_plus_keyless(dir.path()) else {
        return;
    };
    let src = src.to_str().expect("path");
    let db = TestDb::new("resume_reset").await;
    let client = db.client().await;
    client
        .batch_execute("CREATE TABLE mine (id int); INSERT INTO mine VALUES (1)")
        .await
        .expect("a table of the user's");
    // An unfinished run into its own schema (which the run creates).
    let args = [
        "copy",
        src,
        &db.url,
        "--target-schema",
        "music",
        "--chunk-rows",
        "400",
    ];
    kill_at(dir.path(), &args, "step-committed", 5);
    assert_eq!(
        one(
            &client,
            "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'music'"
        )
        .await
        .as_deref(),
        Some("12")
    );

    let out = pgcutover(dir.path(), &["reset", &db.url, "--yes"]);
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains("dropped 12 table(s)"),
        "{}",
        stderr(&out)
    );
    for (sql, want) in [
        (
            "SELECT count(*)::text FROM pg_namespace WHERE nspname IN ('music', 'pgcutover')",
            "0",
        ),
        ("SELECT count(*)::text FROM mine", "1"),
    ] {
        assert_eq!(one(&client, sql).await.as_deref(), Some(want), "{sql}");
    }
    let status = pgcutover(dir.path(), &["status", &db.url]);
    assert!(
        stdout(&status).contains("no pgcutover run"),
        "{}",
        stdout(&status)
    );
    // And the same command now starts afresh.
    expect_code(&pgcutover(dir.path(), &args), 0);
    // --keep-data forgets the run and keeps the tables.
    expect_code(
        &pgcutover(dir.path(), &["reset", &db.url, "--keep-data", "--yes"]),
        0,
    );
    assert_eq!(
        one(&client, "SELECT count(*)::text FROM music.\"Note\"")
            .await
            .as_deref(),
        Some("1502")
    );
    assert_eq!(
        one(
            &client,
            "SELECT count(*)::text FROM pg_namespace WHERE nspname = 'pgcutover'"
        )
        .await
        .as_deref(),
        Some("0")
    );
    db.drop().await;
}

#[tokio::test]
async fn rejected_rows_are_listed_once_across_kills() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("bad.sqlite");
    // Every 50th row has a NUL byte, which PostgreSQL text cannot hold: rejected.
    sqlite_from_sql(
        &src,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
         INSERT INTO t SELECT i, CASE WHEN i % 50 = 0 THEN 'x' || char(0) || 'y' ELSE 'ok ' || i END FROM n;",
    );
    let src = src.to_str().expect("path");
    let db = TestDb::new("resume_rejects").await;
    let args = ["copy", src, &db.url, "--chunk-rows", "200", "--jobs", "1"];
    // Killed after a chunk's rejects were written but before it committed.
    kill_at(dir.path(), &args, "chunk-before-commit", 4);
    let out = pgcutover(dir.path(), &args);
    expect_code(&out, 5);
    let lines =
        std::fs::read_to_string(dir.path().join("pgcutover-rejects.jsonl")).expect("rejects");
    let keys: Vec<String> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<J>(l).expect("json")["key"]
                .as_str()
                .expect("key")
                .to_owned()
        })
        .collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(keys.len(), 40, "{keys:?}");
    assert_eq!(unique.len(), 40, "each rejected row once: {keys:?}");
    let client = db.client().await;
    assert_eq!(
        one(&client, "SELECT count(*)::text FROM t")
            .await
            .as_deref(),
        Some("1960")
    );
    db.drop().await;
}

#[tokio::test]
async fn a_postgres_restart_in_mid_copy_is_retried_and_the_copy_completes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(src) = chinook_plus_keyless(dir.path()) else {
        return;
    };
    let src = src.to_str().expect("path");
    // A cluster of its own, so the restart disturbs no other test.
    let cluster = PgCluster::init("pgcutover-restart-");
    cluster.start("");
    let url = cluster.url("");
    let args = ["copy", src, &url, "--chunk-rows", "400", "--jobs", "1"];
    let (mut child, stop) = spawn_stopping(dir.path(), &args, "chunk-committed", 3);
    assert!(matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint));
    // Every connection the copy holds dies with the server.
    cluster.ctl(&["restart", "-m", "fast"]);
    std::fs::remove_file(&stop).expect("let it go on");
    let out = output_of(child);
    expect_code(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("trying again"), "{err}");
    assert!(
        err.contains("reconnecting"),
        "the run's own session came back too: {err}"
    );
    assert_identical(dir.path(), src, &url);
}
