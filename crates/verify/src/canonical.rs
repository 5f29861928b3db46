//! The canonical form of a value: what both sides of a verification hash.
//!
//! Input is a field in PostgreSQL's binary send format, from the target's COPY OUT, or from the
//! copy's own encoder on the source side (so a source value is first converted exactly as
//! `copy` converts it: a DATETIME becomes the timestamp's microseconds, a tinyint(1) the
//! boolean, an ENUM its label). Most types are canonical as sent. Three are not, because
//! PostgreSQL rewrites what it is given:
//!
//! - `numeric`: the display scale is kept by the column's typmod, not by the value; canonical is
//!   the value (no leading zeros, no trailing fraction zeros), so `1.50` and `1.5` are equal, as
//!   `=` says they are, and `4.99` and `4.98` are not.
//! - `jsonb`: PostgreSQL keeps one copy of each key (the last), sorts keys, drops whitespace and
//!   stores numbers as numeric. Canonical is compact JSON text with keys in byte order, the last
//!   duplicate kept, and every number as its canonical decimal.
//! - `real`, `double precision`: every NaN is the same NaN.

use pgcutover_core::numeric::normalize_decimal;
use pgcutover_core::temporal::{format_date, format_time, format_timestamp};
use pgcutover_core::PgType;

/// How a column's values are brought to canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canon {
    Plain,
    Float4,
    Float8,
    Numeric,
    Json,
}

impl Canon {
    pub fn for_type(ty: &PgType) -> Canon {
        match ty {
            PgType::Real => Canon::Float4,
            PgType::Double => Canon::Float8,
            PgType::Numeric { .. } => Canon::Numeric,
            PgType::Jsonb => Canon::Json,
            PgType::Boolean
            | PgType::SmallInt
            | PgType::Integer
            | PgType::BigInt
            | PgType::Text
            | PgType::Varchar { .. }
            | PgType::Bytea
            | PgType::Date
            | PgType::Time
            | PgType::Timestamp
            | PgType::Timestamptz
            | PgType::Uuid
            | PgType::Interval
            | PgType::VarBit { .. }
            | PgType::TextArray
            | PgType::Enum { .. }
            | PgType::Geometry { .. } => Canon::Plain,
        }
    }

    /// Appends the field's canonical form to `out`: an i32 length (-1 for NULL), then the bytes.
    pub fn append(self, field: Option<&[u8]>, out: &mut Vec<u8>) {
        let Some(b) = field else {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            return;
        };
        let put = |out: &mut Vec<u8>, bytes: &[u8]| {
            out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
            out.extend_from_slice(bytes);
        };
        match self {
            Canon::Plain => put(out, b),
            Canon::Float4 => match <[u8; 4]>::try_from(b) {
                Ok(a) if f32::from_be_bytes(a).is_nan() => put(out, &f32::NAN.to_be_bytes()),
                _ => put(out, b),
            },
            Canon::Float8 => match <[u8; 8]>::try_from(b) {
                Ok(a) if f64::from_be_bytes(a).is_nan() => put(out, &f64::NAN.to_be_bytes()),
                _ => put(out, b),
            },
            Canon::Numeric => match numeric_text(b) {
                Some(t) => put(out, canonical_decimal(&t).as_bytes()),
                None => put(out, b),
            },
            Canon::Json => match b.split_first() {
                Some((1, text)) => match canonical_json(text) {
                    Some(t) => put(out, t.as_bytes()),
                    None => put(out, text),
                },
                _ => put(out, b),
            },
        }
    }
}

/// PostgreSQL's binary numeric (ndigits, weight, sign, dscale, base-10000 digits) as a plain
/// decimal string; `NaN`, `Infinity` and `-Infinity` as PostgreSQL writes them.
pub fn numeric_text(b: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])) };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i16 as i32;
    let sign = word(4)?;
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        0 | 0x4000 => {}
        _ => return None,
    }
    if b.len() != 8 + 2 * ndigits {
        return None;
    }
    let groups = (0..ndigits).map(|i| word(8 + 2 * i));
    // Digits of groups 0..n, with the decimal point after group `weight`.
    let lead = if weight < 0 {
        (-weight - 1) as usize
    } else {
        0
    };
    let mut digits = "0000".repeat(lead);
    for g in groups {
        let g = g?;
        use std::fmt::Write;
        let _ = write!(digits, "{g:04}");
    }
    let int_groups = (weight + 1).max(0) as usize;
    while digits.len() < int_groups * 4 {
        digits.push_str("0000");
    }
    let (int, frac) = digits.split_at(int_groups * 4);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Some(format!(
        "{sign}{}.{frac}",
        if int.is_empty() { "0" } else { int }
    ))
}

/// A plain decimal (`-?digits(.digits)?`) reduced to its value: no leading zeros, no trailing
/// fraction zeros, no point without a fraction, no minus on zero. Other text is returned as is.
pub fn canonical_decimal(plain: &str) -> String {
    let (neg, body) = plain
        .strip_prefix('-')
        .map_or((false, plain), |b| (true, b));
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return plain.to_owned();
    }
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let sign = if neg && (int != "0" || !frac.is_empty()) {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// A canonical decimal padded with fraction zeros to `scale` digits (other text unchanged).
fn at_scale(value: &str, scale: usize) -> String {
    if scale == 0
        || !value
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return value.to_owned();
    }
    let frac = value.split_once('.').map_or(0, |(_, f)| f.len());
    if frac >= scale {
        return value.to_owned();
    }
    let point = if frac == 0 { "." } else { "" };
    format!("{value}{point}{}", "0".repeat(scale - frac))
}

/// JSON text in the form jsonb gives it back, canonicalised (see the module's notes). `None`
/// when it is not JSON.
pub fn canonical_json(text: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(text).ok()?;
    let mut out = String::with_capacity(text.len());
    write_json(&v, &mut out);
    Some(out)
}

fn write_json(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value as J;
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(n) => {
            let text = n.to_string();
            match normalize_decimal(&text) {
                Some(plain) => out.push_str(&canonical_decimal(&plain)),
                None => out.push_str(&text),
            }
        }
        J::String(s) => write_json_string(s, out),
        J::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        // serde_json's map (without preserve_order) is sorted by key bytes and keeps the last
        // of duplicate keys: the canonical order, and jsonb's rule for duplicates.
        J::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(k, out);
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
    }
}

fn write_json_string(s: &str, out: &mut String) {
    // serde_json's escaping, straight from the &str (no copy into a Value first).
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// A canonical field (without its length prefix) as a person reads it, for reports. `bytes` may
/// be cut short (`cut`), in which case the text ends with `…`.
pub fn render(ty: &PgType, bytes: &[u8], cut: bool) -> String {
    let int = |b: &[u8]| -> Option<i64> {
        Some(match b.len() {
            2 => i64::from(i16::from_be_bytes(b.try_into().ok()?)),
            4 => i64::from(i32::from_be_bytes(b.try_into().ok()?)),
            8 => i64::from_be_bytes(b.try_into().ok()?),
            _ => return None,
        })
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let text = |b: &[u8]| format!("{:?}", String::from_utf8_lossy(b));
    let shown = match ty {
        PgType::Boolean => match bytes {
            [0] => Some("false".to_owned()),
            [1] => Some("true".to_owned()),
            _ => None,
        },
        PgType::SmallInt | PgType::Integer | PgType::BigInt => int(bytes).map(|i| i.to_string()),
        PgType::Real => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|a| f32::from_be_bytes(a).to_string()),
        PgType::Double => <[u8; 8]>::try_from(bytes)
            .ok()
            .map(|a| f64::from_be_bytes(a).to_string()),
        // Compared by value, shown at the column's scale (`3.70`, as PostgreSQL prints it).
        PgType::Numeric {
            precision_scale: Some((_, scale)),
        } if !cut => Some(at_scale(&String::from_utf8_lossy(bytes), *scale as usize)),
        PgType::Numeric { .. } | PgType::Jsonb => Some(String::from_utf8_lossy(bytes).into_owned()),
        PgType::Text | PgType::Varchar { .. } | PgType::Enum { .. } => Some(text(bytes)),
        PgType::Date => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|a| format_date(i32::from_be_bytes(a))),
        PgType::Time => int(bytes).map(format_time),
        PgType::Timestamp => int(bytes).map(format_timestamp),
        PgType::Timestamptz => int(bytes).map(|t| format!("{}+00", format_timestamp(t))),
        PgType::Interval => bytes
            .get(..8)
            .and_then(int)
            .map(|us| format!("{us} microseconds")),
        PgType::Uuid => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|u| pgcutover_core::value::format_uuid(&u)),
        PgType::Bytea | PgType::Geometry { .. } | PgType::TextArray => None,
        PgType::VarBit { .. } => None,
    };
    let mut out = shown.unwrap_or_else(|| format!("\\x{}", hex(bytes)));
    if cut {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use pgcutover_core::Value;
    use pgcutover_postgres::copy_encoder;

    /// The field bytes the copy's encoder writes for a value.
    fn sent(v: Value<'_>) -> Vec<u8> {
        let mut b = BytesMut::new();
        copy_encoder::write_row(&mut b, &[v]);
        b[6..].to_vec() // after the field count and the length
    }

    fn canon(c: Canon, v: Value<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        c.append(Some(&sent(v)), &mut out);
        out[4..].to_vec()
    }

    #[test]
    fn numerics_compare_by_value() {
        let n =
            |s: &str| String::from_utf8(canon(Canon::Numeric, Value::Numeric(s.into()))).unwrap();
        assert_eq!(n("1.50"), "1.5");
        assert_eq!(n("1.5"), "1.5");
        assert_eq!(n("4.99"), "4.99");
        assert_ne!(n("4.99"), n("4.98"));
        assert_eq!(n("-0.00"), "0");
        assert_eq!(n("0.0001"), "0.0001");
        assert_eq!(n("123456789.000123"), "123456789.000123");
        assert_eq!(n("-10000"), "-10000");
        assert_eq!(n("99999999999999999999"), "99999999999999999999");
        assert_eq!(n("0.000000001"), "0.000000001");
    }

    #[test]
    fn json_is_compared_as_jsonb_stores_it() {
        let j = |s: &str| canonical_json(s.as_bytes()).unwrap();
        assert_eq!(
            j(r#"{"b": 1, "a": [1.50, 2e2, -0]}"#),
            r#"{"a":[1.5,200,0],"b":1}"#
        );
        assert_eq!(j(r#"{"a": 1, "a": 2}"#), r#"{"a":2}"#);
        assert_eq!(j(r#"{"a":"\u00e9"}"#), j(r#"{"a":"é"}"#));
        assert_ne!(
            j(r#"{"a":12345678901234567890123}"#),
            j(r#"{"a":12345678901234567890124}"#)
        );
        assert_ne!(j(r#"{"a":1}"#), j(r#"{"b":1}"#));
        // The source's text goes through the jsonb send format (version byte 1) first.
        let c = canon(Canon::Json, Value::Json(r#"{"x": 1.0}"#.into()));
        assert_eq!(c, br#"{"x":1}"#);
    }

    #[test]
    fn nans_are_one_nan() {
        let a = canon(Canon::Float8, Value::F64(f64::NAN));
        let b = canon(Canon::Float8, Value::F64(-f64::NAN));
        assert_eq!(a, b);
        assert_ne!(
            canon(Canon::Float8, Value::F64(0.0)),
            canon(Canon::Float8, Value::F64(-0.0))
        );
    }

    #[test]
    fn rendering_reads_like_sql() {
        assert_eq!(render(&PgType::Integer, &sent(Value::I32(42)), false), "42");
        assert_eq!(render(&PgType::Boolean, &[1], false), "true");
        assert_eq!(
            render(&PgType::Timestamp, &sent(Value::Timestamp(1)), false),
            "2000-01-01 00:00:00.000001"
        );
        assert_eq!(render(&PgType::Text, b"it's", true), "\"it's\"…");
        assert_eq!(render(&PgType::Bytea, &[0xde, 0xad], false), "\\xdead");
        let money = PgType::Numeric {
            precision_scale: Some((12, 2)),
        };
        assert_eq!(render(&money, b"3.7", false), "3.70");
        assert_eq!(render(&money, b"-5", false), "-5.00");
        assert_eq!(render(&money, b"0.125", false), "0.125");
    }
}
