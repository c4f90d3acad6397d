//! `hysope serve`: opens the data folder's stores, starts the server and its
//! workers, and writes `DATA/server.json` (its address and the local operator's secret) while it
//! listens. `hysope worker`: the same stores and workers without the API, for
//! gateways and workers that share a job store and a queue.

use std::path::PathBuf;

use anyhow::Context;
use hysope_engine::{Engine, EngineSettings};
use hysope_server::{Config, SERVER_FILE, start};

/// Arguments of `hysope serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A TOML file of these flags, one key per long flag (`store = "..."`,
    /// `workers = 4`, `processes = ["a", "b"]`); the command line and the
    /// `HYSOPE_*` variables win over it (read before parsing: see config_file.rs).
    #[arg(long, env = "HYSOPE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5000", env = "HYSOPE_ADDR")]
    pub addr: String,
    /// Folder of jobs, results and scratch files.
    #[arg(long, default_value = "hysope-data", env = "HYSOPE_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Folder of CWL documents served as processes (repeatable); default `plugins`
    /// when it exists.
    #[arg(long = "processes")]
    pub process_dirs: Vec<PathBuf>,
    /// Folder of production rules (`*.json`, the body of `POST /rules`) made at
    /// start when no rule has their id (repeatable; `plugins/rules` holds the
    /// bundled examples)
    #[arg(long = "rules")]
    pub rule_dirs: Vec<PathBuf>,
    /// Folder an input href may point into (repeatable).
    #[arg(long = "input-root")]
    pub input_roots: Vec<PathBuf>,
    /// Jobs whose tools run at the same time (default: four per core); a job waiting
    /// for the disk once its tools have run does not count.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Result store: s3://BUCKET/PREFIX (S3 from the AWS_* variables); default the
    /// data folder.
    #[arg(long = "results", env = "HYSOPE_RESULTS")]
    pub results_url: Option<String>,
    /// A host name the server answers for (`Host` header; repeatable, or
    /// comma-separated in `HYSOPE_ALLOWED_HOSTS`). Bound to loopback, the server
    /// answers for the loopback names and these only; bound elsewhere, for any
    /// host unless some are named. Other names get 421 (a page of another site
    /// reaching a local server through DNS rebinding, typically); an IP address
    /// is always answered (probes and scrapes reach a pod by its address).
    #[arg(
        long = "allowed-host",
        env = "HYSOPE_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// A host name, address or network (`ADDR/BITS`) that inputs by URL and
    /// callbacks may reach although it is not public (loopback, private,
    /// link-local): repeatable, or comma-separated in `HYSOPE_ALLOW_EGRESS`. Others
    /// are refused.
    #[arg(
        long = "allow-egress",
        env = "HYSOPE_ALLOW_EGRESS",
        value_delimiter = ','
    )]
    pub allow_egress: Vec<String>,
    /// A bucket `s3://` inputs may read (repeatable, or comma-separated in
    /// `HYSOPE_ALLOW_BUCKETS`); none by default.
    #[arg(
        long = "allow-bucket",
        env = "HYSOPE_ALLOW_BUCKETS",
        value_delimiter = ','
    )]
    pub allow_buckets: Vec<String>,
    /// Jobs waiting for a worker, at most; an execution beyond is answered 429
    /// with `Retry-After`.
    #[arg(long, env = "HYSOPE_MAX_WAITING", default_value_t = hysope_server::DEFAULT_MAX_WAITING)]
    pub max_waiting: usize,
    /// The time a whole job may run (its inputs fetched, all its steps), as
    /// `90s`, `30m`, `12h`; a job beyond fails with that reason.
    #[arg(long, env = "HYSOPE_JOB_TIME_LIMIT", default_value = "24h", value_parser = humantime::parse_duration)]
    pub job_time_limit: std::time::Duration,
    /// Trust the access tokens (JWT) of this OIDC provider: its issuer URL, exactly
    /// as its tokens say (`iss`); its keys come from its discovery document.
    /// Personal tokens work with or without it.
    #[arg(long, env = "HYSOPE_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The audience (`aud`) the provider's tokens must be for.
    #[arg(long, env = "HYSOPE_OIDC_AUDIENCE", requires = "oidc_issuer")]
    pub oidc_audience: Option<String>,
    /// Where a token holds its roles: a dotted claim path (`roles`,
    /// `realm_access.roles` for Keycloak, `groups`).
    #[arg(long, env = "HYSOPE_OIDC_ROLES_CLAIM", default_value = "roles")]
    pub oidc_roles_claim: String,
    /// The provider's role names and the roles they give, `NAME=ROLE,...`
    /// (e.g. `hysope-admins=operator`); without it the provider's names are
    /// Hysope's (user, developer, operator).
    #[arg(long, env = "HYSOPE_OIDC_ROLE_MAP", default_value = "")]
    pub oidc_role_map: String,
    /// The role of a provider's token that carries none of the mapped roles
    /// (`anonymous` to give such tokens nothing more than no token).
    #[arg(long, env = "HYSOPE_OIDC_DEFAULT_ROLE", default_value = "user")]
    pub oidc_default_role: String,
    /// The provider's client id for the web portal: a public client (no secret)
    /// allowed the authorization code flow with PKCE, whose redirect URI is
    /// `https://THIS-SERVER/portal/signed-in`. Without it the portal signs in with
    /// personal tokens only.
    #[arg(long, env = "HYSOPE_OIDC_PORTAL_CLIENT", requires = "oidc_issuer")]
    pub oidc_portal_client: Option<String>,
    /// The scopes the portal asks the provider for (space-separated; `openid` is
    /// always asked).
    #[arg(
        long,
        env = "HYSOPE_OIDC_PORTAL_SCOPE",
        default_value = "openid",
        requires = "oidc_issuer"
    )]
    pub oidc_portal_scope: String,
    /// The memory of a worker that evaluates JavaScript expressions (`512MiB`):
    /// an expression that needs more fails, the server goes on.
    #[arg(long, env = "HYSOPE_EXPRESSION_MEMORY", default_value = "512MiB", value_parser = crate::units::parse_size)]
    pub expression_memory: u64,
    /// The time one JavaScript expression may take (`10s`).
    #[arg(long, env = "HYSOPE_EXPRESSION_TIME", default_value = "10s", value_parser = humantime::parse_duration)]
    pub expression_time: std::time::Duration,
    /// Where the plugin registry keeps its blobs: `s3://BUCKET/PREFIX` (credentials
    /// and endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT,
    /// ...); the data folder's `registry/` by default.
    #[arg(long, env = "HYSOPE_REGISTRY_BLOBS")]
    pub registry_blobs: Option<String>,
    /// Where jobs' tools run (`--backend hpc`: Slurm), and the container runtime
    /// of DockerRequirement tools.
    #[command(flatten)]
    pub backends: crate::backends::BackendArgs,
    /// The largest component the plugin registry takes (`64MiB`).
    #[arg(long, env = "HYSOPE_REGISTRY_MAX_COMPONENT", default_value = "64MiB", value_parser = crate::units::parse_size)]
    pub registry_max_component: u64,
    /// The components' bytes one registry namespace may hold (`2GiB`).
    #[arg(long, env = "HYSOPE_REGISTRY_NAMESPACE_STORAGE", default_value = "2GiB", value_parser = crate::units::parse_size)]
    pub registry_namespace_storage: u64,
    /// Do not publish the bundled plugins into the registry at start (by default
    /// they are, once: `hysope/NAME@VERSION`, signed with the data folder's
    /// bootstrap key, approved).
    #[arg(long, env = "HYSOPE_NO_PUBLISH_BUNDLED")]
    pub no_publish_bundled: bool,
    /// New versions of one package per day, at most.
    #[arg(long, env = "HYSOPE_REGISTRY_VERSIONS_PER_DAY", default_value_t = 10)]
    pub registry_versions_per_day: usize,
    /// New packages of one namespace per hour, at most.
    #[arg(long, env = "HYSOPE_REGISTRY_PACKAGES_PER_HOUR", default_value_t = 5)]
    pub registry_packages_per_hour: usize,
    /// Versions of one namespace waiting for review, at most.
    #[arg(long, env = "HYSOPE_REGISTRY_PENDING", default_value_t = 20)]
    pub registry_pending: usize,
    /// Where jobs are kept: `postgres://USER@HOST:PORT/DATABASE`, a database
    /// that several `hysope serve` gateways share (each then runs the jobs
    /// others accepted too); the data folder's store by default.
    #[arg(long = "store", env = "HYSOPE_STORE")]
    pub store_url: Option<String>,
    /// How accepted jobs reach a worker: `postgres` (a queue in the --store
    /// database: SKIP LOCKED rows woken by LISTEN/NOTIFY), `postgres://...` or
    /// `amqp://USER:PASSWORD@HOST:PORT/VHOST[?queue=NAME]` (RabbitMQ: durable
    /// queue `hysope.jobs`, persistent messages, publisher confirms, prefetch =
    /// --workers); in-process by default. A shared --store needs one.
    #[arg(long = "queue", env = "HYSOPE_QUEUE")]
    pub queue_url: Option<String>,
    /// How long a running job of a shared store stays its worker's without a
    /// renewal (renewed every 2 s at most): a worker that stops is noticed that
    /// much later, and its job queued again.
    #[arg(long, env = "HYSOPE_LEASE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub lease: std::time::Duration,
    /// Where the catalogue is kept: `pgstac://USER@HOST:PORT/DATABASE` (or
    /// `postgres://...`), a PostgreSQL database where pgstac 0.10 is installed
    /// (`pypgstac migrate`), which gateways share and pgstac's own tools read;
    /// the data folder's store by default.
    #[arg(long = "catalog", env = "HYSOPE_CATALOG")]
    pub catalog_url: Option<String>,
    /// Make every commit of the data folder's store (`store.redb`) record its
    /// allocator state, so that the first open after a crash (`kill -9`, power
    /// loss) takes no time instead of a walk of the whole file (81 s for
    /// 8.5 GB). A durable commit then costs about 1.4 ms more on such a file
    /// (p99 27-40 ms), 0.15 ms more on a small one.
    #[arg(long, env = "HYSOPE_STORE_QUICK_REPAIR")]
    pub store_quick_repair: bool,
    /// Let anonymous callers execute processes and follow the jobs they started by
    /// their links (a public demo). Off by default: executing needs a user's token.
    #[arg(long, env = "HYSOPE_ANONYMOUS_EXECUTE")]
    pub anonymous_execute: bool,
}

impl ServeArgs {
    /// The OIDC provider the arguments configure, if any.
    fn oidc(&self) -> anyhow::Result<Option<hysope_identity::OidcConfig>> {
        let Some(issuer) = &self.oidc_issuer else {
            return Ok(None);
        };
        let mut config = hysope_identity::OidcConfig::new(issuer.clone());
        config.audience = self.oidc_audience.clone();
        config.roles_claim = self.oidc_roles_claim.clone();
        config.portal_client = self.oidc_portal_client.clone();
        let mut scopes: Vec<&str> = vec!["openid"];
        for scope in self.oidc_portal_scope.split_whitespace() {
            if !scope
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
            {
                anyhow::bail!("--oidc-portal-scope: {scope:?} is not a scope token (RFC 6749 3.3)");
            }
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        config.portal_scope = scopes.join(" ");
        config.role_map = hysope_identity::OidcConfig::parse_role_map(&self.oidc_role_map)
            .map_err(|e| anyhow::anyhow!("--oidc-role-map: {e}"))?;
        config.default_role =
            hysope_identity::Role::parse(&self.oidc_default_role).with_context(|| {
                format!(
                    "--oidc-default-role {:?} is not anonymous, user, developer or operator",
                    self.oidc_default_role
                )
            })?;
        Ok(Some(config))
    }
}

/// What a `hysope serve` process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The API and workers (`hysope serve`).
    Gateway,
    /// Workers only (`hysope worker`): they run the jobs of a shared job store
    /// that gateways accepted, and answer `/ready` and `/metrics` on `--addr`.
    Worker,
}

/// `hysope serve`.
pub fn main(args: ServeArgs) -> std::process::ExitCode {
    run(args, Role::Gateway)
}

/// `hysope worker`.
pub fn worker(args: ServeArgs) -> std::process::ExitCode {
    run(args, Role::Worker)
}

fn run(args: ServeArgs, role: Role) -> std::process::ExitCode {
    // Handlers and jobs wait on the disk and on their tools: more threads than cores.
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads((2 * cores).max(4))
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return crate::fail(&e.into(), 1),
    };
    match runtime.block_on(serve(args, role)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => crate::fail(&e, 1),
    }
}

async fn serve(args: ServeArgs, role: Role) -> anyhow::Result<()> {
    if role == Role::Worker && (args.store_url.is_none() || args.queue_url.is_none()) {
        anyhow::bail!(
            "hysope worker runs the jobs gateways accepted: give the job store and queue they share (--store postgres://... --queue postgres|amqp://...)"
        );
    }
    let oidc = args.oidc()?;
    // JavaScript of deployed documents runs in worker processes with their own
    // memory and time limits (see hysope_engine::cwl::js_sandbox).
    hysope_engine::cwl::js_sandbox::install(hysope_engine::cwl::js_sandbox::SandboxSettings {
        program: std::env::current_exe().context("cannot find the hysope program")?,
        memory: args.expression_memory,
        time: args.expression_time,
    });
    let mut process_dirs = args.process_dirs;
    if process_dirs.is_empty() && std::path::Path::new("plugins").is_dir() {
        process_dirs.push(PathBuf::from("plugins"));
    }
    // Tools wait on their files as much as they compute: four tool runs per core
    // (against two) gave 0.92x to 1.35x the small synchronous jobs per second on
    // this 2-core machine's disk, 1.00x to 1.07x on tmpfs (BENCHMARKS.md). A job
    // gives its slot back once its tools have run, before it waits for the disk.
    let workers = args.workers.unwrap_or_else(|| {
        4 * std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    let engine =
        Engine::open(EngineSettings::from_env()).context("cannot start the wasm engine")?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot make {}", args.data_dir.display()))?;
    // Deployed tools run in the sandbox or in their container, never as processes.
    let backends = args
        .backends
        .open(
            &engine.limits().clone(),
            engine.plugin_path(),
            &args.data_dir,
            true,
        )
        .await?;
    let hpc = backends.hpc.clone();
    let run_backends: Option<std::sync::Arc<dyn hysope_jobs::RunBackends>> =
        match backends.hpc.is_some() || backends.images.is_some() {
            true => Some(std::sync::Arc::new(backends)),
            false => None,
        };
    let config = Config {
        backends: run_backends,
        data_dir: args.data_dir,
        process_dirs,
        input_roots: args.input_roots,
        workers,
        engine,
        results_url: args.results_url,
        allowed_hosts: hysope_server::guard::hosts_for(&addr, &args.allowed_hosts),
        egress: hysope_server::EgressPolicy {
            allowed: args.allow_egress,
            buckets: args.allow_buckets,
            ..Default::default()
        },
        max_waiting: args.max_waiting,
        job_time_limit: args.job_time_limit,
        oidc,
        policy: hysope_identity::Policy {
            anonymous_execute: args.anonymous_execute,
        },
        quotas: hysope_registry::Quotas {
            max_component: args.registry_max_component,
            storage_per_namespace: args.registry_namespace_storage,
            versions_per_day: args.registry_versions_per_day,
            packages_per_hour: args.registry_packages_per_hour,
            pending_per_namespace: args.registry_pending,
        },
        registry_url: args.registry_blobs.clone(),
        job_store_url: args.store_url.clone(),
        catalog_url: args.catalog_url.clone(),
        queue_url: args.queue_url.clone(),
        lease: args.lease,
        store_quick_repair: args.store_quick_repair,
        rule_dirs: args.rule_dirs.clone(),
    };
    let (state, requeued) = start(config).await?;
    let processes = state.jobs().processes().all().count();
    if role == Role::Worker {
        eprintln!(
            "hysope: worker with {workers} slots on the shared job store ({processes} processes, {requeued} jobs re-queued); readiness and metrics on http://{addr}/ready and /metrics, data in {}",
            state.data_dir().display()
        );
        hysope_server::serve_worker(listener, state, stop_signal()).await?;
        if let Some(hpc) = hpc {
            hpc.detach();
        }
        return Ok(());
    }
    let server_file = state.data_dir().join(SERVER_FILE);
    write_private(
        &server_file,
        &serde_json::json!({
            "url": format!("http://{addr}"),
            "pid": std::process::id(),
            "local_token": state.local_secret(),
        })
        .to_string(),
    )
    .with_context(|| format!("cannot write {}", server_file.display()))?;
    let items = state.catalog().item_count().unwrap_or(0);
    eprintln!(
        "hysope: serving OGC API - Processes on http://{addr}/ and STAC on http://{addr}/stac ({processes} processes, {items} catalogue items, {requeued} jobs re-queued, data in {})",
        state.data_dir().display()
    );
    if !args.no_publish_bundled {
        // In the background: the server answers meanwhile.
        let bundled = state.clone();
        tokio::spawn(async move {
            match hysope_server::publish_bundled(&bundled).await {
                Ok(list) if !list.is_empty() => {
                    tracing::info!(published = %list.join(", "), "bundled plugins published in the registry");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = format!("{e:#}"), "bundled plugins not published"),
            }
        });
    }
    hysope_server::serve(listener, state, stop_signal()).await?;
    if let Some(hpc) = hpc {
        // The Slurm jobs of running jobs keep running: the next start re-attaches them.
        hpc.detach();
    }
    let _ = std::fs::remove_file(&server_file);
    Ok(())
}

/// Writes a file only its owner can read (it holds a secret).
/// A new file is written beside it (mode 0600; `create_new` never opens through
/// a link, and one left at that name is removed first) and renamed over it: a file left by an earlier server, with another mode, or a link put in
/// its place, is replaced, never written through.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let fresh = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&fresh);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&fresh)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&fresh, path)
}

/// Resolves on Ctrl-C or SIGTERM (what `kill` and container runtimes send): the
/// server stops taking requests, finishes those in flight and removes
/// `server.json`.
async fn stop_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
