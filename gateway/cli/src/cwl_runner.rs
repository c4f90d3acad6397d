//! `hysope cwl-runner`: the CWL command-line runner contract (as used by `cwltest`):
//! `cwl-runner [--outdir DIR] [--quiet] [--validate] document[#id] [job]`, the output
//! object as JSON on stdout, exit code 33 for an unsupported feature.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use hysope_engine::Error;
use hysope_engine::cwl;
use hysope_engine::wasm::Limits;
use serde_json::Map;

use super::{EXIT_UNSUPPORTED, fail};

#[derive(Args)]
#[command(version)]
pub struct CwlRunnerArgs {
    /// Folder for the outputs (default: the current folder).
    #[arg(long)]
    outdir: Option<PathBuf>,
    /// Only errors on stderr.
    #[arg(long)]
    quiet: bool,
    /// Check the document and exit.
    #[arg(long)]
    validate: bool,
    /// Print the loaded, normalised document and exit.
    #[arg(long)]
    print_pre: bool,
    /// Tools with a DockerRequirement run as local processes (the default when no
    /// container runtime is named).
    #[arg(long)]
    no_container: bool,
    /// Where tools run.
    #[command(flatten)]
    backends: super::backends::BackendArgs,
    /// The CWL document, with an optional `#id` for a `$graph` member.
    document: String,
    /// The job (YAML or JSON); none for a process without required inputs.
    job: Option<PathBuf>,
}

pub fn main(args: CwlRunnerArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!(e), 1),
    };
    match runtime.block_on(run(args)) {
        Ok(code) => code,
        Err(error) => {
            let code = match error.downcast_ref::<Error>() {
                Some(Error::Unsupported { .. }) => EXIT_UNSUPPORTED,
                _ => 1,
            };
            fail(&error, code)
        }
    }
}

async fn run(args: CwlRunnerArgs) -> anyhow::Result<ExitCode> {
    let loaded = cwl::load(&args.document)?;
    if args.print_pre {
        println!("{}", serde_json::to_string_pretty(&loaded.process)?);
        return Ok(ExitCode::SUCCESS);
    }
    if args.validate {
        cwl::refuse_unknown_requirements(&loaded.process, &format!("{}#", args.document))?;
        if !args.quiet {
            eprintln!("{} is valid CWL", args.document);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let job = match &args.job {
        Some(path) => cwl::load_job(path)?,
        None => Map::new(),
    };
    let outdir = args.outdir.clone().unwrap_or(std::env::current_dir()?);
    std::fs::create_dir_all(&outdir)?;
    let outdir = std::fs::canonicalize(&outdir)?;
    let limits = Limits {
        timeout: std::time::Duration::from_secs(3600),
        ..Limits::default()
    };
    let mut backends = args.backends.clone();
    if args.no_container {
        backends.container_runtime = None;
    }
    let (runner, dir) = super::run::runner_with(limits, None, &backends, &outdir).await?;
    let output = runner.run(&loaded.process, &job, &outdir).await;
    if !args.quiet {
        dir.report();
    }
    let output = output?;
    println!("{}", hysope_engine::cwl::json::pretty(&output, 4));
    Ok(ExitCode::SUCCESS)
}
