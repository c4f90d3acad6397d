//! Parsing of the command line the engine builds from the CWL descriptor.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Algorithm, InputType};

/// A parsed input value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A file or directory path (inside the sandbox).
    Path(PathBuf),
    /// Text.
    String(String),
    /// An integer.
    Int(i64),
    /// A float.
    Double(f64),
    /// A flag.
    Boolean(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Path(p) => write!(f, "{}", p.display()),
            Value::String(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Double(d) => write!(f, "{d}"),
            Value::Boolean(b) => write!(f, "{b}"),
        }
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_string())
    }
}

/// A wrong command line: what was wrong and with which option.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgError {
    /// An option the algorithm does not declare.
    Unknown(String),
    /// A required input was not given.
    Missing(String),
    /// An option without its value.
    NoValue(String),
    /// A value of the wrong type.
    BadValue {
        /// The option.
        option: String,
        /// The value given.
        value: String,
        /// The type expected.
        expected: &'static str,
    },
    /// An option given twice.
    Repeated(String),
    /// A getter asked for an input the algorithm does not declare, or with another type.
    Undeclared(String),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::Unknown(o) => write!(f, "unknown option {o}"),
            ArgError::Missing(o) => write!(f, "missing required option {o}"),
            ArgError::NoValue(o) => write!(f, "option {o} needs a value"),
            ArgError::BadValue {
                option,
                value,
                expected,
            } => {
                write!(f, "option {option}: {value:?} is not a valid {expected}")
            }
            ArgError::Repeated(o) => write!(f, "option {o} given more than once"),
            ArgError::Undeclared(id) => write!(f, "input {id} is not declared with this type"),
        }
    }
}

impl std::error::Error for ArgError {}

/// The parsed inputs of one run.
#[derive(Debug, Clone, Default)]
pub struct Args {
    values: BTreeMap<String, Value>,
}

pub(crate) fn parse(algorithm: &Algorithm, argv: Vec<String>) -> Result<Args, ArgError> {
    let mut values = BTreeMap::new();
    let mut iter = argv.into_iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let input = algorithm
            .inputs
            .iter()
            .find(|i| i.flag() == flag)
            .ok_or_else(|| ArgError::Unknown(arg.clone()))?;
        if values.contains_key(&input.id) {
            return Err(ArgError::Repeated(flag));
        }
        let value = if input.kind == InputType::Boolean {
            match inline.as_deref() {
                None | Some("true") => Value::Boolean(true),
                Some("false") => Value::Boolean(false),
                Some(v) => {
                    return Err(ArgError::BadValue {
                        option: flag,
                        value: v.to_string(),
                        expected: "boolean",
                    });
                }
            }
        } else {
            let raw = match inline {
                Some(v) => v,
                None => iter.next().ok_or_else(|| ArgError::NoValue(flag.clone()))?,
            };
            convert(input.kind, &flag, raw)?
        };
        values.insert(input.id.clone(), value);
    }
    for input in &algorithm.inputs {
        if values.contains_key(&input.id) {
            continue;
        }
        match (&input.default, input.optional) {
            (Some(default), _) => {
                values.insert(input.id.clone(), default.clone());
            }
            (None, true) => {}
            (None, false) => return Err(ArgError::Missing(input.flag())),
        }
    }
    Ok(Args { values })
}

fn convert(kind: InputType, flag: &str, raw: String) -> Result<Value, ArgError> {
    let bad = |expected| ArgError::BadValue {
        option: flag.to_string(),
        value: raw.clone(),
        expected,
    };
    Ok(match kind {
        InputType::File | InputType::Directory => Value::Path(PathBuf::from(&raw)),
        InputType::String => Value::String(raw),
        InputType::Int => Value::Int(raw.parse().map_err(|_| bad("integer"))?),
        InputType::Double => {
            let v: f64 = raw.parse().map_err(|_| bad("number"))?;
            if !v.is_finite() {
                return Err(bad("finite number"));
            }
            Value::Double(v)
        }
        InputType::Boolean => Value::Boolean(raw == "true"),
    })
}

impl Args {
    /// The raw value of an input, if given or defaulted.
    pub fn get(&self, id: &str) -> Option<&Value> {
        self.values.get(id)
    }
    /// True when the input was given or has a default.
    pub fn has(&self, id: &str) -> bool {
        self.values.contains_key(id)
    }
    /// A file or directory input.
    pub fn file(&self, id: &str) -> Result<&Path, ArgError> {
        match self.values.get(id) {
            Some(Value::Path(p)) => Ok(p),
            _ => Err(ArgError::Undeclared(id.to_string())),
        }
    }
    /// An optional file or directory input.
    pub fn opt_file(&self, id: &str) -> Option<&Path> {
        self.file(id).ok()
    }
    /// A text input.
    pub fn string(&self, id: &str) -> Result<&str, ArgError> {
        match self.values.get(id) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(ArgError::Undeclared(id.to_string())),
        }
    }
    /// An integer input.
    pub fn int(&self, id: &str) -> Result<i64, ArgError> {
        match self.values.get(id) {
            Some(Value::Int(i)) => Ok(*i),
            _ => Err(ArgError::Undeclared(id.to_string())),
        }
    }
    /// A float input (an integer value is widened).
    pub fn double(&self, id: &str) -> Result<f64, ArgError> {
        match self.values.get(id) {
            Some(Value::Double(d)) => Ok(*d),
            Some(Value::Int(i)) => Ok(*i as f64),
            _ => Err(ArgError::Undeclared(id.to_string())),
        }
    }
    /// An optional float input.
    pub fn opt_double(&self, id: &str) -> Option<f64> {
        self.double(id).ok()
    }
    /// A flag.
    pub fn flag(&self, id: &str) -> bool {
        matches!(self.values.get(id), Some(Value::Boolean(true)))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Algorithm, ArgError, Input};

    fn algo() -> Algorithm {
        Algorithm::new("t", "1")
            .input(Input::file("reaches"))
            .input(Input::double("max_q").default_value(1.0))
            .input(Input::int("n").optional())
            .input(Input::boolean("keep_all"))
    }

    #[test]
    fn parses_and_defaults() {
        let a = algo()
            .parse(["t", "--reaches", "/in/x.zip", "--n=3", "--keep-all"])
            .unwrap();
        assert_eq!(a.double("max_q").unwrap(), 1.0);
        assert_eq!(a.int("n").unwrap(), 3);
        assert!(a.flag("keep_all"));
    }

    #[test]
    fn reports_what_is_wrong() {
        assert_eq!(
            algo().parse(["t"]).unwrap_err(),
            ArgError::Missing("--reaches".into())
        );
        assert_eq!(
            algo()
                .parse(["t", "--reaches", "a", "--bogus"])
                .unwrap_err(),
            ArgError::Unknown("--bogus".into())
        );
        let err = algo()
            .parse(["t", "--reaches", "a", "--max-q", "high"])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "option --max-q: \"high\" is not a valid number"
        );
        assert_eq!(
            algo().parse(["t", "--reaches"]).unwrap_err(),
            ArgError::NoValue("--reaches".into())
        );
        let err = algo()
            .parse(["t", "--reaches", "a", "--max-q", "NaN"])
            .unwrap_err();
        assert!(matches!(
            err,
            ArgError::BadValue {
                expected: "finite number",
                ..
            }
        ));
    }
}
