//! Workers: take job ids from the queue and run them with the CWL runner, keeping
//! the job's record up to date (running, progress, results or the reason of a
//! failure) in the job store.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hysope_engine::cwl::ComponentLog;
use hysope_engine::wasm::RunEvent;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{Delivery, FailureKind, Job, Jobs, Status, now_ms};

/// How many times a job interrupted by restarts is run again before it fails.
pub const MAX_ATTEMPTS: u32 = 3;

/// Runs workers forever: each takes the next job id and runs it. A loop that
/// ends (it should not) is counted, and readiness fails.
pub fn spawn_workers(state: Arc<Jobs>, count: usize) {
    use std::sync::atomic::Ordering;
    /// Counts its loop out when the loop's task ends, by a panic too.
    struct Running(Arc<Jobs>);
    impl Drop for Running {
        fn drop(&mut self) {
            self.0.worker_loops.1.fetch_sub(1, Ordering::Relaxed);
            tracing::error!("a worker loop ended: the server is not ready");
        }
    }
    for _ in 0..count.max(1) {
        let state = state.clone();
        state.worker_loops.0.fetch_add(1, Ordering::Relaxed);
        state.worker_loops.1.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let _running = Running(state.clone());
            loop {
                let delivery = match state.queue.pop().await {
                    Ok(delivery) => delivery,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot take a job from the queue");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                state.metrics.queue_depth.set(state.queue.depth() as i64);
                let id = delivery.id().to_string();
                let span = tracing::info_span!(
                    "job",
                    job_id = %id,
                    process_id = tracing::field::Empty,
                    request_id = tracing::field::Empty
                );
                // Its own task: a panic ends the job, never the worker.
                let job_state = state.clone();
                let job = tokio::spawn(
                    async move { run_job(&job_state, delivery).await }.instrument(span),
                );
                match job.await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::error!(job_id = %id, error = format!("{e:#}"), "job bookkeeping failed");
                    }
                    Err(e) => {
                        let why = panic_text(e.into_panic());
                        tracing::error!(job_id = %id, error = %why, "job bookkeeping panicked");
                        let failed = update(&state, &id, true, |job| {
                            if job.status.is_final() {
                                return false;
                            }
                            job.status = Status::Failed;
                            job.failure = Some(FailureKind::ProcessFailed);
                            job.message = hysope_engine::Error::Internal(why.clone()).to_string();
                            job.finished = Some(now_ms());
                            true
                        })
                        .await;
                        if let Err(e) = failed {
                            tracing::error!(job_id = %id, error = format!("{e:#}"), "a panicked job not marked failed");
                        }
                    }
                }
            }
        });
    }
}

/// What a panic said (its message when it is text).
pub(crate) fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(text) => (*text).to_string(),
            Err(_) => "a panic".into(),
        },
    }
}

/// Puts jobs left unfinished by a previous process back in the queue (or fails
/// them when they were interrupted too often). Returns how many were re-queued.
///
/// A store that several processes share is not recovered that way (the running
/// jobs of other workers are theirs): a [`sweep`] queues again what lapsed.
pub async fn recover(state: &Jobs) -> anyhow::Result<usize> {
    if state.store.shared() {
        return sweep(state).await;
    }
    let mut requeued = 0;
    for mut job in state.store.unfinished()? {
        let was = job.status;
        if requeue_or_fail(&mut job) {
            job.message = format!(
                "interrupted by a server stop {} times while running; not run again",
                job.attempts
            );
        } else if was == Status::Running {
            job.message = "re-queued: the server stopped while it ran".into();
        }
        job.updated = now_ms();
        state.store.put(&job)?;
        state
            .metrics
            .job_moved(&job.process_id, Some(was), job.status);
        if job.status == Status::Accepted {
            state.queue.push(job.id.clone()).await?;
            requeued += 1;
        }
    }
    state.metrics.queue_depth.set(state.queue.depth() as i64);
    Ok(requeued)
}

/// Puts a job whose run was cut short back to accepted, or fails it once runs
/// were cut short [`MAX_ATTEMPTS`] times; true when it failed (the caller says
/// why in its message).
fn requeue_or_fail(job: &mut Job) -> bool {
    if job.attempts >= MAX_ATTEMPTS {
        job.status = Status::Failed;
        job.failure = Some(FailureKind::ProcessFailed);
        job.finished = Some(now_ms());
        true
    } else {
        job.status = Status::Accepted;
        job.progress = 0;
        false
    }
}

/// Changes a job in the store under its stripe's lock: `change` gets the current
/// record (or the one of a quiet synchronous job, which the change then stores) and
/// returns false to leave it as it is (a dismissed job stays dismissed).
/// `durable: false` for changes a crash may lose (see [`JobStore::write`]). The lock
/// is held until the change is committed, so the next change of the job reads it.
///
/// [`JobStore::write`]: crate::JobStore::write
pub async fn update(
    state: &Jobs,
    id: &str,
    durable: bool,
    mut change: impl FnMut(&mut Job) -> bool,
) -> anyhow::Result<Option<Job>> {
    let _guard = job_lock(state, id).await;
    // Another process sharing the store may change the job between the read and
    // the write: the write is then refused, and the change made again over what
    // that process wrote.
    for _ in 0..MAX_SWAPS {
        let Some(mut job) = current(state, id)? else {
            return Ok(None);
        };
        let before = job.status;
        if !change(&mut job) {
            return Ok(Some(job));
        }
        job.updated = now_ms();
        job.revision += 1;
        let written = state.store.swap(&job, durable).await?;
        state.quiet.lock().expect("quiet lock").remove(id);
        if !written {
            continue;
        }
        if before != job.status {
            state
                .metrics
                .job_moved(&job.process_id, Some(before), job.status);
        }
        crate::callbacks::notify(&state.egress, &job);
        return Ok(Some(job));
    }
    anyhow::bail!("job {id}: changed by other processes {MAX_SWAPS} times while this one tried")
}

/// The record of job `id` as it stands: a quiet job is not in the store yet (it
/// leaves the quiet ones once written).
fn current(state: &Jobs, id: &str) -> crate::Result<Option<Job>> {
    let quiet = state.quiet.lock().expect("quiet lock").get(id).cloned();
    match quiet {
        Some(job) => Ok(Some(job)),
        None => state.store.get(id),
    }
}

/// How many times [`update`] makes its change again over another process's.
const MAX_SWAPS: usize = 64;

/// The lock of `id`'s stripe, held while its record is read, changed and written.
async fn job_lock<'a>(state: &'a Jobs, id: &str) -> tokio::sync::MutexGuard<'a, ()> {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let stripe = BuildHasherDefault::<DefaultHasher>::default().hash_one(id) as usize;
    state.write_locks[stripe % state.write_locks.len()]
        .lock()
        .await
}

/// Runs `f`, which blocks (a file written and flushed to disk), letting the runtime
/// move its other tasks to another thread meanwhile.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Runs a queued job to a final state. The running state (and its attempt count,
/// which stops a job that crashes the server from looping) is committed durably,
/// then the delivery is acknowledged. It is acknowledged too when the claim
/// fails: the job stays accepted in the store, whose unfinished jobs are queued
/// again at start, and a store that refuses writes would only hand it back at once.
pub async fn run_job(state: &Arc<Jobs>, delivery: Delivery) -> anyhow::Result<()> {
    let slot = state.slots.acquire().await?;
    let id = delivery.id().to_string();
    let claimed = update(state, &id, true, |job| {
        if job.status != Status::Accepted {
            return false;
        }
        start(job, state.lease);
        true
    })
    .await;
    delivery.ack().await?;
    let Some(job) = claimed? else {
        return Ok(());
    };
    tracing::Span::current().record("process_id", job.process_id.as_str());
    if let Some(request) = &job.request_id {
        tracing::Span::current().record("request_id", request.as_str());
    }
    if job.status != Status::Running {
        return Ok(());
    }
    run_started(state, job, slot).await?;
    Ok(())
}

/// How long a synchronous job runs before its record goes to the store.
const QUIET: Duration = Duration::from_millis(100);

/// Runs a synchronous job to its final state, durable before this returns it. A job
/// that ends within [`QUIET`] is written once, when it ends: nobody can know its id
/// before the reply, and a crash before then loses nothing anybody was told of.
/// One that runs longer is stored as running then (without waiting for the disk),
/// or at its first progress report, and from then on is listed, followed and
/// dismissed as any job.
pub async fn run_sync(state: &Arc<Jobs>, mut job: Job) -> anyhow::Result<Job> {
    let slot = state.slots.acquire().await?;
    start(&mut job, state.lease);
    state
        .metrics
        .job_moved(&job.process_id, None, Status::Running);
    crate::callbacks::notify(&state.egress, &job);
    let id = job.id.clone();
    state
        .quiet
        .lock()
        .expect("quiet lock")
        .insert(id.clone(), job.clone());
    let span = tracing::info_span!(
        "job",
        job_id = %id,
        process_id = %job.process_id,
        request_id = job.request_id.as_deref()
    );
    let run = run_started(state, job, slot).instrument(span);
    tokio::pin!(run);
    let announce = async {
        tokio::time::sleep(QUIET).await;
        update(state, &id, false, |job| job.status == Status::Running).await
    };
    let outcome = tokio::select! {
        outcome = &mut run => outcome,
        announced = announce => match announced {
            Ok(_) => run.await,
            Err(e) => Err(e),
        },
    };
    state.quiet.lock().expect("quiet lock").remove(&id);
    match outcome? {
        Some(done) => Ok(done),
        None => state
            .store
            .get(&id)?
            .ok_or_else(|| anyhow::anyhow!("job {id} vanished from the store")),
    }
}

/// Marks a job as started by a worker.
fn start(job: &mut Job, lease: Duration) {
    job.status = Status::Running;
    job.started = Some(now_ms());
    job.lease_until = Some(now_ms() + lease.as_millis() as u64);
    job.attempts += 1;
    job.message = format!("running (attempt {})", job.attempts);
}

/// Runs a job whose record says running; returns its final record (None when it
/// was dismissed meanwhile or its record could not be updated). The job's slot is
/// given back once its tools have run: the job then waits for the disk (its
/// results published, its records committed) without keeping another job from
/// running meanwhile, and the jobs that finish together share a commit.
async fn run_started<'a>(
    state: &'a Arc<Jobs>,
    job: Job,
    slot: tokio::sync::SemaphorePermit<'a>,
) -> anyhow::Result<Option<Job>> {
    let id = job.id.as_str();
    // The attempt this worker runs: a record with another (the job was queued
    // again when this worker's lease ran out, and another took it) is no longer
    // this worker's to write.
    let attempt = job.attempts;
    let cancel = CancellationToken::new();
    // Deployed through another gateway, it is loaded from the deployments.
    let process = match state.process(&job.process_id) {
        Ok(process) => Some(process),
        Err(crate::Error::NoSuchProcess(_)) => None,
        // The store out of reach: the job stays this worker's until its lease
        // lapses, and runs again.
        Err(e) => return Err(e.into()),
    };
    let Some(process) = process else {
        return update(state, id, true, |job| {
            job.status = Status::Failed;
            job.failure = Some(FailureKind::ProcessFailed);
            job.message = format!("process {} is no longer deployed", job.process_id);
            job.finished = Some(now_ms());
            true
        })
        .await
        .map(|last| last.filter(|job| job.status.is_final()));
    };
    state
        .running
        .lock()
        .expect("running lock")
        .insert(id.to_string(), cancel.clone());
    // In a shared store the worker renews its lease while the job runs, and learns
    // there that the job was dismissed through another gateway (or taken by
    // another worker after a lapse): it stops then.
    let renewal = state.store.shared().then(|| {
        tokio::spawn(renew_lease(
            state.clone(),
            id.to_string(),
            attempt,
            cancel.clone(),
        ))
    });
    let _renewal = AbortOnDrop(renewal);
    let started = Instant::now();
    // A fresh folder for the results (emptied if an interrupted run left one).
    let outdir = state.results.local_dir(id, attempt);
    match std::fs::create_dir(&outdir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_dir_all(&outdir)?;
            std::fs::create_dir(&outdir)?;
        }
        Err(_) => std::fs::create_dir_all(&outdir)?,
    }

    // Progress reports and log lines of the plugins, written to the job at most
    // every 200 ms (the latest progress, every line), the last ones when the run
    // ends and the channel closes.
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
    let progress_state = state.clone();
    let progress_id = id.to_string();
    let progress_task = tokio::spawn(tracing::Instrument::in_current_span(async move {
        const EVERY: Duration = Duration::from_millis(200);
        let mut last = Instant::now() - Duration::from_secs(1);
        let mut progress: Option<(u8, String)> = None;
        let mut lines: Vec<(u64, &'static str, String)> = Vec::new();
        loop {
            let pending = progress.is_some() || !lines.is_empty();
            // None: the wait for the next write is over; Some(None): the run ended.
            let next = if pending {
                tokio::time::timeout(EVERY.saturating_sub(last.elapsed()), received.recv())
                    .await
                    .ok()
            } else {
                Some(received.recv().await)
            };
            let closed = matches!(next, Some(None));
            match next.flatten() {
                Some(RunEvent::Progress { percent, message }) => {
                    progress = Some((percent.clamp(0.0, 99.0) as u8, message));
                }
                Some(RunEvent::Log { level, message }) => {
                    // Also in the server's log, in the job's span (its id and
                    // the request's that submitted it).
                    tracing::debug!(target: "hysope::plugin", level = level_name(level), "{message}");
                    lines.push((crate::now_ms(), level_name(level), message));
                }
                None => {}
            }
            let held = progress.is_some() || !lines.is_empty();
            if held && (closed || last.elapsed() >= EVERY) {
                last = Instant::now();
                let report = progress.take();
                let new_lines = std::mem::take(&mut lines);
                let _ = update(&progress_state, &progress_id, false, |job| {
                    if job.status != Status::Running || job.attempts != attempt {
                        return false;
                    }
                    if let Some((pct, message)) = &report {
                        job.progress = *pct;
                        job.message = message.clone();
                    }
                    for (time, level, message) in &new_lines {
                        job.push_log(*time, level, message);
                    }
                    true
                })
                .await;
            }
            if closed {
                break;
            }
        }
    }));

    let ran = ComponentLog::default();
    // The runner makes (and removes) its own folder under the shared scratch area;
    // the job's folder there holds only the inputs fetched by reference.
    let mut builder = state.engine.runner(state.data_dir.join("scratch"));
    let mut in_place = true;
    if let Some(backends) = &state.backends {
        let crate::JobBackends {
            backends: before,
            scratch,
        } = match backends.for_job(id, ran.clone(), events.clone()) {
            Ok(parts) => parts,
            Err(message) => {
                state.running.lock().expect("running lock").remove(id);
                return update(state, id, true, |job| {
                    job.status = Status::Failed;
                    job.failure = Some(FailureKind::ProcessFailed);
                    job.message = format!("the job's backend cannot start: {message}");
                    job.finished = Some(now_ms());
                    true
                })
                .await
                .map(|last| last.filter(|job| job.status.is_final()));
            }
        };
        if let Some(scratch) = scratch {
            // A batch backend's tools write in its folders, which outlive a restart
            // (their jobs are re-attached), and their outputs are moved here after.
            std::fs::create_dir_all(&scratch)?;
            builder = state.engine.runner(std::fs::canonicalize(&scratch)?);
            in_place = false;
        }
        for backend in before {
            builder = builder.backend(backend);
        }
    }
    let runner = builder
        .events(events)
        .component_log(ran.clone())
        .fresh_outdir(in_place)
        .resolved_dirs(true)
        .build();
    // Per attempt: a fenced attempt still running in this process must not
    // remove the inputs of the attempt that took its job over.
    let scratch = state
        .data_dir
        .join("scratch")
        .join(format!("{id}.{attempt}"));
    let run = async {
        let mut inputs = job.inputs.clone();
        crate::fetch::fetch_inputs(&mut inputs, &scratch.join("inputs"), &state.egress)
            .await
            .map_err(|e| hysope_engine::Error::Cwl {
                location: "inputs".into(),
                message: format!("{e:#}"),
            })?;
        runner.run(&process.cwl, &inputs, &outdir).await
    };
    // A panic in the run (a bug) fails the job with it; the cleanup below still runs.
    let run = async {
        use futures::FutureExt;
        std::panic::AssertUnwindSafe(run)
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(hysope_engine::Error::Internal(panic_text(panic))))
    };
    // A whole job (its fetching, every step, every retry) within its time.
    let limit = state.job_time_limit;
    let run = async move {
        tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
            Err(hysope_engine::Error::TimeLimit {
                what: "the job".into(),
                limit,
            })
        })
    };
    let outcome = tokio::select! {
        r = run => Some(r),
        _ = cancel.cancelled() => None,
    };
    drop(runner);
    drop(slot);
    let _ = progress_task.await;
    if scratch.exists() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    state.running.lock().expect("running lock").remove(id);
    let seconds = started.elapsed().as_secs_f64();
    let last = match outcome {
        None => {
            // Dismissed: the record already says so.
            let _ = std::fs::remove_dir_all(&outdir);
            None
        }
        Some(Ok(mut output)) => {
            relative_locations(&mut output, &outdir);
            if let Err(e) = state.results.publish(id, attempt).await {
                let text = state.redact(&format!("{e:#}"));
                return update(state, id, true, |job| {
                    if job.status != Status::Running || job.attempts != attempt {
                        return false;
                    }
                    job.status = Status::Failed;
                    job.failure = Some(FailureKind::ProcessFailed);
                    job.message = text.clone();
                    job.finished = Some(now_ms());
                    true
                })
                .await
                .map(|last| last.filter(|job| job.status.is_final()));
            }
            // The result's catalogue item goes to the store before the job says
            // successful, in the same commit or an earlier one, and reaches the disk
            // with the final record's commit; a crash before that runs the job again,
            // which rewrites the same item.
            let components = std::mem::take(&mut *ran.lock().unwrap_or_else(|e| e.into_inner()));
            let mut item = Some(Box::pin(crate::provenance::submit(
                state,
                &job,
                &process,
                &components,
                &output,
            )));
            // A shared store's record and the catalogue commit apart (PostgreSQL,
            // pgstac): the item is stored first, so that a job read as successful
            // through any gateway has its item; and only while the record is still
            // this attempt's (a fenced attempt's item would replace the winner's).
            if state.store.shared() {
                let ours = current(state, id)?
                    .is_some_and(|job| job.status == Status::Running && job.attempts == attempt);
                let stored = item.take();
                if !ours {
                    drop(stored);
                    return fenced(state, id, attempt).await;
                }
                if let Some(stored) = stored
                    && let Err(e) = stored.await
                {
                    tracing::error!(job_id = %id, error = %e, "result not catalogued");
                }
            }
            let last = update(state, id, true, |job| {
                if job.status != Status::Running || job.attempts != attempt {
                    return false;
                }
                job.status = Status::Successful;
                job.progress = 100;
                job.message = "finished".into();
                job.finished = Some(now_ms());
                job.results = Some(output.clone());
                true
            })
            .await?;
            if !last
                .as_ref()
                .is_some_and(|job| job.status == Status::Successful && job.attempts == attempt)
            {
                return fenced(state, id, attempt).await;
            }
            if let Some(stored) = item
                && let Err(e) = stored.await
            {
                tracing::error!(job_id = %id, error = %e, "result not catalogued");
            }
            state
                .metrics
                .job_duration
                .with_label_values(&[&job.process_id, "successful"])
                .observe(seconds);
            tracing::info!(state = "successful", seconds, "job finished");
            last
        }
        Some(Err(e)) => {
            let cause = e.cause();
            state
                .metrics
                .plugin_failures
                .with_label_values(&[cause])
                .inc();
            let kind = match cause {
                "invalid-cwl" => FailureKind::InvalidParameterValue,
                _ => FailureKind::ProcessFailed,
            };
            let text = state.redact(&e.to_string());
            let last = update(state, id, true, |job| {
                if job.status != Status::Running || job.attempts != attempt {
                    return false;
                }
                job.status = Status::Failed;
                job.failure = Some(kind);
                job.message = text.clone();
                job.finished = Some(now_ms());
                true
            })
            .await?;
            state
                .metrics
                .job_duration
                .with_label_values(&[&job.process_id, "failed"])
                .observe(seconds);
            tracing::info!(state = "failed", cause, seconds, "job finished");
            last
        }
    };
    if let Some(backends) = &state.backends {
        backends.finished(id);
    }
    // A record the change left alone (dismissed meanwhile) is not the job's end.
    Ok(last.filter(|job| job.status.is_final()))
}

/// The end of an attempt that finished after its record stopped being its own
/// (dismissed, or taken over by another attempt once its lease lapsed): its
/// files are nobody's and go; the record is left as the others made it.
async fn fenced(state: &Arc<Jobs>, id: &str, attempt: u32) -> anyhow::Result<Option<Job>> {
    tracing::warn!(job_id = %id, attempt, "the job's record is no longer this attempt's: its results are dropped");
    if let Err(e) = state.results.remove_attempt(id, attempt).await {
        tracing::warn!(job_id = %id, attempt, error = format!("{e:#}"), "results of a fenced attempt not removed");
    }
    if let Some(backends) = &state.backends {
        backends.finished(id);
    }
    Ok(None)
}

/// Aborts a task when dropped (however the function that holds it returns).
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// How often a lease is renewed: three times per lease, and at least every two
/// seconds (a dismissal through another gateway is seen that soon).
fn renewal_interval(lease: Duration) -> Duration {
    (lease / 3).clamp(Duration::from_millis(100), Duration::from_secs(2))
}

/// Renews the lease of job `id`'s attempt `attempt` until the task is aborted;
/// cancels the run when the record says the job is no longer this attempt's
/// (dismissed, or queued again after a lapse and taken by another worker).
async fn renew_lease(state: Arc<Jobs>, id: String, attempt: u32, cancel: CancellationToken) {
    let interval = renewal_interval(state.lease);
    loop {
        tokio::time::sleep(interval).await;
        let lease = state.lease;
        let renewed = update(&state, &id, false, |job| {
            if job.status != Status::Running || job.attempts != attempt {
                return false;
            }
            job.lease_until = Some(now_ms() + lease.as_millis() as u64);
            true
        })
        .await;
        match renewed {
            Ok(Some(job)) if job.status == Status::Running && job.attempts == attempt => {}
            Ok(found) => {
                let why = match &found {
                    Some(job) if job.status == Status::Dismissed => "dismissed",
                    Some(_) => "taken by another worker after this one's lease lapsed",
                    None => "gone from the store",
                };
                tracing::info!(job_id = %id, attempt, why, "the job is no longer this worker's: stopped");
                cancel.cancel();
                return;
            }
            // The store out of reach: try again; the lease may lapse meanwhile,
            // and the record then says whose the job is.
            Err(e) => tracing::warn!(job_id = %id, error = format!("{e:#}"), "lease not renewed"),
        }
    }
}

/// Looks for the jobs of a shared store that no process looks after, for as long
/// as the job system runs: running ones whose worker's lease lapsed (queued again,
/// or failed after [`MAX_ATTEMPTS`]) and accepted ones that were never pushed
/// (pushed now). Every gateway and worker runs one; the record's revision makes
/// each job's change happen once.
pub fn spawn_sweeper(state: Arc<Jobs>) {
    if !state.store.shared() {
        return;
    }
    tokio::spawn(async move {
        let interval = renewal_interval(state.lease);
        loop {
            tokio::time::sleep(interval).await;
            if let Err(e) = sweep(&state).await {
                tracing::warn!(error = format!("{e:#}"), "job sweep failed");
            }
        }
    });
}

/// Follows the processes deployed, replaced and undeployed through other
/// gateways, every [`SYNC_INTERVAL`](crate::deployments::SYNC_INTERVAL) (shared
/// stores only).
pub fn spawn_deployment_sync(state: Arc<Jobs>) {
    if !state.deployments.shared() {
        return;
    }
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(crate::deployments::SYNC_INTERVAL).await;
            let jobs = state.clone();
            match tokio::task::spawn_blocking(move || jobs.sync_deployments()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "deployed processes not followed"),
                Err(e) => tracing::error!(error = %e, "deployed processes not followed"),
            }
        }
    });
}

/// One round of [`spawn_sweeper`]; returns the jobs pushed again.
pub async fn sweep(state: &Jobs) -> anyhow::Result<usize> {
    let now = now_ms();
    // A gateway pushes right after its commit: an accepted job still not
    // dispatched a lease later was left by a gateway that stopped.
    let quiet_since = now.saturating_sub(state.lease.as_millis() as u64);
    let store = state.store.clone();
    let stale = blocking(|| store.stale(now, quiet_since, 1000))?;
    let mut pushed = 0;
    for found in stale {
        let changed = update(state, &found.id, true, |job| match job.status {
            Status::Running if job.lease_until.is_some_and(|t| t < now_ms()) => {
                job.message = if requeue_or_fail(job) {
                    format!(
                        "its worker stopped while it ran, {} times; not run again",
                        job.attempts
                    )
                } else {
                    format!(
                        "re-queued: its worker stopped during attempt {}",
                        job.attempts
                    )
                };
                job.lease_until = None;
                job.dispatched = false;
                true
            }
            Status::Accepted if !job.dispatched => true,
            _ => false,
        })
        .await?;
        let Some(job) = changed else { continue };
        if job.status == Status::Accepted && !job.dispatched {
            if found.status == Status::Running {
                tracing::warn!(job_id = %job.id, attempt = job.attempts, "its worker's lease lapsed: queued again");
            } else {
                tracing::warn!(job_id = %job.id, "an accepted job was never queued: queued now");
            }
            state.queue.push(job.id.clone()).await?;
            mark_dispatched(state, &job.id).await?;
            pushed += 1;
        }
    }
    Ok(pushed)
}

/// Notes in a shared store that the queue holds job `id` (the sweeper leaves it
/// alone then).
pub async fn mark_dispatched(state: &Jobs, id: &str) -> anyhow::Result<()> {
    if state.store.shared() {
        update(state, id, false, |job| {
            if job.status != Status::Accepted || job.dispatched {
                return false;
            }
            job.dispatched = true;
            true
        })
        .await?;
    }
    Ok(())
}

/// Rewrites `location`s of File and Directory values under `root` as paths
/// relative to it (the API turns them into links).
fn relative_locations(value: &mut Value, root: &Path) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(loc)) = map.get("location") {
                let path = loc.strip_prefix("file://").unwrap_or(loc);
                if let Ok(rel) = Path::new(path).strip_prefix(root) {
                    let rel = rel.display().to_string();
                    map.insert("location".into(), Value::String(rel));
                }
                map.remove("path");
            }
            for v in map.values_mut() {
                relative_locations(v, root);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| relative_locations(v, root)),
        _ => {}
    }
}

/// The name of a plugin log line's level in a job's log.
fn level_name(level: hysope_engine::wasm::LogLevel) -> &'static str {
    use hysope_engine::wasm::LogLevel as L;
    match level {
        L::Trace | L::Debug => "debug",
        L::Info => "info",
        L::Warn => "warn",
        L::Error => "error",
    }
}
