//! Identifiers and literals: the only way a name or a string reaches SQL text, and the way a name
//! or a value reaches a human.
//!
//! Two audiences, two functions. [`quote_ident`] writes a name for PostgreSQL: exact, whatever
//! bytes it holds. [`show_ident`] writes it for a terminal or a log: the same quoting, but a
//! control character (ESC, CR, LF, …) or a bidi override is written as a visible escape, so a
//! table named `\x1b[2J` cannot clear the operator's screen and a name holding a newline cannot
//! forge a log line. [`show`] does the same for free text and values, [`show_lines`] for whole
//! messages that are multi-line on purpose, and [`show_sql`] for SQL that is printed (the plan),
//! keeping it valid SQL.
//!
//! PostgreSQL truncates identifiers longer than 63 bytes (NAMEDATALEN - 1) silently, which turns
//! two long, distinct source names into one. [`fit_identifier`] shortens deterministically with a
//! hash suffix instead, and [`NameAllocator`] keeps names unique where PostgreSQL needs them to be
//! (relations and indexes share one namespace per schema).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;

/// PostgreSQL's identifier limit in bytes.
pub const MAX_IDENT_BYTES: usize = 63;

/// Quotes an identifier for PostgreSQL: wraps it in double quotes and doubles any inside.
///
/// Every identifier that reaches SQL text goes through here, so a table named
/// `x"; DROP TABLE y; --` is just a table with that name. The result is for SQL only: it keeps
/// control characters as they are. A name shown to a human goes through [`show_ident`].
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

/// Quotes a name for a human (terminal, log, error message): like [`quote_ident`], but every
/// character a terminal would act on instead of printing is written as a visible escape (`\n`,
/// `\r`, `\t`, `\x1b`, `\u{202e}`; see [`show`]).
///
/// Never use the result in SQL: `show_ident("a\nb")` names another table than `a`, newline, `b`.
pub fn show_ident(name: &str) -> String {
    show(&quote_ident(name)).into_owned()
}

/// `"schema"."name"` for a human; see [`show_ident`].
pub fn show_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", show_ident(schema), show_ident(name))
}

/// Free text or a value for a human: every control character (C0, DEL, C1), line and paragraph
/// separator and bidi override or isolate written as a visible escape, the rest unchanged. Not
/// quoted; for names use [`show_ident`].
pub fn show(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_shown(&mut out, c);
    }
    Cow::Owned(out)
}

/// A whole message for a terminal, multi-line on purpose: like [`show`] but a `\n` stays a line
/// break. A line break in a *name* must have been escaped before (by [`show_ident`]); this is the
/// last line of defence, so that no raw ESC reaches the terminal even from a missed call site.
pub fn show_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && needs_escape(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\n' {
            out.push(c);
        } else {
            push_shown(&mut out, c);
        }
    }
    Cow::Owned(out)
}

/// SQL text to print (the plan's DDL): still valid SQL that does the same, but without a raw
/// control character. A quoted identifier or string literal that holds one is rewritten in
/// PostgreSQL's Unicode-escape form (`U&"red\001B[31m"`, `U&'a\000Ab'`), which names the same
/// object or value; line breaks between tokens stay. Outside quotes (where the renderers never
/// put one) a control character is escaped as [`show`] does, which is no longer SQL but safe.
pub fn show_sql(sql: &str) -> Cow<'_, str> {
    if !sql.chars().any(needs_escape) {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        if c == '"' || c == '\'' {
            // The token runs to the first closing quote that is not doubled.
            let mut end = None;
            let mut iter = rest.char_indices().skip(1).peekable();
            while let Some((i, d)) = iter.next() {
                if d == c {
                    if iter.peek().is_some_and(|&(_, n)| n == c) {
                        iter.next();
                    } else {
                        end = Some(i);
                        break;
                    }
                }
            }
            let Some(end) = end else {
                // Unterminated: not SQL the renderers produce; show the rest safely.
                out.push_str(&show(rest));
                break;
            };
            let body = &rest[1..end];
            if body.chars().any(needs_escape) {
                out.push_str("U&");
                out.push(c);
                for d in body.chars() {
                    match d {
                        '\\' => out.push_str("\\\\"),
                        d if needs_escape(d) => {
                            let _ = write!(out, "\\{:04X}", u32::from(d));
                        }
                        d => out.push(d),
                    }
                }
                out.push(c);
            } else {
                out.push_str(&rest[..=end]);
            }
            rest = &rest[end + 1..];
        } else {
            if c == '\n' {
                out.push(c);
            } else {
                push_shown(&mut out, c);
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    Cow::Owned(out)
}

/// Would a terminal act on `c` (move the cursor, change colours, set the title, reorder the
/// text) or a log reader take it for a line break? C0, DEL and C1 controls, U+2028/U+2029, and
/// the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

fn push_shown(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if needs_escape(c) && u32::from(c) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
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

/// PostgreSQL's system columns: every table has them, so no column of a table may be named so
/// (`CREATE TABLE t (xmin int)` fails). `oid` stopped being one in PostgreSQL 12.
pub const SYSTEM_COLUMNS: [&str; 6] = ["tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"];

/// A source column whose name PostgreSQL reserves, and the name it gets instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    pub source: String,
    pub target: String,
}

impl Renamed {
    /// What `plan`, `copy` and the report say of it; `table` is the target table's name.
    pub fn warning(&self, table: &str) -> crate::Warning {
        crate::Warning::new(
            format!(
                "table {} column {}",
                show_ident(table),
                show_ident(&self.source)
            ),
            format!(
                "renamed to {}: PostgreSQL reserves the name {} for a system column of every table",
                show_ident(&self.target),
                show_ident(&self.source)
            ),
        )
    }
}

/// PostgreSQL names for one table's columns, in order: each source name as it is (shortened
/// to fit, made unique), except a system column's name ([`SYSTEM_COLUMNS`]), which gets a
/// suffix (`xmin` → `xmin_2`) chosen after every other column has its name, so no other
/// column is ever renamed on its account. The same source names always give the same names:
/// `copy`, `verify` and `--data-only` all rely on it. Returns the names, and the renames.
pub fn column_names<'a>(source: impl IntoIterator<Item = &'a str>) -> (Vec<String>, Vec<Renamed>) {
    let source: Vec<&str> = source.into_iter().collect();
    let mut names = NameAllocator::new();
    for system in SYSTEM_COLUMNS {
        names.reserve(system);
    }
    let reserved = |n: &str| SYSTEM_COLUMNS.contains(&n);
    let mut out: Vec<Option<String>> = source
        .iter()
        .map(|n| (!reserved(n)).then(|| names.allocate(n)))
        .collect();
    let mut renamed = Vec::new();
    for (slot, n) in out.iter_mut().zip(&source) {
        if slot.is_none() {
            let target = names.allocate(n);
            renamed.push(Renamed {
                source: (*n).to_owned(),
                target: target.clone(),
            });
            *slot = Some(target);
        }
    }
    (
        out.into_iter()
            .map(|n| n.expect("every column was named in one of the two passes"))
            .collect(),
        renamed,
    )
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
    fn names_for_humans_have_no_raw_control_characters() {
        let cases: &[(&str, &str)] = &[
            ("plain", r#""plain""#),
            (r#"say "hi""#, r#""say ""hi""""#),
            ("red\x1b[31mtext", r#""red\x1b[31mtext""#),
            ("title\x1b]0;pwned\x07", r#""title\x1b]0;pwned\x07""#),
            ("a\nerror: forged", r#""a\nerror: forged""#),
            ("cr\rover", r#""cr\rover""#),
            ("tab\there", r#""tab\there""#),
            ("del\x7f", r#""del\x7f""#),
            ("c1\u{9b}31m", r#""c1\u{9b}31m""#),
            ("evil\u{202e}gnp.exe", r#""evil\u{202e}gnp.exe""#),
            ("iso\u{2066}x\u{2069}", r#""iso\u{2066}x\u{2069}""#),
            ("line\u{2028}sep", r#""line\u{2028}sep""#),
            ("back\\slash é ü 名前", r#""back\slash é ü 名前""#),
        ];
        for (name, shown) in cases {
            assert_eq!(show_ident(name), *shown, "show_ident({name:?})");
            // The same name for SQL keeps every byte.
            assert!(quote_ident(name).contains(name.replace('"', "\"\"").as_str()));
        }
        assert_eq!(show("value\x1b[2J\r\n"), r"value\x1b[2J\r\n");
        assert!(matches!(show("nothing to do"), Cow::Borrowed(_)));
        assert_eq!(
            show_lines("first\nsecond \x1b[2J\r\u{202e}"),
            "first\nsecond \\x1b[2J\\r\\u{202e}"
        );
    }

    #[test]
    fn printed_sql_stays_sql_and_loses_its_control_characters() {
        let plain = "CREATE TABLE \"t\" (\n  \"c\" text DEFAULT 'it''s'\n)";
        assert_eq!(show_sql(plain), plain);
        assert_eq!(
            show_sql("CREATE TABLE \"public\".\"red\x1b[31m\" (\n  \"a\nb\" text DEFAULT 'x\ry''s'\n)"),
            "CREATE TABLE \"public\".U&\"red\\001B[31m\" (\n  U&\"a\\000Ab\" text DEFAULT U&'x\\000Dy''s'\n)"
        );
        // A backslash in an escaped token is doubled (it is U&'s escape character); a quote
        // inside stays doubled.
        assert_eq!(
            show_sql("SELECT 'a\\b\x07', \"q\"\"\u{202e}\""),
            "SELECT U&'a\\\\b\\0007', U&\"q\"\"\\202E\""
        );
        // Outside quotes, which the renderers never produce: escaped, no longer SQL, but safe.
        assert_eq!(show_sql("x\x1by"), "x\\x1by");
        assert_eq!(show_sql("'open\x1b"), "'open\\x1b");
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
    fn system_column_names_are_renamed_and_nothing_else() {
        let (names, renamed) = column_names(["id", "xmin", "xmin_2", "ctid", "XMIN", "cmax"]);
        assert_eq!(
            names,
            ["id", "xmin_3", "xmin_2", "ctid_2", "XMIN", "cmax_2"]
        );
        assert_eq!(
            renamed
                .iter()
                .map(|r| r.source.as_str())
                .collect::<Vec<_>>(),
            ["xmin", "ctid", "cmax"]
        );
        assert_eq!(renamed[0].target, "xmin_3");
        // Deterministic: the same names, the same answer.
        assert_eq!(
            column_names(["xmin_2", "xmin", "id"]).0,
            ["xmin_2", "xmin_3", "id"]
        );
        let (plain, none) = column_names(["a", "oid", "tableoid_x"]);
        assert_eq!(plain, ["a", "oid", "tableoid_x"]);
        assert!(none.is_empty());
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
        fn shown_text_never_holds_a_control_character(text in any::<String>()) {
            let no_raw = |s: &str| !s.chars().any(needs_escape);
            prop_assert!(no_raw(&show_ident(&text)));
            prop_assert!(no_raw(&show(&text)));
            prop_assert!(no_raw(&show_sql(&text)));
            prop_assert!(show_lines(&text).chars().all(|c| c == '\n' || !needs_escape(c)));
        }

        #[test]
        fn fit_identifier_always_fits(name in "\\PC{0,120}") {
            let fitted = fit_identifier(&name);
            prop_assert!(fitted.len() <= MAX_IDENT_BYTES);
            if name.len() <= MAX_IDENT_BYTES { prop_assert_eq!(fitted, name); }
        }
    }
}
