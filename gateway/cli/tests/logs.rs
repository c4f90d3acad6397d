//! Logs as JSON (`--log-format json`, issue 24): every line one object, and the
//! request id a client sent carried from its request into the job it submitted,
//! the job's end and the log lines its plugin wrote.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

mod common;

#[test]
fn json_logs_carry_the_request_id_into_the_job_and_its_plugins_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("stderr.log");
    let mut args = vec!["--log-format".to_string(), "json".into()];
    args.extend(common::process_args());
    // `paced`: the test guest that logs a line at each of its steps.
    let paced = hysope_test_components::workspace_root().join("portal/test/processes");
    args.extend(["--processes".to_string(), paced.display().to_string()]);
    let (server, addr) = common::serve_quietly(
        &data,
        &args,
        &[("HYSOPE_LOG", "info,hysope::plugin=debug")],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    let token = common::make_token(&data, "ada", "user");
    let auth = format!("Authorization: Bearer {token}");
    // A synchronous job: its plugin's lines and its end are logged in its span,
    // inside the request's.
    let (status, body) = common::request(
        &addr,
        "POST",
        "/processes/paced/execution",
        &[
            &auth,
            "Content-Type: application/json",
            "X-Request-Id: req-logs-42",
        ],
        r#"{"inputs": {"steps": 2, "millis": 10}}"#,
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
    drop(server);

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
            .any(|s| s["name"] == "job" && s["process_id"] == "paced")
            && l["message"] == "job finished"
            && l["state"] == "successful"),
        "no end of the job with the request id in\n{text}"
    );
    assert!(
        ours.iter().any(|l| l["target"] == "hysope::plugin"
            && l["message"].as_str().is_some_and(|m| !m.is_empty())),
        "no line of the plugin with the request id in\n{text}"
    );
    assert!(
        spans_with("not a token").is_empty(),
        "a request id that is not a token was kept"
    );
}
