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

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::Tool;
use super::command::build_command_line;
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

/// Everything a backend needs to run one tool once.
#[derive(Debug)]
pub struct ToolInvocation {
    /// The tool's name (for messages and metrics).
    pub name: String,
    /// The command line, `argv[0]` first.
    pub argv: Vec<String>,
    /// The environment (`EnvVarRequirement` plus `HOME`, `TMPDIR`).
    pub env: Vec<(String, String)>,
    /// File whose content is the standard input.
    pub stdin: Option<PathBuf>,
    /// Name, in the output directory, of the file that receives stdout.
    pub stdout: Option<String>,
    /// Name, in the output directory, of the file that receives stderr.
    pub stderr: Option<String>,
    /// The output directory on the host.
    pub outdir: PathBuf,
    /// The staging folder (inputs as the tool sees them), if the backend stages.
    pub stage_dir: Option<PathBuf>,
    /// The input object as the tool sees it (paths rewritten by staging).
    pub inputs: Map<String, Value>,
    /// The staged input files.
    pub staged: Vec<StagedFile>,
    /// Exit codes that mean success.
    pub success_codes: Vec<i32>,
    /// Limits of the run.
    pub limits: Limits,
    /// The component to run (wasm backend).
    pub component: Option<PathBuf>,
    /// Cancels the run.
    pub cancel: CancellationToken,
}

/// What a backend hands back.
#[derive(Debug)]
pub struct ExecutionResult {
    /// The exit code (one of the success codes).
    pub exit_code: i32,
    /// The input object as the tool saw it, for `outputEval`.
    pub inputs: Map<String, Value>,
    /// The file that received stdout, if any.
    pub stdout_file: Option<PathBuf>,
    /// Log and progress events of a wasm plugin.
    pub events: Vec<RunEvent>,
}

/// Runs tool invocations somewhere.
pub trait Backend: Send + Sync {
    /// The backend's name (`wasm`, `local`, `hpc`).
    fn name(&self) -> &'static str;

    /// Stages the inputs and builds the invocation.
    fn prepare(
        &self,
        tool: &Tool,
        inputs: &Map<String, Value>,
        outdir: &Path,
    ) -> Result<ToolInvocation>;

    /// Runs an invocation to completion.
    fn execute(&self, invocation: ToolInvocation) -> BoxFuture<'_, Result<ExecutionResult>>;
}

/// Common part of `prepare`: environment, stdio names, success codes, command line.
fn invocation(
    tool: &Tool,
    inputs: Map<String, Value>,
    outdir: &Path,
    guest_outdir: &str,
    limits: Limits,
) -> Result<ToolInvocation> {
    let runtime = json!({ "outdir": guest_outdir, "tmpdir": guest_outdir, "cores": 1, "ram": limits.memory_bytes >> 20 });
    let argv = build_command_line(tool, &inputs, &runtime)?;
    let ctx = super::command::Context {
        inputs: &inputs,
        runtime: &runtime,
    };
    let mut env = vec![
        ("HOME".to_string(), guest_outdir.to_string()),
        ("TMPDIR".to_string(), guest_outdir.to_string()),
    ];
    if let Some(req) = tool.requirement("EnvVarRequirement") {
        let defs = req.get("envDef");
        let pairs: Vec<(String, Value)> = match defs {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|d| {
                    Some((
                        d.get("envName")?.as_str()?.to_string(),
                        d.get("envValue")?.clone(),
                    ))
                })
                .collect(),
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        };
        for (name, value) in pairs {
            let value = match value {
                Value::String(s) => super::command::interpolate(
                    &s,
                    &ctx,
                    &Value::Null,
                    &tool.at("/requirements/EnvVarRequirement"),
                )?,
                other => other,
            };
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            env.push((name, text));
        }
    }
    let text_field = |key: &str| -> Result<Option<String>> {
        match tool.doc.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => match super::command::interpolate(
                s,
                &ctx,
                &Value::Null,
                &tool.at(&format!("/{key}")),
            )? {
                Value::String(s) => Ok(Some(s)),
                Value::Object(m) => Ok(m.get("path").and_then(Value::as_str).map(str::to_string)),
                _ => Err(Error::cwl(
                    tool.at(&format!("/{key}")),
                    "must evaluate to a string",
                )),
            },
            Some(_) => Err(Error::cwl(tool.at(&format!("/{key}")), "must be a string")),
        }
    };
    let mut stdout = text_field("stdout")?;
    if stdout.is_none()
        && tool
            .outputs()
            .values()
            .any(|d| d.get("type").and_then(Value::as_str) == Some("stdout"))
    {
        stdout = Some(format!("stdout-{}", random_suffix()));
    }
    let stderr = text_field("stderr")?;
    for name in stdout.iter().chain(stderr.iter()) {
        if name.contains('/') || name == ".." {
            return Err(Error::cwl(
                tool.at("/stdout"),
                format!("{name:?} must be a file name inside the output directory"),
            ));
        }
    }
    let stdin = text_field("stdin")?.map(PathBuf::from);
    let success_codes = match tool.doc.get("successCodes") {
        Some(Value::Array(codes)) => codes
            .iter()
            .filter_map(|c| c.as_i64().map(|c| c as i32))
            .collect(),
        _ => vec![0],
    };
    let name = tool
        .doc
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            tool.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    Ok(ToolInvocation {
        name,
        argv,
        env,
        stdin,
        stdout,
        stderr,
        outdir: outdir.to_path_buf(),
        stage_dir: None,
        inputs,
        staged: Vec::new(),
        success_codes,
        limits,
        component: None,
        cancel: CancellationToken::new(),
    })
}

fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hex::encode(&Sha256::digest(format!("{}-{n}-{t}", std::process::id()))[..6])
}

/// Limits a tool asks for (`ToolTimeLimit`, `ResourceRequirement.ramMax`), within `base`.
fn tool_limits(tool: &Tool, base: &Limits) -> Limits {
    let mut limits = base.clone();
    if let Some(seconds) = tool
        .requirement("ToolTimeLimit")
        .and_then(|r| r.get("timelimit"))
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
    {
        limits.timeout = limits.timeout.min(std::time::Duration::from_secs(seconds));
    }
    if let Some(mib) = tool
        .requirement("ResourceRequirement")
        .and_then(|r| r.get("ramMax").or_else(|| r.get("ramMin")))
        .and_then(Value::as_u64)
    {
        limits.memory_bytes = limits.memory_bytes.min(mib << 20);
    }
    limits
}

/// The sandbox backend.
pub struct WasmBackend {
    engine: Arc<WasmEngine>,
    limits: Limits,
    search_path: Vec<PathBuf>,
    events: Option<tokio::sync::mpsc::UnboundedSender<RunEvent>>,
}

impl WasmBackend {
    /// A backend over `engine` with default limits `limits`, looking up component names in `search_path`.
    pub fn new(engine: Arc<WasmEngine>, limits: Limits, search_path: Vec<PathBuf>) -> Self {
        Self {
            engine,
            limits,
            search_path,
            events: None,
        }
    }

    /// Forwards plugin log and progress events as they happen.
    pub fn with_events(mut self, events: tokio::sync::mpsc::UnboundedSender<RunEvent>) -> Self {
        self.events = Some(events);
        self
    }
}

/// Finds the component a `hysope:WasmRequirement` names: a path relative to the tool,
/// a file name in `search_path`, or `sha256:<hex>` of a component in `search_path`.
/// A `sha256` field in the requirement is checked against the file found.
pub fn resolve_component(tool: &Tool, search_path: &[PathBuf]) -> Result<PathBuf> {
    let at = tool.at("/requirements/hysope:WasmRequirement");
    let req = tool
        .requirement("hysope:WasmRequirement")
        .ok_or_else(|| Error::cwl(&at, "no hysope:WasmRequirement"))?;
    let name = req
        .get("component")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::cwl(&at, "component must be a string"))?;
    let tool_dir = tool
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut dirs = vec![tool_dir.clone()];
    dirs.extend(search_path.iter().cloned());
    let found = if let Some(digest) = name.strip_prefix("sha256:") {
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
    } else if name.contains('/') {
        let path = tool_dir.join(name);
        path.exists().then_some(path)
    } else {
        dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
    };
    let path = found.ok_or_else(|| {
        let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        Error::cwl(
            &at,
            format!(
                "component {name:?} not found (searched {})",
                searched.join(", ")
            ),
        )
    })?;
    if let Some(expected) = req.get("sha256").and_then(Value::as_str) {
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

/// A folder that is removed when dropped.
struct StageDir(PathBuf);

impl Drop for StageDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Links (or copies, across file systems) `from` to `to`, recursively for folders.
fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
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

/// Stages every File and Directory of `value` under `stage`, rewriting its paths to `guest_root`.
fn stage_value(
    value: &mut Value,
    stage: &Path,
    guest_root: &str,
    staged: &mut Vec<StagedFile>,
) -> Result<()> {
    match value {
        Value::Object(map)
            if matches!(
                map.get("class").and_then(Value::as_str),
                Some("File" | "Directory")
            ) =>
        {
            let Some(host) = map.get("path").and_then(Value::as_str).map(PathBuf::from) else {
                return Ok(());
            };
            let basename = host
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "input".into());
            let slot = staged.len().to_string();
            let dir = stage.join(&slot);
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            link_or_copy(&host, &dir.join(&basename)).map_err(|e| Error::io(&host, e))?;
            let guest = format!("{guest_root}/{slot}/{basename}");
            map.insert("path".into(), Value::String(guest.clone()));
            map.insert("location".into(), Value::String(format!("file://{guest}")));
            map.insert("basename".into(), Value::String(basename));
            staged.push(StagedFile { host, guest });
            Ok(())
        }
        Value::Object(map) => map
            .values_mut()
            .try_for_each(|v| stage_value(v, stage, guest_root, staged)),
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|v| stage_value(v, stage, guest_root, staged)),
        _ => Ok(()),
    }
}

impl Backend for WasmBackend {
    fn name(&self) -> &'static str {
        "wasm"
    }

    fn prepare(
        &self,
        tool: &Tool,
        inputs: &Map<String, Value>,
        outdir: &Path,
    ) -> Result<ToolInvocation> {
        let component = resolve_component(tool, &self.search_path)?;
        let stage = std::env::temp_dir().join(format!("hysope-stage-{}", random_suffix()));
        std::fs::create_dir_all(&stage).map_err(|e| Error::io(&stage, e))?;
        let mut inputs = inputs.clone();
        let mut staged = Vec::new();
        for value in inputs.values_mut() {
            if let Err(e) = stage_value(value, &stage, GUEST_INPUT_DIR, &mut staged) {
                let _ = std::fs::remove_dir_all(&stage);
                return Err(e);
            }
        }
        let mut invocation = invocation(
            tool,
            inputs,
            outdir,
            GUEST_OUTPUT_DIR,
            tool_limits(tool, &self.limits),
        )?;
        invocation.stage_dir = Some(stage);
        invocation.staged = staged;
        invocation.component = Some(component);
        Ok(invocation)
    }

    fn execute(&self, invocation: ToolInvocation) -> BoxFuture<'_, Result<ExecutionResult>> {
        Box::pin(async move {
            let _stage = invocation.stage_dir.clone().map(StageDir);
            let component = invocation
                .component
                .clone()
                .ok_or_else(|| Error::Setup("wasm invocation without a component".into()))?;
            let engine = self.engine.clone();
            let plugin = tokio::task::spawn_blocking(move || engine.load_file(&component))
                .await
                .map_err(|e| Error::Setup(format!("loader task failed: {e}")))??;
            let stdin = match &invocation.stdin {
                Some(path) => {
                    let host = invocation
                        .staged
                        .iter()
                        .find(|s| Path::new(&s.guest) == path)
                        .map(|s| s.host.clone())
                        .unwrap_or_else(|| path.clone());
                    std::fs::read(&host).map_err(|e| Error::io(&host, e))?
                }
                None => Vec::new(),
            };
            let mut limits = invocation.limits.clone();
            if invocation.stdout.is_some() {
                limits.stdio_bytes = limits.output_bytes.min(usize::MAX as u64) as usize;
            }
            let request = RunRequest {
                args: invocation.argv.iter().skip(1).cloned().collect(),
                env: invocation.env.clone(),
                stdin,
                input_dir: invocation.stage_dir.clone(),
                output_dir: Some(invocation.outdir.clone()),
                limits,
                cancel: invocation.cancel.clone(),
                events: self.events.clone(),
            };
            let (code, outcome) = match self.engine.run(&plugin, request).await {
                Ok(outcome) => (0, outcome),
                Err(Error::Exit { code, outcome, .. })
                    if invocation.success_codes.contains(&code) =>
                {
                    (code, *outcome)
                }
                Err(e) => return Err(e),
            };
            if !invocation.success_codes.contains(&code) {
                return Err(Error::Exit {
                    plugin: invocation.name.clone(),
                    code,
                    outcome: Box::new(outcome),
                });
            }
            let write = |name: &Option<String>, bytes: &[u8]| -> Result<Option<PathBuf>> {
                let Some(name) = name else { return Ok(None) };
                let path = invocation.outdir.join(name);
                std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
                Ok(Some(path))
            };
            let stdout_file = write(&invocation.stdout, &outcome.stdout)?;
            write(&invocation.stderr, &outcome.stderr)?;
            if invocation.stdout.is_none() && !outcome.stdout.is_empty() {
                tracing::debug!(plugin = %invocation.name, bytes = outcome.stdout.len(), "plugin stdout not captured by the tool");
            }
            Ok(ExecutionResult {
                exit_code: code,
                inputs: invocation.inputs,
                stdout_file,
                events: outcome.events,
            })
        })
    }
}

/// The local-process backend: runs the command in the output directory, with only
/// the tool's environment (plus `PATH`). For trusted tools and the conformance suite.
pub struct LocalBackend {
    limits: Limits,
}

impl LocalBackend {
    /// A local backend with default limits.
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }
}

impl Backend for LocalBackend {
    fn name(&self) -> &'static str {
        "local"
    }

    fn prepare(
        &self,
        tool: &Tool,
        inputs: &Map<String, Value>,
        outdir: &Path,
    ) -> Result<ToolInvocation> {
        let outdir_text = outdir.display().to_string();
        let mut invocation = invocation(
            tool,
            inputs.clone(),
            outdir,
            &outdir_text,
            tool_limits(tool, &self.limits),
        )?;
        if let Ok(path) = std::env::var("PATH") {
            invocation.env.push(("PATH".into(), path));
        }
        Ok(invocation)
    }

    fn execute(&self, invocation: ToolInvocation) -> BoxFuture<'_, Result<ExecutionResult>> {
        Box::pin(async move {
            let program = invocation.argv.first().ok_or_else(|| {
                Error::cwl(
                    &invocation.name,
                    "empty command line (no baseCommand or arguments)",
                )
            })?;
            let mut command = tokio::process::Command::new(program);
            command
                .args(&invocation.argv[1..])
                .current_dir(&invocation.outdir)
                .env_clear()
                .envs(invocation.env.iter().cloned())
                .kill_on_drop(true);
            let open = |name: &str| -> Result<std::fs::File> {
                let path = invocation.outdir.join(name);
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
            let status = tokio::select! {
                status = child.wait() => status.map_err(|e| Error::io(program, e))?,
                _ = tokio::time::sleep(invocation.limits.timeout) => {
                    let _ = child.kill().await;
                    return Err(Error::Timeout { plugin: invocation.name.clone(), limit: invocation.limits.timeout });
                }
                _ = invocation.cancel.cancelled() => {
                    let _ = child.kill().await;
                    return Err(Error::Cancelled { plugin: invocation.name.clone() });
                }
            };
            let code = status.code().unwrap_or(-1);
            if !invocation.success_codes.contains(&code) {
                let outcome = crate::wasm::RunOutcome {
                    exit_code: code,
                    stdout: Default::default(),
                    stderr: Default::default(),
                    stdout_truncated: false,
                    stderr_truncated: false,
                    events: Vec::new(),
                    elapsed: Default::default(),
                    peak_memory: 0,
                };
                return Err(Error::Exit {
                    plugin: invocation.name.clone(),
                    code,
                    outcome: Box::new(outcome),
                });
            }
            let stdout_file = invocation
                .stdout
                .as_ref()
                .map(|n| invocation.outdir.join(n));
            Ok(ExecutionResult {
                exit_code: code,
                inputs: invocation.inputs,
                stdout_file,
                events: Vec::new(),
            })
        })
    }
}
