//! The trust boundary, hole by hole (issue 18): each request here was accepted
//! before and read or wrote the host, or stopped the service.

use crate::common;

use axum::http::StatusCode;
use common::{app, call, get, root};
use serde_json::{Value, json};

async fn execute(app: &axum::Router, process: &str, inputs: Value) -> common::Reply {
    let body = json!({ "inputs": inputs }).to_string();
    call(
        app,
        "POST",
        &format!("/processes/{process}/execution"),
        &[("content-type", "application/json")],
        &body,
    )
    .await
}

/// A file under the input root (`../shared/data`).
fn inside() -> String {
    let dir = root().join("../shared/data/usgs");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_file())
        .unwrap();
    std::fs::canonicalize(file).unwrap().display().to_string()
}

/// Hole 1: a File or Directory given by `location` or `path`, anywhere in a value,
/// must resolve inside an input root; hole 2: a name is one path component.
#[tokio::test(flavor = "multi_thread")]
async fn files_outside_the_input_roots_and_names_that_are_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _state) = app(dir.path()).await;
    let good = inside();
    let outside = "outside the allowed input roots";
    let not_a_name = "not one path component";
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "echo",
            json!({"fileInput": {"class": "File", "location": "file:///etc/passwd"}}),
            outside,
        ),
        (
            "echo",
            json!({"fileInput": {"class": "File", "path": "/proc/self/environ"}}),
            outside,
        ),
        (
            "echo",
            json!({"fileInput": {"value": {"class": "File", "location": "/etc/passwd"}}}),
            outside,
        ),
        (
            "echo",
            json!({"fileInput": {"class": "File", "location": good,
                   "secondaryFiles": [{"class": "File", "location": "file:///etc/shadow"}]}}),
            outside,
        ),
        // Two places for one file: which one would be staged?
        (
            "echo",
            json!({"fileInput": {"class": "File", "location": good, "path": "/etc/passwd"}}),
            "two places",
        ),
        (
            "echo",
            json!({"fileInput": {"class": "File", "location": good, "basename": "../../escaped"}}),
            not_a_name,
        ),
        (
            "echo",
            json!({"fileInput": {"class": "File", "location": good, "basename": "/tmp/evil"}}),
            not_a_name,
        ),
        (
            "echo",
            json!({"fileInput": {"class": "File", "contents": "x", "basename": ".."}}),
            not_a_name,
        ),
        (
            "takes-anything",
            json!({"thing": {"class": "Directory", "location": "file:///"}}),
            outside,
        ),
        (
            "takes-anything",
            json!({"thing": [{"deep": {"class": "File", "path": "/etc/hostname"}}]}),
            outside,
        ),
        (
            "takes-anything",
            json!({"pair": {"file": {"class": "File", "path": "/etc/passwd"}}}),
            outside,
        ),
        (
            "takes-anything",
            json!({"files": [{"class": "File", "location": good}, {"class": "File", "location": "/etc/passwd"}]}),
            outside,
        ),
        (
            "takes-anything",
            json!({"thing": {"class": "Directory", "basename": "d",
                   "listing": [{"class": "File", "location": "file:///etc/passwd"}]}}),
            outside,
        ),
        // A percent escape that decodes to `..` is a name, not a way up.
        (
            "echo",
            json!({"fileInput": {"class": "File", "location": format!("file://{good}/%2e%2e/%2e%2e/etc/passwd")}}),
            "Not a directory",
        ),
    ];
    for (process, inputs, expect) in cases {
        let reply = execute(&app, process, inputs.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{inputs}: {}",
            reply.text
        );
        let detail = reply.json()["detail"].as_str().unwrap_or("").to_string();
        assert!(detail.contains(expect), "{inputs}: {detail}");
        assert!(!detail.contains("root:x:0:0"), "{detail}");
    }
    // Nothing of it became a job.
    let jobs = get(&app, "/jobs").await.json();
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 0, "{jobs}");

    // The same file inside the root, by location, by path, in a record and an
    // array: accepted and read.
    let reply = execute(
        &app,
        "takes-anything",
        json!({"pair": {"file": {"class": "File", "path": good}},
               "files": [{"class": "File", "location": format!("file://{good}")}]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// Hole 5: a malformed percent escape (this panicked in the engine and killed
/// the worker for good) is an ordinary refusal, and the service goes on.
#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_percent_escape_is_refused_and_the_service_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _state) = app(dir.path()).await;
    let data = std::fs::canonicalize(root().join("../shared/data")).unwrap();
    for location in [
        format!("file://{}/%é", data.display()),
        format!("file://{}/%", data.display()),
        format!("file://{}/%4", data.display()),
    ] {
        let reply = execute(
            &app,
            "echo",
            json!({"fileInput": {"class": "File", "location": location}}),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{location}: {}",
            reply.text
        );
    }
    let reply = execute(&app, "echo", json!({"stringInput": "still here"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// Hole 5: a CQL2 filter of 600 nested parentheses overflowed the parser's stack
/// and aborted the process; it is a 400 now, by GET and by POST.
#[tokio::test(flavor = "multi_thread")]
async fn a_deeply_nested_filter_is_refused_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _state) = app(dir.path()).await;
    let deep = format!("{}reach_q <= 1{}", "(".repeat(600), ")".repeat(600));
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("filter", &deep)
        .finish();
    let reply = get(&app, &format!("/stac/search?{query}")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(reply.text.contains("nested 600 deep"), "{}", reply.text);
    let body = json!({"filter": deep, "filter-lang": "cql2-text"}).to_string();
    let reply = call(
        &app,
        "POST",
        "/stac/search",
        &[("content-type", "application/json")],
        &body,
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    // Unbalanced ones made the parser backtrack fourfold a level: bounded now.
    let started = std::time::Instant::now();
    let unbalanced = format!("{}point(1 2", "(".repeat(32));
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("filter", &unbalanced)
        .finish();
    let reply = get(&app, &format!("/stac/search?{query}")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(
        get(&app, "/stac/search?limit=1").await.status,
        StatusCode::OK
    );
}

/// Hole 7: every response tells the browser not to sniff, frame or script it;
/// a result file that is markup is a download in a sandbox; a write in a body
/// type any page may send (CSRF) is refused; a foreign `Host` is refused when the
/// hosts are limited (DNS rebinding).
#[tokio::test(flavor = "multi_thread")]
async fn the_browser_cannot_be_turned_against_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _state) = app(dir.path()).await;
    let landing = get(&app, "/").await;
    assert_eq!(landing.headers["x-content-type-options"], "nosniff");
    let csp = landing.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );

    let reply = execute(&app, "writes-html", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let href = reply.json()["page"]["href"].as_str().unwrap().to_string();
    let path = href.split("test.local").nth(1).unwrap();
    let page = get(&app, path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("<script>"));
    let disposition = page.headers["content-disposition"].to_str().unwrap();
    assert_eq!(disposition, "attachment; filename=\"page.html\"");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("sandbox"), "{csp}");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");

    for media in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let reply = call(
            &app,
            "POST",
            "/processes/echo/execution",
            &[("content-type", media)],
            r#"{"inputs":{"stringInput":"csrf"}}"#,
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{media}: {}",
            reply.text
        );
    }
    let jobs = get(&app, "/jobs").await.json();
    assert_eq!(
        jobs["jobs"].as_array().unwrap().len(),
        1,
        "only writes-html ran: {jobs}"
    );

    // Hosts limited as for a server bound to loopback.
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    let loopback: std::net::SocketAddr = "127.0.0.1:5000".parse().unwrap();
    config.allowed_hosts = hysope_server::guard::hosts_for(&loopback, &[]);
    let (app, _state, _) = common::app_with(config).await;
    let request = axum::http::Request::builder()
        .uri("/jobs")
        .header("host", "attacker.example:5000")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST);
    // Addresses are no DNS rebinding (Kubernetes probes a pod by its IP).
    for host in [
        "localhost:5000",
        "127.0.0.1:5000",
        "[::1]:5000",
        "10.1.2.3:5000",
        "[fd00::5]:5000",
    ] {
        let request = axum::http::Request::builder()
            .uri("/")
            .header("host", host)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(app.clone(), request)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
}

/// Hole 4: inputs by URL, callbacks and `s3://` reach only what is public, or
/// what the operator allows: loopback, private and link-local addresses (the
/// cloud metadata service) and buckets not named are refused; a name that passes
/// the check but resolves to loopback fails the job at fetch time, before any
/// connection.
#[tokio::test(flavor = "multi_thread")]
async fn the_server_does_not_fetch_for_users_what_is_not_public() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _state) = app(dir.path()).await;
    let not_public = "not a public address";
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"inputs": {"fileInput": {"href": "http://127.0.0.1:9/secret"}}}),
            not_public,
        ),
        (
            json!({"inputs": {"fileInput": {"href": "http://169.254.169.254/latest/meta-data/iam"}}}),
            not_public,
        ),
        (
            json!({"inputs": {"fileInput": {"href": "http://[::1]/x"}}}),
            not_public,
        ),
        (
            json!({"inputs": {"fileInput": {"href": "http://10.0.0.1/x"}}}),
            not_public,
        ),
        (
            json!({"inputs": {"fileInput": {"class": "File", "location": "http://192.168.1.1/x"}}}),
            not_public,
        ),
        (
            json!({"inputs": {"fileInput": {"href": "s3://any-bucket/key.zip"}}}),
            "bucket",
        ),
        (
            json!({"inputs": {"stringInput": "x"},
                   "subscriber": {"successUri": "http://169.254.169.254/latest/api/token"}}),
            not_public,
        ),
    ];
    for (body, expect) in cases {
        let reply = call(
            &app,
            "POST",
            "/processes/echo/execution",
            &[("content-type", "application/json")],
            &body.to_string(),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert!(
            reply.json()["detail"].as_str().unwrap().contains(expect),
            "{body}: {}",
            reply.text
        );
    }
    // The machine's own name passes the request check (a name, not `localhost`)
    // and resolves to loopback or a private address (the container's): the fetch
    // vets the addresses and refuses before connecting.
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let resolved: Vec<std::net::SocketAddr> = tokio::net::lookup_host((name.as_str(), 9))
        .await
        .map(Iterator::collect)
        .unwrap_or_default();
    if resolved
        .iter()
        .any(|a| !hysope_jobs::egress::is_public(a.ip()))
    {
        let href = format!("http://{name}:9/x");
        let reply = execute(&app, "echo", json!({"fileInput": {"href": href}})).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        assert!(reply.text.contains(not_public), "{}", reply.text);
    } else {
        eprintln!("{name} resolves to {resolved:?}: the resolution check is not exercised here");
    }
}

/// Hole 6: the jobs waiting for a worker are bounded; an execution beyond is
/// told to come back (429 with `Retry-After`), asynchronous or synchronous, and
/// nothing of it is stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_says_come_back_later() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.workers = 1;
    config.max_waiting = 1;
    let (app, _state, _) = common::app_with(config).await;
    let sleep = |mode: &'static str| {
        let app = app.clone();
        async move {
            call(
                &app,
                "POST",
                "/processes/sleep/execution",
                &[("content-type", "application/json"), ("prefer", mode)],
                r#"{"inputs":{"seconds":30}}"#,
            )
            .await
        }
    };
    // One runs (the only worker), one waits.
    assert_eq!(sleep("respond-async").await.status, StatusCode::CREATED);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sleep("respond-async").await.status, StatusCode::CREATED);
    for mode in ["respond-async", "wait"] {
        let busy = sleep(mode).await;
        assert_eq!(
            busy.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{mode}: {}",
            busy.text
        );
        assert_eq!(busy.headers["retry-after"], "5");
        assert!(
            busy.json()["detail"]
                .as_str()
                .unwrap()
                .contains("try again later")
        );
    }
    let jobs = get(&app, "/jobs").await.json();
    let jobs = jobs["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    for job in jobs {
        let id = job["jobID"].as_str().unwrap();
        call(&app, "DELETE", &format!("/jobs/{id}"), &[], "").await;
    }
}

/// Hole 8: a failure's message bound for a user names the server's folders
/// instead of showing them (the data folder, the plugin search path).
#[tokio::test(flavor = "multi_thread")]
async fn failure_messages_do_not_show_the_servers_folders() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, state) = app(dir.path()).await;
    let data = state.data_dir().display().to_string();
    let message = format!("cannot read {data}/scratch/0193/inputs/a.csv: no such file");
    let shown = state.jobs().redact(&message);
    assert_eq!(
        shown,
        "cannot read DATA/scratch/0193/inputs/a.csv: no such file"
    );
    for dir in common::engine().plugin_path() {
        let shown = state
            .jobs()
            .redact(&format!("component {}/echo.wasm", dir.display()));
        assert_eq!(shown, "component PLUGINS/echo.wasm");
    }
}

/// A deployed tool running `echo.wasm`, with `component` and `$schemas` as given.
fn deployed(id: &str, component: &str, schemas: &str) -> String {
    format!(
        r#"cwlVersion: v1.2
class: CommandLineTool
id: {id}
$namespaces: {{hysope: "https://hysope.dev/cwl#"}}
$schemas: [{schemas}]
requirements:
  hysope:WasmRequirement: {{component: "{component}"}}
baseCommand: echo
inputs:
  stringInput: {{type: string?, inputBinding: {{prefix: --stringInput}}}}
outputs:
  out: {{type: stdout}}
"#
    )
}

/// Hole 3 (part): a deployed document names no host file. `$schemas` naming a
/// file (`/dev/zero` was read until memory ran out) and `$import` are refused at
/// deploy; a component named by a host path or a way up is refused when it is
/// looked up, and no path is told.
#[tokio::test(flavor = "multi_thread")]
async fn deployed_documents_name_no_host_file() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _state) = app(dir.path()).await;
    let cwl = [("content-type", "application/cwl+yaml")];
    for (doc, expect) in [
        (deployed("zero", "echo.wasm", "/dev/zero"), "refers to a file"),
        (deployed("zero2", "echo.wasm", "\"file:///dev/zero\""), "refers to a file"),
        (
            "cwlVersion: v1.2\nclass: CommandLineTool\nid: imp\ninputs: {$import: /dev/zero}\noutputs: []\n"
                .to_string(),
            "$import",
        ),
    ] {
        let reply = call(&app, "POST", "/processes", &cwl, &doc).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{doc}: {}", reply.text);
        assert!(reply.text.contains(expect), "{}", reply.text);
    }
    for (id, component) in [
        ("abs", "/etc/passwd"),
        ("up", "../../../../../../etc/passwd"),
    ] {
        let doc = deployed(id, component, "\"https://edamontology.org/EDAM.owl\"");
        let deploy = call(&app, "POST", "/processes", &cwl, &doc).await;
        let refused = if deploy.status == StatusCode::CREATED {
            execute(&app, id, json!({"stringInput": "x"})).await
        } else {
            deploy
        };
        assert!(
            refused.status.is_client_error(),
            "{component}: {}",
            refused.text
        );
        assert!(
            refused.text.contains("must be a file name"),
            "{component}: {}",
            refused.text
        );
        assert!(!refused.text.contains("root:x:0:0"));
    }
    let reply = execute(&app, "echo", json!({"stringInput": "still here"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// Hole 6: a whole job runs within its time limit; beyond, it fails with that
/// reason (and its tool is stopped).
#[tokio::test(flavor = "multi_thread")]
async fn a_job_past_its_time_limit_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.job_time_limit = std::time::Duration::from_secs(1);
    let (app, _state, _) = common::app_with(config).await;
    let started = std::time::Instant::now();
    let reply = call(
        &app,
        "POST",
        "/processes/sleep/execution",
        &[
            ("content-type", "application/json"),
            ("prefer", "respond-async"),
        ],
        r#"{"inputs":{"seconds":60}}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let id = reply.json()["jobID"].as_str().unwrap().to_string();
    let status = loop {
        let status = get(&app, &format!("/jobs/{id}")).await.json();
        if status["status"] == "failed" || started.elapsed() > std::time::Duration::from_secs(30) {
            break status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(status["status"], "failed", "{status}");
    assert!(
        status["message"].as_str().unwrap().contains("the job"),
        "{status}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// Hole 8: a data folder the server (or `hysope ingest`) creates is its owner's
/// only.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_data_folder_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new").join("data");
    let (_app, _state) = app(&data).await;
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{mode:o}");
    let other = dir.path().join("by-ingest");
    hysope_server::create_data_dir(&other).unwrap();
    assert_eq!(
        std::fs::metadata(&other).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

/// A synchronous execution whose client goes away leaves no count behind: the
/// bound of waiting jobs does not fill up with executions nobody waits for.
#[tokio::test(flavor = "multi_thread")]
async fn an_abandoned_synchronous_execution_frees_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.max_waiting = 1;
    let (app, _state, _) = common::app_with(config).await;
    let abandoned = {
        let app = app.clone();
        tokio::spawn(async move {
            call(
                &app,
                "POST",
                "/processes/sleep/execution",
                &[("content-type", "application/json")],
                r#"{"inputs":{"seconds":30}}"#,
            )
            .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    abandoned.abort();
    let _ = abandoned.await;
    let reply = execute(&app, "echo", json!({"stringInput": "next"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// A server whose plugin search path also holds the test guests (`toolbox.wasm`).
async fn app_with_guests(data: &std::path::Path) -> axum::Router {
    let mut config = common::config(data);
    let mut settings = hysope_engine::EngineSettings::from_env();
    settings
        .plugin_path
        .push(hysope_test_components::component_dir());
    config.engine = hysope_engine::Engine::open(settings).unwrap();
    common::app_with(config).await.0
}

/// Hole 3: what a tool or an expression says it produced stays in its output
/// folder. A `cwl.output.json`, an `outputEval` or an ExpressionTool naming a host
/// file, and a glob reaching out with `..`, fail the job without the file read; a
/// deployed document's File defaults name no place (absolute, `../` or relative:
/// the folder they were resolved against is gone after the deploy).
#[tokio::test(flavor = "multi_thread")]
async fn outputs_and_defaults_name_no_host_file() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_guests(dir.path()).await;
    let yaml = [("content-type", "application/cwl+yaml")];
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "the host's secret").unwrap();
    let secret = secret.display().to_string();
    let tool = |id: &str, command: &str, outputs: &str| {
        format!(
            r#"cwlVersion: v1.2
class: CommandLineTool
id: {id}
$namespaces: {{hysope: "https://hysope.dev/cwl#"}}
requirements:
  hysope:WasmRequirement: {{component: toolbox.wasm}}
  InlineJavascriptRequirement: {{}}
baseCommand: toolbox
arguments: {command}
inputs: {{}}
outputs:
{outputs}
"#
        )
    };
    let custom = serde_json::to_string(
        &json!({"out": {"class": "File", "location": format!("file://{secret}")}}).to_string(),
    )
    .unwrap();
    let cases = [
        tool(
            "custom-json",
            &format!("[write, \"$(runtime.outdir)/cwl.output.json\", {custom}]"),
            "  out: File",
        ),
        tool(
            "output-eval",
            "[write, \"$(runtime.outdir)/made.txt\", made]",
            &format!(
                "  out:\n    type: File\n    outputBinding:\n      glob: made.txt\n      outputEval: '$({{\"class\": \"File\", \"location\": \"{secret}\"}})'"
            ),
        ),
        tool(
            "glob-up",
            "[write, \"$(runtime.outdir)/made.txt\", made]",
            &format!(
                "  out:\n    type: File\n    outputBinding:\n      glob: '../../../../../../../..{secret}'"
            ),
        ),
        format!(
            r#"cwlVersion: v1.2
class: ExpressionTool
id: expression
requirements: {{InlineJavascriptRequirement: {{}}}}
inputs: {{}}
outputs: {{out: File}}
expression: '$({{"out": {{"class": "File", "location": "{secret}"}}}})'
"#
        ),
    ];
    for doc in &cases {
        let deployed = call(&app, "POST", "/processes", &yaml, doc).await;
        assert_eq!(
            deployed.status,
            StatusCode::CREATED,
            "{doc}: {}",
            deployed.text
        );
        let id = deployed.json()["id"].as_str().unwrap().to_string();
        let reply = execute(&app, &id, json!({})).await;
        assert!(
            reply.status.is_server_error() || reply.status.is_client_error(),
            "{id}: {} {}",
            reply.status,
            reply.text
        );
        assert!(
            !reply.text.contains("the host's secret"),
            "{id}: {}",
            reply.text
        );
        let shown = reply.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            shown.contains("neither in the tool's output folder")
                || shown.contains("outside the output directory")
                || shown.contains("no File"),
            "{id}: {shown}"
        );
    }
    // A link the tool cannot make, put in its folder by another: the glob follows
    // it only inside the folder (the check compares resolved paths).
    for default in [
        format!("{{class: File, location: \"{secret}\"}}"),
        "{class: File, location: \"../../../../etc/passwd\"}".to_string(),
        "{class: File, location: data.csv}".to_string(),
        "{class: File, path: /etc/passwd}".to_string(),
        "{class: Directory, location: /}".to_string(),
        "{class: File, location: \"http://169.254.169.254/latest/meta-data\"}".to_string(),
    ] {
        let doc = format!(
            r#"cwlVersion: v1.2
class: CommandLineTool
id: with-default
$namespaces: {{hysope: "https://hysope.dev/cwl#"}}
requirements:
  hysope:WasmRequirement: {{component: toolbox.wasm}}
baseCommand: [toolbox, cat]
inputs:
  f: {{type: File, default: {default}, inputBinding: {{position: 1}}}}
outputs:
  out: stdout
"#
        );
        let reply = call(&app, "POST", "/processes", &yaml, &doc).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{default}: {}",
            reply.text
        );
        assert!(
            reply.text.contains("names a place"),
            "{default}: {}",
            reply.text
        );
    }
    // A literal default is fine.
    let doc = r#"cwlVersion: v1.2
class: CommandLineTool
id: literal-default
$namespaces: {hysope: "https://hysope.dev/cwl#"}
requirements:
  hysope:WasmRequirement: {component: toolbox.wasm}
baseCommand: [toolbox, cat]
inputs:
  f: {type: File, default: {class: File, basename: a.txt, contents: "literal"}, inputBinding: {position: 1}}
outputs:
  out: stdout
"#;
    let reply = call(&app, "POST", "/processes", &yaml, doc).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let reply = call(
        &app,
        "POST",
        "/processes/literal-default/execution",
        &[("content-type", "application/json")],
        r#"{"inputs": {}, "outputs": {"out": {"transmissionMode": "value"}}, "response": "raw"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.text, "literal");
}

/// Hole 8: the server says whether it can take work (`/ready`, anonymous, for
/// probes); a store whose disk fails is reported there with its reason (the store
/// side is `hysope_store`'s `a_full_disk_is_reported_as_a_fault`). Result files are
/// streamed with their length.
#[tokio::test(flavor = "multi_thread")]
async fn readiness_is_reported_and_results_are_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _state) = app(dir.path()).await;
    let r = call(&app, "GET", "/ready", &[("x-test-anonymous", "1")], "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["ready"], true);
    let reply = execute(&app, "echo", json!({"stringInput": "streamed"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let href = reply.json()["echo"]["href"].as_str().unwrap().to_string();
    let path = href.trim_start_matches("http://test.local");
    let file = get(&app, path).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(
        file.headers["content-length"].to_str().unwrap(),
        file.text.len().to_string()
    );
    assert!(file.text.contains("streamed"));
}

/// Issue 24 (HYDRA): `/livez` and `/readyz` answer anyone, a bad token too, in
/// Kubernetes' text form, list their checks with `verbose`, leave one out with
/// `exclude`, refuse what they do not take, and are not counted as requests.
/// `/metrics` gains the families of the issue.
#[tokio::test(flavor = "multi_thread")]
async fn probes_answer_anyone_and_the_metrics_tell_readiness_slots_ingestion_and_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = app(dir.path()).await;
    let bad = [("authorization", "Bearer not-a-token")];
    let live = call(&app, "GET", "/livez", &bad, "").await;
    assert_eq!((live.status, live.text.as_str()), (StatusCode::OK, "ok\n"));
    assert_eq!(
        live.headers["content-type"].to_str().unwrap(),
        "text/plain; charset=utf-8"
    );
    let live = call(&app, "GET", "/livez?verbose", &bad, "").await;
    assert_eq!(live.text, "[+]ping ok\nlivez check passed\n");
    let ready = call(&app, "GET", "/readyz", &bad, "").await;
    assert_eq!(
        (ready.status, ready.text.as_str()),
        (StatusCode::OK, "ok\n")
    );
    let ready = get(&app, "/readyz?verbose=1&exclude=queue").await;
    assert_eq!(
        ready.text,
        "[+]store ok\n[+]catalog ok\n[+]queue excluded: ok\n[+]workers ok\nreadyz check passed\n"
    );
    let wrong = get(&app, "/readyz?exclude=disk").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.text);
    assert!(
        wrong.text.contains("no check \\\"disk\\\"")
            && wrong.text.contains("store, catalog, queue, workers"),
        "{}",
        wrong.text
    );
    let wrong = get(&app, "/livez?deep=1").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.text);

    // An ingestion through the server: its files and bytes by outcome.
    let token = format!("Bearer {}", state.local_secret());
    let body = json!({"paths": [root().join("../shared/data/usgs")]}).to_string();
    let auth = [("authorization", token.as_str())];
    let r = call(&app, "POST", "/stac/ingest", &auth, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let bytes = r.json()["bytes"].as_u64().unwrap();
    let r = call(&app, "POST", "/stac/ingest", &auth, &body).await;
    assert_eq!(r.json()["unchanged"], 3, "{}", r.text);
    let echo = execute(&app, "echo", json!({"stringInput": "counted"})).await;
    assert_eq!(echo.status, StatusCode::OK, "{}", echo.text);

    let metrics = get(&app, "/metrics").await.text;
    let has = |line: &str| assert!(metrics.contains(line), "{line} not in\n{metrics}");
    has(&format!(
        "hysope_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    ));
    for check in ["store", "catalog", "queue", "workers"] {
        has(&format!("hysope_ready{{check=\"{check}\"}} 1"));
    }
    has("hysope_worker_slots{state=\"busy\"} 0");
    has("hysope_worker_slots{state=\"free\"}");
    has("hysope_ingest_files_total{outcome=\"new\"} 3");
    has("hysope_ingest_files_total{outcome=\"unchanged\"} 3");
    has(&format!(
        "hysope_ingest_bytes_total{{outcome=\"new\"}} {bytes}"
    ));
    has(&format!(
        "hysope_ingest_bytes_total{{outcome=\"unchanged\"}} {bytes}"
    ));
    has("hysope_catalog_items{collection=\"USGS_NWIS_");
    has("hysope_store_commit_duration_seconds_count{durability=\"durable\"}");
    has("hysope_component_loads_total{source=\"");
    for family in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_threads",
        "process_start_time_seconds",
    ] {
        has(&format!("\n{family} "));
    }
    // Probes are not requests of the API.
    assert!(!metrics.contains("route=\"/livez\""), "{metrics}");
    assert!(!metrics.contains("route=\"/readyz\""), "{metrics}");
    has("route=\"/stac/ingest\"");
}
