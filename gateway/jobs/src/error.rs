//! Errors of the job system.

/// What went wrong with a job's record or the queue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage under the job store failed.
    #[error("job store: {0}")]
    Store(#[from] hysope_store::Error),
    /// A job record could not be encoded or decoded.
    #[error("job store: a job record: {0}")]
    Record(#[from] serde_json::Error),
    /// The queue is closed (the server is stopping).
    #[error("the job queue is closed")]
    QueueClosed,
    /// The queue's broker failed (scale-out queues).
    #[error("job queue: {0}")]
    Queue(String),
}

/// Result of the job system.
pub type Result<T, E = Error> = std::result::Result<T, E>;

hysope_store::from_redb_errors!(Error);
