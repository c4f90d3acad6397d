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

/// Runs workers forever: each takes the next job id and runs it.
pub fn spawn_workers(state: Arc<Jobs>, count: usize) {
    for _ in 0..count.max(1) {
        let state = state.clone();
        tokio::spawn(async move {
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
                    process_id = tracing::field::Empty
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
pub async fn recover(state: &Jobs) -> anyhow::Result<usize> {
    let mut requeued = 0;
    for mut job in state.store.unfinished()? {
        let was = job.status;
        if job.attempts >= MAX_ATTEMPTS {
            job.status = Status::Failed;
            job.failure = Some(FailureKind::ProcessFailed);
            job.message = format!(
                "interrupted by a server stop {} times while running; not run again",
                job.attempts
            );
            job.finished = Some(now_ms());
        } else {
            job.status = Status::Accepted;
            job.progress = 0;
            if was == Status::Running {
                job.message = "re-queued: the server stopped while it ran".into();
            }
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
    change: impl FnOnce(&mut Job) -> bool,
) -> anyhow::Result<Option<Job>> {
    let _guard = job_lock(state, id).await;
    // A quiet job is not in the store yet (it leaves the quiet ones once written).
    let quiet = state.quiet.lock().expect("quiet lock").get(id).cloned();
    let current = match quiet {
        Some(job) => Some(job),
        None => state.store.get(id)?,
    };
    let Some(mut job) = current else {
        return Ok(None);
    };
    let before = job.status;
    if !change(&mut job) {
        return Ok(Some(job));
    }
    job.updated = now_ms();
    state
        .store
        .submit(std::slice::from_ref(&job), durable)
        .await?;
    state.quiet.lock().expect("quiet lock").remove(id);
    if before != job.status {
        state
            .metrics
            .job_moved(&job.process_id, Some(before), job.status);
    }
    crate::callbacks::notify(&state.egress, &job);
    Ok(Some(job))
}

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
        start(job);
        true
    })
    .await;
    delivery.ack().await?;
    let Some(job) = claimed? else {
        return Ok(());
    };
    tracing::Span::current().record("process_id", job.process_id.as_str());
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
    start(&mut job);
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
    let span = tracing::info_span!("job", job_id = %id, process_id = %job.process_id);
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
fn start(job: &mut Job) {
    job.status = Status::Running;
    job.started = Some(now_ms());
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
    let cancel = CancellationToken::new();
    let Some(process) = state
        .registry
        .read()
        .expect("registry lock")
        .get(&job.process_id)
        .cloned()
    else {
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
    let started = Instant::now();
    // A fresh folder for the results (emptied if an interrupted run left one).
    let outdir = state.results.local_dir(id);
    match std::fs::create_dir(&outdir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_dir_all(&outdir)?;
            std::fs::create_dir(&outdir)?;
        }
        Err(_) => std::fs::create_dir_all(&outdir)?,
    }

    // Progress reports of the plugins, written to the job at most every 200 ms.
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
    let progress_state = state.clone();
    let progress_id = id.to_string();
    let progress_task = tokio::spawn(async move {
        let mut last = Instant::now() - Duration::from_secs(1);
        while let Some(event) = received.recv().await {
            if let RunEvent::Progress { percent, message } = event {
                if last.elapsed() < Duration::from_millis(200) {
                    continue;
                }
                last = Instant::now();
                let pct = percent.clamp(0.0, 99.0) as u8;
                let _ = update(&progress_state, &progress_id, false, |job| {
                    if job.status != Status::Running {
                        return false;
                    }
                    job.progress = pct;
                    job.message = message.clone();
                    true
                })
                .await;
            }
        }
    });

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
    let scratch = state.data_dir.join("scratch").join(id);
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
            if let Err(e) = state.results.publish(id).await {
                let text = state.redact(&format!("{e:#}"));
                return update(state, id, true, |job| {
                    if job.status != Status::Running {
                        return false;
                    }
                    job.status = Status::Failed;
                    job.failure = Some(FailureKind::ProcessFailed);
                    job.message = text;
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
            let item = crate::provenance::submit(state, &job, &process, &components, &output);
            let last = update(state, id, true, |job| {
                if job.status != Status::Running {
                    return false;
                }
                job.status = Status::Successful;
                job.progress = 100;
                job.message = "finished".into();
                job.finished = Some(now_ms());
                job.results = Some(output);
                true
            })
            .await?;
            if let Err(e) = item.await {
                tracing::error!(job_id = %id, error = %e, "result not catalogued");
            }
            state
                .metrics
                .job_duration
                .with_label_values(&[&job.process_id, "successful"])
                .observe(seconds);
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
                if job.status != Status::Running {
                    return false;
                }
                job.status = Status::Failed;
                job.failure = Some(kind);
                job.message = text;
                job.finished = Some(now_ms());
                true
            })
            .await?;
            state
                .metrics
                .job_duration
                .with_label_values(&[&job.process_id, "failed"])
                .observe(seconds);
            last
        }
    };
    if let Some(backends) = &state.backends {
        backends.finished(id);
    }
    // A record the change left alone (dismissed meanwhile) is not the job's end.
    Ok(last.filter(|job| job.status.is_final()))
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
