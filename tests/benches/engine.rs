//! Engine benchmarks (`cargo bench -p hysope-tests --bench engine`): cold compile,
//! cached load and warm instantiate+run of `echo`, against spawning the same plugin
//! as a native process; moving median over 10^6 doubles in the sandbox against the
//! same Rust code compiled natively, in the same run. Prints a Markdown table.
//!
//! Needs the components (`bash tests/run-all.sh` or the cargo build line it runs)
//! and, for the process peer, `cargo build --release -p hysope-echo`.

use std::path::Path;
use std::time::{Duration, Instant};

use hysope_engine::wasm::{EngineConfig, RunRequest, WasmEngine};
use hysope_test_components::{component, workspace_root};

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let median = samples[samples.len() / 2];
    let p99 = samples[((samples.len() as f64 * 0.99).ceil() as usize).min(samples.len()) - 1];
    (median, p99)
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let engine = WasmEngine::new(EngineConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..EngineConfig::default()
    })
    .unwrap();
    let echo = std::fs::read(component("echo")).unwrap();
    let out = tempfile::tempdir().unwrap();
    println!("| measure | samples | median | p99 |");
    println!("|---|---|---|---|");

    // Cold compile: no artifact in memory or on disk.
    let mut cold = Vec::new();
    for _ in 0..10 {
        engine.unload_all();
        let plugin = engine.load("echo", &echo).unwrap();
        std::fs::remove_file(engine.cache().unwrap().entry_path(plugin.sha256())).unwrap();
        engine.unload_all();
        let started = Instant::now();
        engine.load("echo", &echo).unwrap();
        cold.push(started.elapsed());
    }
    let (m, p) = stats(cold);
    println!(
        "| echo cold compile (Cranelift, artifact written to cache) | 10 | {} | {} |",
        ms(m),
        ms(p)
    );

    // Cached load: the artifact is read, its checksum verified, deserialised, linked.
    let mut cached = Vec::new();
    for _ in 0..200 {
        engine.unload_all();
        let started = Instant::now();
        engine.load("echo", &echo).unwrap();
        cached.push(started.elapsed());
    }
    let (m, p) = stats(cached);
    println!(
        "| echo cached load (from the on-disk cache) | 200 | {} | {} |",
        us(m),
        us(p)
    );

    // Warm: instantiate from the InstancePre and run to exit.
    let plugin = engine.load("echo", &echo).unwrap();
    let warm = |args: &[&str], output: Option<&Path>| -> (Duration, Duration) {
        let samples = runtime.block_on(async {
            let mut samples = Vec::new();
            for i in 0..2200 {
                let request = RunRequest {
                    args: args.iter().map(|a| a.to_string()).collect(),
                    output_dir: output.map(Path::to_path_buf),
                    ..RunRequest::default()
                };
                let started = Instant::now();
                engine.run(&plugin, request).await.unwrap();
                if i >= 200 {
                    samples.push(started.elapsed());
                }
            }
            samples
        });
        stats(samples)
    };
    let (m, p) = warm(&["--help"], None);
    println!(
        "| echo warm instantiate + run, no mount (`--help`: parse argv, print usage) | 2000 | {} | {} |",
        us(m),
        us(p)
    );
    let (m, p) = warm(&["--help"], Some(out.path()));
    println!(
        "| echo warm instantiate + run, output mounted (`--help`) | 2000 | {} | {} |",
        us(m),
        us(p)
    );
    let (warm_median, p) = warm(&["--stringInput", "x"], Some(out.path()));
    println!(
        "| echo warm instantiate + run, writes echo.json to /out | 2000 | {} | {} |",
        us(warm_median),
        us(p)
    );

    // Peer: the same plugin as a native process (fork + exec + run), as a local backend would.
    let native_echo = workspace_root().join("target/release/echo");
    if native_echo.is_file() {
        let mut spawn = Vec::new();
        for i in 0..520 {
            let started = Instant::now();
            let status = std::process::Command::new(&native_echo)
                .args(["--stringInput", "x"])
                .current_dir(out.path())
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
            if i >= 20 {
                spawn.push(started.elapsed());
            }
        }
        let (m, p) = stats(spawn);
        println!(
            "| echo as a native process (peer) | 500 | {} | {} |",
            us(m),
            us(p)
        );
        println!(
            "| ratio native process / sandbox (median) | | {:.1}x | |",
            m.as_secs_f64() / warm_median.as_secs_f64()
        );
    } else {
        println!(
            "| echo as a native process (peer) | skipped: build it with cargo build --release -p hysope-echo | | |"
        );
    }

    // Compute: moving median, window 31, over 10^6 doubles.
    let n = 1_000_000;
    let window = 31;
    let kernel = engine.load_file(&component("moving-median")).unwrap();
    let mut sandbox = Vec::new();
    let mut sandbox_sum = String::new();
    let mut peak = 0;
    for _ in 0..7 {
        let request = RunRequest {
            args: vec![n.to_string(), window.to_string()],
            ..RunRequest::default()
        };
        let started = Instant::now();
        let outcome = runtime.block_on(engine.run(&kernel, request)).unwrap();
        sandbox.push(started.elapsed());
        sandbox_sum = String::from_utf8_lossy(&outcome.stdout).trim().to_string();
        peak = outcome.peak_memory;
    }
    let mut native = Vec::new();
    let mut native_sum = 0.0;
    for _ in 0..7 {
        let started = Instant::now();
        let series = hysope_guest_moving_median::series(std::hint::black_box(n));
        let median = hysope_guest_moving_median::moving_median(&series, window);
        native_sum = hysope_guest_moving_median::checksum(&median);
        native.push(started.elapsed());
    }
    assert_eq!(
        sandbox_sum,
        native_sum.to_string(),
        "sandbox and native results differ"
    );
    let (sm, sp) = stats(sandbox);
    let (nm, np) = stats(native);
    println!(
        "| moving median 10^6 doubles, sandbox (instantiate included) | 7 | {} | {} |",
        ms(sm),
        ms(sp)
    );
    println!(
        "| moving median 10^6 doubles, native (peer) | 7 | {} | {} |",
        ms(nm),
        ms(np)
    );
    println!(
        "| ratio sandbox / native (median) | | {:.2}x | |",
        sm.as_secs_f64() / nm.as_secs_f64()
    );
    println!(
        "\nsandbox peak linear memory of the moving median: {} MiB",
        peak >> 20
    );
}
