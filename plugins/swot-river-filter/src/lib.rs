//! Quality filter of SWOT L2 HR RiverSP reach and node products and LakeSP lake
//! products.
//!
//! Reads the shapefile zip as distributed by PO.DAAC (`.shp`, `.shx`, `.dbf`
//! inside), turns fill values into nulls, drops unobserved and bad-quality features
//! and writes the kept features as GeoJSON and CSV, plus a JSON summary that says
//! how many features each rule dropped.

use serde_json::{Map, Value, json};

pub use hysope_swot::{FLOAT_FILL, Feature, INT_FILL, Layer, ReadError, TEXT_FILL, read_zip};

/// The product a shapefile holds, told by its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// RiverSP reaches (`reach_id`, `reach_q`).
    Reach,
    /// RiverSP nodes (`node_id`, `node_q`).
    Node,
    /// LakeSP lakes of a Prior, Obs or Unassigned file (`quality_f`).
    Lake,
}

impl Kind {
    /// The kind of a layer with these fields, if it is one of the three.
    pub fn detect(fields: &[String]) -> Option<Kind> {
        let has = |f: &str| fields.iter().any(|x| x == f);
        if has("quality_f") && (has("lake_id") || has("obs_id")) {
            Some(Kind::Lake)
        } else if has("node_id") && has("node_q") {
            Some(Kind::Node)
        } else if has("reach_id") && has("reach_q") {
            Some(Kind::Reach)
        } else {
            None
        }
    }
    /// `reaches`, `nodes` or `lakes`: the input's name and the outputs' file stem.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Reach => "reaches",
            Kind::Node => "nodes",
            Kind::Lake => "lakes",
        }
    }
    /// The summary quality flag of the kind.
    pub fn quality_flag(self) -> &'static str {
        match self {
            Kind::Reach => "reach_q",
            Kind::Node => "node_q",
            Kind::Lake => "quality_f",
        }
    }
}

/// What to do with a feature whose quality flag is itself a fill value (unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// An unknown flag does not drop the feature (the default: `ice_dyn_f` is fill in
    /// every reach of current files, and both ice flags in every lake).
    Keep,
    /// An unknown flag drops the feature.
    Drop,
}

/// Thresholds of the filter. A feature is kept when every rule of its kind passes.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// Keep `reach_q` <= this (0 good, 1 suspect, 2 degraded, 3 bad). Default 1.
    pub max_reach_q: f64,
    /// Keep `node_q` <= this (same scale). Default 1.
    pub max_node_q: f64,
    /// Keep lake `quality_f` <= this (0 good, 1 suspect, 2 degraded, 3 bad). Default 1.
    pub max_quality_f: f64,
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
    /// Keep `obs_frac_n` >= this, if set (reaches: fraction of nodes observed). Default: no rule.
    pub min_obs_frac_n: Option<f64>,
    /// Policy for flags that are fill values.
    pub unknown: Unknown,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_reach_q: 1.0,
            max_node_q: 1.0,
            max_quality_f: 1.0,
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

/// One rule: a field and its bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Keep the field <= the bound.
    Max(&'static str, f64),
    /// Keep the field >= the bound.
    Min(&'static str, f64),
}

impl Rule {
    /// The field the rule reads.
    pub fn field(&self) -> &'static str {
        match self {
            Rule::Max(f, _) | Rule::Min(f, _) => f,
        }
    }
}

/// The rules of a kind, in the order they are checked (after "unobserved").
pub fn rules(kind: Kind, t: &Thresholds) -> Vec<Rule> {
    let quality = match kind {
        Kind::Reach => t.max_reach_q,
        Kind::Node => t.max_node_q,
        Kind::Lake => t.max_quality_f,
    };
    let mut rules = vec![
        Rule::Max(kind.quality_flag(), quality),
        Rule::Max("ice_clim_f", t.max_ice_clim_f),
        Rule::Max("ice_dyn_f", t.max_ice_dyn_f),
        Rule::Max("partial_f", t.max_partial_f),
        Rule::Max("xovr_cal_q", t.max_xovr_cal_q),
    ];
    if let Some(max) = t.max_dark_frac {
        rules.push(Rule::Max("dark_frac", max));
    }
    if let (Kind::Reach, Some(min)) = (kind, t.min_obs_frac_n) {
        rules.push(Rule::Min("obs_frac_n", min));
    }
    rules
}

/// The rule that drops this feature (`unobserved` or a field name), or `None` when
/// it is kept.
pub fn rejection(feature: &Feature, rules: &[Rule], unknown: Unknown) -> Option<&'static str> {
    // A feature without a water surface elevation was not observed in this pass.
    if feature.number("wse").is_none() {
        return Some("unobserved");
    }
    rules.iter().find_map(|rule| {
        let failed = match (rule, feature.number(rule.field())) {
            (Rule::Max(_, max), Some(v)) => v > *max,
            (Rule::Min(_, min), Some(v)) => v < *min,
            (_, None) => unknown == Unknown::Drop,
        };
        failed.then_some(rule.field())
    })
}

/// The result of filtering one layer.
#[derive(Debug, Clone)]
pub struct Filtered {
    /// Kept features.
    pub kept: Vec<Feature>,
    /// Count of dropped features per rule (`unobserved` first).
    pub dropped: Vec<(&'static str, usize)>,
    /// Count of features whose flag was unknown (fill) and kept anyway, per flag.
    pub unknown_flags: Vec<(&'static str, usize)>,
}

/// Applies the rules of the kind.
pub fn filter(layer: &Layer, kind: Kind, t: &Thresholds) -> Filtered {
    let rules = rules(kind, t);
    let mut dropped: Vec<(&'static str, usize)> = std::iter::once(("unobserved", 0))
        .chain(rules.iter().map(|r| (r.field(), 0)))
        .collect();
    let mut unknown: Vec<(&'static str, usize)> = rules.iter().map(|r| (r.field(), 0)).collect();
    let mut kept = Vec::new();
    for feature in &layer.features {
        match rejection(feature, &rules, t.unknown) {
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
        let t = Thresholds::default();
        let reach = rules(Kind::Reach, &t);
        let f = feature(&[
            ("wse", json!(7.6)),
            ("reach_q", json!(1)),
            ("ice_dyn_f", Value::Null),
        ]);
        assert_eq!(rejection(&f, &reach, Unknown::Keep), None);
        assert_eq!(rejection(&f, &reach, Unknown::Drop), Some("ice_clim_f"));
        let bad = feature(&[("wse", json!(7.6)), ("reach_q", json!(2))]);
        assert_eq!(rejection(&bad, &reach, Unknown::Keep), Some("reach_q"));
        let unobserved = feature(&[("wse", Value::Null), ("reach_q", json!(0))]);
        assert_eq!(
            rejection(&unobserved, &reach, Unknown::Keep),
            Some("unobserved")
        );
    }

    #[test]
    fn each_kind_has_its_quality_flag_and_rules() {
        let field = |n: &str| n.to_string();
        assert_eq!(
            Kind::detect(&[field("reach_id"), field("reach_q")]),
            Some(Kind::Reach)
        );
        assert_eq!(
            Kind::detect(&[field("reach_id"), field("node_id"), field("node_q")]),
            Some(Kind::Node)
        );
        // LakeSP Prior files have a reach_id field too.
        assert_eq!(
            Kind::detect(&[field("lake_id"), field("reach_id"), field("quality_f")]),
            Some(Kind::Lake)
        );
        assert_eq!(Kind::detect(&[field("reach_id")]), None);
        let t = Thresholds {
            max_node_q: 0.0,
            max_quality_f: 2.0,
            min_obs_frac_n: Some(0.5),
            ..Thresholds::default()
        };
        let node = feature(&[
            ("wse", json!(1.0)),
            ("node_q", json!(1)),
            ("obs_frac_n", json!(0.1)),
        ]);
        assert_eq!(
            rejection(&node, &rules(Kind::Node, &t), Unknown::Keep),
            Some("node_q")
        );
        // obs_frac_n is a reach rule only.
        let node = feature(&[
            ("wse", json!(1.0)),
            ("node_q", json!(0)),
            ("obs_frac_n", json!(0.1)),
        ]);
        assert_eq!(
            rejection(&node, &rules(Kind::Node, &t), Unknown::Keep),
            None
        );
        let lake = feature(&[
            ("wse", json!(1.0)),
            ("quality_f", json!(2)),
            ("partial_f", json!(1)),
        ]);
        assert_eq!(
            rejection(&lake, &rules(Kind::Lake, &t), Unknown::Keep),
            Some("partial_f")
        );
        let lake = feature(&[("wse", json!(1.0)), ("quality_f", json!(3))]);
        assert_eq!(
            rejection(&lake, &rules(Kind::Lake, &t), Unknown::Keep),
            Some("quality_f")
        );
        // A lake of unknown quality: kept or dropped as the policy says.
        let lake = feature(&[("wse", json!(1.0)), ("quality_f", Value::Null)]);
        assert_eq!(
            rejection(&lake, &rules(Kind::Lake, &t), Unknown::Keep),
            None
        );
        assert_eq!(
            rejection(&lake, &rules(Kind::Lake, &t), Unknown::Drop),
            Some("quality_f")
        );
    }

    #[test]
    fn csv_quotes_commas() {
        let f = feature(&[("a", json!("x, y")), ("b", Value::Null), ("c", json!(1.5))]);
        let csv = to_csv(&["a".into(), "b".into(), "c".into()], &[f]);
        assert_eq!(csv, "a,b,c\n\"x, y\",,1.5\n");
    }
}
