//! Inputs by reference over the network: an `http://` href (a result file of an
//! earlier job, served by the gateway itself on a real socket) and an `s3://` href
//! (an object in moto's S3 server, started here on loopback). Both are fetched
//! before the job runs; a missing object fails the job with the URL in its reason.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use hysope_server::{Config, api};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn root() -> std::path::PathBuf {
    hysope_test_components::workspace_root()
}

/// One HTTP/1.1 request over a fresh connection; returns (status, body).
async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).await.unwrap();
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(reply.len());
    let status = String::from_utf8_lossy(&reply[..split])
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, reply[(split + 4).min(reply.len())..].to_vec())
}

/// An object read with a signed request (the AWS_* variables), if it exists.
async fn s3_get(bucket: &str, key: &str) -> Option<Vec<u8>> {
    use object_store::ObjectStore;
    let store = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()
        .unwrap();
    match store
        .get(&object_store::path::Path::parse(key).unwrap())
        .await
    {
        Ok(r) => Some(r.bytes().await.unwrap().to_vec()),
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => panic!("S3 get {bucket}/{key}: {e}"),
    }
}

/// Serves `state` on a free loopback port (as the local operator); its address.
async fn serve(state: std::sync::Arc<hysope_server::State>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        axum::serve(
            listener,
            common::as_operator(api::router(state.clone()), &state),
        )
        .await
        .unwrap()
    });
    addr
}

fn config(data: &Path, results: Option<&str>) -> Config {
    let engine = hysope_engine::Engine::open(hysope_engine::EngineSettings::from_env()).unwrap();
    Config {
        process_dirs: vec![root().join("plugins")],
        results_url: results.map(str::to_string),
        // The gateway itself and moto, on loopback; moto's bucket of SWOT files.
        egress: hysope_jobs::egress::EgressPolicy {
            allowed: vec!["127.0.0.1".into()],
            buckets: vec!["swot".into()],
            ..Default::default()
        },
        ..Config::new(data, engine)
    }
}

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_final(addr: &str, id: &str) -> Value {
    for _ in 0..600 {
        let (_, body) = http(addr, "GET", &format!("/jobs/{id}"), &[], b"").await;
        let s: Value = serde_json::from_slice(&body).unwrap();
        if ["successful", "failed", "dismissed"].contains(&s["status"].as_str().unwrap()) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_and_s3_hrefs_are_fetched_before_the_run() {
    // moto's S3 server on a free loopback port; the S3 client reads AWS_* (set
    // before any job runs; this binary holds this one test).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let moto = Moto(
        Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (pip install 'moto[server]'; tests/install-tools.sh)"),
    );
    let s3 = format!("127.0.0.1:{port}");
    // SAFETY: set before the server starts any thread that reads the environment.
    unsafe {
        std::env::set_var("AWS_ENDPOINT", format!("http://{s3}"));
        std::env::set_var("AWS_ALLOW_HTTP", "true");
        std::env::set_var("AWS_ACCESS_KEY_ID", "hysope");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "hysope-secret");
        std::env::set_var("AWS_DEFAULT_REGION", "us-east-1");
    }
    let mut ready = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&s3).await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "moto_server did not start");
    assert_eq!(
        http(&s3, "PUT", "/swot", &[], b"").await.0,
        200,
        "create bucket"
    );
    let reach = hysope_test_components::reach_zip();
    let bytes = std::fs::read(&reach).unwrap();
    let key = reach.file_name().unwrap().to_str().unwrap().to_string();
    assert_eq!(
        http(&s3, "PUT", &format!("/swot/{key}"), &[], &bytes)
            .await
            .0,
        200,
        "put object"
    );

    // The gateway on a real socket.
    let dir = tempfile::tempdir().unwrap();
    let first = config(dir.path(), None);
    let (state, _) = hysope_server::start(first).await.unwrap();

    // The catalogue ingests an S3 prefix: one item per object, its asset the s3:// URL;
    // again, nothing changes; a truncated object is skipped with its URL.
    let report =
        hysope_server::fetch::ingest_s3(state.catalog().clone(), "s3://swot/", |_, _, _| {})
            .await
            .unwrap();
    assert_eq!(
        (report.stored(), report.skipped()),
        (1, 0),
        "{:?}",
        report.files
    );
    let stem = key.trim_end_matches(".zip");
    let item = state
        .catalog()
        .item("SWOT_L2_HR_RiverSP_Reach", stem)
        .unwrap()
        .expect("the S3 object's item");
    // The item links to the server's download route; the object is its source.
    assert_eq!(
        item["assets"]["data"]["href"],
        format!("/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/{stem}/assets/data")
    );
    assert_eq!(
        state
            .catalog()
            .asset_source("SWOT_L2_HR_RiverSP_Reach", stem, "data")
            .unwrap(),
        Some(format!("s3://swot/{key}"))
    );
    assert_eq!(item["assets"]["data"]["file:size"], bytes.len());
    let again =
        hysope_server::fetch::ingest_s3(state.catalog().clone(), "s3://swot/", |_, _, _| {})
            .await
            .unwrap();
    assert_eq!(again.unchanged(), 1);
    let cut_key =
        "cut/SWOT_L2_HR_RiverSP_Reach_001_001_NA_20250101T000000_20250101T000100_PID0_01.zip";
    assert_eq!(
        http(
            &s3,
            "PUT",
            &format!("/swot/{cut_key}"),
            &[],
            &bytes[..bytes.len() / 3]
        )
        .await
        .0,
        200
    );
    let cut =
        hysope_server::fetch::ingest_s3(state.catalog().clone(), "s3://swot/cut/", |_, _, _| {})
            .await
            .unwrap();
    assert_eq!(cut.skipped(), 1, "{:?}", cut.files);
    let hysope_catalog::ingest::Outcome::Skipped(why) = &cut.files[0].1 else {
        unreachable!()
    };
    assert!(why.contains("SWOT_L2_HR_RiverSP_Reach_001_001"), "{why}");
    let addr = serve(state).await;

    // s3:// input.
    let body =
        json!({"inputs": {"product": {"href": format!("s3://swot/{key}")}, "max_reach_q": 1}});
    let (status, reply) = http(
        &addr,
        "POST",
        "/processes/swot-river-filter/execution",
        &[],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    let results: Value = serde_json::from_slice(&reply).unwrap();
    let summary_path = results["summary"]["href"]
        .as_str()
        .unwrap()
        .split_once(&addr)
        .unwrap()
        .1
        .to_string();
    let summary: Value =
        serde_json::from_slice(&http(&addr, "GET", &summary_path, &[], b"").await.1).unwrap();
    assert!(summary["kept"].as_u64().unwrap() > 0, "{summary}");

    // http:// input: the summary file of that job, copied by echo.
    let href = results["summary"]["href"].as_str().unwrap();
    let body = json!({"inputs": {"fileInput": {"href": href}}, "mode": "async"});
    let (status, reply) = http(
        &addr,
        "POST",
        "/processes/echo/execution",
        &["Prefer: respond-async"],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&reply));
    let id = serde_json::from_slice::<Value>(&reply).unwrap()["jobID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(wait_final(&addr, &id).await["status"], "successful");
    let (_, reply) = http(&addr, "GET", &format!("/jobs/{id}/results"), &[], b"").await;
    let results: Value = serde_json::from_slice(&reply).unwrap();
    let copy = results["files"][0]["href"]
        .as_str()
        .unwrap()
        .split_once(&addr)
        .unwrap()
        .1
        .to_string();
    let copied: Value =
        serde_json::from_slice(&http(&addr, "GET", &copy, &[], b"").await.1).unwrap();
    assert_eq!(copied, summary);

    // A missing object: the job fails, and says which input and URL.
    let body = json!({"inputs": {"product": {"href": "s3://swot/missing.zip"}}});
    let (status, reply) = http(
        &addr,
        "POST",
        "/processes/swot-river-filter/execution",
        &[],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&reply));
    let e: Value = serde_json::from_slice(&reply).unwrap();
    let detail = e["detail"].as_str().unwrap();
    assert!(
        detail.contains("product") && detail.contains("s3://swot/missing.zip"),
        "{detail}"
    );

    // Results in S3: a second gateway whose result store is a bucket.
    assert_eq!(
        http(&s3, "PUT", "/results", &[], b"").await.0,
        200,
        "create bucket"
    );
    let dir2 = tempfile::tempdir().unwrap();
    let second = config(dir2.path(), Some("s3://results/hysope"));
    let (state, _) = hysope_server::start(second).await.unwrap();
    let addr2 = serve(state).await;
    let (status, reply) = http(
        &addr2,
        "POST",
        "/processes/echo/execution",
        &[],
        br#"{"inputs":{"stringInput":"to S3"}}"#,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    let results: Value = serde_json::from_slice(&reply).unwrap();
    let href = results["echo"]["href"].as_str().unwrap();
    let id = href
        .split("/jobs/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    // In the bucket (under its first attempt's name), not on the gateway's disk;
    // served by the gateway from S3.
    let object = s3_get("results", &format!("hysope/{id}/1/echo.json"))
        .await
        .expect("object in S3");
    assert_eq!(
        serde_json::from_slice::<Value>(&object).unwrap()["stringInput"],
        "to S3"
    );
    assert!(!dir2.path().join("results").join(&id).exists());
    let served = http(&addr2, "GET", href.split_once(&addr2).unwrap().1, &[], b"").await;
    assert_eq!(served, (200, object));
    // Dismissing the job removes its objects.
    assert_eq!(
        http(&addr2, "DELETE", &format!("/jobs/{id}"), &[], b"")
            .await
            .0,
        200
    );
    assert!(
        s3_get("results", &format!("hysope/{id}/1/echo.json"))
            .await
            .is_none()
    );

    // The plugin registry's blobs in S3 (`--registry-blobs s3://BUCKET/PREFIX`):
    // the bundled plugins published there, pulled back through /v2/.
    let dir3 = tempfile::tempdir().unwrap();
    let mut third = config(dir3.path(), None);
    third.registry_url = Some("s3://results/registry".into());
    let (state3, _) = hysope_server::start(third).await.unwrap();
    let published = hysope_server::publish_bundled(&state3).await.unwrap();
    assert!(
        published.iter().any(|r| r.starts_with("hysope/echo@")),
        "{published:?}"
    );
    let echo = std::fs::read(hysope_test_components::component("echo")).unwrap();
    let hex = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&echo))
    };
    let object = s3_get("results", &format!("registry/blobs/sha256/{hex}"))
        .await
        .expect("the component's blob in S3");
    assert_eq!(object, echo);
    assert!(
        !dir3
            .path()
            .join("registry/blobs/sha256")
            .join(&hex)
            .exists()
    );
    let addr3 = serve(state3).await;
    let pulled = http(
        &addr3,
        "GET",
        &format!("/v2/hysope/echo/blobs/sha256:{hex}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(pulled, (200, echo));
    drop(moto);
}
