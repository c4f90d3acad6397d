//! Issue 18, hole 6: JavaScript expressions of deployed documents run in worker
//! processes with memory and time limits. An expression that asks for a gigabyte,
//! or backtracks for ever in a regular expression, fails its job with the reason;
//! the real `hysope serve` goes on (before, the first aborted the whole server and
//! the second held a thread for good).

use serde_json::Value;

mod common;

fn http(
    addr: &str,
    token: &str,
    method: &str,
    path: &str,
    kind: &str,
    body: &str,
) -> (u16, String) {
    let auth = format!("Authorization: Bearer {token}");
    let kind = format!("Content-Type: {kind}");
    common::request(addr, method, path, &[&auth, &kind], body).unwrap()
}

fn expression_tool(id: &str, expression: &str) -> String {
    format!(
        "cwlVersion: v1.2\nclass: ExpressionTool\nid: {id}\nrequirements: {{InlineJavascriptRequirement: {{}}}}\ninputs: {{}}\noutputs: {{out: Any}}\nexpression: '$({{\"out\": {expression}}})'\n"
    )
}

#[test]
fn expressions_past_their_memory_or_time_fail_their_job_only() {
    let data = tempfile::tempdir().unwrap();
    let token = common::make_token(data.path(), "dev", "developer");
    let none = data.path().join("none");
    std::fs::create_dir_all(&none).unwrap();
    let (mut child, addr, _) = common::serve(
        data.path(),
        &[
            "--expression-memory",
            "256MiB",
            "--expression-time",
            "2s",
            "--processes",
            none.to_str().unwrap(),
        ],
    );
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
