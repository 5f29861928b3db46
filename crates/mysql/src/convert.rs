//! One MySQL value (binary protocol) → one value of its target column's type, exactly or not at
//! all.
//!
//! The binary protocol gives integers, floats, dates and times as typed values (a FLOAT arrives
//! as its 4 bytes, not as the server's 6-digit rendering), and DECIMAL, text, JSON, ENUM, SET,
//! BIT and spatial values as bytes. Text arrives as the column stores it (the reader asks for
//! `character_set_results = binary`) and is decoded here with the column's [`Charset`]: the
//! server's own conversion would turn what it cannot map into `?` without a word.

use std::borrow::Cow;

use mysql_async::Value as My;
use pgcutover_core::numeric::{already_fitting, fit_scale, normalize_decimal};
use pgcutover_core::policy::{
    problem, strip_or_reject_nul, utf8, Problem, Utf8Policy, ValuePolicy,
};
use pgcutover_core::temporal::{days_from_civil, MICROS_PER_DAY};
use pgcutover_core::value::PG_EPOCH_OFFSET_DAYS;
use pgcutover_core::{PgType, Value};

use crate::charset::Charset;
use crate::types::Kind;

pub use pgcutover_core::source::ZeroDates;

pub use pgcutover_core::zone::SourceZone;

const HINT_ZONE: &str = "fix the value in the source, or copy DATETIME as timestamp (the default) or with a fixed --source-timezone offset";
const HINT_TYPE: &str = "fix the value in the source, or pick another target type with --cast";
const HINT_CHARSET: &str = "fix the value in the source; or copy a text column's bytes as they are with --cast TABLE.COLUMN=bytea, or put U+FFFD for what cannot be decoded with --invalid-utf8 replace";
const HINT_BOOL: &str = "tinyint(1) is mapped to boolean; --cast 'tinyint(1)=smallint' (or TABLE.COLUMN=smallint) keeps the numbers";

/// Everything needed to convert one column's values.
#[derive(Debug, Clone)]
pub struct ColumnConv {
    pub kind: Kind,
    pub target: PgType,
    pub nullable: bool,
    pub zero_dates: ZeroDates,
    /// For DATETIME → timestamptz: the zone the wall-clock values are in.
    pub zone: SourceZone,
    /// How the column's text is stored (text, ENUM, SET and JSON columns; `binary` for the
    /// rest, whose bytes are not text).
    pub charset: Charset,
}

/// What a converted value was, besides itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    None,
    /// A zero or partial date became NULL.
    ZeroDate,
}

pub fn convert<'a>(
    c: &ColumnConv,
    policy: &ValuePolicy,
    v: &'a My,
) -> Result<(Value<'a>, Note), Problem> {
    if let My::NULL = v {
        return if c.nullable {
            Ok((Value::Null, Note::None))
        } else {
            Err(problem(
                "NULL in a column that is NOT NULL in the target",
                "this happens when a NOT NULL column changed in the source during the copy; run the copy again",
            ))
        };
    }
    if let My::Date(y, m, d, ..) = v {
        if (*m == 0 || *d == 0) && c.kind.is_temporal_date() {
            return match (c.zero_dates, c.nullable) {
                (ZeroDates::Null, true) => Ok((Value::Null, Note::ZeroDate)),
                (ZeroDates::Null, false) => Err(problem(
                    format!("zero date {y:04}-{m:02}-{d:02} in a column kept NOT NULL (it had none when the copy started)"),
                    "run the copy again: the schema pass makes such columns nullable",
                )),
                (ZeroDates::Error, _) => Err(problem(
                    format!("zero or partial date {y:04}-{m:02}-{d:02}, which PostgreSQL cannot hold"),
                    "fix the value in the source, or leave --zero-dates at its default (null)",
                )),
            };
        }
    }
    convert_value(c, policy, v).map(|v| (v, Note::None))
}

fn convert_value<'a>(
    c: &ColumnConv,
    policy: &ValuePolicy,
    v: &'a My,
) -> Result<Value<'a>, Problem> {
    use PgType as P;
    let unexpected = || {
        problem(
            format!("unexpected {} for a {:?} column", describe(v), c.kind),
            "please report this with the column's type",
        )
    };
    match (&c.kind, &c.target) {
        // Integers (and YEAR, BIT into integers).
        (Kind::Int { .. } | Kind::TinyIntOne { .. } | Kind::Year | Kind::Bit { .. }, t)
            if t.is_integer()
                || matches!(t, P::Numeric { .. } | P::Real | P::Double)
                || t.is_text() =>
        {
            let n = integer(v, matches!(c.kind, Kind::Bit { .. })).ok_or_else(unexpected)?;
            from_integer(n, t)
        }
        (Kind::TinyIntOne { .. } | Kind::Int { .. } | Kind::Year, P::Boolean) => {
            match integer(v, matches!(c.kind, Kind::Bit { .. })).ok_or_else(unexpected)? {
                0 => Ok(Value::Bool(false)),
                1 => Ok(Value::Bool(true)),
                n => Err(problem(format!("{n} is not 0 or 1"), HINT_BOOL)),
            }
        }
        (Kind::Bit { .. }, P::Boolean) => {
            match integer(v, matches!(c.kind, Kind::Bit { .. })).ok_or_else(unexpected)? {
                0 => Ok(Value::Bool(false)),
                1 => Ok(Value::Bool(true)),
                n => Err(problem(format!("bit value {n} is not 0 or 1"), HINT_TYPE)),
            }
        }
        (Kind::Bit { bits }, P::VarBit { length }) => {
            let n = integer(v, matches!(c.kind, Kind::Bit { .. })).ok_or_else(unexpected)?;
            if *bits > *length || *bits > 64 {
                return Err(problem(
                    format!("bit({bits}) does not fit bit varying({length})"),
                    HINT_TYPE,
                ));
            }
            Ok(Value::Bits {
                bits: *bits,
                data: Cow::Owned(left_aligned(n as u64, *bits)),
            })
        }
        (Kind::Bit { .. }, P::Bytea) => match v {
            My::Bytes(b) => Ok(Value::Bytes(Cow::Borrowed(b))),
            _ => Err(unexpected()),
        },
        // Decimals arrive as their exact text.
        (Kind::Decimal { .. }, t) => {
            let My::Bytes(b) = v else {
                return Err(unexpected());
            };
            let s = utf8(b)?;
            match t {
                P::Numeric {
                    precision_scale: Some((p, sc)),
                } if already_fitting(s, *p, *sc) => Ok(Value::Numeric(Cow::Owned(s.to_owned()))),
                P::Numeric { precision_scale } => {
                    let plain = normalize_decimal(s).ok_or_else(unexpected)?;
                    let fitted = match precision_scale {
                        Some((p, sc)) => {
                            fit_scale(&plain, *p, *sc).map_err(|e| problem(e, HINT_TYPE))?
                        }
                        None => plain,
                    };
                    Ok(Value::Numeric(Cow::Owned(fitted)))
                }
                t if t.is_integer() => {
                    let n: i128 = s
                        .parse()
                        .map_err(|_| problem(format!("{s} is not a whole number"), HINT_TYPE))?;
                    from_integer(n, t)
                }
                t if t.is_text() => text_value(Cow::Borrowed(s), t),
                _ => Err(unexpected()),
            }
        }
        (Kind::Float | Kind::Double, t) => {
            let f = match v {
                My::Float(f) => f64::from(*f),
                My::Double(d) => *d,
                My::Bytes(b) => utf8(b)?.parse().map_err(|_| unexpected())?,
                _ => return Err(unexpected()),
            };
            match t {
                P::Double => Ok(Value::F64(f)),
                P::Real => {
                    let narrow = f as f32;
                    if f64::from(narrow) == f {
                        Ok(Value::F32(narrow))
                    } else {
                        Err(problem(
                            format!("{f} does not fit a 4-byte real exactly"),
                            HINT_TYPE,
                        ))
                    }
                }
                t if t.is_text() => {
                    let s = match v {
                        My::Float(x) => x.to_string(),
                        _ => f.to_string(),
                    };
                    text_value(Cow::Owned(s), t)
                }
                _ => Err(unexpected()),
            }
        }
        // Dates and times.
        (Kind::Date | Kind::DateTime | Kind::Timestamp, t) => {
            let My::Date(y, m, d, hh, mi, ss, us) = v else {
                return Err(unexpected());
            };
            let days = days_from_civil(i32::from(*y), u32::from(*m), u32::from(*d))
                .ok_or_else(|| problem(format!("{y:04}-{m:02}-{d:02} is not a date"), HINT_TYPE))?
                - i64::from(PG_EPOCH_OFFSET_DAYS);
            let tod = ((i64::from(*hh) * 60 + i64::from(*mi)) * 60 + i64::from(*ss)) * 1_000_000
                + i64::from(*us);
            let micros = days * MICROS_PER_DAY + tod;
            match t {
                P::Date if tod == 0 => Ok(Value::Date(days as i32)),
                P::Date => Err(problem(
                    "has a time of day; a date column would drop it",
                    HINT_TYPE,
                )),
                P::Timestamp => Ok(Value::Timestamp(micros)),
                // TIMESTAMP is read in the session's zone, UTC; DATETIME in --source-timezone.
                P::Timestamptz if c.kind == Kind::Timestamp => Ok(Value::Timestamp(micros)),
                P::Timestamptz => c
                    .zone
                    .to_utc(micros)
                    .map(Value::Timestamp)
                    .map_err(|e| problem(e, HINT_ZONE)),
                t if t.is_text() => text_value(Cow::Owned(display(c, v)), t),
                _ => Err(unexpected()),
            }
        }
        (Kind::Time, t) => {
            let micros = time_micros(v).ok_or_else(unexpected)?;
            match t {
                P::Time if (0..MICROS_PER_DAY).contains(&micros) => Ok(Value::Time(micros)),
                P::Time => Err(problem(
                    format!("TIME {} is outside 00:00:00–24:00:00", format_time_of_mysql(micros)),
                    "it appeared after the copy started; run it again (the schema pass picks interval), or --cast TABLE.COLUMN=interval",
                )),
                P::Interval => Ok(Value::Interval(micros)),
                t if t.is_text() => text_value(Cow::Owned(format_time_of_mysql(micros)), t),
                _ => Err(unexpected()),
            }
        }
        // Everything that arrives as bytes.
        (Kind::Binary { .. } | Kind::Geometry, P::Bytea) => {
            let My::Bytes(b) = v else {
                return Err(unexpected());
            };
            if c.kind == Kind::Geometry {
                // MySQL's internal geometry: 4-byte little-endian SRID, then standard WKB.
                return b
                    .get(4..)
                    .map(|wkb| Value::Bytes(Cow::Borrowed(wkb)))
                    .ok_or_else(unexpected);
            }
            Ok(Value::Bytes(Cow::Borrowed(b)))
        }
        (Kind::Geometry, P::Geometry { .. }) => {
            let My::Bytes(b) = v else {
                return Err(unexpected());
            };
            ewkb(b).map(|e| Value::Bytes(Cow::Owned(e))).ok_or_else(|| {
                problem(
                    format!("{} is not a MySQL geometry (SRID and WKB)", display(c, v)),
                    HINT_TYPE,
                )
            })
        }
        (Kind::Binary { .. }, P::Uuid) => {
            let My::Bytes(b) = v else {
                return Err(unexpected());
            };
            to_uuid(b).map(Value::Uuid)
        }
        (Kind::Text { .. }, P::Uuid) => {
            let My::Bytes(b) = v else {
                return Err(unexpected());
            };
            to_uuid(decode_text(c, b, policy)?.as_bytes()).map(Value::Uuid)
        }
        (Kind::Text { .. }, P::Bytea) => {
            let My::Bytes(b) = v else {
                return Err(unexpected());
            };
            Ok(Value::Bytes(Cow::Borrowed(b)))
        }
        (
            Kind::Text { .. }
            | Kind::Binary { .. }
            | Kind::Enum { .. }
            | Kind::Set { .. }
            | Kind::Json,
            t,
        ) => {
            let My::Bytes(b) = v else {
                return Err(unexpected());
            };
            let text = decode_text(c, b, policy)?;
            match t {
                P::Jsonb => {
                    pgcutover_core::policy::check_json(
                        &text,
                        "fix the JSON in the source, or --cast the column to text",
                    )?;
                    Ok(Value::Json(text))
                }
                P::Enum { .. } => Ok(Value::Text(text)),
                P::TextArray => Ok(Value::CommaList(text)),
                t if t.is_text() => text_value(text, t),
                _ => Err(unexpected()),
            }
        }
        _ => Err(unexpected()),
    }
}

/// A text value's bytes as text, by the column's charset, under the NUL and invalid-text
/// policies.
fn decode_text<'a>(
    c: &ColumnConv,
    b: &'a [u8],
    policy: &ValuePolicy,
) -> Result<Cow<'a, str>, Problem> {
    let text = c
        .charset
        .decode(b, policy.invalid_utf8 == Utf8Policy::Replace)
        .map_err(|e| problem(e.to_string(), HINT_CHARSET))?;
    strip_or_reject_nul(text, policy)
}

fn text_value<'a>(text: Cow<'a, str>, t: &PgType) -> Result<Value<'a>, Problem> {
    if let PgType::Varchar { length } = t {
        let chars = text.chars().count();
        if chars > *length as usize {
            return Err(problem(
                format!("{chars} characters are longer than varchar({length})"),
                HINT_TYPE,
            ));
        }
    }
    Ok(Value::Text(text))
}

/// Integer-valued MySQL values: ints, unsigned ints, BIT's big-endian bytes (`bit`), or
/// integers written as text.
fn integer(v: &My, bit: bool) -> Option<i128> {
    match v {
        My::Int(i) => Some(i128::from(*i)),
        My::UInt(u) => Some(i128::from(*u)),
        My::Bytes(b) if bit && b.len() <= 8 => {
            Some(b.iter().fold(0i128, |acc, x| (acc << 8) | i128::from(*x)))
        }
        My::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

fn from_integer(n: i128, t: &PgType) -> Result<Value<'static>, Problem> {
    let out_of_range = || problem(format!("{n} is out of range for {}", t.sql()), HINT_TYPE);
    match t {
        PgType::SmallInt => i16::try_from(n).map(Value::I16).map_err(|_| out_of_range()),
        PgType::Integer => i32::try_from(n).map(Value::I32).map_err(|_| out_of_range()),
        PgType::BigInt => i64::try_from(n).map(Value::I64).map_err(|_| out_of_range()),
        PgType::Numeric { precision_scale } => {
            let s = n.to_string();
            match precision_scale {
                Some((p, sc)) => fit_scale(&s, *p, *sc)
                    .map(|s| Value::Numeric(Cow::Owned(s)))
                    .map_err(|e| problem(e, HINT_TYPE)),
                None => Ok(Value::Numeric(Cow::Owned(s))),
            }
        }
        PgType::Real if n.unsigned_abs() <= 1 << 24 => Ok(Value::F32(n as f32)),
        PgType::Double if n.unsigned_abs() <= 1 << 53 => Ok(Value::F64(n as f64)),
        PgType::Real | PgType::Double => Err(problem(
            format!("{n} has more digits than {} holds exactly", t.sql()),
            HINT_TYPE,
        )),
        t if t.is_text() => text_value(Cow::Owned(n.to_string()), t),
        _ => Err(out_of_range()),
    }
}

/// The low `bits` bits of `n`, most significant first, left-aligned in whole bytes.
fn left_aligned(n: u64, bits: u32) -> Vec<u8> {
    let nbytes = bits.div_ceil(8) as usize;
    let shifted = if bits == 0 {
        0
    } else {
        (u128::from(n) << (nbytes as u32 * 8 - bits)) as u64
    };
    shifted.to_be_bytes()[8 - nbytes..].to_vec()
}

/// A TIME value in signed microseconds.
fn time_micros(v: &My) -> Option<i64> {
    let My::Time(neg, days, h, m, s, us) = v else {
        return None;
    };
    let abs = (((i64::from(*days) * 24 + i64::from(*h)) * 60 + i64::from(*m)) * 60 + i64::from(*s))
        * 1_000_000
        + i64::from(*us);
    Some(if *neg { -abs } else { abs })
}

/// `-838:59:59.000001` style, as MySQL writes TIME.
pub fn format_time_of_mysql(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let a = micros.unsigned_abs();
    let (s, us) = (a / 1_000_000, a % 1_000_000);
    let base = format!("{sign}{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    if us == 0 {
        base
    } else {
        format!("{base}.{us:06}")
    }
}

fn to_uuid(b: &[u8]) -> Result<[u8; 16], Problem> {
    const HINT: &str = "a UUID is 36-character text or 16 bytes";
    if let Ok(arr) = <[u8; 16]>::try_from(b) {
        return Ok(arr);
    }
    std::str::from_utf8(b)
        .ok()
        .and_then(pgcutover_core::value::parse_uuid)
        .ok_or_else(|| problem("not a UUID", HINT))
}

fn describe(v: &My) -> &'static str {
    match v {
        My::NULL => "NULL",
        My::Bytes(_) => "bytes",
        My::Int(_) => "an integer",
        My::UInt(_) => "an unsigned integer",
        My::Float(_) => "a float",
        My::Double(_) => "a double",
        My::Date(..) => "a date",
        My::Time(..) => "a time",
    }
}

/// MySQL's internal geometry (a 4-byte little-endian SRID, then WKB) as PostGIS's EWKB: the
/// same WKB with the SRID flag set in the first geometry's type and the SRID after it. SRID 0
/// (none) gives plain WKB. None when the bytes are too short to be a geometry.
pub fn ewkb(mysql: &[u8]) -> Option<Vec<u8>> {
    const SRID_FLAG: u32 = 0x2000_0000;
    let srid = u32::from_le_bytes(mysql.get(..4)?.try_into().ok()?);
    let wkb = mysql.get(4..)?;
    let order = *wkb.first()?;
    let ty: [u8; 4] = wkb.get(1..5)?.try_into().ok()?;
    if srid == 0 {
        return Some(wkb.to_vec());
    }
    let (ty, srid) = match order {
        0 => (
            (u32::from_be_bytes(ty) | SRID_FLAG).to_be_bytes(),
            srid.to_be_bytes(),
        ),
        1 => (
            (u32::from_le_bytes(ty) | SRID_FLAG).to_le_bytes(),
            srid.to_le_bytes(),
        ),
        _ => return None,
    };
    let mut out = Vec::with_capacity(wkb.len() + 4);
    out.push(order);
    out.extend_from_slice(&ty);
    out.extend_from_slice(&srid);
    out.extend_from_slice(&wkb[5..]);
    Some(out)
}

/// A source value as MySQL would print it, for rejects and keys: text decoded by its column's
/// charset (its bytes in hex when it cannot be), other bytes in hex unless they are UTF-8,
/// numbers and dates as MySQL writes them (a DATE without a time of day).
pub fn display(c: &ColumnConv, v: &My) -> String {
    let kind = &c.kind;
    match v {
        My::Bytes(b) if kind.is_text() => match c.charset.decode(b, false) {
            Ok(text) => pgcutover_core::reject::display_value(text.as_bytes()),
            Err(_) => pgcutover_core::reject::display_hex(b),
        },
        My::Bytes(b) => pgcutover_core::reject::display_value(b),
        My::Time(..) => format_time_of_mysql(time_micros(v).unwrap_or_default()),
        My::Date(y, mo, d, ..) if *kind == Kind::Date => format!("{y:04}-{mo:02}-{d:02}"),
        My::Date(y, mo, d, h, mi, s, us) => {
            if *us == 0 {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
            }
        }
        other => other.as_sql(true),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A column of a table the copy read, as its catalog describes it (utf8mb4, UTC, zero
    /// dates as NULL).
    pub(crate) fn conv(kind: Kind, target: PgType) -> ColumnConv {
        ColumnConv {
            kind,
            target,
            nullable: true,
            zero_dates: ZeroDates::Null,
            zone: SourceZone::Utc,
            charset: Charset::Utf8 { max_bytes: 4 },
        }
    }

    fn ok(c: &ColumnConv, v: My) -> Value<'static> {
        let (out, _) = convert(c, &ValuePolicy::default(), &v).unwrap();
        out.into_owned()
    }

    fn err(c: &ColumnConv, v: My) -> String {
        convert(c, &ValuePolicy::default(), &v).unwrap_err().reason
    }

    #[test]
    fn tinyint_one_is_zero_or_one_never_truthy() {
        let c = conv(Kind::TinyIntOne { unsigned: false }, PgType::Boolean);
        assert_eq!(ok(&c, My::Int(1)), Value::Bool(true));
        assert_eq!(ok(&c, My::Int(0)), Value::Bool(false));
        assert_eq!(err(&c, My::Int(2)), "2 is not 0 or 1");
        assert_eq!(err(&c, My::Int(-1)), "-1 is not 0 or 1");
    }

    #[test]
    fn unsigned_maximums() {
        let c = conv(
            Kind::Int {
                bytes: 8,
                unsigned: true,
            },
            PgType::Numeric {
                precision_scale: Some((20, 0)),
            },
        );
        assert_eq!(
            ok(&c, My::UInt(u64::MAX)),
            Value::Numeric(Cow::Owned("18446744073709551615".into()))
        );
        let c = conv(
            Kind::Int {
                bytes: 4,
                unsigned: true,
            },
            PgType::BigInt,
        );
        assert_eq!(ok(&c, My::UInt(4_294_967_295)), Value::I64(4_294_967_295));
        let c = conv(
            Kind::Int {
                bytes: 4,
                unsigned: true,
            },
            PgType::Integer,
        );
        assert!(err(&c, My::UInt(4_294_967_295)).contains("out of range for integer"));
    }

    #[test]
    fn geometry_becomes_ewkb_with_its_srid() {
        // POINT(1 2) with SRID 4326, as MySQL stores it: SRID (LE), then little-endian WKB.
        let mut point = 4326u32.to_le_bytes().to_vec();
        point.push(1);
        point.extend_from_slice(&1u32.to_le_bytes());
        point.extend_from_slice(&1f64.to_le_bytes());
        point.extend_from_slice(&2f64.to_le_bytes());
        let e = ewkb(&point).unwrap();
        assert_eq!(e[0], 1);
        assert_eq!(u32::from_le_bytes(e[1..5].try_into().unwrap()), 0x2000_0001);
        assert_eq!(u32::from_le_bytes(e[5..9].try_into().unwrap()), 4326);
        assert_eq!(&e[9..], &point[9..]);
        // SRID 0: plain WKB. A big-endian body keeps its order.
        let mut plain = vec![0, 0, 0, 0];
        plain.extend_from_slice(&point[4..]);
        assert_eq!(ewkb(&plain).unwrap(), point[4..].to_vec());
        let mut be = 3857u32.to_le_bytes().to_vec();
        be.push(0);
        be.extend_from_slice(&1u32.to_be_bytes());
        be.extend_from_slice(&[0; 16]);
        let e = ewkb(&be).unwrap();
        assert_eq!(&e[1..9], &[0x20, 0, 0, 1, 0, 0, 0x0f, 0x11]);
        // Too short, or an unknown byte order: not a geometry.
        assert_eq!(ewkb(&[1, 0, 0]), None);
        assert_eq!(ewkb(&[0, 0, 0, 1, 7, 1, 0, 0, 0]), None);
    }

    #[test]
    fn zero_dates_follow_the_policy() {
        let mut c = conv(Kind::DateTime, PgType::Timestamp);
        let (v, note) =
            convert(&c, &ValuePolicy::default(), &My::Date(0, 0, 0, 0, 0, 0, 0)).unwrap();
        assert_eq!((v, note), (Value::Null, Note::ZeroDate));
        let (v, note) = convert(
            &c,
            &ValuePolicy::default(),
            &My::Date(2020, 0, 15, 0, 0, 0, 0),
        )
        .unwrap();
        assert_eq!((v, note), (Value::Null, Note::ZeroDate));
        c.zero_dates = ZeroDates::Error;
        assert!(err(&c, My::Date(2020, 4, 0, 0, 0, 0, 0)).contains("2020-04-00"));
        assert_eq!(
            ok(&c, My::Date(2000, 1, 1, 0, 0, 1, 5)),
            Value::Timestamp(1_000_005)
        );
    }

    #[test]
    fn datetime_in_a_source_zone() {
        let mut c = conv(Kind::DateTime, PgType::Timestamptz);
        c.zone = SourceZone::parse("Europe/Paris").unwrap();
        // 2000-01-01 01:00 in Paris (UTC+1 in winter) is midnight UTC.
        assert_eq!(
            ok(&c, My::Date(2000, 1, 1, 1, 0, 0, 0)),
            Value::Timestamp(0)
        );
        // 2021-03-28 02:30 never happened in Paris; 2021-10-31 02:30 happened twice.
        assert!(err(&c, My::Date(2021, 3, 28, 2, 30, 0, 0)).contains("does not exist"));
        assert!(err(&c, My::Date(2021, 10, 31, 2, 30, 0, 0)).contains("ambiguous"));
        c.zone = SourceZone::parse("-05:30").unwrap();
        assert_eq!(
            ok(&c, My::Date(2000, 1, 1, 0, 0, 0, 0)),
            Value::Timestamp(19_800_000_000)
        );
        // TIMESTAMP is already UTC: the zone does not apply.
        c.kind = Kind::Timestamp;
        assert_eq!(
            ok(&c, My::Date(2000, 1, 1, 0, 0, 0, 0)),
            Value::Timestamp(0)
        );
        assert!(SourceZone::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn time_and_interval() {
        let c = conv(Kind::Time, PgType::Interval);
        let min = -((838 * 3600 + 59 * 60 + 59) * 1_000_000);
        assert_eq!(
            ok(&c, My::Time(true, 34, 22, 59, 59, 0)),
            Value::Interval(min)
        );
        assert_eq!(format_time_of_mysql(min), "-838:59:59");
        let c = conv(Kind::Time, PgType::Time);
        assert!(err(&c, My::Time(false, 1, 0, 0, 0, 0)).contains("24:00:00"));
        assert_eq!(
            ok(&c, My::Time(false, 0, 23, 59, 59, 999_999)),
            Value::Time(MICROS_PER_DAY - 1)
        );
    }

    #[test]
    fn decimals_floats_and_bits_are_exact() {
        let c = conv(
            Kind::Decimal {
                precision: 65,
                scale: 30,
            },
            PgType::Numeric {
                precision_scale: Some((65, 30)),
            },
        );
        let big = "-99999999999999999999999999999999999.999999999999999999999999999999";
        assert_eq!(
            ok(&c, My::Bytes(big.into())),
            Value::Numeric(Cow::Owned(big.into()))
        );
        let c = conv(Kind::Float, PgType::Real);
        assert_eq!(ok(&c, My::Float(0.1)), Value::F32(0.1));
        let c = conv(Kind::Bit { bits: 10 }, PgType::VarBit { length: 10 });
        // b'1000000001' arrives as two big-endian bytes 0x02 0x01.
        assert_eq!(
            ok(&c, My::Bytes(vec![0x02, 0x01])),
            Value::Bits {
                bits: 10,
                data: Cow::Owned(vec![0x80, 0x40])
            }
        );
        let c = conv(Kind::Bit { bits: 1 }, PgType::Boolean);
        assert_eq!(ok(&c, My::Bytes(vec![1])), Value::Bool(true));
    }

    #[test]
    fn text_json_sets_and_nul() {
        let c = conv(
            Kind::Text { max_chars: Some(3) },
            PgType::Varchar { length: 3 },
        );
        assert_eq!(
            ok(&c, My::Bytes("€😀x".as_bytes().to_vec())),
            Value::Text(Cow::Owned("€😀x".into()))
        );
        assert!(err(&c, My::Bytes(b"a\0b".to_vec())).contains("NUL"));
        let c = conv(Kind::Json, PgType::Jsonb);
        assert!(err(&c, My::Bytes(b"{bad".to_vec())).contains("invalid JSON"));
        let c = conv(Kind::Set { labels: vec![] }, PgType::TextArray);
        assert_eq!(
            ok(&c, My::Bytes(b"a,b".to_vec())),
            Value::CommaList(Cow::Owned("a,b".into()))
        );
        let c = conv(Kind::Geometry, PgType::Bytea);
        assert_eq!(
            ok(&c, My::Bytes(vec![0, 0, 0, 0, 1, 2])),
            Value::Bytes(Cow::Owned(vec![1, 2]))
        );
    }
}
