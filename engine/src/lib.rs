//! The Hysope engine: runs hydrology algorithms described by CWL, either as
//! sandboxed WebAssembly components (the [`wasm`] host) or as local processes.
//! It knows nothing of HTTP: the CLI and the gateway call the same API, an
//! [`Engine`] that hands out configured runners.

mod configured;
pub mod conformance;
pub mod cwl;
pub mod error;
pub mod wasm;

pub use configured::{Engine, EngineSettings, RunnerBuilder};
pub use error::{Error, Result};

/// The engine's version, part of the compiled-artifact cache key.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");
