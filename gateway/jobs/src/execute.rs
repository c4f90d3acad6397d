//! Execute requests: an OGC API - Processes execute request checked against its
//! process and turned into a job ([`Jobs::prepare`]), then accepted for a worker
//! ([`Jobs::accept`]) or run at once ([`Jobs::run_sync`]).

use std::sync::Arc;

use serde_json::Value;

use crate::processes::{CatalogFiles, Places};
use crate::{Error, Job, Jobs, RequestFault, Result, Status, now_ms};

/// An execute request's body: the fields OGC API - Processes 1.0 gives it (any
/// other field is ignored).
#[derive(Debug, Default, Clone)]
pub struct ExecuteRequest {
    /// Input id -> value (`href` objects for files).
    pub inputs: Option<Value>,
    /// Output id -> options (`transmissionMode`).
    pub outputs: Option<Value>,
    /// `document` (default) or `raw`.
    pub response: Option<Value>,
    /// `successUri`, `inProgressUri`, `failedUri`.
    pub subscriber: Option<Value>,
    /// `sync` or `async` (otherwise the `Prefer` header decides).
    pub mode: Option<Value>,
}

impl ExecuteRequest {
    /// Reads a request body; an empty one is a request without inputs.
    pub fn from_json(body: &[u8]) -> Result<Self> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            Error::request(
                RequestFault::InvalidBody,
                format!(
                    "the execute request is not JSON: {e} (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let Value::Object(mut map) = value else {
            return Err(Error::request(
                RequestFault::InvalidBody,
                "the execute request must be a JSON object",
            ));
        };
        Ok(Self {
            inputs: map.remove("inputs"),
            outputs: map.remove("outputs"),
            response: map.remove("response"),
            subscriber: map.remove("subscriber"),
            mode: map.remove("mode"),
        })
    }
}

impl Jobs {
    /// Looks up the catalogue's files that `request` names by their download route
    /// (relative, or under `base_url`, the server's URL as the caller sees it), for
    /// [`Jobs::prepare`]. A route the catalogue has no file for is refused, naming
    /// the input.
    pub async fn catalog_files(
        &self,
        request: &ExecuteRequest,
        base_url: &str,
    ) -> Result<CatalogFiles> {
        let mut wanted = Vec::new();
        for (input, href) in crate::processes::named_places(request.inputs.as_ref()) {
            if let Some((c, i, k)) = hysope_catalog::store::parse_asset_route(&href, base_url) {
                let key = (c.to_string(), i.to_string(), k.to_string());
                wanted.push((input, href.clone(), key));
            }
        }
        let mut files = CatalogFiles::default();
        if wanted.is_empty() {
            return Ok(files);
        }
        if wanted.len() > self.egress.policy().max_inputs {
            return Err(Error::request(
                RequestFault::InvalidParameterValue,
                format!(
                    "{} files of the catalogue; a job may have {} inputs by reference at most",
                    wanted.len(),
                    self.egress.policy().max_inputs
                ),
            ));
        }
        let catalog = self.catalog.clone();
        let found = tokio::task::spawn_blocking(move || {
            wanted
                .into_iter()
                .map(|(input, href, (c, i, k))| {
                    let source = catalog.asset_source(&c, &i, &k);
                    (input, href, (c, i, k), source)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| Error::Unavailable(format!("the catalogue lookup stopped: {e}")))?;
        for (input, href, (c, i, k), source) in found {
            match source {
                Ok(Some(source)) => {
                    files.0.insert(href, source);
                }
                Ok(None) => {
                    return Err(Error::request(
                        RequestFault::InvalidParameterValue,
                        format!(
                            "input {input:?}: {href} names no file of the catalogue (no asset {k:?} of item {i:?} in collection {c:?})"
                        ),
                    ));
                }
                Err(e) => {
                    return Err(Error::Unavailable(format!(
                        "input {input:?}: the catalogue could not say where {href} is: {e}"
                    )));
                }
            }
        }
        Ok(files)
    }

    /// Checks `request` against process `process_id` and makes its job (accepted,
    /// not stored yet); `prefer_async` is the caller's `Prefer: respond-async`,
    /// `base_url` the server URL the request came to (links in callbacks), `files`
    /// the catalogue's files it names ([`Jobs::catalog_files`]). Returns the job
    /// and whether it runs asynchronously. The job belongs to `owner`.
    pub fn prepare(
        &self,
        process_id: &str,
        request: ExecuteRequest,
        prefer_async: bool,
        base_url: &str,
        owner: &str,
        files: &CatalogFiles,
    ) -> Result<(Job, bool)> {
        let process = self
            .registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(process_id)
            .cloned()
            .ok_or_else(|| Error::NoSuchProcess(process_id.to_string()))?;
        let places = Places {
            roots: &self.input_roots,
            egress: &self.egress,
            catalog: files,
        };
        let inputs = process.job_from_request(request.inputs.as_ref(), &places)?;
        let outputs = request.outputs;
        let invalid = |detail: String| Error::request(RequestFault::InvalidParameterValue, detail);
        if let Some(requested) = outputs.as_ref().and_then(Value::as_object) {
            let declared = hysope_engine::cwl::values::ids(&process.cwl, "outputs");
            for (name, options) in requested {
                match options.get("transmissionMode").and_then(Value::as_str) {
                    None | Some("value" | "reference") => {}
                    Some(other) => {
                        return Err(invalid(format!(
                            "output {name:?}: transmissionMode must be \"value\" or \"reference\", not {other:?}"
                        )));
                    }
                }
            }
            if let Some(bad) = requested.keys().find(|k| !declared.contains(&k.as_str())) {
                return Err(invalid(format!(
                    "process {process_id} has no output {bad:?} (outputs: {})",
                    declared.join(", ")
                )));
            }
        } else if outputs.as_ref().is_some_and(|o| !o.is_null()) {
            return Err(Error::request(
                RequestFault::InvalidBody,
                "\"outputs\" must be an object of output id to options",
            ));
        }
        let response = match request.response.as_ref().and_then(Value::as_str) {
            None | Some("document") => "document",
            Some("raw") => "raw",
            Some(other) => {
                return Err(invalid(format!(
                    "response must be \"document\" or \"raw\", not {other:?}"
                )));
            }
        };
        let subscriber = subscriber(request.subscriber, &self.egress)?;
        let asynchronous = match request.mode.as_ref().and_then(Value::as_str) {
            Some("async") => true,
            Some("sync") => false,
            _ => prefer_async,
        };
        let now = now_ms();
        let job = Job {
            // A time-ordered UUID (v7: milliseconds, then 74 random bits): a new job's
            // record and result item go at the end of their tables, where the jobs
            // committed with it went, instead of at random places, so a shared commit
            // rewrites a few pages rather than a few per job (pwrites per job
            // 3.8 -> 2.4, the store 5.0 -> 3.2 KB per job).
            id: uuid::Uuid::now_v7().to_string(),
            process_id: process_id.to_string(),
            status: Status::Accepted,
            message: "accepted".into(),
            created: now,
            started: None,
            finished: None,
            updated: now,
            progress: 0,
            inputs,
            outputs,
            response: response.into(),
            subscriber,
            base_url: Some(base_url.to_string()),
            results: None,
            attempts: 0,
            failure: None,
            owner: Some(owner.to_string()),
            revision: 0,
            lease_until: None,
            dispatched: false,
            log: Vec::new(),
            request_id: None,
            rule: None,
            rule_chain: Vec::new(),
        };
        Ok((job, asynchronous))
    }

    /// Refuses a new job when as many wait as the server takes.
    fn room(&self) -> Result<()> {
        let waiting = self.waiting();
        if waiting >= self.max_waiting {
            return Err(Error::Busy(format!(
                "{waiting} jobs wait for a worker, as many as this server takes; try again later"
            )));
        }
        Ok(())
    }

    /// Accepts an asynchronous job: its record is durable, then it is queued.
    pub async fn accept(&self, job: &Job) -> Result<()> {
        self.room()?;
        self.store.submit(std::slice::from_ref(job), true).await?;
        self.queue_accepted(job).await
    }

    /// Accepts a job only when no job of its id exists (a production rule's,
    /// whose id its trigger decides): written over no record, durably, then
    /// queued. False, and nothing written, when the job existed.
    pub async fn accept_once(&self, job: &Job) -> Result<bool> {
        self.room()?;
        let mut job = job.clone();
        job.revision = 1;
        if !self.store.swap(&job, true).await? {
            return Ok(false);
        }
        self.queue_accepted(&job).await?;
        Ok(true)
    }

    /// Counts and queues a job whose record is durable.
    async fn queue_accepted(&self, job: &Job) -> Result<()> {
        crash_point("accept-committed");
        self.metrics
            .job_moved(&job.process_id, None, Status::Accepted);
        if let Err(e) = self.queue.push(job.id.clone()).await {
            if !self.store.shared() {
                return Err(e);
            }
            // A shared store's record is the truth: the job is accepted, and the
            // sweeper pushes it once the queue answers again.
            tracing::warn!(job_id = %job.id, error = %e, "job accepted but not queued yet: the sweeper will");
            return Ok(());
        }
        self.metrics.queue_depth.set(self.queue.depth() as i64);
        if let Err(e) = crate::worker::mark_dispatched(self, &job.id).await {
            // The sweeper pushes it again: a duplicate delivery, which the claim
            // ignores.
            tracing::warn!(job_id = %job.id, error = format!("{e:#}"), "job not marked dispatched");
        }
        crash_point("accept-queued");
        Ok(())
    }

    /// Runs a synchronous job to its end (see [`crate::worker::run_sync`]): its
    /// final record, and its result item when successful, are durable when this
    /// returns.
    pub async fn run_sync(self: &Arc<Self>, job: Job) -> anyhow::Result<Job> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        /// Uncounts the execution however it ends: its caller may drop it (a
        /// client that goes away) before it returns.
        struct Counted<'a>(&'a AtomicUsize);
        impl Drop for Counted<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.room()?;
        // Counted while it waits for a slot (and runs: it holds one then).
        self.sync_waiting.fetch_add(1, Ordering::Relaxed);
        let _counted = Counted(&self.sync_waiting);
        crate::worker::run_sync(self, job).await
    }
}

/// The fault tests' crash points: the process aborts at the point that
/// `HYSOPE_TEST_CRASH_AT` names, with no clean-up, as a `kill -9` landing there
/// would (`accept-committed`: the job's record is durable, nothing queued, no
/// reply; `accept-queued`: queued and marked dispatched, no reply;
/// `rule-before-job` and `rule-job-accepted`: see [`crate::rules`]). Read once;
/// unset, a point costs one load. For tests only: no request can set it.
pub(crate) fn crash_point(name: &str) {
    static AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| std::env::var("HYSOPE_TEST_CRASH_AT").ok());
    if at.as_deref() == Some(name) {
        eprintln!("hysope: HYSOPE_TEST_CRASH_AT={name}: aborting here");
        std::process::abort();
    }
}

/// The `subscriber` of a request: an object of callback URIs, each checked.
fn subscriber(given: Option<Value>, egress: &crate::egress::Egress) -> Result<Option<Value>> {
    let invalid = |detail: String| Error::request(RequestFault::InvalidParameterValue, detail);
    match given {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            for (key, uri) in &m {
                if !["successUri", "inProgressUri", "failedUri"].contains(&key.as_str()) {
                    return Err(invalid(format!(
                        "subscriber has no field {key:?} (successUri, inProgressUri, failedUri)"
                    )));
                }
                let uri = uri.as_str().unwrap_or("");
                crate::callbacks::check_uri(uri)
                    .and_then(|()| egress.check(uri))
                    .map_err(|m| invalid(format!("subscriber {key}: {m}")))?;
            }
            Ok(Some(Value::Object(m)))
        }
        Some(_) => Err(invalid(
            "subscriber must be an object of successUri, inProgressUri, failedUri".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_read_into_its_fields_and_bad_bodies_say_why() {
        let empty = ExecuteRequest::from_json(b"  \n").unwrap();
        assert!(empty.inputs.is_none() && empty.mode.is_none());
        let r =
            ExecuteRequest::from_json(br#"{"inputs": {"a": 1}, "mode": "async", "x": 2}"#).unwrap();
        assert_eq!(r.inputs, Some(serde_json::json!({"a": 1})));
        assert_eq!(r.mode, Some(Value::from("async")));
        let err = ExecuteRequest::from_json(b"{\"inputs\": ").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = ExecuteRequest::from_json(b"[1]").unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidRequest {
                fault: RequestFault::InvalidBody,
                ..
            }
        ));
    }
}
