//! Foreign-key orphans in the source: child rows whose parent is missing, for `plan`.
//!
//! Sources that never enforced a foreign key (MyISAM; SQLite without `PRAGMA foreign_keys`;
//! MySQL loaded with `FOREIGN_KEY_CHECKS=0`) can hold rows PostgreSQL will not accept under it.
//! `plan` counts them in the source, with the source's own comparison rules; `copy` counts them
//! again in PostgreSQL, exactly, just before it creates each key (`copy_cmd::foreign_key`), and
//! applies `--orphans`.

use mysql_async::prelude::Queryable;
use pgcutover_core::show_ident;
use pgcutover_core::{quote_ident, ForeignKey, Table};
use pgcutover_mysql::mysql_ident;
use serde::Serialize;

use crate::exit::Exit;
use crate::source::{mysql_connect, Loaded, Reads};

/// Orphans found for one foreign key.
#[derive(Debug, Serialize)]
pub struct Orphans {
    pub table: String,
    pub foreign_key: String,
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    pub orphans: u64,
    /// Up to five distinct orphan keys, `column=value, …`.
    pub examples: Vec<String>,
}

/// Source names of a foreign key: (child table, child columns, parent table, parent columns).
/// None when the parent is not part of this run (it was filtered out).
fn source_names(
    loaded: &Loaded,
    t: &Table,
    fk: &ForeignKey,
) -> Option<(String, Vec<String>, String, Vec<String>)> {
    let parent = loaded
        .schema
        .tables
        .iter()
        .find(|p| p.name == fk.ref_table)?;
    let cols: Option<Vec<String>> = fk
        .columns
        .iter()
        .map(|c| t.column(c).map(|c| c.source_name.clone()))
        .collect();
    let refs: Option<Vec<String>> = fk
        .ref_columns
        .iter()
        .map(|c| parent.column(c).map(|c| c.source_name.clone()))
        .collect();
    Some((
        t.source_name.clone(),
        cols?,
        parent.source_name.clone(),
        refs?,
    ))
}

/// The anti-join both engines accept: `FROM child c WHERE <key not null> AND NOT EXISTS
/// (parent row with that key)`, with `quote` as the engine's identifier quoting.
fn orphan_from(
    quote: &dyn Fn(&str) -> String,
    child: &str,
    cols: &[String],
    parent: &str,
    refs: &[String],
) -> String {
    let not_null: Vec<String> = cols
        .iter()
        .map(|c| format!("c.{} IS NOT NULL", quote(c)))
        .collect();
    let join: Vec<String> = cols
        .iter()
        .zip(refs)
        .map(|(c, r)| format!("p.{} = c.{}", quote(r), quote(c)))
        .collect();
    format!(
        "FROM {child} c WHERE {} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {})",
        not_null.join(" AND "),
        join.join(" AND ")
    )
}

/// Counts every foreign key's orphans in the source.
pub async fn source_orphans(loaded: &Loaded) -> Result<Vec<Orphans>, Exit> {
    let mut found = Vec::new();
    // One MySQL session for every query; SQLite opens the file per query, on a thread.
    enum Session<'a> {
        Mysql(&'a pgcutover_mysql::MysqlSource, mysql_async::Conn),
        Sqlite(&'a std::path::Path),
    }
    let mut session = match &loaded.reads {
        Reads::Mysql { source, .. } => Session::Mysql(source, mysql_connect(source).await?),
        Reads::Sqlite { path, .. } => Session::Sqlite(path),
    };
    for t in &loaded.schema.tables {
        for fk in &t.foreign_keys {
            let Some((child, cols, parent, refs)) = source_names(loaded, t, fk) else {
                continue;
            };
            let (count, examples) = match &mut session {
                Session::Mysql(m, conn) => {
                    let q = |n: &str| format!("{}.{}", mysql_ident(&m.database), mysql_ident(n));
                    let from = orphan_from(&mysql_ident, &q(&child), &cols, &q(&parent), &refs);
                    mysql_orphans(conn, &from, &cols).await.map_err(|e| {
                        anyhow::Error::new(e).context(format!(
                            "counting orphans of foreign key {} in the source",
                            show_ident(&fk.name)
                        ))
                    })?
                }
                Session::Sqlite(path) => {
                    let from = orphan_from(
                        &quote_ident,
                        &quote_ident(&child),
                        &cols,
                        &quote_ident(&parent),
                        &refs,
                    );
                    let (path, cols) = (path.to_path_buf(), cols.clone());
                    tokio::task::spawn_blocking(move || sqlite_orphans(&path, &from, &cols))
                        .await
                        .map_err(anyhow::Error::new)?
                        .map_err(|e| {
                            e.context(format!(
                                "counting orphans of foreign key {} in the source",
                                show_ident(&fk.name)
                            ))
                        })?
                }
            };
            if count > 0 {
                found.push(Orphans {
                    table: t.name.clone(),
                    foreign_key: fk.name.clone(),
                    columns: fk.columns.clone(),
                    ref_table: fk.ref_table.clone(),
                    ref_columns: fk.ref_columns.clone(),
                    orphans: count,
                    examples,
                });
            }
        }
    }
    if let Session::Mysql(_, conn) = session {
        let _ = conn.disconnect().await;
    }
    Ok(found)
}

async fn mysql_orphans(
    conn: &mut mysql_async::Conn,
    from: &str,
    cols: &[String],
) -> Result<(u64, Vec<String>), mysql_async::Error> {
    let count: Option<u64> = conn.query_first(format!("SELECT COUNT(*) {from}")).await?;
    let count = count.unwrap_or(0);
    if count == 0 {
        return Ok((0, Vec::new()));
    }
    let list: Vec<String> = cols
        .iter()
        .map(|c| format!("c.{}", mysql_ident(c)))
        .collect();
    let rows: Vec<mysql_async::Row> = conn
        .query(format!(
            "SELECT DISTINCT {0} {from} ORDER BY {0} LIMIT 5",
            list.join(", ")
        ))
        .await?;
    let examples = rows
        .into_iter()
        .map(|r| {
            let values = r.unwrap();
            cols.iter()
                .zip(values)
                .map(|(c, v)| {
                    let shown = match v {
                        mysql_async::Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
                        other => other.as_sql(true),
                    };
                    format!("{c}={shown}")
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    Ok((count, examples))
}

fn sqlite_orphans(
    path: &std::path::Path,
    from: &str,
    cols: &[String],
) -> anyhow::Result<(u64, Vec<String>)> {
    let conn = pgcutover_sqlite::open_read_only(path)?;
    let count: i64 = conn.query_row(&format!("SELECT count(*) {from}"), [], |r| r.get(0))?;
    if count == 0 {
        return Ok((0, Vec::new()));
    }
    let list: Vec<String> = cols
        .iter()
        .map(|c| format!("c.{}", quote_ident(c)))
        .collect();
    let mut stmt = conn.prepare(&format!(
        "SELECT DISTINCT {0} {from} ORDER BY {0} LIMIT 5",
        list.join(", ")
    ))?;
    let mut rows = stmt.query([])?;
    let mut examples = Vec::new();
    while let Some(row) = rows.next()? {
        let mut parts = Vec::new();
        for (i, c) in cols.iter().enumerate() {
            let shown = match row.get_ref(i)? {
                rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                rusqlite::types::ValueRef::Real(f) => f.to_string(),
                rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                    pgcutover_core::reject::display_value(b)
                }
            };
            parts.push(format!("{c}={shown}"));
        }
        examples.push(parts.join(", "));
    }
    Ok((count as u64, examples))
}
