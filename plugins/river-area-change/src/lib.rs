//! Change of a river reach's cross-sectional flow area, dA, from its observed
//! (water surface elevation, width) pairs: the width is taken as piecewise linear in
//! the height between the observations sorted by height, and dA(h) is the integral
//! of the width from a reference height to h (trapezoids), negative below it. This
//! is the dA that Manning-type discharge (A0 + dA) needs.

/// dA at each observation and the reference used.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaChange {
    /// Reference height, m.
    pub reference: f64,
    /// dA of each input pair, in input order, m^2 (None for pairs left out).
    pub d_area: Vec<Option<f64>>,
    /// Pairs used.
    pub used: usize,
}

/// The reference height: `median` or `min` of the used heights, or a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reference {
    /// Median of the heights.
    Median,
    /// Lowest height.
    Min,
    /// A given height.
    Height(f64),
}

impl Reference {
    /// Parses `median`, `min` or a number.
    pub fn parse(text: &str) -> Option<Reference> {
        match text {
            "median" => Some(Reference::Median),
            "min" => Some(Reference::Min),
            t => t
                .parse::<f64>()
                .ok()
                .filter(|h| h.is_finite())
                .map(Reference::Height),
        }
    }
}

/// The cumulative integral of the width from the lowest height, at each sorted height.
fn cumulative(sorted: &[(f64, f64)]) -> Vec<f64> {
    let mut acc = vec![0.0; sorted.len()];
    for i in 1..sorted.len() {
        let (h0, w0) = sorted[i - 1];
        let (h1, w1) = sorted[i];
        acc[i] = acc[i - 1] + (h1 - h0) * (w0 + w1) / 2.0;
    }
    acc
}

/// The integral from the lowest height to `h` (linear width between observations,
/// constant width beyond the lowest and highest).
fn integral_to(sorted: &[(f64, f64)], acc: &[f64], h: f64) -> f64 {
    let (lo, hi) = (sorted[0], sorted[sorted.len() - 1]);
    if h <= lo.0 {
        return (h - lo.0) * lo.1;
    }
    if h >= hi.0 {
        return acc[acc.len() - 1] + (h - hi.0) * hi.1;
    }
    let i = sorted.partition_point(|p| p.0 <= h).max(1);
    let (h0, w0) = sorted[i - 1];
    let (h1, w1) = sorted[i];
    let w = if h1 > h0 {
        w0 + (w1 - w0) * (h - h0) / (h1 - h0)
    } else {
        w0
    };
    acc[i - 1] + (h - h0) * (w0 + w) / 2.0
}

/// dA of every pair relative to the reference. Pairs with an unknown or negative
/// width, or an unknown height, are left out (None); at least 2 are needed.
pub fn area_change(
    pairs: &[(Option<f64>, Option<f64>)],
    reference: Reference,
) -> Result<AreaChange, String> {
    let mut sorted: Vec<(f64, f64)> = pairs
        .iter()
        .filter_map(|(h, w)| {
            Some((
                h.filter(|h| h.is_finite())?,
                w.filter(|w| w.is_finite() && *w >= 0.0)?,
            ))
        })
        .collect();
    if sorted.len() < 2 {
        return Err(format!(
            "{} observations with a known height and width: at least 2 are needed",
            sorted.len()
        ));
    }
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let acc = cumulative(&sorted);
    let reference = match reference {
        Reference::Height(h) => h,
        Reference::Min => sorted[0].0,
        Reference::Median => {
            let mut heights: Vec<f64> = sorted.iter().map(|p| p.0).collect();
            hysope_swot::stats::median(&mut heights).expect("at least 2 pairs")
        }
    };
    let base = integral_to(&sorted, &acc, reference);
    let d_area = pairs
        .iter()
        .map(|(h, w)| {
            let h = h.filter(|h| h.is_finite())?;
            w.filter(|w| w.is_finite() && *w >= 0.0)?;
            Some(integral_to(&sorted, &acc, h) - base)
        })
        .collect();
    Ok(AreaChange {
        reference,
        d_area,
        used: sorted.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectangle_and_trapezoid_by_hand() {
        // Constant width 100 m: dA = 100 (h - h_ref).
        let pairs = [
            (Some(10.0), Some(100.0)),
            (Some(12.0), Some(100.0)),
            (Some(11.0), Some(100.0)),
        ];
        let r = area_change(&pairs, Reference::Median).unwrap();
        assert_eq!(r.reference, 11.0);
        assert_eq!(r.d_area, [Some(-100.0), Some(100.0), Some(0.0)]);
        // Width growing 100 -> 140 m from 10 to 12 m: dA(12) from 10 = 2 * 120 = 240 m2.
        let pairs = [(Some(10.0), Some(100.0)), (Some(12.0), Some(140.0))];
        let r = area_change(&pairs, Reference::Min).unwrap();
        assert_eq!(r.d_area, [Some(0.0), Some(240.0)]);
        // Halfway, width 120: dA(11) = 1 * 110.
        let r = area_change(&pairs, Reference::Height(11.0)).unwrap();
        assert_eq!(r.d_area, [Some(-110.0), Some(130.0)]);
    }

    #[test]
    fn unknown_values_are_left_out_and_too_few_refused() {
        let pairs = [
            (Some(10.0), None),
            (None, Some(5.0)),
            (Some(11.0), Some(50.0)),
            (Some(12.0), Some(50.0)),
        ];
        let r = area_change(&pairs, Reference::Min).unwrap();
        assert_eq!(r.d_area, [None, None, Some(0.0), Some(50.0)]);
        assert_eq!(r.used, 2);
        assert!(
            area_change(&pairs[..3], Reference::Min)
                .unwrap_err()
                .contains("at least 2")
        );
        assert_eq!(Reference::parse("x"), None);
    }
}
