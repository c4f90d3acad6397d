//! `hysope run`: a bare component with an argv, or a CWL tool with a job.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use hysope_engine::cwl;
use hysope_engine::wasm::{Limits, LogLevel, RunEvent, RunRequest};
use hysope_engine::{Engine, EngineSettings, Error};
use serde_json::{Map, Value};

use super::units::{parse_duration, parse_size};
use super::{EXIT_UNSUPPORTED, EXIT_USAGE, UsageError, fail};

const USAGE: &str = "usage: hysope run <component.wasm | tool.cwl> [job.yml] [key=value ...] [--out DIR] [--in DIR] \
                     [--stdin FILE|-] [--env NAME=VALUE] [--timeout 30s] [--memory 512MiB] [--output-cap 1GiB] [--quiet] \
                     [--backend local|hpc] [--hpc-config FILE] [--container-runtime apptainer|singularity|bwrap] [--image-cache DIR] [-- ARGS]";

/// Options of `hysope run`, parsed by hand so that a component's own flags pass through.
#[derive(Debug, Default)]
struct RunArgs {
    target: Option<PathBuf>,
    positional: Vec<String>,
    out: Option<PathBuf>,
    input: Option<PathBuf>,
    stdin: Option<PathBuf>,
    env: Vec<(String, String)>,
    quiet: bool,
    limits: Limits,
    backends: super::backends::BackendArgs,
}

fn parse(args: Vec<String>) -> anyhow::Result<RunArgs> {
    let mut run = RunArgs::default();
    run.backends.backend = "local".into();
    let mut iter = args.into_iter();
    let mut raw = false;
    while let Some(arg) = iter.next() {
        if raw {
            run.positional.push(arg);
            continue;
        }
        let mut value = |flag: &str| iter.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        match arg.as_str() {
            "--" => raw = true,
            "--out" | "--outdir" => run.out = Some(PathBuf::from(value(&arg)?)),
            "--in" => run.input = Some(PathBuf::from(value(&arg)?)),
            "--stdin" => run.stdin = Some(PathBuf::from(value(&arg)?)),
            "--env" => {
                let pair = value(&arg)?;
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--env needs NAME=VALUE, not {pair:?}"))?;
                run.env.push((k.to_string(), v.to_string()));
            }
            "--timeout" => {
                run.limits.timeout =
                    parse_duration(&value(&arg)?).map_err(|e| anyhow!("--timeout: {e}"))?
            }
            "--memory" => {
                run.limits.memory_bytes =
                    parse_size(&value(&arg)?).map_err(|e| anyhow!("--memory: {e}"))?
            }
            "--output-cap" => {
                run.limits.output_bytes =
                    parse_size(&value(&arg)?).map_err(|e| anyhow!("--output-cap: {e}"))?
            }
            "--quiet" | "-q" => run.quiet = true,
            "--backend" => {
                let backend = value(&arg)?;
                if !matches!(backend.as_str(), "local" | "hpc") {
                    bail!("--backend: local or hpc, not {backend:?}");
                }
                run.backends.backend = backend;
            }
            "--hpc-config" => run.backends.hpc_config = Some(PathBuf::from(value(&arg)?)),
            "--container-runtime" => run.backends.container_runtime = Some(value(&arg)?),
            "--image-cache" => run.backends.image_cache = Some(PathBuf::from(value(&arg)?)),
            "--help" | "-h" if run.target.is_none() => bail!("{USAGE}"),
            _ if run.target.is_none() => run.target = Some(PathBuf::from(arg)),
            _ => run.positional.push(arg),
        }
    }
    if run.target.is_none() {
        bail!("missing the component or tool to run\n{USAGE}");
    }
    Ok(run)
}

/// The process's engine (the wasm host with its on-disk cache, the plugin search
/// path) from the environment (see [`EngineSettings::from_env`]).
pub fn open_engine() -> anyhow::Result<Engine> {
    Engine::open(EngineSettings::from_env()).context("cannot start the wasm engine")
}

pub fn main(args: Vec<String>) -> ExitCode {
    let run = match parse(args) {
        Ok(run) => run,
        Err(e) => return fail(&e, EXIT_USAGE),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow!(e).context("cannot start the async runtime"), 1),
    };
    let target = run.target.clone().unwrap_or_default();
    let is_cwl = matches!(
        target.extension().and_then(|e| e.to_str()),
        Some("cwl" | "yml" | "yaml" | "json")
    );
    let result = if is_cwl {
        runtime.block_on(run_cwl(&target, run))
    } else {
        runtime.block_on(run_component(&target, run))
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            if error.is::<UsageError>() {
                return fail(&error, EXIT_USAGE);
            }
            let code = match error.downcast_ref::<Error>() {
                Some(Error::Unsupported { .. }) => EXIT_UNSUPPORTED,
                Some(Error::Cwl { .. }) => EXIT_USAGE,
                Some(Error::Exit { code, .. }) => {
                    u8::try_from(*code).ok().filter(|c| *c != 0).unwrap_or(1)
                }
                _ => 1,
            };
            fail(&error, code)
        }
    }
}

/// Prints plugin events on stderr as they come.
fn event_printer(
    quiet: bool,
) -> (
    tokio::sync::mpsc::UnboundedSender<RunEvent>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
    let task = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            if quiet {
                continue;
            }
            match event {
                RunEvent::Log { level, message } => {
                    let level = match level {
                        LogLevel::Trace => "trace",
                        LogLevel::Debug => "debug",
                        LogLevel::Info => "info",
                        LogLevel::Warn => "warn",
                        LogLevel::Error => "error",
                    };
                    eprintln!("[{level}] {message}");
                }
                RunEvent::Progress { percent, message } => eprintln!("[{percent:>5.1}%] {message}"),
            }
        }
    });
    (tx, task)
}

async fn run_component(path: &Path, run: RunArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine()?.wasm().clone();
    let load_path = path.to_path_buf();
    let plugin = {
        let engine = engine.clone();
        tokio::task::spawn_blocking(move || engine.load_file(&load_path)).await??
    };
    if let Some(out) = &run.out {
        std::fs::create_dir_all(out)
            .with_context(|| format!("cannot create output directory {}", out.display()))?;
    }
    if let Some(input) = run.input.as_ref().filter(|i| !i.is_dir()) {
        bail!("--in {}: not a directory", input.display());
    }
    let (events, printer) = event_printer(run.quiet);
    let stdin = match &run.stdin {
        None => Vec::new(),
        Some(path) if path.as_os_str() == "-" => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
                .context("cannot read stdin")?;
            bytes
        }
        Some(path) => std::fs::read(path).with_context(|| format!("--stdin {}", path.display()))?,
    };
    let request = RunRequest {
        args: run.positional,
        env: run.env,
        stdin,
        input_dir: run.input,
        output_dir: run.out,
        limits: run.limits,
        events: Some(events),
        ..RunRequest::default()
    };
    let cancel = request.cancel.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    let result = engine.run(&plugin, request).await;
    ctrl_c.abort();
    let _ = printer.await;
    use std::io::Write;
    match result {
        Ok(outcome) => {
            std::io::stdout().write_all(&outcome.stdout)?;
            std::io::stderr().write_all(&outcome.stderr)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(Error::Exit { code, outcome, .. }) => {
            std::io::stdout().write_all(&outcome.stdout)?;
            std::io::stderr().write_all(&outcome.stderr)?;
            eprintln!("hysope: {} exited with code {code}", plugin.name());
            Ok(ExitCode::from(
                u8::try_from(code).ok().filter(|c| *c != 0).unwrap_or(1),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn run_cwl(path: &Path, run: RunArgs) -> anyhow::Result<ExitCode> {
    let loaded = cwl::load(&path.display().to_string())?;
    let job = command_line_job(path, &loaded.process, &run.positional)
        .map_err(|e| UsageError(format!("{e:#}")))?;
    let cwd = std::env::current_dir()?;
    let outdir = run.out.clone().unwrap_or_else(|| cwd.clone());
    std::fs::create_dir_all(&outdir)
        .with_context(|| format!("cannot create output directory {}", outdir.display()))?;
    let outdir = std::fs::canonicalize(&outdir)?;
    let (events, printer) = event_printer(run.quiet);
    let output = {
        let (runner, dir) =
            runner_with(run.limits.clone(), Some(events), &run.backends, &outdir).await?;
        let output = runner.run(&loaded.process, &job, &outdir).await;
        if !run.quiet {
            dir.report();
        }
        output
    };
    let _ = printer.await;
    println!("{}", hysope_engine::cwl::json::pretty(&output?, 4));
    Ok(ExitCode::SUCCESS)
}

/// A runner with the backends the flags name before the engine's own
/// (sandboxed plugins, local tools) and these limits, its scratch folders under
/// the system's temporary folder (or the HPC run's folder).
pub async fn runner_with(
    limits: Limits,
    events: Option<tokio::sync::mpsc::UnboundedSender<RunEvent>>,
    backends: &super::backends::BackendArgs,
    outdir: &Path,
) -> anyhow::Result<(cwl::Runner, super::backends::RunDir)> {
    let engine = open_engine()?;
    let beside = outdir.parent().unwrap_or(outdir);
    let opened = backends
        .open(&limits, engine.plugin_path(), beside, false)
        .await?;
    let scratch = std::env::temp_dir().join(format!("hysope-run-{}", std::process::id()));
    let run = super::backends::run_name();
    let (before, scratch) = opened.for_run(&run, scratch)?;
    let dir = super::backends::RunDir {
        dir: match &opened.hpc {
            Some(h) => h.work_dir().join(&run),
            None => scratch.clone(),
        },
        hpc: opened.hpc.clone(),
    };
    let mut builder = engine.runner(scratch).limits(limits);
    for backend in before {
        builder = builder.backend(backend);
    }
    if let Some(events) = events {
        builder = builder.events(events);
    }
    Ok((builder.build(), dir))
}

/// The job given on the command line: an optional job file, then `key=value` pairs.
fn command_line_job(
    path: &Path,
    process: &Value,
    positional: &[String],
) -> anyhow::Result<Map<String, Value>> {
    let mut job = Map::new();
    for arg in positional {
        match arg.split_once('=') {
            Some((key, value)) => {
                let def = cwl::inputs_of(process)
                    .iter()
                    .find(|i| i.get("id").and_then(Value::as_str) == Some(key))
                    .ok_or_else(|| {
                        let known = cwl::values::ids(process, "inputs");
                        anyhow!(
                            "{} has no input {key:?} (inputs: {})",
                            path.display(),
                            known.join(", ")
                        )
                    })?;
                job.insert(
                    key.to_string(),
                    typed_value(value, def.get("type").unwrap_or(&Value::Null))?,
                );
            }
            None if job.is_empty() && Path::new(arg).is_file() => {
                for (k, v) in cwl::load_job(Path::new(arg))? {
                    job.insert(k, v);
                }
            }
            None => bail!("{arg:?} is neither a job file nor key=value\n{USAGE}"),
        }
    }
    let cwd = std::env::current_dir()?;
    for value in job.values_mut() {
        cwl::load::absolutise_files(value, &cwd);
    }
    Ok(job)
}

/// A `key=value` from the command line as a value of the input's (normalised) CWL type.
fn typed_value(text: &str, ty: &Value) -> anyhow::Result<Value> {
    match ty {
        Value::Array(options) => {
            let mut last = None;
            for option in options.iter().filter(|o| o.as_str() != Some("null")) {
                match typed_value(text, option) {
                    Ok(v) => return Ok(v),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| anyhow!("{text:?} does not fit the input's type")))
        }
        Value::Object(m) if m.get("type").and_then(Value::as_str) == Some("array") => {
            let items = m
                .get("items")
                .cloned()
                .unwrap_or(Value::String("string".into()));
            let values: anyhow::Result<Vec<Value>> =
                text.split(',').map(|t| typed_value(t, &items)).collect();
            Ok(Value::Array(values?))
        }
        Value::Object(m) if m.get("type").and_then(Value::as_str) == Some("enum") => {
            Ok(Value::String(text.to_string()))
        }
        Value::String(name) => Ok(match name.as_str() {
            "File" | "Directory" => serde_json::json!({ "class": name, "path": text }),
            "int" | "long" => Value::from(
                text.parse::<i64>()
                    .map_err(|_| anyhow!("{text:?} is not an integer"))?,
            ),
            "float" | "double" => Value::from(
                text.parse::<f64>()
                    .map_err(|_| anyhow!("{text:?} is not a number"))?,
            ),
            "boolean" => Value::Bool(match text {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" => false,
                _ => bail!("{text:?} is not a boolean"),
            }),
            _ => Value::String(text.to_string()),
        }),
        _ => Ok(Value::String(text.to_string())),
    }
}
