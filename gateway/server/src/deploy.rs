//! OGC API - Processes - Part 2: deploying, replacing and undeploying processes
//! from CWL documents (`application/cwl`, `+yaml`, `+json`) or OGC application
//! packages (`application/ogcapppkg+json`) whose execution unit is CWL.
//!
//! A deployed document must be self-contained (no `$import`, `$include` or `run:`
//! file references: the server's files are not the deployer's) and every
//! `CommandLineTool` in it must run in the wasm sandbox (`hysope:WasmRequirement`):
//! a deployed process never runs a native command on the server. Deployed
//! documents are kept by the job system's [`Deployments`] (the data folder's
//! `processes/`, or beside a shared job store) and registered again at start.

use std::path::Path;

use hysope_engine::cwl;
use serde_json::Value;

use super::errors::{ApiError, Kind};
#[cfg(doc)]
use hysope_jobs::deployments::Deployments;
use hysope_jobs::deployments::{Deployment, version_of};
use hysope_jobs::processes::Process;

const CWL_TYPES: &[&str] = &[
    "application/cwl",
    "application/cwl+yaml",
    "application/cwl+json",
    "application/x-yaml",
    "application/yaml",
    "text/yaml",
];
const APPPKG: &str = "application/ogcapppkg+json";

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(Kind::InvalidBody, detail)
}

/// What a deploy asks of the rest of the server.
pub struct Checks<'a> {
    /// Resolves a registry reference to the digest it names now (`None`: not a
    /// registry reference).
    pub pin: &'a mut dyn FnMut(&str) -> Result<Option<String>, ApiError>,
    /// Whether this server can run a container image.
    pub images: &'a dyn Fn(&str) -> Result<(), String>,
}

/// Parses a deploy (or replace) request into a checked process. `w` selects a
/// workflow of a `$graph` document; `id` (replace) is the id the process must have;
/// the process belongs to `owner`.
pub fn parse(
    content_type: &str,
    body: &[u8],
    w: Option<&str>,
    id: Option<&str>,
    data_dir: &Path,
    owner: &str,
    checks: Checks<'_>,
) -> Result<(Process, Deployment), ApiError> {
    let Checks { pin, images } = checks;
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let text = std::str::from_utf8(body).map_err(|_| invalid("the request body is not UTF-8"))?;
    let (cwl_text, described_id) = if CWL_TYPES.contains(&media.as_str()) {
        (text.to_string(), None)
    } else if media == APPPKG {
        application_package(text)?
    } else {
        return Err(ApiError::new(
            Kind::UnsupportedMediaType,
            format!(
                "cannot deploy a {media:?} body; send application/cwl (+yaml, +json) or {APPPKG}"
            ),
        ));
    };
    let name = Path::new("deployed.cwl");
    let mut raw = cwl::load::parse_text(name, &cwl_text).map_err(|e| invalid(e.to_string()))?;
    self_contained(&raw, "#")?;
    // Registry references are pinned to the digest of what they name now.
    let mut cwl_text = cwl_text;
    if pin_components(&mut raw, pin, "#")? {
        cwl_text = serde_json::to_string_pretty(&raw)
            .map_err(|e| ApiError::new(Kind::Internal, e.to_string()))?;
    }
    let fragment = select(&raw, w)?;
    let selected = match (&raw.get("$graph"), &fragment) {
        (Some(Value::Array(graph)), Some(f)) => graph
            .iter()
            .find(|p| short(p.get("id")) == Some(f.as_str()))
            .cloned()
            .unwrap_or(Value::Null),
        _ => raw.clone(),
    };
    let process_id = id
        .map(str::to_string)
        .or(described_id)
        .or_else(|| w.map(str::to_string))
        .or_else(|| short(selected.get("id")).map(str::to_string))
        .ok_or_else(|| {
            invalid("the process needs an id: give the CWL process an `id`, or deploy with ?w=ID")
        })?;
    if process_id.is_empty()
        || !process_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || process_id.starts_with('.')
    {
        return Err(invalid(format!(
            "process id {process_id:?} must be letters, digits, '-', '_' or '.'"
        )));
    }
    // Check the document by loading it as it will be loaded at start.
    let staging =
        hysope_jobs::deployments::dir(data_dir).join(format!(".check-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&staging).map_err(|e| ApiError::new(Kind::Internal, e.to_string()))?;
    let path = staging.join(format!("{process_id}.cwl"));
    let loaded = cwl::load::load_text(&path, &cwl_text, fragment.as_deref());
    let _ = std::fs::remove_dir_all(&staging);
    let loaded = loaded.map_err(|e| {
        let text = e
            .to_string()
            .replace(&path.display().to_string(), "the deployed document");
        invalid(format!("invalid CWL: {text}"))
    })?;
    sandboxed(&loaded.process, false, None, "#", images)?;
    let deployment = Deployment {
        id: process_id.clone(),
        content_type: media,
        fragment,
        owner: Some(owner.to_string()),
        document: cwl_text.clone(),
        body: body.to_vec(),
    };
    let process = Process {
        id: process_id,
        version: version_of(&loaded.process),
        pins: hysope_jobs::processes::registry_pins(&loaded.process),
        cwl: loaded.process,
        source: cwl_text,
        path: hysope_jobs::deployments::dir(data_dir).join(format!("{}.cwl", deployment.id)),
        builtin: false,
        owner: Some(owner.to_string()),
    };
    Ok((process, deployment))
}

fn short(id: Option<&Value>) -> Option<&str> {
    let id = id?.as_str()?;
    Some(id.rsplit('#').next().unwrap_or(id).trim_start_matches('/'))
}

/// The CWL document of an application package, and the id its description gives.
fn application_package(text: &str) -> Result<(String, Option<String>), ApiError> {
    let pkg: Value = serde_json::from_str(text).map_err(|e| {
        invalid(format!(
            "the application package is not JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let described = pkg
        .pointer("/processDescription/process/id")
        .or_else(|| pkg.pointer("/processDescription/id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let unit = match pkg.get("executionUnit") {
        Some(Value::Array(units)) if units.len() == 1 => &units[0],
        Some(Value::Array(_)) => return Err(invalid("executionUnit must hold one CWL document")),
        Some(unit) => unit,
        None => return Err(invalid("the application package has no executionUnit")),
    };
    let unit = unit.get("unit").unwrap_or(unit);
    if let Some(value) = unit.get("value") {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Ok((text, described));
    }
    if let Some(href) = unit.get("href").and_then(Value::as_str) {
        return Err(invalid(format!(
            "executionUnit by href ({href}) is not fetched by this server; send the CWL by value (executionUnit.value with mediaType application/cwl+json)"
        )));
    }
    Err(invalid(
        "executionUnit needs a value (the CWL document) with mediaType application/cwl+json",
    ))
}

/// Rewrites each `hysope:WasmRequirement` whose `component` `pin` resolves (a
/// registry reference `namespace/name@version`, or a digest the registry holds)
/// to `sha256:HEX` of the component, keeping the reference as `registry`. True
/// when anything changed.
fn pin_components(
    value: &mut Value,
    pin: &mut dyn FnMut(&str) -> Result<Option<String>, ApiError>,
    at: &str,
) -> Result<bool, ApiError> {
    let mut changed = false;
    match value {
        Value::Object(map) => {
            let is_requirement =
                map.get("class").and_then(Value::as_str) == Some("hysope:WasmRequirement");
            if is_requirement {
                changed |= pin_one(map, pin, at)?;
            }
            if let Some(Value::Object(req)) = map.get_mut("hysope:WasmRequirement") {
                changed |= pin_one(req, pin, &format!("{at}/hysope:WasmRequirement"))?;
            }
            for (k, v) in map.iter_mut() {
                if k != "hysope:WasmRequirement" {
                    changed |= pin_components(v, pin, &format!("{at}/{k}"))?;
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                changed |= pin_components(v, pin, &format!("{at}/{i}"))?;
            }
        }
        _ => {}
    }
    Ok(changed)
}

fn pin_one(
    requirement: &mut serde_json::Map<String, Value>,
    pin: &mut dyn FnMut(&str) -> Result<Option<String>, ApiError>,
    at: &str,
) -> Result<bool, ApiError> {
    let Some(name) = requirement.get("component").and_then(Value::as_str) else {
        return Ok(false);
    };
    if requirement.contains_key("registry") {
        return Err(invalid(format!(
            "{at}/registry: set by the server when it pins a registry reference; name the plugin in component"
        )));
    }
    let name = name.to_string();
    match pin(&name).map_err(|e| ApiError::new(e.kind, format!("{at}/component: {}", e.detail)))? {
        Some(hex) => {
            requirement.insert("component".into(), Value::String(format!("sha256:{hex}")));
            requirement.insert("registry".into(), Value::String(name));
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Refuses references to files: `$import`, `$include`, and `run:` naming a file.
pub(crate) fn self_contained(value: &Value, at: &str) -> Result<(), ApiError> {
    match value {
        Value::Object(map) => {
            for key in ["$import", "$include", "$mixin"] {
                if map.contains_key(key) {
                    return Err(invalid(format!(
                        "{at}: {key} refers to a file; a deployed document must be self-contained (pack it with `cwltool --pack`)"
                    )));
                }
            }
            // Ontologies are read from where they are named: a deployed document
            // names web addresses only (the loader reads none of those).
            if let Some(Value::Array(schemas)) = map.get("$schemas") {
                for schema in schemas {
                    let text = schema.as_str().unwrap_or("");
                    if !(text.starts_with("http://") || text.starts_with("https://")) {
                        return Err(invalid(format!(
                            "{at}/$schemas: {schema} refers to a file; a deployed document must be self-contained"
                        )));
                    }
                }
            }
            // A File or Directory value (a default, a requirement's listing) names no
            // place: the server's files are not the deployer's, and a web address
            // in a document would be fetched past the egress policy. Literals
            // (`contents`, `listing` of literals) only.
            if matches!(
                map.get("class").and_then(Value::as_str),
                Some("File" | "Directory")
            ) {
                if let Some(key) = ["location", "path"]
                    .into_iter()
                    .find(|k| map.contains_key(*k))
                {
                    return Err(invalid(format!(
                        "{at}/{key}: a {} in a deployed document names a place ({}); give it as a literal (contents, or a listing of literals) or as an input of the request",
                        map["class"].as_str().unwrap_or("file"),
                        map[key]
                    )));
                }
            }
            if let Some(Value::String(run)) = map.get("run") {
                if !run.starts_with('#') {
                    return Err(invalid(format!(
                        "{at}/run: {run:?} refers to a file; a deployed document must be self-contained (pack it with `cwltool --pack`)"
                    )));
                }
            }
            for (k, v) in map {
                self_contained(v, &format!("{at}/{k}"))?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| self_contained(v, &format!("{at}/{i}"))),
        _ => Ok(()),
    }
}

/// The `$graph` entry to deploy: `w` if given (it must exist), else `main`, else the
/// first process.
fn select(raw: &Value, w: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(Value::Array(graph)) = raw.get("$graph") else {
        if let Some(w) = w {
            let id = short(raw.get("id"));
            if id != Some(w) {
                return Err(ApiError::new(
                    Kind::WorkflowNotFound,
                    format!("the document has no workflow {w:?} (its process id is {id:?})"),
                ));
            }
        }
        return Ok(None);
    };
    let ids: Vec<&str> = graph.iter().filter_map(|p| short(p.get("id"))).collect();
    match w {
        Some(w) if ids.contains(&w) => Ok(Some(w.to_string())),
        Some(w) => Err(ApiError::new(
            Kind::WorkflowNotFound,
            format!(
                "the document has no workflow {w:?} (its $graph has {})",
                ids.join(", ")
            ),
        )),
        None if ids.contains(&"main") => Ok(Some("main".into())),
        None => ids
            .first()
            .map(|s| Some(s.to_string()))
            .ok_or_else(|| invalid("the $graph holds no process with an id")),
    }
}

/// Refuses a `CommandLineTool` that would run natively: a deployed tool runs in
/// the wasm sandbox, or in a container (`DockerRequirement`, a requirement or a
/// hint, of its own or its workflow's) whose image this server can run.
fn sandboxed(
    process: &Value,
    inherited: bool,
    inherited_image: Option<&str>,
    at: &str,
    images: &dyn Fn(&str) -> Result<(), String>,
) -> Result<(), ApiError> {
    let has = |key: &str| {
        cwl::tool::find_req(cwl::values::items(process, key), "hysope:WasmRequirement").is_some()
    };
    let image_of = |key: &str| {
        cwl::tool::find_req(cwl::values::items(process, key), "DockerRequirement")
            .and_then(|d| d.get("dockerPull").or_else(|| d.get("dockerImageId")))
            .and_then(Value::as_str)
    };
    let image = image_of("requirements")
        .or_else(|| image_of("hints"))
        .or(inherited_image);
    let wasm_required = inherited || has("requirements");
    match process.get("class").and_then(Value::as_str) {
        Some("CommandLineTool") if !(wasm_required || has("hints")) => match image {
            Some(image) => images(image)
                .map_err(|e| invalid(format!("{at}/requirements/DockerRequirement: {e}"))),
            None => Err(invalid(format!(
                "{at}: this CommandLineTool would run a native command ({}); a deployed process must run its tools in the wasm sandbox (requirements: hysope:WasmRequirement) or in a container (DockerRequirement, on a server with a container runtime)",
                process
                    .get("baseCommand")
                    .map(|b| b.to_string())
                    .unwrap_or_else(|| "no baseCommand".into())
            ))),
        },
        Some("Workflow") => {
            for step in cwl::values::items(process, "steps") {
                let id = step.get("id").and_then(Value::as_str).unwrap_or("?");
                if let Some(run) = step.get("run") {
                    sandboxed(
                        run,
                        wasm_required,
                        image,
                        &format!("{at}/steps/{id}/run"),
                        images,
                    )?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
