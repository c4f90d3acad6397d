//! The engine's one error type: every failure of loading, validating or running a
//! plugin or a CWL document ends up here, naming what failed and why.

use std::path::PathBuf;
use std::time::Duration;

use crate::wasm::RunOutcome;

/// Errors of the Hysope engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The engine could not be configured (pool size, cache directory).
    #[error("engine setup failed: {0}")]
    Setup(String),
    /// The bytes are not a valid component for this host.
    #[error("plugin {plugin} is not a valid component: {reason}")]
    InvalidComponent {
        /// Plugin name.
        plugin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The plugin trapped (panic, unreachable, out-of-bounds access, stack overflow).
    #[error("plugin {plugin} trapped: {reason}")]
    Trap {
        /// Plugin name.
        plugin: String,
        /// The trap message with its wasm backtrace.
        reason: String,
    },
    /// The plugin ran past its wall-clock deadline.
    #[error("plugin {plugin} exceeded its deadline of {limit:?}")]
    Timeout {
        /// Plugin name.
        plugin: String,
        /// The deadline it was given.
        limit: Duration,
    },
    /// The plugin tried to grow its memory past the cap.
    #[error("plugin {plugin} exceeded its memory cap of {limit} bytes (asked for {requested})")]
    MemoryLimit {
        /// Plugin name.
        plugin: String,
        /// The cap in bytes.
        limit: u64,
        /// The size it asked for.
        requested: u64,
    },
    /// The plugin wrote more than the output cap into its output directory.
    #[error(
        "plugin {plugin} wrote more than its output cap of {limit} bytes; its output was discarded"
    )]
    OutputLimit {
        /// Plugin name.
        plugin: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// The plugin left a symbolic link in its output directory that does not resolve
    /// inside it (the host, following it, would serve or copy files the plugin may
    /// not read). The output is discarded.
    #[error(
        "plugin {plugin} left a symbolic link in its output that leads out of it: {link} -> {target}; its output was discarded"
    )]
    OutputLink {
        /// Plugin name.
        plugin: String,
        /// The link, relative to the output directory.
        link: String,
        /// What the link holds.
        target: String,
    },
    /// The plugin held more handles (files, streams) than allowed.
    #[error("plugin {plugin} exceeded its cap of {limit} open handles")]
    HandleLimit {
        /// Plugin name.
        plugin: String,
        /// The cap.
        limit: usize,
    },
    /// The run was cancelled from outside.
    #[error("plugin {plugin} was cancelled")]
    Cancelled {
        /// Plugin name.
        plugin: String,
    },
    /// The plugin exited with a non-zero code; the outcome holds its output and logs.
    #[error("plugin {plugin} exited with code {code}{}", stderr_tail(outcome))]
    Exit {
        /// Plugin name.
        plugin: String,
        /// Its exit code.
        code: i32,
        /// Everything the run produced.
        outcome: Box<RunOutcome>,
    },
    /// No instance slot was free in the pool.
    #[error("no capacity left to run plugin {plugin}: {reason}")]
    Capacity {
        /// Plugin name.
        plugin: String,
        /// The allocator's message.
        reason: String,
    },
    /// A batch system (Slurm) did not run a step to its end: `reason` is what it
    /// said (`TIMEOUT`, `CANCELLED`, a pending reason it can never get past) or
    /// that the job was lost.
    #[error("batch job {job} of {tool} failed: {reason}")]
    Batch {
        /// The tool.
        tool: String,
        /// The batch system's job id.
        job: String,
        /// What happened.
        reason: String,
    },
    /// A CWL document or job is wrong; `location` says where (file, line or JSON pointer).
    #[error("{location}: {message}")]
    Cwl {
        /// File and position or JSON pointer.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// Something bigger than one plugin run (a whole job) ran past its time.
    #[error("{what} ran past its time limit of {}", humantime_secs(*limit))]
    TimeLimit {
        /// What ran.
        what: String,
        /// Its limit.
        limit: Duration,
    },
    /// A bug of Hysope met while running (a panic, caught): the run fails with it,
    /// the server goes on.
    #[error("internal error (a bug of Hysope, please report it): {0}")]
    Internal(String),
    /// A CWL document uses a feature this engine does not implement.
    #[error("{location}: unsupported: {message}")]
    Unsupported {
        /// File and position or JSON pointer.
        location: String,
        /// The feature.
        message: String,
    },
}

fn stderr_tail(outcome: &RunOutcome) -> String {
    let text = String::from_utf8_lossy(&outcome.stderr);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let tail: String = text
        .chars()
        .rev()
        .take(400)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!(": {tail}")
}

impl Error {
    /// A file error at `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A CWL error at `location`.
    pub fn cwl(location: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Cwl {
            location: location.into(),
            message: message.into(),
        }
    }

    /// A short machine-readable name of the cause, for metrics and job records.
    pub fn cause(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::Setup(_) => "setup",
            Error::InvalidComponent { .. } => "invalid-component",
            Error::Trap { .. } => "trap",
            Error::Timeout { .. } => "timeout",
            Error::MemoryLimit { .. } => "memory-limit",
            Error::OutputLimit { .. } => "output-limit",
            Error::OutputLink { .. } => "output-link",
            Error::HandleLimit { .. } => "handle-limit",
            Error::Cancelled { .. } => "cancelled",
            Error::Exit { .. } => "exit",
            Error::Capacity { .. } => "capacity",
            Error::Cwl { .. } => "invalid-cwl",
            Error::Unsupported { .. } => "unsupported",
            Error::Internal(_) => "internal",
            Error::TimeLimit { .. } => "timeout",
            Error::Batch { .. } => "batch",
        }
    }
}

fn humantime_secs(limit: Duration) -> String {
    format!("{} s", limit.as_secs_f64())
}

/// Result with the engine's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
