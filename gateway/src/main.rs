//! The `hysope` command: plugin scaffolding and builds, running components and CWL
//! tools, and the portal server.

use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HYSOPE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    hysope_gateway::cli::main()
}
