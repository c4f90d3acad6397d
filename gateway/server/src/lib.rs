//! The portal server: OGC API - Processes over the CWL engine, with durable jobs,
//! and the STAC API of the catalogue. The `hysope` command (the CLI crate) wires
//! it up and serves [`api::router`].
//!
//! A request to execute a process is checked against the process's CWL inputs,
//! stored as a job in the [`JobStore`](jobs::JobStore) (durable before the reply),
//! and its id queued; workers run it with the CWL runner. At start, jobs left
//! accepted or running by a previous process are queued again.

pub mod api;
pub mod callbacks;
pub mod deploy;
pub mod errors;
pub mod fetch;
pub mod html;
pub mod metrics;
pub mod openapi;
pub mod processes;
pub mod provenance;
pub mod results;
pub mod stac;
pub mod worker;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Context;
use hysope_engine::Engine;
use tokio_util::sync::CancellationToken;

use hysope_jobs::{Job, JobFilter, JobQueue, JobStore, LocalQueue, RedbJobStore};
use processes::Registry;

/// How the server is set up.
#[derive(Clone)]
pub struct Config {
    /// Where jobs, results and scratch files live.
    pub data_dir: PathBuf,
    /// Folders of CWL documents registered as built-in processes.
    pub process_dirs: Vec<PathBuf>,
    /// Folders an input `href` may point into (besides the data folder's `inputs`).
    pub input_roots: Vec<PathBuf>,
    /// Jobs run at the same time.
    pub workers: usize,
    /// The engine jobs run on (its cache, plugin search path and limits).
    pub engine: Engine,
    /// Where results go: `None` for `DATA_DIR/results`, or `s3://BUCKET/PREFIX`.
    pub results_url: Option<String>,
}

/// Everything the handlers and workers share.
pub struct State {
    /// Deployed processes.
    pub registry: RwLock<Registry>,
    /// Jobs.
    pub jobs: Arc<dyn JobStore>,
    /// Ids of jobs waiting to run.
    pub queue: Arc<dyn JobQueue>,
    /// Metrics.
    pub metrics: metrics::Metrics,
    /// The engine shared by all jobs: runners come from it.
    pub engine: Engine,
    /// Data folder.
    pub data_dir: PathBuf,
    /// The result store.
    pub results: results::Results,
    /// Folders input hrefs may point into.
    pub input_roots: Vec<PathBuf>,
    /// Slots of running tools, shared by workers and synchronous executions (a job
    /// holds one while its tools run).
    pub slots: tokio::sync::Semaphore,
    /// Serialise read-modify-write of job records: one lock per stripe of job ids,
    /// so that changes to different jobs go to the store (and share its commits)
    /// together.
    pub write_locks: Vec<tokio::sync::Mutex<()>>,
    /// Cancellation of running jobs, by id.
    pub running: Mutex<HashMap<String, CancellationToken>>,
    /// The catalogue has the `results` collection (checked once, again after an item
    /// found it missing: a user may delete it).
    pub results_ready: std::sync::atomic::AtomicBool,
    /// Synchronous jobs running but not in the store yet (see [`worker::run_sync`]).
    pub quiet: Mutex<HashMap<String, Job>>,
    /// Serialises deploy, replace and undeploy.
    pub deploy_lock: tokio::sync::Mutex<()>,
    /// The catalogue (STAC API, time series, process results).
    pub catalog: Arc<dyn hysope_catalog::CatalogStore>,
    /// Secret of `POST /stac/ingest`, written to `DATA/server.json` for `hysope ingest`.
    pub ingest_token: String,
}

/// The store's file in the data folder: the jobs and the catalogue, whose writes
/// share commits (a job's result item and its final record reach the disk together).
pub const STORE_FILE: &str = "store.redb";

/// Opens the data folder's store. A folder of an earlier version, with the
/// catalogue in `catalog.redb` and the jobs in `jobs.redb`, is brought over: the
/// catalogue file becomes the store, the jobs are copied into it (one durable
/// commit) and their old file is renamed `jobs.redb.imported`.
pub fn open_store(data_dir: &Path) -> anyhow::Result<Arc<hysope_store::SharedDb>> {
    let path = data_dir.join(STORE_FILE);
    let old_catalog = data_dir.join("catalog.redb");
    if !path.exists() && old_catalog.exists() {
        std::fs::rename(&old_catalog, &path)
            .with_context(|| format!("cannot rename {} to {STORE_FILE}", old_catalog.display()))?;
        tracing::info!(from = %old_catalog.display(), to = %path.display(), "catalogue file renamed");
    }
    // The log's records (see `SharedDb`) are of these two kinds.
    let replayers = [
        hysope_catalog::RedbCatalog::REPLAYER,
        RedbJobStore::REPLAYER,
    ];
    let db = Arc::new(hysope_store::SharedDb::open_with(&path, &replayers)?);
    let old_jobs = data_dir.join("jobs.redb");
    if old_jobs.exists() {
        let old = RedbJobStore::open(&old_jobs)?;
        let all = old.list(&JobFilter::default(), 0, usize::MAX)?.jobs;
        drop(old);
        RedbJobStore::open_shared(db.clone())?.put_all(&all)?;
        let done = data_dir.join("jobs.redb.imported");
        std::fs::rename(&old_jobs, &done)
            .with_context(|| format!("cannot rename {}", old_jobs.display()))?;
        // The old file's log, empty since it was closed.
        let _ = std::fs::remove_file(old_jobs.with_extension("wal"));
        tracing::info!(jobs = all.len(), from = %done.display(), "jobs imported into {STORE_FILE}");
    }
    Ok(db)
}

/// Serves the API on `listener` until `shutdown` resolves, then lets the requests
/// under way finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The file in the data folder where a running server says where it listens and
/// the token of its ingest endpoint (readable by whoever can read the folder).
pub const SERVER_FILE: &str = "server.json";

/// Opens the stores, registers the processes, re-queues unfinished jobs and starts
/// the workers. Returns the shared state and the number of re-queued jobs.
pub async fn start(config: Config) -> anyhow::Result<(Arc<State>, usize)> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data folder {}",
            config.data_dir.display()
        )
    })?;
    let data_dir = std::fs::canonicalize(&config.data_dir)?;
    let store = open_store(&data_dir)?;
    let jobs: Arc<dyn JobStore> = Arc::new(RedbJobStore::open_shared(store.clone())?);
    // The job store is open, so no other server uses this folder: what a stopped
    // server left in the scratch area belongs to no running job (interrupted jobs
    // run again from their inputs).
    let scratch = data_dir.join("scratch");
    if let Err(e) = std::fs::remove_dir_all(&scratch)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(folder = %scratch.display(), error = %e, "cannot empty the scratch area");
    }
    // The job runners use it as it is (resolved, existing): see `Runner::with_resolved_dirs`.
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create the scratch area {}", scratch.display()))?;
    let catalog: Arc<dyn hysope_catalog::CatalogStore> =
        Arc::new(hysope_catalog::RedbCatalog::open_shared(store)?);
    let mut registry = Registry::scan(&config.process_dirs)?;
    for process in deploy::load_all(&data_dir) {
        if registry.get(&process.id).is_some_and(|p| p.builtin) {
            tracing::warn!(id = %process.id, "a deployed process has the id of a built-in one; not registered");
            continue;
        }
        registry.insert(process);
    }
    let metrics = metrics::Metrics::new()?;
    for (process, status, n) in jobs.count()? {
        metrics
            .jobs
            .with_label_values(&[&process, status.as_str()])
            .set(n as i64);
    }
    let mut input_roots = config.input_roots.clone();
    input_roots.push(data_dir.join("inputs"));
    std::fs::create_dir_all(data_dir.join("inputs"))?;
    let state = Arc::new(State {
        registry: RwLock::new(registry),
        jobs,
        queue: Arc::new(LocalQueue::default()),
        metrics,
        engine: config.engine.clone(),
        results: results::Results::open(&data_dir, config.results_url.as_deref())?,
        data_dir,
        input_roots,
        slots: tokio::sync::Semaphore::new(config.workers.max(1)),
        write_locks: (0..256).map(|_| tokio::sync::Mutex::new(())).collect(),
        running: Mutex::new(HashMap::new()),
        quiet: Mutex::new(HashMap::new()),
        results_ready: std::sync::atomic::AtomicBool::new(false),
        deploy_lock: tokio::sync::Mutex::new(()),
        catalog,
        ingest_token: uuid::Uuid::new_v4().simple().to_string(),
    });
    let requeued = worker::recover(&state).await?;
    worker::spawn_workers(state.clone(), config.workers);
    Ok((state, requeued))
}
