//! `hysope exec-step FILE`: runs one wasm step inside a batch allocation, as the
//! HPC backend wrote it (`invocation.json` in the step's folder): the same
//! sandbox and limits as on the portal. The plugin's events go to
//! `events.jsonl` beside the file as they come; the process exits with the
//! plugin's exit code, or writes `error.json` and exits 125 when the sandbox
//! stopped it (a trap, a limit).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hysope_engine::cwl::{Backend, WasmBackend};
use hysope_engine::wasm::RunEvent;
use hysope_hpc::{StepError, WasmStep};

use super::fail;

pub fn main(file: PathBuf) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!(e), 1),
    };
    match runtime.block_on(run(file)) {
        Ok(code) => code,
        Err(e) => fail(&e, 125),
    }
}

async fn run(file: PathBuf) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let step: WasmStep =
        serde_json::from_str(&text).with_context(|| format!("{}", file.display()))?;
    let dir = file
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let engine = super::run::open_engine()?;
    let (invocation, limits) = step.invocation();
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
    let events_file = dir.join("events.jsonl");
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&events_file)?);
        while let Some(event) = received.blocking_recv() {
            if let Ok(line) = serde_json::to_string(&event) {
                writeln!(out, "{line}")?;
                out.flush()?;
            }
        }
        Ok(())
    });
    let backend = WasmBackend::new(engine.wasm().clone(), limits, engine.plugin_path().to_vec())
        .with_events(events);
    let result = backend.execute(invocation).await;
    drop(backend);
    let _ = writer.await;
    match result {
        Ok(result) => Ok(ExitCode::from(result.exit_code.clamp(0, 255) as u8)),
        Err(hysope_engine::Error::Exit { code, .. }) => {
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Err(e) => {
            let kind = match &e {
                hysope_engine::Error::Timeout { .. } => "timeout",
                hysope_engine::Error::Cancelled { .. } => "cancelled",
                _ => "other",
            };
            let error = StepError {
                kind: kind.into(),
                message: e.to_string(),
            };
            let path = dir.join("error.json");
            std::fs::write(&path, serde_json::to_string(&error)?)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(ExitCode::from(125))
        }
    }
}
