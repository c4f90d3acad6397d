//! One redb file for the stores of a process, and one committing thread for all of
//! their writes.
//!
//! The server keeps its jobs and its catalogue in the same file: a job's result
//! item and the job's final record, and whatever other writers submit at that
//! moment, reach the disk in one transaction and one `fsync`.
//!
//! Writers hand a change (a closure that applies itself to a transaction) to the
//! file's committing thread and get a [`Commit`], a future that resolves once the
//! transaction holding the change is committed; [`SharedDb::write`] waits for it on
//! the calling thread. While the thread commits one batch the next one gathers, so
//! the more writers wait on the disk, the larger the batches and the fewer the
//! commits; a lone writer's batch is itself. An async writer waits without holding
//! a thread, and nothing else moves between threads: one wake-up of the committing
//! thread per batch, one of each writer's task when its batch is done.
//!
//! When a batch of several changes fails, each is committed again alone, so that
//! one bad change fails only its own writer: a change may run twice and must not
//! consume what it writes. A change that panics fails its batch's writers (each
//! alone then) and leaves the thread running.
//!
//! **Durability.** By default ([`Durability::Grouped`]) a batch is one redb
//! transaction, committed durably (redb's own flush) when one of its changes asks
//! for durability, and without a flush otherwise (a later durable commit persists
//! it). A reader never sees a change before the commit that holds it returns.
//!
//! **The log (opt-in, [`Durability::Log`]).** A change submitted with its record ([`Logged`], see
//! [`SharedDb::submit_logged`]) is committed to redb without a flush, and its record
//! appended to the log beside the file (`store.wal` for `store.redb`), flushed when
//! a change of the batch asks for durability: one sequential write into a file
//! written full of zeros beforehand, whose flush moves no metadata, instead of
//! redb's flush of every page the commit touched (0.15 ms against 1.2 ms for 32
//! scattered pages on this machine's disk). Every record carries a sequence number,
//! and each commit stores the last one it holds in the file, so that at open the
//! records redb lost in a crash (those after its last durable commit) are applied
//! again, in order, by the [`Replayer`] of their kind; a torn or stale record ends
//! the log. A checkpoint (a durable redb commit) empties the log: every second
//! while records accumulate, when the log passes 16 MiB, when the thread has been
//! idle a second, at close, and for any batch holding a change without a record
//! (such a batch is a plain durable commit, as before the log).

use std::fs::File;
use std::future::Future;
use std::ops::Deref;
use std::os::unix::fs::FileExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use redb::{Database, ReadableDatabase, TableDefinition, WriteTransaction};
use tokio::sync::oneshot;

use crate::{Error, Result};

/// A change to the shared file, applied inside a batch's write transaction.
pub type Change = Box<dyn Fn(&WriteTransaction) -> Result<()> + Send>;

/// The record of a change in the log: what the [`Replayer`] of `kind` needs to make
/// the change again.
pub struct Logged {
    /// The replayer's name.
    pub kind: &'static str,
    /// The change, as the replayer reads it.
    pub bytes: Vec<u8>,
}

/// Makes the logged changes of one kind again, at open, after a crash.
#[derive(Clone, Copy)]
pub struct Replayer {
    /// The kind of [`Logged`] records it reads.
    pub kind: &'static str,
    /// Applies one record in a transaction.
    pub apply: fn(&WriteTransaction, &[u8]) -> Result<()>,
}

/// Several byte strings in one record: each as its length (u32) then its bytes.
pub fn frame<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(&(part.len() as u32).to_le_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// The byte strings [`frame`] put together.
pub fn unframe(mut bytes: &[u8]) -> Result<Vec<&[u8]>> {
    let mut parts = Vec::new();
    while !bytes.is_empty() {
        let len = bytes
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .filter(|&len| 4 + len <= bytes.len())
            .ok_or(Error::CutRecord)?;
        parts.push(&bytes[4..4 + len]);
        bytes = &bytes[4 + len..];
    }
    Ok(parts)
}

/// The last sequence number of the log that the file holds.
const META: TableDefinition<&str, u64> = TableDefinition::new("store_log");
const LOGGED_UP_TO: &str = "logged_up_to";
/// A checkpoint empties the log when it grows past this,
const LOG_LIMIT: u64 = 16 << 20;
/// The log's zeros are written this far ahead (at first, then as it grows).
const LOG_STEP: u64 = 4 << 20;
/// or this long after the last one when records accumulate (or the thread idles).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Record header: payload length (u32), CRC-32 of the rest (u32), sequence (u64).
const HEADER: usize = 16;

/// How a [`SharedDb`] makes its commits durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// redb's own durable commits, one per batch that asks for durability (the
    /// default).
    #[default]
    Grouped,
    /// The log beside the file (`store.wal`): a batch's records are appended and
    /// flushed, redb commits without its flush and checkpoints now and then (see
    /// the module's documentation). A reader may see a change of the last batch
    /// before its record is flushed.
    Log,
}

/// A redb database whose writers share commits. Reads (and writes that must be
/// their own transaction) go to the [`Database`] it dereferences to.
pub struct SharedDb {
    inner: Arc<Inner>,
    committer: Option<std::thread::JoinHandle<()>>,
}

struct Inner {
    db: Database,
    queue: Mutex<Queue>,
    wake: Condvar,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Request>,
    closing: bool,
    /// The committing thread waits for requests: a submitter wakes it. (While it
    /// commits, submitters only queue: it takes them when it is done.)
    idle: bool,
}

struct Request {
    change: Change,
    log: Option<Logged>,
    durable: bool,
    reply: oneshot::Sender<Result<()>>,
}

impl SharedDb {
    /// Opens (or creates) the file at `path` and starts its committing thread; a log
    /// left by a crash must hold no record (use [`SharedDb::open_with`]).
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, &[])
    }

    /// Opens (or creates) the file at `path` with grouped durable commits; a log
    /// left beside it (by [`Durability::Log`]) is made again first (with
    /// `replayers`, by kind) and then removed.
    pub fn open_with(path: &Path, replayers: &[Replayer]) -> Result<Self> {
        Self::open_in(path, replayers, Durability::Grouped)
    }

    /// Opens (or creates) the file at `path`, makes again the changes its log holds
    /// beyond the file's last durable commit (with `replayers`, by kind), and starts
    /// its committing thread, whose commits are made durable as `durability` says.
    pub fn open_in(path: &Path, replayers: &[Replayer], durability: Durability) -> Result<Self> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::AlreadyOpen {
                path: path.to_path_buf(),
            },
            source => Error::Open {
                path: path.to_path_buf(),
                source,
            },
        })?;
        let log_path = path.with_extension("wal");
        let log = match durability {
            Durability::Log => Some(Log::open(&log_path, &db, replayers)?),
            Durability::Grouped => {
                // What a run with the log left is made again (a durable commit),
                // then the log goes: nothing writes to it any more.
                if log_path.exists() {
                    drop(Log::open(&log_path, &db, replayers)?);
                    std::fs::remove_file(&log_path).map_err(|source| Error::Io {
                        path: log_path.clone(),
                        source,
                    })?;
                }
                None
            }
        };
        let inner = Arc::new(Inner {
            db,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        });
        let thread = inner.clone();
        let committer = std::thread::Builder::new()
            .name("hysope-commit".into())
            .spawn(move || thread.run(log))
            .map_err(Error::Thread)?;
        Ok(Self {
            inner,
            committer: Some(committer),
        })
    }

    /// Hands `change` to the committing thread; the returned future resolves once
    /// a transaction holding it is committed. A change without a record in the log
    /// makes its batch a durable commit of redb (a checkpoint) whatever `durable`
    /// says: nothing could make it again after a crash.
    pub fn submit(&self, change: Change, durable: bool) -> Commit {
        self.enqueue(change, None, durable)
    }

    /// [`SharedDb::submit`] of a change with its record, which the log keeps until
    /// redb's next durable commit. With `durable: false` the log is not flushed for
    /// it: a crash loses it unless a later flush of the log or a checkpoint came
    /// (either persists every earlier commit).
    pub fn submit_logged(&self, change: Change, log: Logged, durable: bool) -> Commit {
        self.enqueue(change, Some(log), durable)
    }

    fn enqueue(&self, change: Change, log: Option<Logged>, durable: bool) -> Commit {
        let (reply, done) = oneshot::channel();
        let idle = {
            let mut queue = lock(&self.inner.queue);
            queue.pending.push(Request {
                change,
                log,
                durable,
                reply,
            });
            std::mem::take(&mut queue.idle)
        };
        if idle {
            self.inner.wake.notify_one();
        }
        Commit(done)
    }

    /// [`SharedDb::submit`], then waits for the commit on the calling thread.
    pub fn write(&self, change: Change, durable: bool) -> Result<()> {
        block_on(self.submit(change, durable))
    }
}

impl Drop for SharedDb {
    fn drop(&mut self) {
        lock(&self.inner.queue).closing = true;
        self.inner.wake.notify_one();
        // The thread commits what is pending, then lets go of the database, so the
        // file is closed when this returns (it may be opened again at once).
        if let Some(thread) = self.committer.take() {
            let _ = thread.join();
        }
    }
}

impl Deref for SharedDb {
    type Target = Database;

    fn deref(&self) -> &Database {
        &self.inner.db
    }
}

impl Inner {
    fn run(&self, mut log: Option<Log>) {
        loop {
            let batch = {
                let mut queue = lock(&self.queue);
                while queue.pending.is_empty() && !queue.closing {
                    queue.idle = true;
                    if let Some(log) = log.as_mut().filter(|l| l.unchecked) {
                        // Idle with records in the log: a checkpoint after a while.
                        let (q, wait) = self
                            .wake
                            .wait_timeout(queue, CHECKPOINT_EVERY)
                            .unwrap_or_else(PoisonError::into_inner);
                        queue = q;
                        if wait.timed_out() && queue.pending.is_empty() {
                            drop(queue);
                            let _ = self.checkpoint(log);
                            queue = lock(&self.queue);
                        }
                    } else {
                        queue = self
                            .wake
                            .wait(queue)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                }
                queue.idle = false;
                if queue.pending.is_empty() {
                    drop(queue);
                    if let Some(log) = log.as_mut() {
                        let _ = self.checkpoint(log);
                    }
                    return;
                }
                std::mem::take(&mut queue.pending)
            };
            match self.commit(&batch, log.as_mut()) {
                Ok(()) => {
                    for request in batch {
                        let _ = request.reply.send(Ok(()));
                    }
                }
                // A lone change gets its own error as it is (its caller may match it).
                Err(e) if batch.len() == 1 => {
                    if let Some(request) = batch.into_iter().next() {
                        let _ = request.reply.send(Err(e));
                    }
                }
                Err(_) => {
                    for request in batch {
                        let alone = self.commit(std::slice::from_ref(&request), log.as_mut());
                        let _ = request.reply.send(alone);
                    }
                }
            }
        }
    }

    /// Commits a batch in one transaction, durable when one of its changes asks:
    /// by redb itself, or with a log through the log when every change has a record.
    fn commit(&self, batch: &[Request], log: Option<&mut Log>) -> Result<()> {
        let durable = batch.iter().any(|r| r.durable);
        let Some(log) = log else {
            return self.transact(batch, durable, None);
        };
        let logged = batch.iter().all(|r| r.log.is_some());
        let checkpoint = !logged || log.due() || log.broken;
        // The batch's records are numbered (none when redb's flush holds the batch).
        let count = if checkpoint { 0 } else { batch.len() as u64 };
        let last = log.next + count - 1;
        self.transact(batch, checkpoint, Some(last))?;
        let first = log.next;
        log.next = last + 1;
        if checkpoint {
            log.emptied();
            return Ok(());
        }
        let records = batch.iter().filter_map(|r| r.log.as_ref());
        match log.append(records, first, durable) {
            Ok(()) => Ok(()),
            // The log failed: redb's own flush makes the batch durable, and every
            // commit after it until a checkpoint succeeds (the log may now miss a
            // record: none after the gap may be relied on).
            Err(e) => {
                tracing::warn!(error = %e, "store log not written; checkpoint instead");
                log.broken = true;
                self.checkpoint(log).map_err(|_| e)
            }
        }
    }

    /// Applies a batch's changes in one transaction and commits it, with redb's
    /// flush when `flush`; `logged_up_to` is the log's last record it holds.
    fn transact(&self, batch: &[Request], flush: bool, logged_up_to: Option<u64>) -> Result<()> {
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut txn = self.db.begin_write()?;
            if !flush {
                txn.set_durability(redb::Durability::None)?;
            }
            for request in batch {
                (request.change)(&txn)?;
            }
            if let Some(last) = logged_up_to {
                txn.open_table(META)?.insert(LOGGED_UP_TO, last)?;
            }
            txn.commit()?;
            Ok(())
        }))
        .unwrap_or(Err(Error::Panicked))
    }

    /// A durable commit of redb (holding every earlier one), after which the log is
    /// empty. On failure the log keeps its records (a later checkpoint retries).
    fn checkpoint(&self, log: &mut Log) -> Result<()> {
        let done = (|| -> Result<()> {
            let txn = self.db.begin_write()?;
            txn.open_table(META)?
                .insert(LOGGED_UP_TO, log.next.saturating_sub(1))?;
            txn.commit()?;
            Ok(())
        })();
        match &done {
            Ok(()) => log.emptied(),
            Err(e) => tracing::error!(error = %e, "store checkpoint failed"),
        }
        done
    }
}

/// The log beside the redb file (see the module's documentation): records
/// `[length u32][crc32 u32][sequence u64][kind length u8][kind][bytes]`, written from
/// the start again after each checkpoint into a file kept full of zeros ahead.
struct Log {
    file: File,
    path: PathBuf,
    /// Bytes allocated (written) in the file.
    size: u64,
    /// Where the next record goes.
    end: u64,
    /// The sequence number of the next record.
    next: u64,
    /// Records since the last checkpoint.
    unchecked: bool,
    /// A record could not be written: commits are redb's durable ones until the
    /// next checkpoint.
    broken: bool,
    checked_at: Instant,
}

impl Log {
    /// Opens (or creates) the log at `path` and makes again, in `db`, the records
    /// after the file's last durable commit; then the log is empty.
    fn open(path: &Path, db: &Database, replayers: &[Replayer]) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let done = {
            let read = db.begin_read()?;
            match read.open_table(META) {
                Ok(table) => table.get(LOGGED_UP_TO)?.map(|v| v.value()).unwrap_or(0),
                Err(redb::TableError::TableDoesNotExist(_)) => 0,
                Err(e) => return Err(e.into()),
            }
        };
        let records = read_records(&file, size, done).map_err(io)?;
        let mut last = done;
        if !records.is_empty() {
            let txn = db.begin_write()?;
            for (seq, kind, bytes) in &records {
                let replayer = replayers.iter().find(|r| r.kind == kind).ok_or_else(|| {
                    Error::UnknownKind {
                        path: path.to_path_buf(),
                        seq: *seq,
                        kind: kind.clone(),
                    }
                })?;
                (replayer.apply)(&txn, bytes).map_err(|e| Error::Replay {
                    path: path.to_path_buf(),
                    seq: *seq,
                    kind: kind.clone(),
                    source: Box::new(e),
                })?;
                last = *seq;
            }
            txn.open_table(META)?.insert(LOGGED_UP_TO, last)?;
            txn.commit()?;
            tracing::info!(
                records = records.len(),
                "store: changes made again from the log"
            );
        }
        let mut log = Self {
            file,
            path: path.to_path_buf(),
            size,
            end: 0,
            next: last + 1,
            unchecked: false,
            broken: false,
            checked_at: Instant::now(),
        };
        if log.size < LOG_STEP {
            log.grow(LOG_STEP).map_err(io)?;
        }
        Ok(log)
    }

    /// True when the next commit should be a checkpoint.
    fn due(&self) -> bool {
        self.end >= LOG_LIMIT || (self.unchecked && self.checked_at.elapsed() >= CHECKPOINT_EVERY)
    }

    fn emptied(&mut self) {
        self.end = 0;
        self.unchecked = false;
        self.broken = false;
        self.checked_at = Instant::now();
    }

    /// Appends records numbered from `first` in one write, flushed if `sync`.
    fn append<'a>(
        &mut self,
        records: impl Iterator<Item = &'a Logged>,
        first: u64,
        sync: bool,
    ) -> Result<()> {
        let mut buf = Vec::new();
        for (seq, record) in (first..).zip(records) {
            let kind = record.kind.as_bytes();
            let len = 1 + kind.len() + record.bytes.len();
            let mut crc = crc32fast::Hasher::new();
            crc.update(&seq.to_le_bytes());
            crc.update(&[kind.len() as u8]);
            crc.update(kind);
            crc.update(&record.bytes);
            buf.extend_from_slice(&(len as u32).to_le_bytes());
            buf.extend_from_slice(&crc.finalize().to_le_bytes());
            buf.extend_from_slice(&seq.to_le_bytes());
            buf.push(kind.len() as u8);
            buf.extend_from_slice(kind);
            buf.extend_from_slice(&record.bytes);
        }
        let path = self.path.clone();
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let end = self.end + buf.len() as u64;
        if end > self.size {
            let size = end + LOG_STEP;
            self.grow(size).map_err(io)?;
        }
        self.file.write_all_at(&buf, self.end).map_err(io)?;
        if sync {
            self.file.sync_data().map_err(io)?;
        }
        self.end = end;
        self.unchecked = true;
        Ok(())
    }

    /// Writes zeros up to `size` and flushes them with the file's new length, so
    /// that writing a record later changes data only.
    fn grow(&mut self, size: u64) -> std::io::Result<()> {
        let zeros = vec![0; 1 << 20];
        let mut at = self.size;
        while at < size {
            let n = (size - at).min(zeros.len() as u64) as usize;
            self.file.write_all_at(&zeros[..n], at)?;
            at += n as u64;
        }
        self.file.sync_all()?;
        self.size = size;
        Ok(())
    }
}

/// The records of the log numbered after `done`, in order: the log is read from
/// its start while records are whole (length and CRC) and their numbers do not go
/// back (what follows a smaller number is left from before a checkpoint).
fn read_records(file: &File, size: u64, done: u64) -> std::io::Result<Vec<(u64, String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut at = 0u64;
    let mut previous = 0u64;
    let mut header = [0u8; HEADER];
    while at + HEADER as u64 <= size {
        file.read_exact_at(&mut header, at)?;
        let len = u32::from_le_bytes(header[0..4].try_into().unwrap_or_default()) as u64;
        let crc = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default());
        let seq = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
        if len == 0 || at + HEADER as u64 + len > size || seq < previous {
            break;
        }
        let mut body = vec![0u8; len as usize];
        file.read_exact_at(&mut body, at + HEADER as u64)?;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&header[8..16]);
        hasher.update(&body);
        if hasher.finalize() != crc {
            break;
        }
        let kind_len = body[0] as usize;
        if 1 + kind_len > body.len() {
            break;
        }
        if seq > done {
            if seq != done + 1 + out.len() as u64 {
                break;
            }
            let kind = String::from_utf8_lossy(&body[1..1 + kind_len]).into_owned();
            out.push((seq, kind, body[1 + kind_len..].to_vec()));
        }
        previous = seq;
        at += HEADER as u64 + len;
    }
    Ok(out)
}

/// The end of a submitted change: resolves to the outcome of its commit.
pub struct Commit(oneshot::Receiver<Result<()>>);

impl Future for Commit {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Stopped)))
    }
}

/// Waits for a future on the calling thread (parking it), inside an async runtime
/// or not: for the blocking callers of the stores.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const T: TableDefinition<&str, u64> = TableDefinition::new("t");

    /// A writer's own error.
    #[derive(Debug, PartialEq)]
    struct Refused;
    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("refused")
        }
    }
    impl std::error::Error for Refused {}

    fn put(key: String, value: u64) -> Change {
        Box::new(move |txn| {
            txn.open_table(T)?.insert(key.as_str(), value)?;
            Ok(())
        })
    }

    #[test]
    fn a_lone_write_is_committed_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        SharedDb::open(&path)
            .unwrap()
            .write(put("a".into(), 1), true)
            .unwrap();
        let db = SharedDb::open(&path).unwrap();
        let read = db.begin_read().unwrap();
        assert_eq!(
            read.open_table(T)
                .unwrap()
                .get("a")
                .unwrap()
                .unwrap()
                .value(),
            1
        );
    }

    #[test]
    fn writes_of_many_threads_share_commits_and_a_bad_one_fails_alone() {
        for durability in [Durability::Grouped, Durability::Log] {
            many_writers(durability);
        }
    }

    fn many_writers(durability: Durability) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let applied = Arc::new(AtomicUsize::new(0));
        {
            let db = Arc::new(SharedDb::open_in(&path, &[], durability).unwrap());
            let threads: Vec<_> = (0..16)
                .map(|t| {
                    let (db, applied) = (db.clone(), applied.clone());
                    std::thread::spawn(move || {
                        for i in 0..50u64 {
                            let key = format!("k{t}-{i}");
                            let applied = applied.clone();
                            let change: Change = Box::new(move |txn| {
                                applied.fetch_add(1, Ordering::Relaxed);
                                txn.open_table(T)?.insert(key.as_str(), i)?;
                                Ok(())
                            });
                            db.write(change, i % 2 == 0).unwrap();
                            if i == 25 {
                                let bad: Change = Box::new(|_| Err(Error::change(Refused)));
                                let err = db.write(bad, true).unwrap_err().to_string();
                                assert!(err.contains("refused"), "{err}");
                                let boom: Change = Box::new(|_| panic!("boom"));
                                let err = db.write(boom, true).unwrap_err().to_string();
                                assert!(err.contains("panicked"), "{err}");
                            }
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            let read = db.begin_read().unwrap();
            assert_eq!(read.open_table(T).unwrap().len().unwrap(), 800);
        }
        // Good changes are applied once, or twice when a bad one shared their batch.
        let applied = applied.load(Ordering::Relaxed);
        assert!((800..=1600).contains(&applied), "{applied}");
        // Reopened: every write is there (the last one of each thread was durable,
        // and a durable commit persists the earlier ones).
        let db = SharedDb::open(&path).unwrap();
        let read = db.begin_read().unwrap();
        assert_eq!(read.open_table(T).unwrap().len().unwrap(), 800);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn async_writers_wait_without_a_thread_each() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(SharedDb::open(&dir.path().join("s.redb")).unwrap());
        let tasks: Vec<_> = (0..200u64)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move { db.submit(put(format!("k{i}"), i), true).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let read = db.begin_read().unwrap();
        assert_eq!(read.open_table(T).unwrap().len().unwrap(), 200);
    }

    #[test]
    fn a_failing_change_gets_its_own_error_alone_or_in_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(SharedDb::open(&dir.path().join("s.redb")).unwrap());
        let missing: Change = Box::new(|_| Err(Error::change(Refused)));
        let err = db.write(missing, false).unwrap_err();
        assert!(matches!(err.into_change::<Refused>(), Ok(Refused)));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let change: Change = if i % 2 == 0 {
                        Box::new(|_| Err(Error::change(Refused)))
                    } else {
                        put(format!("k{i}"), i)
                    };
                    (i, db.write(change, true))
                })
            })
            .collect();
        for t in threads {
            match t.join().unwrap() {
                (i, Err(e)) => {
                    assert!(i % 2 == 0 && matches!(e.into_change::<Refused>(), Ok(Refused)))
                }
                (i, Ok(())) => assert!(i % 2 == 1),
            }
        }
    }

    /// Puts `key = value` logged as `key=value`.
    fn logged_put(key: &str, value: u64) -> (Change, Logged) {
        let log = Logged {
            kind: "t",
            bytes: format!("{key}={value}").into_bytes(),
        };
        (put(key.into(), value), log)
    }

    const T_REPLAYER: Replayer = Replayer {
        kind: "t",
        apply: |txn, bytes| {
            let text = std::str::from_utf8(bytes).map_err(Error::change)?;
            let (key, value) = text.split_once('=').unwrap();
            txn.open_table(T)?
                .insert(key, value.parse::<u64>().unwrap())?;
            Ok(())
        },
    };

    fn keys(db: &SharedDb) -> u64 {
        let read = db.begin_read().unwrap();
        match read.open_table(T) {
            Ok(t) => t.len().unwrap(),
            Err(_) => 0,
        }
    }

    /// The files as a crash would leave them after `writes`: a copy of the redb file
    /// and of its log taken while the store is open (its last commits not durable
    /// in redb, durable in the log).
    fn crash_image(writes: impl FnOnce(&SharedDb)) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let image = tempfile::tempdir().unwrap();
        {
            let db = SharedDb::open_in(&path, &[T_REPLAYER], Durability::Log).unwrap();
            writes(&db);
            std::fs::copy(&path, image.path().join("s.redb")).unwrap();
            std::fs::copy(path.with_extension("wal"), image.path().join("s.wal")).unwrap();
        }
        image
    }

    #[test]
    fn logged_changes_lost_by_redb_in_a_crash_are_made_again_at_open() {
        let image = crash_image(|db| {
            // A durable commit of redb, then 300 logged ones that are not.
            db.write(put("base".into(), 0), true).unwrap();
            let commits: Vec<_> = (0..300)
                .map(|i| {
                    let (change, log) = logged_put(&format!("k{i}"), i);
                    db.submit_logged(change, log, i % 3 == 0)
                })
                .collect();
            for c in commits {
                block_on(c).unwrap();
            }
            assert_eq!(keys(db), 301);
        });
        let path = image.path().join("s.redb");
        // redb alone lost them: only the log has them.
        let err = SharedDb::open(&path).err().unwrap().to_string();
        assert!(err.contains("cannot make again"), "{err}");
        let db = SharedDb::open_with(&path, &[T_REPLAYER]).unwrap();
        assert_eq!(keys(&db), 301);
        // Once made again they are in redb for good, and the log is gone.
        assert!(!path.with_extension("wal").exists());
        let (change, log) = logged_put("after", 1);
        db.submit_logged(change, log, true);
        drop(db);
        let db = SharedDb::open(&path).unwrap();
        assert_eq!(keys(&db), 302);
    }

    #[test]
    fn a_torn_record_ends_the_log_and_a_stranger_kind_is_refused() {
        let image = crash_image(|db| {
            for i in 0..5 {
                let (change, log) = logged_put(&format!("k{i}"), i);
                block_on(db.submit_logged(change, log, true)).unwrap();
            }
        });
        let path = image.path().join("s.redb");
        let wal = path.with_extension("wal");
        // The last record cut in its middle (its CRC no longer matches).
        let bytes = std::fs::read(&wal).unwrap();
        let records: Vec<usize> = {
            let mut at = 0;
            let mut starts = Vec::new();
            while u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) != 0 {
                starts.push(at);
                at += HEADER + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            }
            starts
        };
        assert_eq!(records.len(), 5);
        let mut torn = bytes.clone();
        torn[records[4] + HEADER + 3] ^= 0xff;
        std::fs::write(&wal, &torn).unwrap();
        // Without the replayer of the records' kind: a clear refusal.
        let err = SharedDb::open(&path).err().unwrap().to_string();
        assert!(err.contains("kind \"t\""), "{err}");
        let db = SharedDb::open_with(&path, &[T_REPLAYER]).unwrap();
        assert_eq!(keys(&db), 4);
    }

    #[test]
    fn the_file_refuses_a_second_opener_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let _first = SharedDb::open(&path).unwrap();
        let err = SharedDb::open(&path).err().unwrap().to_string();
        assert!(err.contains("open in another process"), "{err}");
    }
}
