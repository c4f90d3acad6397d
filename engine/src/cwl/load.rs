//! Loading CWL documents: YAML or JSON, `$import`, `$include`, `$graph` with
//! `#fragment`, `run:` references, and normalisation into one shape the runner and
//! the validator work on:
//!
//! - `inputs`, `outputs`, `steps`, step `in`/`out`, record `fields`: lists of
//!   mappings with a short `id` (or `name`), whatever form the document used;
//! - `requirements` and `hints`: lists of mappings with a `class`;
//! - types: `X?` and `X[]` expanded, named schema types (`SchemaDefRequirement`)
//!   inlined, ids without their `#process/` prefixes;
//! - `run:` replaced by the loaded process, `source`/`outputSource`/`scatter` as lists;
//! - `File`/`Directory` defaults with absolute `location`s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::{Error, Result};

/// A loaded, normalised process and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The normalised process.
    pub process: Value,
    /// The file it was loaded from.
    pub path: PathBuf,
}

/// Reads a YAML or JSON file into JSON, with the line and column of a syntax error.
pub fn read_value(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_text(path, &text)
}

/// Parses YAML or JSON text; `path` names it in errors.
pub fn parse_text(path: &Path, text: &str) -> Result<Value> {
    serde_yaml::from_str::<Value>(text).map_err(|e| {
        let at = match e.location() {
            Some(l) => format!("{}:{}:{}", path.display(), l.line(), l.column()),
            None => path.display().to_string(),
        };
        Error::cwl(at, format!("not valid YAML: {e}"))
    })
}

/// Loads `reference` (`path` or `path#fragment`) and normalises it.
pub fn load(reference: &str) -> Result<Loaded> {
    let (file, fragment) = match reference.rsplit_once('#') {
        Some((file, fragment)) if !file.is_empty() => (file, Some(fragment)),
        _ => (reference, None),
    };
    let file = file.strip_prefix("file://").unwrap_or(file);
    let path = std::fs::canonicalize(file).map_err(|e| Error::io(file, e))?;
    let mut loader = Loader::default();
    let mut process = loader.load_file(&path, fragment)?;
    if let Value::Object(m) = &mut process {
        m.insert("$path".into(), Value::String(path.display().to_string()));
    }
    super::validate::validate(&process, &format!("{}#", path.display()))?;
    Ok(Loaded { process, path })
}

/// Loads a document from text (a deployed process), resolving relative references against `base`.
pub fn load_text(base: &Path, text: &str, fragment: Option<&str>) -> Result<Loaded> {
    let mut loader = Loader::default();
    let raw = parse_text(base, text)?;
    let dir = base.parent().map(Path::to_path_buf).unwrap_or_default();
    let raw = resolve_directives(raw, &dir)?;
    let process = loader.select_and_normalise(base, raw, fragment)?;
    super::validate::validate(&process, &format!("{}#", base.display()))?;
    Ok(Loaded {
        process,
        path: base.to_path_buf(),
    })
}

#[derive(Default)]
struct Loader {
    /// Files being loaded, to refuse a `run:` cycle.
    stack: Vec<PathBuf>,
    /// Processes of `$graph` documents by file, for `run: "#id"` references.
    graphs: HashMap<PathBuf, Vec<Value>>,
}

/// Resolves `$import` (replaced by the loaded document) and `$include` (by the file's text).
fn resolve_directives(value: Value, dir: &Path) -> Result<Value> {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$import") {
                let path = dir.join(target.strip_prefix("file://").unwrap_or(target));
                let imported = read_value(&path)?;
                let sub = path.parent().map(Path::to_path_buf).unwrap_or_default();
                return resolve_directives(imported, &sub);
            }
            if let Some(Value::String(target)) = map.get("$include") {
                let path = dir.join(target.strip_prefix("file://").unwrap_or(target));
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                return Ok(Value::String(text));
            }
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k, resolve_directives(v, dir)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => Ok(Value::Array(
            items
                .into_iter()
                .map(|v| resolve_directives(v, dir))
                .collect::<Result<_>>()?,
        )),
        other => Ok(other),
    }
}

/// The short form of an id: without `#`, without the file and process prefixes.
pub fn short_id(id: &str) -> String {
    let id = id.rsplit('#').next().unwrap_or(id);
    id.rsplit('/').next().unwrap_or(id).to_string()
}

/// A source reference relative to its workflow: `#main/step/out` -> `step/out`, `#main/x` -> `x`.
pub fn short_source(source: &str, process_id: Option<&str>) -> String {
    let mut s = source.rsplit('#').next().unwrap_or(source).to_string();
    if let Some(pid) = process_id {
        let prefix = format!("{}/", pid.trim_start_matches('#'));
        if let Some(rest) = s.strip_prefix(&prefix) {
            s = rest.to_string();
        }
    }
    // Keep at most `step/out`.
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() > 2 {
        parts[parts.len() - 2..].join("/")
    } else {
        s
    }
}

impl Loader {
    fn load_file(&mut self, path: &Path, fragment: Option<&str>) -> Result<Value> {
        if self.stack.iter().any(|p| p == path) {
            return Err(Error::cwl(
                path.display().to_string(),
                "run: references form a cycle",
            ));
        }
        let raw = read_value(path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let raw = resolve_directives(raw, &dir)?;
        self.stack.push(path.to_path_buf());
        let result = self.select_and_normalise(path, raw, fragment);
        self.stack.pop();
        result
    }

    fn select_and_normalise(
        &mut self,
        path: &Path,
        raw: Value,
        fragment: Option<&str>,
    ) -> Result<Value> {
        let at = path.display().to_string();
        let Value::Object(mut doc) = raw else {
            return Err(Error::cwl(at, "a CWL document must be a mapping"));
        };
        let version = doc.get("cwlVersion").cloned();
        let namespaces = doc.get("$namespaces").cloned();
        let schemas = doc.get("$schemas").cloned();
        let process = if let Some(graph) = doc.remove("$graph") {
            let Value::Array(graph) = graph else {
                return Err(Error::cwl(format!("{at}#/$graph"), "$graph must be a list"));
            };
            self.graphs.insert(path.to_path_buf(), graph.clone());
            let wanted = fragment.unwrap_or("main");
            let found = graph.iter().find(|p| {
                p.get("id")
                    .and_then(Value::as_str)
                    .map(|id| id.trim_start_matches('#'))
                    == Some(wanted)
            });
            let found = match (found, fragment) {
                (Some(p), _) => p.clone(),
                (None, None) if graph.len() == 1 => graph[0].clone(),
                _ => {
                    return Err(Error::cwl(
                        format!("{at}#{wanted}"),
                        format!("no process with id {wanted:?} in $graph"),
                    ));
                }
            };
            let Value::Object(mut found) = found else {
                return Err(Error::cwl(
                    format!("{at}#{wanted}"),
                    "a process must be a mapping",
                ));
            };
            for (key, value) in [
                ("cwlVersion", version),
                ("$namespaces", namespaces),
                ("$schemas", schemas),
            ] {
                if let Some(value) = value {
                    found.entry(key.to_string()).or_insert(value);
                }
            }
            found
        } else {
            if let Some(fragment) = fragment {
                let id = doc
                    .get("id")
                    .and_then(Value::as_str)
                    .map(|id| id.trim_start_matches('#').to_string());
                if id.as_deref() != Some(fragment) {
                    return Err(Error::cwl(
                        format!("{at}#{fragment}"),
                        format!("no process with id {fragment:?}"),
                    ));
                }
            }
            doc
        };
        let ctx = Context {
            path: path.to_path_buf(),
            schema: HashMap::new(),
            namespaces: Map::new(),
        };
        self.normalise_process(process, &ctx, &format!("{at}#"))
    }

    fn normalise_process(
        &mut self,
        mut p: Map<String, Value>,
        parent: &Context,
        at: &str,
    ) -> Result<Value> {
        let mut ctx = parent.clone();
        if let Some(Value::Array(schemas)) = p.get("$schemas").cloned() {
            let absolute: Vec<Value> = schemas
                .iter()
                .filter_map(Value::as_str)
                .map(|s| {
                    Value::String(
                        ctx.dir()
                            .join(s.strip_prefix("file://").unwrap_or(s))
                            .display()
                            .to_string(),
                    )
                })
                .collect();
            p.insert("$schemas".into(), Value::Array(absolute));
        }
        if let Some(Value::Object(ns)) = p.get("$namespaces") {
            for (k, v) in ns {
                ctx.namespaces.insert(k.clone(), v.clone());
            }
        }
        let process_id = p.get("id").and_then(Value::as_str).map(str::to_string);
        for key in ["requirements", "hints"] {
            if let Some(value) = p.remove(key) {
                p.insert(
                    key.into(),
                    normalise_requirements(value, &format!("{at}/{key}"))?,
                );
            }
        }
        // A `$import` under `types` brings a list of types: splice it in.
        for key in ["requirements", "hints"] {
            for req in p
                .get_mut(key)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if req.get("class").and_then(Value::as_str) != Some("SchemaDefRequirement") {
                    continue;
                }
                if let Some(Value::Array(types)) = req.get_mut("types") {
                    let flat = std::mem::take(types)
                        .into_iter()
                        .flat_map(as_list)
                        .collect();
                    *types = flat;
                }
            }
        }
        // Named types of SchemaDefRequirement, by their short name.
        let defs: Vec<Value> = p
            .get("requirements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(
                p.get("hints")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            )
            .filter(|r| r.get("class").and_then(Value::as_str) == Some("SchemaDefRequirement"))
            .filter_map(|r| r.get("types").and_then(Value::as_array).cloned())
            .flatten()
            .collect();
        for def in &defs {
            if let Some(name) = def.get("name").and_then(Value::as_str) {
                ctx.schema.insert(schema_key(name), def.clone());
            }
        }
        for key in ["inputs", "outputs"] {
            let list = to_list(p.remove(key), "id", "type", &format!("{at}/{key}"))?;
            let mut out = Vec::new();
            for (i, mut param) in list.into_iter().enumerate() {
                let here = format!("{at}/{key}/{i}");
                let id = param
                    .get("id")
                    .and_then(Value::as_str)
                    .map(short_id)
                    .ok_or_else(|| Error::cwl(&here, "a parameter needs an id"))?;
                param.insert("id".into(), Value::String(id.clone()));
                if let Some(ty) = param.remove("type") {
                    param.insert(
                        "type".into(),
                        normalise_type(ty, &ctx, &format!("{at}/{key}/{id}/type"), 0)?,
                    );
                }
                for field in ["outputSource", "source"] {
                    if let Some(src) = param.remove(field) {
                        param.insert(
                            field.into(),
                            Value::Array(
                                as_list(src)
                                    .iter()
                                    .filter_map(Value::as_str)
                                    .map(|s| Value::String(short_source(s, process_id.as_deref())))
                                    .collect(),
                            ),
                        );
                    }
                }
                if let Some(default) = param.get_mut("default") {
                    absolutise_files(default, ctx.dir());
                }
                if let Some(format) = param.get_mut("format") {
                    ctx.expand(format);
                }
                if let Some(sf) = param.remove("secondaryFiles") {
                    param.insert("secondaryFiles".into(), normalise_secondary(sf));
                }
                out.push(Value::Object(param));
            }
            p.insert(key.into(), Value::Array(out));
        }
        if let Some(Value::String(class)) = p.get("class").cloned() {
            if class == "Workflow" {
                let steps = to_list(p.remove("steps"), "id", "run", &format!("{at}/steps"))?;
                let mut out = Vec::new();
                for (i, step) in steps.into_iter().enumerate() {
                    out.push(self.normalise_step(
                        step,
                        &ctx,
                        process_id.as_deref(),
                        &format!("{at}/steps/{i}"),
                    )?);
                }
                p.insert("steps".into(), Value::Array(out));
            }
            if class == "CommandLineTool" {
                // `type: stdin` is a File input that becomes the tool's stdin.
                let stdin_input = p
                    .get("inputs")
                    .and_then(Value::as_array)
                    .and_then(|inputs| {
                        inputs
                            .iter()
                            .find(|i| i.get("type").and_then(Value::as_str) == Some("stdin"))
                            .and_then(|i| i.get("id").and_then(Value::as_str))
                            .map(str::to_string)
                    });
                if let Some(id) = stdin_input {
                    if let Some(Value::Array(inputs)) = p.get_mut("inputs") {
                        for i in inputs.iter_mut() {
                            if i.get("id").and_then(Value::as_str) == Some(id.as_str()) {
                                i["type"] = json!("File");
                            }
                        }
                    }
                    p.insert(
                        "stdin".into(),
                        Value::String(format!("$(inputs.{id}.path)")),
                    );
                }
                for key in ["baseCommand"] {
                    if let Some(Value::String(s)) = p.get(key).cloned() {
                        p.insert(key.into(), json!([s]));
                    }
                }
            }
        }
        Ok(Value::Object(p))
    }

    fn normalise_step(
        &mut self,
        step: Map<String, Value>,
        ctx: &Context,
        workflow_id: Option<&str>,
        at: &str,
    ) -> Result<Value> {
        let mut step = step;
        let id = step
            .get("id")
            .and_then(Value::as_str)
            .map(short_id)
            .ok_or_else(|| Error::cwl(at, "a step needs an id"))?;
        step.insert("id".into(), Value::String(id.clone()));
        for key in ["requirements", "hints"] {
            if let Some(value) = step.remove(key) {
                step.insert(
                    key.into(),
                    normalise_requirements(value, &format!("{at}/{key}"))?,
                );
            }
        }
        let inputs = to_list(step.remove("in"), "id", "source", &format!("{at}/in"))?;
        let mut ins = Vec::new();
        for mut input in inputs {
            let short = input
                .get("id")
                .and_then(Value::as_str)
                .map(short_id)
                .unwrap_or_default();
            input.insert("id".into(), Value::String(short));
            if let Some(src) = input.remove("source") {
                let list: Vec<Value> = as_list(src)
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| Value::String(short_source(s, workflow_id)))
                    .collect();
                input.insert("source".into(), Value::Array(list));
                input.insert(
                    "$sourceIsList".into(),
                    Value::Bool(input.get("linkMerge").is_some()),
                );
            }
            if let Some(default) = input.get_mut("default") {
                absolutise_files(default, ctx.dir());
            }
            ins.push(Value::Object(input));
        }
        step.insert("in".into(), Value::Array(ins));
        let outs: Vec<Value> = as_list(step.remove("out").unwrap_or(Value::Array(vec![])))
            .into_iter()
            .map(|o| match o {
                Value::String(s) => Value::String(short_id(&s)),
                Value::Object(m) => Value::String(
                    m.get("id")
                        .and_then(Value::as_str)
                        .map(short_id)
                        .unwrap_or_default(),
                ),
                other => other,
            })
            .collect();
        step.insert("out".into(), Value::Array(outs));
        if let Some(scatter) = step.remove("scatter") {
            step.insert(
                "scatter".into(),
                Value::Array(
                    as_list(scatter)
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|s| Value::String(short_id(s)))
                        .collect(),
                ),
            );
        }
        let run = step
            .remove("run")
            .ok_or_else(|| Error::cwl(at, "a step needs run"))?;
        let run = match run {
            Value::String(reference) => {
                if let Some(fragment) = reference.strip_prefix('#') {
                    let graph = self.graphs.get(&ctx.path).cloned().unwrap_or_default();
                    let found = graph
                        .into_iter()
                        .find(|p| {
                            p.get("id")
                                .and_then(Value::as_str)
                                .map(|i| i.trim_start_matches('#'))
                                == Some(fragment)
                        })
                        .ok_or_else(|| {
                            Error::cwl(
                                format!("{at}/run"),
                                format!("no process {reference:?} in this document"),
                            )
                        })?;
                    let Value::Object(found) = found else {
                        return Err(Error::cwl(format!("{at}/run"), "not a process"));
                    };
                    self.normalise_process(found, ctx, &format!("{at}/run"))?
                } else {
                    let (file, fragment) = match reference.rsplit_once('#') {
                        Some((f, frag)) => (f.to_string(), Some(frag.to_string())),
                        None => (reference.clone(), None),
                    };
                    let path = ctx
                        .dir()
                        .join(file.strip_prefix("file://").unwrap_or(&file));
                    let path = std::fs::canonicalize(&path).map_err(|e| {
                        Error::cwl(format!("{at}/run"), format!("{}: {e}", path.display()))
                    })?;
                    let mut run = self.load_file(&path, fragment.as_deref())?;
                    if let Value::Object(m) = &mut run {
                        m.insert("$path".into(), Value::String(path.display().to_string()));
                    }
                    run
                }
            }
            Value::Object(inline) => self.normalise_process(inline, ctx, &format!("{at}/run"))?,
            _ => {
                return Err(Error::cwl(
                    format!("{at}/run"),
                    "run must be a reference or a process",
                ));
            }
        };
        step.insert("run".into(), run);
        Ok(Value::Object(step))
    }
}

#[derive(Clone)]
struct Context {
    path: PathBuf,
    schema: HashMap<String, Value>,
    namespaces: Map<String, Value>,
}

impl Context {
    /// `edam:format_2330` -> `http://edamontology.org/format_2330` with the document's `$namespaces`.
    fn expand(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if let Some((prefix, rest)) = s.split_once(':') {
                    if let Some(base) = self.namespaces.get(prefix).and_then(Value::as_str) {
                        *s = format!("{base}{rest}");
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.expand(v)),
            _ => {}
        }
    }
}

impl Context {
    fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }
}

fn schema_key(name: &str) -> String {
    name.rsplit('#')
        .next()
        .unwrap_or(name)
        .rsplit('/')
        .next()
        .unwrap_or(name)
        .to_string()
}

fn as_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// Map or list form to a list of mappings; in the map form a non-mapping value
/// becomes the `short` field (`x: File` means `{id: x, type: File}`).
fn to_list(
    value: Option<Value>,
    key: &str,
    short: &str,
    at: &str,
) -> Result<Vec<Map<String, Value>>> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => Ok(map
            .into_iter()
            .map(|(id, v)| {
                let mut m = match v {
                    Value::Object(m) => m,
                    other => {
                        let mut m = Map::new();
                        m.insert(short.into(), other);
                        m
                    }
                };
                m.insert(key.into(), Value::String(id));
                m
            })
            .collect()),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(m) => Ok(m),
                Value::String(s) => {
                    let mut m = Map::new();
                    m.insert(key.into(), Value::String(s));
                    Ok(m)
                }
                _ => Err(Error::cwl(format!("{at}/{i}"), "must be a mapping")),
            })
            .collect(),
        Some(_) => Err(Error::cwl(at, "must be a list or a mapping")),
    }
}

fn normalise_requirements(value: Value, at: &str) -> Result<Value> {
    let list = match value {
        Value::Array(items) => items,
        Value::Object(map) => map
            .into_iter()
            .map(|(class, v)| {
                let mut m = match v {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                m.insert("class".into(), Value::String(class));
                Value::Object(m)
            })
            .collect(),
        _ => return Err(Error::cwl(at, "must be a list or a mapping")),
    };
    let mut out = Vec::new();
    for (i, item) in list.into_iter().enumerate() {
        let Value::Object(mut m) = item else {
            return Err(Error::cwl(
                format!("{at}/{i}"),
                "a requirement must be a mapping",
            ));
        };
        if !m.contains_key("class") {
            return Err(Error::cwl(
                format!("{at}/{i}"),
                "a requirement needs a class",
            ));
        }
        if m.get("class").and_then(Value::as_str) == Some("EnvVarRequirement") {
            if let Some(Value::Object(defs)) = take_if_object(&mut m, "envDef") {
                let list: Vec<Value> = defs
                    .into_iter()
                    .map(|(k, v)| json!({ "envName": k, "envValue": v }))
                    .collect();
                m.insert("envDef".into(), Value::Array(list));
            }
        }
        if m.get("class").and_then(Value::as_str) == Some("SoftwareRequirement") {
            if let Some(Value::Object(pkgs)) = take_if_object(&mut m, "packages") {
                let list: Vec<Value> = pkgs
                    .into_iter()
                    .map(|(k, v)| {
                        let mut p = match v {
                            Value::Object(p) => p,
                            other => {
                                let mut p = Map::new();
                                p.insert("version".into(), other);
                                p
                            }
                        };
                        p.insert("package".into(), Value::String(k));
                        Value::Object(p)
                    })
                    .collect();
                m.insert("packages".into(), Value::Array(list));
            }
        }
        out.push(Value::Object(m));
    }
    Ok(Value::Array(out))
}

/// Removes and returns `key` when it holds a mapping (the map form to normalise).
fn take_if_object(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    if map.get(key).is_some_and(Value::is_object) {
        map.remove(key)
    } else {
        None
    }
}

fn normalise_secondary(value: Value) -> Value {
    Value::Array(
        as_list(value)
            .into_iter()
            .map(|v| match v {
                Value::String(s) => {
                    let (pattern, required) = match s.strip_suffix('?') {
                        Some(p) => (p.to_string(), Value::Bool(false)),
                        None => (s, Value::Null),
                    };
                    json!({ "pattern": pattern, "required": required })
                }
                other => other,
            })
            .collect(),
    )
}

const PRIMITIVES: &[&str] = &[
    "null",
    "boolean",
    "int",
    "long",
    "float",
    "double",
    "string",
    "File",
    "Directory",
    "Any",
    "stdin",
    "stdout",
    "stderr",
];

/// Expands type shorthands and inlines named schema types.
fn normalise_type(ty: Value, ctx: &Context, at: &str, depth: usize) -> Result<Value> {
    if depth > 64 {
        return Err(Error::cwl(
            at,
            "type nesting too deep (a recursive schema type?)",
        ));
    }
    match ty {
        Value::String(name) => {
            if let Some(base) = name.strip_suffix('?') {
                let inner = normalise_type(Value::String(base.into()), ctx, at, depth + 1)?;
                return Ok(match inner {
                    Value::Array(mut options) => {
                        if !options.contains(&json!("null")) {
                            options.insert(0, json!("null"));
                        }
                        Value::Array(options)
                    }
                    other => json!(["null", other]),
                });
            }
            if let Some(item) = name.strip_suffix("[]") {
                let items = normalise_type(Value::String(item.into()), ctx, at, depth + 1)?;
                return Ok(json!({ "type": "array", "items": items }));
            }
            let bare = name.rsplit('#').next().unwrap_or(&name);
            if PRIMITIVES.contains(&bare) {
                return Ok(Value::String(bare.to_string()));
            }
            let key = schema_key(&name);
            if let Some(def) = ctx.schema.get(&key) {
                return normalise_type(def.clone(), ctx, at, depth + 1);
            }
            Err(Error::cwl(at, format!("unknown type {name:?}")))
        }
        Value::Array(options) => {
            let mut out = Vec::new();
            for (i, t) in options.into_iter().enumerate() {
                out.push(normalise_type(t, ctx, &format!("{at}/{i}"), depth + 1)?);
            }
            Ok(Value::Array(out))
        }
        Value::Object(mut map) => {
            let kind = map.get("type").cloned();
            match kind.as_ref().and_then(Value::as_str) {
                Some("array") => {
                    let items = map
                        .remove("items")
                        .ok_or_else(|| Error::cwl(at, "an array type needs items"))?;
                    map.insert(
                        "items".into(),
                        normalise_type(items, ctx, &format!("{at}/items"), depth + 1)?,
                    );
                }
                Some("record") => {
                    let fields = to_list(
                        map.remove("fields"),
                        "name",
                        "type",
                        &format!("{at}/fields"),
                    )?;
                    let mut out = Vec::new();
                    for mut field in fields {
                        let name = field
                            .get("name")
                            .and_then(Value::as_str)
                            .map(short_id)
                            .unwrap_or_default();
                        field.insert("name".into(), Value::String(name.clone()));
                        let ty = field.remove("type").ok_or_else(|| {
                            Error::cwl(format!("{at}/fields/{name}"), "a field needs a type")
                        })?;
                        field.insert(
                            "type".into(),
                            normalise_type(
                                ty,
                                ctx,
                                &format!("{at}/fields/{name}/type"),
                                depth + 1,
                            )?,
                        );
                        if let Some(sf) = field.remove("secondaryFiles") {
                            field.insert("secondaryFiles".into(), normalise_secondary(sf));
                        }
                        out.push(Value::Object(field));
                    }
                    map.insert("fields".into(), Value::Array(out));
                }
                Some("enum") => {
                    let symbols: Vec<Value> = map
                        .remove("symbols")
                        .map(as_list)
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|s| s.as_str().map(|s| Value::String(short_id(s))))
                        .collect();
                    map.insert("symbols".into(), Value::Array(symbols));
                }
                Some(other)
                    if ctx.schema.contains_key(&schema_key(other))
                        || other.ends_with('?')
                        || other.ends_with("[]") =>
                {
                    // `{type: Named}` with extra fields (e.g. inputBinding): the named type, fields kept.
                    let resolved =
                        normalise_type(Value::String(other.to_string()), ctx, at, depth + 1)?;
                    if let Value::Object(mut r) = resolved {
                        for (k, v) in map {
                            if k != "type" {
                                r.insert(k, v);
                            }
                        }
                        return Ok(Value::Object(r));
                    }
                    return Ok(resolved);
                }
                _ => {
                    return Err(Error::cwl(
                        at,
                        "a type mapping needs type: array, enum or record",
                    ));
                }
            }
            Ok(Value::Object(map))
        }
        _ => Err(Error::cwl(at, "not a type")),
    }
}

/// Makes `location`/`path` of File and Directory values absolute against `base`.
pub fn absolutise_files(value: &mut Value, base: &Path) {
    match value {
        Value::Object(map) => {
            if matches!(
                map.get("class").and_then(Value::as_str),
                Some("File" | "Directory")
            ) {
                for key in ["location", "path"] {
                    if let Some(Value::String(raw)) = map.get(key).cloned() {
                        if raw.contains("://") && !raw.starts_with("file://") {
                            continue;
                        }
                        let raw = raw.strip_prefix("file://").unwrap_or(&raw);
                        let abs = if Path::new(raw).is_absolute() {
                            PathBuf::from(raw)
                        } else {
                            base.join(raw)
                        };
                        map.insert(key.into(), Value::String(abs.display().to_string()));
                    }
                }
            }
            for v in map.values_mut() {
                absolutise_files(v, base);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| absolutise_files(v, base)),
        _ => {}
    }
}
