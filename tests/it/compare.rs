//! Value-by-value comparison of a SQLite file with what `copy` put in PostgreSQL.
//!
//! Independent of pgcutover's converter: the column types come from `plan --format json`, but
//! each side's values are read and normalised here, SQLite's own date functions serve as the
//! oracle for temporal values, and doubles are compared bit for bit.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::types::ValueRef;
use serde_json::Value as Json;
use tokio_postgres::Client;

use crate::harness::{pgcutover, query_strings};

fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Compares every table; returns the number of rows compared. `rejected` maps a table to the
/// number of rows expected to be missing from the target.
pub async fn assert_same_data(
    sqlite: &Path,
    client: &Client,
    target_url: &str,
    rejected: &BTreeMap<String, usize>,
) -> usize {
    let plan = pgcutover(
        Path::new("."),
        &[
            "plan",
            &format!("sqlite:{}", sqlite.display()),
            target_url,
            "--format",
            "json",
        ],
    );
    assert!(
        plan.status.success(),
        "plan failed: {}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let plan: Json = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    client
        .batch_execute("SET extra_float_digits = 3; SET DateStyle = 'ISO, YMD'")
        .await
        .expect("session settings");
    let conn =
        rusqlite::Connection::open_with_flags(sqlite, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open sqlite");
    let mut compared = 0;
    for t in plan["data"]["tables"].as_array().expect("tables") {
        let (src, dst) = (
            t["source_name"].as_str().expect("name"),
            t["name"].as_str().expect("name"),
        );
        let cols: Vec<(&str, &str, &str)> = t["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| {
                (
                    c["source_name"].as_str().expect("s"),
                    c["name"].as_str().expect("n"),
                    c["target_type"].as_str().expect("t"),
                )
            })
            .collect();
        let mut source_rows = sqlite_rows(&conn, src, &cols);
        let mut target_rows = pg_rows(client, dst, &cols).await;
        source_rows.sort();
        target_rows.sort();
        let expected_missing = rejected.get(dst).copied().unwrap_or(0);
        if expected_missing == 0 {
            if source_rows != target_rows {
                let diff: Vec<_> = source_rows
                    .iter()
                    .zip(&target_rows)
                    .filter(|(a, b)| a != b)
                    .take(3)
                    .collect();
                panic!("table {dst}: {} source rows vs {} target rows; first differences (source, target): {diff:#?}", source_rows.len(), target_rows.len());
            }
        } else {
            assert_eq!(
                source_rows.len(),
                target_rows.len() + expected_missing,
                "table {dst} row count"
            );
            for r in &target_rows {
                assert!(
                    source_rows.binary_search(r).is_ok(),
                    "table {dst}: target row {r:?} is not in the source"
                );
            }
        }
        compared += target_rows.len();
    }
    compared
}

fn sqlite_rows(
    conn: &rusqlite::Connection,
    table: &str,
    cols: &[(&str, &str, &str)],
) -> Vec<Vec<String>> {
    let exprs: Vec<String> = cols
        .iter()
        .map(|(c, _, ty)| {
            let c = q(c);
            // SQLite's own date parser is the oracle: it knows ISO text, Julian days and (with
            // 'unixepoch') integers, which we read as milliseconds past 10^11 as pgcutover does.
            let moment = format!(
                "CASE typeof({c}) WHEN 'integer' THEN strftime('%Y-%m-%d %H:%M:%f', CASE WHEN abs({c}) >= 100000000000 THEN {c}/1000.0 ELSE {c} END, 'unixepoch') ELSE strftime('%Y-%m-%d %H:%M:%f', {c}) END"
            );
            match *ty {
                "timestamp" | "timestamptz" => moment,
                "date" => format!("date({moment})"),
                _ => c,
            }
        })
        .collect();
    let sql = format!("SELECT {} FROM {}", exprs.join(", "), q(table));
    let mut stmt = conn.prepare(&sql).expect("prepare");
    let mut rows = stmt.query([]).expect("query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("row") {
        out.push(
            cols.iter()
                .enumerate()
                .map(|(i, (_, _, ty))| canon_sqlite(row.get_ref(i).expect("value"), ty))
                .collect(),
        );
    }
    out
}

async fn pg_rows(client: &Client, table: &str, cols: &[(&str, &str, &str)]) -> Vec<Vec<String>> {
    let exprs: Vec<String> = cols
        .iter()
        .map(|(_, c, ty)| {
            let c = q(c);
            match *ty {
                "timestamp" => format!("to_char({c}, 'YYYY-MM-DD HH24:MI:SS.MS')"),
                "timestamptz" => {
                    format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')")
                }
                "bytea" => format!("encode({c}, 'hex')"),
                "boolean" => format!("{c}::int::text"),
                _ => format!("{c}::text"),
            }
        })
        .collect();
    let sql = format!("SELECT {} FROM public.{}", exprs.join(", "), q(table));
    query_strings(client, &sql)
        .await
        .into_iter()
        .map(|r| {
            r.into_iter()
                .zip(cols)
                .map(|(v, (_, _, ty))| canon_pg(v, ty))
                .collect()
        })
        .collect()
}

const NULL: &str = "\u{0}NULL";

fn trim_decimal(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
}

fn canon_sqlite(v: ValueRef<'_>, ty: &str) -> String {
    // Lossy only so rows that were rightly rejected can still be listed; they never match.
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match (v, ty) {
        (ValueRef::Null, _) => NULL.into(),
        (ValueRef::Integer(i), "double precision" | "real") => {
            format!("f{:x}", (i as f64).to_bits())
        }
        (ValueRef::Real(f), "double precision" | "real") => format!("f{:x}", f.to_bits()),
        (ValueRef::Text(b), "double precision" | "real") => text(b)
            .parse::<f64>()
            .map_or_else(|_| text(b), |f| format!("f{:x}", f.to_bits())),
        (ValueRef::Integer(i), "boolean") => i.to_string(),
        (ValueRef::Text(b), "boolean") => match text(b).to_lowercase().as_str() {
            "true" | "t" | "1" => "1".into(),
            _ => "0".into(),
        },
        (ValueRef::Real(f), t) if t.starts_with("numeric") => trim_decimal(&f.to_string()),
        (ValueRef::Integer(i), t) if t.starts_with("numeric") => i.to_string(),
        (ValueRef::Text(b), t) if t.starts_with("numeric") => trim_decimal(&text(b)),
        (ValueRef::Text(b), "jsonb") => {
            serde_json::from_slice::<Json>(b).map_or_else(|_| text(b), |j| j.to_string())
        }
        (ValueRef::Integer(i), "jsonb") => i.to_string(),
        (ValueRef::Blob(b) | ValueRef::Text(b), "bytea") => {
            b.iter().map(|x| format!("{x:02x}")).collect()
        }
        (ValueRef::Integer(i), _) => i.to_string(),
        (ValueRef::Real(f), _) => f.to_string(),
        (ValueRef::Text(b), _) => text(b),
        (ValueRef::Blob(b), _) => format!("blob {b:?}"),
    }
}

fn canon_pg(v: Option<String>, ty: &str) -> String {
    let Some(v) = v else { return NULL.into() };
    match ty {
        "double precision" | "real" => format!("f{:x}", v.parse::<f64>().expect("float").to_bits()),
        t if t.starts_with("numeric") => trim_decimal(&v),
        "jsonb" => serde_json::from_str::<Json>(&v).expect("json").to_string(),
        _ => v,
    }
}
