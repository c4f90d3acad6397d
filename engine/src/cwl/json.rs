//! JSON text of CWL values.
//!
//! CWL documents are YAML, where `4200000000000000000000000000000000000000000`
//! is an integer; our value model holds it as the nearest double. Printed by
//! `serde_json` it would become `4.2e42`, which a reader with arbitrary integers
//! (Python, cwltest) takes for a different number. So a double that is a whole
//! number of 17 digits or more is written as the integer its shortest decimal
//! form spells: the literal comes back as it was written, and the value read is
//! the same double.

use std::io;

use serde::Serialize;
use serde_json::Value;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// Compact JSON text of `value`.
pub fn compact(value: &Value) -> String {
    write(value, CompactFormatter)
}

/// JSON text of `value` indented by `indent` spaces, as cwltool prints its output
/// object.
pub fn pretty(value: &Value, indent: usize) -> String {
    let spaces = " ".repeat(indent);
    write(value, PrettyFormatter::with_indent(spaces.as_bytes()))
}

/// JSON as Python's `json.dumps` writes it (`", "` and `": "` separators, keys in
/// order, no indentation): what cwltool puts where an expression's value is
/// interpolated into a string, and in `InitialWorkDirRequirement` entries.
pub fn python_dumps(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            format!(
                "[{}]",
                items
                    .iter()
                    .map(python_dumps)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}: {}",
                        compact(&Value::String(k.clone())),
                        python_dumps(&map[k])
                    )
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        other => compact(other),
    }
}

/// The JSON text of one number, as [`compact`] writes it.
pub fn number(n: &serde_json::Number) -> String {
    compact(&Value::Number(n.clone()))
}

fn write<F: Formatter>(value: &Value, inner: F) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, WholeDoubles(inner));
    // Serialising a `Value` into a `Vec` cannot fail.
    value.serialize(&mut ser).expect("JSON of a Value");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The integer digits of a whole double from 1e16 up, or `None`.
fn whole_digits(f: f64) -> Option<String> {
    if !f.is_finite() || f.fract() != 0.0 || f.abs() < 1e16 {
        return None;
    }
    // `{:e}` is the shortest form that reads back as `f`: "4.2e42", "-1e42".
    let text = format!("{f:e}");
    let (mantissa, exp) = text.split_once('e')?;
    let exp: usize = exp.parse().ok()?;
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let zeros = (exp + 1).checked_sub(digits.len())?;
    Some(format!("{sign}{digits}{}", "0".repeat(zeros)))
}

struct WholeDoubles<F>(F);

impl<F: Formatter> Formatter for WholeDoubles<F> {
    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        match whole_digits(value) {
            Some(digits) => w.write_all(digits.as_bytes()),
            None => self.0.write_f64(w, value),
        }
    }
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn big_integer_literals_come_back_as_written() {
        let v = json!({"a": 4.2e42, "b": [1e42, -1e42], "c": 2.3, "d": 4147483647_i64});
        assert_eq!(
            compact(&v),
            format!(
                r#"{{"a":42{},"b":[1{},-1{}],"c":2.3,"d":4147483647}}"#,
                "0".repeat(41),
                "0".repeat(42),
                "0".repeat(42)
            )
        );
        let back: Value = serde_json::from_str(&compact(&v)).unwrap();
        assert_eq!(back["a"].as_f64(), Some(4.2e42));
    }

    #[test]
    fn small_and_fractional_doubles_keep_serde_form() {
        assert_eq!(
            compact(&json!([1.5, 1e15, 0.1, -3.0])),
            "[1.5,1000000000000000.0,0.1,-3.0]"
        );
        assert!(pretty(&json!({"x": 1}), 4).contains("\n    \"x\": 1"));
    }
}
