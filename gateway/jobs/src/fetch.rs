//! Inputs by reference: File values whose location is `http://`, `https://` or
//! `s3://` are downloaded into the job's folder before it runs, under the egress
//! policy ([`crate::egress`]): http(s) through its vetted, pinned connections, S3
//! (an allowed bucket) through `object_store`'s S3 store configured from the usual
//! `AWS_*` variables: `AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_DEFAULT_REGION`, `AWS_ALLOW_HTTP`. A job's downloads together are bounded
//! in bytes and in time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use hysope_engine::cwl::values;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use crate::egress::Egress;

/// Largest input fetched (bytes).
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024 * 1024;

/// True for a location this module fetches.
pub fn is_remote(location: &str) -> bool {
    ["http://", "https://", "s3://"]
        .iter()
        .any(|p| location.starts_with(p))
}

/// Checks a remote href before a job is accepted (scheme, host, key).
pub fn check(href: &str) -> Result<(), String> {
    let (scheme, rest) = href
        .split_once("://")
        .ok_or_else(|| format!("{href:?} is not a URL"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if host.is_empty() {
        return Err(format!(
            "{href:?} has no {}",
            if scheme == "s3" { "bucket" } else { "host" }
        ));
    }
    if path.is_empty() || path.ends_with('/') {
        return Err(format!("{href:?} names no file"));
    }
    Ok(())
}

/// The store and key of an `s3://BUCKET/KEY` URL (credentials and endpoint from
/// the environment, as every S3 client of the server).
pub fn s3_object(href: &str) -> anyhow::Result<(Arc<dyn ObjectStore>, ObjectPath)> {
    let (scheme, rest) = href.split_once("://").unwrap_or(("", href));
    let (host, key) = rest.split_once('/').unwrap_or((rest, ""));
    let key = ObjectPath::from_url_path(key)?;
    anyhow::ensure!(scheme == "s3", "{href}: not an s3:// URL");
    let store = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(host)
        .build()?;
    Ok((Arc::new(store), key))
}

/// Downloads one object to `target`, refusing more than `left` bytes (what the
/// job's budget has left); the bytes written.
/// http(s) URLs are checked by `Egress::get` (each redirect too), s3 here.
async fn download(href: &str, target: &Path, egress: &Egress, left: u64) -> anyhow::Result<u64> {
    let limit = left.min(MAX_INPUT_BYTES);
    let too_big = || anyhow::anyhow!("more than the {limit} bytes this job may still fetch");
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut file = tokio::fs::File::create(target).await?;
    let mut written = 0u64;
    if href.starts_with("s3://") {
        egress.check(href).map_err(anyhow::Error::msg)?;
        let (store, key) = s3_object(href)?;
        let result = store.get(&key).await?;
        if result.meta.size > limit {
            return Err(too_big());
        }
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            written += chunk.len() as u64;
            if written > limit {
                return Err(too_big());
            }
            file.write_all(&chunk).await?;
        }
    } else {
        let mut response = egress
            .get(href, egress.policy().budget)
            .await
            .map_err(anyhow::Error::msg)?;
        if !response.status().is_success() {
            anyhow::bail!("the server answered {}", response.status());
        }
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(too_big());
        }
        while let Some(chunk) = response.chunk().await? {
            written += chunk.len() as u64;
            if written > limit {
                return Err(too_big());
            }
            file.write_all(&chunk).await?;
        }
    }
    file.sync_all().await?;
    Ok(written)
}

/// Fetches every remote File of `inputs` into `dir` and points it there. The
/// error names the input and the URL.
pub async fn fetch_inputs(
    inputs: &mut Map<String, Value>,
    dir: &Path,
    egress: &Egress,
) -> anyhow::Result<()> {
    let budget = egress.policy().budget;
    tokio::time::timeout(budget, fetch_all(inputs, dir, egress))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "the inputs by URL took more than the {} s a job may spend fetching",
                budget.as_secs()
            )
        })?
}

async fn fetch_all(
    inputs: &mut Map<String, Value>,
    dir: &Path,
    egress: &Egress,
) -> anyhow::Result<()> {
    let mut left = egress.policy().max_bytes;
    for (name, value) in inputs.iter_mut() {
        // Collect the remote locations, fetch them, then rewrite the values.
        let mut remote: Vec<String> = Vec::new();
        values::for_each_file(value, &mut |map| {
            if let Some(loc) = map.get("location").and_then(Value::as_str) {
                if is_remote(loc) {
                    remote.push(loc.to_string());
                }
            }
            Ok(())
        })?;
        let mut fetched: Vec<(String, PathBuf)> = Vec::new();
        for (i, href) in remote.iter().enumerate() {
            let basename = href.rsplit('/').next().unwrap_or("input");
            let basename = basename.split(['?', '#']).next().unwrap_or(basename);
            // A name of the URL's, never a way out of the job's folder.
            let basename = if values::check_name(basename, "url").is_ok() {
                basename
            } else {
                "input"
            };
            let target = dir.join(format!("{name}-{i}")).join(basename);
            let written = download(href, &target, egress, left)
                .await
                .map_err(|e| anyhow::anyhow!("input {name:?}: cannot fetch {href}: {e}"))?;
            left = left.saturating_sub(written);
            fetched.push((href.clone(), target));
        }
        values::for_each_file(value, &mut |map| {
            let loc = map.get("location").and_then(Value::as_str).unwrap_or("");
            if let Some((_, path)) = fetched.iter().find(|(h, _)| h == loc) {
                map.insert("location".into(), Value::String(values::file_uri(path)));
                map.remove("path");
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Ingests every object under an `s3://BUCKET/PREFIX` into the catalogue (S3 from
/// the `AWS_*` variables); each object keeps its `s3://` URL as its asset href.
/// `progress` hears of each object as it is done.
pub async fn ingest_s3(
    catalog: Arc<dyn hysope_catalog::CatalogStore>,
    url: &str,
    mut progress: impl FnMut(usize, &str, &hysope_catalog::ingest::Outcome),
) -> anyhow::Result<hysope_catalog::ingest::Report> {
    use futures::TryStreamExt;
    let (store, prefix) = s3_object(url)?;
    let bucket = url
        .trim_start_matches("s3://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let prefix = (!prefix.as_ref().is_empty()).then_some(prefix);
    let mut objects: Vec<object_store::ObjectMeta> =
        store.list(prefix.as_ref()).try_collect().await?;
    objects.sort_by(|a, b| a.location.cmp(&b.location));
    let mut report = hysope_catalog::ingest::Report::default();
    for (n, meta) in objects.into_iter().enumerate() {
        let href = format!("s3://{bucket}/{}", meta.location);
        let name = meta.location.filename().unwrap_or_default().to_string();
        if name.starts_with('.') || name.to_ascii_lowercase().starts_with("readme") {
            continue;
        }
        let (outcome, size) = if meta.size > MAX_INPUT_BYTES {
            let why = format!(
                "{href}: {} bytes, more than the {MAX_INPUT_BYTES} an object may have",
                meta.size
            );
            (hysope_catalog::ingest::Outcome::Skipped(why), 0)
        } else {
            let bytes = store.get(&meta.location).await?.bytes().await?;
            let size = bytes.len() as u64;
            let catalog = catalog.clone();
            let (name, href2) = (name.clone(), href.clone());
            let outcome = tokio::task::spawn_blocking(move || {
                hysope_catalog::ingest::ingest_bytes(catalog.as_ref(), &name, &href2, &bytes)
            })
            .await??;
            (outcome, size)
        };
        progress(n + 1, &href, &outcome);
        report.push(std::path::PathBuf::from(&href), outcome, size);
    }
    Ok(report)
}
