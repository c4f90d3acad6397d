//! Hysope's jobs: the job system a server runs ([`Jobs`]: the processes, the
//! workers, results, input fetching, callbacks, provenance) and its parts: what a job is ([`Job`], [`Status`], [`FailureKind`]), where jobs
//! are kept ([`JobStore`], embedded default [`RedbJobStore`]) and how accepted
//! jobs reach a worker ([`JobQueue`], in-process default [`LocalQueue`]), with one
//! conformance suite per trait ([`conformance`]) that every implementation runs.
//!
//! The promise the job system keeps whatever stores are behind these traits: a job
//! is accepted only once its record is durable, and it says successful only once
//! its result item is durable (the caller commits the item before, or in the same
//! commit as, the final record; see [`JobStore::submit`]).

pub mod callbacks;
pub mod conformance;
pub mod deployments;
pub mod documents;
pub mod egress;
mod error;
mod execute;
pub mod fetch;
mod job;
pub mod metrics;
mod process_metrics;
pub mod processes;
pub mod provenance;
mod queue;
mod redb_store;
pub mod results;
pub mod rules;
mod service;
mod store;
pub mod worker;

pub use error::{Error, RequestFault, Result};
pub use execute::ExecuteRequest;
pub use job::{FailureKind, Job, JobFilter, JobPage, Status, now_ms, rfc3339};
pub use queue::{Acknowledge, Delivery, JobQueue, LocalQueue, Moving, QueueDepth};
pub use redb_store::RedbJobStore;
pub use service::{Check, DEFAULT_LEASE, JobBackends, Jobs, JobsParts, RunBackends};
pub use store::{JobCommit, JobStore, SwapCommit, follows};
