//! Production rules (issue 24, HYMOTEP) through the API on the embedded stores:
//! a rule fires once per new item and per new version, never for a file
//! ingested again, after a restart as before it, on the items already there
//! (backfill, with its progress), and along a chain of products without
//! looping.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common;
use axum::http::StatusCode;
use common::{app, call, get, root};
use serde_json::{Value, json};

fn reach_file() -> PathBuf {
    std::fs::read_dir(root().join("../shared/data/swot"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_str().unwrap().contains("RiverSP_Reach"))
        .unwrap()
}

async fn ingest(app: &axum::Router, path: &Path) -> Value {
    let body = json!({"paths": [path]}).to_string();
    let r = call(app, "POST", "/stac/ingest", &[], &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

async fn rule(app: &axum::Router, id: &str) -> Value {
    let r = get(app, &format!("/rules/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

/// Waits until the rule `id` has read the whole feed and `test` holds.
async fn until(app: &axum::Router, id: &str, what: &str, test: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let r = rule(app, id).await;
        if test(&r) {
            return r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "rule {id}: {what} not reached: {r:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_job(app: &axum::Router, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let j = get(app, &format!("/jobs/{id}")).await.json();
        if ["successful", "failed", "dismissed"].contains(&j["status"].as_str().unwrap_or("")) {
            return j;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_is_checked_before_it_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _state) = app(dir.path()).await;
    let good = json!({"id": "filter-reaches", "process": "swot-river-filter",
        "trigger": {"type": "item", "collections": ["SWOT_L2_HR_RiverSP_Reach"]},
        "inputs": {"product": {"asset": "data"}}});
    for (change, expected) in [
        (json!({"id": "Bad Id"}), "id:"),
        (json!({"process": "no-such-process"}), "no process"),
        (
            json!({"inputs": {"nope": {"asset": "data"}}}),
            "no input \"nope\"",
        ),
        (
            json!({"inputs": {"product": {"asset": "data", "x": 1}}}),
            "a source is one of",
        ),
        (
            json!({"trigger": {"type": "item", "collections": []}}),
            "1 to 16 collections",
        ),
        (
            json!({"trigger": {"type": "item", "collections": ["c"], "filter": "((("}}),
            "filter",
        ),
        (
            json!({"trigger": {"type": "schedule", "every": 5, "collections": ["c"]}}),
            "10 s to 366 days",
        ),
        (json!({"backfill": "yes"}), "backfill"),
        (json!({"owner": "me"}), "no field \"owner\""),
    ] {
        let mut body = good.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = call(&app, "POST", "/rules", &[], &body.to_string()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{change}: {}", r.text);
        let detail = r.json()["detail"].as_str().unwrap().to_string();
        assert!(detail.contains(expected), "{change}: {detail}");
    }
    // Fields missing or of another type, or not an object at all: a 400 that says
    // which (the handler once indexed the object and panicked on a missing id).
    for (body, expected) in [
        (json!({}), "id:"),
        (json!({"id": "x"}), "process:"),
        (json!({"id": 7, "process": "swot-river-filter"}), "id:"),
        (
            json!({"id": "x", "process": ["swot-river-filter"]}),
            "process:",
        ),
        (
            json!({"id": "x", "process": "swot-river-filter"}),
            "trigger:",
        ),
        (json!([good.clone()]), "a rule is a JSON object"),
        (json!(null), "a rule is a JSON object"),
    ] {
        let r = call(&app, "POST", "/rules", &[], &body.to_string()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        let detail = r.json()["detail"].as_str().unwrap().to_string();
        assert!(detail.contains(expected), "{body}: {detail}");
    }
    let r = call(&app, "POST", "/rules", &[], &good.to_string()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let again = call(&app, "POST", "/rules", &[], &good.to_string()).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    // Users may not.
    let anonymous = call(&app, "GET", "/rules", &[("x-test-anonymous", "1")], "").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// New item: one job; the same file again: none; a new version: one more; a
/// paused rule across a restart (the first server's runtime dropped, as a stop
/// drops it): the change waits and is taken after.
#[test]
fn a_rule_fires_once_per_item_version_and_a_restart_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let copy = dir
        .path()
        .join("in")
        .join(reach_file().file_name().unwrap());
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(reach_file(), &copy).unwrap();
    let mut config = common::config(&data);
    config.input_roots.push(dir.path().join("in"));
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let first_job = runtime().block_on(async {
        let (app, state, _) = common::app_with(config.clone()).await;
        let body = json!({"id": "filter-reaches", "title": "every new reach product filtered",
            "process": "swot-river-filter",
            "trigger": {"type": "item", "collections": ["SWOT_L2_HR_RiverSP_Reach"]},
            "inputs": {"product": {"asset": "data"}, "max_reach_q": {"value": 1}}});
        let r = call(&app, "POST", "/rules", &[], &body.to_string()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        // Another collection's files do not fire it.
        ingest(&app, &root().join("../shared/data/usgs")).await;
        assert_eq!(ingest(&app, &copy).await["stored"], 1);
        let fired = until(&app, "filter-reaches", "one job", |r| {
            r["counts"]["triggered"] == 1
        })
        .await;
        let job_id = fired["recent_jobs"][0].as_str().unwrap().to_string();
        let job = wait_job(&app, &job_id).await;
        assert_eq!(job["status"], "successful", "{job}");
        let record = state.jobs().status(&job_id).unwrap();
        assert_eq!(record.rule.as_deref(), Some("filter-reaches"));
        assert_eq!(record.owner.as_deref(), Some("local-operator"));

        // The same file: unchanged, nothing new.
        assert_eq!(ingest(&app, &copy).await["unchanged"], 1);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let after = rule(&app, "filter-reaches").await;
        assert_eq!(after["counts"]["triggered"], 1, "{after:#}");
        assert_eq!(after["counts"]["repeated"], 0, "{after:#}");

        // Paused, a new version comes, then the server stops.
        let r = call(&app, "POST", "/rules/filter-reaches/pause", &[], "").await;
        assert_eq!(r.json()["state"], "paused");
        let mut bytes = std::fs::read(&copy).unwrap();
        bytes.extend_from_slice(b"\0");
        std::fs::write(&copy, bytes).unwrap();
        let new_version = ingest(&app, &copy).await;
        assert_eq!(new_version["stored"], 1, "{new_version}");
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(rule(&app, "filter-reaches").await["counts"]["triggered"], 1);
        job_id
    });
    runtime().block_on(async {
        let (app, _state, _) = common::app_with(config).await;
        let r = call(&app, "POST", "/rules/filter-reaches/resume", &[], "").await;
        assert_eq!(r.json()["state"], "active", "{}", r.text);
        let fired = until(&app, "filter-reaches", "the new version's job", |r| {
            r["counts"]["triggered"] == 2
        })
        .await;
        let second = fired["recent_jobs"][0].as_str().unwrap().to_string();
        assert_ne!(second, first_job);
        let status = wait_job(&app, &second).await;
        assert_eq!(status["status"], "successful");
        // A job says which rule made it, and the jobs list finds a rule's jobs.
        assert_eq!(status["hysope:rule"], "filter-reaches", "{status}");
        assert!(
            status["links"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["rel"] == "via"
                    && l["href"]
                        .as_str()
                        .unwrap()
                        .ends_with("/rules/filter-reaches")),
            "{status}"
        );
        let listed = get(&app, "/jobs?rule=filter-reaches").await.json();
        let ids: Vec<&str> = listed["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["jobID"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [second.as_str(), first_job.as_str()], "{listed}");
        let none = get(&app, "/jobs?rule=another").await.json();
        assert_eq!(none["jobs"], json!([]));
        let bad = get(&app, "/jobs?rule=..%2Fx").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
        assert!(bad.text.contains("query parameter rule"), "{}", bad.text);
        let r = call(&app, "DELETE", "/rules/filter-reaches", &[], "").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            get(&app, "/rules/filter-reaches").await.status,
            StatusCode::NOT_FOUND
        );
    });
}

/// A rule made after the items came runs on them when asked (backfill, with its
/// progress); a rule on the results of another's runs makes a chain, and one
/// whose own results would fire it again does not loop.
#[tokio::test(flavor = "multi_thread")]
async fn backfill_and_a_chain_of_rules_without_a_loop() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _state) = app(dir.path()).await;
    assert_eq!(
        ingest(&app, &root().join("../shared/data/usgs")).await["stored"],
        3
    );
    // Made after the three USGS files: with backfill, it runs on them.
    let gauges = json!({"id": "gauges", "process": "echo", "backfill": true,
        "trigger": {"type": "item", "collections": ["USGS_NWIS_peaks", "USGS_NWIS_values", "USGS_NWIS_ratings"]},
        "inputs": {"stringInput": {"value": "a gauge file came"}}});
    let r = call(&app, "POST", "/rules", &[], &gauges.to_string()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let done = until(&app, "gauges", "the backfill", |r| {
        r["backfill"]["progress"] == 1.0 && r["counts"]["triggered"] == 3
    })
    .await;
    assert_eq!(
        done["backfill"]["total"], done["backfill"]["done"],
        "{done:#}"
    );
    // A rule on echo's results (the second step of a chain), which echo's own
    // results would fire again: each result of `gauges` fires it once, and its
    // own results stop there.
    // With backfill: the results of `gauges` may be in already.
    let chain = json!({"id": "echo-again", "process": "echo", "backfill": true,
        "trigger": {"type": "item", "collections": ["results"],
            "filter": "\"hysope:process_id\" = 'echo'"},
        "inputs": {"stringInput": {"property": "hysope:job_id"}}});
    let r = call(&app, "POST", "/rules", &[], &chain.to_string()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for id in done["recent_jobs"].as_array().unwrap() {
        assert_eq!(
            wait_job(&app, id.as_str().unwrap()).await["status"],
            "successful"
        );
    }
    let chained = until(
        &app,
        "echo-again",
        "three chained jobs and their cycles",
        |r| r["counts"]["triggered"] == 3 && r["counts"]["cycles"] == 3,
    )
    .await;
    for id in chained["recent_jobs"].as_array().unwrap() {
        assert_eq!(
            wait_job(&app, id.as_str().unwrap()).await["status"],
            "successful"
        );
    }
    // Its results carry the chain that made them.
    let results = get(&app, "/stac/search?collections=results&limit=100")
        .await
        .json();
    let chains: Vec<Value> = results["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["hysope:rules"].clone())
        .collect();
    assert!(
        chains.contains(&json!(["gauges", "echo-again"])),
        "{chains:?}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let settled = rule(&app, "echo-again").await;
    assert_eq!(settled["counts"]["triggered"], 3, "no loop: {settled:#}");
}

/// The bundled rules (`plugins/rules`, made at start by `--rules`): every new
/// LakeSP Prior pass runs lake-storage-change against the previous pass of the
/// same pass number and continent (none for the first).
#[tokio::test(flavor = "multi_thread")]
async fn the_bundled_lake_rule_compares_a_pass_with_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let lakes = std::fs::read_dir(root().join("../shared/data/swot"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_str().unwrap().contains("LakeSP_Prior"))
        .unwrap();
    let name = lakes.file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.contains("_033_506_AU_20250605T"), "{name}");
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let first = input.join(&name);
    std::fs::copy(&lakes, &first).unwrap();
    // The next cycle's pass over the same lakes, 21 days later.
    let next = input.join(
        name.replace("_033_506_AU_", "_034_506_AU_")
            .replace("20250605T", "20250626T"),
    );
    std::fs::copy(&lakes, &next).unwrap();
    let mut config = common::config(&dir.path().join("data"));
    config.input_roots.push(input.clone());
    config.rule_dirs = vec![root().join("plugins/rules")];
    let (app, state, _) = common::app_with(config).await;
    let all = get(&app, "/rules").await.json();
    let ids: Vec<&str> = all["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["lake-storage-change", "river-filter"]);

    assert_eq!(ingest(&app, &first).await["stored"], 1);
    let one = until(&app, "lake-storage-change", "the first pass's job", |r| {
        r["counts"]["triggered"] == 1
    })
    .await;
    let job1 = one["recent_jobs"][0].as_str().unwrap().to_string();
    assert_eq!(wait_job(&app, &job1).await["status"], "successful");
    let inputs1 = state.jobs().status(&job1).unwrap().inputs;
    assert!(
        inputs1.get("reference").is_none(),
        "no pass before: {inputs1:?}"
    );

    assert_eq!(ingest(&app, &next).await["stored"], 1);
    let two = until(&app, "lake-storage-change", "the next pass's job", |r| {
        r["counts"]["triggered"] == 2
    })
    .await;
    let job2 = two["recent_jobs"][0].as_str().unwrap().to_string();
    assert_eq!(wait_job(&app, &job2).await["status"], "successful");
    let inputs2 = state.jobs().status(&job2).unwrap().inputs;
    let reference = inputs2["reference"]["location"]
        .as_str()
        .unwrap_or_default();
    assert!(reference.ends_with(&name), "{inputs2:?}");
    let lakes_in = inputs2["lakes"]["location"].as_str().unwrap_or_default();
    assert!(lakes_in.contains("_034_506_AU_"), "{inputs2:?}");
}

/// A schedule rule: when its period ends, one job over the items that entered
/// during it (here the three USGS files, as an array of files).
#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_rule_runs_once_over_the_items_of_its_period() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _state) = app(dir.path()).await;
    let body = json!({"id": "gauges-every-10s", "process": "takes-anything",
        "trigger": {"type": "schedule", "every": 10,
            "collections": ["USGS_NWIS_peaks", "USGS_NWIS_values", "USGS_NWIS_ratings"]},
        "inputs": {"files": {"assets": "data"}}});
    let r = call(&app, "POST", "/rules", &[], &body.to_string()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let first_period = r.json()["next_period"].as_u64().unwrap();
    assert_eq!(
        ingest(&app, &root().join("../shared/data/usgs")).await["stored"],
        3
    );
    let fired = until(&app, "gauges-every-10s", "the period's job", |r| {
        r["counts"]["triggered"] == 1
    })
    .await;
    assert!(
        fired["next_period"].as_u64().unwrap() >= first_period + 10,
        "{fired:#}"
    );
    let job = fired["recent_jobs"][0].as_str().unwrap().to_string();
    let done = wait_job(&app, &job).await;
    assert_eq!(done["status"], "successful", "{done}");
    let results = get(&app, &format!("/jobs/{job}/results")).await.json();
    let listed = get(
        &app,
        results["listed"]["href"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://test.local"),
    )
    .await
    .text;
    assert_eq!(listed.lines().count(), 3, "{listed}");
    // The next period has nothing: no job.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(
        rule(&app, "gauges-every-10s").await["counts"]["triggered"],
        1
    );
}
