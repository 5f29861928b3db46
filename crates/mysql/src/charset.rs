//! A text column's stored bytes → Unicode, with the column's own charset.
//!
//! The readers ask the server for every value as it is stored (`character_set_results =
//! binary`, see [`crate::read`]) and decode it here. Letting the server convert to utf8mb4
//! instead is not exact: where a stored byte sequence has no Unicode equivalent in MariaDB's
//! converter (a gbk code it does not map, a lone lead byte, bytes invalid in the column's
//! charset) the server silently sends `?`. Decoding here, every value is either the text MySQL
//! itself means by those bytes, or an [`Undecodable`] naming the bytes, which rejects the row.
//!
//! Which character a byte sequence is, is MySQL's own answer, not a standard's:
//! - UTF-8 (`utf8mb4`, `utf8mb3` alias `utf8`), `ucs2`, `utf16`, `utf16le` and `utf32` are
//!   decoded by their definitions;
//! - `latin1` is MySQL's: cp1252, with the five bytes cp1252 leaves undefined (0x81, 0x8D,
//!   0x8F, 0x90, 0x9D) read as the C1 controls U+0081 … U+009D (MySQL's `ctype-latin1.c`);
//! - `binary` has no charset: as text its bytes must be UTF-8;
//! - every other charset (cp1250 … koi8u, big5, gbk, sjis, cp932, euckr, ujis, eucjpms, …) by
//!   a [`CodeTable`] learned from the server at the start of a run ([`learn`]): the server
//!   converts every one- and two-byte code (and the three-byte codes of EUC-JP's 0x8F plane)
//!   once, so a decoded character is exactly what the server would have sent, and a code it
//!   cannot convert is known to be one. That is 256 to about 100,000 small conversions per
//!   charset a run actually reads, a fraction of a second each.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

/// How one column's bytes become text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charset {
    /// UTF-8 whose characters are at most `max_bytes` long: 4 for utf8mb4, 3 for utf8mb3.
    Utf8 { max_bytes: u8 },
    /// No charset (`binary`): as text, the bytes must be UTF-8.
    Binary,
    /// MySQL's latin1 (cp1252 with the five undefined bytes as C1 controls).
    Latin1,
    /// UCS-2, big-endian: the Basic Multilingual Plane only.
    Ucs2,
    /// UTF-16, big-endian.
    Utf16,
    /// UTF-16, little-endian.
    Utf16Le,
    /// UTF-32, big-endian.
    Utf32,
    /// A charset decoded by the server's own mapping, learned once per run.
    Table(Arc<CodeTable>),
}

/// A byte sequence that is not a character of its charset, or one the server has no Unicode
/// character for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable {
    pub charset: String,
    /// Where the sequence starts, in bytes.
    pub offset: usize,
    /// The sequence (a few bytes at most).
    pub bytes: Vec<u8>,
    /// A well-formed code of a learned charset that the server cannot convert (where a utf8mb4
    /// connection reads `?`), rather than bytes that are no code at all.
    pub unmapped: bool,
}

impl std::fmt::Display for Undecodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex: String = self.bytes.iter().map(|b| format!("{b:02x}")).collect();
        if self.unmapped {
            write!(
                f,
                "bytes x'{hex}' at byte {} are a character of charset {} that the server maps to no Unicode character (a utf8mb4 connection would have read it as '?')",
                self.offset, self.charset
            )
        } else {
            write!(
                f,
                "bytes x'{hex}' at byte {} are not a character of charset {}",
                self.offset, self.charset
            )
        }
    }
}

/// No character: a table entry for bytes that are not a code of the charset.
const NONE: u32 = u32::MAX;
/// A well-formed code the server converts to no Unicode character (it sends `?`).
const UNMAPPED: u32 = u32::MAX - 1;

/// What the bytes at some position are.
enum Next {
    Char(char, usize),
    /// A well-formed code of this many bytes with no Unicode character.
    Unmapped(usize),
    Invalid,
}

/// MySQL latin1's 0x80–0x9F (0xA0–0xFF are U+00A0–U+00FF, 0x00–0x7F are ASCII).
const LATIN1_80_9F: [u16; 32] = [
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
];

fn latin1_char(b: u8) -> char {
    let code = match b {
        0x80..=0x9F => u32::from(LATIN1_80_9F[usize::from(b - 0x80)]),
        _ => u32::from(b),
    };
    char::from_u32(code).expect("the latin1 table holds only characters")
}

impl Charset {
    /// A charset pgcutover decodes without asking the server, by its MySQL name.
    pub fn builtin(name: &str) -> Option<Charset> {
        Some(match name.to_ascii_lowercase().as_str() {
            "utf8mb4" => Charset::Utf8 { max_bytes: 4 },
            // `utf8` is utf8mb3 on every server (MySQL 8.0.30+ and MariaDB 10.6+ say utf8mb3).
            "utf8mb3" | "utf8" => Charset::Utf8 { max_bytes: 3 },
            "binary" => Charset::Binary,
            "latin1" => Charset::Latin1,
            "ucs2" => Charset::Ucs2,
            "utf16" => Charset::Utf16,
            "utf16le" => Charset::Utf16Le,
            "utf32" => Charset::Utf32,
            _ => return None,
        })
    }

    pub fn name(&self) -> &str {
        match self {
            Charset::Utf8 { max_bytes: 4 } => "utf8mb4",
            Charset::Utf8 { .. } => "utf8mb3",
            Charset::Binary => "binary",
            Charset::Latin1 => "latin1",
            Charset::Ucs2 => "ucs2",
            Charset::Utf16 => "utf16",
            Charset::Utf16Le => "utf16le",
            Charset::Utf32 => "utf32",
            Charset::Table(t) => &t.name,
        }
    }

    /// Decodes `b`. With `replace`, each undecodable sequence becomes U+FFFD instead of an
    /// error (`--invalid-utf8 replace`). Borrows when the bytes are already the text.
    pub fn decode<'a>(&self, b: &'a [u8], replace: bool) -> Result<Cow<'a, str>, Undecodable> {
        match self {
            Charset::Utf8 { max_bytes } => decode_utf8(b, *max_bytes, replace, self.name()),
            Charset::Binary => decode_utf8(b, 4, replace, "binary (as UTF-8)"),
            Charset::Latin1 if b.is_ascii() => Ok(Cow::Borrowed(
                std::str::from_utf8(b).expect("ASCII is UTF-8"),
            )),
            Charset::Latin1 => Ok(Cow::Owned(b.iter().map(|&x| latin1_char(x)).collect())),
            Charset::Ucs2 => self.decode_units(b, 2, replace, |u| {
                let u = u16::from_be_bytes([u[0], u[1]]);
                // UCS-2 has no surrogate pairs: a surrogate is not a character.
                char::from_u32(u32::from(u)).map(|c| (c, 2))
            }),
            Charset::Utf16 => self.decode_utf16(b, replace, u16::from_be_bytes),
            Charset::Utf16Le => self.decode_utf16(b, replace, u16::from_le_bytes),
            Charset::Utf32 => self.decode_units(b, 4, replace, |u| {
                char::from_u32(u32::from_be_bytes([u[0], u[1], u[2], u[3]])).map(|c| (c, 4))
            }),
            Charset::Table(t) => t.decode(b, replace),
        }
    }

    fn decode_utf16<'a>(
        &self,
        b: &'a [u8],
        replace: bool,
        unit: fn([u8; 2]) -> u16,
    ) -> Result<Cow<'a, str>, Undecodable> {
        self.decode_units(b, 2, replace, |rest| {
            let hi = unit([rest[0], rest[1]]);
            if !(0xD800..0xE000).contains(&hi) {
                return char::from_u32(u32::from(hi)).map(|c| (c, 2));
            }
            let lo = unit([*rest.get(2)?, *rest.get(3)?]);
            let mut pair = char::decode_utf16([hi, lo]);
            match pair.next() {
                Some(Ok(c)) => Some((c, 4)),
                _ => None,
            }
        })
    }

    /// A fixed-width (or surrogate-pair) encoding: `next` reads one character at the start of
    /// its slice and says how many bytes it took, or None when they are not a character.
    fn decode_units<'a>(
        &self,
        b: &'a [u8],
        width: usize,
        replace: bool,
        next: impl Fn(&[u8]) -> Option<(char, usize)>,
    ) -> Result<Cow<'a, str>, Undecodable> {
        let mut out = String::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let decoded = (b.len() - i >= width).then(|| next(&b[i..])).flatten();
            match decoded {
                Some((c, used)) => {
                    out.push(c);
                    i += used;
                }
                None if replace => {
                    out.push(char::REPLACEMENT_CHARACTER);
                    i += width;
                }
                None => {
                    return Err(Undecodable {
                        charset: self.name().to_owned(),
                        offset: i,
                        bytes: b[i..b.len().min(i + width * 2)].to_vec(),
                        unmapped: false,
                    })
                }
            }
        }
        Ok(Cow::Owned(out))
    }
}

fn decode_utf8<'a>(
    b: &'a [u8],
    max_bytes: u8,
    replace: bool,
    name: &str,
) -> Result<Cow<'a, str>, Undecodable> {
    match std::str::from_utf8(b) {
        // utf8mb3 cannot store a four-byte character: one there is corruption, not text.
        Ok(s) if max_bytes >= 4 || !b.iter().any(|&x| x >= 0xF0) => Ok(Cow::Borrowed(s)),
        Ok(s) if replace => Ok(Cow::Owned(
            s.chars()
                .map(|c| {
                    if c.len_utf8() > usize::from(max_bytes) {
                        char::REPLACEMENT_CHARACTER
                    } else {
                        c
                    }
                })
                .collect(),
        )),
        Ok(s) => {
            let (offset, c) = s
                .char_indices()
                .find(|(_, c)| c.len_utf8() > usize::from(max_bytes))
                .expect("a byte ≥ 0xF0 in valid UTF-8 starts a four-byte character");
            Err(Undecodable {
                charset: name.to_owned(),
                offset,
                bytes: b[offset..offset + c.len_utf8()].to_vec(),
                unmapped: false,
            })
        }
        Err(_) if replace => Ok(String::from_utf8_lossy(b)),
        Err(e) => {
            let offset = e.valid_up_to();
            let len = e.error_len().unwrap_or(b.len() - offset);
            Err(Undecodable {
                charset: name.to_owned(),
                offset,
                bytes: b[offset..offset + len.max(1)].to_vec(),
                unmapped: false,
            })
        }
    }
}

/// One charset as the server maps it to Unicode: every one-byte code, every two-byte code
/// with a lead byte ≥ 0x80, and the three-byte codes behind lead bytes that begin no shorter
/// code (EUC-JP's 0x8F plane). A well-formed code the server does not map is marked so (its
/// whole length is known); bytes that are no code have no entry.
#[derive(Debug, PartialEq, Eq)]
pub struct CodeTable {
    name: String,
    single: Vec<u32>,
    /// `(lead - 0x80) << 8 | trail`; empty for a single-byte charset.
    double: Vec<u32>,
    /// Per three-byte lead: `second << 8 | third`.
    triple: Vec<(u8, Vec<u32>)>,
    /// Bytes 0x00–0x7F are ASCII and never a trail byte's lead: such text decodes as itself.
    ascii: bool,
}

impl CodeTable {
    /// A table from `(code, character)` pairs, codes written big-endian in 1, 2 or 3 bytes;
    /// `None` for a well-formed code the server maps to no Unicode character.
    pub fn from_codes(
        name: &str,
        codes: impl IntoIterator<Item = (u32, Option<char>)>,
    ) -> CodeTable {
        let mut t = CodeTable {
            name: name.to_owned(),
            single: vec![NONE; 256],
            double: Vec::new(),
            triple: Vec::new(),
            ascii: false,
        };
        for (code, c) in codes {
            let c = c.map_or(UNMAPPED, u32::from);
            match code {
                0..=0xFF => t.single[code as usize] = c,
                0x8000..=0xFFFF => {
                    if t.double.is_empty() {
                        t.double = vec![NONE; 0x8000];
                    }
                    t.double[(code - 0x8000) as usize] = c;
                }
                0x80_0000..=0xFF_FFFF => {
                    let lead = (code >> 16) as u8;
                    let i = match t.triple.iter().position(|(l, _)| *l == lead) {
                        Some(i) => i,
                        None => {
                            t.triple.push((lead, vec![NONE; 0x1_0000]));
                            t.triple.len() - 1
                        }
                    };
                    t.triple[i].1[(code & 0xFFFF) as usize] = c;
                }
                // No MySQL charset has a multi-byte code with a lead byte below 0x80.
                _ => {}
            }
        }
        t.ascii = (0..0x80u32).all(|b| t.single[b as usize] == b);
        t
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn decode<'a>(&self, b: &'a [u8], replace: bool) -> Result<Cow<'a, str>, Undecodable> {
        if self.ascii && b.is_ascii() {
            return Ok(Cow::Borrowed(
                std::str::from_utf8(b).expect("ASCII is UTF-8"),
            ));
        }
        let mut out = String::with_capacity(b.len() * 2);
        let mut i = 0;
        while i < b.len() {
            let (len, unmapped) = match self.next(&b[i..]) {
                Next::Char(c, used) => {
                    out.push(c);
                    i += used;
                    continue;
                }
                Next::Unmapped(used) => (used, true),
                Next::Invalid => (1, false),
            };
            if !replace {
                return Err(Undecodable {
                    charset: self.name.clone(),
                    offset: i,
                    bytes: b[i..b.len().min(i + len.max(2))].to_vec(),
                    unmapped,
                });
            }
            // One U+FFFD for the whole code, as the server writes one `?` for it.
            out.push(char::REPLACEMENT_CHARACTER);
            i += len;
        }
        Ok(Cow::Owned(out))
    }

    /// What the bytes at the start of `b` are. A one-byte character first; then a two- and a
    /// three-byte code (a lead byte alone, which the server also counts as one unconvertible
    /// character, is only that when no longer code starts with it).
    fn next(&self, b: &[u8]) -> Next {
        let lead = b[0];
        let one = self.single[usize::from(lead)];
        let found = |entry: u32, len: usize| match entry {
            NONE => None,
            UNMAPPED => Some(Next::Unmapped(len)),
            c => Some(char::from_u32(c).map_or(Next::Invalid, |c| Next::Char(c, len))),
        };
        if one != UNMAPPED {
            if let Some(n) = found(one, 1) {
                return n;
            }
        }
        if lead >= 0x80 {
            if let (Some(&trail), false) = (b.get(1), self.double.is_empty()) {
                let i = (usize::from(lead - 0x80) << 8) | usize::from(trail);
                if let Some(n) = found(self.double[i], 2) {
                    return n;
                }
            }
            if let (Some((_, plane)), Some(&second), Some(&third)) = (
                self.triple.iter().find(|(l, _)| *l == lead),
                b.get(1),
                b.get(2),
            ) {
                if let Some(n) = found(plane[(usize::from(second) << 8) | usize::from(third)], 3) {
                    return n;
                }
            }
        }
        found(one, 1).unwrap_or(Next::Invalid)
    }
}

/// A charset name as it reaches SQL: MySQL's are letters and digits (`utf8mb4`, `cp1250`).
fn checked_name(name: &str) -> Option<&str> {
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then_some(name)
}

/// `SELECT 0 n UNION ALL … 15`: a derived table of sixteen digits (MySQL 5.7 has no CTEs).
fn nibbles(alias: &str) -> String {
    let digits: Vec<String> = (0..16)
        .map(|d| {
            if d == 0 {
                "SELECT 0 n".to_owned()
            } else {
                format!("SELECT {d}")
            }
        })
        .collect();
    format!("({}) {alias}", digits.join(" UNION ALL "))
}

/// The query that converts every code `first ..= last` of `charset` (written in `bytes` bytes)
/// whose bytes are one character there (well-formed: the server counts them as one), to one
/// character of utf8mb4 (`?` when it has none).
fn table_query(charset: &str, first: u32, last: u32, bytes: usize) -> String {
    let digits = if last - first < 0x100 { 2 } else { 4 };
    let names: Vec<String> = (0..digits).map(|i| format!("d{i}")).collect();
    let value = names
        .iter()
        .fold(String::from("0"), |acc, n| format!("({acc}) * 16 + {n}.n"));
    let from = names
        .iter()
        .map(|n| nibbles(n))
        .collect::<Vec<_>>()
        .join(" CROSS JOIN ");
    let hex_len = bytes * 2;
    let charset = crate::ident::mysql_ident(charset);
    format!(
        "SELECT code, HEX(u) FROM (\
           SELECT code, CONVERT(t USING utf8mb4) u, CHAR_LENGTH(t) len FROM (\
             SELECT code, CAST(UNHEX(LPAD(HEX(code), {hex_len}, '0')) AS CHAR CHARACTER SET {charset}) t \
             FROM (SELECT {first} + {value} AS code FROM {from}) codes WHERE code <= {last}) typed) converted \
         WHERE len = 1 AND CHAR_LENGTH(u) = 1"
    )
}

async fn codes(
    conn: &mut Conn,
    sql: String,
    out: &mut Vec<(u32, Option<char>)>,
) -> Result<(), mysql_async::Error> {
    let rows: Vec<(u64, String)> = conn.query(sql).await?;
    for (code, hex) in rows {
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect();
        let c = bytes
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.chars().next());
        let Ok(code) = u32::try_from(code) else {
            continue;
        };
        match c {
            // `?` for any code but `?` itself is the server's "no such character".
            Some('?') if code != u32::from(b'?') => out.push((code, None)),
            Some(c) => out.push((code, Some(c))),
            None => {}
        }
    }
    Ok(())
}

/// Learns a charset's mapping from the server. `Ok(None)`: the server has no such charset.
pub async fn learn(conn: &mut Conn, name: &str) -> Result<Option<Charset>, mysql_async::Error> {
    if let Some(c) = Charset::builtin(name) {
        return Ok(Some(c));
    }
    let Some(name) = checked_name(name) else {
        return Ok(None);
    };
    let maxlen: Option<u64> = conn
        .exec_first(
            "SELECT MAXLEN FROM information_schema.CHARACTER_SETS WHERE CHARACTER_SET_NAME = ?",
            (name,),
        )
        .await?;
    let Some(maxlen) = maxlen else {
        return Ok(None);
    };
    let mut found = Vec::new();
    codes(conn, table_query(name, 0, 0xFF, 1), &mut found).await?;
    if maxlen >= 2 {
        codes(conn, table_query(name, 0x8000, 0xFFFF, 2), &mut found).await?;
    }
    if maxlen >= 3 {
        // Lead bytes that begin neither a one- nor a two-byte code may begin three-byte ones
        // (EUC-JP's 0x8F, for JIS X 0212).
        let leads: BTreeSet<u32> = found
            .iter()
            .filter(|(code, _)| *code > 0xFF)
            .map(|(code, _)| code >> 8)
            .collect();
        let singles: BTreeSet<u32> = found
            .iter()
            .filter(|(code, c)| *code < 0x100 && c.is_some())
            .map(|(code, _)| *code)
            .collect();
        for lead in 0x80..=0xFFu32 {
            if !leads.contains(&lead) && !singles.contains(&lead) {
                codes(
                    conn,
                    table_query(name, lead << 16, (lead << 16) | 0xFFFF, 3),
                    &mut found,
                )
                .await?;
            }
        }
    }
    Ok(Some(Charset::Table(Arc::new(CodeTable::from_codes(
        name, found,
    )))))
}

/// Learns every charset in `names` (the ones the copied columns use).
pub async fn learn_all(
    conn: &mut Conn,
    names: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, Charset>, mysql_async::Error> {
    let mut out = HashMap::new();
    for name in names {
        if out.contains_key(&name) {
            continue;
        }
        if let Some(c) = learn(conn, &name).await? {
            out.insert(name, c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(c: &Charset, b: &[u8]) -> String {
        c.decode(b, false).unwrap().into_owned()
    }

    #[test]
    fn latin1_is_mysql_cp1252() {
        let l = Charset::Latin1;
        assert_eq!(text(&l, b"plain"), "plain");
        assert!(matches!(l.decode(b"plain", false), Ok(Cow::Borrowed(_))));
        assert_eq!(text(&l, &[0x80, 0xE9, 0xFF]), "€éÿ");
        // The five bytes cp1252 leaves undefined are C1 controls in MySQL.
        assert_eq!(
            text(&l, &[0x81, 0x8D, 0x8F, 0x90, 0x9D]),
            "\u{81}\u{8d}\u{8f}\u{90}\u{9d}"
        );
        assert_eq!(text(&l, &[0x9F, 0x8C]), "ŸŒ");
    }

    #[test]
    fn utf8_flavours() {
        let mb4 = Charset::builtin("utf8mb4").unwrap();
        let mb3 = Charset::builtin("utf8").unwrap();
        assert_eq!(text(&mb4, "é😀".as_bytes()), "é😀");
        let e = mb3.decode("aé😀".as_bytes(), false).unwrap_err();
        assert_eq!((e.offset, e.bytes.len()), (3, 4));
        assert_eq!(mb3.decode("a😀".as_bytes(), true).unwrap(), "a\u{fffd}");
        let e = mb4.decode(&[b'a', 0xC3, b'b'], false).unwrap_err();
        assert_eq!((e.offset, e.bytes.clone()), (1, vec![0xC3]));
        assert!(e.to_string().contains("x'c3' at byte 1"));
        assert_eq!(mb4.decode(&[b'a', 0xC3, b'b'], true).unwrap(), "a\u{fffd}b");
    }

    #[test]
    fn wide_unicode_encodings() {
        assert_eq!(text(&Charset::Ucs2, &[0x00, 0x41, 0x20, 0xAC]), "A€");
        // A surrogate is not a UCS-2 character; an odd length is not UCS-2 at all.
        assert!(Charset::Ucs2
            .decode(&[0xD8, 0x3D, 0xDE, 0x00], false)
            .is_err());
        assert!(Charset::Ucs2.decode(&[0x00], false).is_err());
        assert_eq!(
            text(&Charset::Utf16, &[0xD8, 0x3D, 0xDE, 0x00, 0x00, 0x41]),
            "😀A"
        );
        assert_eq!(text(&Charset::Utf16Le, &[0x3D, 0xD8, 0x00, 0xDE]), "😀");
        assert!(Charset::Utf16.decode(&[0xD8, 0x3D], false).is_err());
        assert!(Charset::Utf16
            .decode(&[0xDE, 0x00, 0x00, 0x41], false)
            .is_err());
        assert_eq!(text(&Charset::Utf32, &[0, 1, 0xF6, 0x00]), "😀");
        assert!(Charset::Utf32.decode(&[0, 0x11, 0, 0], false).is_err());
        assert_eq!(
            Charset::Utf32
                .decode(&[0, 0x11, 0, 0, 0, 0, 0, 0x41], true)
                .unwrap(),
            "\u{fffd}A"
        );
    }

    fn ascii() -> Vec<(u32, Option<char>)> {
        (0u32..0x80).map(|b| (b, char::from_u32(b))).collect()
    }

    #[test]
    fn learned_tables_decode_one_two_and_three_byte_codes() {
        // A made-up EUC-like charset: ASCII, 0xA1A1 → 中, 0x8FA1A1 → 丂, 0xC1 alone → ア; the
        // well-formed 0xA2E3 has no Unicode character; a lone 0xA1 is counted by the server as
        // one unconvertible character, as MariaDB does.
        let mut codes = ascii();
        codes.extend([
            (0xA1A1, Some('中')),
            (0x8F_A1A1, Some('丂')),
            (0xC1, Some('ア')),
            (0xA2E3, None),
            (0xA1, None),
        ]);
        let t = Charset::Table(Arc::new(CodeTable::from_codes("eucx", codes)));
        assert!(matches!(t.decode(b"abc", false), Ok(Cow::Borrowed("abc"))));
        assert_eq!(
            text(&t, &[b'x', 0xA1, 0xA1, 0x8F, 0xA1, 0xA1, 0xC1]),
            "x中丂ア"
        );
        // A lead byte without its trail, a pair that is no code, a lone 0x8F.
        for bad in [&[0xA1][..], &[0xA1, 0xA2], &[b'a', 0x8F, 0xA1]] {
            assert!(t.decode(bad, false).is_err(), "{bad:x?}");
        }
        let e = t.decode(&[b'a', 0xA1, 0xA2], false).unwrap_err();
        assert_eq!(
            (e.charset.as_str(), e.offset, e.unmapped),
            ("eucx", 1, true)
        );
        // An unmapped code: named whole, and replaced whole, so what follows it is read right.
        let e = t.decode(&[0xA2, 0xE3, 0xA1, 0xA1], false).unwrap_err();
        assert_eq!((e.bytes.clone(), e.unmapped), (vec![0xA2, 0xE3], true));
        assert!(e.to_string().contains("maps to no Unicode character"));
        assert_eq!(
            t.decode(&[0xA2, 0xE3, 0xA1, 0xA1, b'!'], true).unwrap(),
            "\u{fffd}中!"
        );
        // Bytes that are no code at all: one U+FFFD each.
        assert_eq!(t.decode(&[b'a', 0xFF, b'b'], true).unwrap(), "a\u{fffd}b");
        let e = t.decode(&[0xFF], false).unwrap_err();
        assert!(
            !e.unmapped
                && e.to_string()
                    .contains("are not a character of charset eucx")
        );
    }

    #[test]
    fn a_table_whose_low_half_is_not_ascii_decodes_every_byte() {
        // swe7 maps 0x40 to É: ASCII-looking text is not itself there.
        let mut codes = ascii();
        codes[0x40] = (0x40, Some('É'));
        let t = Charset::Table(Arc::new(CodeTable::from_codes("swe7", codes)));
        assert_eq!(text(&t, b"a@b"), "aÉb");
    }

    #[test]
    fn only_plain_names_reach_sql() {
        assert_eq!(checked_name("cp1250"), Some("cp1250"));
        assert_eq!(checked_name("x; DROP"), None);
        assert_eq!(checked_name(""), None);
    }
}
