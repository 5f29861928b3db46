//! Reads a SQLite file's catalog into the engine-neutral [`Schema`], deciding each column's
//! PostgreSQL type, and collects what will not be carried over as warnings.
//!
//! Sources of truth: `sqlite_schema` (object list and the original CREATE text, needed for CHECK
//! constraints, AUTOINCREMENT and partial/expression indexes), `pragma_table_list` (WITHOUT
//! ROWID), `pragma_table_xinfo` (columns, including generated ones), `pragma_index_list` /
//! `pragma_index_xinfo`, `pragma_foreign_key_list` and `sqlite_sequence`.

use std::collections::HashMap;

use pgcutover_core::range::SplitKey;
use pgcutover_core::schema::{Check, Identity};
use pgcutover_core::show_ident;
use pgcutover_core::{
    quote_ident, Column, FkAction, ForeignKey, Index, IndexPart, Key, NameAllocator, PgType,
    Schema, Table, Warning,
};
use rusqlite::{Connection, OptionalExtension};

use crate::convert::EpochUnit;
use crate::defaults::translate_default;
use crate::expr::{balanced, is_word, split_commas, tokenize, translate, Token};
use crate::types::{map_declared, resolve_dynamic, Declared, StorageClasses};
use crate::Error;

pub use pgcutover_core::source::EpochSetting;

const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// What the reader needs beyond the core [`Table`]: source names are in the table itself.
#[derive(Debug, Clone)]
pub struct TableRead {
    pub epochs: Vec<EpochUnit>,
    /// Columns (indices) that identify a row in reject records: the primary key, if any.
    pub key_columns: Vec<usize>,
    /// A rowid alias to select for reject keys when there is no primary key.
    pub rowid: Option<String>,
    /// The INTEGER PRIMARY KEY (the rowid's alias, always an integer) to cut the table on.
    pub split: Option<SplitKey>,
}

#[derive(Debug, Clone)]
pub struct SqliteSchema {
    pub schema: Schema,
    /// Keyed by target table name.
    pub reads: HashMap<String, TableRead>,
}

pub struct IntrospectOptions<'a> {
    pub epoch: EpochSetting,
    /// Called with each table's source name; `false` leaves the table out.
    pub include: &'a (dyn Fn(&str) -> bool + Sync),
    /// Count rows (`SELECT count(*)`) for the plan and progress bars.
    pub count_rows: bool,
}

struct RawColumn {
    name: String,
    declared: String,
    not_null: bool,
    default: Option<String>,
    pk: i64,
    hidden: i64,
}

pub fn introspect(conn: &Connection, opts: &IntrospectOptions<'_>) -> Result<SqliteSchema, Error> {
    let mut warnings = Vec::new();
    let objects: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let sequences: HashMap<String, i64> = if has_table(conn, "sqlite_sequence")? {
        conn.prepare("SELECT name, seq FROM sqlite_sequence")?
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<_, _>>()?
    } else {
        HashMap::new()
    };
    let index_sql: HashMap<&str, &str> = objects
        .iter()
        .filter(|(t, _, _)| t == "index")
        .filter_map(|(_, n, sql)| sql.as_deref().map(|s| (n.as_str(), s)))
        .collect();

    let mut names = NameAllocator::new();
    let mut tables = Vec::new();
    let mut reads = HashMap::new();
    for (kind, name, sql) in &objects {
        match kind.as_str() {
            // Every view, as the MySQL source lists them: none is carried over, and asking
            // `include` about one would count a view as a table its patterns matched.
            "view" => warnings.push(Warning::new(
                format!("view {}", show_ident(name)),
                "views are not carried over (their SQL is SQLite's); recreate them in PostgreSQL",
            )),
            "trigger" => warnings.push(Warning::new(
                format!("trigger {}", show_ident(name)),
                "triggers are not carried over; recreate them in PostgreSQL",
            )),
            "table" if (opts.include)(name) => {
                let sql = sql.as_deref().unwrap_or_default();
                if sql
                    .trim_start()
                    .to_ascii_uppercase()
                    .starts_with("CREATE VIRTUAL")
                {
                    warnings.push(Warning::new(
                        format!("table {}", show_ident(name)),
                        "virtual tables (FTS, R*Tree, …) are not carried over",
                    ));
                    continue;
                }
                let target = names.allocate(name);
                let (table, read) =
                    introspect_table(conn, name, &target, sql, &sequences, opts, &mut warnings)?;
                reads.insert(target, read);
                tables.push(table);
            }
            _ => {}
        }
    }
    // Second pass: everything that needs all tables (and the name space) known.
    let by_source: HashMap<String, String> = tables
        .iter()
        .map(|t| (t.source_name.to_lowercase(), t.name.clone()))
        .collect();
    for i in 0..tables.len() {
        let source_name = tables[i].source_name.clone();
        add_keys_and_indexes(conn, &mut tables[i], &index_sql, &mut names, &mut warnings)?;
        let fks = foreign_keys(
            conn,
            &source_name,
            &tables,
            &by_source,
            &mut names,
            &mut warnings,
        )?;
        tables[i].foreign_keys = fks;
        let checks = checks(&tables[i], &objects, &mut names, &mut warnings)?;
        tables[i].checks = checks;
    }
    // Every value a SQLite column holds is checked against whatever type it gets.
    warnings.extend(pgcutover_core::harmonize_fk_types(
        &mut tables,
        |_, _, _| true,
    ));
    Ok(SqliteSchema {
        schema: Schema {
            tables,
            warnings,
            enums: Vec::new(),
        },
        reads,
    })
}

fn has_table(conn: &Connection, name: &str) -> Result<bool, Error> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_schema WHERE type='table' AND name=?1",
            [name],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// One table: its columns as the catalog declares them, one scan of its rows for what the
/// declarations leave open, its rowid and primary key, each column's type and default, and how
/// to read it (epoch units, the key rejects name rows by, the key to split on).
fn introspect_table(
    conn: &Connection,
    source: &str,
    target: &str,
    sql: &str,
    sequences: &HashMap<String, i64>,
    opts: &IntrospectOptions<'_>,
    warnings: &mut Vec<Warning>,
) -> Result<(Table, TableRead), Error> {
    let without_rowid = is_without_rowid(conn, source)?;
    let raw = read_columns(conn, source)?;
    let declared: Vec<Declared> = raw.iter().map(|c| map_declared(&c.declared)).collect();
    let scan = scan_table(conn, source, &raw, &declared, opts)?;
    let pk_cols = primary_key_columns(&raw);
    let cx = ColumnCx {
        source,
        target,
        sequences,
        epoch: opts.epoch,
        rowid_alias: rowid_alias(&pk_cols, without_rowid),
        autoincrement: tokenize(sql)
            .map(|t| t.iter().any(|x| is_word(x, "AUTOINCREMENT")))
            .unwrap_or(false),
    };

    let (col_names, renamed) = pgcutover_core::column_names(raw.iter().map(|c| c.name.as_str()));
    warnings.extend(renamed.iter().map(|r| r.warning(target)));
    let mut columns = Vec::with_capacity(raw.len());
    let mut epochs = Vec::with_capacity(raw.len());
    for (i, (c, name)) in raw.iter().zip(col_names).enumerate() {
        let (column, epoch) =
            build_column(&cx, c, name, &declared[i], scan.columns.get(&i), warnings);
        columns.push(column);
        epochs.push(epoch);
    }

    let key_columns: Vec<usize> = pk_cols
        .iter()
        .filter_map(|p| raw.iter().position(|c| c.name == p.name))
        .collect();
    let rowid = if key_columns.is_empty() && !without_rowid {
        free_rowid_name(&raw)
    } else {
        None
    };
    let split = match &cx.rowid_alias {
        Some(name) => rowid_range(conn, source, name)?,
        None => None,
    };
    let primary_key = (!pk_cols.is_empty()).then(|| Key {
        name: String::new(), // named in the second pass, when all table names are taken
        columns: key_columns
            .iter()
            .map(|&i| columns[i].name.clone())
            .collect(),
    });
    Ok((
        Table {
            source_name: source.to_owned(),
            name: target.to_owned(),
            columns,
            primary_key,
            uniques: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            checks: Vec::new(),
            source_rows: scan.rows,
            comment: None,
        },
        TableRead {
            epochs,
            key_columns,
            rowid,
            split,
        },
    ))
}

/// Whether the table is WITHOUT ROWID (then it has no rowid to name rows by).
fn is_without_rowid(conn: &Connection, source: &str) -> Result<bool, Error> {
    Ok(conn
        .query_row(
            "SELECT wr FROM pragma_table_list WHERE name = ?1 AND schema = 'main'",
            [source],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false))
}

/// The table's columns as the catalog has them, generated ones included, in order.
fn read_columns(conn: &Connection, source: &str) -> Result<Vec<RawColumn>, Error> {
    Ok(conn
        .prepare("SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1) ORDER BY cid")?
        .query_map([source], |r| {
            Ok(RawColumn { name: r.get(0)?, declared: r.get(1)?, not_null: r.get(2)?, default: r.get(3)?, pk: r.get(4)?, hidden: r.get(5)? })
        })?
        .collect::<Result<_, _>>()?)
}

/// What one pass over a table's rows found.
#[derive(Default)]
struct Scan {
    /// The row count, when the table was scanned.
    rows: Option<u64>,
    /// Per scanned column (by position): the storage classes its values have, and the largest
    /// magnitude of its integers (which decides the epoch unit of a date column).
    columns: HashMap<usize, (StorageClasses, i64)>,
}

/// One pass over the table, when something needs it: the row count (`count_rows`) and, per
/// column whose type the data decides (no declared type; a date column under `--epoch auto`),
/// the storage classes present and the integer range.
fn scan_table(
    conn: &Connection,
    source: &str,
    raw: &[RawColumn],
    declared: &[Declared],
    opts: &IntrospectOptions<'_>,
) -> Result<Scan, Error> {
    let needs_scan: Vec<usize> = (0..raw.len())
        .filter(|&i| match &declared[i] {
            Declared::Dynamic { .. } => true,
            Declared::Mapped { pg_type, .. } => {
                opts.epoch == EpochSetting::Auto
                    && matches!(
                        pg_type,
                        PgType::Date | PgType::Timestamp | PgType::Timestamptz
                    )
            }
        })
        .collect();
    let mut scan = Scan::default();
    if needs_scan.is_empty() && !opts.count_rows {
        return Ok(scan);
    }
    let mut exprs: Vec<String> = vec!["count(*)".to_owned()];
    exprs.extend(needs_scan.iter().map(|&i| {
        let c = quote_ident(&raw[i].name);
        format!(
            "max(typeof({c})='integer'), max(typeof({c})='real'), max(typeof({c})='text'), max(typeof({c})='blob'), \
             min(CASE WHEN typeof({c})='integer' THEN {c} END), max(CASE WHEN typeof({c})='integer' THEN {c} END)"
        )
    }));
    let q = format!("SELECT {} FROM {}", exprs.join(", "), quote_ident(source));
    conn.query_row(&q, [], |r| {
        scan.rows = Some(r.get::<_, i64>(0)? as u64);
        for (k, &i) in needs_scan.iter().enumerate() {
            let col = 1 + k * 6;
            let b = |j: usize| -> rusqlite::Result<bool> {
                Ok(r.get::<_, Option<i64>>(col + j)?.unwrap_or(0) != 0)
            };
            let classes = StorageClasses {
                integer: b(0)?,
                real: b(1)?,
                text: b(2)?,
                blob: b(3)?,
            };
            let min: Option<i64> = r.get(col + 4)?;
            let max: Option<i64> = r.get(col + 5)?;
            let magnitude = min
                .map_or(0, |v| v.checked_abs().unwrap_or(i64::MAX))
                .max(max.map_or(0, |v| v.checked_abs().unwrap_or(i64::MAX)));
            scan.columns.insert(i, (classes, magnitude));
        }
        Ok(())
    })?;
    Ok(scan)
}

/// The primary key's columns, in key order.
fn primary_key_columns(raw: &[RawColumn]) -> Vec<&RawColumn> {
    let mut v: Vec<&RawColumn> = raw.iter().filter(|c| c.pk > 0).collect();
    v.sort_by_key(|c| c.pk);
    v
}

/// The column that is the rowid's alias: a primary key of one column declared exactly
/// `INTEGER`, in a rowid table.
fn rowid_alias(pk_cols: &[&RawColumn], without_rowid: bool) -> Option<String> {
    match pk_cols {
        [c] if !without_rowid && c.declared.trim().eq_ignore_ascii_case("INTEGER") => {
            Some(c.name.clone())
        }
        _ => None,
    }
}

/// A name the rowid can be selected by: one of its three names that no column has taken.
fn free_rowid_name(raw: &[RawColumn]) -> Option<String> {
    ["rowid", "_rowid_", "oid"]
        .into_iter()
        .find(|r| !raw.iter().any(|c| c.name.eq_ignore_ascii_case(r)))
        .map(str::to_owned)
}

/// The rowid alias's range, to split the table on. Only the rowid's alias: its values are
/// integers whatever the data, and min/max is a lookup at each end of the b-tree, not a scan.
fn rowid_range(conn: &Connection, source: &str, alias: &str) -> Result<Option<SplitKey>, Error> {
    let column = quote_ident(alias);
    let range: (Option<i64>, Option<i64>) = conn.query_row(
        &format!(
            "SELECT min({column}), max({column}) FROM {}",
            quote_ident(source)
        ),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(match range {
        (Some(min), Some(max)) => Some(SplitKey { column, min, max }),
        _ => None,
    })
}

/// What building each column of one table reads.
struct ColumnCx<'a> {
    source: &'a str,
    target: &'a str,
    sequences: &'a HashMap<String, i64>,
    epoch: EpochSetting,
    /// The column that is the rowid (see [`rowid_alias`]).
    rowid_alias: Option<String>,
    /// The table is declared AUTOINCREMENT.
    autoincrement: bool,
}

/// One column and the unit its integers are read in as dates: its type (declared, or decided by
/// the scan), a warning for a generated column (copied as values), the rowid's alias as a
/// bigint identity, and its default.
fn build_column(
    cx: &ColumnCx<'_>,
    c: &RawColumn,
    name: String,
    declared: &Declared,
    scan: Option<&(StorageClasses, i64)>,
    warnings: &mut Vec<Warning>,
) -> (Column, EpochUnit) {
    let object = format!(
        "table {} column {}",
        show_ident(cx.target),
        show_ident(&name)
    );
    let (pg_type, mut note) = column_type(declared, scan);
    let epoch = epoch_unit(cx.epoch, scan);
    if matches!(
        pg_type,
        PgType::Date | PgType::Timestamp | PgType::Timestamptz
    ) && scan.is_some_and(|s| s.0.integer)
    {
        note.push_str(&format!("; integers read as Unix epoch {epoch}"));
    }
    if c.hidden == 2 || c.hidden == 3 {
        warnings.push(Warning::new(
            object.as_str(),
            "generated column: copied as a plain column holding its current values",
        ));
    }
    let is_rowid = cx.rowid_alias.as_deref() == Some(c.name.as_str());
    let identity = is_rowid.then(|| Identity {
        source_next: cx.sequences.get(cx.source).map(|s| s.saturating_add(1)),
    });
    let default = match (&c.default, is_rowid) {
        (Some(d), false) => match translate_default(d, &pg_type, epoch) {
            Ok(sql) => sql,
            Err(why) => {
                warnings.push(Warning::new(object, format!("default dropped: {why}")));
                None
            }
        },
        _ => None,
    };
    let column = Column {
        source_name: c.name.clone(),
        name,
        source_type: c.declared.clone(),
        pg_type: if is_rowid { PgType::BigInt } else { pg_type },
        nullable: !c.not_null && c.pk == 0,
        default,
        identity,
        mapping_note: if is_rowid {
            format!(
                "INTEGER PRIMARY KEY{} (rowid) → identity",
                if cx.autoincrement {
                    " AUTOINCREMENT"
                } else {
                    ""
                }
            )
        } else {
            note
        },
        on_update_now: false,
        generated: None,
        comment: None,
    };
    (column, epoch)
}

/// The column's type and why: as declared, or (no declared type) from the storage classes the
/// scan found in it.
fn column_type(declared: &Declared, scan: Option<&(StorageClasses, i64)>) -> (PgType, String) {
    match declared {
        Declared::Mapped { pg_type, note } => (pg_type.clone(), (*note).to_owned()),
        Declared::Dynamic { note } => {
            let (t, why) = resolve_dynamic(scan.map(|s| s.0).unwrap_or_default());
            (t, format!("{note}; {why}"))
        }
    }
}

/// The unit the column's integers are read in as dates: forced by `--epoch`, or milliseconds
/// when the scan found one too large to be seconds.
fn epoch_unit(setting: EpochSetting, scan: Option<&(StorageClasses, i64)>) -> EpochUnit {
    match setting {
        EpochSetting::Seconds => EpochUnit::Seconds,
        EpochSetting::Millis => EpochUnit::Millis,
        EpochSetting::Auto if scan.is_some_and(|s| s.1 >= MILLIS_THRESHOLD) => EpochUnit::Millis,
        EpochSetting::Auto => EpochUnit::Seconds,
    }
}

/// Maps a source column name to the target column name, as SQLite resolves names: ignoring case.
fn resolve_column(table: &Table, source: &str) -> Option<String> {
    table
        .columns
        .iter()
        .find(|c| c.source_name.eq_ignore_ascii_case(source))
        .map(|c| c.name.clone())
}

fn add_keys_and_indexes(
    conn: &Connection,
    table: &mut Table,
    index_sql: &HashMap<&str, &str>,
    names: &mut NameAllocator,
    warnings: &mut Vec<Warning>,
) -> Result<(), Error> {
    if let Some(pk) = table.primary_key.as_mut() {
        pk.name = names.allocate(&format!("{}_pkey", table.name));
    }
    let list: Vec<(String, bool, String, bool)> = conn
        .prepare(
            "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1) ORDER BY seq DESC",
        )?
        .query_map([&table.source_name], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    for (index, unique, origin, partial) in list {
        if origin == "pk" {
            continue;
        }
        let parts: Vec<(i64, Option<String>, bool, String)> = conn
            .prepare("SELECT cid, name, \"desc\", coll FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno")?
            .query_map([&index], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        let object = format!("index {}", show_ident(&index));
        for (_, col, _, coll) in &parts {
            if !coll.eq_ignore_ascii_case("BINARY") {
                warnings.push(Warning::new(&object, format!("collation {} on {} is not carried over; PostgreSQL compares bytes (use lower() in queries or citext)", pgcutover_core::show(coll), col.as_deref().map_or("an expression".to_owned(), show_ident))));
            }
        }
        if origin == "u" {
            let cols: Vec<String> = parts
                .iter()
                .filter_map(|(_, c, _, _)| c.as_deref().and_then(|c| resolve_column(table, c)))
                .collect();
            let name = names.allocate(&format!("{}_{}_key", table.name, cols.join("_")));
            table.uniques.push(Key {
                name,
                columns: cols,
            });
            continue;
        }
        let simple = !partial && parts.iter().all(|(cid, _, _, _)| *cid >= 0);
        let translated = if simple {
            Ok((
                parts
                    .iter()
                    .filter_map(|(_, c, desc, _)| {
                        c.as_deref()
                            .and_then(|c| resolve_column(table, c))
                            .map(|name| IndexPart::Column {
                                name,
                                descending: *desc,
                            })
                    })
                    .collect::<Vec<_>>(),
                None,
            ))
        } else {
            index_sql
                .get(index.as_str())
                .ok_or_else(|| "no CREATE INDEX text".to_owned())
                .and_then(|sql| translate_index(sql, table))
        };
        match translated {
            Ok((parts, predicate)) => {
                let name = names.allocate(&index);
                table.indexes.push(Index {
                    name,
                    unique,
                    parts,
                    predicate,
                    using: None,
                });
            }
            Err(why) => warnings.push(Warning::new(object, format!("not carried over: {why}"))),
        }
    }
    Ok(())
}

/// Parses `CREATE [UNIQUE] INDEX … ON t (parts) [WHERE predicate]` and translates the
/// expression parts and the predicate.
fn translate_index(sql: &str, table: &Table) -> Result<(Vec<IndexPart>, Option<String>), String> {
    let tokens = tokenize(sql)?;
    let on = tokens
        .iter()
        .position(|t| is_word(t, "ON"))
        .ok_or("no ON clause")?;
    let open = tokens[on..]
        .iter()
        .position(|t| matches!(t, Token::Op(o) if o == "("))
        .ok_or("no column list")?
        + on;
    let (inner, after) = balanced(&tokens, open).ok_or("unbalanced parentheses")?;
    let resolve = |n: &str| resolve_column(table, n);
    let mut parts = Vec::new();
    for part in split_commas(inner) {
        let mut p = part;
        let mut descending = false;
        if let [rest @ .., last] = p {
            if is_word(last, "DESC") || is_word(last, "ASC") {
                descending = is_word(last, "DESC");
                p = rest;
            }
        }
        if let Some(i) = p.iter().position(|t| is_word(t, "COLLATE")) {
            p = &p[..i];
        }
        parts.push(match p {
            [Token::Word(n)] | [Token::Quoted(n)] => IndexPart::Column {
                name: resolve(n).ok_or_else(|| format!("unknown column {n:?}"))?,
                descending,
            },
            expr => IndexPart::Expression {
                sql: format!("({})", translate(expr, &resolve)?),
                descending,
            },
        });
    }
    let predicate = match tokens.get(after) {
        Some(t) if is_word(t, "WHERE") => Some(translate(&tokens[after + 1..], &resolve)?),
        Some(t) => return Err(format!("unexpected {t:?} after the column list")),
        None => None,
    };
    Ok((parts, predicate))
}

fn foreign_keys(
    conn: &Connection,
    source: &str,
    tables: &[Table],
    by_source: &HashMap<String, String>,
    names: &mut NameAllocator,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<ForeignKey>, Error> {
    type Row = (i64, String, String, Option<String>, String, String);
    let rows: Vec<Row> = conn
        .prepare("SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?1) ORDER BY id, seq")?
        .query_map([source], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<Result<_, _>>()?;
    let me = tables
        .iter()
        .find(|t| t.source_name == source)
        .expect("caller passes a known table");
    let mut out = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let id = rows[i].0;
        let group: Vec<&Row> = rows[i..].iter().take_while(|r| r.0 == id).collect();
        i += group.len();
        let parent_source = &group[0].1;
        let object = format!(
            "foreign key {} → {}",
            show_ident(&me.name),
            show_ident(parent_source)
        );
        let Some(parent) = by_source
            .get(&parent_source.to_lowercase())
            .and_then(|n| tables.iter().find(|t| &t.name == n))
        else {
            warnings.push(Warning::new(
                object,
                "the referenced table is not part of this copy; foreign key not created",
            ));
            continue;
        };
        let columns: Option<Vec<String>> = group.iter().map(|r| resolve_column(me, &r.2)).collect();
        let ref_columns: Option<Vec<String>> = if group.iter().all(|r| r.3.is_some()) {
            group
                .iter()
                .map(|r| resolve_column(parent, r.3.as_deref().unwrap_or_default()))
                .collect()
        } else {
            parent.primary_key.as_ref().map(|k| k.columns.clone())
        };
        let (Some(columns), Some(ref_columns)) = (columns, ref_columns) else {
            warnings.push(Warning::new(
                object,
                "it names columns that do not exist; foreign key not created",
            ));
            continue;
        };
        let action = |s: &str| FkAction::parse(s).unwrap_or(FkAction::NoAction);
        let name = names.allocate(&format!("{}_{}_fkey", me.name, columns.join("_")));
        out.push(ForeignKey {
            name,
            columns,
            ref_table: parent.name.clone(),
            ref_columns,
            on_delete: action(&group[0].5),
            on_update: action(&group[0].4),
        });
    }
    Ok(out)
}

fn checks(
    table: &Table,
    objects: &[(String, String, Option<String>)],
    names: &mut NameAllocator,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Check>, Error> {
    let sql = objects
        .iter()
        .find(|(k, n, _)| k == "table" && n == &table.source_name)
        .and_then(|(_, _, s)| s.as_deref())
        .unwrap_or_default();
    let Ok(tokens) = tokenize(sql) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if !is_word(t, "CHECK") || !matches!(tokens.get(i + 1), Some(Token::Op(o)) if o == "(") {
            continue;
        }
        let Some((inner, _)) = balanced(&tokens, i + 1) else {
            continue;
        };
        let constraint_name = match (
            i.checked_sub(2).map(|j| &tokens[j]),
            i.checked_sub(1).map(|j| &tokens[j]),
        ) {
            (Some(c), Some(Token::Word(n) | Token::Quoted(n))) if is_word(c, "CONSTRAINT") => {
                Some(n.clone())
            }
            _ => None,
        };
        match translate(inner, &|n| resolve_column(table, n)) {
            Ok(expression) => {
                let name = names
                    .allocate(&constraint_name.unwrap_or_else(|| format!("{}_check", table.name)));
                out.push(Check { name, expression });
            }
            Err(why) => warnings.push(Warning::new(
                format!("table {} CHECK", show_ident(&table.name)),
                format!("not carried over: {why}"),
            )),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema of an in-memory database made by `sql`, every table included.
    fn introspect_sql(sql: &str, epoch: EpochSetting) -> SqliteSchema {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(sql).unwrap();
        let include = |_: &str| true;
        let opts = IntrospectOptions {
            epoch,
            include: &include,
            count_rows: true,
        };
        introspect(&conn, &opts).unwrap()
    }

    /// An INTEGER PRIMARY KEY is the rowid: an identity continuing after sqlite_sequence, the
    /// key rejects name rows by, and the key the table is split on.
    #[test]
    fn integer_primary_key_is_the_rowid_identity() {
        let built = introspect_sql(
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL DEFAULT 'x');
             INSERT INTO t (id, name) VALUES (3, 'a'), (9, 'b');",
            EpochSetting::Auto,
        );
        let t = &built.schema.tables[0];
        let id = t.column("id").unwrap();
        assert_eq!(id.pg_type, PgType::BigInt);
        assert_eq!(id.identity.as_ref().map(|i| i.source_next), Some(Some(10)));
        assert_eq!(
            id.mapping_note,
            "INTEGER PRIMARY KEY AUTOINCREMENT (rowid) → identity"
        );
        assert!(!id.nullable);
        let name = t.column("name").unwrap();
        assert_eq!(name.default.as_deref(), Some("'x'"));
        assert!(!name.nullable);
        assert_eq!(t.source_rows, Some(2));
        let key = t.primary_key.as_ref().unwrap();
        assert_eq!(
            (key.name.as_str(), &key.columns[..]),
            ("t_pkey", &["id".to_owned()][..])
        );
        let read = &built.reads["t"];
        assert_eq!(read.key_columns, [0]);
        assert_eq!(read.rowid, None);
        assert_eq!(
            read.split
                .as_ref()
                .map(|s| (s.column.as_str(), s.min, s.max)),
            Some(("\"id\"", 3, 9))
        );
    }

    /// Without a declared type a column's type follows the storage classes its values have;
    /// integers in a date column are seconds or milliseconds by their size.
    #[test]
    fn dynamic_columns_and_epoch_units_follow_the_data() {
        let built = introspect_sql(
            "CREATE TABLE e (a, b, secs DATETIME, millis DATETIME, g INTEGER GENERATED ALWAYS AS (a + 1),
                             d TEXT DEFAULT (random()));
             INSERT INTO e (a, b, secs, millis) VALUES (1, 'x', 1700000000, 1700000000000);
             INSERT INTO e (a, b, secs, millis) VALUES (2, 2.5, '2024-01-01', NULL);",
            EpochSetting::Auto,
        );
        let t = &built.schema.tables[0];
        let read = &built.reads["e"];
        assert_eq!(
            read.epochs,
            [
                EpochUnit::Seconds,
                EpochUnit::Seconds,
                EpochUnit::Seconds,
                EpochUnit::Millis,
                EpochUnit::Seconds,
                EpochUnit::Seconds
            ]
        );
        assert!(
            t.column("millis")
                .unwrap()
                .mapping_note
                .ends_with("; integers read as Unix epoch milliseconds"),
            "{}",
            t.column("millis").unwrap().mapping_note
        );
        // No primary key: rejects name rows by the rowid, and nothing splits the table.
        assert_eq!(read.key_columns, Vec::<usize>::new());
        assert_eq!(read.rowid.as_deref(), Some("rowid"));
        assert!(read.split.is_none());
        let about = |c: &str| -> Vec<&str> {
            let object = format!("table \"e\" column \"{c}\"");
            built
                .schema
                .warnings
                .iter()
                .filter(|w| w.object == object)
                .map(|w| w.message.as_str())
                .collect()
        };
        assert_eq!(
            about("g"),
            ["generated column: copied as a plain column holding its current values"]
        );
        assert_eq!(t.column("d").unwrap().default, None);
        assert_eq!(
            about("d"),
            ["default dropped: default random() is an expression pgcutover cannot translate"]
        );
    }
}
