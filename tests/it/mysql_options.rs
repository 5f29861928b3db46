//! The MySQL value options end to end, on the real MariaDB: --datetime-as timestamptz with
//! --source-timezone, --enum-as text, --zero-dates error, --nul-bytes strip, charsets beyond
//! latin1 and utf8, and --consistent without the RELOAD privilege.

use mysql_async::prelude::Queryable;

use crate::harness::{
    column_type, expect_code, mysql, one, pgcutover, query_strings, rejected_rows, stderr, MyDb,
    TestDb,
};

#[tokio::test]
async fn datetime_as_timestamptz_reads_wall_clock_in_the_source_zone() {
    let name = "pgctit_opt_tz";
    let my = MyDb::from_sql(
        name,
        "CREATE TABLE ev (id INT PRIMARY KEY, at DATETIME(6), stamp TIMESTAMP(6) NULL);
         INSERT INTO ev VALUES
           (1, '2024-07-01 12:00:00.000001', '2024-07-01 12:00:00.000001'), -- CEST, +02:00
           (2, '2024-01-15 08:30:00', NULL),                                 -- CET, +01:00
           (3, '2024-03-31 02:30:00', NULL),                                 -- in the spring gap
           (4, '2024-10-27 02:30:00', NULL),                                 -- twice in the autumn
           (5, NULL, NULL);",
    )
    .await;
    let db = TestDb::new("my_opt_tz").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            &my.url,
            &db.url,
            "--datetime-as",
            "timestamptz",
            "--source-timezone",
            "Europe/Paris",
        ],
    );
    // The gap and the overlap cannot be placed on the time line exactly: rejected, exit 5.
    expect_code(&out, 5);
    let got = rejected_rows(dir.path());
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!((got[0].1.as_str(), got[0].2.as_str()), ("id=3", "at"));
    assert_eq!((got[1].1.as_str(), got[1].2.as_str()), ("id=4", "at"));
    assert!(got[0].3.contains("Europe/Paris"), "{got:?}");

    let client = db.client().await;
    assert_eq!(
        column_type(&client, "ev", "at").await.as_deref(),
        Some("timestamp with time zone")
    );
    let rows = query_strings(
        &client,
        "SELECT id::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), \
                to_char(stamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') \
         FROM ev ORDER BY id",
    )
    .await;
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        rows,
        vec![
            // DATETIME is wall-clock Paris time; TIMESTAMP is an instant (read in UTC) either way.
            vec![
                s("1"),
                s("2024-07-01 10:00:00.000001"),
                s("2024-07-01 12:00:00.000001")
            ],
            vec![s("2"), s("2024-01-15 07:30:00.000000"), None],
            vec![s("5"), None, None],
        ]
    );
    db.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn enum_as_text_keeps_labels_and_checks_them() {
    let name = "pgctit_opt_enum";
    // sql_mode='' lets MySQL store the '' error value for an unknown label.
    let my = MyDb::from_sql(
        name,
        "SET SESSION sql_mode = '';
         CREATE TABLE orders (id INT PRIMARY KEY,
                              status ENUM('new','it''s paid','a,b') NOT NULL DEFAULT 'new');
         INSERT INTO orders VALUES (1, 'new'), (2, 'it''s paid'), (3, 'a,b'), (4, 'bogus');",
    )
    .await;
    let db = TestDb::new("my_opt_enum").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pgcutover(dir.path(), &["copy", &my.url, &db.url, "--enum-as", "text"]);
    expect_code(&out, 0);
    let client = db.client().await;
    // No enum type: a text column whose CHECK lists the labels, '' included.
    assert_eq!(
        one(
            &client,
            "SELECT count(*)::text FROM pg_type WHERE typtype = 'e'"
        )
        .await
        .as_deref(),
        Some("0")
    );
    assert_eq!(
        column_type(&client, "orders", "status").await.as_deref(),
        Some("text")
    );
    assert_eq!(
        one(
            &client,
            "SELECT string_agg(quote_literal(status), ' ' ORDER BY id) FROM orders"
        )
        .await
        .as_deref(),
        Some("'new' 'it''s paid' 'a,b' ''")
    );
    assert_eq!(
        one(&client, "SELECT column_default FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'status'")
            .await
            .as_deref(),
        Some("'new'::text")
    );
    let bad = client
        .execute("INSERT INTO orders VALUES (5, 'shipped')", &[])
        .await;
    assert!(
        bad.is_err(),
        "the CHECK must refuse a label MySQL would refuse"
    );
    client
        .execute("INSERT INTO orders VALUES (6, 'it''s paid')", &[])
        .await
        .expect("a real label is accepted");
    db.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn zero_dates_error_rejects_the_rows_and_nul_bytes_strip_cleans_text() {
    let name = "pgctit_opt_zero";
    let my = MyDb::from_sql(
        name,
        "SET SESSION sql_mode = '';
         CREATE TABLE t (id INT PRIMARY KEY, d DATE NULL, dt DATETIME NULL, note VARCHAR(20));
         INSERT INTO t VALUES
           (1, '2024-02-29', '2024-02-29 23:59:59', CONCAT('a', CHAR(0), 'b')),
           (2, '0000-00-00', '2024-01-01 00:00:00', 'x'),
           (3, '2024-01-01', '2020-00-15 00:00:00', 'y'),
           (4, NULL, NULL, CHAR(0));",
    )
    .await;
    let db = TestDb::new("my_opt_zero").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            &my.url,
            &db.url,
            "--zero-dates",
            "error",
            "--nul-bytes",
            "strip",
        ],
    );
    expect_code(&out, 5);
    let got = rejected_rows(dir.path());
    assert_eq!(
        got.iter()
            .map(|r| (r.1.as_str(), r.2.as_str()))
            .collect::<Vec<_>>(),
        vec![("id=2", "d"), ("id=3", "dt")],
        "{got:?}"
    );
    assert!(got[0].3.contains("0000-00-00"), "{got:?}");
    let err = stderr(&out);
    assert!(
        err.contains("value 0000-00-00:") && err.contains("--zero-dates at its default (null)"),
        "the message shows the value as MySQL does, and the hint the way out: {err}"
    );
    let client = db.client().await;
    let rows = query_strings(
        &client,
        "SELECT id::text, d::text, dt::text, note FROM t ORDER BY id",
    )
    .await;
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        rows,
        vec![
            vec![s("1"), s("2024-02-29"), s("2024-02-29 23:59:59"), s("ab")],
            vec![s("4"), None, None, s("")],
        ]
    );
    db.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn charsets_beyond_latin1_and_utf8_decode_exactly() {
    let name = "pgctit_opt_cs";
    // Each column holds the same words in a charset of its own; the server converts to utf8mb4.
    let my = MyDb::from_sql(
        name,
        "CREATE TABLE words (
           id INT PRIMARY KEY,
           ru VARCHAR(40) CHARACTER SET cp1251,
           ko VARCHAR(40) CHARACTER SET koi8r,
           el VARCHAR(40) CHARACTER SET greek,
           ja VARCHAR(40) CHARACTER SET sjis,
           zh VARCHAR(40) CHARACTER SET big5,
           he TEXT CHARACTER SET hebrew,
           l2 VARCHAR(40) CHARACTER SET latin2,
           ucs VARCHAR(40) CHARACTER SET utf16
         );
         INSERT INTO words VALUES (1, 'Съешь ещё', 'Съешь ещё', 'Καλημέρα', '日本語テキスト',
                                   '中文字', 'שלום', 'Zażółć gęślą', 'utf16 𝄞');",
    )
    .await;
    let db = TestDb::new("my_opt_cs").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pgcutover(dir.path(), &["copy", &my.url, &db.url]);
    expect_code(&out, 0);
    let client = db.client().await;
    let rows = query_strings(&client, "SELECT ru, ko, el, ja, zh, he, l2, ucs FROM words").await;
    let want: Vec<Option<String>> = [
        "Съешь ещё",
        "Съешь ещё",
        "Καλημέρα",
        "日本語テキスト",
        "中文字",
        "שלום",
        "Zażółć gęślą",
        "utf16 𝄞",
    ]
    .iter()
    .map(|s| Some((*s).to_owned()))
    .collect();
    assert_eq!(rows, vec![want]);
    db.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn consistent_without_reload_says_which_privilege_is_missing() {
    let name = "pgctit_opt_noreload";
    let my = MyDb::from_sql(
        name,
        "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);",
    )
    .await;
    let mut admin = mysql("mysql").await;
    admin
        .query_drop(
            "DROP USER IF EXISTS 'pgct_noreload'@'%';
             CREATE USER 'pgct_noreload'@'%' IDENTIFIED BY 'nr-pass-1';
             GRANT SELECT ON pgctit_opt_noreload.* TO 'pgct_noreload'@'%';",
        )
        .await
        .expect("user without RELOAD");
    let _ = admin.disconnect().await;
    let db = TestDb::new("my_opt_noreload").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = my.url.replacen("root@", "pgct_noreload@", 1);
    assert!(url.contains("pgct_noreload@"), "{url}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgcutover"))
        .args(["copy", &url, &db.url, "--consistent"])
        .env("MYSQL_PWD", "nr-pass-1")
        .current_dir(dir.path())
        .output()
        .expect("run");
    expect_code(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("1227"), "{err}");
    assert!(err.contains("needs the RELOAD privilege"), "{err}");
    assert!(!err.contains("nr-pass-1"), "the password leaked: {err}");
    // Nothing was written to the target.
    let client = db.client().await;
    assert_eq!(
        one(
            &client,
            "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'"
        )
        .await
        .as_deref(),
        Some("0")
    );
    db.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn consistent_readers_share_one_snapshot() {
    let name = "pgctit_opt_snap";
    let my = MyDb::from_sql(
        name,
        "CREATE TABLE parent (id INT PRIMARY KEY, v VARCHAR(10));
         CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, FOREIGN KEY (parent_id) REFERENCES parent (id));
         CREATE TABLE other (id INT PRIMARY KEY);
         INSERT INTO parent VALUES (1, 'before'), (2, 'before');
         INSERT INTO child VALUES (10, 1), (20, 2);
         INSERT INTO other VALUES (100);",
    )
    .await;
    let db = TestDb::new("my_opt_snap").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let pause = dir.path().join("paused");
    // Three sessions, one per table: each must see the moment the snapshot was taken, not
    // the writes made after it, whichever table it reads and whenever it reads it.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_pgcutover"))
        .args(["copy", &my.url, &db.url, "--consistent", "--jobs", "3"])
        .env("PGCUTOVER_TEST_PAUSE_AFTER_SNAPSHOT", &pause)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start copy");
    let mut waited = 0;
    while !pause.exists() {
        assert!(waited < 3000, "the copy never reached its snapshot");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        waited += 1;
    }
    let mut c = mysql(name).await;
    c.query_drop(
        "INSERT INTO parent VALUES (3, 'after');
         INSERT INTO child VALUES (30, 3);
         UPDATE parent SET v = 'after' WHERE id = 1;
         DELETE FROM child WHERE id = 20;
         DELETE FROM other;",
    )
    .await
    .expect("write after the snapshot");
    let _ = c.disconnect().await;
    std::fs::remove_file(&pause).expect("release the copy");
    let out = child.wait_with_output().expect("copy finished");
    expect_code(&out, 0);

    let client = db.client().await;
    assert_eq!(
        query_strings(
            &client,
            "SELECT 'parent', id::text, v FROM parent UNION ALL \
             SELECT 'child', id::text, parent_id::text FROM child UNION ALL \
             SELECT 'other', id::text, NULL FROM other ORDER BY 1, 2"
        )
        .await,
        [
            ["child", "10", "1"],
            ["child", "20", "2"],
            ["other", "100", ""],
            ["parent", "1", "before"],
            ["parent", "2", "before"],
        ]
        .iter()
        .map(|r| r
            .iter()
            .map(|v| (!v.is_empty()).then(|| (*v).to_owned()))
            .collect::<Vec<_>>())
        .collect::<Vec<_>>()
    );
    db.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn generated_columns_are_computed_by_postgresql_when_their_expression_translates() {
    let name = "pgctit_opt_gen";
    let my = MyDb::from_sql(
        name,
        "CREATE TABLE g (
           id INT PRIMARY KEY,
           price DECIMAL(10,2), qty INT, d DOUBLE, f VARCHAR(10), l VARCHAR(10), j JSON,
           total DECIMAL(12,2) AS (price * qty) STORED,
           full_name VARCHAR(30) AS (CONCAT(f, ' ', l)) VIRTUAL,
           dd DOUBLE AS (d * 2 + qty) VIRTUAL,
           neg INT AS (-qty + 1) PERSISTENT,
           ratio DECIMAL(10,4) AS (price / qty) STORED,
           jn VARCHAR(20) AS (JSON_UNQUOTE(JSON_EXTRACT(j, '$.name'))) VIRTUAL
         );
         INSERT INTO g (id, price, qty, d, f, l, j) VALUES
           (1, 19.99, 3, 0.1, 'Ada', 'Lovelace', '{\"name\": \"x\"}'),
           (2, -0.01, 7, -1e300, 'only', NULL, NULL),
           (3, NULL, NULL, NULL, NULL, NULL, '{}'),
           (4, 9999999.99, 1000, 1e300, '', '', '{\"name\": 1.0}');",
    )
    .await;
    let db = TestDb::new("my_opt_gen").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.json");
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            &my.url,
            &db.url,
            "--report",
            report.to_str().expect("utf-8"),
        ],
    );
    expect_code(&out, 0);
    let client = db.client().await;
    // Translated: generated in PostgreSQL. Not translated: plain columns with MySQL's values.
    assert_eq!(
        query_strings(
            &client,
            "SELECT attname::text, attgenerated::text FROM pg_attribute \
             WHERE attrelid = 'g'::regclass AND attnum > 7 ORDER BY attnum"
        )
        .await,
        [
            ["total", "s"],
            ["full_name", "s"],
            ["dd", "s"],
            ["neg", "s"],
            ["ratio", ""],
            ["jn", ""]
        ]
        .iter()
        .map(|r| r.iter().map(|v| Some((*v).to_owned())).collect::<Vec<_>>())
        .collect::<Vec<_>>()
    );
    // Every value PostgreSQL computed is the one MySQL computed.
    let compared =
        crate::mysql_compare::assert_same_mysql_data(name, &client, &Default::default()).await;
    assert_eq!(compared, 4, "rows compared");
    let warnings = crate::harness::read_json(&report)["warnings"].to_string();
    assert!(
        warnings.contains("VIRTUAL generated column becomes STORED"),
        "{warnings}"
    );
    assert!(
        warnings.contains("generated column (`price` / `qty`) copied as a plain column"),
        "{warnings}"
    );
    // New rows get their values from PostgreSQL.
    client
        .execute(
            "INSERT INTO g (id, price, qty, d, f, l) VALUES (5, 2.50, 4, 1.5, 'a', 'b')",
            &[],
        )
        .await
        .expect("insert");
    assert_eq!(
        query_strings(
            &client,
            "SELECT total::text, full_name, dd::text, neg::text FROM g WHERE id = 5"
        )
        .await,
        vec![vec![
            Some("10.00".to_owned()),
            Some("a b".to_owned()),
            Some("7".to_owned()),
            Some("-3".to_owned())
        ]]
    );
    db.drop().await;
    my.drop().await;
}
