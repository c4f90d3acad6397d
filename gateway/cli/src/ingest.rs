//! `hysope ingest PATH... --data-dir DIR`: product files and folders into the
//! catalogue, with a progress line per file and a summary. When a running server
//! holds the catalogue, the paths go to its ingest endpoint instead (the address
//! and token come from the data folder's `server.json`), so ingesting while the
//! server runs is safe.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use hysope_catalog::CatalogStore;
use hysope_catalog::ingest::{Outcome, ingest_paths};
use hysope_catalog::store::Ingested;

/// Arguments of `hysope ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Product files or folders (walked recursively), or s3://BUCKET/PREFIX (S3 from
    /// the AWS_* variables).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The data folder `hysope serve` uses.
    #[arg(long, default_value = "hysope-data", env = "HYSOPE_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The catalogue: `pgstac://USER@HOST:PORT/DATABASE` (shared by the
    /// gateways, written directly whether they run or not); the data folder's
    /// store by default.
    #[arg(long = "catalog", env = "HYSOPE_CATALOG")]
    pub catalog_url: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `hysope ingest`.
pub fn main(args: IngestArgs) -> ExitCode {
    match run(&args) {
        Ok(code) => code,
        Err(e) => super::fail(&e, 1),
    }
}

fn run(args: &IngestArgs) -> anyhow::Result<ExitCode> {
    hysope_server::create_data_dir(&args.data_dir)?;
    let mut paths = Vec::new();
    let mut urls = Vec::new();
    for p in &args.paths {
        let text = p.to_string_lossy();
        if text.starts_with("s3://") {
            urls.push(text.to_string());
        } else {
            paths.push(std::fs::canonicalize(p).with_context(|| format!("{}", p.display()))?);
        }
    }
    let opened = match &args.catalog_url {
        Some(url) => hysope_server::open_shared_catalog(url),
        None => hysope_server::open_store(&args.data_dir).and_then(|db| {
            Ok(Arc::new(hysope_catalog::RedbCatalog::open_shared(db)?) as Arc<dyn CatalogStore>)
        }),
    };
    let report = match opened {
        Ok(store) => {
            let store: Arc<dyn CatalogStore> = store;
            let tty = std::io::stderr().is_terminal();
            let mut report = ingest_paths(store.as_ref(), &paths, |n, total, path, outcome| {
                progress(tty, n, total, path, outcome)
            })?;
            if !urls.is_empty() {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                for url in &urls {
                    let more = runtime.block_on(hysope_server::fetch::ingest_s3(
                        store.clone(),
                        url,
                        |n, href, outcome| progress(tty, n, 0, Path::new(href), outcome),
                    ))?;
                    report.extend(more);
                }
            }
            if tty {
                eprintln!();
            }
            report.to_json()
        }
        Err(e)
            if matches!(
                e.downcast_ref(),
                Some(hysope_store::Error::AlreadyOpen { .. })
            ) =>
        {
            let server = crate::local::LocalServer::of(&args.data_dir, &e)?;
            eprintln!(
                "hysope: the server at {} holds the catalogue; it ingests the files",
                server.url()
            );
            let mut all: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            all.extend(urls.iter().cloned());
            server
                .call(
                    "POST",
                    "/stac/ingest",
                    Some(&serde_json::json!({ "paths": all })),
                )
                .context("the server did not ingest the files")?
        }
        Err(e) => return Err(e),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for f in report["files"].as_array().into_iter().flatten() {
            if f["outcome"] == "skipped" {
                eprintln!("hysope: skipped {}", f["reason"].as_str().unwrap_or("?"));
            }
        }
        eprintln!(
            "hysope: {} new, {} unchanged, {} skipped; {:.1} MB read",
            report["stored"],
            report["unchanged"],
            report["skipped"],
            report["bytes"].as_f64().unwrap_or(0.0) / 1e6
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn progress(tty: bool, n: usize, total: usize, path: &Path, outcome: &Outcome) {
    let name = path
        .to_str()
        .filter(|p| p.starts_with("s3://"))
        .unwrap_or_else(|| path.file_name().and_then(|n| n.to_str()).unwrap_or("?"));
    let what = match outcome {
        Outcome::Stored(Ingested::New(_)) => "new",
        Outcome::Stored(Ingested::Unchanged(_)) => "unchanged",
        Outcome::Stored(Ingested::NewVersion { .. }) => "new version",
        Outcome::Skipped(_) => "skipped",
    };
    // An S3 listing streams: its total is not known (0), so no bar.
    let width = 30;
    let done = (width * n / total.max(1)).min(width);
    let bar = if total == 0 {
        format!("[{n}]")
    } else {
        format!("[{}{}]", "#".repeat(done), " ".repeat(width - done))
    };
    let mut err = std::io::stderr();
    if tty {
        let _ = write!(err, "\r\x1b[2K{bar} {n}/{total} {what}: {name}");
    } else {
        let _ = writeln!(err, "{bar} {n}/{total} {what}: {name}");
    }
    let _ = err.flush();
}
