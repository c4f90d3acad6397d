//! `river-area-change`: the plugin's entry point; the work is in the library.

use hysope_river_area_change::{Reference, area_change};
use hysope_sdk::{Algorithm, DataError, Input, Output};

fn algorithm() -> Algorithm {
    Algorithm::new("river-area-change", env!("CARGO_PKG_VERSION"))
        .label("River cross-section area change dA")
        .description(
            "Change of a reach's flow area dA from its observed water surface elevation and width \
             (a Hysope reach time series CSV with wse and width): the width is linear in the height \
             between observations sorted by height, and dA(h) integrates it by trapezoids from a \
             reference height (the median height by default). Rows with an unknown height or width \
             keep an empty dA.",
        )
        .input(Input::file("series").doc("CSV with time, a height column and a width column (wse, width)"))
        .input(Input::string("height_column").default_value("wse").doc("height column, m"))
        .input(Input::string("width_column").default_value("width").doc("width column, m"))
        .input(Input::string("reference").default_value("median").doc("median, min, or a height in m"))
        .output(Output::file("area_change").glob("area_change.csv").doc("the input rows with d_area (m2) appended"))
        .output(Output::file("summary").glob("summary.json").doc("reference height, rows used"))
}

fn main() {
    hysope_sdk::run(&algorithm(), |args| {
        let path = args.file("series")?;
        let (name, text) = hysope_sdk::read_input_text(path)?;
        let table = hysope_swot::csv::parse(&text, &name).map_err(DataError)?;
        let (hc, wc) = (args.string("height_column")?, args.string("width_column")?);
        // The series must be dated (the time column is copied to the output as it is).
        table.column("time", &name).map_err(DataError)?;
        let h = table.column(hc, &name).map_err(DataError)?;
        let w = table.column(wc, &name).map_err(DataError)?;
        let reference_text = args.string("reference")?;
        let reference = Reference::parse(reference_text).ok_or_else(|| {
            DataError(format!(
                "--reference must be median, min or a height, not {reference_text:?}"
            ))
        })?;
        let number = |row: usize, col: usize| table.number(row, col, &name).map_err(DataError);
        let mut pairs = Vec::with_capacity(table.rows.len());
        for row in 0..table.rows.len() {
            pairs.push((number(row, h)?, number(row, w)?));
        }
        let result =
            area_change(&pairs, reference).map_err(|e| DataError(format!("{name}: {e}")))?;
        // Every input column as given, then d_area (replacing one the input had), so
        // that the table feeds river-discharge (slope, uncertainties) as it is.
        let cell = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let kept: Vec<usize> = (0..table.columns.len())
            .filter(|&c| table.columns[c] != "d_area")
            .collect();
        let mut out = String::new();
        for &c in &kept {
            out.push_str(&hysope_swot::csv::cell(&table.columns[c]));
            out.push(',');
        }
        out.push_str("d_area\n");
        for (i, da) in result.d_area.iter().enumerate() {
            for &c in &kept {
                out.push_str(&hysope_swot::csv::cell(&table.rows[i][c]));
                out.push(',');
            }
            out.push_str(&cell(*da));
            out.push('\n');
        }
        hysope_sdk::write_output("area_change.csv", out)?;
        hysope_sdk::write_output(
            "summary.json",
            serde_json::to_vec_pretty(&serde_json::json!({
                "reference_height_m": result.reference,
                "rows": pairs.len(),
                "rows_used": result.used,
                "units": {"height": "m", "width": "m", "d_area": "m2"},
            }))?,
        )?;
        Ok(())
    })
}
