//! `echo`: returns its inputs. The OGC API - Processes conformance tests expect a
//! process of this name; it is also the smallest plugin, used to measure the
//! engine's own overhead.

use hysope_sdk::{Algorithm, Input, Output};
use serde_json::{Map, Value, json};

fn algorithm() -> Algorithm {
    Algorithm::new("echo", env!("CARGO_PKG_VERSION"))
        .label("Echo")
        .description(
            "Returns its inputs: writes them to echo.json and stdout, and copies the file input.",
        )
        .input(Input::string("stringInput").optional().doc("any text"))
        .input(Input::double("doubleInput").optional().doc("any number"))
        .input(Input::int("integerInput").optional().doc("any integer"))
        .input(Input::boolean("booleanInput").doc("a flag"))
        .input(
            Input::file("fileInput")
                .optional()
                .doc("any file, copied to the output"),
        )
        .output(
            Output::file("echo")
                .glob("echo.json")
                .doc("the inputs as JSON"),
        )
        .output(
            Output::files("files")
                .glob("copy-*")
                .doc("the copied file input, if any"),
        )
}

fn main() {
    let algorithm = algorithm();
    hysope_sdk::run(&algorithm, |args| {
        let mut echo = Map::new();
        for input in algorithm.inputs() {
            let Some(value) = args.get(input.id()) else {
                continue;
            };
            let value = match value {
                hysope_sdk::Value::Path(p) => {
                    json!({ "class": "File", "basename": p.file_name().and_then(|n| n.to_str()) })
                }
                hysope_sdk::Value::String(s) => json!(s),
                hysope_sdk::Value::Int(i) => json!(i),
                hysope_sdk::Value::Double(d) => json!(d),
                hysope_sdk::Value::Boolean(b) => json!(b),
            };
            echo.insert(input.id().to_string(), value);
        }
        if let Some(path) = args.opt_file("fileInput") {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("input");
            std::fs::copy(path, format!("copy-{name}"))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let text = serde_json::to_string(&Value::Object(echo))?;
        hysope_sdk::write_output("echo.json", &text)?;
        println!("{text}");
        Ok(())
    });
}
