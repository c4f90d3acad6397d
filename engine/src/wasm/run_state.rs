//! The state of a run's store (the WASI context, the memory limiter, the events
//! the plugin emits) and the host side of the plugin world (`hysope:plugin/host`).

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::hysope::plugin::host;
use super::limits::MemoryLimiter;
use super::{LogLevel, RunEvent};

/// Per-store state: WASI context, limits and the host interface's sinks.
pub(super) struct RunState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) memory: MemoryLimiter,
    pub(super) events: Vec<RunEvent>,
    pub(super) sender: Option<UnboundedSender<RunEvent>>,
    pub(super) cancel: CancellationToken,
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl RunState {
    fn emit(&mut self, event: RunEvent) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(event.clone());
        }
        // Bounded: a plugin logging in a tight loop must not exhaust the host.
        if self.events.len() < 10_000 {
            self.events.push(event);
        }
    }
}

const MAX_MESSAGE: usize = 4096;

fn clip(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    message
}

impl host::Host for RunState {
    fn log(&mut self, level: host::Level, message: String) {
        let level = match level {
            host::Level::Trace => LogLevel::Trace,
            host::Level::Debug => LogLevel::Debug,
            host::Level::Info => LogLevel::Info,
            host::Level::Warn => LogLevel::Warn,
            host::Level::Error => LogLevel::Error,
        };
        self.emit(RunEvent::Log {
            level,
            message: clip(message),
        });
    }

    fn progress(&mut self, percent: f32, message: String) {
        let percent = if percent.is_finite() {
            percent.clamp(0.0, 100.0)
        } else {
            0.0
        };
        self.emit(RunEvent::Progress {
            percent,
            message: clip(message),
        });
    }

    fn cancelled(&mut self) -> bool {
        self.cancel.is_cancelled()
    }
}
