//! OGC API - Processes handlers, called in process (no socket): discovery, process
//! descriptions, synchronous and asynchronous execution of the bundled plugins and
//! of local test tools, input validation, job listing, dismissal, results, HTML,
//! metrics, and recovery of unfinished jobs when the server starts again.

use crate::common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use common::{app, call, config, get, root};
use hysope_jobs::{Job, JobStore, RedbJobStore, Status, now_ms};
use serde_json::{Value, json};

async fn wait_final(app: &Router, id: &str) -> Value {
    for _ in 0..600 {
        let s = get(app, &format!("/jobs/{id}")).await.json();
        if ["successful", "failed", "dismissed"].contains(&s["status"].as_str().unwrap()) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

/// A job of `echo` as a stopped server leaves it in its store.
fn job(id: &str, status: Status, attempts: u32) -> Job {
    Job {
        id: id.into(),
        process_id: "echo".into(),
        status,
        message: String::new(),
        created: now_ms(),
        started: None,
        finished: None,
        updated: now_ms(),
        progress: 0,
        inputs: serde_json::from_value(json!({"stringInput": id})).unwrap(),
        outputs: None,
        response: "document".into(),
        subscriber: None,
        results: None,
        attempts,
        failure: None,
        base_url: None,
        owner: None,
        revision: 0,
        lease_until: None,
        dispatched: false,
        log: Vec::new(),
        request_id: None,
        rule: None,
        rule_chain: Vec::new(),
    }
}

fn rels(doc: &Value) -> Vec<String> {
    doc["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_landing_conformance_api_processes() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(dir.path()).await;
    let landing = get(&app, "/").await;
    assert_eq!(landing.status, StatusCode::OK);
    let rels = rels(&landing.json());
    for rel in [
        "self",
        "service-desc",
        "service-doc",
        "http://www.opengis.net/def/rel/ogc/1.0/conformance",
        "http://www.opengis.net/def/rel/ogc/1.0/processes",
        "http://www.opengis.net/def/rel/ogc/1.0/job-list",
    ] {
        assert!(
            rels.iter().any(|r| r == rel),
            "landing page lacks rel {rel}"
        );
    }
    let conf = get(&app, "/conformance").await.json();
    assert!(
        conf["conformsTo"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().ends_with("/conf/core"))
    );
    let api = get(&app, "/api").await;
    assert!(
        api.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/vnd.oai.openapi+json")
    );
    let doc = api.json();
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(
        !api.text.contains("\"$ref\":\"http"),
        "the API definition must be self-contained"
    );
    let list = get(&app, "/processes").await.json();
    let ids: Vec<&str> = list["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    // The plugin river-discharge and the workflow plugins/workflows/river-discharge.cwl
    // (id river-discharge-chain) are two processes.
    for id in [
        "echo",
        "swot-river-filter",
        "river-filter-summary",
        "sleep",
        "river-discharge",
        "river-discharge-chain",
    ] {
        assert!(ids.contains(&id), "{id} not listed in {ids:?}");
    }
    let page = get(&app, "/processes?limit=2").await.json();
    assert_eq!(page["processes"].as_array().unwrap().len(), 2);
    assert!(rels_of(&page).contains(&"next".to_string()));
    let bad = get(&app, "/processes?limit=0").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let filter = get(&app, "/processes/swot-river-filter").await.json();
    assert_eq!(filter["inputs"]["product"]["minOccurs"], 1);
    assert_eq!(
        filter["inputs"]["unknown_flags"]["schema"],
        json!({"type": "string", "default": "keep"})
    );
    assert_eq!(filter["inputs"]["max_reach_q"]["minOccurs"], 0);
    assert!(filter["outputs"]["geojson"].is_object());
    let missing = get(&app, "/processes/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.json()["type"]
            .as_str()
            .unwrap()
            .ends_with("/no-such-process")
    );
    let package = get(&app, "/processes/echo/package").await;
    assert_eq!(package.headers["content-type"], "application/cwl+json");
    assert!(package.text.contains("hysope:WasmRequirement"));
    let html = call(
        &app,
        "GET",
        "/processes/echo",
        &[("accept", "text/html,application/xhtml+xml")],
        "",
    )
    .await;
    assert!(
        html.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(html.text.contains("<h1>Process echo</h1>"));
    let nowhere = get(&app, "/nowhere").await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert!(
        nowhere.json()["detail"]
            .as_str()
            .unwrap()
            .contains("/nowhere")
    );
}

fn rels_of(doc: &Value) -> Vec<String> {
    rels(doc)
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_and_async_execution_with_results() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(dir.path()).await;
    // Synchronous: results in the reply; the job is recorded too.
    let sync = call(
        &app,
        "POST",
        "/processes/echo/execution",
        &[],
        r#"{"inputs":{"stringInput":"héllo","integerInput":{"value":7}}}"#,
    )
    .await;
    assert_eq!(sync.status, StatusCode::OK, "{}", sync.text);
    let results = sync.json();
    let href = results["echo"]["href"].as_str().unwrap();
    assert!(href.starts_with("http://test.local/jobs/"), "{href}");
    let file = get(&app, href.strip_prefix("http://test.local").unwrap()).await;
    assert_eq!(file.status, StatusCode::OK);
    let echoed: Value = serde_json::from_str(&file.text).unwrap();
    assert_eq!(echoed["stringInput"], "héllo");
    assert_eq!(echoed["integerInput"], 7);
    // `transmissionMode: value`: the file's content inline (JSON as JSON).
    let inline = call(
        &app,
        "POST",
        "/processes/echo/execution",
        &[],
        r#"{"inputs":{"stringInput":"inline"},"outputs":{"echo":{"transmissionMode":"value"}}}"#,
    )
    .await;
    assert_eq!(inline.status, StatusCode::OK, "{}", inline.text);
    let doc = inline.json();
    assert_eq!(doc["echo"]["mediaType"], "application/json");
    assert_eq!(doc["echo"]["value"]["stringInput"], "inline");
    let bad = call(
        &app,
        "POST",
        "/processes/echo/execution",
        &[],
        r#"{"outputs":{"echo":{"transmissionMode":"carrier-pigeon"}}}"#,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // `response: raw` with one output requested: the file itself.
    let raw = call(
        &app,
        "POST",
        "/processes/echo/execution",
        &[],
        r#"{"inputs":{"stringInput":"raw"},"outputs":{"echo":{}},"response":"raw"}"#,
    )
    .await;
    assert_eq!(raw.status, StatusCode::OK, "{}", raw.text);
    assert_eq!(raw.headers["content-type"], "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(&raw.text).unwrap()["stringInput"],
        "raw"
    );
    let location = sync.headers["location"].to_str().unwrap().to_string();
    let job = get(&app, location.strip_prefix("http://test.local").unwrap())
        .await
        .json();
    assert_eq!(job["status"], "successful");
    assert_eq!(job["progress"], 100);

    // Asynchronous: 201, Location, statusInfo; then results.
    let reach = hysope_test_components::reach_zip();
    let body = json!({"inputs": {"product": {"href": format!("file://{}", reach.display())}, "max_reach_q": 1},
                      "outputs": {"summary": {}}});
    let created = call(
        &app,
        "POST",
        "/processes/swot-river-filter/execution",
        &[("prefer", "respond-async")],
        &body.to_string(),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let info = created.json();
    assert_eq!(info["type"], "process");
    let id = info["jobID"].as_str().unwrap().to_string();
    assert!(created.headers["location"].to_str().unwrap().ends_with(&id));
    let done = wait_final(&app, &id).await;
    assert_eq!(done["status"], "successful", "{done}");
    assert!(rels(&done).iter().any(|r| r.ends_with("/results")));
    let results = get(&app, &format!("/jobs/{id}/results")).await.json();
    // Only the requested output.
    assert_eq!(
        results.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["summary"]
    );
    let summary_href = results["summary"]["href"].as_str().unwrap();
    let summary: Value = serde_json::from_str(
        &get(
            &app,
            summary_href.strip_prefix("http://test.local").unwrap(),
        )
        .await
        .text,
    )
    .unwrap();
    assert!(summary["kept"].as_u64().unwrap() > 0, "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_requests_are_refused_before_a_job_exists() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = app(dir.path()).await;
    let cases = [
        ("/processes/echo/execution", "{not json", "not JSON"),
        (
            "/processes/echo/execution",
            "[1,2]",
            "must be a JSON object",
        ),
        (
            "/processes/echo/execution",
            r#"{"inputs":{"integerInput":"seven"}}"#,
            "input \"integerInput\"",
        ),
        (
            "/processes/echo/execution",
            r#"{"inputs":{"colour":"red"}}"#,
            "no input \"colour\"",
        ),
        (
            "/processes/swot-river-filter/execution",
            r#"{"inputs":{}}"#,
            "input \"product\" is required",
        ),
        (
            "/processes/swot-river-filter/execution",
            r#"{"inputs":{"product":{"href":"file:///etc/passwd"}}}"#,
            "outside the allowed input roots",
        ),
        (
            "/processes/swot-river-filter/execution",
            r#"{"inputs":{"product":{"href":"ftp://x/y.zip"}}}"#,
            "ftp://",
        ),
        (
            "/processes/swot-river-filter/execution",
            r#"{"inputs":{"product":{"href":"/nope.zip"}}}"#,
            "/nope.zip",
        ),
        (
            "/processes/swot-river-filter/execution",
            r#"{"inputs":{"max_reach_q":"high"}}"#,
            "input \"max_reach_q\"",
        ),
        (
            "/processes/echo/execution",
            r#"{"outputs":{"nothing":{}}}"#,
            "no output \"nothing\"",
        ),
        (
            "/processes/echo/execution",
            r#"{"response":"zip"}"#,
            "response must be",
        ),
    ];
    for (uri, body, expect) in cases {
        let r = call(&app, "POST", uri, &[], body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        let e = r.json();
        assert!(
            e["type"]
                .as_str()
                .unwrap()
                .starts_with("http://www.opengis.net/def/exceptions/"),
            "{e}"
        );
        assert!(
            e["detail"].as_str().unwrap().contains(expect),
            "{body}: {e}"
        );
    }
    let jobs = get(&app, "/jobs").await.json();
    assert_eq!(
        jobs["jobs"].as_array().unwrap().len(),
        0,
        "a refused request left a job"
    );
    // Nor any record in the store (finished or not).
    let stored = state.jobs().list(&hysope_jobs::JobFilter::default(), 0, 10);
    assert!(stored.unwrap().jobs.is_empty());
    for uri in [
        "/jobs?status=finished",
        "/jobs?limit=x",
        "/jobs?datetime=yesterday",
    ] {
        assert_eq!(
            get(&app, uri).await.status,
            StatusCode::BAD_REQUEST,
            "{uri}"
        );
    }
    let nojob = get(&app, "/jobs/0000/results").await;
    assert_eq!(nojob.status, StatusCode::NOT_FOUND);
    assert!(
        nojob.json()["type"]
            .as_str()
            .unwrap()
            .ends_with("/no-such-job")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_dismissal_listing_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(dir.path()).await;
    // A failing tool: a failed job whose results say why.
    let r = call(
        &app,
        "POST",
        "/processes/fail/execution",
        &[("prefer", "respond-async")],
        "{}",
    )
    .await;
    let failed_id = r.json()["jobID"].as_str().unwrap().to_string();
    let failed = wait_final(&app, &failed_id).await;
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["message"].as_str().unwrap().contains("3"),
        "{failed}"
    );
    let results = get(&app, &format!("/jobs/{failed_id}/results")).await;
    assert_eq!(results.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        results.json()["type"]
            .as_str()
            .unwrap()
            .ends_with("/process-failed")
    );
    // A running job: results not ready; dismissing it stops it.
    let r = call(
        &app,
        "POST",
        "/processes/sleep/execution",
        &[("prefer", "respond-async")],
        r#"{"inputs":{"seconds":30}}"#,
    )
    .await;
    let id = r.json()["jobID"].as_str().unwrap().to_string();
    for _ in 0..200 {
        if get(&app, &format!("/jobs/{id}")).await.json()["status"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let early = get(&app, &format!("/jobs/{id}/results")).await;
    assert_eq!(early.status, StatusCode::NOT_FOUND);
    assert!(
        early.json()["type"]
            .as_str()
            .unwrap()
            .ends_with("/result-not-ready")
    );
    let started = std::time::Instant::now();
    let dismissed = call(&app, "DELETE", &format!("/jobs/{id}"), &[], "").await;
    assert_eq!(dismissed.status, StatusCode::OK);
    assert_eq!(dismissed.json()["status"], "dismissed");
    let after = wait_final(&app, &id).await;
    assert_eq!(after["status"], "dismissed");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Listing and filters.
    for _ in 0..3 {
        call(&app, "POST", "/processes/echo/execution", &[], "{}").await;
    }
    let all = get(&app, "/jobs?limit=2").await.json();
    assert_eq!(all["jobs"].as_array().unwrap().len(), 2);
    assert!(rels(&all).contains(&"next".to_string()));
    let echo = get(&app, "/jobs?processID=echo&status=successful")
        .await
        .json();
    assert_eq!(echo["jobs"].as_array().unwrap().len(), 3);
    let none = get(
        &app,
        "/jobs?datetime=2000-01-01T00:00:00Z/2000-01-02T00:00:00Z",
    )
    .await
    .json();
    assert_eq!(none["jobs"].as_array().unwrap().len(), 0);
    let recent = get(
        &app,
        "/jobs?datetime=2020-01-01T00:00:00Z/..&processID=fail",
    )
    .await
    .json();
    assert_eq!(recent["jobs"].as_array().unwrap().len(), 1);
    // Metrics.
    let metrics = get(&app, "/metrics").await.text;
    assert!(
        metrics.contains(r#"hysope_jobs{process="echo",state="successful"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"hysope_job_failures_total{cause="exit"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"hysope_http_requests_total{method="POST",route="/processes/{id}/execution",status="200"} 3"#), "{metrics}");
    assert!(metrics.contains("hysope_job_duration_seconds_bucket"));
    assert!(
        metrics.contains(
            r#"hysope_http_request_duration_seconds_count{route="/processes/{id}/execution"} 5"#
        ),
        "{metrics}"
    );
    // The operators' status: the same counts in one document.
    let status = get(&app, "/admin/status").await;
    assert_eq!(status.status, StatusCode::OK);
    let status = status.json();
    assert_eq!(status["ready"], true, "{status}");
    assert_eq!(status["jobs"]["by_state"]["successful"], 3, "{status}");
    assert_eq!(status["jobs"]["by_state"]["failed"], 1, "{status}");
    assert_eq!(status["jobs"]["by_state"]["dismissed"], 1, "{status}");
    assert_eq!(status["jobs"]["by_process"]["echo"]["successful"], 3);
    assert_eq!(status["failures"]["by_cause"]["exit"], 1, "{status}");
    let recent = status["failures"]["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0]["id"], failed_id.as_str());
    assert_eq!(recent[0]["process"], "fail");
    assert_eq!(recent[0]["kind"], "process-failed");
    // Every request of this test so far, one 404 (results not ready) and one 500
    // (a failed job's results) among them.
    assert!(
        status["requests"]["count"].as_u64().unwrap() >= 10,
        "{status}"
    );
    assert!(status["requests"]["client_errors"].as_u64().unwrap() >= 1);
    assert_eq!(status["requests"]["server_errors"], 1, "{status}");
    assert!(status["requests"]["latency_ms_at_most"]["p50"].is_u64());
    assert_eq!(status["registry"]["submitted"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_synchronous_job_is_listed_while_it_runs_and_can_be_dismissed() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(dir.path()).await;
    // A quick one is stored when it ends: listed once its reply is out.
    let quick = call(
        &app,
        "POST",
        "/processes/echo/execution",
        &[],
        r#"{"inputs":{"stringInput":"quick"}}"#,
    )
    .await;
    assert_eq!(quick.status, StatusCode::OK);
    let listed = get(&app, "/jobs?processID=echo").await.json();
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["jobs"][0]["status"], "successful");
    // A long one is stored as running after a moment; dismissing it ends the call.
    let sync = {
        let app = app.clone();
        tokio::spawn(async move {
            call(
                &app,
                "POST",
                "/processes/sleep/execution",
                &[],
                r#"{"inputs":{"seconds":30}}"#,
            )
            .await
        })
    };
    let mut id = None;
    for _ in 0..200 {
        let page = get(&app, "/jobs?processID=sleep&status=running")
            .await
            .json();
        if let Some(job) = page["jobs"].as_array().unwrap().first() {
            id = job["jobID"].as_str().map(str::to_string);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let id = id.expect("the running synchronous job is listed");
    let started = std::time::Instant::now();
    let dismissed = call(&app, "DELETE", &format!("/jobs/{id}"), &[], "").await;
    assert_eq!(dismissed.status, StatusCode::OK);
    let reply = sync.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!reply.status.is_success(), "{}", reply.text);
    assert_eq!(
        get(&app, &format!("/jobs/{id}")).await.json()["status"],
        "dismissed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn results_are_catalogued_even_after_their_collection_was_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(dir.path()).await;
    let run = |text: &'static str| {
        let app = app.clone();
        async move {
            let r = call(
                &app,
                "POST",
                "/processes/echo/execution",
                &[],
                &format!(r#"{{"inputs":{{"stringInput":"{text}"}}}}"#),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK);
            let monitor = r.headers["link"].to_str().unwrap().to_string();
            let id = monitor
                .split("/jobs/")
                .nth(1)
                .unwrap()
                .split('>')
                .next()
                .unwrap();
            id.to_string()
        }
    };
    let first = run("one").await;
    let item = get(&app, &format!("/stac/collections/results/items/{first}")).await;
    assert_eq!(item.status, StatusCode::OK, "{}", item.text);
    assert_eq!(item.json()["properties"]["hysope:job_id"], first.as_str());
    let deleted = call(&app, "DELETE", "/stac/collections/results", &[], "").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    // The next jobs find it missing and make it again.
    for text in ["two", "three"] {
        let id = run(text).await;
        let item = get(&app, &format!("/stac/collections/results/items/{id}")).await;
        assert_eq!(item.status, StatusCode::OK, "{}", item.text);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unfinished_jobs_run_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        // What a killed server leaves behind.
        let store = RedbJobStore::open(&dir.path().join(hysope_server::STORE_FILE)).unwrap();
        store
            .put(&job("was-accepted", Status::Accepted, 0))
            .unwrap();
        store.put(&job("was-running", Status::Running, 1)).unwrap();
        store
            .put(&job("ran-too-often", Status::Running, 3))
            .unwrap();
    }
    let (app, _state, requeued) = common::app_with(config(dir.path())).await;
    assert_eq!(requeued, 2);
    for id in ["was-accepted", "was-running"] {
        let s = wait_final(&app, id).await;
        assert_eq!(s["status"], "successful", "{s}");
        let results = get(&app, &format!("/jobs/{id}/results")).await.json();
        assert!(results["echo"]["href"].is_string());
    }
    let s = get(&app, "/jobs/ran-too-often").await.json();
    assert_eq!(s["status"], "failed");
    assert!(s["message"].as_str().unwrap().contains("3 times"), "{s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_folder_of_two_store_files_is_brought_into_one() {
    // The layout of earlier versions: the catalogue in catalog.redb, the jobs in
    // jobs.redb (a finished job and one the server was running when it stopped).
    let dir = tempfile::tempdir().unwrap();
    {
        let jobs = RedbJobStore::open(&dir.path().join("jobs.redb")).unwrap();
        jobs.put(&job("old-done", Status::Successful, 0)).unwrap();
        jobs.put(&job("old-running", Status::Running, 0)).unwrap();
        let catalog = hysope_catalog::RedbCatalog::open(&dir.path().join("catalog.redb")).unwrap();
        use hysope_catalog::CatalogStore;
        catalog
            .put_collection(&hysope_catalog::ingest::collection(
                "gauges", "Gauges", "kept", "other",
            ))
            .unwrap();
    }
    let (app, _state, requeued) = common::app_with(config(dir.path())).await;
    assert_eq!(requeued, 1, "the interrupted job runs again");
    assert_eq!(
        get(&app, "/jobs/old-done").await.json()["status"],
        "successful"
    );
    assert_eq!(
        wait_final(&app, "old-running").await["status"],
        "successful"
    );
    assert_eq!(
        get(&app, "/stac/collections/gauges").await.status,
        StatusCode::OK
    );
    assert!(dir.path().join(hysope_server::STORE_FILE).exists());
    assert!(!dir.path().join("catalog.redb").exists());
    assert!(!dir.path().join("jobs.redb").exists());
    assert!(dir.path().join("jobs.redb.imported").exists());
}

/// A CWL workflow of the echo plugin, packed in one `$graph` document.
const PACKED: &str = r##"
cwlVersion: v1.2
$namespaces: {hysope: "https://hysope.dev/cwl#"}
$graph:
  - id: shout
    class: CommandLineTool
    requirements:
      hysope:WasmRequirement: {component: echo.wasm}
    baseCommand: [echo]
    inputs:
      text: {type: string, inputBinding: {prefix: --stringInput}}
    outputs:
      echo: {type: File, outputBinding: {glob: echo.json}}
  - id: main
    class: Workflow
    label: Echo twice
    inputs:
      text: string
    outputs:
      first: {type: File, outputSource: one/echo}
      second: {type: File, outputSource: two/echo}
    steps:
      one: {run: "#shout", in: {text: text}, out: [echo]}
      two: {run: "#shout", in: {text: text}, out: [echo]}
"##;

#[tokio::test(flavor = "multi_thread")]
async fn deploy_replace_undeploy() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = app(dir.path()).await;
    let cwl = [("content-type", "application/cwl+yaml")];
    // Deploy a packed workflow: its `main`, under the id given by `w`... or `main`.
    let r = call(&app, "POST", "/processes?w=main", &cwl, PACKED).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .ends_with("/processes/main")
    );
    let summary = r.json();
    assert_eq!(summary["id"], "main");
    assert_eq!(summary["mutable"], true);
    let run = call(
        &app,
        "POST",
        "/processes/main/execution",
        &[],
        r#"{"inputs":{"text":"twice"}}"#,
    )
    .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    assert!(run.json()["second"]["href"].is_string());
    // The package is the body it was deployed with.
    let package = get(&app, "/processes/main/package").await;
    assert_eq!(package.headers["content-type"], "application/cwl+yaml");
    assert_eq!(package.text, PACKED);
    // Same id again: 409; a built-in id: 403.
    let again = call(&app, "POST", "/processes?w=main", &cwl, PACKED).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(
        again.json()["type"]
            .as_str()
            .unwrap()
            .ends_with("/duplicated-process")
    );
    let echo_doc = std::fs::read_to_string(root().join("plugins/echo/echo.cwl")).unwrap();
    let builtin = call(
        &app,
        "POST",
        "/processes",
        &[("content-type", "application/cwl+json")],
        &echo_doc,
    )
    .await;
    assert_eq!(builtin.status, StatusCode::FORBIDDEN, "{}", builtin.text);
    assert_eq!(
        call(&app, "DELETE", "/processes/echo", &[], "")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // An application package with the CWL by value, deployed under its description's id.
    let tool: Value = serde_json::from_str(&echo_doc).unwrap();
    let pkg = json!({
        "processDescription": {"process": {"id": "echo-copy"}},
        "executionUnit": {"value": tool, "mediaType": "application/cwl+json"},
    });
    let r = call(
        &app,
        "POST",
        "/processes",
        &[("content-type", "application/ogcapppkg+json")],
        &pkg.to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let run = call(
        &app,
        "POST",
        "/processes/echo-copy/execution",
        &[],
        r#"{"inputs":{"stringInput":"copy"}}"#,
    )
    .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    // The (cached) listing follows deployments.
    let listed = |list: Value| -> Vec<String> {
        list["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    let before = listed(get(&app, "/processes").await.json());
    assert!(before.contains(&"echo-copy".to_string()) && before.contains(&"main".to_string()));
    // Replace, then undeploy.
    let replaced = PACKED.replace("label: Echo twice", "label: Echo two times");
    let r = call(&app, "PUT", "/processes/main?w=main", &cwl, &replaced).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        get(&app, "/processes/main").await.json()["title"],
        "Echo two times"
    );
    let titles = get(&app, "/processes").await.json();
    assert!(
        titles["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "main" && p["title"] == "Echo two times"),
        "the listing shows the replaced process: {titles}"
    );
    assert_eq!(
        call(&app, "PUT", "/processes/nothing", &cwl, PACKED)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Deployed processes are on disk, and loaded again at start.
    use hysope_jobs::deployments::{Deployments, FileDeployments};
    let on_disk = FileDeployments::new(hysope_jobs::deployments::dir(state.data_dir()));
    let ids = || -> Vec<String> { on_disk.all().unwrap().into_iter().map(|d| d.id).collect() };
    assert_eq!(ids(), ["echo-copy", "main"]);
    let main = on_disk
        .get("main")
        .unwrap()
        .unwrap()
        .process(state.data_dir().join("processes/main.cwl"))
        .unwrap();
    assert_eq!(main.cwl["label"], "Echo two times");
    assert_eq!(
        call(&app, "DELETE", "/processes/main", &[], "")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&app, "/processes/main").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, "DELETE", "/processes/main", &[], "")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(ids(), ["echo-copy"]);
    let after = listed(get(&app, "/processes").await.json());
    assert!(!after.contains(&"main".to_string()) && after.len() == before.len() - 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn unsafe_or_broken_deployments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(dir.path()).await;
    let yaml = "application/cwl+yaml";
    let native = "cwlVersion: v1.2\nclass: CommandLineTool\nid: shell\nbaseCommand: [sh, -c, 'cat /etc/passwd']\ninputs: []\noutputs: []\n";
    let import = "cwlVersion: v1.2\nclass: CommandLineTool\nid: imp\nrequirements:\n  - $import: /etc/hosts\nbaseCommand: echo\ninputs: []\noutputs: []\n";
    let run_file = "cwlVersion: v1.2\nclass: Workflow\nid: wf\ninputs: []\noutputs: []\nsteps:\n  s: {run: ../../tool.cwl, in: {}, out: []}\n";
    let no_id = "cwlVersion: v1.2\nclass: ExpressionTool\ninputs: []\noutputs: []\nexpression: '$({})'\nrequirements: {InlineJavascriptRequirement: {}}\n";
    let bad_field = "cwlVersion: v1.2\nclass: ExpressionTool\nid: e\ncolour: red\ninputs: []\noutputs: []\nexpression: '$({})'\n";
    let cases: [(&str, &str, &str, StatusCode, &str); 8] = [
        (
            "/processes",
            yaml,
            native,
            StatusCode::BAD_REQUEST,
            "wasm sandbox",
        ),
        (
            "/processes",
            yaml,
            import,
            StatusCode::BAD_REQUEST,
            "self-contained",
        ),
        (
            "/processes",
            yaml,
            run_file,
            StatusCode::BAD_REQUEST,
            "self-contained",
        ),
        (
            "/processes",
            yaml,
            no_id,
            StatusCode::BAD_REQUEST,
            "needs an id",
        ),
        (
            "/processes",
            yaml,
            bad_field,
            StatusCode::BAD_REQUEST,
            "unknown field \"colour\"",
        ),
        (
            "/processes?w=nothere",
            yaml,
            PACKED,
            StatusCode::BAD_REQUEST,
            "no workflow \"nothere\"",
        ),
        (
            "/processes",
            "text/plain",
            PACKED,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain",
        ),
        (
            "/processes",
            "application/ogcapppkg+json",
            "{\"executionUnit\": 3}",
            StatusCode::BAD_REQUEST,
            "executionUnit",
        ),
    ];
    for (uri, ty, body, status, expect) in cases {
        let r = call(&app, "POST", uri, &[("content-type", ty)], body).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
        let e = r.json();
        assert!(
            e["detail"].as_str().unwrap().contains(expect),
            "{body}: {e}"
        );
    }
    let w = call(
        &app,
        "POST",
        "/processes?w=nothere",
        &[("content-type", yaml)],
        PACKED,
    )
    .await
    .json();
    assert!(w["type"].as_str().unwrap().ends_with("/workflow-not-found"));
    let list = get(&app, "/processes").await.json();
    assert_eq!(
        list["processes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["mutable"] == true)
            .count(),
        0
    );
}

/// A subscriber endpoint: records (path, JSON body) of each POST; answers 503 to
/// the first call on `/flaky`, 200 otherwise.
async fn subscriber() -> (String, Arc<std::sync::Mutex<Vec<(String, Value)>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen: Arc<std::sync::Mutex<Vec<(String, Value)>>> = Default::default();
    let calls = seen.clone();
    tokio::spawn(async move {
        let mut flaky_failed = false;
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            // Read the head, then the body by Content-Length.
            let (head, body) = loop {
                let n = s.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break (head.to_string(), body.to_string());
                    }
                }
                if n == 0 {
                    break (text, String::new());
                }
            };
            let path = head.split(' ').nth(1).unwrap_or("").to_string();
            let status = if path == "/flaky" && !flaky_failed {
                flaky_failed = true;
                "503 Service Unavailable"
            } else {
                calls
                    .lock()
                    .unwrap()
                    .push((path, serde_json::from_str(&body).unwrap_or(Value::Null)));
                "200 OK"
            };
            let _ = s
                .write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribers_are_called_on_progress_success_and_failure() {
    let dir = tempfile::tempdir().unwrap();
    // The subscriber listens on loopback: allowed to this server.
    let mut config = common::config(dir.path());
    config.egress.allowed = vec!["127.0.0.1".into()];
    let (app, _state, _) = common::app_with(config).await;
    let (addr, seen) = subscriber().await;
    let body = json!({"inputs": {"stringInput": "called back"}, "subscriber": {
        "successUri": format!("http://{addr}/flaky"),
        "inProgressUri": format!("http://{addr}/progress"),
        "failedUri": format!("http://{addr}/failed")}});
    let r = call(
        &app,
        "POST",
        "/processes/echo/execution",
        &[("prefer", "respond-async")],
        &body.to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["jobID"].as_str().unwrap().to_string();
    let body = json!({"subscriber": {"successUri": format!("http://{addr}/ok"), "failedUri": format!("http://{addr}/failed")}});
    let r = call(
        &app,
        "POST",
        "/processes/fail/execution",
        &[("prefer", "respond-async")],
        &body.to_string(),
    )
    .await;
    let failed_id = r.json()["jobID"].as_str().unwrap().to_string();
    for _ in 0..200 {
        let n = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == "/flaky" || p == "/failed")
            .count();
        if n == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls = seen.lock().unwrap().clone();
    let progress: Vec<&Value> = calls
        .iter()
        .filter(|(p, _)| p == "/progress")
        .map(|(_, b)| b)
        .collect();
    assert!(
        progress
            .iter()
            .any(|b| b["status"] == "running" && b["jobID"] == id.as_str()),
        "{calls:?}"
    );
    // The success callback was refused once (503), then retried: it carries the results.
    let success: Vec<&Value> = calls
        .iter()
        .filter(|(p, _)| p == "/flaky")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(success.len(), 1, "{calls:?}");
    assert!(success[0]["echo"]["href"].as_str().unwrap().contains(&id));
    let failed: Vec<&Value> = calls
        .iter()
        .filter(|(p, _)| p == "/failed")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(failed.len(), 1, "{calls:?}");
    assert_eq!(failed[0]["status"], "failed");
    assert_eq!(failed[0]["jobID"], failed_id.as_str());
    // Subscribers are checked before a job exists.
    let bad = call(
        &app,
        "POST",
        "/processes/echo/execution",
        &[],
        r#"{"subscriber":{"successUri":"ftp://x/y"}}"#,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.json()["detail"]
            .as_str()
            .unwrap()
            .contains("successUri")
    );
}

/// The parts of a `multipart/related` body: (headers in lower case, body).
fn multipart(reply: &common::Reply) -> Vec<(HashMap<String, String>, String)> {
    let content_type = reply.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("multipart/related; boundary="),
        "{content_type}"
    );
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let mut sections: Vec<&str> = reply.text.split(&format!("--{boundary}")).collect();
    assert_eq!(sections.first(), Some(&""), "{}", reply.text);
    assert_eq!(sections.pop(), Some("--\r\n"), "{}", reply.text);
    sections
        .into_iter()
        .skip(1)
        .map(|section| {
            let section = section.strip_prefix("\r\n").unwrap();
            let (head, body) = section.split_once("\r\n\r\n").unwrap();
            let headers = head
                .lines()
                .map(|l| {
                    let (k, v) = l.split_once(": ").unwrap();
                    (k.to_ascii_lowercase(), v.to_string())
                })
                .collect();
            (headers, body.strip_suffix("\r\n").unwrap().to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_responses_of_several_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(dir.path()).await;
    let inputs = dir.path().join("inputs");
    std::fs::write(inputs.join("note.txt"), "a note\n").unwrap();
    let note = format!("file://{}", inputs.join("note.txt").display());
    let execute = |outputs: Value, headers: &'static [(&'static str, &'static str)]| {
        let body = json!({"inputs": {"stringInput": "raw", "fileInput": {"href": note}},
                          "outputs": outputs, "response": "raw"});
        let app = app.clone();
        async move {
            call(
                &app,
                "POST",
                "/processes/echo/execution",
                headers,
                &body.to_string(),
            )
            .await
        }
    };

    // Both outputs by value: a part each (the array of files: one part per file).
    let both = execute(json!({"echo": {}, "files": {}}), &[]).await;
    assert_eq!(both.status, StatusCode::OK, "{}", both.text);
    // The synchronous reply links to its job.
    let link = both.headers["link"].to_str().unwrap();
    assert!(link.contains("rel=\"monitor\""), "{link}");
    let parts = multipart(&both);
    assert_eq!(parts.len(), 2, "{}", both.text);
    assert_eq!(parts[0].0["content-id"], "<echo>");
    assert_eq!(parts[0].0["content-type"], "application/json");
    let echoed: Value = serde_json::from_str(&parts[0].1).unwrap();
    assert_eq!(echoed["stringInput"], "raw");
    assert_eq!(parts[1].0["content-id"], "<files.0>");
    assert_eq!(parts[1].0["content-type"], "text/plain");
    assert_eq!(parts[1].1, "a note\n");

    // A mix: the part by reference has no body and says where the value is.
    let mixed = execute(
        json!({"echo": {"transmissionMode": "value"}, "files": {"transmissionMode": "reference"}}),
        &[],
    )
    .await;
    let parts = multipart(&mixed);
    assert_eq!(parts.len(), 2, "{}", mixed.text);
    assert_eq!(
        serde_json::from_str::<Value>(&parts[0].1).unwrap()["stringInput"],
        "raw"
    );
    assert_eq!(parts[1].1, "");
    let href = &parts[1].0["content-location"];
    let file = get(&app, href.strip_prefix("http://test.local").unwrap()).await;
    assert_eq!(file.text, "a note\n");

    // Every output by reference: no content, a Link header per output.
    let refs = execute(
        json!({"echo": {"transmissionMode": "reference"}, "files": {"transmissionMode": "reference"}}),
        &[],
    )
    .await;
    assert_eq!(refs.status, StatusCode::NO_CONTENT, "{}", refs.text);
    let links: Vec<&str> = refs
        .headers
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap())
        .filter(|l| l.contains("/ogc/1.0/results"))
        .collect();
    assert_eq!(links.len(), 2, "{:?}", refs.headers);
    assert!(links.iter().any(|l| l.contains("title=\"echo\"")));
    let files_link = links
        .iter()
        .find(|l| l.contains("title=\"files.0\""))
        .unwrap();
    let href = files_link[1..files_link.find('>').unwrap()].to_string();
    let file = get(&app, href.strip_prefix("http://test.local").unwrap()).await;
    assert_eq!(file.text, "a note\n");

    // Asynchronously: the job's results keep the raw form.
    let created = execute(
        json!({"echo": {}, "files": {}}),
        &[("prefer", "respond-async")],
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json()["jobID"].as_str().unwrap().to_string();
    let done = wait_final(&app, &id).await;
    assert_eq!(done["status"], "successful", "{done}");
    let results = get(&app, &format!("/jobs/{id}/results")).await;
    let parts = multipart(&results);
    assert_eq!(parts.len(), 2, "{}", results.text);
    assert_eq!(parts[1].1, "a note\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jobs_status_carries_what_its_plugin_logged_and_its_progress_moves() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config
        .process_dirs
        .push(root().join("portal/test/processes"));
    let (app, _, _) = common::app_with(config).await;
    let r = call(
        &app,
        "POST",
        "/processes/paced/execution",
        &[("prefer", "respond-async")],
        r#"{"inputs":{"steps":4,"millis":400}}"#,
    )
    .await;
    let id = r.json()["jobID"].as_str().unwrap().to_string();
    // Seen running between 0 and 100, with some of its lines already.
    let mut between = Vec::new();
    for _ in 0..400 {
        let s = get(&app, &format!("/jobs/{id}")).await.json();
        let progress = s["progress"].as_u64().unwrap();
        if s["status"] == "running" && progress > 0 && progress < 100 {
            between.push((progress, s["hysope:log"].as_array().map_or(0, Vec::len)));
        }
        if s["status"] != "running" && s["status"] != "accepted" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!between.is_empty(), "never seen between 0 and 100");
    assert!(between.iter().all(|(_, lines)| *lines >= 1), "{between:?}");
    let done = wait_final(&app, &id).await;
    assert_eq!(done["status"], "successful", "{done}");
    let log = done["hysope:log"].as_array().unwrap();
    let messages: Vec<&str> = log.iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        [
            "step 1 of 4 done",
            "step 2 of 4 done",
            "step 3 of 4 done",
            "step 4 of 4 done"
        ]
    );
    assert!(
        log.iter()
            .all(|l| l["level"] == "info" && l["time"].is_u64())
    );
    // Lists do not carry the lines.
    let list = get(&app, "/jobs?processID=paced").await.json();
    assert!(list["jobs"][0].get("hysope:log").is_none(), "{list}");
}
