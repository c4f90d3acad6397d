//! Process results as catalogue items: when a job succeeds, an item of the
//! `results` collection says which process (and the sha256 of each wasm component
//! it ran), which job and which inputs produced which files. Submitted before the
//! job is marked successful, and durable with that record; a job that runs again
//! after a crash rewrites the same item (its id is the job id).

use std::path::Path;

use hysope_catalog::ingest::{bbox_polygon, collection, union};
use hysope_catalog::search::SearchQuery;
use serde_json::{Map, Value, json};

use crate::processes::Process;
use crate::{Job, Jobs, now_ms, rfc3339};

/// The collection of process results.
pub const RESULTS: &str = "results";

fn results_collection() -> Value {
    collection(
        RESULTS,
        "Process results",
        "Products made by Hysope processes: one item per successful job, with the process, the components it ran, the job and the input items",
        "other",
    )
}

/// A job's inputs as a public item may show them: literal values as given; files
/// and folders by name, size, checksum and format, with their web address (without
/// credentials, query or fragment) when they came from the web, never a path of the
/// server nor a file's literal contents.
pub fn public_inputs(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(public_inputs).collect()),
        Value::Object(map) => {
            let class = map.get("class").and_then(Value::as_str);
            if !matches!(class, Some("File" | "Directory")) {
                return Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), public_inputs(v)))
                        .collect(),
                );
            }
            let mut shown = Map::new();
            for key in ["class", "basename", "size", "checksum", "format"] {
                if let Some(v) = map.get(key) {
                    shown.insert(key.into(), v.clone());
                }
            }
            let location = map
                .get("location")
                .or_else(|| map.get("path"))
                .and_then(Value::as_str);
            if let Some(location) = location {
                if !shown.contains_key("basename") {
                    if let Some(name) = location.trim_end_matches('/').rsplit('/').next() {
                        let name = hysope_engine::cwl::values::percent_decode(name);
                        shown.insert("basename".into(), name.into());
                    }
                }
                if let Ok(mut url) = url::Url::parse(location) {
                    if matches!(url.scheme(), "http" | "https" | "s3") {
                        let _ = url.set_username("");
                        let _ = url.set_password(None);
                        url.set_query(None);
                        url.set_fragment(None);
                        shown.insert("location".into(), url.to_string().into());
                    }
                }
            }
            for key in ["secondaryFiles", "listing"] {
                if let Some(v) = map.get(key) {
                    shown.insert(key.into(), public_inputs(v));
                }
            }
            Value::Object(shown)
        }
        other => other.clone(),
    }
}

/// The catalogue items an input names by href (a file the catalogue ingested).
fn input_items(state: &Jobs, inputs: &Value) -> Vec<Value> {
    let mut hrefs = Vec::new();
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for key in ["href", "location", "path"] {
                    if let Some(h) = m.get(key).and_then(Value::as_str) {
                        out.push(h.to_string());
                    }
                }
                m.values().for_each(|c| collect(c, out));
            }
            Value::Array(a) => a.iter().for_each(|c| collect(c, out)),
            _ => {}
        }
    }
    collect(inputs, &mut hrefs);
    let mut found: Vec<Value> = Vec::new();
    for href in hrefs {
        let path = href.strip_prefix("file://").unwrap_or(&href);
        let Some(stem) = Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.split('.').next().unwrap_or(n).to_string())
        else {
            continue;
        };
        // Ingested SWOT files are items named after the file; the asset says which file.
        let query = SearchQuery {
            ids: vec![stem],
            limit: 10,
            ..Default::default()
        };
        let Ok(page) = state.catalog.search(&query) else {
            continue;
        };
        let canonical = std::fs::canonicalize(path)
            .map(|p| format!("file://{}", p.display()))
            .unwrap_or_else(|_| href.clone());
        for item in page.items {
            // An ingested file's item links to the download route; where the file
            // is, is the catalogue's to say.
            let (cid, id) = (
                item["collection"].as_str().unwrap_or_default(),
                item["id"].as_str().unwrap_or_default(),
            );
            let asset = match state.catalog.asset_source(cid, id, "data") {
                Ok(Some(source)) => source,
                _ => item["assets"]["data"]["href"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            };
            if (asset == href || asset == canonical) && !found.iter().any(|f| f["id"] == item["id"])
            {
                found.push(item);
            }
        }
    }
    found
}

/// Starts writing the result item of a successful job, without a disk flush of its
/// own: the job's final record, written after it to the same file, is durable and
/// persists it too (the store commits in submission order). The future says whether
/// the item was stored.
pub fn submit<'a>(
    state: &'a Jobs,
    job: &Job,
    process: &Process,
    components: &[(String, String)],
    outputs: &Value,
) -> impl Future<Output = hysope_catalog::Result<()>> + 'a {
    use std::sync::atomic::Ordering;
    let item = item(state, job, process, components, outputs);
    let ensure = || {
        state.catalog.collection(RESULTS).and_then(|c| match c {
            Some(_) => Ok(()),
            None => state.catalog.put_collection(&results_collection()),
        })
    };
    let ready = match state.results_ready.load(Ordering::Relaxed) {
        true => Ok(()),
        false => ensure(),
    };
    // Submitted now, before the caller writes the job's final record. The
    // embedded store flushes it with that record's commit; a shared store's
    // catalogue commits apart, so its item is durable on its own.
    let durable = state.store.shared();
    let commit = ready.map(|()| {
        state
            .catalog
            .submit_items(std::slice::from_ref(&item), durable)
    });
    async move {
        let mut stored = commit?.await;
        if let Err(hysope_catalog::Error::NoSuchCollection(_)) = stored {
            // Deleted since it was checked: made again, the item written again, with
            // its own flush this time (the job's record may have gone ahead).
            stored = match ensure() {
                Ok(()) => state.catalog.submit_items(&[item], true).await,
                Err(e) => Err(e),
            };
        }
        state.results_ready.store(stored.is_ok(), Ordering::Relaxed);
        stored
    }
}

/// The result item of a successful job: what made its files (the process, and the
/// wasm components it ran with the sha256 of the bytes run), from which inputs.
fn item(
    state: &Jobs,
    job: &Job,
    process: &Process,
    components: &[(String, String)],
    outputs: &Value,
) -> Value {
    let inputs = input_items(state, &Value::Object(job.inputs.clone()));
    let bbox = inputs
        .iter()
        .map(|item| {
            hysope_catalog::search::Entry::of(item)
                .ok()
                .and_then(|e| e.bbox)
        })
        .fold(None, union);
    let finished = rfc3339(job.finished.unwrap_or_else(now_ms));
    let started = rfc3339(job.started.unwrap_or(job.created));
    let mut assets = Map::new();
    let mut outputs = outputs.clone();
    let _ = hysope_engine::cwl::values::for_each_file(&mut outputs, &mut |map| {
        let location = map.get("location").and_then(Value::as_str).unwrap_or("");
        let key = Path::new(location)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(location)
            .to_string();
        let mut asset = json!({
            // Resolved against the server's origin when the item is served.
            "href": format!("/jobs/{}/files/{location}", job.id),
            "type": crate::documents::media_type(location),
            "roles": ["data"],
        });
        if let Some(size) = map.get("size") {
            asset["file:size"] = size.clone();
        }
        if let Some(sum) = map.get("checksum").and_then(Value::as_str) {
            if let Some(hex) = sum.strip_prefix("sha1$") {
                // A multihash: 0x11 (sha1), 0x14 (20 bytes), then the digest.
                asset["file:checksum"] = json!(format!("1114{hex}"));
            }
        }
        assets.insert(key, asset);
        Ok(())
    });
    let mut links: Vec<Value> = inputs
        .iter()
        .map(|i| {
            json!({
                "rel": "derived_from",
                "href": format!("./{}", i["id"].as_str().unwrap_or_default()),
                "type": "application/geo+json",
                "hysope:collection": i["collection"],
                "hysope:item": i["id"],
            })
        })
        .collect();
    links.push(json!({
        "rel": "via",
        "href": format!("/jobs/{}", job.id),
        "type": "application/json",
        "title": "the job that made this result",
    }));
    let software: Map<String, Value> =
        std::iter::once((format!("hysope:{}", process.id), json!(process.version)))
            .chain(std::iter::once((
                "hysope".to_string(),
                json!(env!("CARGO_PKG_VERSION")),
            )))
            .collect();
    let item = json!({
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [],
        "id": job.id,
        "collection": RESULTS,
        "geometry": bbox.map(bbox_polygon),
        "bbox": bbox,
        "properties": {
            "datetime": finished,
            "start_datetime": started,
            "end_datetime": finished,
            "title": format!("{} result of job {}", process.id, job.id),
            "processing:software": software,
            "processing:lineage": format!("process {} version {} run by Hysope on the inputs of job {}", process.id, process.version, job.id),
            "hysope:job_id": job.id,
            "hysope:process_id": process.id,
            "hysope:components": components.iter().map(|(name, sha)| json!({"component": name, "sha256": sha})).collect::<Vec<_>>(),
            "hysope:inputs": public_inputs(&Value::Object(job.inputs.clone())),
            "hysope:owner": job.owner,
            "hysope:rules": job.rule_chain,
        },
        "links": links,
        "assets": assets,
    });
    let mut item = item;
    if bbox.is_none() {
        if let Some(o) = item.as_object_mut() {
            o.remove("bbox");
        }
    }
    item
}
