//! Engine benchmarks (`cargo bench -p hysope-tests --bench engine`): cold compile,
//! cached load and warm instantiate+run of `echo`, against spawning the same plugin
//! as a native process; moving median over 10^6 doubles in the sandbox against the
//! same Rust code compiled natively, in the same run; the hydrology plugins
//! river-discharge and virtual-station-wse warm in the engine (as `hysope serve` runs
//! them) against the same plugins built natively and spawned as processes (as the
//! local backend runs tools), on the same files. Prints Markdown tables.
//!
//! Needs the components (`bash tests/run-all.sh` or the cargo build line it runs)
//! and, for the process peers, `cargo build --release -p hysope-echo -p
//! hysope-river-discharge -p hysope-virtual-station-wse`.

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

    plugins(&runtime, &engine);
}

/// A deterministic reach series of `rows` observations (a slow wave plus noise from a
/// linear congruential generator), as river-discharge reads it.
fn series(rows: usize) -> String {
    let mut state: u64 = 7;
    let mut noise = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut out = String::from("reach_id,time,wse,width,slope,wse_u,width_u\n");
    for i in 0..rows {
        let h = 216.0 + 1.5 * (i as f64 / 500.0).sin() + 0.1 * noise();
        let w = 250.0 + 20.0 * (h - 216.0) + 5.0 * noise();
        let s = 3.7e-5 + 4e-6 * noise();
        let (day, sec) = (i * 600 / 86_400, i * 600 % 86_400);
        out.push_str(&format!(
            "74269900011,{:04}-{:02}-{:02}T{:02}:{:02}:00Z,{h:.4},{w:.3},{s:.3e},0.1,10\n",
            2000 + day / 336,
            1 + day / 28 % 12,
            1 + day % 28,
            sec / 3600,
            sec % 3600 / 60
        ));
    }
    out
}

/// The sandbox (warm, in the engine) against native processes for two hydrology plugins.
fn plugins(runtime: &tokio::runtime::Runtime, engine: &WasmEngine) {
    let root = workspace_root();
    let pixc = root.join(
        "../shared/data/swot/SWOT_L2_HR_PIXC_001_042_067L_20220402T112019_20220402T112029_Dx0000_01.nc",
    );
    if !pixc.is_file() {
        println!("\nplugins: skipped, {} is missing", pixc.display());
        return;
    }
    let input = tempfile::tempdir().unwrap();
    std::fs::copy(&pixc, input.path().join("pixc.nc")).unwrap();
    std::fs::copy(
        root.join("plugins/virtual-station-wse/example-stations.geojson"),
        input.path().join("stations.geojson"),
    )
    .unwrap();
    std::fs::write(input.path().join("series.csv"), series(400_000)).unwrap();
    let discharge = [
        "--a0",
        "800",
        "--n",
        "0.03",
        "--n-inf",
        "0.03",
        "--p",
        "0.1",
        "--alpha",
        "30",
        "--beta",
        "0.2",
        "--momma-b",
        "213.5",
        "--momma-h",
        "217",
        "--momma-save",
        "3.7e-5",
    ];
    let cases: [(&str, Vec<String>, Vec<String>, &str); 2] = [
        (
            "river-discharge",
            ["--series", "/in/series.csv"]
                .iter()
                .chain(discharge.iter())
                .map(|s| s.to_string())
                .collect(),
            [
                "--series".to_string(),
                input.path().join("series.csv").display().to_string(),
            ]
            .into_iter()
            .chain(discharge.iter().map(|s| s.to_string()))
            .collect(),
            "400,000-row series (Manning, MetroMan, HiVDI, MOMMA, consensus)",
        ),
        (
            "virtual-station-wse",
            [
                "--pixc",
                "/in/pixc.nc",
                "--stations",
                "/in/stations.geojson",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            vec![
                "--pixc".to_string(),
                input.path().join("pixc.nc").display().to_string(),
                "--stations".to_string(),
                input.path().join("stations.geojson").display().to_string(),
            ],
            "PIXC tile, 92,247 pixels, 4 stations",
        ),
    ];
    println!(
        "\n| plugin | workload | sandbox, warm in the engine | native process | sandbox / native |"
    );
    println!("|---|---|---|---|---|");
    for (name, sandbox_args, native_args, workload) in cases {
        let plugin = engine.load_file(&component(name)).unwrap();
        let out = tempfile::tempdir().unwrap();
        let mut sandbox = Vec::new();
        for i in 0..8 {
            let request = RunRequest {
                args: sandbox_args.clone(),
                input_dir: Some(input.path().to_path_buf()),
                output_dir: Some(out.path().to_path_buf()),
                ..RunRequest::default()
            };
            let started = Instant::now();
            let outcome = runtime.block_on(engine.run(&plugin, request)).unwrap();
            assert_eq!(
                outcome.exit_code,
                0,
                "{}",
                String::from_utf8_lossy(&outcome.stderr)
            );
            if i > 0 {
                sandbox.push(started.elapsed());
            }
        }
        let native_bin = root.join("target/release").join(name);
        let (nm, ratio) = if native_bin.is_file() {
            let native_out = tempfile::tempdir().unwrap();
            let mut native = Vec::new();
            for i in 0..8 {
                let started = Instant::now();
                let status = std::process::Command::new(&native_bin)
                    .args(&native_args)
                    .current_dir(native_out.path())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .unwrap();
                assert!(status.success());
                if i > 0 {
                    native.push(started.elapsed());
                }
            }
            // Same code, same results (CSV text; the maths libraries may round the last
            // bit of log10/pow differently, so numbers are compared to 1e-12).
            for entry in std::fs::read_dir(out.path()).unwrap().flatten() {
                let file = entry.file_name();
                if !file.to_string_lossy().ends_with(".csv") {
                    continue;
                }
                let a = std::fs::read_to_string(entry.path()).unwrap();
                let b = std::fs::read_to_string(native_out.path().join(&file)).unwrap();
                for (x, y) in a.split([',', '\n']).zip(b.split([',', '\n'])) {
                    if x != y {
                        let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
                        assert!((x - y).abs() <= 1e-12 * x.abs().max(y.abs()), "{x} {y}");
                    }
                }
            }
            let (nm, _) = stats(native);
            (
                ms(nm),
                format!(
                    "{:.2}x",
                    stats(sandbox.clone()).0.as_secs_f64() / nm.as_secs_f64()
                ),
            )
        } else {
            (
                format!("skipped: cargo build --release -p hysope-{name}"),
                String::new(),
            )
        };
        let (sm, _) = stats(sandbox);
        println!("| {name} | {workload} | {} | {nm} | {ratio} |", ms(sm));
    }
}
