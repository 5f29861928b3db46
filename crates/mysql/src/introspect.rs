//! The catalog (plus one scan per table for facts the catalog cannot give) → the schema model.
//!
//! [`build`] is pure: it takes catalog rows and scan facts, so it is tested on catalog rows of
//! servers that cannot run here. [`introspect`] reads both from a live server.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use pgcutover_core::schema::Identity;
use pgcutover_core::{
    column_names, quote_ident, quote_literal, Check, Column, EnumType, FkAction, ForeignKey, Index,
    IndexPart, Key, NameAllocator, PgType, Schema, Table, Warning,
};
use pgcutover_core::{show, show_ident};

use crate::catalog::{read_catalog, Catalog, ColumnRow, Flavor, TableRow};
use crate::charset::Charset;
use crate::convert::{ColumnConv, SourceZone, ZeroDates};
use crate::types::{
    can_convert, default_type, find_cast, take_quoted, take_string, CastRule, Kind, MappingOptions,
};

pub use crate::ident::mysql_ident;

pub struct IntrospectOptions<'a> {
    pub mapping: MappingOptions,
    pub casts: &'a [CastRule],
    pub zero_dates: ZeroDates,
    pub zone: SourceZone,
    pub include: &'a (dyn Fn(&str) -> bool + Sync),
}

/// What reading one table needs, besides its [`Table`].
#[derive(Debug, Clone)]
pub struct TableRead {
    /// `SELECT … FROM db.table`, without WHERE.
    pub select: String,
    pub convs: Vec<ColumnConv>,
    /// Columns (indexes) that identify a row in rejects: the primary key, else a unique key.
    pub key_columns: Vec<usize>,
    /// A single-column integer key to split the table on, with its range.
    pub split: Option<SplitKey>,
}

pub use pgcutover_core::range::SplitKey;

#[derive(Debug)]
pub struct MysqlSchema {
    pub schema: Schema,
    pub reads: HashMap<String, TableRead>,
    pub flavor: Flavor,
    /// Per `--cast` rule (in the order given): whether it decided some copied column's type.
    pub casts_used: Vec<bool>,
}

/// Facts only a scan of the data gives, one query per table.
#[derive(Debug, Clone, Default)]
pub struct TableFacts {
    pub rows: u64,
    /// Columns holding zero or partial dates.
    pub zero_dates: HashSet<String>,
    /// TIME columns holding values outside 00:00:00–23:59:59.999999.
    pub wide_times: HashSet<String>,
    /// ENUM columns holding the '' error value (index 0).
    pub empty_enums: HashSet<String>,
    /// Per ENUM column whose catalog labels may have lost characters (see
    /// `enum_labels_may_be_lossy`): the labels its rows hold, as (index, stored bytes).
    pub enum_labels: HashMap<String, Vec<(usize, Vec<u8>)>>,
    /// min and max of the single-column integer primary key.
    pub key_range: Option<(i64, i64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    #[error("reading the MySQL catalog")]
    Mysql(#[from] mysql_async::Error),
    #[error("{0}")]
    Mapping(String),
}

/// Reads the catalog of the connection's database, scans each included table once, and builds
/// the schema.
pub async fn introspect(
    conn: &mut Conn,
    database: &str,
    opts: &IntrospectOptions<'_>,
) -> Result<MysqlSchema, IntrospectError> {
    let mut catalog = read_catalog(conn, database).await?;
    // The base tables only (a view's columns are in COLUMNS too, and `include` counts what
    // its patterns matched).
    let included: HashSet<&str> = catalog
        .tables
        .iter()
        .filter(|t| (opts.include)(&t.name))
        .map(|t| t.name.as_str())
        .collect();
    let charsets: BTreeSet<String> = catalog
        .columns
        .iter()
        .filter(|c| {
            is_text_type(&c.data_type) && !server_converts(c) && included.contains(c.table.as_str())
        })
        .filter_map(|c| c.charset.clone())
        .collect();
    catalog.charsets = crate::charset::learn_all(conn, charsets).await?;
    let mut facts = HashMap::new();
    for t in catalog.tables.iter().filter(|t| (opts.include)(&t.name)) {
        facts.insert(t.name.clone(), scan(conn, &catalog, &t.name).await?);
    }
    build(&catalog, &facts, opts)
}

/// One pass over a table: its row count and the facts that decide types and nullability.
async fn scan(
    conn: &mut Conn,
    catalog: &Catalog,
    table: &str,
) -> Result<TableFacts, mysql_async::Error> {
    let cols: Vec<&ColumnRow> = catalog
        .columns
        .iter()
        .filter(|c| c.table == table)
        .collect();
    let mut exprs = vec!["COUNT(*)".to_owned()];
    let mut what: Vec<(u8, &str)> = Vec::new();
    for c in &cols {
        let q = mysql_ident(&c.name);
        match c.data_type.as_str() {
            "date" | "datetime" | "timestamp" => {
                exprs.push(format!("SUM(MONTH({q}) = 0 OR DAYOFMONTH({q}) = 0)"));
                what.push((0, &c.name));
            }
            "time" => {
                exprs.push(format!("SUM({q} < '00:00:00' OR {q} >= '24:00:00')"));
                what.push((1, &c.name));
            }
            "enum" => {
                exprs.push(format!("SUM({q} + 0 = 0)"));
                what.push((2, &c.name));
            }
            _ => {}
        }
    }
    let lossy: Vec<&ColumnRow> = cols
        .iter()
        .copied()
        .filter(|c| enum_labels_may_be_lossy(c))
        .collect();
    for c in &lossy {
        let q = mysql_ident(&c.name);
        exprs.push(format!(
            "GROUP_CONCAT(DISTINCT CONCAT({q} + 0, ':', HEX({q})) SEPARATOR ',')"
        ));
    }
    let key = single_integer_key(catalog, table);
    if let Some(k) = key {
        let q = mysql_ident(&k.name);
        exprs.push(format!("MIN({q})"));
        exprs.push(format!("MAX({q})"));
    }
    let sql = format!(
        "SELECT {} FROM {}.{}",
        exprs.join(", "),
        mysql_ident(&catalog.database),
        mysql_ident(table)
    );
    let row: Option<mysql_async::Row> = conn.query_first(sql).await?;
    let n = |i: usize| -> Option<i128> {
        match row.as_ref()?.as_ref(i)? {
            mysql_async::Value::Int(v) => Some(i128::from(*v)),
            mysql_async::Value::UInt(v) => Some(i128::from(*v)),
            mysql_async::Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    };
    let mut facts = TableFacts {
        rows: n(0).unwrap_or(0) as u64,
        ..Default::default()
    };
    for (i, (k, name)) in what.iter().enumerate() {
        if n(i + 1).unwrap_or(0) > 0 {
            let set = match k {
                0 => &mut facts.zero_dates,
                1 => &mut facts.wide_times,
                _ => &mut facts.empty_enums,
            };
            set.insert((*name).to_owned());
        }
    }
    for (i, c) in lossy.iter().enumerate() {
        let held = match row.as_ref().and_then(|r| r.as_ref(what.len() + 1 + i)) {
            Some(mysql_async::Value::Bytes(b)) => parse_held_labels(b),
            _ => Vec::new(),
        };
        facts.enum_labels.insert(c.name.clone(), held);
    }
    if key.is_some() {
        let base = what.len() + lossy.len() + 1;
        if let (Some(lo), Some(hi)) = (n(base), n(base + 1)) {
            if let (Ok(lo), Ok(hi)) = (i64::try_from(lo), i64::try_from(hi)) {
                facts.key_range = Some((lo, hi));
            }
        }
    }
    Ok(facts)
}

/// The charset a text column's bytes are decoded with.
fn column_charset(c: &ColumnRow, learned: &HashMap<String, Charset>) -> Result<Charset, String> {
    if server_converts(c) {
        return Ok(Charset::Utf8 { max_bytes: 4 });
    }
    // Only MySQL 8's JSON type has no charset: it is utf8mb4.
    let name = c.charset.as_deref().unwrap_or("utf8mb4");
    Charset::builtin(name)
        .or_else(|| learned.get(name).cloned())
        .ok_or_else(|| {
            format!("its charset {name} is not one the server could describe; copy its bytes with --cast {}.{}=bytea", c.table, c.name)
        })
}

/// MySQL 8's gb18030 encodes every Unicode character (its four-byte codes cover all planes),
/// so the server's conversion to utf8mb4 loses nothing, and a column stored in it is read
/// converted (`CONVERT(col USING utf8mb4)`) rather than decoded by a learned table, which
/// would hold only its one- and two-byte codes.
fn server_converts(c: &ColumnRow) -> bool {
    is_text_type(&c.data_type)
        && c.charset
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case("gb18030"))
}

/// Whether text of this charset can hold characters beyond U+FFFF, which the utf8mb3 catalog
/// writes as `?` (in labels, defaults and expressions).
fn holds_beyond_bmp(charset: Option<&str>) -> bool {
    matches!(
        charset.map(str::to_ascii_lowercase).as_deref(),
        Some("utf8mb4" | "utf16" | "utf16le" | "utf32" | "gb18030")
    )
}

/// A column's charset, or why it has none pgcutover can decode (which matters only if the
/// column is not copied as its bytes).
type ColumnCharset = Result<Charset, String>;

/// Why catalog text with a `?` in it is not trusted.
const LOSSY_QUESTION_MARK: &str = "it holds a '?', and the catalog (utf8mb3) writes each character beyond U+FFFF (an emoji) as '?', so it may not be what MySQL holds; recreate it in PostgreSQL";

/// How the utf8mb3 catalog writes `text`: each character beyond U+FFFF as `?`.
fn shown_in_catalog(text: &str) -> String {
    text.chars()
        .map(|c| if c.len_utf8() > 3 { '?' } else { c })
        .collect()
}

/// A default with a `?` in a column that can hold characters beyond U+FFFF: an ENUM's is the
/// one label (as read back from the rows, see [`recover_labels`]) the catalog writes that way;
/// any other is not trusted.
fn lossy_default(
    c: &ColumnRow,
    quoted_literals: bool,
    kind: &Kind,
) -> Result<Option<String>, String> {
    let raw = c.default.as_deref().unwrap_or_default().trim();
    let literal = if quoted_literals {
        match take_string(raw) {
            Some((text, used)) if used == raw.len() => text,
            _ => return Err(format!("cannot read the literal {raw}")),
        }
    } else {
        raw.to_owned()
    };
    if let Kind::Enum { labels } = kind {
        let matching: Vec<&String> = labels
            .iter()
            .filter(|l| shown_in_catalog(l) == literal)
            .collect();
        if let [label] = matching.as_slice() {
            return Ok(Some(quote_literal(label)));
        }
    }
    Err(LOSSY_QUESTION_MARK.to_owned())
}

/// Column types whose values are text in a charset.
fn is_text_type(data_type: &str) -> bool {
    matches!(
        data_type,
        "char"
            | "varchar"
            | "tinytext"
            | "text"
            | "mediumtext"
            | "longtext"
            | "enum"
            | "set"
            | "json"
    )
}

/// An ENUM whose labels `information_schema` may show with `?` in place of characters: the
/// catalog is utf8mb3, so a label character beyond the Basic Multilingual Plane (an emoji, in a
/// utf8mb4, utf16 or utf32 column) comes out as `?`, even in SHOW CREATE TABLE. The rows hold
/// the real label, so the scan reads the labels they use.
fn enum_labels_may_be_lossy(c: &ColumnRow) -> bool {
    c.data_type == "enum" && c.column_type.contains('?') && holds_beyond_bmp(c.charset.as_deref())
}

/// `index:HEX,index:HEX,…` (the scan's GROUP_CONCAT) → (index, bytes). A pair that does not
/// parse (the list was cut at group_concat_max_len) is left out.
fn parse_held_labels(list: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let text = String::from_utf8_lossy(list);
    text.split(',')
        .filter_map(|pair| {
            let (index, hex) = pair.split_once(':')?;
            let bytes: Option<Vec<u8>> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect();
            Some((index.parse().ok()?, bytes?))
        })
        .collect()
}

/// Puts back the characters the catalog showed as `?` (see [`enum_labels_may_be_lossy`]) in
/// the labels some row holds; returns the positions of labels still in doubt.
fn recover_labels(
    labels: &mut [String],
    held: &[(usize, Vec<u8>)],
    charset: &crate::charset::Charset,
) -> Vec<usize> {
    let mut confirmed = HashSet::new();
    for (index, bytes) in held {
        let Some(i) = index.checked_sub(1).filter(|&i| i < labels.len()) else {
            continue;
        };
        let Ok(real) = charset.decode(bytes, false) else {
            continue;
        };
        if labels[i] == shown_in_catalog(&real) {
            labels[i] = real.into_owned();
            confirmed.insert(i);
        }
    }
    (0..labels.len())
        .filter(|i| labels[*i].contains('?') && !confirmed.contains(i))
        .collect()
}

/// The primary key's column when it is a single integer column (what a table can be split on).
fn single_integer_key<'a>(catalog: &'a Catalog, table: &str) -> Option<&'a ColumnRow> {
    let pk: Vec<_> = catalog
        .indexes
        .iter()
        .filter(|i| i.table == table && i.name == "PRIMARY")
        .collect();
    match pk.as_slice() {
        [only] => catalog.columns.iter().find(|c| {
            c.table == table
                && Some(&c.name) == only.column.as_ref()
                && matches!(
                    c.data_type.as_str(),
                    "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
                )
        }),
        _ => None,
    }
}

/// `json_valid(`col`)` CHECKs: MariaDB's mark of a JSON column (column name → check name).
fn json_valid_column(clause: &str) -> Option<String> {
    let c = clause.trim();
    let inner = c
        .strip_prefix("json_valid(")
        .or_else(|| c.strip_prefix("JSON_VALID("))?
        .strip_suffix(')')?;
    let inner = inner.trim();
    let name = inner.strip_prefix('`')?.strip_suffix('`')?;
    Some(name.replace("``", "`"))
}

/// The schema model and how to read each table, from catalog rows and scan facts: no I/O, so
/// every decision here is tested on catalog rows of servers that cannot run here.
///
/// The phases: what is not carried over, each included table (columns, generated columns,
/// keys and indexes, CHECKs), foreign keys once every table is named, foreign-key types made
/// to match, and last each column's conversion from its final type.
pub fn build(
    catalog: &Catalog,
    facts: &HashMap<String, TableFacts>,
    opts: &IntrospectOptions<'_>,
) -> Result<MysqlSchema, IntrospectError> {
    let mut shared = Shared {
        warnings: Vec::new(),
        names: NameAllocator::new(),
        enums: Vec::new(),
        casts_used: vec![false; opts.casts.len()],
    };
    shared.warnings.extend(objects_not_carried_over(catalog));
    shared.warnings.extend(objects_not_seen(catalog));
    let json_cols = json_columns(catalog);

    let included: Vec<&TableRow> = catalog
        .tables
        .iter()
        .filter(|t| (opts.include)(&t.name))
        .collect();
    // Table names first, so the first claimant of a name is always the table.
    let targets: Vec<String> = included
        .iter()
        .map(|t| shared.names.allocate(&t.name))
        .collect();
    let by_source: HashMap<&str, &str> = included
        .iter()
        .zip(&targets)
        .map(|(t, n)| (t.name.as_str(), n.as_str()))
        .collect();
    let mut tables = Vec::new();
    let mut reads = HashMap::new();
    let mut all_kinds: HashMap<String, Vec<(Kind, ColumnCharset)>> = HashMap::new();
    for (t, target) in included.iter().zip(&targets) {
        let table_facts = facts.get(&t.name).cloned().unwrap_or_default();
        let cx = TableCx {
            catalog,
            source: t,
            target,
            facts: &table_facts,
            json_cols: &json_cols,
            opts,
        };
        let built = build_table(&cx, &mut shared)?;
        reads.insert(target.clone(), built.read);
        all_kinds.insert(target.clone(), built.kinds);
        tables.push(built.table);
    }

    add_foreign_keys(
        catalog,
        &by_source,
        &mut tables,
        &mut shared.names,
        &mut shared.warnings,
    );
    shared.warnings.extend(pgcutover_core::harmonize_fk_types(
        &mut tables,
        |t, ci, ty| can_convert(&all_kinds[&t.name][ci].0, ty),
    ));
    fill_conversions(&tables, &mut reads, all_kinds, opts)?;

    Ok(MysqlSchema {
        schema: Schema {
            tables,
            warnings: shared.warnings,
            enums: shared.enums,
        },
        reads,
        flavor: catalog.flavor.clone(),
        casts_used: shared.casts_used,
    })
}

/// What every table's build adds to: the warnings, the target's one name space (tables,
/// enum types, constraints and indexes), the enum types, and which `--cast` rules decided a
/// column's type.
struct Shared {
    warnings: Vec<Warning>,
    names: NameAllocator,
    enums: Vec<EnumType>,
    casts_used: Vec<bool>,
}

/// What building one table reads: the catalog, the table's row and target name, what the scan
/// of its rows found, the MariaDB JSON columns and the options.
struct TableCx<'a> {
    catalog: &'a Catalog,
    source: &'a TableRow,
    target: &'a str,
    facts: &'a TableFacts,
    json_cols: &'a HashSet<(String, String)>,
    opts: &'a IntrospectOptions<'a>,
}

impl TableCx<'_> {
    /// The object a column's warnings are about: `table "t" column "c"`.
    fn column_object(&self, column: &str) -> String {
        format!(
            "table {} column {}",
            show_ident(self.target),
            show_ident(column)
        )
    }
}

/// One table as built: the model, how to read it (its conversions still empty), and each
/// column's kind and charset, from which the conversions follow once types are final.
struct BuiltTable {
    table: Table,
    read: TableRead,
    kinds: Vec<(Kind, ColumnCharset)>,
}

/// One column as built.
struct BuiltColumn {
    column: Column,
    kind: Kind,
    charset: ColumnCharset,
    /// Its generation expression and whether it is VIRTUAL, for a generated column.
    generation: Option<(String, bool)>,
    /// The CHECK on its labels, for an ENUM that becomes text.
    check: Option<Check>,
}

/// Views, triggers, routines and events: each named in a warning, as none is carried over.
fn objects_not_carried_over(catalog: &Catalog) -> Vec<Warning> {
    catalog
        .others
        .iter()
        .map(|o| {
            let what = match o.kind {
                "view" => {
                    "views are not carried over (their SQL is MySQL's); recreate them in PostgreSQL"
                }
                "trigger" => "triggers are not carried over; recreate them in PostgreSQL",
                "routine" => "stored procedures and functions are not carried over",
                "event" => "scheduled events are not carried over",
                _ => "not carried over",
            };
            Warning::new(format!("{} {}", o.kind, show_ident(&o.name)), what)
        })
        .collect()
}

/// The kinds of objects the user cannot see for want of a privilege: a warning each, since
/// any there are cannot be listed as not carried over.
fn objects_not_seen(catalog: &Catalog) -> Vec<Warning> {
    let db = &catalog.database;
    catalog.unseen.iter().map(|u| {
        Warning::new(
            format!("source user {}", show(&u.user)),
            format!(
                "has no {} privilege on database {}{}: MySQL hides its {} from it, so any there are cannot be listed here (GRANT {} ON {}.* TO … to see them)",
                u.privilege,
                show(&mysql_ident(db)),
                if u.has_roles {
                    " (unless one of its roles grants it: SHOW GRANTS does not list a role's privileges)"
                } else {
                    ""
                },
                u.what,
                u.privilege,
                show(&mysql_ident(db))
            ),
        )
    }).collect()
}

/// JSON columns (MariaDB), as (table, column): those a `json_valid` CHECK marks as JSON.
fn json_columns(catalog: &Catalog) -> HashSet<(String, String)> {
    catalog
        .checks
        .iter()
        .filter_map(|ch| json_valid_column(&ch.clause).map(|col| (ch.table.clone(), col)))
        .collect()
}

/// One table: its columns, then their generation expressions (once every column's type is
/// known), its keys and indexes, its CHECKs, and how to read it.
fn build_table(cx: &TableCx<'_>, shared: &mut Shared) -> Result<BuiltTable, IntrospectError> {
    let t = cx.source;
    if t.create_options
        .to_ascii_lowercase()
        .contains("partitioned")
    {
        shared.warnings.push(Warning::new(
            format!("table {}", show_ident(cx.target)),
            "partitioned in the source: copied as one plain table (partitioning is not carried over)",
        ));
    }
    let rows: Vec<&ColumnRow> = cx
        .catalog
        .columns
        .iter()
        .filter(|c| c.table == t.name)
        .collect();
    let (col_names, renamed) = column_names(rows.iter().map(|c| c.name.as_str()));
    shared
        .warnings
        .extend(renamed.iter().map(|r| r.warning(cx.target)));
    let mut columns = Vec::new();
    let mut kinds = Vec::new();
    let mut checks = Vec::new();
    let mut generation = Vec::new();
    for (c, name) in rows.iter().zip(col_names) {
        let built = build_column(cx, c, name, shared)?;
        kinds.push((built.kind, built.charset));
        columns.push(built.column);
        generation.push(built.generation);
        checks.extend(built.check);
    }
    add_generated(cx, &rows, &mut columns, &generation, &mut shared.warnings);
    let select = select_sql(&cx.catalog.database, &t.name, &rows, &columns);
    let mut table = Table {
        source_name: t.name.clone(),
        name: cx.target.to_owned(),
        columns,
        primary_key: None,
        uniques: Vec::new(),
        indexes: Vec::new(),
        foreign_keys: Vec::new(),
        checks,
        source_rows: Some(cx.facts.rows),
        comment: (!t.comment.is_empty()).then(|| t.comment.clone()),
    };
    add_indexes(
        cx.catalog,
        t.name.as_str(),
        &rows,
        &mut table,
        &mut shared.names,
        &mut shared.warnings,
    );
    add_checks(
        cx.catalog,
        &t.name,
        &mut table,
        &mut shared.names,
        &mut shared.warnings,
    );
    // The enum labels' CHECKs are named after the table, once the catalog's have their names.
    for ch in &mut table.checks {
        if ch.name.is_empty() {
            ch.name = shared.names.allocate(&format!("{}_check", table.name));
        }
    }
    let read = TableRead {
        select,
        // Filled in once the foreign keys have settled every column's type.
        convs: Vec::new(),
        key_columns: key_columns(&table),
        split: split_key(cx.catalog, &t.name, cx.facts),
    };
    Ok(BuiltTable { table, read, kinds })
}

/// One column: its type, the charset its text is decoded with, its ENUM labels (an enum type,
/// or a CHECK on text), whether it may be NULL, its default, and whether it is an identity.
fn build_column(
    cx: &TableCx<'_>,
    c: &ColumnRow,
    name: String,
    shared: &mut Shared,
) -> Result<BuiltColumn, IntrospectError> {
    let object = cx.column_object(&c.name);
    let json = cx
        .json_cols
        .contains(&(cx.source.name.clone(), c.name.clone()));
    let mut kind =
        Kind::of(c, json).map_err(|e| IntrospectError::Mapping(format!("{object}: {e}")))?;
    let extra = c.extra.to_ascii_lowercase();
    let auto_increment = extra.contains("auto_increment");
    let (mut pg_type, mut note, by_cast) =
        column_type(cx, c, &kind, auto_increment, &mut shared.casts_used)?;
    let charset = text_charset(cx.catalog, c, &kind, &mut note);
    if let (Kind::Enum { labels }, Some(held), Ok(charset)) =
        (&mut kind, cx.facts.enum_labels.get(&c.name), &charset)
    {
        recover_enum_labels(&object, labels, held, charset, &mut shared.warnings);
    }
    let labels = enum_labels(cx, c, &kind, &pg_type, by_cast, &mut shared.warnings);
    if let Some(labels) = &labels {
        enum_to_text_if_unfit(
            &object,
            labels,
            &mut pg_type,
            &mut note,
            &mut shared.warnings,
        );
    }
    let check = enum_type_or_check(
        cx.target,
        &name,
        &mut pg_type,
        labels.filter(|l| checkable_labels(l)),
        shared,
    );
    let nullable = column_nullable(cx, c, &kind, &object, &mut shared.warnings);
    // Not MySQL 8's `DEFAULT_GENERATED`, which marks an expression default.
    let generated = ["virtual generated", "stored generated", "persistent"]
        .iter()
        .any(|g| extra.contains(g));
    let default = if generated || auto_increment {
        None
    } else {
        column_default(
            cx.catalog,
            c,
            &kind,
            &pg_type,
            &object,
            &mut shared.warnings,
        )
    };
    let on_update_now = extra.contains("on update current_timestamp")
        && matches!(pg_type, PgType::Timestamp | PgType::Timestamptz);
    let identity = if auto_increment {
        column_identity(cx.source, &pg_type, &object, &mut shared.warnings)
    } else {
        None
    };
    if identity.is_some() {
        note.push_str("; AUTO_INCREMENT → identity");
    }
    Ok(BuiltColumn {
        column: Column {
            source_name: c.name.clone(),
            name,
            source_type: c.column_type.clone(),
            pg_type,
            nullable,
            default,
            identity,
            mapping_note: note,
            on_update_now,
            comment: (!c.comment.is_empty()).then(|| c.comment.clone()),
            generated: None,
        },
        kind,
        charset,
        generation: generated.then(|| {
            (
                c.generation_expression.clone().unwrap_or_default(),
                extra.contains("virtual"),
            )
        }),
        check,
    })
}

/// The column's PostgreSQL type and the note saying why, and whether a `--cast` decided it:
/// the default mapping, interval for a TIME holding values beyond a day, a `--cast` (marked
/// used), and bigint for an unsigned bigint AUTO_INCREMENT.
fn column_type(
    cx: &TableCx<'_>,
    c: &ColumnRow,
    kind: &Kind,
    auto_increment: bool,
    casts_used: &mut [bool],
) -> Result<(PgType, String, bool), IntrospectError> {
    let opts = cx.opts;
    let (mut pg_type, mut note) = default_type(kind, &opts.mapping);
    if *kind == Kind::Time && cx.facts.wide_times.contains(&c.name) {
        pg_type = PgType::Interval;
        note = "time → interval: it holds values beyond 24 hours or negative".into();
    }
    let cast = find_cast(opts.casts, c);
    if let Some(i) = cast.and_then(|r| opts.casts.iter().position(|x| std::ptr::eq(x, r))) {
        casts_used[i] = true;
    }
    if let Some(rule) = cast {
        if !can_convert(kind, &rule.target) {
            return Err(IntrospectError::Mapping(format!(
                "{}: --cast to {} is not possible from {}",
                cx.column_object(&c.name),
                rule.target.sql(),
                c.column_type
            )));
        }
        pg_type = rule.target.clone();
        note = format!("{} → {} (--cast)", c.column_type, pg_type.sql());
    }
    if auto_increment && matches!(pg_type, PgType::Numeric { .. }) {
        // bigint unsigned AUTO_INCREMENT: ids are positive and far below 2^63 in practice;
        // one that is not is rejected, never wrapped.
        pg_type = PgType::BigInt;
        note =
            "bigint unsigned AUTO_INCREMENT → bigint identity (a value above 2^63-1 is rejected)"
                .into();
    }
    Ok((pg_type, note, cast.is_some()))
}

/// The charset a text column is decoded with (binary for any other), and a word in the note
/// on how text other than utf8mb4 is read. Whether text is copied as its bytes instead is
/// decided by its final type, once foreign keys have settled it.
fn text_charset(catalog: &Catalog, c: &ColumnRow, kind: &Kind, note: &mut String) -> ColumnCharset {
    if !kind.is_text() {
        return Ok(Charset::Binary);
    }
    let charset = column_charset(c, &catalog.charsets);
    // Its charset decides what can arrive.
    if let Ok(cs) = &charset {
        if !matches!(cs, Charset::Utf8 { max_bytes: 4 }) {
            note.push_str(&format!("; {} text, decoded as MySQL maps it", cs.name()));
        } else if server_converts(c) {
            note.push_str("; gb18030 text, read through the server's lossless conversion");
        }
    }
    charset
}

/// Puts back the ENUM labels the catalog showed with `?` from the labels the rows hold (see
/// [`recover_labels`]); a warning for each label still in doubt.
fn recover_enum_labels(
    object: &str,
    labels: &mut [String],
    held: &[(usize, Vec<u8>)],
    charset: &Charset,
    warnings: &mut Vec<Warning>,
) {
    for i in recover_labels(labels, held, charset) {
        warnings.push(Warning::new(
            object,
            format!(
                "label {} reads {:?} in the catalog, which writes each character beyond U+FFFF as '?', and no row holds it to read it from; check the label in PostgreSQL (ALTER TYPE … RENAME VALUE)",
                i + 1,
                labels[i]
            ),
        ));
    }
}

/// The ENUM labels carried over, for a PostgreSQL enum or (`--enum-as text`, not a `--cast`
/// to text) a CHECK on text; None for any other column. MySQL's invalid-enum value '' (index
/// 0) sorts before every label: a column that holds it gets it as its first label.
fn enum_labels(
    cx: &TableCx<'_>,
    c: &ColumnRow,
    kind: &Kind,
    pg_type: &PgType,
    by_cast: bool,
    warnings: &mut Vec<Warning>,
) -> Option<Vec<String>> {
    let Kind::Enum { labels } = kind else {
        return None;
    };
    let carried = matches!(pg_type, PgType::Enum { .. })
        || (cx.opts.mapping.enum_as_text && pg_type.is_text() && !by_cast);
    if !carried {
        return None;
    }
    if cx.facts.empty_enums.contains(&c.name) && !labels.iter().any(|l| l.is_empty()) {
        warnings.push(Warning::new(
            cx.column_object(&c.name),
            "holds '' (MySQL's invalid-enum value); '' becomes its first allowed label",
        ));
        Some(
            std::iter::once(String::new())
                .chain(labels.iter().cloned())
                .collect(),
        )
    } else {
        Some(labels.to_vec())
    }
}

/// Labels that are all different.
fn unique_labels(labels: &[String]) -> bool {
    labels.iter().collect::<HashSet<_>>().len() == labels.len()
}

/// Labels a CHECK can list: all different, and (like all PostgreSQL text) without a NUL.
fn checkable_labels(labels: &[String]) -> bool {
    unique_labels(labels) && !labels.iter().any(|l| l.contains('\0'))
}

/// Whether an enum's labels fit a PostgreSQL enum; if not, the column becomes text, with a
/// warning. PostgreSQL enum labels are at most 63 bytes (NAMEDATALEN), distinct, and, like
/// all its text, hold no NUL; MySQL's may be 255 characters long, and two the catalog shows
/// as `?` may look alike. Such a column is text, with a CHECK on its labels when they can be
/// written as one.
fn enum_to_text_if_unfit(
    object: &str,
    labels: &[String],
    pg_type: &mut PgType,
    note: &mut String,
    warnings: &mut Vec<Warning>,
) {
    if !matches!(pg_type, PgType::Enum { .. }) {
        return;
    }
    let bad = labels.iter().find(|l| l.len() > 63 || l.contains('\0'));
    if bad.is_none() && unique_labels(labels) {
        return;
    }
    let why = match bad {
        Some(bad) => format!(
            "the label {bad:?} cannot be a PostgreSQL enum label (at most 63 bytes, no NUL)"
        ),
        None => "two of its labels read alike in the catalog (see the warning above)".to_owned(),
    };
    let check = if checkable_labels(labels) {
        "with a CHECK on the labels"
    } else {
        "without a CHECK on the labels"
    };
    warnings.push(Warning::new(object, format!("ENUM → text {check}: {why}")));
    *pg_type = PgType::Text;
    *note = format!("enum → text {check} (the labels do not fit a PostgreSQL enum)");
}

/// Where checkable labels go: an enum column gets its enum type (named `<table>_<column>`);
/// a text column (`--enum-as text`, or an enum that did not fit) a CHECK listing them, named
/// later with the table's other unnamed CHECKs.
fn enum_type_or_check(
    target: &str,
    column: &str,
    pg_type: &mut PgType,
    labels: Option<Vec<String>>,
    shared: &mut Shared,
) -> Option<Check> {
    let labels = labels?;
    if let PgType::Enum { name: enum_name } = pg_type {
        *enum_name = shared.names.allocate(&format!("{target}_{column}"));
        shared.enums.push(EnumType {
            name: enum_name.clone(),
            labels,
        });
        return None;
    }
    let list: Vec<String> = labels.iter().map(|l| quote_literal(l)).collect();
    Some(Check {
        name: String::new(),
        expression: format!("{} IN ({})", quote_ident(column), list.join(", ")),
    })
}

/// Whether the column may be NULL: as in the source, except a date column holding zero dates
/// under `--zero-dates null`, whose NOT NULL is dropped (with a warning).
fn column_nullable(
    cx: &TableCx<'_>,
    c: &ColumnRow,
    kind: &Kind,
    object: &str,
    warnings: &mut Vec<Warning>,
) -> bool {
    let zero_dates_become_null = kind.is_temporal_date()
        && cx.facts.zero_dates.contains(&c.name)
        && cx.opts.zero_dates == ZeroDates::Null;
    if zero_dates_become_null && !c.nullable {
        warnings.push(Warning::new(
            object,
            "NOT NULL dropped: it holds zero dates, which become NULL (counted in the report)",
        ));
    }
    c.nullable || zero_dates_become_null
}

/// The column's default as PostgreSQL SQL, or None; a default that does not translate (or
/// that the catalog may have garbled, see [`lossy_default`]) is named in a warning.
fn column_default(
    catalog: &Catalog,
    c: &ColumnRow,
    kind: &Kind,
    pg_type: &PgType,
    object: &str,
    warnings: &mut Vec<Warning>,
) -> Option<String> {
    let quoted = catalog.flavor.quotes_default_literals();
    let lossy = c.default.as_deref().is_some_and(|d| d.contains('?'))
        && holds_beyond_bmp(c.charset.as_deref());
    let translated = if lossy {
        lossy_default(c, quoted, kind)
    } else {
        translate_default(c, quoted, kind, pg_type)
    };
    match translated {
        Ok(d) => d,
        Err(why) => {
            warnings.push(Warning::new(
                object,
                format!(
                    "default {} not carried over: {why}",
                    c.default.as_deref().unwrap_or("")
                ),
            ));
            None
        }
    }
}

/// An AUTO_INCREMENT column's identity, starting after the table's AUTO_INCREMENT counter;
/// None (with a warning) when its type is no longer an integer.
fn column_identity(
    table: &TableRow,
    pg_type: &PgType,
    object: &str,
    warnings: &mut Vec<Warning>,
) -> Option<Identity> {
    if pg_type.is_integer() {
        Some(Identity {
            source_next: table.auto_increment.and_then(|n| i64::try_from(n).ok()),
        })
    } else {
        warnings.push(Warning::new(
            object,
            "AUTO_INCREMENT not carried over: the column is no longer an integer",
        ));
        None
    }
}

/// Generated columns, once every column's type is known: PostgreSQL computes them when the
/// expression means the same there (see [`translate_generated`]), else they hold the source's
/// values; either way a warning says what changed.
fn add_generated(
    cx: &TableCx<'_>,
    rows: &[&ColumnRow],
    columns: &mut [Column],
    generation: &[Option<(String, bool)>],
    warnings: &mut Vec<Warning>,
) {
    for (i, g) in generation.iter().enumerate() {
        let Some((expr, is_virtual)) = g else {
            continue;
        };
        let object = cx.column_object(&rows[i].name);
        if expr.contains('?') {
            warnings.push(Warning::new(
                object,
                format!("generated column ({expr}) copied as a plain column holding its values, not computed: {LOSSY_QUESTION_MARK}"),
            ));
            continue;
        }
        match translate_generated(expr, &columns[i].pg_type, columns, generation) {
            Some(pg) => {
                if *is_virtual {
                    warnings.push(Warning::new(
                        object,
                        "VIRTUAL generated column becomes STORED (PostgreSQL 15 has no virtual columns)",
                    ));
                }
                columns[i].mapping_note.push_str("; generated, computed by PostgreSQL");
                columns[i].generated = Some(pg);
            }
            None => warnings.push(Warning::new(
                object,
                format!(
                    "generated column ({expr}) copied as a plain column holding its values; the expression does not translate to one that gives the same values in PostgreSQL"
                ),
            )),
        }
    }
}

/// `SELECT … FROM db.table` for reading the table: gb18030 text (unless copied as bytes)
/// through the server's conversion to utf8mb4 (see [`server_converts`]).
fn select_sql(database: &str, table: &str, rows: &[&ColumnRow], columns: &[Column]) -> String {
    let list: Vec<String> = rows
        .iter()
        .zip(columns)
        .map(|(c, col)| {
            if server_converts(c) && col.pg_type != PgType::Bytea {
                format!("CONVERT({} USING utf8mb4)", mysql_ident(&c.name))
            } else {
                mysql_ident(&c.name)
            }
        })
        .collect();
    format!(
        "SELECT {} FROM {}.{}",
        list.join(", "),
        mysql_ident(database),
        mysql_ident(table)
    )
}

/// The single integer primary key to split the table on, with the range the scan found.
fn split_key(catalog: &Catalog, table: &str, facts: &TableFacts) -> Option<SplitKey> {
    single_integer_key(catalog, table).and_then(|k| {
        facts.key_range.map(|(min, max)| SplitKey {
            column: mysql_ident(&k.name),
            min,
            max,
        })
    })
}

/// Foreign keys, once every table's name is known: each between two copied tables of the
/// database, over columns that exist; any other is named in a warning.
fn add_foreign_keys(
    catalog: &Catalog,
    by_source: &HashMap<&str, &str>,
    tables: &mut [Table],
    names: &mut NameAllocator,
    warnings: &mut Vec<Warning>,
) {
    let mut fks: BTreeMap<(&str, &str), Vec<&crate::catalog::ForeignKeyRow>> = BTreeMap::new();
    for fk in &catalog.foreign_keys {
        fks.entry((fk.table.as_str(), fk.name.as_str()))
            .or_default()
            .push(fk);
    }
    for ((table, name), parts) in fks {
        let Some(ti) = tables.iter().position(|t| t.source_name == table) else {
            continue;
        };
        let object = format!(
            "foreign key {} on {}",
            show_ident(name),
            show_ident(&tables[ti].name)
        );
        let first = parts[0];
        if !first.ref_schema.eq_ignore_ascii_case(&catalog.database) {
            warnings.push(Warning::new(
                object,
                format!(
                    "references another database ({}); not carried over",
                    first.ref_schema
                ),
            ));
            continue;
        }
        let Some(parent) = by_source.get(first.ref_table.as_str()).copied() else {
            warnings.push(Warning::new(
                object,
                format!(
                    "references {}, which is not copied (--include/--exclude); not carried over",
                    show_ident(&first.ref_table)
                ),
            ));
            continue;
        };
        let pi = tables
            .iter()
            .position(|t| t.name == parent)
            .expect("parent table was built");
        let col = |t: &Table, source: &str| {
            t.columns
                .iter()
                .find(|c| c.source_name == source)
                .map(|c| c.name.clone())
        };
        let columns: Option<Vec<String>> =
            parts.iter().map(|p| col(&tables[ti], &p.column)).collect();
        let ref_columns: Option<Vec<String>> = parts
            .iter()
            .map(|p| col(&tables[pi], &p.ref_column))
            .collect();
        let (Some(columns), Some(ref_columns)) = (columns, ref_columns) else {
            warnings.push(Warning::new(
                object,
                "names columns that do not exist; not carried over",
            ));
            continue;
        };
        let fk_name = names.allocate(name);
        tables[ti].foreign_keys.push(ForeignKey {
            name: fk_name,
            columns,
            ref_table: parent.to_owned(),
            ref_columns,
            on_delete: FkAction::parse(&first.delete_rule).unwrap_or(FkAction::NoAction),
            on_update: FkAction::parse(&first.update_rule).unwrap_or(FkAction::NoAction),
        });
    }
}

/// Each column's conversion, from its kind and its final target column: a bytea column (a
/// `--cast`, or a foreign key to one) holds the bytes as they are; other text needs a charset
/// pgcutover can decode.
fn fill_conversions(
    tables: &[Table],
    reads: &mut HashMap<String, TableRead>,
    mut all_kinds: HashMap<String, Vec<(Kind, ColumnCharset)>>,
    opts: &IntrospectOptions<'_>,
) -> Result<(), IntrospectError> {
    for t in tables {
        let read = reads.get_mut(&t.name).expect("every table has a read");
        let kinds = all_kinds.remove(&t.name).expect("every table has kinds");
        read.convs = kinds
            .into_iter()
            .zip(&t.columns)
            .map(|((kind, charset), c)| {
                let charset = if c.pg_type == PgType::Bytea {
                    Charset::Binary
                } else {
                    charset.map_err(|e| {
                        IntrospectError::Mapping(format!(
                            "table {} column {}: {e}",
                            show_ident(&t.name),
                            show_ident(&c.name)
                        ))
                    })?
                };
                Ok(ColumnConv {
                    kind,
                    target: c.pg_type.clone(),
                    nullable: c.nullable,
                    zero_dates: opts.zero_dates,
                    zone: opts.zone,
                    charset,
                })
            })
            .collect::<Result<_, IntrospectError>>()?;
    }
    Ok(())
}

/// Key columns for naming rows in rejects: the primary key, else the first unique key.
fn key_columns(table: &Table) -> Vec<usize> {
    let key = table.primary_key.as_ref().or(table.uniques.first());
    key.map(|k| {
        k.columns
            .iter()
            .filter_map(|n| table.columns.iter().position(|c| &c.name == n))
            .collect()
    })
    .unwrap_or_default()
}

/// The table's primary key, unique keys and indexes from its STATISTICS rows: a plain unique
/// index is a UNIQUE constraint; prefix parts, FULLTEXT and SPATIAL become what PostgreSQL can
/// hold (with a warning), and an expression key part is not carried over.
fn add_indexes(
    catalog: &Catalog,
    source: &str,
    rows: &[&ColumnRow],
    table: &mut Table,
    names: &mut NameAllocator,
    warnings: &mut Vec<Warning>,
) {
    let mut groups: BTreeMap<&str, Vec<&crate::catalog::IndexRow>> = BTreeMap::new();
    for ix in catalog.indexes.iter().filter(|i| i.table == source) {
        groups.entry(ix.name.as_str()).or_default().push(ix);
    }
    let target_of = |source_col: &str| {
        table
            .columns
            .iter()
            .find(|c| c.source_name == source_col)
            .map(|c| (c.name.clone(), c.pg_type.clone()))
    };
    // PRIMARY first, so that its name is `<table>_pkey` before any index takes it.
    let mut ordered: Vec<(&str, Vec<&crate::catalog::IndexRow>)> = groups.into_iter().collect();
    ordered.sort_by_key(|(n, _)| *n != "PRIMARY");
    // MySQL names the index that backs a foreign key after the constraint; the constraint keeps
    // the name and the index gets `_idx`.
    let fk_names: HashSet<&str> = catalog
        .foreign_keys
        .iter()
        .filter(|f| f.table == source)
        .map(|f| f.name.as_str())
        .collect();
    let index_name = |name: &str| -> String {
        if fk_names.contains(name) {
            format!("{name}_idx")
        } else {
            name.to_owned()
        }
    };
    for (name, parts) in ordered {
        let object = format!("index {} on {}", show_ident(name), show_ident(&table.name));
        let kind = parts[0].index_type.to_ascii_uppercase();
        let unique = !parts[0].non_unique;
        if parts.iter().any(|p| p.column.is_none()) {
            warnings.push(Warning::new(
                object,
                "has an expression key part; not carried over",
            ));
            continue;
        }
        let mut cols = Vec::new();
        for p in &parts {
            match target_of(p.column.as_deref().unwrap_or_default()) {
                Some(c) => cols.push((c, p.sub_part, p.descending)),
                None => break,
            }
        }
        // An index on fewer columns is another index: a unique one would refuse rows the
        // source holds.
        if cols.len() < parts.len() {
            warnings.push(Warning::new(
                object,
                "names a column that does not exist; not carried over",
            ));
            continue;
        }
        if kind == "SPATIAL" {
            let geometry = cols.iter().all(|((n, _), _, _)| {
                table
                    .columns
                    .iter()
                    .any(|c| &c.name == n && matches!(c.pg_type, PgType::Geometry { .. }))
            });
            if !geometry || cols.is_empty() {
                warnings.push(Warning::new(object, "SPATIAL index not carried over: the geometry is copied as WKB bytea (PostGIS is not installed in the target)"));
                continue;
            }
            table.indexes.push(Index {
                name: names.allocate(name),
                unique: false,
                parts: cols
                    .iter()
                    .map(|((n, _), _, _)| IndexPart::Column {
                        name: n.clone(),
                        descending: false,
                    })
                    .collect(),
                predicate: None,
                using: Some("gist".to_owned()),
            });
            continue;
        }
        if kind == "FULLTEXT" {
            let doc: Vec<String> = cols
                .iter()
                .map(|((n, _), _, _)| format!("coalesce({}, '')", quote_ident(n)))
                .collect();
            table.indexes.push(Index {
                name: names.allocate(name),
                unique: false,
                parts: vec![IndexPart::Expression {
                    sql: format!("(to_tsvector('simple', {}))", doc.join(" || ' ' || ")),
                    descending: false,
                }],
                predicate: None,
                using: Some("gin".into()),
            });
            warnings.push(Warning::new(object, "FULLTEXT → GIN index on to_tsvector('simple', …): queries must use to_tsvector('simple', …) @@ … to use it"));
            continue;
        }
        let prefixed = cols.iter().any(|(_, sub, _)| sub.is_some());
        if name == "PRIMARY" && !prefixed {
            table.primary_key = Some(Key {
                name: names.allocate(&format!("{}_pkey", table.name)),
                columns: cols.into_iter().map(|((n, _), _, _)| n).collect(),
            });
            continue;
        }
        if unique && !prefixed && cols.iter().all(|(_, _, d)| !d) {
            table.uniques.push(Key {
                name: names.allocate(if name == "PRIMARY" { &table.name } else { name }),
                columns: cols.into_iter().map(|((n, _), _, _)| n).collect(),
            });
            unique_ci_warning(rows, &parts, table, warnings);
            continue;
        }
        if prefixed {
            warnings.push(Warning::new(
                object.clone(),
                if unique {
                    "prefix key parts → expressions on the same prefix (left(col, n)), so uniqueness means what it meant"
                } else {
                    "prefix key parts → expressions on the same prefix (left(col, n)); queries must use the same expression to use the index"
                },
            ));
        }
        let parts = cols
            .into_iter()
            .map(|((n, ty), sub, descending)| match sub {
                Some(len) if ty == PgType::Bytea => IndexPart::Expression {
                    sql: format!("(substring({} from 1 for {len}))", quote_ident(&n)),
                    descending,
                },
                Some(len) => IndexPart::Expression {
                    sql: format!("(left({}, {len}))", quote_ident(&n)),
                    descending,
                },
                None => IndexPart::Column {
                    name: n,
                    descending,
                },
            })
            .collect();
        table.indexes.push(Index {
            name: names.allocate(&if name == "PRIMARY" {
                format!("{}_pkey", table.name)
            } else {
                index_name(name)
            }),
            unique,
            parts,
            predicate: None,
            using: None,
        });
    }
}

/// A unique key over a case-insensitive column: PostgreSQL compares case-sensitively.
fn unique_ci_warning(
    rows: &[&ColumnRow],
    parts: &[&crate::catalog::IndexRow],
    table: &Table,
    warnings: &mut Vec<Warning>,
) {
    let ci: Vec<&str> = parts
        .iter()
        .filter_map(|p| {
            let c = rows.iter().find(|c| Some(&c.name) == p.column.as_ref())?;
            c.collation
                .as_deref()
                .filter(|col| col.ends_with("_ci"))
                .map(|_| c.name.as_str())
        })
        .collect();
    if !ci.is_empty() {
        warnings.push(Warning::new(
            format!("unique key {} on {}", show_ident(&parts[0].name), show_ident(&table.name)),
            format!("{} compare case-insensitively in the source (collation *_ci) but case-sensitively in PostgreSQL: values differing only in case will no longer collide", ci.iter().map(|c| show_ident(c)).collect::<Vec<_>>().join(", ")),
        ));
    }
}

/// The table's CHECKs that translate (see [`translate_check`]); any other is named in a
/// warning, and a `json_valid` CHECK is left out (it made its column jsonb).
fn add_checks(
    catalog: &Catalog,
    source: &str,
    table: &mut Table,
    names: &mut NameAllocator,
    warnings: &mut Vec<Warning>,
) {
    for ch in catalog.checks.iter().filter(|c| c.table == source) {
        if json_valid_column(&ch.clause).is_some() {
            continue; // it made the column jsonb, which validates by itself
        }
        let object = format!(
            "check {} on {}",
            show_ident(&ch.name),
            show_ident(&table.name)
        );
        if ch.clause.contains('?') {
            warnings.push(Warning::new(
                object,
                format!("({}) not carried over: {LOSSY_QUESTION_MARK}", ch.clause),
            ));
            continue;
        }
        match translate_check(&ch.clause, table) {
            Some(expression) => table.checks.push(Check {
                name: names.allocate(&ch.name),
                expression,
            }),
            None => warnings.push(Warning::new(
                object,
                format!(
                    "({}) uses MySQL syntax pgcutover does not translate; not carried over",
                    ch.clause
                ),
            )),
        }
    }
}

/// The arithmetic a generated column's expression is computed in, chosen by its own type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Arith {
    /// MySQL computes integer `+ - *` in BIGINT.
    Int,
    /// Exact decimal arithmetic.
    Dec,
    /// IEEE double, into which MySQL converts FLOAT and integer operands.
    Float,
}

/// A MySQL generated column's expression as a PostgreSQL one that computes the same value for
/// every row, or None. Only what means the same in both is translated:
/// - `+ - *`, parentheses, unary minus and numeric literals over integer, decimal or floating
///   columns, computed in the arithmetic of the column's own type (integer → bigint, decimal →
///   numeric, real/double → double precision), as MySQL computes them;
/// - `concat(...)` of text columns and string literals into a text column: `||`, which is NULL
///   when any part is, like CONCAT.
///
/// Division, `%`, functions, comparisons and anything else are not translated: their results
/// differ (integer division, division by zero, collations) or cannot be proved the same.
fn translate_generated(
    expr: &str,
    target: &PgType,
    columns: &[Column],
    generation: &[Option<(String, bool)>],
) -> Option<String> {
    // A generated column may not refer to another in PostgreSQL.
    let column = |name: &str| -> Option<&Column> {
        let i = columns.iter().position(|c| c.source_name == name)?;
        generation[i].is_none().then_some(&columns[i])
    };
    let trimmed = expr.trim();
    if target.is_text() {
        let lower = trimmed.to_ascii_lowercase();
        let inner = lower
            .starts_with("concat(")
            .then(|| trimmed.get(7..)?.strip_suffix(')'))??;
        let mut parts = Vec::new();
        let mut rest = inner.trim_start();
        loop {
            let (part, used) = match rest.chars().next()? {
                '`' => {
                    let (name, used) = take_quoted(rest, '`')?;
                    let c = column(&name)?;
                    if !c.pg_type.is_text() {
                        return None;
                    }
                    (quote_ident(&c.name), used)
                }
                '\'' | '_' => {
                    let skip = introducer(rest);
                    let (lit, used) = take_string(&rest[skip..])?;
                    if lit.contains('\0') {
                        return None; // PostgreSQL text cannot hold it
                    }
                    (quote_literal(&lit), skip + used)
                }
                _ => return None,
            };
            parts.push(part);
            rest = rest[used..].trim_start();
            match rest.chars().next() {
                None => break,
                Some(',') => rest = rest[1..].trim_start(),
                Some(_) => return None,
            }
        }
        return (!parts.is_empty()).then(|| format!("({})", parts.join(" || ")));
    }
    let arith = match target {
        t if t.is_integer() => Arith::Int,
        PgType::Numeric { .. } => Arith::Dec,
        PgType::Real | PgType::Double => Arith::Float,
        _ => return None,
    };
    let (cast, literal_ok): (&str, fn(&str) -> bool) = match arith {
        Arith::Int => ("bigint", |l: &str| !l.contains('.')),
        Arith::Dec => ("numeric", |_: &str| true),
        Arith::Float => ("double precision", |_: &str| true),
    };
    let mut out = String::new();
    let mut scale_sum = 0u32;
    let mut multiplies = false;
    let b = trimmed.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'`' => {
                let (name, used) = take_quoted(&trimmed[i..], '`')?;
                let c = column(&name)?;
                let fits = match (&c.pg_type, arith) {
                    (t, _) if t.is_integer() => true,
                    (PgType::Numeric { precision_scale }, Arith::Dec) => {
                        scale_sum += precision_scale.map_or(30, |(_, s)| s);
                        true
                    }
                    (PgType::Real | PgType::Double, Arith::Float) => true,
                    _ => false,
                };
                if !fits {
                    return None;
                }
                out.push_str(&format!("({})::{cast}", quote_ident(&c.name)));
                i += used;
            }
            d if d.is_ascii_digit() => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                let lit = &trimmed[start..i];
                if !literal_ok(lit) || lit.ends_with('.') || lit.matches('.').count() > 1 {
                    return None;
                }
                if let Some((_, frac)) = lit.split_once('.') {
                    scale_sum += frac.len() as u32;
                }
                out.push_str(lit);
            }
            b'*' => {
                multiplies = true;
                out.push('*');
                i += 1;
            }
            c @ (b' ' | b'(' | b')' | b'+' | b'-') => {
                out.push(c as char);
                i += 1;
            }
            _ => return None,
        }
    }
    // MySQL keeps at most 30 decimal places in a product; PostgreSQL keeps them all.
    if arith == Arith::Dec && multiplies && scale_sum > 30 {
        return None;
    }
    (!out.trim().is_empty()).then(|| format!("({})", out.trim()))
}

/// The length of a charset introducer (`_utf8mb4` in MySQL 8's `_utf8mb4'text'`) at the start
/// of `s`, when a quoted literal follows it; else 0. The server has already turned the
/// literal's text into the catalog's charset, so the introducer says nothing more.
fn introducer(s: &str) -> usize {
    let Some(rest) = s.strip_prefix('_') else {
        return 0;
    };
    let word = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    match rest.as_bytes().get(word) {
        Some(b'\'') if word > 0 => 1 + word,
        _ => 0,
    }
}

/// Translates a CHECK clause that uses only column names, literals, comparisons, arithmetic,
/// AND/OR/NOT, IS [NOT] NULL, IN, BETWEEN and LIKE. Anything else: None.
fn translate_check(clause: &str, table: &Table) -> Option<String> {
    let mut out = String::new();
    let b = clause.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let ch = b[i] as char;
        match ch {
            '`' => {
                let (name, used) = take_quoted(&clause[i..], '`')?;
                i += used;
                let target = table.columns.iter().find(|c| c.source_name == name)?;
                out.push_str(&quote_ident(&target.name));
            }
            '\'' | '_' if introducer(&clause[i..]) > 0 || ch == '\'' => {
                // The literal's text, escapes read as MySQL reads them; PostgreSQL's standard
                // strings then hold exactly that text (a LIKE pattern's `\%` included: both
                // engines escape LIKE with a backslash).
                let skip = introducer(&clause[i..]);
                let (lit, used) = take_string(&clause[i + skip..])?;
                if lit.contains('\0') {
                    return None; // PostgreSQL text cannot hold it
                }
                i += skip + used;
                out.push_str(&quote_literal(&lit));
            }
            c if c.is_ascii_digit() || c == '.' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                out.push_str(&clause[start..i]);
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = clause[start..i].to_ascii_uppercase();
                match word.as_str() {
                    "AND" | "OR" | "NOT" | "IS" | "NULL" | "IN" | "BETWEEN" | "LIKE" | "TRUE"
                    | "FALSE" => out.push_str(&word),
                    _ => return None,
                }
            }
            ' ' | '(' | ')' | ',' | '+' | '-' | '*' | '/' | '%' => {
                out.push(ch);
                i += 1;
            }
            '<' | '>' | '=' | '!' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'<' | b'>' | b'=' | b'!') {
                    i += 1;
                }
                match &clause[start..i] {
                    op @ ("=" | "<" | ">" | "<=" | ">=" | "<>") => out.push_str(op),
                    "!=" => out.push_str("<>"),
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// `COLUMN_DEFAULT` → a PostgreSQL default expression. `Ok(None)`: no default.
pub fn translate_default(
    c: &ColumnRow,
    quoted_literals: bool,
    kind: &Kind,
    target: &PgType,
) -> Result<Option<String>, String> {
    let Some(raw) = c.default.as_deref() else {
        return Ok(None);
    };
    let raw = raw.trim();
    if quoted_literals && raw.eq_ignore_ascii_case("NULL") {
        return Ok(None);
    }
    let lower = raw.to_ascii_lowercase();
    // Expressions MySQL and MariaDB write for "now".
    let now_fn = ["current_timestamp", "now", "localtimestamp", "localtime"];
    let is_now = now_fn.iter().any(|f| {
        lower == *f
            || lower
                .strip_prefix(f)
                .is_some_and(|r| r.starts_with('(') && r.ends_with(')'))
    });
    if is_now {
        return match target {
            PgType::Timestamptz => Ok(Some("CURRENT_TIMESTAMP".into())),
            PgType::Timestamp => Ok(Some("LOCALTIMESTAMP".into())),
            PgType::Date => Ok(Some("CURRENT_DATE".into())),
            _ => Err(format!("\"now\" has no meaning for {}", target.sql())),
        };
    }
    if matches!(
        lower.as_str(),
        "curdate()" | "current_date" | "current_date()"
    ) {
        return Ok(Some("CURRENT_DATE".into()));
    }
    if matches!(
        lower.as_str(),
        "curtime()" | "current_time" | "current_time()"
    ) {
        return Ok(Some("LOCALTIME".into()));
    }
    // The literal's text: quoted on MariaDB ≥ 10.2.7, bare on MySQL (where expressions are
    // marked DEFAULT_GENERATED, and bit literals are written b'…').
    let literal: String = if quoted_literals && raw.starts_with('\'') {
        match take_string(raw) {
            Some((text, used)) if used == raw.len() => text,
            _ => return Err(format!("cannot read the literal {raw}")),
        }
    } else if let Some(bits) = lower.strip_prefix("b'").and_then(|r| r.strip_suffix('\'')) {
        let n = u64::from_str_radix(bits, 2).map_err(|_| format!("bad bit literal {raw}"))?;
        return match target {
            PgType::Boolean => Ok(Some((n != 0).to_string())),
            PgType::VarBit { length } => {
                Ok(Some(format!("B'{:0width$b}'", n, width = *length as usize)))
            }
            t if t.is_integer() => Ok(Some(n.to_string())),
            _ => Err(format!("a bit literal has no meaning for {}", target.sql())),
        };
    } else if quoted_literals || c.extra.to_ascii_lowercase().contains("default_generated") {
        // A bare word on MariaDB, or a MySQL 8 DEFAULT (expr): numbers pass, expressions do not.
        if raw.parse::<f64>().is_ok() {
            raw.to_owned()
        } else {
            return Err("an expression pgcutover does not translate".into());
        }
    } else {
        raw.to_owned()
    };
    if literal.contains('\0') {
        return Err("it contains a NUL character, which PostgreSQL text cannot hold".into());
    }
    let typed = |ty: &str| Ok(Some(format!("{}::{ty}", quote_literal(&literal))));
    match target {
        PgType::Boolean => match literal.as_str() {
            "0" => Ok(Some("false".into())),
            "1" => Ok(Some("true".into())),
            _ => Err(format!("{literal} is not 0 or 1")),
        },
        t if t.is_integer()
            || matches!(t, PgType::Numeric { .. } | PgType::Real | PgType::Double) =>
        {
            if literal.parse::<f64>().is_ok() && !literal.is_empty() {
                Ok(Some(literal))
            } else {
                Err(format!("{literal:?} is not a number"))
            }
        }
        PgType::Date | PgType::Timestamp | PgType::Timestamptz => {
            if literal.starts_with("0000-00-00") || literal.contains("-00") {
                return Err("a zero date, which PostgreSQL cannot hold".into());
            }
            match (target, kind) {
                (PgType::Timestamptz, Kind::Timestamp) => Ok(Some(format!(
                    "{}::timestamptz",
                    quote_literal(&format!("{literal}+00"))
                ))),
                (PgType::Timestamptz, _) => {
                    Err("a DATETIME default read in --source-timezone".into())
                }
                _ => typed(&target.sql()),
            }
        }
        PgType::Time | PgType::Interval => typed(&target.sql()),
        PgType::Text | PgType::Varchar { .. } | PgType::Enum { .. } => {
            Ok(Some(quote_literal(&literal)))
        }
        PgType::TextArray => {
            let items: Vec<String> = if literal.is_empty() {
                Vec::new()
            } else {
                literal.split(',').map(quote_literal).collect()
            };
            Ok(Some(format!("ARRAY[{}]::text[]", items.join(", "))))
        }
        PgType::Jsonb => typed("jsonb"),
        PgType::Uuid => typed("uuid"),
        PgType::Bytea => {
            let hex: String = literal.bytes().map(|b| format!("{b:02x}")).collect();
            Ok(Some(format!("'\\x{hex}'::bytea")))
        }
        _ => Err(format!("no translation to {}", target.sql())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{CheckRow, ForeignKeyRow, IndexRow, TableRow};

    fn col(
        table: &str,
        name: &str,
        data_type: &str,
        column_type: &str,
        extra: &str,
        default: Option<&str>,
    ) -> ColumnRow {
        ColumnRow {
            table: table.into(),
            name: name.into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            extra: extra.into(),
            default: default.map(Into::into),
            nullable: false,
            ..Default::default()
        }
    }

    /// A nullable column of that name and type, nothing else about it.
    fn plain_column(name: &str, pg_type: PgType) -> Column {
        Column {
            source_name: name.into(),
            name: name.into(),
            source_type: String::new(),
            pg_type,
            nullable: true,
            default: None,
            identity: None,
            mapping_note: String::new(),
            on_update_now: false,
            comment: None,
            generated: None,
        }
    }

    #[test]
    fn generated_expressions_translate_only_when_they_mean_the_same() {
        let c = plain_column;
        let dec = |p, s| PgType::Numeric {
            precision_scale: Some((p, s)),
        };
        let cols = vec![
            c("price", dec(10, 2)),
            c("qty", PgType::Integer),
            c("d", PgType::Double),
            c("f", PgType::Varchar { length: 10 }),
            c("l", PgType::Text),
            c("flag", PgType::Boolean),
            c("big", dec(65, 30)),
            c("g", PgType::BigInt),
        ];
        // `g` is itself generated: PostgreSQL cannot refer to it.
        let mut generation = vec![None; cols.len()];
        generation[7] = Some(("`qty` + 1".to_owned(), false));
        let t = |expr: &str, target: PgType| translate_generated(expr, &target, &cols, &generation);
        assert_eq!(
            t("`price` * `qty`", dec(12, 2)).as_deref(),
            Some(r#"(("price")::numeric * ("qty")::numeric)"#)
        );
        assert_eq!(
            t("-`qty` + 1", PgType::Integer).as_deref(),
            Some(r#"(-("qty")::bigint + 1)"#)
        );
        assert_eq!(
            t("`d` * 2.5 + `qty`", PgType::Double).as_deref(),
            Some(r#"(("d")::double precision * 2.5 + ("qty")::double precision)"#)
        );
        assert_eq!(
            t("concat(`f`,' ',`l`,'it''s')", PgType::Text).as_deref(),
            Some(r#"("f" || ' ' || "l" || 'it''s')"#)
        );
        // Escapes as MySQL reads them; MySQL 8 writes charset introducers.
        assert_eq!(
            t("concat(`f`,'a\\\\b\\'c')", PgType::Text).as_deref(),
            Some(r#"("f" || 'a\b''c')"#)
        );
        assert_eq!(
            t("concat(`f`,_utf8mb4' ',`l`)", PgType::Text).as_deref(),
            Some(r#"("f" || ' ' || "l")"#)
        );
        for (expr, target, why) in [
            ("`price` / `qty`", dec(12, 2), "division"),
            (
                "`qty` % 3",
                PgType::Integer,
                "modulo by zero is NULL in MySQL",
            ),
            (
                "`qty` * 2.5",
                PgType::Integer,
                "a decimal literal in integer arithmetic",
            ),
            (
                "`price` * 2",
                PgType::Integer,
                "decimal into an integer column",
            ),
            ("`d` + 1", dec(10, 2), "double into a decimal column"),
            ("`flag` + 1", PgType::Integer, "a boolean"),
            ("`g` * 2", PgType::BigInt, "another generated column"),
            (
                "`big` * `big`",
                dec(65, 30),
                "a product beyond MySQL's 30 decimals",
            ),
            (
                "json_unquote(json_extract(`j`,'$.name'))",
                PgType::Text,
                "a function",
            ),
            ("concat(`qty`,'x')", PgType::Text, "a number in concat"),
            (
                "concat(`f`,'a\\0')",
                PgType::Text,
                "a NUL PostgreSQL cannot hold",
            ),
            ("`qty` > 1", PgType::Boolean, "a comparison"),
            ("`nope` + 1", PgType::Integer, "an unknown column"),
        ] {
            assert_eq!(t(expr, target), None, "{expr} must not translate: {why}");
        }
    }

    #[test]
    fn check_literals_are_read_as_mysql_reads_them() {
        let col = |name: &str| plain_column(name, PgType::Text);
        let table = Table {
            source_name: "t".into(),
            name: "t".into(),
            columns: vec![col("a"), col("b")],
            primary_key: None,
            uniques: vec![],
            indexes: vec![],
            foreign_keys: vec![],
            checks: vec![],
            source_rows: None,
            comment: None,
        };
        // As MariaDB 10.11 writes CHECK_CLAUSE (read off the server): `\'` for a quote, `\\`
        // for a backslash, `\n` for a newline; a LIKE pattern's `\%` keeps its backslash.
        assert_eq!(
            translate_check(r"`a` <> 'q\\\n\'z' and `b` like 'a\\%b'", &table).as_deref(),
            Some("\"a\" <> 'q\\\n''z' AND \"b\" LIKE 'a\\%b'")
        );
        // MySQL 8 writes charset introducers.
        assert_eq!(
            translate_check("(`a` <> _utf8mb4'x')", &table).as_deref(),
            Some("(\"a\" <> 'x')")
        );
        // A NUL cannot be in PostgreSQL text; an unknown word is not translated.
        assert_eq!(translate_check(r"`a` <> 'x\0'", &table), None);
        assert_eq!(translate_check("`a` <> _nope", &table), None);
    }

    fn pk(table: &str, column: &str) -> IndexRow {
        IndexRow {
            table: table.into(),
            name: "PRIMARY".into(),
            non_unique: false,
            seq: 1,
            column: Some(column.into()),
            index_type: "BTREE".into(),
            ..Default::default()
        }
    }

    fn fk(table: &str, name: &str, column: &str, parent: &str) -> ForeignKeyRow {
        ForeignKeyRow {
            table: table.into(),
            name: name.into(),
            seq: 1,
            column: column.into(),
            ref_schema: "shop".into(),
            ref_table: parent.into(),
            ref_column: "id".into(),
            update_rule: "NO ACTION".into(),
            delete_rule: "CASCADE".into(),
        }
    }

    /// The schema with the default mapping, every table included, no scan facts.
    fn build_default(catalog: &Catalog) -> MysqlSchema {
        build_with_facts(catalog, &HashMap::new())
    }

    /// The schema with the default mapping, every table included, and what a scan of the
    /// rows found.
    fn build_with_facts(catalog: &Catalog, facts: &HashMap<String, TableFacts>) -> MysqlSchema {
        let include = |_: &str| true;
        let opts = IntrospectOptions {
            mapping: MappingOptions::default(),
            casts: &[],
            zero_dates: ZeroDates::Null,
            zone: SourceZone::Utc,
            include: &include,
        };
        build(catalog, facts, &opts).unwrap()
    }

    #[test]
    fn catalog_text_beyond_the_bmp_and_gb18030() {
        // MySQL 8 catalog rows: labels an emoji made '?' (MySQL accepts two of them; MariaDB
        // refuses them as duplicates), an ENUM default and a text default the same way, and a
        // gb18030 column.
        let utf8mb4 =
            |name: &str, data_type: &str, column_type: &str, default: Option<&str>| ColumnRow {
                charset: Some("utf8mb4".into()),
                nullable: true,
                ..col("t", name, data_type, column_type, "", default)
            };
        let catalog = Catalog {
            flavor: Flavor::parse("8.0.36"),
            database: "shop".into(),
            tables: vec![TableRow {
                name: "t".into(),
                ..Default::default()
            }],
            columns: vec![
                col("t", "id", "int", "int", "", None),
                utf8mb4("twins", "enum", "enum('?','?','x')", None),
                utf8mb4("mood", "enum", "enum('?','b')", Some("?")),
                utf8mb4("note", "varchar", "varchar(10)", Some("?")),
                ColumnRow {
                    charset: Some("gb18030".into()),
                    ..col("t", "cn", "varchar", "varchar(10)", "", None)
                },
            ],
            indexes: vec![pk("t", "id")],
            foreign_keys: vec![],
            checks: vec![],
            others: vec![],
            unseen: vec![],
            charsets: Default::default(),
        };
        // The scan found no row holding any of the '?' labels.
        let facts = HashMap::from([(
            "t".to_owned(),
            TableFacts {
                enum_labels: HashMap::from([
                    ("twins".to_owned(), vec![]),
                    ("mood".to_owned(), vec![]),
                ]),
                ..Default::default()
            },
        )]);
        let built = build_with_facts(&catalog, &facts);
        let t = &built.schema.tables[0];
        let warning = |column: &str| {
            built
                .schema
                .warnings
                .iter()
                .filter(|w| w.object.ends_with(&format!("column \"{column}\"")))
                .map(|w| w.message.clone())
                .collect::<Vec<_>>()
                .join(" | ")
        };
        // Two labels that read alike cannot be an enum, nor a CHECK.
        assert_eq!(t.column("twins").unwrap().pg_type, PgType::Text);
        assert!(
            warning("twins").contains("without a CHECK"),
            "{}",
            warning("twins")
        );
        assert!(t.checks.is_empty(), "{:?}", t.checks);
        // No row held the label: it stays the catalog's '?', named in a warning, and the
        // default is that label (renaming the label later carries the default along). A text
        // default is not trusted.
        assert_eq!(t.column("mood").unwrap().default.as_deref(), Some("'?'"));
        assert!(
            warning("mood").contains("no row holds it"),
            "{}",
            warning("mood")
        );
        assert_eq!(t.column("note").unwrap().default, None);
        assert!(
            warning("note").contains("default ? not carried over"),
            "{}",
            warning("note")
        );
        // gb18030 is read through the server's conversion, which loses nothing.
        let read = &built.reads["t"];
        assert!(
            read.select.contains("CONVERT(`cn` USING utf8mb4)"),
            "{}",
            read.select
        );
        assert_eq!(read.convs[4].charset, Charset::Utf8 { max_bytes: 4 });
    }

    #[test]
    fn mysql8_0900_collations_decode_as_utf8_and_warn_on_case_insensitive_unique_keys() {
        let text = |name: &str, collation: &str| ColumnRow {
            char_max_length: Some(40),
            charset: Some("utf8mb4".into()),
            collation: Some(collation.into()),
            ..col("users", name, "varchar", "varchar(40)", "", None)
        };
        let unique = |name: &str, column: &str| IndexRow {
            name: name.into(),
            ..pk("users", column)
        };
        let catalog = Catalog {
            flavor: Flavor::parse("8.0.36"),
            database: "shop".into(),
            tables: vec![TableRow {
                name: "users".into(),
                engine: Some("InnoDB".into()),
                ..Default::default()
            }],
            columns: vec![
                col("users", "id", "int", "int", "", None),
                text("email", "utf8mb4_0900_ai_ci"),
                text("login", "utf8mb4_0900_as_cs"),
                text("token", "utf8mb4_0900_bin"),
                text("handle", "utf8mb4_0900_as_ci"),
            ],
            indexes: vec![
                pk("users", "id"),
                unique("email_uq", "email"),
                unique("login_uq", "login"),
                unique("token_uq", "token"),
                unique("handle_uq", "handle"),
            ],
            foreign_keys: vec![],
            checks: vec![],
            others: vec![],
            unseen: vec![],
            charsets: Default::default(),
        };
        let built = build_default(&catalog);
        let users = &built.schema.tables[0];
        for c in ["email", "login", "token", "handle"] {
            // The server sends utf8mb4 whatever the collation: plain varchar.
            assert_eq!(
                users.column(c).unwrap().pg_type,
                PgType::Varchar { length: 40 }
            );
        }
        assert_eq!(users.uniques.len(), 4);
        let warned: Vec<&str> = built
            .schema
            .warnings
            .iter()
            .filter(|w| w.message.contains("case-insensitively"))
            .map(|w| w.object.as_str())
            .collect();
        assert_eq!(
            warned,
            [
                "unique key \"email_uq\" on \"users\"",
                "unique key \"handle_uq\" on \"users\""
            ]
        );
    }

    fn mysql8_catalog() -> Catalog {
        let table = |name: &str, ai: Option<u64>| TableRow {
            name: name.into(),
            engine: Some("InnoDB".into()),
            auto_increment: ai,
            ..Default::default()
        };
        Catalog {
            flavor: Flavor::parse("8.0.36"),
            database: "shop".into(),
            tables: vec![
                table("customers", Some(42)),
                table("orders", None),
                table("notes", None),
            ],
            columns: vec![
                col(
                    "customers",
                    "id",
                    "int",
                    "int unsigned",
                    "auto_increment",
                    None,
                ),
                col("customers", "vip", "tinyint", "tinyint(1)", "", Some("0")),
                col(
                    "customers",
                    "created",
                    "timestamp",
                    "timestamp",
                    "DEFAULT_GENERATED on update CURRENT_TIMESTAMP",
                    Some("CURRENT_TIMESTAMP"),
                ),
                ColumnRow {
                    char_max_length: Some(10),
                    ..col(
                        "customers",
                        "tag",
                        "varchar",
                        "varchar(10)",
                        "",
                        Some("new"),
                    )
                },
                col(
                    "customers",
                    "score",
                    "decimal",
                    "decimal(5,2)",
                    "DEFAULT_GENERATED",
                    Some("(rand() * 10)"),
                ),
                col(
                    "orders",
                    "id",
                    "bigint",
                    "bigint unsigned",
                    "auto_increment",
                    None,
                ),
                col("orders", "customer_id", "int", "int", "", None),
                col(
                    "orders",
                    "amount",
                    "decimal",
                    "decimal(10,2)",
                    "",
                    Some("0.00"),
                ),
                col("notes", "id", "int", "int", "", None),
                // A text column referencing an integer key cannot take its type.
                ColumnRow {
                    char_max_length: Some(20),
                    ..col("notes", "customer_ref", "varchar", "varchar(20)", "", None)
                },
            ],
            indexes: vec![pk("customers", "id"), pk("orders", "id"), pk("notes", "id")],
            foreign_keys: vec![
                fk("orders", "orders_customer", "customer_id", "customers"),
                fk("notes", "notes_customer", "customer_ref", "customers"),
            ],
            checks: vec![CheckRow {
                table: "orders".into(),
                name: "orders_chk_1".into(),
                clause: "(`amount` >= 0)".into(),
            }],
            others: vec![],
            unseen: vec![],
            charsets: Default::default(),
        }
    }

    /// What MariaDB 10.11's information_schema says about one table: quoted literal defaults,
    /// `NULL` as the text NULL, `current_timestamp()` with an ON UPDATE, a STORED generated
    /// column, a named CHECK, a composite unique key, a prefix index and a FULLTEXT index.
    /// Each comes out as PostgreSQL will be given it, or as a warning.
    #[test]
    fn mariadb_catalog_rows_become_defaults_generated_columns_checks_and_indexes() {
        let idx = |name: &str, seq: u32, column: &str, unique: bool| IndexRow {
            table: "items".into(),
            name: name.into(),
            non_unique: !unique,
            seq,
            column: Some(column.into()),
            index_type: "BTREE".into(),
            ..Default::default()
        };
        let nullable = |c: ColumnRow| ColumnRow {
            nullable: true,
            ..c
        };
        let catalog = Catalog {
            flavor: Flavor::parse("10.11.19-MariaDB"),
            database: "shop".into(),
            tables: vec![TableRow {
                name: "items".into(),
                ..Default::default()
            }],
            columns: vec![
                col("items", "id", "int", "int(11)", "auto_increment", None),
                col(
                    "items",
                    "sku",
                    "varchar",
                    "varchar(20)",
                    "",
                    Some("'it''s'"),
                ),
                nullable(col("items", "note", "text", "text", "", Some("NULL"))),
                col("items", "qty", "int", "int(11)", "", Some("0")),
                ColumnRow {
                    numeric_precision: Some(8),
                    numeric_scale: Some(2),
                    ..col(
                        "items",
                        "price",
                        "decimal",
                        "decimal(8,2)",
                        "",
                        Some("1.50"),
                    )
                },
                col(
                    "items",
                    "changed",
                    "timestamp",
                    "timestamp",
                    "on update current_timestamp()",
                    Some("current_timestamp()"),
                ),
                ColumnRow {
                    generation_expression: Some("`qty` * `price`".into()),
                    numeric_precision: Some(10),
                    numeric_scale: Some(2),
                    ..nullable(col(
                        "items",
                        "total",
                        "decimal",
                        "decimal(10,2)",
                        "STORED GENERATED",
                        None,
                    ))
                },
                nullable(col("items", "body", "text", "text", "", None)),
            ],
            indexes: vec![
                pk("items", "id"),
                idx("sku_qty", 1, "sku", true),
                idx("sku_qty", 2, "qty", true),
                IndexRow {
                    sub_part: Some(10),
                    ..idx("note_prefix", 1, "note", false)
                },
                IndexRow {
                    index_type: "FULLTEXT".into(),
                    ..idx("body_text", 1, "body", false)
                },
            ],
            foreign_keys: vec![],
            checks: vec![CheckRow {
                table: "items".into(),
                name: "qty_positive".into(),
                clause: "`qty` >= 0".into(),
            }],
            others: vec![],
            unseen: vec![],
            charsets: Default::default(),
        };
        let built = build_default(&catalog);
        let t = &built.schema.tables[0];
        let default = |c: &str| t.column(c).unwrap().default.clone();
        assert_eq!(default("sku").as_deref(), Some("'it''s'"));
        assert_eq!(default("note"), None, "the text NULL is no default");
        assert_eq!(default("qty").as_deref(), Some("0"));
        assert_eq!(default("price").as_deref(), Some("1.50"));
        assert_eq!(default("changed").as_deref(), Some("CURRENT_TIMESTAMP"));
        assert!(t.column("changed").unwrap().on_update_now);
        assert!(t.column("id").unwrap().identity.is_some());
        let total = t.column("total").unwrap();
        // MySQL multiplies an int by a decimal as decimals; so does the translation.
        assert_eq!(
            total.generated.as_deref(),
            Some("((\"qty\")::numeric * (\"price\")::numeric)"),
            "{total:?}"
        );
        assert_eq!(
            total.pg_type,
            PgType::Numeric {
                precision_scale: Some((10, 2))
            }
        );
        assert_eq!(t.checks.len(), 1, "{:?}", t.checks);
        assert_eq!(t.checks[0].name, "qty_positive");
        assert_eq!(t.checks[0].expression, "\"qty\" >= 0");
        let index = |name: &str| t.indexes.iter().find(|i| i.name == name);
        // A unique index over plain columns is a UNIQUE constraint, in key order.
        assert_eq!(t.uniques.len(), 1);
        assert_eq!(t.uniques[0].name, "sku_qty");
        assert_eq!(t.uniques[0].columns, ["sku", "qty"]);
        let prefix = index("note_prefix").expect("the prefix index");
        assert!(
            matches!(&prefix.parts[0], IndexPart::Expression { sql, .. } if sql.contains("left(") && sql.contains("10")),
            "{prefix:?}"
        );
        let fulltext = index("body_text").expect("the FULLTEXT index");
        assert_eq!(fulltext.using.as_deref(), Some("gin"), "{fulltext:?}");
        // Both index translations change how queries must be written: each says so.
        for name in ["body_text", "note_prefix"] {
            assert!(
                built
                    .schema
                    .warnings
                    .iter()
                    .any(|w| w.object == format!("index \"{name}\" on \"items\"")),
                "{name}: {:?}",
                built.schema.warnings
            );
        }
    }

    #[test]
    fn builds_a_mysql8_schema() {
        let catalog = mysql8_catalog();
        let built = build_default(&catalog);
        let table = |n: &str| built.schema.tables.iter().find(|t| t.name == n).unwrap();
        let column = |t: &str, c: &str| table(t).column(c).unwrap().clone();

        assert_eq!(column("customers", "id").pg_type, PgType::BigInt);
        assert_eq!(
            column("customers", "id")
                .identity
                .as_ref()
                .unwrap()
                .source_next,
            Some(42)
        );
        assert_eq!(column("customers", "vip").pg_type, PgType::Boolean);
        assert_eq!(column("customers", "vip").default.as_deref(), Some("false"));
        assert_eq!(
            column("customers", "created").default.as_deref(),
            Some("CURRENT_TIMESTAMP")
        );
        assert!(column("customers", "created").on_update_now);
        // MySQL 8 writes literal defaults bare.
        assert_eq!(column("customers", "tag").default.as_deref(), Some("'new'"));
        assert_eq!(column("customers", "score").default, None);
        // bigint unsigned AUTO_INCREMENT → bigint identity; the int FK column follows its parent.
        assert_eq!(column("orders", "id").pg_type, PgType::BigInt);
        assert_eq!(column("orders", "customer_id").pg_type, PgType::BigInt);
        assert!(column("orders", "customer_id")
            .mapping_note
            .contains("to match \"customers\".\"id\""));
        assert_eq!(
            built.reads["orders"].convs[1].target,
            PgType::BigInt,
            "the reader converts to the harmonized type"
        );
        assert_eq!(table("orders").checks[0].expression, "(\"amount\" >= 0)");
        // The text column keeps its type, with one warning (not one per pass).
        assert_eq!(
            column("notes", "customer_ref").pg_type,
            PgType::Varchar { length: 20 }
        );
        let about: Vec<_> = built
            .schema
            .warnings
            .iter()
            .filter(|w| w.object.contains("customer_ref"))
            .collect();
        assert_eq!(about.len(), 1, "{about:?}");
        let score: Vec<_> = built
            .schema
            .warnings
            .iter()
            .filter(|w| w.object.contains("score"))
            .collect();
        assert!(score[0].message.contains("not carried over"), "{score:?}");
    }

    /// A catalog of one table `t` in database `shop`, as a server of that version writes it.
    fn one_table(
        version: &str,
        columns: Vec<ColumnRow>,
        indexes: Vec<IndexRow>,
        checks: Vec<CheckRow>,
    ) -> Catalog {
        Catalog {
            flavor: Flavor::parse(version),
            database: "shop".into(),
            tables: vec![TableRow {
                name: "t".into(),
                ..Default::default()
            }],
            columns,
            indexes,
            foreign_keys: vec![],
            checks,
            others: vec![],
            unseen: vec![],
            charsets: Default::default(),
        }
    }

    /// The messages of the warnings about exactly that object, in order.
    fn warnings_about(built: &MysqlSchema, object: &str) -> Vec<String> {
        built
            .schema
            .warnings
            .iter()
            .filter(|w| w.object == object)
            .map(|w| w.message.clone())
            .collect()
    }

    /// An index part as one line: `left("a", 10) desc`, `"b"`.
    fn show_part(p: &IndexPart) -> String {
        let (text, descending) = match p {
            IndexPart::Column { name, descending } => (quote_ident(name), descending),
            IndexPart::Expression { sql, descending } => (sql.clone(), descending),
        };
        if *descending {
            format!("{text} desc")
        } else {
            text
        }
    }

    /// An index whose catalog rows name a column the table does not have is left out whole:
    /// a unique key on fewer columns would refuse rows the source holds.
    #[test]
    fn an_index_on_a_missing_column_is_not_carried_over_narrower() {
        let catalog = one_table(
            "10.11.6-MariaDB",
            vec![
                col("t", "id", "int", "int", "", None),
                col("t", "a", "int", "int", "", None),
            ],
            vec![
                pk("t", "id"),
                IndexRow {
                    name: "a_ghost".into(),
                    non_unique: false,
                    ..pk("t", "a")
                },
                IndexRow {
                    name: "a_ghost".into(),
                    non_unique: false,
                    seq: 2,
                    ..pk("t", "ghost")
                },
            ],
            vec![],
        );
        let built = build_default(&catalog);
        let t = &built.schema.tables[0];
        assert!(t.uniques.is_empty(), "{:?}", t.uniques);
        assert!(t.indexes.is_empty(), "{:?}", t.indexes);
        assert_eq!(
            warnings_about(&built, "index \"a_ghost\" on \"t\""),
            ["names a column that does not exist; not carried over"]
        );
    }

    /// MySQL 8 writes literal defaults bare (no quotes, no escapes) and marks expressions
    /// DEFAULT_GENERATED; "now" becomes the function of the column's target type.
    #[test]
    fn mysql8_defaults_translate_to_the_target_type() {
        let catalog = one_table(
            "8.0.36",
            vec![
                col("t", "id", "int", "int", "", None),
                col(
                    "t",
                    "created",
                    "timestamp",
                    "timestamp",
                    "DEFAULT_GENERATED",
                    Some("CURRENT_TIMESTAMP"),
                ),
                ColumnRow {
                    datetime_precision: Some(6),
                    ..col(
                        "t",
                        "changed",
                        "datetime",
                        "datetime(6)",
                        "DEFAULT_GENERATED on update CURRENT_TIMESTAMP(6)",
                        Some("CURRENT_TIMESTAMP(6)"),
                    )
                },
                col("t", "day", "date", "date", "", Some("2024-02-29")),
                col(
                    "t",
                    "since",
                    "datetime",
                    "datetime",
                    "",
                    Some("2024-02-29 12:34:56"),
                ),
                col(
                    "t",
                    "zero",
                    "datetime",
                    "datetime",
                    "",
                    Some("0000-00-00 00:00:00"),
                ),
                ColumnRow {
                    char_max_length: Some(40),
                    ..col(
                        "t",
                        "path",
                        "varchar",
                        "varchar(40)",
                        "",
                        Some(r"it's C:\dir"),
                    )
                },
                ColumnRow {
                    numeric_precision: Some(1),
                    ..col("t", "flag", "bit", "bit(1)", "", Some("b'1'"))
                },
                col(
                    "t",
                    "due",
                    "date",
                    "date",
                    "DEFAULT_GENERATED",
                    Some("(curdate() + interval 1 day)"),
                ),
            ],
            vec![pk("t", "id")],
            vec![],
        );
        let built = build_default(&catalog);
        let t = &built.schema.tables[0];
        let column = |c: &str| t.column(c).unwrap();
        let default = |c: &str| column(c).default.clone();
        // timestamp holds an instant, datetime a wall-clock time.
        assert_eq!(column("created").pg_type, PgType::Timestamptz);
        assert_eq!(default("created").as_deref(), Some("CURRENT_TIMESTAMP"));
        assert!(!column("created").on_update_now);
        assert_eq!(column("changed").pg_type, PgType::Timestamp);
        assert_eq!(default("changed").as_deref(), Some("LOCALTIMESTAMP"));
        assert!(column("changed").on_update_now);
        assert_eq!(default("day").as_deref(), Some("'2024-02-29'::date"));
        assert_eq!(
            default("since").as_deref(),
            Some("'2024-02-29 12:34:56'::timestamp")
        );
        // Bare text is the value itself: a quote is doubled, a backslash is only a backslash.
        assert_eq!(default("path").as_deref(), Some(r"'it''s C:\dir'"));
        assert_eq!(column("flag").pg_type, PgType::Boolean);
        assert_eq!(default("flag").as_deref(), Some("true"));
        // What PostgreSQL cannot hold, or pgcutover does not translate, is named in a warning.
        assert_eq!(default("zero"), None);
        assert_eq!(
            warnings_about(&built, "table \"t\" column \"zero\""),
            ["default 0000-00-00 00:00:00 not carried over: a zero date, which PostgreSQL cannot hold"]
        );
        assert_eq!(default("due"), None);
        assert_eq!(
            warnings_about(&built, "table \"t\" column \"due\""),
            ["default (curdate() + interval 1 day) not carried over: an expression pgcutover does not translate"]
        );
    }

    /// MariaDB quotes literal defaults and escapes them as MySQL string literals.
    #[test]
    fn mariadb_quoted_defaults_are_read_with_their_escapes() {
        let text = |name: &str, default: &str| ColumnRow {
            char_max_length: Some(40),
            ..col("t", name, "varchar", "varchar(40)", "", Some(default))
        };
        let catalog = one_table(
            "10.11.19-MariaDB",
            vec![
                col("t", "id", "int", "int(11)", "", None),
                text("path", r"'C:\\dir\\it''s'"),
                text("lines", r"'a\nb'"),
                text("word", "'NULL'"),
                ColumnRow {
                    datetime_precision: Some(3),
                    ..col(
                        "t",
                        "seen",
                        "datetime",
                        "datetime(3)",
                        "on update current_timestamp(3)",
                        Some("current_timestamp(3)"),
                    )
                },
            ],
            vec![pk("t", "id")],
            vec![],
        );
        let built = build_default(&catalog);
        let t = &built.schema.tables[0];
        let default = |c: &str| t.column(c).unwrap().default.clone();
        assert_eq!(default("path").as_deref(), Some(r"'C:\dir\it''s'"));
        assert_eq!(default("lines").as_deref(), Some("'a\nb'"));
        // The quoted word NULL is a string; only the bare NULL is no default.
        assert_eq!(default("word").as_deref(), Some("'NULL'"));
        assert_eq!(default("seen").as_deref(), Some("LOCALTIMESTAMP"));
        assert!(t.column("seen").unwrap().on_update_now);
        assert!(
            built.schema.warnings.is_empty(),
            "{:?}",
            built.schema.warnings
        );
    }

    /// A generated column PostgreSQL can compute the same way becomes a generated column (a
    /// VIRTUAL one STORED, with a warning); any other holds the source's values.
    #[test]
    fn virtual_and_stored_generated_columns() {
        let text = |name: &str, n: u64| ColumnRow {
            char_max_length: Some(n),
            nullable: true,
            ..col("t", name, "varchar", &format!("varchar({n})"), "", None)
        };
        let generated = |c: ColumnRow, extra: &str, expr: &str| ColumnRow {
            extra: extra.into(),
            generation_expression: Some(expr.into()),
            nullable: true,
            ..c
        };
        let catalog = one_table(
            "8.0.36",
            vec![
                col("t", "id", "int", "int", "", None),
                col("t", "qty", "int", "int", "", None),
                text("first", 20),
                text("last", 20),
                generated(
                    col("t", "doubled", "bigint", "bigint", "", None),
                    "VIRTUAL GENERATED",
                    "(`qty` * 2)",
                ),
                generated(
                    text("full_name", 41),
                    "STORED GENERATED",
                    "concat(`first`,_utf8mb4' ',`last`)",
                ),
                generated(
                    col("t", "third", "int", "int", "", None),
                    "STORED GENERATED",
                    "(`qty` DIV 3)",
                ),
            ],
            vec![pk("t", "id")],
            vec![],
        );
        let built = build_default(&catalog);
        let t = &built.schema.tables[0];
        let column = |c: &str| t.column(c).unwrap();
        assert_eq!(
            column("doubled").generated.as_deref(),
            Some("(((\"qty\")::bigint * 2))"),
            "MySQL 8 writes the expression in parentheses; they are kept"
        );
        assert!(column("doubled")
            .mapping_note
            .ends_with("; generated, computed by PostgreSQL"));
        assert_eq!(
            warnings_about(&built, "table \"t\" column \"doubled\""),
            ["VIRTUAL generated column becomes STORED (PostgreSQL 15 has no virtual columns)"]
        );
        assert_eq!(
            column("full_name").generated.as_deref(),
            Some("(\"first\" || ' ' || \"last\")")
        );
        assert!(warnings_about(&built, "table \"t\" column \"full_name\"").is_empty());
        assert_eq!(column("third").generated, None);
        assert_eq!(column("third").default, None);
        assert_eq!(
            warnings_about(&built, "table \"t\" column \"third\""),
            ["generated column ((`qty` DIV 3)) copied as a plain column holding its values; the expression does not translate to one that gives the same values in PostgreSQL"]
        );
    }

    /// A CHECK in the subset pgcutover translates keeps its name; one beyond it is named in a
    /// warning, and a MariaDB `json_valid` CHECK makes its column jsonb instead.
    #[test]
    fn checks_translate_or_warn() {
        let check = |name: &str, clause: &str| CheckRow {
            table: "t".into(),
            name: name.into(),
            clause: clause.into(),
        };
        let columns = vec![
            col("t", "id", "int", "int(11)", "", None),
            ColumnRow {
                numeric_precision: Some(8),
                numeric_scale: Some(2),
                ..col("t", "price", "decimal", "decimal(8,2)", "", None)
            },
            ColumnRow {
                char_max_length: Some(10),
                ..col("t", "status", "varchar", "varchar(10)", "", None)
            },
            col("t", "doc", "longtext", "longtext", "", None),
        ];
        let catalog = one_table(
            "10.11.19-MariaDB",
            columns,
            vec![pk("t", "id")],
            vec![
                check(
                    "price_range",
                    "`price` >= 0 and `price` < 1000 or `price` is null",
                ),
                check("status_known", "`status` in ('new','paid')"),
                check("status_shape", "`status` regexp '^[a-z]+$'"),
                check("doc", "json_valid(`doc`)"),
            ],
        );
        let built = build_default(&catalog);
        let t = &built.schema.tables[0];
        let checks: Vec<(&str, &str)> = t
            .checks
            .iter()
            .map(|c| (c.name.as_str(), c.expression.as_str()))
            .collect();
        assert_eq!(
            checks,
            [
                (
                    "price_range",
                    "\"price\" >= 0 AND \"price\" < 1000 OR \"price\" IS NULL"
                ),
                ("status_known", "\"status\" IN ('new','paid')"),
            ]
        );
        assert_eq!(
            warnings_about(&built, "check \"status_shape\" on \"t\""),
            ["(`status` regexp '^[a-z]+$') uses MySQL syntax pgcutover does not translate; not carried over"]
        );
        assert_eq!(t.column("doc").unwrap().pg_type, PgType::Jsonb);
        assert!(warnings_about(&built, "check \"doc\" on \"t\"").is_empty());
    }

    /// Each kind of MySQL index as PostgreSQL is given it: prefix parts as the same prefix
    /// (text by characters, binary by bytes), a plain unique index as a UNIQUE constraint,
    /// FULLTEXT as GIN over a tsvector, DESC parts kept, and the index behind a foreign key
    /// named apart from the constraint.
    #[test]
    fn prefix_unique_fulltext_descending_and_foreign_key_indexes() {
        let text = |name: &str, data_type: &str, column_type: &str| ColumnRow {
            char_max_length: Some(200),
            nullable: true,
            ..col("t", name, data_type, column_type, "", None)
        };
        let ix = |name: &str, seq: u32, column: &str| IndexRow {
            non_unique: true,
            seq,
            ..IndexRow {
                name: name.into(),
                ..pk("t", column)
            }
        };
        let mut catalog = one_table(
            "8.0.36",
            vec![
                col("t", "id", "int", "int", "", None),
                text("title", "varchar", "varchar(200)"),
                text("body", "text", "text"),
                text("code", "varbinary", "varbinary(200)"),
                text("email", "varchar", "varchar(200)"),
                col("t", "parent_id", "int", "int", "", None),
                col("t", "created", "datetime", "datetime", "", None),
            ],
            vec![
                pk("t", "id"),
                IndexRow {
                    sub_part: Some(10),
                    ..ix("title_prefix", 1, "title")
                },
                IndexRow {
                    sub_part: Some(8),
                    non_unique: false,
                    ..ix("code_prefix", 1, "code")
                },
                IndexRow {
                    non_unique: false,
                    ..ix("email_uq", 1, "email")
                },
                IndexRow {
                    index_type: "FULLTEXT".into(),
                    ..ix("ft", 1, "title")
                },
                IndexRow {
                    index_type: "FULLTEXT".into(),
                    ..ix("ft", 2, "body")
                },
                IndexRow {
                    descending: true,
                    ..ix("recent", 1, "created")
                },
                ix("recent", 2, "id"),
                ix("t_parent", 1, "parent_id"),
            ],
            vec![],
        );
        catalog.foreign_keys = vec![fk("t", "t_parent", "parent_id", "t")];
        let built = build_default(&catalog);
        let t = &built.schema.tables[0];
        let pkey = t.primary_key.as_ref().expect("the primary key");
        assert_eq!(
            (pkey.name.as_str(), &pkey.columns[..]),
            ("t_pkey", &["id".to_owned()][..])
        );
        let uniques: Vec<(&str, &[String])> = t
            .uniques
            .iter()
            .map(|k| (k.name.as_str(), &k.columns[..]))
            .collect();
        assert_eq!(uniques, [("email_uq", &["email".to_owned()][..])]);
        let indexes: Vec<String> = t
            .indexes
            .iter()
            .map(|i| {
                format!(
                    "{}{} {}({})",
                    if i.unique { "unique " } else { "" },
                    i.name,
                    i.using
                        .as_deref()
                        .map_or(String::new(), |u| format!("using {u} ")),
                    i.parts.iter().map(show_part).collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        assert_eq!(
            indexes,
            [
                "unique code_prefix ((substring(\"code\" from 1 for 8)))",
                "ft using gin ((to_tsvector('simple', coalesce(\"title\", '') || ' ' || coalesce(\"body\", ''))))",
                "recent (\"created\" desc, \"id\")",
                "t_parent_idx (\"parent_id\")",
                "title_prefix ((left(\"title\", 10)))",
            ]
        );
        assert_eq!(t.foreign_keys[0].name, "t_parent");
        assert_eq!(
            warnings_about(&built, "index \"title_prefix\" on \"t\""),
            ["prefix key parts → expressions on the same prefix (left(col, n)); queries must use the same expression to use the index"]
        );
        assert_eq!(
            warnings_about(&built, "index \"code_prefix\" on \"t\""),
            ["prefix key parts → expressions on the same prefix (left(col, n)), so uniqueness means what it meant"]
        );
        assert_eq!(
            warnings_about(&built, "index \"ft\" on \"t\""),
            ["FULLTEXT → GIN index on to_tsvector('simple', …): queries must use to_tsvector('simple', …) @@ … to use it"]
        );
    }
}
