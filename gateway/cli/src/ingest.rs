//! `hysope ingest PATH... --data-dir DIR`: product files and folders into the
//! catalogue, with a progress line per file and a summary. When a running server
//! holds the catalogue, the paths go to its ingest endpoint instead (the address
//! and token come from the data folder's `server.json`), so ingesting while the
//! server runs is safe.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use hysope_catalog::CatalogStore;
use hysope_catalog::ingest::{Outcome, ingest_paths};
use hysope_catalog::store::Ingested;
use serde_json::Value;

use hysope_server::SERVER_FILE;

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
    let report = match hysope_server::open_store(&args.data_dir)
        .and_then(|db| Ok(hysope_catalog::RedbCatalog::open_shared(db)?))
    {
        Ok(store) => {
            let store: Arc<dyn CatalogStore> = Arc::new(store);
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
                    report.bytes += more.bytes;
                    report.files.extend(more.files);
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
            let server =
                std::fs::read_to_string(args.data_dir.join(SERVER_FILE)).with_context(|| {
                    format!(
                        "{e}; and no {SERVER_FILE} in the data folder says where the server listens"
                    )
                })?;
            let server: Value = serde_json::from_str(&server)?;
            eprintln!(
                "hysope: the server at {} holds the catalogue; it ingests the files",
                server["url"].as_str().unwrap_or("?")
            );
            let mut all: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            all.extend(urls.iter().cloned());
            forward(&server, &all)?
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

/// POSTs the paths to the running server's ingest endpoint and returns its report.
fn forward(server: &Value, paths: &[String]) -> anyhow::Result<Value> {
    let url = server["url"].as_str().context("server.json has no url")?;
    let token = server["ingest_token"]
        .as_str()
        .context("server.json has no ingest_token")?;
    let host = url
        .strip_prefix("http://")
        .context("server url is not http://")?;
    let body = serde_json::json!({ "paths": paths }).to_string();
    let mut stream = std::net::TcpStream::connect(host)
        .with_context(|| format!("cannot reach the server at {url} (stale {SERVER_FILE}?)"))?;
    write!(
        stream,
        "POST /stac/ingest HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    let text = String::from_utf8_lossy(&reply);
    let (head, payload) = text
        .split_once("\r\n\r\n")
        .context("no HTTP reply from the server")?;
    let status = head.split(' ').nth(1).unwrap_or("?");
    let value: Value = serde_json::from_str(payload.trim())
        .with_context(|| format!("the server replied {status} without JSON"))?;
    if status != "200" {
        anyhow::bail!(
            "the server refused the ingestion ({status}): {}",
            value["detail"].as_str().unwrap_or(payload)
        );
    }
    Ok(value)
}
