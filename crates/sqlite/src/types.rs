//! SQLite declared type → PostgreSQL type.
//!
//! | declared (case-insensitive)                         | PostgreSQL            | why |
//! |------------------------------------------------------|-----------------------|-----|
//! | BOOLEAN, BOOL                                        | boolean               | stored as 0/1 |
//! | TINYINT, SMALLINT, INT2                              | smallint              | |
//! | MEDIUMINT, INT4                                      | integer               | |
//! | INTEGER, INT, BIGINT, INT8, anything containing INT | bigint                | SQLite integers are 64-bit |
//! | REAL, DOUBLE, DOUBLE PRECISION, FLOAT, FLOAT8        | double precision      | SQLite REAL is 8-byte IEEE |
//! | NUMERIC(p,s), DECIMAL(p,s)                           | numeric(p,s)          | values that would round are rejected |
//! | NUMERIC, DECIMAL                                     | numeric               | |
//! | VARCHAR(n), NVARCHAR(n), CHAR(n), NCHAR(n), …        | varchar(n)            | CHAR → varchar: PG char(n) pads |
//! | TEXT, CLOB, anything containing CHAR/CLOB/TEXT       | text                  | |
//! | BLOB, BINARY, VARBINARY, anything containing BLOB   | bytea                 | |
//! | DATE                                                 | date                  | |
//! | DATETIME, TIMESTAMP                                  | timestamp             | wall clock, as SQLite stores it |
//! | TIMESTAMPTZ, TIMESTAMP WITH TIME ZONE               | timestamptz           | |
//! | TIME                                                 | time                  | |
//! | JSON, JSONB                                          | jsonb                 | validated per value |
//! | UUID                                                 | uuid                  | |
//! | anything containing REAL/FLOA/DOUB                   | double precision      | SQLite's REAL affinity |
//! | no type, or any other name (NUMERIC affinity)        | decided by the values | see [`resolve_dynamic`] |
//!
//! SQLite lets any value sit in any column, so the declared type is a promise the data may not
//! keep; `convert` checks every value against the chosen type.

use pgcutover_core::PgType;

/// What a declared type maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declared {
    Mapped {
        pg_type: PgType,
        note: &'static str,
    },
    /// No declared type, or one with NUMERIC affinity that names nothing we know: the type is
    /// chosen from the storage classes the column actually holds.
    Dynamic {
        note: &'static str,
    },
}

pub fn map_declared(declared: &str) -> Declared {
    let upper = declared.trim().to_ascii_uppercase();
    if upper.is_empty() {
        return Declared::Dynamic {
            note: "no declared type",
        };
    }
    let (name, params) = split_params(&upper);
    let mapped = |pg_type, note| Declared::Mapped { pg_type, note };
    match name.as_str() {
        "BOOLEAN" | "BOOL" => return mapped(PgType::Boolean, "boolean stored as 0/1"),
        "TINYINT" | "SMALLINT" | "INT2" => return mapped(PgType::SmallInt, "small integer"),
        "MEDIUMINT" | "INT4" => return mapped(PgType::Integer, "32-bit integer"),
        "DATE" => return mapped(PgType::Date, "date"),
        "DATETIME"
        | "TIMESTAMP"
        | "DATETIME2"
        | "SMALLDATETIME"
        | "TIMESTAMP WITHOUT TIME ZONE" => {
            return mapped(
                PgType::Timestamp,
                "wall-clock timestamp, as SQLite stores it",
            )
        }
        "TIMESTAMPTZ" | "TIMESTAMP WITH TIME ZONE" => {
            return mapped(PgType::Timestamptz, "timestamp with time zone")
        }
        "TIME" => return mapped(PgType::Time, "time of day"),
        "JSON" | "JSONB" => return mapped(PgType::Jsonb, "JSON text, validated, stored as jsonb"),
        "UUID" => return mapped(PgType::Uuid, "uuid from text or 16-byte blob"),
        "REAL" | "DOUBLE" | "DOUBLE PRECISION" | "FLOAT" | "FLOAT8" => {
            return mapped(PgType::Double, "SQLite REAL is an 8-byte IEEE float")
        }
        "NUMERIC" | "DECIMAL" => {
            let ps = match params.as_slice() {
                [p, s] if (1..=1000).contains(p) && s <= p => Some((*p, *s)),
                [p] if (1..=1000).contains(p) => Some((*p, 0)),
                _ => None,
            };
            return mapped(
                PgType::Numeric {
                    precision_scale: ps,
                },
                "exact decimal; a value that would round is rejected",
            );
        }
        "VARCHAR" | "NVARCHAR" | "CHARACTER VARYING" | "VARYING CHARACTER" | "NATIVE CHARACTER"
        | "CHAR" | "NCHAR" | "CHARACTER" => {
            return match params.as_slice() {
                [n] if (1..=10_485_760).contains(n) => mapped(
                    PgType::Varchar { length: *n },
                    "length kept; SQLite does not enforce it, so longer values are rejected",
                ),
                _ => mapped(PgType::Text, "character type without a usable length"),
            };
        }
        "TEXT" | "CLOB" => return mapped(PgType::Text, "text"),
        "BLOB" | "BINARY" | "VARBINARY" => return mapped(PgType::Bytea, "binary"),
        _ => {}
    }
    // SQLite's own affinity rules (https://sqlite.org/datatype3.html §3.1), in its order.
    if upper.contains("INT") {
        mapped(
            PgType::BigInt,
            "INTEGER affinity; SQLite integers are 64-bit",
        )
    } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
        mapped(PgType::Text, "TEXT affinity")
    } else if upper.contains("BLOB") {
        mapped(PgType::Bytea, "BLOB affinity")
    } else if upper.contains("REAL") || upper.contains("FLOA") || upper.contains("DOUB") {
        mapped(PgType::Double, "REAL affinity")
    } else {
        Declared::Dynamic {
            note: "unknown type name (NUMERIC affinity)",
        }
    }
}

/// Splits `NAME (a, b)` into `NAME` (spaces collapsed) and its numeric parameters.
fn split_params(upper: &str) -> (String, Vec<u32>) {
    let (name, rest) = match upper.find('(') {
        Some(i) => (&upper[..i], &upper[i + 1..]),
        None => (upper, ""),
    };
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let params = rest
        .trim_end()
        .trim_end_matches(')')
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    (name, params)
}

/// The storage classes found in a column by the pre-scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageClasses {
    pub integer: bool,
    pub real: bool,
    pub text: bool,
    pub blob: bool,
}

/// Chooses a type for a column whose declared type says nothing, from what it holds.
pub fn resolve_dynamic(classes: StorageClasses) -> (PgType, &'static str) {
    let StorageClasses {
        integer,
        real,
        text,
        blob,
    } = classes;
    match (integer, real, text, blob) {
        (false, false, false, false) => {
            (PgType::Text, "no values to judge by; text holds anything")
        }
        (true, false, false, false) => (PgType::BigInt, "holds only integers"),
        (_, true, false, false) => (
            PgType::Double,
            "holds reals (and integers that fit exactly)",
        ),
        (false, false, true, false) => (PgType::Text, "holds only text"),
        (_, _, true, false) => (
            PgType::Text,
            "holds text and numbers; numbers are written as their decimal text",
        ),
        (false, false, _, true) => (
            PgType::Bytea,
            "holds blobs (text is kept as its UTF-8 bytes)",
        ),
        (_, _, _, true) => (
            PgType::Text,
            "holds blobs and numbers; blobs will be rejected",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(declared: &str) -> String {
        match map_declared(declared) {
            Declared::Mapped { pg_type, .. } => pg_type.sql(),
            Declared::Dynamic { .. } => "(dynamic)".into(),
        }
    }

    #[test]
    fn declared_types_map_by_name_then_affinity() {
        let cases = [
            ("INTEGER", "bigint"),
            ("int", "bigint"),
            ("BIGINT", "bigint"),
            ("INTEGER UNSIGNED", "bigint"),
            ("intege", "bigint"),
            ("SMALLINT", "smallint"),
            ("TINYINT", "smallint"),
            ("MEDIUMINT", "integer"),
            ("TEXT", "text"),
            ("text nocase", "text"),
            ("VARCHAR(40)", "varchar(40)"),
            ("NVARCHAR(160)", "varchar(160)"),
            ("CHAR(3)", "varchar(3)"),
            ("character varying ( 12 )", "varchar(12)"),
            ("VARCHAR", "text"),
            ("CLOB", "text"),
            ("REAL", "double precision"),
            ("DOUBLE", "double precision"),
            ("DOUBLE PRECISION", "double precision"),
            ("FLOAT", "double precision"),
            ("NUMERIC(10,2)", "numeric(10,2)"),
            ("DECIMAL(5)", "numeric(5,0)"),
            ("DECIMAL", "numeric"),
            ("NUMERIC", "numeric"),
            ("BOOLEAN", "boolean"),
            ("DATE", "date"),
            ("DATETIME", "timestamp"),
            ("TIMESTAMP", "timestamp"),
            ("TIME", "time"),
            ("BLOB", "bytea"),
            ("JSON", "jsonb"),
            ("UUID", "uuid"),
            ("", "(dynamic)"),
            ("STRING", "(dynamic)"),
            ("MONEY", "(dynamic)"),
        ];
        for (declared, want) in cases {
            assert_eq!(pg(declared), want, "declared {declared:?}");
        }
    }

    #[test]
    fn dynamic_columns_follow_their_values() {
        let c = |integer, real, text, blob| {
            resolve_dynamic(StorageClasses {
                integer,
                real,
                text,
                blob,
            })
            .0
        };
        assert_eq!(c(true, false, false, false), PgType::BigInt);
        assert_eq!(c(true, true, false, false), PgType::Double);
        assert_eq!(c(true, false, true, false), PgType::Text);
        assert_eq!(c(false, false, false, true), PgType::Bytea);
        assert_eq!(c(false, false, false, false), PgType::Text);
    }
}
