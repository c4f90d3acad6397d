//! The engine as its callers get it: one [`Engine`] per process owns the wasm host
//! with its compiled-artifact cache, the plugin search path and the default limits,
//! and hands out [`Runner`]s with their backends wired ([`Engine::runner`]). The
//! CLI (`hysope run`, `hysope cwl-runner`) and the server's jobs get their runners
//! here, so that what the conformance suite proves of one holds for the other.

use std::path::PathBuf;
use std::sync::Arc;

use crate::Result;
use crate::cwl::{Backend, ComponentLog, LocalBackend, Runner, WasmBackend};
use crate::wasm::{EngineConfig, Limits, RunEvent, WasmEngine};

/// How an [`Engine`] is set up.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Folder of the compiled-artifact cache; `None` compiles every load.
    pub cache_dir: Option<PathBuf>,
    /// Folders searched for the components CWL tools name, in order.
    pub plugin_path: Vec<PathBuf>,
    /// Limits of each tool run, unless a runner is given others.
    pub limits: Limits,
}

impl EngineSettings {
    /// The settings of the `hysope` command: the cache in `$HYSOPE_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/hysope/compiled`, else `~/.cache/hysope/compiled`; the plugin
    /// search path from `$HYSOPE_PLUGIN_PATH`, the wasm build folder beside the
    /// running executable and `./target/wasm32-wasip2/release` (those that exist);
    /// default limits.
    pub fn from_env() -> Self {
        Self {
            cache_dir: Some(cache_dir_from_env()),
            plugin_path: plugin_path_from_env(),
            limits: Limits::default(),
        }
    }
}

/// Where compiled components are cached (see [`EngineSettings::from_env`]).
fn cache_dir_from_env() -> PathBuf {
    if let Some(dir) = std::env::var_os("HYSOPE_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("hysope").join("compiled")
}

/// Folders searched for components (see [`EngineSettings::from_env`]).
fn plugin_path_from_env() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("HYSOPE_PLUGIN_PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Ok(exe) = std::env::current_exe() {
        for up in exe.ancestors().skip(1).take(3) {
            dirs.push(up.join("wasm32-wasip2").join("release"));
        }
    }
    dirs.push(PathBuf::from("target/wasm32-wasip2/release"));
    dirs.retain(|d| d.is_dir());
    dirs
}

/// The engine of a process: shared by every run (cheap to clone).
#[derive(Clone)]
pub struct Engine {
    wasm: Arc<WasmEngine>,
    plugin_path: Arc<[PathBuf]>,
    limits: Limits,
}

impl Engine {
    /// Starts the wasm host (its instance pool and artifact cache).
    pub fn open(settings: EngineSettings) -> Result<Self> {
        let wasm = WasmEngine::new(EngineConfig {
            cache_dir: settings.cache_dir,
            ..EngineConfig::default()
        })?;
        Ok(Self {
            wasm: Arc::new(wasm),
            plugin_path: settings.plugin_path.into(),
            limits: settings.limits,
        })
    }

    /// The wasm host, for callers that run bare components (`hysope run x.wasm`).
    pub fn wasm(&self) -> &Arc<WasmEngine> {
        &self.wasm
    }

    /// The folders searched for components.
    pub fn plugin_path(&self) -> &[PathBuf] {
        &self.plugin_path
    }

    /// The default limits of a tool run.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A runner whose scratch folders go under `scratch`, with the engine's
    /// backends: the wasm sandbox for tools with a `hysope:WasmRequirement`, the
    /// local process backend for the others.
    pub fn runner(&self, scratch: impl Into<PathBuf>) -> RunnerBuilder {
        RunnerBuilder {
            engine: self.clone(),
            scratch: scratch.into(),
            limits: self.limits.clone(),
            events: None,
            log: None,
            before: Vec::new(),
            fresh_outdir: false,
            resolved: false,
        }
    }
}

/// A [`Runner`] being configured (see [`Engine::runner`]).
pub struct RunnerBuilder {
    engine: Engine,
    scratch: PathBuf,
    limits: Limits,
    events: Option<tokio::sync::mpsc::UnboundedSender<RunEvent>>,
    log: Option<ComponentLog>,
    before: Vec<Arc<dyn Backend>>,
    fresh_outdir: bool,
    resolved: bool,
}

impl RunnerBuilder {
    /// Limits of each tool run instead of the engine's.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Where the plugins' log lines and progress reports go.
    pub fn events(mut self, events: tokio::sync::mpsc::UnboundedSender<RunEvent>) -> Self {
        self.events = Some(events);
        self
    }

    /// Where the wasm backend records the components it ran (for provenance).
    pub fn component_log(mut self, log: ComponentLog) -> Self {
        self.log = Some(log);
        self
    }

    /// A backend asked before the engine's own: it runs the tools it accepts (an
    /// HPC backend, say), the others go to the wasm or the local backend.
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.before.push(backend);
        self
    }

    /// See [`Runner::with_fresh_outdir`].
    pub fn fresh_outdir(mut self, fresh: bool) -> Self {
        self.fresh_outdir = fresh;
        self
    }

    /// See [`Runner::with_resolved_dirs`].
    pub fn resolved_dirs(mut self, resolved: bool) -> Self {
        self.resolved = resolved;
        self
    }

    /// The runner.
    pub fn build(self) -> Runner {
        let mut wasm = WasmBackend::new(
            self.engine.wasm.clone(),
            self.limits.clone(),
            self.engine.plugin_path.to_vec(),
        );
        if let Some(events) = self.events {
            wasm = wasm.with_events(events);
        }
        if let Some(log) = self.log {
            wasm = wasm.with_log(log);
        }
        let mut backends = self.before;
        backends.push(Arc::new(wasm));
        backends.push(Arc::new(LocalBackend::new(self.limits)));
        Runner::new(backends, self.scratch)
            .with_fresh_outdir(self.fresh_outdir)
            .with_resolved_dirs(self.resolved)
    }
}
