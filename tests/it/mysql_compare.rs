//! An independent check that a MySQL database arrived in PostgreSQL value for value.
//!
//! It shares no code with the converter. Each side renders every value in a canonical text form
//! with its own SQL (DATE_FORMAT vs to_char, HEX vs encode, TIME_TO_SEC vs extract, …); floats
//! come through MySQL's binary protocol and are compared bit for bit with PostgreSQL's; JSON is
//! compared parsed. Rows are compared as sorted multisets, so no collation order matters.

use std::collections::BTreeMap;

use mysql_async::prelude::Queryable;
use tokio_postgres::Client;

use crate::harness::{mysql, query_strings};

/// Canonical MySQL-side SQL and PostgreSQL-side SQL for one column.
fn exprs(data_type: &str, column_type: &str, pg_type: &str, col: &str) -> (String, String, Kind) {
    let m = format!("`{}`", col.replace('`', "``"));
    let p = format!("\"{}\"", col.replace('"', "\"\""));
    match (data_type, pg_type) {
        (_, "boolean") => (format!("CAST({m}+0 AS CHAR)"), format!("({p})::int::text"), Kind::Text),
        ("float" | "double", _) => (m, format!("({p})::float8::text"), Kind::Float),
        ("decimal", _) => (format!("CAST({m} AS CHAR)"), format!("{p}::text"), Kind::Text),
        ("date", _) => (
            format!("IF(MONTH({m}) = 0 OR DAYOFMONTH({m}) = 0, NULL, DATE_FORMAT({m}, '%Y-%m-%d'))"),
            format!("to_char({p}, 'YYYY-MM-DD')"),
            Kind::Text,
        ),
        ("datetime" | "timestamp", _) => (
            format!("IF(MONTH({m}) = 0 OR DAYOFMONTH({m}) = 0, NULL, DATE_FORMAT({m}, '%Y-%m-%d %H:%i:%s.%f'))"),
            if pg_type == "timestamp with time zone" {
                format!("to_char({p} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
            } else {
                format!("to_char({p}, 'YYYY-MM-DD HH24:MI:SS.US')")
            },
            Kind::Text,
        ),
        ("time", _) => (
            format!("CAST(TIME_TO_SEC({m}) * 1000000 AS SIGNED)"),
            format!("(extract(epoch from {p}) * 1000000)::bigint::text"),
            Kind::Text,
        ),
        // Length and MD5, so a 50 MB blob is compared without being shipped as hex.
        ("binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob", _) => (
            format!("CONCAT(LENGTH({m}), ':', MD5({m}))"),
            format!("length({p})::text || ':' || md5({p})"),
            Kind::Text,
        ),
        // PostGIS in the target: the SRID must arrive too.
        (
            "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
            | "multipolygon" | "geometrycollection",
            "geometry",
        ) => (
            format!("CONCAT(ST_SRID({m}), ':', HEX(ST_AsWKB({m})))"),
            format!("ST_SRID({p})::text || ':' || upper(encode(ST_AsBinary({p}, 'NDR'), 'hex'))"),
            Kind::Text,
        ),
        ("geometry" | "point" | "linestring" | "polygon", _) => (
            format!("HEX(ST_AsWKB({m}))"),
            format!("upper(encode({p}, 'hex'))"),
            Kind::Text,
        ),
        ("bit", _) => (
            format!("BIN({m}+0)"),
            format!("coalesce(nullif(ltrim({p}::text, '0'), ''), CASE WHEN {p} IS NULL THEN NULL ELSE '0' END)"),
            Kind::Text,
        ),
        ("set", _) => (m, format!("array_to_string({p}, ',')"), Kind::Text),
        ("json", _) | ("longtext", "jsonb") => (m, format!("{p}::text"), Kind::Json),
        _ if column_type.contains("int") || data_type == "year" => {
            (format!("CAST({m} AS CHAR)"), format!("{p}::text"), Kind::Text)
        }
        _ => (m, format!("{p}::text"), Kind::Text),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Float,
    Json,
}

fn canon_mysql(v: mysql_async::Value, kind: Kind) -> Option<String> {
    use mysql_async::Value as V;
    match v {
        V::NULL => None,
        V::Float(f) => Some(format!("{:?}", f64::from(f).to_bits())),
        V::Double(d) => Some(format!("{:?}", d.to_bits())),
        V::Bytes(b) => {
            let s = String::from_utf8(b).expect("utf8mb4 session gives UTF-8");
            Some(match kind {
                Kind::Json => serde_json::from_str::<serde_json::Value>(&s)
                    .map(|j| j.to_string())
                    .unwrap_or(s),
                _ => s,
            })
        }
        V::Int(i) => Some(i.to_string()),
        V::UInt(u) => Some(u.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn canon_pg(v: Option<String>, kind: Kind) -> Option<String> {
    let s = v?;
    Some(match kind {
        Kind::Float => format!("{:?}", s.parse::<f64>().expect("float text").to_bits()),
        Kind::Json => serde_json::from_str::<serde_json::Value>(&s)
            .expect("jsonb text is JSON")
            .to_string(),
        Kind::Text => s,
    })
}

/// Compares every base table of MySQL database `db` with the same-named table in `pg`.
/// `expected_missing` lists rows per table the copy rejected. Returns rows compared.
pub async fn assert_same_mysql_data(
    db: &str,
    pg: &Client,
    expected_missing: &BTreeMap<&str, usize>,
) -> usize {
    assert_same_mysql_data_on(mysql(db).await, db, pg, expected_missing).await
}

/// [`assert_same_mysql_data`] over a connection of the caller's (a server of a test's own).
pub async fn assert_same_mysql_data_on(
    mut my: mysql_async::Conn,
    db: &str,
    pg: &Client,
    expected_missing: &BTreeMap<&str, usize>,
) -> usize {
    my.query_drop("SET NAMES utf8mb4").await.expect("names");
    my.query_drop("SET time_zone = '+00:00'").await.expect("tz");
    my.query_drop(format!("USE `{}`", db.replace('`', "``")))
        .await
        .expect("use");
    let tables: Vec<String> = my
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1",
            (db,),
        )
        .await
        .expect("tables");
    assert!(!tables.is_empty(), "{db} has tables");
    let mut total = 0;
    for t in &tables {
        let cols: Vec<(String, String, String)> = my
            .exec(
                "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (db, t),
            )
            .await
            .expect("columns");
        let pg_types = query_strings(
            pg,
            &format!(
                "SELECT column_name, CASE WHEN data_type = 'USER-DEFINED' THEN udt_name::text ELSE data_type END FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{}' ORDER BY ordinal_position",
                t.replace('\'', "''")
            ),
        )
        .await;
        assert_eq!(pg_types.len(), cols.len(), "{t}: column count");
        let mut my_sql = Vec::new();
        let mut pg_sql = Vec::new();
        let mut kinds = Vec::new();
        for ((name, dt, ct), pgt) in cols.iter().zip(&pg_types) {
            assert_eq!(
                pgt[0].as_deref(),
                Some(name.as_str()),
                "{t}: column names in order"
            );
            let (m, p, k) = exprs(dt, ct, pgt[1].as_deref().unwrap_or(""), name);
            my_sql.push(m);
            pg_sql.push(p);
            kinds.push(k);
        }
        let my_rows: Vec<mysql_async::Row> = my
            .exec(
                format!(
                    "SELECT {} FROM `{}`",
                    my_sql.join(", "),
                    t.replace('`', "``")
                ),
                (),
            )
            .await
            .expect("mysql rows");
        let mut left: Vec<Vec<Option<String>>> = my_rows
            .into_iter()
            .map(|r| {
                r.unwrap()
                    .into_iter()
                    .zip(&kinds)
                    .map(|(v, k)| canon_mysql(v, *k))
                    .collect()
            })
            .collect();
        let mut right: Vec<Vec<Option<String>>> = query_strings(
            pg,
            &format!(
                "SELECT {} FROM \"{}\"",
                pg_sql.join(", "),
                t.replace('"', "\"\"")
            ),
        )
        .await
        .into_iter()
        .map(|r| {
            r.into_iter()
                .zip(&kinds)
                .map(|(v, k)| canon_pg(v, *k))
                .collect()
        })
        .collect();
        left.sort();
        right.sort();
        let missing = expected_missing.get(t.as_str()).copied().unwrap_or(0);
        if missing == 0 {
            assert_eq!(left.len(), right.len(), "{t}: row count");
            for (a, b) in left.iter().zip(&right) {
                assert_eq!(a, b, "{t}: a row differs (MySQL left, PostgreSQL right)");
            }
        } else {
            assert_eq!(left.len(), right.len() + missing, "{t}: rows minus rejects");
            for row in &right {
                assert!(left.contains(row), "{t}: {row:?} is not in the source");
            }
        }
        total += right.len();
    }
    let _ = my.disconnect().await;
    total
}
