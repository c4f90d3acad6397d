//! The HPC backend: each CWL step is a Slurm job on the shared disk.
//!
//! - **Step folders.** A step runs in `WORK/RUN/STEP`, `RUN` naming the run (the
//!   server's job id) and `STEP` where the step is in the workflow (`at`, with the
//!   scatter index): the same step of the same run has the same folder after a
//!   restart. It holds `run.sh` (what the step runs), `job` (its Slurm id, written
//!   right after `sbatch`), `outdir` (the output folder it writes to), and the
//!   `exit-code` the job script writes at the end.
//! - **Arrays.** Steps handed to the backend within the batching window, alike in
//!   cores, memory and time limit, are submitted as one job array (chunked at the
//!   cluster's `MaxArraySize`, throttled as configured): `WORK/RUN/arrays/N/I` is
//!   a link to the I-th step's folder.
//! - **One poller.** It reads the steps' `exit-code` files often (a file read, no
//!   Slurm call) and calls `squeue --json` once for all the backend's jobs, often
//!   while steps are settling, less often while they run (up to `poll_max_s`, a
//!   third of `MinJobAge` at most). A step succeeds when its `exit-code` file says
//!   0 and the last state seen is COMPLETED (or the job already left squeue).
//!   TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, CANCELLED are failures with the
//!   state as the reason; a pending reason Slurm can never get past
//!   (`PartitionConfig`...) cancels the job and fails the step with it; a job that
//!   left squeue with no exit-code file fails as lost after the grace period.
//! - **Re-attach.** A step whose folder has a `job` file is not submitted again:
//!   it is watched (or settled from its `exit-code` file), and its outputs are
//!   moved from the output folder it wrote to into the one the runner now gives.
//! - **Dismissal.** A step whose run is dropped or cancelled is `scancel`ed,
//!   unless the backend was [detached](Hpc::detach) (a server shutting down keeps
//!   its Slurm jobs running, to re-attach them when it starts again).
//! - **What a step runs.** A wasm plugin runs `hysope exec-step` inside the
//!   allocation on the step's `invocation.json` (the same sandbox and limits as
//!   the portal, the inputs staged in the step folder); a `DockerRequirement`
//!   runs in its container (see [`crate::docker`]); other tools run as processes
//!   in their output folder with only their environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hysope_engine::cwl::{
    Backend, BoxFuture, ComponentLog, ExecutionResult, StagedFile, Staging, ToolContext,
    ToolInvocation, is_wasm_tool, stage_renamed, stage_wasm,
};
use hysope_engine::wasm::{Limits, RunEvent};
use hysope_engine::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::cluster::{Calls, ClusterLimits, Slurm};
use crate::config::HpcConfig;
use crate::container::{OUTDIR, TMPDIR};
use crate::docker;
use crate::images::ImageCache;
use crate::pool::{Pools, SQUEUE_FIRST, Settled, Shape, TICK_MAX, TICK_MIN};
use crate::script::{Site, WorkerSpec, quote};

/// How a wasm step is run inside the allocation (`hysope exec-step FILE`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WasmStep {
    /// The tool's name.
    pub name: String,
    /// The component file.
    pub component: PathBuf,
    /// The command line (`argv[0]` first).
    pub argv: Vec<String>,
    /// The environment.
    pub env: Vec<(String, String)>,
    /// stdin, as the tool sees it.
    pub stdin: Option<PathBuf>,
    /// The stdout file's name in the output folder.
    pub stdout: Option<String>,
    /// The stderr file's name in the output folder.
    pub stderr: Option<String>,
    /// The output folder.
    pub outdir: PathBuf,
    /// The staged inputs' folder.
    pub input_dir: Option<PathBuf>,
    /// The staged inputs (host, guest).
    pub staged: Vec<(PathBuf, String)>,
    /// Limits: memory in bytes.
    pub memory_bytes: u64,
    /// Limits: the deadline in milliseconds.
    pub timeout_ms: u64,
    /// Limits: the output folder's size.
    pub output_bytes: u64,
    /// Limits: captured stdout and stderr, each.
    pub stdio_bytes: usize,
    /// Limits: open handles.
    pub max_handles: usize,
}

impl WasmStep {
    /// The invocation the wasm backend runs, and its limits.
    pub fn invocation(&self) -> (ToolInvocation, Limits) {
        let limits = Limits {
            memory_bytes: self.memory_bytes,
            timeout: Duration::from_millis(self.timeout_ms),
            output_bytes: self.output_bytes,
            stdio_bytes: self.stdio_bytes,
            max_handles: self.max_handles,
        };
        let invocation = ToolInvocation {
            name: self.name.clone(),
            at: "#".into(),
            cores: 1,
            ram_mib: 1,
            argv: self.argv.clone(),
            env: self.env.clone(),
            stdin: self.stdin.clone(),
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            outdir: self.outdir.clone(),
            staging: Staging {
                outdir: hysope_engine::wasm::GUEST_OUTPUT_DIR.into(),
                tmpdir: hysope_engine::wasm::GUEST_OUTPUT_DIR.into(),
                stage_dir: self.input_dir.clone(),
                staged: self
                    .staged
                    .iter()
                    .map(|(host, guest)| StagedFile {
                        host: host.clone(),
                        guest: guest.clone(),
                    })
                    .collect(),
                component: Some(self.component.clone()),
                ..Staging::default()
            },
            timeout: None,
            cancel: Default::default(),
        };
        (invocation, limits)
    }
}

/// What `hysope exec-step` leaves when the sandbox stopped the plugin (a trap,
/// a limit) rather than the plugin exiting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepError {
    /// `timeout` or `other`.
    pub kind: String,
    /// The engine's message.
    pub message: String,
}

/// How the backend is set up.
#[derive(Debug, Clone)]
pub struct HpcSettings {
    /// The site's configuration.
    pub config: HpcConfig,
    /// The shared work folder (the configuration's, else the caller's choice).
    pub work_dir: PathBuf,
    /// The wasm plugins' limits.
    pub limits: Limits,
    /// Where wasm components are looked up.
    pub plugin_path: Vec<PathBuf>,
    /// A `DockerRequirement` hint is a requirement, and one without a container
    /// runtime fails rather than running the tool as a process (a server's
    /// deployed tools must never run as host processes).
    pub strict_containers: bool,
}

struct Shared {
    work: PathBuf,
    site: Site,
    config: HpcConfig,
    cluster: ClusterLimits,
    slurm: Slurm,
    images: Option<Arc<ImageCache>>,
    limits: Limits,
    plugin_path: Vec<PathBuf>,
    strict: bool,
    hysope: PathBuf,
    pools: std::sync::Mutex<Pools>,
    wake: Notify,
    detached: AtomicBool,
}

/// The HPC backend of a site: one Slurm client, one batcher, one poller, shared
/// by every run ([`Hpc::for_run`]).
#[derive(Clone)]
pub struct Hpc {
    shared: Arc<Shared>,
}

impl Hpc {
    /// Checks that Slurm answers (`scontrol show config`) and starts the batcher
    /// and the poller on the current tokio runtime.
    pub async fn open(settings: HpcSettings) -> std::result::Result<Hpc, String> {
        let slurm = Slurm::default();
        let cluster = slurm
            .limits(settings.config.partition.as_deref())
            .await
            .map_err(|e| format!("Slurm cannot be reached: {e}"))?;
        let images = match settings.config.containers.runtime()? {
            Some(runtime) => {
                let dir = settings
                    .config
                    .containers
                    .image_cache
                    .clone()
                    .unwrap_or_else(|| settings.work_dir.join("images"));
                Some(Arc::new(ImageCache::new(
                    dir,
                    runtime,
                    settings.config.containers.pull.clone(),
                )))
            }
            None => None,
        };
        Self::with_images(settings, images, slurm, cluster)
    }

    /// Like [`Hpc::open`], sharing an image cache with the local container backend.
    pub async fn open_with_images(
        settings: HpcSettings,
        images: Option<Arc<ImageCache>>,
    ) -> std::result::Result<Hpc, String> {
        let slurm = Slurm::default();
        let cluster = slurm
            .limits(settings.config.partition.as_deref())
            .await
            .map_err(|e| format!("Slurm cannot be reached: {e}"))?;
        Self::with_images(settings, images, slurm, cluster)
    }

    fn with_images(
        settings: HpcSettings,
        images: Option<Arc<ImageCache>>,
        slurm: Slurm,
        cluster: ClusterLimits,
    ) -> std::result::Result<Hpc, String> {
        std::fs::create_dir_all(&settings.work_dir)
            .map_err(|e| format!("cannot make {}: {e}", settings.work_dir.display()))?;
        let work = std::fs::canonicalize(&settings.work_dir)
            .map_err(|e| format!("{}: {e}", settings.work_dir.display()))?;
        let hysope = match &settings.config.hysope {
            Some(path) => path.clone(),
            None => {
                std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?
            }
        };
        let shared = Arc::new(Shared {
            work,
            site: settings.config.site(),
            config: settings.config,
            cluster,
            slurm,
            images,
            limits: settings.limits,
            plugin_path: settings.plugin_path,
            strict: settings.strict_containers,
            hysope,
            pools: Default::default(),
            wake: Notify::new(),
            detached: AtomicBool::new(false),
        });
        tokio::spawn(poller(shared.clone()));
        Ok(Hpc { shared })
    }

    /// The backend of one run: `run` names its folder under the work folder (the
    /// same name after a restart re-attaches its steps).
    pub fn for_run(&self, run: &str) -> std::result::Result<HpcRun, String> {
        let name: String = run
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        if name.is_empty() {
            return Err("a run needs a name".into());
        }
        let dir = self.shared.work.join(&name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        Ok(HpcRun {
            shared: self.shared.clone(),
            run: name,
            dir,
            log: None,
            events: None,
            executed: Default::default(),
        })
    }

    /// The Slurm calls made so far.
    pub fn calls(&self) -> Calls {
        self.shared.slurm.calls()
    }

    /// The shared work folder.
    pub fn work_dir(&self) -> &Path {
        &self.shared.work
    }

    /// The image cache, if a container runtime is configured.
    pub fn images(&self) -> Option<&Arc<ImageCache>> {
        self.shared.images.as_ref()
    }

    /// From now on, steps whose runs are dropped keep running in Slurm (a server
    /// shutting down re-attaches them when it starts again).
    pub fn detach(&self) {
        self.shared.detached.store(true, Ordering::SeqCst);
    }
}

/// The HPC backend of one run.
pub struct HpcRun {
    shared: Arc<Shared>,
    run: String,
    dir: PathBuf,
    log: Option<ComponentLog>,
    events: Option<mpsc::UnboundedSender<RunEvent>>,
    /// How many times this process executed each step: a step folder is
    /// re-attached only when an earlier process submitted it; the same step
    /// executed again here (a caller running a tool twice) gets a folder of its own.
    executed: std::sync::Mutex<HashMap<String, u32>>,
}

impl HpcRun {
    /// Notes in `log` each wasm component this run's steps ran (provenance).
    pub fn with_log(mut self, log: ComponentLog) -> Self {
        self.log = Some(log);
        self
    }

    /// Forwards the wasm steps' log and progress events (when each step ends).
    pub fn with_events(mut self, events: mpsc::UnboundedSender<RunEvent>) -> Self {
        self.events = Some(events);
        self
    }

    /// The run's folder under the work folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder of the step at `at`: stable for a run.
    fn step_dir(&self, at: &str) -> PathBuf {
        let slug: String = at
            .chars()
            .filter_map(|c| match c {
                c if c.is_ascii_alphanumeric() => Some(c),
                '/' | '[' | '.' | '-' | '_' => Some('-'),
                _ => None,
            })
            .collect::<String>()
            .trim_matches('-')
            .chars()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let hash = hex::encode(&Sha256::digest(at.as_bytes())[..6]);
        let slug = if slug.is_empty() { "tool".into() } else { slug };
        self.dir.join(format!("{slug}-{hash}"))
    }
}

fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Moves what `from` holds into `to` (a re-attached step wrote its outputs in
/// the output folder of the run before the restart).
fn move_entries(from: &Path, to: &Path) -> Result<()> {
    if from == to || !from.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let target = to.join(entry.file_name());
        if target.is_dir() {
            let _ = std::fs::remove_dir_all(&target);
        }
        std::fs::rename(entry.path(), &target).map_err(|e| Error::io(&target, e))?;
    }
    Ok(())
}

/// The last bytes of the job's own output (the tool's stderr when it named none).
fn tail(path: &Path, max: usize) -> bytes::Bytes {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    bytes::Bytes::copy_from_slice(&text[start..])
}

impl Backend for HpcRun {
    fn name(&self) -> &'static str {
        "hpc"
    }

    /// Every tool: wasm plugins run in their sandbox inside the allocation.
    fn accepts(&self, _requirements: &[Value], _hints: &[Value]) -> bool {
        true
    }

    fn remote(&self) -> bool {
        true
    }

    fn stage(
        &self,
        tool: &ToolContext<'_>,
        inputs: &mut Map<String, Value>,
        outdir: &Path,
    ) -> Result<Staging> {
        let step = self.step_dir(tool.at);
        std::fs::create_dir_all(&step).map_err(|e| Error::io(&step, e))?;
        if is_wasm_tool(tool.requirements, tool.hints) {
            return stage_wasm(tool, &self.shared.plugin_path, inputs, step.join("in"));
        }
        let tmp = step.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let renamed = step.join("renamed");
        for value in inputs.values_mut() {
            stage_renamed(value, &renamed)?;
        }
        let strict = self.shared.strict;
        let image = match (docker::docker_image(tool)?, &self.shared.images) {
            (Some((image, _)), None) if strict => {
                return Err(Error::cwl(
                    format!("{}/DockerRequirement", tool.at),
                    format!("image {image}: no container runtime is configured"),
                ));
            }
            (Some((image, true)), None) => {
                // Without a runtime the tool runs as a process, as the local
                // backend runs it: said, not hidden.
                tracing::warn!(
                    at = tool.at,
                    image,
                    "no container runtime configured: the DockerRequirement's tool runs as a process"
                );
                None
            }
            (Some((image, required)), Some(_)) if required || strict => Some(image),
            (Some((image, false)), Some(images))
                if images.can_pull() || matches!(images.find(&image), Ok(Some(_))) =>
            {
                Some(image)
            }
            _ => None,
        };
        match image {
            Some(image) => Ok(Staging {
                outdir: OUTDIR.into(),
                tmpdir: TMPDIR.into(),
                stage_dir: Some(tmp),
                staged: docker::input_binds(inputs)?,
                image: Some(PathBuf::from(image)),
                network: docker::network(tool),
                ..Staging::default()
            }),
            None => Ok(Staging {
                outdir: outdir.display().to_string(),
                tmpdir: tmp.display().to_string(),
                stage_dir: Some(tmp),
                ..Staging::default()
            }),
        }
    }

    fn execute(&self, invocation: ToolInvocation) -> BoxFuture<'_, Result<ExecutionResult>> {
        Box::pin(async move {
            let step = {
                let mut executed = self.executed.lock().unwrap_or_else(|e| e.into_inner());
                let n = executed.entry(invocation.at.clone()).or_insert(0);
                *n += 1;
                match *n {
                    1 => self.step_dir(&invocation.at),
                    n => self.step_dir(&format!("{}#{n}", invocation.at)),
                }
            };
            std::fs::create_dir_all(&step).map_err(|e| Error::io(&step, e))?;
            let wasm = invocation.staging.component.is_some();
            if let (Some(log), Some(component)) = (&self.log, &invocation.staging.component) {
                let bytes = std::fs::read(component).map_err(|e| Error::io(component, e))?;
                let entry = (
                    invocation
                        .staging
                        .component_name
                        .clone()
                        .unwrap_or_else(|| invocation.name.clone()),
                    hex::encode(Sha256::digest(&bytes)),
                );
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                if !log.contains(&entry) {
                    log.push(entry);
                }
            }
            let shape = self.shape(&invocation);
            let adopted = {
                let mut pools = self.shared.lock();
                pools
                    .adopt(&self.run, &self.dir, &step, shape)
                    .map_err(|e| Error::io(&step, e))?
            };
            let (mut settled, previous_outdir) = match adopted {
                // Queued or submitted before a restart: watched again, never
                // submitted twice.
                Some(settled) => {
                    tracing::info!(at = %invocation.at, step = %step.display(), "re-attached to a step of an earlier process");
                    let previous = std::fs::read_to_string(step.join("outdir"))
                        .ok()
                        .map(PathBuf::from);
                    (settled, previous)
                }
                None => {
                    self.write_step(&step, &invocation).await?;
                    (self.enqueue(&step, shape)?, None)
                }
            };
            self.shared.wake.notify_one();
            let mut retried = false;
            let code = loop {
                let mut guard = CancelOnDrop {
                    shared: &self.shared,
                    step: Some(step.clone()),
                };
                let outcome = tokio::select! {
                    outcome = &mut settled => outcome.map_err(|_| Error::Setup("the HPC backend has stopped".into()))?,
                    _ = invocation.cancel.cancelled() => {
                        return Err(Error::Cancelled { plugin: invocation.name.clone() });
                    }
                };
                guard.step = None;
                match outcome {
                    Settled::Exit(code) => break code,
                    // A step that its node failed (not its tool) runs again, once.
                    Settled::Failed {
                        job,
                        reason,
                        transient: true,
                    } if !retried => {
                        tracing::warn!(job = ?job.map(|j| j.text()), reason, at = %invocation.at, "step failed by its node: queued again");
                        retried = true;
                        self.write_step(&step, &invocation).await?;
                        settled = self.enqueue(&step, shape)?;
                        self.shared.wake.notify_one();
                    }
                    Settled::Failed { job, reason, .. } => {
                        return Err(Error::Batch {
                            tool: invocation.name.clone(),
                            job: job
                                .map(|j| j.text())
                                .unwrap_or_else(|| "(not submitted)".into()),
                            reason,
                        });
                    }
                }
            };
            if let Some(previous) = previous_outdir {
                move_entries(&previous, &invocation.outdir)?;
            }
            let mut events = Vec::new();
            if wasm {
                if let Ok(text) = std::fs::read_to_string(step.join("events.jsonl")) {
                    for line in text.lines() {
                        if let Ok(event) = serde_json::from_str::<RunEvent>(line) {
                            if let Some(sender) = &self.events {
                                let _ = sender.send(event.clone());
                            }
                            events.push(event);
                        }
                    }
                }
                if let Ok(text) = std::fs::read_to_string(step.join("error.json")) {
                    let error: StepError = serde_json::from_str(&text).map_err(|e| {
                        Error::Setup(format!("{}: {e}", step.join("error.json").display()))
                    })?;
                    return Err(match error.kind.as_str() {
                        "timeout" => Error::Timeout {
                            plugin: invocation.name.clone(),
                            limit: self.shared.limits.timeout,
                        },
                        "cancelled" => Error::Cancelled {
                            plugin: invocation.name.clone(),
                        },
                        _ => Error::Batch {
                            tool: invocation.name.clone(),
                            job: std::fs::read_to_string(step.join("job"))
                                .unwrap_or_default()
                                .trim()
                                .to_string(),
                            reason: error.message,
                        },
                    });
                }
            } else if code == 124
                && let Some(limit) = invocation.timeout
            {
                // The exact `timeout` inside the script ended the tool.
                return Err(Error::Timeout {
                    plugin: invocation.name.clone(),
                    limit,
                });
            }
            let stderr = match code {
                0 => bytes::Bytes::new(),
                _ => tail(&step.join("slurm.out"), 4096),
            };
            Ok(ExecutionResult {
                exit_code: code,
                events,
                stderr,
            })
        })
    }

    fn unstage(&self, outputs: &mut Value, outdir: &Path) {
        docker::unstage_outputs(outputs, outdir);
    }
}

/// Takes a step back if its run stops waiting for it (a dismissal): out of its
/// pool's queue, or its Slurm job cancelled, unless the backend is detached.
struct CancelOnDrop<'a> {
    shared: &'a Arc<Shared>,
    step: Option<PathBuf>,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        let Some(step) = self.step.take() else { return };
        if self.shared.detached.load(Ordering::SeqCst) {
            return;
        }
        let keys = self.shared.lock().forget(&step);
        if keys.is_empty() {
            return;
        }
        let shared = self.shared.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if let Err(e) = shared.slurm.cancel(&keys).await {
                        tracing::warn!(error = %e, "scancel failed");
                    }
                });
            }
            Err(_) => {
                let _ = std::process::Command::new("scancel")
                    .args(keys.iter().map(|k| k.text()))
                    .status();
            }
        }
    }
}

impl HpcRun {
    /// What the step asks of Slurm: its pool.
    fn shape(&self, invocation: &ToolInvocation) -> Shape {
        let wasm = invocation.staging.component.is_some();
        let limit = invocation
            .timeout
            .map(|t| t.min(self.shared.limits.timeout));
        let limit = match wasm {
            // The sandbox's deadline, and the compile before it.
            true => Some(limit.unwrap_or(self.shared.limits.timeout)),
            false => limit,
        };
        let mem_mib = match wasm {
            true => invocation
                .ram_mib
                .max((self.shared.limits.memory_bytes >> 20) + 256),
            false => invocation.ram_mib,
        };
        Shape {
            cores: invocation.cores.max(1),
            mem_mib: mem_mib.max(1),
            limit,
        }
    }

    /// Queues a written step in its pool.
    fn enqueue(&self, step: &Path, shape: Shape) -> Result<oneshot::Receiver<Settled>> {
        for stale in ["job", "queued"] {
            let _ = std::fs::remove_file(step.join(stale));
        }
        self.shared
            .lock()
            .enqueue(&self.run, &self.dir, step, shape)
            .map_err(|e| Error::io(step, e))
    }

    /// Writes the step's `run.sh` (and `invocation.json` for a wasm step) and
    /// `outdir`, and clears what a failed attempt left.
    async fn write_step(&self, step: &Path, invocation: &ToolInvocation) -> Result<()> {
        for stale in ["exit-code", "events.jsonl", "error.json", "slurm.out"] {
            let _ = std::fs::remove_file(step.join(stale));
        }
        write_atomic(
            &step.join("outdir"),
            &invocation.outdir.display().to_string(),
        )?;
        let redirect = |invocation: &ToolInvocation, stdin: Option<PathBuf>| -> String {
            let mut out = String::new();
            if let Some(stdin) = stdin {
                out.push_str(&format!(" < {}", quote(&stdin.display().to_string())));
            }
            for (sign, name) in [(">", &invocation.stdout), ("2>", &invocation.stderr)] {
                if let Some(name) = name {
                    let path = invocation.outdir.join(name);
                    out.push_str(&format!(" {sign} {}", quote(&path.display().to_string())));
                }
            }
            out
        };
        let quoted = |argv: &[String]| -> String {
            argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
        };
        let run = if invocation.staging.component.is_some() {
            let limits = &self.shared.limits;
            let timeout = invocation
                .timeout
                .map(|t| t.min(limits.timeout))
                .unwrap_or(limits.timeout);
            let spec = WasmStep {
                name: invocation.name.clone(),
                component: invocation.staging.component.clone().unwrap_or_default(),
                argv: invocation.argv.clone(),
                env: invocation.env.clone(),
                stdin: invocation.stdin.clone(),
                stdout: invocation.stdout.clone(),
                stderr: invocation.stderr.clone(),
                outdir: invocation.outdir.clone(),
                input_dir: invocation.staging.stage_dir.clone(),
                staged: invocation
                    .staging
                    .staged
                    .iter()
                    .map(|s| (s.host.clone(), s.guest.clone()))
                    .collect(),
                memory_bytes: limits.memory_bytes,
                timeout_ms: timeout.as_millis() as u64,
                output_bytes: limits.output_bytes,
                stdio_bytes: limits.stdio_bytes,
                max_handles: limits.max_handles,
            };
            let text = serde_json::to_string_pretty(&spec)
                .map_err(|e| Error::Internal(format!("step invocation: {e}")))?;
            write_atomic(&step.join("invocation.json"), &text)?;
            format!(
                "exec {} exec-step ./invocation.json\n",
                quote(&self.shared.hysope.display().to_string())
            )
        } else if let Some(image) = &invocation.staging.image {
            let images = self.shared.images.as_ref().ok_or_else(|| {
                Error::Setup("a container step without a container runtime".into())
            })?;
            let image = images
                .resolve(&image.display().to_string())
                .await
                .map_err(|e| Error::cwl(format!("{}/DockerRequirement", invocation.at), e))?;
            // The temporary folder the staging made.
            let tmp = invocation
                .staging
                .stage_dir
                .clone()
                .unwrap_or_else(|| step.join("tmp"));
            std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
            let argv = docker::container_command(images.runtime(), image, invocation, &tmp)?;
            let stdin = invocation
                .stdin
                .as_ref()
                .map(|p| docker::host_path(p, &invocation.outdir));
            format!(
                "cd {} || exit 96\nexec {}{}\n",
                quote(&invocation.outdir.display().to_string()),
                quoted(&argv),
                redirect(invocation, stdin)
            )
        } else {
            if invocation.argv.is_empty() {
                return Err(Error::cwl(
                    &invocation.name,
                    "empty command line (no baseCommand or arguments)",
                ));
            }
            let mut env = invocation.env.clone();
            if !env.iter().any(|(k, _)| k == "PATH")
                && let Ok(path) = std::env::var("PATH")
            {
                env.push(("PATH".into(), path));
            }
            for (k, _) in &env {
                if k.is_empty() || k.contains('=') {
                    return Err(Error::cwl(
                        &invocation.at,
                        format!("environment variable name {k:?}"),
                    ));
                }
            }
            let assignments: Vec<String> = env
                .iter()
                .map(|(k, v)| quote(&format!("{k}={v}")))
                .collect();
            format!(
                "exec env -i {} /bin/sh -c 'cd \"$1\" || exit 96; shift; exec \"$@\"' hysope-step {} {}{}\n",
                assignments.join(" "),
                quote(&invocation.outdir.display().to_string()),
                quoted(&invocation.argv),
                redirect(invocation, invocation.stdin.clone())
            )
        };
        write_atomic(&step.join("run.sh"), &format!("#!/bin/sh\n{run}"))
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pools> {
        self.pools.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The largest array: the configuration's, below the cluster's MaxArraySize.
    fn max_array(&self) -> u32 {
        let cluster = self.cluster.max_array_size.saturating_sub(1).max(1);
        self.config
            .max_array_size
            .map(|m| m.min(cluster))
            .unwrap_or(cluster)
    }

    /// Submits an array of workers; its id.
    async fn submit(&self, spec: &WorkerSpec) -> std::result::Result<u64, String> {
        let text = spec.render(&self.site)?;
        let script = spec
            .pool
            .join(format!("workers-{}.sh", self.slurm.calls().sbatch));
        std::fs::write(&script, text)
            .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
        let id = self.slurm.submit(&script).await?;
        tracing::info!(job = id, workers = spec.workers, pool = %spec.pool.display(), "workers submitted to Slurm");
        Ok(id)
    }
}

/// Watches every step until it settles, and gives pools their workers.
async fn poller(shared: Arc<Shared>) {
    let cap = Duration::from_secs(shared.config.poll_max_s.unwrap_or(30))
        .min(shared.cluster.min_job_age / 3)
        .max(SQUEUE_FIRST);
    let grace = shared.config.lost_grace();
    let window = shared.config.batch_window();
    let linger = Duration::from_secs(shared.config.worker_linger_s.unwrap_or(5));
    let mut tick = TICK_MIN;
    let mut every = SQUEUE_FIRST;
    let mut last_squeue = Instant::now();
    loop {
        if shared.lock().idle() {
            shared.wake.notified().await;
            tick = TICK_MIN;
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shared.wake.notified() => { tick = TICK_MIN; }
        }
        let (mut settled, submits) = {
            let mut pools = shared.lock();
            let settled = pools.review_files();
            let submits = pools.workers_wanted(
                window,
                shared.cluster.cpus,
                shared.config.max_workers,
                shared.config.array_throttle,
                linger,
                shared.max_array(),
            );
            (settled, submits)
        };
        for submit in submits {
            let result = shared
                .submit(&submit.spec)
                .await
                .map(|id| (id, submit.spec.workers));
            settled |= shared.lock().submitted(&submit.pool, result);
            // The workers start soon: look sooner.
            every = SQUEUE_FIRST;
            last_squeue = Instant::now();
        }
        let in_slurm = shared.lock().in_slurm();
        if in_slurm && last_squeue.elapsed() >= every {
            last_squeue = Instant::now();
            match shared.slurm.queue().await {
                Ok(jobs) => {
                    let (cancel, refused, from_queue) = shared.lock().review_queue(&jobs, grace);
                    settled |= from_queue;
                    // Cancelled before their steps fail: a caller that ends with
                    // them (a command-line run) leaves no job pending forever.
                    if !cancel.is_empty()
                        && let Err(e) = shared.slurm.cancel(&cancel).await
                    {
                        tracing::warn!(error = %e, "scancel failed");
                    }
                    let mut pools = shared.lock();
                    for (pool, reason) in &refused {
                        pools.refuse(pool, reason);
                        settled = true;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "squeue failed; trying again"),
            }
            every = (every * 3 / 2).min(cap);
        }
        let fastest = shared.lock().tick_min();
        tick = match settled {
            true => fastest,
            false => (tick * 3 / 2).clamp(fastest, TICK_MAX),
        };
    }
}
