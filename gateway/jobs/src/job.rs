//! A job, its states and how jobs are filtered for listing.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The state of a job, as OGC API - Processes names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Stored and waiting for a worker.
    Accepted,
    /// A worker runs it.
    Running,
    /// Finished with results.
    Successful,
    /// Finished with an error (the message says why).
    Failed,
    /// Stopped at a user's request.
    Dismissed,
}

impl Status {
    /// Every status, in the order of a job's life.
    pub const ALL: [Status; 5] = [
        Status::Accepted,
        Status::Running,
        Status::Successful,
        Status::Failed,
        Status::Dismissed,
    ];

    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Running => "running",
            Status::Successful => "successful",
            Status::Failed => "failed",
            Status::Dismissed => "dismissed",
        }
    }

    /// Parses an API name.
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// True once the job will not change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Successful | Status::Failed | Status::Dismissed
        )
    }
}

/// Why a job failed, as the OGC exception its results answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The inputs were at fault (a file that is not what the process reads, a value
    /// out of range, an input the CWL refuses): `invalid-parameter-value`.
    InvalidParameterValue,
    /// The process failed (a trap, a time or memory limit, an exit code, the
    /// server): `process-failed`.
    ProcessFailed,
}

impl FailureKind {
    /// The OGC exception name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::InvalidParameterValue => "invalid-parameter-value",
            FailureKind::ProcessFailed => "process-failed",
        }
    }
}

/// One job: what was asked, and where it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Job id (a UUID, time-ordered: v7).
    pub id: String,
    /// The process it runs.
    pub process_id: String,
    /// Current state.
    pub status: Status,
    /// Human-readable state detail (the reason of a failure).
    pub message: String,
    /// Milliseconds since the epoch.
    pub created: u64,
    /// When a worker took it.
    pub started: Option<u64>,
    /// When it reached a final state.
    pub finished: Option<u64>,
    /// Last change.
    pub updated: u64,
    /// Percent done, 0..=100.
    pub progress: u8,
    /// The CWL job object (inputs translated from the request).
    pub inputs: Map<String, Value>,
    /// Requested outputs (`outputs` of the execute request), if any.
    pub outputs: Option<Value>,
    /// `raw` or `document` (OGC 1.0 `response`); `document` by default.
    pub response: String,
    /// Subscriber URIs (callbacks) from the request.
    pub subscriber: Option<Value>,
    /// The CWL output object once successful (file locations relative to the job's
    /// result folder).
    pub results: Option<Value>,
    /// How many times a worker started it (a restart re-queues running jobs).
    pub attempts: u32,
    /// Why it failed: the inputs or the process.
    #[serde(default)]
    pub failure: Option<FailureKind>,
    /// The server URL the job was submitted to (links in callbacks).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Who submitted it (the subject of their identity; `anonymous` for a public
    /// demo's callers). Jobs stored before identities existed have none: only
    /// operators see them.
    #[serde(default)]
    pub owner: Option<String>,
    /// How many times the record was changed: a change is written only over the
    /// revision it was made from ([`JobStore::swap`](crate::JobStore::swap)), so
    /// that gateways and workers sharing a store never undo each other's changes.
    #[serde(default)]
    pub revision: u64,
    /// Until when (milliseconds) the worker running it holds it: a worker renews
    /// its lease while the job runs; a running job whose lease ran out in a
    /// shared store is queued again (its worker died) by any gateway or worker.
    #[serde(default)]
    pub lease_until: Option<u64>,
    /// The queue confirmed the job's id (shared stores): an accepted job that
    /// stays undispatched (its gateway died between the commit and the push) is
    /// pushed by a sweeper.
    #[serde(default)]
    pub dispatched: bool,
    /// The last lines its plugins logged (at most [`LOG_LINES`], each clipped to
    /// [`LOG_LINE_BYTES`]), oldest first: what the job's page shows while it runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<LogLine>,
    /// The id of the request that submitted it (`X-Request-Id`), carried into
    /// the log lines of its run and its plugins' runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The production rule that made it, if one did ([`crate::rules`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The rules its inputs were made through, and its own last: its result
    /// item keeps them (`hysope:rules`), the guard against cycles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_chain: Vec<String>,
}

/// The log lines a job keeps.
pub const LOG_LINES: usize = 50;
/// The bytes of a kept log line, at most.
pub const LOG_LINE_BYTES: usize = 400;

/// A line a plugin logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// Milliseconds since the epoch.
    pub time: u64,
    /// `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// The text, clipped.
    pub message: String,
}

impl Job {
    /// Keeps `message` as the job's latest log line, dropping the oldest beyond
    /// [`LOG_LINES`].
    pub fn push_log(&mut self, time: u64, level: &str, message: &str) {
        let mut end = message.len().min(LOG_LINE_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        if self.log.len() >= LOG_LINES {
            self.log.drain(..=self.log.len() - LOG_LINES);
        }
        self.log.push(LogLine {
            time,
            level: level.to_string(),
            message: message[..end].to_string(),
        });
    }
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// RFC 3339 text of a time in milliseconds since the epoch.
pub fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + std::time::Duration::from_millis(ms)).to_string()
}

/// What `/jobs` asks for.
#[derive(Debug, Default, Clone)]
pub struct JobFilter {
    /// Only jobs of these processes (any when empty).
    pub process_ids: Vec<String>,
    /// Only jobs in these states (any when empty).
    pub statuses: Vec<Status>,
    /// Only jobs created in this interval (milliseconds, inclusive).
    pub created: Option<(Option<u64>, Option<u64>)>,
    /// Only the jobs of this owner (any when `None`).
    pub owner: Option<String>,
    /// Only the jobs this production rule made (any when `None`).
    pub rule: Option<String>,
}

impl JobFilter {
    /// True when `job` passes the filter.
    pub fn accepts(&self, job: &Job) -> bool {
        (self.process_ids.is_empty() || self.process_ids.contains(&job.process_id))
            && (self.statuses.is_empty() || self.statuses.contains(&job.status))
            && self
                .owner
                .as_ref()
                .is_none_or(|o| job.owner.as_ref() == Some(o))
            && self
                .rule
                .as_ref()
                .is_none_or(|r| job.rule.as_ref() == Some(r))
            && self.created.is_none_or(|(from, to)| {
                from.is_none_or(|f| job.created >= f) && to.is_none_or(|t| job.created <= t)
            })
    }
}

/// A page of jobs, newest first.
#[derive(Debug)]
pub struct JobPage {
    /// The jobs of the page.
    pub jobs: Vec<Job>,
    /// True when more jobs match after this page.
    pub more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jobs_log_keeps_its_last_lines_clipped_at_a_character() {
        let mut job: Job = serde_json::from_value(serde_json::json!({
            "id": "j", "process_id": "p", "status": "running", "message": "", "created": 0,
            "started": null, "finished": null, "updated": 0, "progress": 0, "inputs": {},
            "outputs": null, "response": "document", "subscriber": null, "results": null,
            "attempts": 1
        }))
        .unwrap();
        assert!(job.log.is_empty());
        for i in 0..LOG_LINES + 7 {
            job.push_log(i as u64, "info", &format!("line {i}"));
        }
        assert_eq!(job.log.len(), LOG_LINES);
        assert_eq!(job.log[0].message, "line 7");
        assert_eq!(
            job.log[LOG_LINES - 1].message,
            format!("line {}", LOG_LINES + 6)
        );
        // A long line of two-byte characters is cut at a character boundary.
        job.push_log(1, "warn", &"é".repeat(LOG_LINE_BYTES));
        let last = &job.log[LOG_LINES - 1];
        assert_eq!(last.message.len(), LOG_LINE_BYTES);
        assert_eq!(last.message.chars().count(), LOG_LINE_BYTES / 2);
        // A record without lines writes none and reads back the same.
        job.log.clear();
        let text = serde_json::to_string(&job).unwrap();
        assert!(!text.contains("\"log\""), "{text}");
    }
}
