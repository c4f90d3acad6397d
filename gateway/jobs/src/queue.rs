//! The job queue: ids of accepted jobs on their way to a worker. The queue holds
//! only ids; the job itself is in the [`JobStore`](crate::JobStore), so a queue
//! lost in a crash is rebuilt from the store's unfinished jobs at start.
//!
//! [`JobQueue::pop`] hands out a [`Delivery`] that the worker acknowledges once
//! it has durably claimed the job (its record says running) or returns to the
//! queue when it cannot take it: a broker with manual acknowledgements (AMQP)
//! redelivers what a dead worker never acknowledged, without a change of trait.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::Notify;

use crate::Result;

/// A queue of job ids.
pub trait JobQueue: Send + Sync {
    /// Adds a job id at the back; resolves once the queue holds it (for a broker:
    /// once the broker confirmed it).
    fn push(&self, id: String) -> BoxFuture<'_, Result<()>>;
    /// Waits for the next job id.
    fn pop(&self) -> BoxFuture<'_, Result<Delivery>>;
    /// Ids waiting (an estimate for a shared broker).
    fn depth(&self) -> usize;
    /// Why the queue cannot be reached, when its last attempt failed (a broker
    /// down); `None` when it can.
    fn fault(&self) -> Option<String> {
        None
    }
}

/// What a queue does with a delivery's end.
pub trait Acknowledge: Send {
    /// The worker holds the job: the queue forgets the delivery.
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<()>>;
    /// The worker gives the job back: the queue delivers it again.
    fn nack(self: Box<Self>) -> BoxFuture<'static, Result<()>>;
}

/// A job id handed to a worker. Acknowledge it ([`Delivery::ack`]) once the job is
/// durably claimed, or return it ([`Delivery::nack`]); a delivery dropped without
/// either is returned, as a broker returns the unacknowledged messages of a
/// consumer that went away.
pub struct Delivery {
    id: String,
    acker: Option<Box<dyn Acknowledge>>,
}

impl Delivery {
    /// A delivery of `id` whose end `acker` carries out.
    pub fn new(id: String, acker: Box<dyn Acknowledge>) -> Self {
        Self {
            id,
            acker: Some(acker),
        }
    }

    /// The job id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The job is claimed: the queue forgets it.
    pub async fn ack(mut self) -> Result<()> {
        match self.acker.take() {
            Some(acker) => acker.ack().await,
            None => Ok(()),
        }
    }

    /// The job goes back to the queue.
    pub async fn nack(mut self) -> Result<()> {
        match self.acker.take() {
            Some(acker) => acker.nack().await,
            None => Ok(()),
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Some(acker) = self.acker.take() {
            // The local queue's return does not wait; a broker's runs on its own.
            let returned = acker.nack();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(returned);
            } else {
                let _ = hysope_store::block_on(returned);
            }
        }
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").field("id", &self.id).finish()
    }
}

/// The in-process queue (the embedded default).
#[derive(Default)]
pub struct LocalQueue {
    inner: Arc<Local>,
}

#[derive(Default)]
struct Local {
    items: Mutex<VecDeque<String>>,
    ready: Notify,
}

impl Local {
    fn items(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A delivery's end in the local queue: a returned id goes to the front.
struct LocalAck {
    queue: Arc<Local>,
    id: String,
}

impl Acknowledge for LocalAck {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn nack(self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        self.queue.items().push_front(self.id);
        self.queue.ready.notify_one();
        Box::pin(std::future::ready(Ok(())))
    }
}

impl JobQueue for LocalQueue {
    fn push(&self, id: String) -> BoxFuture<'_, Result<()>> {
        self.inner.items().push_back(id);
        self.inner.ready.notify_one();
        Box::pin(std::future::ready(Ok(())))
    }

    fn pop(&self) -> BoxFuture<'_, Result<Delivery>> {
        Box::pin(async move {
            loop {
                let notified = self.inner.ready.notified();
                if let Some(id) = self.inner.items().pop_front() {
                    let acker = LocalAck {
                        queue: self.inner.clone(),
                        id: id.clone(),
                    };
                    return Ok(Delivery::new(id, Box::new(acker)));
                }
                notified.await;
            }
        })
    }

    fn depth(&self) -> usize {
        self.inner.items().len()
    }
}

/// A shared queue's depth as one process knows it (for [`JobQueue::depth`]): the
/// last count of the broker or table, moved by this process's own pushes and
/// takes since. A count made while this process moved the queue is stale, and
/// dropped: a push or take is [`QueueDepth::begin`]-ed before it touches the
/// queue and done after, and no count begun while one is under way is kept (a
/// count that saw a pushed row before the push was added in would count it twice).
#[derive(Debug, Default)]
pub struct QueueDepth {
    value: std::sync::atomic::AtomicUsize,
    /// This process's pushes and takes begun or ended so far.
    moves: std::sync::atomic::AtomicU64,
    /// Pushes and takes under way.
    in_flight: std::sync::atomic::AtomicUsize,
}

/// A push or take under way ([`QueueDepth::begin`]); dropped without
/// [`Moving::done`], it moved nothing.
#[derive(Debug)]
pub struct Moving<'a> {
    depth: &'a QueueDepth,
}

impl Moving<'_> {
    /// It pushed an id (`true`) or took one (`false`).
    pub fn done(self, pushed: bool) {
        use std::sync::atomic::Ordering::SeqCst;
        let _ = self.depth.value.fetch_update(SeqCst, SeqCst, |d| {
            Some(if pushed { d + 1 } else { d.saturating_sub(1) })
        });
    }
}

impl Drop for Moving<'_> {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering::SeqCst;
        self.depth.moves.fetch_add(1, SeqCst);
        self.depth.in_flight.fetch_sub(1, SeqCst);
    }
}

impl QueueDepth {
    /// A push or take begins: counts begun before it ends are dropped.
    pub fn begin(&self) -> Moving<'_> {
        use std::sync::atomic::Ordering::SeqCst;
        self.in_flight.fetch_add(1, SeqCst);
        self.moves.fetch_add(1, SeqCst);
        Moving { depth: self }
    }

    /// This process pushed an id (`true`) or took one (`false`), already done
    /// (a broker's delivery, which arrives taken).
    pub fn moved(&self, pushed: bool) {
        self.begin().done(pushed);
    }

    /// Taken before a count is made: what [`QueueDepth::counted`] compares;
    /// `None` while a push or take is under way (no count then).
    pub fn mark(&self) -> Option<u64> {
        use std::sync::atomic::Ordering::SeqCst;
        let mark = self.moves.load(SeqCst);
        (self.in_flight.load(SeqCst) == 0).then_some(mark)
    }

    /// The queue held `n` ids by a count begun at `mark`: kept unless this
    /// process moved the queue meanwhile.
    pub fn counted(&self, mark: u64, n: usize) {
        use std::sync::atomic::Ordering::SeqCst;
        if self.moves.load(SeqCst) == mark && self.in_flight.load(SeqCst) == 0 {
            self.value.store(n, SeqCst);
        }
    }

    /// The depth.
    pub fn get(&self) -> usize {
        self.value.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[cfg(test)]
mod depth_tests {
    use super::QueueDepth;

    /// The race a shared queue's count had (issue 21's PostgreSQL suite, seen
    /// once in CI): a count that sees a pushed row before the push is added in
    /// must not be kept, or the row counts twice.
    #[test]
    fn a_count_made_while_a_push_is_under_way_is_dropped() {
        let depth = QueueDepth::default();
        let moving = depth.begin();
        assert_eq!(depth.mark(), None, "no count while a push is under way");
        moving.done(true);
        assert_eq!(depth.get(), 1);
        // A count begun before the push, finished after it: dropped.
        let depth = QueueDepth::default();
        let mark = depth.mark().unwrap();
        let moving = depth.begin();
        depth.counted(mark, 1);
        moving.done(true);
        assert_eq!(depth.get(), 1);
        depth.counted(mark, 5);
        assert_eq!(depth.get(), 1, "a stale count is dropped");
        // A count begun after: kept.
        let mark = depth.mark().unwrap();
        depth.counted(mark, 3);
        assert_eq!(depth.get(), 3);
        // A push that failed moved nothing, but still voids the counts begun before.
        let mark = depth.mark().unwrap();
        drop(depth.begin());
        depth.counted(mark, 9);
        assert_eq!(depth.get(), 3);
        depth.moved(false);
        assert_eq!(depth.get(), 2);
    }
}
