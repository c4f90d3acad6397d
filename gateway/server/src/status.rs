//! The server's state for its operators (`GET /admin/status`, the operators' desk of
//! the portal): readiness, jobs by state, queue depth, failures by cause, the
//! request rate and latency of the last minute, the registry's waiting work.
//!
//! Prometheus (`/metrics`) is where a fleet is watched over time; this document is
//! one gateway's answer now, in one request, for a page that has no Prometheus to
//! ask. Jobs, queue and registry figures come from the shared stores (every
//! gateway's and worker's); the request figures and failure causes are this
//! process's own.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::response::Response;
use hysope_jobs::{JobFilter, Status, rfc3339};
use serde_json::{Value, json};

use crate::State;
use crate::api::negotiate;
use crate::errors::{ApiError, ApiResult, Kind};
use crate::query::{Format, Params};

/// The seconds of traffic kept.
pub const WINDOW_SECONDS: usize = 60;

/// Latency bucket bounds, milliseconds (a request above the last is counted
/// above it).
const BOUNDS_MS: [u32; 14] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 60_000,
];

#[derive(Clone, Copy, Default)]
struct Slot {
    /// The second (since the epoch) this slot counts; another second's counts are
    /// stale.
    second: u64,
    requests: u64,
    client_errors: u64,
    server_errors: u64,
    latency: [u64; BOUNDS_MS.len() + 1],
}

/// The requests of the last [`WINDOW_SECONDS`] seconds, one slot a second: a
/// fixed size whatever the traffic.
pub struct Traffic {
    slots: Mutex<[Slot; WINDOW_SECONDS]>,
    started: SystemTime,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            slots: Mutex::new([Slot::default(); WINDOW_SECONDS]),
            started: SystemTime::now(),
        }
    }
}

/// What [`Traffic::window`] saw.
#[derive(Debug, PartialEq)]
pub struct Window {
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    /// Upper bounds (ms) of the latency quantiles 0.5, 0.95, 0.99; `None` when no
    /// request, or above the last bound.
    pub quantiles_ms: [Option<u32>; 3],
}

fn epoch_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Traffic {
    /// Counts a response of `status` given `elapsed` after the request arrived, at
    /// `now`.
    pub fn record(&self, now: SystemTime, status: u16, elapsed: Duration) {
        let second = epoch_seconds(now);
        let ms = elapsed.as_millis();
        let bucket = BOUNDS_MS
            .iter()
            .position(|b| ms <= u128::from(*b))
            .unwrap_or(BOUNDS_MS.len());
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut slots[(second % WINDOW_SECONDS as u64) as usize];
        if slot.second != second {
            *slot = Slot {
                second,
                ..Slot::default()
            };
        }
        slot.requests += 1;
        slot.latency[bucket] += 1;
        match status {
            400..=499 => slot.client_errors += 1,
            500..=599 => slot.server_errors += 1,
            _ => {}
        }
    }

    /// The counts of the [`WINDOW_SECONDS`] seconds before `now` (its own second
    /// included).
    pub fn window(&self, now: SystemTime) -> Window {
        let now = epoch_seconds(now);
        let slots = *self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut latency = [0u64; BOUNDS_MS.len() + 1];
        let (mut requests, mut client_errors, mut server_errors) = (0, 0, 0);
        for slot in slots
            .iter()
            .filter(|s| s.second <= now && now - s.second < WINDOW_SECONDS as u64)
        {
            requests += slot.requests;
            client_errors += slot.client_errors;
            server_errors += slot.server_errors;
            for (sum, n) in latency.iter_mut().zip(slot.latency) {
                *sum += n;
            }
        }
        let quantile = |q: f64| -> Option<u32> {
            if requests == 0 {
                return None;
            }
            let rank = ((requests as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, n) in latency.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    return BOUNDS_MS.get(i).copied();
                }
            }
            None
        };
        Window {
            requests,
            client_errors,
            server_errors,
            quantiles_ms: [quantile(0.5), quantile(0.95), quantile(0.99)],
        }
    }

    /// When this process started counting.
    pub fn started(&self) -> SystemTime {
        self.started
    }
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `GET /admin/status` (operators).
pub(crate) async fn status(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    Params(q): Params<Format>,
) -> ApiResult<Response> {
    let body = tokio::task::spawn_blocking(move || document(&state))
        .await
        .map_err(|e| ApiError::new(Kind::Internal, e.to_string()))??;
    Ok(negotiate(&headers, q.f.as_deref(), "Status", body))
}

fn document(state: &State) -> ApiResult<Value> {
    let now = SystemTime::now();
    let jobs = &state.jobs;
    let faults = jobs.faults();
    let mut by_state: BTreeMap<&str, u64> = Status::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    let mut by_process: BTreeMap<String, BTreeMap<&str, u64>> = BTreeMap::new();
    for (process, s, n) in jobs.counts()? {
        *by_state.entry(s.as_str()).or_default() += n;
        by_process.entry(process).or_default().insert(s.as_str(), n);
    }
    let recent = jobs.list(
        &JobFilter {
            statuses: vec![Status::Failed],
            ..JobFilter::default()
        },
        0,
        10,
    )?;
    let recent: Vec<Value> = recent
        .jobs
        .iter()
        .map(|j| {
            json!({
                "id": j.id,
                "process": j.process_id,
                "finished": j.finished.map(rfc3339),
                "kind": j.failure.map(|k| k.as_str()),
                "message": j.message,
                "owner": j.owner,
            })
        })
        .collect();
    let causes: serde_json::Map<String, Value> = jobs
        .metrics()
        .failures_by_cause()
        .into_iter()
        .map(|(cause, n)| (cause, json!(n)))
        .collect();

    let traffic = state.traffic.window(now);
    let seconds = WINDOW_SECONDS as f64;
    let ratio = |n: u64| {
        if traffic.requests == 0 {
            0.0
        } else {
            n as f64 / traffic.requests as f64
        }
    };
    let [p50, p95, p99] = traffic.quantiles_ms;

    use hysope_registry::State as Version;
    let waiting = state.registry.curation.versions(None, |v| {
        matches!(v.state, Version::Submitted | Version::Quarantined)
    })?;
    let submitted = waiting
        .iter()
        .filter(|v| v.state == Version::Submitted)
        .count();
    let quarantined = waiting.len() - submitted;

    Ok(json!({
        "ready": faults.is_empty(),
        "faults": faults,
        "version": env!("CARGO_PKG_VERSION"),
        "started": rfc3339(epoch_ms(state.traffic.started())),
        "uptime_seconds": now.duration_since(state.traffic.started()).map_or(0, |d| d.as_secs()),
        "jobs": {
            "by_state": by_state,
            "by_process": by_process,
            "queue_depth": jobs.queue_depth(),
            "max_waiting": jobs.max_waiting(),
        },
        "failures": {
            "by_cause": causes,
            "recent": recent,
        },
        "requests": {
            "window_seconds": WINDOW_SECONDS,
            "count": traffic.requests,
            "per_second": (traffic.requests as f64 / seconds * 100.0).round() / 100.0,
            "client_errors": traffic.client_errors,
            "server_errors": traffic.server_errors,
            "server_error_ratio": (ratio(traffic.server_errors) * 10_000.0).round() / 10_000.0,
            "latency_ms_at_most": {"p50": p50, "p95": p95, "p99": p99},
        },
        "registry": {
            "submitted": submitted,
            "quarantined": quarantined,
        },
        "links": [
            {"href": "/metrics", "rel": "related", "type": "text/plain", "title": "Prometheus metrics"},
            {"href": "/ready", "rel": "related", "type": "application/json", "title": "readiness"},
            {"href": "/registry/queue", "rel": "related", "type": "application/json", "title": "submissions waiting for review"},
        ],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_counts_the_last_minute_only() {
        let t = Traffic::default();
        let start = UNIX_EPOCH + Duration::from_secs(1_000_000);
        t.record(start, 200, Duration::from_millis(3));
        t.record(start, 404, Duration::from_millis(30));
        t.record(
            start + Duration::from_secs(59),
            500,
            Duration::from_millis(700),
        );
        let w = t.window(start + Duration::from_secs(59));
        assert_eq!(
            w,
            Window {
                requests: 3,
                client_errors: 1,
                server_errors: 1,
                quantiles_ms: [Some(50), Some(1_000), Some(1_000)],
            }
        );
        // A minute on, the first second is out.
        let w = t.window(start + Duration::from_secs(60));
        assert_eq!((w.requests, w.client_errors, w.server_errors), (1, 0, 1));
        // A slot reused by a later second starts again.
        t.record(
            start + Duration::from_secs(120),
            200,
            Duration::from_micros(10),
        );
        let w = t.window(start + Duration::from_secs(120));
        assert_eq!(w.requests, 1);
        assert_eq!(w.quantiles_ms, [Some(1), Some(1), Some(1)]);
    }

    #[test]
    fn no_request_has_no_quantile_and_a_slow_one_is_above_the_bounds() {
        let t = Traffic::default();
        let now = UNIX_EPOCH + Duration::from_secs(5_000);
        assert_eq!(t.window(now).quantiles_ms, [None, None, None]);
        for _ in 0..99 {
            t.record(now, 200, Duration::from_millis(4));
        }
        t.record(now, 200, Duration::from_secs(120));
        let w = t.window(now);
        assert_eq!(w.quantiles_ms, [Some(5), Some(5), Some(5)]);
        t.record(now, 200, Duration::from_secs(120));
        // 2 of 101 above: the 0.99 rank (100) is still at 5 ms; add more.
        for _ in 0..3 {
            t.record(now, 200, Duration::from_secs(120));
        }
        assert_eq!(t.window(now).quantiles_ms[2], None);
    }
}
