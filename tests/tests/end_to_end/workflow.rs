//! The hydrology example workflow (`plugins/workflows/river-filter-summary.cwl`):
//! sandboxed filter runs scattered over real and simulated RiverSP files, then a
//! per-pass summary, checked against an independent reading of each file.

use hysope_engine::cwl;
use hysope_engine::wasm::Limits;
use hysope_engine::{Engine, EngineSettings};
use hysope_test_components::{component_dir, dbf_of, kept_by_default, num, workspace_root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_then_summary_over_every_pass() {
    let root = workspace_root();
    let workflow = cwl::load(
        &root
            .join("plugins/workflows/river-filter-summary.cwl")
            .display()
            .to_string(),
    )
    .unwrap();
    let job =
        cwl::load_job(&root.join("plugins/workflows/river-filter-summary.example.yml")).unwrap();
    let engine = Engine::open(EngineSettings {
        cache_dir: None,
        plugin_path: vec![component_dir()],
        limits: Limits::default(),
    })
    .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let runner = engine.runner(scratch.path()).build();
    let out = tempfile::tempdir().unwrap();
    let output = runner
        .run(&workflow.process, &job, out.path())
        .await
        .unwrap();

    let inputs: Vec<std::path::PathBuf> = job["reaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().into())
        .collect();
    assert_eq!(output["filtered"].as_array().unwrap().len(), inputs.len());
    let table = std::fs::read_to_string(output["summary"]["path"].as_str().unwrap()).unwrap();
    let mut lines = table.lines();
    assert_eq!(
        lines.next(),
        Some("input,features,kept,unobserved,dropped_by_quality")
    );
    for (line, input) in lines.zip(&inputs) {
        let rows = dbf_of(input);
        let kept = rows.iter().filter(|r| kept_by_default(r)).count();
        let unobserved = rows
            .iter()
            .filter(|r| num(r, "wse") == -999999999999.0)
            .count();
        let name = input.file_name().unwrap().to_string_lossy();
        let expected = format!(
            "{name},{},{kept},{unobserved},{}",
            rows.len(),
            rows.len() - kept - unobserved
        );
        assert_eq!(line, expected);
    }
    // Every output was moved into the output folder.
    for file in output["filtered"].as_array().unwrap() {
        assert!(
            std::path::Path::new(file["path"].as_str().unwrap())
                .starts_with(std::fs::canonicalize(out.path()).unwrap())
        );
    }
    assert!(
        output["summary"]["checksum"]
            .as_str()
            .unwrap()
            .starts_with("sha1$")
    );
}

/// A cross product wider than a step may scatter is refused before any of its
/// jobs is made (200 x 200 would be 40,000 jobs held in memory at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scatter_wider_than_allowed_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let doc = r#"
cwlVersion: v1.2
class: Workflow
requirements:
  ScatterFeatureRequirement: {}
inputs:
  a: int[]
  b: int[]
outputs:
  out:
    type: {type: array, items: {type: array, items: string}}
    outputSource: step/out
steps:
  step:
    run:
      class: CommandLineTool
      baseCommand: echo
      inputs:
        a: {type: int, inputBinding: {position: 1}}
        b: {type: int, inputBinding: {position: 2}}
      outputs:
        out: {type: string, outputBinding: {outputEval: done}}
    scatter: [a, b]
    scatterMethod: nested_crossproduct
    in: {a: a, b: b}
    out: [out]
"#;
    let loaded = cwl::load_text(&dir.path().join("wide.cwl"), doc, None).unwrap();
    let list: Vec<serde_json::Value> = (0..200).map(serde_json::Value::from).collect();
    let mut job = serde_json::Map::new();
    job.insert("a".into(), serde_json::Value::Array(list.clone()));
    job.insert("b".into(), serde_json::Value::Array(list));
    let engine = Engine::open(EngineSettings::from_env()).unwrap();
    let runner = engine.runner(dir.path().join("scratch")).build();
    let out = tempfile::tempdir().unwrap();
    let err = runner
        .run(&loaded.process, &job, out.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("a scatter of 40000 jobs"), "{err}");
}
