//! CWL v1.2: loading and normalising documents, expressions, running
//! `CommandLineTool`, `ExpressionTool` and `Workflow` on [`Backend`]s, and
//! collecting outputs into the CWL output object.

mod backend;
pub mod expr;
mod glob;
pub mod js_sandbox;
pub mod json;
pub mod load;
mod ontology;
mod runner;
pub mod tool;
mod validate;
pub use validate::refuse_unknown_requirements;
pub mod values;

pub use backend::{
    Backend, BoxFuture, ComponentLog, ExecutionResult, LocalBackend, StagedFile, Staging,
    ToolContext, ToolInvocation, WasmBackend, is_wasm_tool, link_or_copy, resolve_component,
    stage_renamed, stage_wasm,
};
pub use load::{Loaded, load, load_text};
pub use runner::{Runner, supports_requirement};

use std::path::Path;

use serde_json::{Map, Value};

use crate::{Error, Result};

/// Reads a job file (YAML or JSON); relative File/Directory locations are made
/// absolute against the job file's folder.
pub fn load_job(path: &Path) -> Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let value: Value = if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        load::parse_text(path, &text)?
    };
    let Value::Object(mut job) = value else {
        return Err(Error::cwl(
            path.display().to_string(),
            "a job must be a mapping of input ids to values",
        ));
    };
    let absolute = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
    let base = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
    for value in job.values_mut() {
        load::absolutise_files(value, &base);
    }
    Ok(job)
}

/// The input parameters of a loaded process (normalised: a list of mappings with `id` and `type`).
pub fn inputs_of(process: &Value) -> &[Value] {
    values::items(process, "inputs")
}
