//! `swot-river-filter`: the plugin's entry point; the work is in the library.

use hysope_sdk::{Algorithm, DataError, Input, LogLevel, Output};
use hysope_swot_river_filter::{Thresholds, Unknown, filter, read_zip, to_csv, to_geojson};
use serde_json::json;

fn algorithm() -> Algorithm {
    Algorithm::new("swot-river-filter", env!("CARGO_PKG_VERSION"))
        .label("SWOT RiverSP reach quality filter")
        .description(
            "Reads a SWOT L2 HR RiverSP reach shapefile zip, turns fill values into nulls, drops \
             unobserved reaches (no wse) and reaches failing the quality thresholds, and writes the \
             kept reaches as GeoJSON and CSV with a summary of what each rule dropped.",
        )
        .input(Input::file("reaches").doc("RiverSP reach shapefile zip (SWOT_L2_HR_RiverSP_Reach_*.zip)"))
        .input(Input::double("max_reach_q").default_value(1.0).doc("keep reach_q <= this (0 good .. 3 bad)"))
        .input(Input::double("max_ice_clim_f").default_value(0.0).doc("keep ice_clim_f <= this"))
        .input(Input::double("max_ice_dyn_f").default_value(0.0).doc("keep ice_dyn_f <= this"))
        .input(Input::double("max_partial_f").default_value(0.0).doc("keep partial_f <= this"))
        .input(Input::double("max_xovr_cal_q").default_value(1.0).doc("keep xovr_cal_q <= this"))
        .input(Input::double("max_dark_frac").optional().doc("keep dark_frac <= this (no rule if absent)"))
        .input(Input::double("min_obs_frac_n").optional().doc("keep obs_frac_n >= this (no rule if absent)"))
        .input(
            Input::string("unknown_flags")
                .default_value("keep")
                .doc("keep or drop a reach whose flag is a fill value (unknown)"),
        )
        .output(Output::file("geojson").glob("reaches.geojson").doc("kept reaches, GeoJSON"))
        .output(Output::file("csv").glob("reaches.csv").doc("kept reaches, CSV"))
        .output(Output::file("summary").glob("summary.json").doc("counts per rule"))
}

fn main() {
    hysope_sdk::run(&algorithm(), |args| {
        let path = args.file("reaches")?;
        let unknown = match args.string("unknown_flags")? {
            "keep" => Unknown::Keep,
            "drop" => Unknown::Drop,
            other => {
                return Err(format!("--unknown-flags must be keep or drop, not {other:?}").into());
            }
        };
        let thresholds = Thresholds {
            max_reach_q: args.double("max_reach_q")?,
            max_ice_clim_f: args.double("max_ice_clim_f")?,
            max_ice_dyn_f: args.double("max_ice_dyn_f")?,
            max_partial_f: args.double("max_partial_f")?,
            max_xovr_cal_q: args.double("max_xovr_cal_q")?,
            max_dark_frac: args.opt_double("max_dark_frac"),
            min_obs_frac_n: args.opt_double("min_obs_frac_n"),
            unknown,
        };
        let (name, bytes) = hysope_sdk::read_input(path)?;
        hysope_sdk::progress(10.0, "read");
        let layer = read_zip(&bytes, &name).map_err(|e| DataError(e.to_string()))?;
        hysope_sdk::log(
            LogLevel::Info,
            &format!(
                "{} features, {} fields",
                layer.features.len(),
                layer.fields.len()
            ),
        );
        if !layer.fields.iter().any(|f| f == "reach_id") {
            return Err(DataError(format!(
                "{name}: no reach_id field: not a RiverSP reach file"
            ))
            .into());
        }
        let result = filter(&layer, &thresholds);
        hysope_sdk::progress(60.0, "filtered");
        hysope_sdk::write_output(
            "reaches.geojson",
            serde_json::to_vec(&to_geojson(&result.kept))?,
        )?;
        hysope_sdk::write_output("reaches.csv", to_csv(&layer.fields, &result.kept))?;
        let dropped: serde_json::Map<_, _> = result
            .dropped
            .iter()
            .map(|(r, n)| (r.to_string(), json!(n)))
            .collect();
        let unknown: serde_json::Map<_, _> = result
            .unknown_flags
            .iter()
            .map(|(r, n)| (r.to_string(), json!(n)))
            .collect();
        let summary = json!({
            "input": name,
            "features": layer.features.len(),
            "kept": result.kept.len(),
            "dropped": dropped,
            "kept_with_unknown_flag": unknown,
            "unknown_flags": args.string("unknown_flags")?,
        });
        hysope_sdk::write_output("summary.json", serde_json::to_vec_pretty(&summary)?)?;
        hysope_sdk::log(
            LogLevel::Info,
            &format!(
                "kept {} of {} reaches",
                result.kept.len(),
                layer.features.len()
            ),
        );
        hysope_sdk::progress(100.0, "done");
        println!("{}", serde_json::to_string(&summary)?);
        Ok(())
    });
}
