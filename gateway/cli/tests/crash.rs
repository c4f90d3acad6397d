//! Crash test: the real `hysope serve` is killed with SIGKILL while it runs jobs,
//! then started again on the same data folder. Every job acknowledged before the
//! kill must reach a final state, and every successful job must have complete
//! results. Repeated `HYSOPE_CRASH_ROUNDS` times (3 by default).

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

struct Server {
    child: Child,
    addr: String,
    /// Jobs the server found unfinished at start and queued again.
    requeued: usize,
}

/// The operator's token the requests to each server address carry: one per data
/// folder, made by `hysope admin token create` before the first start (it
/// outlives restarts).
static TOKENS: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

fn make_token(data: &Path) -> String {
    common::make_token(data, "crash", "operator")
}

fn token_of(addr: &str) -> String {
    let tokens = TOKENS.lock().unwrap();
    tokens
        .iter()
        .find(|(a, _)| a == addr)
        .map(|(_, t)| t.clone())
        .unwrap_or_default()
}

/// Starts `hysope serve` on `data`; requests to it carry `token`.
fn start(data: &Path, token: &str) -> Server {
    let args = common::process_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (child, addr, line) = common::serve(data, &args);
    let requeued = common::requeued(&line);
    TOKENS
        .lock()
        .unwrap()
        .push((addr.clone(), token.to_string()));
    Server {
        child,
        addr,
        requeued,
    }
}

/// One HTTP/1.1 request; returns the status and the body.
fn http(addr: &str, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String) {
    try_http(addr, method, path, headers, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// [`http`], with the connection's failure as an error (the server killed).
fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let auth = format!("Authorization: Bearer {}", token_of(addr));
    let mut all = headers.to_vec();
    all.push(&auth);
    common::request(addr, method, path, &all, body)
}

fn get_json(addr: &str, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path, &[], "");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn jobs_survive_kill_9() {
    let rounds: usize = std::env::var("HYSOPE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let data = tempfile::tempdir().unwrap();
    let token = make_token(data.path());
    let mut accepted: Vec<(String, Value)> = Vec::new();
    for round in 0..rounds {
        let mut server = start(data.path(), &token);
        for i in 0..100 {
            let (process, inputs) = if i % 4 == 0 {
                ("sleep", json!({"seconds": 0.2}))
            } else {
                (
                    "echo",
                    json!({"stringInput": format!("round {round} job {i}")}),
                )
            };
            let (status, body) = http(
                &server.addr,
                "POST",
                &format!("/processes/{process}/execution"),
                &["Prefer: respond-async", "Content-Type: application/json"],
                &json!({ "inputs": inputs }).to_string(),
            );
            assert_eq!(status, 201, "{body}");
            let info: Value = serde_json::from_str(&body).unwrap();
            accepted.push((info["jobID"].as_str().unwrap().to_string(), inputs));
        }
        // Let some jobs finish and some start, then kill the server mid-run.
        std::thread::sleep(Duration::from_millis(300 + 200 * round as u64));
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();

        let mut server = start(data.path(), &token);
        // The kill came while jobs were waiting or running: they are queued again.
        assert!(
            server.requeued > 0,
            "round {round}: the kill found no unfinished job"
        );
        let deadline = Instant::now() + Duration::from_secs(300);
        for (id, inputs) in &accepted {
            let status = loop {
                let s = get_json(&server.addr, &format!("/jobs/{id}"));
                let status = s["status"].as_str().unwrap().to_string();
                if ["successful", "failed", "dismissed"].contains(&status.as_str()) {
                    if status == "failed" {
                        assert!(
                            !s["message"].as_str().unwrap().is_empty(),
                            "failed without a reason: {s}"
                        );
                    }
                    break status;
                }
                assert!(Instant::now() < deadline, "job {id} stuck: {s}");
                std::thread::sleep(Duration::from_millis(50));
            };
            assert_eq!(
                status,
                "successful",
                "job {id}: {}",
                get_json(&server.addr, &format!("/jobs/{id}"))
            );
            let results = get_json(&server.addr, &format!("/jobs/{id}/results"));
            let (key, want) = if inputs.get("seconds").is_some() {
                ("done", "done\n".to_string())
            } else {
                ("echo", String::new())
            };
            let href = results[key]["href"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: {results}"));
            let path = href.split_once(&server.addr).unwrap().1;
            let (code, content) = http(&server.addr, "GET", path, &[], "");
            assert_eq!(code, 200);
            assert_eq!(
                content.len() as u64,
                results[key]["size"].as_u64().unwrap(),
                "{id}: truncated result"
            );
            if key == "done" {
                assert_eq!(content, want);
            } else {
                let echoed: Value = serde_json::from_str(&content).unwrap();
                assert_eq!(echoed["stringInput"], inputs["stringInput"], "{id}");
            }
        }
        let listed = get_json(&server.addr, "/jobs?limit=10000");
        assert_eq!(listed["jobs"].as_array().unwrap().len(), accepted.len());
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    }
}

/// Synchronous jobs under load, the server killed among them: every job whose
/// results were returned is still there after the restart, successful, with its
/// result item in the catalogue and its file.
#[test]
fn acknowledged_sync_jobs_survive_kill_9_under_load() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let data = tempfile::tempdir().unwrap();
    let token = make_token(data.path());
    for round in 0..2u64 {
        let mut server = start(data.path(), &token);
        // The first job compiles the component, which takes seconds with a cold
        // compile cache (a fresh machine): the load and its kill come after it.
        let (code, reply) = http(
            &server.addr,
            "POST",
            "/processes/echo/execution",
            &["Content-Type: application/json"],
            r#"{"inputs": {"stringInput": "warm-up"}}"#,
        );
        assert_eq!(code, 200, "{reply}");
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..8)
            .map(|client| {
                let (addr, stop) = (server.addr.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut acknowledged = Vec::new();
                    for n in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let text = format!("round {round} client {client} request {n}");
                        let body = json!({"inputs": {"stringInput": text}}).to_string();
                        let Ok((200, reply)) = try_http(
                            &addr,
                            "POST",
                            "/processes/echo/execution",
                            &["Content-Type: application/json"],
                            &body,
                        ) else {
                            break;
                        };
                        let results: Value = serde_json::from_str(&reply).unwrap();
                        let href = results["echo"]["href"].as_str().unwrap().to_string();
                        let id = href.split("/jobs/").nth(1).unwrap().split('/').next();
                        acknowledged.push((id.unwrap().to_string(), text));
                    }
                    acknowledged
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(700 + 900 * round));
        server.child.kill().unwrap(); // SIGKILL, requests in flight
        server.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        let acknowledged: Vec<(String, String)> = clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        assert!(
            acknowledged.len() > 20,
            "round {round}: {} jobs",
            acknowledged.len()
        );

        let mut server = start(data.path(), &token);
        for (id, text) in &acknowledged {
            let job = get_json(&server.addr, &format!("/jobs/{id}"));
            assert_eq!(job["status"], "successful", "round {round}: {job}");
            let item = get_json(
                &server.addr,
                &format!("/stac/collections/results/items/{id}"),
            );
            assert_eq!(item["properties"]["hysope:job_id"], id.as_str(), "{item}");
            let (code, content) = http(
                &server.addr,
                "GET",
                &format!("/jobs/{id}/files/echo.json"),
                &[],
                "",
            );
            assert_eq!(code, 200, "{id}: {content}");
            let echoed: Value = serde_json::from_str(&content).unwrap();
            assert_eq!(echoed["stringInput"], text.as_str(), "{id}");
        }
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    }
}

/// Issue 24: a production rule's trigger survives a crash between the
/// ingestion and the job (`rule-before-job`) and one between the job and the
/// rule's saved position (`rule-job-accepted`): after both, every gauge file has
/// exactly one job of the rule.
#[test]
fn a_rules_jobs_survive_kill_9_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("gauges.json"),
        json!({"id": "gauges", "process": "echo",
            "trigger": {"type": "item", "collections": ["USGS_NWIS_peaks", "USGS_NWIS_values", "USGS_NWIS_ratings"]},
            "inputs": {"stringInput": {"value": "a gauge file"}}})
        .to_string(),
    )
    .unwrap();
    let token = make_token(&data);
    let usgs = hysope_test_components::workspace_root().join("../shared/data/usgs");
    let mut args = common::process_args();
    args.extend(["--rules".into(), rules.display().to_string()]);
    args.extend(["--input-root".into(), usgs.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let body = json!({"paths": [usgs]}).to_string();
    let wait_exit = |child: &mut Child| {
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not crash"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    for point in ["rule-before-job", "rule-job-accepted"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hysope"))
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .args(&args)
            .env("HYSOPE_TEST_CRASH_AT", point)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Its address, or the crash itself: a change the previous crash left
        // unread may reach the point as the server starts, before it listens.
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let (mut said, mut line) = (String::new(), String::new());
        while {
            line.clear();
            std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0
        } {
            said.push_str(&line);
            if line.contains("http://") {
                break;
            }
        }
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        if let Some(rest) = line.split("http://").nth(1) {
            let addr = rest.split('/').next().unwrap().to_string();
            TOKENS.lock().unwrap().push((addr.clone(), token.clone()));
            // The first ingestion stores the files; later ones find them unchanged.
            let _ = try_http(
                &addr,
                "POST",
                "/stac/ingest",
                &["Content-Type: application/json"],
                &body,
            );
        } else {
            assert!(
                said.contains(&format!("HYSOPE_TEST_CRASH_AT={point}: aborting here")),
                "{point}: the server stopped before it listened, not at the point: {said}"
            );
        }
        let status = wait_exit(&mut child);
        assert!(!status.success(), "{point}: {status:?}");
    }
    // A crash may come before the ingestion stored every file (the rules are
    // woken at each stored file): the operator ingests again, which stores the
    // files left and finds the others unchanged.
    let (mut child, addr, _) = common::start_with("serve", &data, &args, &[]);
    TOKENS.lock().unwrap().push((addr.clone(), token.clone()));
    let (status, report) = http(
        &addr,
        "POST",
        "/stac/ingest",
        &["Content-Type: application/json"],
        &body,
    );
    assert_eq!(status, 200, "{report}");
    let started = Instant::now();
    let jobs = loop {
        let list = get_json(&addr, "/jobs?processID=echo&limit=100");
        let jobs = list["jobs"].as_array().unwrap().clone();
        let done = jobs.len() >= 3 && jobs.iter().all(|j| j["status"] == "successful");
        if done {
            break jobs;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "{list:#}");
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_secs(1));
    let again = get_json(&addr, "/jobs?processID=echo&limit=100");
    assert_eq!(
        again["jobs"].as_array().unwrap().len(),
        3,
        "one job per file: {jobs:#?}"
    );
    let rule = get_json(&addr, "/rules/gauges");
    assert_eq!(
        rule["counts"]["repeated"], 1,
        "the job made before the second crash: {rule:#}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
