//! The job system of a server: what the HTTP handlers and the workers share (the
//! processes, the job store and queue, the engine, the result store, the
//! catalogue that receives result items, and the bookkeeping of running jobs).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use hysope_catalog::CatalogStore;
use hysope_engine::Engine;
use tokio_util::sync::CancellationToken;

use crate::deployments::Deployments;
use crate::metrics::Metrics;
use crate::processes::{Process, Registry};
use crate::results::Results;
use crate::{Error, Job, JobFilter, JobPage, JobQueue, JobStore, Result, Status, worker};

/// What [`RunBackends::for_job`] gives a job.
pub struct JobBackends {
    /// Asked before the engine's own backends.
    pub backends: Vec<Arc<dyn hysope_engine::cwl::Backend>>,
    /// The runner's scratch folder when it must be elsewhere than the data folder
    /// (on a disk compute nodes share).
    pub scratch: Option<PathBuf>,
}

/// Backends a job's runner is given before the engine's own (an HPC site, a
/// container runtime), chosen per job so that a batch backend can name the job's
/// folder after it (and re-attach a job's batch jobs when it runs again after a
/// restart).
pub trait RunBackends: Send + Sync {
    /// The backends of job `id`, noting the wasm components they run in `log` and
    /// forwarding plugin events to `events`; and the runner's scratch folder when
    /// it must be elsewhere than the data folder (on a disk compute nodes share).
    fn for_job(
        &self,
        id: &str,
        log: hysope_engine::cwl::ComponentLog,
        events: tokio::sync::mpsc::UnboundedSender<hysope_engine::wasm::RunEvent>,
    ) -> std::result::Result<JobBackends, String>;

    /// Job `id` has ended: what the backends kept for it can go.
    fn finished(&self, _id: &str) {}

    /// Whether a tool's container image can run here (deploys check it): an
    /// error says why not.
    fn check_image(&self, image: &str) -> std::result::Result<(), String> {
        Err(format!(
            "image {image}: this server runs no container (start it with --container-runtime and --image-cache)"
        ))
    }
}

/// What a [`Jobs`] is made of.
pub struct JobsParts {
    /// The processes that jobs run.
    pub registry: Registry,
    /// Where jobs are kept.
    pub store: Arc<dyn JobStore>,
    /// How accepted jobs reach a worker.
    pub queue: Arc<dyn JobQueue>,
    /// Where result items go.
    pub catalog: Arc<dyn CatalogStore>,
    /// The engine jobs run on.
    pub engine: Engine,
    /// The data folder, resolved (its `scratch` folder exists).
    pub data_dir: PathBuf,
    /// Where result files go.
    pub results: Results,
    /// Folders input hrefs may point into.
    pub input_roots: Vec<PathBuf>,
    /// Jobs whose tools run at the same time.
    pub workers: usize,
    /// What the server may reach for its users (inputs by URL, callbacks).
    pub egress: crate::egress::EgressPolicy,
    /// Jobs waiting for a worker, at most: an execution beyond is refused as busy
    /// (the client comes back later) rather than queued without end.
    pub max_waiting: usize,
    /// The time a whole job may run (fetching its inputs, all its steps).
    pub job_time_limit: std::time::Duration,
    /// Backends before the engine's own (`None`: the engine's only).
    pub backends: Option<Arc<dyn RunBackends>>,
    /// How long a worker holds a running job of a shared store without renewing
    /// (see [`DEFAULT_LEASE`]).
    pub lease: std::time::Duration,
    /// Where deployed processes are kept (the registry holds those already
    /// loaded).
    pub deployments: Arc<dyn Deployments>,
}

/// A worker's lease on a running job by default: renewed every 2 s, so a worker
/// that stops is noticed 30 s later.
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// The job system: everything jobs need, shared by the handlers and the workers.
pub struct Jobs {
    /// Deployed processes.
    pub(crate) registry: RwLock<Registry>,
    /// Jobs.
    pub(crate) store: Arc<dyn JobStore>,
    /// Ids of jobs waiting to run.
    pub(crate) queue: Arc<dyn JobQueue>,
    /// Metrics.
    pub(crate) metrics: Metrics,
    /// The engine shared by all jobs: runners come from it.
    pub(crate) engine: Engine,
    /// Data folder.
    pub(crate) data_dir: PathBuf,
    /// The result store.
    pub(crate) results: Results,
    /// Folders input hrefs may point into.
    pub(crate) input_roots: Vec<PathBuf>,
    /// Slots of running tools, shared by workers and synchronous executions (a job
    /// holds one while its tools run).
    pub(crate) slots: tokio::sync::Semaphore,
    /// How many slots there are.
    pub(crate) slot_count: usize,
    /// Serialise read-modify-write of job records: one lock per stripe of job ids,
    /// so that changes to different jobs go to the store (and share its commits)
    /// together.
    pub(crate) write_locks: Vec<tokio::sync::Mutex<()>>,
    /// Cancellation of running jobs, by id.
    pub(crate) running: Mutex<HashMap<String, CancellationToken>>,
    /// The catalogue has the `results` collection (checked once, again after an item
    /// found it missing: a user may delete it).
    pub(crate) results_ready: AtomicBool,
    /// Synchronous jobs running but not in the store yet (see
    /// [`run_sync`](crate::worker::run_sync)).
    pub(crate) quiet: Mutex<HashMap<String, Job>>,
    /// The catalogue (result items, the items jobs read).
    pub(crate) catalog: Arc<dyn CatalogStore>,
    /// What the server may reach for its users.
    pub(crate) egress: Arc<crate::egress::Egress>,
    /// Jobs waiting for a worker (queued, or synchronous ones waiting for a slot),
    /// at most.
    pub(crate) max_waiting: usize,
    /// Synchronous executions waiting for a slot.
    pub(crate) sync_waiting: std::sync::atomic::AtomicUsize,
    /// The time a whole job may run.
    pub(crate) job_time_limit: std::time::Duration,
    /// Backends before the engine's own.
    pub(crate) backends: Option<Arc<dyn RunBackends>>,
    /// A worker's lease on a running job (shared stores).
    pub(crate) lease: std::time::Duration,
    /// Where deployed processes are kept.
    pub(crate) deployments: Arc<dyn Deployments>,
    /// The deployments' last change this server has applied (shared stores).
    pub(crate) deployments_mark: std::sync::atomic::AtomicU64,
    /// Worker loops started, and those still running (a loop that ended is a
    /// fault of readiness).
    pub(crate) worker_loops: (AtomicUsize, AtomicUsize),
}

/// One check of readiness: its name and, when it fails, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `store`, `catalog`, `queue` or `workers`.
    pub name: &'static str,
    /// Why it fails; `None` when it passes.
    pub fault: Option<String>,
}

/// The largest result file a response carries inline (`transmissionMode: value`,
/// `response: raw`); larger ones are served by reference, streamed.
pub const MAX_INLINE_RESULT: u64 = 64 << 20;

impl Jobs {
    /// The job system over its parts; its metrics start from the store's counts.
    pub fn new(parts: JobsParts) -> anyhow::Result<Self> {
        let metrics = Metrics::new()?;
        for (process, status, n) in parts.store.count()? {
            metrics
                .jobs
                .with_label_values(&[&process, status.as_str()])
                .set(n as i64);
        }
        Ok(Self {
            registry: RwLock::new(parts.registry),
            store: parts.store,
            queue: parts.queue,
            metrics,
            engine: parts.engine,
            data_dir: parts.data_dir,
            results: parts.results,
            input_roots: parts.input_roots,
            slots: tokio::sync::Semaphore::new(parts.workers.max(1)),
            slot_count: parts.workers.max(1),
            write_locks: (0..256).map(|_| tokio::sync::Mutex::new(())).collect(),
            running: Mutex::new(HashMap::new()),
            results_ready: AtomicBool::new(false),
            quiet: Mutex::new(HashMap::new()),
            catalog: parts.catalog,
            egress: Arc::new(crate::egress::Egress::new(parts.egress).map_err(anyhow::Error::msg)?),
            max_waiting: parts.max_waiting.max(1),
            sync_waiting: std::sync::atomic::AtomicUsize::new(0),
            job_time_limit: parts.job_time_limit,
            backends: parts.backends,
            lease: parts.lease.max(std::time::Duration::from_millis(300)),
            deployments: parts.deployments,
            deployments_mark: std::sync::atomic::AtomicU64::new(0),
            worker_loops: (AtomicUsize::new(0), AtomicUsize::new(0)),
        })
    }

    /// The deployed processes (read; a deploy waits while the guard lives).
    pub fn processes(&self) -> RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The process `id`. On a shared store, one this server does not know yet
    /// is looked for in the deployments (deployed through another gateway).
    pub fn process(&self, id: &str) -> Result<Arc<Process>> {
        if let Some(process) = self.processes().get(id).cloned() {
            return Ok(process);
        }
        if self.deployments.shared()
            && let Some(process) = self.reload(id)?
        {
            return Ok(process);
        }
        Err(Error::NoSuchProcess(id.to_string()))
    }

    /// Where deployed processes are kept.
    pub fn deployments(&self) -> &Arc<dyn Deployments> {
        &self.deployments
    }

    /// The folder of deployed documents and their components (`HEX.wasm`, where
    /// the sandbox finds them).
    pub fn deployed_dir(&self) -> PathBuf {
        crate::deployments::dir(&self.data_dir)
    }

    /// Loads the deployed process `id` again from the deployments (installed,
    /// its components put where the sandbox finds them), or takes it away when
    /// it is no longer deployed. A built-in process of that id is left alone.
    pub fn reload(&self, id: &str) -> Result<Option<Arc<Process>>> {
        if self.processes().get(id).is_some_and(|p| p.builtin) {
            return Ok(None);
        }
        let Some(deployment) = self.deployments.get(id)? else {
            self.uninstall(id);
            return Ok(None);
        };
        self.install_deployed(&deployment)
            .map_err(|e| Error::Database(format!("deployed process {id}: {e:#}")))?;
        Ok(self.processes().get(id).cloned())
    }

    /// Installs the process `deployment` is, its components put where the
    /// sandbox finds them; false when a built-in process has its id (left alone).
    fn install_deployed(
        &self,
        deployment: &crate::deployments::Deployment,
    ) -> anyhow::Result<bool> {
        if self
            .processes()
            .get(&deployment.id)
            .is_some_and(|p| p.builtin)
        {
            return Ok(false);
        }
        let process = self.deployed(deployment)?;
        self.install(process);
        Ok(true)
    }

    /// The process `deployment` is, its components put where the sandbox finds
    /// them.
    fn deployed(&self, deployment: &crate::deployments::Deployment) -> anyhow::Result<Process> {
        let dir = self.deployed_dir();
        let process = deployment.process(dir.join(format!("{}.cwl", deployment.id)))?;
        for hex in &process.pins {
            crate::deployments::materialise(self.deployments.as_ref(), hex, &dir)?;
        }
        Ok(process)
    }

    /// Loads every deployed process (at start; one that cannot be loaded is
    /// logged and left out). Returns how many were loaded.
    pub fn load_deployments(&self) -> Result<usize> {
        use std::sync::atomic::Ordering;
        // The mark first: what changes while the rest loads is applied again
        // by the next sync.
        let (mark, _) = self.deployments.changes(0)?;
        let mut loaded = 0;
        for deployment in self.deployments.all()? {
            let id = &deployment.id;
            match self.install_deployed(&deployment) {
                Ok(true) => loaded += 1,
                Ok(false) => {
                    tracing::warn!(id = %id, "a deployed process has the id of a built-in one; not registered")
                }
                Err(e) => {
                    tracing::error!(process_id = %id, error = format!("{e:#}"), "deployed process not loaded")
                }
            }
        }
        self.deployments_mark.fetch_max(mark, Ordering::AcqRel);
        Ok(loaded)
    }

    /// Applies the deployments' changes since the last call (shared stores):
    /// processes deployed, replaced or undeployed through other gateways.
    /// Returns the ids looked at.
    pub fn sync_deployments(&self) -> Result<Vec<String>> {
        use std::sync::atomic::Ordering;
        let mark = self.deployments_mark.load(Ordering::Acquire);
        let (next, ids) = self.deployments.changes(mark)?;
        for id in &ids {
            if let Err(e) = self.reload(id) {
                // Tried again at its next change or miss; the others go on.
                tracing::error!(process_id = %id, error = %e, "deployed process not loaded");
            }
        }
        self.deployments_mark.fetch_max(next, Ordering::AcqRel);
        Ok(ids)
    }

    /// Adds `process` (deployed or replaced), or puts it in the place of the one
    /// with its id.
    pub fn install(&self, process: Process) {
        self.registry
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(process);
    }

    /// Takes the process `id` away (undeployed); its jobs stay.
    pub fn uninstall(&self, id: &str) -> Option<Arc<Process>> {
        self.registry
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
    }

    /// The job `id` as stored.
    pub fn status(&self, id: &str) -> Result<Job> {
        self.store
            .get(id)?
            .ok_or_else(|| Error::NoSuchJob(id.to_string()))
    }

    /// A page of the jobs `filter` selects, newest first.
    pub fn list(&self, filter: &JobFilter, offset: usize, limit: usize) -> Result<JobPage> {
        self.store.list(filter, offset, limit)
    }

    /// The bytes of the result file `path` (relative to the job's results, one or
    /// more `/`-separated names) of `job` (as read from the store), which must be
    /// successful.
    pub async fn result_file(&self, job: &Job, path: &str) -> Result<Vec<u8>> {
        self.open_result(job, path)
            .await?
            .read_at_most(MAX_INLINE_RESULT)
            .await
            .map_err(|e| Error::Results(format!("result {path}: {e}")))
    }

    /// A file among the results of `job` (as read from the store), which must be
    /// successful, to stream.
    pub async fn open_result(&self, job: &Job, path: &str) -> Result<crate::results::ResultFile> {
        if job.status != Status::Successful {
            return Err(Error::ResultNotReady {
                id: job.id.clone(),
                status: job.status,
            });
        }
        let missing = || Error::NoSuchResult {
            id: job.id.clone(),
            path: path.to_string(),
        };
        if path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(missing());
        }
        self.results
            .open_file(&job.id, job.attempts, path)
            .await
            .map_err(|e| Error::Results(format!("{e:#}")))?
            .ok_or_else(missing)
    }

    /// Dismisses the job `id`: marked dismissed (durably), cancelled if it runs,
    /// its result files removed. A dismissed job is returned as it is.
    pub async fn dismiss(&self, id: &str) -> Result<Job> {
        let job = worker::update(self, id, true, |job| {
            if job.status == Status::Dismissed {
                return false;
            }
            job.status = Status::Dismissed;
            job.message = "dismissed by a user".into();
            job.finished.get_or_insert_with(crate::now_ms);
            true
        })
        .await
        .map_err(|e| match e.downcast::<Error>() {
            Ok(e) => e,
            Err(e) => Error::Results(format!("{e:#}")),
        })?
        .ok_or_else(|| Error::NoSuchJob(id.to_string()))?;
        if let Some(token) = self.running.lock().expect("running lock").get(id) {
            token.cancel();
        }
        if let Err(e) = self.results.remove(id).await {
            tracing::warn!(job_id = %id, error = format!("{e:#}"), "results of a dismissed job not removed");
        }
        Ok(job)
    }

    /// Cancels the jobs of `process_ids` still waiting for a worker, each marked
    /// dismissed (durably) with `reason` as its message; jobs under way go on.
    /// Returns the ids of the jobs cancelled.
    pub async fn cancel_waiting(
        &self,
        process_ids: &[String],
        reason: &str,
    ) -> Result<Vec<String>> {
        if process_ids.is_empty() {
            return Ok(Vec::new());
        }
        let filter = JobFilter {
            process_ids: process_ids.to_vec(),
            statuses: vec![Status::Accepted],
            ..JobFilter::default()
        };
        let waiting = self.store.list(&filter, 0, usize::MAX)?.jobs;
        let mut cancelled = Vec::new();
        for job in waiting {
            let changed = worker::update(self, &job.id, true, |job| {
                if job.status != Status::Accepted {
                    return false;
                }
                job.status = Status::Dismissed;
                job.message = reason.to_string();
                job.finished.get_or_insert_with(crate::now_ms);
                true
            })
            .await
            .map_err(|e| Error::Results(format!("{e:#}")))?;
            if changed.is_some_and(|j| j.status == Status::Dismissed && j.message == reason) {
                cancelled.push(job.id);
            }
        }
        Ok(cancelled)
    }

    /// `text` (a failure's message, bound for a user) without the server's own
    /// folders: the data folder and the plugin search path are named, not shown.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        let mut folders: Vec<(String, &str)> = vec![(self.data_dir.display().to_string(), "DATA")];
        for dir in self.engine.plugin_path() {
            folders.push((dir.display().to_string(), "PLUGINS"));
            if let Ok(real) = std::fs::canonicalize(dir) {
                folders.push((real.display().to_string(), "PLUGINS"));
            }
        }
        // The longest first: a folder inside another is named as itself.
        folders.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
        for (path, name) in folders {
            if path.len() > 1 {
                text = text.replace(&path, name);
            }
        }
        text
    }

    /// The metrics (the HTTP layer counts its requests there).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Jobs per (process, state), from the store (every gateway's and worker's).
    pub fn counts(&self) -> Result<Vec<(String, Status, u64)>> {
        self.store.count()
    }

    /// Job ids waiting in the queue now.
    pub fn queue_depth(&self) -> usize {
        self.queue.depth()
    }

    /// How many jobs may wait for a worker before new ones are refused.
    pub fn max_waiting(&self) -> usize {
        self.max_waiting
    }

    /// The metrics in Prometheus' text format.
    pub fn metrics_text(&self) -> String {
        let m = &self.metrics;
        m.queue_depth.set(self.queue.depth() as i64);
        m.queue_limit.set(self.max_waiting as i64);
        m.set_ready(&self.checks());
        let free = self.slots.available_permits() as i64;
        m.worker_slots.with_label_values(&["free"]).set(free);
        m.worker_slots
            .with_label_values(&["busy"])
            .set((self.slot_count as i64 - free).max(0));
        m.set_component_loads(self.engine.wasm().load_counts());
        match self.catalog.item_counts() {
            Ok(counts) => {
                m.catalog_items.reset();
                for (collection, n) in counts {
                    m.catalog_items
                        .with_label_values(&[&collection])
                        .set(n as i64);
                }
            }
            Err(e) => tracing::warn!(error = %e, "metrics: cannot count the catalogue's items"),
        }
        m.render()
    }

    /// Jobs waiting for a worker: queued, or synchronous ones waiting for a slot
    /// (what `--max-waiting` bounds).
    pub(crate) fn waiting(&self) -> usize {
        self.queue.depth() + self.sync_waiting.load(Ordering::Relaxed)
    }

    /// The checks of readiness, in order: the job store can write, the
    /// catalogue is open and can write, the queue is reachable and below its
    /// bound, every worker loop runs.
    pub fn checks(&self) -> Vec<Check> {
        let waiting = self.waiting();
        let (started, running) = (
            self.worker_loops.0.load(Ordering::Relaxed),
            self.worker_loops.1.load(Ordering::Relaxed),
        );
        vec![
            Check {
                name: "store",
                fault: self.store.fault(),
            },
            Check {
                name: "catalog",
                fault: self.catalog.fault(),
            },
            Check {
                name: "queue",
                fault: self.queue.fault().or_else(|| {
                    (waiting >= self.max_waiting).then(|| {
                        format!(
                            "{waiting} jobs wait for a worker, as many as this server takes ({})",
                            self.max_waiting
                        )
                    })
                }),
            },
            Check {
                name: "workers",
                fault: (running < started)
                    .then(|| format!("{running} of the {started} worker loops run")),
            },
        ]
    }

    /// Why the job system cannot take work now, if it cannot (the failing
    /// [`checks`](Self::checks), each reason once). Empty when ready.
    pub fn faults(&self) -> Vec<String> {
        let mut faults: Vec<String> = self.checks().into_iter().filter_map(|c| c.fault).collect();
        faults.dedup();
        faults
    }

    /// The catalogue result items go to.
    pub fn catalog(&self) -> &Arc<dyn CatalogStore> {
        &self.catalog
    }

    /// Whether the server may reach `url` for a caller (the egress policy: public
    /// addresses, allowed hosts, allowed buckets); else why not.
    pub fn check_egress(&self, url: &str) -> std::result::Result<(), String> {
        self.egress.check(url)
    }

    /// `path` resolved (links followed) if it lies inside an input root; else why
    /// not (without the roots).
    pub fn check_input_path(
        &self,
        path: &std::path::Path,
    ) -> std::result::Result<std::path::PathBuf, String> {
        crate::processes::local_path(&path.to_string_lossy(), &self.input_roots)
    }

    /// The folders where the engine looks components up by name.
    pub fn plugin_path(&self) -> &[std::path::PathBuf] {
        self.engine.plugin_path()
    }

    /// The backends jobs are given before the engine's own, if any.
    pub fn backends(&self) -> Option<&Arc<dyn RunBackends>> {
        self.backends.as_ref()
    }

    /// The data folder (resolved).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }
}
