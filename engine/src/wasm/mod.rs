//! The wasm sandbox: loads `wasi:cli/command` components, compiles each once (with an
//! on-disk artifact cache), keeps an `InstancePre` per plugin and runs them in fresh
//! stores from a pooling allocator, under per-run limits.
//!
//! Isolation comes from WASI capabilities: a run sees only its two mounts (`/in`
//! read-only, `/out` read-write), no host environment and no network. Limits:
//! linear memory through a [`wasmtime::ResourceLimiter`], wall-clock deadline and
//! cancellation through epoch interruption (for wasm code) and future cancellation
//! (for host calls such as a blocking read or sleep), output size by a watcher of the
//! output directory, open handles through the resource table's capacity.

mod cache;
mod limits;
mod output;
mod pipe;
mod run_state;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

pub use cache::{ArtifactCache, CacheMiss};
pub use limits::Limits;
pub use output::dir_size;
pub use pipe::BoundedCapture;

use limits::{MemoryLimiter, Stop, capacity_error};
use output::{Survey, discard_contents, survey, watch_output};
use run_state::RunState;

use crate::{Error, Result};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "hysope:plugin/plugin",
    });
}

use bindings::hysope::plugin::host;

/// Guest path of the read-only input mount.
pub const GUEST_INPUT_DIR: &str = "/in";
/// Guest path of the writable output mount.
pub const GUEST_OUTPUT_DIR: &str = "/out";

/// How often the epoch advances: the granularity of deadlines and cancellation.
const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Severity of a plugin log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Finest detail.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal information.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

/// What a plugin reports while it runs, through the `hysope:plugin/host` interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RunEvent {
    /// A log line.
    Log {
        /// Severity.
        level: LogLevel,
        /// Text.
        message: String,
    },
    /// A progress report, percent in 0..=100.
    Progress {
        /// Percent done.
        percent: f32,
        /// Short message.
        message: String,
    },
}

/// Everything one run needs besides the plugin.
#[derive(Debug, Default)]
pub struct RunRequest {
    /// Arguments after `argv[0]` (which is the plugin's name).
    pub args: Vec<String>,
    /// Environment variables; the host's own are never passed.
    pub env: Vec<(String, String)>,
    /// Standard input.
    pub stdin: Vec<u8>,
    /// Host directory mounted read-only at `/in`.
    pub input_dir: Option<PathBuf>,
    /// Host directory mounted read-write at `/out`.
    pub output_dir: Option<PathBuf>,
    /// Limits of this run.
    pub limits: Limits,
    /// Cancels the run from outside.
    pub cancel: CancellationToken,
    /// Receives log and progress events as they happen.
    pub events: Option<UnboundedSender<RunEvent>>,
    /// A file (in the output folder) that receives stdout as it is written,
    /// instead of a capture held in memory: its size counts against the output
    /// cap, and the outcome's `stdout` is then empty.
    pub stdout_file: Option<std::fs::File>,
}

/// What a finished run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// Exit code (0 for success).
    pub exit_code: i32,
    /// Captured stdout (bounded).
    #[serde(skip)]
    pub stdout: Bytes,
    /// Captured stderr (bounded).
    #[serde(skip)]
    pub stderr: Bytes,
    /// True when stdout went past its cap and was cut.
    pub stdout_truncated: bool,
    /// True when stderr went past its cap and was cut.
    pub stderr_truncated: bool,
    /// Log and progress events, in order.
    pub events: Vec<RunEvent>,
    /// Wall time of instantiation and run.
    pub elapsed: Duration,
    /// Largest linear memory the plugin reached, in bytes.
    pub peak_memory: u64,
}

/// Where a plugin's compiled code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactOrigin {
    /// Compiled now (no cache, or no usable entry).
    Compiled,
    /// Loaded from the on-disk cache.
    Cache,
}

/// A loaded plugin: compiled, linked and ready to instantiate.
pub struct Plugin {
    name: String,
    sha256: String,
    origin: ArtifactOrigin,
    pre: CommandPre<RunState>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
            .finish()
    }
}

impl Plugin {
    /// The plugin's name (from its file name or registry entry).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Hex sha256 of the component's bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
    /// Where its compiled code came from when it was loaded.
    pub fn origin(&self) -> ArtifactOrigin {
        self.origin
    }
}

/// Configuration of a [`WasmEngine`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Directory of the compiled-artifact cache; `None` compiles every load.
    pub cache_dir: Option<PathBuf>,
    /// Most plugin instances alive at once (size of the pool).
    pub max_instances: u32,
    /// Largest memory cap a run may ask for, in bytes (reserved per pool slot).
    pub max_memory_bytes: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_instances: 32,
            max_memory_bytes: 4 << 30,
        }
    }
}

type FileStamp = ((u64, Option<std::time::SystemTime>), Arc<Plugin>);

/// The wasm host: one per process, shared by every run.
pub struct WasmEngine {
    engine: wasmtime::Engine,
    linker: Linker<RunState>,
    cache: Option<ArtifactCache>,
    plugins: Mutex<HashMap<String, Arc<Plugin>>>,
    /// Loaded files by path, with the length and modification time they had.
    files: Mutex<HashMap<PathBuf, FileStamp>>,
    max_memory_bytes: u64,
    ticker: Arc<AtomicBool>,
    /// One permit per pool slot: runs beyond the pool's size wait for a slot
    /// instead of failing.
    slots: Arc<tokio::sync::Semaphore>,
    /// Loads answered from memory, from the artifact cache, by compiling.
    loads: [AtomicU64; 3],
}

/// How a [`WasmEngine`]'s component loads were answered since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadCounts {
    /// Already loaded in this engine.
    pub memory: u64,
    /// Compiled code read from the artifact cache.
    pub cache: u64,
    /// Compiled now (no cache, no entry, or a stale one).
    pub compiled: u64,
}

impl Drop for WasmEngine {
    fn drop(&mut self) {
        self.ticker.store(true, Ordering::Relaxed);
    }
}

impl WasmEngine {
    /// Builds the engine, its pool and, if asked, its artifact cache.
    pub fn new(config: EngineConfig) -> Result<Self> {
        let instances = config.max_instances.max(1);
        let max_memory = config.max_memory_bytes.min(4 << 30);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_core_instances(instances * 8)
            .total_memories(instances * 2)
            .total_tables(instances * 8)
            .total_stacks(instances)
            .max_memories_per_component(2)
            .max_tables_per_component(8)
            .max_memory_size(max_memory as usize)
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(1 << 16)
            // Where the kernel has PAGEMAP_SCAN (Linux 6.7+), a freed slot has only its
            // written pages reset, instead of a memset of all it keeps resident.
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut wasm_config = Config::new();
        wasm_config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine =
            wasmtime::Engine::new(&wasm_config).map_err(|e| Error::Setup(format!("{e:#}")))?;

        let mut linker = Linker::<RunState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| Error::Setup(format!("{e:#}")))?;
        host::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |state| state)
            .map_err(|e| Error::Setup(format!("{e:#}")))?;

        let cache = config
            .cache_dir
            .map(|dir| ArtifactCache::open(dir, &engine))
            .transpose()?;

        let ticker = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = ticker.clone();
            std::thread::Builder::new()
                .name("hysope-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| Error::Setup(format!("cannot start epoch thread: {e}")))?;
        }

        Ok(Self {
            engine,
            linker,
            cache,
            plugins: Mutex::new(HashMap::new()),
            files: Mutex::new(HashMap::new()),
            max_memory_bytes: max_memory,
            ticker,
            slots: Arc::new(tokio::sync::Semaphore::new(instances as usize)),
            loads: Default::default(),
        })
    }

    /// How component loads were answered since the engine started.
    pub fn load_counts(&self) -> LoadCounts {
        let [memory, cache, compiled] = &self.loads;
        LoadCounts {
            memory: memory.load(Ordering::Relaxed),
            cache: cache.load(Ordering::Relaxed),
            compiled: compiled.load(Ordering::Relaxed),
        }
    }

    /// The artifact cache, if any.
    pub fn cache(&self) -> Option<&ArtifactCache> {
        self.cache.as_ref()
    }

    /// The plugin of a component file loaded before and unchanged since (same length
    /// and modification time): one `stat`, no read. `None` when it must be loaded.
    pub fn loaded_file(&self, path: &Path) -> Option<Arc<Plugin>> {
        let meta = std::fs::metadata(path).ok()?;
        let stamp = (meta.len(), meta.modified().ok());
        let (seen, plugin) = self.files.lock().ok()?.get(path).cloned()?;
        (seen == stamp).then(|| {
            self.loads[0].fetch_add(1, Ordering::Relaxed);
            plugin
        })
    }

    /// Loads a component file; the plugin is named after the file stem. A file already
    /// loaded and unchanged since (same length and modification time) is not read again.
    pub fn load_file(&self, path: &Path) -> Result<Arc<Plugin>> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let stamp = (meta.len(), meta.modified().ok());
        if let Some((seen, plugin)) = self.files.lock().ok().and_then(|f| f.get(path).cloned()) {
            if seen == stamp {
                self.loads[0].fetch_add(1, Ordering::Relaxed);
                return Ok(plugin);
            }
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("plugin")
            .to_string();
        let plugin = self.load(&name, &bytes)?;
        if let Ok(mut files) = self.files.lock() {
            files.insert(path.to_path_buf(), (stamp, plugin.clone()));
        }
        Ok(plugin)
    }

    /// Loads a component from its bytes: from this engine's memory if already loaded,
    /// else from the artifact cache, else by compiling it (and filling the cache).
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Arc<Plugin>> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        if let Some(plugin) = self
            .plugins
            .lock()
            .ok()
            .and_then(|p| p.get(&sha256).cloned())
        {
            self.loads[0].fetch_add(1, Ordering::Relaxed);
            return Ok(plugin);
        }
        let invalid = |reason: String| Error::InvalidComponent {
            plugin: name.to_string(),
            reason,
        };
        if !wasmparser_is_component(bytes) {
            return Err(invalid("not a WebAssembly component (a core module or another file); build with --target wasm32-wasip2".into()));
        }
        let (component, origin) = self.compile_or_fetch(&sha256, bytes).map_err(invalid)?;
        let counted = match origin {
            ArtifactOrigin::Cache => 1,
            ArtifactOrigin::Compiled => 2,
        };
        self.loads[counted].fetch_add(1, Ordering::Relaxed);
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let pre = CommandPre::new(pre).map_err(|e| {
            invalid(format!(
                "does not export wasi:cli/run (not a command component): {e:#}"
            ))
        })?;
        let plugin = Arc::new(Plugin {
            name: name.to_string(),
            sha256: sha256.clone(),
            origin,
            pre,
        });
        if let Ok(mut plugins) = self.plugins.lock() {
            plugins.insert(sha256, plugin.clone());
        }
        Ok(plugin)
    }

    /// Forgets every loaded plugin (the next load goes to the cache or compiles).
    pub fn unload_all(&self) {
        if let Ok(mut plugins) = self.plugins.lock() {
            plugins.clear();
        }
        if let Ok(mut files) = self.files.lock() {
            files.clear();
        }
    }

    fn compile_or_fetch(
        &self,
        sha256: &str,
        bytes: &[u8],
    ) -> std::result::Result<(Component, ArtifactOrigin), String> {
        if let Some(cache) = &self.cache {
            if let Ok(artifact) = cache.get(sha256) {
                // SAFETY: the artifact was written by `Engine::precompile_component` of an
                // engine with the same compatibility hash, and its checksum was verified.
                match unsafe { Component::deserialize(&self.engine, &artifact) } {
                    Ok(component) => return Ok((component, ArtifactOrigin::Cache)),
                    Err(error) => {
                        tracing::warn!(sha256, error = %error, "stale compiled artifact rebuilt");
                        cache.remove(sha256);
                    }
                }
            }
            let artifact = self
                .engine
                .precompile_component(bytes)
                .map_err(|e| format!("{e:#}"))?;
            if let Err(error) = cache.put(sha256, &artifact) {
                tracing::warn!(sha256, error = %error, "cannot store compiled artifact");
            }
            // SAFETY: produced just above by this engine.
            let component = unsafe { Component::deserialize(&self.engine, &artifact) }
                .map_err(|e| format!("{e:#}"))?;
            return Ok((component, ArtifactOrigin::Compiled));
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| format!("{e:#}"))?;
        Ok((component, ArtifactOrigin::Compiled))
    }

    /// Runs a plugin once in a fresh store. A non-zero exit, a trap or a hit limit
    /// is an `Err` naming the plugin and the cause; the host never panics.
    pub async fn run(&self, plugin: &Plugin, request: RunRequest) -> Result<RunOutcome> {
        let limits = request.limits.clone();
        let name = plugin.name.clone();
        if limits.memory_bytes > self.max_memory_bytes {
            return Err(Error::Setup(format!(
                "memory cap {} exceeds the engine's maximum {}",
                limits.memory_bytes, self.max_memory_bytes
            )));
        }
        let _slot = tokio::select! {
            permit = self.slots.clone().acquire_owned() => permit.map_err(|_| Error::Setup("engine is shutting down".into()))?,
            _ = request.cancel.cancelled() => return Err(Error::Cancelled { plugin: name }),
        };
        let stdout = BoundedCapture::new(limits.stdio_bytes);
        let stderr = BoundedCapture::new(limits.stdio_bytes);
        let mut wasi = WasiCtxBuilder::new();
        let mut argv = Vec::with_capacity(request.args.len() + 1);
        argv.push(name.clone());
        argv.extend(request.args.iter().cloned());
        wasi.args(&argv)
            .envs(&request.env)
            .stdin(MemoryInputPipe::new(request.stdin))
            .stderr(stderr.clone());
        match request.stdout_file {
            Some(file) => wasi.stdout(wasmtime_wasi::cli::OutputFile::new(file)),
            None => wasi.stdout(stdout.clone()),
        };
        wasi.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            // File operations on the mounts are local and short: running them inline
            // costs less than a hop to the blocking pool for each call (the hop made
            // a run of `echo` several times slower).
            .allow_blocking_current_thread(true)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        if let Some(dir) = &request.input_dir {
            wasi.preopened_dir(dir, GUEST_INPUT_DIR, FsPerms::ReadOnly)
                .map_err(|e| Error::io(dir, std::io::Error::other(format!("{e:#}"))))?;
        }
        if let Some(dir) = &request.output_dir {
            wasi.preopened_dir(dir, GUEST_OUTPUT_DIR, FsPerms::ReadWrite)
                .map_err(|e| Error::io(dir, std::io::Error::other(format!("{e:#}"))))?;
            wasi.env("HYSOPE_OUT", GUEST_OUTPUT_DIR);
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.max_handles);

        let output_over = Arc::new(AtomicBool::new(false));
        let state = RunState {
            wasi: wasi.build(),
            table,
            memory: MemoryLimiter {
                cap: limits.memory_bytes as usize,
                peak: 0,
                refused: None,
            },
            events: Vec::new(),
            sender: request.events,
            cancel: request.cancel.clone(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        let started = Instant::now();
        let deadline = started + limits.timeout;
        {
            let cancel = request.cancel.clone();
            let output_over = output_over.clone();
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(move |_| {
                if cancel.is_cancelled() {
                    return Err(wasmtime::Error::new(Stop::Cancelled));
                }
                if output_over.load(Ordering::Relaxed) {
                    return Err(wasmtime::Error::new(Stop::Output));
                }
                if Instant::now() >= deadline {
                    return Err(wasmtime::Error::new(Stop::Timeout));
                }
                Ok(UpdateDeadline::Yield(1))
            });
        }

        let result = {
            let run = async {
                let command = plugin.pre.instantiate_async(&mut store).await?;
                command.wasi_cli_run().call_run(&mut store).await
            };
            // Epoch interruption stops wasm code; these arms stop a plugin blocked in a
            // host call (sleep, poll), by dropping the run future.
            tokio::select! {
                result = run => result.map_err(RunFailure::Wasm),
                _ = tokio::time::sleep_until(deadline.into()) => Err(RunFailure::Stop(Stop::Timeout)),
                _ = request.cancel.cancelled() => Err(RunFailure::Stop(Stop::Cancelled)),
                _ = watch_output(request.output_dir.as_deref(), limits.output_bytes, output_over.clone()) => Err(RunFailure::Stop(Stop::Output)),
            }
        };
        let elapsed = started.elapsed();
        let state = store.into_data();
        let survey = match &request.output_dir {
            Some(dir) => survey(dir),
            None => Survey::default(),
        };
        let output_size = survey.bytes;
        let outcome = RunOutcome {
            exit_code: 0,
            stdout: stdout.contents(),
            stderr: stderr.contents(),
            stdout_truncated: stdout.truncated(),
            stderr_truncated: stderr.truncated(),
            events: state.events,
            elapsed,
            peak_memory: state.memory.peak as u64,
        };
        let stop = |stop: Stop| match stop {
            Stop::Cancelled => Error::Cancelled {
                plugin: name.clone(),
            },
            Stop::Timeout => Error::Timeout {
                plugin: name.clone(),
                limit: limits.timeout,
            },
            Stop::Output => Error::OutputLimit {
                plugin: name.clone(),
                limit: limits.output_bytes,
            },
        };
        let result = match result {
            Ok(Ok(())) => Ok(0),
            Ok(Err(())) => Ok(1),
            Err(RunFailure::Stop(s)) => Err(stop(s)),
            Err(RunFailure::Wasm(error)) => {
                if let Some(exit) = error.downcast_ref::<I32Exit>() {
                    Ok(exit.0)
                } else if let Some(s) = error.downcast_ref::<Stop>() {
                    Err(stop(*s))
                } else if let Some(requested) = state.memory.refused {
                    Err(Error::MemoryLimit {
                        plugin: name.clone(),
                        limit: limits.memory_bytes,
                        requested: requested as u64,
                    })
                } else if error.chain().any(|e| {
                    matches!(
                        e.downcast_ref::<wasmtime::component::ResourceTableError>(),
                        Some(wasmtime::component::ResourceTableError::Full)
                    )
                }) {
                    Err(Error::HandleLimit {
                        plugin: name.clone(),
                        limit: limits.max_handles,
                    })
                } else if let Some(reason) = capacity_error(&error) {
                    Err(Error::Capacity {
                        plugin: name.clone(),
                        reason,
                    })
                } else {
                    tracing::debug!(plugin = %name, error = ?error, "plugin trapped");
                    Err(Error::Trap {
                        plugin: name.clone(),
                        reason: trap_reason(&error, &stderr.contents()),
                    })
                }
            }
        };
        let result = match result {
            Ok(_) | Err(Error::OutputLimit { .. }) if output_size > limits.output_bytes => {
                Err(Error::OutputLimit {
                    plugin: name.clone(),
                    limit: limits.output_bytes,
                })
            }
            other => other,
        };
        let result = match (result, survey.escaping) {
            (Ok(_), Some((link, target))) => Err(Error::OutputLink {
                plugin: name.clone(),
                link: link.display().to_string(),
                target: target.display().to_string(),
            }),
            (result, _) => result,
        };
        if let (Err(Error::OutputLimit { .. } | Error::OutputLink { .. }), Some(dir)) =
            (&result, &request.output_dir)
        {
            discard_contents(dir);
        }
        // A plugin that saw `cancelled()` and stopped by itself was cancelled, not failed.
        let result = match result {
            Ok(code) if code != 0 && request.cancel.is_cancelled() => Err(Error::Cancelled {
                plugin: name.clone(),
            }),
            Err(Error::Trap { .. }) if request.cancel.is_cancelled() => Err(Error::Cancelled {
                plugin: name.clone(),
            }),
            other => other,
        };
        match result {
            Ok(0) => Ok(outcome),
            Ok(code) => Err(Error::Exit {
                plugin: name,
                code,
                outcome: Box::new(RunOutcome {
                    exit_code: code,
                    ..outcome
                }),
            }),
            Err(error) => Err(error),
        }
    }
}

/// True for the component binary format (layer 1), false for core modules and others.
fn wasmparser_is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[0..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

/// The trap's own message (not the whole backtrace), with the last line the plugin
/// wrote on stderr (a Rust panic message, typically).
fn trap_reason(error: &wasmtime::Error, stderr: &[u8]) -> String {
    let cause = match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => error.root_cause().to_string(),
    };
    let text = String::from_utf8_lossy(stderr);
    match text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("note:"))
    {
        Some(line) => format!("{cause} (stderr: {})", line.trim()),
        None => cause,
    }
}

enum RunFailure {
    Wasm(wasmtime::Error),
    Stop(Stop),
}
