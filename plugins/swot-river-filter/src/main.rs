//! `swot-river-filter`: the plugin's entry point; the work is in the library.

use hysope_sdk::{Algorithm, DataError, Input, LogLevel, Output};
use hysope_swot_river_filter::{Kind, Thresholds, Unknown, filter, read_zip, to_csv, to_geojson};
use serde_json::json;

fn algorithm() -> Algorithm {
    Algorithm::new("swot-river-filter", env!("CARGO_PKG_VERSION"))
        .label("SWOT RiverSP and LakeSP quality filter")
        .description(
            "Reads a SWOT L2 HR RiverSP reach or node shapefile zip, or a LakeSP (Prior, Obs or \
             Unassigned) zip, turns fill values into nulls, drops unobserved features (no wse) and \
             features failing the quality thresholds (reach_q, node_q or quality_f, ice flags, \
             partial_f, xovr_cal_q, dark_frac, obs_frac_n), and writes the kept features as GeoJSON \
             and CSV with a summary of what each rule dropped. The kind of file is told by its fields.",
        )
        .input(Input::file("product").doc(
            "RiverSP reach or node shapefile zip (SWOT_L2_HR_RiverSP_{Reach,Node}_*.zip), or LakeSP zip (SWOT_L2_HR_LakeSP_{Prior,Obs,Unassigned}_*.zip)",
        ))
        .input(Input::double("max_reach_q").default_value(1.0).doc("reaches: keep reach_q <= this (0 good .. 3 bad)"))
        .input(Input::double("max_node_q").default_value(1.0).doc("nodes: keep node_q <= this (0 good .. 3 bad)"))
        .input(Input::double("max_quality_f").default_value(1.0).doc("lakes: keep quality_f <= this (0 good .. 3 bad)"))
        .input(Input::double("max_ice_clim_f").default_value(0.0).doc("keep ice_clim_f <= this"))
        .input(Input::double("max_ice_dyn_f").default_value(0.0).doc("keep ice_dyn_f <= this"))
        .input(Input::double("max_partial_f").default_value(0.0).doc("keep partial_f <= this"))
        .input(Input::double("max_xovr_cal_q").default_value(1.0).doc("keep xovr_cal_q <= this"))
        .input(Input::double("max_dark_frac").optional().doc("keep dark_frac <= this (no rule if absent)"))
        .input(Input::double("min_obs_frac_n").optional().doc("reaches: keep obs_frac_n >= this (no rule if absent)"))
        .input(
            Input::string("unknown_flags")
                .default_value("keep")
                .doc("keep or drop a feature whose flag is a fill value (unknown)"),
        )
        .output(Output::file("geojson").glob("*.geojson").doc("kept features, GeoJSON (reaches.geojson, nodes.geojson or lakes.geojson)"))
        .output(Output::file("csv").glob("*.csv").doc("kept features, CSV (reaches.csv, nodes.csv or lakes.csv)"))
        .output(Output::file("summary").glob("summary.json").doc("counts per rule"))
}

fn main() {
    hysope_sdk::run(&algorithm(), |args| {
        let path = args.file("product")?;
        let unknown = match args.string("unknown_flags")? {
            "keep" => Unknown::Keep,
            "drop" => Unknown::Drop,
            other => {
                return Err(format!("--unknown-flags must be keep or drop, not {other:?}").into());
            }
        };
        let thresholds = Thresholds {
            max_reach_q: args.double("max_reach_q")?,
            max_node_q: args.double("max_node_q")?,
            max_quality_f: args.double("max_quality_f")?,
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
        let Some(kind) = Kind::detect(&layer.fields) else {
            return Err(DataError(format!(
                "{name}: none of RiverSP reach, RiverSP node or LakeSP (no reach_q, node_q or quality_f field)"
            ))
            .into());
        };
        let result = filter(&layer, kind, &thresholds);
        hysope_sdk::progress(60.0, "filtered");
        let stem = kind.plural();
        hysope_sdk::write_output(
            &format!("{stem}.geojson"),
            serde_json::to_vec(&to_geojson(&result.kept))?,
        )?;
        hysope_sdk::write_output(&format!("{stem}.csv"), to_csv(&layer.fields, &result.kept))?;
        let counts = |pairs: &[(&str, usize)]| -> serde_json::Map<String, serde_json::Value> {
            pairs
                .iter()
                .map(|(r, n)| (r.to_string(), json!(n)))
                .collect()
        };
        let summary = json!({
            "input": name,
            "kind": stem,
            "features": layer.features.len(),
            "kept": result.kept.len(),
            "dropped": counts(&result.dropped),
            "kept_with_unknown_flag": counts(&result.unknown_flags),
            "unknown_flags": args.string("unknown_flags")?,
        });
        hysope_sdk::write_output("summary.json", serde_json::to_vec_pretty(&summary)?)?;
        hysope_sdk::log(
            LogLevel::Info,
            &format!(
                "kept {} of {} {stem}",
                result.kept.len(),
                layer.features.len()
            ),
        );
        hysope_sdk::progress(100.0, "done");
        println!("{}", serde_json::to_string(&summary)?);
        Ok(())
    });
}
