//! Group commit: requests that writers on several threads submit at about the same
//! time are committed together, in one transaction, instead of one transaction (and
//! one `fsync`) each.
//!
//! No thread of its own: the first submitter that finds no commit under way commits
//! everything pending (its own request and whatever arrived before it took them);
//! the others wait for the outcome of the batch that holds their request. While one
//! batch commits, the next one gathers, so the more writers wait on the disk, the
//! larger the batches and the fewer the commits. A lone writer pays nothing extra:
//! its batch is itself.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Coalesces concurrent requests of type `R` into batched commits that fail with `E`.
pub struct GroupCommit<R, E> {
    queue: Mutex<Queue<R, E>>,
    wake: Condvar,
}

struct Queue<R, E> {
    pending: Vec<(R, Arc<Slot<E>>)>,
    leading: bool,
}

/// Where the committing thread leaves a request's outcome.
type Slot<E> = Mutex<Outcome<E>>;

enum Outcome<E> {
    Waiting,
    Done(Result<(), E>),
    /// The committing thread panicked before it could say.
    Lost,
}

impl<R, E> Default for GroupCommit<R, E> {
    fn default() -> Self {
        Self {
            queue: Mutex::new(Queue {
                pending: Vec::new(),
                leading: false,
            }),
            wake: Condvar::new(),
        }
    }
}

impl<R, E> GroupCommit<R, E> {
    /// Commits `request`, together with the requests other threads submit meanwhile,
    /// and returns once a commit holding it is done. `commit` gets a batch in
    /// submission order and commits it as one transaction. When a batch of several
    /// fails, each of its requests is committed alone, so that one bad request fails
    /// only its own sender. Blocks the calling thread.
    ///
    /// # Panics
    /// When the thread that committed this request's batch panicked in `commit`.
    pub fn submit(&self, request: R, commit: impl Fn(&[R]) -> Result<(), E>) -> Result<(), E> {
        let slot = Arc::new(Mutex::new(Outcome::Waiting));
        let mut queue = self.lock();
        queue.pending.push((request, slot.clone()));
        loop {
            match std::mem::replace(&mut *lock(&slot), Outcome::Waiting) {
                Outcome::Done(result) => return result,
                Outcome::Lost => panic!("the thread committing this write's batch panicked"),
                Outcome::Waiting => {}
            }
            if queue.leading {
                queue = self
                    .wake
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            queue.leading = true;
            let (requests, slots): (Vec<R>, Vec<Arc<Slot<E>>>) =
                std::mem::take(&mut queue.pending).into_iter().unzip();
            drop(queue);
            let leader = Leader {
                group: self,
                slots: &slots,
            };
            match commit(&requests) {
                Ok(()) => slots.iter().for_each(|s| *lock(s) = Outcome::Done(Ok(()))),
                Err(e) if requests.len() == 1 => *lock(&slots[0]) = Outcome::Done(Err(e)),
                Err(_) => {
                    for (request, slot) in requests.iter().zip(&slots) {
                        let alone = commit(std::slice::from_ref(request));
                        *lock(slot) = Outcome::Done(alone);
                    }
                }
            }
            drop(leader);
            queue = self.lock();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue<R, E>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Hands the lead back when the batch is done, or marks its requests lost if `commit`
/// panicked, and wakes the waiting writers either way.
struct Leader<'a, R, E> {
    group: &'a GroupCommit<R, E>,
    slots: &'a [Arc<Slot<E>>],
}

impl<R, E> Drop for Leader<'_, R, E> {
    fn drop(&mut self) {
        for slot in self.slots {
            let mut outcome = lock(slot);
            if matches!(*outcome, Outcome::Waiting) {
                *outcome = Outcome::Lost;
            }
        }
        self.group.lock().leading = false;
        self.group.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn a_lone_request_is_committed_alone() {
        let group = GroupCommit::<u32, String>::default();
        let seen = Mutex::new(Vec::new());
        group
            .submit(7, |batch| {
                seen.lock().unwrap().push(batch.to_vec());
                Ok(())
            })
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![vec![7]]);
    }

    #[test]
    fn concurrent_requests_share_commits_and_each_is_committed_once() {
        let group = GroupCommit::<usize, String>::default();
        let committed = Mutex::new(Vec::new());
        let commits = AtomicUsize::new(0);
        let threads = 16;
        let start = Barrier::new(threads);
        std::thread::scope(|s| {
            for t in 0..threads {
                let (group, committed, commits, start) = (&group, &committed, &commits, &start);
                s.spawn(move || {
                    start.wait();
                    for i in 0..50 {
                        group
                            .submit(t * 1000 + i, |batch| {
                                commits.fetch_add(1, Ordering::SeqCst);
                                // A commit that takes a while, as an fsync does.
                                std::thread::sleep(Duration::from_micros(300));
                                committed.lock().unwrap().extend_from_slice(batch);
                                Ok(())
                            })
                            .unwrap();
                        // Committed by the time submit returns.
                        assert!(committed.lock().unwrap().contains(&(t * 1000 + i)));
                    }
                });
            }
        });
        let mut all = committed.into_inner().unwrap();
        all.sort_unstable();
        let mut expected: Vec<usize> = (0..threads)
            .flat_map(|t| (0..50).map(move |i| t * 1000 + i))
            .collect();
        expected.sort_unstable();
        assert_eq!(all, expected);
        let commits = commits.load(Ordering::SeqCst);
        assert!(
            commits < threads * 50 / 2,
            "{commits} commits for {} requests",
            threads * 50
        );
    }

    #[test]
    fn one_bad_request_fails_only_its_sender() {
        let group = GroupCommit::<i32, String>::default();
        let threads = 8;
        let start = Barrier::new(threads);
        let commit = |batch: &[i32]| {
            std::thread::sleep(Duration::from_micros(200));
            match batch.iter().find(|v| **v < 0) {
                Some(bad) => Err(format!("{bad} is negative")),
                None => Ok(()),
            }
        };
        let results: Vec<(i32, Result<(), String>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads as i32)
                .map(|t| {
                    let (group, start) = (&group, &start);
                    s.spawn(move || {
                        start.wait();
                        let mut out = Vec::new();
                        for i in 0..20 {
                            let v = if t == 3 && i % 5 == 0 {
                                -(i + 1)
                            } else {
                                t * 100 + i
                            };
                            out.push((v, group.submit(v, commit)));
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        for (v, result) in results {
            if v < 0 {
                assert_eq!(result, Err(format!("{v} is negative")));
            } else {
                assert_eq!(result, Ok(()), "request {v}");
            }
        }
    }

    #[test]
    fn a_panicking_commit_reaches_the_waiters_and_the_group_goes_on() {
        let group = GroupCommit::<u32, String>::default();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            group.submit(1, |_| panic!("disk on fire"))
        }));
        assert!(outcome.is_err());
        assert_eq!(group.submit(2, |_| Ok(())), Ok(()));
    }
}
