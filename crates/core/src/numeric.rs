//! Exact decimals as text: the form a source hands over and the target encodes.

/// Normalises a decimal literal (`+1.50`, `-0.5e3`, `.25`) to the plain form
/// `-?digits(.digits)?` with no exponent, keeping every written digit (so its scale too).
/// Returns `None` for anything that is not a finite decimal number.
pub fn normalize_decimal(s: &str) -> Option<String> {
    let s = s.trim();
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    if exp.unsigned_abs() > 1000 {
        return None;
    }
    let mut digits: String = format!("{int}{frac}");
    let mut point = int.len() as i64 + i64::from(exp);
    if point < 0 {
        digits.insert_str(0, &"0".repeat((-point) as usize));
        point = 0;
    }
    if point as usize > digits.len() {
        digits.push_str(&"0".repeat(point as usize - digits.len()));
    }
    let (i, f) = digits.split_at(point as usize);
    let i = i.trim_start_matches('0');
    let i = if i.is_empty() { "0" } else { i };
    let all_zero = i == "0" && f.bytes().all(|b| b == b'0');
    let sign = if neg && !all_zero { "-" } else { "" };
    Some(if f.is_empty() {
        format!("{sign}{i}")
    } else {
        format!("{sign}{i}.{f}")
    })
}

/// Checks a normalised decimal against `numeric(p,s)`: at most `p - s` integer digits, and no
/// non-zero digit beyond scale `s` (PostgreSQL would round it). Returns the value rewritten to
/// exactly `s` fraction digits.
pub fn fit_scale(plain: &str, precision: u32, scale: u32) -> Result<String, String> {
    let (sign, body) = plain.strip_prefix('-').map_or(("", plain), |b| ("-", b));
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int_digits = if int == "0" { 0 } else { int.len() as u32 };
    if int_digits > precision - scale {
        return Err(format!(
            "{int_digits} integer digits do not fit numeric({precision},{scale})"
        ));
    }
    let s = scale as usize;
    if frac.len() > s && frac[s..].bytes().any(|b| b != b'0') {
        return Err(format!(
            "more than {scale} decimal places; numeric({precision},{scale}) would round it"
        ));
    }
    let mut f: String = frac.chars().take(s).collect();
    while f.len() < s {
        f.push('0');
    }
    Ok(if f.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{f}")
    })
}

/// Whether `s` is already what `fit_scale(normalize_decimal(s), precision, scale)` gives: plain
/// digits with exactly `scale` of them after the point, no leading zero, no negative zero, and
/// integer digits that fit. A source that hands over `numeric(p,s)` values as their text (MySQL's
/// DECIMAL) passes this, and the value goes on as it came, without being rewritten twice.
pub fn already_fitting(s: &str, precision: u32, scale: u32) -> bool {
    let (negative, body) = s.strip_prefix('-').map_or((false, s), |b| (true, b));
    let (int, frac) = match body.split_once('.') {
        Some((_, "")) => return false,
        Some((int, frac)) => (int, frac),
        None => (body, ""),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() != scale as usize {
        return false;
    }
    if int.len() > 1 && int.starts_with('0') {
        return false;
    }
    if negative && int == "0" && frac.bytes().all(|b| b == b'0') {
        return false;
    }
    let int_digits = if int == "0" { 0 } else { int.len() as u32 };
    int_digits <= precision.saturating_sub(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize_decimal("1.50").as_deref(), Some("1.50"));
        assert_eq!(normalize_decimal("+007").as_deref(), Some("7"));
        assert_eq!(normalize_decimal("-0.5e3").as_deref(), Some("-500"));
        assert_eq!(normalize_decimal("1.5e-3").as_deref(), Some("0.0015"));
        assert_eq!(normalize_decimal(".25").as_deref(), Some("0.25"));
        assert_eq!(normalize_decimal("-0.0").as_deref(), Some("0.0"));
        assert_eq!(normalize_decimal("abc"), None);
        assert_eq!(normalize_decimal("1.2.3"), None);
        assert_eq!(normalize_decimal(""), None);
        assert_eq!(normalize_decimal("inf"), None);
    }

    #[test]
    fn fits_scale_without_rounding() {
        assert_eq!(fit_scale("0.99", 10, 2).unwrap(), "0.99");
        assert_eq!(fit_scale("1.5", 10, 2).unwrap(), "1.50");
        assert_eq!(fit_scale("1.500", 10, 2).unwrap(), "1.50");
        assert!(fit_scale("1.505", 10, 2).is_err());
        assert!(fit_scale("123456789", 10, 2).is_err());
        assert_eq!(fit_scale("-12345678.9", 10, 2).unwrap(), "-12345678.90");
    }

    #[test]
    fn what_already_fits_is_what_normalizing_and_fitting_give() {
        let cases = [
            ("1.50", 4, 2, true),
            ("-1.50", 4, 2, true),
            ("0.00", 4, 2, true),
            ("-0.00", 4, 2, false),
            ("01.50", 4, 2, false),
            ("1.5", 4, 2, false),
            ("1.", 4, 0, false),
            ("+1.50", 4, 2, false),
            ("1e2", 4, 0, false),
            ("123.45", 4, 2, false),
            ("12", 2, 0, true),
            ("", 2, 0, false),
        ];
        for (s, p, sc, fits) in cases {
            assert_eq!(already_fitting(s, p, sc), fits, "{s} numeric({p},{sc})");
        }
    }

    proptest::proptest! {
        #[test]
        fn already_fitting_text_is_left_as_fit_scale_leaves_it(
            s in "-?[0-9]{0,6}(\\.[0-9]{0,4})?", p in 1u32..10, sc in 0u32..5
        ) {
            let sc = sc.min(p);
            if already_fitting(&s, p, sc) {
                let plain = normalize_decimal(&s).expect("a decimal");
                let fitted = fit_scale(&plain, p, sc);
                proptest::prop_assert_eq!(fitted.as_deref(), Ok(s.as_str()));
            }
        }
    }
}
