//! Key ranges: how a table with a single integer key is cut into pieces that are read, copied
//! or compared one at a time.

/// A single-column integer key a table can be cut on, and the range its values spanned when
/// the schema was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitKey {
    /// Quoted for the source's SQL dialect.
    pub column: String,
    pub min: i64,
    pub max: i64,
}

/// A half-open key range `[from, to)`. The first range has no lower bound and the last none
/// above, so rows inserted outside the scanned min/max are still read (once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Splits `[min, max]` into at most `parts` contiguous ranges that cover it exactly.
pub fn split_range(min: i64, max: i64, parts: usize) -> Vec<KeyRange> {
    let parts = parts.max(1) as i128;
    let (lo, hi) = (i128::from(min), i128::from(max));
    let span = hi - lo + 1;
    let step = ((span + parts - 1) / parts).max(1);
    let mut out = Vec::new();
    let mut from = lo;
    while from <= hi {
        let to = from + step;
        out.push(KeyRange {
            from: (from > lo).then_some(from as i64),
            to: (to <= hi).then_some(to as i64),
        });
        from = to;
    }
    out
}

impl KeyRange {
    /// The whole key space.
    pub const ALL: KeyRange = KeyRange {
        from: None,
        to: None,
    };

    /// `>= from AND < to` over `column` (already quoted for the dialect), or `None` when the
    /// range has no bound.
    pub fn condition(&self, column: &str) -> Option<String> {
        let mut conds = Vec::new();
        if let Some(from) = self.from {
            conds.push(format!("{column} >= {from}"));
        }
        if let Some(to) = self.to {
            conds.push(format!("{column} < {to}"));
        }
        (!conds.is_empty()).then(|| conds.join(" AND "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ranges_cover_exactly(min in -1_000_000i64..1_000_000, len in 0i64..5_000_000, parts in 1usize..17) {
            let max = min + len;
            let r = split_range(min, max, parts);
            prop_assert!(r.len() <= parts);
            prop_assert_eq!(r[0].from, None);
            for w in r.windows(2) {
                prop_assert!(w[0].to.is_some());
                prop_assert_eq!(w[0].to, w[1].from);
            }
            prop_assert_eq!(r.last().unwrap().to, None);
            prop_assert!(r.last().unwrap().from.unwrap_or(min) <= max);
            // Each range is non-empty within [min, max] and starts after the one before ends:
            // increasing, so none overlaps another and every key in [min, max] is in one.
            for k in &r {
                let (from, to) = (k.from.unwrap_or(min), k.to.unwrap_or(max + 1));
                prop_assert!(min <= from && from < to && to <= max + 1, "{:?} in [{}, {}]", k, min, max);
            }
            for w in r.windows(2) {
                prop_assert!(w[0].from.unwrap_or(i64::MIN) < w[1].from.expect("bounded below"));
            }
            let in_ranges = |key: i64| {
                r.iter()
                    .filter(|k| k.from.is_none_or(|f| f <= key) && k.to.is_none_or(|t| key < t))
                    .count()
            };
            for k in &r {
                for key in [k.from.unwrap_or(min), k.to.unwrap_or(max + 1) - 1] {
                    prop_assert_eq!(in_ranges(key), 1, "key {} in {:?}", key, r);
                }
            }
            prop_assert_eq!(in_ranges(min), 1);
            prop_assert_eq!(in_ranges(max), 1);
        }
    }

    #[test]
    fn extreme_keys_do_not_overflow() {
        let r = split_range(i64::MIN, i64::MAX, 4);
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].from, None);
        assert_eq!(r[1].from, Some(i64::MIN / 2));
    }
}
