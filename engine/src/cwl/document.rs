//! Loading a `CommandLineTool` document and binding a job to its inputs.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::{Error, Result};

/// A loaded `CommandLineTool`.
#[derive(Debug, Clone)]
pub struct Tool {
    /// The file it came from (for errors and relative paths).
    pub path: PathBuf,
    /// The document, normalised: `inputs` and `outputs` as maps keyed by id.
    pub doc: Map<String, Value>,
}

impl Tool {
    /// `location` for an error at a JSON pointer of this document.
    pub fn at(&self, pointer: &str) -> String {
        format!("{}#{pointer}", self.path.display())
    }

    /// The tool's inputs (id -> definition).
    pub fn inputs(&self) -> &Map<String, Value> {
        self.doc
            .get("inputs")
            .and_then(Value::as_object)
            .expect("normalised at load")
    }

    /// The tool's outputs (id -> definition).
    pub fn outputs(&self) -> &Map<String, Value> {
        self.doc
            .get("outputs")
            .and_then(Value::as_object)
            .expect("normalised at load")
    }

    /// A requirement (or hint) by class, requirements first.
    pub fn requirement(&self, class: &str) -> Option<&Value> {
        ["requirements", "hints"]
            .iter()
            .find_map(|key| find_class(self.doc.get(*key)?, class))
    }
}

fn find_class<'a>(list: &'a Value, class: &str) -> Option<&'a Value> {
    match list {
        Value::Array(items) => items
            .iter()
            .find(|r| r.get("class").and_then(Value::as_str) == Some(class)),
        Value::Object(map) => map.get(class),
        _ => None,
    }
}

const KNOWN_TOOL_FIELDS: &[&str] = &[
    "cwlVersion",
    "class",
    "id",
    "label",
    "doc",
    "inputs",
    "outputs",
    "requirements",
    "hints",
    "baseCommand",
    "arguments",
    "stdin",
    "stdout",
    "stderr",
    "successCodes",
    "temporaryFailCodes",
    "permanentFailCodes",
    "$namespaces",
    "$schemas",
    "intent",
];

const SUPPORTED_REQUIREMENTS: &[&str] = &[
    "hysope:WasmRequirement",
    "EnvVarRequirement",
    "ResourceRequirement",
    "ToolTimeLimit",
    "NetworkAccess",
    "WorkReuse",
];

/// Reads and checks a `CommandLineTool` file (YAML or JSON).
pub fn load_tool(path: &Path) -> Result<Tool> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_tool(path, &text)
}

/// Parses and checks a `CommandLineTool` from text; `path` names it in errors.
pub fn parse_tool(path: &Path, text: &str) -> Result<Tool> {
    let where_ = path.display().to_string();
    let value: Value = serde_yaml::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!("{where_}:{}:{}", l.line(), l.column()))
            .unwrap_or(where_.clone());
        Error::cwl(at, format!("not valid YAML: {e}"))
    })?;
    let Value::Object(mut doc) = value else {
        return Err(Error::cwl(where_, "a CWL document must be a mapping"));
    };
    let tool = |pointer: &str| format!("{where_}#{pointer}");
    match doc.get("cwlVersion").and_then(Value::as_str) {
        Some("v1.2") | Some("v1.1") | Some("v1.0") => {}
        Some(other) => {
            return Err(Error::cwl(
                tool("/cwlVersion"),
                format!("unknown cwlVersion {other:?} (expected v1.0, v1.1 or v1.2)"),
            ));
        }
        None => return Err(Error::cwl(tool("/cwlVersion"), "missing cwlVersion")),
    }
    match doc.get("class").and_then(Value::as_str) {
        Some("CommandLineTool") => {}
        Some(other @ ("Workflow" | "ExpressionTool" | "Operation")) => {
            return Err(Error::Unsupported {
                location: tool("/class"),
                message: format!(
                    "class {other} (hysope run takes a CommandLineTool; use hysope cwl-runner)"
                ),
            });
        }
        Some(other) => {
            return Err(Error::cwl(
                tool("/class"),
                format!("unknown class {other:?}"),
            ));
        }
        None => return Err(Error::cwl(tool("/class"), "missing class")),
    }
    for key in doc.keys() {
        if !KNOWN_TOOL_FIELDS.contains(&key.as_str()) && !key.contains(':') {
            return Err(Error::cwl(
                tool(&format!("/{key}")),
                format!("unknown field {key:?}"),
            ));
        }
    }
    for key in ["inputs", "outputs"] {
        let normalised = normalise_params(doc.remove(key), &tool(&format!("/{key}")))?;
        doc.insert(key.to_string(), Value::Object(normalised));
    }
    if let Some(reqs) = doc.get("requirements") {
        let classes: Vec<String> = match reqs {
            Value::Array(items) => items
                .iter()
                .map(|r| {
                    r.get("class")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                })
                .collect(),
            Value::Object(map) => map.keys().cloned().collect(),
            _ => {
                return Err(Error::cwl(
                    tool("/requirements"),
                    "requirements must be a list or a mapping",
                ));
            }
        };
        for class in classes {
            if !SUPPORTED_REQUIREMENTS.contains(&class.as_str()) {
                return Err(Error::Unsupported {
                    location: tool("/requirements"),
                    message: format!("requirement {class}"),
                });
            }
        }
    }
    Ok(Tool {
        path: path.to_path_buf(),
        doc,
    })
}

/// Turns the list or map forms of `inputs`/`outputs` into a map id -> definition
/// whose `type` is always present.
fn normalise_params(value: Option<Value>, location: &str) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    match value {
        None => {}
        Some(Value::Object(map)) => {
            for (id, def) in map {
                let def = match def {
                    Value::String(_) | Value::Array(_) => {
                        let mut m = Map::new();
                        m.insert("type".into(), def);
                        m
                    }
                    Value::Object(m) => m,
                    _ => {
                        return Err(Error::cwl(
                            format!("{location}/{id}"),
                            "a parameter must be a type or a mapping",
                        ));
                    }
                };
                out.insert(id, Value::Object(def));
            }
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                let Value::Object(mut def) = item else {
                    return Err(Error::cwl(
                        format!("{location}/{i}"),
                        "a parameter must be a mapping with an id",
                    ));
                };
                let Some(Value::String(id)) = def.remove("id") else {
                    return Err(Error::cwl(
                        format!("{location}/{i}"),
                        "a parameter needs an id",
                    ));
                };
                let id = id.rsplit('#').next().unwrap_or(&id).to_string();
                out.insert(id, Value::Object(def));
            }
        }
        Some(_) => return Err(Error::cwl(location, "must be a list or a mapping")),
    }
    for (id, def) in &out {
        if def.get("type").is_none() {
            return Err(Error::cwl(
                format!("{location}/{id}"),
                "parameter without a type",
            ));
        }
        check_type(
            def.get("type").unwrap_or(&Value::Null),
            &format!("{location}/{id}/type"),
        )?;
    }
    Ok(out)
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
    "stdout",
    "stderr",
];

fn check_type(ty: &Value, location: &str) -> Result<()> {
    match ty {
        Value::String(name) => {
            let base = name.trim_end_matches('?').trim_end_matches("[]");
            if PRIMITIVES.contains(&base) {
                Ok(())
            } else {
                Err(Error::cwl(location, format!("unknown type {name:?}")))
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, t)| check_type(t, &format!("{location}/{i}"))),
        Value::Object(map) => match map.get("type").and_then(Value::as_str) {
            Some("array") => check_type(
                map.get("items").unwrap_or(&Value::Null),
                &format!("{location}/items"),
            ),
            Some("enum") | Some("record") => Ok(()),
            _ => Err(Error::cwl(
                location,
                "a type mapping needs type: array, enum or record",
            )),
        },
        _ => Err(Error::cwl(location, "not a type")),
    }
}

/// Reads a job file (YAML or JSON); relative File/Directory paths are made absolute
/// against the job file's folder.
pub fn load_job(path: &Path) -> Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let value: Value = if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_yaml::from_str(&text)
            .map_err(|e| Error::cwl(path.display().to_string(), format!("not valid YAML: {e}")))?
    };
    let Value::Object(mut job) = value else {
        return Err(Error::cwl(
            path.display().to_string(),
            "a job must be a mapping of input ids to values",
        ));
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for value in job.values_mut() {
        absolutise(value, &base);
    }
    Ok(job)
}

/// Makes the `path`/`location` of every File and Directory in `value` absolute.
pub fn absolutise(value: &mut Value, base: &Path) {
    match value {
        Value::Object(map) => {
            if matches!(
                map.get("class").and_then(Value::as_str),
                Some("File" | "Directory")
            ) {
                let raw = map
                    .get("path")
                    .or_else(|| map.get("location"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if let Some(raw) = raw {
                    let raw = raw.strip_prefix("file://").unwrap_or(&raw).to_string();
                    let abs = if Path::new(&raw).is_absolute() {
                        PathBuf::from(&raw)
                    } else {
                        base.join(&raw)
                    };
                    let abs = std::fs::canonicalize(&abs).unwrap_or(abs);
                    map.insert("path".into(), Value::String(abs.display().to_string()));
                    map.insert(
                        "location".into(),
                        Value::String(format!("file://{}", abs.display())),
                    );
                }
            }
            for v in map.values_mut() {
                absolutise(v, base);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| absolutise(v, base)),
        _ => {}
    }
}

/// Checks the job against the tool's inputs: fills defaults, refuses missing required
/// inputs, wrong types and unknown ids. Returns the complete input object.
pub fn bind_inputs(tool: &Tool, job: &Map<String, Value>) -> Result<Map<String, Value>> {
    let mut bound = Map::new();
    for key in job.keys() {
        if !tool.inputs().contains_key(key) {
            return Err(Error::cwl(
                format!("job#/{key}"),
                format!("{} has no input {key:?}", tool.path.display()),
            ));
        }
    }
    let base = tool
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    for (id, def) in tool.inputs() {
        let ty = def.get("type").unwrap_or(&Value::Null);
        let value = match job.get(id) {
            Some(Value::Null) | None => match def.get("default") {
                Some(default) => {
                    let mut default = default.clone();
                    absolutise(&mut default, &base);
                    default
                }
                None => Value::Null,
            },
            Some(v) => v.clone(),
        };
        if !matches_type(&value, ty) {
            let what = if value.is_null() {
                "missing required input".to_string()
            } else {
                format!("value {value} does not match type {ty}")
            };
            return Err(Error::cwl(format!("job#/{id}"), what));
        }
        if let Some(missing) = missing_file(&value) {
            return Err(Error::cwl(
                format!("job#/{id}"),
                format!("input file not found: {missing}"),
            ));
        }
        bound.insert(id.clone(), value);
    }
    Ok(bound)
}

fn missing_file(value: &Value) -> Option<String> {
    match value {
        Value::Object(map)
            if matches!(
                map.get("class").and_then(Value::as_str),
                Some("File" | "Directory")
            ) =>
        {
            let path = map.get("path").and_then(Value::as_str)?;
            (!Path::new(path).exists()).then(|| path.to_string())
        }
        Value::Array(items) => items.iter().find_map(missing_file),
        _ => None,
    }
}

/// True when `value` is an instance of the CWL type `ty`.
pub fn matches_type(value: &Value, ty: &Value) -> bool {
    match ty {
        Value::String(name) => {
            if let Some(base) = name.strip_suffix('?') {
                return value.is_null() || matches_type(value, &Value::String(base.into()));
            }
            if let Some(item) = name.strip_suffix("[]") {
                return value.as_array().is_some_and(|a| {
                    a.iter()
                        .all(|v| matches_type(v, &Value::String(item.into())))
                });
            }
            match name.as_str() {
                "null" => value.is_null(),
                "Any" => !value.is_null(),
                "boolean" => value.is_boolean(),
                "int" | "long" => value.is_i64() || value.is_u64(),
                "float" | "double" => value.is_number(),
                "string" => value.is_string(),
                "File" | "Directory" => {
                    value.get("class").and_then(Value::as_str) == Some(name.as_str())
                }
                _ => false,
            }
        }
        Value::Array(options) => options.iter().any(|t| matches_type(value, t)),
        Value::Object(map) => match map.get("type").and_then(Value::as_str) {
            Some("array") => value.as_array().is_some_and(|a| {
                a.iter()
                    .all(|v| matches_type(v, map.get("items").unwrap_or(&Value::Null)))
            }),
            Some("enum") => {
                let symbols = map.get("symbols").and_then(Value::as_array);
                value.as_str().is_some_and(|s| {
                    symbols.is_some_and(|syms| {
                        syms.iter().any(|x| {
                            x.as_str()
                                .is_some_and(|x| x.rsplit(['#', '/']).next() == Some(s))
                        })
                    })
                })
            }
            Some("record") => value.is_object(),
            _ => false,
        },
        _ => false,
    }
}
