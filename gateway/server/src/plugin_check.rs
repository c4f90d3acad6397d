//! What a component published to the registry must pass once its signature did
//! (see [`hysope_registry::registry`]): it compiles, it is a command component
//! of the plugin world (every import is one the sandbox provides), and the CWL
//! descriptor published with it is a self-contained `CommandLineTool` that runs
//! it in the sandbox.

use std::path::PathBuf;
use std::sync::Arc;

use hysope_engine::cwl;
use hysope_engine::wasm::WasmEngine;
use serde_json::{Value, json};

/// The check, on the server's engine.
pub struct EngineCheck {
    engine: Arc<WasmEngine>,
    scratch: PathBuf,
}

impl EngineCheck {
    /// Checks with `engine`, loading descriptors in `scratch`.
    pub fn new(engine: Arc<WasmEngine>, scratch: PathBuf) -> Self {
        EngineCheck { engine, scratch }
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
    fn check(&self, reference: &str, component: &[u8], cwl_text: &str) -> Result<Value, String> {
        use sha2::Digest as _;
        let hex = hex::encode(sha2::Sha256::digest(component));
        // The descriptor first: it is cheap, a compile is not.
        let tool = check_descriptor(cwl_text, reference, &hex, &self.scratch)?;
        let started = std::time::Instant::now();
        let plugin = self
            .engine
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
            "example": "not run: a published descriptor carries no example yet",
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
