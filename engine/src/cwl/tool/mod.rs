//! Running one `CommandLineTool` or `ExpressionTool`: inputs completed and checked,
//! `InitialWorkDirRequirement` staged, the command line built exactly as the spec
//! says, the invocation handed to a backend, outputs collected.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::backend::{Backend, ToolInvocation};
use super::expr::{Evaluator, Scope};
use super::values::{self};
use crate::{Error, Result};

mod binding;
mod outputs;
mod staging;

pub use binding::bind_job;
use binding::*;
use outputs::*;
use staging::*;

/// Requirement lookup over the effective requirements (inherited first, own last).
pub fn find_req<'a>(reqs: &'a [Value], class: &str) -> Option<&'a Value> {
    reqs.iter()
        .rev()
        .find(|r| r.get("class").and_then(Value::as_str) == Some(class))
}

/// Everything about the process being run besides its document.
pub struct ToolRun<'a> {
    /// The normalised process.
    pub process: &'a Value,
    /// Effective requirements (workflow's, step's, then the tool's own).
    pub requirements: Vec<Value>,
    /// Effective hints.
    pub hints: Vec<Value>,
    /// Where to put outputs: a resolved path (absolute, no symbolic link on the way).
    pub outdir: &'a Path,
    /// Scratch folder for literals and staging.
    pub scratch: &'a Path,
    /// Label for errors.
    pub at: String,
}

impl ToolRun<'_> {
    fn req(&self, class: &str) -> Option<&Value> {
        find_req(&self.requirements, class).or_else(|| find_req(&self.hints, class))
    }

    /// The evaluator of the tool's expressions and its bound input object.
    fn bind(&self, job: &Map<String, Value>) -> Result<(Evaluator, Map<String, Value>)> {
        let evaluator = Evaluator::for_requirements(&self.requirements);
        let inputs = bind_job(
            self.process,
            job,
            &evaluator,
            &self.requirements,
            self.scratch,
            &self.at,
        )?;
        Ok((evaluator, inputs))
    }
}

/// Runs a CommandLineTool on `backend` and returns its output object.
pub async fn run_command_line_tool(
    run: &ToolRun<'_>,
    backend: &dyn Backend,
    job: &Map<String, Value>,
) -> Result<Value> {
    let (evaluator, inputs) = run.bind(job)?;
    let mut staged_inputs = inputs.clone();
    let tool = super::backend::ToolContext {
        process: run.process,
        requirements: &run.requirements,
        hints: &run.hints,
        at: &run.at,
    };
    let staging = backend.stage(&tool, &mut staged_inputs, run.outdir)?;
    let (cores, ram, tmpdir_size, outdir_size) = resources(run, &evaluator, &staged_inputs)?;
    let runtime = json!({
        "outdir": staging.outdir, "tmpdir": staging.tmpdir, "cores": cores, "ram": ram,
        "outdirSize": outdir_size, "tmpdirSize": tmpdir_size,
    });
    stage_initial_workdir(run, &evaluator, &staged_inputs, &runtime)?;
    let (argv, _shell) = command_line(run, &evaluator, &staged_inputs, &runtime)?;
    let all = Value::Object(staged_inputs.clone());
    let scope = Scope {
        inputs: Some(&all),
        self_: None,
        runtime: Some(&runtime),
    };
    let text_field = |key: &str| -> Result<Option<String>> {
        match run.process.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => {
                let v = evaluator.eval_value(v, &scope, &format!("{}/{key}", run.at))?;
                Ok(match v {
                    Value::Null => None,
                    other => Some(text_of(&other)),
                })
            }
        }
    };
    let mut stdout = text_field("stdout")?;
    let mut stderr = text_field("stderr")?;
    let outputs = run
        .process
        .get("outputs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if stdout.is_none()
        && outputs
            .iter()
            .any(|o| o.get("type").and_then(Value::as_str) == Some("stdout"))
    {
        stdout = Some(values::unique_name("stdout"));
    }
    if stderr.is_none()
        && outputs
            .iter()
            .any(|o| o.get("type").and_then(Value::as_str) == Some("stderr"))
    {
        stderr = Some(values::unique_name("stderr"));
    }
    for name in stdout.iter().chain(stderr.iter()) {
        values::check_inside(name, &format!("{}/stdout", run.at))?;
    }
    let stdin = text_field("stdin")?.map(PathBuf::from);
    let mut env = vec![
        ("HOME".to_string(), staging.outdir.clone()),
        ("TMPDIR".to_string(), staging.tmpdir.clone()),
    ];
    if let Some(req) = run.req("EnvVarRequirement") {
        for def in values::items(req, "envDef") {
            let name = def
                .get("envName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let value = evaluator.eval_value(
                def.get("envValue").unwrap_or(&Value::Null),
                &scope,
                &format!("{}/EnvVarRequirement", run.at),
            )?;
            env.push((name, text_of(&value)));
        }
    }
    let codes = |key: &str| -> Vec<i32> {
        values::items(run.process, key)
            .iter()
            .filter_map(|c| c.as_i64().map(|c| c as i32))
            .collect()
    };
    let mut success_codes = codes("successCodes");
    if success_codes.is_empty() {
        success_codes.push(0);
    }
    let timeout = run
        .req("ToolTimeLimit")
        .and_then(|r| r.get("timelimit"))
        .map(|t| evaluator.eval_value(t, &scope, &run.at))
        .transpose()?
        .and_then(|v| v.as_u64())
        .filter(|s| *s > 0);
    let name = tool_name(run.process);
    let invocation = ToolInvocation {
        name,
        at: run.at.clone(),
        cores: cores.as_u64().unwrap_or(1).max(1) as u32,
        ram_mib: ram.as_u64().unwrap_or(1024).max(1),
        argv,
        env,
        stdin,
        stdout: stdout.clone(),
        stderr,
        outdir: run.outdir.to_path_buf(),
        staging,
        timeout: timeout.map(std::time::Duration::from_secs),
        cancel: Default::default(),
    };
    let result = backend.execute(invocation).await?;
    if !success_codes.contains(&result.exit_code) {
        let kind = if codes("temporaryFailCodes").contains(&result.exit_code) {
            "temporary failure"
        } else {
            "permanent failure"
        };
        return Err(Error::Exit {
            plugin: tool_name(run.process),
            code: result.exit_code,
            outcome: Box::new(crate::wasm::RunOutcome {
                exit_code: result.exit_code,
                stdout: Default::default(),
                stderr: if result.stderr.is_empty() {
                    kind.as_bytes().to_vec().into()
                } else {
                    result.stderr
                },
                stdout_truncated: false,
                stderr_truncated: false,
                events: result.events,
                elapsed: Default::default(),
                peak_memory: 0,
            }),
        });
    }
    let runtime_out = json!({
        "outdir": run.outdir.display().to_string(), "tmpdir": runtime["tmpdir"], "cores": cores, "ram": ram,
        "outdirSize": outdir_size, "tmpdirSize": tmpdir_size, "exitCode": result.exit_code,
    });
    let mut output = collect_outputs(run, &evaluator, &inputs, &runtime_out, stdout.as_deref())?;
    backend.unstage(&mut output, run.outdir);
    Ok(output)
}

/// The tool's name: its id, else its file's stem.
fn tool_name(process: &Value) -> String {
    if let Some(id) = process.get("id").and_then(Value::as_str) {
        return super::load::short_id(id);
    }
    process
        .get("$path")
        .and_then(Value::as_str)
        .and_then(|p| {
            std::path::Path::new(p)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "tool".into())
}

fn resources(
    run: &ToolRun<'_>,
    evaluator: &Evaluator,
    inputs: &Map<String, Value>,
) -> Result<(Value, Value, Value, Value)> {
    let all = Value::Object(inputs.clone());
    let scope = Scope {
        inputs: Some(&all),
        ..Scope::default()
    };
    let get = |keys: [&str; 2], default: i64| -> Result<Value> {
        let Some(req) = run.req("ResourceRequirement") else {
            return Ok(json!(default));
        };
        for key in keys {
            if let Some(v) = req.get(key) {
                let v = evaluator.eval_value(
                    v,
                    &scope,
                    &format!("{}/ResourceRequirement/{key}", run.at),
                )?;
                if let Some(f) = v.as_f64() {
                    return Ok(json!(f.ceil() as i64));
                }
            }
        }
        Ok(json!(default))
    };
    Ok((
        get(["coresMin", "coresMax"], 1)?,
        get(["ramMin", "ramMax"], 1024)?,
        get(["tmpdirMin", "tmpdirMax"], 1024)?,
        get(["outdirMin", "outdirMax"], 1024)?,
    ))
}

/// Runs an ExpressionTool: its expression's object is the output.
pub fn run_expression_tool(run: &ToolRun<'_>, job: &Map<String, Value>) -> Result<Value> {
    let (evaluator, inputs) = run.bind(job)?;
    let all = Value::Object(inputs);
    let runtime = json!({ "outdir": run.outdir.display().to_string(), "tmpdir": run.scratch.display().to_string(), "cores": 1, "ram": 1024 });
    let expression = run
        .process
        .get("expression")
        .ok_or_else(|| Error::cwl(&run.at, "an ExpressionTool needs an expression"))?;
    let mut value = evaluator.eval_value(
        expression,
        &Scope {
            inputs: Some(&all),
            self_: None,
            runtime: Some(&runtime),
        },
        &format!("{}/expression", run.at),
    )?;
    let Value::Object(_) = value else {
        return Err(Error::cwl(
            format!("{}/expression", run.at),
            "the expression must return an object",
        ));
    };
    values::materialise(&mut value, run.outdir)?;
    outputs::Bounds::new(run.outdir, &all).confine(&value, &format!("{}/expression", run.at))?;
    complete_outputs(&mut value)?;
    let mut out = Map::new();
    for output in values::items(run.process, "outputs") {
        let id = output.get("id").and_then(Value::as_str).unwrap_or("");
        let v = value.get(id).cloned().unwrap_or(Value::Null);
        let ty = output.get("type").cloned().unwrap_or(Value::Null);
        values::check_output(&v, &ty, &format!("{}/outputs/{id}", run.at))?;
        out.insert(id.to_string(), v);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Map, Value, json};

    use super::{ToolRun, bind_job, command_line};
    use crate::cwl::expr::Evaluator;
    use crate::cwl::load::load_text;

    fn argv(doc: &str, job: Value) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load_text(&dir.path().join("tool.cwl"), doc, None).unwrap();
        let requirements = loaded
            .process
            .get("requirements")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let run = ToolRun {
            process: &loaded.process,
            requirements: requirements.clone(),
            hints: vec![],
            outdir: dir.path(),
            scratch: dir.path(),
            at: "#".into(),
        };
        let evaluator = Evaluator::for_requirements(&requirements);
        let job: Map<String, Value> = serde_json::from_value(job).unwrap();
        let inputs = bind_job(
            &loaded.process,
            &job,
            &evaluator,
            &requirements,
            Path::new("/tmp"),
            "#",
        )
        .unwrap();
        command_line(
            &run,
            &evaluator,
            &inputs,
            &json!({ "outdir": "/out", "tmpdir": "/tmp" }),
        )
        .unwrap()
        .0
    }

    #[test]
    fn positions_prefixes_separators_and_arguments() {
        let doc = r#"
cwlVersion: v1.2
class: CommandLineTool
baseCommand: [tool, run]
arguments:
  - valueFrom: $(runtime.outdir)
    prefix: -o
    position: 5
  - "--verbose"
inputs:
  b: { type: int, inputBinding: { position: 2, prefix: -b } }
  a: { type: string, inputBinding: { position: 2, prefix: "--a=", separate: false } }
  flag: { type: boolean, inputBinding: { prefix: --flag } }
  off: { type: boolean, default: false, inputBinding: { prefix: --off } }
  list: { type: "string[]", inputBinding: { position: 3, prefix: -l, itemSeparator: "," } }
  spread: { type: "int[]", inputBinding: { position: 4, prefix: -s } }
  missing: { type: "string?", inputBinding: { prefix: -m } }
  x: { type: double, inputBinding: { position: 6 } }
  unbound: string
outputs: []
"#;
        let job = json!({ "b": 3, "a": "x y", "flag": true, "list": ["p", "q"], "spread": [1, 2], "x": 1.23e5, "unbound": "u" });
        // At equal positions arguments come before inputs; numbers are written in decimal.
        assert_eq!(
            argv(doc, job),
            [
                "tool",
                "run",
                "--verbose",
                "--flag",
                "--a=x y",
                "-b",
                "3",
                "-l",
                "p,q",
                "-s",
                "1",
                "2",
                "-o",
                "/out",
                "123000"
            ]
        );
    }

    #[test]
    fn records_and_item_bindings() {
        let doc = r#"
cwlVersion: v1.2
class: CommandLineTool
baseCommand: cat
inputs:
  reads:
    type: { type: array, items: string, inputBinding: { prefix: -r } }
    inputBinding: { position: 1, prefix: --reads }
  pair:
    type:
      type: record
      fields:
        left: { type: string, inputBinding: { position: 3 } }
        right: { type: string, inputBinding: { position: 0 } }
outputs: []
"#;
        let job = json!({ "reads": ["a", "b"], "pair": { "left": "L", "right": "R" } });
        assert_eq!(
            argv(doc, job),
            ["cat", "R", "--reads", "-r", "a", "-r", "b", "L"]
        );
    }

    #[test]
    fn shell_command_quotes_unless_told_not_to() {
        let doc = r#"
cwlVersion: v1.2
class: CommandLineTool
requirements:
  ShellCommandRequirement: {}
inputs:
  text: { type: string, inputBinding: { position: 1 } }
arguments:
  - { valueFrom: "echo", position: 0 }
  - { valueFrom: "> out.txt", position: 2, shellQuote: false }
outputs: []
"#;
        assert_eq!(
            argv(doc, json!({ "text": "it's a river" })),
            ["/bin/sh", "-c", "echo 'it'\\''s a river' > out.txt"]
        );
    }
}
