//! Resampling of hydrological time series: values aggregated into bins of a fixed
//! number of days (mean, median, min, max or count), empty bins filled by linear
//! interpolation when the gap between known bins is at most a limit, and a second
//! series (another mission) merged after removing its median offset.

/// Seconds since 1970-01-01T00:00:00Z of an RFC 3339 date-time or a YYYY-MM-DD date
/// (UTC; an offset other than Z is applied).
pub fn parse_time(text: &str) -> Option<f64> {
    let t = text.trim();
    let y: i64 = t.get(0..4)?.parse().ok()?;
    if t.as_bytes().get(4) != Some(&b'-') || t.as_bytes().get(7) != Some(&b'-') {
        return None;
    }
    let m: u32 = t.get(5..7)?.parse().ok()?;
    let d: u32 = t.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let mut seconds = days_from_civil(y, m, d) as f64 * 86_400.0;
    if t.len() > 10 {
        let rest = &t[10..];
        if !rest.starts_with(['T', ' ']) {
            return None;
        }
        let hh: f64 = rest.get(1..3)?.parse().ok()?;
        let mm: f64 = rest.get(4..6)?.parse().ok()?;
        let tail = rest.get(6..).unwrap_or("");
        let (ss, zone) = if let Some(s) = tail.strip_prefix(':') {
            let end = s
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(s.len());
            (s[..end].parse::<f64>().ok()?, &s[end..])
        } else {
            (0.0, tail)
        };
        let offset = match zone {
            "" | "Z" | "z" => 0.0,
            z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) => {
                let sign = if z.starts_with('-') { -1.0 } else { 1.0 };
                let oh: f64 = z.get(1..3)?.parse().ok()?;
                let om: f64 = z.get(4..6)?.parse().ok()?;
                sign * (oh * 3600.0 + om * 60.0)
            }
            _ => return None,
        };
        if hh > 23.0 || mm > 59.0 || ss >= 61.0 {
            return None;
        }
        seconds += hh * 3600.0 + mm * 60.0 + ss - offset;
    }
    Some(seconds)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][m as usize - 1]
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// RFC 3339 text of seconds since 1970 (whole seconds).
pub fn format_time(seconds: f64) -> String {
    let s = seconds.floor() as i64;
    let (y, m, d) = civil_from_days(s.div_euclid(86_400));
    let r = s.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        r / 3600,
        r % 3600 / 60,
        r % 60
    )
}

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

/// Median of non-empty values (sorts them).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
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
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| format!("{name}: empty file"))?
        .split(',')
        .map(str::trim)
        .collect();
    let t = header
        .iter()
        .position(|c| *c == "time")
        .ok_or_else(|| format!("{name}: no time column"))?;
    let v = header
        .iter()
        .position(|c| *c == column)
        .ok_or_else(|| format!("{name}: no {column} column"))?;
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let time = cells.get(t).copied().unwrap_or("");
        let seconds = parse_time(time).ok_or_else(|| {
            format!(
                "{name}: row {}: time {time:?} is not a date or RFC 3339 date-time",
                i + 1
            )
        })?;
        match cells.get(v).copied().unwrap_or("") {
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
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(
            parse_time("2024-02-29T12:00:00Z"),
            Some(days_from_civil(2024, 2, 29) as f64 * 86_400.0 + 43_200.0)
        );
        assert_eq!(
            parse_time("2024-02-29T14:00:00+02:00"),
            parse_time("2024-02-29T12:00:00Z")
        );
        assert_eq!(parse_time("2023-02-29"), None);
        assert_eq!(
            format_time(86_400.0 * 11_017.0 + 3_661.0),
            "2000-03-01T01:01:01Z"
        );
    }

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
