//! The backends' conformance suite (`hysope_engine::backend_suite!`) against the
//! wasm sandbox, running the toolbox test component, and against local processes,
//! running the same behaviours as shell commands.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use hysope_engine::conformance::{SuiteTools, shell};
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
        // The component is named as tools name it, found in the search path.
        Arc::new(WasmBackend::new(
            engine,
            Limits::default(),
            vec![hysope_test_components::component_dir()],
        ))
    }

    fn requirements(&self) -> Vec<Value> {
        assert!(hysope_test_components::component("toolbox").is_file());
        vec![json!({"class": "hysope:WasmRequirement", "component": "toolbox.wasm"})]
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

impl SuiteTools for Local {
    fn backend(&self) -> Arc<dyn Backend> {
        Arc::new(LocalBackend::new(Limits::default()))
    }

    fn requirements(&self) -> Vec<Value> {
        Vec::new()
    }

    fn cat(&self, paths: &[&str]) -> Vec<String> {
        shell::cat(paths)
    }

    fn exit(&self, code: i32) -> Vec<String> {
        shell::exit(code)
    }

    fn sleep(&self, seconds: u32) -> Vec<String> {
        shell::sleep(seconds)
    }

    fn env(&self, names: &[&str]) -> Vec<String> {
        shell::env(names)
    }

    fn write(&self, path: &str, text: &str) -> Vec<String> {
        shell::write(path, text)
    }

    fn stderr(&self, text: &str) -> Vec<String> {
        shell::stderr(text)
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

/// A tool's stdout goes straight to its file, counted against the output cap:
/// 8 MiB written past a 1 MiB cap stop the run, and nothing of it was held in
/// memory (it was, up to the cap, before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_to_a_file_counts_against_the_output_cap() {
    use hysope_engine::cwl::ToolInvocation;
    let engine = Arc::new(WasmEngine::new(EngineConfig::default()).unwrap());
    let limits = Limits {
        output_bytes: 1 << 20,
        ..Limits::default()
    };
    let backend = WasmBackend::new(
        engine,
        limits,
        vec![hysope_test_components::component_dir()],
    );
    let work = tempfile::tempdir().unwrap();
    let outdir = work.path().join("out");
    std::fs::create_dir_all(&outdir).unwrap();
    let requirements =
        vec![json!({"class": "hysope:WasmRequirement", "component": "hostile.wasm"})];
    let process = json!({"class": "CommandLineTool", "$path": work.path().join("t.cwl")});
    let mut inputs = serde_json::Map::new();
    let staging = backend
        .stage(
            &hysope_engine::cwl::ToolContext::new(&process, &requirements),
            &mut inputs,
            &outdir,
        )
        .unwrap();
    let invocation = ToolInvocation {
        name: "hostile".into(),
        at: "#".into(),
        cores: 1,
        ram_mib: 256,
        argv: args(&["hostile", "stdout"]),
        env: Vec::new(),
        stdin: None,
        stdout: Some("out.txt".into()),
        stderr: None,
        outdir: outdir.clone(),
        staging,
        timeout: None,
        cancel: tokio_util::sync::CancellationToken::new(),
    };
    let result = backend.execute(invocation).await;
    assert!(
        matches!(result, Err(hysope_engine::Error::OutputLimit { .. })),
        "{:?}",
        result.map(|r| r.exit_code)
    );
}
