//! Key-range checksums, split until the differing rows are found.
//!
//! Every row has a *position* in a key space: its key itself when the key is one integer
//! column (so ranges are real key ranges, which the readers can push down as `WHERE key >= a
//! AND key < b`), else a 64-bit hash of its key, else (a table without a key, compared as a
//! multiset) a hash of the whole row.
//!
//! A pass reads both sides once and, per range, sums the rows' 128-bit digests (a sum, not an
//! XOR, so duplicate rows do not cancel) and counts them; nothing is ordered, so the two
//! engines' collations never matter. Ranges whose sums or counts differ are split and hashed
//! again, until a range is small enough to hold its rows; a final pass keeps those rows (a
//! fingerprint per column, and the first bytes of each value) and names each missing, extra
//! and changed row. Memory is the ranges' sums plus a bounded number of held rows, whatever the
//! table's size. Identical tables take one pass per side.

use std::collections::HashMap;

use crate::Mismatch;

/// Rows a range may hold for its rows to be compared one by one.
pub const LEAF_ROWS: u64 = 1_000;
/// Rows held in memory per side in one row pass, at most.
pub const HELD_ROWS: u64 = 50_000;
/// Bytes held rows may take per side in one row pass (a held value costs its fingerprint, its
/// first [`PREVIEW_BYTES`] bytes and their bookkeeping: about 96 bytes).
pub const HELD_BYTES: u64 = 64 << 20;
/// Sub-ranges a differing range is split into.
pub const SPLIT: u32 = 64;
/// Ranges (cells) one digest pass sums, at most: 8 MB of sums per side.
pub const MAX_CELLS: u32 = 1 << 18;
/// Bytes of each value kept to show in a report.
pub const PREVIEW_BYTES: usize = 48;

/// How a row's position in the key space is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Positions {
    /// The key is one integer column; positions are `key - min`.
    Int { min: i64, max: i64 },
    /// A hash of the key's canonical bytes.
    KeyHash,
    /// No key: a hash of the whole row (the table is a multiset of rows).
    RowHash,
}

impl Positions {
    /// Positions run from 0 to this (exclusive).
    pub fn space(self) -> u128 {
        match self {
            Positions::Int { min, max } => (i128::from(max) - i128::from(min) + 1).max(1) as u128,
            Positions::KeyHash | Positions::RowHash => 1u128 << 64,
        }
    }

    /// The position of an integer key (clamped into the space: a key outside both sides'
    /// min/max can only come from a write during the verification).
    pub fn of_int(self, key: i64) -> u128 {
        match self {
            Positions::Int { min, max } => {
                (i128::from(key.clamp(min, max)) - i128::from(min)) as u128
            }
            _ => 0,
        }
    }

    /// The key range `[from, to)` of a position range, for pushing a range down to a server.
    pub fn key_bounds(self, r: &Range) -> Option<(i64, i64)> {
        match self {
            Positions::Int { min, .. } => {
                let lo = i128::from(min) + r.lo as i128;
                let hi = i128::from(min) + r.hi as i128;
                // `to` may be max + 1, which does not fit when max is i64::MAX.
                Some((lo as i64, hi.min(i128::from(i64::MAX)) as i64))
            }
            _ => None,
        }
    }
}

/// Positions `[lo, hi)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    pub lo: u128,
    pub hi: u128,
}

impl Range {
    fn width(&self) -> u128 {
        self.hi - self.lo
    }

    /// Into `parts` contiguous pieces (fewer when the range is narrower than that).
    fn parts(&self, parts: u32) -> u32 {
        (parts as u128).min(self.width()).max(1) as u32
    }

    fn part_of(&self, parts: u32, pos: u128) -> usize {
        (((pos - self.lo) * parts as u128) / self.width()) as usize
    }

    fn piece(&self, parts: u32, i: u32) -> Range {
        // Rounded up, so a piece holds exactly the positions `part_of` assigns to it.
        let at = |k: u32| self.lo + (self.width() * k as u128).div_ceil(parts as u128);
        Range {
            lo: at(i),
            hi: at(i + 1),
        }
    }
}

/// What one pass computes on each side.
#[derive(Debug, Clone)]
pub enum Pass {
    /// Per range, split into `parts` cells: a count and a digest sum per cell.
    Digest { ranges: Vec<Range>, parts: u32 },
    /// Keep the rows of these ranges.
    Rows { ranges: Vec<Range> },
}

impl Pass {
    /// The ranges this pass reads, sorted and disjoint.
    pub fn ranges(&self) -> &[Range] {
        match self {
            Pass::Digest { ranges, .. } | Pass::Rows { ranges } => ranges,
        }
    }

    /// Whether the pass covers the whole key space (no point filtering on a server).
    pub fn is_whole(&self, space: u128) -> bool {
        self.ranges().iter().map(|r| r.width()).sum::<u128>() == space
    }

    fn locate(&self, pos: u128) -> Option<usize> {
        let ranges = self.ranges();
        let i = ranges.partition_point(|r| r.hi <= pos);
        (i < ranges.len() && ranges[i].lo <= pos).then_some(i)
    }

    /// A fresh tally for one side of this pass.
    pub fn tally(&self) -> Tally {
        match self {
            Pass::Digest { ranges, parts } => {
                let cells: usize = ranges.iter().map(|r| r.parts(*parts) as usize).sum();
                let mut starts = Vec::with_capacity(ranges.len());
                let mut at = 0;
                for r in ranges {
                    starts.push(at);
                    at += r.parts(*parts) as usize;
                }
                Tally::Digest {
                    cells: vec![Cell::default(); cells],
                    starts,
                    rows: 0,
                }
            }
            Pass::Rows { .. } => Tally::Rows {
                rows: HashMap::new(),
                count: 0,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    pub count: u64,
    pub sum: u128,
}

/// A row as a row pass keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRow {
    pub digest: u128,
    /// Per column: a fingerprint of the canonical value, and its first bytes (None for NULL).
    pub fields: Vec<HeldField>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldField {
    pub hash: u64,
    pub preview: Option<Box<[u8]>>,
    pub cut: bool,
}

/// One side's result of a pass.
#[derive(Debug)]
pub enum Tally {
    Digest {
        cells: Vec<Cell>,
        /// Index of each range's first cell.
        starts: Vec<usize>,
        rows: u64,
    },
    Rows {
        /// By key (by digest for a multiset); a key can repeat on a side without a key constraint.
        rows: HashMap<Box<[u8]>, Vec<HeldRow>>,
        count: u64,
    },
}

/// A row, canonical, as it is offered to a tally.
pub struct RowView<'a> {
    pub pos: u128,
    /// The key's canonical bytes (the digest's bytes for a multiset).
    pub key: &'a [u8],
    pub digest: u128,
    /// The canonical row, and where each column's bytes are in it (None for NULL). Only a row
    /// pass looks at them, so a digest pass costs no per-row allocation.
    pub row: &'a [u8],
    pub spans: &'a [Option<std::ops::Range<usize>>],
}

impl Tally {
    /// Counts a row in (if the pass covers its position).
    pub fn add(&mut self, pass: &Pass, row: &RowView<'_>) {
        let Some(ri) = pass.locate(row.pos) else {
            return;
        };
        match (self, pass) {
            (
                Tally::Digest {
                    cells,
                    starts,
                    rows,
                },
                Pass::Digest { ranges, parts },
            ) => {
                let r = &ranges[ri];
                let cell = &mut cells[starts[ri] + r.part_of(r.parts(*parts), row.pos)];
                cell.count += 1;
                cell.sum = cell.sum.wrapping_add(row.digest);
                *rows += 1;
            }
            (Tally::Rows { rows, count }, Pass::Rows { .. }) => {
                let held = HeldRow {
                    digest: row.digest,
                    fields: row
                        .spans
                        .iter()
                        .map(|s| s.clone().map(|s| &row.row[s]))
                        .map(|f| HeldField {
                            hash: f.map_or(0, xxhash_rust::xxh3::xxh3_64),
                            preview: f.map(|b| b[..b.len().min(PREVIEW_BYTES)].into()),
                            cut: f.is_some_and(|b| b.len() > PREVIEW_BYTES),
                        })
                        .collect(),
                };
                rows.entry(row.key.into()).or_default().push(held);
                *count += 1;
            }
            _ => unreachable!("a tally is made by its pass"),
        }
    }

    /// Rows counted in.
    pub fn rows(&self) -> u64 {
        match self {
            Tally::Digest { rows, .. } => *rows,
            Tally::Rows { count, .. } => *count,
        }
    }
}

/// What differs about one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowDiff {
    /// In the source, not in the target.
    Missing { key: Box<[u8]>, row: HeldRow },
    /// In the target, not in the source.
    Extra { key: Box<[u8]>, row: HeldRow },
    /// The same key on both sides, different values in these columns.
    Changed {
        key: Box<[u8]>,
        source: HeldRow,
        target: HeldRow,
        columns: Vec<usize>,
    },
}

/// Drives the passes of one table's verification. Pure: the caller reads both sides for each
/// pass it is given and hands back the two tallies.
#[derive(Debug)]
pub struct Verifier {
    positions: Positions,
    first_parts: u32,
    /// Columns per row, which sizes how many rows a row pass may hold.
    columns: u64,
    max_diffs: usize,
    started: bool,
    to_digest: Vec<Range>,
    /// Differing ranges small enough to compare row by row, with their row counts.
    leaves: Vec<(Range, u64, u64)>,
    pub diffs: Vec<RowDiff>,
    /// Differing ranges left unexamined once `max_diffs` rows were found: a lower bound of the
    /// rows they hold that differ.
    pub unlisted_rows: u64,
    pub ranges_hashed: u64,
    pub passes: u32,
    /// Rows per side, from the first pass.
    pub rows: Option<(u64, u64)>,
}

impl Verifier {
    /// `rows_hint` (the source's row count, or an estimate) sizes the first pass's ranges so a
    /// differing one usually holds few enough rows to compare directly.
    pub fn new(positions: Positions, columns: u64, rows_hint: u64, max_diffs: usize) -> Verifier {
        let first_parts = (rows_hint / 64)
            .next_power_of_two()
            .clamp(16, u64::from(MAX_CELLS)) as u32;
        Verifier {
            positions,
            first_parts,
            columns,
            max_diffs,
            started: false,
            to_digest: Vec::new(),
            leaves: Vec::new(),
            diffs: Vec::new(),
            unlisted_rows: 0,
            ranges_hashed: 0,
            passes: 0,
            rows: None,
        }
    }

    pub fn positions(&self) -> Positions {
        self.positions
    }

    /// The next pass to run, or None when the verification is complete.
    pub fn next_pass(&mut self) -> Option<Pass> {
        if !self.started {
            self.started = true;
            return Some(Pass::Digest {
                ranges: vec![Range {
                    lo: 0,
                    hi: self.positions.space(),
                }],
                parts: self.first_parts,
            });
        }
        if self.diffs.len() >= self.max_diffs {
            self.give_up_listing();
            return None;
        }
        if !self.to_digest.is_empty() {
            // At most MAX_CELLS cells a pass, so a table where everything differs does not
            // hold a split of every range at once; the rest wait for the next pass.
            self.to_digest.sort();
            let take = self.to_digest.len().min((MAX_CELLS / SPLIT) as usize);
            let ranges: Vec<Range> = self.to_digest.drain(..take).collect();
            return Some(Pass::Digest {
                ranges,
                parts: SPLIT,
            });
        }
        if self.leaves.is_empty() {
            return None;
        }
        // As many leaves as fit in the held-rows budget (at least one).
        self.leaves.sort();
        let mut held = 0;
        let mut take = 0;
        for (_, s, t) in &self.leaves {
            if take > 0 && held + s.max(t) > self.held_rows() {
                break;
            }
            held += s.max(t);
            take += 1;
        }
        let ranges = self.leaves.drain(..take).map(|(r, _, _)| r).collect();
        Some(Pass::Rows { ranges })
    }

    /// Rows one row pass may hold for a table of `columns` columns, within [`HELD_BYTES`].
    fn held_rows(&self) -> u64 {
        (HELD_BYTES / (96 * self.columns.max(1) + 64)).clamp(LEAF_ROWS, HELD_ROWS)
    }

    fn give_up_listing(&mut self) {
        for (_, s, t) in self.leaves.drain(..) {
            self.unlisted_rows += s.abs_diff(t).max(1);
        }
        // A range still to be split differs in at least one row.
        self.unlisted_rows += self.to_digest.drain(..).count() as u64;
    }

    /// Takes both sides' tallies of the pass [`Verifier::next_pass`] gave.
    pub fn absorb(&mut self, pass: &Pass, source: Tally, target: Tally) -> Result<(), Mismatch> {
        self.passes += 1;
        match (pass, source, target) {
            (
                Pass::Digest { ranges, parts },
                Tally::Digest {
                    cells: s, rows: sr, ..
                },
                Tally::Digest {
                    cells: t, rows: tr, ..
                },
            ) => {
                if self.rows.is_none() {
                    self.rows = Some((sr, tr));
                }
                let mut at = 0;
                for r in ranges {
                    let n = r.parts(*parts);
                    for i in 0..n {
                        let (a, b) = (s[at], t[at]);
                        at += 1;
                        self.ranges_hashed += 1;
                        if a == b {
                            continue;
                        }
                        let piece = r.piece(n, i);
                        if a.count.max(b.count) <= LEAF_ROWS || piece.width() == 1 {
                            self.leaves.push((piece, a.count, b.count));
                        } else {
                            self.to_digest.push(piece);
                        }
                    }
                }
                Ok(())
            }
            (Pass::Rows { .. }, Tally::Rows { rows: s, .. }, Tally::Rows { rows: mut t, .. }) => {
                let multiset = self.positions == Positions::RowHash;
                for (key, mut srows) in s {
                    let mut trows = t.remove(&key).unwrap_or_default();
                    // Pair up identical rows first.
                    srows.retain(|r| match trows.iter().position(|x| x.digest == r.digest) {
                        Some(i) => {
                            trows.swap_remove(i);
                            false
                        }
                        None => true,
                    });
                    let mut trows = trows.into_iter();
                    for srow in srows {
                        match (multiset, trows.next()) {
                            (false, Some(trow)) => {
                                let columns = srow
                                    .fields
                                    .iter()
                                    .zip(&trow.fields)
                                    .enumerate()
                                    .filter(|(_, (a, b))| {
                                        a.hash != b.hash
                                            || a.preview.is_some() != b.preview.is_some()
                                    })
                                    .map(|(i, _)| i)
                                    .collect();
                                self.diffs.push(RowDiff::Changed {
                                    key: key.clone(),
                                    source: srow,
                                    target: trow,
                                    columns,
                                });
                            }
                            (_, other) => {
                                if let Some(trow) = other {
                                    self.diffs.push(RowDiff::Extra {
                                        key: key.clone(),
                                        row: trow,
                                    });
                                }
                                self.diffs.push(RowDiff::Missing {
                                    key: key.clone(),
                                    row: srow,
                                });
                            }
                        }
                    }
                    for trow in trows {
                        self.diffs.push(RowDiff::Extra {
                            key: key.clone(),
                            row: trow,
                        });
                    }
                }
                for (key, trows) in t {
                    for trow in trows {
                        self.diffs.push(RowDiff::Extra {
                            key: key.clone(),
                            row: trow,
                        });
                    }
                }
                Ok(())
            }
            _ => Err(Mismatch("a tally does not belong to its pass")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A toy row: key and one value; runs the verifier over two in-memory sides.
    fn run(
        positions: Positions,
        source: &[(i64, u32)],
        target: &[(i64, u32)],
        max_diffs: usize,
    ) -> Verifier {
        let mut v = Verifier::new(positions, 2, source.len() as u64, max_diffs);
        while let Some(pass) = v.next_pass() {
            let tally = |rows: &[(i64, u32)]| {
                let mut t = pass.tally();
                for (k, val) in rows {
                    let key = k.to_be_bytes();
                    let value = val.to_be_bytes();
                    let mut whole = key.to_vec();
                    whole.extend_from_slice(&value);
                    let digest = xxhash_rust::xxh3::xxh3_128(&whole);
                    let digest_bytes = digest.to_be_bytes();
                    let (pos, keyb): (u128, &[u8]) = match positions {
                        Positions::Int { .. } => (positions.of_int(*k), &key),
                        Positions::KeyHash => (u128::from(xxhash_rust::xxh3::xxh3_64(&key)), &key),
                        Positions::RowHash => (u128::from(digest as u64), &digest_bytes),
                    };
                    let spans = [Some(0..8), Some(8..12)];
                    t.add(
                        &pass,
                        &RowView {
                            pos,
                            key: keyb,
                            digest,
                            row: &whole,
                            spans: &spans,
                        },
                    );
                }
                t
            };
            let (s, t) = (tally(source), tally(target));
            v.absorb(&pass, s, t).unwrap();
        }
        v
    }

    /// The oracle: by key, what is missing, extra and changed.
    fn oracle(source: &[(i64, u32)], target: &[(i64, u32)]) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
        let s: BTreeMap<i64, u32> = source.iter().copied().collect();
        let t: BTreeMap<i64, u32> = target.iter().copied().collect();
        let missing = s.keys().filter(|k| !t.contains_key(k)).copied().collect();
        let extra = t.keys().filter(|k| !s.contains_key(k)).copied().collect();
        let changed = s
            .iter()
            .filter(|(k, v)| t.get(k).is_some_and(|x| x != *v))
            .map(|(k, _)| *k)
            .collect();
        (missing, extra, changed)
    }

    fn found(v: &Verifier) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
        let key = |k: &[u8]| i64::from_be_bytes(k.try_into().unwrap());
        let (mut m, mut e, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for d in &v.diffs {
            match d {
                RowDiff::Missing { key: k, .. } => m.push(key(k)),
                RowDiff::Extra { key: k, .. } => e.push(key(k)),
                RowDiff::Changed {
                    key: k, columns, ..
                } => {
                    assert_eq!(columns, &[1], "only the value column differs");
                    c.push(key(k))
                }
            }
        }
        m.sort();
        e.sort();
        c.sort();
        (m, e, c)
    }

    fn tamper(rows: &[(i64, u32)], edits: &[(u8, usize, u32)]) -> Vec<(i64, u32)> {
        let mut t: BTreeMap<i64, u32> = rows.iter().copied().collect();
        for &(what, at, val) in edits {
            let keys: Vec<i64> = t.keys().copied().collect();
            if keys.is_empty() {
                break;
            }
            let k = keys[at % keys.len()];
            match what % 3 {
                0 => {
                    t.insert(k, val ^ 0x5555_5555 | 1);
                }
                1 => {
                    t.remove(&k);
                }
                _ => {
                    t.insert(k + 1_000_000 + i64::from(val), val);
                }
            }
        }
        t.into_iter().collect()
    }

    proptest! {
        /// Whatever the edits, the verifier names exactly the keys an oracle names.
        #[test]
        fn finds_exactly_the_differing_keys(
            n in 0usize..5000,
            edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u32>()), 0..12),
            int in any::<bool>(),
        ) {
            let source: Vec<(i64, u32)> = (0..n as i64).map(|k| (k * 3 - 700, (k as u32).wrapping_mul(2654435761))).collect();
            let target = tamper(&source, &edits);
            let all = source.iter().chain(&target).map(|r| r.0);
            let positions = if int {
                Positions::Int { min: all.clone().min().unwrap_or(0), max: all.max().unwrap_or(0) }
            } else {
                Positions::KeyHash
            };
            let v = run(positions, &source, &target, usize::MAX);
            prop_assert_eq!(found(&v), oracle(&source, &target));
            prop_assert_eq!(v.rows, Some((source.len() as u64, target.len() as u64)));
            if source == target {
                prop_assert_eq!(v.passes, 1);
            }
        }
    }

    #[test]
    fn a_skewed_key_space_is_split_until_rows_fit() {
        // 20,000 keys packed at one end of a huge range: the first pass puts them all in one
        // range, which must be split (more than once) rather than held whole.
        let source: Vec<(i64, u32)> = (0..20_000)
            .map(|k| (k, 7))
            .chain([(i64::MAX - 1, 1)])
            .collect();
        let mut target = source.clone();
        target[12_345].1 = 8;
        let v = run(
            Positions::Int {
                min: 0,
                max: i64::MAX - 1,
            },
            &source,
            &target,
            usize::MAX,
        );
        assert_eq!(found(&v), (vec![], vec![], vec![12_345]));
        assert!(v.passes >= 3, "split at least twice: {} passes", v.passes);
    }

    #[test]
    fn multisets_count_duplicates() {
        // Keyless: the same row twice in the source, three times in the target.
        let source = [(1, 1), (1, 1), (2, 2)];
        let target = [(1, 1), (1, 1), (1, 1), (2, 2)];
        let v = run(Positions::RowHash, &source, &target, usize::MAX);
        assert_eq!(v.diffs.len(), 1);
        assert!(matches!(v.diffs[0], RowDiff::Extra { .. }));
    }

    #[test]
    fn listing_stops_at_the_limit_but_counts_the_rest() {
        // Every row differs, more than one row pass can hold: the first pass's rows are all
        // compared, the rest are counted (at least one per range) but not listed.
        let n = 2 * HELD_ROWS as i64;
        let source: Vec<(i64, u32)> = (0..n).map(|k| (k, 1)).collect();
        let target: Vec<(i64, u32)> = (0..n).map(|k| (k, 2)).collect();
        let v = run(Positions::Int { min: 0, max: n - 1 }, &source, &target, 100);
        assert!(v.diffs.len() >= 100 && v.diffs.len() as u64 <= HELD_ROWS);
        assert!(v.unlisted_rows > 0);
        assert!(v.diffs.len() as u64 + v.unlisted_rows <= n as u64);
        assert_eq!(v.passes, 2, "one digest pass, one row pass, then it stops");
    }

    #[test]
    fn wide_tables_hold_fewer_rows() {
        let held = |columns| Verifier::new(Positions::KeyHash, columns, 0, 100).held_rows();
        assert_eq!(held(2), HELD_ROWS);
        assert!(held(200) * (96 * 200 + 64) <= HELD_BYTES && held(200) > LEAF_ROWS);
        // Never fewer than one leaf range's rows, or no pass could hold a leaf.
        assert_eq!(held(1600), LEAF_ROWS);
    }

    #[test]
    fn pieces_hold_what_part_of_assigns() {
        for (lo, hi, parts) in [
            (0u128, 10u128, 3u32),
            (5, 1000, 64),
            (0, 1 << 64, 64),
            (7, 9, 64),
        ] {
            let r = Range { lo, hi };
            let n = r.parts(parts);
            for pos in (lo..hi).step_by(((hi - lo) / 500).max(1) as usize) {
                let i = r.part_of(n, pos);
                let p = r.piece(n, i as u32);
                assert!(
                    p.lo <= pos && pos < p.hi,
                    "{pos} in piece {i} {p:?} of {r:?}/{n}"
                );
            }
        }
    }
}
