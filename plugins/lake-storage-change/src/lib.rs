//! Lake storage change between a SWOT LakeSP Prior pass and a reference, per lake of
//! the Prior Lake Database, as the CNES lake processing computes it
//! (`storage_change.py`):
//!
//! - linear:  dV = (h - h_ref) / 2 * (A_ref + A)
//! - frustum: dV = (h - h_ref) / 3 * (A_ref + A + sqrt(A_ref * A))
//!
//! with h the water surface elevation (m) and A the lake area (km^2), so that
//! dV in m km^2 is 1e-3 km^3. Uncertainties are propagated to first order from
//! `wse_u` and `area_tot_u` of both passes, taken as independent.

use std::collections::BTreeMap;

use hysope_swot::Layer;
use serde_json::{Value, json};

/// km^3 per (m * km^2).
pub const KM3_PER_M_KM2: f64 = 1e-3;

/// One lake's state in one pass.
#[derive(Debug, Clone, PartialEq)]
pub struct LakeState {
    /// Observation time (RFC 3339), when observed.
    pub time: Option<String>,
    /// Water surface elevation, m.
    pub wse: f64,
    /// Its uncertainty, m (0 when the file has none).
    pub wse_u: f64,
    /// Total area, km^2.
    pub area: f64,
    /// Its uncertainty, km^2 (0 when the file has none).
    pub area_u: f64,
}

/// A storage change and its uncertainty, km^3.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// Linear (trapezoid) estimate.
    pub linear: f64,
    /// Its 1-sigma uncertainty.
    pub linear_u: f64,
    /// Frustum (truncated cone) estimate.
    pub frustum: f64,
    /// Its 1-sigma uncertainty.
    pub frustum_u: f64,
}

/// Storage change from `reference` to `current`, or why there is none.
pub fn storage_change(current: &LakeState, reference: &LakeState) -> Result<Change, &'static str> {
    let (h, a, hr, ar) = (current.wse, current.area, reference.wse, reference.area);
    if !(h.is_finite() && a.is_finite() && hr.is_finite() && ar.is_finite()) {
        return Err("not finite");
    }
    if a <= 0.0 || ar <= 0.0 {
        return Err("zero or negative area");
    }
    let dh = h - hr;
    let sum = a + ar;
    let root = (a * ar).sqrt();
    let linear = dh / 2.0 * sum;
    let frustum = dh / 3.0 * (sum + root);
    let var_h = current.wse_u.powi(2) + reference.wse_u.powi(2);
    let linear_var = (sum / 2.0).powi(2) * var_h
        + (dh / 2.0).powi(2) * (current.area_u.powi(2) + reference.area_u.powi(2));
    let d_a = dh / 3.0 * (1.0 + 0.5 * (ar / a).sqrt());
    let d_ar = dh / 3.0 * (1.0 + 0.5 * (a / ar).sqrt());
    let frustum_var = ((sum + root) / 3.0).powi(2) * var_h
        + d_a.powi(2) * current.area_u.powi(2)
        + d_ar.powi(2) * reference.area_u.powi(2);
    Ok(Change {
        linear: linear * KM3_PER_M_KM2,
        linear_u: linear_var.sqrt() * KM3_PER_M_KM2,
        frustum: frustum * KM3_PER_M_KM2,
        frustum_u: frustum_var.sqrt() * KM3_PER_M_KM2,
    })
}

/// Why a lake has no storage change in the output (the `status` column).
pub const STATUSES: [&str; 6] = [
    "computed",
    "unobserved",
    "quality",
    "no reference",
    "zero or negative area",
    "not finite",
];

/// One row of the output.
#[derive(Debug, Clone)]
pub struct Row {
    /// Prior Lake Database id.
    pub lake_id: String,
    /// The lake in this pass, when observed.
    pub current: Option<LakeState>,
    /// The reference, when there is one.
    pub reference: Option<LakeState>,
    /// `ds1_l` and `ds2_l` of the file (km^3), when not fill values.
    pub file_ds: (Option<f64>, Option<f64>),
    /// The change, when computed.
    pub change: Option<Change>,
    /// One of [`STATUSES`].
    pub status: &'static str,
}

/// One lake of a LakeSP Prior layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LakeRecord {
    /// Its state, when observed in the pass.
    pub state: Option<LakeState>,
    /// `quality_f`, None when a fill value (unknown).
    pub quality: Option<f64>,
    /// The file's own `ds1_l` and `ds2_l`, when not fill values.
    pub file_ds: (Option<f64>, Option<f64>),
}

/// Reads the lakes of a LakeSP Prior layer, by lake id.
pub fn lakes(layer: &Layer, name: &str) -> Result<BTreeMap<String, LakeRecord>, String> {
    for field in ["lake_id", "wse", "area_total"] {
        if !layer.fields.iter().any(|f| f == field) {
            return Err(format!("{name}: no {field} field: not a LakeSP Prior file"));
        }
    }
    let mut out = BTreeMap::new();
    for f in &layer.features {
        let Some(id) = f.get("lake_id").and_then(Value::as_str) else {
            continue;
        };
        let state = match (f.number("wse"), f.number("area_total")) {
            (Some(wse), Some(area)) => Some(LakeState {
                time: f
                    .get("time_str")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                wse,
                wse_u: f.number("wse_u").unwrap_or(0.0),
                area,
                area_u: f.number("area_tot_u").unwrap_or(0.0),
            }),
            _ => None,
        };
        out.insert(
            id.to_string(),
            LakeRecord {
                state,
                quality: f.number("quality_f"),
                file_ds: (f.number("ds1_l"), f.number("ds2_l")),
            },
        );
    }
    Ok(out)
}

/// The reference of a lake from the file's own Prior Lake Database fields
/// (`p_ref_wse`, `p_ref_area`), when both are given (they are fill values in the
/// current products).
pub fn prior_references(layer: &Layer) -> BTreeMap<String, LakeRecord> {
    layer
        .features
        .iter()
        .filter_map(|f| {
            let id = f.get("lake_id")?.as_str()?.to_string();
            // The Prior Lake Database reference has no quality flag: it is usable.
            let state = LakeState {
                time: None,
                wse: f.number("p_ref_wse")?,
                wse_u: 0.0,
                area: f.number("p_ref_area")?,
                area_u: 0.0,
            };
            Some((
                id,
                LakeRecord {
                    state: Some(state),
                    quality: Some(0.0),
                    file_ds: (None, None),
                },
            ))
        })
        .collect()
}

/// Rows for every lake of the current pass. A lake whose quality flag is unknown
/// (fill value) or above `max_quality` gets status `quality` in either pass.
pub fn compute(
    current: &BTreeMap<String, LakeRecord>,
    reference: &BTreeMap<String, LakeRecord>,
    max_quality: f64,
) -> Vec<Row> {
    let usable = |q: Option<f64>| q.is_some_and(|q| q <= max_quality);
    current
        .iter()
        .map(|(id, lake)| {
            let reference = reference.get(id);
            let mut row = Row {
                lake_id: id.clone(),
                current: lake.state.clone(),
                reference: reference.and_then(|r| r.state.clone()),
                file_ds: lake.file_ds,
                change: None,
                status: "computed",
            };
            row.status = match (&lake.state, reference) {
                (None, _) => "unobserved",
                (Some(_), _) if !usable(lake.quality) => "quality",
                (Some(_), None) => "no reference",
                (Some(c), Some(r)) => match &r.state {
                    None => "no reference",
                    Some(_) if !usable(r.quality) => "quality",
                    Some(r) => match storage_change(c, r) {
                        Ok(change) => {
                            row.change = Some(change);
                            "computed"
                        }
                        Err(why) => why,
                    },
                },
            };
            row
        })
        .collect()
}

/// Output columns.
pub const COLUMNS: [&str; 16] = [
    "lake_id",
    "status",
    "time",
    "ref_time",
    "wse_m",
    "ref_wse_m",
    "area_km2",
    "ref_area_km2",
    "dv_linear_km3",
    "dv_linear_u_km3",
    "dv_frustum_km3",
    "dv_frustum_u_km3",
    "ds1_l_km3",
    "ds2_l_km3",
    "wse_u_m",
    "area_u_km2",
];

/// The rows as CSV; unknown values are empty cells, never numbers.
pub fn to_csv(rows: &[Row]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    let num = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
    for r in rows {
        let c = r.current.as_ref();
        let f = r.reference.as_ref();
        let cells = [
            hysope_swot::csv::cell(&r.lake_id),
            r.status.to_string(),
            c.and_then(|s| s.time.clone()).unwrap_or_default(),
            f.and_then(|s| s.time.clone()).unwrap_or_default(),
            num(c.map(|s| s.wse)),
            num(f.map(|s| s.wse)),
            num(c.map(|s| s.area)),
            num(f.map(|s| s.area)),
            num(r.change.map(|x| x.linear)),
            num(r.change.map(|x| x.linear_u)),
            num(r.change.map(|x| x.frustum)),
            num(r.change.map(|x| x.frustum_u)),
            num(r.file_ds.0),
            num(r.file_ds.1),
            num(c.map(|s| s.wse_u)),
            num(c.map(|s| s.area_u)),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// Counts per status, and the largest difference from the file's own `ds1_l`/`ds2_l`
/// where both exist.
pub fn summary(rows: &[Row], reference_kind: &str) -> Value {
    let mut counts = serde_json::Map::new();
    for s in STATUSES {
        counts.insert(
            s.into(),
            json!(rows.iter().filter(|r| r.status == s).count()),
        );
    }
    // Largest |computed - file| over the lakes that have both (linear: ds1_l, frustum: ds2_l).
    let diff = |frustum: bool| {
        rows.iter()
            .filter_map(|r| {
                let c = r.change.as_ref()?;
                let (ours, theirs) = if frustum {
                    (c.frustum, r.file_ds.1?)
                } else {
                    (c.linear, r.file_ds.0?)
                };
                Some((ours - theirs).abs())
            })
            .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.max(d))))
    };
    json!({
        "lakes": rows.len(),
        "reference": reference_kind,
        "status": counts,
        "units": {"wse": "m", "area": "km2", "dv": "km3"},
        "max_abs_diff_vs_ds1_l_km3": diff(false),
        "max_abs_diff_vs_ds2_l_km3": diff(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(wse: f64, area: f64) -> LakeState {
        LakeState {
            time: None,
            wse,
            wse_u: 0.0,
            area,
            area_u: 0.0,
        }
    }

    #[test]
    fn hand_derived_values() {
        // h = 10 m, h_ref = 8 m, A = 2 km2, A_ref = 1 km2:
        // linear 2/2 * 3 = 3 m km2 = 0.003 km3; frustum 2/3 * (3 + sqrt 2) m km2.
        let c = storage_change(&state(10.0, 2.0), &state(8.0, 1.0)).unwrap();
        assert!((c.linear - 0.003).abs() < 1e-15);
        assert!((c.frustum - 2.0 / 3.0 * (3.0 + 2f64.sqrt()) * 1e-3).abs() < 1e-15);
        assert_eq!((c.linear_u, c.frustum_u), (0.0, 0.0));
    }

    #[test]
    fn uncertainty_of_heights_alone() {
        // sigma_h = 0.3 and 0.4 -> 0.5 m on dh; linear: (A + A_ref)/2 * 0.5 = 1.5 * 0.5.
        let mut a = state(10.0, 2.0);
        let mut b = state(8.0, 1.0);
        a.wse_u = 0.3;
        b.wse_u = 0.4;
        let c = storage_change(&a, &b).unwrap();
        assert!((c.linear_u - 0.75e-3).abs() < 1e-15, "{}", c.linear_u);
        assert!((c.frustum_u - (3.0 + 2f64.sqrt()) / 3.0 * 0.5e-3).abs() < 1e-15);
    }

    #[test]
    fn equal_states_change_nothing_and_zero_areas_are_refused() {
        let c = storage_change(&state(5.0, 3.0), &state(5.0, 3.0)).unwrap();
        assert_eq!((c.linear, c.frustum), (0.0, 0.0));
        assert_eq!(
            storage_change(&state(5.0, 0.0), &state(4.0, 1.0)),
            Err("zero or negative area")
        );
        assert_eq!(
            storage_change(&state(f64::NAN, 1.0), &state(4.0, 1.0)),
            Err("not finite")
        );
    }
}
