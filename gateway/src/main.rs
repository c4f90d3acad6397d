//! The `hysope` command: plugin scaffolding and builds, running components and CWL
//! tools, and the portal server.

use std::process::ExitCode;

// The server allocates and frees many small buffers per request on every thread
// (JSON, redb pages, WASI); mimalloc's per-thread heaps serve them without the
// contention and consolidation passes of glibc's allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
