//! `lake-storage-change`: the plugin's entry point; the work is in the library.

use hysope_lake_storage_change::{compute, lakes, prior_references, summary, to_csv};
use hysope_sdk::{Algorithm, DataError, Input, LogLevel, Output};

fn algorithm() -> Algorithm {
    Algorithm::new("lake-storage-change", env!("CARGO_PKG_VERSION"))
        .label("Lake storage change from SWOT LakeSP")
        .description(
            "Storage change of every lake of a SWOT L2 HR LakeSP Prior pass against a reference \
             pass (or the Prior Lake Database reference height and area when the file carries them): \
             linear (h - h_ref)/2 (A_ref + A) and frustum (h - h_ref)/3 (A_ref + A + sqrt(A_ref A)), \
             in km3, with first-order uncertainties from wse_u and area_tot_u. Lakes unobserved, of \
             unknown or poor quality, or without a reference get a status and empty values.",
        )
        .input(Input::file("lakes").doc("LakeSP Prior shapefile zip of the pass (SWOT_L2_HR_LakeSP_Prior_*.zip)"))
        .input(Input::file("reference").optional().doc("LakeSP Prior shapefile zip of the reference pass"))
        .input(
            Input::double("max_quality_f")
                .default_value(1.0)
                .doc("use a lake when quality_f <= this in both passes (0 good, 1 suspect, 2 degraded); unknown quality is not used"),
        )
        .output(Output::file("csv").glob("storage_change.csv").doc("one row per lake: status, heights, areas, dV and uncertainties"))
        .output(Output::file("summary").glob("summary.json").doc("counts per status, comparison with the file's ds1_l/ds2_l"))
}

/// The file's name and its layer.
fn read(path: &std::path::Path) -> Result<(String, hysope_swot::Layer), hysope_sdk::BoxError> {
    let (name, bytes) = hysope_sdk::read_input(path)?;
    let layer = hysope_swot::read_zip(&bytes, &name).map_err(|e| DataError(e.to_string()))?;
    Ok((name, layer))
}

fn main() {
    hysope_sdk::run(&algorithm(), |args| {
        let path = args.file("lakes")?;
        let max_quality = args.double("max_quality_f")?;
        if !max_quality.is_finite() {
            return Err(DataError(format!(
                "--max-quality-f must be a number, not {max_quality}"
            ))
            .into());
        }
        let (name, layer) = read(path)?;
        let current = lakes(&layer, &name).map_err(DataError)?;
        hysope_sdk::progress(40.0, "read the pass");
        let (reference, kind) = match args.opt_file("reference") {
            Some(ref_path) => {
                let (ref_name, ref_layer) = read(ref_path)?;
                (
                    lakes(&ref_layer, &ref_name).map_err(DataError)?,
                    "reference pass",
                )
            }
            None => (prior_references(&layer), "prior lake database"),
        };
        let rows = compute(&current, &reference, max_quality);
        let summary = summary(&rows, kind);
        hysope_sdk::log(
            LogLevel::Info,
            &format!("{} lakes: {}", rows.len(), summary["status"]),
        );
        hysope_sdk::write_output("storage_change.csv", to_csv(&rows))?;
        hysope_sdk::write_output("summary.json", serde_json::to_vec_pretty(&summary)?)?;
        hysope_sdk::progress(100.0, "done");
        Ok(())
    })
}
