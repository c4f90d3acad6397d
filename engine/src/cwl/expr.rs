//! CWL expressions: parameter references `$(inputs.x.y[0])` evaluated natively, and,
//! under `InlineJavascriptRequirement`, JavaScript `$(...)` and `${...}` evaluated by
//! boa with the `expressionLib`, under loop, recursion and stack limits so that an
//! expression that never ends is an error, not a hang.

use boa_engine::{Context as JsContext, JsValue, Source};
use serde_json::{Map, Value};

use crate::{Error, Result};

/// Bounds on one JavaScript evaluation.
const LOOP_LIMIT: u64 = 10_000_000;
const RECURSION_LIMIT: usize = 2_000;
const STACK_LIMIT: usize = 100_000;

/// What an expression can see.
#[derive(Debug, Clone, Default)]
pub struct Scope<'a> {
    /// `inputs`.
    pub inputs: Option<&'a Value>,
    /// `self`.
    pub self_: Option<&'a Value>,
    /// `runtime`.
    pub runtime: Option<&'a Value>,
}

/// Evaluates expressions of one process.
#[derive(Debug, Clone, Default)]
pub struct Evaluator {
    /// True under `InlineJavascriptRequirement`.
    pub javascript: bool,
    /// The requirement's `expressionLib`, run before each expression.
    pub library: Vec<String>,
}

/// True when `text` contains an expression.
pub fn has_expression(text: &str) -> bool {
    text.contains("$(") || text.contains("${")
}

impl Evaluator {
    /// The evaluator for a process with these requirements (list of `{class: ...}`).
    pub fn for_requirements(requirements: &[Value]) -> Self {
        let js = requirements.iter().rev().find(|r| {
            r.get("class").and_then(Value::as_str) == Some("InlineJavascriptRequirement")
        });
        match js {
            None => Self::default(),
            Some(req) => Self {
                javascript: true,
                library: req
                    .get("expressionLib")
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            },
        }
    }

    /// Evaluates every expression in `text`; a string that is exactly one expression
    /// yields its value, otherwise the results are interpolated as text.
    pub fn eval(&self, text: &str, scope: &Scope<'_>, at: &str) -> Result<Value> {
        // As cwltool: white space around the whole string is dropped first.
        self.eval_raw(text.trim(), scope, at)
    }

    /// As [`Evaluator::eval`], keeping white space around the text (file contents of
    /// `InitialWorkDirRequirement` entries).
    pub fn eval_raw(&self, text: &str, scope: &Scope<'_>, at: &str) -> Result<Value> {
        let parts = scan(text, self.javascript).map_err(|m| Error::cwl(at, m))?;
        if let [Part::Expr(kind, code)] = parts.as_slice() {
            return self.eval_one(*kind, code, scope, at);
        }
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Text(t) => out.push_str(&t),
                Part::Expr(kind, code) => {
                    let v = self.eval_one(kind, &code, scope, at)?;
                    match v {
                        Value::String(s) => out.push_str(&s),
                        other => out.push_str(&super::json::python_dumps(&other)),
                    }
                }
            }
        }
        Ok(Value::String(out))
    }

    /// Evaluates `value` if it is a string with expressions, else returns it unchanged.
    pub fn eval_value(&self, value: &Value, scope: &Scope<'_>, at: &str) -> Result<Value> {
        match value {
            Value::String(s) if has_expression(s) => self.eval(s, scope, at),
            other => Ok(other.clone()),
        }
    }

    fn eval_one(&self, kind: Kind, code: &str, scope: &Scope<'_>, at: &str) -> Result<Value> {
        if kind == Kind::Paren {
            if let Some(v) = parameter_reference(code, scope)
                .map_err(|m| Error::cwl(at, format!("$({code}): {m}")))?
            {
                return Ok(v);
            }
        }
        if !self.javascript {
            return Err(Error::cwl(
                at,
                format!(
                    "$({code}) is not a parameter reference and InlineJavascriptRequirement is not given"
                ),
            ));
        }
        let body = match kind {
            Kind::Paren => format!("({code})"),
            Kind::Brace => format!("(function(){{{code}}})()"),
        };
        js_eval(&self.library, &body, scope)
            .map_err(|m| Error::cwl(at, format!("expression failed: {m}")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Paren,
    Brace,
}

#[derive(Debug)]
enum Part {
    Text(String),
    Expr(Kind, String),
}

/// Splits text into literal parts and expressions, honouring `\$(` escapes and
/// quotes inside expressions.
fn scan(text: &str, javascript: bool) -> std::result::Result<Vec<Part>, String> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < bytes.len() {
        // Escapes: `\\` is one backslash, `\$(` and `\${` are literal; any other
        // backslash stays as it is.
        if bytes[i] == b'\\' && i + 1 < bytes.len() && bytes[i + 1] == b'\\' {
            literal.push('\\');
            i += 2;
            continue;
        }
        if bytes[i] == b'\\'
            && i + 2 < bytes.len()
            && bytes[i + 1] == b'$'
            && (bytes[i + 2] == b'(' || bytes[i + 2] == b'{')
        {
            literal.push('$');
            i += 2;
            continue;
        }
        let open = if bytes[i] == b'$' && i + 1 < bytes.len() {
            bytes[i + 1]
        } else {
            0
        };
        if open == b'(' || (open == b'{' && javascript) {
            let close = if open == b'(' { b')' } else { b'}' };
            let start = i + 2;
            let mut depth = 1;
            let mut j = start;
            let mut quote: Option<u8> = None;
            while j < bytes.len() {
                let c = bytes[j];
                if let Some(q) = quote {
                    if c == b'\\' {
                        j += 1;
                    } else if c == q {
                        quote = None;
                    }
                } else if c == b'"' || c == b'\'' {
                    quote = Some(c);
                } else if c == open {
                    depth += 1;
                } else if c == close {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                j += 1;
            }
            if depth != 0 {
                return Err(format!("unterminated expression in {text:?}"));
            }
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            let kind = if open == b'(' {
                Kind::Paren
            } else {
                Kind::Brace
            };
            parts.push(Part::Expr(kind, text[start..j].to_string()));
            i = j + 1;
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        literal.push(ch);
        i += ch.len_utf8();
    }
    if !literal.is_empty() || parts.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(parts)
}

/// Native evaluation of a parameter reference; `Ok(None)` when `code` is not one.
fn parameter_reference(
    code: &str,
    scope: &Scope<'_>,
) -> std::result::Result<Option<Value>, String> {
    let code = code.trim();
    if code == "null" {
        return Ok(Some(Value::Null));
    }
    let root_len = code.find(['.', '[']).unwrap_or(code.len());
    let null = Value::Null;
    let mut current = match &code[..root_len] {
        "inputs" => scope.inputs.unwrap_or(&null).clone(),
        "self" => scope.self_.unwrap_or(&null).clone(),
        "runtime" => scope.runtime.unwrap_or(&null).clone(),
        _ => return Ok(None),
    };
    let root = &code[..root_len];
    let mut rest = &code[root_len..];
    let mut depth = 0;
    while !rest.is_empty() {
        let (key, next): (Value, &str) = if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Ok(None);
            }
            (Value::String(name.into()), &r[end..])
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return Ok(None);
            };
            let inner = r[..end].trim();
            let key = if let Ok(i) = inner.parse::<u64>() {
                Value::from(i)
            } else {
                let Some(q) = inner
                    .strip_prefix(['\'', '"'])
                    .and_then(|q| q.strip_suffix(['\'', '"']))
                else {
                    return Ok(None);
                };
                Value::String(
                    q.replace("\\'", "'")
                        .replace("\\\"", "\"")
                        .replace("\\\\", "\\"),
                )
            };
            (key, &r[end + 1..])
        } else {
            return Ok(None);
        };
        current = match (&current, &key) {
            (Value::Array(a), Value::Number(i)) => a
                .get(i.as_u64().unwrap_or(u64::MAX) as usize)
                .cloned()
                .unwrap_or(Value::Null),
            (Value::Array(a), Value::String(s)) if s == "length" => Value::from(a.len()),
            // An undeclared input is an error, not null (a step passing an input its tool does not declare).
            (Value::Object(m), Value::String(k))
                if depth == 0 && root == "inputs" && !m.contains_key(k) =>
            {
                return Err(format!("inputs has no {k:?}"));
            }
            (Value::Object(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Null),
            (Value::Null, k) => return Err(format!("cannot read {k} of null")),
            (other, Value::String(k)) if k == "length" => {
                return Err(format!("{} has no length", type_name(other)));
            }
            (other, k) => return Err(format!("cannot read {k} of {}", type_name(other))),
        };
        rest = next;
        depth += 1;
    }
    Ok(Some(current))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn js_eval(
    library: &[String],
    body: &str,
    scope: &Scope<'_>,
) -> std::result::Result<Value, String> {
    match super::js_sandbox::current() {
        Some(sandbox) => sandbox.eval(library, body, scope),
        None => js_eval_here(library, body, scope),
    }
}

/// Evaluates JavaScript in this process (see [`super::js_sandbox`] for out of it).
pub(crate) fn js_eval_here(
    library: &[String],
    body: &str,
    scope: &Scope<'_>,
) -> std::result::Result<Value, String> {
    let mut ctx = JsContext::default();
    {
        let limits = ctx.runtime_limits_mut();
        limits.set_loop_iteration_limit(LOOP_LIMIT);
        limits.set_recursion_limit(RECURSION_LIMIT);
        limits.set_stack_size_limit(STACK_LIMIT);
    }
    let null = Value::Null;
    for (name, value) in [
        ("inputs", scope.inputs.unwrap_or(&null)),
        ("self", scope.self_.unwrap_or(&null)),
        ("runtime", scope.runtime.unwrap_or(&null)),
    ] {
        let js = JsValue::from_json(value, &mut ctx).map_err(|e| e.to_string())?;
        ctx.register_global_property(
            boa_engine::js_string!(name),
            js,
            boa_engine::property::Attribute::all(),
        )
        .map_err(|e| e.to_string())?;
    }
    for lib in library {
        ctx.eval(Source::from_bytes(lib.as_bytes()))
            .map_err(|e| format!("expressionLib: {e}"))?;
    }
    let result = ctx
        .eval(Source::from_bytes(body.as_bytes()))
        .map_err(|e| e.to_string())?;
    let json = result
        .to_json(&mut ctx)
        .map_err(|e| e.to_string())?
        .unwrap_or(Value::Null);
    Ok(tidy_numbers(json))
}

/// JavaScript numbers are doubles: integral ones become JSON integers.
fn tidy_numbers(value: Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(tidy_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, tidy_numbers(v)))
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn references_and_javascript() {
        let inputs = json!({ "x": { "path": "/a/b.txt", "n": [1, 2, 3] }, "s": "hi" });
        let scope = Scope {
            inputs: Some(&inputs),
            ..Scope::default()
        };
        let native = Evaluator::default();
        assert_eq!(
            native.eval("$(inputs.x.n)", &scope, "t").unwrap(),
            json!([1, 2, 3])
        );
        assert_eq!(
            native.eval("$(inputs.x.n.length)", &scope, "t").unwrap(),
            json!(3)
        );
        assert_eq!(
            native
                .eval("p=$(inputs.x['path']) n=$(inputs.x.n[1])", &scope, "t")
                .unwrap(),
            json!("p=/a/b.txt n=2")
        );
        assert_eq!(
            native.eval("\\$(inputs.s)", &scope, "t").unwrap(),
            json!("$(inputs.s)")
        );
        assert!(
            native
                .eval("$(inputs.missing.deeper)", &scope, "t")
                .is_err()
        );
        assert!(native.eval("$(1 + 1)", &scope, "t").is_err());

        let js = Evaluator {
            javascript: true,
            library: vec!["function twice(v) { return v * 2; }".into()],
        };
        assert_eq!(
            js.eval("$(twice(inputs.x.n[2]))", &scope, "t").unwrap(),
            json!(6)
        );
        assert_eq!(
            js.eval("${ return inputs.s + '!'; }", &scope, "t").unwrap(),
            json!("hi!")
        );
        assert_eq!(js.eval("$(1/2)", &scope, "t").unwrap(), json!(0.5));
        let error = js.eval("${ while (true) {} }", &scope, "t").unwrap_err();
        assert!(error.to_string().contains("expression failed"), "{error}");
        let error = js
            .eval(
                "${ function f(n) { return f(n + 1); } return f(0); }",
                &scope,
                "t",
            )
            .unwrap_err();
        assert!(error.to_string().contains("expression failed"), "{error}");
    }
}
