//! A log-bucketed latency histogram in the manner of HdrHistogram: fixed memory, O(1) record,
//! mergeable across threads, a relative error bounded by the sub-bucket count.
//!
//! Values are nanoseconds. Below 2^SUB_BITS every value has its own bucket (exact); above, each
//! power of two is split into 2^(SUB_BITS-1) equal buckets, so a bucket is at most 1/128 of its
//! value wide (0.8 %). Count, sum, min and max are kept exactly beside the buckets.

/// Bits of precision: 8 gives 0.4–0.8 % relative error for 7,424 buckets (58 KiB).
const SUB_BITS: u32 = 8;
const SUB_COUNT: u64 = 1 << SUB_BITS;
const HALF: u64 = SUB_COUNT / 2;
/// Index of the largest u64 plus one: (64 - SUB_BITS) half-ranges above the exact range.
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 2) * HALF as usize;

/// Recorded latencies; see the module doc for the bucketing.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Bucket index of a value.
fn index_of(v: u64) -> usize {
    if v < SUB_COUNT {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros(); // >= SUB_BITS here
    let shift = msb - SUB_BITS + 1;
    // v >> shift lies in [HALF, SUB_COUNT): the top SUB_BITS bits of v.
    (shift as u64 * HALF + (v >> shift)) as usize
}

/// Lowest value of a bucket and its width.
fn bucket_range(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB_COUNT {
        return (i, 1);
    }
    let shift = i / HALF - 1;
    let top = i - shift * HALF; // in [HALF, SUB_COUNT)
    (top << shift, 1u64 << shift)
}

impl Histogram {
    pub fn new() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    pub fn record(&mut self, v: u64) {
        self.counts[index_of(v)] += 1;
        self.count += 1;
        self.sum += v as u128;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn min(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min
        }
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The value at quantile `q` (0..=1): the highest value equivalent to the bucket holding the
    /// ceil(q·count)-th smallest sample, clamped to [min, max] so exact extremes stay exact.
    /// 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, width) = bucket_range(i);
                return (lo + width - 1).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_u64() {
        let mut expected_lo = 0u64;
        for i in 0..BUCKETS {
            let (lo, width) = bucket_range(i);
            assert_eq!(lo, expected_lo, "bucket {i}");
            assert_eq!(index_of(lo), i);
            assert_eq!(index_of(lo + (width - 1)), i);
            expected_lo = lo.wrapping_add(width);
        }
        assert_eq!(expected_lo, 0, "the last bucket ends at u64::MAX");
        assert_eq!(index_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn relative_error_is_bounded() {
        for &v in &[
            0u64,
            1,
            255,
            256,
            257,
            1_000,
            12_345,
            999_999,
            1 << 40,
            u64::MAX / 3,
        ] {
            let (lo, width) = bucket_range(index_of(v));
            assert!(lo <= v && v - lo < width);
            assert!(
                width == 1 || (width as f64) / (lo as f64) <= 1.0 / 127.0,
                "{v}"
            );
        }
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), 50);
        assert_eq!(h.quantile(0.99), 99);
        assert_eq!(h.quantile(1.0), 100);
        assert_eq!(h.quantile(0.0), 1);
        assert_eq!(h.min(), 1);
        assert!((h.mean() - 50.5).abs() < 1e-9);
    }

    #[test]
    fn quantiles_of_a_uniform_range_are_within_one_percent() {
        let mut h = Histogram::new();
        // 1 µs .. 10 ms in 1 µs steps
        for us in 1..=10_000u64 {
            h.record(us * 1_000);
        }
        for (q, want) in [(0.5, 5_000_000f64), (0.9, 9_000_000.0), (0.99, 9_900_000.0)] {
            let got = h.quantile(q) as f64;
            assert!((got - want).abs() / want < 0.01, "q{q}: {got} vs {want}");
        }
        assert_eq!(h.quantile(1.0), 10_000_000);
        assert_eq!(h.max(), 10_000_000);
    }

    #[test]
    fn a_single_outlier_is_the_max_and_the_top_quantile() {
        let mut h = Histogram::new();
        for _ in 0..999 {
            h.record(100_000);
        }
        h.record(2_000_000_000);
        assert!(h.quantile(0.99) <= 100_500);
        assert_eq!(h.quantile(0.9999), 2_000_000_000);
    }

    #[test]
    fn merge_adds_counts_and_extremes() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        a.record(10);
        b.record(1_000_000);
        b.record(20);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.min(), 10);
        assert_eq!(a.max(), 1_000_000);
        assert_eq!(a.quantile(0.5), 20);
    }

    #[test]
    fn empty_is_zero() {
        let h = Histogram::new();
        assert_eq!(h.quantile(0.5), 0);
        assert_eq!(h.min(), 0);
        assert_eq!(h.mean(), 0.0);
    }
}
