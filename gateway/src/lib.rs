//! The Hysope gateway: the `hysope` command (plugin scaffolding, running components
//! and CWL documents) and the portal server (OGC API - Processes over the CWL engine,
//! with durable jobs).

pub mod cli;
pub mod server;
