//! The portal server: OGC API - Processes over the CWL engine, with durable jobs,
//! and the STAC API of the catalogue. The `hysope` command (the CLI crate) wires
//! it up and serves [`api::router`].
//!
//! A request to execute a process is checked against the process's CWL inputs,
//! stored as a job in the [`JobStore`](hysope_jobs::JobStore) (durable before the
//! reply), and its id queued; the job system's workers ([`hysope_jobs::Jobs`]) run
//! it with the CWL runner. At start, jobs left accepted or running by a previous
//! process are queued again.

pub mod api;
pub mod auth;
pub mod curation;
pub mod deploy;
pub mod downloads;
pub mod errors;
pub mod features;
pub mod guard;
pub mod html;
pub mod oci;
pub mod openapi;
pub mod plugin_check;
pub mod portal;
pub mod query;
pub mod rules;
pub mod stac;
mod status;
pub mod tokens;
pub mod uploads;

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use hysope_engine::Engine;

use hysope_jobs::processes::Registry;
use hysope_jobs::{JobFilter, JobStore, Jobs, JobsParts, LocalQueue, RedbJobStore, worker};

/// Re-exported for the callers that fetch from S3 (`hysope ingest s3://...`).
pub use hysope_jobs::egress::EgressPolicy;
pub use hysope_jobs::fetch;

/// How the server is set up.
#[derive(Clone)]
pub struct Config {
    /// Where jobs, results and scratch files live.
    pub data_dir: PathBuf,
    /// Folders of CWL documents registered as built-in processes.
    pub process_dirs: Vec<PathBuf>,
    /// Folders of production rules (`*.json`) made at start when no rule has
    /// their id.
    pub rule_dirs: Vec<PathBuf>,
    /// Folders an input `href` may point into (besides the data folder's `inputs`).
    pub input_roots: Vec<PathBuf>,
    /// Jobs run at the same time.
    pub workers: usize,
    /// The engine jobs run on (its cache, plugin search path and limits).
    pub engine: Engine,
    /// Where results go: `None` for `DATA_DIR/results`, or `s3://BUCKET/PREFIX`.
    pub results_url: Option<String>,
    /// The hosts the server answers for (`Host`), or any when `None`
    /// (see [`guard::hosts_for`]).
    pub allowed_hosts: Option<Vec<String>>,
    /// What the server may reach for its users (inputs by URL, callbacks).
    pub egress: hysope_jobs::egress::EgressPolicy,
    /// Jobs waiting for a worker, at most; more are answered 429 (see
    /// [`DEFAULT_MAX_WAITING`]).
    pub max_waiting: usize,
    /// The time a whole job may run (see [`DEFAULT_JOB_TIME_LIMIT`]).
    pub job_time_limit: std::time::Duration,
    /// The OIDC provider whose access tokens are taken, if any (personal tokens
    /// always are).
    pub oidc: Option<hysope_identity::OidcConfig>,
    /// Which role each action needs (anonymous execution for a public demo).
    pub policy: hysope_identity::Policy,
    /// The registry's limits.
    pub quotas: hysope_registry::Quotas,
    /// Where the registry keeps its blobs: `None` for `DATA_DIR/registry`, or
    /// `s3://BUCKET/PREFIX` (credentials and endpoint from the `AWS_*` variables).
    pub registry_url: Option<String>,
    /// Backends jobs run on before the engine's own (an HPC site, a container
    /// runtime); `None`: the engine's only.
    pub backends: Option<Arc<dyn hysope_jobs::RunBackends>>,
    /// Where jobs are kept: `None` for the data folder's store, or
    /// `postgres://…`, a database that gateways and workers share.
    pub job_store_url: Option<String>,
    /// How accepted jobs reach a worker: `None` in-process, `postgres` (the job
    /// store's database), `postgres://…` or `amqp://…` (RabbitMQ). A shared job
    /// store needs a shared queue.
    pub queue_url: Option<String>,
    /// A worker's lease on a running job of a shared store (see
    /// [`hysope_jobs::DEFAULT_LEASE`]).
    pub lease: std::time::Duration,
    /// Where the catalogue is kept: `None` for the data folder's store, or
    /// `pgstac://…` (`postgres://…`), a PostgreSQL database with pgstac that
    /// gateways share.
    pub catalog_url: Option<String>,
    /// Every commit of the data folder's store records redb's allocator state, so
    /// that an open after a crash needs no repair (see
    /// [`hysope_store::SharedDb::set_quick_repair`]).
    pub store_quick_repair: bool,
}

impl Config {
    /// A server on one machine's defaults: no processes, rules or input roots,
    /// two workers, everything in `data_dir`'s embedded stores, answering any host,
    /// the default egress policy, limits and roles. Callers set the rest by field.
    pub fn new(data_dir: impl Into<PathBuf>, engine: Engine) -> Self {
        Config {
            data_dir: data_dir.into(),
            process_dirs: Vec::new(),
            rule_dirs: Vec::new(),
            input_roots: Vec::new(),
            workers: 2,
            engine,
            results_url: None,
            allowed_hosts: None,
            egress: Default::default(),
            max_waiting: DEFAULT_MAX_WAITING,
            job_time_limit: DEFAULT_JOB_TIME_LIMIT,
            oidc: None,
            policy: Default::default(),
            quotas: Default::default(),
            registry_url: None,
            backends: None,
            job_store_url: None,
            queue_url: None,
            lease: hysope_jobs::DEFAULT_LEASE,
            catalog_url: None,
            store_quick_repair: false,
        }
    }
}

/// Connections of a pgstac catalogue's pool.
const CATALOG_POOL: usize = 16;

/// Opens the shared catalogue `url` names: a `pgstac://` (`postgres://`) URL of
/// a PostgreSQL database with pgstac.
pub fn open_shared_catalog(url: &str) -> anyhow::Result<Arc<dyn hysope_catalog::CatalogStore>> {
    Ok(match url {
        url if is_postgres(url) || url.starts_with("pgstac://") => Arc::new(
            hysope_postgres::PgCatalog::connect(url, CATALOG_POOL)
                .with_context(|| format!("--catalog {}", hysope_postgres::redact(url)))?,
        ),
        url => anyhow::bail!(
            "--catalog {}: a catalogue is pgstac://USER@HOST:PORT/DATABASE (PostgreSQL with pgstac), or none: the data folder's",
            hysope_postgres::redact(url)
        ),
    })
}

/// True for a PostgreSQL URL.
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Connections of a job store's pool (queue deliveries hold one each until the
/// claim is committed).
const PG_POOL: usize = 32;

/// Where jobs, their queue and the personal tokens are kept (see [`open_jobs`]).
pub struct JobStores {
    /// The job store.
    pub jobs: Arc<dyn JobStore>,
    /// The queue.
    pub queue: Arc<dyn hysope_jobs::JobQueue>,
    /// The personal tokens: in the shared job store's database when there is
    /// one (gateways then take each other's tokens), else in the data folder's
    /// file.
    pub tokens: Arc<dyn hysope_identity::TokenStore>,
    /// The deployed processes, when they are kept in the shared job store's
    /// database (else in the data folder).
    pub deployments: Option<Arc<dyn hysope_jobs::deployments::Deployments>>,
    /// The plugin registry's records: in the shared job store's database when
    /// there is one (gateways then share one registry), else in the data
    /// folder's file.
    pub registry: Arc<dyn hysope_registry::Records>,
    /// The production rules: in the shared job store's database when there is
    /// one (every gateway follows them), else in the data folder's file.
    pub rules: Arc<dyn hysope_jobs::rules::RuleStore>,
}

/// Opens the job store, the queue and the token store the configuration names;
/// the parts in one PostgreSQL database share one pool.
pub async fn open_jobs(
    config: &Config,
    db: Arc<hysope_store::SharedDb>,
) -> anyhow::Result<JobStores> {
    let mut pg = None;
    let store: Arc<dyn JobStore> = match config.job_store_url.as_deref() {
        None => Arc::new(RedbJobStore::open_shared(db.clone())?),
        Some(url) if is_postgres(url) => {
            let connected = hysope_postgres::Pg::connect(url, PG_POOL)?;
            pg = Some(connected.clone());
            Arc::new(
                hysope_postgres::PgJobStore::open(connected)
                    .with_context(|| format!("--store {}", hysope_postgres::redact(url)))?,
            )
        }
        Some(url) => anyhow::bail!(
            "--store {}: a job store is postgres://USER@HOST:PORT/DATABASE (or none: the data folder's)",
            hysope_postgres::redact(url)
        ),
    };
    let queue: Arc<dyn hysope_jobs::JobQueue> = match config.queue_url.as_deref() {
        None if store.shared() => anyhow::bail!(
            "--store {} is shared by other processes: give a queue they share too (--queue postgres)",
            hysope_postgres::redact(config.job_store_url.as_deref().unwrap_or(""))
        ),
        None => Arc::new(LocalQueue::default()),
        Some(_) if !store.shared() => anyhow::bail!(
            "--queue needs a job store that the queue's other consumers share (--store postgres://...): their jobs would not be found in this data folder"
        ),
        Some("postgres") => {
            let pg = pg
                .clone()
                .context("--queue postgres is the --store database: give --store postgres://...")?;
            Arc::new(hysope_postgres::PgQueue::open(pg)?)
        }
        Some(url) if is_postgres(url) => {
            let connected = hysope_postgres::Pg::connect(url, PG_POOL)?;
            Arc::new(
                hysope_postgres::PgQueue::open(connected)
                    .with_context(|| format!("--queue {}", hysope_postgres::redact(url)))?,
            )
        }
        Some(url) if url.starts_with("amqp://") || url.starts_with("amqps://") => {
            let prefetch = u16::try_from(config.workers.max(1)).unwrap_or(u16::MAX);
            Arc::new(hysope_amqp::AmqpQueue::connect(url, prefetch).await?)
        }
        Some(url) => anyhow::bail!(
            "--queue {}: a queue is postgres (the --store database), postgres://... or amqp://...",
            hysope_postgres::redact(url)
        ),
    };
    type Shared = (
        Arc<dyn hysope_identity::TokenStore>,
        Option<Arc<dyn hysope_jobs::deployments::Deployments>>,
        Arc<dyn hysope_registry::Records>,
        Arc<dyn hysope_jobs::rules::RuleStore>,
    );
    let (tokens, deployments, registry, rules): Shared = match pg {
        Some(pg) => (
            Arc::new(hysope_postgres::PgTokenStore::open(pg.clone())?),
            Some(Arc::new(hysope_postgres::PgDeployments::open(pg.clone())?)),
            Arc::new(hysope_postgres::PgRecords::open(pg.clone())?),
            Arc::new(hysope_postgres::PgRuleStore::open(pg)?),
        ),
        None => (
            Arc::new(hysope_identity::RedbTokenStore::open_shared(db.clone())?),
            None,
            Arc::new(
                hysope_registry::RedbRecords::open_shared(db.clone())
                    .map_err(anyhow::Error::msg)?,
            ),
            Arc::new(hysope_jobs::rules::RedbRuleStore::open_shared(db)?),
        ),
    };
    Ok(JobStores {
        jobs: store,
        queue,
        tokens,
        deployments,
        registry,
        rules,
    })
}

/// The time a whole job may run by default: a day.
pub const DEFAULT_JOB_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Jobs waiting for a worker by default, at most.
pub const DEFAULT_MAX_WAITING: usize = 10_000;

/// Everything the handlers share.
pub struct State {
    /// The job system (processes, jobs, workers, results); it holds the catalogue.
    pub(crate) jobs: Arc<Jobs>,
    /// Serialises deploy, replace and undeploy.
    pub(crate) deploy_lock: tokio::sync::Mutex<()>,
    /// The local operator's secret, written to `DATA/server.json` for the commands
    /// of the same machine (`hysope ingest`, `hysope admin token`).
    pub(crate) local_secret: String,
    /// Who is calling.
    pub(crate) auth: hysope_identity::Authenticator,
    /// Which role each action needs.
    pub(crate) policy: hysope_identity::Policy,
    /// The hosts served (`Host` header), when limited (see `guard::hosts_for`).
    pub(crate) allowed_hosts: Option<Vec<String>>,
    /// The plugin registry (`/v2/`, `/registry`).
    pub(crate) registry: Arc<hysope_registry::Registry>,
    /// What a published component goes through once its signature passed.
    pub(crate) checker: Arc<dyn hysope_registry::ComponentCheck>,
    /// The requests of the last minute (`/admin/status`).
    pub(crate) traffic: status::Traffic,
    /// The portal's content security policy ([`portal::csp_for`]).
    pub(crate) portal_csp: axum::http::HeaderValue,
    /// The production rules (`/rules`, [`hysope_jobs::rules`]).
    pub(crate) rules: Arc<dyn hysope_jobs::rules::RuleStore>,
    /// Wakes the rules' dispatcher (an ingestion, new items).
    pub(crate) rules_wake: Arc<tokio::sync::Notify>,
}

impl State {
    /// The catalogue (STAC API, time series, process results).
    pub fn catalog(&self) -> &Arc<dyn hysope_catalog::CatalogStore> {
        self.jobs.catalog()
    }

    /// The data folder (resolved).
    pub fn data_dir(&self) -> &Path {
        self.jobs.data_dir()
    }

    /// Wakes the production rules' dispatcher (new items in the catalogue).
    pub fn wake_rules(&self) {
        self.rules_wake.notify_one();
    }

    /// The production rules.
    pub fn rules(&self) -> &Arc<dyn hysope_jobs::rules::RuleStore> {
        &self.rules
    }

    /// The plugin registry.
    pub fn registry(&self) -> &Arc<hysope_registry::Registry> {
        &self.registry
    }

    /// The job system behind the API.
    pub fn jobs(&self) -> &Arc<Jobs> {
        &self.jobs
    }

    /// The local operator's secret (see [`SERVER_FILE`]).
    pub fn local_secret(&self) -> &str {
        &self.local_secret
    }

    /// What the API documents say of identity.
    pub fn access(&self) -> openapi::Access<'static> {
        openapi::Access {
            rules: api::rules(),
            policy: self.policy,
            oidc_discovery: self.auth.oidc_issuer().map(|i| {
                format!(
                    "{}/.well-known/openid-configuration",
                    i.trim_end_matches('/')
                )
            }),
        }
    }

    /// Who is calling: personal tokens, OIDC access tokens, the local secret.
    pub fn auth(&self) -> &hysope_identity::Authenticator {
        &self.auth
    }
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
    let db = Arc::new(hysope_store::SharedDb::open(&path)?);
    let old_jobs = data_dir.join("jobs.redb");
    if old_jobs.exists() {
        let old = RedbJobStore::open(&old_jobs)?;
        let all = old.list(&JobFilter::default(), 0, usize::MAX)?.jobs;
        drop(old);
        RedbJobStore::open_shared(db.clone())?.put_all(&all)?;
        let done = data_dir.join("jobs.redb.imported");
        std::fs::rename(&old_jobs, &done)
            .with_context(|| format!("cannot rename {}", old_jobs.display()))?;
        tracing::info!(jobs = all.len(), from = %done.display(), "jobs imported into {STORE_FILE}");
    }
    Ok(db)
}

/// The registry's folder in the data folder: its blobs (`blobs/sha256/HEX`) and
/// its upload sessions (`uploads/`).
pub const REGISTRY_DIR: &str = "registry";

/// Opens the registry: its records in `records`, its blobs in `DATA/registry`
/// or on S3 (`url`).
pub fn open_registry(
    data_dir: &Path,
    records: Arc<dyn hysope_registry::Records>,
    quotas: hysope_registry::Quotas,
    url: Option<&str>,
) -> anyhow::Result<hysope_registry::Registry> {
    let dir = data_dir.join(REGISTRY_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let objects: Arc<dyn object_store::ObjectStore> = match url {
        None => {
            if records.shared() {
                tracing::warn!(
                    "the plugin registry's records are shared with other gateways but its blobs are in {}: a plugin pushed through this gateway is pulled and deployed only through it (give every gateway --registry-blobs s3://BUCKET/PREFIX)",
                    dir.display()
                );
            }
            std::fs::create_dir_all(dir.join("blobs"))
                .with_context(|| format!("cannot create {}", dir.display()))?;
            Arc::new(
                object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .with_context(|| format!("cannot open {}", dir.display()))?,
            )
        }
        Some(url) => {
            let rest = url.strip_prefix("s3://").ok_or_else(|| {
                anyhow::anyhow!("--registry-blobs {url:?}: only s3://BUCKET[/PREFIX] is supported")
            })?;
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .with_context(|| format!("--registry-blobs {url}"))?;
            let prefix = prefix.trim_matches('/');
            if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
            }
        }
    };
    // Upload sessions are staged on the local disk either way.
    hysope_registry::Registry::open(records, objects, &dir.join("uploads"), quotas)
        .map_err(anyhow::Error::msg)
}

/// Publishes the bundled plugins (the built-in processes that run a component)
/// into the registry's `hysope` namespace, signed with the bootstrap key
/// (`DATA/registry/bootstrap-key`, made at the first start) and admitted as
/// approved (see [`hysope_registry::bootstrap`]); those published already are left
/// as they are. Returns the references published now.
pub async fn publish_bundled(state: &State) -> anyhow::Result<Vec<String>> {
    use hysope_engine::cwl;
    let key_path = state.data_dir().join(REGISTRY_DIR).join("bootstrap-key");
    let key = {
        let path = key_path.clone();
        tokio::task::spawn_blocking(move || {
            hysope_registry::bootstrap::BootstrapKey::load_or_make(&path)
        })
        .await?
        .map_err(anyhow::Error::msg)?
    };
    let builtins: Vec<hysope_jobs::processes::Process> = state
        .jobs
        .processes()
        .all()
        .filter(|p| p.builtin)
        .cloned()
        .collect();
    let search_path = state.jobs.plugin_path().to_vec();
    let mut published = Vec::new();
    for process in builtins {
        let requirements = cwl::values::items(&process.cwl, "requirements");
        let Some(requirement) = cwl::tool::find_req(requirements, "hysope:WasmRequirement") else {
            continue;
        };
        if process.cwl.get("class").and_then(serde_json::Value::as_str) != Some("CommandLineTool") {
            continue;
        }
        let tool_dir = process
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let component = match cwl::resolve_component(
            requirement,
            &tool_dir,
            &search_path,
            &process.id,
        ) {
            Ok(path) => path,
            Err(e) => {
                tracing::warn!(process = %process.id, error = %e, "bundled component not found; not published");
                continue;
            }
        };
        let bytes = tokio::fs::read(&component).await?;
        let version = if hysope_registry::oci::check_version(&process.version).is_ok() {
            process.version.clone()
        } else {
            env!("CARGO_PKG_VERSION").to_string()
        };
        match state
            .registry
            .publish_bundled(
                &process.id,
                &version,
                &bytes,
                &process.source,
                &key,
                state.checker.clone(),
            )
            .await
        {
            Ok(Some(v)) => published.push(v.reference()),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(process = %process.id, error = %e, "bundled plugin not published");
            }
        }
    }
    Ok(published)
}

/// Serves the API on `listener` until `shutdown` resolves, then lets the requests
/// under way finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(without_delay(listener), api::router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// `listener` with Nagle's algorithm off on each connection it accepts: a streamed
/// reply (a time series, a download) is written in several pieces, and with the
/// algorithm on, a small last piece waited for the client's delayed
/// acknowledgement (40 ms on Linux) before it left.
fn without_delay(
    listener: tokio::net::TcpListener,
) -> impl axum::serve::Listener<Io = tokio::net::TcpStream, Addr = std::net::SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set on a connection");
        }
    })
}

/// Serves a worker's readiness and metrics on `listener` (no API: a worker runs
/// the jobs gateways accepted) until `shutdown` resolves.
pub async fn serve_worker(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(without_delay(listener), api::worker_router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The file in the data folder where a running server says where it listens and
/// the local operator's secret (readable by the folder's owner only).
pub const SERVER_FILE: &str = "server.json";

/// Creates the data folder (and its parents) readable by its owner only: it holds
/// jobs' inputs and results and the ingest token. An existing folder is left as
/// it is.
pub fn create_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .with_context(|| format!("cannot create the data folder {}", data_dir.display()))
}

/// Opens the stores, registers the processes, re-queues unfinished jobs and starts
/// the workers. Returns the shared state and the number of re-queued jobs.
pub async fn start(config: Config) -> anyhow::Result<(Arc<State>, usize)> {
    create_data_dir(&config.data_dir)?;
    let data_dir = std::fs::canonicalize(&config.data_dir)?;
    let store = open_store(&data_dir)?;
    store.set_quick_repair(config.store_quick_repair);
    let shared_db = store.clone();
    let JobStores {
        jobs,
        queue,
        tokens,
        deployments,
        registry: registry_records,
        rules,
    } = open_jobs(&config, store.clone()).await?;
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
    let plugins = Arc::new(open_registry(
        &data_dir,
        registry_records,
        config.quotas,
        config.registry_url.as_deref(),
    )?);
    let catalog: Arc<dyn hysope_catalog::CatalogStore> = match &config.catalog_url {
        Some(url) => open_shared_catalog(url)?,
        None => Arc::new(hysope_catalog::RedbCatalog::open_shared(store)?),
    };
    let oidc = config
        .oidc
        .clone()
        .map(hysope_identity::Oidc::new)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let registry = Registry::scan(&config.process_dirs)?;
    let deployments = deployments.unwrap_or_else(|| {
        Arc::new(hysope_jobs::deployments::FileDeployments::new(
            hysope_jobs::deployments::dir(&data_dir),
        ))
    });
    let mut input_roots = config.input_roots.clone();
    input_roots.push(data_dir.join("inputs"));
    std::fs::create_dir_all(data_dir.join("inputs"))?;
    let results = hysope_jobs::results::Results::open(&data_dir, config.results_url.as_deref())?;
    let jobs = Arc::new(Jobs::new(JobsParts {
        registry,
        store: jobs,
        queue,
        catalog,
        engine: config.engine.clone(),
        data_dir,
        results,
        input_roots,
        workers: config.workers,
        egress: config.egress.clone(),
        max_waiting: config.max_waiting,
        job_time_limit: config.job_time_limit,
        backends: config.backends.clone(),
        lease: config.lease,
        deployments,
    })?);
    jobs.load_deployments()?;
    let rules_wake = Arc::new(tokio::sync::Notify::new());
    let commits = jobs.metrics().store_commit.clone();
    shared_db.observe_commits(move |took, durable| {
        commits
            .with_label_values(&[if durable { "durable" } else { "none" }])
            .observe(took.as_secs_f64());
    });
    let data_dir_for_checks = jobs.data_dir().join("scratch");
    let requeued = worker::recover(&jobs).await?;
    worker::spawn_workers(jobs.clone(), config.workers);
    worker::spawn_sweeper(jobs.clone());
    worker::spawn_deployment_sync(jobs.clone());
    let local_secret = hysope_identity::random_secret("hysope_local_")?;
    let state = Arc::new(State {
        jobs,
        deploy_lock: tokio::sync::Mutex::new(()),
        auth: hysope_identity::Authenticator::new(tokens, oidc)
            .with_local_secret(local_secret.clone()),
        local_secret,
        policy: config.policy,
        allowed_hosts: config.allowed_hosts.clone(),
        registry: plugins,
        checker: Arc::new(plugin_check::EngineCheck::new(
            config.engine.clone(),
            data_dir_for_checks,
        )),
        traffic: status::Traffic::default(),
        portal_csp: portal::csp_for(config.oidc.as_ref()),
        rules: rules.clone(),
        rules_wake: rules_wake.clone(),
    });
    for dir in &config.rule_dirs {
        crate::rules::load_dir(&state, dir)?;
    }
    hysope_jobs::rules::spawn_dispatcher(
        state.jobs.clone(),
        rules,
        rules_wake,
        std::time::Duration::from_millis(500),
    );
    Ok((state, requeued))
}
