//! Jobs and where they are kept: the [`JobStore`] trait and its embedded
//! default on redb, whose commits are durable before they return.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hysope_catalog::SharedDb;
use hysope_catalog::shared::{Logged, Replayer, frame, unframe};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The state of a job, as OGC API - Processes names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Stored and waiting for a worker.
    Accepted,
    /// A worker runs it.
    Running,
    /// Finished with results.
    Successful,
    /// Finished with an error (the message says why).
    Failed,
    /// Stopped at a user's request.
    Dismissed,
}

impl Status {
    /// Every status, in the order of a job's life.
    pub const ALL: [Status; 5] = [
        Status::Accepted,
        Status::Running,
        Status::Successful,
        Status::Failed,
        Status::Dismissed,
    ];

    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Running => "running",
            Status::Successful => "successful",
            Status::Failed => "failed",
            Status::Dismissed => "dismissed",
        }
    }

    /// Parses an API name.
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// True once the job will not change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Successful | Status::Failed | Status::Dismissed
        )
    }
}

/// One job: what was asked, and where it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Job id (a UUID, time-ordered: v7).
    pub id: String,
    /// The process it runs.
    pub process_id: String,
    /// Current state.
    pub status: Status,
    /// Human-readable state detail (the reason of a failure).
    pub message: String,
    /// Milliseconds since the epoch.
    pub created: u64,
    /// When a worker took it.
    pub started: Option<u64>,
    /// When it reached a final state.
    pub finished: Option<u64>,
    /// Last change.
    pub updated: u64,
    /// Percent done, 0..=100.
    pub progress: u8,
    /// The CWL job object (inputs translated from the request).
    pub inputs: Map<String, Value>,
    /// Requested outputs (`outputs` of the execute request), if any.
    pub outputs: Option<Value>,
    /// `raw` or `document` (OGC 1.0 `response`); `document` by default.
    pub response: String,
    /// Subscriber URIs (callbacks) from the request.
    pub subscriber: Option<Value>,
    /// The CWL output object once successful (file locations relative to the job's
    /// result folder).
    pub results: Option<Value>,
    /// How many times a worker started it (a restart re-queues running jobs).
    pub attempts: u32,
    /// Why it failed, as an exception kind: `invalid-parameter-value` when the
    /// inputs were at fault, `process-failed` otherwise.
    #[serde(default)]
    pub failure: Option<String>,
    /// The server URL the job was submitted to (links in callbacks).
    #[serde(default)]
    pub base_url: Option<String>,
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// RFC 3339 text of a time in milliseconds since the epoch.
pub fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + std::time::Duration::from_millis(ms)).to_string()
}

/// What `/jobs` asks for.
#[derive(Debug, Default, Clone)]
pub struct JobFilter {
    /// Only jobs of these processes (any when empty).
    pub process_ids: Vec<String>,
    /// Only jobs in these states (any when empty).
    pub statuses: Vec<Status>,
    /// Only jobs created in this interval (milliseconds, inclusive).
    pub created: Option<(Option<u64>, Option<u64>)>,
}

impl JobFilter {
    fn accepts(&self, job: &Job) -> bool {
        (self.process_ids.is_empty() || self.process_ids.contains(&job.process_id))
            && (self.statuses.is_empty() || self.statuses.contains(&job.status))
            && self.created.is_none_or(|(from, to)| {
                from.is_none_or(|f| job.created >= f) && to.is_none_or(|t| job.created <= t)
            })
    }
}

/// A page of jobs, newest first.
#[derive(Debug)]
pub struct JobPage {
    /// The jobs of the page.
    pub jobs: Vec<Job>,
    /// True when more jobs match after this page.
    pub more: bool,
}

/// The end of [`JobStore::submit`].
pub type JobCommit =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'static>>;

/// Where jobs are kept. Every write is durable when it returns: a job the API
/// acknowledged survives a crash of the process.
pub trait JobStore: Send + Sync {
    /// Inserts or replaces a job, durably.
    fn put(&self, job: &Job) -> anyhow::Result<()> {
        self.write(std::slice::from_ref(job), true)
    }
    /// Inserts or replaces jobs in one durable commit.
    fn put_all(&self, jobs: &[Job]) -> anyhow::Result<()> {
        self.write(jobs, true)
    }
    /// Inserts or replaces jobs in one commit; `durable: false` lets the commit ride
    /// on the next durable one (a crash may lose it), for states a restart rebuilds
    /// anyway (progress) or that nobody was told of yet (a synchronous job before
    /// its reply). Blocks the calling thread until the commit is done.
    fn write(&self, jobs: &[Job], durable: bool) -> anyhow::Result<()> {
        hysope_catalog::shared::block_on(self.submit(jobs, durable))
    }
    /// [`JobStore::write`] for async callers: the future resolves once the commit
    /// is done, without holding a thread meanwhile.
    fn submit(&self, jobs: &[Job], durable: bool) -> JobCommit;
    /// A job by id.
    fn get(&self, id: &str) -> anyhow::Result<Option<Job>>;
    /// Jobs matching `filter`, newest first, skipping `offset`, at most `limit`.
    fn list(&self, filter: &JobFilter, offset: usize, limit: usize) -> anyhow::Result<JobPage>;
    /// Jobs not in a final state (accepted or running), oldest first.
    fn unfinished(&self) -> anyhow::Result<Vec<Job>>;
    /// Number of jobs per (process, status), for metrics.
    fn count(&self) -> anyhow::Result<Vec<(String, Status, u64)>>;
}

const JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("jobs");
/// (created ms, id) -> (): the listing order.
const BY_CREATED: TableDefinition<(u64, &str), ()> = TableDefinition::new("jobs_by_created");
/// (process, created ms, id) -> (): listing by process.
const BY_PROCESS: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("jobs_by_process");
/// (status, created ms, id) -> (): listing by status.
const BY_STATUS: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("jobs_by_status");
/// id -> (): jobs not final yet, for recovery after a restart.
const OPEN: TableDefinition<&str, ()> = TableDefinition::new("jobs_open");

/// The embedded job store: tables of a redb file (the server's, shared with its
/// catalogue), with the jobs by id and index tables for listing newest first by
/// creation time, process and status.
pub struct RedbJobStore {
    /// Concurrent writes share commits, with the file's other writers.
    db: Arc<SharedDb>,
}

/// A job as written: the fields the index tables are keyed by, and the JSON record.
struct Record {
    keys: Keys,
    bytes: Vec<u8>,
}

/// The indexed fields of a job; decoded alone from a stored record when it is
/// replaced (its old index entries are removed).
#[derive(Deserialize)]
struct Keys {
    id: String,
    process_id: String,
    created: u64,
    status: Status,
}

impl RedbJobStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let db = SharedDb::open_with(path, &[Self::REPLAYER])
            .map_err(|e| anyhow::anyhow!("cannot open the job store: {e}"))?;
        Self::open_shared(Arc::new(db))
    }

    /// Writes again the jobs of a [`SharedDb`] log record (see `submit`).
    pub const REPLAYER: Replayer = Replayer {
        kind: "jobs",
        apply: |tx, bytes| {
            let records = unframe(bytes)?
                .into_iter()
                .map(|bytes| {
                    Ok(Record {
                        keys: serde_json::from_slice(bytes)?,
                        bytes: bytes.to_vec(),
                    })
                })
                .collect::<hysope_catalog::Result<Vec<_>>>()?;
            write_records(tx, &records)
        },
    };

    /// The job store in a file other stores share (the server's catalogue).
    pub fn open_shared(db: Arc<SharedDb>) -> anyhow::Result<Self> {
        let tx = db.begin_write()?;
        tx.open_table(JOBS)?;
        tx.open_table(BY_CREATED)?;
        tx.open_table(BY_PROCESS)?;
        tx.open_table(BY_STATUS)?;
        tx.open_table(OPEN)?;
        tx.commit()?;
        Ok(Self { db })
    }
}

/// Writes records in `tx`, replacing their jobs' old index entries; a job written
/// twice ends as its later record.
fn write_records(tx: &redb::WriteTransaction, records: &[Record]) -> hysope_catalog::Result<()> {
    let mut table = tx.open_table(JOBS)?;
    let mut order = tx.open_table(BY_CREATED)?;
    let mut by_process = tx.open_table(BY_PROCESS)?;
    let mut by_status = tx.open_table(BY_STATUS)?;
    let mut open = tx.open_table(OPEN)?;
    for Record { keys: job, bytes } in records {
        let old = table
            .insert(job.id.as_str(), bytes.as_slice())?
            .map(|v| serde_json::from_slice::<Keys>(v.value()))
            .transpose()?;
        // Only the index entries whose keys changed are rewritten (a job's process
        // and creation time stay; its status moves).
        let (moved, restated) = match &old {
            Some(old) => (
                old.created != job.created || old.process_id != job.process_id,
                old.status != job.status || old.created != job.created,
            ),
            None => (true, true),
        };
        if let Some(old) = old.as_ref().filter(|_| moved) {
            by_process.remove((old.process_id.as_str(), old.created, old.id.as_str()))?;
            order.remove((old.created, old.id.as_str()))?;
        }
        if let Some(old) = old.as_ref().filter(|_| restated) {
            by_status.remove((old.status.as_str(), old.created, old.id.as_str()))?;
        }
        if moved {
            order.insert((job.created, job.id.as_str()), ())?;
            by_process.insert((job.process_id.as_str(), job.created, job.id.as_str()), ())?;
        }
        if restated {
            by_status.insert((job.status.as_str(), job.created, job.id.as_str()), ())?;
            if job.status.is_final() {
                open.remove(job.id.as_str())?;
            } else {
                open.insert(job.id.as_str(), ())?;
            }
        }
    }
    Ok(())
}

fn decode(bytes: &[u8]) -> anyhow::Result<Job> {
    Ok(serde_json::from_slice(bytes)?)
}

/// The time bounds of a filter, as an inclusive range of milliseconds.
fn bounds(filter: &JobFilter) -> (u64, u64) {
    match filter.created {
        None => (0, u64::MAX),
        Some((from, to)) => (from.unwrap_or(0), to.unwrap_or(u64::MAX)),
    }
}

impl JobStore for RedbJobStore {
    fn submit(&self, jobs: &[Job], durable: bool) -> JobCommit {
        // Encoded on the caller's thread; the commit is shared with whatever is
        // written to the file at the same moment (one transaction, one fsync).
        let records = match jobs
            .iter()
            .map(|job| {
                Ok(Record {
                    keys: Keys {
                        id: job.id.clone(),
                        process_id: job.process_id.clone(),
                        created: job.created,
                        status: job.status,
                    },
                    bytes: serde_json::to_vec(job)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()
        {
            Ok(records) => records,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let record = Logged {
            kind: Self::REPLAYER.kind,
            bytes: frame(records.iter().map(|r| r.bytes.as_slice())),
        };
        let commit = self.db.submit_logged(
            Box::new(move |tx| write_records(tx, &records)),
            record,
            durable,
        );
        Box::pin(async move { commit.await.map_err(|e| anyhow::anyhow!("job store: {e}")) })
    }

    fn get(&self, id: &str) -> anyhow::Result<Option<Job>> {
        let tx = self.db.begin_read()?;
        let jobs = tx.open_table(JOBS)?;
        let found = jobs.get(id)?;
        found.map(|v| decode(v.value())).transpose()
    }

    fn list(&self, filter: &JobFilter, offset: usize, limit: usize) -> anyhow::Result<JobPage> {
        let tx = self.db.begin_read()?;
        let jobs = tx.open_table(JOBS)?;
        let (from, to) = bounds(filter);
        // Ids newest first from the narrowest index; `exact` when the index alone
        // decides the filter (then skipped ids are never decoded).
        let ids: Box<dyn Iterator<Item = anyhow::Result<String>>>;
        let exact;
        if let [status] = filter.statuses.as_slice() {
            let table = tx.open_table(BY_STATUS)?;
            let s = status.as_str();
            let range = table.range((s, from, "")..=(s, to, "\u{10ffff}"))?;
            exact = filter.process_ids.is_empty();
            ids = Box::new(range.rev().map(|e| Ok(e?.0.value().2.to_string())));
        } else if let [process] = filter.process_ids.as_slice() {
            let table = tx.open_table(BY_PROCESS)?;
            let p = process.as_str();
            let range = table.range((p, from, "")..=(p, to, "\u{10ffff}"))?;
            exact = filter.statuses.is_empty();
            ids = Box::new(range.rev().map(|e| Ok(e?.0.value().2.to_string())));
        } else {
            let table = tx.open_table(BY_CREATED)?;
            let range = table.range((from, "")..=(to, "\u{10ffff}"))?;
            exact = filter.statuses.is_empty() && filter.process_ids.is_empty();
            ids = Box::new(range.rev().map(|e| Ok(e?.0.value().1.to_string())));
        }
        let mut page = Vec::new();
        let mut skipped = 0;
        let mut more = false;
        for id in ids {
            let id = id?;
            if exact && skipped < offset {
                skipped += 1;
                continue;
            }
            let Some(bytes) = jobs.get(id.as_str())? else {
                continue;
            };
            let job = decode(bytes.value())?;
            if !filter.accepts(&job) {
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            if page.len() == limit {
                more = true;
                break;
            }
            page.push(job);
        }
        Ok(JobPage { jobs: page, more })
    }

    fn unfinished(&self) -> anyhow::Result<Vec<Job>> {
        let tx = self.db.begin_read()?;
        let jobs = tx.open_table(JOBS)?;
        let open = tx.open_table(OPEN)?;
        let mut out = Vec::new();
        for entry in open.iter()? {
            let (id, _) = entry?;
            if let Some(bytes) = jobs.get(id.value())? {
                out.push(decode(bytes.value())?);
            }
        }
        out.sort_by_key(|j| j.created);
        Ok(out)
    }

    fn count(&self) -> anyhow::Result<Vec<(String, Status, u64)>> {
        let tx = self.db.begin_read()?;
        let by_process = tx.open_table(BY_PROCESS)?;
        let jobs = tx.open_table(JOBS)?;
        let mut counts: std::collections::BTreeMap<(String, &'static str), (Status, u64)> =
            Default::default();
        for entry in by_process.iter()? {
            let (key, _) = entry?;
            let (process, _, id) = key.value();
            let Some(bytes) = jobs.get(id)? else { continue };
            let status = decode(bytes.value())?.status;
            counts
                .entry((process.to_string(), status.as_str()))
                .or_insert((status, 0))
                .1 += 1;
        }
        Ok(counts
            .into_iter()
            .map(|((p, _), (s, n))| (p, s, n))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, created: u64, status: Status) -> Job {
        Job {
            id: id.into(),
            process_id: if created.is_multiple_of(2) {
                "echo"
            } else {
                "filter"
            }
            .into(),
            status,
            message: String::new(),
            created,
            started: None,
            finished: None,
            updated: created,
            progress: 0,
            inputs: Map::new(),
            outputs: None,
            response: "document".into(),
            subscriber: None,
            results: None,
            attempts: 0,
            failure: None,
            base_url: None,
        }
    }

    #[test]
    fn jobs_survive_reopening_and_list_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.redb");
        {
            let store = RedbJobStore::open(&path).unwrap();
            for i in 0..10 {
                let status = if i < 7 {
                    Status::Successful
                } else {
                    Status::Running
                };
                store.put(&job(&format!("j{i}"), 1000 + i, status)).unwrap();
            }
        }
        let store = RedbJobStore::open(&path).unwrap();
        assert_eq!(store.get("j3").unwrap().unwrap().created, 1003);
        let page = store.list(&JobFilter::default(), 0, 4).unwrap();
        let ids: Vec<_> = page.jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["j9", "j8", "j7", "j6"]);
        assert!(page.more);
        let echo = JobFilter {
            process_ids: vec!["echo".into()],
            statuses: vec![Status::Successful],
            ..Default::default()
        };
        let page = store.list(&echo, 1, 10).unwrap();
        let ids: Vec<_> = page.jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["j4", "j2", "j0"]);
        assert!(!page.more);
        let open: Vec<_> = store
            .unfinished()
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(open, ["j7", "j8", "j9"]);
        let mut done = store.get("j8").unwrap().unwrap();
        done.status = Status::Failed;
        store.put(&done).unwrap();
        assert_eq!(store.unfinished().unwrap().len(), 2);
        // The status index follows the change; the time filter bounds the range.
        let by = |statuses: Vec<Status>, created| JobFilter {
            statuses,
            created,
            ..Default::default()
        };
        let ids = |f: &JobFilter, offset| -> Vec<String> {
            store
                .list(f, offset, 100)
                .unwrap()
                .jobs
                .into_iter()
                .map(|j| j.id)
                .collect()
        };
        assert_eq!(ids(&by(vec![Status::Failed], None), 0), ["j8"]);
        assert_eq!(ids(&by(vec![Status::Running], None), 0), ["j9", "j7"]);
        assert_eq!(ids(&by(vec![Status::Running], None), 1), ["j7"]);
        assert_eq!(
            ids(&by(vec![], Some((Some(1002), Some(1004)))), 0),
            ["j4", "j3", "j2"]
        );
        assert_eq!(
            ids(&by(vec![Status::Successful], Some((None, Some(1001)))), 0),
            ["j1", "j0"]
        );
        let filter_process = JobFilter {
            process_ids: vec!["filter".into()],
            ..Default::default()
        };
        assert_eq!(ids(&filter_process, 3), ["j3", "j1"]);
        let counts = store.count().unwrap();
        assert!(
            counts.contains(&("echo".to_string(), Status::Failed, 1)),
            "{counts:?}"
        );
    }
}
