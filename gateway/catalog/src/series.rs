//! Time series of many features at once (`/timeseries/{reaches|nodes|lakes}`):
//! the features named by ids, found in a box, or the nodes of a reach; the
//! observations of each between two times, with chosen fields and the quality
//! flags beside them, a quality threshold and a fill policy; written as CSV,
//! compact GeoJSON (one feature per reach, node or lake, its fields as arrays) or
//! NetCDF (CF discrete sampling geometry `timeSeries`, contiguous ragged arrays).
//!
//! What Hydrocron's users miss is the rule here: numbers are numbers, a fill value
//! is never a number (null in JSON, an empty cell in CSV, `_FillValue` in NetCDF),
//! and the quality flags come with the fields. CSV and GeoJSON are produced one
//! feature at a time ([`write`]) so that a server can stream them.

use serde_json::{Map, Value, json};

use crate::features::{self, FeatureQuery};
use crate::netcdf::{self, Attr, Values, Variable};
use crate::store::{CatalogStore, Observation};
use crate::timeseries::quality_field;
use crate::{Error, Result};

/// Features in one request at most.
pub const MAX_FEATURES: usize = features::MAX_LIMIT;
/// Observations in one NetCDF reply at most: it is built whole before it is sent,
/// with only the columns asked for (CSV and GeoJSON are streamed instead).
pub const MAX_NETCDF_OBSERVATIONS: usize = 500_000;
/// Fields one request may name at most.
pub const MAX_FIELDS: usize = 64;
/// The fill value of doubles in NetCDF replies (SWOT's own).
pub const DOUBLE_FILL: f64 = -999_999_999_999.0;
/// The fill value of ints (flags) in NetCDF replies (SWOT's own).
pub const INT_FILL: i32 = -999;

/// Flags every reply carries beside the fields (those the product has).
const COMMON_FLAGS: [&str; 4] = ["ice_clim_f", "ice_dyn_f", "partial_f", "xovr_cal_q"];

/// Reply formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `text/csv`, one row per observation.
    Csv,
    /// `application/geo+json`, one feature per reach, node or lake.
    GeoJson,
    /// `application/x-netcdf`, CF-1.8 `timeSeries`.
    NetCdf,
}

impl Output {
    /// The media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Output::Csv => "text/csv; charset=utf-8",
            Output::GeoJson => "application/geo+json",
            Output::NetCdf => "application/x-netcdf",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Output::Csv => "csv",
            Output::GeoJson => "geojson",
            Output::NetCdf => "nc",
        }
    }
}

/// What becomes of an observation one of whose fields is unknown (a fill value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fills {
    /// Kept, the unknown values as null (the default).
    Null,
    /// Left out.
    Drop,
}

/// A validated request.
#[derive(Debug, Clone)]
pub struct SeriesRequest {
    /// `reach`, `node` or `lake`.
    pub kind: &'static str,
    /// The features named.
    pub ids: Vec<String>,
    /// Or the features in a box.
    pub bbox: Option<[f64; 4]>,
    /// Or the nodes of a reach.
    pub reach: Option<String>,
    /// Inclusive start, RFC 3339 with microseconds.
    pub start: Option<String>,
    /// Inclusive end.
    pub end: Option<String>,
    /// Fields returned.
    pub fields: Vec<String>,
    /// Keep observations whose quality flag is known and at most this.
    pub max_quality: Option<f64>,
    /// The fill policy.
    pub fills: Fills,
    /// The format.
    pub output: Output,
}

/// A feature of a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Its id.
    pub id: String,
    /// Its names, `; `-separated, if known.
    pub name: Option<String>,
    /// Its box, if the catalogue has its geometry.
    pub bbox: Option<[f64; 4]>,
    /// Its geometry (GeoJSON replies only), or null.
    pub geometry: Value,
}

fn bad(text: impl Into<String>) -> Error {
    Error::InvalidParameter(text.into())
}

fn time_param(key: &str, value: &str) -> Result<String> {
    let t = crate::search::micros(value)
        .ok_or_else(|| bad(format!("{key}: {value:?} is not an RFC 3339 date-time")))?;
    chrono::DateTime::from_timestamp_micros(t)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .ok_or_else(|| bad(format!("{key}: {value:?} is out of range")))
}

/// A field name: letters, digits and underscores (it names a NetCDF variable).
fn check_field(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "fields: {name:?} is not a field name (letters, digits, _)"
        )))
    }
}

impl SeriesRequest {
    /// A request for collection `collection` (`reaches`, `nodes`, `lakes`) from URL
    /// parameters: `ids`, `bbox`, `reach` (nodes), `start_time`, `end_time`,
    /// `fields`, `quality`, `fills` (`null` or `drop`), `output` (`csv`,
    /// `geojson`, `netcdf`); `accept` chooses the format when `output` is absent.
    pub fn from_params(
        collection: &str,
        pairs: &[(String, String)],
        accept: Option<&str>,
    ) -> Result<Self> {
        let kind = features::kind_of(collection).ok_or_else(|| {
            Error::NoSuchCollection(format!("{collection} (time series: reaches, nodes, lakes)"))
        })?;
        let mut r = SeriesRequest {
            kind,
            ids: Vec::new(),
            bbox: None,
            reach: None,
            start: None,
            end: None,
            fields: crate::timeseries::DEFAULT_FIELDS
                .iter()
                .filter(|f| **f != "time_str")
                .map(|s| s.to_string())
                .collect(),
            max_quality: None,
            fills: Fills::Null,
            output: Output::GeoJson,
        };
        let mut output = None;
        for (key, value) in pairs {
            match key.as_str() {
                "ids" | "feature_ids" => {
                    for id in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        features::check_id(kind, id)?;
                        if !r.ids.iter().any(|i| i == id) {
                            r.ids.push(id.to_string());
                        }
                    }
                    if r.ids.len() > MAX_FEATURES {
                        return Err(bad(format!("ids: more than {MAX_FEATURES} features")));
                    }
                }
                "bbox" => r.bbox = Some(features::parse_bbox(value)?),
                "reach" | "reach_id" if kind == "node" => {
                    features::check_id("reach", value)?;
                    r.reach = Some(value.clone());
                }
                "start_time" => r.start = Some(time_param(key, value)?),
                "end_time" => r.end = Some(time_param(key, value)?),
                "fields" => {
                    let mut fields = Vec::new();
                    for f in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                        check_field(f)?;
                        if !fields.iter().any(|x| x == f) {
                            fields.push(f.to_string());
                        }
                    }
                    if fields.len() > MAX_FIELDS {
                        return Err(bad(format!("fields: more than {MAX_FIELDS}")));
                    }
                    r.fields = fields;
                }
                "quality" | "max_quality" => {
                    let q: f64 = value.parse().map_err(|_| {
                        bad(format!(
                            "{key}: {value:?} is not a number (0 best .. 3 bad)"
                        ))
                    })?;
                    r.max_quality = Some(q);
                }
                "fills" => {
                    r.fills = match value.as_str() {
                        "null" => Fills::Null,
                        "drop" => Fills::Drop,
                        other => {
                            return Err(bad(format!("fills: {other:?} is not null or drop")));
                        }
                    }
                }
                "output" | "f" => output = Some(value.clone()),
                other => {
                    return Err(bad(format!(
                        "{other}: not a time series parameter (ids, bbox,{} start_time, end_time, fields, quality, fills, output)",
                        if kind == "node" { " reach," } else { "" }
                    )));
                }
            }
        }
        let chosen = [!r.ids.is_empty(), r.bbox.is_some(), r.reach.is_some()];
        match chosen.iter().filter(|c| **c).count() {
            1 => {}
            0 => {
                return Err(bad(format!(
                    "ids: name the features (ids=...), or give a bbox{}",
                    if kind == "node" { ", or a reach" } else { "" }
                )));
            }
            _ => return Err(bad("ids: give one of ids, bbox and reach, not several")),
        }
        if let (Some(a), Some(b)) = (&r.start, &r.end) {
            if a > b {
                return Err(bad(format!("start_time {a} is after end_time {b}")));
            }
        }
        r.output = match output.as_deref() {
            Some("csv") => Output::Csv,
            Some("geojson" | "json") => Output::GeoJson,
            Some("netcdf" | "nc") => Output::NetCdf,
            Some(other) => {
                return Err(bad(format!(
                    "output: {other:?} is not csv, geojson or netcdf"
                )));
            }
            None => match accept.unwrap_or_default() {
                a if a.contains("text/csv") => Output::Csv,
                a if a.contains("netcdf") => Output::NetCdf,
                _ => Output::GeoJson,
            },
        };
        Ok(r)
    }

    /// The flags returned beside the fields: the feature's quality flag, the ice,
    /// partial and crossover flags, and `F_q` for each discharge field `F`.
    pub fn flags(&self) -> Vec<String> {
        let mut flags = vec![quality_field(self.kind).to_string()];
        flags.extend(COMMON_FLAGS.iter().map(|f| f.to_string()));
        flags.extend(
            self.fields
                .iter()
                .filter(|f| f.starts_with("dschg_") && !f.ends_with("_q") && !f.ends_with("_u"))
                .map(|f| format!("{f}_q")),
        );
        flags.retain(|f| !self.fields.contains(f));
        flags
    }

    /// The features of the request, in id order. Ids the catalogue has no feature
    /// record of are kept (their series may still exist); a box or a reach that
    /// holds more than [`MAX_FEATURES`] is refused.
    pub fn resolve(&self, store: &dyn CatalogStore, now: i64) -> Result<Vec<Target>> {
        let query = FeatureQuery {
            kind: self.kind,
            bbox: self.bbox,
            ids: self.ids.clone(),
            reach: self.reach.clone(),
            limit: MAX_FEATURES,
            now,
            ..Default::default()
        };
        let page = store.features(&query)?;
        if page.next.is_some() {
            let what = if self.bbox.is_some() { "bbox" } else { "reach" };
            return Err(bad(format!(
                "{what}: {} features, more than the {MAX_FEATURES} of one request: narrow it",
                page.matched.map_or("more".to_string(), |n| n.to_string())
            )));
        }
        let mut targets: Vec<Target> = page
            .to_values()
            .into_iter()
            .map(|f| {
                let name = f["properties"][features::name_field(self.kind)]
                    .as_str()
                    .map(str::to_string);
                let bbox = f["bbox"].as_array().and_then(|b| {
                    let v: Vec<f64> = b.iter().filter_map(Value::as_f64).collect();
                    (v.len() == 4).then(|| [v[0], v[1], v[2], v[3]])
                });
                Target {
                    id: f["id"].as_str().unwrap_or_default().to_string(),
                    name,
                    bbox,
                    geometry: f["geometry"].clone(),
                }
            })
            .collect();
        for id in &self.ids {
            if !targets.iter().any(|t| &t.id == id) {
                targets.push(Target {
                    id: id.clone(),
                    name: None,
                    bbox: None,
                    geometry: Value::Null,
                });
            }
        }
        targets.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(targets)
    }

    /// The observations of one feature the request keeps, oldest first, and how
    /// many the quality threshold and the fill policy left out.
    pub fn rows(
        &self,
        store: &dyn CatalogStore,
        id: &str,
    ) -> Result<(Vec<Observation>, usize, usize)> {
        let all = store.observations(self.kind, id, self.start.as_deref(), self.end.as_deref())?;
        let flag = quality_field(self.kind);
        let (mut by_quality, mut by_fills) = (0, 0);
        let rows = all
            .into_iter()
            .filter(|o| {
                if let Some(max) = self.max_quality {
                    let q = o.properties.get(flag).and_then(Value::as_f64);
                    if !q.is_some_and(|q| q <= max) {
                        by_quality += 1;
                        return false;
                    }
                }
                if self.fills == Fills::Drop
                    && self
                        .fields
                        .iter()
                        .any(|f| o.properties.get(f).is_none_or(Value::is_null))
                {
                    by_fills += 1;
                    return false;
                }
                true
            })
            .collect();
        Ok((rows, by_quality, by_fills))
    }

    /// The columns of a row after the id and time: fields, flags, item.
    fn columns(&self) -> Vec<String> {
        let mut c = self.fields.clone();
        c.extend(self.flags());
        c
    }
}

fn csv_cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => hysope_swot::csv::cell(s),
        Some(other) => hysope_swot::csv::cell(&other.to_string()),
    }
}

/// Writes a reply one feature at a time: `emit` takes each chunk and returns
/// false when nobody reads any more (the writing stops). NetCDF is built whole
/// and emitted at the end.
pub fn write(
    request: &SeriesRequest,
    store: &dyn CatalogStore,
    targets: &[Target],
    mut emit: impl FnMut(Vec<u8>) -> bool,
) -> Result<()> {
    let columns = request.columns();
    let id_column = format!("{}_id", request.kind);
    match request.output {
        Output::Csv => {
            let mut header = vec![id_column.clone(), "time".into()];
            header.extend(columns.iter().cloned());
            header.push("item".into());
            if !emit(format!("{}\n", header.join(",")).into_bytes()) {
                return Ok(());
            }
            for t in targets {
                let (rows, _, _) = request.rows(store, &t.id)?;
                let mut out = String::new();
                for o in &rows {
                    out.push_str(&t.id);
                    out.push(',');
                    out.push_str(&o.time);
                    for c in &columns {
                        out.push(',');
                        out.push_str(&csv_cell(o.properties.get(c)));
                    }
                    out.push(',');
                    out.push_str(&hysope_swot::csv::cell(&o.item_id));
                    out.push('\n');
                }
                if !out.is_empty() && !emit(out.into_bytes()) {
                    return Ok(());
                }
            }
            Ok(())
        }
        Output::GeoJson => {
            let head = json!({"fields": request.fields, "flags": request.flags(),
                              "units": crate::timeseries::units_of(request.kind, &columns)});
            let mut start = format!(
                "{{\"type\":\"FeatureCollection\",\"kind\":\"{}\",\"fields\":{},\"flags\":{},\"units\":{},\"features\":[",
                request.kind, head["fields"], head["flags"], head["units"]
            );
            let (mut dropped_q, mut dropped_f, mut n) = (0usize, 0usize, 0usize);
            for (i, t) in targets.iter().enumerate() {
                let (rows, q, f) = request.rows(store, &t.id)?;
                dropped_q += q;
                dropped_f += f;
                n += rows.len();
                let mut p = Map::new();
                p.insert(id_column.clone(), json!(t.id));
                p.insert(features::name_field(request.kind).into(), json!(t.name));
                p.insert("count".into(), json!(rows.len()));
                p.insert(
                    "time".into(),
                    Value::Array(rows.iter().map(|o| json!(o.time)).collect()),
                );
                for c in &columns {
                    let values = rows
                        .iter()
                        .map(|o| o.properties.get(c).cloned().unwrap_or(Value::Null))
                        .collect();
                    p.insert(c.clone(), Value::Array(values));
                }
                p.insert(
                    "item".into(),
                    Value::Array(rows.iter().map(|o| json!(o.item_id)).collect()),
                );
                let feature =
                    json!({"type": "Feature", "id": t.id, "geometry": t.geometry, "properties": p});
                if i > 0 {
                    start.push(',');
                }
                start.push_str(&feature.to_string());
                if !emit(std::mem::take(&mut start).into_bytes()) {
                    return Ok(());
                }
            }
            start.push_str(&format!(
                "],\"numberReturned\":{},\"observations\":{n},\"droppedByQuality\":{dropped_q},\"droppedByFills\":{dropped_f}}}",
                targets.len()
            ));
            emit(start.into_bytes());
            Ok(())
        }
        Output::NetCdf => {
            let bytes = netcdf_reply(request, store, targets)?;
            emit(bytes);
            Ok(())
        }
    }
}

/// The reply as a NetCDF file: CF-1.8 `timeSeries` in contiguous ragged arrays
/// (`row_size` with `sample_dimension = "obs"`).
fn netcdf_reply(
    request: &SeriesRequest,
    store: &dyn CatalogStore,
    targets: &[Target],
) -> Result<Vec<u8>> {
    let columns = request.columns();
    let flags = request.flags();
    let mut rows_of = Vec::with_capacity(targets.len());
    let mut total = 0usize;
    for t in targets {
        let (mut rows, _, _) = request.rows(store, &t.id)?;
        // Only the columns asked for are kept while the file is built.
        for o in &mut rows {
            o.properties.retain(|k, _| columns.contains(k));
        }
        total += rows.len();
        if total > MAX_NETCDF_OBSERVATIONS {
            return Err(bad(format!(
                "output: more than {MAX_NETCDF_OBSERVATIONS} observations for one NetCDF reply: ask for CSV or GeoJSON (streamed), or narrow the request"
            )));
        }
        rows_of.push(rows);
    }
    let all: Vec<&Observation> = rows_of.iter().flatten().collect();
    let width = |lens: &mut dyn Iterator<Item = usize>| lens.max().unwrap_or(0).max(1);
    let id_len = width(&mut targets.iter().map(|t| t.id.len()));
    let name_len = width(
        &mut targets
            .iter()
            .map(|t| t.name.as_deref().map_or(0, str::len)),
    );
    let item_len = width(&mut all.iter().map(|o| o.item_id.len()));
    let mut file = netcdf::File {
        dims: vec![
            ("feature".into(), targets.len()),
            ("obs".into(), all.len()),
            ("id_len".into(), id_len),
            ("name_len".into(), name_len),
            ("item_len".into(), item_len),
        ],
        attrs: vec![
            ("Conventions".into(), Attr::Text("CF-1.8".into())),
            ("featureType".into(), Attr::Text("timeSeries".into())),
            (
                "title".into(),
                Attr::Text(format!("SWOT {} time series", request.kind)),
            ),
            (
                "source".into(),
                Attr::Text("SWOT L2 HR products catalogued by Hysope".into()),
            ),
            (
                "date_created".into(),
                Attr::Text(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            ),
        ],
        vars: Vec::new(),
    };
    let text = |s: &str| Attr::Text(s.to_string());
    file.vars.push(Variable {
        name: format!("{}_id", request.kind),
        dims: vec![0, 2],
        attrs: vec![
            ("cf_role".into(), text("timeseries_id")),
            (
                "long_name".into(),
                text(&format!("SWOT {} id", request.kind)),
            ),
        ],
        values: Values::Char(netcdf::strings(
            targets.iter().map(|t| t.id.as_str()),
            id_len,
        )),
    });
    file.vars.push(Variable {
        name: features::name_field(request.kind).into(),
        dims: vec![0, 3],
        attrs: vec![("long_name".into(), text("name(s) in the products"))],
        values: Values::Char(netcdf::strings(
            targets.iter().map(|t| t.name.as_deref().unwrap_or("")),
            name_len,
        )),
    });
    let centre = |i: usize| {
        targets
            .iter()
            .map(|t| t.bbox.map_or(DOUBLE_FILL, |b| (b[i] + b[i + 2]) / 2.0))
            .collect::<Vec<_>>()
    };
    for (name, standard, units, i) in [
        ("lat", "latitude", "degrees_north", 1),
        ("lon", "longitude", "degrees_east", 0),
    ] {
        file.vars.push(Variable {
            name: name.into(),
            dims: vec![0],
            attrs: vec![
                ("standard_name".into(), text(standard)),
                ("units".into(), text(units)),
                ("long_name".into(), text("centre of the feature's box")),
                ("_FillValue".into(), Attr::Double(vec![DOUBLE_FILL])),
            ],
            values: Values::Double(centre(i)),
        });
    }
    file.vars.push(Variable {
        name: "row_size".into(),
        dims: vec![0],
        attrs: vec![
            (
                "long_name".into(),
                text("number of observations of each feature"),
            ),
            ("sample_dimension".into(), text("obs")),
        ],
        values: Values::Int(rows_of.iter().map(|r| r.len() as i32).collect()),
    });
    let seconds = all
        .iter()
        .map(|o| crate::search::micros(&o.time).map_or(DOUBLE_FILL, |t| t as f64 / 1e6))
        .collect();
    file.vars.push(Variable {
        name: "time".into(),
        dims: vec![1],
        attrs: vec![
            ("standard_name".into(), text("time")),
            ("units".into(), text("seconds since 1970-01-01 00:00:00")),
            ("calendar".into(), text("standard")),
        ],
        values: Values::Double(seconds),
    });
    for c in &columns {
        let values: Vec<Option<&Value>> = all
            .iter()
            .map(|o| o.properties.get(c).filter(|v| !v.is_null()))
            .collect();
        let numeric = values.iter().flatten().all(|v| v.is_number());
        let is_flag = flags.contains(c);
        let mut attrs = vec![("coordinates".into(), text("time lat lon"))];
        if let Some(u) = crate::timeseries::units(request.kind, c) {
            attrs.push(("units".into(), text(u)));
        }
        let values = if numeric && is_flag {
            attrs.push(("_FillValue".into(), Attr::Int(vec![INT_FILL])));
            Values::Int(
                values
                    .iter()
                    .map(|v| v.and_then(Value::as_f64).map_or(INT_FILL, |x| x as i32))
                    .collect(),
            )
        } else if numeric {
            attrs.push(("_FillValue".into(), Attr::Double(vec![DOUBLE_FILL])));
            Values::Double(
                values
                    .iter()
                    .map(|v| v.and_then(Value::as_f64).unwrap_or(DOUBLE_FILL))
                    .collect(),
            )
        } else {
            let strings: Vec<String> = values
                .iter()
                .map(|v| match v {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                })
                .collect();
            let len = width(&mut strings.iter().map(String::len));
            let dim = file.dims.len();
            file.dims.push((format!("{c}_len"), len));
            file.vars.push(Variable {
                name: c.clone(),
                dims: vec![1, dim],
                attrs,
                values: Values::Char(netcdf::strings(strings.iter().map(String::as_str), len)),
            });
            continue;
        };
        file.vars.push(Variable {
            name: c.clone(),
            dims: vec![1],
            attrs,
            values,
        });
    }
    file.vars.push(Variable {
        name: "item".into(),
        dims: vec![1, 4],
        attrs: vec![(
            "long_name".into(),
            text("the product (catalogue item) of the observation"),
        )],
        values: Values::Char(netcdf::strings(
            all.iter().map(|o| o.item_id.as_str()),
            item_len,
        )),
    });
    file.to_bytes().map_err(Error::Store)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn units_follow_the_product_descriptions() {
        use crate::timeseries::units;
        assert_eq!(units("reach", "wse"), Some("m"));
        assert_eq!(units("reach", "d_x_area"), Some("m^2"));
        assert_eq!(units("node", "area_total"), Some("m^2"));
        assert_eq!(units("lake", "area_total"), Some("km^2"));
        assert_eq!(units("lake", "ds1_l_u"), Some("km^3"));
        assert_eq!(units("reach", "dschg_gc_u"), Some("m^3/s"));
        assert_eq!(units("reach", "dschg_csf"), Some("1"));
        assert_eq!(units("reach", "n_good_nod"), Some("1"));
        for unitless in [
            "reach_q",
            "dschg_c_q",
            "dschg_q_b",
            "rch_id_up",
            "p_dam_id",
            "river_name",
        ] {
            assert_eq!(units("reach", unitless), None, "{unitless}");
        }
    }

    #[test]
    fn requests_name_their_features_once_and_their_parameters_are_checked() {
        let r = SeriesRequest::from_params(
            "reaches",
            &pairs(&[
                ("ids", "74269900011,74269900011"),
                ("fields", "wse,dschg_c"),
            ]),
            Some("text/csv"),
        )
        .unwrap();
        assert_eq!(r.ids.len(), 1);
        assert_eq!(r.output, Output::Csv);
        assert_eq!(
            r.flags(),
            [
                "reach_q",
                "ice_clim_f",
                "ice_dyn_f",
                "partial_f",
                "xovr_cal_q",
                "dschg_c_q"
            ]
        );
        let err = |list: &[(&str, &str)]| {
            SeriesRequest::from_params("reaches", &pairs(list), None)
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[]).contains("ids"));
        assert!(err(&[("ids", "74269900011"), ("bbox", "0,0,1,1")]).contains("not several"));
        assert!(err(&[("ids", "1")]).contains("11 digits"));
        assert!(err(&[("ids", "74269900011"), ("fields", "wse;drop")]).contains("fields"));
        assert!(err(&[("ids", "74269900011"), ("fills", "zero")]).contains("fills"));
        assert!(err(&[("ids", "74269900011"), ("output", "xls")]).contains("output"));
        assert!(err(&[("ids", "74269900011"), ("reach", "74269900011")]).contains("reach"));
        assert!(
            err(&[
                ("ids", "74269900011"),
                ("start_time", "2024-02-01T00:00:00Z"),
                ("end_time", "2024-01-01T00:00:00Z")
            ])
            .contains("after")
        );
        assert!(
            SeriesRequest::from_params("nodes", &pairs(&[("reach", "74269900011")]), None).is_ok()
        );
        assert!(matches!(
            SeriesRequest::from_params("rivers", &[], None),
            Err(Error::NoSuchCollection(_))
        ));
    }
}
