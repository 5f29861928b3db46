//! The schema model: what a source's introspection produces, what `plan` prints and what the
//! target renders as DDL.
//!
//! Names here are *target* names (already fitted to 63 bytes and made unique); each table and
//! column also keeps its source name, which readers use to build their queries. Expressions
//! (defaults, CHECKs, index expressions and predicates) are PostgreSQL SQL text that the source's
//! translator built with [`crate::quote_ident`]; anything it could not translate is absent here
//! and present as a [`Warning`].

use serde::Serialize;

/// The PostgreSQL type a column is created with. Exhaustive on purpose: adding a type must stop
/// the build at every encoder and renderer that needs to handle it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PgType {
    Boolean,
    SmallInt,
    Integer,
    BigInt,
    Real,
    Double,
    /// `numeric(p,s)`, or unconstrained `numeric` when `None`.
    Numeric {
        precision_scale: Option<(u32, u32)>,
    },
    Text,
    Varchar {
        length: u32,
    },
    Bytea,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Jsonb,
    Uuid,
    /// `interval`: MySQL TIME values beyond 24 hours or negative.
    Interval,
    /// `bit varying(n)`.
    VarBit {
        length: u32,
    },
    /// `text[]`: MySQL SET values.
    TextArray,
    /// A PostgreSQL enum type created in the target schema (see [`Schema::enums`]).
    Enum {
        name: String,
    },
    /// PostGIS `geometry`, from the schema the extension is installed in. Values travel as
    /// EWKB (WKB with the SRID).
    Geometry {
        postgis_schema: String,
    },
}

impl PgType {
    /// The type as written in DDL.
    pub fn sql(&self) -> String {
        match self {
            PgType::Boolean => "boolean".into(),
            PgType::SmallInt => "smallint".into(),
            PgType::Integer => "integer".into(),
            PgType::BigInt => "bigint".into(),
            PgType::Real => "real".into(),
            PgType::Double => "double precision".into(),
            PgType::Numeric {
                precision_scale: None,
            } => "numeric".into(),
            PgType::Numeric {
                precision_scale: Some((p, s)),
            } => format!("numeric({p},{s})"),
            PgType::Text => "text".into(),
            PgType::Varchar { length } => format!("varchar({length})"),
            PgType::Bytea => "bytea".into(),
            PgType::Date => "date".into(),
            PgType::Time => "time".into(),
            PgType::Timestamp => "timestamp".into(),
            PgType::Timestamptz => "timestamptz".into(),
            PgType::Jsonb => "jsonb".into(),
            PgType::Uuid => "uuid".into(),
            PgType::Interval => "interval".into(),
            PgType::VarBit { length } => format!("bit varying({length})"),
            PgType::TextArray => "text[]".into(),
            PgType::Enum { name } => crate::quote_ident(name),
            PgType::Geometry { postgis_schema } => {
                crate::quote_qualified(postgis_schema, "geometry")
            }
        }
    }

    /// The type as written in DDL inside `schema` (enum types are schema-qualified).
    pub fn sql_in(&self, schema: &str) -> String {
        match self {
            PgType::Enum { name } => crate::quote_qualified(schema, name),
            other => other.sql(),
        }
    }

    /// Parses a type as a user writes it in `--cast` (`smallint`, `numeric(20,0)`, `text[]`, …).
    /// Enum types are not nameable this way: they are made by the source's mapping.
    pub fn parse(s: &str) -> Option<PgType> {
        let t = s.trim().to_ascii_lowercase();
        let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
        let (base, args) = match t.split_once('(') {
            Some((b, rest)) => {
                let inner = rest.strip_suffix(')')?;
                let args: Option<Vec<u32>> =
                    inner.split(',').map(|a| a.trim().parse().ok()).collect();
                (b.trim().to_owned(), Some(args?))
            }
            None => (t.clone(), None),
        };
        let one = |args: &Option<Vec<u32>>| match args.as_deref() {
            Some([n]) => Some(*n),
            _ => None,
        };
        Some(match (base.as_str(), &args) {
            ("boolean" | "bool", None) => PgType::Boolean,
            ("smallint" | "int2", None) => PgType::SmallInt,
            ("integer" | "int" | "int4", None) => PgType::Integer,
            ("bigint" | "int8", None) => PgType::BigInt,
            ("real" | "float4", None) => PgType::Real,
            ("double precision" | "float8", None) => PgType::Double,
            ("numeric" | "decimal", None) => PgType::Numeric {
                precision_scale: None,
            },
            ("numeric" | "decimal", Some(a)) => match a.as_slice() {
                [p] if (1..=1000).contains(p) => PgType::Numeric {
                    precision_scale: Some((*p, 0)),
                },
                [p, s] if (1..=1000).contains(p) && s <= p => PgType::Numeric {
                    precision_scale: Some((*p, *s)),
                },
                _ => return None,
            },
            ("text", None) => PgType::Text,
            ("varchar" | "character varying", Some(_)) => PgType::Varchar {
                length: one(&args).filter(|n| *n > 0)?,
            },
            ("bytea", None) => PgType::Bytea,
            ("date", None) => PgType::Date,
            ("time", None) => PgType::Time,
            ("timestamp", None) => PgType::Timestamp,
            ("timestamptz", None) => PgType::Timestamptz,
            ("jsonb", None) => PgType::Jsonb,
            ("uuid", None) => PgType::Uuid,
            ("interval", None) => PgType::Interval,
            ("bit varying" | "varbit", Some(_)) => PgType::VarBit {
                length: one(&args).filter(|n| *n > 0)?,
            },
            ("text[]", None) => PgType::TextArray,
            _ => return None,
        })
    }

    pub fn is_integer(&self) -> bool {
        matches!(self, PgType::SmallInt | PgType::Integer | PgType::BigInt)
    }

    pub fn is_text(&self) -> bool {
        matches!(self, PgType::Text | PgType::Varchar { .. })
    }
}

/// Gives every foreign-key column exactly the type of the column it references (a child
/// declared `int` referencing an `int unsigned` → bigint parent becomes bigint), or the
/// constraint could not be created. Parents can be children too, so it repeats until stable.
///
/// `accept(table, column index, new type)` says whether the source can convert the column's
/// values to the new type; a refused change is left as it is and returned as a warning.
pub fn harmonize_fk_types(
    tables: &mut [Table],
    mut accept: impl FnMut(&Table, usize, &PgType) -> bool,
) -> Vec<Warning> {
    let mut refused: Vec<(usize, usize)> = Vec::new();
    let mut warnings = Vec::new();
    for _ in 0..=tables.len() {
        let mut changes = Vec::new();
        for (ti, t) in tables.iter().enumerate() {
            for fk in &t.foreign_keys {
                let Some(parent) = tables.iter().find(|p| p.name == fk.ref_table) else {
                    continue;
                };
                for (c, rc) in fk.columns.iter().zip(&fk.ref_columns) {
                    let (Some(ci), Some(pc)) = (
                        t.columns.iter().position(|x| &x.name == c),
                        parent.column(rc),
                    ) else {
                        continue;
                    };
                    if t.columns[ci].pg_type != pc.pg_type && !refused.contains(&(ti, ci)) {
                        let from = format!(
                            "{}.{}",
                            crate::show_ident(&parent.name),
                            crate::show_ident(&pc.name)
                        );
                        changes.push((ti, ci, pc.pg_type.clone(), from));
                    }
                }
            }
        }
        if changes.is_empty() {
            break;
        }
        for (ti, ci, ty, from) in changes {
            if !accept(&tables[ti], ci, &ty) {
                refused.push((ti, ci));
                let t = &tables[ti];
                warnings.push(Warning::new(
                    format!("table {} column {}", crate::show_ident(&t.name), crate::show_ident(&t.columns[ci].name)),
                    format!("cannot take the type {} of {from}, which it references; its foreign key may fail", ty.sql()),
                ));
                continue;
            }
            let c = &mut tables[ti].columns[ci];
            c.mapping_note = format!(
                "{}; made {} to match {from}, which it references",
                c.mapping_note,
                ty.sql()
            );
            c.pg_type = ty;
        }
    }
    warnings
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Schema {
    pub tables: Vec<Table>,
    /// Everything that will not be carried over, or only partly (views, triggers, an index or
    /// CHECK that cannot be translated, a default that was dropped, …).
    pub warnings: Vec<Warning>,
    /// Enum types the tables use, created before them.
    pub enums: Vec<EnumType>,
}

/// `CREATE TYPE name AS ENUM (labels…)`, labels in the source's order (which is their sort order).
#[derive(Debug, Clone, Serialize)]
pub struct EnumType {
    pub name: String,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub source_name: String,
    pub name: String,
    pub columns: Vec<Column>,
    pub primary_key: Option<Key>,
    pub uniques: Vec<Key>,
    pub indexes: Vec<Index>,
    pub foreign_keys: Vec<ForeignKey>,
    pub checks: Vec<Check>,
    /// Rows in the source, where the source can count them cheaply.
    pub source_rows: Option<u64>,
    pub comment: Option<String>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The identity column, if the table has one.
    pub fn identity_column(&self) -> Option<&Column> {
        self.columns.iter().find(|c| c.identity.is_some())
    }

    /// The names of the columns a row carries values for (the copied ones), in order.
    pub fn copied_names(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| c.is_copied())
            .map(|c| c.name.as_str())
            .collect()
    }

    /// The key a row is found by: the primary key, else a unique key over NOT NULL columns,
    /// as positions among the copied columns (the values a row carries). `None` when the
    /// table has no such key.
    pub fn row_key(&self) -> Option<Vec<usize>> {
        let copied = self.copied_names();
        let not_null_unique = self.uniques.iter().filter(|u| {
            u.columns
                .iter()
                .all(|c| self.column(c).is_some_and(|c| !c.nullable))
        });
        self.primary_key
            .iter()
            .chain(not_null_unique)
            .filter_map(|k| {
                k.columns
                    .iter()
                    .map(|c| copied.iter().position(|n| n == c))
                    .collect::<Option<Vec<usize>>>()
            })
            .find(|k| !k.is_empty())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub source_name: String,
    pub name: String,
    /// The type as the source declares it (empty when the source declares none).
    pub source_type: String,
    pub pg_type: PgType,
    pub nullable: bool,
    /// A PostgreSQL expression.
    pub default: Option<String>,
    pub identity: Option<Identity>,
    /// Why this column got this type, for `plan`.
    pub mapping_note: String,
    /// MySQL's `ON UPDATE CURRENT_TIMESTAMP`: a trigger sets it when a row changes.
    pub on_update_now: bool,
    pub comment: Option<String>,
    /// `GENERATED ALWAYS AS (this PostgreSQL expression) STORED`: PostgreSQL computes the
    /// values, so the column is left out of the COPY.
    pub generated: Option<String>,
}

impl Column {
    /// Whether the column's values travel in the COPY (every column but a generated one).
    pub fn is_copied(&self) -> bool {
        self.generated.is_none()
    }
}

/// `GENERATED BY DEFAULT AS IDENTITY`: by default, so loaded rows keep their keys.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    /// The smallest next value the source promises (e.g. SQLite's `sqlite_sequence` + 1). The
    /// sequence restarts at the larger of this and max(column) + 1 after the load.
    pub source_next: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Key {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Index {
    pub name: String,
    pub unique: bool,
    pub parts: Vec<IndexPart>,
    /// A partial index's predicate (PostgreSQL SQL).
    pub predicate: Option<String>,
    /// The access method when not btree (`gin` for MySQL FULLTEXT).
    pub using: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IndexPart {
    Column { name: String, descending: bool },
    Expression { sql: String, descending: bool },
}

#[derive(Debug, Clone, Serialize)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    /// Target name of the referenced table.
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    pub on_delete: FkAction,
    pub on_update: FkAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    pub fn sql(&self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }

    /// Parses the spelling SQLite's and MySQL's catalogs use (`NO ACTION`, `SET NULL`, …).
    pub fn parse(s: &str) -> Option<FkAction> {
        match s.trim().to_ascii_uppercase().as_str() {
            "NO ACTION" | "NONE" | "" => Some(FkAction::NoAction),
            "RESTRICT" => Some(FkAction::Restrict),
            "CASCADE" => Some(FkAction::Cascade),
            "SET NULL" => Some(FkAction::SetNull),
            "SET DEFAULT" => Some(FkAction::SetDefault),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    /// PostgreSQL SQL for the boolean expression.
    pub expression: String,
}

/// Something `plan` tells the operator will not be carried over exactly.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    /// The object it concerns, e.g. `view "Order Subtotals"` or `table "Orders" column "x"`.
    pub object: String,
    pub message: String,
}

impl Warning {
    pub fn new(object: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            object: object.into(),
            message: message.into(),
        }
    }
}
