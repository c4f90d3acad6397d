//! Ingestion: a product file becomes one STAC item (and, for SWOT vector
//! products, one observation per observed reach, node or lake).
//!
//! Files are recognised by name and content: SWOT shapefile zips (RiverSP
//! Reach/Node, LakeSP Obs/Prior/Unassigned), SWOT PIXC and PIXCVec NetCDF, USGS
//! NWIS RDB tables and WaterML JSON. A truncated or foreign file is reported and
//! skipped; the run goes on.

use std::path::{Path, PathBuf};

use hysope_swot::{Layer, ProductName, ReadError, pixc, rdb};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::features::{Pass, Sighting, split_names};
use crate::search::geometry_bbox;
use crate::store::{CatalogStore, Ingested, Observation};
use crate::timeseries::quality_field;
use crate::{Error, Result};

// Items carry fields of the file (v2.1.0), processing (v1.2.0) and projection
// (v2.0.0) extensions without listing their schema URLs in `stac_extensions`:
// validators fetch every listed schema from stac-extensions.github.io, which an
// offline deployment (and our CI) cannot reach, and an unreachable schema fails
// the whole item. The core schema allows the extra fields.

/// Seconds from 1970-01-01 to 2000-01-01, the epoch of SWOT `time` fields.
const SWOT_EPOCH: i64 = 946_684_800;

/// One read product: its collection, item and observations.
#[derive(Debug, Clone)]
pub struct Product {
    /// The collection the item belongs to (created on first ingest).
    pub collection: Value,
    /// The STAC item.
    pub item: Value,
    /// Per-feature observations for the time series.
    pub observations: Vec<Observation>,
    /// The reaches, nodes and lakes the product shows, observed or not.
    pub sightings: Vec<Sighting>,
    /// sha256 of the file, hex.
    pub sha256: String,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored (new item, unchanged, or new version).
    Stored(Ingested),
    /// Not ingested, and why (names the file).
    Skipped(String),
}

impl Outcome {
    /// Its name in reports and metrics: `new`, `new-version`, `unchanged` or
    /// `skipped`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Stored(Ingested::New(_)) => "new",
            Outcome::Stored(Ingested::NewVersion { .. }) => "new-version",
            Outcome::Stored(Ingested::Unchanged(_)) => "unchanged",
            Outcome::Skipped(_) => "skipped",
        }
    }
}

/// Result of ingesting files.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Each file and its outcome, in the order processed.
    pub files: Vec<(PathBuf, Outcome)>,
    /// Bytes read.
    pub bytes: u64,
    /// The bytes of each file, in the order of `files` (0 for one not read).
    pub sizes: Vec<u64>,
}

impl Report {
    /// Adds a file's outcome and the bytes read of it.
    pub fn push(&mut self, path: PathBuf, outcome: Outcome, size: u64) {
        self.bytes += size;
        self.files.push((path, outcome));
        self.sizes.push(size);
    }

    /// Appends another report's files.
    pub fn extend(&mut self, other: Report) {
        self.bytes += other.bytes;
        self.files.extend(other.files);
        self.sizes.extend(other.sizes);
    }

    /// Files and bytes by outcome (`new`, `new-version`, `unchanged`, `skipped`).
    pub fn by_outcome(&self) -> Vec<(&'static str, u64, u64)> {
        let mut out: Vec<(&'static str, u64, u64)> = Vec::new();
        for (n, (_, outcome)) in self.files.iter().enumerate() {
            let name = outcome.name();
            let size = self.sizes.get(n).copied().unwrap_or(0);
            match out.iter_mut().find(|(o, _, _)| *o == name) {
                Some((_, files, bytes)) => {
                    *files += 1;
                    *bytes += size;
                }
                None => out.push((name, 1, size)),
            }
        }
        out
    }

    /// The report as JSON: what `hysope ingest --json` prints and the server's
    /// ingest endpoint answers.
    pub fn to_json(&self) -> Value {
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|(path, outcome)| {
                let mut o = Map::new();
                o.insert("path".into(), json!(path.display().to_string()));
                o.insert("outcome".into(), json!(outcome.name()));
                match outcome {
                    Outcome::Stored(Ingested::New(id) | Ingested::Unchanged(id)) => {
                        o.insert("item".into(), json!(id));
                    }
                    Outcome::Stored(Ingested::NewVersion { item, previous }) => {
                        o.insert("item".into(), json!(item));
                        o.insert("previous".into(), json!(previous));
                    }
                    Outcome::Skipped(why) => {
                        o.insert("reason".into(), json!(why));
                    }
                }
                Value::Object(o)
            })
            .collect();
        json!({
            "stored": self.stored(),
            "unchanged": self.unchanged(),
            "skipped": self.skipped(),
            "bytes": self.bytes,
            "files": files,
        })
    }

    /// Files that became new items or new versions.
    pub fn stored(&self) -> usize {
        self.files
            .iter()
            .filter(|(_, o)| {
                matches!(
                    o,
                    Outcome::Stored(Ingested::New(_) | Ingested::NewVersion { .. })
                )
            })
            .count()
    }
    /// Files ingested before with the same content.
    pub fn unchanged(&self) -> usize {
        self.files
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Stored(Ingested::Unchanged(_))))
            .count()
    }
    /// Files skipped.
    pub fn skipped(&self) -> usize {
        self.files
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Skipped(_)))
            .count()
    }
}

/// The files under the given paths (folders walked recursively, sorted; hidden files
/// and README files left out).
pub fn list_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    fn walk(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let io = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        if path.is_dir() {
            let mut children: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            children.sort();
            for child in children {
                walk(&child, out)?;
            }
        } else if path.exists() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !name.starts_with('.') && !name.to_ascii_lowercase().starts_with("readme") {
                out.push(path.to_path_buf());
            }
        } else {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file or folder",
            )));
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out)?;
    }
    Ok(out)
}

/// Ingests files and folders into a store; `progress` hears of each file as it is done.
pub fn ingest_paths(
    store: &dyn CatalogStore,
    paths: &[PathBuf],
    mut progress: impl FnMut(usize, usize, &Path, &Outcome),
) -> Result<Report> {
    let files = list_files(paths)?;
    let mut report = Report::default();
    for (n, path) in files.iter().enumerate() {
        let (outcome, size) = match std::fs::read(path) {
            Err(e) => (Outcome::Skipped(format!("{}: {e}", path.display())), 0),
            Ok(bytes) => (
                match read_product(path, &bytes) {
                    Err(e) => Outcome::Skipped(e.to_string()),
                    Ok(p) => Outcome::Stored(store.ingest(p)?),
                },
                bytes.len() as u64,
            ),
        };
        if let Outcome::Skipped(why) = &outcome {
            tracing::warn!(file = %path.display(), reason = %why, "file skipped");
        }
        progress(n + 1, files.len(), path, &outcome);
        report.push(path.clone(), outcome, size);
    }
    Ok(report)
}

/// Reads one product file into its item and observations.
pub fn read_product(path: &Path, bytes: &[u8]) -> Result<Product> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    read_named_product(&name, &file_href(path), bytes)
}

/// Stores the bytes of one product file found at `href` (for example an S3 object);
/// `name` is its file name, which says what kind of product it is.
pub fn ingest_bytes(
    store: &dyn CatalogStore,
    name: &str,
    href: &str,
    bytes: &[u8],
) -> Result<Outcome> {
    Ok(match read_named_product(name, href, bytes) {
        Err(e) => Outcome::Skipped(e.to_string()),
        Ok(p) => Outcome::Stored(store.ingest(p)?),
    })
}

/// Reads one product from its bytes; `href` becomes its data asset's href.
pub fn read_named_product(name: &str, href: &str, bytes: &[u8]) -> Result<Product> {
    let name = name.to_string();
    let sha256 = hex::encode(Sha256::digest(bytes));
    let lower = name.to_ascii_lowercase();
    let mut product = if name.starts_with("SWOT_") && lower.ends_with(".zip") {
        shapefile_product(&name, bytes)?
    } else if name.starts_with("SWOT_") && lower.ends_with(".nc") {
        pixel_cloud_product(&name, bytes)?
    } else if bytes.starts_with(b"#") || bytes.starts_with(b"agency_cd") {
        rdb_product(&name, bytes)?
    } else if bytes.starts_with(b"{") && find(bytes, b"timeSeriesResponseType") {
        waterml_product(&name, bytes)?
    } else {
        return Err(ReadError(format!(
            "{name}: not a product Hysope knows (SWOT RiverSP/LakeSP zip, PIXC/PIXCVec NetCDF, USGS RDB or WaterML JSON)"
        ))
        .into());
    };
    let media = if lower.ends_with(".zip") {
        "application/zip"
    } else if lower.ends_with(".nc") {
        "application/x-netcdf"
    } else if lower.ends_with(".json") || bytes.starts_with(b"{") {
        "application/json"
    } else {
        "text/tab-separated-values"
    };
    product.item["assets"] = json!({
        "data": {
            "href": href,
            "type": media,
            "title": name,
            "roles": ["data"],
            "file:size": bytes.len(),
            // A multihash: 0x12 (sha2-256), 0x20 (32 bytes), then the digest.
            "file:checksum": format!("1220{sha256}"),
        }
    });
    product.sha256 = sha256;
    Ok(product)
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn file_href(path: &Path) -> String {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    format!("file://{}", absolute.display())
}

fn item_id(name: &str) -> String {
    name.split('.').next().unwrap_or(name).to_string()
}

/// The polygon of a box (west, south, east, north).
pub fn bbox_polygon(b: [f64; 4]) -> Value {
    json!({
        "type": "Polygon",
        "coordinates": [[[b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]], [b[0], b[1]]]]
    })
}

/// The box around two boxes, either absent.
pub fn union(a: Option<[f64; 4]>, b: Option<[f64; 4]>) -> Option<[f64; 4]> {
    match (a, b) {
        (Some(a), Some(b)) => Some([
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[2].max(b[2]),
            a[3].max(b[3]),
        ]),
        (a, b) => a.or(b),
    }
}

/// A new collection: its extent grows as items come.
pub fn collection(id: &str, title: &str, description: &str, license: &str) -> Value {
    json!({
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": id,
        "title": title,
        "description": description,
        "license": license,
        "extent": {
            "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
            "temporal": {"interval": [[null, null]]}
        },
        "links": []
    })
}

fn item(
    id: &str,
    collection: &str,
    bbox: Option<[f64; 4]>,
    properties: Map<String, Value>,
) -> Value {
    let mut item = json!({
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [],
        "id": id,
        "collection": collection,
        "geometry": bbox.map(bbox_polygon),
        "properties": properties,
        "links": [],
        "assets": {}
    });
    if let Some(b) = bbox {
        item["bbox"] = json!(b);
    }
    item
}

/// RFC 3339 with microseconds of SWOT `time` seconds since 2000-01-01.
fn swot_time(seconds: f64) -> Option<String> {
    if !seconds.is_finite() || seconds <= 0.0 {
        return None;
    }
    let micros = (seconds * 1e6).round() as i64 + SWOT_EPOCH * 1_000_000;
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

fn shapefile_product(name: &str, bytes: &[u8]) -> Result<Product> {
    let pn = ProductName::parse(name)?;
    let layer: Layer = hysope_swot::read_zip(bytes, name)?;
    let kind = pn.kind.clone().unwrap_or_default();
    let (obs_kind, id_field): (Option<&'static str>, &str) =
        match (pn.product.as_str(), kind.as_str()) {
            ("L2_HR_RiverSP", "Reach") => (Some("reach"), "reach_id"),
            ("L2_HR_RiverSP", "Node") => (Some("node"), "node_id"),
            ("L2_HR_LakeSP", "Prior") => (Some("lake"), "lake_id"),
            ("L2_HR_LakeSP", "Obs") => (None, "obs_id"),
            ("L2_HR_LakeSP", "Unassigned") => (None, "obs_id"),
            _ => (None, ""),
        };
    let quality = obs_kind.map(quality_field);
    let id = item_id(name);
    let mut bbox = None;
    let mut observations = Vec::new();
    let mut observed = 0usize;
    let mut best_quality: Option<f64> = None;
    let mut sightings = Vec::new();
    for f in &layer.features {
        let feature_bbox = geometry_bbox(&f.geometry);
        bbox = union(bbox, feature_bbox);
        let time = f
            .get("time_str")
            .and_then(Value::as_str)
            .and_then(|t| crate::search::micros(t).and(Some(t.to_string())))
            .or_else(|| f.number("time").and_then(swot_time));
        let feature_id = f.get(id_field).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        let time = time.map(|t| normalise_time(&t));
        if let (Some(kind), Some(id), Some(b)) = (obs_kind, &feature_id, feature_bbox) {
            if crate::features::check_id(kind, id).is_ok() {
                let number = |name: &str| f.number(name);
                sightings.push(Sighting {
                    kind,
                    id: id.clone(),
                    names: split_names(
                        f.get(crate::features::name_field(kind))
                            .and_then(Value::as_str),
                    ),
                    parent: (kind == "node")
                        .then(|| {
                            f.get("reach_id")
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        })
                        .flatten(),
                    geometry: f.geometry.clone(),
                    bbox: b,
                    product_time: normalise_time(&pn.start),
                    pass: time.as_ref().map(|t| Pass {
                        time: t.clone(),
                        wse: number("wse"),
                        quality: quality.and_then(number),
                    }),
                });
            }
        }
        let Some(time) = time else { continue };
        observed += 1;
        if let Some(q) = quality.and_then(|q| f.number(q)) {
            best_quality = Some(best_quality.map_or(q, |b: f64| b.min(q)));
        }
        let Some(kind) = obs_kind else { continue };
        let Some(feature_id) = feature_id else {
            continue;
        };
        observations.push(Observation {
            kind,
            feature_id,
            time,
            item_id: id.clone(),
            properties: f.properties.iter().cloned().collect(),
        });
    }
    let collection_id = pn.collection();
    let mut p = Map::new();
    p.insert("datetime".into(), json!(pn.start));
    p.insert("start_datetime".into(), json!(pn.start));
    p.insert("end_datetime".into(), json!(pn.end));
    p.insert("platform".into(), json!("swot"));
    p.insert("instruments".into(), json!(["karin"]));
    p.insert("swot:cycle_number".into(), json!(pn.cycle));
    p.insert("swot:pass_number".into(), json!(pn.pass));
    if let Some(c) = &pn.continent {
        p.insert("swot:continent_code".into(), json!(c));
    }
    p.insert("swot:feature_kind".into(), json!(kind));
    p.insert("swot:crid".into(), json!(pn.crid));
    p.insert("swot:product_counter".into(), json!(pn.counter));
    p.insert("swot:feature_count".into(), json!(layer.features.len()));
    p.insert("swot:observed_count".into(), json!(observed));
    if let Some(q) = quality {
        // The best quality flag among the observed features: `reach_q <= 1` selects
        // the files with at least one usable reach; null when none was observed.
        p.insert(
            q.into(),
            best_quality.map_or(Value::Null, |b| json!(b as i64)),
        );
    }
    p.insert("processing:level".into(), json!("L2"));
    p.insert("processing:version".into(), json!(pn.crid));
    p.insert("proj:code".into(), json!("EPSG:4326"));
    let title = format!("SWOT {} {kind}", pn.product.replace('_', " "));
    Ok(Product {
        collection: collection(
            &collection_id,
            &title,
            &format!(
                "SWOT Level 2 KaRIn high-rate {} {kind} vector product (shapefile), one item per product file; fill values read as nulls",
                pn.product.trim_start_matches("L2_HR_")
            ),
            "other",
        ),
        item: item(&id, &collection_id, bbox, p),
        observations,
        sightings,
        sha256: String::new(),
    })
}

/// A time as RFC 3339 UTC with microseconds, so that texts sort as times.
fn normalise_time(text: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| {
            t.to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        })
        .unwrap_or_else(|_| text.to_string())
}

fn pixel_cloud_product(name: &str, bytes: &[u8]) -> Result<Product> {
    let pn = ProductName::parse(name)?;
    let s = pixc::summary(bytes, name)?;
    let collection_id = pn.collection();
    let mut p = Map::new();
    let start = s.start.clone().unwrap_or_else(|| pn.start.clone());
    let end = s.end.clone().unwrap_or_else(|| pn.end.clone());
    p.insert("datetime".into(), json!(start));
    p.insert("start_datetime".into(), json!(start));
    p.insert("end_datetime".into(), json!(end));
    p.insert("platform".into(), json!("swot"));
    p.insert("instruments".into(), json!(["karin"]));
    p.insert("swot:cycle_number".into(), json!(pn.cycle));
    p.insert("swot:pass_number".into(), json!(pn.pass));
    if let Some(t) = &pn.tile {
        p.insert("swot:tile".into(), json!(t));
    }
    p.insert("swot:crid".into(), json!(pn.crid));
    p.insert("swot:product_counter".into(), json!(pn.counter));
    p.insert("swot:pixel_count".into(), json!(s.pixels));
    for (k, v) in &s.attributes {
        if matches!(k.as_str(), "title" | "institution" | "source" | "continent") {
            p.insert(format!("swot:{k}"), v.clone());
        }
    }
    p.insert("processing:level".into(), json!("L2"));
    p.insert("processing:version".into(), json!(pn.crid));
    p.insert("proj:code".into(), json!("EPSG:4326"));
    let short = pn.product.trim_start_matches("L2_HR_").to_string();
    Ok(Product {
        collection: collection(
            &collection_id,
            &format!("SWOT {}", pn.product.replace('_', " ")),
            &format!("SWOT Level 2 KaRIn high-rate {short} (NetCDF-4), one item per tile"),
            "other",
        ),
        item: item(&item_id(name), &collection_id, s.bbox, p),
        observations: Vec::new(),
        sightings: Vec::new(),
        sha256: String::new(),
    })
}

fn rdb_product(name: &str, bytes: &[u8]) -> Result<Product> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ReadError(format!("{name}: not UTF-8 text: {e}")))?;
    let table = rdb::parse(text, name)?;
    let (kind, date_column) = if table.column("peak_dt").is_some() {
        ("peaks", Some("peak_dt"))
    } else if table.column("INDEP").is_some() && table.column("DEP").is_some() {
        ("ratings", None)
    } else if table.column("datetime").is_some() {
        ("values", Some("datetime"))
    } else {
        return Err(ReadError(format!(
            "{name}: an RDB table but not a rating, peak or value table (columns {:?})",
            table.columns
        ))
        .into());
    };
    let mut sites = table.distinct("site_no");
    if let Some(site) = table.metadata("STATION", "NUMBER") {
        if !sites.contains(&site) {
            sites.push(site);
        }
    }
    let mut times: Vec<String> = Vec::new();
    if let Some(col) = date_column.and_then(|c| table.column(c)) {
        for row in &table.rows {
            let cell = &row[col];
            // Peak dates may leave month or day as 00 when unknown; those are not instants.
            let t = if cell.len() == 10 {
                format!("{cell}T00:00:00Z")
            } else {
                cell.replace(' ', "T") + ":00Z"
            };
            if crate::search::micros(&t).is_some() {
                times.push(t);
            }
        }
    }
    let retrieved = table
        .comments
        .iter()
        .find_map(|c| c.strip_prefix("//RETRIEVED:"))
        .map(|t| format!("{}Z", t.trim().replacen(' ', "T", 1)));
    times.sort();
    let (start, end) = match (times.first(), times.last()) {
        (Some(a), Some(b)) => (a.clone(), b.clone()),
        _ => {
            let t = retrieved
                .clone()
                .filter(|t| crate::search::micros(t).is_some())
                .ok_or_else(|| ReadError(format!("{name}: no date in the table or its header")))?;
            (t.clone(), t)
        }
    };
    let collection_id = format!("USGS_NWIS_{kind}");
    let mut p = Map::new();
    p.insert("datetime".into(), json!(start));
    p.insert("start_datetime".into(), json!(start));
    p.insert("end_datetime".into(), json!(end));
    p.insert("usgs:sites".into(), json!(sites));
    p.insert("usgs:rows".into(), json!(table.rows.len()));
    if let Some(station) = table.metadata("STATION", "NAME").or_else(|| {
        table.comments.iter().find_map(|c| {
            c.strip_prefix("//STATION NAME=")
                .map(|s| s.trim_matches('"').to_string())
        })
    }) {
        p.insert("title".into(), json!(station));
    }
    if let Some(label) = table
        .comments
        .iter()
        .find_map(|c| c.strip_prefix("//LABEL="))
    {
        p.insert("usgs:label".into(), json!(label.trim_matches('"')));
    }
    p.insert("processing:level".into(), json!("L1"));
    let id = format!("usgs-{kind}-{}-{}", sites.join("-"), item_id(name));
    Ok(Product {
        collection: collection(
            &collection_id,
            &format!("USGS NWIS {kind}"),
            &format!(
                "USGS National Water Information System {kind} tables (RDB), one item per file"
            ),
            "other",
        ),
        item: item(&id, &collection_id, None, p),
        observations: Vec::new(),
        sightings: Vec::new(),
        sha256: String::new(),
    })
}

fn waterml_product(name: &str, bytes: &[u8]) -> Result<Product> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| ReadError(format!("{name}: not valid JSON (truncated?): {e}")))?;
    let series = doc["value"]["timeSeries"].as_array().ok_or_else(|| {
        ReadError(format!(
            "{name}: no value.timeSeries array: not a WaterML JSON response"
        ))
    })?;
    let mut sites: Vec<String> = Vec::new();
    let mut points: Vec<Value> = Vec::new();
    let mut variables: Vec<String> = Vec::new();
    let mut times: Vec<i64> = Vec::new();
    let mut count = 0usize;
    for s in series {
        let info = &s["sourceInfo"];
        if let Some(site) = info["siteCode"][0]["value"].as_str() {
            if !sites.iter().any(|x| x == site) {
                sites.push(site.to_string());
                let loc = &info["geoLocation"]["geogLocation"];
                if let (Some(lat), Some(lon)) =
                    (loc["latitude"].as_f64(), loc["longitude"].as_f64())
                {
                    points.push(json!([lon, lat]));
                }
            }
        }
        if let Some(code) = s["variable"]["variableCode"][0]["value"].as_str() {
            if !variables.iter().any(|x| x == code) {
                variables.push(code.to_string());
            }
        }
        for block in s["values"].as_array().into_iter().flatten() {
            for v in block["value"].as_array().into_iter().flatten() {
                count += 1;
                if let Some(t) = v["dateTime"].as_str().and_then(crate::search::micros) {
                    times.push(t);
                }
            }
        }
    }
    let to_text = |m: i64| {
        chrono::DateTime::from_timestamp_micros(m)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    let (Some(&lo), Some(&hi)) = (times.iter().min(), times.iter().max()) else {
        return Err(ReadError(format!("{name}: no dated value in the response")).into());
    };
    let bbox = points.iter().fold(None, |b, p| {
        let (x, y) = (p[0].as_f64().unwrap_or(0.0), p[1].as_f64().unwrap_or(0.0));
        union(b, Some([x, y, x, y]))
    });
    let collection_id = "USGS_NWIS_values".to_string();
    let mut p = Map::new();
    p.insert("datetime".into(), json!(to_text(lo)));
    p.insert("start_datetime".into(), json!(to_text(lo)));
    p.insert("end_datetime".into(), json!(to_text(hi)));
    p.insert("usgs:sites".into(), json!(sites));
    p.insert("usgs:parameter_codes".into(), json!(variables));
    p.insert("usgs:rows".into(), json!(count));
    p.insert("processing:level".into(), json!("L1"));
    let mut it = item(
        &format!("usgs-values-{}-{}", sites.join("-"), item_id(name)),
        &collection_id,
        bbox,
        p,
    );
    if !points.is_empty() {
        it["geometry"] = json!({"type": "MultiPoint", "coordinates": points});
    }
    Ok(Product {
        collection: collection(
            &collection_id,
            "USGS NWIS values",
            "USGS National Water Information System instantaneous and daily values, one item per file",
            "other",
        ),
        item: it,
        observations: Vec::new(),
        sightings: Vec::new(),
        sha256: String::new(),
    })
}
