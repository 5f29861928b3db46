//! The time zone a source's wall-clock values are in (`--source-timezone`): a MySQL DATETIME,
//! a SQLite date written without an offset. Converting between a wall-clock time and an instant
//! is exact only where the zone's clocks show that time once; a time skipped when clocks went
//! forward, or shown twice when they went back, is an error, never a guess.

use chrono::{NaiveDateTime, Offset, TimeZone};

use crate::temporal::PG_EPOCH_OFFSET_MICROS;

/// A fixed or named zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceZone {
    #[default]
    Utc,
    /// Seconds east of UTC.
    Offset(i32),
    Named(chrono_tz::Tz),
}

impl SourceZone {
    /// Reads `UTC`, an offset (`+02:00`, `-0530` is not accepted: write `-05:30`) or an IANA
    /// name (`Europe/Paris`).
    pub fn parse(s: &str) -> Result<SourceZone, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "+00:00" || t == "Z" {
            return Ok(SourceZone::Utc);
        }
        if let Some(sign) = t.chars().next().filter(|c| *c == '+' || *c == '-') {
            let (h, m) = t[1..].split_once(':').unwrap_or((&t[1..], "0"));
            let (h, m): (i32, i32) = (
                h.parse().map_err(|_| format!("bad offset {t:?}"))?,
                m.parse().map_err(|_| format!("bad offset {t:?}"))?,
            );
            if h > 14 || m > 59 {
                return Err(format!("offset {t:?} is out of range"));
            }
            let secs = (h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 };
            return Ok(SourceZone::Offset(secs));
        }
        t.parse::<chrono_tz::Tz>().map(SourceZone::Named).map_err(|_| {
            format!("{t:?} is not a time zone: write an IANA name like Europe/Paris, or an offset like +02:00")
        })
    }

    /// Wall-clock microseconds since 2000-01-01 in this zone → UTC microseconds since then.
    pub fn to_utc(&self, local: i64) -> Result<i64, String> {
        match self {
            SourceZone::Utc => Ok(local),
            SourceZone::Offset(secs) => Ok(local - i64::from(*secs) * 1_000_000),
            SourceZone::Named(tz) => {
                let naive = naive(local)?;
                let offset = match tz.offset_from_local_datetime(&naive) {
                    chrono::LocalResult::Single(o) => o.fix().local_minus_utc(),
                    chrono::LocalResult::Ambiguous(_, _) => {
                        return Err(format!(
                            "{naive} happens twice in {tz} (clocks went back); it is ambiguous"
                        ))
                    }
                    chrono::LocalResult::None => {
                        return Err(format!(
                            "{naive} does not exist in {tz} (clocks went forward)"
                        ))
                    }
                };
                Ok(local - i64::from(offset) * 1_000_000)
            }
        }
    }

    /// UTC microseconds since 2000-01-01 → wall-clock microseconds in this zone. Always exact:
    /// every instant has one wall-clock time.
    pub fn from_utc(&self, utc: i64) -> Result<i64, String> {
        match self {
            SourceZone::Utc => Ok(utc),
            SourceZone::Offset(secs) => Ok(utc + i64::from(*secs) * 1_000_000),
            SourceZone::Named(tz) => {
                let naive = naive(utc)?;
                let offset = tz.offset_from_utc_datetime(&naive).fix().local_minus_utc();
                Ok(utc + i64::from(offset) * 1_000_000)
            }
        }
    }
}

impl std::fmt::Display for SourceZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceZone::Utc => f.write_str("UTC"),
            SourceZone::Offset(s) => {
                let sign = if *s < 0 { '-' } else { '+' };
                let a = s.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
            }
            SourceZone::Named(tz) => write!(f, "{tz}"),
        }
    }
}

fn naive(pg_micros: i64) -> Result<NaiveDateTime, String> {
    chrono::DateTime::from_timestamp_micros(pg_micros + PG_EPOCH_OFFSET_MICROS)
        .map(|d| d.naive_utc())
        .ok_or_else(|| "date-time out of range".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temporal::parse_datetime;

    fn at(s: &str) -> i64 {
        parse_datetime(s).unwrap().micros
    }

    #[test]
    fn named_zones_refuse_skipped_and_repeated_times() {
        let paris = SourceZone::parse("Europe/Paris").unwrap();
        assert_eq!(
            paris.to_utc(at("2024-07-01 12:00:00")),
            Ok(at("2024-07-01 10:00:00"))
        );
        assert!(paris
            .to_utc(at("2024-03-31 02:30:00"))
            .unwrap_err()
            .contains("does not exist"));
        assert!(paris
            .to_utc(at("2024-10-27 02:30:00"))
            .unwrap_err()
            .contains("twice"));
        assert_eq!(
            paris.from_utc(at("2024-01-01 10:00:00")),
            Ok(at("2024-01-01 11:00:00"))
        );
    }

    #[test]
    fn offsets_and_names_parse() {
        assert_eq!(SourceZone::parse("utc"), Ok(SourceZone::Utc));
        assert_eq!(SourceZone::parse("-05:30"), Ok(SourceZone::Offset(-19_800)));
        assert_eq!(SourceZone::parse("-05:30").unwrap().to_string(), "-05:30");
        assert!(SourceZone::parse("Mars/Olympus").is_err());
        assert!(SourceZone::parse("+15:00").is_err());
    }
}
