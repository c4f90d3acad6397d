//! The job queue: ids of accepted jobs waiting for a worker. The trait is what a
//! broker (AMQP) implements; the default is in-process. The queue holds only ids:
//! the job itself is in the [`JobStore`](super::jobs::JobStore), so a queue lost
//! in a crash is rebuilt from the store's unfinished jobs at start.

use std::collections::VecDeque;
use std::sync::Mutex;

use futures::future::BoxFuture;
use tokio::sync::Notify;

/// A queue of job ids.
pub trait JobQueue: Send + Sync {
    /// Adds a job id at the back.
    fn push(&self, id: String) -> anyhow::Result<()>;
    /// Waits for the next job id.
    fn pop(&self) -> BoxFuture<'_, String>;
    /// Ids waiting.
    fn depth(&self) -> usize;
}

/// The in-process queue.
#[derive(Default)]
pub struct LocalQueue {
    items: Mutex<VecDeque<String>>,
    ready: Notify,
}

impl JobQueue for LocalQueue {
    fn push(&self, id: String) -> anyhow::Result<()> {
        self.items.lock().expect("queue lock").push_back(id);
        self.ready.notify_one();
        Ok(())
    }

    fn pop(&self) -> BoxFuture<'_, String> {
        Box::pin(async move {
            loop {
                let notified = self.ready.notified();
                if let Some(id) = self.items.lock().expect("queue lock").pop_front() {
                    return id;
                }
                notified.await;
            }
        })
    }

    fn depth(&self) -> usize {
        self.items.lock().expect("queue lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn pop_waits_for_push_and_keeps_order() {
        let q = Arc::new(LocalQueue::default());
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { (q.pop().await, q.pop().await) }
        });
        tokio::task::yield_now().await;
        q.push("a".into()).unwrap();
        q.push("b".into()).unwrap();
        assert_eq!(waiter.await.unwrap(), ("a".to_string(), "b".to_string()));
        assert_eq!(q.depth(), 0);
    }
}
