//! The [`JobStore`] trait: where jobs are kept.

use crate::{Job, JobFilter, JobPage, Result, Status};

/// The end of [`JobStore::submit`].
pub type JobCommit =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'static>>;

/// Where jobs are kept. Every write is durable when it returns: a job the API
/// acknowledged survives a crash of the process.
pub trait JobStore: Send + Sync {
    /// Inserts or replaces a job, durably.
    fn put(&self, job: &Job) -> Result<()> {
        self.write(std::slice::from_ref(job), true)
    }
    /// Inserts or replaces jobs in one durable commit.
    fn put_all(&self, jobs: &[Job]) -> Result<()> {
        self.write(jobs, true)
    }
    /// Inserts or replaces jobs in one commit; `durable: false` lets the commit ride
    /// on the next durable one (a crash may lose it), for states a restart rebuilds
    /// anyway (progress) or that nobody was told of yet (a synchronous job before
    /// its reply). Blocks the calling thread until the commit is done.
    fn write(&self, jobs: &[Job], durable: bool) -> Result<()> {
        hysope_store::block_on(self.submit(jobs, durable))
    }
    /// [`JobStore::write`] for async callers: the future resolves once the commit
    /// is done, without holding a thread meanwhile.
    ///
    /// A job's final record (successful) is submitted only once its result item is
    /// durable or is committed by the same commit: an implementation that shares a
    /// commit with the catalogue may rely on that order, one that does not must
    /// not make the record durable before the item's own commit has returned.
    fn submit(&self, jobs: &[Job], durable: bool) -> JobCommit;
    /// A job by id.
    fn get(&self, id: &str) -> Result<Option<Job>>;
    /// Jobs matching `filter`, newest first, skipping `offset`, at most `limit`.
    fn list(&self, filter: &JobFilter, offset: usize, limit: usize) -> Result<JobPage>;
    /// Jobs not in a final state (accepted or running), oldest first.
    fn unfinished(&self) -> Result<Vec<Job>>;
    /// Number of jobs per (process, status), for metrics.
    fn count(&self) -> Result<Vec<(String, Status, u64)>>;
    /// Why the store cannot take writes now (its disk full or failing), if so: the
    /// server reports itself not ready with this reason.
    fn fault(&self) -> Option<String> {
        None
    }
}
