//! MySQL/MariaDB column types → PostgreSQL types.
//!
//! A column's catalog row becomes a [`Kind`] (what the source holds), the default mapping picks a
//! [`PgType`] for it, and `--cast` rules may pick another. Which kinds can be read into which
//! types is [`can_convert`]; the conversion itself is in [`crate::convert`].

use pgcutover_core::PgType;

use crate::catalog::ColumnRow;

/// What a source column holds, as far as reading and converting it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Integer types; `bytes` is 1, 2, 3, 4 or 8.
    Int {
        bytes: u8,
        unsigned: bool,
    },
    /// `tinyint(1)`: booleans by convention.
    TinyIntOne {
        unsigned: bool,
    },
    Decimal {
        precision: u32,
        scale: u32,
    },
    Float,
    Double,
    Bit {
        bits: u32,
    },
    Date,
    DateTime,
    Timestamp,
    Time,
    Year,
    /// CHAR/VARCHAR (`max_chars`) and the TEXT types (None).
    Text {
        max_chars: Option<u32>,
    },
    /// BINARY/VARBINARY/BLOB types; `fixed` is BINARY's length (the server pads it with
    /// zero bytes).
    Binary {
        fixed: Option<u32>,
    },
    Enum {
        labels: Vec<String>,
    },
    Set {
        labels: Vec<String>,
    },
    /// MySQL JSON, or MariaDB LONGTEXT with a `json_valid` CHECK.
    Json,
    /// GEOMETRY, POINT, …: MySQL's internal format, a 4-byte SRID then WKB.
    Geometry,
}

impl Kind {
    /// Reads the catalog row. `json_valid` says MariaDB's CHECK marks the column as JSON.
    pub fn of(c: &ColumnRow, json_valid: bool) -> Result<Kind, String> {
        let ct = c.column_type.to_ascii_lowercase();
        let unsigned = ct.contains(" unsigned");
        let int = |bytes| Kind::Int { bytes, unsigned };
        let chars = || c.char_max_length.and_then(|n| u32::try_from(n).ok());
        Ok(match c.data_type.as_str() {
            // MySQL ≥ 8.0.19 drops display widths, except for tinyint(1).
            "tinyint" if ct.starts_with("tinyint(1)") => Kind::TinyIntOne { unsigned },
            "tinyint" => int(1),
            "smallint" => int(2),
            "mediumint" => int(3),
            "int" | "integer" => int(4),
            "bigint" => int(8),
            "decimal" | "numeric" => Kind::Decimal {
                precision: c.numeric_precision.unwrap_or(10) as u32,
                scale: c.numeric_scale.unwrap_or(0) as u32,
            },
            "float" => Kind::Float,
            "double" | "real" | "double precision" => Kind::Double,
            "bit" => Kind::Bit {
                bits: c.numeric_precision.unwrap_or(1) as u32,
            },
            "date" => Kind::Date,
            "datetime" => Kind::DateTime,
            "timestamp" => Kind::Timestamp,
            "time" => Kind::Time,
            "year" => Kind::Year,
            "char" | "varchar" => Kind::Text { max_chars: chars() },
            "longtext" if json_valid => Kind::Json,
            "tinytext" | "text" | "mediumtext" | "longtext" => Kind::Text { max_chars: None },
            "binary" => Kind::Binary {
                fixed: c.char_max_length.map(|n| n as u32),
            },
            "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                Kind::Binary { fixed: None }
            }
            "enum" => Kind::Enum {
                labels: parse_labels(&c.column_type)?,
            },
            "set" => Kind::Set {
                labels: parse_labels(&c.column_type)?,
            },
            "json" => Kind::Json,
            "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
            | "multipolygon" | "geometrycollection" | "geomcollection" => Kind::Geometry,
            other => return Err(format!("pgcutover does not know the type {other}")),
        })
    }

    /// Whether the column's values are text in a charset (its bytes are decoded by it).
    pub fn is_text(&self) -> bool {
        matches!(
            self,
            Kind::Text { .. } | Kind::Enum { .. } | Kind::Set { .. } | Kind::Json
        )
    }

    pub fn is_temporal_date(&self) -> bool {
        matches!(self, Kind::Date | Kind::DateTime | Kind::Timestamp)
    }
}

/// Labels of `enum('a','b''c')` / `set(…)`, in declaration order, written as MySQL string
/// literals (see [`take_string`]).
pub fn parse_labels(column_type: &str) -> Result<Vec<String>, String> {
    let bad = || format!("cannot read the labels of {column_type}");
    let open = column_type.find('(').ok_or_else(bad)?;
    let mut rest = column_type[open + 1..]
        .trim_end()
        .strip_suffix(')')
        .ok_or_else(bad)?;
    let mut labels = Vec::new();
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if rest.is_empty() {
            return Ok(labels);
        }
        let (label, used) = take_string(rest).ok_or_else(bad)?;
        labels.push(label);
        rest = &rest[used..];
    }
}

/// Reads a `quote`-delimited identifier at the start of `s` (the quote doubled inside stands
/// for itself; there are no other escapes in an identifier): its content, and how many bytes
/// it took. None if `s` does not start with one.
pub(crate) fn take_quoted(s: &str, quote: char) -> Option<(String, usize)> {
    let mut chars = s.char_indices().peekable();
    if chars.next()?.1 != quote {
        return None;
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c != quote {
            out.push(c);
        } else if chars.peek().map(|&(_, n)| n) == Some(quote) {
            chars.next();
            out.push(quote);
        } else {
            return Some((out, i + c.len_utf8()));
        }
    }
    None
}

/// Reads a MySQL string literal at the start of `s`, quoted with `'` or `"`, the way the
/// server reads one: the quote doubled inside stands for itself, and a backslash escapes the
/// next character (`\0` NUL, `\b`, `\n`, `\r`, `\t`, `\Z` (0x1A); `\%` and `\_` keep their
/// backslash, for LIKE; any other `\x` is `x`). This is how the catalog writes every quoted
/// text: ENUM/SET labels in COLUMN_TYPE (`'back\\slash'`, `'it''s'`, `'a\nb'`), MariaDB's
/// quoted defaults, CHECK clauses (`'it\'s'`) and generation expressions. Returns the text and
/// how many bytes the literal took; None if `s` does not start with a complete one.
pub fn take_string(s: &str) -> Option<(String, usize)> {
    let mut chars = s.char_indices().peekable();
    let quote = chars
        .next()
        .map(|(_, c)| c)
        .filter(|c| *c == '\'' || *c == '"')?;
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    '0' => out.push('\0'),
                    'b' => out.push('\u{8}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'Z' => out.push('\u{1a}'),
                    '%' | '_' => {
                        out.push('\\');
                        out.push(e);
                    }
                    other => out.push(other),
                }
            }
            c if c == quote => {
                if chars.peek().map(|&(_, n)| n) == Some(quote) {
                    chars.next();
                    out.push(quote);
                } else {
                    return Some((out, i + c.len_utf8()));
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// Options of the default mapping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MappingOptions {
    /// `--datetime-as timestamptz`: DATETIME is wall-clock time in `--source-timezone`.
    pub datetime_as_timestamptz: bool,
    /// `--enum-as text`: text with a CHECK instead of an enum type.
    pub enum_as_text: bool,
    /// The schema PostGIS is installed in, in the target: geometry becomes `geometry`.
    pub postgis_schema: Option<String>,
}

/// The type a column gets unless a `--cast` says otherwise, and why.
pub fn default_type(kind: &Kind, opts: &MappingOptions) -> (PgType, String) {
    let (t, note): (PgType, &str) = match kind {
        Kind::TinyIntOne { .. } => (
            PgType::Boolean,
            "tinyint(1) → boolean; values other than 0/1 are rejected (--cast 'tinyint(1)=smallint' keeps numbers)",
        ),
        Kind::Int { bytes, unsigned } => match (bytes, unsigned) {
            (1, _) => (PgType::SmallInt, "tinyint → smallint"),
            (2, false) => (PgType::SmallInt, "smallint → smallint"),
            (2, true) => (PgType::Integer, "smallint unsigned → integer"),
            (3, _) => (PgType::Integer, "mediumint → integer"),
            (4, false) => (PgType::Integer, "int → integer"),
            (4, true) => (PgType::BigInt, "int unsigned → bigint"),
            (_, false) => (PgType::BigInt, "bigint → bigint"),
            (_, true) => (
                PgType::Numeric {
                    precision_scale: Some((20, 0)),
                },
                "bigint unsigned → numeric(20,0): values up to 2^64-1 do not fit bigint",
            ),
        },
        Kind::Decimal { precision, scale } => {
            return (
                PgType::Numeric {
                    precision_scale: Some((*precision, *scale)),
                },
                format!("decimal({precision},{scale}) → numeric({precision},{scale}), exact"),
            )
        }
        Kind::Float => (PgType::Real, "float → real, bit for bit"),
        Kind::Double => (PgType::Double, "double → double precision, bit for bit"),
        Kind::Bit { bits: 1 } => (PgType::Boolean, "bit(1) → boolean"),
        Kind::Bit { bits } => {
            return (
                PgType::VarBit { length: *bits },
                format!("bit({bits}) → bit varying({bits})"),
            )
        }
        Kind::Date => (PgType::Date, "date → date; zero dates → NULL"),
        Kind::DateTime if opts.datetime_as_timestamptz => (
            PgType::Timestamptz,
            "datetime → timestamptz, read as wall-clock time in --source-timezone",
        ),
        Kind::DateTime => (
            PgType::Timestamp,
            "datetime → timestamp (wall-clock, no time zone); zero dates → NULL",
        ),
        Kind::Timestamp => (
            PgType::Timestamptz,
            "timestamp → timestamptz (read in UTC); zero dates → NULL",
        ),
        Kind::Time => (PgType::Time, "time → time"),
        Kind::Year => (PgType::SmallInt, "year → smallint"),
        Kind::Text {
            max_chars: Some(n),
        } => {
            return (
                PgType::Varchar { length: (*n).max(1) },
                format!("char/varchar({n}) → varchar({})", (*n).max(1)),
            )
        }
        Kind::Text { max_chars: None } => (PgType::Text, "text → text"),
        Kind::Binary { .. } => (PgType::Bytea, "binary/blob → bytea"),
        Kind::Enum { .. } if opts.enum_as_text => {
            (PgType::Text, "enum → text with a CHECK on the labels")
        }
        // The type's name is given when the schema is built.
        Kind::Enum { .. } => (
            PgType::Enum {
                name: String::new(),
            },
            "enum → enum type, labels in order",
        ),
        Kind::Set { .. } => (PgType::TextArray, "set → text[]"),
        Kind::Json => (PgType::Jsonb, "json → jsonb"),
        Kind::Geometry => match &opts.postgis_schema {
            Some(schema) => (
                PgType::Geometry {
                    postgis_schema: schema.clone(),
                },
                "geometry → PostGIS geometry, SRID kept",
            ),
            None => (
                PgType::Bytea,
                "geometry → bytea holding WKB, SRID dropped (PostGIS is not installed in the target)",
            ),
        },
    };
    (t, note.to_owned())
}

/// Whether values of `kind` can be converted to `target` exactly (or rejected one by one).
pub fn can_convert(kind: &Kind, target: &PgType) -> bool {
    use PgType as P;
    let to_text = matches!(target, P::Text | P::Varchar { .. });
    match kind {
        Kind::Int { .. } | Kind::TinyIntOne { .. } | Kind::Year => {
            target.is_integer()
                || matches!(target, P::Numeric { .. } | P::Boolean | P::Real | P::Double)
                || to_text
        }
        Kind::Decimal { .. } => {
            matches!(target, P::Numeric { .. }) || target.is_integer() || to_text
        }
        Kind::Float | Kind::Double => matches!(target, P::Real | P::Double) || to_text,
        Kind::Bit { .. } => {
            matches!(target, P::Boolean | P::VarBit { .. } | P::Bytea) || target.is_integer()
        }
        Kind::Date => matches!(target, P::Date | P::Timestamp | P::Timestamptz) || to_text,
        Kind::DateTime | Kind::Timestamp => {
            matches!(target, P::Date | P::Timestamp | P::Timestamptz) || to_text
        }
        Kind::Time => matches!(target, P::Time | P::Interval) || to_text,
        Kind::Text { .. } => {
            to_text || matches!(target, P::Jsonb | P::Uuid | P::Bytea | P::Enum { .. })
        }
        Kind::Binary { .. } => matches!(target, P::Bytea | P::Uuid) || to_text,
        Kind::Enum { .. } => matches!(target, P::Enum { .. }) || to_text,
        Kind::Set { .. } => matches!(target, P::TextArray) || to_text,
        Kind::Json => matches!(target, P::Jsonb) || to_text,
        Kind::Geometry => matches!(target, P::Bytea | P::Geometry { .. }),
    }
}

/// One `--cast` rule: `TYPE=PGTYPE` for every column of a MySQL type, or
/// `TABLE.COLUMN=PGTYPE` for one column. Column rules win over type rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CastRule {
    pub matcher: CastMatch,
    pub target: PgType,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CastMatch {
    /// Lower-cased; `tinyint(1)`, `bigint unsigned`, `datetime`, `enum`.
    Type(String),
    Column {
        table: String,
        column: String,
    },
}

impl CastRule {
    pub fn parse(s: &str) -> Result<CastRule, String> {
        let (lhs, rhs) = s
            .split_once('=')
            .ok_or_else(|| format!("--cast {s:?}: write TYPE=PGTYPE or TABLE.COLUMN=PGTYPE"))?;
        let target = PgType::parse(rhs).ok_or_else(|| {
            format!(
                "--cast {s:?}: {rhs:?} is not a PostgreSQL type pgcutover can write (boolean, smallint, integer, bigint, numeric(p,s), real, double precision, text, varchar(n), bytea, date, time, timestamp, timestamptz, interval, jsonb, uuid, text[], bit varying(n))"
            )
        })?;
        let lhs = lhs.trim();
        let matcher = match lhs.split_once('.') {
            Some((t, c)) if !lhs.contains('(') => CastMatch::Column {
                table: t.to_owned(),
                column: c.to_owned(),
            },
            _ => CastMatch::Type(normalize_type(lhs)),
        };
        Ok(CastRule { matcher, target })
    }
}

/// `INT(11) UNSIGNED ZEROFILL` → `int unsigned`: display widths mean nothing (MySQL 8 drops
/// them), except tinyint(1); zerofill is display only.
pub fn normalize_type(t: &str) -> String {
    let t = t.trim().to_ascii_lowercase();
    let t = t.replace(" zerofill", "");
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.starts_with("tinyint(1)") {
        return t;
    }
    for int in [
        "tinyint",
        "smallint",
        "mediumint",
        "int",
        "integer",
        "bigint",
    ] {
        if let Some(rest) = t.strip_prefix(int) {
            if let Some(close) = rest.strip_prefix('(').and_then(|r| r.find(')')) {
                return format!("{int}{}", &rest[close + 2..]);
            }
        }
    }
    t
}

/// Picks the rule for a column: the column rule if any, else the most specific type rule
/// (full column type, e.g. `varchar(255)`, then type with sign, then the bare data type).
pub fn find_cast<'a>(rules: &'a [CastRule], c: &ColumnRow) -> Option<&'a CastRule> {
    let col = rules.iter().find(|r| {
        matches!(&r.matcher, CastMatch::Column { table, column }
            if table.eq_ignore_ascii_case(&c.table) && column.eq_ignore_ascii_case(&c.name))
    });
    if col.is_some() {
        return col;
    }
    let full = normalize_type(&c.column_type);
    let base = c.data_type.to_ascii_lowercase();
    let signed = if full.contains(" unsigned") {
        format!("{base} unsigned")
    } else {
        base.clone()
    };
    let is_enum_or_set = base == "enum" || base == "set";
    [full, signed, base].iter().find_map(|want| {
        rules.iter().find(|r| {
            matches!(&r.matcher, CastMatch::Type(t) if t == want && !(is_enum_or_set && t.contains('(')))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(data_type: &str, column_type: &str) -> ColumnRow {
        ColumnRow {
            table: "t".into(),
            name: "c".into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            nullable: true,
            ..Default::default()
        }
    }

    fn mapped(data_type: &str, column_type: &str) -> PgType {
        default_type(
            &Kind::of(&col(data_type, column_type), false).unwrap(),
            &MappingOptions::default(),
        )
        .0
    }

    #[test]
    fn integers_keep_their_width_and_unsigned_widens() {
        // MariaDB / MySQL 5.7 write display widths…
        assert_eq!(mapped("int", "int(11)"), PgType::Integer);
        assert_eq!(mapped("int", "int(10) unsigned"), PgType::BigInt);
        assert_eq!(
            mapped("bigint", "bigint(20) unsigned"),
            PgType::Numeric {
                precision_scale: Some((20, 0))
            }
        );
        assert_eq!(mapped("tinyint", "tinyint(3) unsigned"), PgType::SmallInt);
        assert_eq!(mapped("smallint", "smallint(5) unsigned"), PgType::Integer);
        assert_eq!(
            mapped("mediumint", "mediumint(8) unsigned"),
            PgType::Integer
        );
        assert_eq!(mapped("tinyint", "tinyint(1)"), PgType::Boolean);
    }

    #[test]
    fn mysql8_catalog_rows_without_display_widths() {
        // MySQL ≥ 8.0.19: `int`, `bigint unsigned`, but still `tinyint(1)`.
        assert_eq!(mapped("int", "int"), PgType::Integer);
        assert_eq!(mapped("int", "int unsigned"), PgType::BigInt);
        assert_eq!(
            mapped("bigint", "bigint unsigned"),
            PgType::Numeric {
                precision_scale: Some((20, 0))
            }
        );
        assert_eq!(mapped("tinyint", "tinyint"), PgType::SmallInt);
        assert_eq!(mapped("tinyint", "tinyint(1)"), PgType::Boolean);
        assert_eq!(mapped("tinyint", "tinyint(1) unsigned"), PgType::Boolean);
        // ZEROFILL keeps a width on MySQL 8 and implies unsigned.
        assert_eq!(mapped("int", "int(5) unsigned zerofill"), PgType::BigInt);
        // A type rule written with or without a width matches both catalogs.
        assert_eq!(normalize_type("INT(11) UNSIGNED"), "int unsigned");
        assert_eq!(normalize_type("int unsigned zerofill"), "int unsigned");
        assert_eq!(normalize_type("tinyint(1)"), "tinyint(1)");
    }

    #[test]
    fn labels_with_quotes_commas_and_empty() {
        assert_eq!(
            parse_labels("enum('G','PG','PG-13','it''s','a,b','')").unwrap(),
            vec!["G", "PG", "PG-13", "it's", "a,b", ""]
        );
        // As MariaDB 10.11 writes COLUMN_TYPE (read off the server): a backslash doubled, a
        // quote doubled, NUL, LF and CR escaped, a tab and 0x1A as they are.
        assert_eq!(
            parse_labels(
                "enum('back\\\\slash','it''s','a,b',' lead','é€','x\"y','tab\tz','n\\nl','c\\rr','z\u{1a}z','nul\\0x','pct%','us_')"
            )
            .unwrap(),
            vec![
                "back\\slash", "it's", "a,b", " lead", "é€", "x\"y", "tab\tz", "n\nl", "c\rr",
                "z\u{1a}z", "nul\0x", "pct%", "us_"
            ]
        );
        assert_eq!(
            parse_labels("set('Trailers','Commentaries')").unwrap(),
            vec!["Trailers", "Commentaries"]
        );
        assert!(parse_labels("enum('unterminated)").is_err());
        assert!(parse_labels("enum('a\\')").is_err());
    }

    #[test]
    fn mysql_string_literals() {
        fn t(s: &str) -> Option<(String, &str)> {
            take_string(s).map(|(v, used)| (v, &s[used..]))
        }
        assert_eq!(t("'a''b' rest"), Some(("a'b".into(), " rest")));
        assert_eq!(t("'it\\'s'"), Some(("it's".into(), "")));
        assert_eq!(t("'\\\\'"), Some(("\\".into(), "")));
        assert_eq!(t("'a\\%b\\_'"), Some(("a\\%b\\_".into(), "")));
        assert_eq!(
            t("'\\0\\b\\n\\r\\t\\Z\\q'"),
            Some(("\0\u{8}\n\r\t\u{1a}q".into(), ""))
        );
        assert_eq!(t("\"say \"\"hi\"\"\""), Some(("say \"hi\"".into(), "")));
        assert_eq!(t("'open"), None);
        assert_eq!(t("bare"), None);
    }

    #[test]
    fn cast_rules_pick_column_then_most_specific_type() {
        let rules = [
            CastRule::parse("tinyint(1)=smallint").unwrap(),
            CastRule::parse("int unsigned=integer").unwrap(),
            CastRule::parse("orders.status=text").unwrap(),
            CastRule::parse("datetime=timestamptz").unwrap(),
        ];
        let pick = |c: &ColumnRow| find_cast(&rules, c).map(|r| r.target.clone());
        assert_eq!(pick(&col("tinyint", "tinyint(1)")), Some(PgType::SmallInt));
        assert_eq!(pick(&col("tinyint", "tinyint(4)")), None);
        assert_eq!(pick(&col("int", "int(10) unsigned")), Some(PgType::Integer));
        assert_eq!(pick(&col("int", "int unsigned")), Some(PgType::Integer));
        assert_eq!(pick(&col("int", "int(11)")), None);
        assert_eq!(
            pick(&col("datetime", "datetime(6)")),
            Some(PgType::Timestamptz)
        );
        let mut status = col("enum", "enum('a','b')");
        status.table = "Orders".into();
        status.name = "status".into();
        assert_eq!(pick(&status), Some(PgType::Text));
        assert!(CastRule::parse("int=serial").is_err());
        assert!(CastRule::parse("nonsense").is_err());
    }

    #[test]
    fn mariadb_json_is_longtext_with_json_valid() {
        let c = col("longtext", "longtext");
        assert_eq!(Kind::of(&c, true).unwrap(), Kind::Json);
        assert_eq!(Kind::of(&c, false).unwrap(), Kind::Text { max_chars: None });
    }

    #[test]
    fn conversions_allowed_by_cast() {
        assert!(can_convert(
            &Kind::TinyIntOne { unsigned: false },
            &PgType::SmallInt
        ));
        assert!(can_convert(&Kind::Time, &PgType::Interval));
        assert!(!can_convert(&Kind::Time, &PgType::Date));
        assert!(!can_convert(&Kind::Geometry, &PgType::Text));
    }
}
