//! Errors of the job system.

/// What went wrong with a job's record or the queue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage under the job store failed.
    #[error("job store: {0}")]
    Store(#[from] hysope_store::Error),
    /// The database under a scale-out job store or queue failed.
    #[error("job store: {0}")]
    Database(String),
    /// The database or broker under a scale-out store or queue is out of reach
    /// (down, restarting, the network): nothing was done, the request may be
    /// made again.
    #[error("{0}")]
    Unavailable(String),
    /// A job record could not be encoded or decoded.
    #[error("job store: a job record: {0}")]
    Record(#[from] serde_json::Error),
    /// The queue is closed (the server is stopping).
    #[error("the job queue is closed")]
    QueueClosed,
    /// The queue's broker failed (scale-out queues).
    #[error("job queue: {0}")]
    Queue(String),
    /// As many jobs wait as the server takes: come back later.
    #[error("{0}")]
    Busy(String),
    /// No job has this id.
    #[error("no job {0:?}")]
    NoSuchJob(String),
    /// The job's results are asked for before it succeeded.
    #[error("job {id} is {}", status.as_str())]
    ResultNotReady {
        /// The job.
        id: String,
        /// Its status.
        status: crate::Status,
    },
    /// A result file that the job does not have.
    #[error("no result file {path:?} in job {id}")]
    NoSuchResult {
        /// The job.
        id: String,
        /// The file asked for.
        path: String,
    },
    /// The result store failed.
    #[error("result store: {0}")]
    Results(String),
    /// No process has this id.
    #[error("no process {0:?}")]
    NoSuchProcess(String),
    /// An execute request is wrong; the text names the input and why.
    #[error("{detail}")]
    InvalidRequest {
        /// What kind of mistake.
        fault: RequestFault,
        /// What was wrong, and where.
        detail: String,
    },
}

/// What is wrong with an execute request (the HTTP layer maps each to its OGC
/// exception).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestFault {
    /// The body is not what the API takes.
    InvalidBody,
    /// An input's value (or an input that does not exist).
    InvalidParameterValue,
    /// A required input is missing.
    MissingInput,
}

impl Error {
    /// An execute request's mistake.
    pub fn request(fault: RequestFault, detail: impl Into<String>) -> Self {
        Error::InvalidRequest {
            fault,
            detail: detail.into(),
        }
    }
}

/// Result of the job system.
pub type Result<T, E = Error> = std::result::Result<T, E>;

hysope_store::from_redb_errors!(Error);
