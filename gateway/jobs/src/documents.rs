//! The OGC API - Processes documents of a job (its `statusInfo`, its results
//! document), shared by the HTTP API and the callbacks to subscribers.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::{Job, Status, rfc3339};

/// A link object.
pub fn link(href: String, rel: &str, ty: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": ty, "title": title})
}

/// statusInfo of a job.
pub fn status_info(job: &Job, base: &str) -> Value {
    let mut links = vec![
        link(
            format!("{base}/jobs/{}", job.id),
            "self",
            "application/json",
            "job status",
        ),
        link(
            format!("{base}/jobs/{}?f=html", job.id),
            "alternate",
            "text/html",
            "job status as HTML",
        ),
        link(
            format!("{base}/processes/{}", job.process_id),
            "up",
            "application/json",
            "the process",
        ),
    ];
    if job.status == Status::Successful {
        links.push(link(
            format!("{base}/jobs/{}/results", job.id),
            "http://www.opengis.net/def/rel/ogc/1.0/results",
            "application/json",
            "results",
        ));
    }
    let mut s = json!({
        "jobID": job.id,
        "processID": job.process_id,
        "type": "process",
        "status": job.status.as_str(),
        "message": job.message,
        "created": rfc3339(job.created),
        "updated": rfc3339(job.updated),
        "progress": job.progress,
        "links": links,
    });
    if let Some(t) = job.started {
        s["started"] = json!(rfc3339(t));
    }
    if let Some(t) = job.finished {
        s["finished"] = json!(rfc3339(t));
    }
    // Whose job it is: its owner and operators see it (and its callbacks say it).
    if let Some(owner) = &job.owner {
        s["hysope:owner"] = json!(owner);
    }
    // The production rule that made it (operators may follow the link).
    if let Some(rule) = &job.rule {
        s["hysope:rule"] = json!(rule);
        if let Some(links) = s["links"].as_array_mut() {
            links.push(link(
                format!("{base}/rules/{rule}"),
                "via",
                "application/json",
                "the production rule that made it",
            ));
        }
    }
    s
}

/// The results document of a successful job: the requested outputs, files as links.
pub fn results_document(job: &Job, base: &str) -> Value {
    let doc = requested_results(job)
        .map(|(name, value, _)| (name.clone(), result_value(value.clone(), job, base)))
        .collect();
    Value::Object(doc)
}

/// The job's results that its execute request asked for (all when it named none),
/// each with the options the request gave it.
pub fn requested_results(job: &Job) -> impl Iterator<Item = (&String, &Value, Option<&Value>)> {
    let wanted = job.outputs.as_ref().and_then(Value::as_object);
    job.results
        .as_ref()
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(move |(name, value)| match wanted {
            Some(w) => w.get(name).map(|options| (name, value, Some(options))),
            None => Some((name, value, None)),
        })
}

/// An output value in a results document: files become links.
pub fn result_value(mut value: Value, job: &Job, base: &str) -> Value {
    // Every File or Directory (at any depth) becomes a link object.
    let _ = hysope_engine::cwl::values::for_each_file(&mut value, &mut |map| {
        let location = map.get("location").and_then(Value::as_str).unwrap_or("");
        let mut link = Map::new();
        link.insert("href".into(), json!(file_href(job, base, location)));
        link.insert("type".into(), json!(media_type(location)));
        for key in ["size", "checksum"] {
            if let Some(v) = map.get(key) {
                link.insert(key.into(), v.clone());
            }
        }
        *map = link;
        Ok(())
    });
    value
}

/// The media type of a result file, by its extension.
pub fn media_type(path: &str) -> &'static str {
    match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("geojson") => "application/geo+json",
        Some("csv") => "text/csv",
        Some("txt" | "log") => "text/plain",
        Some("nc") => "application/x-netcdf",
        Some("zip") => "application/zip",
        Some("html") => "text/html",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// Where a result file is served.
pub fn file_href(job: &Job, base: &str, location: &str) -> String {
    format!("{base}/jobs/{}/files/{location}", job.id)
}
