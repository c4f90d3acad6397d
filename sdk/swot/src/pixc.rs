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
    let file = open(bytes, name)?;
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

/// The length an HDF5 file (NetCDF-4) declares in its superblock, when it starts
/// with one: a file shorter than that was cut short.
pub fn hdf5_declared_length(bytes: &[u8]) -> Option<u64> {
    if bytes.len() < 16 || &bytes[..8] != b"\x89HDF\r\n\x1a\n" {
        return None;
    }
    let (version, offsets) = (bytes[8], bytes[13]);
    let offsets = match version {
        0 | 1 => usize::from(offsets),
        _ => usize::from(bytes[9]),
    };
    // The end-of-file address follows the base address and one other address (the
    // superblock extension in v2/v3, the free-space info in v0/v1); v0/v1 have 16
    // bytes of versions, sizes and B-tree ranks before the base (v1 four more).
    let at = match version {
        0 => 24 + 2 * offsets,
        1 => 28 + 2 * offsets,
        2 | 3 => 12 + 2 * offsets,
        _ => return None,
    };
    if !(offsets == 4 || offsets == 8) || bytes.len() < at + offsets {
        return None;
    }
    let mut value = 0u64;
    for (i, b) in bytes[at..at + offsets].iter().enumerate() {
        value |= u64::from(*b) << (8 * i);
    }
    Some(value)
}

/// Opens a NetCDF file, saying so when it is shorter than its header declares.
fn open(bytes: &[u8], name: &str) -> Result<NcFile, ReadError> {
    if let Some(declared) = hdf5_declared_length(bytes) {
        if (bytes.len() as u64) < declared {
            return Err(ReadError(format!(
                "{name}: truncated: {} bytes of the {declared} its HDF5 superblock declares",
                bytes.len()
            )));
        }
    }
    NcFile::from_bytes(bytes)
        .map_err(|e| ReadError(format!("{name}: not a readable NetCDF file: {e}")))
}

/// The pixels of a PIXC tile a water-level estimate needs, CF-decoded: fill
/// values and values outside `valid_min`/`valid_max` are NaN.
#[derive(Debug, Clone, Default)]
pub struct Pixels {
    /// Degrees north.
    pub latitude: Vec<f64>,
    /// Degrees east, -180..180 (a 0..360 file is brought into that range).
    pub longitude: Vec<f64>,
    /// Height above the reference ellipsoid, m.
    pub height: Vec<f64>,
    /// Geoid height above the ellipsoid, m.
    pub geoid: Vec<f64>,
    /// `classification` (1 land, 2 land near water, 3 water near land, 4 open water,
    /// 22 land near dark water, 23 dark water edge, 24 dark water).
    pub classification: Vec<f64>,
    /// `pixc_qual` (0 good, 1 bad) when the file has it.
    pub quality: Option<Vec<f64>>,
    /// `illumination_time`, seconds since 2000-01-01, when the file has it.
    pub time: Option<Vec<f64>>,
    /// Solid earth, load (FES) and pole tides, m, when asked for and the file has all three.
    pub tides: Option<[Vec<f64>; 3]>,
}

/// Seconds from 1970-01-01 to 2000-01-01, the epoch of SWOT times.
pub const SWOT_EPOCH: f64 = 946_684_800.0;

/// Reads the pixels of the `pixel_cloud` group of a PIXC file; the three tide
/// variables only when `tides` asks for them (each costs an inflate of the tile).
pub fn pixels(bytes: &[u8], name: &str, tides: bool) -> Result<Pixels, ReadError> {
    let err = |what: String| ReadError(format!("{name}: {what}"));
    let file = open(bytes, name)?;
    if file.group("pixel_cloud").is_err() {
        return Err(err(
            "no pixel_cloud group: not a SWOT L2 HR PIXC file".into()
        ));
    }
    let has = |var: &str| file.variable(&format!("pixel_cloud/{var}")).is_ok();
    let read = |var: &str| -> Result<Vec<f64>, ReadError> {
        let path = format!("pixel_cloud/{var}");
        let values = file
            .read_variable_unpacked_masked(&path)
            .map_err(|e| err(format!("{path}: {e}")))?;
        Ok(values.into_iter().collect())
    };
    let optional = |var: &str| -> Result<Option<Vec<f64>>, ReadError> {
        if has(var) {
            read(var).map(Some)
        } else {
            Ok(None)
        }
    };
    let mut longitude = read("longitude")?;
    for x in &mut longitude {
        if *x > 180.0 {
            *x -= 360.0;
        }
    }
    let latitude = read("latitude")?;
    let height = read("height")?;
    let geoid = read("geoid")?;
    let classification = read("classification")?;
    let quality = optional("pixc_qual")?;
    let time = optional("illumination_time")?;
    let tides = if tides {
        match (
            optional("solid_earth_tide")?,
            optional("load_tide_fes")?,
            optional("pole_tide")?,
        ) {
            (Some(a), Some(b), Some(c)) => Some([a, b, c]),
            _ => None,
        }
    } else {
        None
    };
    let n = latitude.len();
    let lengths = [
        ("longitude", longitude.len()),
        ("height", height.len()),
        ("geoid", geoid.len()),
        ("classification", classification.len()),
        ("pixc_qual", quality.as_ref().map_or(n, Vec::len)),
        ("illumination_time", time.as_ref().map_or(n, Vec::len)),
    ];
    if let Some((var, len)) = lengths.iter().find(|(_, len)| *len != n) {
        return Err(err(format!(
            "pixel_cloud/{var} has {len} values and pixel_cloud/latitude {n}"
        )));
    }
    if let Some(t) = &tides {
        if t.iter().any(|v| v.len() != n) {
            return Err(err(
                "the tide variables do not have one value per pixel".into()
            ));
        }
    }
    Ok(Pixels {
        latitude,
        longitude,
        height,
        geoid,
        classification,
        quality,
        time,
        tides,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn superblock_v0(eof: u64) -> Vec<u8> {
        let mut b = b"\x89HDF\r\n\x1a\n".to_vec();
        b.extend([0, 0, 0, 0, 0, 8, 8, 0, 4, 0, 16, 0, 0, 0, 0, 0]);
        b.extend(0u64.to_le_bytes());
        b.extend(u64::MAX.to_le_bytes());
        b.extend(eof.to_le_bytes());
        b.extend(u64::MAX.to_le_bytes());
        b
    }

    #[test]
    fn the_declared_length_of_a_v0_superblock() {
        // Laid out as the PIXC file of ../shared/data starts (superblock version 0).
        let b = superblock_v0(872_384);
        assert_eq!(hdf5_declared_length(&b), Some(872_384));
        let e = pixels(&b, "cut.nc", false).unwrap_err().to_string();
        assert!(
            e.contains("cut.nc: truncated") && e.contains("872384"),
            "{e}"
        );
        assert_eq!(hdf5_declared_length(b"CDF\x01 classic"), None);
    }

    #[test]
    fn the_declared_length_of_a_v2_superblock() {
        let mut b = b"\x89HDF\r\n\x1a\n".to_vec();
        b.extend([2, 8, 8, 0]);
        b.extend(0u64.to_le_bytes());
        b.extend(u64::MAX.to_le_bytes());
        b.extend(4096u64.to_le_bytes());
        assert_eq!(hdf5_declared_length(&b), Some(4096));
    }
}
