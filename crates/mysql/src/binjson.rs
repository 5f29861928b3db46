//! MySQL 8's binary JSON (what its binary log holds for a JSON column) as the text MySQL shows
//! for it: a copied row reads a JSON column as that text, so a followed row must get the same
//! text, byte for byte, to convert alike (a target column cast to text keeps it as it is).
//!
//! The rules are MySQL's `Json_wrapper::to_string` (sql-common/json_dom.cc): `", "` between
//! elements and `": "` after a key; keys in the order they are stored (by length, then bytes);
//! a DECIMAL with its scale (`1.50`); a double in the shortest form that reads back, with
//! `.0` added where it would read as an integer, and in `e` notation outside 1e-15..1e15
//! (`my_gcvt`); dates as `"YYYY-MM-DD"`, datetimes and times with six fractional digits;
//! other opaque values as `"base64:typeN:…"`.

use std::fmt::Write;

use mysql_async::binlog::jsonb::{JsonDom, JsonNumber, JsonScalar, ObjectKey, OpaqueValue, Value};
use mysql_async::consts::ColumnType;

/// The text MySQL shows for a binary JSON value.
pub fn to_text(v: &Value<'_>) -> Result<String, String> {
    let mut out = String::new();
    write_value(&mut out, v)?;
    Ok(out)
}

fn write_value(out: &mut String, v: &Value<'_>) -> Result<(), String> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::I16(i) => push(out, i),
        Value::U16(i) => push(out, i),
        Value::I32(i) => push(out, i),
        Value::U32(i) => push(out, i),
        Value::I64(i) => push(out, i),
        Value::U64(i) => push(out, i),
        Value::F64(d) => out.push_str(&double(*d)?),
        Value::String(s) => quote(out, utf8(s.str_raw())?),
        Value::SmallArray(a) => array(out, a.iter())?,
        Value::LargeArray(a) => array(out, a.iter())?,
        Value::SmallObject(o) => object(out, o.iter())?,
        Value::LargeObject(o) => object(out, o.iter())?,
        Value::Opaque(o) => opaque(out, o.value_type(), o.data_raw())?,
    }
    Ok(())
}

fn push(out: &mut String, v: impl std::fmt::Display) {
    let _ = write!(out, "{v}");
}

fn utf8(b: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(b).map_err(|e| format!("a JSON string is not UTF-8: {e}"))
}

fn array<'a>(
    out: &mut String,
    items: impl Iterator<Item = std::io::Result<Value<'a>>>,
) -> Result<(), String> {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(out, &item.map_err(|e| e.to_string())?)?;
    }
    out.push(']');
    Ok(())
}

fn object<'a>(
    out: &mut String,
    members: impl Iterator<Item = std::io::Result<(ObjectKey<'a>, Value<'a>)>>,
) -> Result<(), String> {
    out.push('{');
    for (i, member) in members.enumerate() {
        let (key, value) = member.map_err(|e| e.to_string())?;
        if i > 0 {
            out.push_str(", ");
        }
        quote(out, utf8(key.value_raw())?);
        out.push_str(": ");
        write_value(out, &value)?;
    }
    out.push('}');
    Ok(())
}

/// A string in double quotes, escaped as MySQL escapes it: `"` and `\`, the control characters
/// with a short escape by it, the others below 0x20 as `\u00xx`; nothing else (not `/`, nor
/// any non-ASCII character).
fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A double as MySQL writes it in JSON: `my_gcvt` at its widest field, then `.0` when that
/// would read as an integer.
fn double(d: f64) -> Result<String, String> {
    if !d.is_finite() {
        return Err(format!("a JSON double {d}, which JSON cannot hold"));
    }
    // Rust's `{:e}` gives the shortest digits that read back, as dtoa's mode 0 does.
    let e = format!("{:e}", d.abs());
    let (mantissa, exponent) = e.split_once('e').ok_or("a double without an exponent")?;
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exponent: i32 = exponent.parse().map_err(|_| "a double's exponent")?;
    let mut out = String::from(if d.is_sign_negative() { "-" } else { "" });
    // dtoa's decpt: where the decimal point goes, counted from before the first digit.
    out.push_str(&gcvt_layout(&digits, exponent + 1));
    if !out.contains(['.', 'e']) {
        out.push_str(".0");
    }
    Ok(out)
}

/// Significant `digits` with the decimal point `decpt` places after the first, as `my_gcvt`
/// lays them out when all of them fit its field: plain notation when the point falls within
/// 15 places either way of them (`0.00015`, `123.4`, `100`), `e` notation otherwise (`1e15`,
/// `1.5e-16`), with no `+` and no leading zeros in the exponent.
fn gcvt_layout(digits: &str, decpt: i32) -> String {
    let len = digits.len() as i32;
    let plain = (-14..=15).contains(&decpt) || (decpt > 15 && len > decpt);
    if !plain {
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        return format!("{first}{point}{rest}e{}", decpt - 1);
    }
    if decpt <= 0 {
        return format!("0.{}{digits}", "0".repeat((-decpt) as usize));
    }
    if decpt < len {
        let (int, frac) = digits.split_at(decpt as usize);
        return format!("{int}.{frac}");
    }
    format!("{digits}{}", "0".repeat((decpt - len) as usize))
}

/// A MySQL value stored opaque in the JSON: DECIMAL and the temporal types as MySQL shows them
/// (a SELECT's text), anything else as its type number and base64 bytes.
fn opaque(out: &mut String, ty: ColumnType, data: &[u8]) -> Result<(), String> {
    use ColumnType::*;
    match ty {
        MYSQL_TYPE_NEWDECIMAL
        | MYSQL_TYPE_DATE
        | MYSQL_TYPE_TIME
        | MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_TIMESTAMP => {
            let parsed = Value::Opaque(OpaqueValue::new(ty, data))
                .parse()
                .map_err(|e| format!("a JSON {ty:?}: {e}"))?;
            match parsed {
                JsonDom::Scalar(JsonScalar::Number(n)) => match n {
                    JsonNumber::Decimal(d) => push(out, d),
                    other => return Err(format!("a JSON DECIMAL read as {other:?}")),
                },
                // MySQL's my_TIME_to_str with 6 digits: a date alone has none.
                JsonDom::Scalar(JsonScalar::DateTime(t)) => {
                    let text = if ty == MYSQL_TYPE_DATE {
                        t.to_string()
                    } else {
                        format!("{t:.6}")
                    };
                    quote(out, &text);
                }
                other => return Err(format!("a JSON {ty:?} read as {other:?}")),
            }
        }
        // A string MySQL kept opaque is shown as the string.
        MYSQL_TYPE_VAR_STRING => quote(out, utf8(data)?),
        _ => quote(out, &format!("base64:type{}:{}", ty as u8, base64(data))),
    }
    Ok(())
}

/// Base64 as MySQL's `base64_encode` writes it: standard alphabet, padded, a newline after
/// every 76 characters (which the JSON string then shows as `\n`).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    let mut line = 0;
    for chunk in data.chunks(3) {
        if line == 76 {
            out.push('\n');
            line = 0;
        }
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        line += 4;
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use mysql_async::binlog::value::BinlogValue;

    /// A JSON value to write in MySQL's binary form (json_binary.cc: a type byte, then the
    /// value; objects and arrays with their element count, size, key entries (offset,
    /// length), value entries (type, then the value itself when it fits in 2 bytes, else its
    /// offset), then the keys and the values). Objects' keys are given in MySQL's order (by
    /// length, then by bytes), as MySQL stores them.
    pub(crate) enum J {
        Null,
        True,
        False,
        I16(i16),
        U16(u16),
        I32(i32),
        U32(u32),
        I64(i64),
        U64(u64),
        F64(f64),
        Str(&'static str),
        Opaque(ColumnType, Vec<u8>),
        Arr(Vec<J>),
        Obj(Vec<(&'static str, J)>),
        LargeArr(Vec<J>),
        LargeObj(Vec<(&'static str, J)>),
    }

    /// A JSON document's bytes: its type, then the value.
    pub(crate) fn document(j: &J) -> Vec<u8> {
        let (ty, bytes) = encode(j);
        [vec![ty], bytes].concat()
    }

    /// A length as binary JSON writes it: 7 bits a byte, the high bit saying more follow.
    fn var_len(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn encode(j: &J) -> (u8, Vec<u8>) {
        match j {
            J::Null => (0x04, vec![0]),
            J::True => (0x04, vec![1]),
            J::False => (0x04, vec![2]),
            J::I16(i) => (0x05, i.to_le_bytes().to_vec()),
            J::U16(i) => (0x06, i.to_le_bytes().to_vec()),
            J::I32(i) => (0x07, i.to_le_bytes().to_vec()),
            J::U32(i) => (0x08, i.to_le_bytes().to_vec()),
            J::I64(i) => (0x09, i.to_le_bytes().to_vec()),
            J::U64(i) => (0x0a, i.to_le_bytes().to_vec()),
            J::F64(d) => (0x0b, d.to_le_bytes().to_vec()),
            J::Str(s) => (0x0c, [var_len(s.len()), s.as_bytes().to_vec()].concat()),
            J::Opaque(ty, data) => (
                0x0f,
                [vec![*ty as u8], var_len(data.len()), data.clone()].concat(),
            ),
            J::Arr(items) => (
                0x02,
                container(None, &items.iter().collect::<Vec<_>>(), false),
            ),
            J::Obj(members) => {
                let keys: Vec<&str> = members.iter().map(|(k, _)| *k).collect();
                let values: Vec<&J> = members.iter().map(|(_, v)| v).collect();
                (0x00, container(Some(&keys), &values, false))
            }
            J::LargeArr(items) => (
                0x03,
                container(None, &items.iter().collect::<Vec<_>>(), true),
            ),
            J::LargeObj(members) => {
                let keys: Vec<&str> = members.iter().map(|(k, _)| *k).collect();
                let values: Vec<&J> = members.iter().map(|(_, v)| v).collect();
                (0x01, container(Some(&keys), &values, true))
            }
        }
    }

    /// An object (with `keys`) or array, in the small format (2-byte counts and offsets) or
    /// the large one MySQL uses past 64 KiB (4-byte ones, which also hold an int32 or uint32
    /// in the entry itself).
    fn container(keys: Option<&[&str]>, values: &[&J], large: bool) -> Vec<u8> {
        let word = if large { 4 } else { 2 };
        let put = |out: &mut Vec<u8>, n: usize| out.extend(&n.to_le_bytes()[..word]);
        let n = values.len();
        let key_entries = keys.map_or(0, |_| (word + 2) * n);
        let header = 2 * word + key_entries + (1 + word) * n;
        let mut tail: Vec<u8> = keys.unwrap_or(&[]).concat().into_bytes();
        let mut entries = Vec::new();
        let mut offset = header;
        for k in keys.unwrap_or(&[]) {
            put(&mut entries, offset);
            entries.extend((k.len() as u16).to_le_bytes());
            offset += k.len();
        }
        for v in values {
            let (ty, bytes) = encode(v);
            entries.push(ty);
            let inlined = if large { 0x04..=0x08 } else { 0x04..=0x06 };
            if inlined.contains(&ty) {
                let mut inline = bytes.clone();
                inline.resize(word, 0);
                entries.extend(inline);
            } else {
                put(&mut entries, header + tail.len());
                tail.extend(bytes);
            }
        }
        let mut out = Vec::new();
        put(&mut out, n);
        put(&mut out, header + tail.len());
        [out, entries, tail].concat()
    }

    /// The text MySQL shows for a document, read as the binary log reader reads a JSON
    /// column's bytes.
    pub(crate) fn text_of(j: &J) -> String {
        let bytes = document(j);
        let len = (bytes.len() as u32).to_le_bytes();
        let column = [&len[..], &bytes].concat();
        let value: BinlogValue<'_> = mysql_common::proto::MyDeserialize::deserialize(
            (ColumnType::MYSQL_TYPE_JSON, &[4u8][..], false, false),
            &mut mysql_common::io::ParseBuf(&column),
        )
        .expect("mysql_common reads the JSON column");
        let BinlogValue::Jsonb(v) = value else {
            panic!("not binary JSON: {value:?}")
        };
        to_text(&v).expect("to text")
    }

    /// MySQL's packed DATETIME (as `TIME_to_longlong_datetime_packed` makes it).
    pub(crate) fn packed_datetime(
        ymd: (i64, i64, i64),
        hms: (i64, i64, i64),
        micros: i64,
    ) -> Vec<u8> {
        let ym = ymd.0 * 13 + ymd.1;
        let date = (ym << 5) | ymd.2;
        let time = (hms.0 << 12) | (hms.1 << 6) | hms.2;
        (((date << 17 | time) << 24) + micros)
            .to_le_bytes()
            .to_vec()
    }

    /// MySQL's packed TIME, negative when `negative`.
    fn packed_time(negative: bool, hms: (i64, i64, i64), micros: i64) -> Vec<u8> {
        let packed = ((hms.0 << 12 | hms.1 << 6 | hms.2) << 24) + micros;
        (if negative { -packed } else { packed })
            .to_le_bytes()
            .to_vec()
    }

    /// A DECIMAL as JSON stores it: precision, scale, then MySQL's binary decimal.
    pub(crate) fn decimal(precision: u8, scale: u8, binary: &[u8]) -> J {
        J::Opaque(
            ColumnType::MYSQL_TYPE_NEWDECIMAL,
            [&[precision, scale][..], binary].concat(),
        )
    }

    #[test]
    fn objects_arrays_and_scalars_read_as_mysql_shows_them() {
        let doc = J::Obj(vec![
            ("a", J::I16(-1)),
            ("b", J::Arr(vec![J::Str("x"), J::Null, J::True, J::False])),
            ("n", J::Obj(vec![("k", J::U64(u64::MAX))])),
            ("u16", J::U16(65_535)),
            ("i32", J::I32(-2_147_483_648)),
            ("u32", J::U32(4_294_967_295)),
            ("i64", J::I64(i64::MIN)),
            ("e", J::Arr(vec![])),
            ("o", J::Obj(vec![])),
        ]);
        assert_eq!(
            text_of(&doc),
            r#"{"a": -1, "b": ["x", null, true, false], "n": {"k": 18446744073709551615}, "u16": 65535, "i32": -2147483648, "u32": 4294967295, "i64": -9223372036854775808, "e": [], "o": {}}"#
        );
        assert_eq!(text_of(&J::Str("plain")), r#""plain""#);
        assert_eq!(text_of(&J::Null), "null");
        assert_eq!(text_of(&J::Arr(vec![J::I64(7)])), "[7]");
    }

    #[test]
    fn large_format_documents_read_alike() {
        let doc = J::LargeObj(vec![
            ("a", J::I32(-5)),
            ("b", J::U32(7)),
            (
                "c",
                J::LargeArr(vec![J::True, J::Str("s"), J::Obj(vec![("k", J::Null)])]),
            ),
        ]);
        assert_eq!(
            text_of(&doc),
            r#"{"a": -5, "b": 7, "c": [true, "s", {"k": null}]}"#
        );
    }

    #[test]
    fn strings_are_escaped_as_mysql_escapes_them() {
        assert_eq!(
            text_of(&J::Str("q\"b\\n\nt\tr\rf\u{c}b\u{8}c\u{1}\u{1f}/é😀")),
            r#""q\"b\\n\nt\tr\rf\fb\bc\u0001\u001f/é😀""#
        );
    }

    #[test]
    fn doubles_are_written_as_my_gcvt_writes_them() {
        let cases: [(f64, &str); 14] = [
            (1.5, "1.5"),
            (100.0, "100.0"),
            (0.0, "0.0"),
            (-0.25, "-0.25"),
            (0.1, "0.1"),
            (1e14, "100000000000000.0"),
            (123456789012345.6, "123456789012345.6"),
            (1e15, "1e15"),
            (1.5e-7, "0.00000015"),
            (1e-15, "0.000000000000001"),
            (1e-16, "1e-16"),
            (-2.5e300, "-2.5e300"),
            (1.2345678901234567e19, "1.2345678901234567e19"),
            (f64::MAX, "1.7976931348623157e308"),
        ];
        for (d, text) in cases {
            assert_eq!(text_of(&J::F64(d)), text, "{d:e}");
        }
    }

    #[test]
    fn decimals_dates_and_times_read_as_mysql_shows_them() {
        // DECIMAL(3,2): one byte of integer digits, one of fraction, the sign bit flipped
        // (a negative one has every bit inverted).
        assert_eq!(
            text_of(&J::Obj(vec![("a", decimal(3, 2, &[0x81, 50]))])),
            r#"{"a": 1.50}"#
        );
        assert_eq!(text_of(&decimal(3, 2, &[0x7e, !50])), "-1.50");
        assert_eq!(text_of(&decimal(3, 2, &[0x80, 5])), "0.05");
        // DECIMAL(12,2) 1234567890.12: 1 digit in a byte, 9 in four, 2 in a byte.
        let big = [&[0x81][..], &234_567_890u32.to_be_bytes(), &[12]].concat();
        assert_eq!(text_of(&decimal(12, 2, &big)), "1234567890.12");
        let date = J::Opaque(
            ColumnType::MYSQL_TYPE_DATE,
            packed_datetime((2020, 1, 2), (0, 0, 0), 0),
        );
        assert_eq!(text_of(&date), r#""2020-01-02""#);
        let datetime = J::Opaque(
            ColumnType::MYSQL_TYPE_DATETIME,
            packed_datetime((2020, 1, 2), (3, 4, 5), 0),
        );
        assert_eq!(text_of(&datetime), r#""2020-01-02 03:04:05.000000""#);
        let timestamp = J::Opaque(
            ColumnType::MYSQL_TYPE_TIMESTAMP,
            packed_datetime((1999, 12, 31), (23, 59, 59), 999_999),
        );
        assert_eq!(text_of(&timestamp), r#""1999-12-31 23:59:59.999999""#);
        let time = J::Opaque(
            ColumnType::MYSQL_TYPE_TIME,
            packed_time(true, (838, 59, 59), 0),
        );
        assert_eq!(text_of(&time), r#""-838:59:59.000000""#);
        let time = J::Opaque(
            ColumnType::MYSQL_TYPE_TIME,
            packed_time(false, (3, 4, 5), 60),
        );
        assert_eq!(text_of(&J::Arr(vec![time])), r#"["03:04:05.000060"]"#);
    }

    #[test]
    fn other_opaque_values_are_their_type_and_base64() {
        let blob = J::Opaque(ColumnType::MYSQL_TYPE_BLOB, vec![1, 2, 3]);
        assert_eq!(text_of(&blob), r#""base64:type252:AQID""#);
        let bit = J::Opaque(ColumnType::MYSQL_TYPE_BIT, vec![0xff]);
        assert_eq!(text_of(&bit), r#""base64:type16:/w==""#);
        // 60 bytes are 80 base64 characters: a newline after the 76th.
        let long = J::Opaque(ColumnType::MYSQL_TYPE_BLOB, vec![0; 60]);
        assert_eq!(
            text_of(&long),
            format!(r#""base64:type252:{}\n{}""#, "A".repeat(76), "AAAA")
        );
        let string = J::Opaque(ColumnType::MYSQL_TYPE_VAR_STRING, b"hi".to_vec());
        assert_eq!(text_of(&string), r#""hi""#);
    }
}
