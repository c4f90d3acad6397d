//! Anomalies and flood thresholds of a hydrological time series (water level or
//! discharge): day-of-year z-scores, percentile thresholds, and Gumbel return levels
//! fitted to the annual maxima by the method of moments and by L-moments.
//!
//! Annual maxima are taken per hydrological year, which starts in a chosen month
//! (October by default: the USGS water year, October to September, named by the
//! calendar year it ends in); a year starting in January is the calendar year. A
//! USGS peaks file already holds one peak per water year: its rows are the annual
//! maxima as given.

use serde_json::{Value, json};

/// Euler-Mascheroni constant.
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// One dated value.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Date or date-time as given (the first 10 characters are YYYY-MM-DD).
    pub time: String,
    /// Calendar year.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of the year, 1..=366.
    pub doy: u32,
    /// The value, None when unknown.
    pub value: Option<f64>,
}

/// Year and day of the year of text starting with a YYYY-MM-DD date, or None when it
/// is not a calendar date.
pub fn day_of_year(date: &str) -> Option<(i32, u32)> {
    let (y, m, d) = hysope_swot::time::parse_date(date)?;
    Some((
        i32::try_from(y).ok()?,
        hysope_swot::time::day_of_year(y, m, d),
    ))
}

/// The `p`-th percentile (0..=100) by linear interpolation between order statistics
/// (rank (n - 1) p / 100, the default of numpy and R type 7).
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let rank = (sorted.len() - 1) as f64 * p / 100.0;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[lo] + (rank - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// Gumbel location and scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gumbel {
    /// Location mu.
    pub location: f64,
    /// Scale beta.
    pub scale: f64,
}

impl Gumbel {
    /// Method of moments: beta = sqrt(6) s / pi (s with n - 1), mu = mean - gamma beta.
    pub fn by_moments(x: &[f64]) -> Option<Gumbel> {
        if x.len() < 2 {
            return None;
        }
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let s = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let scale = 6f64.sqrt() * s / std::f64::consts::PI;
        (scale > 0.0).then_some(Gumbel {
            location: mean - EULER_GAMMA * scale,
            scale,
        })
    }

    /// L-moments (Hosking 1990): b0 = mean, b1 = sum (i-1)/(n-1) x_(i) / n over the
    /// ascending order statistics, l2 = 2 b1 - b0, beta = l2 / ln 2, mu = b0 - gamma beta.
    pub fn by_l_moments(x: &[f64]) -> Option<Gumbel> {
        if x.len() < 2 {
            return None;
        }
        let mut s = x.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len() as f64;
        let b0 = s.iter().sum::<f64>() / n;
        let b1 = s
            .iter()
            .enumerate()
            .map(|(i, v)| i as f64 / (n - 1.0) * v)
            .sum::<f64>()
            / n;
        let l2 = 2.0 * b1 - b0;
        let scale = l2 / std::f64::consts::LN_2;
        (scale > 0.0).then_some(Gumbel {
            location: b0 - EULER_GAMMA * scale,
            scale,
        })
    }

    /// The value exceeded on average once every `period` years (period > 1).
    pub fn return_level(&self, period: f64) -> Option<f64> {
        (period > 1.0).then(|| self.location - self.scale * (-(1.0 - 1.0 / period).ln()).ln())
    }
}

/// The hydrological year of a date in `year` and `month` when the year starts in
/// `start_month` (1..=12): named by the calendar year it ends in (the USGS water
/// year 2004 runs from October 2003 to September 2004).
pub fn hydrological_year(year: i32, month: u32, start_month: u32) -> i32 {
    if start_month > 1 && month >= start_month {
        year + 1
    } else {
        year
    }
}

/// Maximum of each hydrological year (starting in `start_month`) with a known
/// value, by year.
pub fn annual_maxima(points: &[Point], start_month: u32) -> Vec<(i32, f64)> {
    let mut out: Vec<(i32, f64)> = Vec::new();
    for p in points {
        let Some(v) = p.value else { continue };
        let year = hydrological_year(p.year, p.month, start_month);
        match out.iter_mut().find(|(y, _)| *y == year) {
            Some((_, m)) => *m = m.max(v),
            None => out.push((year, v)),
        }
    }
    out.sort_by_key(|(y, _)| *y);
    out
}

/// z-score of each point against the values whose day of the year is within
/// `window` days of its own (circularly, across all years, the point included);
/// None with fewer than 3 such values or no spread.
pub fn doy_z_scores(points: &[Point], window: u32) -> Vec<Option<f64>> {
    points
        .iter()
        .map(|p| {
            let v = p.value?;
            let near: Vec<f64> = points
                .iter()
                .filter(|q| {
                    let d = p.doy.abs_diff(q.doy);
                    d.min(366 - d) <= window
                })
                .filter_map(|q| q.value)
                .collect();
            if near.len() < 3 {
                return None;
            }
            let n = near.len() as f64;
            let mean = near.iter().sum::<f64>() / n;
            let sd = (near.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            (sd > 0.0).then(|| (v - mean) / sd)
        })
        .collect()
}

/// A series read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its dated values, in the file's order.
    pub points: Vec<Point>,
    /// True for a USGS peaks file (`peak_dt`, `peak_va`): one peak per water year,
    /// each row an annual maximum.
    pub peaks: bool,
}

/// Points from a USGS RDB table (a date column and a value column: `peak_dt` and
/// `peak_va` by default for peaks) or a CSV with `time` and the value column.
pub fn read_points(text: &str, name: &str, column: Option<&str>) -> Result<Vec<Point>, String> {
    read_series(text, name, column).map(|s| s.points)
}

/// [`read_points`], saying whether the file is a USGS peaks file.
pub fn read_series(text: &str, name: &str, column: Option<&str>) -> Result<Series, String> {
    let (columns, rows) =
        if text.starts_with('#') || text.lines().next().is_some_and(|l| l.contains('\t')) {
            let t = hysope_swot::rdb::parse(text, name).map_err(|e| e.0)?;
            (t.columns, t.rows)
        } else {
            let t = hysope_swot::csv::parse(text, name)?;
            (t.columns, t.rows)
        };
    let find = |c: &str| columns.iter().position(|x| x == c);
    let peaks = find("peak_dt").is_some() && find("time").is_none();
    let time = find("time")
        .or_else(|| find("peak_dt"))
        .or_else(|| find("datetime"))
        .ok_or_else(|| format!("{name}: no time column (time, or peak_dt of USGS peaks)"))?;
    let value = match column {
        Some(c) => find(c).ok_or_else(|| format!("{name}: no {c} column"))?,
        None => find("peak_va")
            .or_else(|| find("value"))
            .ok_or_else(|| format!("{name}: no value column (value_column names it)"))?,
    };
    let mut points = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let t = row.get(time).cloned().unwrap_or_default();
        let Some((year, doy)) = day_of_year(&t) else {
            // USGS peaks may leave month or day unknown (00): not a date, left out.
            continue;
        };
        let cell = row.get(value).map(String::as_str).unwrap_or("");
        let value = match cell {
            "" => None,
            c => Some(
                c.parse::<f64>()
                    .map_err(|_| format!("{name}: row {}: value {c:?} is not a number", i + 1))?,
            ),
        };
        if value.is_some_and(|v| !v.is_finite()) {
            return Err(format!(
                "{name}: row {}: value {cell:?} is not finite",
                i + 1
            ));
        }
        let month = hysope_swot::time::parse_date(&t).map_or(1, |(_, m, _)| m);
        points.push(Point {
            time: t,
            year,
            month,
            doy,
            value,
        });
    }
    Ok(Series { points, peaks })
}

/// How annual maxima are taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Years {
    /// The maximum of each hydrological year starting in this month (1..=12).
    StartingIn(u32),
    /// Each known value is one year's maximum (a USGS peaks file).
    AsGiven,
}

/// Percentiles, Gumbel fits and return levels as JSON; `notes` say what could not be computed.
pub fn thresholds(points: &[Point], percentiles: &[f64], periods: &[f64], years: Years) -> Value {
    let mut values: Vec<f64> = points.iter().filter_map(|p| p.value).collect();
    values.sort_by(f64::total_cmp);
    let (maxima, taken): (Vec<f64>, Value) = match years {
        Years::AsGiven => (
            points.iter().filter_map(|p| p.value).collect(),
            json!({"from": "the peaks file's rows, one peak per water year, as given"}),
        ),
        Years::StartingIn(month) => (
            annual_maxima(points, month)
                .into_iter()
                .map(|(_, v)| v)
                .collect(),
            json!({
                "from": "the maximum of each hydrological year",
                "year_start_month": month,
                "year_named_by": "the calendar year it ends in",
            }),
        ),
    };
    let mut notes = Vec::new();
    let fit = |g: Option<Gumbel>, what: &str, notes: &mut Vec<String>| match g {
        Some(g) => json!({
            "location": g.location,
            "scale": g.scale,
            "return_levels": periods.iter().map(|t| json!({"period_years": t, "value": g.return_level(*t)})).collect::<Vec<_>>(),
        }),
        None => {
            notes.push(format!(
                "{what}: needs at least 2 annual maxima with some spread ({} given)",
                maxima.len()
            ));
            Value::Null
        }
    };
    let moments = fit(Gumbel::by_moments(&maxima), "gumbel_moments", &mut notes);
    let l_moments = fit(
        Gumbel::by_l_moments(&maxima),
        "gumbel_l_moments",
        &mut notes,
    );
    json!({
        "values": values.len(),
        "annual_maxima": maxima.len(),
        "annual_maxima_taken": taken,
        "percentiles": percentiles.iter().map(|p| json!({"percent": p, "value": percentile(&values, *p)})).collect::<Vec<_>>(),
        "gumbel_moments": moments,
        "gumbel_l_moments": l_moments,
        "notes": notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_derived_values() {
        assert_eq!(day_of_year("2024-03-01"), Some((2024, 61)));
        assert_eq!(day_of_year("2023-12-31"), Some((2023, 365)));
        assert_eq!(day_of_year("1950-02-00"), None);
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&s, 50.0), Some(2.5));
        assert_eq!(percentile(&s, 90.0), Some(3.7));
        // Two maxima 1 and 3: mean 2, s = sqrt(2); beta = sqrt(6) sqrt(2) / pi.
        let g = Gumbel::by_moments(&[1.0, 3.0]).unwrap();
        assert!((g.scale - 12f64.sqrt() / std::f64::consts::PI).abs() < 1e-15);
        // L-moments: b1 = (0 * 1 + 1 * 3) / 2 = 1.5, l2 = 3 - 2 = 1, beta = 1 / ln 2.
        let l = Gumbel::by_l_moments(&[3.0, 1.0]).unwrap();
        assert!((l.scale - 1.0 / std::f64::consts::LN_2).abs() < 1e-15);
        // The 2-year level of a Gumbel is mu - beta ln(ln 2).
        assert!(
            (l.return_level(2.0).unwrap() - (l.location - l.scale * 2f64.ln().ln())).abs() < 1e-12
        );
        assert_eq!(l.return_level(1.0), None);
    }

    #[test]
    fn hydrological_years_are_named_by_the_year_they_end_in() {
        assert_eq!(hydrological_year(2003, 9, 10), 2003);
        assert_eq!(hydrological_year(2003, 10, 10), 2004);
        assert_eq!(hydrological_year(2003, 12, 10), 2004);
        assert_eq!(hydrological_year(2003, 12, 1), 2003);
        assert_eq!(hydrological_year(2003, 1, 1), 2003);
    }

    /// The shared USGS peaks file (site 01594440): 20 peaks, one per water year
    /// 2000-2019. Calendar years merge 2003-02-23 with 2003-12-12 (water year
    /// 2004), 2011-09-08 with 2011-12-08 (2012) and 2018-06-04 with 2018-12-16
    /// (2019): 17 maxima, three real peaks lost.
    #[test]
    fn the_shared_peaks_file_by_water_year() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/usgs/waterservices_peaks.txt"
        ))
        .expect("../shared/data beside the repository");
        let series = read_series(&text, "peaks", None).unwrap();
        assert!(series.peaks);
        let peaks = [
            3640.0, 3800.0, 1510.0, 6990.0, 5790.0, 5210.0, 12700.0, 5520.0, 7860.0, 4130.0,
            5780.0, 16800.0, 4900.0, 10800.0, 15600.0, 6610.0, 6140.0, 4960.0, 8360.0, 7220.0,
        ];
        let values: Vec<f64> = series.points.iter().filter_map(|p| p.value).collect();
        assert_eq!(values, peaks);
        // By water year (October): each peak its own year, 2000..=2019.
        let wy = annual_maxima(&series.points, 10);
        assert_eq!(wy.len(), 20);
        assert_eq!(
            wy.iter().map(|(y, _)| *y).collect::<Vec<_>>(),
            (2000..=2019).collect::<Vec<_>>()
        );
        // By calendar year: 17, the three merges above.
        let cal = annual_maxima(&series.points, 1);
        assert_eq!(cal.len(), 17);
        for (year, max) in [(2003, 6990.0), (2011, 16800.0), (2018, 8360.0)] {
            assert_eq!(cal.iter().find(|(y, _)| *y == year).unwrap().1, max);
        }
        // The thresholds take the peaks as given; the Gumbel fit by moments on the
        // 20 peaks, by hand (and by Python's statistics module): mean 7216.0,
        // s = 3949.3602..., beta = sqrt(6) s / pi, the 100-year level 19603.83.
        let doc = thresholds(&series.points, &[50.0], &[100.0], Years::AsGiven);
        assert_eq!(doc["annual_maxima"], 20);
        let n = 20.0;
        let mean = peaks.iter().sum::<f64>() / n;
        assert!((mean - 7216.0).abs() < 1e-9);
        let s = (peaks.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let beta = 6f64.sqrt() * s / std::f64::consts::PI;
        let mu = mean - EULER_GAMMA * beta;
        let q100 = mu - beta * (-(1.0f64 - 0.01).ln()).ln();
        let got = doc["gumbel_moments"]["return_levels"][0]["value"]
            .as_f64()
            .unwrap();
        assert!((got - q100).abs() < 1e-6, "{got} {q100}");
        assert!((got - 19_603.833_6).abs() < 1e-3, "{got}");
        // The calendar-year fit is biased upwards (merged years keep the larger peak).
        let biased = thresholds(&series.points, &[50.0], &[100.0], Years::StartingIn(1));
        let high = biased["gumbel_moments"]["return_levels"][0]["value"]
            .as_f64()
            .unwrap();
        // 17 calendar maxima: 20746.69, 5.8 % high.
        assert!((high - 20_746.693_7).abs() < 1e-3, "{high}");
    }

    #[test]
    fn one_value_or_no_spread_has_no_fit() {
        assert_eq!(Gumbel::by_moments(&[5.0]), None);
        assert_eq!(Gumbel::by_l_moments(&[5.0, 5.0]), None);
    }
}
