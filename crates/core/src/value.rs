//! Values already converted to their target column's type.
//!
//! A source converter produces these; the target's COPY encoder writes them. They borrow from the
//! source's row buffer where they can, so the hot path does not allocate per value. Temporal
//! values use PostgreSQL's own epoch (2000-01-01) and units, so encoding them is a copy.

use std::borrow::Cow;

pub use crate::temporal::{PG_EPOCH_OFFSET_DAYS, PG_EPOCH_OFFSET_MICROS};

#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    /// A plain decimal string, `-?digits(.digits)?`, already checked against the column's
    /// precision and scale.
    Numeric(Cow<'a, str>),
    Text(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
    /// Days since 2000-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 2000-01-01 00:00:00 (wall clock for `timestamp`, UTC for `timestamptz`).
    Timestamp(i64),
    /// JSON text, already validated; sent as jsonb.
    Json(Cow<'a, str>),
    Uuid([u8; 16]),
    /// Microseconds, sent as an `interval` with no days or months.
    Interval(i64),
    /// A comma-separated list (MySQL SET), sent as `text[]`; the empty string is the empty array.
    CommaList(Cow<'a, str>),
    /// A comma-separated list sent as a one-dimensional array of the type `elem_oid` names
    /// (an enum array, `varchar[]`): each element in its text form, which is also its binary
    /// form for those types.
    TypedList {
        elem_oid: u32,
        list: Cow<'a, str>,
    },
    /// `bit varying`: `bits` significant bits, most significant first, left-aligned in `data`.
    Bits {
        bits: u32,
        data: Cow<'a, [u8]>,
    },
}

impl Value<'_> {
    /// The value, owning what it borrowed.
    pub fn into_owned(self) -> Value<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::I16(i) => Value::I16(i),
            Value::I32(i) => Value::I32(i),
            Value::I64(i) => Value::I64(i),
            Value::F32(f) => Value::F32(f),
            Value::F64(f) => Value::F64(f),
            Value::Numeric(t) => Value::Numeric(own(t)),
            Value::Text(t) => Value::Text(own(t)),
            Value::Bytes(b) => Value::Bytes(Cow::Owned(b.into_owned())),
            Value::Date(d) => Value::Date(d),
            Value::Time(t) => Value::Time(t),
            Value::Timestamp(t) => Value::Timestamp(t),
            Value::Json(t) => Value::Json(own(t)),
            Value::Uuid(u) => Value::Uuid(u),
            Value::Interval(i) => Value::Interval(i),
            Value::CommaList(t) => Value::CommaList(own(t)),
            Value::TypedList { elem_oid, list } => Value::TypedList {
                elem_oid,
                list: own(list),
            },
            Value::Bits { bits, data } => Value::Bits {
                bits,
                data: Cow::Owned(data.into_owned()),
            },
        }
    }

    /// The value as a PostgreSQL literal of type `ty` (for DEFAULT clauses and plans).
    pub fn to_sql_literal(&self, ty: &crate::PgType) -> String {
        use crate::quote_literal;
        use crate::temporal::{format_date, format_time, format_timestamp};
        let typed = |text: &str| format!("{}::{}", quote_literal(text), ty.sql());
        match self {
            Value::Null => "NULL".into(),
            Value::Bool(b) => b.to_string(),
            Value::I16(i) => i.to_string(),
            Value::I32(i) => i.to_string(),
            Value::I64(i) => i.to_string(),
            Value::F32(f) => typed(&f.to_string()),
            Value::F64(f) => typed(&f.to_string()),
            Value::Numeric(s) => s.to_string(),
            Value::Text(s) => quote_literal(s),
            Value::Bytes(b) => {
                let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                typed(&format!("\\x{hex}"))
            }
            Value::Date(d) => typed(&format_date(*d)),
            Value::Time(t) => typed(&format_time(*t)),
            Value::Interval(us) => typed(&format!("{us} microseconds")),
            Value::CommaList(s) | Value::TypedList { list: s, .. } => {
                let items: Vec<String> = if s.is_empty() {
                    Vec::new()
                } else {
                    s.split(',').map(quote_literal).collect()
                };
                format!("ARRAY[{}]::text[]", items.join(", "))
            }
            Value::Bits { bits, data } => {
                let text: String = (0..*bits)
                    .map(|i| {
                        if data[(i / 8) as usize] & (0x80 >> (i % 8)) != 0 {
                            '1'
                        } else {
                            '0'
                        }
                    })
                    .collect();
                format!("B{}", quote_literal(&text))
            }
            Value::Timestamp(t) => match ty {
                crate::PgType::Timestamptz => typed(&format!("{}+00", format_timestamp(*t))),
                _ => typed(&format_timestamp(*t)),
            },
            Value::Json(s) => typed(s),
            Value::Uuid(u) => typed(&format_uuid(u)),
        }
    }
}

/// Empties a vector and hands back its allocation for values borrowing from the next row. The
/// in-place `collect` keeps the buffer (same element size), so no row allocates a vector.
pub fn recycle<'b>(mut v: Vec<Value<'_>>) -> Vec<Value<'b>> {
    v.clear();
    v.into_iter().map(|_| Value::Null).collect()
}

/// A boolean written as text, read exactly as PostgreSQL's `boolin` reads one: surrounding
/// whitespace ignored, case ignored, and `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0` or
/// any unambiguous prefix of the words (`t`, `tr`, `f`, `y`, `n`, `of`; not `o`). Rails before
/// 6.0 wrote `t`/`f` into SQLite; other tools `true`, `yes`, `on`.
pub fn parse_pg_bool(text: &str) -> Option<bool> {
    // boolin trims what C's isspace() calls space.
    let t = text.trim_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let lower = t.to_ascii_lowercase();
    let prefix_of = |word: &str| !lower.is_empty() && word.starts_with(lower.as_str());
    match lower.as_bytes().first()? {
        b't' if prefix_of("true") => Some(true),
        b'f' if prefix_of("false") => Some(false),
        b'y' if prefix_of("yes") => Some(true),
        b'n' if prefix_of("no") => Some(false),
        // "o" alone could be either.
        b'o' if lower.len() >= 2 && prefix_of("on") => Some(true),
        b'o' if lower.len() >= 2 && prefix_of("off") => Some(false),
        b'1' if lower.len() == 1 => Some(true),
        b'0' if lower.len() == 1 => Some(false),
        _ => None,
    }
}

/// A UUID in its 36-character text form (lower-case hex, `8-4-4-4-12`).
pub fn format_uuid(u: &[u8; 16]) -> String {
    let h: String = u.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Parses the 36-character text form of a UUID (`8-4-4-4-12` hex digits).
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let groups: Vec<&str> = s.split('-').collect();
    if s.len() != 36 || groups.iter().map(|g| g.len()).collect::<Vec<_>>() != [8, 4, 4, 4, 12] {
        return None;
    }
    let hex: String = groups.concat();
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_as_postgresql_reads_them() {
        for t in [
            "t", "TRUE", " tru ", "y", "Yes", "on", "ON", "1", "\ttrue\n",
        ] {
            assert_eq!(parse_pg_bool(t), Some(true), "{t:?}");
        }
        for f in ["f", "False", "fal", "n", "NO", "of", "off", "0", " 0 "] {
            assert_eq!(parse_pg_bool(f), Some(false), "{f:?}");
        }
        for bad in [
            "", " ", "o", "truth", "yess", "2", "01", "nope", "onn", "offf", "-1", "\u{a0}t",
        ] {
            assert_eq!(parse_pg_bool(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn uuids_parse_only_in_their_text_form() {
        assert_eq!(
            parse_uuid("00010203-0405-0607-0809-0a0b0c0d0e0f"),
            Some([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
        );
        assert_eq!(parse_uuid("000102030405060708090a0b0c0d0e0f----"), None);
        assert_eq!(parse_uuid("0001020g-0405-0607-0809-0a0b0c0d0e0f"), None);
        assert_eq!(parse_uuid("+0010203-0405-0607-0809-0a0b0c0d0e0f"), None);
    }
}
