//! Callbacks (OGC API - Processes, conformance class `callback`): the
//! `subscriber` URIs of an execute request are called with a POST of JSON when
//! the job starts and progresses (`inProgressUri`: statusInfo), succeeds
//! (`successUri`: the results document) or fails (`failedUri`: statusInfo with
//! the reason). A call that fails is retried 4 times with a growing pause; a
//! callback never changes the job. `http://` and `https://` URIs are called
//! (https verified against the system's roots, or `SSL_CERT_FILE`/`SSL_CERT_DIR`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::egress::Egress;
use crate::{Job, Status};

/// Time of one call.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Notifications being delivered at once, at most (each with its retries): the
/// server's own fan-out stays bounded whatever the subscribers do.
const IN_FLIGHT: usize = 256;

fn in_flight() -> &'static std::sync::Arc<tokio::sync::Semaphore> {
    static SLOTS: std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>> =
        std::sync::OnceLock::new();
    SLOTS.get_or_init(|| std::sync::Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT)))
}

/// Attempts per notification.
const ATTEMPTS: u32 = 5;

/// Checks a subscriber URI before a job is accepted.
pub fn check_uri(uri: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(uri).map_err(|e| format!("{uri:?} is not a URI: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{uri:?} is not an http:// or https:// URI (the schemes this server calls)"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{uri:?} has no host"));
    }
    Ok(())
}

/// Sends the notification `job`'s state calls for, in the background, through
/// the egress policy (the subscriber's host vetted at each call).
pub fn notify(egress: &Arc<Egress>, job: &Job) {
    let Some(subscriber) = job.subscriber.as_ref() else {
        return;
    };
    let base = job.base_url.clone().unwrap_or_default();
    let (key, body) = match job.status {
        Status::Successful => ("successUri", crate::documents::results_document(job, &base)),
        Status::Failed => ("failedUri", crate::documents::status_info(job, &base)),
        Status::Running => ("inProgressUri", crate::documents::status_info(job, &base)),
        _ => return,
    };
    let Some(uri) = subscriber.get(key).and_then(Value::as_str) else {
        return;
    };
    let uri = uri.to_string();
    let id = job.id.clone();
    // Serialised once for every attempt.
    let body = bytes::Bytes::from(body.to_string());
    let egress = egress.clone();
    // A progress report is dropped when every slot is taken (the next one says
    // more); a job's end waits for a slot.
    let permit = match in_flight().clone().try_acquire_owned() {
        Ok(permit) => Some(permit),
        Err(_) if key == "inProgressUri" => {
            tracing::debug!(job_id = %id, "progress callback skipped: too many in flight");
            return;
        }
        Err(_) => None,
    };
    tokio::spawn(async move {
        let _permit = match permit {
            Some(permit) => permit,
            None => match in_flight().clone().acquire_owned().await {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let mut pause = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            match egress.post_json(&uri, body.clone(), TIMEOUT).await {
                Ok(status) if (200..300).contains(&status) => return,
                Ok(status) => {
                    tracing::warn!(job_id = %id, %uri, attempt, %status, "callback refused")
                }
                Err(e) => {
                    tracing::warn!(job_id = %id, %uri, attempt, error = %e, "callback failed")
                }
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        tracing::error!(job_id = %id, %uri, attempts = ATTEMPTS, "callback given up");
    });
}
