//! SWOT pixel clouds (`L2_HR_PIXC`, group `pixel_cloud`) and their vector
//! attributes (`L2_HR_PIXCVec`, variables at the root), NetCDF-4 files read with a
//! pure-Rust reader: what a catalogue needs to describe one tile.

use netcdf_reader::{NcAttrValue, NcFile};

use crate::ReadError;

/// What a pixel-cloud file says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelCloudSummary {
    /// Number of pixels.
    pub pixels: usize,
    /// Longitude/latitude box of the pixels with valid coordinates, or None when none is valid.
    pub bbox: Option<[f64; 4]>,
    /// `time_coverage_start` as RFC 3339, when the file fills it.
    pub start: Option<String>,
    /// `time_coverage_end` as RFC 3339, when the file fills it.
    pub end: Option<String>,
    /// Global attributes that describe the granule: cycle, pass, tile, continent, title, source, ...
    pub attributes: Vec<(String, serde_json::Value)>,
}

/// Global attributes copied into a summary.
const ATTRIBUTES: [&str; 10] = [
    "title",
    "institution",
    "source",
    "cycle_number",
    "pass_number",
    "tile_number",
    "swath_side",
    "tile_name",
    "continent",
    "references",
];

/// Reads the summary of a PIXC or PIXCVec file from its bytes.
pub fn summary(bytes: &[u8], name: &str) -> Result<PixelCloudSummary, ReadError> {
    let err = |what: String| ReadError(format!("{name}: {what}"));
    let file =
        NcFile::from_bytes(bytes).map_err(|e| err(format!("not a readable NetCDF file: {e}")))?;
    let (lat, lon) = if file.group("pixel_cloud").is_ok() {
        ("pixel_cloud/latitude", "pixel_cloud/longitude")
    } else if file.variable("latitude_vectorproc").is_ok() {
        ("latitude_vectorproc", "longitude_vectorproc")
    } else {
        return Err(err(
            "neither a pixel_cloud group (PIXC) nor latitude_vectorproc (PIXCVec): not a SWOT pixel cloud"
                .into(),
        ));
    };
    let read = |var: &str| {
        file.read_variable_as_f64(var)
            .map_err(|e| err(format!("{var}: {e}")))
    };
    let (lats, lons) = (read(lat)?, read(lon)?);
    if lats.len() != lons.len() {
        return Err(err(format!(
            "{lat} has {} values and {lon} {}",
            lats.len(),
            lons.len()
        )));
    }
    let mut bbox: Option<[f64; 4]> = None;
    for (&y, &x) in lats.iter().zip(lons.iter()) {
        // Fill values (-9999, 9.96921e36) and NaN fall outside the valid ranges.
        if !((-90.0..=90.0).contains(&y) && (-180.0..=360.0).contains(&x)) {
            continue;
        }
        let x = if x > 180.0 { x - 360.0 } else { x };
        bbox = Some(match bbox {
            None => [x, y, x, y],
            Some(b) => [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)],
        });
    }
    let text = |key: &str| -> Option<String> {
        match &file.global_attribute(key).ok()?.value {
            NcAttrValue::Chars(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => None,
        }
    };
    let attributes = ATTRIBUTES
        .iter()
        .filter_map(|key| {
            let value = match &file.global_attribute(key).ok()?.value {
                NcAttrValue::Chars(s) if !s.trim().is_empty() => serde_json::json!(s.trim()),
                NcAttrValue::Chars(_) => return None,
                other => attribute_number(other)?,
            };
            Some((key.to_string(), value))
        })
        .collect();
    Ok(PixelCloudSummary {
        pixels: lats.len(),
        bbox,
        start: text("time_coverage_start").and_then(|t| rfc3339(&t)),
        end: text("time_coverage_end").and_then(|t| rfc3339(&t)),
        attributes,
    })
}

fn attribute_number(value: &NcAttrValue) -> Option<serde_json::Value> {
    let n = match value {
        NcAttrValue::Shorts(v) => f64::from(*v.first()?),
        NcAttrValue::Ints(v) => f64::from(*v.first()?),
        NcAttrValue::Int64s(v) => *v.first()? as f64,
        NcAttrValue::Doubles(v) => *v.first()?,
        NcAttrValue::Floats(v) => f64::from(*v.first()?),
        _ => return None,
    };
    if n.fract() == 0.0 {
        Some(serde_json::json!(n as i64))
    } else {
        Some(serde_json::json!(n))
    }
}

/// `2022-04-02 11:20:19.315742Z` as `2022-04-02T11:20:19.315742Z`.
fn rfc3339(text: &str) -> Option<String> {
    let t = text.replacen(' ', "T", 1);
    let t = if t.ends_with('Z') { t } else { format!("{t}Z") };
    let ok = t.len() >= 20 && t.as_bytes()[4] == b'-' && t.as_bytes()[10] == b'T';
    ok.then_some(t)
}
