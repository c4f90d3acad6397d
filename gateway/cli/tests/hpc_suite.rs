//! The backends' conformance suite (`hysope_engine::backend_suite!`) against the
//! HPC backend on the real one-node Slurm cluster (deploy/slurm/one-node.sh),
//! three ways: native tools as shell commands, the same commands in a busybox
//! container under bubblewrap, and the toolbox test component run by `hysope
//! exec-step` inside the allocation.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use hysope_engine::conformance::{SuiteTools, shell};
use hysope_engine::cwl::Backend;
use hysope_engine::wasm::Limits;
use hysope_hpc::{Hpc, HpcConfig, HpcSettings};
use serde_json::{Value, json};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A folder of this test binary's, kept for its life.
fn work() -> &'static PathBuf {
    static WORK: OnceLock<PathBuf> = OnceLock::new();
    WORK.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let out = std::process::Command::new("sh")
            .arg(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../tests/hpc/busybox-image.sh"),
            )
            .arg(dir.join("images/busybox_latest"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        dir
    })
}

/// An HPC backend of its own for one case (its own poller), a run of its own.
fn hpc(containers: bool) -> Arc<dyn Backend> {
    let mut config = HpcConfig {
        hysope: Some(PathBuf::from(env!("CARGO_BIN_EXE_hysope"))),
        ..HpcConfig::default()
    };
    if containers {
        config.containers.runtime = Some("bwrap".into());
        config.containers.image_cache = Some(work().join("images"));
    }
    let settings = HpcSettings {
        config,
        work_dir: work().join("hpc"),
        limits: Limits::default(),
        plugin_path: vec![hysope_test_components::component_dir()],
        strict_containers: containers,
    };
    let hpc = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(Hpc::open(settings))
    })
    .unwrap();
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Arc::new(
        hpc.for_run(&format!("suite-{}-{n}", std::process::id()))
            .unwrap(),
    )
}

/// Shell commands as Slurm jobs.
struct Native;

impl SuiteTools for Native {
    fn backend(&self) -> Arc<dyn Backend> {
        hpc(false)
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

/// The same commands in a busybox container.
struct Container;

impl SuiteTools for Container {
    fn backend(&self) -> Arc<dyn Backend> {
        hpc(true)
    }

    fn requirements(&self) -> Vec<Value> {
        vec![json!({"class": "DockerRequirement", "dockerPull": "busybox"})]
    }

    fn cat(&self, paths: &[&str]) -> Vec<String> {
        Native.cat(paths)
    }

    fn exit(&self, code: i32) -> Vec<String> {
        Native.exit(code)
    }

    fn sleep(&self, seconds: u32) -> Vec<String> {
        Native.sleep(seconds)
    }

    fn env(&self, names: &[&str]) -> Vec<String> {
        Native.env(names)
    }

    fn write(&self, path: &str, text: &str) -> Vec<String> {
        Native.write(path, text)
    }

    fn stderr(&self, text: &str) -> Vec<String> {
        Native.stderr(text)
    }
}

/// The toolbox component, run by `hysope exec-step` in the allocation.
struct Wasm;

impl SuiteTools for Wasm {
    fn backend(&self) -> Arc<dyn Backend> {
        hpc(false)
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

mod native {
    use super::*;
    hysope_engine::backend_suite!(Native);
}

mod container {
    use super::*;
    hysope_engine::backend_suite!(Container);
}

mod wasm {
    use super::*;
    hysope_engine::backend_suite!(Wasm);
}
