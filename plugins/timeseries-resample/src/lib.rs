//! Resampling of hydrological time series: values aggregated into bins of a fixed
//! number of days (mean, median, min, max or count), empty bins filled by linear
//! interpolation when the gap between known bins is at most a limit, and a second
//! series (another mission) merged after removing its median offset.

pub use hysope_swot::time::{format_time, parse_time};

/// How the values of a bin become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// Arithmetic mean.
    Mean,
    /// Median (mean of the two middle values for an even count).
    Median,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Number of values.
    Count,
}

impl Stat {
    /// Parses `mean`, `median`, `min`, `max`, `count`.
    pub fn parse(text: &str) -> Option<Stat> {
        Some(match text {
            "mean" => Stat::Mean,
            "median" => Stat::Median,
            "min" => Stat::Min,
            "max" => Stat::Max,
            "count" => Stat::Count,
            _ => return None,
        })
    }

    fn apply(self, values: &mut [f64]) -> f64 {
        match self {
            Stat::Mean => values.iter().sum::<f64>() / values.len() as f64,
            Stat::Median => median(values),
            Stat::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Stat::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Stat::Count => values.len() as f64,
        }
    }
}

/// Median of non-empty values (sorts them), numpy's rule.
pub fn median(values: &mut [f64]) -> f64 {
    hysope_swot::stats::median(values).expect("bins and offsets hold at least one value")
}

/// One bin of the output.
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    /// Index: floor(seconds since 1970 / bin width).
    pub index: i64,
    /// The value, None when empty and not filled.
    pub value: Option<f64>,
    /// Values aggregated into it.
    pub count: usize,
    /// `observed`, `filled`, `merged`, or `empty`.
    pub source: &'static str,
}

/// Aggregates (seconds, value) into bins of `width` seconds, from the first to the last
/// bin holding a value, empty bins included.
pub fn aggregate(points: &[(f64, f64)], width: f64, stat: Stat) -> Vec<Bin> {
    let mut by_bin: std::collections::BTreeMap<i64, Vec<f64>> = Default::default();
    for (t, v) in points {
        by_bin
            .entry((t / width).floor() as i64)
            .or_default()
            .push(*v);
    }
    let (Some(&first), Some(&last)) = (by_bin.keys().next(), by_bin.keys().next_back()) else {
        return Vec::new();
    };
    (first..=last)
        .map(|index| match by_bin.get_mut(&index) {
            Some(values) => Bin {
                index,
                value: Some(stat.apply(values)),
                count: values.len(),
                source: "observed",
            },
            None => Bin {
                index,
                value: None,
                count: 0,
                source: "empty",
            },
        })
        .collect()
}

/// Fills runs of empty bins by linear interpolation between their known neighbours
/// when the neighbours are at most `max_gap` bins apart.
pub fn fill_gaps(bins: &mut [Bin], max_gap: i64) {
    let known: Vec<usize> = (0..bins.len())
        .filter(|&i| bins[i].value.is_some())
        .collect();
    for pair in known.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let gap = bins[b].index - bins[a].index;
        if gap <= 1 || gap > max_gap {
            continue;
        }
        let (va, vb) = (
            bins[a].value.unwrap_or_default(),
            bins[b].value.unwrap_or_default(),
        );
        let ia = bins[a].index;
        for bin in bins.iter_mut().take(b).skip(a + 1) {
            let f = (bin.index - ia) as f64 / gap as f64;
            bin.value = Some(va + f * (vb - va));
            bin.source = "filled";
        }
    }
}

/// Merges `other` into `base` (same bins): the median of base - other over the bins
/// both observed is added to `other`, whose values then fill the bins `base` left
/// empty. Returns the offset, or None when the series share no bin.
pub fn merge(base: &mut Vec<Bin>, other: &[Bin]) -> Option<f64> {
    let mut diffs: Vec<f64> = base
        .iter()
        .filter(|b| b.source == "observed")
        .filter_map(|b| {
            let o = other
                .iter()
                .find(|o| o.index == b.index && o.source == "observed")?;
            Some(b.value? - o.value?)
        })
        .collect();
    if diffs.is_empty() {
        return None;
    }
    let offset = median(&mut diffs);
    for o in other.iter().filter(|o| o.source == "observed") {
        match base.iter_mut().find(|b| b.index == o.index) {
            Some(b) if b.source == "observed" => {}
            Some(b) => {
                b.value = o.value.map(|v| v + offset);
                b.count = o.count;
                b.source = "merged";
            }
            None => base.push(Bin {
                index: o.index,
                value: o.value.map(|v| v + offset),
                count: o.count,
                source: "merged",
            }),
        }
    }
    base.sort_by_key(|b| b.index);
    // Bins between the two ranges that neither series covers stay empty.
    let (Some(first), Some(last)) = (base.first().map(|b| b.index), base.last().map(|b| b.index))
    else {
        return Some(offset);
    };
    let mut full = Vec::with_capacity((last - first + 1) as usize);
    let mut it = std::mem::take(base).into_iter().peekable();
    for index in first..=last {
        match it.next_if(|b| b.index == index) {
            Some(b) => full.push(b),
            None => full.push(Bin {
                index,
                value: None,
                count: 0,
                source: "empty",
            }),
        }
    }
    *base = full;
    Some(offset)
}

/// (seconds, value) of a CSV with a `time` column and the value column; empty cells
/// (unknown values) are left out.
pub fn read_series(text: &str, name: &str, column: &str) -> Result<Vec<(f64, f64)>, String> {
    let table = hysope_swot::csv::parse(text, name)?;
    let (t, v) = (table.column("time", name)?, table.column(column, name)?);
    let mut out = Vec::new();
    for (i, row) in table.rows.iter().enumerate() {
        let time = &row[t];
        let seconds = parse_time(time).ok_or_else(|| {
            format!(
                "{name}: row {}: time {time:?} is not a date or RFC 3339 date-time",
                i + 1
            )
        })?;
        match row[v].as_str() {
            "" => {}
            text => {
                let value: f64 = text.parse().map_err(|_| {
                    format!("{name}: row {}: {column} {text:?} is not a number", i + 1)
                })?;
                if !value.is_finite() {
                    return Err(format!(
                        "{name}: row {}: {column} {text:?} is not finite",
                        i + 1
                    ));
                }
                out.push((seconds, value));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_gaps_and_merge() {
        let day = 86_400.0;
        // Values on days 0, 0, 1, 4: daily mean bins 0..=4, two empty bins and one more.
        let pts = [(0.0, 1.0), (0.5 * day, 3.0), (day, 4.0), (4.0 * day, 10.0)];
        let mut bins = aggregate(&pts, day, Stat::Mean);
        assert_eq!(bins.len(), 5);
        assert_eq!(bins[0].value, Some(2.0));
        assert_eq!(bins[2].source, "empty");
        fill_gaps(&mut bins, 2);
        assert_eq!(
            bins[2].value, None,
            "a gap of 3 bins is not filled with a limit of 2"
        );
        fill_gaps(&mut bins, 3);
        assert_eq!((bins[2].value, bins[3].value), (Some(6.0), Some(8.0)));
        let mut base = aggregate(&[(0.0, 5.0), (day, 6.0)], day, Stat::Mean);
        let other = aggregate(&[(0.0, 4.0), (day, 5.0), (3.0 * day, 7.0)], day, Stat::Mean);
        assert_eq!(merge(&mut base, &other), Some(1.0));
        assert_eq!(base.len(), 4);
        assert_eq!(
            (base[2].source, base[3].value, base[3].source),
            ("empty", Some(8.0), "merged")
        );
        assert_eq!(
            merge(
                &mut aggregate(&[(0.0, 1.0)], day, Stat::Mean),
                &aggregate(&[(9.0 * day, 1.0)], day, Stat::Mean)
            ),
            None
        );
    }
}
