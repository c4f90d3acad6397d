//! The validation pass: `commonwl`-style parsing accepts documents the spec rejects,
//! so every loaded process is checked here before anything runs. Errors name the
//! file and the JSON pointer of what is wrong.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::values;
use crate::{Error, Result};

const COMMON: &[&str] = &[
    "cwlVersion",
    "class",
    "id",
    "label",
    "doc",
    "inputs",
    "outputs",
    "requirements",
    "hints",
    "intent",
];
const TOOL: &[&str] = &[
    "baseCommand",
    "arguments",
    "stdin",
    "stdout",
    "stderr",
    "successCodes",
    "temporaryFailCodes",
    "permanentFailCodes",
];
const EXPRESSION_TOOL: &[&str] = &["expression"];
const WORKFLOW: &[&str] = &["steps"];
const STEP: &[&str] = &[
    "id",
    "in",
    "out",
    "run",
    "requirements",
    "hints",
    "label",
    "doc",
    "scatter",
    "scatterMethod",
    "when",
];
const STEP_INPUT: &[&str] = &[
    "id",
    "source",
    "linkMerge",
    "pickValue",
    "loadContents",
    "loadListing",
    "label",
    "default",
    "valueFrom",
];
const INPUT: &[&str] = &[
    "id",
    "label",
    "secondaryFiles",
    "streamable",
    "doc",
    "format",
    "loadContents",
    "loadListing",
    "default",
    "type",
    "inputBinding",
];
const OUTPUT: &[&str] = &[
    "id",
    "label",
    "secondaryFiles",
    "streamable",
    "doc",
    "format",
    "type",
    "outputBinding",
    "outputSource",
    "linkMerge",
    "pickValue",
];
const VERSIONS: &[&str] = &["v1.0", "v1.1", "v1.2"];
/// The requirement classes of CWL v1.2 (all versions' classes are among them).
pub(crate) const REQUIREMENT_CLASSES: &[&str] = &[
    "InlineJavascriptRequirement",
    "SchemaDefRequirement",
    "LoadListingRequirement",
    "DockerRequirement",
    "SoftwareRequirement",
    "InitialWorkDirRequirement",
    "EnvVarRequirement",
    "ShellCommandRequirement",
    "ResourceRequirement",
    "WorkReuse",
    "NetworkAccess",
    "InplaceUpdateRequirement",
    "ToolTimeLimit",
    "SubworkflowFeatureRequirement",
    "ScatterFeatureRequirement",
    "MultipleInputFeatureRequirement",
    "StepInputExpressionRequirement",
];

/// True for a class of the CWL standard or of an extension namespace
/// (`prefix:Name` or a full URI, such as `hysope:WasmRequirement`).
fn known_or_extension(class: &str) -> bool {
    REQUIREMENT_CLASSES.contains(&class) || class.contains(':')
}

/// Refuses, as cwltool's validation does, a `requirements` entry (of the process,
/// its steps or the processes they run) whose class is neither CWL's nor of an
/// extension namespace: `cwl-runner --validate`. Running such a document is not
/// refused here but reported unsupported by the runner (exit code 33), which is
/// what conformance runners expect of a requirement they do not implement.
pub fn refuse_unknown_requirements(process: &Value, at: &str) -> Result<()> {
    refuse_unknown_classes(values::items(process, "requirements"), at)?;
    for step in values::items(process, "steps") {
        let id = step.get("id").and_then(Value::as_str).unwrap_or("?");
        let here = format!("{at}/steps/{id}");
        refuse_unknown_classes(values::items(step, "requirements"), &here)?;
        if let Some(run) = step.get("run").filter(|r| r.is_object()) {
            refuse_unknown_requirements(run, &format!("{here}/run"))?;
        }
    }
    Ok(())
}

/// The first of `requirements` (at `at`) whose class is unknown, as an error.
fn refuse_unknown_classes(requirements: &[Value], at: &str) -> Result<()> {
    for req in requirements {
        let class = req.get("class").and_then(Value::as_str).unwrap_or("?");
        if !known_or_extension(class) {
            return Err(Error::cwl(
                format!("{at}/requirements/{class}"),
                format!(
                    "unknown requirement class {class:?} (not a CWL requirement; an extension's class needs its namespace prefix)"
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a loaded process; `at` is its file (for error locations).
pub fn validate(process: &Value, at: &str) -> Result<()> {
    validate_process(process, at, None)
}

fn unknown_fields(
    map: &serde_json::Map<String, Value>,
    allowed: &[&[&str]],
    at: &str,
) -> Result<()> {
    for key in map.keys() {
        if key.starts_with('$') || key.contains(':') {
            continue;
        }
        if !allowed.iter().any(|list| list.contains(&key.as_str())) {
            return Err(Error::cwl(
                format!("{at}/{key}"),
                format!("unknown field {key:?}"),
            ));
        }
    }
    Ok(())
}

/// `inherited` is the `cwlVersion` of the enclosing document (`None` at the top).
fn validate_process(process: &Value, at: &str, inherited: Option<&str>) -> Result<()> {
    let Value::Object(map) = process else {
        return Err(Error::cwl(at, "a process must be a mapping"));
    };
    let version = match map.get("cwlVersion").and_then(Value::as_str) {
        Some(v) if VERSIONS.contains(&v) => v,
        Some(other) => {
            return Err(Error::cwl(
                format!("{at}/cwlVersion"),
                format!("unknown cwlVersion {other:?} (expected v1.0, v1.1 or v1.2)"),
            ));
        }
        None => {
            inherited.ok_or_else(|| Error::cwl(format!("{at}/cwlVersion"), "missing cwlVersion"))?
        }
    };
    let class = map
        .get("class")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::cwl(format!("{at}/class"), "missing class"))?;
    if class == "Operation" && version != "v1.2" {
        return Err(since_v12(
            &format!("{at}/class"),
            "class Operation",
            version,
        ));
    }
    let extra: &[&str] = match class {
        "CommandLineTool" => TOOL,
        "ExpressionTool" => EXPRESSION_TOOL,
        "Workflow" => WORKFLOW,
        "Operation" => &[],
        other => {
            return Err(Error::cwl(
                format!("{at}/class"),
                format!("unknown class {other:?}"),
            ));
        }
    };
    unknown_fields(map, &[COMMON, extra], at)?;
    for key in ["inputs", "outputs"] {
        let allowed = if key == "inputs" { INPUT } else { OUTPUT };
        for (i, p) in map
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Value::Object(pm) = p else { continue };
            let id = pm.get("id").and_then(Value::as_str).unwrap_or("");
            let here = format!(
                "{at}/{key}/{}",
                if id.is_empty() {
                    i.to_string()
                } else {
                    id.to_string()
                }
            );
            unknown_fields(pm, &[allowed], &here)?;
            let workflow_output = class == "Workflow" && key == "outputs";
            if !pm.contains_key("type") && !workflow_output {
                return Err(Error::cwl(here, "parameter without a type"));
            }
        }
    }
    for key in ["requirements", "hints"] {
        for req in map.get(key).and_then(Value::as_array).into_iter().flatten() {
            let class = req.get("class").and_then(Value::as_str).unwrap_or("?");
            let here = format!("{at}/{key}/{class}");
            if key == "hints" && !known_or_extension(class) {
                tracing::warn!(location = %here, class, "unknown hint class, ignored");
            }
            check_requirement(req, &here, version)?;
        }
    }
    if class == "CommandLineTool" {
        for (key, ok) in [
            ("successCodes", true),
            ("temporaryFailCodes", true),
            ("permanentFailCodes", true),
        ] {
            if let Some(v) = map.get(key) {
                if !(ok && v.as_array().is_some_and(|a| a.iter().all(Value::is_i64))) {
                    return Err(Error::cwl(
                        format!("{at}/{key}"),
                        "must be a list of integers",
                    ));
                }
            }
        }
        if let Some(v) = map.get("baseCommand") {
            if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                return Err(Error::cwl(
                    format!("{at}/baseCommand"),
                    "baseCommand must be a string or a list of strings",
                ));
            }
        }
    }
    if class == "Workflow" {
        validate_workflow(process, map, at, version)?;
    }
    Ok(())
}

/// The error for a v1.2 feature in a document of an older `cwlVersion`.
fn since_v12(at: &str, feature: &str, version: &str) -> Error {
    Error::cwl(
        at,
        format!("{feature} is CWL v1.2; this document says cwlVersion {version}"),
    )
}

fn check_requirement(req: &Value, at: &str, version: &str) -> Result<()> {
    let class = req.get("class").and_then(Value::as_str).unwrap_or("");
    let expect = |field: &str, ok: fn(&Value) -> bool, what: &str| -> Result<()> {
        match req.get(field) {
            Some(v) if !ok(v) => Err(Error::cwl(
                format!("{at}/{field}"),
                format!("{field} must be {what}"),
            )),
            _ => Ok(()),
        }
    };
    let non_negative_or_expr = |v: &Value| v.as_f64().is_some_and(|n| n >= 0.0) || v.is_string();
    match class {
        "ResourceRequirement" => {
            for f in [
                "coresMin",
                "coresMax",
                "ramMin",
                "ramMax",
                "tmpdirMin",
                "tmpdirMax",
                "outdirMin",
                "outdirMax",
            ] {
                expect(
                    f,
                    non_negative_or_expr,
                    "a non-negative number or an expression",
                )?;
                let fraction = req
                    .get(f)
                    .and_then(Value::as_f64)
                    .is_some_and(|n| n.fract() != 0.0);
                if fraction && version != "v1.2" {
                    return Err(since_v12(
                        &format!("{at}/{f}"),
                        "a fractional resource amount",
                        version,
                    ));
                }
            }
        }
        "ToolTimeLimit" => expect(
            "timelimit",
            |v| v.is_i64() && v.as_i64() >= Some(0) || v.is_u64() || v.is_string(),
            "a non-negative whole number of seconds or an expression",
        )?,
        "InlineJavascriptRequirement" => expect(
            "expressionLib",
            |v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            "a list of strings",
        )?,
        "EnvVarRequirement" => expect(
            "envDef",
            Value::is_array,
            "a list or a mapping of envName: envValue",
        )?,
        "NetworkAccess" => expect(
            "networkAccess",
            |v| v.is_boolean() || v.is_string(),
            "a boolean or an expression",
        )?,
        "WorkReuse" => expect(
            "enableReuse",
            |v| v.is_boolean() || v.is_string(),
            "a boolean or an expression",
        )?,
        "LoadListingRequirement" => expect(
            "loadListing",
            |v| {
                matches!(
                    v.as_str(),
                    Some("no_listing" | "shallow_listing" | "deep_listing")
                )
            },
            "no_listing, shallow_listing or deep_listing",
        )?,
        "hysope:WasmRequirement" => expect(
            "component",
            Value::is_string,
            "a path, a registry name or sha256:<digest>",
        )?,
        _ => {}
    }
    Ok(())
}

/// `process` is the workflow, `map` its mapping.
fn validate_workflow(
    process: &Value,
    map: &serde_json::Map<String, Value>,
    at: &str,
    version: &str,
) -> Result<()> {
    let inputs: HashSet<&str> = values::ids(process, "inputs").into_iter().collect();
    let steps = map
        .get("steps")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut outs: HashMap<String, HashSet<String>> = HashMap::new();
    for step in &steps {
        let id = step
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let o: HashSet<String> = values::string_list(step, "out").into_iter().collect();
        if outs.insert(id.clone(), o).is_some() {
            return Err(Error::cwl(
                format!("{at}/steps/{id}"),
                format!("step id {id:?} is used twice"),
            ));
        }
    }
    let exists = |source: &str| -> bool {
        match source.split_once('/') {
            None => inputs.contains(source),
            Some((step, out)) => outs.get(step).is_some_and(|o| o.contains(out)),
        }
    };
    let mut edges: HashMap<String, Vec<String>> = HashMap::new();
    for step in &steps {
        let id = step.get("id").and_then(Value::as_str).unwrap_or("");
        let Value::Object(sm) = step else { continue };
        unknown_fields(sm, &[STEP], &format!("{at}/steps/{id}"))?;
        for input in sm.get("in").and_then(Value::as_array).into_iter().flatten() {
            let iid = input.get("id").and_then(Value::as_str).unwrap_or("");
            if let Value::Object(im) = input {
                unknown_fields(im, &[STEP_INPUT], &format!("{at}/steps/{id}/in/{iid}"))?;
            }
            for source in values::string_list(input, "source") {
                if !exists(&source) {
                    return Err(Error::cwl(
                        format!("{at}/steps/{id}/in/{iid}"),
                        format!("source {source:?} is neither a workflow input nor a step output"),
                    ));
                }
                if let Some((from, _)) = source.split_once('/') {
                    edges
                        .entry(id.to_string())
                        .or_default()
                        .push(from.to_string());
                }
            }
        }
        let run = sm
            .get("run")
            .ok_or_else(|| Error::cwl(format!("{at}/steps/{id}"), "a step needs run"))?;
        let run_at = run
            .get("$path")
            .and_then(Value::as_str)
            .map(|p| format!("{p}#"))
            .unwrap_or_else(|| format!("{at}/steps/{id}/run"));
        if version != "v1.2" {
            if sm.contains_key("when") {
                return Err(since_v12(&format!("{at}/steps/{id}/when"), "when", version));
            }
        }
        validate_process(run, &run_at, Some(version))?;
        for scatter in sm
            .get("scatter")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !sm
                .get("in")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|i| i.get("id").and_then(Value::as_str) == Some(scatter))
            {
                return Err(Error::cwl(
                    format!("{at}/steps/{id}/scatter"),
                    format!("scatter names {scatter:?}, which is not an input of the step"),
                ));
            }
        }
        if let Some(m) = sm.get("scatterMethod").and_then(Value::as_str) {
            if !matches!(
                m,
                "dotproduct" | "nested_crossproduct" | "flat_crossproduct"
            ) {
                return Err(Error::cwl(
                    format!("{at}/steps/{id}/scatterMethod"),
                    format!("unknown scatterMethod {m:?}"),
                ));
            }
        }
    }
    for output in map
        .get("outputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let oid = output.get("id").and_then(Value::as_str).unwrap_or("");
        for source in values::string_list(output, "outputSource") {
            if !exists(&source) {
                return Err(Error::cwl(
                    format!("{at}/outputs/{oid}/outputSource"),
                    format!("{source:?} is neither a workflow input nor a step output"),
                ));
            }
        }
    }
    // Cycles: depth-first search over step dependencies.
    fn visit(
        node: &str,
        edges: &HashMap<String, Vec<String>>,
        state: &mut HashMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(1) => {
                let start = path.iter().position(|p| p == node).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            Some(2) => return None,
            _ => {}
        }
        state.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = HashMap::new();
    for step in &steps {
        let id = step.get("id").and_then(Value::as_str).unwrap_or("");
        if let Some(cycle) = visit(id, &edges, &mut state, &mut Vec::new()) {
            return Err(Error::cwl(
                format!("{at}/steps"),
                format!("the steps form a cycle: {}", cycle.join(" -> ")),
            ));
        }
    }
    Ok(())
}
