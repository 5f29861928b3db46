//! pgcutover's verification: does the target hold exactly what the source holds?
//!
//! - [`mod@tuple`] splits PostgreSQL's binary COPY stream into fields;
//! - [`canonical`] brings each field to the form both sides hash (and renders it for reports);
//! - [`digest`] drives key-range checksums: one pass per side when the tables are identical,
//!   ranges split again where they differ, until the differing rows are named;
//! - [`RowHasher`] turns one tuple into what a pass needs: position, key, digest, fields.
//!
//! No I/O: the binary reads the source (through the copy's own readers and type mapping) and the
//! target (COPY OUT), and feeds both here.

pub mod canonical;
pub mod digest;
pub mod tuple;

use std::ops::Range as Span;

use pgcutover_core::PgType;
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

pub use canonical::Canon;
pub use digest::{Pass, Positions, RowDiff, Tally, Verifier};

/// A tally handed back for a pass it does not belong to: a bug in the caller.
#[derive(Debug, thiserror::Error)]
#[error("verification out of step: {0}")]
pub struct Mismatch(pub &'static str);

/// Turns a table's tuples into canonical rows and counts them into a pass's tally. One per
/// side per pass; its buffers are reused for every row.
#[derive(Debug, Clone)]
pub struct RowHasher {
    canons: Vec<Canon>,
    /// Columns (indexes) of the key; empty for a multiset.
    key: Vec<usize>,
    positions: Positions,
    row: Vec<u8>,
    key_buf: Vec<u8>,
    spans: Vec<Option<Span<usize>>>,
}

impl RowHasher {
    pub fn new(types: &[PgType], key: Vec<usize>, positions: Positions) -> RowHasher {
        RowHasher {
            canons: types.iter().map(Canon::for_type).collect(),
            key,
            positions,
            row: Vec::new(),
            key_buf: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// Counts one tuple (`fields` as [`tuple::parse_tuple`] found them in `tuple`) into `tally`.
    pub fn add(
        &mut self,
        tuple: &[u8],
        fields: &[Option<Span<usize>>],
        pass: &Pass,
        tally: &mut Tally,
    ) -> Result<(), Mismatch> {
        if fields.len() != self.canons.len() {
            return Err(Mismatch(
                "a row has a different number of columns than the table",
            ));
        }
        self.row.clear();
        self.spans.clear();
        for (canon, f) in self.canons.iter().zip(fields) {
            let start = self.row.len();
            canon.append(f.clone().map(|r| &tuple[r]), &mut self.row);
            // The value's bytes, after the 4-byte length.
            self.spans
                .push(f.is_some().then(|| start + 4..self.row.len()));
        }
        let digest = xxh3_128(&self.row);
        let digest_bytes = digest.to_be_bytes();
        self.key_buf.clear();
        for &k in &self.key {
            let span = &self.spans[k];
            match span {
                Some(s) => {
                    self.key_buf
                        .extend_from_slice(&((s.end - s.start) as i32).to_be_bytes());
                    self.key_buf.extend_from_slice(&self.row[s.clone()]);
                }
                None => self.key_buf.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        let (pos, key): (u128, &[u8]) = match self.positions {
            Positions::Int { .. } => {
                let k = self.key.first().and_then(|&k| self.spans[k].clone());
                let v = k.and_then(|s| int_of(&self.row[s]));
                (v.map_or(0, |v| self.positions.of_int(v)), &self.key_buf)
            }
            Positions::KeyHash => (u128::from(xxh3_64(&self.key_buf)), &self.key_buf),
            Positions::RowHash => (u128::from(digest as u64), &digest_bytes),
        };
        tally.add(
            pass,
            &digest::RowView {
                pos,
                key,
                digest,
                row: &self.row,
                spans: &self.spans,
            },
        );
        Ok(())
    }
}

/// A big-endian integer field of 2, 4 or 8 bytes.
pub fn int_of(b: &[u8]) -> Option<i64> {
    Some(match b.len() {
        2 => i64::from(i16::from_be_bytes(b.try_into().ok()?)),
        4 => i64::from(i32::from_be_bytes(b.try_into().ok()?)),
        8 => i64::from_be_bytes(b.try_into().ok()?),
        _ => return None,
    })
}
