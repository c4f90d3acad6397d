//! `InitialWorkDirRequirement`: the entries staged into the output folder before
//! the tool runs.

use serde_json::{Map, Value, json};

use super::ToolRun;
use super::binding::text_of;
use crate::cwl::expr::{Evaluator, Scope, has_expression};
use crate::cwl::values;
use crate::{Error, Result};

/// Stages `InitialWorkDirRequirement` entries into the output folder.
pub(super) fn stage_initial_workdir(
    run: &ToolRun<'_>,
    evaluator: &Evaluator,
    inputs: &Map<String, Value>,
    runtime: &Value,
) -> Result<()> {
    let Some(req) = run.req("InitialWorkDirRequirement") else {
        return Ok(());
    };
    let all = Value::Object(inputs.clone());
    let scope = Scope {
        inputs: Some(&all),
        self_: None,
        runtime: Some(runtime),
    };
    let at = format!("{}/requirements/InitialWorkDirRequirement", run.at);
    let listing = match req.get("listing") {
        Some(Value::String(expr)) => evaluator.eval(expr, &scope, &at)?,
        Some(other) => other.clone(),
        None => Value::Array(vec![]),
    };
    let entries = match listing {
        Value::Array(items) => items,
        other => vec![other],
    };
    for entry in entries {
        let entry = match entry {
            Value::String(s) => evaluator.eval(&s, &scope, &at)?,
            other => other,
        };
        stage_entry(entry, run, evaluator, &scope, &at)?;
    }
    Ok(())
}

pub(super) fn stage_entry(
    entry: Value,
    run: &ToolRun<'_>,
    evaluator: &Evaluator,
    scope: &Scope<'_>,
    at: &str,
) -> Result<()> {
    match entry {
        Value::Null => Ok(()),
        Value::Array(items) => items
            .into_iter()
            .try_for_each(|e| stage_entry(e, run, evaluator, scope, at)),
        Value::Object(ref m) if m.contains_key("class") => {
            let mut e = entry.clone();
            values::materialise(&mut e, run.scratch)?;
            values::place(&e, run.outdir)?;
            Ok(())
        }
        Value::Object(m) => {
            // A Dirent.
            let name = match m.get("entryname") {
                Some(v) => Some(text_of(&evaluator.eval_value(v, scope, at)?)),
                None => None,
            };
            let content = match m.get("entry") {
                Some(Value::String(s)) if has_expression(s) => evaluator.eval_raw(s, scope, at)?,
                Some(other) => other.clone(),
                None => Value::Null,
            };
            if let Some(name) = &name {
                values::check_inside(name, &format!("{at}/entryname"))?;
            }
            match (&content, name) {
                (Value::Object(c), name) if c.contains_key("class") => {
                    let mut c = content.clone();
                    values::materialise(&mut c, run.scratch)?;
                    // `entryname` may name a subfolder of the output folder.
                    let mut folder = run.outdir.to_path_buf();
                    if let Some(name) = name {
                        let (parent, last) = name.rsplit_once('/').unwrap_or(("", &name));
                        c["basename"] = json!(last);
                        if !parent.is_empty() {
                            folder = folder.join(parent);
                            std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
                        }
                    }
                    values::place(&c, &folder)?;
                    Ok(())
                }
                (Value::Array(items), None) => items
                    .clone()
                    .into_iter()
                    .try_for_each(|e| stage_entry(e, run, evaluator, scope, at)),
                (_, Some(name)) => {
                    let text = match content {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => crate::cwl::json::python_dumps(&other),
                    };
                    let target = run.outdir.join(&name);
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                    }
                    std::fs::write(&target, text).map_err(|e| Error::io(&target, e))
                }
                (_, None) => Err(Error::cwl(at, "an InitialWorkDir entry needs an entryname")),
            }
        }
        _ => Err(Error::cwl(at, "invalid InitialWorkDir entry")),
    }
}
