//! Quality filter of SWOT L2 HR RiverSP reach products.
//!
//! Reads the reach shapefile zip as distributed by PO.DAAC (`.shp`, `.shx`, `.dbf`
//! inside), turns fill values into nulls, drops unobserved and bad-quality reaches
//! and writes the kept reaches as GeoJSON and CSV, plus a JSON summary that says
//! how many reaches each rule dropped.

use std::io::{Cursor, Read, Seek};

use serde_json::{Map, Value, json};

/// Float fill value of SWOT shapefiles.
pub const FLOAT_FILL: f64 = -999_999_999_999.0;
/// Integer fill value of SWOT shapefiles.
pub const INT_FILL: f64 = -999.0;
/// Text fill value of SWOT shapefiles.
pub const TEXT_FILL: &str = "no_data";

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

/// One feature of the shapefile: attribute values in file order and its geometry.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Attribute name and value (null for fill values), in the order of the .dbf.
    pub properties: Vec<(String, Value)>,
    /// GeoJSON geometry (LineString or MultiLineString), or null.
    pub geometry: Value,
}

impl Feature {
    /// The value of an attribute.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    fn number(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(Value::as_f64)
    }
}

/// A read shapefile.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Attribute names in file order.
    pub fields: Vec<String>,
    /// The features.
    pub features: Vec<Feature>,
}

/// Error of reading or filtering, with what and where.
#[derive(Debug)]
pub struct FilterError(pub String);

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FilterError {}

/// Reads a RiverSP shapefile zip (`.shp` + `.dbf`, `.shx` optional) from its bytes.
pub fn read_zip(bytes: &[u8], name: &str) -> Result<Layer, FilterError> {
    let err = |what: String| FilterError(format!("{name}: {what}"));
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| err(format!("not a readable zip archive: {e}")))?;
    let mut member = |ext: &str| -> Result<Option<Vec<u8>>, FilterError> {
        let Some(entry) = archive
            .file_names()
            .filter_map(|n| n.ok().map(|n| n.to_string()))
            .find(|n| n.to_ascii_lowercase().ends_with(ext))
        else {
            return Ok(None);
        };
        let mut file = archive
            .by_name(&entry)
            .map_err(|e| err(format!("{entry}: {e}")))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(|e| err(format!("{entry}: truncated or corrupt member: {e}")))?;
        Ok(Some(data))
    };
    let shp = member(".shp")?.ok_or_else(|| err("no .shp member: not a shapefile zip".into()))?;
    let dbf = member(".dbf")?.ok_or_else(|| err("no .dbf member: not a shapefile zip".into()))?;
    read_layer(Cursor::new(shp), Cursor::new(dbf)).map_err(|e| err(e.0))
}

/// Reads a shapefile from its `.shp` and `.dbf` streams.
pub fn read_layer<S: Read + Seek, D: Read + Seek>(shp: S, dbf: D) -> Result<Layer, FilterError> {
    let shapes = shapefile::ShapeReader::new(shp).map_err(|e| FilterError(format!(".shp: {e}")))?;
    let records = dbase::Reader::new(dbf).map_err(|e| FilterError(format!(".dbf: {e}")))?;
    let fields: Vec<String> = records
        .fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let mut reader = shapefile::Reader::new(shapes, records);
    let mut features = Vec::new();
    for (index, item) in reader.iter_shapes_and_records().enumerate() {
        let (shape, record) = item.map_err(|e| FilterError(format!("feature {index}: {e}")))?;
        let properties = fields
            .iter()
            .map(|name| {
                (
                    name.clone(),
                    record.get(name).map(field_value).unwrap_or(Value::Null),
                )
            })
            .collect();
        features.push(Feature {
            properties,
            geometry: geometry(&shape),
        });
    }
    Ok(Layer { fields, features })
}

/// A .dbf value as JSON, with SWOT fill values as null.
fn field_value(value: &dbase::FieldValue) -> Value {
    use dbase::FieldValue as F;
    match value {
        F::Character(Some(text)) => {
            let text = text.trim();
            if text.is_empty() || text == TEXT_FILL {
                Value::Null
            } else {
                json!(text)
            }
        }
        F::Numeric(Some(n)) => number(*n),
        F::Float(Some(n)) => number(f64::from(*n)),
        F::Double(n) | F::Currency(n) => number(*n),
        F::Integer(i) => number(f64::from(*i)),
        F::Logical(Some(b)) => json!(b),
        F::Memo(text) => json!(text),
        _ => Value::Null,
    }
}

fn number(n: f64) -> Value {
    if !n.is_finite() || n <= FLOAT_FILL + 1.0 || n == INT_FILL {
        return Value::Null;
    }
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn geometry(shape: &shapefile::Shape) -> Value {
    use shapefile::Shape;
    let line =
        |points: &[shapefile::Point]| points.iter().map(|p| json!([p.x, p.y])).collect::<Vec<_>>();
    let parts: Vec<Vec<Value>> = match shape {
        Shape::Polyline(p) => p.parts().iter().map(|part| line(part)).collect(),
        Shape::PolylineM(p) => p
            .parts()
            .iter()
            .map(|part| part.iter().map(|q| json!([q.x, q.y])).collect())
            .collect(),
        Shape::PolylineZ(p) => p
            .parts()
            .iter()
            .map(|part| part.iter().map(|q| json!([q.x, q.y])).collect())
            .collect(),
        Shape::Point(p) => return json!({ "type": "Point", "coordinates": [p.x, p.y] }),
        Shape::Polygon(p) => {
            let rings: Vec<Vec<Value>> = p.rings().iter().map(|r| line(r.points())).collect();
            return json!({ "type": "Polygon", "coordinates": rings });
        }
        _ => return Value::Null,
    };
    match parts.len() {
        0 => Value::Null,
        1 => json!({ "type": "LineString", "coordinates": parts[0] }),
        _ => json!({ "type": "MultiLineString", "coordinates": parts }),
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
            .map(|f| csv_cell(f))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push('\n');
    for feature in features {
        let row: Vec<String> = fields
            .iter()
            .map(|name| match feature.get(name) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => csv_cell(s),
                Some(other) => other.to_string(),
            })
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
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
    fn fill_values_become_null() {
        assert_eq!(number(-999_999_999_999.0), Value::Null);
        assert_eq!(number(-999.0), Value::Null);
        assert_eq!(number(3.0), json!(3));
        assert_eq!(
            field_value(&dbase::FieldValue::Character(Some("no_data".into()))),
            Value::Null
        );
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
