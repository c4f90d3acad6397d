//! The sandbox holds against hostile plugins, and the same engine keeps running
//! ordinary plugins after each attempt.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hysope_engine::Error;
use hysope_engine::wasm::{
    ArtifactOrigin, EngineConfig, Limits, LogLevel, RunEvent, RunOutcome, RunRequest, WasmEngine,
};
use hysope_test_components::component;

fn engine(cache: Option<&Path>) -> Arc<WasmEngine> {
    Arc::new(
        WasmEngine::new(EngineConfig {
            cache_dir: cache.map(Path::to_path_buf),
            ..EngineConfig::default()
        })
        .unwrap(),
    )
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

async fn hostile(
    engine: &WasmEngine,
    mode: &[&str],
    request: RunRequest,
) -> Result<RunOutcome, Error> {
    let plugin = engine.load_file(&component("hostile")).unwrap();
    engine
        .run(
            &plugin,
            RunRequest {
                args: args(mode),
                ..request
            },
        )
        .await
}

/// Runs `echo` and checks its output: the engine still works.
async fn echo_still_works(engine: &WasmEngine) {
    let out = tempfile::tempdir().unwrap();
    let plugin = engine.load_file(&component("echo")).unwrap();
    let request = RunRequest {
        args: args(&["--stringInput", "still alive", "--integerInput", "7"]),
        output_dir: Some(out.path().to_path_buf()),
        ..RunRequest::default()
    };
    let outcome = engine
        .run(&plugin, request)
        .await
        .expect("echo after a hostile plugin");
    let echoed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("echo.json")).unwrap()).unwrap();
    assert_eq!(echoed["stringInput"], "still alive");
    assert_eq!(echoed["integerInput"], 7);
    assert_eq!(
        String::from_utf8_lossy(&outcome.stdout).trim(),
        serde_json::to_string(&echoed).unwrap()
    );
}

fn stdout(outcome: &RunOutcome) -> String {
    String::from_utf8_lossy(&outcome.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_are_contained_and_the_engine_keeps_working() {
    let engine = engine(None);
    echo_still_works(&engine).await;

    // Files: nothing outside the two mounts, nothing written under /in, no host environment.
    let input = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    std::fs::write(input.path().join("data.txt"), "data").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", input.path().join("escape-link")).unwrap();
    let request = RunRequest {
        input_dir: Some(input.path().to_path_buf()),
        output_dir: Some(output.path().to_path_buf()),
        env: vec![("ALLOWED".into(), "1".into())],
        ..RunRequest::default()
    };
    let outcome = hostile(&engine, &["fs"], request)
        .await
        .expect("fs mode runs to the end");
    let text = stdout(&outcome);
    assert!(!text.contains("ESCAPED"), "{text}");
    assert_eq!(text.matches("denied:").count(), 10, "{text}");
    assert!(
        text.contains("env: ALLOWED,HYSOPE_OUT") || text.contains("env: HYSOPE_OUT,ALLOWED"),
        "{text}"
    );
    assert!(!input.path().join("new").exists());
    assert!(!output.path().parent().unwrap().join("outside").exists());
    echo_still_works(&engine).await;

    // Network: no connection reaches a listener on the host's loopback.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let outcome = hostile(&engine, &["socket", &port], RunRequest::default())
        .await
        .expect("socket mode runs to the end");
    let text = stdout(&outcome);
    assert!(!text.contains("ESCAPED"), "{text}");
    assert_eq!(text.matches("denied:").count(), 4, "{text}");
    assert_eq!(
        listener.accept().map_err(|e| e.kind()).unwrap_err(),
        std::io::ErrorKind::WouldBlock
    );
    echo_still_works(&engine).await;

    // CPU: an infinite loop is stopped at its deadline.
    let started = Instant::now();
    let limits = Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let error = hostile(
        &engine,
        &["loop"],
        RunRequest {
            limits,
            ..RunRequest::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, Error::Timeout { ref plugin, limit } if plugin == "hostile" && limit == Duration::from_millis(200)),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the loop was not stopped"
    );
    echo_still_works(&engine).await;

    // Blocked in a host call (sleep): stopped at the deadline too.
    let limits = Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let error = hostile(
        &engine,
        &["sleep"],
        RunRequest {
            limits,
            ..RunRequest::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error}");
    echo_still_works(&engine).await;

    // Memory: growing past the cap stops the run with a memory-limit error.
    let limits = Limits {
        memory_bytes: 64 << 20,
        ..Limits::default()
    };
    let error = hostile(
        &engine,
        &["alloc"],
        RunRequest {
            limits,
            ..RunRequest::default()
        },
    )
    .await
    .unwrap_err();
    match &error {
        Error::MemoryLimit {
            plugin,
            limit,
            requested,
        } => {
            assert_eq!(plugin, "hostile");
            assert_eq!(*limit, 64 << 20);
            assert!(*requested > 64 << 20);
        }
        other => panic!("expected a memory-limit error, got {other}"),
    }
    echo_still_works(&engine).await;

    // Output: writing past the cap fails cleanly and discards the output.
    let output = tempfile::tempdir().unwrap();
    let limits = Limits {
        output_bytes: 8 << 20,
        ..Limits::default()
    };
    let request = RunRequest {
        output_dir: Some(output.path().to_path_buf()),
        limits,
        ..RunRequest::default()
    };
    let error = hostile(&engine, &["write"], request).await.unwrap_err();
    assert!(
        matches!(error, Error::OutputLimit { limit, .. } if limit == 8 << 20),
        "{error}"
    );
    assert_eq!(
        std::fs::read_dir(output.path()).unwrap().count(),
        0,
        "output not discarded"
    );
    echo_still_works(&engine).await;

    // Links: a link out of the output folder (the sandbox lets a plugin make one
    // with a relative target) fails the run and discards the output, whatever the
    // link climbs to; one that stays inside is an ordinary output.
    for target in ["../../../etc/passwd", "..", "kept.txt/../../x"] {
        let output = tempfile::tempdir().unwrap();
        let request = RunRequest {
            output_dir: Some(output.path().to_path_buf()),
            ..RunRequest::default()
        };
        let error = hostile(&engine, &["link-out", target], request)
            .await
            .unwrap_err();
        match &error {
            Error::OutputLink {
                plugin,
                link,
                target: held,
            } => {
                assert_eq!(plugin, "hostile");
                assert_eq!(link, "leak.txt");
                assert_eq!(held, target);
            }
            other => panic!("expected an output-link error for {target}, got {other}"),
        }
        assert_eq!(error.cause(), "output-link");
        assert!(error.to_string().contains("leads out of it"), "{error}");
        assert_eq!(
            std::fs::read_dir(output.path()).unwrap().count(),
            0,
            "output not discarded"
        );
        assert!(std::path::Path::new("/etc/passwd").exists());
    }
    let output = tempfile::tempdir().unwrap();
    let request = RunRequest {
        output_dir: Some(output.path().to_path_buf()),
        ..RunRequest::default()
    };
    let outcome = hostile(&engine, &["link-out", "kept.txt"], request)
        .await
        .expect("a link inside the output is fine");
    assert!(stdout(&outcome).contains("made /out/leak.txt"));
    assert_eq!(
        std::fs::read_to_string(output.path().join("leak.txt")).unwrap(),
        "kept"
    );
    echo_still_works(&engine).await;

    // Handles: opening files without end hits the handle cap.
    let limits = Limits {
        max_handles: 64,
        ..Limits::default()
    };
    let request = RunRequest {
        input_dir: Some(input.path().to_path_buf()),
        limits,
        ..RunRequest::default()
    };
    let error = hostile(&engine, &["handles"], request).await.unwrap_err();
    assert!(
        matches!(error, Error::HandleLimit { limit: 64, .. }),
        "{error}"
    );
    echo_still_works(&engine).await;

    // A panic is a trap naming the plugin, with the panic message.
    let error = hostile(&engine, &["panic"], RunRequest::default())
        .await
        .unwrap_err();
    match &error {
        Error::Trap { plugin, reason } => {
            assert_eq!(plugin, "hostile");
            assert!(reason.contains("panics on purpose"), "{reason}");
        }
        other => panic!("expected a trap, got {other}"),
    }
    echo_still_works(&engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_stops_a_running_plugin_promptly() {
    let engine = engine(None);
    for mode in ["loop", "sleep", "poll-cancel"] {
        let request = RunRequest {
            limits: Limits {
                timeout: Duration::from_secs(120),
                ..Limits::default()
            },
            ..RunRequest::default()
        };
        let cancel = request.cancel.clone();
        let started = Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            cancel.cancel();
        });
        let error = hostile(&engine, &[mode], request).await.unwrap_err();
        assert!(
            matches!(error, Error::Cancelled { ref plugin } if plugin == "hostile"),
            "{mode}: {error}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{mode}: not stopped"
        );
        echo_still_works(&engine).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_interface_streams_logs_and_progress() {
    let engine = engine(None);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = hostile(
        &engine,
        &["host"],
        RunRequest {
            events: Some(tx),
            ..RunRequest::default()
        },
    )
    .await
    .unwrap();
    let mut streamed = Vec::new();
    while let Ok(event) = rx.try_recv() {
        streamed.push(event);
    }
    assert_eq!(streamed, outcome.events);
    assert_eq!(
        outcome.events[0],
        RunEvent::Log {
            level: LogLevel::Info,
            message: "starting".into()
        }
    );
    let percents: Vec<f32> = outcome
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Progress { percent, .. } => Some(*percent),
            _ => None,
        })
        .collect();
    // The NaN report is clamped to 0, never passed on.
    assert_eq!(percents, vec![0.0, 25.0, 50.0, 75.0, 100.0, 0.0]);
    match outcome.events.last().unwrap() {
        RunEvent::Log {
            level: LogLevel::Warn,
            message,
        } => assert_eq!(message.len(), 4096),
        other => panic!("unexpected last event {other:?}"),
    }
    assert_eq!(stdout(&outcome).trim(), "cancelled: false");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_stdout_is_bounded() {
    let engine = engine(None);
    let limits = Limits {
        stdio_bytes: 64 << 10,
        ..Limits::default()
    };
    let outcome = hostile(
        &engine,
        &["stdout"],
        RunRequest {
            limits,
            ..RunRequest::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(outcome.stdout.len(), 64 << 10);
    assert!(outcome.stdout_truncated);
    assert!(!outcome.stderr_truncated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_zero_exit_is_a_typed_error_with_the_output() {
    let engine = engine(None);
    let plugin = engine.load_file(&component("echo")).unwrap();
    let error = engine
        .run(
            &plugin,
            RunRequest {
                args: args(&["--no-such-option"]),
                ..RunRequest::default()
            },
        )
        .await
        .unwrap_err();
    match error {
        Error::Exit {
            plugin,
            code,
            outcome,
        } => {
            assert_eq!(plugin, "echo");
            // The SDK's EX_USAGE, as the plugin gave it (WASI's exit-with-code).
            assert_eq!(code, 64);
            assert!(
                String::from_utf8_lossy(&outcome.stderr)
                    .contains("unknown option --no-such-option")
            );
        }
        other => panic!("expected an exit error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_components_are_cached_and_bad_entries_rebuilt() {
    let cache = tempfile::tempdir().unwrap();
    let echo = std::fs::read(component("echo")).unwrap();

    let first = engine(Some(cache.path()));
    let loaded = first.load("echo", &echo).unwrap();
    assert_eq!(loaded.origin(), ArtifactOrigin::Compiled);
    // Loaded once per engine: the same plugin comes back.
    assert!(Arc::ptr_eq(&loaded, &first.load("echo", &echo).unwrap()));
    drop(first);

    let second = engine(Some(cache.path()));
    let plugin = second.load("echo", &echo).unwrap();
    assert_eq!(plugin.origin(), ArtifactOrigin::Cache);
    let entry = second.cache().unwrap().entry_path(plugin.sha256());
    echo_still_works(&second).await;
    drop(second);

    // Tampered: one byte of the artifact flipped. Detected by the checksum, rebuilt.
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&entry, &bytes).unwrap();
    let third = engine(Some(cache.path()));
    assert_eq!(
        third.load("echo", &echo).unwrap().origin(),
        ArtifactOrigin::Compiled
    );
    echo_still_works(&third).await;
    drop(third);

    // Stale: a well-formed entry that wasmtime refuses (as one from another build would be).
    let mut forged = b"HYSOPE-CWASM-v1\n".to_vec();
    let artifact = b"not an artifact of this engine".to_vec();
    forged.extend_from_slice(&sha256(&artifact));
    forged.extend_from_slice(&artifact);
    std::fs::write(&entry, forged).unwrap();
    let fourth = engine(Some(cache.path()));
    assert_eq!(
        fourth.load("echo", &echo).unwrap().origin(),
        ArtifactOrigin::Compiled
    );
    echo_still_works(&fourth).await;
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

#[test]
fn invalid_components_are_refused_with_a_reason() {
    let engine = engine(None);
    let error = engine.load("garbage", b"definitely not wasm").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("plugin garbage is not a valid component"),
        "{error}"
    );
    let core_module = b"\0asm\x01\0\0\0";
    let error = engine.load("core", core_module).unwrap_err();
    assert!(
        error.to_string().contains("not a WebAssembly component"),
        "{error}"
    );
    let mut truncated = std::fs::read(component("echo")).unwrap();
    truncated.truncate(truncated.len() / 3);
    let error = engine.load("truncated", &truncated).unwrap_err();
    assert!(
        matches!(error, Error::InvalidComponent { ref plugin, .. } if plugin == "truncated"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_reaches_the_plugin() {
    let engine = engine(None);
    let request = RunRequest {
        stdin: b"reach 57203000041\n".to_vec(),
        ..RunRequest::default()
    };
    let outcome = hostile(&engine, &["cat"], request).await.unwrap();
    assert_eq!(stdout(&outcome), "reach 57203000041\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_runs_than_pool_slots_wait_for_a_slot() {
    let engine = Arc::new(
        WasmEngine::new(EngineConfig {
            max_instances: 2,
            ..EngineConfig::default()
        })
        .unwrap(),
    );
    let plugin = engine.load_file(&component("hostile")).unwrap();
    let mut runs = Vec::new();
    for i in 0..8 {
        let (engine, plugin) = (engine.clone(), plugin.clone());
        runs.push(tokio::spawn(async move {
            let request = RunRequest {
                args: args(&["cat"]),
                stdin: format!("run {i}").into_bytes(),
                ..RunRequest::default()
            };
            engine.run(&plugin, request).await
        }));
    }
    for (i, run) in runs.into_iter().enumerate() {
        let outcome = run.await.unwrap().expect("every run gets a slot");
        assert_eq!(stdout(&outcome), format!("run {i}"));
    }
}
