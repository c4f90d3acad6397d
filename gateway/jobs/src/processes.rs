//! Processes: CWL documents registered at start (the bundled plugins) and their
//! OGC process descriptions, and the translation of an execute request's inputs
//! into a CWL job, checked against the process before a job is created.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use hysope_engine::cwl::{self, values};
use serde_json::{Map, Value, json};

use crate::{Error, RequestFault};

/// Where the files of a request may be: the input roots, the places the egress
/// policy lets the server reach, and the catalogue's own files named by their
/// download routes (already looked up: route as given -> the file's `file://` or
/// `s3://` source).
pub struct Places<'a> {
    /// Folders whose files a caller may name by `file://` or path.
    pub roots: &'a [PathBuf],
    /// The egress policy, for inputs by URL.
    pub egress: &'a crate::egress::Egress,
    /// The catalogue's files the request names (see [`CatalogFiles`]).
    pub catalog: &'a CatalogFiles,
}

/// The catalogue's files an execute request names by their download route
/// (`/stac/collections/{c}/items/{i}/assets/{k}`, relative or under the server's
/// URL, as an item's asset links them): the href as given -> where the file is.
/// A file the catalogue took in is the server's own, so its source is used as it
/// is, inside the input roots or not.
#[derive(Debug, Default, Clone)]
pub struct CatalogFiles(pub HashMap<String, String>);

/// Every string a request's inputs give as a `location`, `path` or `href` (at any
/// depth), with the input it belongs to, for [`CatalogFiles`] to look up.
pub fn named_places(inputs: Option<&Value>) -> Vec<(String, String)> {
    fn walk(input: &str, value: &Value, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("location" | "path" | "href", Value::String(s)) => {
                            out.push((input.to_string(), s.clone()))
                        }
                        _ => walk(input, v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(input, v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(Value::Object(map)) = inputs {
        for (input, value) in map {
            walk(input, value, &mut out);
        }
    }
    out
}

/// One deployable process: a loaded CWL document.
#[derive(Debug, Clone)]
pub struct Process {
    /// Process id (the document's file stem, or its `id`).
    pub id: String,
    /// Version shown in descriptions.
    pub version: String,
    /// The normalised CWL process.
    pub cwl: Value,
    /// The document as deployed (its text), for `/processes/{id}/package`.
    pub source: String,
    /// The file it came from.
    pub path: PathBuf,
    /// Bundled with the server (cannot be replaced or undeployed).
    pub builtin: bool,
    /// Who deployed it (`None` for a built-in process, or one deployed before
    /// identities existed: operators' only to replace or undeploy).
    pub owner: Option<String>,
    /// The components (sha256 hex) its document pins from the plugin registry
    /// (see [`registry_pins`]), found once when it is loaded.
    pub pins: Vec<String>,
}

/// The components (sha256 hex) a normalised CWL document pins from the plugin
/// registry: each `hysope:WasmRequirement` (requirement or hint, at any depth)
/// that a deploy resolved keeps the reference as `registry` and names the
/// component `sha256:HEX`.
pub fn registry_pins(cwl: &Value) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                let requirement =
                    map.get("class").and_then(Value::as_str) == Some("hysope:WasmRequirement");
                if requirement && map.contains_key("registry") {
                    if let Some(hex) = map
                        .get("component")
                        .and_then(Value::as_str)
                        .and_then(|c| c.strip_prefix("sha256:"))
                    {
                        if !out.iter().any(|h| h == hex) {
                            out.push(hex.to_string());
                        }
                    }
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(cwl, &mut out);
    out
}

impl Process {
    /// Loads a CWL file as a process.
    pub fn load(path: &Path, builtin: bool) -> anyhow::Result<Process> {
        let loaded = cwl::load(&path.display().to_string())?;
        let source = std::fs::read_to_string(path)?;
        // Bundled: the document's own `id` (after any `#`), else the file's name, so
        // that two files named alike (a plugin and the workflow built on it) stay two
        // processes. Deployed: the file is named after the id the deployment chose.
        let own_id = builtin
            .then(|| loaded.process.get("id"))
            .flatten()
            .and_then(Value::as_str)
            .map(|id| id.rsplit(['#', '/']).next().unwrap_or(id))
            .filter(|id| {
                !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        let id = own_id
            .or_else(|| path.file_stem().and_then(|s| s.to_str()))
            .unwrap_or("process")
            .to_string();
        let version = loaded
            .process
            .get("s:softwareVersion")
            .or_else(|| loaded.process.get("https://schema.org/softwareVersion"))
            .and_then(Value::as_str)
            .unwrap_or("1.0.0")
            .to_string();
        Ok(Process {
            id,
            version,
            pins: registry_pins(&loaded.process),
            cwl: loaded.process,
            source,
            path: path.to_path_buf(),
            builtin,
            owner: None,
        })
    }

    fn text(&self, key: &str) -> Option<String> {
        match self.cwl.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Array(lines) => Some(
                lines
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => None,
        }
    }

    /// The process summary of `/processes`.
    pub fn summary(&self, base: &str) -> Value {
        let mut s = json!({
            "id": self.id,
            "title": self.text("label").unwrap_or_else(|| self.id.clone()),
            "version": self.version,
            "jobControlOptions": ["sync-execute", "async-execute", "dismiss"],
            "mutable": !self.builtin,
            "outputTransmission": ["value", "reference"],
            "links": [
                {"href": format!("{base}/processes/{}", self.id), "rel": "self",
                 "type": "application/json", "title": "process description"},
                {"href": format!("{base}/processes/{}?f=html", self.id), "rel": "alternate",
                 "type": "text/html", "title": "process description as HTML"},
                {"href": format!("{base}/processes/{}/execution", self.id),
                 "rel": "http://www.opengis.net/def/rel/ogc/1.0/execute",
                 "type": "application/json", "title": "execute"},
                {"href": format!("{base}/processes/{}/package", self.id),
                 "rel": "http://www.opengis.net/def/rel/ogc/1.0/application-package",
                 "type": "application/cwl+json", "title": "CWL document"},
            ],
        });
        if let Some(doc) = self.text("doc") {
            s["description"] = json!(doc);
        }
        s
    }

    /// The full process description of `/processes/{id}`.
    pub fn description(&self, base: &str) -> Value {
        let mut d = self.summary(base);
        let mut inputs = Map::new();
        for input in cwl::inputs_of(&self.cwl) {
            let Some(id) = input.get("id").and_then(Value::as_str) else {
                continue;
            };
            let ty = input.get("type").unwrap_or(&Value::Null);
            let optional = is_optional(ty) || input.get("default").is_some();
            let mut entry = param_description(input, id, ty);
            entry["minOccurs"] = json!(if optional { 0 } else { 1 });
            entry["maxOccurs"] = json!(1);
            if let Some(default) = input.get("default") {
                entry["schema"]["default"] = default.clone();
            }
            inputs.insert(id.to_string(), entry);
        }
        let mut outputs = Map::new();
        for output in values::items(&self.cwl, "outputs") {
            let Some(id) = output.get("id").and_then(Value::as_str) else {
                continue;
            };
            let ty = output.get("type").unwrap_or(&Value::Null);
            outputs.insert(id.to_string(), param_description(output, id, ty));
        }
        d["inputs"] = Value::Object(inputs);
        d["outputs"] = Value::Object(outputs);
        d
    }

    /// Translates the `inputs` of an execute request into a CWL job, checking each
    /// against the process: unknown ids, missing required inputs and values of the
    /// wrong type are refused, naming the input. File inputs come by `href`
    /// (`file://` or a path under one of the roots, a URL, or a file of the
    /// catalogue by its download route: see [`Places`]).
    pub fn job_from_request(
        &self,
        inputs: Option<&Value>,
        places: &Places<'_>,
    ) -> Result<Map<String, Value>, Error> {
        let egress = places.egress;
        let given = match inputs {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(Error::request(
                    RequestFault::InvalidBody,
                    "\"inputs\" must be an object of input id to value",
                ));
            }
        };
        let declared = cwl::inputs_of(&self.cwl);
        for key in given.keys() {
            if !declared
                .iter()
                .any(|i| i.get("id").and_then(Value::as_str) == Some(key))
            {
                let known = values::ids(&self.cwl, "inputs");
                return Err(Error::request(
                    RequestFault::InvalidParameterValue,
                    format!(
                        "process {} has no input {key:?} (inputs: {})",
                        self.id,
                        known.join(", ")
                    ),
                ));
            }
        }
        // Values given are checked first, then what is missing.
        let mut job = Map::new();
        for input in declared {
            let Some(id) = input.get("id").and_then(Value::as_str) else {
                continue;
            };
            let ty = input.get("type").unwrap_or(&Value::Null);
            let Some(v) = given.get(id).filter(|v| !v.is_null()) else {
                continue;
            };
            let mut value = to_cwl(v, ty);
            confine(&mut value, places).map_err(|m| {
                Error::request(
                    RequestFault::InvalidParameterValue,
                    format!("input {id:?}: {m}"),
                )
            })?;
            if !values::matches_type(&value, ty) {
                return Err(Error::request(
                    RequestFault::InvalidParameterValue,
                    format!(
                        "input {id:?}: {} is not a valid {}",
                        short_json(v),
                        type_name(ty)
                    ),
                ));
            }
            job.insert(id.to_string(), value);
        }
        let mut remote = 0usize;
        for value in job.values_mut() {
            values::for_each_file(value, &mut |map| {
                let location = map.get("location").and_then(Value::as_str).unwrap_or("");
                remote += usize::from(crate::fetch::is_remote(location));
                Ok(())
            })
            .ok();
        }
        if remote > egress.policy().max_inputs {
            return Err(Error::request(
                RequestFault::InvalidParameterValue,
                format!(
                    "{remote} inputs by URL; a job may have {} at most",
                    egress.policy().max_inputs
                ),
            ));
        }
        for input in declared {
            let Some(id) = input.get("id").and_then(Value::as_str) else {
                continue;
            };
            let ty = input.get("type").unwrap_or(&Value::Null);
            if !job.contains_key(id) && !is_optional(ty) && input.get("default").is_none() {
                return Err(Error::request(
                    RequestFault::MissingInput,
                    format!("input {id:?} is required by process {}", self.id),
                ));
            }
        }
        Ok(job)
    }
}

fn short_json(v: &Value) -> String {
    let text = v.to_string();
    if text.len() <= 80 {
        return text;
    }
    let mut end = 77;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// CWL type in the words of its documents (`int`, `File`, `string[]`, `int?`).
pub fn type_name(ty: &Value) -> String {
    match ty {
        Value::String(s) => s.clone(),
        Value::Array(options) => {
            let named: Vec<String> = options
                .iter()
                .filter(|o| o.as_str() != Some("null"))
                .map(type_name)
                .collect();
            let text = named.join(" or ");
            if options.iter().any(|o| o.as_str() == Some("null")) {
                format!("{text} (optional)")
            } else {
                text
            }
        }
        Value::Object(m) => match m.get("type").and_then(Value::as_str) {
            Some("array") => format!("{}[]", type_name(m.get("items").unwrap_or(&Value::Null))),
            Some("enum") => format!("one of {}", enum_symbols(ty).join(", ")),
            Some(other) => other.to_string(),
            None => "value".into(),
        },
        _ => "value".into(),
    }
}

/// The symbols of an enum type, without their document prefixes.
fn enum_symbols(ty: &Value) -> Vec<&str> {
    values::items(ty, "symbols")
        .iter()
        .filter_map(Value::as_str)
        .map(|s| s.rsplit(['#', '/']).next().unwrap_or(s))
        .collect()
}

fn is_optional(ty: &Value) -> bool {
    ty.as_array()
        .is_some_and(|o| o.iter().any(|t| t.as_str() == Some("null")))
}

fn param_description(param: &Value, id: &str, ty: &Value) -> Value {
    let mut entry = json!({
        "title": param.get("label").and_then(Value::as_str).unwrap_or(id),
        "schema": schema_of(ty),
    });
    if let Some(doc) = param.get("doc").and_then(Value::as_str) {
        entry["description"] = json!(doc);
    }
    entry
}

/// JSON Schema of a (normalised) CWL type.
pub fn schema_of(ty: &Value) -> Value {
    match ty {
        Value::String(name) => match name.as_str() {
            "string" => json!({"type": "string"}),
            "int" | "long" => json!({"type": "integer"}),
            "float" | "double" => json!({"type": "number"}),
            "boolean" => json!({"type": "boolean"}),
            "File" => json!({
                "type": "string", "format": "uri",
                "contentMediaType": "application/octet-stream",
                "description": "a file, given by href",
            }),
            "Directory" => json!({"type": "string", "format": "uri",
                "description": "a directory, given by href"}),
            "null" => json!({"type": "null"}),
            _ => json!({}),
        },
        Value::Array(options) => {
            let non_null: Vec<&Value> = options
                .iter()
                .filter(|o| o.as_str() != Some("null"))
                .collect();
            match non_null.as_slice() {
                [one] => {
                    let mut s = schema_of(one);
                    if non_null.len() < options.len() {
                        s["nullable"] = json!(true);
                    }
                    s
                }
                many => json!({"oneOf": many.iter().map(|t| schema_of(t)).collect::<Vec<_>>()}),
            }
        }
        Value::Object(m) => match m.get("type").and_then(Value::as_str) {
            Some("array") => json!({
                "type": "array",
                "items": schema_of(m.get("items").unwrap_or(&Value::Null)),
            }),
            Some("enum") => json!({"type": "string", "enum": enum_symbols(ty)}),
            Some("record") => {
                let mut properties = Map::new();
                let mut required = Vec::new();
                for f in values::items(ty, "fields") {
                    let name = f.get("name").and_then(Value::as_str).unwrap_or("");
                    let fty = f.get("type").unwrap_or(&Value::Null);
                    properties.insert(name.to_string(), schema_of(fty));
                    if !is_optional(fty) {
                        required.push(json!(name));
                    }
                }
                json!({"type": "object", "properties": properties, "required": required})
            }
            _ => json!({}),
        },
        _ => json!({}),
    }
}

/// One request value as a CWL value of type `ty`: `{"value": x}` is x; a File or
/// Directory is an `{"href": ...}` object or a URI string.
fn to_cwl(v: &Value, ty: &Value) -> Value {
    if let Some(inner) = v.as_object().and_then(|m| m.get("value")) {
        if v.as_object()
            .is_some_and(|m| m.len() <= 2 && !m.contains_key("href"))
        {
            return to_cwl(inner, ty);
        }
    }
    let wants = |class: &str| type_accepts(ty, class);
    let class = if wants("File") {
        Some("File")
    } else if wants("Directory") {
        Some("Directory")
    } else {
        None
    };
    if let Some(class) = class {
        let href = match v {
            Value::String(s) => Some(s.as_str()),
            Value::Object(m) => m.get("href").and_then(Value::as_str),
            _ => None,
        };
        // Checked and resolved by `confine`, as any File of the request.
        if let Some(href) = href {
            return json!({"class": class, "href": href});
        }
    }
    if let (Value::Array(items), Some(item_ty)) = (v, array_items(ty)) {
        return Value::Array(items.iter().map(|i| to_cwl(i, item_ty)).collect());
    }
    v.clone()
}

fn array_items(ty: &Value) -> Option<&Value> {
    match ty {
        Value::Object(m) if m.get("type").and_then(Value::as_str) == Some("array") => {
            m.get("items")
        }
        Value::Array(options) => options.iter().find_map(array_items),
        _ => None,
    }
}

fn type_accepts(ty: &Value, class: &str) -> bool {
    match ty {
        Value::String(s) => s == class,
        Value::Array(options) => options.iter().any(|o| type_accepts(o, class)),
        _ => false,
    }
}

/// Every File and Directory of a request's value, wherever it is (an input, a
/// record's field, an array, an `Any`, a secondary file, a listing entry), is
/// confined: its `location` (or `path`, or `href`) is a remote URL the worker
/// fetches or a file under one of `roots` (resolved, links followed), rewritten
/// as the resolved `file://` URI; its `basename` is one path component; the names
/// the engine derives (`dirname`, `nameroot`, `nameext`) are its own to fill. A
/// File literal (`contents`, no location) and a Directory literal (`listing`, no
/// location) stay literals, their names checked.
fn confine(value: &mut Value, places: &Places<'_>) -> Result<(), String> {
    let mut refused = None;
    let walked = values::for_each_file(value, &mut |map| {
        confine_file(map, places).map_err(|why| {
            refused = Some(why);
            hysope_engine::Error::Setup(String::new())
        })
    });
    match (walked, refused) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(why)) => Err(why),
        (Err(e), None) => Err(e.to_string()),
    }
}

/// [`confine`] of one File or Directory object (its secondary files and listing
/// too).
fn confine_file(map: &mut Map<String, Value>, places: &Places<'_>) -> Result<(), String> {
    let given = ["location", "path", "href"]
        .into_iter()
        .filter_map(|key| map.get(key).map(|v| (key, v)))
        .map(|(key, v)| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{key} must be a string"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for key in ["location", "path", "href", "dirname", "nameroot", "nameext"] {
        map.remove(key);
    }
    if let [first, rest @ ..] = given.as_slice() {
        if rest.iter().any(|other| other != first) {
            return Err(format!(
                "a {} names two places ({first} and {})",
                map["class"].as_str().unwrap_or("file"),
                rest[0]
            ));
        }
        let location = if let Some(source) = places.catalog.0.get(first) {
            // The catalogue's file: where it took it from (a bucket still passes
            // the egress policy, as its download does).
            if source.starts_with("s3://") {
                places.egress.check(source)?;
            }
            source.clone()
        } else if crate::fetch::is_remote(first) {
            crate::fetch::check(first)?;
            places.egress.check(first)?;
            first.clone()
        } else {
            values::file_uri(&local_path(first, places.roots)?)
        };
        map.insert("location".into(), Value::String(location));
    } else if !map.contains_key("contents") && !map.contains_key("listing") {
        return Err(format!(
            "a {} needs a location (or href), or is a literal (contents, listing)",
            map["class"].as_str().unwrap_or("file")
        ));
    }
    if let Some(name) = map.get("basename") {
        let name = name.as_str().ok_or("basename must be a string")?;
        values::check_name(name, "basename").map_err(|e| e.to_string())?;
    }
    for key in ["secondaryFiles", "listing"] {
        match map.get_mut(key) {
            None => {}
            Some(Value::Array(items)) => {
                for item in items.iter_mut() {
                    if !matches!(
                        item.get("class").and_then(Value::as_str),
                        Some("File" | "Directory")
                    ) {
                        return Err(format!("{key} holds Files and Directories only"));
                    }
                    confine(item, places)?;
                }
            }
            Some(_) => return Err(format!("{key} must be a list")),
        }
    }
    Ok(())
}

/// The local file an href (a `file://` URI, percent-encoded, or a plain path)
/// names, resolved, if it lies under one of `roots`.
pub(crate) fn local_path(href: &str, roots: &[PathBuf]) -> Result<PathBuf, String> {
    let raw = if href.starts_with("file://") {
        values::path_of(&json!({ "location": href }))
            .ok_or_else(|| format!("href {href} names no file"))?
    } else if href.contains("://") {
        let scheme = href.split("://").next().unwrap_or("");
        return Err(format!(
            "href scheme {scheme}:// is not supported (http://, https://, s3://, or file:// under an allowed input root)"
        ));
    } else {
        PathBuf::from(href)
    };
    if !raw.is_absolute() {
        return Err(format!("href {href} is not an absolute path"));
    }
    let path = std::fs::canonicalize(&raw).map_err(|e| format!("href {href}: {e}"))?;
    if roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .any(|r| path.starts_with(&r))
    {
        Ok(path)
    } else {
        // The roots themselves are the server's business: not told.
        Err(format!("href {href} is outside the allowed input roots"))
    }
}

/// The processes the server knows.
#[derive(Debug, Default)]
pub struct Registry {
    /// Shared with the requests and jobs that use them (a lookup copies no CWL).
    processes: BTreeMap<String, std::sync::Arc<Process>>,
    /// Rendered JSON `/processes` pages by base URL, limit and offset: the list only
    /// changes when a process is added or removed, which empties it.
    listings: std::sync::Mutex<std::collections::HashMap<(String, usize, usize), String>>,
}

impl Registry {
    /// Registers every CWL document found in `dirs` (recursively, `*.cwl`).
    pub fn scan(dirs: &[PathBuf]) -> anyhow::Result<Registry> {
        let mut registry = Registry::default();
        for dir in dirs {
            let mut files = Vec::new();
            collect_cwl(dir, &mut files)?;
            files.sort();
            for file in files {
                match Process::load(&file, true) {
                    Ok(p) => {
                        if let Some(first) = registry.processes.get(&p.id) {
                            tracing::error!(
                                file = %file.display(),
                                "not registered: the process id {} is already {}'s",
                                p.id,
                                first.path.display()
                            );
                            continue;
                        }
                        registry
                            .processes
                            .insert(p.id.clone(), std::sync::Arc::new(p));
                    }
                    Err(e) => {
                        tracing::warn!(file = %file.display(), error = format!("{e:#}"), "process not registered")
                    }
                }
            }
        }
        Ok(registry)
    }

    /// A process by id.
    pub fn get(&self, id: &str) -> Option<&std::sync::Arc<Process>> {
        self.processes.get(id)
    }

    /// Every process, by id.
    pub fn all(&self) -> impl Iterator<Item = &Process> {
        self.processes.values().map(|p| p.as_ref())
    }

    /// Adds or replaces a process.
    pub fn insert(&mut self, process: Process) {
        self.processes
            .insert(process.id.clone(), std::sync::Arc::new(process));
        self.forget_listings();
    }

    /// Removes a process.
    pub fn remove(&mut self, id: &str) -> Option<std::sync::Arc<Process>> {
        let removed = self.processes.remove(id);
        self.forget_listings();
        removed
    }

    fn forget_listings(&mut self) {
        if let Ok(listings) = self.listings.get_mut() {
            listings.clear();
        }
    }

    /// The rendered JSON listing for (base, limit, offset), made by `render` the first time.
    pub fn listing(&self, key: (String, usize, usize), render: impl FnOnce() -> String) -> String {
        if let Some(text) = self.listings.lock().ok().and_then(|l| l.get(&key).cloned()) {
            return text;
        }
        let text = render();
        if let Ok(mut listings) = self.listings.lock() {
            // Base URLs come from the Host header: keep the map small whatever clients send.
            if listings.len() >= 64 {
                listings.clear();
            }
            listings.insert(key, text.clone());
        }
        text
    }
}

fn collect_cwl(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read the plugin folder {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == "src")
            {
                continue;
            }
            collect_cwl(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "cwl") {
            out.push(path);
        }
    }
    Ok(())
}
