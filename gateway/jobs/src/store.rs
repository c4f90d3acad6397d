//! The [`JobStore`] trait: where jobs are kept.

use crate::{Job, JobFilter, JobPage, Result, Status};

/// The end of [`JobStore::submit`].
pub type JobCommit =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'static>>;

/// The end of [`JobStore::swap`]: whether the job was written.
pub type SwapCommit =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool>> + Send + 'static>>;

/// Whether a record of revision `revision` may be written over the stored one's
/// (`None`: no record): the one right before it, or none for revision 1.
pub fn follows(stored: Option<u64>, revision: u64) -> bool {
    match (stored, revision.checked_sub(1)) {
        (Some(stored), Some(from)) => stored == from,
        (None, Some(0)) => true,
        _ => false,
    }
}

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
    /// Writes `job` only over the record it was changed from: the stored one's
    /// revision must be `job.revision - 1` (or no record at all, for revision
    /// 1; see [`follows`]). Resolves to false, writing nothing, when another
    /// writer changed the job first: the caller reads it again and decides again.
    /// The check and the write are one atomic step, whoever else writes.
    fn swap(&self, job: &Job, durable: bool) -> SwapCommit;
    /// True when several processes (gateways, workers) share the store: a job's
    /// worker is then known dead by its lease, not by a restart, and accepted jobs
    /// a gateway could not push are pushed by a sweeper.
    fn shared(&self) -> bool {
        false
    }
    /// A job by id.
    fn get(&self, id: &str) -> Result<Option<Job>>;
    /// Jobs matching `filter`, newest first, skipping `offset`, at most `limit`.
    fn list(&self, filter: &JobFilter, offset: usize, limit: usize) -> Result<JobPage>;
    /// Jobs not in a final state (accepted or running), oldest first.
    fn unfinished(&self) -> Result<Vec<Job>>;
    /// Jobs a sweeper must look at in a shared store, oldest first, at most
    /// `limit`: running ones whose lease ran out before `now`, and accepted ones
    /// not dispatched whose record was last changed before `quiet_since` (their
    /// gateway may have died between the commit and the push). Milliseconds.
    fn stale(&self, now: u64, quiet_since: u64, limit: usize) -> Result<Vec<Job>> {
        let mut out: Vec<Job> = self
            .unfinished()?
            .into_iter()
            .filter(|job| match job.status {
                Status::Running => job.lease_until.is_some_and(|until| until < now),
                Status::Accepted => !job.dispatched && job.updated < quiet_since,
                _ => false,
            })
            .collect();
        out.truncate(limit);
        Ok(out)
    }
    /// Number of jobs per (process, status), for metrics.
    fn count(&self) -> Result<Vec<(String, Status, u64)>>;
    /// Why the store cannot take writes now (its disk full or failing), if so: the
    /// server reports itself not ready with this reason.
    fn fault(&self) -> Option<String> {
        None
    }
}
