//! Backends run one tool invocation: the command line built per the CWL spec, the
//! environment, the staged inputs and the output directory. Output collection
//! happens afterwards in the engine, whatever ran the tool.
//!
//! - [`WasmBackend`]: tools carrying `hysope:WasmRequirement`; inputs are staged into
//!   one folder mounted read-only at `/in`, the output directory at `/out`.
//! - [`LocalBackend`]: a native process in the output directory (trusted tools).
//!
//! An HPC backend (Slurm + Apptainer) and a remote-worker backend implement the same
//! trait: they receive a [`ToolInvocation`] and hand back an [`ExecutionResult`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::wasm::{GUEST_INPUT_DIR, GUEST_OUTPUT_DIR, Limits, RunEvent, RunRequest, WasmEngine};
use crate::{Error, Result};

/// A boxed future, for object-safe async trait methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An input file as the host has it and as the tool sees it.
#[derive(Debug, Clone)]
pub struct StagedFile {
    /// Path on the host.
    pub host: PathBuf,
    /// Path the tool sees.
    pub guest: String,
}

/// How a backend laid out one invocation's files.
#[derive(Debug, Clone, Default)]
pub struct Staging {
    /// The output folder as the tool sees it (`runtime.outdir`).
    pub outdir: String,
    /// The scratch folder as the tool sees it (`runtime.tmpdir`).
    pub tmpdir: String,
    /// Folder holding the staged inputs, removed after the run.
    pub stage_dir: Option<PathBuf>,
    /// Input files as staged.
    pub staged: Vec<StagedFile>,
    /// The component to run (wasm backend).
    pub component: Option<PathBuf>,
    /// The component as the tool names it (wasm backend).
    pub component_name: Option<String>,
    /// The container image the tool runs in (`DockerRequirement`): a SIF file or a
    /// root-filesystem folder. The staged inputs are bound into it read-only.
    pub image: Option<PathBuf>,
    /// The tool may reach the network (`NetworkAccess`).
    pub network: bool,
}

/// The tool a backend is asked to stage, as the runner sees it.
#[derive(Debug, Clone, Copy)]
pub struct ToolContext<'a> {
    /// The normalised process (its `$path` locates the tool's file).
    pub process: &'a Value,
    /// Effective requirements (inherited first, own last).
    pub requirements: &'a [Value],
    /// Effective hints.
    pub hints: &'a [Value],
    /// Where the tool runs in its workflow (`#/steps/filter[3]` for the fourth
    /// element of a scatter): stable from one run of the same workflow to the next.
    pub at: &'a str,
}

impl<'a> ToolContext<'a> {
    /// A tool run alone: no hint, at `#`.
    pub fn new(process: &'a Value, requirements: &'a [Value]) -> Self {
        Self {
            process,
            requirements,
            hints: &[],
            at: "#",
        }
    }

    /// The requirement of `class`, else the hint.
    pub fn find(&self, class: &str) -> Option<&'a Value> {
        super::tool::find_req(self.requirements, class)
            .or_else(|| super::tool::find_req(self.hints, class))
    }
}

/// Everything a backend needs to run one tool once.
#[derive(Debug)]
pub struct ToolInvocation {
    /// The tool's name (for messages and metrics).
    pub name: String,
    /// Where the tool runs in its workflow (see [`ToolContext::at`]).
    pub at: String,
    /// Cores the tool asked for (`ResourceRequirement`, 1 by default).
    pub cores: u32,
    /// Memory the tool asked for, in MiB (`ResourceRequirement`, 1024 by default).
    pub ram_mib: u64,
    /// The command line, `argv[0]` first.
    pub argv: Vec<String>,
    /// The environment.
    pub env: Vec<(String, String)>,
    /// File (as the tool sees it) whose content is the standard input.
    pub stdin: Option<PathBuf>,
    /// Name, in the output directory, of the file that receives stdout.
    pub stdout: Option<String>,
    /// Name, in the output directory, of the file that receives stderr.
    pub stderr: Option<String>,
    /// The output directory on the host.
    pub outdir: PathBuf,
    /// The staging of inputs.
    pub staging: Staging,
    /// The tool's own time limit (`ToolTimeLimit`), within the backend's.
    pub timeout: Option<std::time::Duration>,
    /// Cancels the run.
    pub cancel: CancellationToken,
}

/// What a backend hands back.
#[derive(Debug)]
pub struct ExecutionResult {
    /// The exit code; the engine decides what counts as success.
    pub exit_code: i32,
    /// Log and progress events of a wasm plugin.
    pub events: Vec<RunEvent>,
    /// What the tool wrote on stderr, when the backend captured it.
    pub stderr: bytes::Bytes,
}

/// Runs tool invocations somewhere.
pub trait Backend: Send + Sync {
    /// The backend's name (`wasm`, `local`, `hpc`).
    fn name(&self) -> &'static str;

    /// True when this backend runs a CommandLineTool with these effective
    /// requirements and hints. A [`Runner`](super::Runner) gives each tool to the
    /// first of its backends that accepts it.
    fn accepts(&self, requirements: &[Value], hints: &[Value]) -> bool;

    /// Makes the inputs visible to the tool, rewriting their paths as the tool sees them.
    fn stage(
        &self,
        tool: &ToolContext<'_>,
        inputs: &mut Map<String, Value>,
        outdir: &Path,
    ) -> Result<Staging>;

    /// Runs an invocation to completion.
    fn execute(&self, invocation: ToolInvocation) -> BoxFuture<'_, Result<ExecutionResult>>;

    /// Turns paths in collected outputs back into host paths, where the backend moved them.
    fn unstage(&self, _outputs: &mut Value, _outdir: &Path) {}

    /// True when the tools run elsewhere than on this machine (a batch system):
    /// the runner then does not hold this machine's cores for them.
    fn remote(&self) -> bool {
        false
    }
}

fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hex::encode(&Sha256::digest(format!("{}-{n}-{t}", super::values::process_id()))[..6])
}

/// The wasm components a backend ran, each once: (the component as the tool names
/// it, sha256 of the bytes run).
pub type ComponentLog = Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// True when a tool is a sandboxed plugin: a `hysope:WasmRequirement` among its
/// requirements or hints.
pub fn is_wasm_tool(requirements: &[Value], hints: &[Value]) -> bool {
    super::tool::find_req(requirements, "hysope:WasmRequirement")
        .or_else(|| super::tool::find_req(hints, "hysope:WasmRequirement"))
        .is_some()
}

/// The sandbox backend.
pub struct WasmBackend {
    engine: Arc<WasmEngine>,
    limits: Limits,
    search_path: Vec<PathBuf>,
    events: Option<tokio::sync::mpsc::UnboundedSender<RunEvent>>,
    ran: Option<ComponentLog>,
}

impl WasmBackend {
    /// A backend over `engine` with default limits `limits`, looking up component names in `search_path`.
    pub fn new(engine: Arc<WasmEngine>, limits: Limits, search_path: Vec<PathBuf>) -> Self {
        Self {
            engine,
            limits,
            search_path,
            events: None,
            ran: None,
        }
    }

    /// Notes in `log` each component this backend runs (the provenance of results).
    pub fn with_log(mut self, log: ComponentLog) -> Self {
        self.ran = Some(log);
        self
    }

    /// Forwards plugin log and progress events as they happen.
    pub fn with_events(mut self, events: tokio::sync::mpsc::UnboundedSender<RunEvent>) -> Self {
        self.events = Some(events);
        self
    }
}

/// Finds the component a `hysope:WasmRequirement` names: a path relative to the tool
/// file, a file name in `search_path`, or `sha256:<hex>` of a component in
/// `search_path`. A `sha256` field in the requirement is checked against the file found.
pub fn resolve_component(
    requirement: &Value,
    tool_dir: &Path,
    search_path: &[PathBuf],
    at: &str,
) -> Result<PathBuf> {
    let name = requirement
        .get("component")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::cwl(at, "component must be a string"))?;
    // A file name, or a path below the tool's folder: never a host path of its own.
    let path_of_name = Path::new(name);
    if path_of_name.is_absolute()
        || path_of_name
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(Error::cwl(
            at,
            format!(
                "component {name:?} must be a file name, a path below the tool's folder, or sha256:<hex>"
            ),
        ));
    }
    let mut dirs = vec![
        tool_dir.to_path_buf(),
        tool_dir.join("target/wasm32-wasip2/release"),
    ];
    dirs.extend(search_path.iter().cloned());
    let found = if let Some(digest) = name.strip_prefix("sha256:") {
        // A component kept under its digest (`HEX.wasm`, as the server keeps those
        // a deploy pinned from its registry) is found without reading the others.
        let named = (digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| {
                dirs.iter()
                    .map(|d| d.join(format!("{digest}.wasm")))
                    .find(|p| p.is_file())
            })
            .flatten();
        named.or_else(|| {
            dirs.iter().find_map(|dir| {
                std::fs::read_dir(dir)
                    .ok()?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
                    .find(|p| {
                        std::fs::read(p)
                            .map(|b| hex::encode(Sha256::digest(&b)) == digest)
                            .unwrap_or(false)
                    })
            })
        })
    } else if name.contains('/') {
        // Followed to the end, it must still be below the tool's folder.
        let path = tool_dir.join(name);
        let inside = match (
            std::fs::canonicalize(&path),
            std::fs::canonicalize(tool_dir),
        ) {
            (Ok(real), Ok(root)) => real.starts_with(root),
            _ => false,
        };
        inside.then_some(path)
    } else {
        dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
    };
    // The folders searched are the server's business: not told.
    let path = found.ok_or_else(|| {
        Error::cwl(
            at,
            format!("component {name:?} not found beside the tool or in the plugin search path"),
        )
    })?;
    if let Some(expected) = requirement.get("sha256").and_then(Value::as_str) {
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != expected {
            return Err(Error::cwl(
                at,
                format!(
                    "component {} has sha256 {actual}, the tool requires {expected}",
                    path.display()
                ),
            ));
        }
    }
    Ok(path)
}

/// Stages a wasm tool's inputs under `stage` (made only when there is a file to
/// stage), rewritten to the sandbox's input folder, and finds its component: what
/// [`WasmBackend::stage`] does, with the staging folder chosen by the caller (an
/// HPC backend puts it on the shared disk).
pub fn stage_wasm(
    tool: &ToolContext<'_>,
    search_path: &[PathBuf],
    inputs: &mut Map<String, Value>,
    stage: PathBuf,
) -> Result<Staging> {
    let tool_dir = tool
        .process
        .get("$path")
        .and_then(Value::as_str)
        .and_then(|p| Path::new(p).parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let requirement = tool
        .find("hysope:WasmRequirement")
        .or_else(|| {
            super::tool::find_req(
                tool.process
                    .get("hints")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]),
                "hysope:WasmRequirement",
            )
        })
        .ok_or_else(|| Error::cwl("wasm backend", "the tool has no hysope:WasmRequirement"))?;
    let component = resolve_component(
        requirement,
        &tool_dir,
        search_path,
        "hysope:WasmRequirement",
    )?;
    // The input folder is made only if there are files to stage (each file's
    // slot creates it).
    let mut staged = Vec::new();
    for value in inputs.values_mut() {
        if let Err(e) = stage_value(value, &stage, GUEST_INPUT_DIR, &mut staged) {
            let _ = std::fs::remove_dir_all(&stage);
            return Err(e);
        }
    }
    Ok(Staging {
        outdir: GUEST_OUTPUT_DIR.into(),
        tmpdir: GUEST_OUTPUT_DIR.into(),
        stage_dir: (!staged.is_empty()).then_some(stage),
        staged,
        component: Some(component),
        // A component pinned from the registry is named by its reference.
        component_name: requirement
            .get("registry")
            .or_else(|| requirement.get("component"))
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Staging::default()
    })
}

/// A folder that is removed when dropped.
struct StageDir(PathBuf);

impl Drop for StageDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Links (or copies, across file systems) `from` to `to`, recursively for folders.
pub fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)?.flatten() {
            link_or_copy(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(|_| ()))
    }
}

/// Stages every File and Directory of `value` (with its secondary files, beside it)
/// under `stage`, rewriting its paths to `guest_root`.
fn stage_value(
    value: &mut Value,
    stage: &Path,
    guest_root: &str,
    staged: &mut Vec<StagedFile>,
) -> Result<()> {
    super::values::for_each_file(value, &mut |map| {
        let Some(host) = super::values::path_of(&Value::Object(map.clone())) else {
            return Ok(());
        };
        let slot = staged.len().to_string();
        let dir = stage.join(&slot);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut place = |map: &mut Map<String, Value>, host: &Path| -> Result<()> {
            let basename = super::values::name_of(map, Some(host), "staged input")?;
            let target = dir.join(&basename);
            if !target.exists() {
                link_or_copy(host, &target).map_err(|e| Error::io(host, e))?;
            }
            let guest = format!("{guest_root}/{slot}/{basename}");
            map.insert("path".into(), Value::String(guest.clone()));
            map.insert("location".into(), Value::String(format!("file://{guest}")));
            map.insert(
                "dirname".into(),
                Value::String(format!("{guest_root}/{slot}")),
            );
            staged.push(StagedFile {
                host: host.to_path_buf(),
                guest,
            });
            Ok(())
        };
        place(map, &host)?;
        if let Some(Value::Array(secondary)) = map.get_mut("secondaryFiles") {
            for s in secondary.iter_mut() {
                if let (Some(h), Value::Object(m)) = (super::values::path_of(s), &mut *s) {
                    place(m, &h)?;
                }
            }
        }
        map.remove("listing");
        Ok(())
    })
}

impl Backend for WasmBackend {
    fn name(&self) -> &'static str {
        "wasm"
    }

    fn accepts(&self, requirements: &[Value], hints: &[Value]) -> bool {
        is_wasm_tool(requirements, hints)
    }

    fn stage(
        &self,
        tool: &ToolContext<'_>,
        inputs: &mut Map<String, Value>,
        _outdir: &Path,
    ) -> Result<Staging> {
        let stage = std::env::temp_dir().join(format!("hysope-stage-{}", random_suffix()));
        stage_wasm(tool, &self.search_path, inputs, stage)
    }

    fn execute(&self, invocation: ToolInvocation) -> BoxFuture<'_, Result<ExecutionResult>> {
        Box::pin(async move {
            let _stage = invocation.staging.stage_dir.clone().map(StageDir);
            let component = invocation
                .staging
                .component
                .clone()
                .ok_or_else(|| Error::Setup("wasm invocation without a component".into()))?;
            // A component loaded before is one `stat` away; a first load (maybe a
            // compile) runs off the async threads.
            let plugin = match self.engine.loaded_file(&component) {
                Some(plugin) => plugin,
                None => {
                    let engine = self.engine.clone();
                    tokio::task::spawn_blocking(move || engine.load_file(&component))
                        .await
                        .map_err(|e| Error::Setup(format!("loader task failed: {e}")))??
                }
            };
            if let Some(log) = &self.ran {
                let name = invocation.staging.component_name.clone();
                let entry = (
                    name.unwrap_or_else(|| plugin.name().to_string()),
                    plugin.sha256().to_string(),
                );
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                if !log.contains(&entry) {
                    log.push(entry);
                }
            }
            // stdin is a staged input, or a file of the output folder (as the tool
            // sees them): never another host file.
            let stdin = match &invocation.stdin {
                Some(path) => {
                    let staged = invocation
                        .staging
                        .staged
                        .iter()
                        .find(|s| Path::new(&s.guest) == path)
                        .map(|s| s.host.clone());
                    let in_outdir = || {
                        let rest = path.strip_prefix(GUEST_OUTPUT_DIR).ok()?;
                        let host = invocation.outdir.join(rest);
                        let real = std::fs::canonicalize(&host).ok()?;
                        let root = std::fs::canonicalize(&invocation.outdir).ok()?;
                        real.starts_with(root).then_some(real)
                    };
                    let host = staged.or_else(in_outdir).ok_or_else(|| {
                        Error::cwl(
                            &invocation.name,
                            format!(
                                "stdin {} is neither an input nor a file of the output folder",
                                path.display()
                            ),
                        )
                    })?;
                    std::fs::read(&host).map_err(|e| Error::io(&host, e))?
                }
                None => Vec::new(),
            };
            let mut limits = self.limits.clone();
            if let Some(t) = invocation.timeout {
                limits.timeout = limits.timeout.min(t);
            }
            // stdout to a file goes straight there (the output cap counts it);
            // nothing of it is held in memory.
            let stdout_file = match &invocation.stdout {
                Some(name) => {
                    let path = invocation.outdir.join(name);
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                    }
                    Some(std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?)
                }
                None => None,
            };
            let request = RunRequest {
                args: invocation.argv.iter().skip(1).cloned().collect(),
                env: invocation.env.clone(),
                stdin,
                input_dir: invocation.staging.stage_dir.clone(),
                output_dir: Some(invocation.outdir.clone()),
                limits,
                cancel: invocation.cancel.clone(),
                events: self.events.clone(),
                stdout_file,
            };
            let (code, outcome) = match self.engine.run(&plugin, request).await {
                Ok(outcome) => (0, outcome),
                Err(Error::Exit { code, outcome, .. }) => (code, *outcome),
                Err(e) => return Err(e),
            };
            let write = |name: &Option<String>, bytes: &[u8]| -> Result<()> {
                let Some(name) = name else { return Ok(()) };
                let path = invocation.outdir.join(name);
                std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))
            };
            write(&invocation.stderr, &outcome.stderr)?;
            if code != 0 && !outcome.stderr.is_empty() {
                tracing::warn!(plugin = %invocation.name, code, stderr = %String::from_utf8_lossy(&outcome.stderr), "plugin failed");
            }
            Ok(ExecutionResult {
                exit_code: code,
                events: outcome.events,
                stderr: outcome.stderr,
            })
        })
    }
}

/// Links, under `dir`, each input file whose `basename` differs from its name on
/// disk, under that basename, and points the input at the link.
pub fn stage_renamed(value: &mut Value, dir: &Path) -> Result<()> {
    super::values::for_each_file(value, &mut |map| {
        let current = Value::Object(map.clone());
        if let (Some(path), Some(basename)) = (
            super::values::path_of(&current),
            map.get("basename")
                .and_then(Value::as_str)
                .map(str::to_string),
        ) {
            super::values::check_name(&basename, "staged input")?;
            if path
                .file_name()
                .map(|n| n.to_string_lossy() != basename.as_str())
                .unwrap_or(false)
                && path.exists()
            {
                let slot = dir.join(random_suffix());
                std::fs::create_dir_all(&slot).map_err(|e| Error::io(&slot, e))?;
                let target = slot.join(&basename);
                link_or_copy(&path, &target).map_err(|e| Error::io(&path, e))?;
                map.insert("path".into(), Value::String(target.display().to_string()));
                map.insert(
                    "location".into(),
                    Value::String(format!("file://{}", target.display())),
                );
                map.insert("dirname".into(), Value::String(slot.display().to_string()));
            }
        }
        if let Some(Value::Array(items)) = map.get_mut("secondaryFiles") {
            for item in items.iter_mut() {
                stage_renamed(item, dir)?;
            }
        }
        Ok(())
    })
}

/// The local-process backend: runs the command in the output directory, with only
/// the tool's environment (plus `PATH`). For trusted tools and the conformance suite.
pub struct LocalBackend {
    limits: Limits,
}

impl LocalBackend {
    /// A local backend with these limits.
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }
}

impl Backend for LocalBackend {
    fn name(&self) -> &'static str {
        "local"
    }

    /// Every tool but the sandboxed plugins (those never run outside the sandbox).
    fn accepts(&self, requirements: &[Value], hints: &[Value]) -> bool {
        !is_wasm_tool(requirements, hints)
    }

    fn stage(
        &self,
        _tool: &ToolContext<'_>,
        inputs: &mut Map<String, Value>,
        outdir: &Path,
    ) -> Result<Staging> {
        let tmp = std::env::temp_dir().join(format!("hysope-tmp-{}", random_suffix()));
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        // Files whose `basename` differs from their name on disk are linked under that name.
        let renamed = tmp.join("renamed");
        for value in inputs.values_mut() {
            stage_renamed(value, &renamed)?;
        }
        Ok(Staging {
            outdir: outdir.display().to_string(),
            tmpdir: tmp.display().to_string(),
            stage_dir: Some(tmp),
            ..Staging::default()
        })
    }

    fn execute(&self, invocation: ToolInvocation) -> BoxFuture<'_, Result<ExecutionResult>> {
        Box::pin(async move {
            let _tmp = invocation.staging.stage_dir.clone().map(StageDir);
            let program = invocation.argv.first().ok_or_else(|| {
                Error::cwl(
                    &invocation.name,
                    "empty command line (no baseCommand or arguments)",
                )
            })?;
            let mut command = tokio::process::Command::new(program);
            let mut env = invocation.env.clone();
            if !env.iter().any(|(k, _)| k == "PATH") {
                if let Ok(path) = std::env::var("PATH") {
                    env.push(("PATH".into(), path));
                }
            }
            command
                .args(&invocation.argv[1..])
                .current_dir(&invocation.outdir)
                .env_clear()
                .envs(env)
                .kill_on_drop(true);
            let open = |name: &str| -> Result<std::fs::File> {
                let path = invocation.outdir.join(name);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
                std::fs::File::create(&path).map_err(|e| Error::io(&path, e))
            };
            command.stdin(match &invocation.stdin {
                Some(path) => std::process::Stdio::from(
                    std::fs::File::open(path).map_err(|e| Error::io(path, e))?,
                ),
                None => std::process::Stdio::null(),
            });
            // Without a `stdout:` the tool's output goes to our stderr: our stdout carries the output object.
            command.stdout(match &invocation.stdout {
                Some(name) => std::process::Stdio::from(open(name)?),
                None => std::process::Stdio::from(std::io::stderr()),
            });
            command.stderr(match &invocation.stderr {
                Some(name) => std::process::Stdio::from(open(name)?),
                None => std::process::Stdio::inherit(),
            });
            let mut child = command.spawn().map_err(|e| Error::io(program, e))?;
            let limit = invocation
                .timeout
                .map(|t| t.min(self.limits.timeout))
                .unwrap_or(self.limits.timeout);
            let status = tokio::select! {
                status = child.wait() => status.map_err(|e| Error::io(program, e))?,
                _ = tokio::time::sleep(limit) => {
                    let _ = child.kill().await;
                    return Err(Error::Timeout { plugin: invocation.name.clone(), limit });
                }
                _ = invocation.cancel.cancelled() => {
                    let _ = child.kill().await;
                    return Err(Error::Cancelled { plugin: invocation.name.clone() });
                }
            };
            Ok(ExecutionResult {
                exit_code: status.code().unwrap_or(-1),
                events: Vec::new(),
                stderr: Default::default(),
            })
        })
    }
}
