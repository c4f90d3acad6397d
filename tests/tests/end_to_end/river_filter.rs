//! `swot-river-filter` on the real RiverSP reach file, checked against an independent
//! reading of its .dbf (a dBase III parser written here, from the format, not the
//! plugin's readers).

use std::collections::BTreeMap;
use std::path::Path;

use hysope_engine::cwl;
use hysope_engine::wasm::Limits;
use hysope_engine::{Engine, EngineSettings, Error};
use hysope_test_components::{
    component_dir, dbf_of, kept_by_default, num, reach_zip, shared_data, workspace_root,
};
use serde_json::{Map, Value, json};

async fn run_filter(job: Map<String, Value>) -> Result<(tempfile::TempDir, Value), Error> {
    let engine = Engine::open(EngineSettings {
        cache_dir: None,
        plugin_path: vec![component_dir()],
        limits: Limits::default(),
    })
    .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let runner = engine.runner(scratch.path()).build();
    let path = workspace_root().join("plugins/swot-river-filter/swot-river-filter.cwl");
    let tool = cwl::load(&path.display().to_string()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = runner.run(&tool.process, &job, out.path()).await?;
    Ok((out, output))
}

fn job(extra: &[(&str, Value)]) -> Map<String, Value> {
    let mut job = Map::new();
    job.insert(
        "product".into(),
        json!({ "class": "File", "path": reach_zip().display().to_string() }),
    );
    for (k, v) in extra {
        job.insert(k.to_string(), v.clone());
    }
    job
}

fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|line| {
            // The kept reaches' text fields hold commas only in rch_id_up/dn, which are quoted.
            let mut cells = Vec::new();
            let mut cell = String::new();
            let mut quoted = false;
            for c in line.chars() {
                match c {
                    '"' => quoted = !quoted,
                    ',' if !quoted => cells.push(std::mem::take(&mut cell)),
                    c => cell.push(c),
                }
            }
            cells.push(cell);
            header.iter().cloned().zip(cells).collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_keeps_what_an_independent_reading_keeps() {
    let rows = dbf_of(&reach_zip());
    assert_eq!(rows.len(), 52);
    let expected: Vec<&BTreeMap<String, String>> =
        rows.iter().filter(|r| kept_by_default(r)).collect();
    assert_eq!(expected.len(), 24);

    let (out, output) = run_filter(job(&[])).await.unwrap();
    for key in ["geojson", "csv", "summary"] {
        assert_eq!(output[key]["class"], "File");
        assert!(
            output[key]["checksum"]
                .as_str()
                .unwrap()
                .starts_with("sha1$")
        );
    }
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["features"], 52);
    assert_eq!(summary["kept"], 24);
    let unobserved = rows
        .iter()
        .filter(|r| num(r, "wse") == -999999999999.0)
        .count();
    assert_eq!(summary["dropped"]["unobserved"], unobserved);
    // ice_dyn_f is a fill value in every reach of this file: kept, and counted as unknown.
    assert_eq!(summary["kept_with_unknown_flag"]["ice_dyn_f"], 24);

    let csv = csv_rows(&out.path().join("reaches.csv"));
    let ids: Vec<&str> = csv.iter().map(|r| r["reach_id"].as_str()).collect();
    let expected_ids: Vec<&str> = expected.iter().map(|r| r["reach_id"].as_str()).collect();
    assert_eq!(ids, expected_ids);
    for (got, want) in csv.iter().zip(&expected) {
        for field in ["wse", "width", "slope", "wse_u", "p_lat", "p_lon"] {
            let (g, w): (f64, f64) = (got[field].parse().unwrap(), want[field].parse().unwrap());
            assert!(
                (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                "{} {field}: {g} vs {w}",
                want["reach_id"]
            );
        }
        assert_eq!(got["time_str"], want["time_str"]);
        // Fill values are empty cells, never numbers: every discharge field is fill in L2 files.
        assert_eq!(got["dschg_c"], "", "{}", want["reach_id"]);
        assert_eq!(got["ice_dyn_f"], "");
    }

    let geojson: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("reaches.geojson")).unwrap())
            .unwrap();
    let features = geojson["features"].as_array().unwrap();
    assert_eq!(features.len(), 24);
    for (feature, want) in features.iter().zip(&expected) {
        assert_eq!(feature["properties"]["reach_id"], want["reach_id"].as_str());
        assert_eq!(feature["properties"]["dschg_c"], Value::Null);
        assert_eq!(
            feature["properties"]["reach_q"],
            num(want, "reach_q") as i64
        );
        let geometry = &feature["geometry"];
        assert_eq!(geometry["type"], "LineString");
        // The line runs near the reach's reported centre point.
        let (lat, lon) = (num(want, "p_lat"), num(want, "p_lon"));
        let near = geometry["coordinates"].as_array().unwrap().iter().any(|c| {
            (c[0].as_f64().unwrap() - lon).abs() < 0.1 && (c[1].as_f64().unwrap() - lat).abs() < 0.1
        });
        assert!(
            near,
            "{} geometry far from ({lat}, {lon})",
            want["reach_id"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_and_unknown_policy_are_parameters() {
    let rows = dbf_of(&reach_zip());
    let observed = rows
        .iter()
        .filter(|r| num(r, "wse") != -999999999999.0)
        .count();
    let loose = [
        ("max_reach_q", json!(3)),
        ("max_partial_f", json!(1)),
        ("max_xovr_cal_q", json!(2)),
    ];
    let (out, _) = run_filter(job(&loose)).await.unwrap();
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["kept"], observed);

    // Dropping reaches with unknown flags drops them all: ice_dyn_f is fill everywhere.
    let (out, _) = run_filter(job(&[("unknown_flags", json!("drop"))]))
        .await
        .unwrap();
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["kept"], 0);
    // Rules apply in order; ice_dyn_f comes after reach_q and ice_clim_f.
    let reach_ice_dyn = rows
        .iter()
        .filter(|r| {
            num(r, "wse") != -999999999999.0
                && num(r, "reach_q") <= 1.0
                && num(r, "ice_clim_f") <= 0.0
        })
        .count();
    assert_eq!(summary["dropped"]["ice_dyn_f"], reach_ice_dyn);

    let dark = 0.1;
    let expected = rows
        .iter()
        .filter(|r| kept_by_default(r) && num(r, "dark_frac") <= dark)
        .count();
    let (out, _) = run_filter(job(&[("max_dark_frac", json!(dark))]))
        .await
        .unwrap();
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["kept"], expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_or_foreign_files_fail_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(reach_zip()).unwrap();
    let truncated = dir.path().join("truncated.zip");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let foreign = dir.path().join("gauges.zip");
    std::fs::copy(
        shared_data().join("usgs/waterservices_ratings.txt"),
        &foreign,
    )
    .unwrap();
    for (path, expected) in [
        (&truncated, "truncated.zip: "),
        (&foreign, "gauges.zip: not a readable zip archive"),
    ] {
        let mut job = Map::new();
        job.insert(
            "product".into(),
            json!({ "class": "File", "path": path.display().to_string() }),
        );
        match run_filter(job).await {
            Err(Error::Exit {
                plugin,
                code,
                outcome,
            }) => {
                assert_eq!(plugin, "swot-river-filter");
                assert_ne!(code, 0);
                let stderr = String::from_utf8_lossy(&outcome.stderr);
                assert!(stderr.contains(expected), "{stderr}");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    let mut job = Map::new();
    job.insert(
        "product".into(),
        json!({ "class": "File", "path": "/no/such/file.zip" }),
    );
    let error = run_filter(job).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("input file not found: /no/such/file.zip"),
        "{error}"
    );

    let error = run_filter(job_with_bad_type()).await.unwrap_err();
    assert!(error.to_string().contains("job#/max_reach_q"), "{error}");
}

fn job_with_bad_type() -> Map<String, Value> {
    job(&[("max_reach_q", json!("one"))])
}
