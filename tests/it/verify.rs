//! `pgcutover verify` and `copy --verify`: a tampered target is reported by exactly the keys
//! that were tampered with, and nothing else; rejected rows are expected differences.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value as J;

use crate::harness::{
    expect_code, pgcutover, read_json, report_table as table, source_url, sqlite_from_sql, stdout,
    TestDb,
};
use crate::mysql_datasets::load_dataset_with_prefix;

/// Runs `verify --format json` and returns its exit code and report.
fn verify(dir: &Path, source: &str, target: &str, extra: &[&str]) -> (i32, J) {
    let mut args = vec!["verify", source, target, "--format", "json"];
    args.extend_from_slice(extra);
    let out = pgcutover(dir, &args);
    let text = stdout(&out);
    let v: J = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "verify printed no JSON ({e}):\n{text}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(v["type"], "verify");
    (out.status.code().expect("exit code"), v["data"].clone())
}

/// Every difference reported, as (table, kind, key, changed columns).
fn differences(report: &J) -> BTreeSet<(String, String, String, String)> {
    let mut out = BTreeSet::new();
    for t in report["tables"].as_array().expect("tables") {
        for d in t["differences"].as_array().expect("differences") {
            let cols: Vec<&str> = d["columns"]
                .as_array()
                .expect("columns")
                .iter()
                .map(|c| c["column"].as_str().expect("column"))
                .collect();
            out.insert((
                t["table"].as_str().expect("table").to_owned(),
                d["kind"].as_str().expect("kind").to_owned(),
                d["key"].as_str().expect("key").to_owned(),
                cols.join(","),
            ));
        }
    }
    out
}

fn set(items: &[(&str, &str, &str, &str)]) -> BTreeSet<(String, String, String, String)> {
    items
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect()
}

#[tokio::test]
async fn a_tampered_mysql_copy_is_reported_by_exactly_the_tampered_keys() {
    if !load_dataset_with_prefix("sakila", "pgctit_vfy_")
        || !load_dataset_with_prefix("world_x", "pgctit_vfy_")
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sakila = TestDb::new("vfy_sakila").await;
    let world = TestDb::new("vfy_world_x").await;
    for (src, db) in [
        ("pgctit_vfy_sakila", &sakila),
        ("pgctit_vfy_world_x", &world),
    ] {
        let out = pgcutover(
            dir.path(),
            &["copy", &source_url(src), &db.url, "--verify", "checksums"],
        );
        expect_code(&out, 0);
        assert!(
            stdout(&out).contains("table(s) identical, 0 differing row(s)"),
            "{}",
            stdout(&out)
        );
    }

    // Tamper, with triggers off (sakila's last_update triggers would touch a second column).
    sakila
        .client()
        .await
        .batch_execute(
            "SET session_replication_role = replica;
             UPDATE film SET title = 'TAMPERED' WHERE film_id = 10;                 -- a value
             DELETE FROM payment WHERE payment_id = 42;                              -- a row gone
             INSERT INTO actor VALUES (9001, 'NEW', 'ROW', '2020-01-01 00:00:00');   -- a row added
             UPDATE customer SET active = NOT active WHERE customer_id = 7;          -- a boolean
             UPDATE rental SET return_date = return_date + interval '1 microsecond'
              WHERE rental_id = 77;                                                  -- 1 µs
             UPDATE payment SET amount = amount + 0.01 WHERE payment_id = 100;       -- last digit",
        )
        .await
        .expect("tamper sakila");
    world
        .client()
        .await
        .batch_execute(
            r#"UPDATE city SET "Info" = jsonb_build_object('Populatio', "Info"->'Population')
                WHERE "ID" = 1;  -- a jsonb key"#,
        )
        .await
        .expect("tamper world_x");

    let (code, report) = verify(
        dir.path(),
        &source_url("pgctit_vfy_sakila"),
        &sakila.url,
        &[],
    );
    assert_eq!(code, 7, "{report:#}");
    assert_eq!(report["outcome"], "differs");
    assert_eq!(
        differences(&report),
        set(&[
            ("film", "changed", "film_id=10", "title"),
            ("payment", "missing", "payment_id=42", ""),
            ("actor", "extra", "actor_id=9001", ""),
            ("customer", "changed", "customer_id=7", "active"),
            ("rental", "changed", "rental_id=77", "return_date"),
            ("payment", "changed", "payment_id=100", "amount"),
        ])
    );
    let changed = &table(&report, "rental")["differences"][0]["columns"][0];
    assert_eq!(
        changed["target"].as_str().map(|s| s.ends_with(".000001")),
        Some(true),
        "{changed}"
    );
    // Every other table is identical, and the counts are right.
    assert_eq!(report["totals"]["differing"], 5);
    assert_eq!(report["totals"]["identical"], 11);
    assert_eq!(table(&report, "payment")["source_rows"], 16044);
    assert_eq!(table(&report, "payment")["target_rows"], 16043);

    let (code, report) = verify(
        dir.path(),
        &source_url("pgctit_vfy_world_x"),
        &world.url,
        &[],
    );
    assert_eq!(code, 7);
    assert_eq!(
        differences(&report),
        set(&[("city", "changed", "ID=1", "Info")])
    );

    // Counts only: the deleted and the inserted rows, nothing about the updates.
    let (code, report) = verify(
        dir.path(),
        &source_url("pgctit_vfy_sakila"),
        &sakila.url,
        &["--mode", "counts"],
    );
    assert_eq!(code, 7);
    let differing: BTreeSet<&str> = report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .filter(|t| t["status"] == "differs")
        .map(|t| t["table"].as_str().expect("name"))
        .collect();
    assert_eq!(differing, BTreeSet::from(["actor", "payment"]));

    sakila.drop().await;
    world.drop().await;
}

#[tokio::test]
async fn keyless_tables_are_multisets_and_rejected_rows_are_expected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("multi.db");
    sqlite_from_sql(
        &file,
        "CREATE TABLE log (at TEXT, what TEXT);                     -- no key at all
         INSERT INTO log VALUES ('2024-01-01', 'a'), ('2024-01-01', 'a'), ('2024-01-01', 'a'),
                                ('2024-01-02', 'b'), ('2024-01-03', 'c');
         CREATE TABLE code (code TEXT PRIMARY KEY, label TEXT NOT NULL, n INTEGER);
         INSERT INTO code VALUES ('AB', 'x', 1), ('ab', 'y', 2), ('Ä', 'z', NULL);
         CREATE TABLE bad (id INTEGER PRIMARY KEY, t TEXT);
         INSERT INTO bad VALUES (1, 'fine'), (2, 'nul' || char(0) || 'byte'), (3, 'fine too');",
    );
    let source = format!("sqlite:{}", file.display());
    let db = TestDb::new("vfy_multiset").await;
    let report_path = dir.path().join("report.json");
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            &source,
            &db.url,
            "--verify",
            "checksums",
            "--report",
            report_path.to_str().expect("utf-8"),
        ],
    );
    // The NUL row is rejected: the copy says 5, and verify expects that row to be missing.
    expect_code(&out, 5);
    let report = read_json(&report_path);
    let v = &report["verification"];
    assert_eq!(v["outcome"], "identical_except_rejected", "{v:#}");
    assert_eq!(table(v, "bad")["rejected"], 1);
    assert_eq!(table(v, "bad")["status"], "rejected_only");
    assert_eq!(table(v, "log")["key"], serde_json::json!([]));
    assert_eq!(table(v, "code")["key"], serde_json::json!(["code"]));

    db.client()
        .await
        .batch_execute(
            "DELETE FROM log WHERE ctid = (SELECT min(ctid) FROM log WHERE what = 'a');  -- one of three
             UPDATE log SET what = 'C' WHERE what = 'c';
             UPDATE code SET n = 3 WHERE code = 'ab';
             INSERT INTO code VALUES ('AB ', 'trailing space', 1);",
        )
        .await
        .expect("tamper");
    let (code, report) = verify(dir.path(), &source, &db.url, &[]);
    assert_eq!(code, 7);
    assert_eq!(
        differences(&report),
        set(&[
            ("log", "missing", r#"at="2024-01-01", what="a""#, ""),
            ("log", "missing", r#"at="2024-01-03", what="c""#, ""),
            ("log", "extra", r#"at="2024-01-03", what="C""#, ""),
            ("code", "changed", r#"code="ab""#, "n"),
            ("code", "extra", r#"code="AB ""#, ""),
        ]),
        "{report:#}"
    );
    // The rejected row is still expected, not a difference.
    assert_eq!(table(&report, "bad")["status"], "rejected_only");

    // --max-diffs limits the listing, not the count; --report writes the same data to a file.
    let report_path = dir.path().join("verify.json");
    let (code, _) = verify(
        dir.path(),
        &source,
        &db.url,
        &[
            "--include",
            "log",
            "--max-diffs",
            "1",
            "--report",
            report_path.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, 7);
    let written = read_json(&report_path);
    let log = table(&written, "log");
    assert_eq!(
        log["differences"].as_array().map(Vec::len),
        Some(1),
        "{log:#}"
    );
    assert_eq!(
        (log["missing"].clone(), log["extra"].clone()),
        (2.into(), 1.into())
    );
    assert_eq!(log["rows_differing"], 3);
    assert_eq!(written["outcome"], "differs");

    // Counts take the rejects the copy wrote as expected.
    let (code, report) = verify(
        dir.path(),
        &source,
        &db.url,
        &["--mode", "counts", "--include", "bad"],
    );
    assert_eq!(code, 5, "{report:#}");
    assert_eq!(table(&report, "bad")["rejected"], 1);
    db.drop().await;
}

#[tokio::test]
async fn a_missing_table_or_column_is_a_mismatch_not_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("small.db");
    sqlite_from_sql(
        &file,
        "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a VALUES (1, 'x');
         CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO b VALUES (1, 'y'), (2, 'z');",
    );
    let source = format!("sqlite:{}", file.display());
    let db = TestDb::new("vfy_missing").await;
    let out = pgcutover(
        dir.path(),
        &["copy", &source, &db.url, "--verify", "counts"],
    );
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("verify (counts): 2 of 2 table(s) identical"),
        "{}",
        stdout(&out)
    );
    db.client()
        .await
        .batch_execute("ALTER TABLE a DROP COLUMN v; DROP TABLE b;")
        .await
        .expect("break the target");
    let out = pgcutover(dir.path(), &["verify", &source, &db.url]);
    expect_code(&out, 7);
    let text = stdout(&out);
    assert!(
        text.contains("the target table has no column \"v\""),
        "{text}"
    );
    assert!(
        text.contains("the target has no table \"public\".\"b\""),
        "{text}"
    );
    db.drop().await;
}

#[tokio::test]
async fn a_target_schema_made_by_hand_is_compared_through_casts_that_never_round() {
    // A migration tool made the table (integer where the copy says bigint, text where it says
    // varchar, another numeric scale) and the application's own loader filled it.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hand.db");
    sqlite_from_sql(
        &file,
        "CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(10) NOT NULL, price NUMERIC(8,2));
         INSERT INTO item VALUES (1, 'abcdefghij', 1.5), (2, 'two', 2.25);",
    );
    let source = format!("sqlite:{}", file.display());
    let db = TestDb::new("vfy_by_hand").await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE item (id integer PRIMARY KEY, name text NOT NULL, price numeric(12,4));
             INSERT INTO item VALUES (1, 'abcdefghij', 1.5), (2, 'two', 2.25);",
        )
        .await
        .expect("schema and rows by hand");
    let (code, report) = verify(dir.path(), &source, &db.url, &[]);
    assert_eq!(code, 0, "{report:#}");

    // A value only a rounding cast would hide (2.2501 is not 2.25 in numeric(8,2)), and a
    // name longer than varchar(10) that only a truncating cast would hide.
    client
        .batch_execute("UPDATE item SET price = 2.2501 WHERE id = 2; UPDATE item SET name = 'abcdefghijk' WHERE id = 1")
        .await
        .expect("tamper");
    let (code, report) = verify(dir.path(), &source, &db.url, &[]);
    assert_eq!(code, 7);
    assert_eq!(
        differences(&report),
        set(&[
            ("item", "changed", "id=1", "name"),
            ("item", "changed", "id=2", "price")
        ])
    );
    db.drop().await;
}
