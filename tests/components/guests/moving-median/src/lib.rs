//! Moving median over a window, the kernel of many hydrological filters (spike
//! removal on water-level series). The same code runs natively and in the sandbox.

/// A deterministic series of `n` doubles (a noisy seasonal signal).
pub fn series(n: usize) -> Vec<f64> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            10.0 + 2.0 * (i as f64 * 2.0 * std::f64::consts::PI / 365.0).sin() + noise
        })
        .collect()
}

/// Moving median with an odd window; the ends use the truncated window.
/// A sorted window is kept and updated by binary search: O(n w) moves, O(n log w) compares.
pub fn moving_median(values: &[f64], window: usize) -> Vec<f64> {
    let half = window / 2;
    let mut out = Vec::with_capacity(values.len());
    let mut sorted: Vec<f64> = Vec::with_capacity(window + 1);
    let (mut lo, mut hi) = (0usize, 0usize);
    for i in 0..values.len() {
        let want_lo = i.saturating_sub(half);
        let want_hi = (i + half + 1).min(values.len());
        while hi < want_hi {
            let v = values[hi];
            let at = sorted.partition_point(|x| *x < v);
            sorted.insert(at, v);
            hi += 1;
        }
        while lo < want_lo {
            let v = values[lo];
            let at = sorted.partition_point(|x| *x < v);
            sorted.remove(at);
            lo += 1;
        }
        let n = sorted.len();
        out.push(if n % 2 == 1 {
            sorted[n / 2]
        } else {
            0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
        });
    }
    out
}

/// A checksum of a result, to compare runs.
pub fn checksum(values: &[f64]) -> f64 {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| v * ((i % 7) as f64 + 1.0))
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_small_windows() {
        let m = super::moving_median(&[5.0, 1.0, 4.0, 2.0, 3.0], 3);
        assert_eq!(m, vec![3.0, 4.0, 2.0, 3.0, 2.5]);
    }
}
