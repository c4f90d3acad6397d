//! Time series of one feature across every ingested pass, modelled on PO.DAAC
//! Hydrocron's query API: the observations of a reach, node or lake between two
//! times, with chosen fields, an optional quality threshold, as JSON (GeoJSON-like
//! rows) or CSV.

use serde_json::{Map, Value, json};

use crate::store::{CatalogStore, Observation};
use crate::{Error, Result};

/// Fields returned when the client names none.
pub const DEFAULT_FIELDS: [&str; 4] = ["time_str", "wse", "wse_u", "width"];

/// The quality flag of each kind of feature (0 best).
pub fn quality_field(kind: &str) -> &'static str {
    match kind {
        "reach" => "reach_q",
        "node" => "node_q",
        _ => "quality_f",
    }
}

/// The unit of a field of a reach, node or lake, as the product descriptions give
/// it (RiverSP D-56413, LakeSP D-56416; the `units` of the products' `.shp.xml`):
/// RiverSP areas in m^2, LakeSP areas in km^2 and storage changes in km^3, "1" for
/// a fraction, a count or a scale factor. None for a flag, an identifier or a text
/// (the products give "1" to the ids of neighbouring reaches and dams too: no unit
/// here).
pub fn units(kind: &str, field: &str) -> Option<&'static str> {
    const HEIGHTS: [&str; 13] = [
        "geoid_hght",
        "solid_tide",
        "load_tidef",
        "load_tideg",
        "pole_tide",
        "dry_trop_c",
        "wet_trop_c",
        "iono_c",
        "xovr_cal_c",
        "xtrk_dist",
        "layovr_val",
        "wse_std",
        "p_ref_wse",
    ];
    match field {
        "p_lat" | "lat" | "lat_u" => return Some("degrees_north"),
        "p_lon" | "lon" | "lon_u" => return Some("degrees_east"),
        // Dimensionless: fractions, counts, scale factors ("1" in the products).
        "dark_frac" | "obs_frac_n" | "rdr_sig0" | "rdr_sig0_u" | "n_good_nod" | "n_good_pix"
        | "n_reach_up" | "n_reach_dn" | "p_n_nodes" | "p_n_ch_max" | "p_n_ch_mod" => {
            return Some("1");
        }
        "flow_angle" => return Some("degrees"),
        _ if HEIGHTS.contains(&field) => return Some("m"),
        _ => {}
    }
    if kind == "lake" {
        return match field {
            "wse" | "wse_u" | "wse_r_u" => Some("m"),
            "area_total" | "area_tot_u" | "area_detct" | "area_det_u" | "p_ref_area" => {
                Some("km^2")
            }
            "ds1_l" | "ds1_l_u" | "ds1_q" | "ds1_q_u" | "ds2_l" | "ds2_l_u" | "ds2_q"
            | "ds2_q_u" | "p_ds_t0" | "p_storage" => Some("km^3"),
            _ => None,
        };
    }
    match field {
        "wse" | "wse_u" | "wse_r_u" | "wse_c" | "wse_c_u" | "width" | "width_u" | "width_c"
        | "width_c_u" | "node_dist" | "loc_offset" | "p_wse" | "p_wse_var" | "p_width"
        | "p_dist_out" | "p_length" => Some("m"),
        "slope" | "slope_u" | "slope_r_u" | "slope2" | "slope2_u" | "slope2_r_u" | "geoid_slop" => {
            Some("m/m")
        }
        "area_total" | "area_tot_u" | "area_detct" | "area_det_u" | "area_wse" | "d_x_area"
        | "d_x_area_u" | "p_wid_var" => Some("m^2"),
        "p_maf" => Some("m^3/s"),
        f if f.starts_with("dschg_") && f.ends_with("sf") => Some("1"),
        f if f.starts_with("dschg_") && !f.ends_with("_q") && !f.ends_with("_q_b") => Some("m^3/s"),
        _ => None,
    }
}

/// The units of those of `fields` that have one, as a JSON object.
pub fn units_of(kind: &str, fields: &[String]) -> Value {
    Value::Object(
        fields
            .iter()
            .filter_map(|f| Some((f.clone(), json!(units(kind, f)?))))
            .collect(),
    )
}

/// A time series request.
#[derive(Debug, Clone, Default)]
pub struct SeriesQuery {
    /// `reach`, `node` or `lake`.
    pub kind: String,
    /// The feature id.
    pub feature_id: String,
    /// Inclusive start, RFC 3339.
    pub start: Option<String>,
    /// Inclusive end, RFC 3339.
    pub end: Option<String>,
    /// Fields to return (besides the feature id, time and product).
    pub fields: Vec<String>,
    /// Keep only observations whose quality flag is known and at most this.
    pub max_quality: Option<f64>,
}

/// One series: the rows and what was left out.
#[derive(Debug, Clone)]
pub struct Series {
    /// The query answered.
    pub query: SeriesQuery,
    /// Kept observations, oldest first.
    pub rows: Vec<Observation>,
    /// Observations dropped by the quality threshold (unknown quality counts as dropped).
    pub dropped_by_quality: usize,
}

impl SeriesQuery {
    /// A query from URL parameters (`start_time`, `end_time`, `fields`, `quality`).
    pub fn from_params(kind: &str, feature_id: &str, params: &[(String, String)]) -> Result<Self> {
        let bad = |t: String| Error::InvalidParameter(t);
        let mut q = SeriesQuery {
            kind: kind.to_string(),
            feature_id: feature_id.to_string(),
            fields: DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let check_id = match kind {
            "reach" => feature_id.len() == 11,
            "node" => feature_id.len() == 14,
            _ => feature_id.len() == 10,
        };
        if !check_id || !feature_id.bytes().all(|b| b.is_ascii_digit()) {
            let digits = match kind {
                "reach" => "11 digits (CBBBBBRRRRT)",
                "node" => "14 digits (CBBBBBRRRRNNNT)",
                _ => "10 digits (CBBNNNNNNT)",
            };
            return Err(bad(format!("{kind} id {feature_id:?}: expected {digits}")));
        }
        for (key, value) in params {
            match key.as_str() {
                "start_time" | "end_time" => {
                    let t = crate::search::micros(value).ok_or_else(|| {
                        bad(format!("{key}: {value:?} is not an RFC 3339 date-time"))
                    })?;
                    let text = chrono::DateTime::from_timestamp_micros(t)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
                    if key == "start_time" {
                        q.start = text;
                    } else {
                        q.end = text;
                    }
                }
                "fields" => {
                    q.fields = value
                        .split(',')
                        .map(|f| f.trim().to_string())
                        .filter(|f| !f.is_empty())
                        .collect();
                }
                "quality" | "max_quality" => {
                    q.max_quality = Some(value.parse().map_err(|_| {
                        bad(format!(
                            "{key}: {value:?} is not a number (0 best .. 3 bad)"
                        ))
                    })?);
                }
                "output" | "f" => {}
                _ => {
                    return Err(bad(format!(
                        "{key}: not a time series parameter (start_time, end_time, fields, quality, output)"
                    )));
                }
            }
        }
        if let (Some(a), Some(b)) = (&q.start, &q.end) {
            if a > b {
                return Err(bad(format!("start_time {a} is after end_time {b}")));
            }
        }
        Ok(q)
    }

    /// Runs the query against a store.
    pub fn run(self, store: &dyn CatalogStore) -> Result<Series> {
        let all = store.observations(
            &self.kind,
            &self.feature_id,
            self.start.as_deref(),
            self.end.as_deref(),
        )?;
        let flag = quality_field(&self.kind);
        let mut dropped = 0;
        let rows = all
            .into_iter()
            .filter(|o| match self.max_quality {
                None => true,
                Some(max) => {
                    let keep = o
                        .properties
                        .get(flag)
                        .and_then(Value::as_f64)
                        .is_some_and(|q| q <= max);
                    dropped += usize::from(!keep);
                    keep
                }
            })
            .collect();
        Ok(Series {
            query: self,
            rows,
            dropped_by_quality: dropped,
        })
    }
}

impl Series {
    fn row(&self, o: &Observation) -> Map<String, Value> {
        let mut row = Map::new();
        row.insert(format!("{}_id", self.query.kind), json!(o.feature_id));
        row.insert("time".into(), json!(o.time));
        for f in &self.query.fields {
            row.insert(
                f.clone(),
                o.properties.get(f).cloned().unwrap_or(Value::Null),
            );
        }
        row.insert("item".into(), json!(o.item_id));
        row
    }

    /// The series as JSON: the rows plus counts; unknown values are null.
    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|o| Value::Object(self.row(o)))
            .collect();
        json!({
            "type": format!("{}-timeseries", self.query.kind),
            "feature_id": self.query.feature_id,
            "fields": self.query.fields,
            "units": units_of(&self.query.kind, &self.query.fields),
            "numberReturned": rows.len(),
            "droppedByQuality": self.dropped_by_quality,
            "observations": rows,
        })
    }

    /// The series as CSV, one header line; unknown values are empty cells.
    pub fn to_csv(&self) -> String {
        let mut header = vec![format!("{}_id", self.query.kind), "time".to_string()];
        header.extend(self.query.fields.iter().cloned());
        header.push("item".into());
        let mut out = header.join(",");
        out.push('\n');
        for o in &self.rows {
            let row = self.row(o);
            let cells: Vec<String> = header
                .iter()
                .map(|h| match row.get(h) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => hysope_swot::csv::cell(s),
                    Some(other) => hysope_swot::csv::cell(&other.to_string()),
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}
