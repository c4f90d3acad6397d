//! The HPC backend end to end, on the real one-node Slurm cluster that
//! `deploy/slurm/one-node.sh` starts (tests/install-tools.sh runs it with
//! `MIN_JOB_AGE=10`), with bubblewrap images made from busybox-static
//! (`tests/hpc/busybox-image.sh`): `hysope cwl-runner --backend hpc` and
//! `hysope serve --backend hpc` as users run them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{make_token, request, serve};
use serde_json::{Value, json};

/// The tests share one small cluster: they run one at a time, so that one's
/// jobs never wait for another's cores.
static CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The cluster to this test alone, with no job left by an earlier one and its
/// node up.
fn cluster() -> std::sync::MutexGuard<'static, ()> {
    let guard = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    cancel_all();
    node_up();
    guard
}

/// Puts the node back in service if a test left it down.
fn node_up() {
    let out = Command::new("sinfo")
        .args(["-h", "-o", "%t"])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&out.stdout).contains("down") {
        let _ = Command::new("scontrol")
            .args(["update", "nodename=localhost", "state=resume"])
            .output();
    }
}

/// Cancels every Slurm job of these tests (named `hysope-...`) still there.
fn cancel_all() {
    let ids: Vec<String> = squeue_ids_named("hysope-")
        .iter()
        .filter(|l| l.ends_with("RUNNING") || l.ends_with("PENDING"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    if !ids.is_empty() {
        let _ = Command::new("scancel").args(&ids).output();
    }
}

/// A server killed when the test ends, passed or not.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking() {
            cancel_all();
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A busybox root filesystem in `images` under the cache name of `busybox`.
fn busybox(images: &Path) {
    let out = Command::new("sh")
        .arg(root().join("tests/hpc/busybox-image.sh"))
        .arg(images.join("busybox_latest"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

fn write(path: &Path, value: &Value) -> PathBuf {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path.to_path_buf()
}

/// `hysope cwl-runner --backend hpc` with `args` before the document and job.
fn cwl_runner(dir: &Path, args: &[&str], document: &Path, job: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hysope"))
        .arg("cwl-runner")
        .arg("--backend")
        .arg("hpc")
        .args(args)
        .arg("--outdir")
        .arg(dir.join("out"))
        .arg(document)
        .arg(job)
        .env(
            "HYSOPE_PLUGIN_PATH",
            hysope_test_components::component_dir(),
        )
        .output()
        .unwrap()
}

/// The numbers of `hysope: Slurm calls: sbatch N, squeue N, ...`.
fn calls(out: &Output, command: &str) -> u64 {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("hysope: Slurm calls:"))
        .unwrap_or_else(|| panic!("no Slurm calls line in {stderr}"));
    line.split(", ")
        .find_map(|part| {
            let part = part.trim_start_matches("hysope: Slurm calls: ");
            part.strip_prefix(command)
                .map(|n| n.trim().parse().unwrap())
        })
        .unwrap()
}

fn squeue_ids_named(prefix: &str) -> Vec<String> {
    let out = Command::new("squeue")
        .args(["-h", "-t", "all", "-o", "%i %j %T"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|n| n.starts_with(prefix))
        })
        .map(str::to_string)
        .collect()
}

/// A container step scattered 50 ways, then a wasm plugin step reading one of
/// its outputs: the scatter is one job array (one sbatch), the plugin runs in
/// the allocation, every element wrote its own file.
#[test]
fn a_workflow_mixes_container_and_wasm_steps_and_a_scatter_is_one_array() {
    let _cluster = cluster();
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    busybox(&images);
    let tool = write(
        &dir.path().join("count.cwl"),
        &json!({
            "cwlVersion": "v1.2", "class": "CommandLineTool",
            "requirements": {"DockerRequirement": {"dockerPull": "busybox"}},
            "baseCommand": ["sh", "-c"],
            "arguments": ["echo pass $(inputs.n) > pass.txt; test -z \"$HOSTNAME_LEAK\""],
            "inputs": {"n": "int"},
            "outputs": {"pass": {"type": "File", "outputBinding": {"glob": "pass.txt"}}}
        }),
    );
    let echo = root().join("plugins/echo/echo.cwl");
    let workflow = write(
        &dir.path().join("wf.cwl"),
        &json!({
            "cwlVersion": "v1.2", "class": "Workflow",
            "requirements": {"ScatterFeatureRequirement": {}, "StepInputExpressionRequirement": {}},
            "inputs": {"passes": "int[]"},
            "outputs": {
                "files": {"type": "File[]", "outputSource": "count/pass"},
                "echo": {"type": "File", "outputSource": "echo/echo"}
            },
            "steps": {
                "count": {"run": tool, "scatter": "n", "in": {"n": "passes"}, "out": ["pass"]},
                "echo": {
                    "run": echo,
                    "in": {"fileInput": {"source": "count/pass", "valueFrom": "$(self[49])"}},
                    "out": ["echo"]
                }
            }
        }),
    );
    let job = write(
        &dir.path().join("job.json"),
        &json!({"passes": (1..=50).collect::<Vec<_>>()}),
    );
    let out = cwl_runner(
        dir.path(),
        &[
            "--container-runtime",
            "bwrap",
            "--image-cache",
            images.to_str().unwrap(),
        ],
        &workflow,
        &job,
    );
    assert!(out.status.success(), "{}", text(&out));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = output["files"].as_array().unwrap();
    assert_eq!(files.len(), 50);
    for (i, file) in files.iter().enumerate() {
        let content = std::fs::read_to_string(file["path"].as_str().unwrap()).unwrap();
        assert_eq!(content, format!("pass {}\n", i + 1));
    }
    let echoed = std::fs::read_to_string(output["echo"]["path"].as_str().unwrap()).unwrap();
    assert!(echoed.contains("pass"), "{echoed}");
    // One array for the 50 elements, one job for the plugin step.
    assert_eq!(calls(&out, "sbatch"), 2, "{}", text(&out));
    // The run's folder is gone with the run.
    let work = dir.path().join("hysope-hpc-work");
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
}

/// Twenty steps on an image the cache does not have: it is pulled once (the
/// site's pull command, here one that makes a busybox root filesystem), and the
/// twenty run as one array.
#[test]
fn twenty_concurrent_steps_on_one_image_pull_it_once() {
    let _cluster = cluster();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("pulls.log");
    let config = dir.path().join("hpc.toml");
    let pull = json!([
        "sh",
        "-c",
        format!(
            "echo \"$1\" >> {}; sh {} \"$0\"",
            log.display(),
            root().join("tests/hpc/busybox-image.sh").display()
        ),
        "{dest}",
        "{image}"
    ]);
    std::fs::write(
        &config,
        format!(
            "[containers]\nruntime = \"bwrap\"\nimage_cache = \"{}\"\npull = {pull}\n",
            dir.path().join("images").display()
        ),
    )
    .unwrap();
    let tool = write(
        &dir.path().join("tool.cwl"),
        &json!({
            "cwlVersion": "v1.2", "class": "CommandLineTool",
            "hints": {"DockerRequirement": {"dockerPull": "example.org/swot/busybox:1.36"}},
            "baseCommand": ["sh", "-c", "echo $0 > n.txt"],
            "inputs": {"n": {"type": "int", "inputBinding": {"position": 1}}},
            "outputs": {"n": {"type": "File", "outputBinding": {"glob": "n.txt"}}}
        }),
    );
    let workflow = write(
        &dir.path().join("wf.cwl"),
        &json!({
            "cwlVersion": "v1.2", "class": "Workflow",
            "requirements": {"ScatterFeatureRequirement": {}},
            "inputs": {"ns": "int[]"},
            "outputs": {"ns": {"type": "File[]", "outputSource": "s/n"}},
            "steps": {"s": {"run": tool, "scatter": "n", "in": {"n": "ns"}, "out": ["n"]}}
        }),
    );
    let job = write(
        &dir.path().join("job.json"),
        &json!({"ns": (0..20).collect::<Vec<_>>()}),
    );
    let out = cwl_runner(
        dir.path(),
        &["--hpc-config", config.to_str().unwrap()],
        &workflow,
        &job,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "example.org/swot/busybox:1.36\n"
    );
    assert!(
        dir.path()
            .join("images/example.org_swot_busybox_1.36/bin/sh")
            .exists()
    );
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output["ns"].as_array().unwrap().len(), 20);
    assert_eq!(calls(&out, "sbatch"), 1, "{}", text(&out));
}

/// Steps whose node fails under them (an administrator sets it down: their
/// workers end NODE_FAIL) run again, each once, when the node is back.
#[test]
fn steps_failed_by_their_node_run_again() {
    let _cluster = cluster();
    let dir = tempfile::tempdir().unwrap();
    let tool = write(
        &dir.path().join("t.cwl"),
        &json!({
            "cwlVersion": "v1.2", "class": "CommandLineTool",
            "baseCommand": ["sh", "-c", "sleep 6; echo done $0 > out.txt"],
            "inputs": {"n": {"type": "int", "inputBinding": {"position": 1}}},
            "outputs": {"out": {"type": "File", "outputBinding": {"glob": "out.txt"}}}
        }),
    );
    let workflow = write(
        &dir.path().join("wf.cwl"),
        &json!({
            "cwlVersion": "v1.2", "class": "Workflow",
            "requirements": {"ScatterFeatureRequirement": {}},
            "inputs": {"ns": "int[]"},
            "outputs": {"outs": {"type": "File[]", "outputSource": "s/out"}},
            "steps": {"s": {"run": tool, "scatter": "n", "in": {"n": "ns"}, "out": ["out"]}}
        }),
    );
    let job = write(&dir.path().join("job.json"), &json!({"ns": [1, 2]}));
    let child = Command::new(env!("CARGO_BIN_EXE_hysope"))
        .args(["cwl-runner", "--backend", "hpc", "--outdir"])
        .arg(dir.path().join("out"))
        .arg(&workflow)
        .arg(&job)
        .env("HYSOPE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("both steps running", Duration::from_secs(30), || {
        squeue_ids_named("hysope-run-")
            .iter()
            .filter(|l| l.ends_with("RUNNING"))
            .count()
            == 2
    });
    let down = Command::new("scontrol")
        .args([
            "update",
            "nodename=localhost",
            "state=down",
            "reason=hysope-test",
        ])
        .output()
        .unwrap();
    assert!(down.status.success(), "{}", text(&down));
    wait_for("the workers NODE_FAIL", Duration::from_secs(30), || {
        squeue_ids_named("hysope-run-")
            .iter()
            .filter(|l| l.ends_with("NODE_FAIL"))
            .count()
            == 2
    });
    node_up();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (i, file) in output["outs"].as_array().unwrap().iter().enumerate() {
        let content = std::fs::read_to_string(file["path"].as_str().unwrap()).unwrap();
        assert_eq!(content, format!("done {}\n", i + 1));
    }
    assert_eq!(
        text(&out).matches("queued again").count(),
        2,
        "{}",
        text(&out)
    );
    assert_eq!(calls(&out, "sbatch"), 2, "{}", text(&out));
}

/// A step's exit code, a tool time limit, a request Slurm can never run.
#[test]
fn failures_say_what_ended_the_step() {
    let _cluster = cluster();
    let dir = tempfile::tempdir().unwrap();
    let tool = |name: &str, extra: Value, script: &str| {
        let mut doc = json!({
            "cwlVersion": "v1.2", "class": "CommandLineTool",
            "baseCommand": ["sh", "-c", script],
            "inputs": {}, "outputs": {}
        });
        for (k, v) in extra.as_object().unwrap() {
            doc[k] = v.clone();
        }
        write(&dir.path().join(name), &doc)
    };
    let job = write(&dir.path().join("job.json"), &json!({}));

    let exits = tool("exits.cwl", json!({}), "echo failing >&2; exit 3");
    let out = cwl_runner(dir.path(), &[], &exits, &job);
    assert!(!out.status.success());
    assert!(text(&out).contains("exited with code 3"), "{}", text(&out));
    assert!(text(&out).contains("failing"), "{}", text(&out));

    let slow = tool(
        "slow.cwl",
        json!({"requirements": {"ToolTimeLimit": {"timelimit": 2}}}),
        "sleep 30",
    );
    let started = Instant::now();
    let out = cwl_runner(dir.path(), &[], &slow, &job);
    assert!(!out.status.success());
    assert!(text(&out).contains("deadline of 2s"), "{}", text(&out));
    assert!(started.elapsed() < Duration::from_secs(25));

    let cores = std::thread::available_parallelism().unwrap().get() + 1;
    let big = tool(
        "big.cwl",
        json!({"requirements": {"ResourceRequirement": {"coresMin": cores}}}),
        "true",
    );
    let started = Instant::now();
    let out = cwl_runner(dir.path(), &[], &big, &job);
    assert!(!out.status.success());
    assert!(text(&out).contains("PartitionConfig"), "{}", text(&out));
    assert!(started.elapsed() < Duration::from_secs(30));
    // Cancelled before the run ended: nothing left pending forever.
    let pending: Vec<String> = squeue_ids_named("hysope-")
        .into_iter()
        .filter(|l| l.ends_with("PENDING"))
        .collect();
    assert!(pending.is_empty(), "{pending:?}");
}

/// Slurm's own time limit (`--time=1`, from the site's extra arguments) ends
/// the job as TIMEOUT, and the step fails with that state.
#[test]
fn a_slurm_timeout_fails_the_step_with_its_state() {
    let _cluster = cluster();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hpc.toml");
    std::fs::write(&config, "extra = [\"--time=1\"]\npoll_max_s = 5\n").unwrap();
    let tool = write(
        &dir.path().join("long.cwl"),
        &json!({
            "cwlVersion": "v1.2", "class": "CommandLineTool",
            "baseCommand": ["sleep", "600"], "inputs": {}, "outputs": {}
        }),
    );
    let job = write(&dir.path().join("job.json"), &json!({}));
    let out = cwl_runner(
        dir.path(),
        &["--hpc-config", config.to_str().unwrap()],
        &tool,
        &job,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("TIMEOUT"), "{}", text(&out));
}

fn execute(addr: &str, token: &str, process: &str, inputs: Value) -> String {
    let (status, body) = request(
        addr,
        "POST",
        &format!("/processes/{process}/execution"),
        &[
            &format!("Authorization: Bearer {token}"),
            "Content-Type: application/json",
            "Prefer: respond-async",
        ],
        &json!({"inputs": inputs}).to_string(),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let job: Value = serde_json::from_str(&body).unwrap();
    job["jobID"].as_str().unwrap().to_string()
}

fn status(addr: &str, token: &str, id: &str) -> Value {
    let (_, body) = request(
        addr,
        "GET",
        &format!("/jobs/{id}"),
        &[&format!("Authorization: Bearer {token}")],
        "",
    )
    .unwrap();
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A server on the HPC backend with a container runtime: an application
/// package with a `DockerRequirement` deploys and runs; dismissing a pending and
/// a running job cancels their Slurm jobs; a server killed with -9 while its jobs
/// run re-attaches them when it starts again (no second submission), settles one
/// that finished and left squeue meanwhile from its exit-code file, and fails one
/// cancelled behind its back as lost.
#[test]
fn a_server_deploys_containers_dismisses_and_reattaches_after_kill_9() {
    let _cluster = cluster();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let images = dir.path().join("images");
    busybox(&images);
    let config = dir.path().join("hpc.toml");
    std::fs::write(&config, "lost_grace_s = 3\npoll_max_s = 3\n").unwrap();
    let token = make_token(&data, "dora", "developer");
    let args = [
        "--backend",
        "hpc",
        "--hpc-config",
        config.to_str().unwrap(),
        "--container-runtime",
        "bwrap",
        "--image-cache",
        images.to_str().unwrap(),
    ];
    let (server, addr, _) = serve(&data, &args);
    let mut server = Server(server);
    let cores = std::thread::available_parallelism().unwrap().get();
    let package = json!({
        "cwlVersion": "v1.2", "class": "CommandLineTool", "id": "sleeper",
        "requirements": {
            "DockerRequirement": {"dockerPull": "busybox"},
            "ResourceRequirement": {"coresMin": "$(inputs.cores)"}
        },
        "baseCommand": ["sh", "-c"],
        "arguments": ["sleep $(inputs.seconds); echo slept $(inputs.seconds) > slept.txt"],
        "inputs": {"seconds": "int", "cores": {"type": "int", "default": 1}},
        "outputs": {"slept": {"type": "File", "outputBinding": {"glob": "slept.txt"}}}
    });
    let (code, body) = request(
        &addr,
        "POST",
        "/processes",
        &[
            &format!("Authorization: Bearer {token}"),
            "Content-Type: application/cwl+json",
        ],
        &package.to_string(),
    )
    .unwrap();
    assert_eq!(code, 201, "{body}");
    // An image the server does not have is refused at deploy, saying why.
    let mut missing = package.clone();
    missing["id"] = json!("missing");
    missing["requirements"]["DockerRequirement"]["dockerPull"] = json!("alpine:3");
    let (code, body) = request(
        &addr,
        "POST",
        "/processes",
        &[
            &format!("Authorization: Bearer {token}"),
            "Content-Type: application/cwl+json",
        ],
        &missing.to_string(),
    )
    .unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("not in the image cache"), "{body}");

    // Dismissal: one job takes every core, the next pends behind it.
    let running = execute(
        &addr,
        &token,
        "sleeper",
        json!({"seconds": 300, "cores": cores}),
    );
    wait_for(
        "the first job running in Slurm",
        Duration::from_secs(30),
        || {
            squeue_ids_named(&format!("hysope-{running}"))
                .iter()
                .any(|l| l.ends_with("RUNNING"))
        },
    );
    let pending = execute(
        &addr,
        &token,
        "sleeper",
        json!({"seconds": 300, "cores": cores}),
    );
    wait_for(
        "the second job pending in Slurm",
        Duration::from_secs(30),
        || {
            squeue_ids_named(&format!("hysope-{pending}"))
                .iter()
                .any(|l| l.ends_with("PENDING"))
        },
    );
    for id in [&pending, &running] {
        let (code, body) = request(
            &addr,
            "DELETE",
            &format!("/jobs/{id}"),
            &[&format!("Authorization: Bearer {token}")],
            "",
        )
        .unwrap();
        assert_eq!(code, 200, "{body}");
        wait_for("the Slurm job cancelled", Duration::from_secs(30), || {
            squeue_ids_named(&format!("hysope-{id}"))
                .iter()
                .all(|l| l.ends_with("CANCELLED") || l.ends_with("COMPLETED"))
        });
    }

    // kill -9 while the jobs are in Slurm: two run (the node has two cores),
    // the third waits for a core.
    let reattached = execute(&addr, &token, "sleeper", json!({"seconds": 50}));
    let finished = execute(&addr, &token, "sleeper", json!({"seconds": 6}));
    let ids_of = |id: &str| squeue_ids_named(&format!("hysope-{id}"));
    wait_for("the two jobs running", Duration::from_secs(30), || {
        [&reattached, &finished]
            .iter()
            .all(|id| ids_of(id).iter().any(|l| l.ends_with("RUNNING")))
    });
    let lost = execute(&addr, &token, "sleeper", json!({"seconds": 120}));
    wait_for("the third job in Slurm", Duration::from_secs(30), || {
        !ids_of(&lost).is_empty()
    });
    let slurm_id = |id: &str| {
        ids_of(id)
            .first()
            .map(|l| l.split_whitespace().next().unwrap().to_string())
    };
    let before = slurm_id(&reattached).unwrap();
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    // While the server is down: the short job ends and leaves squeue (MinJobAge
    // 10 s); the third starts on the core it freed, and someone cancels it.
    wait_for("the third job running", Duration::from_secs(60), || {
        ids_of(&lost).iter().any(|l| l.ends_with("RUNNING"))
    });
    let out = Command::new("scancel")
        .arg(slurm_id(&lost).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    wait_for(
        "the short and the cancelled jobs gone from squeue",
        Duration::from_secs(60),
        || ids_of(&finished).is_empty() && ids_of(&lost).is_empty(),
    );
    let (server, addr, _) = serve(&data, &args);
    let _server = Server(server);
    // Re-attached, not submitted again: the same Slurm job, and no other, runs it.
    wait_for("the job running again", Duration::from_secs(30), || {
        status(&addr, &token, &reattached)["status"] == "running"
    });
    std::thread::sleep(Duration::from_secs(3));
    let now: Vec<String> = ids_of(&reattached)
        .iter()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(now, vec![before]);
    wait_for(
        "the jobs settled after the restart",
        Duration::from_secs(90),
        || {
            [&reattached, &finished, &lost].iter().all(|id| {
                matches!(
                    status(&addr, &token, id)["status"].as_str(),
                    Some("successful" | "failed")
                )
            })
        },
    );
    assert_eq!(status(&addr, &token, &reattached)["status"], "successful");
    assert_eq!(status(&addr, &token, &finished)["status"], "successful");
    let failed = status(&addr, &token, &lost);
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["message"].as_str().unwrap().contains("lost"),
        "{failed}"
    );
    for id in [&reattached, &finished] {
        let (code, body) = request(
            &addr,
            "GET",
            &format!("/jobs/{id}/results"),
            &[&format!("Authorization: Bearer {token}")],
            "",
        )
        .unwrap();
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("slept"), "{body}");
    }
}
