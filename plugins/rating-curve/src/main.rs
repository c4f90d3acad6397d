//! `rating-curve`: the plugin's entry point; the work is in the library.

use hysope_rating_curve::{fit, fit_json, read_levels, read_pairs};
use hysope_sdk::{Algorithm, DataError, Input, LogLevel, Output};

fn algorithm() -> Algorithm {
    Algorithm::new("rating-curve", env!("CARGO_PKG_VERSION"))
        .label("Stage-discharge rating curve")
        .description(
            "Fits Q = a (h - h0)^b to stage-discharge pairs (a USGS RDB rating table or a CSV with \
             stage and discharge columns): h0 by a grid search below the lowest stage, a and b by \
             least squares on ln Q = ln a + b ln(h - h0). With a water-level series (CSV with time \
             and a level column, such as a Hysope time series), writes the discharge of each level; \
             a level at or below h0, or unknown, has no discharge.",
        )
        .input(Input::file("pairs").doc("stage-discharge pairs: USGS RDB rating (INDEP, DEP) or CSV (stage, discharge)"))
        .input(Input::file("levels").optional().doc("CSV of water levels with a time column"))
        .input(Input::string("level_column").default_value("stage").doc("column of the levels in `levels` (wse for a Hysope time series)"))
        .input(Input::string("time_column").default_value("time").doc("column of the times in `levels` (bin_start for a timeseries-resample output)"))
        .input(Input::int("grid").default_value(1000).doc("candidate stages of zero flow, evenly spaced from h_min - span to h_min - span/grid"))
        .output(Output::file("fit").glob("fit.json").doc("a, b, h0, pairs used, log-residual RMSE and R2"))
        .output(Output::file("discharge").glob("discharge.csv").optional().doc("time, level, discharge (when levels are given)"))
}

fn main() {
    hysope_sdk::run(&algorithm(), |args| {
        let path = args.file("pairs")?;
        let (name, text) = hysope_sdk::read_input_text(path)?;
        let pairs = read_pairs(&text, &name).map_err(DataError)?;
        let grid = usize::try_from(args.int("grid")?)
            .map_err(|_| DataError("--grid must be positive".into()))?;
        let curve = fit(&pairs, grid).map_err(|e| DataError(format!("{name}: {e}")))?;
        hysope_sdk::log(
            LogLevel::Info,
            &format!(
                "Q = {:.6} (h - {:.4})^{:.4}, {} pairs, R2(log) {:.5}",
                curve.a, curve.h0, curve.b, curve.n, curve.r2_log
            ),
        );
        hysope_sdk::write_output(
            "fit.json",
            serde_json::to_vec_pretty(&fit_json(&curve, pairs.len()))?,
        )?;
        if let Some(levels_path) = args.opt_file("levels") {
            let (lname, text) = hysope_sdk::read_input_text(levels_path)?;
            let column = args.string("level_column")?;
            let time_column = args.string("time_column")?;
            let levels = read_levels(&text, &lname, time_column, column).map_err(DataError)?;
            let mut out = format!("time,{column},discharge\n");
            for (time, level) in &levels {
                let q = level.and_then(|h| curve.discharge(h));
                let cell = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
                out.push_str(&format!(
                    "{},{},{}\n",
                    hysope_swot::csv::cell(time),
                    cell(*level),
                    cell(q)
                ));
            }
            hysope_sdk::write_output("discharge.csv", out)?;
        }
        hysope_sdk::progress(100.0, "done");
        Ok(())
    })
}
