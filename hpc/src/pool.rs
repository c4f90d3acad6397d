//! Pools of workers: how steps reach Slurm.
//!
//! Steps alike in cores, memory and time limit, of one run, share a pool
//! (`WORK/RUN/pools/SHAPE`). A step handed to the backend is a link in the pool's
//! `queue/`; the pool's workers are Slurm array tasks that claim queued steps one
//! at a time and run them (see [`WorkerSpec`]). When steps wait and fewer workers
//! live than the steps (and than the cluster's cores allow), the poller submits
//! the missing workers as **one** array, once the steps stop arriving (the
//! batching window): a scatter of 500 passes is one `sbatch`. A worker lingers a
//! few seconds for more steps before it ends, so that the next step of a chain
//! starts without a Slurm scheduling round.
//!
//! One poller per site reads the steps' `exit-code` files (a read each, no Slurm
//! call) and calls `squeue --json` once for all its jobs: while steps run, every
//! 2 s growing to `poll_max_s` (a third of `MinJobAge` at most). A step settles
//! when its `exit-code` file appears (its worker wrote it after the step ended);
//! a step whose worker ended without writing it fails with the worker's state
//! (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, CANCELLED), or as lost when
//! the worker left squeue with no state seen and the grace period passed. A
//! worker pending for a reason Slurm never gets past (`PartitionConfig`...) is
//! cancelled and the pool's waiting steps fail with that reason.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::script::{WorkerSpec, margin};
use crate::slurm::{JobInfo, JobKey, State};

/// Pending reasons Slurm never gets past without an operator: the request
/// exceeds what the partition or the account allows.
const NEVER_RUNS: &[&str] = &[
    "PartitionConfig",
    "PartitionNodeLimit",
    "PartitionTimeLimit",
    "BadConstraints",
    "AssocMaxCpuPerJobLimit",
    "AssocMaxWallDurationPerJobLimit",
    "QOSMaxCpuPerJobLimit",
    "QOSMaxWallDurationPerJobLimit",
    "InvalidAccount",
    "InvalidQOS",
];

/// The fastest interval of the poller (exit-code files), for a few steps; it
/// grows with the steps watched ([`Pools::tick_min`]).
pub(crate) const TICK_MIN: Duration = Duration::from_millis(20);
/// The slowest interval between two reads of the exit-code files.
pub(crate) const TICK_MAX: Duration = Duration::from_secs(2);
/// The first interval between two `squeue` calls once jobs run.
pub(crate) const SQUEUE_FIRST: Duration = Duration::from_secs(2);

/// What a pool's steps ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Shape {
    pub cores: u32,
    pub mem_mib: u64,
    pub limit: Option<Duration>,
}

impl Shape {
    fn folder(&self) -> String {
        match self.limit {
            Some(t) => format!("{}c-{}m-{}s", self.cores, self.mem_mib, t.as_secs()),
            None => format!("{}c-{}m", self.cores, self.mem_mib),
        }
    }
}

/// How a step ended.
#[derive(Debug)]
pub(crate) enum Settled {
    Exit(i32),
    /// `transient`: the node or the batch system failed, not the tool.
    Failed {
        job: Option<JobKey>,
        reason: String,
        transient: bool,
    },
}

struct StepWatch {
    pool: PathBuf,
    key: Option<JobKey>,
    gone_since: Option<Instant>,
    done: Option<oneshot::Sender<Settled>>,
}

struct Worker {
    key: JobKey,
    seen: bool,
    ended: bool,
    submitted: Instant,
}

struct Pool {
    run: String,
    shape: Shape,
    workers: Vec<Worker>,
    last_enqueue: Instant,
    first_waiting: Option<Instant>,
    refused: Option<String>,
}

/// The steps and pools of a site.
#[derive(Default)]
pub(crate) struct Pools {
    steps: HashMap<PathBuf, StepWatch>,
    pools: HashMap<PathBuf, Pool>,
}

/// A batch of workers to submit.
pub(crate) struct Submit {
    pub pool: PathBuf,
    pub spec: WorkerSpec,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn settle(watch: &mut StepWatch, settled: Settled) {
    if let Some(done) = watch.done.take() {
        let _ = done.send(settled);
    }
}

fn read_code(step: &Path) -> Option<i32> {
    std::fs::read_to_string(step.join("exit-code"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn read_key(step: &Path) -> Option<JobKey> {
    JobKey::parse(&std::fs::read_to_string(step.join("job")).ok()?)
}

impl Pools {
    /// The pool of `shape` in run folder `run_dir`, made if new.
    fn pool(&mut self, run: &str, run_dir: &Path, shape: Shape) -> std::io::Result<PathBuf> {
        let dir = run_dir.join("pools").join(shape.folder());
        if !self.pools.contains_key(&dir) {
            for sub in ["queue", "claimed", "workers"] {
                std::fs::create_dir_all(dir.join(sub))?;
            }
            self.pools.insert(
                dir.clone(),
                Pool {
                    run: run.to_string(),
                    shape,
                    workers: Vec::new(),
                    last_enqueue: Instant::now(),
                    first_waiting: None,
                    refused: None,
                },
            );
        }
        Ok(dir)
    }

    /// Queues a written step; its end is told on the receiver.
    pub(crate) fn enqueue(
        &mut self,
        run: &str,
        run_dir: &Path,
        step: &Path,
        shape: Shape,
    ) -> std::io::Result<oneshot::Receiver<Settled>> {
        let pool = self.pool(run, run_dir, shape)?;
        let name = format!(
            "{}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            step.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
        let entry = pool.join("queue").join(&name);
        std::fs::write(step.join("queued"), entry.display().to_string())?;
        std::os::unix::fs::symlink(step, &entry)?;
        let now = Instant::now();
        if let Some(p) = self.pools.get_mut(&pool) {
            p.last_enqueue = now;
            p.first_waiting.get_or_insert(now);
        }
        let (tx, rx) = oneshot::channel();
        self.steps.insert(
            step.to_path_buf(),
            StepWatch {
                pool,
                key: None,
                gone_since: None,
                done: Some(tx),
            },
        );
        Ok(rx)
    }

    /// Watches a step an earlier process queued or saw claimed (a restart):
    /// `None` when it was never queued (or its queue entry is gone unclaimed).
    pub(crate) fn adopt(
        &mut self,
        run: &str,
        run_dir: &Path,
        step: &Path,
        shape: Shape,
    ) -> std::io::Result<Option<oneshot::Receiver<Settled>>> {
        let key = read_key(step);
        let queued = std::fs::read_to_string(step.join("queued"))
            .ok()
            .map(PathBuf::from);
        let waiting = queued.as_ref().is_some_and(|q| q.is_symlink());
        if key.is_none() && !waiting && read_code(step).is_none() {
            return Ok(None);
        }
        let pool = self.pool(run, run_dir, shape)?;
        if waiting && let Some(p) = self.pools.get_mut(&pool) {
            p.first_waiting.get_or_insert(Instant::now());
        }
        let (tx, rx) = oneshot::channel();
        self.steps.insert(
            step.to_path_buf(),
            StepWatch {
                pool,
                key,
                gone_since: None,
                done: Some(tx),
            },
        );
        Ok(Some(rx))
    }

    /// Stops watching a step (its run dropped it): the Slurm jobs to cancel,
    /// its worker if it was claimed, and the pool's live workers when no step of
    /// the pool is left to them (a dismissed run's pending workers).
    pub(crate) fn forget(&mut self, step: &Path) -> Vec<JobKey> {
        let Some(watch) = self.steps.remove(step) else {
            return Vec::new();
        };
        let mut cancel = Vec::new();
        let unqueued = watch.key.is_none()
            && std::fs::read_to_string(step.join("queued"))
                .is_ok_and(|entry| std::fs::remove_file(entry).is_ok());
        if !unqueued && let Some(key) = watch.key.or_else(|| read_key(step)) {
            cancel.push(key);
        }
        let others = self.steps.values().any(|w| w.pool == watch.pool);
        if !others && let Some(pool) = self.pools.get_mut(&watch.pool) {
            for worker in pool.workers.iter_mut().filter(|w| !w.ended) {
                worker.ended = true;
                if !cancel.contains(&worker.key) {
                    cancel.push(worker.key);
                }
            }
        }
        cancel
    }

    /// The fastest interval of the poller for the steps watched now: 20 ms, and
    /// 0.1 ms more per step (10,000 steps: a read of their files a second).
    pub(crate) fn tick_min(&self) -> Duration {
        TICK_MIN.max(Duration::from_micros(100) * self.steps.len() as u32)
    }

    /// True when nothing is watched.
    pub(crate) fn idle(&self) -> bool {
        self.steps.is_empty()
    }

    /// True when some job is in Slurm (a claimed step or a live worker).
    pub(crate) fn in_slurm(&self) -> bool {
        self.steps.values().any(|w| w.key.is_some())
            || self
                .pools
                .values()
                .any(|p| p.workers.iter().any(|w| !w.ended))
    }

    /// Reads the steps' files: claims and exit codes. True when a step settled.
    pub(crate) fn review_files(&mut self) -> bool {
        let mut settled = false;
        for (step, watch) in self.steps.iter_mut() {
            if watch.key.is_none() {
                watch.key = read_key(step);
            }
            if let Some(code) = read_code(step) {
                settle(watch, Settled::Exit(code));
                settled = true;
            }
        }
        self.steps.retain(|_, w| w.done.is_some());
        for (dir, pool) in self.pools.iter_mut() {
            for worker in pool.workers.iter_mut().filter(|w| !w.ended) {
                if dir
                    .join("workers")
                    .join(format!("{}.done", worker.key.text()))
                    .exists()
                {
                    worker.ended = true;
                }
            }
        }
        settled
    }

    /// The workers to submit: for each pool with waiting steps, no step arrived
    /// within `window` (or they have waited ten windows), as many as the
    /// waiting steps beyond the live workers, within `max_cores` of the cluster.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn workers_wanted(
        &mut self,
        window: Duration,
        max_cores: u32,
        max_workers: Option<u32>,
        throttle: Option<u32>,
        linger: Duration,
        max_array: u32,
    ) -> Vec<Submit> {
        let mut waiting: HashMap<&Path, u32> = HashMap::new();
        for watch in self.steps.values().filter(|w| w.key.is_none()) {
            *waiting.entry(watch.pool.as_path()).or_default() += 1;
        }
        let mut out = Vec::new();
        for (dir, pool) in self.pools.iter_mut() {
            let n = waiting.get(dir.as_path()).copied().unwrap_or(0);
            if n == 0 {
                pool.first_waiting = None;
                continue;
            }
            if pool.refused.is_some() {
                continue;
            }
            let quiet = pool.last_enqueue.elapsed() >= window
                || pool
                    .first_waiting
                    .is_some_and(|t| t.elapsed() >= window * 10);
            if !quiet {
                continue;
            }
            let live = pool.workers.iter().filter(|w| !w.ended).count() as u32;
            let cap = max_workers
                .unwrap_or_else(|| (max_cores / pool.shape.cores.max(1)).max(1))
                .min(max_array);
            let need = n.min(cap).saturating_sub(live);
            if need == 0 {
                continue;
            }
            let worker_limit = pool.shape.limit.map(|t| t * 4 + margin(t * 4));
            out.push(Submit {
                pool: dir.clone(),
                spec: WorkerSpec {
                    name: format!("hysope-{}", pool.run),
                    cores: pool.shape.cores,
                    mem_mib: pool.shape.mem_mib,
                    step_limit: pool.shape.limit,
                    worker_limit,
                    pool: dir.clone(),
                    workers: need,
                    throttle,
                    linger,
                },
            });
        }
        out
    }

    /// Records the workers an array submitted, or fails the pool's waiting
    /// steps with Slurm's refusal.
    pub(crate) fn submitted(&mut self, pool: &Path, result: Result<(u64, u32), String>) -> bool {
        let Some(p) = self.pools.get_mut(pool) else {
            return false;
        };
        match result {
            Ok((id, n)) => {
                for task in 0..n {
                    p.workers.push(Worker {
                        key: JobKey {
                            job: id,
                            task: Some(task),
                        },
                        seen: false,
                        ended: false,
                        submitted: Instant::now(),
                    });
                }
                false
            }
            Err(reason) => {
                self.fail_waiting(pool, &reason);
                true
            }
        }
    }

    fn fail_waiting(&mut self, pool: &Path, reason: &str) {
        if let Some(p) = self.pools.get_mut(pool) {
            p.refused = Some(reason.to_string());
        }
        for (step, watch) in self.steps.iter_mut() {
            if watch.pool == pool && watch.key.is_none() {
                if let Ok(entry) = std::fs::read_to_string(step.join("queued")) {
                    let _ = std::fs::remove_file(entry);
                }
                settle(
                    watch,
                    Settled::Failed {
                        job: None,
                        reason: reason.to_string(),
                        transient: false,
                    },
                );
            }
        }
        self.steps.retain(|_, w| w.done.is_some());
    }

    /// Settles steps and workers from what squeue says. Returns the workers to
    /// cancel (Slurm will never run them) and their pools with the reason, whose
    /// waiting steps fail ([`Pools::refuse`]) once they are cancelled; and
    /// whether a step settled.
    pub(crate) fn review_queue(
        &mut self,
        jobs: &[JobInfo],
        grace: Duration,
    ) -> (Vec<JobKey>, Vec<(PathBuf, String)>, bool) {
        let mut cancel = Vec::new();
        let mut refused = Vec::new();
        for (dir, pool) in self.pools.iter_mut() {
            for worker in pool.workers.iter_mut().filter(|w| !w.ended) {
                match worker.key.find(jobs) {
                    Some(info) => {
                        worker.seen = true;
                        let reason = info.reason.clone().unwrap_or_default();
                        if info.state.is_final() {
                            worker.ended = true;
                        } else if info.state == State::Pending
                            && NEVER_RUNS.contains(&reason.as_str())
                        {
                            worker.ended = true;
                            cancel.push(worker.key);
                            pool.refused = Some(reason.clone());
                            refused.push((
                                dir.clone(),
                                format!(
                                    "Slurm can never run it as asked (Reason={reason}): fewer cores, less memory or a shorter time limit, or another partition"
                                ),
                            ));
                        }
                    }
                    None => {
                        if worker.seen || worker.submitted.elapsed() >= grace {
                            worker.ended = true;
                        }
                    }
                }
            }
        }
        let mut settled = false;
        for (step, watch) in self.steps.iter_mut() {
            let Some(key) = watch.key else { continue };
            if let Some(code) = read_code(step) {
                settle(watch, Settled::Exit(code));
                settled = true;
                continue;
            }
            match key.find(jobs) {
                Some(info) if info.state.is_final() => {
                    let reason = match info.reason.as_deref() {
                        None | Some("") => info.state.name(),
                        Some(r) => format!("{} ({r})", info.state.name()),
                    };
                    let transient = matches!(
                        info.state,
                        State::NodeFail | State::Preempted | State::BootFail
                    );
                    settle(
                        watch,
                        Settled::Failed {
                            job: Some(key),
                            reason,
                            transient,
                        },
                    );
                    settled = true;
                }
                Some(_) => watch.gone_since = None,
                None => {
                    let since = *watch.gone_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= grace {
                        settle(
                            watch,
                            Settled::Failed {
                                job: Some(key),
                                reason: format!(
                                    "lost: its job left squeue and the step wrote no exit code in {}",
                                    step.display()
                                ),
                                transient: false,
                            },
                        );
                        settled = true;
                    }
                }
            }
        }
        self.steps.retain(|_, w| w.done.is_some());
        (cancel, refused, settled)
    }

    /// Fails the waiting steps of `pool`: Slurm will never run its workers.
    pub(crate) fn refuse(&mut self, pool: &Path, reason: &str) {
        self.fail_waiting(pool, reason);
    }
}
