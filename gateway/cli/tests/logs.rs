//! Logs as JSON (`--log-format json`, issue 24): every line one object, and the
//! request id a client sent carried from its request into the job it submitted
//! and the plugin's log lines of that job's run.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

#[test]
fn json_logs_carry_the_request_id_into_the_job_and_its_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("stderr.log");
    let child = Command::new(env!("CARGO_BIN_EXE_hysope"))
        .args([
            "serve",
            "--log-format",
            "json",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data)
        .args(common::process_args())
        .env("HYSOPE_LOG", "info,hysope::plugin=debug")
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    /// Kills the server however the test ends.
    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let server_process = Server(child);
    let server = data.join("server.json");
    let started = Instant::now();
    let addr = loop {
        if let Some(url) = std::fs::read(&server)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["url"].as_str().map(str::to_string))
        {
            break url.trim_start_matches("http://").to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no server.json"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let token = common::make_token(&data, "ada", "user");
    let auth = format!("Authorization: Bearer {token}");
    // A synchronous job: its end is logged in its span, inside the request's.
    let (status, body) = common::request(
        &addr,
        "POST",
        "/processes/echo/execution",
        &[
            &auth,
            "Content-Type: application/json",
            "X-Request-Id: req-logs-42",
        ],
        r#"{"inputs": {"stringInput": "logged"}}"#,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    // A request id that is not a plain token is replaced by a new one.
    let (status, _) = common::request(
        &addr,
        "GET",
        "/conformance",
        &["X-Request-Id: not a token"],
        "",
    )
    .unwrap();
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_millis(300));
    drop(server_process);

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = BufReader::new(text.as_bytes())
        .lines()
        .map(Result::unwrap)
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!lines.is_empty(), "no JSON line in\n{text}");
    for line in &lines {
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    // Spans as a list: the request's, then the job's inside it.
    let spans_with = |id: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| {
                l["spans"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["request_id"] == id))
            })
            .collect()
    };
    let ours = spans_with("req-logs-42");
    assert!(
        ours.iter().any(|l| l["spans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "job" && s["process_id"] == "echo")
            && l["message"] == "job finished"
            && l["state"] == "successful"),
        "no line of the job with the request id in\n{text}"
    );
    assert!(
        spans_with("not a token").is_empty(),
        "a request id that is not a token was kept"
    );
}
