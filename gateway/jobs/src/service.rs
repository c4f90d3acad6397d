//! The job system of a server: what the HTTP handlers and the workers share (the
//! processes, the job store and queue, the engine, the result store, the
//! catalogue that receives result items, and the bookkeeping of running jobs).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};

use hysope_catalog::CatalogStore;
use hysope_engine::Engine;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::processes::Registry;
use crate::results::Results;
use crate::{Job, JobQueue, JobStore};

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
}

/// The job system: everything jobs need, shared by the handlers and the workers.
pub struct Jobs {
    /// Deployed processes.
    pub registry: RwLock<Registry>,
    /// Jobs.
    pub store: Arc<dyn JobStore>,
    /// Ids of jobs waiting to run.
    pub queue: Arc<dyn JobQueue>,
    /// Metrics.
    pub metrics: Metrics,
    /// The engine shared by all jobs: runners come from it.
    pub engine: Engine,
    /// Data folder.
    pub data_dir: PathBuf,
    /// The result store.
    pub results: Results,
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
    pub results_ready: AtomicBool,
    /// Synchronous jobs running but not in the store yet (see
    /// [`run_sync`](crate::worker::run_sync)).
    pub quiet: Mutex<HashMap<String, Job>>,
    /// The catalogue (result items, the items jobs read).
    pub catalog: Arc<dyn CatalogStore>,
}

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
            write_locks: (0..256).map(|_| tokio::sync::Mutex::new(())).collect(),
            running: Mutex::new(HashMap::new()),
            results_ready: AtomicBool::new(false),
            quiet: Mutex::new(HashMap::new()),
            catalog: parts.catalog,
        })
    }
}
