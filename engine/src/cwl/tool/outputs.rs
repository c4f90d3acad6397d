//! Output collection: each output parameter's binding (glob, `loadContents`,
//! `outputEval`, secondary files, format) read from what the tool left.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::ToolRun;
use super::binding::listing_depth;
use crate::cwl::expr::{Evaluator, Scope};
use crate::cwl::glob::glob;
use crate::cwl::values::{self, class_of, file_object, path_of};
use crate::{Error, Result};

/// The largest `cwl.output.json` read.
const CUSTOM_OUTPUT_LIMIT: u64 = 64 << 20;

/// Where a tool's outputs may point: its output folder, and the files and folders
/// it was given. A `cwl.output.json`, an `outputEval` or an ExpressionTool naming
/// any other file (`/etc/passwd`, a device, another job's folder), or a glob
/// matching through a link out of the folder, fails the step before anything
/// reads the file: the results never carry a file of the host.
pub(crate) struct Bounds<'a> {
    outdir: PathBuf,
    inputs: &'a Value,
    /// The inputs' places, resolved when an output first points outside the
    /// folder (most never do: their inputs are then never looked up).
    known: std::cell::OnceCell<Inputs>,
}

/// The places a tool was given, resolved.
#[derive(Default)]
struct Inputs {
    files: HashSet<PathBuf>,
    dirs: Vec<PathBuf>,
    urls: HashSet<String>,
}

/// True for a location that is a URL other than `file://`.
fn is_remote(raw: &str) -> bool {
    raw.contains("://") && !raw.starts_with("file://")
}

impl Inputs {
    fn add(&mut self, value: &Value) {
        match value {
            Value::Object(map) if matches!(class_of(value), Some("File" | "Directory")) => {
                for key in ["location", "path"] {
                    if let Some(raw) = map.get(key).and_then(Value::as_str) {
                        if is_remote(raw) {
                            self.urls.insert(raw.to_string());
                        }
                    }
                }
                if let Some(path) = path_of(value).and_then(|p| std::fs::canonicalize(p).ok()) {
                    if class_of(value) == Some("Directory") {
                        self.dirs.push(path);
                    } else {
                        self.files.insert(path);
                    }
                }
                for key in ["secondaryFiles", "listing"] {
                    if let Some(v) = map.get(key) {
                        self.add(v);
                    }
                }
            }
            Value::Object(map) => map.values().for_each(|v| self.add(v)),
            Value::Array(items) => items.iter().for_each(|v| self.add(v)),
            _ => {}
        }
    }
}

impl<'a> Bounds<'a> {
    /// The bounds of a tool run in `outdir` on `inputs`.
    pub(crate) fn new(outdir: &Path, inputs: &'a Value) -> Self {
        Bounds {
            outdir: std::fs::canonicalize(outdir).unwrap_or_else(|_| outdir.to_path_buf()),
            inputs,
            known: std::cell::OnceCell::new(),
        }
    }

    fn known(&self) -> &Inputs {
        self.known.get_or_init(|| {
            let mut inputs = Inputs::default();
            inputs.add(self.inputs);
            inputs
        })
    }

    /// True when `path` (resolved, links followed) is inside the output folder or
    /// is one of the inputs.
    pub(crate) fn holds(&self, path: &Path) -> bool {
        let Ok(real) = std::fs::canonicalize(path) else {
            // Nothing there: never read, so nothing leaks; its name must still stay
            // in the folder (no `..`).
            return path.starts_with(&self.outdir)
                && !path
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir));
        };
        if real.starts_with(&self.outdir) {
            return true;
        }
        let known = self.known();
        known.files.contains(&real) || known.dirs.iter().any(|d| real.starts_with(d))
    }

    /// Checks every File and Directory of `value` (with their secondary files and
    /// listings).
    pub(crate) fn confine(&self, value: &Value, at: &str) -> Result<()> {
        match value {
            Value::Object(map) if matches!(class_of(value), Some("File" | "Directory")) => {
                for key in ["location", "path"] {
                    let Some(raw) = map.get(key).and_then(Value::as_str) else {
                        continue;
                    };
                    let allowed = if is_remote(raw) {
                        self.known().urls.contains(raw)
                    } else {
                        let raw = raw.strip_prefix("file://").unwrap_or(raw);
                        let path = PathBuf::from(values::percent_decode(raw));
                        path.is_absolute() && self.holds(&path)
                    };
                    if !allowed {
                        return Err(Error::cwl(
                            at,
                            format!(
                                "an output names {raw}, which is neither in the tool's output folder nor one of its inputs"
                            ),
                        ));
                    }
                }
                for key in ["secondaryFiles", "listing"] {
                    if let Some(v) = map.get(key) {
                        self.confine(v, at)?;
                    }
                }
                Ok(())
            }
            Value::Object(map) => map.values().try_for_each(|v| self.confine(v, at)),
            Value::Array(items) => items.iter().try_for_each(|v| self.confine(v, at)),
            _ => Ok(()),
        }
    }
}

/// Collects the outputs of a finished tool from its output folder.
pub(super) fn collect_outputs(
    run: &ToolRun<'_>,
    evaluator: &Evaluator,
    inputs: &Map<String, Value>,
    runtime: &Value,
    stdout: Option<&str>,
) -> Result<Value> {
    let outdir = run.outdir;
    let all = Value::Object(inputs.clone());
    let bounds = Bounds::new(outdir, &all);
    let custom = outdir.join("cwl.output.json");
    if custom.is_file() {
        let text = values::read_contents_limited(&custom, CUSTOM_OUTPUT_LIMIT, &run.at)?;
        let mut value: Value = serde_json::from_str(&text)
            .map_err(|e| Error::cwl(&run.at, format!("cwl.output.json: {e}")))?;
        crate::cwl::load::absolutise_files(&mut value, outdir);
        bounds.confine(&value, &format!("{}/cwl.output.json", run.at))?;
        complete_outputs(&mut value)?;
        return Ok(value);
    }
    let mut result = Map::new();
    for output in values::items(run.process, "outputs") {
        let id = output.get("id").and_then(Value::as_str).unwrap_or("");
        let at = format!("{}/outputs/{id}", run.at);
        let ty = output.get("type").cloned().unwrap_or(Value::Null);
        let value = match ty.as_str() {
            Some("stdout") => file_object(&outdir.join(stdout.unwrap_or("")), 0)?,
            Some("stderr") => {
                let name = run
                    .process
                    .get("stderr")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let path = if name.is_empty() {
                    glob(outdir, "stderr-*")
                        .into_iter()
                        .next()
                        .unwrap_or_default()
                } else {
                    outdir.join(name)
                };
                file_object(&path, 0)?
            }
            _ => collect_one(output, &ty, evaluator, &all, runtime, &bounds, &at)?,
        };
        values::check_output(&value, &ty, &at)?;
        result.insert(id.to_string(), value);
    }
    Ok(Value::Object(result))
}

pub(super) fn complete_outputs(value: &mut Value) -> Result<()> {
    values::for_each_file(value, &mut |map| {
        if let Some(path) = path_of(&Value::Object(map.clone())) {
            if path.exists() {
                let fresh = file_object(&path, if path.is_dir() { 1 } else { 0 })?;
                for (k, v) in fresh.as_object().cloned().unwrap_or_default() {
                    if k == "basename" && map.contains_key("basename") {
                        continue;
                    }
                    map.entry(k).or_insert(v);
                }
            }
        }
        Ok(())
    })
}

pub(super) fn collect_one(
    output: &Value,
    ty: &Value,
    evaluator: &Evaluator,
    inputs: &Value,
    runtime: &Value,
    bounds: &Bounds<'_>,
    at: &str,
) -> Result<Value> {
    let outdir = bounds.outdir.as_path();
    // A record output: each field collected with its own binding.
    if ty.get("type").and_then(Value::as_str) == Some("record")
        && output.get("outputBinding").is_none()
    {
        let mut map = Map::new();
        for field in values::items(ty, "fields") {
            let name = field.get("name").and_then(Value::as_str).unwrap_or("");
            let v = collect_one(
                field,
                field.get("type").unwrap_or(&Value::Null),
                evaluator,
                inputs,
                runtime,
                bounds,
                &format!("{at}/{name}"),
            )?;
            map.insert(name.to_string(), v);
        }
        return Ok(Value::Object(map));
    }
    let Some(binding) = output.get("outputBinding").and_then(Value::as_object) else {
        return Ok(Value::Null);
    };
    let scope = Scope {
        inputs: Some(inputs),
        self_: None,
        runtime: Some(runtime),
    };
    let mut patterns = Vec::new();
    if let Some(g) = binding.get("glob") {
        let evaluated = match g {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| evaluator.eval_value(i, &scope, at))
                    .collect::<Result<_>>()?,
            ),
            other => evaluator.eval_value(other, &scope, at)?,
        };
        match evaluated {
            Value::String(s) => patterns.push(s),
            Value::Array(items) => {
                for i in items {
                    match i {
                        Value::String(s) => patterns.push(s),
                        Value::Array(inner) => patterns.extend(
                            inner
                                .into_iter()
                                .filter_map(|v| v.as_str().map(str::to_string)),
                        ),
                        _ => {}
                    }
                }
            }
            Value::Null => {}
            _ => {
                return Err(Error::cwl(
                    at,
                    "glob must evaluate to a string or a list of strings",
                ));
            }
        }
    }
    let load = binding
        .get("loadContents")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || output
            .get("loadContents")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let depth = listing_depth(
        binding
            .get("loadListing")
            .or_else(|| output.get("loadListing")),
    )
    .unwrap_or(1);
    let mut files = Vec::new();
    for pattern in &patterns {
        let pattern = pattern
            .strip_prefix(&format!("{}/", outdir.display()))
            .unwrap_or(pattern);
        for path in glob(outdir, pattern) {
            // A match must resolve into the folder (`..` and links followed): paths
            // are compared resolved, never as text.
            let inside = std::fs::canonicalize(&path)
                .map_err(|e| Error::io(&path, e))?
                .starts_with(outdir);
            if !inside {
                return Err(Error::cwl(
                    at,
                    format!(
                        "glob {pattern:?} matched {} outside the output directory",
                        path.display()
                    ),
                ));
            }
            let mut object = file_object(&path, depth)?;
            if load && class_of(&object) == Some("File") {
                object["contents"] = Value::String(values::read_contents(&path, at)?);
            }
            files.push(object);
        }
    }
    let mut value = Value::Array(files);
    if let Some(expr) = binding.get("outputEval") {
        value = evaluator.eval_value(
            expr,
            &Scope {
                inputs: Some(inputs),
                self_: Some(&value),
                runtime: Some(runtime),
            },
            at,
        )?;
        crate::cwl::load::absolutise_files(&mut value, outdir);
        bounds.confine(&value, at)?;
        complete_outputs(&mut value)?;
    } else {
        let wants_array = wants_array(ty);
        let Value::Array(mut files) = value else {
            unreachable!()
        };
        value = if wants_array {
            Value::Array(files)
        } else if files.is_empty() {
            Value::Null
        } else {
            files.swap_remove(0)
        };
    }
    if let Some(patterns) = output.get("secondaryFiles") {
        attach_output_secondary(&mut value, patterns, evaluator, inputs, at)?;
    }
    if let Some(format) = output.get("format") {
        let f = evaluator.eval_value(
            format,
            &Scope {
                inputs: Some(inputs),
                self_: None,
                runtime: Some(runtime),
            },
            at,
        )?;
        set_format(&mut value, &f);
    }
    Ok(value)
}

pub(super) fn wants_array(ty: &Value) -> bool {
    match ty {
        Value::Object(m) => m.get("type").and_then(Value::as_str) == Some("array"),
        Value::Array(options) => options.iter().any(wants_array),
        _ => false,
    }
}

pub(super) fn attach_output_secondary(
    value: &mut Value,
    patterns: &Value,
    evaluator: &Evaluator,
    inputs: &Value,
    at: &str,
) -> Result<()> {
    match value {
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|v| attach_output_secondary(v, patterns, evaluator, inputs, at)),
        Value::Object(_) if class_of(value) == Some("File") => {
            let found = values::secondary_files(value, patterns, evaluator, inputs, false, at)?;
            let mut complete = Vec::new();
            for f in found {
                if let Some(p) = path_of(&f) {
                    complete.push(file_object(&p, 1)?);
                }
            }
            value["secondaryFiles"] = Value::Array(complete);
            Ok(())
        }
        _ => Ok(()),
    }
}

pub(super) fn set_format(value: &mut Value, format: &Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| set_format(v, format)),
        Value::Object(m) if m.get("class").and_then(Value::as_str) == Some("File") => {
            m.insert("format".into(), format.clone());
        }
        _ => {}
    }
}
