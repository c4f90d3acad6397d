//! What a run may use: the per-run [`Limits`], the memory limiter that enforces the
//! memory cap, and the reasons a run is stopped from outside.

use std::time::Duration;

use serde::Serialize;
use wasmtime::ResourceLimiter;

/// Per-run limits. The defaults are safe for an untrusted plugin on a shared host.
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    /// Cap on the plugin's linear memory, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock deadline of the run (instantiation included).
    pub timeout: Duration,
    /// Cap on the total size of the output directory, in bytes.
    pub output_bytes: u64,
    /// Cap on captured stdout and on captured stderr, each, in bytes.
    pub stdio_bytes: usize,
    /// Cap on open handles (files, directories, streams) at once.
    pub max_handles: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 512 << 20,
            timeout: Duration::from_secs(30),
            output_bytes: 1 << 30,
            stdio_bytes: 1 << 20,
            max_handles: 1024,
        }
    }
}

/// Why the host stopped a run.
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub(super) enum Stop {
    #[error("run cancelled")]
    Cancelled,
    #[error("deadline reached")]
    Timeout,
    #[error("output cap exceeded")]
    Output,
}

/// The pool could not take one more instance: the message, or `None` for another
/// failure.
pub(super) fn capacity_error(error: &wasmtime::Error) -> Option<String> {
    let text = format!("{error:#}");
    (text.contains("maximum concurrent")
        || text.contains("pooling allocator")
        || text.contains("concurrent instance limit"))
    .then_some(text)
}

/// The memory cap of one run, and what the run asked for.
pub(super) struct MemoryLimiter {
    /// The cap, in bytes.
    pub(super) cap: usize,
    /// The largest memory granted.
    pub(super) peak: usize,
    /// A growth refused, and to what size.
    pub(super) refused: Option<usize>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.refused = Some(desired);
            return Err(wasmtime::format_err!(
                "memory cap of {} bytes reached",
                self.cap
            ));
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}
