//! The binary log as pgcutover's [`ChangeStream`]: each row change of a copied table,
//! converted through the copy's own conversions (the log's values first put in the shape a
//! read gives them, [`as_read`]); a TRUNCATE of one; and a statement that changes one's
//! definition, which stops following ([`crate::logged`]).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use pgcutover_core::policy::ValuePolicy;
use pgcutover_core::source::{ChangeStream, Fault, RowChange, SourceChange, SourceError};
use pgcutover_core::{Reject, Table, Value};

use crate::binlog::{as_read, Change, Changes, ChangesError};
use crate::convert::{convert, display};
use crate::introspect::TableRead;
use crate::logged::{classify, FollowedNames, Logged};

/// A copied table as the log names it, with how its values are converted.
struct Followed {
    table: Arc<Table>,
    read: TableRead,
    /// The columns of the key the follower finds rows by: of a before image, only they are
    /// used (the row is written from the after image), so only they must convert.
    key: Vec<String>,
}

pub struct MysqlChanges {
    changes: Changes,
    database: String,
    /// By source table name.
    tables: HashMap<String, Followed>,
    policy: ValuePolicy,
}

impl MysqlChanges {
    pub fn new(
        changes: Changes,
        database: &str,
        tables: Vec<Arc<Table>>,
        reads: &HashMap<String, TableRead>,
        policy: ValuePolicy,
    ) -> MysqlChanges {
        let tables = tables
            .into_iter()
            .filter_map(|t| {
                let read = reads.get(&t.name)?.clone();
                let copied = t.copied_names();
                let key = t
                    .row_key()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|k| copied[k].to_owned())
                    .collect();
                Some((
                    t.source_name.clone(),
                    Followed {
                        table: t,
                        read,
                        key,
                    },
                ))
            })
            .collect();
        MysqlChanges {
            changes,
            database: database.to_owned(),
            tables,
            policy,
        }
    }

    /// What a statement the log holds as text, run with `default_db` as its default
    /// database, means for the followed tables ([`classify`]).
    fn classify(&self, sql: &str, default_db: &str) -> Logged {
        let tables: Vec<&str> = self.tables.keys().map(String::as_str).collect();
        classify(
            sql,
            default_db,
            &FollowedNames {
                database: &self.database,
                tables: &tables,
            },
        )
    }
}

/// The server cannot send the binary log asked for (a purged file, a position past its end).
const ER_MASTER_FATAL_ERROR_READING_BINLOG: u16 = 1236;

fn failed(e: ChangesError) -> SourceError {
    let fault = match &e {
        // The server no longer has the log file asked for (purged, or removed).
        ChangesError::Mysql(mysql_async::Error::Server(s))
            if s.code == ER_MASTER_FATAL_ERROR_READING_BINLOG =>
        {
            return SourceError::failed(format!(
                "the source no longer has the binary log this run follows from (purged, or its files were removed): {}",
                s.message
            ))
            .hint("the changes since then cannot be read: copy again with --restart --force --follow, and keep the binary log longer than the copy and any pause in following (binlog_expire_logs_seconds)");
        }
        ChangesError::Mysql(m) => crate::source::fault_of(m),
        _ => Fault::Fatal,
    };
    SourceError::failed(e)
        .fault(fault)
        .context("reading the binary log")
}

#[async_trait]
impl ChangeStream for MysqlChanges {
    async fn next(&mut self) -> Result<SourceChange, SourceError> {
        loop {
            let change = match self.changes.next().await {
                Some(c) => c.map_err(failed)?,
                None => {
                    return Err(
                        SourceError::failed("the server ended the binary log stream")
                            .fault(Fault::Transient),
                    )
                }
            };
            match change {
                Change::RolledBack => return Ok(SourceChange::RolledBack),
                Change::Commit { end, at } => {
                    return Ok(SourceChange::Commit {
                        position: end.to_string(),
                        at: Some(u64::from(at)),
                    })
                }
                Change::Statement { database, sql, end } => {
                    let position = end.to_string();
                    match self.classify(&sql, &database) {
                        Logged::Skip => {}
                        Logged::Truncate(source_name) => match self.tables.get(&source_name) {
                            Some(f) => {
                                return Ok(SourceChange::Truncate {
                                    table: f.table.name.clone(),
                                    position,
                                })
                            }
                            None => return Ok(SourceChange::Statement { sql, position }),
                        },
                        Logged::Stops => return Ok(SourceChange::Statement { sql, position }),
                    }
                }
                Change::Row {
                    database,
                    table,
                    before,
                    after,
                } => {
                    if database != self.database {
                        continue;
                    }
                    let Some(f) = self.tables.get(&table) else {
                        continue;
                    };
                    return Ok(row_change(f, &self.policy, before, after));
                }
            }
        }
    }
}

/// A logged row's images converted as the copy converts a row, or the row rejected.
fn row_change(
    f: &Followed,
    policy: &ValuePolicy,
    before: Option<Vec<mysql_async::Value>>,
    after: Option<Vec<mysql_async::Value>>,
) -> SourceChange {
    let image = |raw: Vec<mysql_async::Value>,
                 only_key: bool|
     -> Result<Vec<Value<'static>>, Box<Reject>> {
        let mut values = Vec::with_capacity(raw.len());
        for (i, (conv, v)) in f.read.convs.iter().zip(&raw).enumerate() {
            if !f.table.columns[i].is_copied() {
                continue;
            }
            let converted = as_read(conv, v.clone())
                .map_err(|reason| pgcutover_core::policy::problem(reason, ""))
                .and_then(|v| convert(conv, policy, &v).map(|(v, _)| v.into_owned()));
            match converted {
                Ok(v) => values.push(v),
                Err(_) if only_key && !f.key.contains(&f.table.columns[i].name) => {
                    values.push(Value::Null)
                }
                Err(p) => {
                    let key = f
                        .read
                        .key_columns
                        .iter()
                        .map(|&k| {
                            format!(
                                "{}={}",
                                f.table.columns[k].name,
                                display(&f.read.convs[k], &raw[k])
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(Box::new(Reject {
                        table: f.table.name.clone(),
                        key,
                        column: f.table.columns[i].name.clone(),
                        value: display(conv, v),
                        reason: p.reason,
                        hint: p.hint.to_owned(),
                    }));
                }
            }
        }
        Ok(values)
    };
    let change = match (
        before.map(|b| image(b, true)).transpose(),
        after.map(|a| image(a, false)).transpose(),
    ) {
        (Err(r), _) | (_, Err(r)) => return SourceChange::Rejected(*r),
        (Ok(None), Ok(Some(after))) => RowChange::Insert(after),
        (Ok(Some(before)), Ok(Some(after))) => RowChange::Update { before, after },
        (Ok(Some(before)), Ok(None)) => RowChange::Delete(before),
        (Ok(None), Ok(None)) => RowChange::Delete(Vec::new()),
    };
    SourceChange::Row {
        table: f.table.name.clone(),
        change,
    }
}
