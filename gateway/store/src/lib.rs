//! The embedded storage foundation of Hysope: one redb file for the stores of a
//! process (jobs, catalogue) and one committing thread that groups the writes of
//! concurrent writers into shared durable commits ([`SharedDb`]).
//!
//! The stores built on it (the catalogue's `RedbCatalog`, the jobs' `RedbJobStore`)
//! hand it changes as closures and wait for the commit that holds them; the
//! scale-out implementations of the same traits (PostgreSQL) do not use it.

mod error;
pub mod shared;

pub use error::{Error, Result};
/// The redb the store is built on, for the stores' own tables and the
/// [`from_redb_errors!`] macro.
pub use redb;
pub use shared::{Change, Commit, SharedDb, block_on};
