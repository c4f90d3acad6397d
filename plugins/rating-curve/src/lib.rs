//! Stage-discharge rating curve Q = a (h - h0)^b: h0 by grid search, a and b by a
//! least-squares fit of ln Q = ln a + b ln(h - h0) for each candidate h0, the h0
//! with the smallest sum of squared log residuals kept; then applied to a series
//! of water levels.

use serde_json::{Value, json};

/// A fitted curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    /// Coefficient a (discharge units per length unit^b).
    pub a: f64,
    /// Exponent b.
    pub b: f64,
    /// Stage of zero flow h0 (length unit of the stages).
    pub h0: f64,
    /// Pairs used.
    pub n: usize,
    /// Root-mean-square of the log residuals.
    pub rmse_log: f64,
    /// Coefficient of determination of ln Q.
    pub r2_log: f64,
}

impl Curve {
    /// Discharge at stage h, or None below h0 (no flow defined there).
    pub fn discharge(&self, h: f64) -> Option<f64> {
        (h.is_finite() && h > self.h0).then(|| self.a * (h - self.h0).powf(self.b))
    }
}

/// The candidate zero-flow stages: `grid` values evenly spaced from
/// h_min - (h_max - h_min) to h_min - (h_max - h_min) / grid, both included.
pub fn candidates(h_min: f64, h_max: f64, grid: usize) -> Vec<f64> {
    let span = h_max - h_min;
    let low = h_min - span;
    let high = h_min - span / grid as f64;
    (0..grid)
        .map(|i| low + (high - low) * i as f64 / (grid - 1) as f64)
        .collect()
}

/// Least squares of y = c + b x: (c, b, sum of squared residuals).
fn linear_fit(x: &[f64], y: &[f64]) -> (f64, f64, f64) {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let b = sxy / sxx;
    let c = my - b * mx;
    let sse = x.iter().zip(y).map(|(a, v)| (v - c - b * a).powi(2)).sum();
    (c, b, sse)
}

/// Fits the curve to (stage, discharge) pairs; pairs with a discharge that is not
/// positive are left out (a log needs it). Needs 3 pairs and 2 distinct stages.
pub fn fit(pairs: &[(f64, f64)], grid: usize) -> Result<Curve, String> {
    if grid < 2 {
        return Err(format!("grid must be at least 2, not {grid}"));
    }
    let used: Vec<(f64, f64)> = pairs
        .iter()
        .copied()
        .filter(|(h, q)| h.is_finite() && q.is_finite() && *q > 0.0)
        .collect();
    if used.len() < 3 {
        return Err(format!(
            "{} stage-discharge pairs with a positive discharge: at least 3 are needed",
            used.len()
        ));
    }
    let h_min = used.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let h_max = used.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    if h_max <= h_min {
        return Err("every pair has the same stage: no curve through one stage".into());
    }
    let ln_q: Vec<f64> = used.iter().map(|p| p.1.ln()).collect();
    let mut best: Option<(f64, f64, f64, f64)> = None;
    for h0 in candidates(h_min, h_max, grid) {
        let x: Vec<f64> = used.iter().map(|p| (p.0 - h0).ln()).collect();
        let (c, b, sse) = linear_fit(&x, &ln_q);
        if best.is_none_or(|(_, _, _, s)| sse < s) {
            best = Some((h0, c, b, sse));
        }
    }
    let (h0, c, b, sse) = best.ok_or("no candidate stage of zero flow")?;
    let mean = ln_q.iter().sum::<f64>() / ln_q.len() as f64;
    let sst: f64 = ln_q.iter().map(|v| (v - mean).powi(2)).sum();
    Ok(Curve {
        a: c.exp(),
        b,
        h0,
        n: used.len(),
        rmse_log: (sse / used.len() as f64).sqrt(),
        r2_log: if sst > 0.0 { 1.0 - sse / sst } else { 1.0 },
    })
}

/// Stage-discharge pairs from a USGS RDB rating (`INDEP`, `DEP`) or a CSV with
/// `stage` and `discharge` columns.
pub fn read_pairs(text: &str, name: &str) -> Result<Vec<(f64, f64)>, String> {
    let (columns, rows) = if text.starts_with('#') || text.contains('\t') {
        let t = hysope_swot::rdb::parse(text, name).map_err(|e| e.0)?;
        (t.columns, t.rows)
    } else {
        let t = hysope_swot::csv::parse(text, name)?;
        (t.columns, t.rows)
    };
    let find = |options: &[&str]| columns.iter().position(|c| options.contains(&c.as_str()));
    let h = find(&["INDEP", "stage", "h", "wse"]).ok_or_else(|| {
        format!("{name}: no stage column (INDEP of a USGS rating, or stage in a CSV)")
    })?;
    let q = find(&["DEP", "discharge", "q"]).ok_or_else(|| {
        format!("{name}: no discharge column (DEP of a USGS rating, or discharge in a CSV)")
    })?;
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let num = |k: usize, what: &str| {
                row.get(k)
                    .and_then(|c| c.parse::<f64>().ok())
                    .ok_or_else(|| {
                        format!(
                            "{name}: row {}: {what} {:?} is not a number",
                            i + 1,
                            row.get(k)
                        )
                    })
            };
            Ok((num(h, "stage")?, num(q, "discharge")?))
        })
        .collect()
}

/// (time, stage) from a CSV with a `time` column and the named level column.
pub fn read_levels(
    text: &str,
    name: &str,
    time_column: &str,
    column: &str,
) -> Result<Vec<(String, Option<f64>)>, String> {
    let table = hysope_swot::csv::parse(text, name)?;
    let t = table
        .column(time_column, name)
        .map_err(|e| format!("{e}; time_column names it"))?;
    let v = table
        .column(column, name)
        .map_err(|e| format!("{e}; level_column names it"))?;
    table
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            // An empty cell is an unknown level (a fill value in the source): no discharge.
            let level = match row[v].as_str() {
                "" => None,
                text => Some(text.parse::<f64>().map_err(|_| {
                    format!("{name}: row {}: {column} {text:?} is not a number", i + 1)
                })?),
            };
            Ok((row[t].clone(), level))
        })
        .collect()
}

/// The fit as JSON.
pub fn fit_json(c: &Curve, used_of: usize) -> Value {
    json!({
        "formula": "Q = a (h - h0)^b",
        "a": c.a, "b": c.b, "h0": c.h0,
        "pairs_used": c.n, "pairs_read": used_of,
        "rmse_log": c.rmse_log, "r2_log": c.r2_log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_power_law() {
        // Q = 3 (h - 0.6)^1.5 on stages 3..=7: with a grid of 5 the candidates are
        // -1, -0.2, 0.6, 1.4 and 2.2, and 0.6 fits exactly.
        let pairs: Vec<(f64, f64)> = (0..5)
            .map(|i| {
                let h = 3.0 + i as f64;
                (h, 3.0 * (h - 0.6f64).powf(1.5))
            })
            .collect();
        let c = fit(&pairs, 5).unwrap();
        assert!((c.h0 - 0.6).abs() < 1e-12, "{c:?}");
        assert!(
            (c.a - 3.0).abs() < 1e-9 && (c.b - 1.5).abs() < 1e-9,
            "{c:?}"
        );
        assert!(c.rmse_log < 1e-12);
        assert_eq!(c.discharge(0.5), None);
        assert!((c.discharge(4.6).unwrap() - 24.0).abs() < 1e-9);
    }

    #[test]
    fn too_few_or_degenerate_pairs_are_refused() {
        assert!(
            fit(&[(1.0, 2.0), (2.0, 3.0)], 10)
                .unwrap_err()
                .contains("at least 3")
        );
        assert!(
            fit(&[(1.0, 2.0), (1.0, 3.0), (1.0, 4.0)], 10)
                .unwrap_err()
                .contains("same stage")
        );
        assert!(
            fit(&[(1.0, 0.0), (2.0, -1.0), (3.0, 5.0)], 10)
                .unwrap_err()
                .contains("1 stage-discharge")
        );
    }

    #[test]
    fn reads_csv_pairs_and_levels() {
        assert_eq!(
            read_pairs("stage,discharge\n1,2\n3,4\n", "p.csv").unwrap(),
            [(1.0, 2.0), (3.0, 4.0)]
        );
        assert!(
            read_pairs("stage,discharge\n1,x\n", "p.csv")
                .unwrap_err()
                .contains("row 1")
        );
        let levels = read_levels(
            "reach_id,time,wse\n1,t1,3.5\n1,t2,\n",
            "l.csv",
            "time",
            "wse",
        )
        .unwrap();
        assert_eq!(
            levels,
            [("t1".to_string(), Some(3.5)), ("t2".to_string(), None)]
        );
        // The time column of a timeseries-resample output.
        let binned = read_levels("bin_start,value\nt1,2\n", "r.csv", "bin_start", "value").unwrap();
        assert_eq!(binned, [("t1".to_string(), Some(2.0))]);
        let e = read_levels("bin_start,value\nt1,2\n", "r.csv", "time", "value").unwrap_err();
        assert!(e.contains("time_column"), "{e}");
    }
}
