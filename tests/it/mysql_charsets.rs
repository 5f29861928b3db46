//! Every charset MariaDB offers, on the real server: each stored code the server can convert
//! to Unicode arrives as exactly that character; each it cannot (where a utf8mb4 connection
//! silently reads `?`) rejects its row with the bytes in hex.
//!
//! The oracle is the server's own conversion, read per row as hex (`CONVERT(v USING utf8mb4)`),
//! which shares nothing with pgcutover's decoding: one stored code per row, so a `?` the
//! stored bytes do not hold means the server could not convert them.

use std::collections::BTreeMap;

use mysql_async::prelude::Queryable;

use crate::harness::{copy_verified, mysql, read_rejects, MyDb, TestDb};

/// (charset, maxlen) of every charset the server offers, but `binary` (a column of it is
/// VARBINARY, bytes not text).
async fn charsets(c: &mut mysql_async::Conn) -> Vec<(String, u32)> {
    let rows: Vec<(String, u32)> = c
        .query(
            "SELECT CHARACTER_SET_NAME, MAXLEN FROM information_schema.CHARACTER_SETS ORDER BY 1",
        )
        .await
        .expect("charsets");
    rows.into_iter().filter(|(n, _)| n != "binary").collect()
}

/// Fills `t_<charset>` with one stored code per row: every one-byte code, every two-byte code
/// with a lead byte ≥ 0x80, EUC-JP's three-byte 0x8F plane; for the Unicode charsets, a spread
/// of code points across every plane in use (written through utf32). A code the server does
/// not accept as a character of the charset is stored as `?` (sql_mode is not strict).
async fn fill(c: &mut mysql_async::Conn, cs: &str, maxlen: u32) {
    let t = format!("`t_{cs}`");
    c.query_drop(format!(
        "CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(4) CHARACTER SET {cs}) ENGINE=InnoDB"
    ))
    .await
    .expect("create");
    let unicode = matches!(
        cs,
        "utf8mb3" | "utf8mb4" | "ucs2" | "utf16" | "utf16le" | "utf32"
    );
    let mut ranges: Vec<(u32, u32, u32, u32)> = Vec::new(); // (first, last, step, bytes)
    if unicode {
        ranges.push((1, 0x2_FFFF, 37, 0));
        ranges.push((0x1_F600, 0x1_F64F, 1, 0));
    } else {
        ranges.push((1, 0xFF, 1, 1));
        if maxlen >= 2 {
            ranges.push((0x8000, 0xFFFF, 1, 2));
        }
        if maxlen >= 3 {
            ranges.push((0x8F_0000, 0x8F_FFFF, 1, 3));
        }
    }
    for (first, last, step, bytes) in ranges {
        let value = if bytes == 0 {
            format!(
                "CONVERT(CAST(UNHEX(LPAD(HEX(seq), 8, '0')) AS CHAR CHARACTER SET utf32) USING {cs})"
            )
        } else {
            format!("UNHEX(LPAD(HEX(seq), {}, '0'))", bytes * 2)
        };
        c.query_drop(format!(
            "SET SESSION sql_mode = ''; INSERT IGNORE INTO {t} SELECT seq, {value} FROM seq_{first}_to_{last}_step_{step}"
        ))
        .await
        .unwrap_or_else(|e| panic!("fill {cs}: {e}"));
    }
    if cs == "utf8mb3" {
        // MariaDB stores an encoded surrogate in utf8mb3, and sends it on as it is: not
        // UTF-8, and not a character PostgreSQL can hold.
        c.query_drop(format!("INSERT INTO {t} VALUES (4000000, x'EDA080')"))
            .await
            .expect("surrogate");
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// What the server itself says each row holds: Some(text) when it converts exactly, None when
/// its utf8mb4 conversion loses something (a `?` the stored bytes do not hold, bytes that are
/// not UTF-8, or a NUL PostgreSQL text cannot hold).
async fn oracle(c: &mut mysql_async::Conn, cs: &str) -> BTreeMap<i64, Option<String>> {
    let rows: Vec<(i64, String, String)> = c
        .query(format!(
            "SELECT id, HEX(v), HEX(CONVERT(v USING utf8mb4)) FROM `t_{cs}`"
        ))
        .await
        .expect("oracle");
    rows.into_iter()
        .map(|(id, raw, converted)| {
            let raw_q = unhex(&raw).iter().filter(|&&b| b == b'?').count();
            let text = String::from_utf8(unhex(&converted))
                .ok()
                .filter(|t| t.matches('?').count() <= raw_q && !t.contains('\0'));
            (id, text)
        })
        .collect()
}

#[tokio::test]
async fn every_charset_arrives_exactly_or_is_rejected_with_its_bytes() {
    let name = "pgctit_charsets";
    let my = MyDb::new(name).await;
    let mut c = mysql(name).await;
    let all = charsets(&mut c).await;
    assert!(all.len() >= 39, "MariaDB offers about 40 charsets: {all:?}");
    let mut expected = BTreeMap::new();
    for (cs, maxlen) in &all {
        fill(&mut c, cs, *maxlen).await;
        expected.insert(cs.clone(), oracle(&mut c, cs).await);
    }
    let _ = c.disconnect().await;
    // The test means something only if some codes cannot be converted and most can.
    let lost: usize = expected
        .values()
        .map(|m| m.values().filter(|v| v.is_none()).count())
        .sum();
    let kept: usize = expected
        .values()
        .map(|m| m.values().filter(|v| v.is_some()).count())
        .sum();
    assert!(lost > 1000 && kept > 200_000, "lost {lost}, kept {kept}");
    for cs in ["gbk", "big5", "sjis", "euckr", "cp1250", "utf8mb3"] {
        assert!(
            expected[cs].values().any(Option::is_none),
            "{cs} has codes the server reads as '?'"
        );
    }

    let db = TestDb::new("my_charsets").await;
    let dir = tempfile::tempdir().expect("tempdir");
    copy_verified(dir.path(), &my.url, &db.url, 5);

    // Rejected: exactly the rows the server cannot convert, each with its bytes in hex.
    let mut rejected: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in read_rejects(dir.path()) {
        let table = r["table"].as_str().expect("table");
        let cs = table.strip_prefix("t_").expect("t_ table");
        let id: i64 = r["key"]
            .as_str()
            .and_then(|k| k.strip_prefix("id="))
            .and_then(|k| k.parse().ok())
            .expect("key id=N");
        let value = r["value"].as_str().expect("value");
        let reason = r["reason"].as_str().expect("reason");
        assert!(
            value.starts_with("x'"),
            "{cs} id {id}: bytes in hex: {value}"
        );
        assert!(
            reason.contains(&format!("charset {cs}")) || reason.contains("NUL byte"),
            "{cs} id {id}: {reason}"
        );
        assert_eq!(r["column"], "v");
        rejected.entry(cs.to_owned()).or_default().push(id);
    }
    let client = db.client().await;
    for (cs, rows) in &expected {
        let want_rejected: Vec<i64> = rows
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(id, _)| *id)
            .collect();
        let mut got_rejected = rejected.remove(cs).unwrap_or_default();
        got_rejected.sort();
        assert_eq!(got_rejected, want_rejected, "{cs}: rejected rows");
        let copied: BTreeMap<i64, Option<String>> = client
            .query(&format!("SELECT id, v FROM \"t_{cs}\""), &[])
            .await
            .expect("read target")
            .iter()
            .map(|r| (i64::from(r.get::<_, i32>(0)), r.get(1)))
            .collect();
        let want: BTreeMap<i64, Option<String>> = rows
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(id, v)| (*id, v.clone()))
            .collect();
        if copied != want {
            let diff: Vec<_> = want
                .iter()
                .filter(|(id, v)| copied.get(id) != Some(v))
                .take(5)
                .map(|(id, v)| (id, v, copied.get(id)))
                .collect();
            panic!("{cs}: values differ (id, server, copied): {diff:?}");
        }
    }
    assert!(
        rejected.is_empty(),
        "rejects for unknown tables: {rejected:?}"
    );
    db.drop().await;
    my.drop().await;
}

/// A column's default as PostgreSQL writes it.
async fn column_default(
    client: &tokio_postgres::Client,
    table: &str,
    column: &str,
) -> Option<String> {
    client
        .query_opt(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a \
             ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
             WHERE d.adrelid = quote_ident($1)::regclass AND a.attname = $2",
            &[&table, &column],
        )
        .await
        .expect("column default")
        .map(|r| r.get(0))
}

/// The labels of an ENUM as PostgreSQL has them, in order.
async fn enum_labels(client: &tokio_postgres::Client, table: &str, column: &str) -> Vec<String> {
    client
        .query(
            "SELECT e.enumlabel FROM pg_attribute a JOIN pg_enum e ON e.enumtypid = a.atttypid \
             WHERE a.attrelid = quote_ident($1)::regclass AND a.attname = $2 ORDER BY e.enumsortorder",
            &[&table, &column],
        )
        .await
        .expect("enum labels")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn enum_and_set_labels_reach_postgresql_exactly() {
    let name = "pgctit_labels";
    // Labels with every character MySQL's quoting escapes, in several charsets; a 4-byte
    // character (which the utf8mb3 catalog shows as '?'); a label too long for a PostgreSQL
    // enum; defaults and CHECKs with escapes.
    let sql = r#"
        CREATE TABLE labels (
          id INT PRIMARY KEY,
          e ENUM('back\\slash','it''s','a,b',' lead','é€','x"y','tab	z','n\nl','c\rr','pct%','😀 smile') CHARACTER SET utf8mb4,
          l ENUM('é','€','ÿ','Œ') CHARACTER SET latin1,
          g ENUM('中','文','x') CHARACTER SET gbk,
          s SET('p\\q','r''s',' t','ü') CHARACTER SET utf8mb4,
          lost ENUM('🎉 never used','plain') CHARACTER SET utf8mb4,
          wide ENUM('a','this label is far longer than the sixty-three bytes a PostgreSQL enum label may be') CHARACTER SET utf8mb4,
          d VARCHAR(20) CHARACTER SET utf8mb4 DEFAULT 'back\\slash ''q'' \n',
          smile ENUM('😀','b') CHARACTER SET utf8mb4 DEFAULT '😀',
          emoji_default VARCHAR(10) CHARACTER SET utf8mb4 DEFAULT '🎉',
          CONSTRAINT quoted CHECK (d <> 'it\'s \\ bad'),
          CONSTRAINT no_party CHECK (d <> 'x🎈')
        ) ENGINE=InnoDB;
        INSERT INTO labels (id, smile) VALUES (100, '😀');
        INSERT INTO labels (id, e, l, g, s, lost, wide) VALUES
          (1, 'back\\slash', 'é', '中', 'p\\q', 'plain', 'a'),
          (2, 'it''s', '€', '文', 'r''s, t', 'plain', 'this label is far longer than the sixty-three bytes a PostgreSQL enum label may be'),
          (3, 'a,b', 'ÿ', 'x', 'p\\q,ü', 'plain', 'a'),
          (4, ' lead', 'Œ', NULL, '', NULL, NULL),
          (5, 'é€', NULL, NULL, NULL, NULL, NULL),
          (6, 'x"y', NULL, NULL, NULL, NULL, NULL),
          (7, 'tab	z', NULL, NULL, NULL, NULL, NULL),
          (8, 'n\nl', NULL, NULL, NULL, NULL, NULL),
          (9, 'c\rr', NULL, NULL, NULL, NULL, NULL),
          (10, 'pct%', NULL, NULL, NULL, NULL, NULL),
          (11, '😀 smile', NULL, NULL, NULL, NULL, NULL);
    "#;
    let my = MyDb::from_sql(name, sql).await;
    let db = TestDb::new("my_labels").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let report = copy_verified(dir.path(), &my.url, &db.url, 0);
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("label 1 reads") && warnings.contains("no row holds it"),
        "the label the catalog shows with '?' that no row holds is named: {warnings}"
    );
    assert!(
        warnings.contains("cannot be a PostgreSQL enum label"),
        "{warnings}"
    );
    // Catalog text with a '?' that may stand for an emoji is not trusted: the ENUM's default
    // is the label read back from the rows; another default, and a CHECK, are left out, loudly.
    // (MariaDB itself refuses two labels that both read '?'; see the unit tests for MySQL's.)
    for said in [
        "default '?' not carried over",
        "(`d` <> 'x????') not carried over",
    ] {
        assert!(warnings.contains(said), "{said}: {warnings}");
    }

    let client = db.client().await;
    assert_eq!(
        enum_labels(&client, "labels", "e").await,
        [
            "back\\slash",
            "it's",
            "a,b",
            " lead",
            "é€",
            "x\"y",
            "tab\tz",
            "n\nl",
            "c\rr",
            "pct%",
            "😀 smile"
        ]
    );
    assert_eq!(
        enum_labels(&client, "labels", "l").await,
        ["é", "€", "ÿ", "Œ"]
    );
    assert_eq!(enum_labels(&client, "labels", "g").await, ["中", "文", "x"]);
    assert_eq!(enum_labels(&client, "labels", "smile").await, ["😀", "b"]);
    assert_eq!(
        column_default(&client, "labels", "smile").await.as_deref(),
        Some("'😀'::labels_smile")
    );
    // The unused label keeps the catalog's '?' (and the warning above says so).
    assert_eq!(
        enum_labels(&client, "labels", "lost").await,
        ["? never used", "plain"]
    );
    assert_eq!(
        crate::harness::column_type(&client, "labels", "wide")
            .await
            .as_deref(),
        Some("text")
    );
    let rows = crate::harness::query_strings(
        &client,
        "SELECT e::text, l::text, g::text, array_to_string(s, '|'), wide FROM labels ORDER BY id",
    )
    .await;
    let e: Vec<Option<String>> = rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(e[0].as_deref(), Some("back\\slash"));
    assert_eq!(e[7].as_deref(), Some("n\nl"));
    assert_eq!(e[10].as_deref(), Some("😀 smile"));
    assert_eq!(rows[1][3].as_deref(), Some("r's| t"));
    assert_eq!(rows[2][3].as_deref(), Some("p\\q|ü"));
    // The default and the CHECK's literal, read as MySQL reads them.
    assert_eq!(
        column_default(&client, "labels", "d").await.as_deref(),
        Some("'back\\slash ''q'' \n'::character varying")
    );
    let check = crate::harness::one(
        &client,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'quoted'",
    )
    .await
    .expect("the CHECK is carried over");
    assert!(check.contains(r"'it''s \ bad'"), "{check}");
    db.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn replace_puts_one_u_fffd_for_a_whole_unmapped_code() {
    let name = "pgctit_charset_replace";
    // gbk A2E3 is a well-formed code MariaDB maps to no Unicode character; then 你好.
    let my = MyDb::from_sql(
        name,
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10) CHARACTER SET gbk);
         INSERT INTO t VALUES (1, x'A2E3C4E3BAC3'), (2, x'C4E3A2E3');",
    )
    .await;
    let db = TestDb::new("my_charset_replace").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = crate::harness::pgcutover(
        dir.path(),
        &["copy", &my.url, &db.url, "--invalid-utf8", "replace"],
    );
    crate::harness::expect_code(&out, 0);
    let client = db.client().await;
    let got: Vec<String> = client
        .query("SELECT v FROM t ORDER BY id", &[])
        .await
        .expect("read")
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The server's own reading is ?你好 and 你?: the same, with U+FFFD for its '?'.
    assert_eq!(got, ["\u{fffd}你好", "你\u{fffd}"]);
    db.drop().await;
    my.drop().await;
}
