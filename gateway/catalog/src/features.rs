//! The SWOT features themselves: every reach, node and lake a product names, with
//! its geometry (SWORD reach lines and node points, Prior Lake Database polygons,
//! as the products carry them), its names, and a summary of its passes for map
//! colouring (latest usable WSE, its anomaly against the feature's median, days
//! since, quality). Served as OGC API - Features collections `reaches`, `nodes`
//! and `lakes`, with a name index for search by river or lake name.
//!
//! Stores keep one [`FeatureRecord`] per feature (geometry and passes) and answer
//! [`FeatureQuery`]s; the rules of what a summary says live here, once.
//!
//! A feature is what a product draws: a lake the LakeSP Prior file did not observe
//! has no polygon there (611 of the 723 lakes of the shared file) and becomes a
//! feature with the first product that draws it.
//!
//! Unknowns: a pass whose WSE is a fill value, or whose quality flag is unknown or
//! bad (3), is kept in the record but not *usable*: it gives no latest WSE and no
//! median. A feature never observed usably has null WSE, anomaly and days since:
//! map colouring leaves it uncoloured, and a filter on those properties does not
//! select it (a CQL2 predicate on a null is not true).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use cql2::Expr;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::{Error, Result};

/// The feature collections: (collection id, kind).
pub const COLLECTIONS: [(&str, &str); 3] =
    [("reaches", "reach"), ("nodes", "node"), ("lakes", "lake")];

/// Largest page of features a client may ask for.
pub const MAX_LIMIT: usize = 10_000;
/// Page size when the client does not say.
pub const DEFAULT_LIMIT: usize = 10;
/// The worst quality flag whose WSE is usable (SWOT: 0 good, 1 suspect, 2 degraded, 3 bad).
pub const USABLE_QUALITY: f64 = 2.0;

/// The kind of a features collection (`reaches` -> `reach`).
pub fn kind_of(collection: &str) -> Option<&'static str> {
    COLLECTIONS
        .iter()
        .find(|(c, _)| *c == collection)
        .map(|(_, k)| *k)
}

/// The collection of a kind (`reach` -> `reaches`).
pub fn collection_of(kind: &str) -> &'static str {
    COLLECTIONS
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("lakes", |(c, _)| *c)
}

/// The property holding a kind's name.
pub fn name_field(kind: &str) -> &'static str {
    if kind == "lake" {
        "lake_name"
    } else {
        "river_name"
    }
}

/// Checks a feature id: SWORD reach ids have 11 digits (CBBBBBRRRRT), node ids 14
/// (CBBBBBRRRRNNNT), Prior Lake Database ids 10 (CBBNNNNNNT).
pub fn check_id(kind: &str, id: &str) -> Result<()> {
    let (len, shape) = match kind {
        "reach" => (11, "11 digits (CBBBBBRRRRT)"),
        "node" => (14, "14 digits (CBBBBBRRRRNNNT)"),
        _ => (10, "10 digits (CBBNNNNNNT)"),
    };
    if id.len() == len && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::InvalidParameter(format!(
            "{kind} id {id:?}: expected {shape}"
        )))
    }
}

/// One pass of a feature in one product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pass {
    /// Observation time, RFC 3339 UTC with microseconds.
    pub time: String,
    /// Water surface elevation (m), None for a fill value.
    pub wse: Option<f64>,
    /// The feature's quality flag (0 best .. 3 bad), None when unknown.
    pub quality: Option<f64>,
}

impl Pass {
    /// A known WSE with a known quality flag that is not bad.
    pub fn usable(&self) -> bool {
        self.wse.is_some() && self.quality.is_some_and(|q| q <= USABLE_QUALITY)
    }
}

/// A feature as one product shows it: what ingestion hands the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    /// `reach`, `node` or `lake`.
    pub kind: &'static str,
    /// The feature id.
    pub id: String,
    /// River or lake names (a product may give several, `;`-separated).
    pub names: Vec<String>,
    /// The reach of a node.
    pub parent: Option<String>,
    /// GeoJSON geometry.
    pub geometry: Value,
    /// Its box.
    pub bbox: [f64; 4],
    /// Start of the product (RFC 3339): the newest product's geometry is kept.
    pub product_time: String,
    /// The pass, when the product observed the feature.
    pub pass: Option<Pass>,
}

/// What a store keeps of a feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureRecord {
    /// `reach`, `node` or `lake`.
    pub kind: String,
    /// The feature id.
    pub id: String,
    /// River or lake names.
    pub names: Vec<String>,
    /// The reach of a node.
    pub parent: Option<String>,
    /// GeoJSON geometry of the newest product that carried the feature.
    pub geometry: Value,
    /// Its box.
    pub bbox: [f64; 4],
    /// Start of that product.
    pub product_time: String,
    /// Passes, oldest first, one per time (a product processed again replaces
    /// its earlier version's pass).
    pub passes: Vec<Pass>,
}

impl FeatureRecord {
    /// A record from its first sighting.
    pub fn new(sighting: &Sighting) -> FeatureRecord {
        let mut record = FeatureRecord {
            kind: sighting.kind.to_string(),
            id: sighting.id.clone(),
            names: Vec::new(),
            parent: None,
            geometry: Value::Null,
            bbox: sighting.bbox,
            product_time: String::new(),
            passes: Vec::new(),
        };
        record.absorb(sighting);
        record
    }

    /// Takes in a sighting: the geometry and names when the product is at least
    /// as new as the one kept, the pass (replacing one of the same time: the same
    /// pass read again, or processed again in a new version of the product).
    pub fn absorb(&mut self, sighting: &Sighting) {
        if sighting.product_time >= self.product_time {
            self.product_time = sighting.product_time.clone();
            if !sighting.geometry.is_null() {
                self.geometry = sighting.geometry.clone();
                self.bbox = sighting.bbox;
            }
            if !sighting.names.is_empty() {
                self.names = sighting.names.clone();
            }
            if sighting.parent.is_some() {
                self.parent = sighting.parent.clone();
            }
        }
        if let Some(pass) = &sighting.pass {
            let pass = pass.clone();
            match self.passes.binary_search_by(|p| p.time.cmp(&pass.time)) {
                Ok(i) => self.passes[i] = pass,
                Err(i) => self.passes.insert(i, pass),
            }
        }
    }

    /// The summary of the record.
    pub fn summary(&self) -> Summary {
        let usable: Vec<&Pass> = self.passes.iter().filter(|p| p.usable()).collect();
        let latest = usable.last();
        let mut levels: Vec<f64> = usable.iter().filter_map(|p| p.wse).collect();
        levels.sort_by(f64::total_cmp);
        let median = match levels.len() {
            0 => None,
            n if n % 2 == 1 => Some(levels[n / 2]),
            n => Some((levels[n / 2 - 1] + levels[n / 2]) / 2.0),
        };
        Summary {
            kind: self.kind.clone(),
            id: self.id.clone(),
            names: self.names.clone(),
            parent: self.parent.clone(),
            bbox: self.bbox,
            passes: self.passes.len() as u32,
            usable: usable.len() as u32,
            last_time: latest.and_then(|p| crate::search::micros(&p.time)),
            wse: latest.and_then(|p| p.wse),
            wse_median: median,
            quality: latest.and_then(|p| p.quality),
            best_quality: self
                .passes
                .iter()
                .filter_map(|p| p.quality)
                .min_by(f64::total_cmp),
        }
    }
}

/// What a map needs of a feature, kept in memory by the embedded store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `reach`, `node` or `lake`.
    pub kind: String,
    /// The feature id.
    pub id: String,
    /// River or lake names.
    pub names: Vec<String>,
    /// The reach of a node.
    pub parent: Option<String>,
    /// Box of the geometry.
    pub bbox: [f64; 4],
    /// Passes recorded.
    pub passes: u32,
    /// Usable passes (known WSE, quality known and not bad).
    pub usable: u32,
    /// Time of the latest usable pass, microseconds since 1970.
    pub last_time: Option<i64>,
    /// Its WSE (m).
    pub wse: Option<f64>,
    /// Median WSE of the usable passes (m).
    pub wse_median: Option<f64>,
    /// Quality flag of the latest usable pass.
    pub quality: Option<f64>,
    /// Best quality flag of any pass.
    pub best_quality: Option<f64>,
}

/// First byte of a summary in the binary layout ([`Summary::to_bytes`]); a
/// summary stored as JSON (files written before it) starts with `{`.
const SUMMARY_LAYOUT: u8 = 1;

impl Summary {
    /// The summary as the embedded store keeps it (its kind and id are the row's
    /// key): the layout byte, a byte of which optional numbers follow, the box,
    /// the pass counts, those numbers, the names and the parent, little-endian,
    /// strings as a u16 length and UTF-8. About 90 bytes where JSON took 290: the
    /// 249,000 summaries read at open span a third of the pages.
    pub fn to_bytes(&self) -> Vec<u8> {
        let numbers = [self.wse, self.wse_median, self.quality, self.best_quality];
        let mut present = u8::from(self.last_time.is_some()) | u8::from(self.parent.is_some()) << 7;
        for (i, n) in numbers.iter().enumerate() {
            present |= u8::from(n.is_some()) << (i + 1);
        }
        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(&[SUMMARY_LAYOUT, present]);
        for v in self.bbox {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.passes.to_le_bytes());
        out.extend_from_slice(&self.usable.to_le_bytes());
        if let Some(t) = self.last_time {
            out.extend_from_slice(&t.to_le_bytes());
        }
        for n in numbers.iter().flatten() {
            out.extend_from_slice(&n.to_le_bytes());
        }
        let names = &self.names[..self.names.len().min(u16::MAX as usize)];
        out.extend_from_slice(&(names.len() as u16).to_le_bytes());
        for text in names.iter().chain(&self.parent) {
            // A name longer than 64 KiB (none is) is cut at a character's start.
            let mut end = text.len().min(u16::MAX as usize);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            out.extend_from_slice(&(end as u16).to_le_bytes());
            out.extend_from_slice(&text.as_bytes()[..end]);
        }
        out
    }

    /// A stored summary of the feature `kind`/`id`: the binary layout, or JSON.
    pub fn from_bytes(kind: &str, id: &str, bytes: &[u8]) -> Result<Summary> {
        if bytes.first() == Some(&b'{') {
            return Ok(serde_json::from_slice(bytes)?);
        }
        let bad = |what: &str| Error::Store(format!("{kind} {id}: stored summary {what}"));
        let mut r = Reader { bytes, at: 0 };
        if r.take(1).ok_or_else(|| bad("is empty"))?[0] != SUMMARY_LAYOUT {
            return Err(bad("has an unknown layout"));
        }
        let short = || bad("is cut short");
        let present = r.take(1).ok_or_else(short)?[0];
        let mut bbox = [0.0; 4];
        for v in &mut bbox {
            *v = r.f64().ok_or_else(short)?;
        }
        let passes = r.u32().ok_or_else(short)?;
        let usable = r.u32().ok_or_else(short)?;
        let mut optional = |bit: u8| -> Result<Option<[u8; 8]>> {
            if present & (1 << bit) == 0 {
                return Ok(None);
            }
            Ok(Some(r.array().ok_or_else(short)?))
        };
        let last_time = optional(0)?.map(i64::from_le_bytes);
        let wse = optional(1)?.map(f64::from_le_bytes);
        let wse_median = optional(2)?.map(f64::from_le_bytes);
        let quality = optional(3)?.map(f64::from_le_bytes);
        let best_quality = optional(4)?.map(f64::from_le_bytes);
        let count = u16::from_le_bytes(r.array().ok_or_else(short)?);
        let mut text = || -> Result<String> {
            let len = u16::from_le_bytes(r.array().ok_or_else(short)?) as usize;
            let s = r.take(len).ok_or_else(short)?;
            String::from_utf8(s.to_vec()).map_err(|_| bad("has a name that is not UTF-8"))
        };
        let names = (0..count).map(|_| text()).collect::<Result<Vec<_>>>()?;
        let parent = if present & 0x80 != 0 {
            Some(text()?)
        } else {
            None
        };
        Ok(Summary {
            kind: kind.to_string(),
            id: id.to_string(),
            names,
            parent,
            bbox,
            passes,
            usable,
            last_time,
            wse,
            wse_median,
            quality,
            best_quality,
        })
    }
}

/// A cursor over a stored record's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn f64(&mut self) -> Option<f64> {
        self.array().map(f64::from_le_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }
}

/// Rounds to 1 mm or 0.01 day: the summary's derived numbers carry no false digits.
fn round(x: f64, step: f64) -> f64 {
    // Divided by the whole number of steps per unit, not multiplied by the step:
    // 118 / 1000 is the double nearest 0.118, 118 * 0.001 is 0.11800000000000001.
    // `+ 0.0` turns a rounded -0 into 0.
    (x / step).round() / (1.0 / step).round() + 0.0
}

impl Summary {
    /// The feature's properties at time `now` (microseconds since 1970).
    pub fn properties(&self, now: i64) -> Map<String, Value> {
        let mut p = Map::new();
        p.insert(format!("{}_id", self.kind), json!(self.id));
        let name = (!self.names.is_empty()).then(|| self.names.join("; "));
        p.insert(name_field(&self.kind).into(), json!(name));
        if self.kind == "node" {
            p.insert("reach_id".into(), json!(self.parent));
        }
        p.insert("wse".into(), json!(self.wse));
        p.insert("wse_median".into(), json!(self.wse_median));
        let anomaly = self
            .wse
            .zip(self.wse_median)
            .map(|(w, m)| round(w - m, 0.001));
        p.insert("wse_anomaly".into(), json!(anomaly));
        let last = self
            .last_time
            .and_then(chrono::DateTime::from_timestamp_micros);
        p.insert(
            "last_observation".into(),
            json!(last.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))),
        );
        let days = self
            .last_time
            .map(|t| round((now - t) as f64 / 86_400e6, 0.01));
        p.insert("days_since_last_observation".into(), json!(days));
        p.insert("quality".into(), json!(self.quality.map(|q| q as i64)));
        p.insert(
            "best_quality".into(),
            json!(self.best_quality.map(|q| q as i64)),
        );
        p.insert("usable_passes".into(), json!(self.usable));
        p.insert("passes".into(), json!(self.passes));
        p
    }

    /// The feature as GeoJSON with `geometry` in it (a value, or stored text).
    fn geojson_with<G: Serialize>(&self, geometry: G, now: i64) -> GeoJsonFeature<'_, G> {
        GeoJsonFeature {
            kind: "Feature",
            id: &self.id,
            geometry,
            bbox: self.bbox,
            properties: self.properties(now),
        }
    }

    /// The feature as GeoJSON text, its geometry spliced in as stored (GeoJSON
    /// text; `None` for a feature without one): a page of features is written
    /// without parsing their geometries.
    pub fn to_geojson_raw(&self, geometry: Option<&RawValue>, now: i64) -> Box<RawValue> {
        // A struct of strings, numbers and JSON values always serialises.
        serde_json::value::to_raw_value(&self.geojson_with(geometry, now)).unwrap_or_default()
    }

    /// The feature as GeoJSON, with its geometry.
    pub fn to_geojson(&self, geometry: Value, now: i64) -> Value {
        serde_json::to_value(self.geojson_with(geometry, now)).unwrap_or_default()
    }
}

/// A feature as GeoJSON writes it.
#[derive(Serialize)]
struct GeoJsonFeature<'a, G> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    geometry: G,
    bbox: [f64; 4],
    properties: Map<String, Value>,
}

/// The properties of a feature, their types and what they mean: the collection's
/// queryables.
pub fn queryables(kind: &str) -> Vec<(String, &'static str, &'static str)> {
    let mut q = vec![
        (format!("{kind}_id"), "string", "feature id"),
        (
            name_field(kind).to_string(),
            "string",
            "name(s), `; `-separated",
        ),
        ("wse".into(), "number", "WSE of the latest usable pass (m)"),
        (
            "wse_median".into(),
            "number",
            "median WSE of the usable passes (m)",
        ),
        ("wse_anomaly".into(), "number", "wse - wse_median (m)"),
        (
            "last_observation".into(),
            "string",
            "time of the latest usable pass (RFC 3339)",
        ),
        (
            "days_since_last_observation".into(),
            "number",
            "days from the latest usable pass to the request",
        ),
        (
            "quality".into(),
            "integer",
            "quality flag of the latest usable pass (0 best .. 3 bad)",
        ),
        (
            "best_quality".into(),
            "integer",
            "best quality flag of any pass",
        ),
        (
            "usable_passes".into(),
            "integer",
            "passes with a known WSE and a quality flag up to 2",
        ),
        ("passes".into(), "integer", "passes recorded"),
    ];
    if kind == "node" {
        q.insert(2, ("reach_id".into(), "string", "the node's reach"));
    }
    q
}

/// A request for features of one collection.
#[derive(Debug, Clone, Default)]
pub struct FeatureQuery {
    /// `reach`, `node` or `lake`.
    pub kind: &'static str,
    /// West, south, east, north (west > east crosses the antimeridian).
    pub bbox: Option<[f64; 4]>,
    /// Only these ids.
    pub ids: Vec<String>,
    /// Only the nodes of this reach (nodes only).
    pub reach: Option<String>,
    /// The latest usable pass within this interval (microseconds, inclusive, either open).
    pub datetime: Option<(Option<i64>, Option<i64>)>,
    /// A CQL2 filter over the properties.
    pub filter: Option<Expr>,
    /// Page size.
    pub limit: usize,
    /// The page starts after this id.
    pub after: Option<String>,
    /// The request's time (microseconds), for `days_since_last_observation`.
    pub now: i64,
    /// Leave the geometries out (`skipGeometry=true`, as pygeoapi names it): each
    /// feature keeps its `bbox`, enough for a map's dots at a low zoom.
    pub skip_geometry: bool,
}

/// A page of features.
#[derive(Debug, Clone, Default)]
pub struct FeaturePage {
    /// GeoJSON features (their text), ordered by id.
    pub features: Vec<Box<RawValue>>,
    /// How many match in all, when known without reading them all.
    pub matched: Option<u64>,
    /// The id the next page starts after.
    pub next: Option<String>,
}

impl FeaturePage {
    /// The features parsed (for a caller that reads them, not one that sends
    /// them on).
    pub fn to_values(&self) -> Vec<Value> {
        self.features
            .iter()
            .map(|f| serde_json::from_str(f.get()).unwrap_or(Value::Null))
            .collect()
    }
}

fn bad(text: impl Into<String>) -> Error {
    Error::InvalidParameter(text.into())
}

/// A 2D box from `west,south,east,north` (or the 6-number 3D form).
pub fn parse_bbox(value: &str) -> Result<[f64; 4]> {
    let n: Vec<f64> = value
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad(format!("bbox: {value:?} is not comma-separated numbers")))?;
    let b = match n.len() {
        4 => [n[0], n[1], n[2], n[3]],
        6 => [n[0], n[1], n[3], n[4]],
        _ => {
            return Err(bad(format!(
                "bbox: expected 4 or 6 numbers (west,south,east,north), got {}",
                n.len()
            )));
        }
    };
    let lon = |x: f64| (-180.0..=180.0).contains(&x);
    let lat = |y: f64| (-90.0..=90.0).contains(&y);
    if !(lon(b[0]) && lon(b[2]) && lat(b[1]) && lat(b[3])) || b[1] > b[3] {
        return Err(bad(format!(
            "bbox: {b:?} is not within -180..180, -90..90 with south <= north"
        )));
    }
    Ok(b)
}

/// A `datetime` parameter: an instant or an interval with `..` for open ends.
pub fn parse_datetime(value: &str) -> Result<(Option<i64>, Option<i64>)> {
    let (start, end) = stac::datetime::parse(value).map_err(|e| {
        bad(format!(
            "datetime {value:?}: {e} (RFC 3339 instant or start/end interval with .. for open ends)"
        ))
    })?;
    Ok((
        start.map(|t| t.timestamp_micros()),
        end.map(|t| t.timestamp_micros()),
    ))
}

impl FeatureQuery {
    /// A query of collection `collection` from URL parameters (`bbox`, `bbox-crs`,
    /// `datetime`, `ids`, `reach`, `filter`, `filter-lang`, `filter-crs`, `limit`,
    /// `after`, `f`).
    pub fn from_params(collection: &str, pairs: &[(String, String)], now: i64) -> Result<Self> {
        let kind = kind_of(collection).ok_or_else(|| {
            Error::NoSuchCollection(format!("{collection} (features: reaches, nodes, lakes)"))
        })?;
        let mut q = FeatureQuery {
            kind,
            limit: DEFAULT_LIMIT,
            now,
            ..Default::default()
        };
        let (mut filter, mut lang) = (None, None);
        for (key, value) in pairs {
            match key.as_str() {
                "bbox" => q.bbox = Some(parse_bbox(value)?),
                "bbox-crs" | "filter-crs" | "crs" => {
                    const CRS84: [&str; 2] = [
                        "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                        "[OGC:CRS84]",
                    ];
                    if !CRS84.contains(&value.as_str()) {
                        return Err(bad(format!(
                            "{key}: only CRS84 (http://www.opengis.net/def/crs/OGC/1.3/CRS84) is served, got {value:?}"
                        )));
                    }
                }
                "datetime" => q.datetime = Some(parse_datetime(value)?),
                "ids" => {
                    for id in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        check_id(kind, id)?;
                        q.ids.push(id.to_string());
                    }
                    if q.ids.len() > MAX_LIMIT {
                        return Err(bad(format!("ids: more than {MAX_LIMIT}")));
                    }
                }
                "reach" | "reach_id" if kind == "node" => {
                    check_id("reach", value)?;
                    q.reach = Some(value.clone());
                }
                "limit" => {
                    q.limit = match value.parse::<usize>() {
                        Ok(0) | Err(_) => {
                            return Err(bad(format!(
                                "limit: expected a positive integer, got {value:?}"
                            )));
                        }
                        Ok(n) => n.min(MAX_LIMIT),
                    }
                }
                "after" => {
                    check_id(kind, value)?;
                    q.after = Some(value.clone());
                }
                "filter" => filter = Some(value.clone()),
                "filter-lang" => lang = Some(value.clone()),
                "skipGeometry" => {
                    q.skip_geometry = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(bad(format!(
                                "skipGeometry: expected true or false, got {value:?}"
                            )));
                        }
                    }
                }
                "f" => {}
                other => {
                    return Err(bad(format!(
                        "{other}: not a parameter of features (bbox, bbox-crs, datetime, ids,{} filter, filter-lang, limit, after, skipGeometry, f)",
                        if kind == "node" { " reach," } else { "" }
                    )));
                }
            }
        }
        if let Some(text) = filter {
            q.filter = Some(crate::search::parse_filter(&text, lang.as_deref())?);
        }
        Ok(q)
    }

    /// True when a summary passes every condition but the box and the page.
    pub fn matches(&self, s: &Summary) -> bool {
        if !self.ids.is_empty() && !self.ids.contains(&s.id) {
            return false;
        }
        if let Some(reach) = &self.reach {
            if s.parent.as_ref() != Some(reach) {
                return false;
            }
        }
        if let Some((start, end)) = self.datetime {
            let Some(t) = s.last_time else { return false };
            if start.is_some_and(|a| t < a) || end.is_some_and(|b| t > b) {
                return false;
            }
        }
        if let Some(filter) = &self.filter {
            let doc = json!({ "id": s.id, "properties": s.properties(self.now) });
            if !filter.clone().reduce(Some(&doc)).is_ok_and(Expr::is_true) {
                return false;
            }
        }
        true
    }

    /// True when the summary's box meets the query's.
    pub fn meets_bbox(&self, s: &Summary) -> bool {
        let Some(b) = self.bbox else { return true };
        boxes(b).iter().any(|q| {
            s.bbox[2] >= q[0] && s.bbox[0] <= q[2] && s.bbox[3] >= q[1] && s.bbox[1] <= q[3]
        })
    }
}

/// A box as one or two boxes that do not cross the antimeridian.
pub fn boxes(b: [f64; 4]) -> Vec<[f64; 4]> {
    if b[0] <= b[2] {
        vec![b]
    } else {
        vec![[b[0], b[1], 180.0, b[3]], [-180.0, b[1], b[2], b[3]]]
    }
}

/// A name as the index compares it: lower case, Latin accents folded, runs of
/// anything but letters and digits as one space.
pub fn name_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut space = true;
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = fold(c);
        if c.is_alphanumeric() {
            out.push(c);
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    out.truncate(out.trim_end().len());
    out
}

fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' => 'i',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => 'u',
        'ý' | 'ÿ' => 'y',
        'ś' | 'š' | 'ş' => 's',
        'ź' | 'ż' | 'ž' => 'z',
        'ł' => 'l',
        'ř' => 'r',
        'ť' | 'ţ' => 't',
        'ď' => 'd',
        'ğ' => 'g',
        other => other,
    }
}

/// The keys a name is found under: its key from each word on ("grey river" is
/// found by "gre" and by "riv").
pub fn name_keys(name: &str) -> Vec<String> {
    let key = name_key(name);
    let mut out = vec![key.clone()];
    out.extend(
        key.match_indices(' ')
            .map(|(i, _)| key[i + 1..].to_string()),
    );
    out
}

/// The names a product field gives: `;`-separated, `no_data` and blanks dropped.
pub fn split_names(field: Option<&str>) -> Vec<String> {
    field
        .unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|n| !n.is_empty() && *n != "no_data" && *n != "NODATA")
        .map(str::to_string)
        .collect()
}

/// A name found by a search: the features that bear it.
#[derive(Debug, Clone, PartialEq)]
pub struct NameHit {
    /// The name as the products spell it.
    pub name: String,
    /// `reach`, `node` or `lake`.
    pub kind: String,
    /// How many features bear it.
    pub count: usize,
    /// Their ids, up to [`NAME_IDS`], in order.
    pub ids: Vec<String>,
    /// The box around all of them.
    pub bbox: [f64; 4],
}

/// Ids listed per name hit.
pub const NAME_IDS: usize = 100;
/// Name hits per search at most.
pub const MAX_NAMES: usize = 100;

impl NameHit {
    /// The hit as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "kind": self.kind,
            "collection": collection_of(&self.kind),
            "count": self.count,
            "ids": self.ids,
            "bbox": self.bbox,
        })
    }
}

/// Orders name hits: names that start with the text before names with a later
/// word that does, then by name and kind.
pub fn rank_names(text: &str, hits: &mut [NameHit]) {
    let key = name_key(text);
    hits.sort_by(|a, b| {
        let starts = |h: &NameHit| !name_key(&h.name).starts_with(&key);
        (starts(a), &a.name, &a.kind).cmp(&(starts(b), &b.name, &b.kind))
    });
}

type Slot = GeomWithData<Rectangle<[f64; 2]>, u32>;

fn rect(b: [f64; 4]) -> Rectangle<[f64; 2]> {
    Rectangle::from_corners([b[0], b[1]], [b[2], b[3]])
}

/// The embedded store's in-memory index of one kind's features: summaries by id,
/// an R-tree of their boxes and the name index.
#[derive(Default)]
pub struct KindIndex {
    summaries: Vec<Summary>,
    by_id: BTreeMap<String, u32>,
    tree: RTree<Slot>,
    /// Name key (from each word) -> names.
    names: BTreeMap<String, BTreeSet<String>>,
    /// Name -> the features bearing it.
    members: HashMap<String, BTreeSet<u32>>,
}

/// The in-memory index of every kind.
#[derive(Default)]
pub struct FeatureIndex {
    kinds: [KindIndex; 3],
}

fn kind_slot(kind: &str) -> usize {
    match kind {
        "reach" => 0,
        "node" => 1,
        _ => 2,
    }
}

impl FeatureIndex {
    /// An index of these summaries (bulk-loaded R-trees).
    pub fn build(summaries: Vec<Summary>) -> FeatureIndex {
        let mut index = FeatureIndex::default();
        let mut rects: [Vec<Slot>; 3] = Default::default();
        for s in summaries {
            let k = kind_slot(&s.kind);
            let idx = &mut index.kinds[k];
            let slot = idx.summaries.len() as u32;
            rects[k].push(Slot::new(rect(s.bbox), slot));
            idx.by_id.insert(s.id.clone(), slot);
            idx.add_names(&s.names, slot);
            idx.summaries.push(s);
        }
        for (k, r) in rects.into_iter().enumerate() {
            index.kinds[k].tree = RTree::bulk_load(r);
        }
        index
    }

    /// Features of a kind.
    pub fn len(&self, kind: &str) -> usize {
        self.kinds[kind_slot(kind)].summaries.len()
    }

    /// True when no feature is indexed.
    pub fn is_empty(&self) -> bool {
        self.kinds.iter().all(|k| k.summaries.is_empty())
    }

    /// Inserts or replaces a feature's summary.
    pub fn upsert(&mut self, s: Summary) {
        self.kinds[kind_slot(&s.kind)].upsert(s);
    }

    /// A summary by kind and id.
    pub fn get(&self, kind: &str, id: &str) -> Option<&Summary> {
        let k = &self.kinds[kind_slot(kind)];
        k.by_id.get(id).map(|&i| &k.summaries[i as usize])
    }

    /// The summaries of a page of `query` (ordered by id), how many match (when
    /// known), and the id the next page starts after.
    pub fn query(&self, query: &FeatureQuery) -> (Vec<&Summary>, Option<u64>, Option<String>) {
        self.kinds[kind_slot(query.kind)].query(query)
    }

    /// Names starting (from any word) with `text`, of the given kinds.
    pub fn names(&self, text: &str, kinds: &[&str], limit: usize) -> Vec<NameHit> {
        let key = name_key(text);
        let mut hits = Vec::new();
        for kind in kinds {
            let k = &self.kinds[kind_slot(kind)];
            let mut seen = BTreeSet::new();
            for (_, names) in k
                .names
                .range::<str, _>((Bound::Included(key.as_str()), Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(&key))
            {
                for name in names {
                    if seen.len() >= limit.max(1) * 4 {
                        break;
                    }
                    seen.insert(name.clone());
                }
            }
            for name in seen {
                let members = &k.members[&name];
                let mut ids: Vec<&str> = members
                    .iter()
                    .map(|&i| k.summaries[i as usize].id.as_str())
                    .collect();
                ids.sort_unstable();
                let bbox = members
                    .iter()
                    .map(|&i| k.summaries[i as usize].bbox)
                    .reduce(|a, b| {
                        [
                            a[0].min(b[0]),
                            a[1].min(b[1]),
                            a[2].max(b[2]),
                            a[3].max(b[3]),
                        ]
                    })
                    .unwrap_or([0.0; 4]);
                hits.push(NameHit {
                    name,
                    kind: kind.to_string(),
                    count: ids.len(),
                    ids: ids.iter().take(NAME_IDS).map(|s| s.to_string()).collect(),
                    bbox,
                });
            }
        }
        rank_names(text, &mut hits);
        hits.truncate(limit);
        hits
    }
}

impl KindIndex {
    fn add_names(&mut self, names: &[String], slot: u32) {
        for name in names {
            for key in name_keys(name) {
                self.names.entry(key).or_default().insert(name.clone());
            }
            self.members.entry(name.clone()).or_default().insert(slot);
        }
    }

    fn remove_names(&mut self, names: &[String], slot: u32) {
        for name in names {
            let Some(members) = self.members.get_mut(name) else {
                continue;
            };
            members.remove(&slot);
            if !members.is_empty() {
                continue;
            }
            self.members.remove(name);
            for key in name_keys(name) {
                if let Some(set) = self.names.get_mut(&key) {
                    set.remove(name);
                    if set.is_empty() {
                        self.names.remove(&key);
                    }
                }
            }
        }
    }

    fn upsert(&mut self, s: Summary) {
        match self.by_id.get(&s.id) {
            Some(&slot) => {
                let old = &self.summaries[slot as usize];
                if old.bbox != s.bbox {
                    self.tree.remove(&Slot::new(rect(old.bbox), slot));
                    self.tree.insert(Slot::new(rect(s.bbox), slot));
                }
                if old.names != s.names {
                    let names = old.names.clone();
                    self.remove_names(&names, slot);
                    self.add_names(&s.names, slot);
                }
                self.summaries[slot as usize] = s;
            }
            None => {
                let slot = self.summaries.len() as u32;
                self.by_id.insert(s.id.clone(), slot);
                self.tree.insert(Slot::new(rect(s.bbox), slot));
                self.add_names(&s.names, slot);
                self.summaries.push(s);
            }
        }
    }

    fn query(&self, q: &FeatureQuery) -> (Vec<&Summary>, Option<u64>, Option<String>) {
        let after = q.after.as_deref().unwrap_or("");
        // Candidates in id order: from the ids asked, the R-tree, or the id order.
        let candidates: Option<Vec<u32>> = if !q.ids.is_empty() {
            let mut v: Vec<u32> = q
                .ids
                .iter()
                .filter_map(|id| self.by_id.get(id).copied())
                .collect();
            v.sort_unstable_by(|a, b| self.id(*a).cmp(self.id(*b)));
            v.dedup();
            Some(v)
        } else if let Some(reach) = &q.reach {
            let prefix = &reach[..10];
            Some(
                self.by_id
                    .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
                    .take_while(|(id, _)| id.starts_with(prefix))
                    .map(|(_, &slot)| slot)
                    .collect(),
            )
        } else if let Some(b) = q.bbox {
            let mut v: Vec<u32> = Vec::new();
            for part in boxes(b) {
                let env = AABB::from_corners([part[0], part[1]], [part[2], part[3]]);
                v.extend(
                    self.tree
                        .locate_in_envelope_intersecting(&env)
                        .map(|s| s.data),
                );
            }
            v.sort_unstable_by(|a, b| self.id(*a).cmp(self.id(*b)));
            v.dedup();
            Some(v)
        } else {
            None
        };
        let mut page = Vec::new();
        let mut next = None;
        let keep = |s: &Summary| q.meets_bbox(s) && q.matches(s);
        match candidates {
            Some(slots) => {
                let mut matched = 0u64;
                for slot in slots {
                    let s = &self.summaries[slot as usize];
                    if !keep(s) {
                        continue;
                    }
                    matched += 1;
                    if s.id.as_str() > after {
                        if page.len() < q.limit {
                            page.push(s);
                        } else if next.is_none() {
                            next = page.last().map(|s: &&Summary| s.id.clone());
                        }
                    }
                }
                (page, Some(matched), next)
            }
            None => {
                // No index narrows the search: the count is known without a
                // filter, or with cheap conditions only; a CQL2 filter is evaluated
                // up to the page's end (numberMatched is then left out).
                let cheap = q.filter.is_none();
                for (_, &slot) in self
                    .by_id
                    .range::<str, _>((Bound::Excluded(after), Bound::Unbounded))
                {
                    let s = &self.summaries[slot as usize];
                    if !keep(s) {
                        continue;
                    }
                    if page.len() < q.limit {
                        page.push(s);
                    } else {
                        next = page.last().map(|s| s.id.clone());
                        break;
                    }
                }
                let matched = if q.datetime.is_none() && cheap {
                    Some(self.summaries.len() as u64)
                } else if cheap {
                    let mut matched = 0u64;
                    for s in &self.summaries {
                        matched += u64::from(keep(s));
                    }
                    Some(matched)
                } else {
                    None
                };
                (page, matched, next)
            }
        }
    }

    fn id(&self, slot: u32) -> &str {
        &self.summaries[slot as usize].id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(time: &str, wse: Option<f64>, quality: Option<f64>) -> Pass {
        Pass {
            time: time.into(),
            wse,
            quality,
        }
    }

    fn sighting(id: &str, names: &[&str], bbox: [f64; 4], pass: Option<Pass>) -> Sighting {
        Sighting {
            kind: "reach",
            id: id.into(),
            names: names.iter().map(|s| s.to_string()).collect(),
            parent: None,
            geometry: json!({"type": "LineString", "coordinates": [[bbox[0], bbox[1]], [bbox[2], bbox[3]]]}),
            bbox,
            product_time: pass.as_ref().map(|p| p.time.clone()).unwrap_or_default(),
            pass,
        }
    }

    #[test]
    fn a_summary_reads_back_as_stored_and_a_cut_one_is_an_error() {
        let full = Summary {
            kind: "node".into(),
            id: "74230900010011".into(),
            names: vec!["Rhône".into(), "Le Grand-Rhône".into()],
            parent: Some("74230900011".into()),
            bbox: [4.5, 43.5, 4.75, 43.625],
            passes: 40,
            usable: 35,
            last_time: Some(1_700_000_000_123_456),
            wse: Some(1.234),
            wse_median: Some(-0.5),
            quality: Some(1.0),
            best_quality: Some(0.0),
        };
        let bare = Summary {
            kind: "lake".into(),
            id: "7420123456".into(),
            names: Vec::new(),
            parent: None,
            last_time: None,
            wse: None,
            wse_median: None,
            quality: None,
            best_quality: None,
            passes: 1,
            usable: 0,
            ..full.clone()
        };
        let some_unknown = Summary {
            wse: None,
            quality: None,
            ..full.clone()
        };
        for s in [&full, &bare, &some_unknown] {
            let bytes = s.to_bytes();
            assert_eq!(&Summary::from_bytes(&s.kind, &s.id, &bytes).unwrap(), s);
            // A file written before the binary layout keeps JSON.
            let json = serde_json::to_vec(s).unwrap();
            assert_eq!(&Summary::from_bytes(&s.kind, &s.id, &json).unwrap(), s);
        }
        let bytes = full.to_bytes();
        assert!(bytes.len() * 3 < serde_json::to_vec(&full).unwrap().len() * 2);
        for cut in 0..bytes.len() {
            let e = Summary::from_bytes("node", "74230900010011", &bytes[..cut]).unwrap_err();
            assert!(
                e.to_string()
                    .contains("node 74230900010011: stored summary"),
                "{e}"
            );
        }
        let mut foreign = bytes.clone();
        foreign[0] = 9;
        let e = Summary::from_bytes("node", "74230900010011", &foreign).unwrap_err();
        assert!(e.to_string().contains("unknown layout"), "{e}");
    }

    #[test]
    fn rounded_numbers_carry_no_false_digits() {
        // Two reaches of the shared simulated cycles: latest WSE minus median.
        assert_eq!(round(208.088891 - 207.970453, 0.001).to_string(), "0.118");
        assert_eq!(round(203.168421 - 203.036923, 0.001).to_string(), "0.131");
        assert_eq!(round(-0.0004, 0.001).to_string(), "0");
        assert_eq!(round(229.045_6, 0.01).to_string(), "229.05");
    }

    #[test]
    fn the_summary_takes_usable_passes_only() {
        let t = |d: u32| format!("2024-01-{d:02}T00:00:00.000000Z");
        let mut r = FeatureRecord::new(&sighting(
            "12345678901",
            &[],
            [0.0; 4],
            Some(pass(&t(1), Some(10.0), Some(0.0))),
        ));
        r.absorb(&sighting(
            "12345678901",
            &[],
            [0.0; 4],
            Some(pass(&t(3), Some(14.0), Some(1.0))),
        ));
        r.absorb(&sighting(
            "12345678901",
            &[],
            [0.0; 4],
            Some(pass(&t(2), Some(11.0), Some(2.0))),
        ));
        // Bad quality, unknown quality and a fill: kept, not usable.
        r.absorb(&sighting(
            "12345678901",
            &[],
            [0.0; 4],
            Some(pass(&t(4), Some(99.0), Some(3.0))),
        ));
        r.absorb(&sighting(
            "12345678901",
            &[],
            [0.0; 4],
            Some(pass(&t(5), Some(98.0), None)),
        ));
        r.absorb(&sighting(
            "12345678901",
            &[],
            [0.0; 4],
            Some(pass(&t(6), None, Some(0.0))),
        ));
        let s = r.summary();
        assert_eq!((s.passes, s.usable), (6, 3));
        assert_eq!(s.wse, Some(14.0));
        assert_eq!(s.wse_median, Some(11.0));
        assert_eq!(s.quality, Some(1.0));
        assert_eq!(s.best_quality, Some(0.0));
        let now = crate::search::micros("2024-01-05T12:00:00Z").unwrap();
        let p = s.properties(now);
        assert_eq!(p["wse_anomaly"], json!(3.0));
        assert_eq!(p["days_since_last_observation"], json!(2.5));
        assert_eq!(p["last_observation"], json!("2024-01-03T00:00:00Z"));
        // The same pass read again replaces itself.
        r.absorb(&sighting(
            "12345678901",
            &[],
            [0.0; 4],
            Some(pass(&t(3), Some(14.5), Some(1.0))),
        ));
        assert_eq!(r.summary().passes, 6);
        assert_eq!(r.summary().wse, Some(14.5));
    }

    #[test]
    fn a_feature_never_usable_has_nulls_and_no_filter_selects_it() {
        let r = FeatureRecord::new(&sighting(
            "12345678901",
            &[],
            [0.0; 4],
            Some(pass("2024-01-01T00:00:00Z", None, Some(3.0))),
        ));
        let s = r.summary();
        let p = s.properties(0);
        for key in [
            "wse",
            "wse_median",
            "wse_anomaly",
            "last_observation",
            "days_since_last_observation",
            "quality",
        ] {
            assert_eq!(p[key], Value::Null, "{key}");
        }
        assert_eq!(p["best_quality"], json!(3));
        for filter in ["wse < 1000", "wse >= -1000", "wse_anomaly <> 0"] {
            let q = FeatureQuery {
                kind: "reach",
                filter: Some(crate::search::parse_filter(filter, None).unwrap()),
                limit: 10,
                ..Default::default()
            };
            assert!(!q.matches(&s), "{filter}");
        }
    }

    #[test]
    fn the_newest_product_gives_geometry_and_names() {
        let mut old = sighting(
            "12345678901",
            &["Old Name"],
            [1.0, 1.0, 2.0, 2.0],
            Some(pass("2024-02-01T00:00:00Z", Some(1.0), Some(0.0))),
        );
        let new = sighting(
            "12345678901",
            &["New Name"],
            [3.0, 3.0, 4.0, 4.0],
            Some(pass("2024-03-01T00:00:00Z", Some(1.0), Some(0.0))),
        );
        let mut r = FeatureRecord::new(&new);
        old.product_time = "2024-02-01T00:00:00Z".into();
        r.absorb(&old);
        assert_eq!(r.names, vec!["New Name".to_string()]);
        assert_eq!(r.bbox, [3.0, 3.0, 4.0, 4.0]);
        assert_eq!(r.passes.len(), 2);
    }

    #[test]
    fn names_are_found_from_any_word_accents_folded() {
        assert_eq!(name_key("  Rhône -- Saint-Maurice "), "rhone saint maurice");
        assert_eq!(
            split_names(Some("Grey River; no_data;  Hume Creek")),
            vec!["Grey River", "Hume Creek"]
        );
        let summaries = vec![
            Summary {
                names: vec!["Grey River".into()],
                ..summary("11111111111", [0.0, 0.0, 1.0, 1.0])
            },
            Summary {
                names: vec!["Grey River".into()],
                ..summary("11111111121", [1.0, 1.0, 2.0, 3.0])
            },
            Summary {
                names: vec!["Greyhound Creek".into()],
                ..summary("11111111131", [5.0, 5.0, 6.0, 6.0])
            },
            Summary {
                names: vec!["Rhône".into()],
                ..summary("11111111141", [5.0, 5.0, 6.0, 6.0])
            },
        ];
        let mut index = FeatureIndex::build(summaries);
        let hits = index.names("grey", &["reach"], 10);
        assert_eq!(
            hits.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
            ["Grey River", "Greyhound Creek"]
        );
        assert_eq!(hits[0].count, 2);
        assert_eq!(hits[0].ids, ["11111111111", "11111111121"]);
        assert_eq!(hits[0].bbox, [0.0, 0.0, 2.0, 3.0]);
        assert_eq!(index.names("RIV", &["reach"], 10)[0].name, "Grey River");
        assert_eq!(index.names("rhone", &["reach"], 10)[0].ids, ["11111111141"]);
        assert!(index.names("grey", &["lake"], 10).is_empty());
        // A renamed feature leaves its old name.
        index.upsert(Summary {
            names: vec!["Blue River".into()],
            ..summary("11111111131", [5.0, 5.0, 6.0, 6.0])
        });
        assert!(index.names("greyh", &["reach"], 10).is_empty());
        assert_eq!(index.names("blue", &["reach"], 10)[0].count, 1);
    }

    fn summary(id: &str, bbox: [f64; 4]) -> Summary {
        Summary {
            kind: "reach".into(),
            id: id.into(),
            names: vec![],
            parent: None,
            bbox,
            passes: 0,
            usable: 0,
            last_time: None,
            wse: None,
            wse_median: None,
            quality: None,
            best_quality: None,
        }
    }

    #[test]
    fn pages_by_id_through_the_rtree_and_across_the_antimeridian() {
        let mut all = Vec::new();
        for i in 0..50u32 {
            let x = -179.5 + f64::from(i) * 7.3;
            all.push(summary(
                &format!("{:011}", 10_000 + i * 10 + 1),
                [x, 0.0, x + 0.5, 0.5],
            ));
        }
        let index = FeatureIndex::build(all.clone());
        let q = |bbox: Option<[f64; 4]>, after: Option<&str>, limit| FeatureQuery {
            kind: "reach",
            bbox,
            after: after.map(str::to_string),
            limit,
            ..Default::default()
        };
        // Every page in id order, the next token continuing it, the count exact.
        let b = [-100.0, -1.0, 100.0, 1.0];
        let expect: Vec<&str> = all
            .iter()
            .filter(|s| s.bbox[2] >= b[0] && s.bbox[0] <= b[2])
            .map(|s| s.id.as_str())
            .collect();
        let (mut got, mut after) = (Vec::new(), None::<String>);
        loop {
            let (page, matched, next) = index.query(&q(Some(b), after.as_deref(), 7));
            assert_eq!(matched, Some(expect.len() as u64));
            got.extend(page.iter().map(|s| s.id.clone()));
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(got, expect);
        // West > east: the two sides of the antimeridian.
        let (page, matched, _) = index.query(&q(Some([170.0, -1.0, -170.0, 1.0]), None, 100));
        // -179.5 and -172.2 on the west side, 170.9 and 178.2 on the east.
        assert_eq!(matched, Some(4));
        assert_eq!(page.len(), 4);
        // No box: the id order, counted.
        let (page, matched, next) = index.query(&q(None, Some(&all[47].id), 10));
        assert_eq!((page.len(), matched, next), (2, Some(50), None));
    }
}
