//! CWL v1.2 `CommandLineTool`s: loading, binding a job, building the command line,
//! running it on a [`Backend`] and collecting outputs into the CWL output object.
//!
//! This is the part of the runner that `hysope run tool.cwl` needs: one tool, the
//! parameter references of the spec (`$(inputs.x.path)`, `$(runtime.outdir)`), no
//! JavaScript. Workflows, expressions and the rest of the spec build on it.

mod backend;
mod command;
mod document;
mod glob;
mod outputs;

pub use backend::{
    Backend, LocalBackend, StagedFile, ToolInvocation, WasmBackend, resolve_component,
};
pub use command::build_command_line;
pub use document::{
    Tool, absolutise as absolutise_value, bind_inputs, load_job, load_tool, matches_type,
    parse_tool,
};
pub use outputs::{collect_outputs, file_object};

use std::path::Path;

use serde_json::{Map, Value};

use crate::Result;

/// Runs `tool` with `job` (already loaded, File paths resolved to absolute host paths),
/// writing outputs into `outdir`, and returns the CWL output object.
pub async fn run_tool(
    backend: &dyn Backend,
    tool: &Tool,
    job: &Map<String, Value>,
    outdir: &Path,
) -> Result<Value> {
    let inputs = document::bind_inputs(tool, job)?;
    let invocation = backend.prepare(tool, &inputs, outdir)?;
    let result = backend.execute(invocation).await?;
    collect_outputs(tool, &result.inputs, outdir, result.stdout_file.as_deref())
}
