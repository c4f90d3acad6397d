//! Building a tool's command line exactly as CWL v1.2 says (section "Input binding"
//! and "Runtime environment"), and evaluating parameter references `$(...)`.

use serde_json::{Map, Value};

use super::Tool;
use crate::{Error, Result};

/// Context of parameter references: `inputs`, `self`, `runtime`.
pub struct Context<'a> {
    /// The complete input object.
    pub inputs: &'a Map<String, Value>,
    /// `runtime` (outdir, tmpdir, cores, ram).
    pub runtime: &'a Value,
}

/// Evaluates the parameter references in `text`. A string that is exactly one
/// reference yields the referenced value itself; otherwise references are
/// interpolated as text.
pub fn interpolate(text: &str, ctx: &Context<'_>, self_: &Value, at: &str) -> Result<Value> {
    if text.contains("${") && !text.contains("\\${") {
        return Err(Error::Unsupported {
            location: at.to_string(),
            message: "JavaScript expressions (InlineJavascriptRequirement)".into(),
        });
    }
    let mut out = String::new();
    let mut rest = text;
    let mut only: Option<Value> = None;
    while let Some(start) = rest.find("$(") {
        let (before, after) = rest.split_at(start);
        let end = after
            .find(')')
            .ok_or_else(|| Error::cwl(at, format!("unclosed parameter reference in {text:?}")))?;
        let expr = &after[2..end];
        let value = reference(expr, ctx, self_).ok_or_else(|| {
            Error::Unsupported { location: at.to_string(), message: format!("expression $({expr}) is not a parameter reference (needs InlineJavascriptRequirement)") }
        })?;
        if before.is_empty() && end + 1 == after.len() && out.is_empty() {
            only = Some(value.clone());
        }
        out.push_str(before);
        out.push_str(&as_text(&value));
        rest = &after[end + 1..];
    }
    if let Some(value) = only {
        return Ok(value);
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

/// Text form of a value inside an interpolated string.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Resolves `inputs.a.b[0]['c'].length`-style references; `None` if not one.
fn reference(expr: &str, ctx: &Context<'_>, self_: &Value) -> Option<Value> {
    let expr = expr.trim();
    let root_len = expr.find(['.', '[']).unwrap_or(expr.len());
    let inputs = Value::Object(ctx.inputs.clone());
    let mut current = match &expr[..root_len] {
        "inputs" => inputs,
        "self" => self_.clone(),
        "runtime" => ctx.runtime.clone(),
        _ => return None,
    };
    let mut rest = &expr[root_len..];
    while !rest.is_empty() {
        let (key, next): (Value, &str) = if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return None;
            }
            (Value::String(name.into()), &r[end..])
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            let key = if let Ok(i) = inner.parse::<u64>() {
                Value::from(i)
            } else {
                let q = inner.strip_prefix(['\'', '"'])?.strip_suffix(['\'', '"'])?;
                Value::String(q.into())
            };
            (key, &r[end + 1..])
        } else {
            return None;
        };
        current = match (&current, &key) {
            (Value::Array(a), Value::Number(i)) => {
                a.get(i.as_u64()? as usize).cloned().unwrap_or(Value::Null)
            }
            (Value::Array(a), Value::String(s)) if s == "length" => Value::from(a.len()),
            (Value::String(s), Value::String(k)) if k == "length" => Value::from(s.chars().count()),
            (Value::Object(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        };
        rest = next;
    }
    Some(current)
}

/// One piece of the command line before sorting.
struct Bound {
    key: (i64, SortTail),
    args: Vec<String>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SortTail {
    Argument(usize),
    Input(String),
}

/// Builds the command line: `baseCommand`, then `arguments` and bound inputs sorted
/// by `position` (then argument index or input name), each rendered with its
/// `prefix`, `separate`, `itemSeparator` and `valueFrom`.
pub fn build_command_line(
    tool: &Tool,
    inputs: &Map<String, Value>,
    runtime: &Value,
) -> Result<Vec<String>> {
    let ctx = Context { inputs, runtime };
    let mut argv: Vec<String> = match tool.doc.get("baseCommand") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().map(as_text).collect(),
        Some(_) => {
            return Err(Error::cwl(
                tool.at("/baseCommand"),
                "baseCommand must be a string or a list of strings",
            ));
        }
    };
    let mut bound = Vec::new();
    if let Some(arguments) = tool.doc.get("arguments") {
        let Value::Array(arguments) = arguments else {
            return Err(Error::cwl(
                tool.at("/arguments"),
                "arguments must be a list",
            ));
        };
        for (i, argument) in arguments.iter().enumerate() {
            let at = tool.at(&format!("/arguments/{i}"));
            match argument {
                Value::String(s) => {
                    let value = interpolate(s, &ctx, &Value::Null, &at)?;
                    bound.push(Bound {
                        key: (0, SortTail::Argument(i)),
                        args: vec![as_text(&value)],
                    });
                }
                Value::Object(binding) => {
                    let value = match binding.get("valueFrom") {
                        Some(Value::String(expr)) => interpolate(expr, &ctx, &Value::Null, &at)?,
                        Some(other) => other.clone(),
                        None => Value::Null,
                    };
                    let args = render(&value, binding, &at)?;
                    bound.push(Bound {
                        key: (position(binding, &ctx, &at)?, SortTail::Argument(i)),
                        args,
                    });
                }
                _ => return Err(Error::cwl(at, "an argument must be a string or a binding")),
            }
        }
    }
    for (id, def) in tool.inputs() {
        let Some(Value::Object(binding)) = def.get("inputBinding") else {
            continue;
        };
        let at = tool.at(&format!("/inputs/{id}/inputBinding"));
        let mut value = inputs.get(id).cloned().unwrap_or(Value::Null);
        if let Some(Value::String(expr)) = binding.get("valueFrom") {
            if value.is_null() {
                continue;
            }
            value = interpolate(expr, &ctx, &value, &at)?;
        }
        let args = render_typed(&value, binding, def.get("type"), &at)?;
        bound.push(Bound {
            key: (position(binding, &ctx, &at)?, SortTail::Input(id.clone())),
            args,
        });
    }
    bound.sort_by(|a, b| a.key.cmp(&b.key));
    argv.extend(bound.into_iter().flat_map(|b| b.args));
    Ok(argv)
}

fn position(binding: &Map<String, Value>, ctx: &Context<'_>, at: &str) -> Result<i64> {
    match binding.get("position") {
        None => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| Error::cwl(at, "position must be an integer")),
        Some(Value::String(expr)) => interpolate(expr, ctx, &Value::Null, at)?
            .as_i64()
            .ok_or_else(|| Error::cwl(at, "position must evaluate to an integer")),
        Some(_) => Err(Error::cwl(at, "position must be an integer")),
    }
}

/// Renders an input's value, using the item type's own `inputBinding` for arrays.
fn render_typed(
    value: &Value,
    binding: &Map<String, Value>,
    ty: Option<&Value>,
    at: &str,
) -> Result<Vec<String>> {
    let item_binding = ty
        .and_then(|t| match t {
            Value::Object(m) if m.get("type").and_then(Value::as_str) == Some("array") => {
                m.get("inputBinding")
            }
            _ => None,
        })
        .and_then(Value::as_object);
    match (value, item_binding) {
        (Value::Array(items), Some(item_binding)) if binding.get("itemSeparator").is_none() => {
            let mut out = Vec::new();
            if let Some(prefix) = binding.get("prefix").and_then(Value::as_str) {
                out.push(prefix.to_string());
            }
            for item in items {
                out.extend(render(item, item_binding, at)?);
            }
            Ok(out)
        }
        _ => render(value, binding, at),
    }
}

/// Renders one value with one binding, per the spec's table of types.
fn render(value: &Value, binding: &Map<String, Value>, at: &str) -> Result<Vec<String>> {
    let prefix = binding.get("prefix").and_then(Value::as_str);
    let separate = binding
        .get("separate")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let join = |text: String| -> Vec<String> {
        match prefix {
            None => vec![text],
            Some(p) if separate => vec![p.to_string(), text],
            Some(p) => vec![format!("{p}{text}")],
        }
    };
    Ok(match value {
        Value::Null => Vec::new(),
        Value::Bool(true) => prefix.map(|p| vec![p.to_string()]).unwrap_or_default(),
        Value::Bool(false) => Vec::new(),
        Value::Array(items) => {
            if items.is_empty() {
                return Ok(Vec::new());
            }
            let texts: Vec<String> = items
                .iter()
                .map(scalar_text)
                .collect::<Result<_>>()
                .map_err(|_| Error::cwl(at, "cannot render a nested array or record"))?;
            match binding.get("itemSeparator").and_then(Value::as_str) {
                Some(sep) => join(texts.join(sep)),
                None => {
                    let mut out: Vec<String> =
                        prefix.map(|p| vec![p.to_string()]).unwrap_or_default();
                    out.extend(texts);
                    out
                }
            }
        }
        Value::Object(map) if map.contains_key("class") => join(scalar_text(value)?),
        Value::Object(_) => {
            return Err(Error::Unsupported {
                location: at.to_string(),
                message: "binding of record inputs".into(),
            });
        }
        other => join(scalar_text(other)?),
    })
}

fn scalar_text(value: &Value) -> Result<String> {
    Ok(match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Object(map) => map
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        _ => return Err(Error::cwl("", "not a scalar")),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Map, Value, json};

    use super::build_command_line;
    use crate::cwl::{bind_inputs, parse_tool};

    fn command_line(doc: &str, job: Value) -> Vec<String> {
        let tool = parse_tool(Path::new("/t/tool.cwl"), doc).unwrap();
        let job: Map<String, Value> = serde_json::from_value(job).unwrap();
        let inputs = bind_inputs(&tool, &job).unwrap();
        build_command_line(&tool, &inputs, &json!({ "outdir": "/out" })).unwrap()
    }

    #[test]
    fn positions_prefixes_and_separators() {
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
  unbound: string
outputs: []
"#;
        let job = json!({ "b": 3, "a": "x y", "flag": true, "list": ["p", "q"], "spread": [1, 2], "unbound": "u" });
        assert_eq!(
            command_line(doc, job),
            // At equal positions arguments come before inputs (cwltool sorts int keys before names).
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
                "/out"
            ]
        );
    }

    #[test]
    fn item_bindings_and_parameter_references() {
        let doc = r#"
cwlVersion: v1.2
class: CommandLineTool
baseCommand: cat
inputs:
  files:
    type: { type: array, items: File, inputBinding: { prefix: -f } }
    inputBinding: { position: 1 }
  name:
    type: string
    inputBinding: { valueFrom: "out-$(self).txt", prefix: --name }
outputs: []
"#;
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.zip"), dir.path().join("b.zip"));
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        let (a, b) = (a.display().to_string(), b.display().to_string());
        let job = json!({ "files": [{ "class": "File", "path": a }, { "class": "File", "path": b }], "name": "n" });
        assert_eq!(
            command_line(doc, job),
            ["cat", "--name", "out-n.txt", "-f", &a, "-f", &b]
        );
    }

    #[test]
    fn invalid_documents_are_refused_with_where_and_what() {
        let cases = [
            (
                "cwlVersion: v9\nclass: CommandLineTool\ninputs: {}\noutputs: {}\n",
                "/t/tool.cwl#/cwlVersion: unknown cwlVersion \"v9\" (expected v1.0, v1.1 or v1.2)",
            ),
            (
                "class: CommandLineTool\ninputs: {}\noutputs: {}\n",
                "/t/tool.cwl#/cwlVersion: missing cwlVersion",
            ),
            (
                "cwlVersion: v1.2\nclass: Tool\n",
                "/t/tool.cwl#/class: unknown class \"Tool\"",
            ),
            (
                "cwlVersion: v1.2\nclass: CommandLineTool\ninputs: { x: Flie }\noutputs: {}\n",
                "/t/tool.cwl#/inputs/x/type: unknown type \"Flie\"",
            ),
            (
                "cwlVersion: v1.2\nclass: CommandLineTool\ninputs: [ { type: int } ]\noutputs: {}\n",
                "/t/tool.cwl#/inputs/0: a parameter needs an id",
            ),
            (
                "cwlVersion: v1.2\nclass: CommandLineTool\nbasecommand: ls\ninputs: {}\noutputs: {}\n",
                "/t/tool.cwl#/basecommand: unknown field \"basecommand\"",
            ),
            (
                "- just a list\n",
                "/t/tool.cwl: a CWL document must be a mapping",
            ),
        ];
        for (doc, message) in cases {
            let error = parse_tool(Path::new("/t/tool.cwl"), doc).unwrap_err();
            assert_eq!(error.to_string(), message);
        }
        // Extension fields in a namespace are allowed.
        parse_tool(
            Path::new("/t/tool.cwl"),
            "cwlVersion: v1.2\nclass: CommandLineTool\ns:author: me\ninputs: {}\noutputs: {}\n",
        )
        .unwrap();
    }

    #[test]
    fn jobs_are_checked_against_the_inputs() {
        let doc = "cwlVersion: v1.2\nclass: CommandLineTool\ninputs:\n  n: int\n  e: { type: { type: enum, symbols: [keep, drop] } }\noutputs: {}\n";
        let tool = parse_tool(Path::new("/t/tool.cwl"), doc).unwrap();
        let job = |v: Value| -> Map<String, Value> { serde_json::from_value(v).unwrap() };
        assert!(bind_inputs(&tool, &job(json!({ "n": 1, "e": "keep" }))).is_ok());
        let error = bind_inputs(&tool, &job(json!({ "n": 1.5, "e": "keep" }))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "job#/n: value 1.5 does not match type \"int\""
        );
        let error = bind_inputs(&tool, &job(json!({ "n": 1, "e": "maybe" }))).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("job#/e: value \"maybe\" does not match"),
            "{error}"
        );
        let error = bind_inputs(&tool, &job(json!({ "e": "keep" }))).unwrap_err();
        assert_eq!(error.to_string(), "job#/n: missing required input");
        let error = bind_inputs(&tool, &job(json!({ "n": 1, "e": "keep", "z": 0 }))).unwrap_err();
        assert_eq!(error.to_string(), "job#/z: /t/tool.cwl has no input \"z\"");
    }
}
