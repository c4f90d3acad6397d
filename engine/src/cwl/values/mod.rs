//! CWL values: type checking and reading documents' lists; File and Directory
//! objects are in [`files`] (re-exported here).

mod files;
pub use files::*;

use serde_json::Value;

use crate::{Error, Result};

/// True when `value` is an instance of the (normalised) CWL type `ty`.
pub fn matches_type(value: &Value, ty: &Value) -> bool {
    match ty {
        Value::String(name) => match name.as_str() {
            "null" => value.is_null(),
            "Any" => !value.is_null(),
            "boolean" => value.is_boolean(),
            "int" | "long" => value.is_i64() || value.is_u64(),
            "float" | "double" => value.is_number(),
            "string" => value.is_string(),
            "File" | "Directory" => class_of(value) == Some(name.as_str()),
            "stdout" | "stderr" => class_of(value) == Some("File"),
            _ => false,
        },
        Value::Array(options) => options.iter().any(|t| matches_type(value, t)),
        Value::Object(map) => match map.get("type").and_then(Value::as_str) {
            Some("array") => value.as_array().is_some_and(|a| {
                a.iter()
                    .all(|v| matches_type(v, map.get("items").unwrap_or(&Value::Null)))
            }),
            Some("enum") => {
                let symbols = map.get("symbols").and_then(Value::as_array);
                value.as_str().is_some_and(|s| {
                    symbols.is_some_and(|syms| syms.iter().any(|x| x.as_str() == Some(s)))
                })
            }
            Some("record") => {
                let Some(obj) = value.as_object() else {
                    return false;
                };
                map.get("fields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .all(|f| {
                        let name = f.get("name").and_then(Value::as_str).unwrap_or("");
                        matches_type(
                            obj.get(name).unwrap_or(&Value::Null),
                            f.get("type").unwrap_or(&Value::Null),
                        )
                    })
            }
            _ => false,
        },
        _ => false,
    }
}

/// Output type check: as [`matches_type`], except that an `Any` output may be null
/// (a tool may leave an `Any` output unset).
pub fn matches_output_type(value: &Value, ty: &Value) -> bool {
    matches_type(value, ty) || (value.is_null() && ty == "Any")
}

/// The list under `key` (`inputs`, `steps`, `fields`...), empty when absent.
pub fn items<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The `id`s of the entries of the list under `key` (a process's `inputs`,
/// `outputs` or `steps`), in order.
pub fn ids<'a>(value: &'a Value, key: &str) -> Vec<&'a str> {
    items(value, key)
        .iter()
        .filter_map(|e| e.get("id").and_then(Value::as_str))
        .collect()
}

/// The strings of a list field (`source`, `out`, `scatter`...), empty when absent.
pub fn string_list(value: &Value, key: &str) -> Vec<String> {
    items(value, key)
        .iter()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// A value as JSON text, cut to 200 bytes for error messages.
pub fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.len() > 200 {
        format!("{}...", &text[..text.floor_char_boundary(200)])
    } else {
        text
    }
}

/// Checks an output value against its declared type, with an error at `at`.
pub fn check_output(value: &Value, ty: &Value, at: &str) -> Result<()> {
    if matches_output_type(value, ty) {
        return Ok(());
    }
    Err(Error::cwl(
        at,
        format!(
            "output {} does not match its type {}",
            short(value),
            short(ty)
        ),
    ))
}

/// True when the type admits null.
pub fn is_optional(ty: &Value) -> bool {
    match ty {
        Value::String(s) => s == "null",
        Value::Array(options) => options.iter().any(is_optional),
        _ => false,
    }
}

/// `class` of a File or Directory object.
pub fn class_of(value: &Value) -> Option<&str> {
    value.get("class").and_then(Value::as_str)
}
