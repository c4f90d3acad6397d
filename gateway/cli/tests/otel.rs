//! OpenTelemetry traces (cargo feature `otel`, issue 24): `hysope serve` with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` sends its spans over OTLP/HTTP (JSON) to a
//! receiver in this test: the request's span with its id, and the job it
//! submitted as a child span of it in the same trace.
//!
//! cargo test -p hysope-cli --features otel --test otel
#![cfg(feature = "otel")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

/// An OTLP/HTTP receiver: every POST body it gets, as JSON.
fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let keep = keep.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).unwrap();
                        if header.trim().is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap();
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    if line.starts_with("POST /v1/traces") {
                        keep.lock()
                            .unwrap()
                            .push(serde_json::from_slice(&body).unwrap());
                    }
                    let reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
                    if stream.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, got)
}

/// The spans received: (name, trace id, span id, parent span id, attributes).
fn spans(bodies: &[Value]) -> Vec<(String, String, String, String, Value)> {
    let mut out = Vec::new();
    for body in bodies {
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    let text = |k: &str| span[k].as_str().unwrap_or_default().to_string();
                    let attributes: serde_json::Map<String, Value> = span["attributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| {
                            let value = a["value"]
                                .as_object()
                                .and_then(|v| v.values().next().cloned())
                                .unwrap_or(Value::Null);
                            (a["key"].as_str().unwrap_or_default().to_string(), value)
                        })
                        .collect();
                    out.push((
                        text("name"),
                        text("traceId"),
                        text("spanId"),
                        text("parentSpanId"),
                        Value::Object(attributes),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn a_request_and_its_job_are_one_trace_at_the_collector() {
    let (endpoint, got) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_server, addr) = common::serve_quietly(
        &data,
        &common::process_args(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", "hysope-test"),
        ],
        Stdio::null(),
    );
    let token = common::make_token(&data, "ada", "user");
    let (status, body) = common::request(
        &addr,
        "POST",
        "/processes/echo/execution",
        &[
            &format!("Authorization: Bearer {token}"),
            "Content-Type: application/json",
            "X-Request-Id: trace-7",
        ],
        r#"{"inputs": {"stringInput": "traced"}}"#,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let waited = Instant::now();
    loop {
        let bodies = got.lock().unwrap().clone();
        let all = spans(&bodies);
        let request = all
            .iter()
            .find(|s| s.0 == "request" && s.4["request_id"] == "trace-7");
        let job = all.iter().find(|s| {
            s.0 == "job" && s.4["process_id"] == "echo" && s.4["request_id"] == "trace-7"
        });
        if let (Some(request), Some(job)) = (request, job) {
            assert_eq!(request.4["route"], "/processes/{id}/execution");
            assert_eq!(job.1, request.1, "the job is in the request's trace");
            // The job's span is the request's child (maybe through others).
            let mut parent = job.3.clone();
            let mut depth = 0;
            while parent != request.2 {
                let next = all.iter().find(|s| s.2 == parent);
                parent = next.map(|s| s.3.clone()).unwrap_or_default();
                depth += 1;
                assert!(
                    depth < 10 && !parent.is_empty(),
                    "the job span is not under the request's: {all:?}"
                );
            }
            let service = &bodies[0]["resourceSpans"][0]["resource"]["attributes"];
            assert!(service.to_string().contains("hysope-test"), "{service}");
            return;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "no request and job spans with the request id in {all:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
