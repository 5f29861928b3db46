//! Passwords out of anything echoed: [`redact`] is the one function that makes a connection
//! string the operator typed safe to print, whatever its shape.
//!
//! Parsed endpoints are shown by their own `display()` (built from the parts, without the
//! password). This module is for the other case: a raw argument that could not be parsed, echoed
//! back in an error so the operator sees what was wrong with it. A mistyped URL is exactly where
//! a password sits in an unexpected place (`mysql:/user:pw@host`, `user:pw@host/db`,
//! `host=h password=pw`), so the rules here do not trust the string's shape. They mask more than
//! a password when in doubt (a port, a user name, the rest of a query string); they never leave
//! part of one visible.

use std::borrow::Cow;
use std::ops::Range;

/// What a masked part is replaced with.
pub const MASK: &str = "***";

/// `s` with every part that may be a password replaced by [`MASK`].
///
/// Two rules, applied to the whole string and combined:
/// - user information: the text between the first `:` and the last `@` of the authority
///   (`scheme://user:PASSWORD@host`, `scheme:/user:PASSWORD@host`, `user:PASSWORD@host`, with
///   `%3A` and `%40` counted as `:` and `@`). Without any `@`, everything after the first `:` of
///   the authority is masked, since `mysql://user:PASSWORD/db` (host forgotten) cannot be told
///   from `host:port`.
/// - `key=value` pairs whose key (percent-decoded, any case) names a secret (`password`,
///   `passwd`, `pwd`, `sslpassword`, `secret`, `token`, …), as in a query string or a libpq
///   keyword/value string: a quoted value up to its closing quote (`\` escapes, as libpq reads
///   it), an unquoted one up to the whitespace before the next `key=`, or the end.
pub fn redact(s: &str) -> Cow<'_, str> {
    let mut masks = Vec::new();
    masks.extend(user_info_secret(s));
    masks.extend(keyword_secrets(s));
    if masks.is_empty() {
        return Cow::Borrowed(s);
    }
    masks.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    let mut masks = masks.into_iter().peekable();
    while let Some(mut m) = masks.next() {
        // Overlapping or touching masks become one.
        while let Some(next) = masks.next_if(|n| n.start <= m.end) {
            m.end = m.end.max(next.end);
        }
        if m.end <= at {
            continue;
        }
        out.push_str(&s[at..m.start.max(at)]);
        out.push_str(MASK);
        at = m.end;
    }
    out.push_str(&s[at..]);
    Cow::Owned(out)
}

/// Where the user information may start: after `scheme:` and its slashes when a `/` follows the
/// colon (`mysql://`, `postgres:/`). Otherwise at 0, so that in `mysql:user:pw@h` the first
/// colon is the scheme's and everything from the user on is masked.
fn authority_start(s: &str) -> usize {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return 0;
    }
    let scheme_end = b
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
        .unwrap_or(b.len());
    if b.get(scheme_end) != Some(&b':') || b.get(scheme_end + 1) != Some(&b'/') {
        return 0;
    }
    let mut i = scheme_end + 1;
    while b.get(i) == Some(&b'/') {
        i += 1;
    }
    i
}

/// The byte ranges of every occurrence of `literal` or of `encoded` (any case) in `s`, as
/// (start, end) pairs.
fn find_either(s: &str, literal: u8, encoded: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let e = encoded.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == literal {
            found.push((i, i + 1));
        } else if b.len() - i >= e.len() && b[i..i + e.len()].eq_ignore_ascii_case(e) {
            found.push((i, i + e.len()));
            i += e.len();
            continue;
        }
        i += 1;
    }
    found
}

fn user_info_secret(s: &str) -> Option<Range<usize>> {
    let start = authority_start(s);
    let rest = &s[start..];
    match find_either(rest, b'@', "%40").last() {
        Some(&(at, _)) => {
            let (_, colon_end) = *find_either(&rest[..at], b':', "%3a").first()?;
            Some(start + colon_end..start + at)
        }
        None => {
            // No user information: host[:port] up to the path, query or fragment. A colon inside
            // [brackets] belongs to an IPv6 address.
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &rest[..end];
            let after_brackets = match authority.strip_prefix('[') {
                Some(inner) => inner.find(']').map_or(authority.len(), |i| i + 2),
                None => 0,
            };
            let (_, colon_end) = find_either(&authority[after_brackets..], b':', "%3a")
                .first()
                .map(|&(a, b)| (a + after_brackets, b + after_brackets))?;
            (colon_end < end).then(|| start + colon_end..start + end)
        }
    }
}

/// Does a `key=` name a secret? `key` is percent-decoded and compared in lower case.
fn is_secret_key(key: &str) -> bool {
    let key = percent_encoding::percent_decode_str(key)
        .decode_utf8_lossy()
        .to_ascii_lowercase();
    key == "pw"
        || ["pass", "pwd", "secret", "token"]
            .iter()
            .any(|word| key.contains(word))
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'%')
}

/// Does a new `key=` (libpq's keyword/value syntax, blanks allowed around `=`) start at `i`?
fn key_starts_at(b: &[u8], i: usize) -> bool {
    let mut j = i;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    if j == i || b[i].is_ascii_digit() {
        return false;
    }
    while j < b.len() && b[j].is_ascii_whitespace() {
        j += 1;
    }
    b.get(j) == Some(&b'=')
}

fn keyword_secrets(s: &str) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let mut masks = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'=' {
            i += 1;
            continue;
        }
        let mut key_end = i;
        while key_end > 0 && b[key_end - 1].is_ascii_whitespace() {
            key_end -= 1;
        }
        let mut key_start = key_end;
        while key_start > 0 && is_key_byte(b[key_start - 1]) {
            key_start -= 1;
        }
        let mut v = i + 1;
        while v < b.len() && b[v].is_ascii_whitespace() {
            v += 1;
        }
        let value_end = if b.get(v) == Some(&b'\'') {
            // libpq: a quoted value ends at the first quote not escaped by a backslash.
            let mut j = v + 1;
            loop {
                match b.get(j) {
                    None => break b.len(),
                    Some(b'\\') => j += 2,
                    Some(b'\'') => break j + 1,
                    Some(_) => j += 1,
                }
            }
            .min(b.len())
        } else {
            // Up to the blanks before the next `key=`: a space inside a mistyped password
            // must not leave its second half visible.
            let mut j = v;
            loop {
                match b.get(j) {
                    None => break b.len(),
                    Some(b'\\') => j += 2,
                    Some(c) if c.is_ascii_whitespace() => {
                        let mut k = j;
                        while k < b.len() && b[k].is_ascii_whitespace() {
                            k += 1;
                        }
                        if k == b.len() || key_starts_at(b, k) {
                            break j;
                        }
                        j = k;
                    }
                    Some(_) => j += 1,
                }
            }
            .min(b.len())
        };
        if key_start < key_end && is_secret_key(&s[key_start..key_end]) && v < value_end {
            masks.push(v..value_end);
        }
        i += 1;
    }
    masks
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (typed, shown): every shape a password has been seen in, and what must be echoed.
    const SHAPES: &[(&str, &str)] = &[
        // well-formed URLs
        (
            "mysql://ann:pw1@db:3306/shop",
            "mysql://ann:***@db:3306/shop",
        ),
        ("postgresql://ann:pw1@db/app", "postgresql://ann:***@db/app"),
        ("postgresql://ann@db/app", "postgresql://ann@db/app"),
        ("postgresql://db/app", "postgresql://db/app"),
        (
            "postgresql:///app?host=/run/pg",
            "postgresql:///app?host=/run/pg",
        ),
        ("postgresql://[::1]/app", "postgresql://[::1]/app"),
        (
            "postgresql://ann@[::1]:5432/app",
            "postgresql://ann@[::1]:5432/app",
        ),
        // one slash, no slash, no scheme, slashes without a colon
        ("mysql:/ann:pw1@db/shop", "mysql:/ann:***@db/shop"),
        (
            "postgres:/ann:pw1@127.0.0.1/db",
            "postgres:/ann:***@127.0.0.1/db",
        ),
        ("mysql:ann:pw1@db/shop", "mysql:***@db/shop"),
        ("postgresql:pw1@db/app", "postgresql:***@db/app"),
        ("ann:pw1@db/shop", "ann:***@db/shop"),
        ("//ann:pw1@db/shop", "//ann:***@db/shop"),
        ("mysql//ann:pw1@db/shop", "mysql//ann:***@db/shop"),
        ("jdbc:mysql://ann:pw1@db/shop", "jdbc:***@db/shop"),
        ("ann:pw1@tcp(db:3306)/shop", "ann:***@tcp(db:3306)/shop"),
        // passwords holding the separators
        ("mysql://ann:p@ss:w/rd@db/shop", "mysql://ann:***@db/shop"),
        ("mysql://ann:pa ss@db/shop", "mysql://ann:***@db/shop"),
        ("mysql://ann:pw1%40db/shop", "mysql://ann:***%40db/shop"),
        ("mysql://ann%3Apw1@db/shop", "mysql://ann%3A***@db/shop"),
        ("mysql://ann:p%2Fw1@db/shop", "mysql://ann:***@db/shop"),
        // the host forgotten: user:password reads as host:port, so the "port" is masked
        ("mysql://ann:pw1/shop", "mysql://ann:***/shop"),
        ("mysql://db:3306", "mysql://db:***"),
        // query strings
        (
            "mysql://ann@db/shop?password=pw1",
            "mysql://ann@db/shop?password=***",
        ),
        (
            "postgresql://db/app?sslmode=require&password=pw1&application_name=x",
            "postgresql://db/app?sslmode=require&password=***",
        ),
        (
            "postgresql://db/app?PassWord=pw1",
            "postgresql://db/app?PassWord=***",
        ),
        (
            "postgresql://db/app?pass%77ord=pw1",
            "postgresql://db/app?pass%77ord=***",
        ),
        (
            "postgresql://db/app?sslpassword=pw1",
            "postgresql://db/app?sslpassword=***",
        ),
        // libpq keyword/value strings
        (
            "host=db password=pw1 dbname=app",
            "host=db password=*** dbname=app",
        ),
        ("host=db password = pw1", "host=db password = ***"),
        ("password='p w\\'1' dbname=app", "password=*** dbname=app"),
        ("password='unterminated pw1", "password=***"),
        ("password=p\\ w1 dbname=app", "password=*** dbname=app"),
        ("password=p w1 dbname=app", "password=*** dbname=app"),
        (
            "host=db user=ann@corp password=p@w1",
            "host=db user=ann@corp password=***",
        ),
        ("PGPASSWORD=pw1", "PGPASSWORD=***"),
        ("host=db dbname=app", "host=db dbname=app"),
        // not secrets
        ("sqlite:/data/app.db", "sqlite:/data/app.db"),
        ("/data/shop.sqlite", "/data/shop.sqlite"),
        ("whatever", "whatever"),
        ("", ""),
    ];

    #[test]
    fn every_shape_is_redacted() {
        for (typed, shown) in SHAPES {
            assert_eq!(redact(typed), *shown, "redact({typed:?})");
        }
    }

    #[test]
    fn a_weird_path_may_be_over_redacted() {
        // Acceptable: a SQLite path that looks like user:password@host loses its middle.
        assert_eq!(redact("/tmp/a:b@c/x.db"), "/tmp/a:***@c/x.db");
    }

    proptest! {
        /// Whatever surrounds it, a password placed where any of the shapes puts one is gone.
        #[test]
        fn the_password_never_survives(
            pw in "[A-Za-z0-9!$&()*+,;~._-]{4,20}",
            user in "[a-z]{1,8}",
            host in "[a-z0-9.]{1,12}",
            shape in 0usize..8,
        ) {
            let typed = match shape {
                0 => format!("mysql://{user}:{pw}@{host}/db"),
                1 => format!("mysql:/{user}:{pw}@{host}/db"),
                2 => format!("postgres:{user}:{pw}@{host}/db"),
                3 => format!("{user}:{pw}@{host}/db"),
                4 => format!("postgresql://{host}/db?password={pw}"),
                5 => format!("host={host} password={pw} user={user}"),
                6 => format!("host={host} password='{pw}' user={user}"),
                _ => format!("mysql://{user}:{pw}/db"),
            };
            let shown = redact(&typed);
            prop_assert!(!shown.contains(&pw), "{typed} → {shown}");
        }
    }
}
