//! Binding: the input object completed and checked (defaults, types, File names,
//! formats, secondary files) and the command line built from it as the spec says.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::{ToolRun, find_req};
use crate::cwl::expr::{Evaluator, Scope};
use crate::cwl::values::{self, class_of, matches_type, path_of};
use crate::{Error, Result};

/// Sort key element: numbers sort before names (as cwltool does).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum KeyPart {
    Int(i64),
    Name(String),
}

#[derive(Debug, Clone)]
pub(super) struct Arg {
    text: String,
    quote: bool,
}

pub(super) struct Bound {
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
    let ontology = crate::cwl::ontology::for_process(process);
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
pub(super) fn expand_formats(value: &mut Value, ontology: &crate::cwl::ontology::Ontology) {
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

pub(super) fn listing_depth(value: Option<&Value>) -> Option<usize> {
    match value.and_then(Value::as_str) {
        Some("shallow_listing") => Some(1),
        Some("deep_listing") => Some(usize::MAX / 2),
        Some("no_listing") => Some(0),
        _ => None,
    }
}

pub(super) fn attach_secondary(
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

pub(super) fn record_secondary(
    value: &mut Value,
    ty: &Value,
    evaluator: &Evaluator,
    inputs: &Value,
    ontology: &crate::cwl::ontology::Ontology,
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
pub(super) fn check_format(
    value: &Value,
    format: &Value,
    evaluator: &Evaluator,
    inputs: &Value,
    ontology: &crate::cwl::ontology::Ontology,
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
            .any(|e| crate::cwl::ontology::format_matches(ontology, actual, e))
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

pub(super) fn collect_files<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_files(v, out)),
        Value::Object(_) if class_of(value) == Some("File") => out.push(value),
        Value::Object(m) => m.values().for_each(|v| collect_files(v, out)),
        _ => {}
    }
}

/// Builds the command line (`baseCommand`, then sorted bindings), quoted for a shell
/// when `ShellCommandRequirement` is present.
pub(super) fn command_line(
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

pub(super) fn shell_quote(text: &str) -> String {
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

pub(super) fn eval_position(
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
pub(super) fn bind_value(
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

pub(super) fn text_of(value: &Value) -> String {
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
pub(super) fn render(value: &Value, binding: &Map<String, Value>, at: &str) -> Result<Vec<Arg>> {
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
