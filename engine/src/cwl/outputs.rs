//! Output collection: globs, `loadContents`, `outputEval` (parameter references),
//! `stdout`/`stderr` outputs, and the File objects of the output object.

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};

use super::Tool;
use super::command::{Context, interpolate};
use super::glob::glob;
use crate::{Error, Result};

/// Largest file `loadContents` reads, per the spec.
const LOAD_CONTENTS_LIMIT: u64 = 64 * 1024;

/// A CWL File (or Directory) object for a host path, with size and sha1 checksum.
pub fn file_object(path: &Path) -> Result<Value> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let basename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let location = format!("file://{}", path.display());
    if meta.is_dir() {
        let mut listing = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries {
            listing.push(file_object(&entry)?);
        }
        return Ok(
            json!({ "class": "Directory", "location": location, "path": path.display().to_string(), "basename": basename, "listing": listing }),
        );
    }
    let (nameroot, nameext) = match basename.rfind('.') {
        Some(i) if i > 0 => (basename[..i].to_string(), basename[i..].to_string()),
        _ => (basename.clone(), String::new()),
    };
    Ok(json!({
        "class": "File",
        "location": location,
        "path": path.display().to_string(),
        "basename": basename,
        "nameroot": nameroot,
        "nameext": nameext,
        "size": meta.len(),
        "checksum": format!("sha1${}", sha1_file(path)?),
    }))
}

fn sha1_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Collects every output of `tool` from `outdir` into the CWL output object.
pub fn collect_outputs(
    tool: &Tool,
    inputs: &Map<String, Value>,
    outdir: &Path,
    stdout_file: Option<&Path>,
) -> Result<Value> {
    let outdir = std::fs::canonicalize(outdir).map_err(|e| Error::io(outdir, e))?;
    let runtime = json!({ "outdir": outdir.display().to_string() });
    let ctx = Context {
        inputs,
        runtime: &runtime,
    };
    let mut result = Map::new();
    for (id, def) in tool.outputs() {
        let at = tool.at(&format!("/outputs/{id}"));
        let ty = def.get("type").cloned().unwrap_or(Value::Null);
        let value = match ty.as_str() {
            Some("stdout") | Some("stderr") => {
                let path = stdout_file.ok_or_else(|| {
                    Error::cwl(&at, "stdout output but the tool's stdout was not captured")
                })?;
                file_object(path)?
            }
            _ => collect_one(def, &ty, &ctx, &outdir, &at)?,
        };
        if !super::document::matches_type(&value, &ty) {
            return Err(Error::cwl(
                at,
                format!("output {value} does not match its type {ty}"),
            ));
        }
        result.insert(id.clone(), value);
    }
    Ok(Value::Object(result))
}

fn collect_one(
    def: &Value,
    ty: &Value,
    ctx: &Context<'_>,
    outdir: &Path,
    at: &str,
) -> Result<Value> {
    let Some(binding) = def.get("outputBinding").and_then(Value::as_object) else {
        return Ok(Value::Null);
    };
    let patterns: Vec<String> = match binding.get("glob") {
        None => Vec::new(),
        Some(Value::String(p)) => match interpolate(p, ctx, &Value::Null, at)? {
            Value::String(s) => vec![s],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => {
                return Err(Error::cwl(
                    at,
                    "glob must evaluate to a string or a list of strings",
                ));
            }
        },
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(_) => return Err(Error::cwl(at, "glob must be a string or a list of strings")),
    };
    let load = binding
        .get("loadContents")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut files = Vec::new();
    for pattern in &patterns {
        for path in glob(outdir, pattern) {
            let real = std::fs::canonicalize(&path).map_err(|e| Error::io(&path, e))?;
            if !real.starts_with(outdir) {
                return Err(Error::cwl(
                    at,
                    format!(
                        "glob {pattern:?} matched {} outside the output directory",
                        path.display()
                    ),
                ));
            }
            let mut object = file_object(&path)?;
            if load && object["class"] == "File" {
                let mut text = Vec::new();
                std::fs::File::open(&path)
                    .and_then(|f| f.take(LOAD_CONTENTS_LIMIT).read_to_end(&mut text))
                    .map_err(|e| Error::io(&path, e))?;
                object["contents"] = Value::String(String::from_utf8_lossy(&text).into_owned());
            }
            files.push(object);
        }
    }
    let files = Value::Array(files);
    if let Some(Value::String(expr)) = binding.get("outputEval") {
        return interpolate(expr, ctx, &files, at);
    }
    let wants_array = match ty {
        Value::String(s) => s.ends_with("[]"),
        Value::Object(m) => m.get("type").and_then(Value::as_str) == Some("array"),
        Value::Array(options) => options.iter().any(|t| {
            t.as_str().is_some_and(|s| s.ends_with("[]"))
                || t.get("type").and_then(Value::as_str) == Some("array")
        }),
        _ => false,
    };
    let Value::Array(mut files) = files else {
        unreachable!()
    };
    Ok(if wants_array {
        Value::Array(files)
    } else if files.is_empty() {
        Value::Null
    } else {
        files.swap_remove(0)
    })
}
