//! Loading into a column whose type the target chose (`copy --data-only` into a schema made by
//! Alembic, Prisma or Laravel migrations): each value the source converted to the type pgcutover
//! would have created is converted again, into the target column's actual type, exactly or not
//! at all.
//!
//! "Exactly" means that reading the stored value back gives the source value:
//!
//! - numbers keep their numeric value: `5.00` fits `integer`, `5.5` does not; a decimal fits
//!   `numeric(p,s)` only without rounding; a value fits `real` or `double precision` when the
//!   shortest decimal PostgreSQL shows for it is the source's number (`0.1` does; `2^53 + 1`
//!   and `0.12345678901234567890` do not);
//! - text keeps every character: `varchar(n)` and `char(n)` take at most n of them (PostgreSQL
//!   itself would cut trailing spaces without a word), `char(n)` is padded as PostgreSQL pads it;
//! - times keep every digit: a fraction finer than `timestamp(p)` keeps is refused unless the
//!   operator asked to round ([`Fractions::Round`]); a wall-clock time becomes an instant in the
//!   source's zone, and an instant a wall-clock time there; a time that zone skips or repeats is
//!   refused;
//! - an enum label must be one of the target type's labels, whatever the type is called;
//! - JSON must parse, and into `jsonb` must not have a key twice (jsonb would keep one);
//! - a NULL into a `NOT NULL` column is refused here, with the row's key, rather than by
//!   PostgreSQL for the whole chunk.
//!
//! [`Step::plan`] decides, per column, whether a source type can go into a target type at all
//! (and whether some values may be refused); [`Adapter::apply`] decides per value.

use std::borrow::Cow;
use std::collections::HashSet;

use serde::Serialize;

use crate::numeric::{fit_scale, normalize_decimal};
use crate::policy::{problem, reject_jsonb_nul, Problem};
use crate::temporal::{parse_datetime, parse_time_of_day, MICROS_PER_DAY};
use crate::value::parse_pg_bool;
use crate::zone::SourceZone;
use crate::{PgType, Value};

/// A target column's type as the catalog describes it (a domain by its base type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetType {
    Bool,
    /// `smallint`, `integer`, `bigint`: 2, 4 or 8 bytes.
    Int {
        bytes: u8,
    },
    Numeric {
        precision_scale: Option<(u32, u32)>,
    },
    Float4,
    Float8,
    /// `text`, `varchar(n)`, `char(n)`, `citext`.
    Text {
        max_chars: Option<u32>,
        /// `char(n)`: PostgreSQL pads to n characters.
        padded: bool,
    },
    Bytea,
    Date,
    /// Fractional digits kept (0–6).
    Time {
        precision: u32,
    },
    Timestamp {
        precision: u32,
    },
    Timestamptz {
        precision: u32,
    },
    /// `interval`, with the smallest unit its fields and precision keep (`None`: only a zero
    /// interval survives, e.g. `interval year`).
    Interval {
        unit_micros: Option<i64>,
    },
    Json,
    Jsonb,
    Uuid,
    Enum {
        labels: Vec<String>,
    },
    /// A one-dimensional array of text-like or enum elements; `elem_oid` is what the binary
    /// array format names.
    Array {
        elem_oid: u32,
        elem: Box<TargetType>,
    },
    /// `bit varying(n)` (`exact: false`) or `bit(n)` (`exact: true`).
    Bits {
        length: Option<u32>,
        exact: bool,
    },
    Geometry,
}

impl TargetType {
    /// A built-in type by its OID and the column's type modifier (-1 for none). `None` for a
    /// type pgcutover cannot write.
    pub fn builtin(oid: u32, typmod: i32) -> Option<TargetType> {
        let precision = || {
            if (0..=6).contains(&typmod) {
                typmod as u32
            } else {
                6
            }
        };
        // varchar, char and numeric modifiers carry a 4-byte header length.
        let chars = || (typmod >= 4).then(|| (typmod - 4) as u32);
        Some(match oid {
            16 => TargetType::Bool,
            21 => TargetType::Int { bytes: 2 },
            23 => TargetType::Int { bytes: 4 },
            20 => TargetType::Int { bytes: 8 },
            1700 => TargetType::Numeric {
                precision_scale: if typmod >= 4 {
                    let m = (typmod - 4) as u32;
                    let scale = m & 0x7ff;
                    // PostgreSQL 15 allows a negative scale (stored as 11-bit two's complement)
                    // and a scale above the precision; neither is written here.
                    if scale > 1000 || scale > (m >> 16 & 0xffff) {
                        return None;
                    }
                    Some((m >> 16 & 0xffff, scale))
                } else {
                    None
                },
            },
            700 => TargetType::Float4,
            701 => TargetType::Float8,
            25 => TargetType::Text {
                max_chars: None,
                padded: false,
            },
            1043 => TargetType::Text {
                max_chars: chars(),
                padded: false,
            },
            1042 => TargetType::Text {
                max_chars: chars(),
                padded: true,
            },
            17 => TargetType::Bytea,
            1082 => TargetType::Date,
            1083 => TargetType::Time {
                precision: precision(),
            },
            1114 => TargetType::Timestamp {
                precision: precision(),
            },
            1184 => TargetType::Timestamptz {
                precision: precision(),
            },
            1186 => TargetType::Interval {
                unit_micros: interval_unit(typmod),
            },
            114 => TargetType::Json,
            3802 => TargetType::Jsonb,
            2950 => TargetType::Uuid,
            1562 => TargetType::Bits {
                length: (typmod > 0).then_some(typmod as u32),
                exact: false,
            },
            1560 => TargetType::Bits {
                length: (typmod > 0).then_some(typmod as u32),
                exact: true,
            },
            _ => return None,
        })
    }

    /// The shape of the values this type's binary form carries, as the copy's own types name
    /// them: what a verification hashes and shows.
    pub fn shape(&self) -> PgType {
        match self {
            TargetType::Bool => PgType::Boolean,
            TargetType::Int { bytes: 2 } => PgType::SmallInt,
            TargetType::Int { bytes: 4 } => PgType::Integer,
            TargetType::Int { .. } => PgType::BigInt,
            TargetType::Numeric { precision_scale } => PgType::Numeric {
                precision_scale: *precision_scale,
            },
            TargetType::Float4 => PgType::Real,
            TargetType::Float8 => PgType::Double,
            TargetType::Text { .. } | TargetType::Json => PgType::Text,
            TargetType::Bytea => PgType::Bytea,
            TargetType::Date => PgType::Date,
            TargetType::Time { .. } => PgType::Time,
            TargetType::Timestamp { .. } => PgType::Timestamp,
            TargetType::Timestamptz { .. } => PgType::Timestamptz,
            TargetType::Interval { .. } => PgType::Interval,
            TargetType::Jsonb => PgType::Jsonb,
            TargetType::Uuid => PgType::Uuid,
            TargetType::Enum { .. } => PgType::Text,
            TargetType::Array { .. } => PgType::TextArray,
            TargetType::Bits { length, .. } => PgType::VarBit {
                length: length.unwrap_or(0),
            },
            TargetType::Geometry => PgType::Geometry {
                postgis_schema: String::new(),
            },
        }
    }
}

/// The smallest unit an `interval` column's modifier keeps (fields, then fractional digits).
fn interval_unit(typmod: i32) -> Option<i64> {
    if typmod < 0 {
        return Some(1);
    }
    let precision = typmod & 0xffff;
    let range = (typmod >> 16) & 0x7fff;
    // Field bits, as PostgreSQL's datetime.h numbers them.
    let (second, minute, hour) = (1 << 12, 1 << 11, 1 << 10);
    if range == 0x7fff || range & second != 0 {
        Some(if (0..=6).contains(&precision) {
            10i64.pow(6 - precision as u32)
        } else {
            1
        })
    } else if range & minute != 0 {
        Some(60_000_000)
    } else if range & hour != 0 {
        Some(3_600_000_000)
    } else {
        // DAY, MONTH, YEAR: the time part is dropped, and pgcutover's intervals are all time.
        None
    }
}

/// What to do with a fractional second finer than the target column keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fractions {
    /// Reject the row.
    #[default]
    Reject,
    /// Round as PostgreSQL rounds (half away from zero): a change to the value, asked for.
    Round,
}

/// The operator's choices that decide conversions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdaptOptions {
    pub fractions: Fractions,
    /// The zone wall-clock values are in: a DATETIME into `timestamptz`, a `timestamptz` value
    /// into `timestamp`.
    pub zone: SourceZone,
}

/// How one column's values go from the source's type into the target's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The same binary form; nothing to check.
    Same,
    Int {
        bytes: u8,
    },
    Bool,
    Numeric {
        precision_scale: Option<(u32, u32)>,
    },
    Float {
        single: bool,
    },
    Text {
        max_chars: Option<u32>,
        padded: bool,
    },
    TextToBytes,
    Date,
    Timestamp {
        precision: u32,
        /// `timestamptz` (an instant) rather than `timestamp` (a wall-clock time).
        instant: bool,
    },
    Time {
        precision: u32,
    },
    Interval {
        unit_micros: Option<i64>,
    },
    Json,
    Jsonb,
    Uuid,
    Enum {
        labels: HashSet<String>,
    },
    List {
        elem_oid: u32,
        elem: Box<Step>,
    },
    Bits {
        length: Option<u32>,
        exact: bool,
    },
}

/// A step with what `plan` says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    pub step: Step,
    /// What happens to the values, in a few words.
    pub how: String,
    /// Whether some values may be refused (the rest arrive).
    pub may_reject: bool,
}

fn conv(step: Step, how: impl Into<String>, may_reject: bool) -> Result<Conversion, String> {
    Ok(Conversion {
        step,
        how: how.into(),
        may_reject,
    })
}

fn int_bytes(t: &PgType) -> Option<u8> {
    match t {
        PgType::SmallInt => Some(2),
        PgType::Integer => Some(4),
        PgType::BigInt => Some(8),
        _ => None,
    }
}

impl Step {
    /// Whether values of `source` (the type pgcutover maps the source column to) can go into
    /// `target`, and how. `Err` says why no value of that column could.
    pub fn plan(source: &PgType, target: &TargetType) -> Result<Conversion, String> {
        use PgType as S;
        use TargetType as T;
        let textual = source.is_text() || matches!(source, S::Enum { .. });
        match (target, source) {
            (T::Int { bytes }, s) if int_bytes(s).is_some() => {
                let from = int_bytes(s).unwrap_or(8);
                if from <= *bytes {
                    if from == *bytes {
                        conv(Step::Same, "unchanged", false)
                    } else {
                        conv(Step::Int { bytes: *bytes }, "widened", false)
                    }
                } else {
                    conv(
                        Step::Int { bytes: *bytes },
                        "narrowed; a value out of range is rejected",
                        true,
                    )
                }
            }
            (T::Int { bytes }, S::Boolean) => conv(Step::Int { bytes: *bytes }, "false → 0, true → 1", false),
            (T::Int { bytes }, S::Numeric { .. } | S::Real | S::Double) => conv(
                Step::Int { bytes: *bytes },
                "a whole number in range arrives; one with a fraction or out of range is rejected",
                true,
            ),
            (T::Int { bytes }, _) if textual => conv(
                Step::Int { bytes: *bytes },
                "text read as a number; text that is not a whole number in range is rejected",
                true,
            ),
            (T::Bool, S::Boolean) => conv(Step::Same, "unchanged", false),
            (T::Bool, s) if s.is_integer() || matches!(s, S::Numeric { .. }) => {
                conv(Step::Bool, "0 → false, 1 → true; any other number is rejected", true)
            }
            (T::Bool, S::VarBit { length: 1 }) => conv(Step::Bool, "bit 0 → false, 1 → true", false),
            (T::Bool, _) if textual => conv(
                Step::Bool,
                "text read as PostgreSQL reads a boolean (t/f, true/false, yes/no, on/off, 1/0); other text is rejected",
                true,
            ),
            (T::Numeric { precision_scale }, s) => {
                let ok = s.is_integer() || matches!(s, S::Numeric { .. } | S::Real | S::Double) || textual;
                if !ok {
                    return Err(never(source, target));
                }
                let same = matches!(s, S::Numeric { precision_scale: p } if p == precision_scale);
                if same || (precision_scale.is_none() && matches!(s, S::Numeric { .. })) {
                    return conv(Step::Same, "unchanged", false);
                }
                let how = match precision_scale {
                    Some((p, sc)) => format!("a value with more than {} integer digits, or that numeric({p},{sc}) would round, is rejected", p - sc),
                    None => "the number as the source shows it".to_owned(),
                };
                let lossless = match (s, precision_scale) {
                    // NaN and the infinities are floats that numeric here does not take.
                    (S::Real | S::Double, None) => false,
                    (_, None) => !textual,
                    (S::SmallInt, Some((p, sc))) => p - sc >= 5,
                    (S::Integer, Some((p, sc))) => p - sc >= 10,
                    (S::BigInt, Some((p, sc))) => p - sc >= 19,
                    (S::Numeric { precision_scale: Some((sp, ss)) }, Some((p, sc))) => sp - ss <= p - sc && ss <= sc,
                    _ => false,
                };
                conv(
                    Step::Numeric { precision_scale: *precision_scale },
                    if textual { format!("text read as a number; {how}") } else { how },
                    !lossless,
                )
            }
            (T::Float4, S::Real) | (T::Float8, S::Double) => conv(Step::Same, "unchanged", false),
            (T::Float4 | T::Float8, s)
                if s.is_integer() || textual || matches!(s, S::Numeric { .. } | S::Real | S::Double) =>
            {
                let single = *target == T::Float4;
                let lossless = matches!((s, single), (S::SmallInt, _) | (S::Integer, false) | (S::Real, false));
                conv(
                    Step::Float { single },
                    "a number arrives when the float shows the same decimal; one it cannot hold (more digits, or an integer beyond its exact range) is rejected",
                    !lossless,
                )
            }
            (T::Text { max_chars, padded }, s) => {
                let ok = textual
                    || s.is_integer()
                    || matches!(s, S::Numeric { .. } | S::Real | S::Double | S::Jsonb | S::Uuid | S::Bytea | S::TextArray);
                if !ok {
                    return Err(never(source, target));
                }
                let fits = match (s, max_chars) {
                    (_, None) => !matches!(s, S::Bytea),
                    (S::Varchar { length }, Some(m)) => length <= m,
                    (S::Uuid, Some(m)) => *m >= 36,
                    (S::SmallInt, Some(m)) => *m >= 6,
                    (S::Integer, Some(m)) => *m >= 11,
                    (S::BigInt, Some(m)) => *m >= 20,
                    _ => false,
                };
                if fits && !padded && textual {
                    return conv(Step::Same, "unchanged", false);
                }
                let what = match s {
                    S::Bytea => "bytes that are UTF-8 text arrive as that text; other bytes are rejected",
                    S::Jsonb => "the JSON text",
                    S::TextArray => "the comma-separated list, as the source shows it",
                    S::Uuid => "the UUID's text form",
                    _ if textual => "the text",
                    _ => "the number as text",
                };
                let how = match (max_chars, padded) {
                    (Some(m), true) => format!("{what}, padded to {m} characters; a longer value is rejected"),
                    (Some(m), false) => format!("{what}; a value longer than {m} characters is rejected"),
                    (None, _) => what.to_owned(),
                };
                conv(Step::Text { max_chars: *max_chars, padded: *padded }, how, !fits || matches!(s, S::Bytea))
            }
            (T::Bytea, S::Bytea) => conv(Step::Same, "unchanged", false),
            (T::Bytea, _) if textual => conv(Step::TextToBytes, "the text's UTF-8 bytes", false),
            (T::Date, S::Date) => conv(Step::Same, "unchanged", false),
            (T::Date, S::Timestamp) => conv(Step::Date, "a midnight arrives as its date; a time of day is rejected", true),
            (T::Date, _) if textual => conv(Step::Date, "text read as an ISO date (YYYY-MM-DD); other text is rejected", true),
            (T::Timestamp { precision } | T::Timestamptz { precision }, s)
                if matches!(s, S::Timestamp | S::Timestamptz | S::Date) || textual =>
            {
                let instant = matches!(target, T::Timestamptz { .. });
                let same = *precision == 6
                    && matches!((s, instant), (S::Timestamp, false) | (S::Timestamptz, true));
                if same {
                    return conv(Step::Same, "unchanged", false);
                }
                let mut how = Vec::new();
                match (s, instant) {
                    (S::Timestamp, true) => how.push("wall-clock time read in --source-timezone; a time that zone skips or repeats is rejected".to_owned()),
                    (S::Timestamptz, false) => how.push("the instant as wall-clock time in --source-timezone".to_owned()),
                    (S::Date, true) => how.push("midnight in --source-timezone".to_owned()),
                    (S::Date, false) => how.push("midnight".to_owned()),
                    _ if textual => how.push(format!(
                        "text read as an ISO date-time{}; other text is rejected",
                        if instant { " (without an offset: in --source-timezone)" } else { " without an offset" }
                    )),
                    _ => {}
                }
                if *precision < 6 {
                    how.push(format!("a fraction of a second finer than {precision} digits is rejected (--fractional-seconds round rounds it)"));
                }
                let may_reject = *precision < 6
                    || textual
                    || matches!(&target, T::Timestamptz { .. } if matches!(s, S::Timestamp | S::Date))
                    || matches!(s, S::Timestamptz if !instant);
                conv(Step::Timestamp { precision: *precision, instant }, how.join("; "), may_reject)
            }
            (T::Time { precision }, S::Time | S::Interval) => {
                if *precision == 6 && *source == S::Time {
                    return conv(Step::Same, "unchanged", false);
                }
                let mut how = Vec::new();
                if *source == S::Interval {
                    how.push("a duration from 00:00:00 to 24:00:00 arrives as that time of day; others are rejected".to_owned());
                }
                if *precision < 6 {
                    how.push(format!("a fraction of a second finer than {precision} digits is rejected (--fractional-seconds round rounds it)"));
                }
                conv(Step::Time { precision: *precision }, how.join("; "), true)
            }
            (T::Time { precision }, _) if textual => conv(
                Step::Time { precision: *precision },
                "text read as a time of day (HH:MM[:SS[.ffffff]]); other text is rejected",
                true,
            ),
            (T::Interval { unit_micros }, S::Interval | S::Time) => {
                if *unit_micros == Some(1) && *source == S::Interval {
                    return conv(Step::Same, "unchanged", false);
                }
                conv(
                    Step::Interval { unit_micros: *unit_micros },
                    if *unit_micros == Some(1) { "the time as a duration".to_owned() } else { "a duration finer than the column's fields and precision keep is rejected".to_owned() },
                    *unit_micros != Some(1),
                )
            }
            (T::Json, S::Jsonb) => conv(Step::Json, "the JSON text", false),
            (T::Json, _) if textual => conv(Step::Json, "text that is JSON; other text is rejected", true),
            (T::Jsonb, S::Jsonb) => conv(Step::Same, "unchanged", false),
            (T::Jsonb, _) if textual => conv(
                Step::Jsonb,
                "text that is JSON; other text, or an object with a key twice (jsonb keeps one), is rejected",
                true,
            ),
            (T::Uuid, S::Uuid) => conv(Step::Same, "unchanged", false),
            (T::Uuid, S::Bytea) => conv(Step::Uuid, "16 bytes arrive as the UUID; other lengths are rejected", true),
            (T::Uuid, _) if textual => conv(Step::Uuid, "text in the 8-4-4-4-12 hex form; other text is rejected", true),
            (T::Enum { labels }, _) if textual => conv(
                Step::Enum { labels: labels.iter().cloned().collect() },
                "a label of the target type arrives; any other value is rejected",
                true,
            ),
            (T::Array { elem_oid, elem }, S::TextArray) => {
                let inner = match elem.as_ref() {
                    T::Enum { labels } => Step::Enum { labels: labels.iter().cloned().collect() },
                    T::Text { max_chars, padded } => Step::Text { max_chars: *max_chars, padded: *padded },
                    _ => return Err(never(source, target)),
                };
                if inner == (Step::Text { max_chars: None, padded: false }) && *elem_oid == 25 {
                    return conv(Step::Same, "unchanged", false);
                }
                conv(
                    Step::List { elem_oid: *elem_oid, elem: Box::new(inner) },
                    "each member of the set as an element; a member the element type cannot hold is rejected",
                    true,
                )
            }
            (T::Bits { length, exact }, S::VarBit { length: from }) => {
                let fits = match length {
                    None => !exact,
                    Some(n) => if *exact { false } else { from <= n },
                };
                if fits {
                    return conv(Step::Same, "unchanged", false);
                }
                conv(
                    Step::Bits { length: *length, exact: *exact },
                    if *exact { "a value of exactly the column's length arrives; others are rejected" } else { "a value longer than the column is rejected" },
                    true,
                )
            }
            (T::Geometry, S::Geometry { .. }) => conv(Step::Same, "unchanged (EWKB)", false),
            _ => Err(never(source, target)),
        }
    }

    /// [`Step::plan`] for a load into a schema someone else made (`--data-only`, and the
    /// verification of such a load): JSON going into `jsonb` is also checked for an object with
    /// a key twice, which jsonb would keep only once. The source's JSON (MariaDB's LONGTEXT,
    /// SQLite's text) keeps every key, so without the check a value would change silently.
    /// A full copy's own `jsonb` columns keep jsonb's rule, the last key wins, as
    /// docs/verify.md describes; their verification is not changed by this.
    pub fn plan_data_only(source: &PgType, target: &TargetType) -> Result<Conversion, String> {
        if matches!((target, source), (TargetType::Jsonb, PgType::Jsonb)) {
            return conv(
                Step::Jsonb,
                "the JSON; an object with a key twice (jsonb would keep only the last) is rejected",
                true,
            );
        }
        Step::plan(source, target)
    }

    fn describe_target(&self) -> &'static str {
        match self {
            Step::Same => "the column",
            Step::Int { bytes: 2 } => "smallint",
            Step::Int { bytes: 4 } => "integer",
            Step::Int { .. } => "bigint",
            Step::Bool => "boolean",
            Step::Numeric { .. } => "numeric",
            Step::Float { single: true } => "real",
            Step::Float { single: false } => "double precision",
            Step::Text { .. } => "text",
            Step::TextToBytes => "bytea",
            Step::Date => "date",
            Step::Timestamp { instant: false, .. } => "timestamp",
            Step::Timestamp { instant: true, .. } => "timestamptz",
            Step::Time { .. } => "time",
            Step::Interval { .. } => "interval",
            Step::Json => "json",
            Step::Jsonb => "jsonb",
            Step::Uuid => "uuid",
            Step::Enum { .. } => "the enum type",
            Step::List { .. } => "the array",
            Step::Bits { .. } => "bit string",
        }
    }
}

fn never(source: &PgType, target: &TargetType) -> String {
    let what = match target {
        TargetType::Geometry => "geometry".to_owned(),
        TargetType::Enum { .. } => "an enum".to_owned(),
        TargetType::Array { .. } => "an array".to_owned(),
        other => other.shape().sql(),
    };
    format!(
        "no value of {} converts exactly to {what}",
        match source {
            PgType::Enum { .. } => "an enum".to_owned(),
            s => s.sql(),
        }
    )
}

/// One column's conversion, ready to apply to each value.
#[derive(Debug, Clone)]
pub struct Adapter {
    step: Step,
    /// The type the source's values come as.
    source: PgType,
    /// Refuse NULL (the target column is NOT NULL and the source's may hold one).
    not_null: bool,
    options: AdaptOptions,
}

const HINT_FIT: &str = "change the target column's type (your migration), fix the value in the source, or leave the table out and load it yourself";
const HINT_NULL: &str = "the target column is NOT NULL: give it a default in your migration, make it nullable, or fill the value in the source";
const HINT_FRACTION: &str =
    "--fractional-seconds round rounds it as PostgreSQL would; or give the column more precision";
const HINT_ZONE: &str = "--source-timezone names the zone the source's wall-clock times are in; a time that zone skips or repeats cannot be placed";

impl Adapter {
    /// `None` when the values go as they are (the same type, and no NULL to refuse).
    pub fn new(
        conversion: &Conversion,
        source: &PgType,
        source_nullable: bool,
        target_not_null: bool,
        options: &AdaptOptions,
    ) -> Option<Adapter> {
        let not_null = source_nullable && target_not_null;
        if conversion.step == Step::Same && !not_null {
            return None;
        }
        Some(Adapter {
            step: conversion.step.clone(),
            source: source.clone(),
            not_null,
            options: options.clone(),
        })
    }

    /// The value in the target column's type, or why it cannot arrive.
    pub fn apply<'a>(&self, v: Value<'a>) -> Result<Value<'a>, Problem> {
        if let Value::Null = v {
            return if self.not_null {
                Err(problem(
                    "NULL, but the target column is NOT NULL",
                    HINT_NULL,
                ))
            } else {
                Ok(Value::Null)
            };
        }
        self.convert(&self.step, v).map_err(|p| match p {
            Refused::Fit(reason) => problem(reason, HINT_FIT),
            Refused::Fraction(reason) => problem(reason, HINT_FRACTION),
            Refused::Zone(reason) => problem(reason, HINT_ZONE),
        })
    }

    fn convert<'a>(&self, step: &Step, v: Value<'a>) -> Result<Value<'a>, Refused> {
        let target = step.describe_target();
        let unfit = |what: String| Refused::Fit(format!("{what} does not fit {target}"));
        match step {
            Step::Same => Ok(v),
            Step::Int { bytes } => {
                let n = as_integer(&v)
                    .map_err(|why| Refused::Fit(format!("{why}; {target} holds whole numbers")))?;
                match bytes {
                    2 => i16::try_from(n)
                        .map(Value::I16)
                        .map_err(|_| unfit(n.to_string())),
                    4 => i32::try_from(n)
                        .map(Value::I32)
                        .map_err(|_| unfit(n.to_string())),
                    _ => i64::try_from(n)
                        .map(Value::I64)
                        .map_err(|_| unfit(n.to_string())),
                }
            }
            Step::Bool => match &v {
                Value::Bool(b) => Ok(Value::Bool(*b)),
                Value::Bits { data, .. } => {
                    Ok(Value::Bool(data.first().is_some_and(|b| b & 0x80 != 0)))
                }
                Value::Text(s) => parse_pg_bool(s)
                    .map(Value::Bool)
                    .ok_or_else(|| Refused::Fit(format!("{} is not a boolean", quoted(s)))),
                _ => match as_integer(&v) {
                    Ok(0) => Ok(Value::Bool(false)),
                    Ok(1) => Ok(Value::Bool(true)),
                    Ok(n) => Err(Refused::Fit(format!(
                        "{n} is neither 0 nor 1; boolean holds only those"
                    ))),
                    Err(why) => Err(Refused::Fit(why)),
                },
            },
            Step::Numeric { precision_scale } => {
                let plain = as_decimal(&v).map_err(Refused::Fit)?;
                match precision_scale {
                    Some((p, s)) => fit_scale(&plain, *p, *s)
                        .map(|f| Value::Numeric(Cow::Owned(f)))
                        .map_err(|why| Refused::Fit(format!("{plain}: {why}"))),
                    None => Ok(Value::Numeric(Cow::Owned(plain))),
                }
            }
            Step::Float { single } => {
                match &v {
                    // NaN and the infinities are floats in both types.
                    Value::F32(f) if !f.is_finite() => return Ok(float(f64::from(*f), *single)),
                    Value::F64(f) if !f.is_finite() => return Ok(float(*f, *single)),
                    _ => {}
                }
                let wanted = as_decimal(&v).map_err(Refused::Fit)?;
                let x = wanted.parse::<f64>().map_err(|_| unfit(wanted.clone()))?;
                let shown = if *single {
                    (x as f32).to_string()
                } else {
                    x.to_string()
                };
                if same_decimal(&shown, &wanted) {
                    return Ok(float(x, *single));
                }
                Err(Refused::Fit(format!(
                    "{} cannot be held exactly by {target}; it would read back as {}",
                    long_number(&wanted),
                    long_number(&shown)
                )))
            }
            Step::Text { max_chars, padded } => {
                let text: Cow<'a, str> = match v {
                    Value::Text(s) | Value::Json(s) | Value::Numeric(s) | Value::CommaList(s) => s,
                    Value::Bytes(b) => {
                        match b {
                            Cow::Borrowed(b) => {
                                Cow::Borrowed(std::str::from_utf8(b).map_err(|_| {
                                    Refused::Fit("bytes that are not UTF-8 text".into())
                                })?)
                            }
                            Cow::Owned(b) => Cow::Owned(String::from_utf8(b).map_err(|_| {
                                Refused::Fit("bytes that are not UTF-8 text".into())
                            })?),
                        }
                    }
                    Value::Uuid(u) => Cow::Owned(crate::value::format_uuid(&u)),
                    Value::I16(i) => Cow::Owned(i.to_string()),
                    Value::I32(i) => Cow::Owned(i.to_string()),
                    Value::I64(i) => Cow::Owned(i.to_string()),
                    Value::F32(f) => Cow::Owned(f.to_string()),
                    Value::F64(f) => Cow::Owned(f.to_string()),
                    other => return Err(Refused::Fit(format!("a {other:?} value is not text"))),
                };
                if text.contains('\0') {
                    return Err(Refused::Fit(
                        "text with a NUL byte does not fit text".into(),
                    ));
                }
                fit_text(text, *max_chars, *padded)
            }
            Step::TextToBytes => match v {
                Value::Text(Cow::Borrowed(s)) => Ok(Value::Bytes(Cow::Borrowed(s.as_bytes()))),
                Value::Text(Cow::Owned(s)) => Ok(Value::Bytes(Cow::Owned(s.into_bytes()))),
                other => Err(Refused::Fit(format!("{other:?} is not text"))),
            },
            Step::Date => {
                let micros = match &v {
                    Value::Timestamp(t) => *t,
                    Value::Text(s) => {
                        let d = parse_datetime(s)
                            .map_err(|e| Refused::Fit(format!("{}: {e}", quoted(s))))?;
                        if d.offset_seconds.is_some() {
                            return Err(Refused::Fit(format!(
                                "{} has a UTC offset; date has none",
                                quoted(s)
                            )));
                        }
                        d.micros
                    }
                    other => return Err(Refused::Fit(format!("{other:?} is not a date"))),
                };
                if micros.rem_euclid(MICROS_PER_DAY) != 0 {
                    return Err(Refused::Fit(
                        "a time of day other than midnight does not fit date".into(),
                    ));
                }
                i32::try_from(micros.div_euclid(MICROS_PER_DAY))
                    .map(Value::Date)
                    .map_err(|_| unfit("the date".into()))
            }
            Step::Timestamp { precision, instant } => {
                let zone = &self.options.zone;
                let micros = match (&v, &self.source) {
                    (Value::Timestamp(t), PgType::Timestamptz) => {
                        if *instant {
                            *t
                        } else {
                            zone.from_utc(*t).map_err(Refused::Fit)?
                        }
                    }
                    (Value::Timestamp(t), _) => {
                        if *instant {
                            zone.to_utc(*t).map_err(Refused::Zone)?
                        } else {
                            *t
                        }
                    }
                    (Value::Date(d), _) => {
                        let local = i64::from(*d) * MICROS_PER_DAY;
                        if *instant {
                            zone.to_utc(local).map_err(Refused::Zone)?
                        } else {
                            local
                        }
                    }
                    (Value::Text(s), _) => {
                        let d = parse_datetime(s)
                            .map_err(|e| Refused::Fit(format!("{}: {e}", quoted(s))))?;
                        match (d.offset_seconds, instant) {
                            (Some(_), true) => d.utc_micros(),
                            (Some(_), false) => {
                                return Err(Refused::Fit(format!(
                                    "{} has a UTC offset; timestamp without time zone has none",
                                    quoted(s)
                                )))
                            }
                            (None, true) => zone.to_utc(d.micros).map_err(Refused::Zone)?,
                            (None, false) => d.micros,
                        }
                    }
                    (other, _) => {
                        return Err(Refused::Fit(format!("{other:?} is not a date-time")))
                    }
                };
                self.fraction(micros, *precision, "timestamp")
                    .map(Value::Timestamp)
            }
            Step::Time { precision } => {
                let micros = match &v {
                    Value::Time(t) => *t,
                    Value::Interval(t) if (0..=MICROS_PER_DAY).contains(t) => *t,
                    Value::Interval(_) => {
                        return Err(Refused::Fit(
                            "a duration below zero or over 24 hours does not fit time".into(),
                        ))
                    }
                    Value::Text(s) => parse_time_of_day(s)
                        .map_err(|e| Refused::Fit(format!("{}: {e}", quoted(s))))?,
                    other => return Err(Refused::Fit(format!("{other:?} is not a time of day"))),
                };
                let t = self.fraction(micros, *precision, "time")?;
                if t > MICROS_PER_DAY {
                    return Err(Refused::Fit("rounded past 24:00:00".into()));
                }
                Ok(Value::Time(t))
            }
            Step::Interval { unit_micros } => {
                let micros = match &v {
                    Value::Interval(t) | Value::Time(t) => *t,
                    other => return Err(Refused::Fit(format!("{other:?} is not a duration"))),
                };
                match unit_micros {
                    Some(1) => Ok(Value::Interval(micros)),
                    Some(u) if *u <= 1_000_000 => {
                        let digits = 6 - (*u as f64).log10().round() as u32;
                        self.fraction(micros, digits, "interval")
                            .map(Value::Interval)
                    }
                    Some(u) if micros % u == 0 => Ok(Value::Interval(micros)),
                    _ if micros == 0 => Ok(Value::Interval(0)),
                    _ => Err(Refused::Fit(
                        "the interval column's fields do not keep this duration's smaller units"
                            .into(),
                    )),
                }
            }
            Step::Json => match v {
                Value::Json(s) => Ok(Value::Text(s)),
                Value::Text(s) => {
                    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&s) {
                        return Err(Refused::Fit(format!("invalid JSON: {e}")));
                    }
                    Ok(Value::Text(s))
                }
                other => Err(Refused::Fit(format!("{other:?} is not JSON"))),
            },
            Step::Jsonb => match v {
                // The source checked its JSON values already (syntax, \u0000); text it did not.
                // One parse does the syntax and the keys.
                Value::Json(s) => {
                    json_without_duplicate_keys(&s).map_err(Refused::Fit)?;
                    Ok(Value::Json(s))
                }
                Value::Text(s) => {
                    json_without_duplicate_keys(&s).map_err(Refused::Fit)?;
                    reject_jsonb_nul(&s, HINT_FIT).map_err(|p| Refused::Fit(p.reason))?;
                    Ok(Value::Json(s))
                }
                other => Err(Refused::Fit(format!("{other:?} is not JSON"))),
            },
            Step::Uuid => match &v {
                Value::Text(s) => crate::value::parse_uuid(s).map(Value::Uuid).ok_or_else(|| {
                    Refused::Fit(format!(
                        "{} is not a UUID (8-4-4-4-12 hex digits)",
                        quoted(s)
                    ))
                }),
                Value::Bytes(b) => <[u8; 16]>::try_from(b.as_ref())
                    .map(Value::Uuid)
                    .map_err(|_| Refused::Fit(format!("{} bytes are not a UUID's 16", b.len()))),
                other => Err(Refused::Fit(format!("{other:?} is not a UUID"))),
            },
            Step::Enum { labels } => match &v {
                Value::Text(s) if labels.contains(s.as_ref()) => Ok(v),
                Value::Text(s) => Err(Refused::Fit(format!(
                    "{} is not a label of the target's enum type",
                    quoted(s)
                ))),
                other => Err(Refused::Fit(format!("{other:?} is not a label"))),
            },
            Step::List { elem_oid, elem } => match v {
                Value::CommaList(list) => {
                    // Each element as the element type holds it (char(n) pads); PostgreSQL
                    // would pad them itself, and verify compares what it holds.
                    let mut changed = false;
                    let mut items = Vec::new();
                    if !list.is_empty() {
                        for item in list.split(',') {
                            match self.convert(elem, Value::Text(Cow::Borrowed(item)))? {
                                Value::Text(t) => {
                                    changed |= t != item;
                                    items.push(t.into_owned());
                                }
                                _ => items.push(item.to_owned()),
                            }
                        }
                    }
                    let list = if changed {
                        Cow::Owned(items.join(","))
                    } else {
                        list
                    };
                    Ok(Value::TypedList {
                        elem_oid: *elem_oid,
                        list,
                    })
                }
                other => Err(Refused::Fit(format!("{other:?} is not a list"))),
            },
            Step::Bits { length, exact } => match &v {
                Value::Bits { bits, .. } => match length {
                    Some(n) if *exact && bits != n => Err(Refused::Fit(format!(
                        "{bits} bits do not fit bit({n}), which holds exactly {n}"
                    ))),
                    Some(n) if bits > n => Err(Refused::Fit(format!(
                        "{bits} bits do not fit bit varying({n})"
                    ))),
                    _ => Ok(v),
                },
                other => Err(Refused::Fit(format!("{other:?} is not a bit string"))),
            },
        }
    }

    /// Microseconds kept to `digits` fractional digits: unchanged when nothing finer is there,
    /// else rejected or rounded (half away from zero, as PostgreSQL rounds).
    fn fraction(&self, micros: i64, digits: u32, what: &str) -> Result<i64, Refused> {
        if digits >= 6 {
            return Ok(micros);
        }
        let unit = 10i64.pow(6 - digits);
        if micros % unit == 0 {
            return Ok(micros);
        }
        match self.options.fractions {
            Fractions::Reject => Err(Refused::Fraction(format!(
                "a fraction of a second finer than {what}({digits}) keeps ({:06} µs)",
                micros.rem_euclid(1_000_000)
            ))),
            Fractions::Round => {
                let half = unit / 2;
                Ok(if micros >= 0 {
                    (micros + half) / unit * unit
                } else {
                    -((-micros + half) / unit * unit)
                })
            }
        }
    }
}

/// Converts a row's values in place with their columns' adapters (one per value, `None` for
/// a value that goes as it is).
pub fn adapt_row(adapters: &[Option<Adapter>], values: &mut [Value<'_>]) -> crate::RowOutcome {
    for (i, (a, v)) in adapters.iter().zip(values.iter_mut()).enumerate() {
        if let Some(a) = a {
            match a.apply(std::mem::replace(v, Value::Null)) {
                Ok(out) => *v = out,
                Err(problem) => return crate::RowOutcome::Refused { value: i, problem },
            }
        }
    }
    crate::RowOutcome::Written
}

enum Refused {
    Fit(String),
    Fraction(String),
    Zone(String),
}

fn quoted(s: &str) -> String {
    let shown: String = s.chars().take(60).collect();
    let more = if shown.len() < s.len() { "…" } else { "" };
    format!("{:?}{more}", shown)
}

/// A number as a whole number, if it is one.
fn as_integer(v: &Value<'_>) -> Result<i128, String> {
    match v {
        Value::I16(i) => Ok(i128::from(*i)),
        Value::I32(i) => Ok(i128::from(*i)),
        Value::I64(i) => Ok(i128::from(*i)),
        Value::Bool(b) => Ok(i128::from(*b)),
        Value::Text(s) if s.contains('.') => Err(format!(
            "{} would read back as a whole number, without its fraction digits",
            quoted(s)
        )),
        _ => {
            let plain = as_decimal(v)?;
            let (int, frac) = plain.split_once('.').unwrap_or((&plain, ""));
            if frac.bytes().any(|b| b != b'0') {
                return Err(format!("{plain} has a fraction"));
            }
            int.parse::<i128>()
                .map_err(|_| format!("{plain} is out of range"))
        }
    }
}

/// A number as a plain decimal (`-?digits(.digits)?`), if it is a finite one.
fn as_decimal(v: &Value<'_>) -> Result<String, String> {
    match v {
        Value::I16(i) => Ok(i.to_string()),
        Value::I32(i) => Ok(i.to_string()),
        Value::I64(i) => Ok(i.to_string()),
        Value::Bool(b) => Ok(u8::from(*b).to_string()),
        Value::Numeric(s) => Ok(s.to_string()),
        Value::F32(f) if f.is_finite() => Ok(shown(f.to_string())),
        Value::F64(f) if f.is_finite() => Ok(shown(f.to_string())),
        Value::F32(_) | Value::F64(_) => {
            Err("NaN or infinity is not a number a numeric column here holds".into())
        }
        Value::Text(s) if is_plain_number(s) => Ok(s.to_string()),
        Value::Text(s) => Err(format!(
            "{} is not a number as PostgreSQL writes one back (digits, an optional '-' and fraction; no '+', leading zero, exponent or space)",
            quoted(s)
        )),
        other => Err(format!("{other:?} is not a number")),
    }
}

/// A number for a message: a 300-digit float is shown by its first digits and its length.
fn long_number(s: &str) -> String {
    if s.len() <= 40 {
        return s.to_owned();
    }
    format!("{}… ({} characters)", &s[..24], s.len())
}

/// Whether text is a number written as PostgreSQL writes one back: `-?(0|[1-9][0-9]*)(.[0-9]+)?`,
/// and not a negative zero. `'01234'` (a zip code), `'+42'` or `'1e3'` would not come back as
/// they were.
fn is_plain_number(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let zero = body.bytes().all(|b| b == b'0' || b == b'.');
    digits(int)
        && (int == "0" || !int.starts_with('0'))
        && frac.is_none_or(digits)
        && !(s.starts_with('-') && zero)
}

/// The decimal a float shows (Rust prints its shortest round-trip digits), in plain form.
fn shown(text: String) -> String {
    normalize_decimal(&text).unwrap_or(text)
}

fn float(x: f64, single: bool) -> Value<'static> {
    if single {
        Value::F32(x as f32)
    } else {
        Value::F64(x)
    }
}

/// Whether two decimal texts are the same number.
fn same_decimal(a: &str, b: &str) -> bool {
    let canon = |s: &str| {
        normalize_decimal(s).map(|n| {
            let n = if n.contains('.') {
                n.trim_end_matches('0').trim_end_matches('.').to_owned()
            } else {
                n
            };
            if n == "-0" {
                "0".to_owned()
            } else {
                n
            }
        })
    };
    matches!((canon(a), canon(b)), (Some(x), Some(y)) if x == y)
}

fn fit_text<'a>(text: Cow<'a, str>, max: Option<u32>, padded: bool) -> Result<Value<'a>, Refused> {
    let Some(max) = max else {
        return Ok(Value::Text(text));
    };
    let max = max as usize;
    // A byte count within the limit is a character count within it.
    let chars = if text.len() <= max {
        None
    } else {
        Some(text.chars().count())
    };
    if let Some(n) = chars.filter(|n| *n > max) {
        return Err(Refused::Fit(format!(
            "{n} characters do not fit {}({max})",
            if padded { "char" } else { "varchar" }
        )));
    }
    if padded {
        let n = chars.unwrap_or_else(|| text.chars().count());
        if n < max {
            let mut s = text.into_owned();
            s.extend(std::iter::repeat_n(' ', max - n));
            return Ok(Value::Text(Cow::Owned(s)));
        }
    }
    Ok(Value::Text(text))
}

/// jsonb keeps one value per key; text with a key twice would lose the other.
fn json_without_duplicate_keys(text: &str) -> Result<(), String> {
    use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
    struct Checked;
    struct Check;
    impl<'de> Visitor<'de> for Check {
        type Value = Checked;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_unit<E>(self) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Checked, A::Error> {
            while a.next_element::<Checked>()?.is_some() {}
            Ok(Checked)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Checked, A::Error> {
            let mut seen = HashSet::new();
            while let Some(k) = a.next_key::<String>()? {
                if !seen.insert(k.clone()) {
                    return Err(A::Error::custom(format!(
                        "key {k:?} appears twice in one object; jsonb would keep only the last"
                    )));
                }
                a.next_value::<Checked>()?;
            }
            Ok(Checked)
        }
    }
    impl<'de> Deserialize<'de> for Checked {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Checked, D::Error> {
            d.deserialize_any(Check)
        }
    }
    serde_json::from_str::<Checked>(text)
        .map(|_| ())
        .map_err(|e| {
            let e = e.to_string();
            if e.contains("appears twice") {
                e
            } else {
                format!("invalid JSON: {e}")
            }
        })
}

/// How a table's values go into the column types the target chose, per copied column.
#[derive(Debug)]
pub struct TargetTypes {
    /// `None` where a value goes as the mapping converted it.
    pub adapters: Vec<Option<Adapter>>,
    /// The types the target holds the values as (what a verification hashes).
    pub shapes: Vec<PgType>,
}

pub type TableAdapters = std::sync::Arc<TargetTypes>;

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(source: PgType, target: TargetType) -> Adapter {
        adapter_with(source, target, AdaptOptions::default())
    }

    fn adapter_with(source: PgType, target: TargetType, options: AdaptOptions) -> Adapter {
        let c = Step::plan(&source, &target).expect("a conversion");
        Adapter {
            step: c.step,
            source,
            not_null: false,
            options,
        }
    }

    fn ok(a: &Adapter, v: Value<'static>) -> Value<'static> {
        a.apply(v).expect("arrives")
    }

    fn refused(a: &Adapter, v: Value<'static>) -> String {
        a.apply(v).expect_err("refused").reason
    }

    const INT4: TargetType = TargetType::Int { bytes: 4 };

    #[test]
    fn integers_narrow_only_in_range() {
        let a = adapter(PgType::BigInt, INT4);
        assert_eq!(ok(&a, Value::I64(2_147_483_647)), Value::I32(i32::MAX));
        assert!(refused(&a, Value::I64(2_147_483_648)).contains("does not fit integer"));
        let a = adapter(
            PgType::Numeric {
                precision_scale: Some((10, 2)),
            },
            INT4,
        );
        assert_eq!(ok(&a, Value::Numeric("5.00".into())), Value::I32(5));
        assert!(refused(&a, Value::Numeric("5.50".into())).contains("fraction"));
        let a = adapter(PgType::Text, INT4);
        assert_eq!(ok(&a, Value::Text("-12".into())), Value::I32(-12));
        assert!(refused(&a, Value::Text("12 apples".into())).contains("not a number"));
        assert!(refused(&a, Value::Text(" 12".into())).contains("not a number"));
        for unlike in ["01234", "+42", "1e3", "-0"] {
            assert!(
                refused(&a, Value::Text(unlike.into())).contains("not a number"),
                "{unlike}"
            );
        }
        assert!(refused(&a, Value::Text("7.0".into())).contains("without its fraction"));
        let a = adapter(PgType::Double, TargetType::Int { bytes: 8 });
        assert_eq!(ok(&a, Value::F64(3.0)), Value::I64(3));
        assert!(refused(&a, Value::F64(3.25)).contains("fraction"));
        assert!(
            !Step::plan(&PgType::Integer, &TargetType::Int { bytes: 8 })
                .unwrap()
                .may_reject
        );
    }

    #[test]
    fn numeric_refuses_what_it_would_round() {
        let t = TargetType::Numeric {
            precision_scale: Some((8, 2)),
        };
        let a = adapter(
            PgType::Numeric {
                precision_scale: Some((10, 3)),
            },
            t.clone(),
        );
        assert_eq!(
            ok(&a, Value::Numeric("19.990".into())),
            Value::Numeric("19.99".into())
        );
        assert!(refused(&a, Value::Numeric("19.995".into())).contains("round"));
        assert!(refused(&a, Value::Numeric("1234567.5".into())).contains("integer digits"));
        let a = adapter(PgType::Double, t);
        assert_eq!(ok(&a, Value::F64(0.1)), Value::Numeric("0.10".into()));
        assert!(refused(&a, Value::F64(0.123)).contains("round"));
    }

    #[test]
    fn floats_take_a_number_only_when_they_show_it_back() {
        let d = adapter(
            PgType::Numeric {
                precision_scale: Some((30, 20)),
            },
            TargetType::Float8,
        );
        assert_eq!(ok(&d, Value::Numeric("0.10".into())), Value::F64(0.1));
        assert!(refused(&d, Value::Numeric("0.12345678901234567890".into())).contains("exactly"));
        let i = adapter(PgType::BigInt, TargetType::Float8);
        assert_eq!(
            ok(&i, Value::I64(1 << 53)),
            Value::F64(9_007_199_254_740_992.0)
        );
        assert!(refused(&i, Value::I64((1 << 53) + 1)).contains("exactly"));
        let s = adapter(PgType::Double, TargetType::Float4);
        assert_eq!(ok(&s, Value::F64(0.1)), Value::F32(0.1));
        assert!(refused(&s, Value::F64(0.123456789)).contains("exactly"));
        let w = adapter(PgType::Real, TargetType::Float8);
        assert_eq!(ok(&w, Value::F32(0.1)), Value::F64(0.1));
    }

    #[test]
    fn booleans_from_numbers_bits_and_text() {
        let a = adapter(PgType::SmallInt, TargetType::Bool);
        assert_eq!(ok(&a, Value::I16(1)), Value::Bool(true));
        assert!(refused(&a, Value::I16(2)).contains("neither 0 nor 1"));
        let t = adapter(PgType::Text, TargetType::Bool);
        assert_eq!(ok(&t, Value::Text("f".into())), Value::Bool(false));
        assert!(refused(&t, Value::Text("maybe".into())).contains("not a boolean"));
        let b = adapter(PgType::VarBit { length: 1 }, TargetType::Bool);
        assert_eq!(
            ok(
                &b,
                Value::Bits {
                    bits: 1,
                    data: Cow::Borrowed(&[0x80])
                }
            ),
            Value::Bool(true)
        );
    }

    #[test]
    fn text_limits_count_characters_and_char_pads() {
        let v = adapter(
            PgType::Text,
            TargetType::Text {
                max_chars: Some(3),
                padded: false,
            },
        );
        assert_eq!(ok(&v, Value::Text("héé".into())), Value::Text("héé".into()));
        assert!(
            refused(&v, Value::Text("abc ".into())).contains("4 characters do not fit varchar(3)")
        );
        let c = adapter(
            PgType::Text,
            TargetType::Text {
                max_chars: Some(4),
                padded: true,
            },
        );
        assert_eq!(ok(&c, Value::Text("é".into())), Value::Text("é   ".into()));
        assert_eq!(
            Step::plan(
                &PgType::Varchar { length: 10 },
                &TargetType::Text {
                    max_chars: Some(255),
                    padded: false
                }
            )
            .unwrap()
            .step,
            Step::Same
        );
        assert!(Step::plan(
            &PgType::Boolean,
            &TargetType::Text {
                max_chars: None,
                padded: false
            }
        )
        .is_err());
    }

    #[test]
    fn timestamps_keep_their_digits_or_say_why() {
        let t3 = TargetType::Timestamp { precision: 3 };
        let a = adapter(PgType::Timestamp, t3.clone());
        assert_eq!(ok(&a, Value::Timestamp(2_000)), Value::Timestamp(2_000));
        assert!(refused(&a, Value::Timestamp(1_234)).contains("finer than timestamp(3)"));
        let r = adapter_with(
            PgType::Timestamp,
            t3,
            AdaptOptions {
                fractions: Fractions::Round,
                ..Default::default()
            },
        );
        assert_eq!(ok(&r, Value::Timestamp(1_500)), Value::Timestamp(2_000));
        assert_eq!(ok(&r, Value::Timestamp(-1_500)), Value::Timestamp(-2_000));
        let paris = AdaptOptions {
            zone: SourceZone::parse("Europe/Paris").unwrap(),
            ..Default::default()
        };
        let tz = adapter_with(
            PgType::Timestamp,
            TargetType::Timestamptz { precision: 6 },
            paris.clone(),
        );
        let at = |s: &str| parse_datetime(s).unwrap().micros;
        assert_eq!(
            ok(&tz, Value::Timestamp(at("2024-07-01 12:00:00"))),
            Value::Timestamp(at("2024-07-01 10:00:00"))
        );
        assert!(
            refused(&tz, Value::Timestamp(at("2024-03-31 02:30:00"))).contains("does not exist")
        );
        let wall = adapter_with(
            PgType::Timestamptz,
            TargetType::Timestamp { precision: 0 },
            paris,
        );
        assert_eq!(
            ok(&wall, Value::Timestamp(at("2024-01-01 10:00:00"))),
            Value::Timestamp(at("2024-01-01 11:00:00"))
        );
        let text = adapter(PgType::Text, TargetType::Timestamptz { precision: 6 });
        assert_eq!(
            ok(&text, Value::Text("2024-01-01T12:00:00+02:00".into())),
            Value::Timestamp(at("2024-01-01 10:00:00"))
        );
        let d = adapter(PgType::Timestamp, TargetType::Date);
        assert!(refused(&d, Value::Timestamp(at("2024-01-01 00:00:01"))).contains("midnight"));
    }

    #[test]
    fn enums_sets_and_json() {
        let role = TargetType::Enum {
            labels: vec!["admin".into(), "staff".into()],
        };
        let a = adapter(
            PgType::Enum {
                name: "users_role".into(),
            },
            role.clone(),
        );
        assert_eq!(
            ok(&a, Value::Text("staff".into())),
            Value::Text("staff".into())
        );
        assert!(refused(&a, Value::Text("guest".into())).contains("not a label"));
        let arr = TargetType::Array {
            elem_oid: 99_999,
            elem: Box::new(role),
        };
        let s = adapter(PgType::TextArray, arr);
        assert_eq!(
            ok(&s, Value::CommaList("admin,staff".into())),
            Value::TypedList {
                elem_oid: 99_999,
                list: "admin,staff".into()
            }
        );
        assert!(refused(&s, Value::CommaList("admin,root".into())).contains("\"root\""));
        let chars = TargetType::Array {
            elem_oid: 1042,
            elem: Box::new(TargetType::Text {
                max_chars: Some(3),
                padded: true,
            }),
        };
        let c = adapter(PgType::TextArray, chars);
        assert_eq!(
            ok(&c, Value::CommaList("ab,c".into())),
            Value::TypedList {
                elem_oid: 1042,
                list: "ab ,c  ".into()
            }
        );
        let j = adapter(PgType::Text, TargetType::Jsonb);
        assert_eq!(
            ok(&j, Value::Text("{\"a\": 1}".into())),
            Value::Json("{\"a\": 1}".into())
        );
        assert!(refused(&j, Value::Text("{\"a\": 1, \"a\": 2}".into())).contains("twice"));
        assert!(refused(&j, Value::Text("{".into())).contains("invalid JSON"));
        assert!(refused(&j, Value::Text("[\"a\\u0000\"]".into())).contains("jsonb cannot hold"));
        // Beyond f64's range is still JSON, and PostgreSQL keeps it.
        assert_eq!(
            ok(&j, Value::Text("[1e400]".into())),
            Value::Json("[1e400]".into())
        );
        let plain = adapter(PgType::Jsonb, TargetType::Json);
        assert_eq!(
            ok(&plain, Value::Json("[1]".into())),
            Value::Text("[1]".into())
        );
    }

    /// MariaDB keeps `{"a": 1, "a": 2}` in a JSON column; jsonb would keep `{"a": 2}`.
    #[test]
    fn data_only_json_into_jsonb_refuses_a_key_given_twice() {
        assert_eq!(
            Step::plan(&PgType::Jsonb, &TargetType::Jsonb).unwrap().step,
            Step::Same,
            "a full copy's own jsonb keeps jsonb's rule"
        );
        let c = Step::plan_data_only(&PgType::Jsonb, &TargetType::Jsonb).unwrap();
        assert!(c.may_reject);
        let a = Adapter::new(&c, &PgType::Jsonb, true, false, &AdaptOptions::default())
            .expect("values are checked");
        assert_eq!(
            ok(&a, Value::Json("{\"a\": [1, {\"a\": 2}]}".into())),
            Value::Json("{\"a\": [1, {\"a\": 2}]}".into())
        );
        assert!(a
            .apply(Value::Json("{\"a\": 1, \"a\": 2}".into()))
            .unwrap_err()
            .reason
            .contains("appears twice"));
    }

    #[test]
    fn nulls_into_not_null_columns_are_refused_here() {
        let c = Step::plan(
            &PgType::Text,
            &TargetType::Text {
                max_chars: None,
                padded: false,
            },
        )
        .unwrap();
        assert!(Adapter::new(&c, &PgType::Text, true, false, &AdaptOptions::default()).is_none());
        let a = Adapter::new(&c, &PgType::Text, true, true, &AdaptOptions::default()).unwrap();
        assert!(a
            .apply(Value::Null)
            .unwrap_err()
            .reason
            .contains("NOT NULL"));
    }

    #[test]
    fn catalog_modifiers() {
        assert_eq!(
            TargetType::builtin(1043, 259),
            Some(TargetType::Text {
                max_chars: Some(255),
                padded: false
            })
        );
        assert_eq!(
            TargetType::builtin(1700, (8 << 16 | 2) + 4),
            Some(TargetType::Numeric {
                precision_scale: Some((8, 2))
            })
        );
        assert_eq!(
            TargetType::builtin(1114, 0),
            Some(TargetType::Timestamp { precision: 0 })
        );
        assert_eq!(
            TargetType::builtin(1184, -1),
            Some(TargetType::Timestamptz { precision: 6 })
        );
        // interval hour to minute: HOUR | MINUTE fields, full precision.
        let hm = ((1 << 10 | 1 << 11) << 16) | 0xffff;
        assert_eq!(
            TargetType::builtin(1186, hm),
            Some(TargetType::Interval {
                unit_micros: Some(60_000_000)
            })
        );
        assert_eq!(TargetType::builtin(600, -1), None);
        // numeric(2,5): a scale above the precision (PostgreSQL 15).
        assert_eq!(TargetType::builtin(1700, (2 << 16 | 5) + 4), None);
    }
}
