//! `timeseries-resample`: the plugin's entry point; the work is in the library.

use hysope_sdk::{Algorithm, DataError, Input, Output};
use hysope_timeseries_resample::{Stat, aggregate, fill_gaps, format_time, merge, read_series};

fn algorithm() -> Algorithm {
    Algorithm::new("timeseries-resample", env!("CARGO_PKG_VERSION"))
        .label("Time series resampling, gap filling and mission merging")
        .description(
            "Aggregates a time series (CSV with time and a value column, such as a Hysope time \
             series) into bins of a fixed number of days (mean, median, min, max or count), fills \
             runs of empty bins by linear interpolation when the known bins around them are at \
             most max_gap_bins apart, and merges a second series (another mission) after adding \
             the median of the differences over the bins both observed.",
        )
        .input(Input::file("series").doc("CSV with a time column (date or RFC 3339) and the value column"))
        .input(Input::file("other").optional().doc("a second series (another mission) to merge, same columns"))
        .input(Input::string("value_column").default_value("value").doc("the value column (wse for a Hysope time series)"))
        .input(Input::double("bin_days").default_value(1.0).doc("bin width in days (bins start at 1970-01-01T00:00:00Z)"))
        .input(Input::string("stat").default_value("mean").doc("mean, median, min, max or count"))
        .input(Input::int("max_gap_bins").default_value(0).doc("fill empty bins when the known bins around them are at most this many bins apart (0: no filling)"))
        .output(Output::file("resampled").glob("resampled.csv").doc("bin_start, value, count, source (observed, filled, merged, empty)"))
        .output(Output::file("summary").glob("summary.json").doc("bins per source and the merge offset"))
}

fn main() {
    hysope_sdk::run(&algorithm(), |args| {
        let column = args.string("value_column")?;
        let read = |path: &std::path::Path| -> Result<Vec<(f64, f64)>, hysope_sdk::BoxError> {
            let (name, text) = hysope_sdk::read_input_text(path)?;
            Ok(read_series(&text, &name, column).map_err(DataError)?)
        };
        let days = args.double("bin_days")?;
        if !(days.is_finite() && days > 0.0) {
            return Err(DataError(format!(
                "--bin-days must be a positive number of days, not {days}"
            ))
            .into());
        }
        let width = days * 86_400.0;
        let stat_text = args.string("stat")?;
        let stat = Stat::parse(stat_text).ok_or_else(|| {
            DataError(format!(
                "--stat must be mean, median, min, max or count, not {stat_text:?}"
            ))
        })?;
        let max_gap = args.int("max_gap_bins")?;
        if max_gap < 0 {
            return Err(
                DataError(format!("--max-gap-bins must be 0 or more, not {max_gap}")).into(),
            );
        }
        let points = read(args.file("series")?)?;
        if points.is_empty() {
            return Err(DataError("series: no known value".into()).into());
        }
        let mut bins = aggregate(&points, width, stat);
        let mut offset = None;
        if let Some(other) = args.opt_file("other") {
            let other_bins = aggregate(&read(other)?, width, stat);
            offset = merge(&mut bins, &other_bins);
            if offset.is_none() {
                return Err(DataError(
                    "other: no bin observed by both series: no offset to merge by".into(),
                )
                .into());
            }
        }
        if max_gap > 1 {
            fill_gaps(&mut bins, max_gap);
        }
        let mut out = String::from("bin_start,value,count,source\n");
        for b in &bins {
            let value = b.value.map(|v| v.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "{},{value},{},{}\n",
                format_time(b.index as f64 * width),
                b.count,
                b.source
            ));
        }
        let count = |s: &str| bins.iter().filter(|b| b.source == s).count();
        let summary = serde_json::json!({
            "bins": bins.len(), "bin_days": days, "stat": stat_text,
            "observed": count("observed"), "filled": count("filled"),
            "merged": count("merged"), "empty": count("empty"),
            "merge_offset": offset,
        });
        hysope_sdk::write_output("resampled.csv", out)?;
        hysope_sdk::write_output("summary.json", serde_json::to_vec_pretty(&summary)?)?;
        Ok(())
    })
}
