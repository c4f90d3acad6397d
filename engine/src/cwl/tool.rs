//! Running one `CommandLineTool` or `ExpressionTool`: inputs completed and checked,
//! `InitialWorkDirRequirement` staged, the command line built exactly as the spec
//! says, the invocation handed to a backend, outputs collected.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::backend::{Backend, ToolInvocation};
use super::expr::{Evaluator, Scope, has_expression};
use super::glob::glob;
use super::values::{self, class_of, file_object, matches_type, path_of};
use crate::{Error, Result};

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
}

/// Sort key element: numbers sort before names (as cwltool does).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum KeyPart {
    Int(i64),
    Name(String),
}

#[derive(Debug, Clone)]
struct Arg {
    text: String,
    quote: bool,
}

struct Bound {
    key: Vec<KeyPart>,
    args: Vec<Arg>,
}

/// Completes and checks the input object: defaults, types, File names, contents.
pub fn bind_job(
    process: &Value,
    job: &Map<String, Value>,
    evaluator: &Evaluator,
    requirements: &[Value],
    scratch: &Path,
    at: &str,
) -> Result<Map<String, Value>> {
    // Secondary files are discovered beside their primary only for the job of the
    // root process; inside a workflow they travel with the File objects, as in cwltool.
    let discover = at == "#";
    let mut bound = Map::new();
    let inputs = process
        .get("inputs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for input in &inputs {
        let id = input.get("id").and_then(Value::as_str).unwrap_or("");
        let ty = input.get("type").cloned().unwrap_or(json!("Any"));
        let mut value = match job.get(id) {
            Some(Value::Null) | None => input.get("default").cloned().unwrap_or(Value::Null),
            Some(v) => v.clone(),
        };
        values::materialise(&mut value, scratch)?;
        if !matches_type(&value, &ty) {
            let what = if value.is_null() {
                "missing required input".to_string()
            } else {
                format!(
                    "value {} does not match type {}",
                    values::short(&value),
                    values::short(&ty)
                )
            };
            return Err(Error::cwl(format!("job#/{id}"), what));
        }
        let load = input
            .get("loadContents")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || input
                .get("inputBinding")
                .and_then(|b| b.get("loadContents"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
        let listing = listing_depth(input.get("loadListing").or_else(|| {
            find_req(requirements, "LoadListingRequirement").and_then(|r| r.get("loadListing"))
        }));
        values::complete_files(&mut value, load, listing, &format!("job#/{id}"))?;
        bound.insert(id.to_string(), value);
    }
    // Secondary files and formats need the complete input object.
    let ontology = super::ontology::for_process(process);
    for value in bound.values_mut() {
        expand_formats(value, &ontology);
    }
    let all = Value::Object(bound.clone());
    for input in &inputs {
        let id = input.get("id").and_then(Value::as_str).unwrap_or("");
        let here = format!("job#/{id}");
        if let Some(patterns) = input.get("secondaryFiles") {
            if let Some(value) = bound.get_mut(id) {
                attach_secondary(value, patterns, evaluator, &all, discover, &here)?;
            }
        }
        if let Some(Value::Object(_)) = input.get("type") {
            if let Some(value) = bound.get_mut(id) {
                record_secondary(
                    value,
                    input.get("type").unwrap_or(&Value::Null),
                    evaluator,
                    &all,
                    &ontology,
                    discover,
                    &here,
                )?;
            }
        }
        if let Some(format) = input.get("format") {
            check_format(
                bound.get(id).unwrap_or(&Value::Null),
                format,
                evaluator,
                &all,
                &ontology,
                &here,
            )?;
        }
    }
    Ok(bound)
}

/// Writes the `format` of every File as a full IRI (`edam:format_1929` in a job).
fn expand_formats(value: &mut Value, ontology: &super::ontology::Ontology) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(f)) = map.get("format") {
                let full = ontology.expand(f);
                map.insert("format".into(), Value::String(full));
            }
            map.values_mut().for_each(|v| expand_formats(v, ontology));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| expand_formats(v, ontology)),
        _ => {}
    }
}

fn listing_depth(value: Option<&Value>) -> Option<usize> {
    match value.and_then(Value::as_str) {
        Some("shallow_listing") => Some(1),
        Some("deep_listing") => Some(usize::MAX / 2),
        Some("no_listing") => Some(0),
        _ => None,
    }
}

fn attach_secondary(
    value: &mut Value,
    patterns: &Value,
    evaluator: &Evaluator,
    inputs: &Value,
    discover: bool,
    at: &str,
) -> Result<()> {
    match value {
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|v| attach_secondary(v, patterns, evaluator, inputs, discover, at)),
        Value::Object(_) if class_of(value) == Some("File") => {
            if !discover {
                let expected =
                    values::secondary_files(value, patterns, evaluator, inputs, false, at)?;
                let wanted = values::secondary_names(value, patterns, evaluator, inputs, at)?;
                let have: Vec<String> = values::items(value, "secondaryFiles")
                    .iter()
                    .filter_map(|f| {
                        f.get("basename")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .collect();
                for name in wanted {
                    if !have.contains(&name) {
                        return Err(Error::cwl(
                            at,
                            format!("required secondary file {name} is missing"),
                        ));
                    }
                }
                let _ = expected;
                return Ok(());
            }
            let mut found = values::secondary_files(value, patterns, evaluator, inputs, true, at)?;
            let existing = value
                .get("secondaryFiles")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for e in existing {
                found.retain(|f| path_of(f) != path_of(&e));
                found.push(e);
            }
            value["secondaryFiles"] = Value::Array(found);
            Ok(())
        }
        _ => Ok(()),
    }
}

fn record_secondary(
    value: &mut Value,
    ty: &Value,
    evaluator: &Evaluator,
    inputs: &Value,
    ontology: &super::ontology::Ontology,
    discover: bool,
    at: &str,
) -> Result<()> {
    if ty.get("type").and_then(Value::as_str) != Some("record") {
        return Ok(());
    }
    let Value::Object(map) = value else {
        return Ok(());
    };
    for field in values::items(ty, "fields") {
        let name = field.get("name").and_then(Value::as_str).unwrap_or("");
        if let Some(v) = map.get_mut(name) {
            if let Some(patterns) = field.get("secondaryFiles") {
                attach_secondary(
                    v,
                    patterns,
                    evaluator,
                    inputs,
                    discover,
                    &format!("{at}/{name}"),
                )?;
            }
            if let Some(format) = field.get("format") {
                check_format(
                    v,
                    format,
                    evaluator,
                    inputs,
                    ontology,
                    &format!("{at}/{name}"),
                )?;
            }
            record_secondary(
                v,
                field.get("type").unwrap_or(&Value::Null),
                evaluator,
                inputs,
                ontology,
                discover,
                &format!("{at}/{name}"),
            )?;
        }
    }
    Ok(())
}

/// Checks a File's `format` against the parameter's; without an ontology loaded, a
/// file whose format is a different IRI is refused unless known to be equivalent.
fn check_format(
    value: &Value,
    format: &Value,
    evaluator: &Evaluator,
    inputs: &Value,
    ontology: &super::ontology::Ontology,
    at: &str,
) -> Result<()> {
    let expected = evaluator.eval_value(
        format,
        &Scope {
            inputs: Some(inputs),
            ..Scope::default()
        },
        at,
    )?;
    let expected: Vec<String> = match expected {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Value::String(s) => vec![s],
        _ => return Ok(()),
    };
    let mut files = Vec::new();
    collect_files(value, &mut files);
    for file in files {
        let Some(actual) = file.get("format").and_then(Value::as_str) else {
            continue;
        };
        if !expected
            .iter()
            .any(|e| super::ontology::format_matches(ontology, actual, e))
        {
            return Err(Error::cwl(
                at,
                format!(
                    "file {} has format {actual}, expected {}",
                    file.get("basename").and_then(Value::as_str).unwrap_or(""),
                    expected.join(" or ")
                ),
            ));
        }
    }
    Ok(())
}

fn collect_files<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_files(v, out)),
        Value::Object(_) if class_of(value) == Some("File") => out.push(value),
        Value::Object(m) => m.values().for_each(|v| collect_files(v, out)),
        _ => {}
    }
}

/// Builds the command line (`baseCommand`, then sorted bindings), quoted for a shell
/// when `ShellCommandRequirement` is present.
fn command_line(
    run: &ToolRun<'_>,
    evaluator: &Evaluator,
    inputs: &Map<String, Value>,
    runtime: &Value,
) -> Result<(Vec<String>, bool)> {
    let p = run.process;
    let all = Value::Object(inputs.clone());
    let mut bound = Vec::new();
    for (i, argument) in values::items(p, "arguments").iter().enumerate() {
        let at = format!("{}/arguments/{i}", run.at);
        let scope = Scope {
            inputs: Some(&all),
            self_: None,
            runtime: Some(runtime),
        };
        match argument {
            Value::String(s) => {
                let v = evaluator.eval_value(&json!(s), &scope, &at)?;
                bound.push(Bound {
                    key: vec![KeyPart::Int(0), KeyPart::Int(i as i64)],
                    args: vec![Arg {
                        text: text_of(&v),
                        quote: true,
                    }],
                });
            }
            Value::Object(binding) => {
                let position = eval_position(binding, evaluator, &scope, &at)?;
                let value = match binding.get("valueFrom") {
                    Some(v) => evaluator.eval_value(v, &scope, &at)?,
                    None => Value::Null,
                };
                let args = render(&value, binding, &at)?;
                bound.push(Bound {
                    key: vec![KeyPart::Int(position), KeyPart::Int(i as i64)],
                    args,
                });
            }
            _ => return Err(Error::cwl(at, "an argument must be a string or a binding")),
        }
    }
    for input in values::items(p, "inputs") {
        let id = input.get("id").and_then(Value::as_str).unwrap_or("");
        let value = inputs.get(id).cloned().unwrap_or(Value::Null);
        let at = format!("{}/inputs/{id}", run.at);
        bind_value(
            &value,
            input.get("type").unwrap_or(&Value::Null),
            input.get("inputBinding").and_then(Value::as_object),
            vec![],
            KeyPart::Name(id.to_string()),
            evaluator,
            &all,
            runtime,
            &at,
            &mut bound,
        )?;
    }
    bound.sort_by(|a, b| a.key.cmp(&b.key));
    let shell = find_req(&run.requirements, "ShellCommandRequirement").is_some();
    let mut argv: Vec<Arg> = values::items(p, "baseCommand")
        .iter()
        .map(|v| Arg {
            text: text_of(v),
            quote: true,
        })
        .collect();
    argv.extend(bound.into_iter().flat_map(|b| b.args));
    if shell {
        let line: Vec<String> = argv
            .iter()
            .map(|a| {
                if a.quote {
                    shell_quote(&a.text)
                } else {
                    a.text.clone()
                }
            })
            .collect();
        return Ok((vec!["/bin/sh".into(), "-c".into(), line.join(" ")], true));
    }
    Ok((argv.into_iter().map(|a| a.text).collect(), false))
}

fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

fn eval_position(
    binding: &Map<String, Value>,
    evaluator: &Evaluator,
    scope: &Scope<'_>,
    at: &str,
) -> Result<i64> {
    let value = match binding.get("position") {
        None => return Ok(0),
        Some(Value::String(expr)) => evaluator.eval(expr, scope, at)?,
        Some(other) => other.clone(),
    };
    match value {
        Value::Null => Ok(0),
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| Error::cwl(at, "position must be an integer")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| Error::cwl(at, format!("position {s:?} is not an integer"))),
        other => Err(Error::cwl(
            at,
            format!("position must be an integer, not {other}"),
        )),
    }
}

/// Binds one value with its type's bindings (records' fields and arrays' items recursively).
#[allow(clippy::too_many_arguments)]
fn bind_value(
    value: &Value,
    ty: &Value,
    binding: Option<&Map<String, Value>>,
    lead: Vec<KeyPart>,
    tail: KeyPart,
    evaluator: &Evaluator,
    inputs: &Value,
    runtime: &Value,
    at: &str,
    out: &mut Vec<Bound>,
) -> Result<()> {
    // A union: bind with the member type the value matches.
    if let Value::Array(options) = ty {
        let member = options
            .iter()
            .find(|t| !value.is_null() && matches_type(value, t) && t.is_object())
            .or_else(|| options.iter().find(|t| matches_type(value, t)));
        if let Some(member) = member {
            if member.is_object() {
                return bind_value(
                    value, member, binding, lead, tail, evaluator, inputs, runtime, at, out,
                );
            }
        }
    }
    let scope = Scope {
        inputs: Some(inputs),
        self_: Some(value),
        runtime: Some(runtime),
    };
    let mut key = lead.clone();
    if let Some(b) = binding {
        key.push(KeyPart::Int(eval_position(b, evaluator, &scope, at)?));
    } else {
        key.push(KeyPart::Int(0));
    }
    key.push(tail.clone());
    let type_binding = ty.get("inputBinding").and_then(Value::as_object);
    let kind = ty.get("type").and_then(Value::as_str);
    // An array schema's own binding applies to each item; others add to the parameter's.
    let binding = if kind == Some("array") {
        binding
    } else {
        binding.or(type_binding)
    };
    if value.is_null() {
        return Ok(());
    }
    if let (Some("record"), Value::Object(map)) = (kind, value) {
        if let Some(b) = binding {
            if b.get("valueFrom").is_none() {
                let prefix = b.get("prefix").and_then(Value::as_str);
                if let Some(prefix) = prefix {
                    out.push(Bound {
                        key: key.clone(),
                        args: vec![Arg {
                            text: prefix.into(),
                            quote: true,
                        }],
                    });
                }
            } else {
                let v =
                    evaluator.eval_value(b.get("valueFrom").unwrap_or(&Value::Null), &scope, at)?;
                out.push(Bound {
                    key: key.clone(),
                    args: render(&v, b, at)?,
                });
                return Ok(());
            }
        }
        for field in values::items(ty, "fields") {
            let name = field.get("name").and_then(Value::as_str).unwrap_or("");
            let fb = field.get("inputBinding").and_then(Value::as_object);
            let fv = map.get(name).cloned().unwrap_or(Value::Null);
            if fb.is_none()
                && !field
                    .get("type")
                    .is_some_and(|t| t.is_object() || t.is_array())
            {
                continue;
            }
            // Fields sort under their record's binding when it has one; the fields
            // of an array item sort under its index; the fields of a record
            // parameter without a binding sort among the parameters by their own
            // positions (as cwltool does).
            let field_lead = match (&binding, &tail) {
                (Some(_), _) => key.clone(),
                (None, KeyPart::Int(_)) => {
                    let mut l = lead.clone();
                    l.push(tail.clone());
                    l
                }
                (None, _) => lead.clone(),
            };
            bind_value(
                &fv,
                field.get("type").unwrap_or(&Value::Null),
                fb,
                field_lead,
                KeyPart::Name(name.into()),
                evaluator,
                inputs,
                runtime,
                &format!("{at}/{name}"),
                out,
            )?;
        }
        return Ok(());
    }
    if let (Some("array"), Value::Array(items)) = (kind, value) {
        let items_ty = ty.get("items").unwrap_or(&Value::Null);
        let item_binding =
            type_binding.or_else(|| items_ty.get("inputBinding").and_then(Value::as_object));
        let is_record = |t: &Value| t.get("type").and_then(Value::as_str) == Some("record");
        let nested = item_binding.is_some()
            || is_record(items_ty)
            || items_ty.as_array().is_some_and(|u| u.iter().any(is_record));
        if nested
            && binding
                .is_none_or(|b| b.get("itemSeparator").is_none() && b.get("valueFrom").is_none())
        {
            if let Some(prefix) = binding
                .and_then(|b| b.get("prefix"))
                .and_then(Value::as_str)
            {
                if !items.is_empty() {
                    out.push(Bound {
                        key: key.clone(),
                        args: vec![Arg {
                            text: prefix.into(),
                            quote: true,
                        }],
                    });
                }
            }
            for (i, item) in items.iter().enumerate() {
                bind_value(
                    item,
                    items_ty,
                    item_binding,
                    key.clone(),
                    KeyPart::Int(i as i64),
                    evaluator,
                    inputs,
                    runtime,
                    at,
                    out,
                )?;
            }
            return Ok(());
        }
    }
    let Some(binding) = binding else {
        return Ok(());
    };
    let value = match binding.get("valueFrom") {
        Some(v) => evaluator.eval_value(v, &scope, at)?,
        None => value.clone(),
    };
    out.push(Bound {
        key,
        args: render(&value, binding, at)?,
    });
    Ok(())
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(m) if m.contains_key("class") => path_of(value)
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        Value::Null => String::new(),
        Value::Number(n) => match n.as_f64() {
            // Decimal notation, as cwltool writes numbers: 1.23e5 is 123000, 1e-5 is 0.00001.
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e17 => format!("{}", f as i64),
            Some(f) if n.is_f64() => format!("{f}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Renders one value with one binding, per the spec's table of types.
fn render(value: &Value, binding: &Map<String, Value>, at: &str) -> Result<Vec<Arg>> {
    let prefix = binding.get("prefix").and_then(Value::as_str);
    let separate = binding
        .get("separate")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let quote = binding
        .get("shellQuote")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let arg = |text: String| Arg { text, quote };
    let join = |text: String| -> Vec<Arg> {
        match prefix {
            None => vec![arg(text)],
            Some(p) if separate => vec![arg(p.to_string()), arg(text)],
            Some(p) => vec![arg(format!("{p}{text}"))],
        }
    };
    Ok(match value {
        Value::Null => Vec::new(),
        Value::Bool(true) => prefix.map(|p| vec![arg(p.to_string())]).unwrap_or_default(),
        Value::Bool(false) => Vec::new(),
        Value::Array(items) => {
            if items.is_empty() {
                return Ok(Vec::new());
            }
            fn flatten(items: &[Value], out: &mut Vec<String>) {
                for item in items {
                    match item {
                        Value::Array(inner) => flatten(inner, out),
                        other => out.push(text_of(other)),
                    }
                }
            }
            let mut texts = Vec::new();
            flatten(items, &mut texts);
            match binding.get("itemSeparator").and_then(Value::as_str) {
                Some(sep) => join(texts.join(sep)),
                None => {
                    let mut out: Vec<Arg> =
                        prefix.map(|p| vec![arg(p.to_string())]).unwrap_or_default();
                    out.extend(texts.into_iter().map(arg));
                    out
                }
            }
        }
        Value::Object(map) if !map.contains_key("class") => {
            return Err(Error::Unsupported {
                location: at.to_string(),
                message: "binding a record without field bindings".into(),
            });
        }
        other => join(text_of(other)),
    })
}

/// Stages `InitialWorkDirRequirement` entries into the output folder.
fn stage_initial_workdir(
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

fn stage_entry(
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
            match (&content, name) {
                (Value::Object(c), name) if c.contains_key("class") => {
                    let mut c = content.clone();
                    values::materialise(&mut c, run.scratch)?;
                    if let Some(name) = name {
                        c["basename"] = json!(name);
                    }
                    let target = values::place(&c, run.outdir)?;
                    let _ = target;
                    Ok(())
                }
                (Value::Array(items), None) => items
                    .clone()
                    .into_iter()
                    .try_for_each(|e| stage_entry(e, run, evaluator, scope, at)),
                (_, Some(name)) => {
                    if name.starts_with('/') || name.split('/').any(|p| p == "..") {
                        return Err(Error::cwl(
                            at,
                            format!("entryname {name:?} must stay inside the output directory"),
                        ));
                    }
                    let text = match content {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => super::json::python_dumps(&other),
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

/// Runs a CommandLineTool on `backend` and returns its output object.
pub async fn run_command_line_tool(
    run: &ToolRun<'_>,
    backend: &dyn Backend,
    job: &Map<String, Value>,
) -> Result<Value> {
    let evaluator = Evaluator::for_requirements(&run.requirements);
    let inputs = bind_job(
        run.process,
        job,
        &evaluator,
        &run.requirements,
        run.scratch,
        &run.at,
    )?;
    let mut staged_inputs = inputs.clone();
    let staging = backend.stage(
        run.process,
        &run.requirements,
        &mut staged_inputs,
        run.outdir,
    )?;
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
        if name.starts_with('/') || name.split('/').any(|p| p == "..") {
            return Err(Error::cwl(
                format!("{}/stdout", run.at),
                format!("{name:?} must be a path inside the output directory"),
            ));
        }
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

/// Collects the outputs of a finished tool from its output folder.
fn collect_outputs(
    run: &ToolRun<'_>,
    evaluator: &Evaluator,
    inputs: &Map<String, Value>,
    runtime: &Value,
    stdout: Option<&str>,
) -> Result<Value> {
    let outdir = run.outdir;
    let all = Value::Object(inputs.clone());
    let custom = outdir.join("cwl.output.json");
    if custom.is_file() {
        let text = std::fs::read_to_string(&custom).map_err(|e| Error::io(&custom, e))?;
        let mut value: Value = serde_json::from_str(&text)
            .map_err(|e| Error::cwl(custom.display().to_string(), e.to_string()))?;
        super::load::absolutise_files(&mut value, outdir);
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
            _ => collect_one(output, &ty, evaluator, &all, runtime, outdir, &at)?,
        };
        values::check_output(&value, &ty, &at)?;
        result.insert(id.to_string(), value);
    }
    Ok(Value::Object(result))
}

fn complete_outputs(value: &mut Value) -> Result<()> {
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

fn collect_one(
    output: &Value,
    ty: &Value,
    evaluator: &Evaluator,
    inputs: &Value,
    runtime: &Value,
    outdir: &Path,
    at: &str,
) -> Result<Value> {
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
                outdir,
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
            // A match outside the folder must resolve into it.
            let outside = !path.starts_with(outdir)
                && !std::fs::canonicalize(&path)
                    .map_err(|e| Error::io(&path, e))?
                    .starts_with(outdir);
            if outside {
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
        super::load::absolutise_files(&mut value, outdir);
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

fn wants_array(ty: &Value) -> bool {
    match ty {
        Value::Object(m) => m.get("type").and_then(Value::as_str) == Some("array"),
        Value::Array(options) => options.iter().any(wants_array),
        _ => false,
    }
}

fn attach_output_secondary(
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

fn set_format(value: &mut Value, format: &Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| set_format(v, format)),
        Value::Object(m) if m.get("class").and_then(Value::as_str) == Some("File") => {
            m.insert("format".into(), format.clone());
        }
        _ => {}
    }
}

/// Runs an ExpressionTool: its expression's object is the output.
pub fn run_expression_tool(run: &ToolRun<'_>, job: &Map<String, Value>) -> Result<Value> {
    let evaluator = Evaluator::for_requirements(&run.requirements);
    let inputs = bind_job(
        run.process,
        job,
        &evaluator,
        &run.requirements,
        run.scratch,
        &run.at,
    )?;
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
