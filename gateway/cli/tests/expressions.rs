//! Issue 18, hole 6: JavaScript expressions of deployed documents run in worker
//! processes with memory and time limits. An expression that asks for a gigabyte,
//! or backtracks for ever in a regular expression, fails its job with the reason;
//! the real `hysope serve` goes on (before, the first aborted the whole server and
//! the second held a thread for good).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

fn http(
    addr: &str,
    token: &str,
    method: &str,
    path: &str,
    kind: &str,
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let text = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

fn expression_tool(id: &str, expression: &str) -> String {
    format!(
        "cwlVersion: v1.2\nclass: ExpressionTool\nid: {id}\nrequirements: {{InlineJavascriptRequirement: {{}}}}\ninputs: {{}}\noutputs: {{out: Any}}\nexpression: '$({{\"out\": {expression}}})'\n"
    )
}

#[test]
fn expressions_past_their_memory_or_time_fail_their_job_only() {
    let data = tempfile::tempdir().unwrap();
    let made = Command::new(env!("CARGO_BIN_EXE_hysope"))
        .args([
            "admin",
            "token",
            "create",
            "--user",
            "dev",
            "--role",
            "developer",
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let token = String::from_utf8(made.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    std::fs::create_dir_all(data.path().join("none")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hysope"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--expression-memory",
            "256MiB",
            "--expression-time",
            "2s",
            "--data-dir",
        ])
        .arg(data.path())
        .arg("--processes")
        .arg(data.path().join("none"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let cases = [
        (
            "fine",
            "[1, 2, 3].map(function (x) { return x * 2; })",
            Some("[2,4,6]"),
        ),
        ("memory", "\"x\".repeat(1 << 30).length", None),
        ("time", "/^(a+)+$/.test(\"a\".repeat(40) + \"b\")", None),
        ("after", "\"still here\"", Some("\"still here\"")),
    ];
    for (id, expression, expected) in cases {
        let (status, body) = http(
            &addr,
            &token,
            "POST",
            "/processes",
            "application/cwl+yaml",
            &expression_tool(id, expression),
        );
        assert_eq!(status, 201, "{id}: {body}");
        let (status, body) = http(
            &addr,
            &token,
            "POST",
            &format!("/processes/{id}/execution"),
            "application/json",
            r#"{"inputs": {}, "outputs": {"out": {}}, "response": "raw"}"#,
        );
        match expected {
            Some(value) => {
                assert_eq!(status, 200, "{id}: {body}");
                let got: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(got, serde_json::from_str::<Value>(value).unwrap(), "{id}");
            }
            None => {
                assert!(status >= 400, "{id}: {status} {body}");
                let detail = serde_json::from_str::<Value>(&body).unwrap()["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let reason = if id == "memory" {
                    "MiB of memory"
                } else {
                    "took more than 2 s"
                };
                assert!(detail.contains(reason), "{id}: {detail}");
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
