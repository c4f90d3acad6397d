//! The `hysope` command: plugin scaffolding and builds, running components and CWL
//! tools, ingesting product files, and the portal server (`hysope serve`, wired
//! here from the server, jobs and catalogue crates).

// The server allocates and frees many small buffers per request on every thread
// (JSON, redb pages, WASI); mimalloc's per-thread heaps serve them without the
// contention and consolidation passes of glibc's allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod backends;
mod config_file;
mod cwl_runner;
mod exec_step;
mod ingest;
mod local;
mod plugin;
mod registry;
mod run;
mod serve;
mod telemetry;
mod units;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Exit code for wrong usage (bad flags, unreadable arguments).
pub const EXIT_USAGE: u8 = 2;
/// Exit code of a CWL runner for an unsupported requirement (cwltest convention).
pub const EXIT_UNSUPPORTED: u8 = 33;

#[derive(Parser)]
#[command(
    name = "hysope",
    version,
    about = "Hysope: hydrology processing with sandboxed WebAssembly plugins described by CWL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How log lines are written to stderr: `text` for people, `json` (one object
    /// a line: time, level, message, fields, and the spans' fields such as
    /// `request_id` and `job_id`) for a log collector.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "HYSOPE_LOG_FORMAT"
    )]
    log_format: LogFormat,
}

/// The form of log lines.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs to stderr at the level of `HYSOPE_LOG` (`warn` by default), and traces
/// to an OpenTelemetry collector when the environment names one (see
/// [`telemetry`]); the guard flushes the traces when dropped.
fn init_logs(format: LogFormat) -> Option<telemetry::Guard> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("HYSOPE_LOG").unwrap_or_else(|_| "warn".into());
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        // A closed stderr (the terminal gone, a reader that stopped) loses log lines;
        // it must not panic the task that logs (tracing-subscriber reports a failed
        // write with eprintln!, which panics on a broken pipe).
        .log_internal_errors(false);
    let logs = match format {
        LogFormat::Text => logs.with_filter(filter).boxed(),
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .with_filter(filter)
            .boxed(),
    };
    let registry = tracing_subscriber::registry().with(logs);
    if !telemetry::wanted() {
        registry.init();
        return None;
    }
    #[cfg(feature = "otel")]
    match telemetry::layer() {
        Ok((traces, guard)) => {
            registry.with(traces).init();
            Some(guard)
        }
        Err(e) => {
            registry.init();
            tracing::error!(error = %e, "no traces: the OTLP exporter cannot be made");
            None
        }
    }
    #[cfg(not(feature = "otel"))]
    {
        registry.init();
        tracing::warn!(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set, but this hysope was built without the otel feature: no traces"
        );
        None
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create, build and describe plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Run a component (`.wasm`) or a CWL tool (`.cwl`).
    ///
    /// hysope run <component.wasm | tool.cwl> [job.yml] [key=value ...] [--out DIR]
    /// [--in DIR] [--stdin FILE|-] [--env NAME=VALUE] [--timeout 30s] [--memory 512MiB]
    /// [--output-cap 1GiB] [--quiet] [--backend local|hpc] [--hpc-config FILE]
    /// [--container-runtime apptainer|singularity|bwrap] [--image-cache DIR] [-- ARGS]
    ///
    /// A component gets the remaining arguments as its argv; it sees no file unless
    /// `--in DIR` (read-only at /in) or `--out DIR` (read-write at /out) is given.
    /// A CWL tool gets its job (a file and/or key=value pairs) and the command
    /// prints the CWL output object as JSON.
    #[command(disable_help_flag = true)]
    Run {
        /// Target, job, key=value pairs, options and component arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// Run a CWL document with its job, as the CWL reference runner does.
    CwlRunner(cwl_runner::CwlRunnerArgs),
    /// Serve OGC API - Processes (the bundled plugins and deployed CWL documents)
    /// and the STAC API of the catalogue.
    Serve(Box<serve::ServeArgs>),
    /// Run the jobs that gateways sharing a job store and a queue accepted
    /// (`--store postgres://... --queue ...`), without the API: `/ready` and
    /// `/metrics` on `--addr` for the platform that watches it.
    Worker(Box<serve::ServeArgs>),
    /// Ingest product files (SWOT RiverSP/LakeSP zips, PIXC/PIXCVec NetCDF, USGS
    /// RDB and WaterML JSON) into the catalogue.
    Ingest(ingest::IngestArgs),
    /// Administer a data folder: personal access tokens.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Review the plugin registry's submissions (operators).
    #[command(subcommand)]
    Registry(registry::RegistryCommand),
    /// Evaluates JavaScript expressions read from stdin, one JSON request a line
    /// (the server's expression workers; not for people).
    #[command(hide = true)]
    JsWorker,
    /// Runs one wasm step of the HPC backend inside its batch allocation, from
    /// the step's invocation file (not for people).
    #[command(hide = true)]
    ExecStep {
        /// The step's `invocation.json`.
        file: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let argv = match config_file::expand(std::env::args_os().collect(), &Cli::command()) {
        Ok(argv) => argv,
        Err(e) => return crate::fail(&e, 2),
    };
    let cli = Cli::parse_from(argv);
    let _traces = init_logs(cli.log_format);
    match cli.command {
        Command::Plugin(command) => plugin::main(command),
        Command::Run { args } => run::main(args),
        Command::CwlRunner(args) => cwl_runner::main(args),
        Command::Serve(args) => serve::main(*args),
        Command::Worker(args) => serve::worker(*args),
        Command::Ingest(args) => ingest::main(args),
        Command::Admin(command) => admin::main(command),
        Command::Registry(command) => registry::main(command),
        Command::ExecStep { file } => exec_step::main(file),
        Command::JsWorker => match hysope_engine::cwl::js_sandbox::worker_main() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => crate::fail(&e.into(), 1),
        },
    }
}

/// Prints an error with its chain of causes and returns `code`.
pub fn fail(error: &anyhow::Error, code: u8) -> ExitCode {
    eprintln!(
        "hysope: error: {}",
        hysope_server::errors::chain_text(error)
    );
    ExitCode::from(code)
}

/// A mistake in how the command was called: reported with exit code [`EXIT_USAGE`].
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}
