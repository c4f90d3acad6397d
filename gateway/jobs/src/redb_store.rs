//! The embedded job store: tables of the server's redb file, whose commits it
//! shares with the catalogue (see [`SharedDb`]).

use std::path::Path;
use std::sync::Arc;

use hysope_store::SharedDb;
use redb::{ReadableTable, TableDefinition};
use serde::Deserialize;

use crate::{Job, JobCommit, JobFilter, JobPage, JobStore, Result, Status};

const JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("jobs");
/// (created ms, id) -> (): the listing order.
const BY_CREATED: TableDefinition<(u64, &str), ()> = TableDefinition::new("jobs_by_created");
/// (process, created ms, id) -> (): listing by process.
const BY_PROCESS: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("jobs_by_process");
/// (status, created ms, id) -> (): listing by status.
const BY_STATUS: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("jobs_by_status");
/// (owner, created ms, id) -> (): listing a user's jobs.
const BY_OWNER: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("jobs_by_owner");
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
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    revision: u64,
}

impl RedbJobStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let db = SharedDb::open(path)?;
        Self::open_shared(Arc::new(db))
    }

    /// The job store in a file other stores share (the server's catalogue).
    pub fn open_shared(db: Arc<SharedDb>) -> Result<Self> {
        let tx = db.begin_write()?;
        tx.open_table(JOBS)?;
        tx.open_table(BY_CREATED)?;
        tx.open_table(BY_PROCESS)?;
        tx.open_table(BY_STATUS)?;
        tx.open_table(BY_OWNER)?;
        tx.open_table(OPEN)?;
        tx.commit()?;
        Ok(Self { db })
    }
}

/// Writes records in `tx`, replacing their jobs' old index entries; a job written
/// twice ends as its later record.
fn write_records(tx: &redb::WriteTransaction, records: &[Record]) -> hysope_store::Result<()> {
    let mut table = tx.open_table(JOBS)?;
    let mut order = tx.open_table(BY_CREATED)?;
    let mut by_process = tx.open_table(BY_PROCESS)?;
    let mut by_status = tx.open_table(BY_STATUS)?;
    let mut by_owner = tx.open_table(BY_OWNER)?;
    let mut open = tx.open_table(OPEN)?;
    for Record { keys: job, bytes } in records {
        let old = table
            .insert(job.id.as_str(), bytes.as_slice())?
            .map(|v| serde_json::from_slice::<Keys>(v.value()))
            .transpose()
            .map_err(hysope_store::Error::change)?;
        // Only the index entries whose keys changed are rewritten (a job's process
        // and creation time stay; its status moves).
        let (moved, restated) = match &old {
            Some(old) => (
                old.created != job.created
                    || old.process_id != job.process_id
                    || old.owner != job.owner,
                old.status != job.status || old.created != job.created,
            ),
            None => (true, true),
        };
        if let Some(old) = old.as_ref().filter(|_| moved) {
            by_process.remove((old.process_id.as_str(), old.created, old.id.as_str()))?;
            order.remove((old.created, old.id.as_str()))?;
            if let Some(owner) = &old.owner {
                by_owner.remove((owner.as_str(), old.created, old.id.as_str()))?;
            }
        }
        if let Some(old) = old.as_ref().filter(|_| restated) {
            by_status.remove((old.status.as_str(), old.created, old.id.as_str()))?;
        }
        if moved {
            order.insert((job.created, job.id.as_str()), ())?;
            by_process.insert((job.process_id.as_str(), job.created, job.id.as_str()), ())?;
            if let Some(owner) = &job.owner {
                by_owner.insert((owner.as_str(), job.created, job.id.as_str()), ())?;
            }
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

impl Record {
    /// `job` as written.
    fn of(job: &Job) -> Result<Record> {
        Ok(Record {
            keys: Keys {
                id: job.id.clone(),
                process_id: job.process_id.clone(),
                created: job.created,
                status: job.status,
                owner: job.owner.clone(),
                revision: job.revision,
            },
            bytes: serde_json::to_vec(job)?,
        })
    }
}

fn decode(bytes: &[u8]) -> Result<Job> {
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
        let records = match jobs.iter().map(Record::of).collect::<Result<Vec<_>>>() {
            Ok(records) => records,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let commit = self
            .db
            .submit(Box::new(move |tx| write_records(tx, &records)), durable);
        Box::pin(async move { Ok(commit.await?) })
    }

    fn swap(&self, job: &Job, durable: bool) -> crate::SwapCommit {
        let record = match Record::of(job) {
            Ok(record) => record,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        // Checked and written in the commit's transaction: atomic whoever else
        // writes the job (the change may run twice when its batch is retried).
        let written = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = written.clone();
        let change = move |tx: &redb::WriteTransaction| {
            let stored = {
                let table = tx.open_table(JOBS)?;
                let found = table.get(record.keys.id.as_str())?;
                found
                    .map(|v| serde_json::from_slice::<Keys>(v.value()).map(|k| k.revision))
                    .transpose()
                    .map_err(hysope_store::Error::change)?
            };
            let over = crate::follows(stored, record.keys.revision);
            if over {
                write_records(tx, std::slice::from_ref(&record))?;
            }
            flag.store(over, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        };
        let commit = self.db.submit(Box::new(change), durable);
        Box::pin(async move {
            commit.await?;
            Ok(written.load(std::sync::atomic::Ordering::SeqCst))
        })
    }

    fn get(&self, id: &str) -> Result<Option<Job>> {
        let tx = self.db.begin_read()?;
        let jobs = tx.open_table(JOBS)?;
        let found = jobs.get(id)?;
        found.map(|v| decode(v.value())).transpose()
    }

    fn list(&self, filter: &JobFilter, offset: usize, limit: usize) -> Result<JobPage> {
        let tx = self.db.begin_read()?;
        let jobs = tx.open_table(JOBS)?;
        let (from, to) = bounds(filter);
        // Ids newest first from the narrowest index; `exact` when the index alone
        // decides the filter (then skipped ids are never decoded).
        let ids: Box<dyn Iterator<Item = Result<String>>>;
        let exact;
        if let Some(owner) = &filter.owner {
            let table = tx.open_table(BY_OWNER)?;
            let o = owner.as_str();
            let range = table.range((o, from, "")..=(o, to, "\u{10ffff}"))?;
            exact = filter.statuses.is_empty() && filter.process_ids.is_empty();
            ids = Box::new(range.rev().map(|e| Ok(e?.0.value().2.to_string())));
        } else if let [status] = filter.statuses.as_slice() {
            let table = tx.open_table(BY_STATUS)?;
            let s = status.as_str();
            let range = table.range((s, from, "")..=(s, to, "\u{10ffff}"))?;
            exact = filter.process_ids.is_empty() && filter.owner.is_none();
            ids = Box::new(range.rev().map(|e| Ok(e?.0.value().2.to_string())));
        } else if let [process] = filter.process_ids.as_slice() {
            let table = tx.open_table(BY_PROCESS)?;
            let p = process.as_str();
            let range = table.range((p, from, "")..=(p, to, "\u{10ffff}"))?;
            exact = filter.statuses.is_empty() && filter.owner.is_none();
            ids = Box::new(range.rev().map(|e| Ok(e?.0.value().2.to_string())));
        } else {
            let table = tx.open_table(BY_CREATED)?;
            let range = table.range((from, "")..=(to, "\u{10ffff}"))?;
            exact = filter.statuses.is_empty()
                && filter.process_ids.is_empty()
                && filter.owner.is_none();
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

    fn unfinished(&self) -> Result<Vec<Job>> {
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

    fn fault(&self) -> Option<String> {
        self.db.fault()
    }

    fn count(&self) -> Result<Vec<(String, Status, u64)>> {
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
