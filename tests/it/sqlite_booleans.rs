//! SQLite booleans written as text (Rails before 6.0 wrote 't'/'f'; other tools 'true', 'yes',
//! 'on'): exactly the spellings PostgreSQL's own boolean input accepts arrive as booleans, and
//! anything else is rejected. PostgreSQL itself is the oracle: each spelling is also cast with
//! `::boolean` on the server.

use crate::harness::{expect_code, pgcutover, read_rejects, sqlite_from_sql, TestDb};

const SPELLINGS: &[&str] = &[
    "t", "f", "T", "F", "true", "FALSE", "True", "tru", "fa", "y", "n", "yes", "NO", "on", "off",
    "of", "ON", "1", "0", " t ", "\ttrue\n", " yes", "o", "truth", "yess", "2", "01", "-1", "",
    " ", "nope", "onn", "oui", "\u{a0}t", "t\u{0}",
];

#[tokio::test]
async fn text_booleans_arrive_as_postgresql_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("rails.sqlite");
    sqlite_from_sql(
        &src,
        "CREATE TABLE flags (id INTEGER PRIMARY KEY, active BOOLEAN)",
    );
    {
        let conn = rusqlite::Connection::open(&src).expect("open");
        for (i, s) in SPELLINGS.iter().enumerate() {
            conn.execute(
                "INSERT INTO flags VALUES (?1, CAST(?2 AS TEXT))",
                rusqlite::params![i as i64 + 1, s],
            )
            .expect("insert");
        }
    }
    // BOOLEAN has NUMERIC affinity: SQLite stores text that reads as a number ('01', '2') as
    // an integer. Those are judged as integers; the rest as the text they are.
    let stored: Vec<(String, Option<i64>)> = {
        let conn = rusqlite::Connection::open(&src).expect("open");
        let mut st = conn
            .prepare("SELECT typeof(active), CASE typeof(active) WHEN 'integer' THEN active END FROM flags ORDER BY id")
            .expect("prepare");
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .map(|r| r.expect("row"))
            .collect()
    };
    let db = TestDb::new("sqlite_booleans").await;
    let out = pgcutover(dir.path(), &["copy", src.to_str().expect("utf-8"), &db.url]);
    let client = db.client().await;
    // What PostgreSQL makes of each spelling.
    let mut want_rejected = Vec::new();
    let mut want = Vec::new();
    for (i, s) in SPELLINGS.iter().enumerate() {
        let id = i as i64 + 1;
        // A NUL cannot even reach PostgreSQL as text; it is rejected too.
        let pg = if let (_, Some(n)) = &stored[i] {
            match n {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            }
        } else if s.contains('\0') {
            None
        } else {
            client
                .query_one("SELECT $1::text::boolean", &[s])
                .await
                .ok()
                .map(|r| r.get::<_, bool>(0))
        };
        match pg {
            Some(b) => want.push((id, b)),
            None => want_rejected.push(format!("id={id}")),
        }
    }
    assert!(want.len() >= 20 && want_rejected.len() >= 10, "a real mix");
    expect_code(&out, 5);
    let got: Vec<(i64, bool)> = client
        .query("SELECT id, active FROM flags ORDER BY id", &[])
        .await
        .expect("read")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(got, want);
    let mut rejected: Vec<String> = read_rejects(dir.path())
        .iter()
        .map(|r| r["key"].as_str().expect("key").to_owned())
        .collect();
    rejected.sort();
    want_rejected.sort();
    assert_eq!(rejected, want_rejected);
    db.drop().await;
}
