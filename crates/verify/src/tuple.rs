//! Reading PostgreSQL's binary COPY format: the header, then one tuple at a time.
//!
//! The target side of a verification reads `COPY (SELECT …) TO STDOUT (FORMAT binary)`; the
//! source side encodes its converted rows with the copy's own encoder and reads them back here,
//! so both sides reach the canonical form through the same bytes. This module only splits bytes
//! into fields; what a field means is [`crate::canonical`]'s business.

use std::ops::Range;

use bytes::{Buf, BytesMut};

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TupleError {
    #[error("not a binary COPY stream (bad signature)")]
    Signature,
    #[error("binary COPY stream: {0}")]
    Malformed(&'static str),
    #[error("binary COPY stream ended in the middle of a row")]
    Truncated,
}

/// What [`parse_tuple`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole tuple of this many bytes; its fields are in the caller's vector.
    Row(usize),
    /// The end-of-data marker (2 bytes).
    End,
    /// The buffer holds only part of the next tuple.
    Incomplete,
}

/// Parses one tuple at the start of `buf`. Each field becomes the byte range of its value
/// within `buf`, or `None` for NULL.
pub fn parse_tuple(
    buf: &[u8],
    fields: &mut Vec<Option<Range<usize>>>,
) -> Result<Parsed, TupleError> {
    fields.clear();
    let Some(count) = buf.get(..2) else {
        return Ok(Parsed::Incomplete);
    };
    let count = i16::from_be_bytes([count[0], count[1]]);
    if count == -1 {
        return Ok(Parsed::End);
    }
    if count < 0 {
        return Err(TupleError::Malformed("negative field count"));
    }
    let mut at = 2;
    for _ in 0..count {
        let Some(len) = buf.get(at..at + 4) else {
            return Ok(Parsed::Incomplete);
        };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        at += 4;
        if len == -1 {
            fields.push(None);
            continue;
        }
        let len = usize::try_from(len).map_err(|_| TupleError::Malformed("negative length"))?;
        if buf.len() < at + len {
            return Ok(Parsed::Incomplete);
        }
        fields.push(Some(at..at + len));
        at += len;
    }
    Ok(Parsed::Row(at))
}

/// Splits a stream of COPY OUT chunks into tuples, holding at most one incomplete tuple.
#[derive(Debug, Default)]
pub struct TupleReader {
    buf: BytesMut,
    header_done: bool,
    /// Bytes of the tuple handed out last, dropped at the next call.
    consumed: usize,
    ended: bool,
}

impl TupleReader {
    pub fn new() -> TupleReader {
        TupleReader::default()
    }

    /// Adds the next chunk of the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.advance(std::mem::take(&mut self.consumed));
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole tuple and its fields (ranges within the returned slice), or `None` when
    /// more input is needed or the stream has ended.
    pub fn next_tuple(
        &mut self,
        fields: &mut Vec<Option<Range<usize>>>,
    ) -> Result<Option<&[u8]>, TupleError> {
        self.buf.advance(std::mem::take(&mut self.consumed));
        if !self.header_done {
            if self.buf.len() < SIGNATURE.len() + 8 {
                return Ok(None);
            }
            if &self.buf[..SIGNATURE.len()] != SIGNATURE {
                return Err(TupleError::Signature);
            }
            let ext = &self.buf[SIGNATURE.len() + 4..SIGNATURE.len() + 8];
            let ext = u32::from_be_bytes([ext[0], ext[1], ext[2], ext[3]]) as usize;
            if self.buf.len() < SIGNATURE.len() + 8 + ext {
                return Ok(None);
            }
            self.buf.advance(SIGNATURE.len() + 8 + ext);
            self.header_done = true;
        }
        if self.ended {
            return Ok(None);
        }
        match parse_tuple(&self.buf, fields)? {
            Parsed::Row(n) => {
                self.consumed = n;
                Ok(Some(&self.buf[..n]))
            }
            Parsed::End => {
                self.ended = true;
                self.buf.advance(2);
                Ok(None)
            }
            Parsed::Incomplete => Ok(None),
        }
    }

    /// Call when the stream is over: an unfinished tuple is an error.
    pub fn finish(&mut self) -> Result<(), TupleError> {
        self.buf.advance(std::mem::take(&mut self.consumed));
        if self.ended || (self.header_done && self.buf.is_empty()) {
            Ok(())
        } else {
            Err(TupleError::Truncated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgcutover_core::Value;
    use pgcutover_postgres::copy_encoder;
    use proptest::prelude::*;

    fn stream(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut b = BytesMut::new();
        copy_encoder::write_header(&mut b);
        for r in rows {
            let values: Vec<Value<'_>> = r
                .iter()
                .map(|f| match f {
                    None => Value::Null,
                    Some(v) => Value::Bytes(v.as_slice().into()),
                })
                .collect();
            copy_encoder::write_row(&mut b, &values);
        }
        copy_encoder::write_trailer(&mut b);
        b.to_vec()
    }

    proptest! {
        /// Whatever the chunking, the reader hands back exactly the rows the encoder wrote.
        #[test]
        fn rows_survive_any_chunking(
            rows in proptest::collection::vec(
                proptest::collection::vec(proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)), 0..5),
                0..20),
            chunk in 1usize..40,
        ) {
            let bytes = stream(&rows);
            let mut reader = TupleReader::new();
            let mut fields = Vec::new();
            let mut got: Vec<Vec<Option<Vec<u8>>>> = Vec::new();
            for c in bytes.chunks(chunk) {
                reader.push(c);
                while let Some(t) = reader.next_tuple(&mut fields).unwrap() {
                    got.push(fields.iter().map(|f| f.clone().map(|r| t[r].to_vec())).collect());
                }
            }
            reader.finish().unwrap();
            prop_assert_eq!(got, rows);
        }
    }

    #[test]
    fn a_cut_stream_is_an_error() {
        let bytes = stream(&[vec![Some(b"abc".to_vec())]]);
        let mut reader = TupleReader::new();
        reader.push(&bytes[..bytes.len() - 4]);
        let mut fields = Vec::new();
        assert_eq!(reader.next_tuple(&mut fields), Ok(None));
        assert_eq!(reader.finish(), Err(TupleError::Truncated));
        let mut bad = TupleReader::new();
        bad.push(b"PGCOPY\n\xff\r\n\x01........");
        assert_eq!(bad.next_tuple(&mut fields), Err(TupleError::Signature));
    }
}
