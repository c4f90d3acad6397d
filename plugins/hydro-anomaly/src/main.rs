//! `hydro-anomaly`: the plugin's entry point; the work is in the library.

use hysope_hydro_anomaly::{Years, doy_z_scores, percentile, read_series, thresholds};
use hysope_sdk::{Algorithm, DataError, Input, LogLevel, Output};

fn algorithm() -> Algorithm {
    Algorithm::new("hydro-anomaly", env!("CARGO_PKG_VERSION"))
        .label("Hydrological anomalies and flood thresholds")
        .description(
            "For a time series of water levels or discharges (a CSV with time and a value column, \
             or USGS peaks in RDB): the z-score of each value against the values within a window of \
             days of the year, percentile thresholds, and Gumbel return levels fitted to the annual \
             maxima by the method of moments and by L-moments. Annual maxima are taken per \
             hydrological year (the USGS water year, October to September, by default); a USGS \
             peaks file's rows are one peak per water year, taken as given. Unknown values stay \
             empty; fits that need more data say so in notes.",
        )
        .input(Input::file("series").doc("CSV with time and a value column, or USGS peaks (RDB: peak_dt, peak_va)"))
        .input(Input::string("value_column").optional().doc("the value column (default: value, or peak_va for USGS peaks)"))
        .input(Input::int("window_days").default_value(15).doc("z-scores use values within this many days of the year"))
        .input(Input::string("percentiles").default_value("50,90,95,99").doc("comma-separated percentiles for thresholds"))
        .input(Input::string("return_periods").default_value("2,5,10,25,50,100").doc("comma-separated return periods, years"))
        .input(Input::int("year_start_month").default_value(10).doc("first month of the hydrological year whose maxima are fitted (10: the USGS water year, October to September; 1: calendar years); a USGS peaks file's rows are taken as given"))
        .output(Output::file("anomalies").glob("anomalies.csv").doc("time, value, day of year, z-score, highest threshold exceeded"))
        .output(Output::file("thresholds").glob("thresholds.json").doc("percentiles, Gumbel fits and return levels"))
}

fn numbers(text: &str, what: &str) -> Result<Vec<f64>, DataError> {
    text.split(',')
        .map(|t| {
            t.trim()
                .parse::<f64>()
                .map_err(|_| DataError(format!("--{what}: {t:?} is not a number")))
        })
        .collect()
}

fn main() {
    hysope_sdk::run(&algorithm(), |args| {
        let path = args.file("series")?;
        let (name, text) = hysope_sdk::read_input_text(path)?;
        let series =
            read_series(&text, &name, args.string("value_column").ok()).map_err(DataError)?;
        let points = series.points;
        let start = u32::try_from(args.int("year_start_month")?)
            .ok()
            .filter(|m| (1..=12).contains(m))
            .ok_or_else(|| DataError("--year-start-month must be within 1..12".into()))?;
        let years = if series.peaks {
            Years::AsGiven
        } else {
            Years::StartingIn(start)
        };
        // A series without any known value (a reach whose every discharge is unknown)
        // is a result, not an error: rows and statistics stay empty and the
        // thresholds say why, so that a chain over many reaches goes on.
        let no_value = points.iter().all(|p| p.value.is_none());
        let percentiles = numbers(args.string("percentiles")?, "percentiles")?;
        if let Some(p) = percentiles.iter().find(|p| !(0.0..=100.0).contains(*p)) {
            return Err(DataError(format!("--percentiles: {p} is not within 0..100")).into());
        }
        let periods = numbers(args.string("return_periods")?, "return-periods")?;
        if let Some(t) = periods.iter().find(|t| **t <= 1.0) {
            return Err(DataError(format!(
                "--return-periods: {t} years: a return period exceeds 1 year"
            ))
            .into());
        }
        let window = u32::try_from(args.int("window_days")?)
            .ok()
            .filter(|w| *w <= 183)
            .ok_or_else(|| DataError("--window-days must be within 0..183".into()))?;
        let mut doc = thresholds(&points, &percentiles, &periods, years);
        if no_value {
            hysope_sdk::log(
                LogLevel::Warn,
                &format!("{name}: no known value in the series"),
            );
            if let Some(notes) = doc.get_mut("notes").and_then(|n| n.as_array_mut()) {
                notes.insert(0, format!("{name}: no known value in the series").into());
            }
        }
        let mut sorted: Vec<f64> = points.iter().filter_map(|p| p.value).collect();
        sorted.sort_by(f64::total_cmp);
        let levels: Vec<(f64, f64)> = percentiles
            .iter()
            .filter_map(|p| Some((*p, percentile(&sorted, *p)?)))
            .collect();
        let z = doy_z_scores(&points, window);
        let mut out = String::from("time,value,day_of_year,z_score,above_percentile\n");
        for (p, z) in points.iter().zip(z) {
            let above = p.value.and_then(|v| {
                levels
                    .iter()
                    .filter(|(_, t)| v > *t)
                    .map(|(pc, _)| *pc)
                    .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
            });
            let cell = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "{},{},{},{},{}\n",
                hysope_swot::csv::cell(&p.time),
                cell(p.value),
                p.doy,
                cell(z),
                cell(above)
            ));
        }
        hysope_sdk::log(
            LogLevel::Info,
            &format!(
                "{} values, {} annual maxima",
                doc["values"], doc["annual_maxima"]
            ),
        );
        hysope_sdk::write_output("anomalies.csv", out)?;
        hysope_sdk::write_output("thresholds.json", serde_json::to_vec_pretty(&doc)?)?;
        Ok(())
    })
}
