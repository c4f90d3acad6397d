//! What a component published to the registry must pass once its signature did
//! (see [`hysope_registry::registry`]): it compiles, it is a command component
//! of the plugin world (every import is one the sandbox provides), and the CWL
//! descriptor published with it is a self-contained `CommandLineTool` that runs
//! it in the sandbox, and, when the publisher gave one, its example job
//! (annotation `dev.hysope.example`, literal values only) runs in the sandbox
//! with the engine's limits (at most a minute) and succeeds.

use std::path::PathBuf;
use std::sync::Arc;

use hysope_engine::cwl;
use hysope_engine::wasm::WasmEngine;
use serde_json::{Value, json};

/// The check, on the server's engine.
pub struct EngineCheck {
    engine: hysope_engine::Engine,
    scratch: PathBuf,
}

impl EngineCheck {
    /// Checks with `engine`, loading descriptors and running examples in `scratch`.
    pub fn new(engine: hysope_engine::Engine, scratch: PathBuf) -> Self {
        EngineCheck { engine, scratch }
    }

    fn wasm(&self) -> &Arc<WasmEngine> {
        self.engine.wasm()
    }

    /// Runs `tool` (its component pinned to `hex`, whose bytes are `component`) on
    /// `example`; what it made.
    fn run_example(
        &self,
        tool: &Value,
        hex: &str,
        component: &[u8],
        example: &str,
    ) -> Result<Value, String> {
        let job = cwl::load::parse_text(std::path::Path::new("example"), example)
            .map_err(|e| format!("the example job: {e}"))?;
        let Value::Object(job) = job else {
            return Err("the example job is not an object of input values".into());
        };
        crate::deploy::self_contained(&Value::Object(job.clone()), "example")
            .map_err(|e| format!("the example job: {}", e.detail))?;
        let dir = self
            .scratch
            .join(format!(".example-{}", uuid::Uuid::new_v4()));
        let run = || -> Result<Value, String> {
            std::fs::create_dir_all(dir.join("out")).map_err(|e| e.to_string())?;
            std::fs::write(dir.join(format!("{hex}.wasm")), component)
                .map_err(|e| e.to_string())?;
            let mut tool = tool.clone();
            tool["$path"] = Value::String(dir.join("descriptor.cwl").display().to_string());
            pin_requirement(&mut tool, hex);
            let mut limits = self.engine.limits().clone();
            limits.timeout = limits.timeout.min(std::time::Duration::from_secs(60));
            let runner = self
                .engine
                .runner(dir.join("scratch"))
                .limits(limits)
                .build();
            let handle = tokio::runtime::Handle::try_current()
                .map_err(|_| "no runtime to run the example on".to_string())?;
            handle
                .block_on(runner.run(&tool, &job, &dir.join("out")))
                .map_err(|e| format!("the example job failed: {e}"))
        };
        let result = run();
        let _ = std::fs::remove_dir_all(&dir);
        let outputs = result?;
        // What it made, without the paths of the run.
        let names: Vec<&String> = outputs
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        Ok(json!({"ran": true, "outputs": names}))
    }
}

/// Points the tool's `hysope:WasmRequirement` at the component `sha256:HEX`.
fn pin_requirement(tool: &mut Value, hex: &str) {
    let pinned = Value::String(format!("sha256:{hex}"));
    for key in ["requirements", "hints"] {
        match tool.get_mut(key) {
            Some(Value::Array(items)) => {
                for r in items.iter_mut() {
                    if r.get("class").and_then(Value::as_str) == Some("hysope:WasmRequirement") {
                        r["component"] = pinned.clone();
                    }
                }
            }
            Some(Value::Object(map)) => {
                if let Some(r) = map.get_mut("hysope:WasmRequirement") {
                    r["component"] = pinned.clone();
                }
            }
            _ => {}
        }
    }
}

/// The names a descriptor may give its component: a file name (`NAME.wasm`, as
/// the bundled tools do), the registry reference being published, or the
/// component's digest.
fn names_the_component(name: &str, reference: &str, hex: &str) -> bool {
    name == reference
        || name.strip_prefix("sha256:") == Some(hex)
        || (name.ends_with(".wasm") && !name.contains('/') && !name.starts_with('.'))
}

/// Checks `cwl_text` as the descriptor of the component `reference` whose digest
/// is `hex`; the loaded tool.
pub fn check_descriptor(
    cwl_text: &str,
    reference: &str,
    hex: &str,
    scratch: &std::path::Path,
) -> Result<Value, String> {
    let raw = cwl::load::parse_text(std::path::Path::new("descriptor.cwl"), cwl_text)
        .map_err(|e| format!("the CWL descriptor: {e}"))?;
    crate::deploy::self_contained(&raw, "#")
        .map_err(|e| format!("the CWL descriptor: {}", e.detail))?;
    let dir = scratch.join(format!(".descriptor-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot check the descriptor: {e}"))?;
    let path = dir.join("descriptor.cwl");
    let loaded = cwl::load::load_text(&path, cwl_text, None);
    let _ = std::fs::remove_dir_all(&dir);
    let loaded = loaded.map_err(|e| {
        format!(
            "the CWL descriptor is not valid: {}",
            e.to_string()
                .replace(&path.display().to_string(), "descriptor")
        )
    })?;
    let tool = loaded.process;
    if tool.get("class").and_then(Value::as_str) != Some("CommandLineTool") {
        return Err(format!(
            "the CWL descriptor is a {}, not the CommandLineTool that runs the component",
            tool.get("class")
                .and_then(Value::as_str)
                .unwrap_or("document without class")
        ));
    }
    let requirement = cwl::tool::find_req(
        cwl::values::items(&tool, "requirements"),
        "hysope:WasmRequirement",
    )
    .or_else(|| cwl::tool::find_req(cwl::values::items(&tool, "hints"), "hysope:WasmRequirement"))
    .ok_or("the CWL descriptor has no hysope:WasmRequirement: it does not run a component")?;
    let name = requirement
        .get("component")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !names_the_component(name, reference, hex) {
        return Err(format!(
            "the CWL descriptor runs the component {name:?}, not this one ({reference}, sha256:{hex}, or a file name NAME.wasm)"
        ));
    }
    if let Some(expected) = requirement.get("sha256").and_then(Value::as_str) {
        if expected != hex {
            return Err(format!(
                "the CWL descriptor requires sha256 {expected}; the component pushed is {hex}"
            ));
        }
    }
    Ok(tool)
}

impl hysope_registry::ComponentCheck for EngineCheck {
    fn check(
        &self,
        reference: &str,
        component: &[u8],
        cwl_text: &str,
        example: Option<&str>,
    ) -> Result<Value, String> {
        use sha2::Digest as _;
        let hex = hex::encode(sha2::Sha256::digest(component));
        // The descriptor first: it is cheap, a compile is not.
        let tool = check_descriptor(cwl_text, reference, &hex, &self.scratch)?;
        let started = std::time::Instant::now();
        let plugin = self
            .wasm()
            .load(reference, component)
            .map_err(|e| format!("the component does not load in the plugin sandbox: {e}"))?;
        let ids = |key: &str| -> Vec<String> {
            cwl::values::ids(&tool, key)
                .into_iter()
                .map(|i| {
                    i.rsplit('#')
                        .next()
                        .unwrap_or(i)
                        .rsplit('/')
                        .next()
                        .unwrap_or(i)
                        .to_string()
                })
                .collect()
        };
        Ok(json!({
            "world": "wasi:cli/command with the hysope plugin imports",
            "compiled": format!("{:?}", plugin.origin()).to_lowercase(),
            "load_ms": started.elapsed().as_millis() as u64,
            "cwl": {
                "id": tool.get("id").and_then(Value::as_str).map(|i| i.rsplit('#').next().unwrap_or(i)),
                "inputs": ids("inputs"),
                "outputs": ids("outputs"),
            },
            "example": match example {
                Some(job) => self.run_example(&tool, &hex, component, job)?,
                None => json!({"ran": false, "why": "no example job was published (annotation dev.hysope.example)"}),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_descriptor_names_its_component() {
        let hex = "ab".repeat(32);
        assert!(names_the_component(
            "filter.wasm",
            "dora/filter@1.0.0",
            &hex
        ));
        assert!(names_the_component(
            "dora/filter@1.0.0",
            "dora/filter@1.0.0",
            &hex
        ));
        assert!(names_the_component(
            &format!("sha256:{hex}"),
            "x/y@1.0.0",
            &hex
        ));
        assert!(!names_the_component(
            "dora/other@1.0.0",
            "dora/filter@1.0.0",
            &hex
        ));
        assert!(!names_the_component("../x.wasm", "dora/filter@1.0.0", &hex));
        assert!(!names_the_component("sha256:00", "dora/filter@1.0.0", &hex));
    }
}
