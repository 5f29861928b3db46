//! Calendar arithmetic and strict ISO-8601 parsing into PostgreSQL's units (days and
//! microseconds since 2000-01-01). Shared by every source, so a date means the same whichever
//! engine it came from. No time zone database is needed: offsets are explicit or absent.

/// Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch).
pub const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;
/// Days between 1970-01-01 and 2000-01-01.
pub const PG_EPOCH_OFFSET_DAYS: i32 = 10_957;

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (year 0 = 1 BC), or `None` if the day
/// does not exist. Howard Hinnant's `days_from_civil`.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The inverse of [`days_from_civil`]: (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// A parsed ISO date-time: microseconds since 2000-01-01 as written, and the UTC offset in
/// seconds if the text carried one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub micros: i64,
    pub offset_seconds: Option<i32>,
    pub has_time: bool,
}

impl DateTime {
    /// The instant in UTC (offset applied; no offset means the text already was UTC).
    pub fn utc_micros(&self) -> i64 {
        self.micros - i64::from(self.offset_seconds.unwrap_or(0)) * 1_000_000
    }
}

/// Parses `YYYY-MM-DD[( |T)HH:MM[:SS[.fraction]]][Z|(+|-)HH[:MM]]`. A fraction finer than a
/// microsecond is accepted only if the extra digits are zeros: rounding would change the value.
pub fn parse_datetime(s: &str) -> Result<DateTime, String> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err("not an ISO-8601 date (YYYY-MM-DD…)".into());
    }
    let year = digits(&b[0..4])? as i32;
    let month = digits(&b[5..7])? as u32;
    let day = digits(&b[8..10])? as u32;
    let days = days_from_civil(year, month, day)
        .ok_or_else(|| format!("{year:04}-{month:02}-{day:02} is not a date"))?;
    let mut micros = (days - i64::from(PG_EPOCH_OFFSET_DAYS)) * MICROS_PER_DAY;
    let rest = &s[10..];
    if rest.is_empty() {
        return Ok(DateTime {
            micros,
            offset_seconds: None,
            has_time: false,
        });
    }
    let rest = rest
        .strip_prefix(' ')
        .or_else(|| rest.strip_prefix('T'))
        .ok_or("unexpected text after the date")?;
    let (time, offset) = split_offset(rest)?;
    micros += parse_time_of_day(time)?;
    Ok(DateTime {
        micros,
        offset_seconds: offset,
        has_time: true,
    })
}

/// Parses `HH:MM[:SS[.fraction]]` into microseconds since midnight (24:00:00 allowed, as in PG).
pub fn parse_time_of_day(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    if b.len() < 5 || b[2] != b':' {
        return Err("not a time of day (HH:MM[:SS[.ffffff]])".into());
    }
    let h = digits(&b[0..2])?;
    let m = digits(&b[3..5])?;
    let (mut sec, mut frac) = (0, 0);
    if b.len() > 5 {
        if b[5] != b':' || b.len() < 8 {
            return Err("bad seconds".into());
        }
        sec = digits(&b[6..8])?;
        if b.len() > 8 {
            if b[8] != b'.' || b.len() == 9 {
                return Err("bad fraction of a second".into());
            }
            frac = fraction_micros(&b[9..])?;
        }
    }
    if m > 59 || sec > 59 || h > 24 || (h == 24 && (m, sec, frac) != (0, 0, 0)) {
        return Err("time of day out of range".into());
    }
    Ok(((h * 60 + m) * 60 + sec) * 1_000_000 + frac)
}

fn fraction_micros(b: &[u8]) -> Result<i64, String> {
    if !b.iter().all(u8::is_ascii_digit) {
        return Err("bad fraction of a second".into());
    }
    if b.len() > 6 && b[6..].iter().any(|&d| d != b'0') {
        return Err("finer than a microsecond; PostgreSQL would round it".into());
    }
    let mut micros = 0i64;
    for i in 0..6 {
        micros = micros * 10 + b.get(i).map_or(0, |d| i64::from(d - b'0'));
    }
    Ok(micros)
}

fn split_offset(s: &str) -> Result<(&str, Option<i32>), String> {
    if let Some(t) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return Ok((t, Some(0)));
    }
    // An offset sign can only appear after HH:MM.
    if let Some(pos) = s
        .get(5..)
        .and_then(|tail| tail.find(['+', '-']))
        .map(|p| p + 5)
    {
        let (time, off) = s.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let ob = &off.as_bytes()[1..];
        let (h, m) = match ob.len() {
            2 => (digits(ob)?, 0),
            4 => (digits(&ob[0..2])?, digits(&ob[2..4])?),
            5 if ob[2] == b':' => (digits(&ob[0..2])?, digits(&ob[3..5])?),
            _ => return Err("bad UTC offset".into()),
        };
        if h > 15 || m > 59 {
            return Err("UTC offset out of range".into());
        }
        return Ok((time, Some(sign * (h * 3600 + m * 60) as i32)));
    }
    Ok((s, None))
}

fn digits(b: &[u8]) -> Result<i64, String> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return Err(format!("{:?} is not a number", String::from_utf8_lossy(b)));
    }
    Ok(b.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
}

/// Unix seconds or milliseconds → microseconds since 2000-01-01, checked.
pub fn unix_to_pg_micros(value: i64, millis: bool) -> Option<i64> {
    let micros = value.checked_mul(if millis { 1_000 } else { 1_000_000 })?;
    micros.checked_sub(PG_EPOCH_OFFSET_MICROS)
}

/// Formats microseconds since 2000-01-01 as `YYYY-MM-DD HH:MM:SS[.ffffff]`.
pub fn format_timestamp(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let tod = micros.rem_euclid(MICROS_PER_DAY);
    format!("{} {}", format_date(days as i32), format_time(tod))
}

pub fn format_date(pg_days: i32) -> String {
    let (y, m, d) = civil_from_days(i64::from(pg_days) + i64::from(PG_EPOCH_OFFSET_DAYS));
    format!("{y:04}-{m:02}-{d:02}")
}

pub fn format_time(micros: i64) -> String {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let base = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac == 0 {
        base
    } else {
        format!("{base}.{frac:06}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_sqlite_iso_variants() {
        let base = parse_datetime("2024-02-29").unwrap();
        assert_eq!(format_timestamp(base.micros), "2024-02-29 00:00:00");
        assert!(!base.has_time);
        let t = parse_datetime("2024-02-29 12:34:56.123456").unwrap();
        assert_eq!(format_timestamp(t.micros), "2024-02-29 12:34:56.123456");
        let t = parse_datetime("2024-02-29T12:34").unwrap();
        assert_eq!(format_timestamp(t.micros), "2024-02-29 12:34:00");
        let t = parse_datetime("2024-02-29T12:34:56.5+02:00").unwrap();
        assert_eq!(
            format_timestamp(t.utc_micros()),
            "2024-02-29 10:34:56.500000"
        );
        let t = parse_datetime("2024-02-29 00:30:00Z").unwrap();
        assert_eq!(t.offset_seconds, Some(0));
        assert!(parse_datetime("2023-02-29").is_err());
        assert!(parse_datetime("2024-13-01").is_err());
        assert!(parse_datetime("2024-01-01 10:00:00.1234567").is_err());
        assert!(parse_datetime("2024-01-01 10:00:00.1234560").is_ok());
        assert!(parse_datetime("yesterday").is_err());
        assert!(parse_datetime("2024-01-01 25:00").is_err());
    }

    #[test]
    fn unix_epochs() {
        assert_eq!(unix_to_pg_micros(946_684_800, false), Some(0));
        assert_eq!(
            format_timestamp(unix_to_pg_micros(1_700_000_000_123, true).unwrap()),
            "2023-11-14 22:13:20.123000"
        );
        assert_eq!(unix_to_pg_micros(i64::MAX, false), None);
    }

    proptest! {
        #[test]
        fn civil_round_trips(days in -3_000_000i64..3_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y as i32, m, d), Some(days));
        }

        #[test]
        fn format_then_parse_is_identity(micros in -60_000_000_000_000_000i64..200_000_000_000_000_000) {
            let text = format_timestamp(micros);
            prop_assert_eq!(parse_datetime(&text).unwrap().micros, micros);
        }
    }
}
