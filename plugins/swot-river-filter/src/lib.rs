//! Quality filter of SWOT L2 HR RiverSP reach products.
//!
//! Reads the reach shapefile zip as distributed by PO.DAAC (`.shp`, `.shx`, `.dbf`
//! inside), turns fill values into nulls, drops unobserved and bad-quality reaches
//! and writes the kept reaches as GeoJSON and CSV, plus a JSON summary that says
//! how many reaches each rule dropped.

use serde_json::{Map, Value, json};

pub use hysope_swot::{FLOAT_FILL, Feature, INT_FILL, Layer, ReadError, TEXT_FILL, read_zip};

/// What to do with a reach whose quality flag is itself a fill value (unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// An unknown flag does not drop the reach (the default: `ice_dyn_f` is fill in every reach of current files).
    Keep,
    /// An unknown flag drops the reach.
    Drop,
}

/// Thresholds of the filter. A reach is kept when every rule passes.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// Keep `reach_q` <= this (0 good, 1 suspect, 2 degraded, 3 bad). Default 1.
    pub max_reach_q: f64,
    /// Keep `ice_clim_f` <= this (0 no ice, 1 partial, 2 full). Default 0.
    pub max_ice_clim_f: f64,
    /// Keep `ice_dyn_f` <= this. Default 0.
    pub max_ice_dyn_f: f64,
    /// Keep `partial_f` <= this (1 = partially observed). Default 0.
    pub max_partial_f: f64,
    /// Keep `xovr_cal_q` <= this (crossover calibration quality). Default 1.
    pub max_xovr_cal_q: f64,
    /// Keep `dark_frac` <= this, if set (fraction of dark water). Default: no rule.
    pub max_dark_frac: Option<f64>,
    /// Keep `obs_frac_n` >= this, if set (fraction of nodes observed). Default: no rule.
    pub min_obs_frac_n: Option<f64>,
    /// Policy for flags that are fill values.
    pub unknown: Unknown,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_reach_q: 1.0,
            max_ice_clim_f: 0.0,
            max_ice_dyn_f: 0.0,
            max_partial_f: 0.0,
            max_xovr_cal_q: 1.0,
            max_dark_frac: None,
            min_obs_frac_n: None,
            unknown: Unknown::Keep,
        }
    }
}

/// Why a reach was dropped (the first failing rule, in this order).
pub const RULES: [&str; 8] = [
    "unobserved",
    "reach_q",
    "ice_clim_f",
    "ice_dyn_f",
    "partial_f",
    "xovr_cal_q",
    "dark_frac",
    "obs_frac_n",
];

/// The rule that drops this reach, or `None` when it is kept.
pub fn rejection(feature: &Feature, t: &Thresholds) -> Option<&'static str> {
    // A reach without a water surface elevation was not observed in this pass.
    if feature.number("wse").is_none() {
        return Some("unobserved");
    }
    let flag = |name: &'static str, max: f64| -> Option<&'static str> {
        match feature.number(name) {
            Some(v) if v > max => Some(name),
            Some(_) => None,
            None if t.unknown == Unknown::Drop => Some(name),
            None => None,
        }
    };
    flag("reach_q", t.max_reach_q)
        .or_else(|| flag("ice_clim_f", t.max_ice_clim_f))
        .or_else(|| flag("ice_dyn_f", t.max_ice_dyn_f))
        .or_else(|| flag("partial_f", t.max_partial_f))
        .or_else(|| flag("xovr_cal_q", t.max_xovr_cal_q))
        .or_else(|| t.max_dark_frac.and_then(|max| flag("dark_frac", max)))
        .or_else(|| {
            let min = t.min_obs_frac_n?;
            match feature.number("obs_frac_n") {
                Some(v) if v < min => Some("obs_frac_n"),
                Some(_) => None,
                None if t.unknown == Unknown::Drop => Some("obs_frac_n"),
                None => None,
            }
        })
}

/// The result of filtering one layer.
#[derive(Debug, Clone)]
pub struct Filtered {
    /// Kept features.
    pub kept: Vec<Feature>,
    /// Count of dropped features per rule.
    pub dropped: Vec<(&'static str, usize)>,
    /// Count of features whose flag was unknown (fill) and kept anyway, per flag.
    pub unknown_flags: Vec<(&'static str, usize)>,
}

/// Applies the thresholds.
pub fn filter(layer: &Layer, t: &Thresholds) -> Filtered {
    let mut dropped: Vec<(&'static str, usize)> = RULES.iter().map(|r| (*r, 0)).collect();
    let mut unknown: Vec<(&'static str, usize)> = RULES[1..].iter().map(|r| (*r, 0)).collect();
    let mut kept = Vec::new();
    for feature in &layer.features {
        match rejection(feature, t) {
            Some(rule) => {
                if let Some(entry) = dropped.iter_mut().find(|(r, _)| *r == rule) {
                    entry.1 += 1;
                }
            }
            None => {
                for entry in unknown.iter_mut() {
                    if feature.number(entry.0).is_none() {
                        entry.1 += 1;
                    }
                }
                kept.push(feature.clone());
            }
        }
    }
    Filtered {
        kept,
        dropped,
        unknown_flags: unknown,
    }
}

/// The kept features as a GeoJSON FeatureCollection.
pub fn to_geojson(features: &[Feature]) -> Value {
    let features: Vec<Value> = features
        .iter()
        .map(|f| {
            let properties: Map<String, Value> = f.properties.iter().cloned().collect();
            json!({ "type": "Feature", "geometry": f.geometry, "properties": properties })
        })
        .collect();
    json!({ "type": "FeatureCollection", "features": features })
}

/// The kept features as CSV (RFC 4180), one column per attribute, empty for null.
pub fn to_csv(fields: &[String], features: &[Feature]) -> String {
    let mut out = String::new();
    out.push_str(
        &fields
            .iter()
            .map(|f| hysope_swot::csv::cell(f))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push('\n');
    for feature in features {
        let row: Vec<String> = fields
            .iter()
            .map(|name| match feature.get(name) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => hysope_swot::csv::cell(s),
                Some(other) => other.to_string(),
            })
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(pairs: &[(&str, Value)]) -> Feature {
        Feature {
            properties: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            geometry: Value::Null,
        }
    }

    #[test]
    fn unknown_flags_follow_the_policy() {
        let f = feature(&[
            ("wse", json!(7.6)),
            ("reach_q", json!(1)),
            ("ice_dyn_f", Value::Null),
        ]);
        assert_eq!(rejection(&f, &Thresholds::default()), None);
        let strict = Thresholds {
            unknown: Unknown::Drop,
            ..Thresholds::default()
        };
        assert_eq!(rejection(&f, &strict), Some("ice_clim_f"));
        let bad = feature(&[("wse", json!(7.6)), ("reach_q", json!(2))]);
        assert_eq!(rejection(&bad, &Thresholds::default()), Some("reach_q"));
        let unobserved = feature(&[("wse", Value::Null), ("reach_q", json!(0))]);
        assert_eq!(
            rejection(&unobserved, &Thresholds::default()),
            Some("unobserved")
        );
    }

    #[test]
    fn csv_quotes_commas() {
        let f = feature(&[("a", json!("x, y")), ("b", Value::Null), ("c", json!(1.5))]);
        let csv = to_csv(&["a".into(), "b".into(), "c".into()], &[f]);
        assert_eq!(csv, "a,b,c\n\"x, y\",,1.5\n");
    }
}
