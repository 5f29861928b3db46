//! A row that could not arrive exactly, and why.

use serde::Serialize;

/// One rejected row: written as one JSON line to the rejects file and counted in the report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Reject {
    /// Target table name.
    pub table: String,
    /// The row's key as `column=value` pairs (the primary key, or SQLite's rowid).
    pub key: String,
    pub column: String,
    /// The offending value, rendered for a human (bytes as hex), cut at 200 characters.
    pub value: String,
    pub reason: String,
    pub hint: String,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // For a terminal: the key holds source column names and values.
        write!(
            f,
            "table {} row {} column {} value {}: {}",
            crate::show_ident(&self.table),
            crate::show(&self.key),
            crate::show_ident(&self.column),
            crate::show(&self.value),
            crate::show(&self.reason)
        )
    }
}

/// How much of a value a reject shows: characters of text, or twice the bytes shown as hex.
const MAX: usize = 200;

/// Renders a value for a reject record, cut so a 50 MB blob does not become a 100 MB line.
pub fn display_value(bytes_or_text: impl AsRef<[u8]>) -> String {
    let bytes = bytes_or_text.as_ref();
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.contains('\0') => {
            let mut out: String = s.chars().take(MAX).collect();
            if out.len() < s.len() {
                out.push('…');
            }
            format!("{out:?}")
        }
        _ => display_hex(bytes),
    }
}

/// Bytes as `x'…'` hex, cut like [`display_value`]: for a value whose bytes are the point (text
/// that cannot be decoded in its charset, even when they happen to be valid UTF-8).
pub fn display_hex(bytes: &[u8]) -> String {
    let mut out = String::from("x'");
    for b in bytes.iter().take(MAX / 2) {
        out.push_str(&format!("{b:02x}"));
    }
    if bytes.len() > MAX / 2 {
        out.push('…');
    }
    out.push('\'');
    out
}
