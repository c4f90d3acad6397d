//! Manning-type discharge of a river reach from SWOT observations:
//!
//!   Q = (1/n) (A0 + dA)^(5/3) W^(-2/3) S^(1/2)
//!
//! with the flow law of each algorithm family: constant n (Manning), MetroMan
//! n = n_inf ((A0 + dA)/W)^p, HiVDI 1/n = alpha ((A0 + dA)/W)^beta; MOMMA on the
//! depth above the elevation of zero flow B instead of the area,
//!
//!   Q = (1/n) Y^(5/3) W S^(1/2),  Y = wse - B,
//!   n = nb (1 + log10((H - B)/Y)) below the bankfull elevation H (nb above it),
//!   nb = 0.11 S_ave^0.18;
//!
//! and the consensus as the median of the algorithms that gave a value. Uncertainty
//! by first-order propagation of wse_u (through dA, d(dA)/dh = W, or through Y and
//! n), width_u and slope_u.

/// The flow law of one algorithm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FlowLaw {
    /// Constant Manning n.
    Manning {
        /// Manning's n, s m^(-1/3).
        n: f64,
    },
    /// MetroMan: n = n_inf ((A0 + dA) / W)^p.
    MetroMan {
        /// n at unit hydraulic depth.
        n_inf: f64,
        /// Exponent of the depth.
        p: f64,
    },
    /// HiVDI: 1/n = alpha ((A0 + dA) / W)^beta.
    HiVdi {
        /// Coefficient.
        alpha: f64,
        /// Exponent.
        beta: f64,
    },
    /// MOMMA: depth above the elevation of zero flow, n growing as the depth falls
    /// below bankfull.
    Momma {
        /// Elevation of zero flow B, m (same datum as wse).
        b: f64,
        /// Bankfull elevation H, m.
        h: f64,
        /// Mean slope of the reach S_ave, m/m (gives nb = 0.11 S_ave^0.18).
        save: f64,
    },
}

impl FlowLaw {
    /// Name used in outputs.
    pub fn name(&self) -> &'static str {
        match self {
            FlowLaw::Manning { .. } => "manning",
            FlowLaw::MetroMan { .. } => "metroman",
            FlowLaw::HiVdi { .. } => "hivdi",
            FlowLaw::Momma { .. } => "momma",
        }
    }

    /// The constant of ln Q (ln 1/n without its (A/W) factor) and the exponents of A
    /// and W once the flow law's (A/W) power is folded in (area-based laws).
    fn terms(&self) -> (f64, f64, f64) {
        match *self {
            FlowLaw::Momma { .. } => unreachable!("MOMMA is not area-based"),
            FlowLaw::Manning { n } => (-n.ln(), 5.0 / 3.0, -2.0 / 3.0),
            FlowLaw::MetroMan { n_inf, p } => (-n_inf.ln(), 5.0 / 3.0 - p, -2.0 / 3.0 + p),
            FlowLaw::HiVdi { alpha, beta } => (alpha.ln(), 5.0 / 3.0 + beta, -2.0 / 3.0 - beta),
        }
    }
}

/// One observation of the reach.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Observation {
    /// Change of flow area from the reference, m^2 (NaN when unknown: area-based laws
    /// then give no value).
    pub d_area: f64,
    /// Water surface elevation, m (NaN when unknown: MOMMA then gives no value).
    pub wse: f64,
    /// Width, m.
    pub width: f64,
    /// Slope, m/m.
    pub slope: f64,
    /// Uncertainty of the water surface elevation, m (0 when unknown).
    pub wse_u: f64,
    /// Uncertainty of the width, m.
    pub width_u: f64,
    /// Uncertainty of the slope, m/m.
    pub slope_u: f64,
}

/// A discharge and its 1-sigma uncertainty, m^3/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Discharge {
    /// Q.
    pub q: f64,
    /// sigma_Q.
    pub q_u: f64,
}

/// Discharge by one flow law, or why there is none.
pub fn discharge(o: &Observation, a0: f64, law: &FlowLaw) -> Result<Discharge, &'static str> {
    if !(o.width.is_finite() && o.slope.is_finite()) {
        return Err("not finite");
    }
    if o.width <= 0.0 {
        return Err("non-positive width");
    }
    if o.slope < 0.0 {
        return Err("negative slope");
    }
    if let FlowLaw::Momma { b, h, save } = *law {
        return momma(o, b, h, save);
    }
    let a = a0 + o.d_area;
    if o.d_area.is_nan() {
        return Err("unknown dA");
    }
    if !a.is_finite() {
        return Err("not finite");
    }
    if a <= 0.0 {
        return Err("non-positive area (A0 + dA <= 0)");
    }
    if o.slope == 0.0 {
        // No slope, no flow; the slope term of the uncertainty has no derivative there.
        return Ok(Discharge { q: 0.0, q_u: 0.0 });
    }
    let (ln_inv_n, ca, cw) = law.terms();
    let q = (ln_inv_n + ca * a.ln() + cw * o.width.ln() + 0.5 * o.slope.ln()).exp();
    let rel = ((ca * o.width / a * o.wse_u).powi(2)
        + (cw / o.width * o.width_u).powi(2)
        + (o.slope_u / (2.0 * o.slope)).powi(2))
    .sqrt();
    Ok(Discharge { q, q_u: q * rel })
}

/// MOMMA: Q = (1/n) Y^(5/3) W S^(1/2) with Y = wse - B and n = nb (1 + log10((H - B)/Y))
/// below bankfull, nb = 0.11 S_ave^0.18.
fn momma(o: &Observation, b: f64, h: f64, save: f64) -> Result<Discharge, &'static str> {
    if o.wse.is_nan() {
        return Err("unknown wse");
    }
    let y = o.wse - b;
    if !y.is_finite() {
        return Err("not finite");
    }
    if y <= 0.0 {
        return Err("wse at or below the elevation of zero flow (MOMMA B)");
    }
    if o.slope == 0.0 {
        return Ok(Discharge { q: 0.0, q_u: 0.0 });
    }
    let nb = 0.11 * save.powf(0.18);
    let below = o.wse < h;
    let nd = if below {
        1.0 + ((h - b) / y).log10()
    } else {
        1.0
    };
    let n = nb * nd;
    let q = y.powf(5.0 / 3.0) * o.width * o.slope.sqrt() / n;
    // d ln Q / d wse: 5/(3Y) from the depth, and 1/(nd Y ln 10) from n below bankfull.
    let d_wse = 5.0 / (3.0 * y)
        + if below {
            1.0 / (nd * y * std::f64::consts::LN_10)
        } else {
            0.0
        };
    let rel = ((d_wse * o.wse_u).powi(2)
        + (o.width_u / o.width).powi(2)
        + (o.slope_u / (2.0 * o.slope)).powi(2))
    .sqrt();
    Ok(Discharge { q, q_u: q * rel })
}

/// Median of the values given (None when none).
pub fn consensus(values: &[f64]) -> Option<f64> {
    hysope_swot::stats::median(&mut values.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(d_area: f64, width: f64, slope: f64) -> Observation {
        Observation {
            d_area,
            width,
            slope,
            ..Default::default()
        }
    }

    #[test]
    fn hand_derived_manning() {
        // A = 100 + 0 m2, W = 50 m, S = 1e-4, n = 0.03:
        // Q = 100^(5/3) 50^(-2/3) 0.01 / 0.03 = 100 * (100/50)^(2/3) / 3.
        let q = discharge(&obs(0.0, 50.0, 1e-4), 100.0, &FlowLaw::Manning { n: 0.03 }).unwrap();
        assert!(
            (q.q - 100.0 * 2f64.powf(2.0 / 3.0) / 3.0).abs() < 1e-9,
            "{q:?}"
        );
        // MetroMan with p = 0 and HiVDI with beta = 0 are Manning with n_inf = n, 1/alpha = n.
        let m = discharge(
            &obs(0.0, 50.0, 1e-4),
            100.0,
            &FlowLaw::MetroMan {
                n_inf: 0.03,
                p: 0.0,
            },
        )
        .unwrap();
        let h = discharge(
            &obs(0.0, 50.0, 1e-4),
            100.0,
            &FlowLaw::HiVdi {
                alpha: 1.0 / 0.03,
                beta: 0.0,
            },
        )
        .unwrap();
        assert!((m.q - q.q).abs() < 1e-9 && (h.q - q.q).abs() < 1e-9);
    }

    #[test]
    fn metroman_and_hivdi_by_hand() {
        // A/W = 2: MetroMan n_inf 0.03, p 1 gives n = 0.06, half the discharge of n = 0.03;
        // HiVDI alpha 1/0.03, beta 1 gives 1/n = 2/0.03, twice it.
        let o = obs(0.0, 50.0, 1e-4);
        let base = discharge(&o, 100.0, &FlowLaw::Manning { n: 0.03 })
            .unwrap()
            .q;
        let m = discharge(
            &o,
            100.0,
            &FlowLaw::MetroMan {
                n_inf: 0.03,
                p: 1.0,
            },
        )
        .unwrap()
        .q;
        let h = discharge(
            &o,
            100.0,
            &FlowLaw::HiVdi {
                alpha: 1.0 / 0.03,
                beta: 1.0,
            },
        )
        .unwrap()
        .q;
        assert!(
            (m - base / 2.0).abs() < 1e-9 && (h - 2.0 * base).abs() < 1e-9,
            "{base} {m} {h}"
        );
    }

    #[test]
    fn slope_uncertainty_alone() {
        // sigma_Q / Q = sigma_S / (2 S).
        let mut o = obs(0.0, 50.0, 1e-4);
        o.slope_u = 2e-5;
        let q = discharge(&o, 100.0, &FlowLaw::Manning { n: 0.03 }).unwrap();
        assert!((q.q_u / q.q - 0.1).abs() < 1e-12);
    }

    #[test]
    fn edge_cases() {
        let law = FlowLaw::Manning { n: 0.03 };
        assert_eq!(
            discharge(&obs(0.0, 50.0, 0.0), 100.0, &law),
            Ok(Discharge { q: 0.0, q_u: 0.0 })
        );
        assert!(discharge(&obs(-150.0, 50.0, 1e-4), 100.0, &law).is_err());
        assert!(discharge(&obs(0.0, 50.0, -1e-4), 100.0, &law).is_err());
        assert_eq!(consensus(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
        assert_eq!(consensus(&[]), None);
        let mut unknown = obs(f64::NAN, 50.0, 1e-4);
        unknown.wse = f64::NAN;
        assert_eq!(discharge(&unknown, 100.0, &law), Err("unknown dA"));
        let momma = FlowLaw::Momma {
            b: 90.0,
            h: 100.0,
            save: 1e-4,
        };
        assert_eq!(discharge(&unknown, 100.0, &momma), Err("unknown wse"));
        unknown.wse = 89.0;
        assert!(discharge(&unknown, 100.0, &momma).is_err());
    }

    #[test]
    fn momma_by_hand() {
        // S_ave = 1e-4: nb = 0.11 x (1e-4)^0.18 = 0.11 x 10^-0.72.
        let nb = 0.11 * 10f64.powf(-0.72);
        let law = FlowLaw::Momma {
            b: 90.0,
            h: 100.0,
            save: 1e-4,
        };
        // At bankfull (wse = H = 100): Y = 10, n = nb, Q = 10^(5/3) x 50 x 0.01 / nb.
        let mut o = obs(f64::NAN, 50.0, 1e-4);
        o.wse = 100.0;
        let q = discharge(&o, 0.0, &law).unwrap();
        assert!(
            (q.q - 10f64.powf(5.0 / 3.0) * 0.5 / nb).abs() < 1e-9,
            "{q:?}"
        );
        // Y = 1 (H - B = 10): n = nb (1 + log10 10) = 2 nb, Q = 1 x 50 x 0.01 / (2 nb).
        o.wse = 91.0;
        let q = discharge(&o, 0.0, &law).unwrap();
        assert!((q.q - 0.25 / nb).abs() < 1e-12, "{q:?}");
        // sigma_wse = 0.1 at Y = 1, nd = 2: d ln Q/d wse = 5/3 + 1/(2 ln 10).
        o.wse_u = 0.1;
        let q = discharge(&o, 0.0, &law).unwrap();
        let rel = 0.1 * (5.0 / 3.0 + 1.0 / (2.0 * std::f64::consts::LN_10));
        assert!((q.q_u / q.q - rel).abs() < 1e-12, "{q:?}");
        // Above bankfull n stays nb: Q grows as Y^(5/3) only.
        o.wse = 110.0;
        o.wse_u = 0.0;
        let q = discharge(&o, 0.0, &law).unwrap();
        assert!(
            (q.q - 20f64.powf(5.0 / 3.0) * 0.5 / nb).abs() < 1e-9,
            "{q:?}"
        );
    }
}
