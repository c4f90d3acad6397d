//! The lag of production rules (issue 24): FILES gauge files ingested in one
//! burst into a server whose rule runs `echo` on each new file; for each file,
//! the time from its item's entry into the catalogue (its change in the feed) to
//! its rule's job being accepted (the job's record), median, p99 and max. Beside
//! it, the same burst into a server without the rule (what following the feed
//! costs the ingestion), in the same run.
//!
//!     rule-lag WORK FILES
//!
//! WORK is a scratch folder (emptied); the files are copies of
//! `../shared/data/usgs/waterservices_peaks.txt`, each with one more row (so
//! each is a new item). Run in the release build:
//! `cargo build --release -p hysope-tests --bin rule-lag`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config(data: &Path, rules: Option<&Path>, root: &Path) -> hysope_server::Config {
    let engine =
        hysope_engine::Engine::open(hysope_engine::EngineSettings::from_env()).expect("the engine");
    hysope_server::Config {
        process_dirs: vec![root.join("plugins")],
        rule_dirs: rules.map(Path::to_path_buf).into_iter().collect(),
        ..hysope_server::Config::new(data, engine)
    }
}

/// Ingests `files`, waking the rules after each stored file as the server's
/// ingest route does; the time it took.
async fn burst(state: &Arc<hysope_server::State>, files: &Path) -> Duration {
    let (catalog, waker, files) = (state.catalog().clone(), state.clone(), files.to_path_buf());
    let started = Instant::now();
    tokio::task::spawn_blocking(move || {
        hysope_catalog::ingest::ingest_paths(catalog.as_ref(), &[files], |_, _, _, _| {
            waker.wake_rules()
        })
    })
    .await
    .expect("the ingestion")
    .expect("the ingestion");
    started.elapsed()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() -> anyhow::Result<()> {
    // The server's warnings (a rule that stops at a change) go to stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().collect();
    let (work, n) = match args.as_slice() {
        [_, work, n] => (PathBuf::from(work), n.parse::<usize>()?),
        _ => anyhow::bail!("usage: rule-lag WORK FILES"),
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let _ = std::fs::remove_dir_all(&work);
    let files = work.join("files");
    std::fs::create_dir_all(&files)?;
    let peaks = std::fs::read_to_string(root.join("../shared/data/usgs/waterservices_peaks.txt"))?;
    for i in 0..n {
        let text = format!(
            "{peaks}USGS\t01594440\t2020-{:02}-{:02}\t\t{}\t\t13.00\t\t\t\t\t\t\n",
            i % 12 + 1,
            i % 28 + 1,
            5000 + i
        );
        std::fs::write(files.join(format!("peaks_{i:05}.txt")), text)?;
    }
    let rules = work.join("rules");
    std::fs::create_dir_all(&rules)?;
    std::fs::write(
        rules.join("peaks.json"),
        serde_json::json!({"id": "peaks", "process": "echo",
            "trigger": {"type": "item", "collections": ["USGS_NWIS_peaks"]},
            "inputs": {"stringInput": {"value": "a peaks file"}}})
        .to_string(),
    )?;
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };

    // Without a rule.
    let plain = runtime()?.block_on(async {
        let (state, _) = hysope_server::start(config(&work.join("plain"), None, &root)).await?;
        anyhow::Ok(burst(&state, &files).await)
    })?;

    // With the rule.
    let (ruled, lags, all_jobs) = runtime()?.block_on(async {
        let (state, _) =
            hysope_server::start(config(&work.join("ruled"), Some(&rules), &root)).await?;
        let took = burst(&state, &files).await;
        let catalog = state.catalog().clone();
        let started = Instant::now();
        loop {
            // The whole feed, paged: the jobs' result items enter it too.
            let mut changes = Vec::new();
            loop {
                let after = changes
                    .last()
                    .map_or(String::new(), |c: &hysope_catalog::ItemChange| {
                        c.position.clone()
                    });
                let page = catalog.changes(&after, 1000)?;
                if page.is_empty() {
                    break;
                }
                changes.extend(page);
            }
            let mut lags = Vec::new();
            for change in changes.iter().filter(|c| c.collection == "USGS_NWIS_peaks") {
                let id = hysope_jobs::rules::job_id_of("peaks", change);
                if let Ok(job) = state.jobs().status(&id) {
                    lags.push(job.created.saturating_sub(change.time) as f64);
                }
            }
            if lags.len() == n {
                return anyhow::Ok((took, lags, started.elapsed()));
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(600),
                "{} of {n} jobs after 600 s",
                lags.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })?;
    let mut sorted = lags.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{n} files in a burst: ingest {:.2} s without the rule, {:.2} s with it ({:.2}x); \
         all {n} jobs accepted {:.2} s after the burst ended",
        plain.as_secs_f64(),
        ruled.as_secs_f64(),
        ruled.as_secs_f64() / plain.as_secs_f64(),
        all_jobs.as_secs_f64()
    );
    println!(
        "lag from an item's entry to its job: median {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        quantile(&sorted, 0.5),
        quantile(&sorted, 0.99),
        sorted[sorted.len() - 1]
    );
    Ok(())
}
