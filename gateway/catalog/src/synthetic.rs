//! Synthetic SWOT RiverSP reach products at the scale of the SWOT river database
//! (SWORD: about 249,000 reaches, each seen about 40 times a year), for the
//! benchmarks and the scale tests: realistic reach ids (`CBBBBBRRRRT`, the nine
//! SWORD continents), rivers of 50 reaches each with a name, reach lines of 12
//! vertices about 10 km long, products of consecutive reaches per pass with the
//! items, observations (the fields hydrologists read, fill values as nulls: 2 % of
//! the observations have no WSE and quality 3) and unobserved reaches (3 %) that
//! real files carry. Deterministic for a seed. It makes products, not files: the
//! readers are measured on the real files of `../shared/data`.

use serde_json::{Map, Value, json};

use crate::features::{Pass, Sighting};
use crate::ingest::{Product, bbox_polygon, collection, union};
use crate::store::Observation;

/// What to make.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Reaches in all.
    pub reaches: usize,
    /// Passes over each reach (spread over one year from 2025-01-01).
    pub passes: usize,
    /// Reaches per product file.
    pub reaches_per_product: usize,
    /// The seed.
    pub seed: u64,
}

/// The reaches of a river.
pub const REACHES_PER_RIVER: usize = 50;

/// The SWORD continents: (code digit, product code, west, south, east, north).
const CONTINENTS: [(u8, &str, f64, f64, f64, f64); 9] = [
    (1, "AF", -17.0, -34.0, 50.0, 36.0),
    (2, "EU", -9.0, 36.0, 40.0, 70.0),
    (3, "SI", 60.0, 45.0, 179.0, 77.0),
    (4, "AS", 60.0, 0.0, 150.0, 45.0),
    (5, "AU", 112.0, -44.0, 179.0, -10.0),
    (6, "SA", -81.0, -55.0, -35.0, 12.0),
    (7, "NA", -167.0, 15.0, -53.0, 71.0),
    (8, "AR", -179.0, 60.0, 179.0, 83.0),
    (9, "GR", -72.0, 60.0, -12.0, 83.0),
];

const SYLLABLES: [&str; 24] = [
    "ga", "ro", "ne", "lo", "ir", "da", "mu", "ri", "se", "ta", "vo", "ka", "li", "an", "be", "so",
    "ma", "ur", "te", "wa", "ko", "ni", "el", "ho",
];

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0.0..1.0`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in `a..b`.
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.unit()
    }
}

/// One synthetic reach.
#[derive(Debug, Clone)]
pub struct Reach {
    /// SWORD id.
    pub id: String,
    /// Its river's name.
    pub name: String,
    /// Product continent code.
    pub continent: &'static str,
    /// Its line.
    pub line: Vec<[f64; 2]>,
    /// Mean WSE (m), width (m) and slope.
    pub wse: f64,
    /// Mean width (m).
    pub width: f64,
}

/// Every reach of the spec, in id order.
pub fn reaches(spec: &Spec) -> Vec<Reach> {
    let mut rng = Rng::new(spec.seed);
    let mut out = Vec::with_capacity(spec.reaches);
    let rivers = spec.reaches.div_ceil(REACHES_PER_RIVER);
    for river in 0..rivers {
        let (digit, code, w, s, e, n) = CONTINENTS[river % CONTINENTS.len()];
        let basin = river / CONTINENTS.len() + 1;
        let name = {
            let k = 2 + (rng.next_u64() % 2) as usize;
            let mut word: String = (0..k)
                .map(|_| SYLLABLES[(rng.next_u64() % SYLLABLES.len() as u64) as usize])
                .collect();
            if let Some(first) = word.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            format!("{word} River")
        };
        let (mut x, mut y) = (rng.range(w, e - 5.0), rng.range(s, n - 5.0));
        let mut heading = rng.range(0.0, std::f64::consts::TAU);
        let mut wse = rng.range(20.0, 900.0);
        let width = rng.range(60.0, 900.0);
        for r in 0..REACHES_PER_RIVER {
            if out.len() == spec.reaches {
                break;
            }
            let mut line = Vec::with_capacity(12);
            for _ in 0..12 {
                line.push([(x * 1e6).round() / 1e6, (y * 1e6).round() / 1e6]);
                heading += rng.range(-0.35, 0.35);
                x = (x + 0.0082 * heading.cos()).clamp(-179.9, 179.9);
                y = (y + 0.0082 * heading.sin()).clamp(-89.9, 89.9);
            }
            wse -= rng.range(0.2, 3.0);
            out.push(Reach {
                id: format!("{digit}{basin:05}{:04}1", r + 1),
                name: name.clone(),
                continent: code,
                line,
                wse,
                width,
            });
        }
    }
    out
}

fn line_bbox(line: &[[f64; 2]]) -> [f64; 4] {
    line.iter()
        .fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |b, p| {
            [
                b[0].min(p[0]),
                b[1].min(p[1]),
                b[2].max(p[0]),
                b[3].max(p[1]),
            ]
        })
}

const EPOCH_2025: i64 = 1_735_689_600;

/// The products of the spec: for each pass, one product per group of
/// consecutive reaches. `reaches` is [`reaches`]' result.
pub fn products<'a>(spec: &'a Spec, reaches: &'a [Reach]) -> impl Iterator<Item = Product> + 'a {
    let groups = reaches.len().div_ceil(spec.reaches_per_product);
    let step = 365.0 * 86_400.0 / spec.passes.max(1) as f64;
    (0..spec.passes).flat_map(move |k| {
        (0..groups).map(move |g| {
            let members = &reaches[g * spec.reaches_per_product
                ..((g + 1) * spec.reaches_per_product).min(reaches.len())];
            let start = EPOCH_2025 + (k as f64 * step) as i64 + (g as i64 * 2_237) % (21 * 86_400);
            product(spec, k, g, members, start)
        })
    })
}

fn product(spec: &Spec, k: usize, g: usize, members: &[Reach], start: i64) -> Product {
    let mut rng = Rng::new(spec.seed ^ ((k as u64) << 32) ^ g as u64);
    let text = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.format("%Y%m%dT%H%M%S").to_string())
            .unwrap_or_default()
    };
    let rfc = |micros: i64| {
        chrono::DateTime::from_timestamp_micros(micros)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            .unwrap_or_default()
    };
    let end = start + 60 + members.len() as i64 / 4;
    let cycle = 1 + (k * 365 / spec.passes.max(1)) / 21;
    let pass = 1 + g % 584;
    let continent = members.first().map_or("NA", |r| r.continent);
    let name = format!(
        "SWOT_L2_HR_RiverSP_Reach_{cycle:03}_{pass:03}_{continent}_{}_{}_PID0_01",
        text(start),
        text(end)
    );
    let mut bbox = None;
    let (mut observations, mut sightings) = (Vec::new(), Vec::new());
    let mut best: Option<i64> = None;
    for (i, r) in members.iter().enumerate() {
        let b = line_bbox(&r.line);
        bbox = union(bbox, Some(b));
        let geometry = json!({"type": "LineString", "coordinates": r.line});
        let observed = rng.unit() >= 0.03;
        let micros = start * 1_000_000 + (i as i64) * 250_000;
        let time = rfc(micros);
        let pass_data = observed.then(|| {
            let bad = rng.unit() < 0.02;
            let wse = (!bad).then(|| (r.wse + rng.range(-1.5, 1.5) * 1e3).round() / 1e3);
            let q = if bad { 3 } else { (rng.unit() * 2.4) as i64 };
            (wse, q)
        });
        if let Some((wse, q)) = pass_data {
            best = Some(best.map_or(q, |b| b.min(q)));
            let mut p = Map::new();
            p.insert("reach_id".into(), json!(r.id));
            p.insert(
                "time".into(),
                json!((micros / 1000) as f64 / 1000.0 - 946_684_800.0),
            );
            p.insert("time_str".into(), json!(time.replace(".000000Z", "Z")));
            p.insert("wse".into(), json!(wse));
            p.insert(
                "wse_u".into(),
                json!(wse.map(|_| 0.1 + (rng.unit() * 100.0).round() / 1000.0)),
            );
            let width = (r.width * rng.range(0.9, 1.1) * 10.0).round() / 10.0;
            p.insert("width".into(), json!(wse.map(|_| width)));
            p.insert(
                "width_u".into(),
                json!(wse.map(|_| (width * 0.05 * 10.0).round() / 10.0)),
            );
            p.insert(
                "slope".into(),
                json!(wse.map(|_| (rng.range(1e-5, 4e-4) * 1e8).round() / 1e8)),
            );
            p.insert("slope_u".into(), json!(wse.map(|_| 1.7e-5)));
            p.insert("reach_q".into(), json!(q));
            p.insert(
                "dark_frac".into(),
                json!((rng.unit() * 1000.0).round() / 1000.0),
            );
            p.insert("ice_clim_f".into(), json!(0));
            p.insert("ice_dyn_f".into(), json!(0));
            p.insert("partial_f".into(), json!(i64::from(rng.unit() < 0.05)));
            p.insert("xovr_cal_q".into(), json!((rng.unit() * 2.0) as i64));
            p.insert("n_good_nod".into(), json!(20 + (rng.unit() * 40.0) as i64));
            p.insert("river_name".into(), json!(r.name));
            observations.push(Observation {
                kind: "reach",
                feature_id: r.id.clone(),
                time: time.clone(),
                item_id: name.clone(),
                properties: p,
            });
        }
        sightings.push(Sighting {
            kind: "reach",
            id: r.id.clone(),
            names: vec![r.name.clone()],
            parent: None,
            geometry,
            bbox: b,
            product_time: rfc(start * 1_000_000),
            pass: pass_data.map(|(wse, q)| Pass {
                time,
                wse,
                quality: Some(q as f64),
            }),
        });
    }
    let collection_id = "SWOT_L2_HR_RiverSP_Reach";
    let mut p = Map::new();
    let start_text = rfc(start * 1_000_000).replace(".000000Z", "Z");
    p.insert("datetime".into(), json!(start_text));
    p.insert("start_datetime".into(), json!(start_text));
    p.insert(
        "end_datetime".into(),
        json!(rfc(end * 1_000_000).replace(".000000Z", "Z")),
    );
    p.insert("platform".into(), json!("swot"));
    p.insert("instruments".into(), json!(["karin"]));
    p.insert("swot:cycle_number".into(), json!(cycle));
    p.insert("swot:pass_number".into(), json!(pass));
    p.insert("swot:continent_code".into(), json!(continent));
    p.insert("swot:feature_kind".into(), json!("Reach"));
    p.insert("swot:crid".into(), json!("PID0"));
    p.insert("swot:product_counter".into(), json!(1));
    p.insert("swot:feature_count".into(), json!(members.len()));
    p.insert("swot:observed_count".into(), json!(observations.len()));
    p.insert("reach_q".into(), json!(best));
    p.insert("processing:level".into(), json!("L2"));
    p.insert("processing:version".into(), json!("PID0"));
    p.insert("proj:code".into(), json!("EPSG:4326"));
    let mut item = json!({
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [],
        "id": name,
        "collection": collection_id,
        "geometry": bbox.map(bbox_polygon),
        "bbox": bbox,
        "properties": p,
        "links": [],
        "assets": {
            "data": {"href": format!("https://archive.swot.example/{name}.zip"), "type": "application/zip",
                     "title": format!("{name}.zip"), "roles": ["data"]},
            "metadata": {"href": format!("https://archive.swot.example/{name}.zip.xml"), "type": "application/xml",
                         "title": format!("{name}.zip.xml"), "roles": ["metadata"]},
        },
    });
    if bbox.is_none() {
        item.as_object_mut().map(|o| o.remove("bbox"));
    }
    let sha256 = format!(
        "{:016x}{:016x}{:032x}",
        spec.seed,
        (k as u64) << 32 | g as u64,
        0u128
    );
    Product {
        collection: collection(
            collection_id,
            "SWOT L2 HR RiverSP Reach",
            "SWOT Level 2 KaRIn high-rate RiverSP Reach vector product (shapefile), one item per product file; fill values read as nulls",
            "other",
        ),
        item,
        observations,
        sightings,
        sha256,
    }
}

/// Every observation value of a product as JSON, for size accounting.
pub fn observation_bytes(product: &Product) -> usize {
    product
        .observations
        .iter()
        .map(|o| Value::Object(o.properties.clone()).to_string().len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_and_products_look_like_swords_and_are_deterministic() {
        let spec = Spec {
            reaches: 230,
            passes: 4,
            reaches_per_product: 100,
            seed: 7,
        };
        let all = reaches(&spec);
        assert_eq!(all.len(), 230);
        for r in &all {
            crate::features::check_id("reach", &r.id).unwrap();
        }
        let mut ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 230, "ids are unique");
        let products: Vec<Product> = products(&spec, &all).collect();
        assert_eq!(products.len(), 4 * 3);
        let observed: usize = products.iter().map(|p| p.observations.len()).sum();
        assert!(
            observed > 4 * 230 * 9 / 10 && observed < 4 * 230,
            "{observed}"
        );
        assert!(products.iter().all(|p| p.sightings.len()
            == p.item["properties"]["swot:feature_count"].as_u64().unwrap() as usize));
        // Fills are nulls, never numbers.
        let text =
            serde_json::to_string(&products.iter().map(|p| &p.item).collect::<Vec<_>>()).unwrap();
        assert!(!text.contains("-999"));
        let again: Vec<String> = super::products(&spec, &reaches(&spec))
            .map(|p| p.item["id"].to_string())
            .collect();
        assert_eq!(
            again,
            products
                .iter()
                .map(|p| p.item["id"].to_string())
                .collect::<Vec<_>>()
        );
    }
}
