//! Callbacks (OGC API - Processes, conformance class `callback`): the
//! `subscriber` URIs of an execute request are called with a POST of JSON when
//! the job starts and progresses (`inProgressUri`: statusInfo), succeeds
//! (`successUri`: the results document) or fails (`failedUri`: statusInfo with
//! the reason). A call that fails is retried 4 times with a growing pause; a
//! callback never changes the job. Only `http://` URIs are called.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::jobs::{Job, Status};

/// Attempts per notification.
const ATTEMPTS: u32 = 5;

/// Checks a subscriber URI before a job is accepted.
pub fn check_uri(uri: &str) -> Result<(), String> {
    let Some(rest) = uri.strip_prefix("http://") else {
        return Err(format!(
            "{uri:?} is not an http:// URI (this server calls http:// subscribers only)"
        ));
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("{uri:?} has no host"));
    }
    Ok(())
}

/// Sends the notification `job`'s state calls for, in the background.
pub fn notify(job: &Job) {
    let Some(subscriber) = job.subscriber.as_ref() else {
        return;
    };
    let base = job.base_url.clone().unwrap_or_default();
    let (key, body) = match job.status {
        Status::Successful => ("successUri", super::api::results_document(job, &base)),
        Status::Failed => ("failedUri", super::api::status_info(job, &base)),
        Status::Running => ("inProgressUri", super::api::status_info(job, &base)),
        _ => return,
    };
    let Some(uri) = subscriber.get(key).and_then(Value::as_str) else {
        return;
    };
    let uri = uri.to_string();
    let id = job.id.clone();
    tokio::spawn(async move {
        let mut pause = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            match post(&uri, &body.to_string()).await {
                Ok(status) if (200..300).contains(&status) => return,
                Ok(status) => {
                    tracing::warn!(job = %id, %uri, attempt, "callback answered {status}")
                }
                Err(e) => tracing::warn!(job = %id, %uri, attempt, "callback failed: {e}"),
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        tracing::error!(job = %id, %uri, "callback given up after {ATTEMPTS} attempts");
    });
}

/// POSTs JSON to an http:// URI; returns the status code.
async fn post(uri: &str, body: &str) -> std::io::Result<u16> {
    let rest = uri.strip_prefix("http://").unwrap_or(uri);
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(&addr).await?;
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: hysope\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        let text = String::from_utf8_lossy(&reply);
        text.split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| std::io::Error::other("no HTTP status in the reply"))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no reply in 10 s"))?
}
