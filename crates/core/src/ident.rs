//! Identifiers and literals: the only way a name or a string reaches SQL text.
//!
//! PostgreSQL truncates identifiers longer than 63 bytes (NAMEDATALEN - 1) silently, which turns
//! two long, distinct source names into one. [`fit_identifier`] shortens deterministically with a
//! hash suffix instead, and [`NameAllocator`] keeps names unique where PostgreSQL needs them to be
//! (relations and indexes share one namespace per schema).

use std::collections::HashSet;
use std::fmt::Write as _;

/// PostgreSQL's identifier limit in bytes.
pub const MAX_IDENT_BYTES: usize = 63;

/// Quotes an identifier for PostgreSQL: wraps it in double quotes and doubles any inside.
///
/// Every identifier that reaches SQL text goes through here, so a table named
/// `x"; DROP TABLE y; --` is just a table with that name.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `"schema"."name"`.
pub fn quote_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// Quotes a string literal (standard_conforming_strings is on in every supported PostgreSQL).
pub fn quote_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Returns `name` if it fits in 63 bytes; otherwise a prefix cut on a character boundary plus
/// `_` and 8 hex digits of a hash of the whole name, so the result is stable across runs and two
/// long names that share a prefix stay distinct.
pub fn fit_identifier(name: &str) -> String {
    if name.len() <= MAX_IDENT_BYTES {
        return name.to_owned();
    }
    let hash = fnv1a(name.as_bytes());
    let keep = MAX_IDENT_BYTES - 9;
    let mut cut = keep;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = name[..cut].to_owned();
    let _ = write!(out, "_{:08x}", (hash ^ (hash >> 32)) as u32);
    out
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Hands out names that are unique within one PostgreSQL namespace.
///
/// A taken name gets `_2`, `_3`, … (shortened to fit first), so the first claimant keeps the
/// source's name and later ones are visibly renamed.
#[derive(Debug, Default, Clone)]
pub struct NameAllocator {
    taken: HashSet<String>,
}

impl NameAllocator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks a name as used without allocating it (e.g. a table name that indexes must avoid).
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_owned());
    }

    pub fn allocate(&mut self, wanted: &str) -> String {
        let base = fit_identifier(wanted);
        if self.taken.insert(base.clone()) {
            return base;
        }
        for n in 2u32.. {
            let suffix = format!("_{n}");
            let mut cut = MAX_IDENT_BYTES.saturating_sub(suffix.len()).min(base.len());
            while !base.is_char_boundary(cut) {
                cut -= 1;
            }
            let candidate = format!("{}{}", &base[..cut], suffix);
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
        }
        unreachable!("u32 suffixes cannot run out before memory does")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quoting_neutralises_injection() {
        assert_eq!(
            quote_ident(r#"x"; DROP TABLE y; --"#),
            r#""x""; DROP TABLE y; --""#
        );
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(
            quote_qualified("public", "Order Details"),
            r#""public"."Order Details""#
        );
    }

    #[test]
    fn long_names_are_shortened_deterministically_and_distinctly() {
        let a = format!("{}_alpha", "x".repeat(70));
        let b = format!("{}_beta", "x".repeat(70));
        let fa = fit_identifier(&a);
        assert_eq!(fa.len(), MAX_IDENT_BYTES);
        assert_eq!(fa, fit_identifier(&a));
        assert_ne!(fa, fit_identifier(&b));
        // multi-byte characters are never split
        let c = "é".repeat(40);
        assert!(fit_identifier(&c).len() <= MAX_IDENT_BYTES);
    }

    #[test]
    fn allocator_suffixes_collisions() {
        let mut names = NameAllocator::new();
        names.reserve("users");
        assert_eq!(names.allocate("users"), "users_2");
        assert_eq!(names.allocate("users"), "users_3");
        let long = "i".repeat(80);
        let first = names.allocate(&long);
        let second = names.allocate(&long);
        assert_ne!(first, second);
        assert!(second.len() <= MAX_IDENT_BYTES);
    }

    proptest! {
        #[test]
        fn quote_ident_round_trips(name in "\\PC*") {
            let q = quote_ident(&name);
            prop_assert!(q.starts_with('"') && q.ends_with('"'));
            let inner = &q[1..q.len() - 1];
            prop_assert_eq!(inner.replace("\"\"", "\""), name);
        }

        #[test]
        fn fit_identifier_always_fits(name in "\\PC{0,120}") {
            let fitted = fit_identifier(&name);
            prop_assert!(fitted.len() <= MAX_IDENT_BYTES);
            if name.len() <= MAX_IDENT_BYTES { prop_assert_eq!(fitted, name); }
        }
    }
}
