//! One SQLite value → one value of its target column's type, exactly or not at all.
//!
//! SQLite stores a storage class per value (NULL, INTEGER, REAL, TEXT, BLOB), whatever the column
//! declares. Each conversion below either preserves the value exactly or returns a [`Problem`]
//! that rejects the row. The only per-run choices are the documented [`ValuePolicy`] ones.

use std::borrow::Cow;

use pgcutover_core::numeric::{fit_scale, normalize_decimal};
use pgcutover_core::temporal::{
    parse_datetime, parse_time_of_day, unix_to_pg_micros, MICROS_PER_DAY,
};
use pgcutover_core::value::PG_EPOCH_OFFSET_MICROS;
use pgcutover_core::zone::SourceZone;
use pgcutover_core::{PgType, Value};
use rusqlite::types::ValueRef;

/// How integers in a date/time column are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochUnit {
    Seconds,
    Millis,
}

impl std::fmt::Display for EpochUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EpochUnit::Seconds => "seconds",
            EpochUnit::Millis => "milliseconds",
        })
    }
}

use pgcutover_core::policy::{problem, strip_or_reject_nul, utf8};
pub use pgcutover_core::policy::{NulPolicy, Problem, Utf8Policy, ValuePolicy};

/// Everything needed to convert one column's values.
#[derive(Debug, Clone)]
pub struct ColumnConv {
    pub pg_type: PgType,
    pub nullable: bool,
    pub epoch: EpochUnit,
}

const HINT_TYPE: &str =
    "fix the value in the source, or re-declare the column's type so it matches what it holds";

pub fn convert<'a>(
    conv: &ColumnConv,
    policy: &ValuePolicy,
    v: ValueRef<'a>,
) -> Result<Value<'a>, Problem> {
    if let ValueRef::Null = v {
        return if conv.nullable {
            Ok(Value::Null)
        } else {
            Err(problem(
                "NULL in a NOT NULL column (SQLite allows NULL in a non-INTEGER primary key)",
                "fill in or delete the row in the source",
            ))
        };
    }
    match &conv.pg_type {
        PgType::Boolean => to_bool(v).map(Value::Bool),
        PgType::SmallInt => {
            to_int(v, i16::MIN.into(), i16::MAX.into()).map(|i| Value::I16(i as i16))
        }
        PgType::Integer => {
            to_int(v, i32::MIN.into(), i32::MAX.into()).map(|i| Value::I32(i as i32))
        }
        PgType::BigInt => to_int(v, i64::MIN, i64::MAX).map(Value::I64),
        PgType::Real => {
            let f = to_f64(v)?;
            let narrow = f as f32;
            if f64::from(narrow) == f || f.is_nan() {
                Ok(Value::F32(narrow))
            } else {
                Err(problem(
                    format!("{f} does not fit a 4-byte real exactly"),
                    HINT_TYPE,
                ))
            }
        }
        PgType::Double => to_f64(v).map(Value::F64),
        PgType::Numeric { precision_scale } => {
            to_numeric(v, *precision_scale).map(|s| Value::Numeric(Cow::Owned(s)))
        }
        PgType::Text => to_text(v, policy).map(Value::Text),
        PgType::Varchar { length } => {
            let text = to_text(v, policy)?;
            let chars = text.chars().count();
            if chars > *length as usize {
                return Err(problem(
                    format!("{chars} characters are longer than varchar({length}) (SQLite does not enforce declared lengths)"),
                    "shorten the value in the source, or declare the column TEXT",
                ));
            }
            Ok(Value::Text(text))
        }
        PgType::Bytea => match v {
            ValueRef::Blob(b) => Ok(Value::Bytes(Cow::Borrowed(b))),
            ValueRef::Text(b) => Ok(Value::Bytes(Cow::Borrowed(b))),
            other => Err(problem(
                format!("{} in a binary column", class(other)),
                HINT_TYPE,
            )),
        },
        PgType::Date => to_date(v, conv.epoch, &policy.zone).map(Value::Date),
        PgType::Time => match v {
            ValueRef::Text(b) => {
                let s = utf8(b)?;
                parse_time_of_day(s)
                    .map(Value::Time)
                    .map_err(|e| problem(format!("not a time: {e}"), HINT_TYPE))
            }
            other => Err(problem(
                format!("{} in a time column", class(other)),
                HINT_TYPE,
            )),
        },
        PgType::Timestamp => to_timestamp(v, conv.epoch, &policy.zone, false).map(Value::Timestamp),
        PgType::Timestamptz => {
            to_timestamp(v, conv.epoch, &policy.zone, true).map(Value::Timestamp)
        }
        PgType::Jsonb => to_json(v, policy).map(Value::Json),
        PgType::Uuid => to_uuid(v).map(Value::Uuid),
        // SQLite's mapping never chooses these; only a MySQL source's does.
        other @ (PgType::Interval
        | PgType::VarBit { .. }
        | PgType::TextArray
        | PgType::Enum { .. }
        | PgType::Geometry { .. }) => Err(problem(
            format!("pgcutover cannot convert SQLite values to {}", other.sql()),
            HINT_TYPE,
        )),
    }
}

fn class(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

fn to_bool(v: ValueRef<'_>) -> Result<bool, Problem> {
    const HINT: &str = "a boolean column holds 0 or 1, or text PostgreSQL reads as a boolean (t/f, true/false, yes/no, on/off, 1/0); fix the value or declare the column INTEGER";
    match v {
        ValueRef::Integer(0) => Ok(false),
        ValueRef::Integer(1) => Ok(true),
        ValueRef::Real(0.0) => Ok(false),
        ValueRef::Real(1.0) => Ok(true),
        // Exactly the spellings PostgreSQL's own boolean input takes, nothing looser.
        ValueRef::Text(b) => pgcutover_core::value::parse_pg_bool(utf8(b)?)
            .ok_or_else(|| problem("text that is not a boolean", HINT)),
        other => Err(problem(format!("{} is not 0 or 1", class(other)), HINT)),
    }
}

fn to_int(v: ValueRef<'_>, min: i64, max: i64) -> Result<i64, Problem> {
    let i = match v {
        ValueRef::Integer(i) => i,
        ValueRef::Real(f) => {
            // i64's range, as doubles: [-2^63, 2^63).
            if f.fract() != 0.0
                || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
            {
                return Err(problem(
                    format!("real {f} is not a whole number"),
                    HINT_TYPE,
                ));
            }
            f as i64
        }
        // Only the canonical spelling: '007' or ' 7' would not come back the same.
        ValueRef::Text(b) => {
            let s = utf8(b)?;
            match s.parse::<i64>() {
                Ok(i) if i.to_string() == s => i,
                _ => return Err(problem("text that is not an integer", HINT_TYPE)),
            }
        }
        other => {
            return Err(problem(
                format!("{} in an integer column", class(other)),
                HINT_TYPE,
            ))
        }
    };
    if i < min || i > max {
        return Err(problem(
            format!("{i} is out of range for the target integer type"),
            "declare the column with a wider type (e.g. BIGINT)",
        ));
    }
    Ok(i)
}

fn to_f64(v: ValueRef<'_>) -> Result<f64, Problem> {
    match v {
        ValueRef::Real(f) => Ok(f),
        ValueRef::Integer(i) => {
            let f = i as f64;
            // Exact only if converting back gives the same integer (|i| <= 2^53 or a multiple).
            if f < 9.223_372_036_854_776e18 && f as i64 == i {
                Ok(f)
            } else {
                Err(problem(
                    format!("integer {i} has no exact double"),
                    "declare the column INTEGER or NUMERIC",
                ))
            }
        }
        ValueRef::Text(b) => {
            let s = utf8(b)?;
            match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() && normalize_decimal(s).is_some() => Ok(f),
                _ => Err(problem("text that is not a number", HINT_TYPE)),
            }
        }
        other => Err(problem(
            format!("{} in a float column", class(other)),
            HINT_TYPE,
        )),
    }
}

fn to_numeric(v: ValueRef<'_>, ps: Option<(u32, u32)>) -> Result<String, Problem> {
    let plain = match v {
        ValueRef::Integer(i) => i.to_string(),
        // Rust prints the shortest decimal that reads back as the same double: the value SQLite
        // holds, without binary noise digits.
        ValueRef::Real(f) if f.is_finite() => normalize_decimal(&f.to_string())
            .ok_or_else(|| problem("real has no decimal form", HINT_TYPE))?,
        ValueRef::Real(f) => return Err(problem(format!("{f} cannot be a numeric"), HINT_TYPE)),
        ValueRef::Text(b) => normalize_decimal(utf8(b)?)
            .ok_or_else(|| problem("text that is not a decimal number", HINT_TYPE))?,
        ValueRef::Blob(_) | ValueRef::Null => {
            return Err(problem(
                format!("{} in a numeric column", class(v)),
                HINT_TYPE,
            ))
        }
    };
    match ps {
        Some((p, s)) => fit_scale(&plain, p, s).map_err(|e| {
            problem(
                e,
                "declare a wider NUMERIC(p,s) in the source, or fix the value",
            )
        }),
        None => Ok(plain),
    }
}

fn to_text<'a>(v: ValueRef<'a>, policy: &ValuePolicy) -> Result<Cow<'a, str>, Problem> {
    let text: Cow<'a, str> = match v {
        ValueRef::Text(b) => match std::str::from_utf8(b) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) if policy.invalid_utf8 == Utf8Policy::Replace => String::from_utf8_lossy(b),
            Err(_) => utf8(b).map(Cow::Borrowed)?,
        },
        ValueRef::Integer(i) => Cow::Owned(i.to_string()),
        ValueRef::Real(f) => Cow::Owned(f.to_string()),
        ValueRef::Blob(_) | ValueRef::Null => {
            return Err(problem(
                format!("{} in a text column", class(v)),
                "declare the column BLOB, or store text",
            ))
        }
    };
    strip_or_reject_nul(text, policy)
}

/// A SQLite date as microseconds since 2000-01-01: an instant (`instant`, for `timestamptz`) or
/// a wall-clock time in `zone`. Unix epochs, Julian days and text with an offset are instants;
/// text without one is a wall-clock time in `zone` (UTC unless --source-timezone says
/// otherwise, as SQLite's own date functions write it).
fn to_timestamp(
    v: ValueRef<'_>,
    epoch: EpochUnit,
    zone: &SourceZone,
    instant: bool,
) -> Result<i64, Problem> {
    const HINT: &str =
        "dates must be ISO-8601 text, Unix epoch integers (see --sqlite-epoch) or Julian-day reals";
    const HINT_ZONE: &str = "--source-timezone names the zone the source's wall-clock times are in; a time that zone skips or repeats cannot be placed";
    let utc = match v {
        ValueRef::Text(b) => {
            let dt = parse_datetime(utf8(b)?.trim_end())
                .map_err(|e| problem(format!("not a timestamp: {e}"), HINT))?;
            if dt.offset_seconds.is_none() {
                return if instant {
                    zone.to_utc(dt.micros).map_err(|e| problem(e, HINT_ZONE))
                } else {
                    Ok(dt.micros)
                };
            }
            dt.utc_micros()
        }
        ValueRef::Integer(i) => unix_to_pg_micros(i, epoch == EpochUnit::Millis)
            .ok_or_else(|| problem(format!("epoch {i} ({epoch}) is out of range"), HINT))?,
        ValueRef::Real(jd) => julian_to_pg_micros(jd)
            .ok_or_else(|| problem(format!("Julian day {jd} is out of range"), HINT))?,
        ValueRef::Blob(_) | ValueRef::Null => {
            return Err(problem(format!("{} in a timestamp column", class(v)), HINT))
        }
    };
    if instant {
        Ok(utc)
    } else {
        zone.from_utc(utc).map_err(|e| problem(e, HINT))
    }
}

fn to_date(v: ValueRef<'_>, epoch: EpochUnit, zone: &SourceZone) -> Result<i32, Problem> {
    let micros = to_timestamp(v, epoch, zone, false)?;
    if micros.rem_euclid(MICROS_PER_DAY) != 0 {
        return Err(problem(
            "has a time of day; a date column would drop it",
            "declare the column DATETIME, or store dates only",
        ));
    }
    i32::try_from(micros.div_euclid(MICROS_PER_DAY))
        .map_err(|_| problem("date out of range", HINT_TYPE))
}

/// Julian day number (SQLite's `julianday()`) → microseconds since 2000-01-01, rounded to the
/// microsecond: a double carries about 10 µs of precision at today's day numbers.
fn julian_to_pg_micros(jd: f64) -> Option<i64> {
    let unix_micros = ((jd - 2_440_587.5) * MICROS_PER_DAY as f64).round();
    if !unix_micros.is_finite() || unix_micros.abs() > 9.0e18 {
        return None;
    }
    (unix_micros as i64).checked_sub(PG_EPOCH_OFFSET_MICROS)
}

fn to_json<'a>(v: ValueRef<'a>, policy: &ValuePolicy) -> Result<Cow<'a, str>, Problem> {
    const HINT: &str = "fix the JSON in the source, or declare the column TEXT";
    let text = match v {
        ValueRef::Text(b) => Cow::Borrowed(utf8(b)?),
        ValueRef::Integer(i) => Cow::Owned(i.to_string()),
        ValueRef::Real(f) if f.is_finite() => Cow::Owned(f.to_string()),
        other => return Err(problem(format!("{} in a JSON column", class(other)), HINT)),
    };
    let text = strip_or_reject_nul(text, policy)?;
    pgcutover_core::policy::check_json(&text, HINT)?;
    Ok(text)
}

fn to_uuid(v: ValueRef<'_>) -> Result<[u8; 16], Problem> {
    const HINT: &str = "a UUID is 36-character text or a 16-byte blob";
    match v {
        ValueRef::Blob(b) if b.len() == 16 => Ok(b.try_into().expect("length checked")),
        ValueRef::Text(b) => pgcutover_core::value::parse_uuid(utf8(b)?)
            .ok_or_else(|| problem("text is not a UUID", HINT)),
        other => Err(problem(format!("{} in a UUID column", class(other)), HINT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgcutover_core::temporal::format_timestamp;
    use proptest::prelude::*;

    fn conv(pg_type: PgType) -> ColumnConv {
        ColumnConv {
            pg_type,
            nullable: true,
            epoch: EpochUnit::Seconds,
        }
    }

    fn ok<'a>(t: PgType, v: ValueRef<'a>) -> Value<'a> {
        convert(&conv(t), &ValuePolicy::default(), v).expect("converts")
    }

    fn err(t: PgType, v: ValueRef<'_>) -> String {
        convert(&conv(t), &ValuePolicy::default(), v)
            .expect_err("rejects")
            .reason
    }

    #[test]
    fn integers_are_exact_or_rejected() {
        assert_eq!(
            ok(PgType::BigInt, ValueRef::Integer(i64::MAX)),
            Value::I64(i64::MAX)
        );
        assert_eq!(ok(PgType::BigInt, ValueRef::Text(b"42")), Value::I64(42));
        assert_eq!(ok(PgType::BigInt, ValueRef::Real(3.0)), Value::I64(3));
        assert!(err(PgType::BigInt, ValueRef::Text(b"abc")).contains("not an integer"));
        assert!(err(PgType::BigInt, ValueRef::Text(b"007")).contains("not an integer"));
        assert!(err(PgType::BigInt, ValueRef::Real(3.5)).contains("whole"));
        assert!(err(PgType::SmallInt, ValueRef::Integer(40_000)).contains("out of range"));
    }

    #[test]
    fn booleans_are_zero_or_one() {
        assert_eq!(ok(PgType::Boolean, ValueRef::Integer(1)), Value::Bool(true));
        assert_eq!(
            ok(PgType::Boolean, ValueRef::Text(b"false")),
            Value::Bool(false)
        );
        assert!(err(PgType::Boolean, ValueRef::Integer(2)).contains("not 0 or 1"));
    }

    #[test]
    fn text_policies() {
        assert!(err(PgType::Text, ValueRef::Text(b"a\0b")).contains("NUL"));
        let strip = ValuePolicy {
            nul_bytes: NulPolicy::Strip,
            ..Default::default()
        };
        assert_eq!(
            convert(&conv(PgType::Text), &strip, ValueRef::Text(b"a\0b")).unwrap(),
            Value::Text("ab".into())
        );
        assert!(err(PgType::Text, ValueRef::Text(b"\xff\xfe")).contains("UTF-8"));
        let lossy = ValuePolicy {
            invalid_utf8: Utf8Policy::Replace,
            ..Default::default()
        };
        assert_eq!(
            convert(&conv(PgType::Text), &lossy, ValueRef::Text(b"a\xff")).unwrap(),
            Value::Text("a\u{fffd}".into())
        );
        assert!(err(
            PgType::Varchar { length: 3 },
            ValueRef::Text("héllo".as_bytes())
        )
        .contains("longer"));
        assert_eq!(
            ok(
                PgType::Varchar { length: 5 },
                ValueRef::Text("héllo".as_bytes())
            ),
            Value::Text("héllo".into())
        );
        assert_eq!(
            ok(PgType::Text, ValueRef::Real(3.5)),
            Value::Text("3.5".into())
        );
    }

    #[test]
    fn not_null_is_enforced_per_value() {
        let c = ColumnConv {
            pg_type: PgType::Text,
            nullable: false,
            epoch: EpochUnit::Seconds,
        };
        assert!(convert(&c, &ValuePolicy::default(), ValueRef::Null).is_err());
    }

    #[test]
    fn dates_from_text_epochs_and_julian_days() {
        let ts = |v| match ok(PgType::Timestamp, v) {
            Value::Timestamp(m) => format_timestamp(m),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            ts(ValueRef::Text(b"2009-01-01 00:00:00")),
            "2009-01-01 00:00:00"
        );
        assert_eq!(ts(ValueRef::Integer(1_234_567_890)), "2009-02-13 23:31:30");
        let ms = ColumnConv {
            pg_type: PgType::Timestamp,
            nullable: true,
            epoch: EpochUnit::Millis,
        };
        match convert(
            &ms,
            &ValuePolicy::default(),
            ValueRef::Integer(1_613_989_282_123),
        )
        .unwrap()
        {
            Value::Timestamp(m) => assert_eq!(format_timestamp(m), "2021-02-22 10:21:22.123000"),
            other => panic!("{other:?}"),
        }
        assert_eq!(ts(ValueRef::Real(2_460_000.5)), "2023-02-25 00:00:00");
        assert!(err(PgType::Timestamp, ValueRef::Text(b"last tuesday")).contains("not a timestamp"));
        assert!(err(PgType::Date, ValueRef::Text(b"2024-01-01 10:00:00")).contains("time of day"));
        assert_eq!(
            ok(PgType::Date, ValueRef::Text(b"2024-01-01 00:00:00")),
            Value::Date(8766)
        );
    }

    #[test]
    fn numerics_and_json() {
        let n = |v| {
            ok(
                PgType::Numeric {
                    precision_scale: Some((10, 2)),
                },
                v,
            )
        };
        assert_eq!(n(ValueRef::Real(0.99)), Value::Numeric("0.99".into()));
        assert_eq!(n(ValueRef::Integer(5)), Value::Numeric("5.00".into()));
        assert!(err(
            PgType::Numeric {
                precision_scale: Some((10, 2))
            },
            ValueRef::Real(0.125)
        )
        .contains("round"));
        assert_eq!(
            ok(
                PgType::Numeric {
                    precision_scale: None
                },
                ValueRef::Real(0.1)
            ),
            Value::Numeric("0.1".into())
        );
        assert_eq!(
            ok(PgType::Jsonb, ValueRef::Text(br#"{"a":1}"#)),
            Value::Json(r#"{"a":1}"#.into())
        );
        assert!(err(PgType::Jsonb, ValueRef::Text(b"{oops")).contains("invalid JSON"));
        assert!(err(PgType::Jsonb, ValueRef::Text(br#"{"a":"\u0000"}"#)).contains("jsonb"));
    }

    proptest! {
        #[test]
        fn doubles_survive_numeric_text(f in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            // The decimal we send for a REAL in a NUMERIC column reads back as the same double.
            if let Value::Numeric(s) = ok(PgType::Numeric { precision_scale: None }, ValueRef::Real(f)) {
                prop_assert_eq!(s.parse::<f64>().unwrap(), if f == 0.0 { 0.0 } else { f });
            }
        }

        #[test]
        fn integers_to_double_are_exact_or_rejected(i in integers_half_representable()) {
            match convert(&conv(PgType::Double), &ValuePolicy::default(), ValueRef::Integer(i)) {
                Ok(Value::F64(f)) => prop_assert_eq!(f as i128, i as i128),
                Ok(other) => prop_assert!(false, "{:?}", other),
                Err(_) => prop_assert!((i as f64) as i128 != i as i128),
            }
        }
    }

    /// Half any i64 (above 2^53 almost never a double), half integers a double holds exactly:
    /// small ones, and 53-bit mantissas shifted up to 2^63, where the rounding starts, so
    /// the accept path is exercised near the edge and not only at 0..2^53.
    fn integers_half_representable() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            prop_oneof![
                -(1i64 << 53)..=(1i64 << 53),
                ((1i64 << 52)..(1i64 << 53), 0u32..=10, any::<bool>()).prop_map(|(m, e, neg)| {
                    if neg {
                        -(m << e)
                    } else {
                        m << e
                    }
                }),
                Just(i64::MIN),
            ],
        ]
    }

    #[test]
    fn integers_to_double_draws_both_accepted_and_rejected_values() {
        // What the property above draws: both outcomes must occur often, or it proves one half.
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = integers_half_representable();
        let (mut accepted, mut accepted_above_2_53, mut rejected) = (0, 0, 0);
        for _ in 0..1000 {
            let i = strategy.new_tree(&mut runner).expect("draw").current();
            match convert(
                &conv(PgType::Double),
                &ValuePolicy::default(),
                ValueRef::Integer(i),
            ) {
                Ok(_) => {
                    accepted += 1;
                    if i.unsigned_abs() > 1 << 53 {
                        accepted_above_2_53 += 1;
                    }
                }
                Err(_) => rejected += 1,
            }
        }
        eprintln!("accepted {accepted} ({accepted_above_2_53} above 2^53), rejected {rejected}");
        assert!(accepted >= 300, "accepted {accepted} of 1000");
        assert!(
            accepted_above_2_53 >= 100,
            "accepted above 2^53: {accepted_above_2_53}"
        );
        assert!(rejected >= 300, "rejected {rejected} of 1000");
    }
}
