//! `virtual-station-wse`: the plugin's entry point; the work is in the library.

use hysope_sdk::{Algorithm, DataError, Input, LogLevel, Output};
use hysope_virtual_station_wse::{Settings, Tile, estimate, stations, to_csv};

fn algorithm() -> Algorithm {
    Algorithm::new("virtual-station-wse", env!("CARGO_PKG_VERSION"))
        .label("Water surface elevation at virtual stations from a SWOT pixel cloud")
        .description(
            "For each station polygon of a GeoJSON file, the pixels of a SWOT L2 HR PIXC tile \
             inside it, of the chosen water classes and of good quality: their height minus the \
             geoid (and the tides when asked), the median after rejecting pixels beyond \
             k x 1.4826 x MAD of a first median, the robust spread 1.4826 x MAD and the \
             uncertainty sqrt(pi/2) x spread / sqrt(n), with the pixel counts at each step. \
             Stations without usable pixels get a status and empty values.",
        )
        .input(Input::file("pixc").doc("SWOT L2 HR PIXC tile (SWOT_L2_HR_PIXC_*.nc, NetCDF-4)"))
        .input(Input::file("stations").doc(
            "GeoJSON FeatureCollection of station Polygons/MultiPolygons (lon, lat in degrees); the id property names each",
        ))
        .input(
            Input::string("classes")
                .default_value("3,4")
                .doc("classification values used, comma-separated (3 water near land, 4 open water, 23 dark water edge, 24 dark water)"),
        )
        .input(
            Input::double("max_pixc_qual")
                .default_value(0.0)
                .doc("use pixels with pixc_qual <= this (0 good, 1 bad); unknown quality is not used; files without pixc_qual are not filtered on it, and the summary says so"),
        )
        .input(
            Input::double("mad_factor")
                .default_value(3.0)
                .doc("reject pixels farther than this x 1.4826 x MAD from the first median"),
        )
        .input(Input::boolean("tides").doc(
            "also subtract solid_earth_tide, load_tide_fes and pole_tide (as the RiverSP processing does)",
        ))
        .input(
            Input::int("min_pixels")
                .default_value(1_i64)
                .doc("fewer used pixels than this: no estimate (status too_few_pixels)"),
        )
        .output(Output::file("csv").glob("wse.csv").doc("one row per station: status, time, wse, wse_u, wse_std, pixel counts, centroid"))
        .output(Output::file("summary").glob("summary.json").doc("counts per status, settings, what was done with unknown quality"))
}

fn classes(text: &str) -> Result<Vec<i64>, DataError> {
    let classes: Result<Vec<i64>, _> = text.split(',').map(|c| c.trim().parse::<i64>()).collect();
    match classes {
        Ok(c) if !c.is_empty() => Ok(c),
        _ => Err(DataError(format!(
            "--classes must be comma-separated classification values such as 3,4, not {text:?}"
        ))),
    }
}

fn main() {
    hysope_sdk::run(&algorithm(), |args| {
        let settings = Settings {
            classes: classes(args.string("classes")?)?,
            max_quality: args.double("max_pixc_qual")?,
            mad_factor: args.double("mad_factor")?,
            tides: args.flag("tides"),
            min_pixels: usize::try_from(args.int("min_pixels")?)
                .map_err(|_| DataError("--min-pixels must be 0 or more".to_string()))?,
        };
        if !(settings.mad_factor.is_finite() && settings.mad_factor >= 0.0) {
            return Err(DataError(format!(
                "--mad-factor must be a number >= 0, not {}",
                settings.mad_factor
            ))
            .into());
        }
        if settings.max_quality.is_nan() {
            return Err(DataError("--max-pixc-qual must be a number".to_string()).into());
        }
        let (stations_name, text) = hysope_sdk::read_input_text(args.file("stations")?)?;
        let doc: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| DataError(format!("{stations_name}: not JSON: {e}")))?;
        let stations = stations(&doc, &stations_name).map_err(DataError)?;
        let (name, bytes) = hysope_sdk::read_input(args.file("pixc")?)?;
        let pixels = hysope_swot::pixc::pixels(&bytes, &name, settings.tides)
            .map_err(|e| DataError(e.to_string()))?;
        drop(bytes);
        if settings.tides && pixels.tides.is_none() {
            return Err(DataError(format!(
                "{name}: --tides asks for solid_earth_tide, load_tide_fes and pole_tide, which the file does not have all of"
            ))
            .into());
        }
        hysope_sdk::progress(50.0, "read the pixel cloud");
        let estimates = estimate(&pixels, &stations, &settings);
        let product = hysope_swot::ProductName::parse(&name).ok();
        let tile = Tile {
            file: name.clone(),
            cycle: product.as_ref().map(|p| p.cycle),
            pass: product.as_ref().map(|p| p.pass),
            tile: product.and_then(|p| p.tile),
        };
        let mut status = serde_json::Map::new();
        for e in &estimates {
            let n = status.get(e.status).and_then(|v| v.as_u64()).unwrap_or(0);
            status.insert(e.status.to_string(), (n + 1).into());
        }
        let quality = if pixels.quality.is_some() {
            format!(
                "pixels with pixc_qual <= {} used; unknown pixc_qual not used",
                settings.max_quality
            )
        } else {
            "the file has no pixc_qual: pixels not filtered on quality".to_string()
        };
        let summary = serde_json::json!({
            "file": name,
            "pixels": pixels.latitude.len(),
            "stations": estimates.len(),
            "status": status,
            "quality": quality,
            "classes": settings.classes,
            "mad_factor": settings.mad_factor,
            "reference": if settings.tides { "geoid and tides (solid earth, load FES, pole)" } else { "geoid" },
            "min_pixels": settings.min_pixels,
        });
        hysope_sdk::log(
            LogLevel::Info,
            &format!("{} stations: {}", estimates.len(), summary["status"]),
        );
        hysope_sdk::write_output("wse.csv", to_csv(&tile, &estimates))?;
        hysope_sdk::write_output("summary.json", serde_json::to_vec_pretty(&summary)?)?;
        hysope_sdk::progress(100.0, "done");
        Ok(())
    })
}
