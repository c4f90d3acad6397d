//! Water surface elevation at virtual stations from a SWOT pixel cloud: the
//! pixels of a station polygon that are of the chosen water classes and of good
//! quality, their height minus the geoid (and optionally the tides), the median
//! after rejecting the pixels beyond k x 1.4826 x MAD of a first median, with the
//! pixel counts and a robust uncertainty.

use serde_json::Value;

/// 1.4826 x MAD estimates the standard deviation of normally distributed values.
pub const MAD_TO_SIGMA: f64 = 1.4826;
/// The standard error of a median of n normal values is sqrt(pi/2) sigma / sqrt(n).
pub const MEDIAN_EFFICIENCY: f64 = 1.253_314_137_315_500_3;

/// A closed ring of (longitude, latitude) vertices.
pub type Ring = Vec<(f64, f64)>;

/// One station: an identifier and its area (polygons of an outer ring and holes).
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    /// The feature's `id` property, else its `id` member, else `station-N`.
    pub id: String,
    /// Polygons, each an outer ring followed by its holes.
    pub polygons: Vec<Vec<Ring>>,
    /// Longitude/latitude box of the outer rings.
    pub bbox: [f64; 4],
}

impl Station {
    /// Whether (lon, lat) is inside the station: inside an outer ring and in none of
    /// its holes (even-odd rule; a point on an edge may fall either way).
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        if lon < self.bbox[0] || lon > self.bbox[2] || lat < self.bbox[1] || lat > self.bbox[3] {
            return false;
        }
        self.polygons.iter().any(|rings| {
            rings.first().is_some_and(|outer| in_ring(outer, lon, lat))
                && !rings[1..].iter().any(|hole| in_ring(hole, lon, lat))
        })
    }
}

fn in_ring(ring: &[(f64, f64)], x: f64, y: f64) -> bool {
    let mut inside = false;
    let mut j = ring.len() - 1;
    for i in 0..ring.len() {
        let (xi, yi) = ring[i];
        let (xj, yj) = ring[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Reads the stations of a GeoJSON document: a FeatureCollection, a Feature, or a
/// bare Polygon/MultiPolygon. Errors name the feature and what is wrong.
pub fn stations(doc: &Value, file: &str) -> Result<Vec<Station>, String> {
    let features: Vec<&Value> = match doc.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => doc
            .get("features")
            .and_then(Value::as_array)
            .ok_or(format!(
                "{file}: a FeatureCollection without a features array"
            ))?
            .iter()
            .collect(),
        Some("Feature") | Some("Polygon") | Some("MultiPolygon") => vec![doc],
        Some(other) => {
            return Err(format!(
                "{file}: a GeoJSON {other}; stations are a FeatureCollection, a Feature, a Polygon or a MultiPolygon"
            ));
        }
        None => return Err(format!("{file}: not a GeoJSON object (no \"type\")")),
    };
    let mut out = Vec::with_capacity(features.len());
    for (i, feature) in features.iter().enumerate() {
        let (geometry, id) = if feature.get("type").and_then(Value::as_str) == Some("Feature") {
            let id = feature
                .pointer("/properties/id")
                .or_else(|| feature.get("id"))
                .and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| format!("station-{}", i + 1));
            (feature.get("geometry").unwrap_or(&Value::Null), id)
        } else {
            (*feature, format!("station-{}", i + 1))
        };
        let at = format!("{file}: station {id} (feature {i})");
        let coordinates = geometry.get("coordinates");
        let polygons = match (geometry.get("type").and_then(Value::as_str), coordinates) {
            (Some("Polygon"), Some(c)) => vec![polygon(c, &at)?],
            (Some("MultiPolygon"), Some(Value::Array(ps))) => ps
                .iter()
                .map(|p| polygon(p, &at))
                .collect::<Result<_, _>>()?,
            (Some(kind), _) => {
                return Err(format!(
                    "{at}: a {kind} geometry; a station is a Polygon or a MultiPolygon with coordinates"
                ));
            }
            (None, _) => return Err(format!("{at}: no geometry")),
        };
        let mut bbox = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for rings in &polygons {
            for &(x, y) in &rings[0] {
                bbox = [
                    bbox[0].min(x),
                    bbox[1].min(y),
                    bbox[2].max(x),
                    bbox[3].max(y),
                ];
            }
        }
        if out.iter().any(|s: &Station| s.id == id) {
            return Err(format!("{at}: the identifier {id} is used twice"));
        }
        out.push(Station { id, polygons, bbox });
    }
    if out.is_empty() {
        return Err(format!("{file}: no station"));
    }
    Ok(out)
}

fn polygon(value: &Value, at: &str) -> Result<Vec<Ring>, String> {
    let rings = value
        .as_array()
        .filter(|r| !r.is_empty())
        .ok_or(format!("{at}: a polygon is a non-empty array of rings"))?;
    rings
        .iter()
        .enumerate()
        .map(|(r, ring)| {
            let points = ring
                .as_array()
                .ok_or(format!("{at}: ring {r} is not an array of positions"))?;
            let ring: Ring = points
                .iter()
                .enumerate()
                .map(|(p, pos)| {
                    let xy = pos.as_array().map(|a| {
                        (
                            a.first().and_then(Value::as_f64),
                            a.get(1).and_then(Value::as_f64),
                        )
                    });
                    match xy {
                        Some((Some(x), Some(y)))
                            if (-180.0..=360.0).contains(&x) && (-90.0..=90.0).contains(&y) =>
                        {
                            Ok((if x > 180.0 { x - 360.0 } else { x }, y))
                        }
                        _ => Err(format!(
                            "{at}: ring {r} position {p} is not [longitude, latitude] in degrees"
                        )),
                    }
                })
                .collect::<Result<_, _>>()?;
            if ring.len() < 4 || ring.first() != ring.last() {
                return Err(format!(
                    "{at}: ring {r} is not closed (4 or more positions, the last equal to the first)"
                ));
            }
            Ok(ring)
        })
        .collect()
}

pub use hysope_swot::stats::median;

/// The median of values (sorted in place) and their median absolute deviation from it.
fn median_mad(values: &mut [f64]) -> Option<(f64, f64)> {
    let m = median(values)?;
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    Some((m, median(&mut deviations)?))
}

/// Which pixels count and how the level is estimated.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Classification values used (default 3 water near land, 4 open water).
    pub classes: Vec<i64>,
    /// Pixels with `pixc_qual` above this are not used; unknown quality is not used.
    pub max_quality: f64,
    /// Outliers: |h - median| > k x 1.4826 x MAD.
    pub mad_factor: f64,
    /// Subtract the solid earth, load and pole tides as well as the geoid.
    pub tides: bool,
    /// Fewer used pixels than this: no estimate.
    pub min_pixels: usize,
}

/// The estimate at one station.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Station identifier.
    pub station: String,
    /// `ok`, `no_pixels` (none in the polygon), `no_water` (none of the classes),
    /// `no_good_pixels` (none of good quality with known heights), `too_few_pixels`.
    pub status: &'static str,
    /// Pixels inside the polygon.
    pub inside: usize,
    /// Of those, of the water classes.
    pub water: usize,
    /// Of those, of good quality with a known height and geoid (and tides).
    pub candidates: usize,
    /// Rejected as outliers.
    pub rejected: usize,
    /// Used for the estimate.
    pub used: usize,
    /// Median water surface elevation above the geoid, m.
    pub wse: Option<f64>,
    /// 1.4826 x MAD of the used pixels, m (None for one pixel).
    pub wse_std: Option<f64>,
    /// sqrt(pi/2) x wse_std / sqrt(used), m (None for one pixel).
    pub wse_u: Option<f64>,
    /// Median illumination time of the used pixels, seconds since 2000-01-01.
    pub time: Option<f64>,
    /// Mean longitude and latitude of the used pixels.
    pub centroid: Option<(f64, f64)>,
}

/// The estimate at each station from the tile's pixels.
pub fn estimate(
    pixels: &hysope_swot::pixc::Pixels,
    stations: &[Station],
    settings: &Settings,
) -> Vec<Estimate> {
    // The located pixels ordered by latitude: each station looks only at the pixels
    // within its latitude range (two binary searches) instead of the whole tile.
    let mut by_lat: Vec<(f64, usize)> = (0..pixels.latitude.len())
        .filter(|&i| pixels.latitude[i].is_finite() && pixels.longitude[i].is_finite())
        .map(|i| (pixels.latitude[i], i))
        .collect();
    by_lat.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    stations
        .iter()
        .map(|station| {
            let from = by_lat.partition_point(|p| p.0 < station.bbox[1]);
            let to = by_lat.partition_point(|p| p.0 <= station.bbox[3]);
            let mut inside: Vec<usize> = by_lat[from..to]
                .iter()
                .map(|p| p.1)
                .filter(|&i| station.contains(pixels.longitude[i], pixels.latitude[i]))
                .collect();
            // In file order, so that sums are taken in the same order whatever the index.
            inside.sort_unstable();
            one(pixels, station, &inside, settings)
        })
        .collect()
}

fn one(
    pixels: &hysope_swot::pixc::Pixels,
    station: &Station,
    inside: &[usize],
    settings: &Settings,
) -> Estimate {
    let water: Vec<usize> = inside
        .iter()
        .copied()
        .filter(|&i| {
            let c = pixels.classification[i];
            c.is_finite() && settings.classes.contains(&(c as i64))
        })
        .collect();
    // Height above the geoid (minus the tides) of the good pixels with everything known.
    let level = |i: usize| -> Option<f64> {
        if let Some(q) = &pixels.quality {
            // Unknown quality (NaN) is not used.
            if q[i].is_nan() || q[i] > settings.max_quality {
                return None;
            }
        }
        let mut h = pixels.height[i] - pixels.geoid[i];
        if settings.tides {
            let tides = pixels.tides.as_ref()?;
            h -= tides[0][i] + tides[1][i] + tides[2][i];
        }
        h.is_finite().then_some(h)
    };
    let candidates: Vec<(usize, f64)> = water
        .iter()
        .filter_map(|&i| level(i).map(|h| (i, h)))
        .collect();
    let mut estimate = Estimate {
        station: station.id.clone(),
        status: "ok",
        inside: inside.len(),
        water: water.len(),
        candidates: candidates.len(),
        rejected: 0,
        used: 0,
        wse: None,
        wse_std: None,
        wse_u: None,
        time: None,
        centroid: None,
    };
    let status = if inside.is_empty() {
        Some("no_pixels")
    } else if water.is_empty() {
        Some("no_water")
    } else if candidates.is_empty() {
        Some("no_good_pixels")
    } else {
        None
    };
    if let Some(status) = status {
        estimate.status = status;
        return estimate;
    }
    let mut heights: Vec<f64> = candidates.iter().map(|c| c.1).collect();
    let (first, mad) = median_mad(&mut heights).expect("candidates are not empty");
    let limit = settings.mad_factor * MAD_TO_SIGMA * mad;
    let used: Vec<(usize, f64)> = candidates
        .into_iter()
        .filter(|&(_, h)| (h - first).abs() <= limit)
        .collect();
    estimate.used = used.len();
    estimate.rejected = estimate.candidates - used.len();
    if used.len() < settings.min_pixels.max(1) {
        estimate.status = "too_few_pixels";
        return estimate;
    }
    let mut kept: Vec<f64> = used.iter().map(|u| u.1).collect();
    let (wse, kept_mad) = median_mad(&mut kept).expect("used is not empty");
    estimate.wse = Some(wse);
    if used.len() > 1 {
        let std = MAD_TO_SIGMA * kept_mad;
        estimate.wse_std = Some(std);
        estimate.wse_u = Some(MEDIAN_EFFICIENCY * std / (used.len() as f64).sqrt());
    }
    if let Some(times) = &pixels.time {
        let mut t: Vec<f64> = used
            .iter()
            .map(|u| times[u.0])
            .filter(|t| t.is_finite())
            .collect();
        estimate.time = median(&mut t);
    }
    let n = used.len() as f64;
    let (sx, sy) = used.iter().fold((0.0, 0.0), |(sx, sy), u| {
        (sx + pixels.longitude[u.0], sy + pixels.latitude[u.0])
    });
    estimate.centroid = Some((sx / n, sy / n));
    estimate
}

/// Where the tile comes from, for the rows of the table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tile {
    /// File name.
    pub file: String,
    /// Cycle, pass and tile from the name, when it is a SWOT name.
    pub cycle: Option<u32>,
    /// Pass number.
    pub pass: Option<u32>,
    /// Tile, e.g. `067L`.
    pub tile: Option<String>,
}

/// The CSV table: one row per station, unknown values as empty cells.
pub fn to_csv(tile: &Tile, estimates: &[Estimate]) -> String {
    use hysope_swot::csv::cell;
    let mut out = String::from(
        "station,status,time,cycle,pass,tile,wse,wse_u,wse_std,pixels_inside,pixels_water,pixels_candidates,pixels_rejected,pixels_used,longitude,latitude,file\n",
    );
    let num = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
    for e in estimates {
        let time = e
            .time
            .map(|t| hysope_swot::time::format_time(t + hysope_swot::pixc::SWOT_EPOCH))
            .unwrap_or_default();
        let row = [
            cell(&e.station),
            e.status.to_string(),
            time,
            tile.cycle.map(|c| c.to_string()).unwrap_or_default(),
            tile.pass.map(|c| c.to_string()).unwrap_or_default(),
            cell(tile.tile.as_deref().unwrap_or("")),
            num(e.wse),
            num(e.wse_u),
            num(e.wse_std),
            e.inside.to_string(),
            e.water.to_string(),
            e.candidates.to_string(),
            e.rejected.to_string(),
            e.used.to_string(),
            num(e.centroid.map(|c| c.0)),
            num(e.centroid.map(|c| c.1)),
            cell(&tile.file),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hysope_swot::pixc::Pixels;
    use serde_json::json;

    fn square(id: &str, x0: f64, y0: f64, size: f64) -> Value {
        json!({"type": "Feature", "properties": {"id": id}, "geometry": {"type": "Polygon",
            "coordinates": [[[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]]}})
    }

    fn settings() -> Settings {
        Settings {
            classes: vec![3, 4],
            max_quality: 0.0,
            mad_factor: 3.0,
            tides: false,
            min_pixels: 1,
        }
    }

    /// Pixels at (0.5, 0.5) with the given heights, geoid 10, open water, good.
    fn cloud(heights: &[f64]) -> Pixels {
        let n = heights.len();
        Pixels {
            latitude: vec![0.5; n],
            longitude: vec![0.5; n],
            height: heights.to_vec(),
            geoid: vec![10.0; n],
            classification: vec![4.0; n],
            quality: Some(vec![0.0; n]),
            time: Some((0..n).map(|i| 100.0 + i as f64).collect()),
            tides: None,
        }
    }

    #[test]
    fn median_and_mad_rejection_by_hand() {
        // Levels 0,1,2,3,100 (heights minus geoid 10): median 2, |dev| 2,1,0,1,98 ->
        // MAD 1, limit 3 x 1.4826 = 4.4478: 100 rejected. Kept 0,1,2,3: median 1.5,
        // |dev| 1.5,0.5,0.5,1.5 -> MAD 1.0, std 1.4826, u = 1.2533 x 1.4826 / 2.
        let stations = stations(
            &json!({"type": "FeatureCollection", "features": [square("a", 0.0, 0.0, 1.0)]}),
            "s",
        )
        .unwrap();
        let e = &estimate(
            &cloud(&[10.0, 11.0, 12.0, 13.0, 110.0]),
            &stations,
            &settings(),
        )[0];
        assert_eq!(
            (
                e.status,
                e.inside,
                e.water,
                e.candidates,
                e.rejected,
                e.used
            ),
            ("ok", 5, 5, 5, 1, 4)
        );
        assert_eq!(e.wse, Some(1.5));
        assert!((e.wse_std.unwrap() - 1.4826).abs() < 1e-12);
        assert!((e.wse_u.unwrap() - 1.2533141373155003 * 1.4826 / 2.0).abs() < 1e-12);
        assert_eq!(e.time, Some(101.5));
        assert_eq!(e.centroid, Some((0.5, 0.5)));
    }

    #[test]
    fn one_pixel_has_a_level_without_spread() {
        let s = stations(&square("a", 0.0, 0.0, 1.0), "s").unwrap();
        let e = &estimate(&cloud(&[12.25]), &s, &settings())[0];
        assert_eq!(
            (e.status, e.used, e.wse, e.wse_std, e.wse_u),
            ("ok", 1, Some(2.25), None, None)
        );
    }

    #[test]
    fn statuses_say_why_there_is_no_level() {
        let s = stations(
            &json!({"type": "FeatureCollection", "features": [
            square("in", 0.0, 0.0, 1.0), square("out", 5.0, 5.0, 1.0)]}),
            "s",
        )
        .unwrap();
        let mut land = cloud(&[1.0, 2.0]);
        land.classification = vec![1.0, 2.0];
        let e = estimate(&land, &s, &settings());
        assert_eq!((e[0].status, e[1].status), ("no_water", "no_pixels"));
        // Bad quality, unknown quality (fill -> NaN) and a fill height are not used.
        let mut bad = cloud(&[1.0, 2.0, f64::NAN]);
        bad.quality = Some(vec![1.0, f64::NAN, 0.0]);
        let e = estimate(&bad, &s, &settings());
        assert_eq!(
            (e[0].status, e[0].water, e[0].candidates, e[0].wse),
            ("no_good_pixels", 3, 0, None)
        );
        let mut few = settings();
        few.min_pixels = 3;
        let e = estimate(&cloud(&[1.0, 2.0]), &s, &few);
        assert_eq!(
            (e[0].status, e[0].used, e[0].wse),
            ("too_few_pixels", 2, None)
        );
        // Tides asked for but not in the file: no pixel has a known level.
        let mut tides = settings();
        tides.tides = true;
        assert_eq!(
            estimate(&cloud(&[1.0]), &s, &tides)[0].status,
            "no_good_pixels"
        );
    }

    #[test]
    fn tides_are_subtracted_when_asked() {
        let s = stations(&square("a", 0.0, 0.0, 1.0), "s").unwrap();
        let mut c = cloud(&[12.0]);
        c.tides = Some([vec![0.25], vec![0.125], vec![-0.5]]);
        let mut t = settings();
        t.tides = true;
        assert_eq!(
            estimate(&c, &s, &t)[0].wse,
            Some(2.0 - (0.25 + 0.125 - 0.5))
        );
    }

    #[test]
    fn polygons_with_holes_and_multipolygons() {
        let doc = json!({"type": "MultiPolygon", "coordinates": [
            [[[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]],
             [[1.0, 1.0], [3.0, 1.0], [3.0, 3.0], [1.0, 3.0], [1.0, 1.0]]],
            [[[10.0, 10.0], [11.0, 10.0], [10.5, 11.0], [10.0, 10.0]]]]});
        let s = &stations(&doc, "s").unwrap()[0];
        assert_eq!(s.id, "station-1");
        assert!(s.contains(0.5, 0.5) && !s.contains(2.0, 2.0) && s.contains(3.5, 2.0));
        assert!(s.contains(10.5, 10.2) && !s.contains(10.9, 10.9) && !s.contains(5.0, 5.0));
        assert_eq!(s.bbox, [0.0, 0.0, 11.0, 11.0]);
    }

    #[test]
    fn bad_station_files_are_named() {
        let e = stations(
            &json!({"type": "Point", "coordinates": [0, 0]}),
            "st.geojson",
        )
        .unwrap_err();
        assert!(e.contains("st.geojson") && e.contains("Point"), "{e}");
        let open = json!({"type": "Feature", "properties": {"id": "x"}, "geometry": {"type": "Polygon",
            "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}});
        let e = stations(&open, "st.geojson").unwrap_err();
        assert!(e.contains("station x") && e.contains("not closed"), "{e}");
        let e = stations(&json!({"type": "FeatureCollection", "features": []}), "f").unwrap_err();
        assert!(e.contains("no station"), "{e}");
        let twice = json!({"type": "FeatureCollection", "features": [square("a", 0.0, 0.0, 1.0), square("a", 2.0, 2.0, 1.0)]});
        assert!(stations(&twice, "f").unwrap_err().contains("used twice"));
        let far = json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 100], [0, 0]]]});
        assert!(stations(&far, "f").unwrap_err().contains("position 2"));
    }
}
