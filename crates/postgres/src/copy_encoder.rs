//! PostgreSQL binary COPY encoding, into a caller's reusable buffer.
//!
//! Format (PostgreSQL docs, "COPY … Binary Format"): an 11-byte signature, a 4-byte flags field
//! and a 4-byte extension length; then per row an i16 field count and per field an i32 length
//! (-1 for NULL) followed by the value in the type's binary send format; then an i16 -1 trailer.
//! Binary format is type-exact: each [`Value`] variant must match its column's PostgreSQL type,
//! which the source converters guarantee.

use bytes::{BufMut, BytesMut};
use pgcutover_core::Value;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Writes the stream header. Call once, before the first row.
pub fn write_header(buf: &mut BytesMut) {
    buf.put_slice(SIGNATURE);
    buf.put_i32(0); // flags: no OIDs
    buf.put_i32(0); // header extension length
}

/// Writes the end-of-data marker. Call once, after the last row.
pub fn write_trailer(buf: &mut BytesMut) {
    buf.put_i16(-1);
}

/// Writes one row. `values.len()` must equal the number of columns in the COPY.
pub fn write_row(buf: &mut BytesMut, values: &[Value<'_>]) {
    buf.put_i16(i16::try_from(values.len()).expect("PostgreSQL tables have at most 1600 columns"));
    for v in values {
        write_value(buf, v);
    }
}

fn write_value(buf: &mut BytesMut, v: &Value<'_>) {
    match v {
        Value::Null => buf.put_i32(-1),
        Value::Bool(b) => {
            buf.put_i32(1);
            buf.put_u8(u8::from(*b));
        }
        Value::I16(i) => {
            buf.put_i32(2);
            buf.put_i16(*i);
        }
        Value::I32(i) => {
            buf.put_i32(4);
            buf.put_i32(*i);
        }
        Value::I64(i) | Value::Time(i) | Value::Timestamp(i) => {
            buf.put_i32(8);
            buf.put_i64(*i);
        }
        Value::F32(f) => {
            buf.put_i32(4);
            buf.put_f32(*f);
        }
        Value::F64(f) => {
            buf.put_i32(8);
            buf.put_f64(*f);
        }
        Value::Date(d) => {
            buf.put_i32(4);
            buf.put_i32(*d);
        }
        Value::Numeric(s) => write_numeric(buf, s),
        Value::Text(s) => put_bytes(buf, s.as_bytes()),
        Value::Bytes(b) => put_bytes(buf, b),
        Value::Json(s) => {
            buf.put_i32(len_i32(s.len() + 1));
            buf.put_u8(1); // jsonb binary format version
            buf.put_slice(s.as_bytes());
        }
        Value::Uuid(u) => put_bytes(buf, u),
        Value::Interval(us) => {
            buf.put_i32(16);
            buf.put_i64(*us);
            buf.put_i32(0); // days
            buf.put_i32(0); // months
        }
        Value::CommaList(s) => write_text_array(buf, s, TEXT_OID),
        Value::TypedList { elem_oid, list } => write_text_array(buf, list, *elem_oid),
        Value::Bits { bits, data } => {
            buf.put_i32(len_i32(4 + data.len()));
            buf.put_i32(i32::try_from(*bits).expect("bit varying length fits i32"));
            buf.put_slice(data);
        }
    }
}

/// OID of `text`, the element type of `text[]` (a MySQL SET's default type).
const TEXT_OID: u32 = 25;

/// A one-dimensional `text[]` from a comma-separated list: dimensions, a no-NULLs flag, the
/// element type, then per dimension its length and lower bound (1), then the elements.
fn write_text_array(buf: &mut BytesMut, list: &str, elem_oid: u32) {
    if list.is_empty() {
        // The empty array has no dimensions.
        buf.put_i32(12);
        buf.put_i32(0);
        buf.put_i32(0);
        buf.put_u32(elem_oid);
        return;
    }
    let n = list.split(',').count();
    let len = 20 + 4 * n + list.len() + 1 - n;
    buf.put_i32(len_i32(len));
    buf.put_i32(1);
    buf.put_i32(0);
    buf.put_u32(elem_oid);
    buf.put_i32(len_i32(n));
    buf.put_i32(1);
    for item in list.split(',') {
        put_bytes(buf, item.as_bytes());
    }
}

fn len_i32(len: usize) -> i32 {
    // A PostgreSQL field is at most 1 GB; sources reject larger values before they get here.
    i32::try_from(len).expect("field larger than 2 GiB")
}

fn put_bytes(buf: &mut BytesMut, b: &[u8]) {
    buf.put_i32(len_i32(b.len()));
    buf.put_slice(b);
}

/// Encodes a plain decimal string (`-?digits(.digits)?`) as PostgreSQL's numeric: base-10000
/// digits with a weight (position of the first digit group relative to the decimal point), a
/// sign and the display scale (number of fraction digits written).
fn write_numeric(buf: &mut BytesMut, plain: &str) {
    let (negative, body) = match plain.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, plain),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int = int.trim_start_matches('0');
    let dscale = frac.len() as i16;
    // Pad the integer part on the left and the fraction on the right to whole groups of 4.
    let int_pad = (4 - int.len() % 4) % 4;
    let frac_pad = (4 - frac.len() % 4) % 4;
    let mut digits: Vec<i16> = Vec::with_capacity((int.len() + frac.len()) / 4 + 2);
    let mut acc = 0i16;
    let mut n = 0;
    let all = std::iter::repeat_n(b'0', int_pad)
        .chain(int.bytes())
        .chain(frac.bytes())
        .chain(std::iter::repeat_n(b'0', frac_pad));
    for d in all {
        acc = acc * 10 + i16::from(d - b'0');
        n += 1;
        if n == 4 {
            digits.push(acc);
            acc = 0;
            n = 0;
        }
    }
    let int_groups = (int.len() + int_pad) / 4;
    let mut weight = int_groups as i16 - 1;
    // Strip leading zero groups (adjusting weight) and trailing zero groups.
    let lead = digits.iter().take_while(|&&d| d == 0).count();
    digits.drain(..lead);
    weight -= lead as i16;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        weight = 0;
    }
    let sign: u16 = if negative && !digits.is_empty() {
        0x4000
    } else {
        0
    };
    buf.put_i32(len_i32(8 + 2 * digits.len()));
    buf.put_i16(digits.len() as i16);
    buf.put_i16(weight);
    buf.put_u16(sign);
    buf.put_i16(dscale);
    for d in digits {
        buf.put_i16(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn numeric(s: &str) -> Vec<i16> {
        let mut b = BytesMut::new();
        write_numeric(&mut b, s);
        b[4..]
            .chunks(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn numeric_layout_matches_postgres() {
        // ndigits, weight, sign, dscale, digits… (as numeric_send emits them)
        assert_eq!(numeric("0"), vec![0, 0, 0, 0]);
        assert_eq!(numeric("0.00"), vec![0, 0, 0, 2]);
        assert_eq!(numeric("1"), vec![1, 0, 0, 0, 1]);
        assert_eq!(numeric("12345.678"), vec![3, 1, 0, 3, 1, 2345, 6780]);
        assert_eq!(numeric("-0.0001"), vec![1, -1, 0x4000, 4, 1]);
        assert_eq!(numeric("10000"), vec![1, 1, 0, 0, 1]);
        assert_eq!(numeric("0.99"), vec![1, -1, 0, 2, 9900]);
    }

    #[test]
    fn row_layout() {
        let mut b = BytesMut::new();
        write_row(
            &mut b,
            &[Value::Null, Value::I32(7), Value::Text("hé".into())],
        );
        assert_eq!(
            &b[..],
            &[0, 3, 255, 255, 255, 255, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 3, b'h', 0xc3, 0xa9]
        );
    }

    proptest! {
        #[test]
        fn numeric_digits_reassemble(int in "[1-9][0-9]{0,30}|0", frac in "[0-9]{0,30}", neg in any::<bool>()) {
            let s = format!("{}{}{}", if neg { "-" } else { "" }, int, if frac.is_empty() { String::new() } else { format!(".{frac}") });
            let w = numeric(&s);
            let (ndigits, weight, dscale) = (w[0] as usize, w[1] as i32, w[3] as usize);
            prop_assert_eq!(dscale, frac.len());
            // Rebuild the decimal from base-10000 groups and compare digit strings.
            let mut value = String::new();
            for g in &w[4..4 + ndigits] {
                value.push_str(&format!("{g:04}"));
            }
            let int_groups = (weight + 1).max(0) as usize;
            let padded = if ndigits == 0 { String::new() } else if weight < 0 { format!("{}{}", "0000".repeat((-weight - 1) as usize), value) } else { value.clone() };
            let (ip, fp) = if weight < 0 { (String::new(), padded) } else {
                let mut v = padded; while v.len() < int_groups * 4 { v.push_str("0000"); }
                let (a, b) = v.split_at(int_groups * 4); (a.to_owned(), b.to_owned())
            };
            let ip = ip.trim_start_matches('0');
            let want_int = int.trim_start_matches('0');
            prop_assert_eq!(if ip.is_empty() { "0" } else { ip }, if want_int.is_empty() { "0" } else { want_int });
            let fp = fp.trim_end_matches('0');
            prop_assert_eq!(fp, frac.trim_end_matches('0'));
            let is_zero = int.trim_start_matches('0').is_empty() && frac.trim_end_matches('0').is_empty();
            prop_assert_eq!(w[2] == 0x4000, neg && !is_zero);
        }
    }
}
