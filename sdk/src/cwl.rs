//! The CWL v1.2 `CommandLineTool` descriptor of an algorithm.

use serde_json::{Map, Value as Json, json};

use crate::{Algorithm, InputType, OutputType, Value};

pub(crate) fn descriptor(algorithm: &Algorithm) -> Json {
    let mut inputs = Map::new();
    for input in &algorithm.inputs {
        let mut ty = input.kind.cwl_name().to_string();
        if input.optional {
            ty.push('?');
        }
        let mut entry = Map::new();
        entry.insert("type".into(), json!(ty));
        if let Some(doc) = &input.doc {
            entry.insert("doc".into(), json!(doc));
        }
        if let Some(format) = &input.format {
            entry.insert("format".into(), json!(format));
        }
        if let Some(default) = &input.default {
            entry.insert("default".into(), to_json(default));
        }
        let binding = if input.kind == InputType::Boolean {
            json!({ "prefix": input.flag() })
        } else {
            json!({ "prefix": input.flag(), "separate": true })
        };
        entry.insert("inputBinding".into(), binding);
        inputs.insert(input.id.clone(), Json::Object(entry));
    }
    let mut outputs = Map::new();
    for output in &algorithm.outputs {
        let mut ty = match output.kind {
            OutputType::File => "File",
            OutputType::Directory => "Directory",
            OutputType::Files => "File[]",
        }
        .to_string();
        if output.optional && output.kind != OutputType::Files {
            ty.push('?');
        }
        let mut entry = Map::new();
        entry.insert("type".into(), json!(ty));
        if let Some(doc) = &output.doc {
            entry.insert("doc".into(), json!(doc));
        }
        if let Some(format) = &output.format {
            entry.insert("format".into(), json!(format));
        }
        entry.insert("outputBinding".into(), json!({ "glob": output.glob }));
        outputs.insert(output.id.clone(), Json::Object(entry));
    }
    let component = algorithm
        .component
        .clone()
        .unwrap_or_else(|| format!("{}.wasm", algorithm.name));
    let mut doc = Map::new();
    doc.insert("cwlVersion".into(), json!("v1.2"));
    doc.insert("class".into(), json!("CommandLineTool"));
    doc.insert("id".into(), json!(algorithm.name));
    if let Some(label) = &algorithm.label {
        doc.insert("label".into(), json!(label));
    }
    if let Some(description) = &algorithm.description {
        doc.insert("doc".into(), json!(description));
    }
    doc.insert(
        "$namespaces".into(),
        json!({ "hysope": crate::CWL_NAMESPACE, "s": "https://schema.org/" }),
    );
    doc.insert("s:softwareVersion".into(), json!(algorithm.version));
    doc.insert(
        "requirements".into(),
        json!({ "hysope:WasmRequirement": { "component": component } }),
    );
    doc.insert("baseCommand".into(), json!([algorithm.name]));
    doc.insert("inputs".into(), Json::Object(inputs));
    doc.insert("outputs".into(), Json::Object(outputs));
    Json::Object(doc)
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Path(p) => json!({ "class": "File", "path": p.display().to_string() }),
        Value::String(s) => json!(s),
        Value::Int(i) => json!(i),
        Value::Double(d) => json!(d),
        Value::Boolean(b) => json!(b),
    }
}
