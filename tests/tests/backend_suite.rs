//! The backends' conformance suite (`hysope_engine::backend_suite!`) against the
//! wasm sandbox, running the toolbox test component, and against local processes,
//! running the same behaviours as shell commands.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use hysope_engine::conformance::SuiteTools;
use hysope_engine::cwl::{Backend, LocalBackend, WasmBackend};
use hysope_engine::wasm::{EngineConfig, Limits, WasmEngine};
use serde_json::{Value, json};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The sandbox, running `toolbox.wasm`.
struct Wasm;

impl SuiteTools for Wasm {
    fn backend(&self) -> Arc<dyn Backend> {
        // One engine for the suite's tests (each compiles the component otherwise).
        static ENGINE: OnceLock<Arc<WasmEngine>> = OnceLock::new();
        let engine = ENGINE
            .get_or_init(|| Arc::new(WasmEngine::new(EngineConfig::default()).unwrap()))
            .clone();
        Arc::new(WasmBackend::new(engine, Limits::default(), Vec::new()))
    }

    fn requirements(&self) -> Vec<Value> {
        let toolbox = hysope_test_components::component("toolbox");
        vec![json!({"class": "hysope:WasmRequirement", "component": toolbox.display().to_string()})]
    }

    fn cat(&self, paths: &[&str]) -> Vec<String> {
        [&["toolbox", "cat"][..], paths]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn exit(&self, code: i32) -> Vec<String> {
        args(&["toolbox", "exit", &code.to_string()])
    }

    fn sleep(&self, seconds: u32) -> Vec<String> {
        args(&["toolbox", "sleep", &seconds.to_string()])
    }

    fn env(&self, names: &[&str]) -> Vec<String> {
        [&["toolbox", "env"][..], names]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn write(&self, path: &str, text: &str) -> Vec<String> {
        args(&["toolbox", "write", path, text])
    }

    fn stderr(&self, text: &str) -> Vec<String> {
        args(&["toolbox", "stderr", text])
    }
}

/// Local processes, running `sh`.
struct Local;

impl Local {
    fn sh(script: &str, operands: &[&str]) -> Vec<String> {
        [&["sh", "-c", script, "sh"][..], operands]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
}

impl SuiteTools for Local {
    fn backend(&self) -> Arc<dyn Backend> {
        Arc::new(LocalBackend::new(Limits::default()))
    }

    fn requirements(&self) -> Vec<Value> {
        Vec::new()
    }

    fn cat(&self, paths: &[&str]) -> Vec<String> {
        [&["cat"][..], paths]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn exit(&self, code: i32) -> Vec<String> {
        Self::sh("exit \"$1\"", &[&code.to_string()])
    }

    fn sleep(&self, seconds: u32) -> Vec<String> {
        args(&["sleep", &seconds.to_string()])
    }

    fn env(&self, names: &[&str]) -> Vec<String> {
        let script = r#"for n; do eval "v=\${$n+set}"; if [ "$v" = set ]; then eval "printf '%s=%s\n' \"\$n\" \"\$$n\""; else printf '%s unset\n' "$n"; fi; done"#;
        Self::sh(script, names)
    }

    fn write(&self, path: &str, text: &str) -> Vec<String> {
        Self::sh(
            "mkdir -p \"$(dirname \"$1\")\" && printf %s \"$2\" > \"$1\"",
            &[path, text],
        )
    }

    fn stderr(&self, text: &str) -> Vec<String> {
        Self::sh("printf '%s\\n' \"$1\" >&2", &[text])
    }
}

mod wasm {
    use super::*;
    hysope_engine::backend_suite!(Wasm);
}

mod local {
    use super::*;
    hysope_engine::backend_suite!(Local);
}

#[test]
fn the_toolbox_is_a_component_of_the_test_build() {
    assert!(Path::new(&hysope_test_components::component("toolbox")).is_file());
}
