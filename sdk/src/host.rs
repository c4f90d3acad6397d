//! Logs, progress and cancellation: through the `hysope:plugin/host` interface
//! inside the sandbox, on stderr in a native build of the same code.

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Finest detail.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal information.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

#[cfg(target_arch = "wasm32")]
mod imp {
    wit_bindgen::generate!({
        path: "../wit",
        world: "hysope:plugin/plugin",
    });

    use hysope::plugin::host;

    pub fn log(level: super::LogLevel, message: &str) {
        let level = match level {
            super::LogLevel::Trace => host::Level::Trace,
            super::LogLevel::Debug => host::Level::Debug,
            super::LogLevel::Info => host::Level::Info,
            super::LogLevel::Warn => host::Level::Warn,
            super::LogLevel::Error => host::Level::Error,
        };
        host::log(level, message);
    }

    pub fn progress(percent: f32, message: &str) {
        host::progress(percent, message);
    }

    pub fn cancelled() -> bool {
        host::cancelled()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub fn log(level: super::LogLevel, message: &str) {
        eprintln!("[{}] {message}", format!("{level:?}").to_lowercase());
    }

    pub fn progress(percent: f32, message: &str) {
        eprintln!("[progress {percent:.0}%] {message}");
    }

    pub fn cancelled() -> bool {
        false
    }
}

/// Writes a line to the job's log.
pub fn log(level: LogLevel, message: &str) {
    imp::log(level, message)
}

/// Reports progress in percent (0..=100) with a short message.
pub fn progress(percent: f32, message: &str) {
    imp::progress(percent, message)
}

/// True once the run was cancelled: stop early and return an error.
pub fn cancelled() -> bool {
    imp::cancelled()
}
