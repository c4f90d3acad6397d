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
//! **Durability.** A batch is one redb transaction, committed durably (redb's own
//! flush) when one of its changes asks for durability, and without a flush
//! otherwise (a later durable commit persists it). A reader never sees a change
//! before the commit that holds it returns, and a change whose writer was told it
//! is durable survives a crash.
//!
//! **A full disk.** redb refuses every read and write of a file once one of its
//! writes failed, until the file is opened again. The store then reports the
//! fault ([`SharedDb::fault`], the server's readiness) and its committing thread
//! lets go of the file and opens it again once the disk has room (see
//! [`headroom`]), at the earliest 1 s after the fault and then at doubling
//! intervals up to 30 s; the fault clears when a durable commit succeeds on the
//! file opened again, with no restart. Meanwhile reads and writes fail with the
//! reason. Nothing committed is lost: the failed transaction was never committed.
//! A disk with less room than that is a fault too, before any write fails.
//!
//! Earlier versions could keep a log beside the file (`store.wal`, `hysope serve
//! --store-log`); it showed no speed advantage over grouped durable commits (see
//! BENCHMARKS.md, 2026-12-02) and was removed. A store whose folder still holds a
//! non-empty log is refused at open, with the way out in the message.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use redb::{
    Database, ReadTransaction, ReadableDatabase, StorageError, TransactionError, WriteTransaction,
};
use tokio::sync::oneshot;

use crate::{Error, Result};

/// A change to the shared file, applied inside a batch's write transaction.
pub type Change = Box<dyn Fn(&WriteTransaction) -> Result<()> + Send>;

/// A redb database whose writers share commits. Reads (and writes that must be
/// their own transaction) begin with [`SharedDb::begin_read`] and
/// [`SharedDb::begin_write`].
pub struct SharedDb {
    inner: Arc<Inner>,
    committer: Option<std::thread::JoinHandle<()>>,
}

/// Opens the store's file again after a disk fault.
type Opener = Box<dyn Fn() -> Result<Database> + Send + Sync>;

/// Told each commit's duration and whether it was durable.
type CommitObserver = Box<dyn Fn(Duration, bool) + Send + Sync>;

struct Inner {
    /// The open file; `None` between letting go of a file that failed and
    /// opening it again.
    db: RwLock<Option<Arc<Database>>>,
    /// How to open the file again (`None` for a backend that cannot be).
    opener: Option<Opener>,
    /// The file, whose disk's room is watched (`None` for a backend).
    path: Option<std::path::PathBuf>,
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Why the file cannot be written, since the last commit failed on the disk
    /// (full, failing): redb refuses every later read and write until the file
    /// is opened again, so the server reports itself not ready with this reason
    /// until the committing thread has opened it again and written to it.
    fault: Mutex<Option<Fault>>,
    /// Every commit records redb's allocator state ([`SharedDb::set_quick_repair`]).
    quick_repair: AtomicBool,
    observer: OnceLock<CommitObserver>,
}

/// Why the file cannot be written: the failed commit's error, and that of
/// the last attempt to open the file again, if it failed too.
struct Fault {
    cause: String,
    reopening: Option<String>,
}

impl Fault {
    fn text(&self) -> String {
        match &self.reopening {
            None => self.cause.clone(),
            Some(e) => format!("{}; opened again, it still fails: {e}", self.cause),
        }
    }
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
    durable: bool,
    reply: oneshot::Sender<Result<()>>,
}

impl SharedDb {
    /// Opens (or creates) the file at `path` and starts its committing thread.
    pub fn open(path: &Path) -> Result<Self> {
        let db = open_file(path)?;
        let log = path.with_extension("wal");
        if log.exists() {
            let io = |source| Error::Io {
                path: log.clone(),
                source,
            };
            if leftover_log_pending(&std::fs::read(&log).map_err(io)?, &db)? {
                return Err(Error::LeftoverLog { path: log });
            }
            std::fs::remove_file(&log).map_err(io)?;
        }
        let file = path.to_path_buf();
        Self::start(
            db,
            Some(Box::new(move || open_file(&file))),
            Some(path.to_path_buf()),
        )
    }

    /// A store on `backend` instead of a file (a backend that fails on demand
    /// tests what a full disk does).
    pub fn open_backend(backend: impl redb::StorageBackend) -> Result<Self> {
        Self::start(open_backend(backend)?, None, None)
    }

    /// A store on the backends `make` gives: one at first, a new one each time
    /// the store opens its file again after a disk fault.
    pub fn open_backends<B: redb::StorageBackend>(
        make: impl Fn() -> B + Send + Sync + 'static,
    ) -> Result<Self> {
        Self::start(
            open_backend(make())?,
            Some(Box::new(move || open_backend(make()))),
            None,
        )
    }

    fn start(
        db: Database,
        opener: Option<Opener>,
        path: Option<std::path::PathBuf>,
    ) -> Result<Self> {
        let inner = Arc::new(Inner {
            db: RwLock::new(Some(Arc::new(db))),
            opener,
            path,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            fault: Mutex::new(None),
            quick_repair: AtomicBool::new(false),
            observer: OnceLock::new(),
        });
        let thread = inner.clone();
        let committer = std::thread::Builder::new()
            .name("hysope-commit".into())
            .spawn(move || thread.run())
            .map_err(Error::Thread)?;
        Ok(Self {
            inner,
            committer: Some(committer),
        })
    }

    /// Hands `change` to the committing thread; the returned future resolves once
    /// a transaction holding it is committed, durably when `durable` (or when
    /// another change of its batch asked for it).
    pub fn submit(&self, change: Change, durable: bool) -> Commit {
        let (reply, done) = oneshot::channel();
        let idle = {
            let mut queue = lock(&self.inner.queue);
            queue.pending.push(Request {
                change,
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

    /// Why the store cannot be written, if its last commit failed on the disk
    /// or its disk has less room than [`headroom`] (`None` when it is healthy).
    pub fn fault(&self) -> Option<String> {
        lock(&self.inner.fault)
            .as_ref()
            .map(Fault::text)
            .or_else(|| self.inner.cramped())
    }

    /// Makes every later commit record redb's allocator state (redb's
    /// quick-repair, with its two-phase commit), so that opening the file after a
    /// crash takes no time (0.71 s for the whole open of an 8.46 GB catalogue)
    /// instead of a walk of the whole file (81 s there). A durable commit costs
    /// more: p50 1.65 ms against 0.29 ms on that file (p99 27-40 ms against
    /// 1.2-1.6 ms), 0.41 against 0.26 ms on a small one (`store-commit`,
    /// BENCHMARKS.md, 2026-12-04). Off by default; `hysope serve
    /// --store-quick-repair` turns it on.
    pub fn set_quick_repair(&self, on: bool) {
        self.inner.quick_repair.store(on, Ordering::Relaxed);
    }

    /// A write transaction of its own (not batched with other writers'), with
    /// quick-repair when it is on: every writer must ask for it, or the recorded
    /// state is dropped at the next commit.
    pub fn begin_write(&self) -> std::result::Result<WriteTransaction, TransactionError> {
        self.inner.begin_write()
    }

    /// A read transaction on the file (an error while the store opens its file
    /// again after a disk fault).
    pub fn begin_read(&self) -> std::result::Result<ReadTransaction, TransactionError> {
        self.inner.database()?.begin_read()
    }

    /// Tells `observer` each batch's commit time (from its transaction's start to
    /// the end of its commit) and whether it was durable. Once: a later call is
    /// ignored.
    pub fn observe_commits(&self, observer: impl Fn(Duration, bool) + Send + Sync + 'static) {
        let _ = self.inner.observer.set(Box::new(observer));
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

/// Opens (or creates) the file at `path`; a file not closed cleanly is walked
/// whole first (unless quick-repair was on): minutes for a large catalogue, so
/// it is said.
fn open_file(path: &Path) -> Result<Database> {
    let reported = AtomicU8::new(0);
    let shown = path.display().to_string();
    redb::Builder::new()
        .set_repair_callback(move |session| {
            let tenth = (session.progress() * 10.0) as u8 + 1;
            if reported.fetch_max(tenth, Ordering::Relaxed) < tenth {
                tracing::warn!(
                    file = %shown,
                    done = format!("{:.0} %", session.progress() * 100.0),
                    "the store was not closed cleanly: repairing it (see --store-quick-repair)"
                );
            }
        })
        .create(path)
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::AlreadyOpen {
                path: path.to_path_buf(),
            },
            source => Error::Open {
                path: path.to_path_buf(),
                source,
            },
        })
}

fn open_backend(backend: impl redb::StorageBackend) -> Result<Database> {
    redb::Builder::new()
        .create_with_backend(backend)
        .map_err(|e| Error::Redb(e.into()))
}

/// The room a store's disk must keep for its writes: 1 % of the file, at least
/// 16 MiB. Below it the store reports a fault, and a store whose write failed
/// is not opened again until its disk has that room (a store opened again
/// with a few bytes free would fail again at its next write, and a large file
/// not closed cleanly takes a walk of the whole file to open).
pub fn headroom(file_bytes: u64) -> u64 {
    (file_bytes / 100).max(16 << 20)
}

/// Bytes as MiB with one decimal.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// The table a store opened again after a fault is written to, to prove that
/// the disk takes writes again.
const PROBE: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("store_probe");

/// When the committing thread next opens a faulty file again: 1 s after the
/// fault, then at doubling intervals up to 30 s.
struct Retry {
    next: Option<Instant>,
    delay: Duration,
}

impl Retry {
    const FIRST: Duration = Duration::from_secs(1);
    const LONGEST: Duration = Duration::from_secs(30);
}

impl Inner {
    fn database(&self) -> std::result::Result<Arc<Database>, TransactionError> {
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(TransactionError::Storage(StorageError::DatabaseClosed))
    }

    fn begin_write(&self) -> std::result::Result<WriteTransaction, TransactionError> {
        let mut txn = self.database()?.begin_write()?;
        txn.set_quick_repair(self.quick_repair.load(Ordering::Relaxed));
        Ok(txn)
    }

    /// A fault the thread may mend by opening the file again.
    fn mendable(&self) -> bool {
        self.opener.is_some() && lock(&self.fault).is_some()
    }

    /// Why the file's disk has too little room ([`headroom`]), if it has.
    fn cramped(&self) -> Option<String> {
        let path = self.path.as_ref()?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
        let stat = rustix::fs::statvfs(dir).ok()?;
        let free = stat.f_bavail.saturating_mul(stat.f_frsize);
        let need = headroom(std::fs::metadata(path).map_or(0, |m| m.len()));
        (free < need).then(|| {
            format!(
                "the disk holding the store has {} free, less than the {} it keeps for its writes",
                mib(free),
                mib(need)
            )
        })
    }

    fn run(&self) {
        let mut retry = Retry {
            next: None,
            delay: Retry::FIRST,
        };
        loop {
            let batch = {
                let mut queue = lock(&self.queue);
                while queue.pending.is_empty() && !queue.closing {
                    queue.idle = true;
                    match retry.next.filter(|_| self.mendable()) {
                        Some(at) => {
                            let wait = at.saturating_duration_since(Instant::now());
                            if wait.is_zero() {
                                break;
                            }
                            queue = self
                                .wake
                                .wait_timeout(queue, wait)
                                .unwrap_or_else(PoisonError::into_inner)
                                .0;
                        }
                        None => {
                            queue = self
                                .wake
                                .wait(queue)
                                .unwrap_or_else(PoisonError::into_inner);
                        }
                    }
                }
                queue.idle = false;
                if queue.pending.is_empty() && queue.closing {
                    return;
                }
                std::mem::take(&mut queue.pending)
            };
            if self.mendable() && retry.next.is_some_and(|at| at <= Instant::now()) {
                match self.cramped() {
                    // A look at the disk is cheap: again in a second.
                    Some(_) => retry.next = Some(Instant::now() + Retry::FIRST),
                    None => self.reopen(&mut retry),
                }
            }
            if !batch.is_empty() {
                self.commit_batch(batch);
            }
            if retry.next.is_none() && self.mendable() {
                retry.next = Some(Instant::now() + retry.delay);
            }
        }
    }

    /// Lets go of a file that failed and opens it again; the fault clears when
    /// a durable commit succeeds on it. Else the next attempt waits twice as
    /// long (up to [`Retry::LONGEST`]).
    fn reopen(&self, retry: &mut Retry) {
        let Some(opener) = &self.opener else { return };
        // The file closes when the last reader in flight lets go of it too (until
        // then, opening it again says it is open: the next attempt will do).
        drop(
            self.db
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let outcome = opener().and_then(|db| {
            let mut txn = db.begin_write()?;
            txn.set_quick_repair(self.quick_repair.load(Ordering::Relaxed));
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            txn.open_table(PROBE)?.insert("written", now)?;
            txn.commit()?;
            Ok(db)
        });
        match outcome {
            Ok(db) => {
                *self.db.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(db));
                *lock(&self.fault) = None;
                *retry = Retry {
                    next: None,
                    delay: Retry::FIRST,
                };
                tracing::warn!(
                    "the store was opened again and can write: the server is ready again"
                );
            }
            Err(e) => {
                retry.delay = (retry.delay * 2).min(Retry::LONGEST);
                retry.next = Some(Instant::now() + retry.delay);
                tracing::warn!(error = %e, retry_in = ?retry.delay, "the store still cannot write");
                if let Some(fault) = lock(&self.fault).as_mut() {
                    fault.reopening = Some(e.to_string());
                }
            }
        }
    }

    fn commit_batch(&self, batch: Vec<Request>) {
        match self.commit(&batch) {
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
                    let alone = self.commit(std::slice::from_ref(&request));
                    let _ = request.reply.send(alone);
                }
            }
        }
    }

    /// Applies a batch's changes in one transaction and commits it, with redb's
    /// flush when one of them asks for durability.
    fn commit(&self, batch: &[Request]) -> Result<()> {
        let durable = batch.iter().any(|r| r.durable);
        let began = Instant::now();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut txn = self.begin_write()?;
            if !durable {
                txn.set_durability(redb::Durability::None)?;
            }
            for request in batch {
                (request.change)(&txn)?;
            }
            txn.commit()?;
            Ok(())
        }))
        .unwrap_or(Err(Error::Panicked));
        if let Some(observe) = self.observer.get() {
            observe(began.elapsed(), durable);
        }
        let mut fault = lock(&self.fault);
        match &outcome {
            Ok(()) => *fault = None,
            Err(Error::Redb(e)) if is_disk_fault(e) => {
                if fault.is_none() {
                    tracing::error!(error = %e, "the store cannot write; the server is not ready until it can (it opens the file again, at growing intervals)");
                }
                *fault = Some(Fault {
                    cause: format!("the store cannot write: {e}"),
                    reopening: None,
                });
            }
            Err(_) => {}
        }
        outcome
    }
}

/// True for the errors that say the disk failed (full, an I/O error, a file
/// damaged), as opposed to a change's own error.
fn is_disk_fault(e: &redb::Error) -> bool {
    matches!(
        e,
        redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::Corrupted(_)
    )
}

/// True when the log an earlier version left (records `[length u32][crc u32]
/// [sequence u64]...` from the start, the last number the file holds in table
/// `store_log`) has a record the file does not hold. Records are not checked
/// further: a doubtful log is refused, never dropped.
fn leftover_log_pending(log: &[u8], db: &Database) -> Result<bool> {
    const META: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("store_log");
    let done = {
        let read = db.begin_read()?;
        match read.open_table(META) {
            Ok(table) => table.get("logged_up_to")?.map(|v| v.value()).unwrap_or(0),
            Err(redb::TableError::TableDoesNotExist(_)) => 0,
            Err(e) => return Err(e.into()),
        }
    };
    let (mut at, mut previous) = (0usize, 0u64);
    while let Some(header) = log.get(at..at + 16) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let seq = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
        if len == 0 || seq < previous {
            break;
        }
        if seq > done {
            return Ok(true);
        }
        previous = seq;
        at += 16 + len;
    }
    Ok(false)
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

    /// A store in memory whose writes fail with ENOSPC while `full` is set.
    #[derive(Debug, Default, Clone)]
    struct Disk {
        bytes: Arc<std::sync::RwLock<Vec<u8>>>,
        full: Arc<std::sync::atomic::AtomicBool>,
    }

    impl Disk {
        fn check(&self) -> std::io::Result<()> {
            if self.full.load(Ordering::SeqCst) {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            Ok(())
        }
    }

    impl redb::StorageBackend for Disk {
        fn len(&self) -> std::io::Result<u64> {
            Ok(self.bytes.read().unwrap().len() as u64)
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
            let bytes = self.bytes.read().unwrap();
            let at = offset as usize;
            out.copy_from_slice(&bytes[at..at + out.len()]);
            Ok(())
        }
        fn set_len(&self, len: u64) -> std::io::Result<()> {
            self.check()?;
            self.bytes.write().unwrap().resize(len as usize, 0);
            Ok(())
        }
        fn sync_data(&self) -> std::io::Result<()> {
            self.check()
        }
        fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
            self.check()?;
            let mut bytes = self.bytes.write().unwrap();
            let at = offset as usize;
            bytes[at..at + data.len()].copy_from_slice(data);
            Ok(())
        }
    }

    /// Whether opening the bytes a store left when its process died needs redb's
    /// full repair.
    fn crash_then_open(quick_repair: bool) -> bool {
        let disk = Disk::default();
        let bytes = disk.bytes.clone();
        let db = SharedDb::open_backend(disk).unwrap();
        db.set_quick_repair(quick_repair);
        db.write(put("a".into(), 1), true).unwrap();
        db.write(put("b".into(), 2), false).unwrap();
        db.write(put("c".into(), 3), true).unwrap();
        let own = db.begin_write().unwrap();
        own.open_table(T).unwrap().insert("d", 4).unwrap();
        own.commit().unwrap();
        // The process dies: nothing of the store is closed.
        std::mem::forget(db);
        let left = Disk {
            bytes: Arc::new(std::sync::RwLock::new(bytes.read().unwrap().clone())),
            ..Disk::default()
        };
        let repaired = Arc::new(AtomicBool::new(false));
        let seen = repaired.clone();
        let db = redb::Builder::new()
            .set_repair_callback(move |_| seen.store(true, Ordering::SeqCst))
            .create_with_backend(left)
            .unwrap();
        let read = db.begin_read().unwrap();
        assert_eq!(read.open_table(T).unwrap().len().unwrap(), 4);
        repaired.load(Ordering::SeqCst)
    }

    #[test]
    fn with_quick_repair_a_crashed_store_opens_without_a_repair() {
        assert!(crash_then_open(false), "the control: a full repair");
        assert!(!crash_then_open(true));
    }

    /// Issue 18, hole 8: a full disk latches the store (redb refuses every later
    /// write until the file is opened again); the store says so, with the reason,
    /// instead of failing each write silently.
    #[test]
    fn a_full_disk_is_reported_as_a_fault() {
        let disk = Disk::default();
        let full = disk.full.clone();
        let db = SharedDb::open_backend(disk).unwrap();
        db.write(put("a".into(), 1), true).unwrap();
        assert_eq!(db.fault(), None);
        full.store(true, Ordering::SeqCst);
        assert!(db.write(put("b".into(), 2), true).is_err());
        let fault = db.fault().expect("a fault after the failed commit");
        assert!(fault.contains("cannot write"), "{fault}");
        // A writer's own error is not a fault of the disk.
        full.store(false, Ordering::SeqCst);
        let _ = db.write(put("c".into(), 3), true);
        assert!(db.fault().is_some(), "redb stays latched until reopened");
    }

    /// Issue 24: the server becomes ready again when its disk has room again,
    /// without a restart: the store opens its file again and writes to it.
    #[test]
    fn a_store_whose_disk_has_room_again_writes_again_without_a_restart() {
        let disk = Disk::default();
        let full = disk.full.clone();
        let db = SharedDb::open_backends(move || disk.clone()).unwrap();
        let commits = Arc::new(AtomicUsize::new(0));
        let seen = commits.clone();
        db.observe_commits(move |_, durable| {
            assert!(durable);
            seen.fetch_add(1, Ordering::SeqCst);
        });
        db.write(put("a".into(), 1), true).unwrap();
        assert_eq!(commits.load(Ordering::SeqCst), 1);
        full.store(true, Ordering::SeqCst);
        assert!(db.write(put("b".into(), 2), true).is_err());
        assert!(db.fault().is_some());
        // The first attempt, 1 s after the fault, finds the disk still full.
        let waited = Instant::now();
        while !db.fault().unwrap_or_default().contains("still fails") {
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "{:?}",
                db.fault()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            db.begin_read().is_err(),
            "no file while it cannot be opened"
        );
        full.store(false, Ordering::SeqCst);
        // The next one (2 s later) succeeds.
        while let Some(fault) = db.fault() {
            assert!(waited.elapsed() < Duration::from_secs(15), "{fault}");
            std::thread::sleep(Duration::from_millis(50));
        }
        db.write(put("c".into(), 3), true).unwrap();
        let read = db.begin_read().unwrap();
        let table = read.open_table(T).unwrap();
        assert_eq!(table.get("a").unwrap().unwrap().value(), 1);
        assert!(
            table.get("b").unwrap().is_none(),
            "the failed write was never committed"
        );
        assert_eq!(table.get("c").unwrap().unwrap().value(), 3);
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let applied = Arc::new(AtomicUsize::new(0));
        {
            let db = Arc::new(SharedDb::open(&path).unwrap());
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

    /// A log as the earlier version wrote it: records numbered `seqs`.
    fn old_log(seqs: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        for seq in seqs {
            out.extend_from_slice(&3u32.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&seq.to_le_bytes());
            out.extend_from_slice(b"\x01tx");
        }
        out.resize(out.len() + 64, 0);
        out
    }

    #[test]
    fn a_leftover_log_is_removed_when_spent_and_refused_when_it_holds_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let log = path.with_extension("wal");
        // The file holds the changes up to record 2, as a checkpoint left it.
        {
            let db = SharedDb::open(&path).unwrap();
            let meta: TableDefinition<&str, u64> = TableDefinition::new("store_log");
            let mark: Change = Box::new(move |txn| {
                txn.open_table(meta)?.insert("logged_up_to", 2)?;
                Ok(())
            });
            db.write(mark, true).unwrap();
        }
        // Records 3 and 4 are not in the file: refused, the log kept.
        std::fs::write(&log, old_log(&[1, 2, 3, 4])).unwrap();
        let err = SharedDb::open(&path).err().unwrap().to_string();
        assert!(err.contains("s.wal") && err.contains("store log"), "{err}");
        assert!(log.exists());
        // Only spent records (and zeros): the log goes, the store opens.
        std::fs::write(&log, old_log(&[1, 2])).unwrap();
        drop(SharedDb::open(&path).unwrap());
        assert!(!log.exists());
        std::fs::write(&log, vec![0; 4096]).unwrap();
        drop(SharedDb::open(&path).unwrap());
        assert!(!log.exists());
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
