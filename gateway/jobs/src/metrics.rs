//! Prometheus metrics of the gateway: requests by route and status, their latency by
//! route, jobs by state and process, job durations, plugin failures by cause, queue
//! depth.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::Status;

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by route template, method and status code.
    pub requests: IntCounterVec,
    /// Seconds from a request's arrival to its response's head, by route template.
    pub request_duration: HistogramVec,
    /// Jobs by process and state.
    pub jobs: IntGaugeVec,
    /// Seconds from start to end of a job, by process and final state.
    pub job_duration: HistogramVec,
    /// Failed runs by cause (trap, timeout, memory-limit, exit, ...).
    pub plugin_failures: IntCounterVec,
    /// Job ids waiting in the queue.
    pub queue_depth: IntGauge,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "hysope_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "hysope_http_request_duration_seconds",
                "Time from a request's arrival to its response's head, by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route"],
        )?;
        let jobs = IntGaugeVec::new(
            Opts::new("hysope_jobs", "Jobs by process and state"),
            &["process", "state"],
        )?;
        let job_duration = HistogramVec::new(
            HistogramOpts::new(
                "hysope_job_duration_seconds",
                "Job run time by process and final state",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0, 1800.0,
            ]),
            &["process", "state"],
        )?;
        let plugin_failures = IntCounterVec::new(
            Opts::new(
                "hysope_job_failures_total",
                "Failed job runs by cause (trap, timeout, memory-limit, exit, ...)",
            ),
            &["cause"],
        )?;
        let queue_depth = IntGauge::new("hysope_queue_depth", "Job ids waiting in the queue")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_duration.clone()))?;
        registry.register(Box::new(jobs.clone()))?;
        registry.register(Box::new(job_duration.clone()))?;
        registry.register(Box::new(plugin_failures.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        Ok(Self {
            registry,
            requests,
            request_duration,
            jobs,
            job_duration,
            plugin_failures,
            queue_depth,
        })
    }

    /// Records a job moving from `from` (None: new) to `to`.
    pub fn job_moved(&self, process: &str, from: Option<Status>, to: Status) {
        if let Some(from) = from {
            if from == to {
                return;
            }
            self.jobs.with_label_values(&[process, from.as_str()]).dec();
        }
        self.jobs.with_label_values(&[process, to.as_str()]).inc();
    }

    /// Failed runs by cause since this process started, most frequent first.
    pub fn failures_by_cause(&self) -> Vec<(String, u64)> {
        use prometheus::core::Collector;
        let mut out: Vec<(String, u64)> = self
            .plugin_failures
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .filter_map(|m| {
                let cause = m.get_label().iter().find(|l| l.name() == "cause")?;
                Some((
                    cause.value().to_string(),
                    m.get_counter().get_value() as u64,
                ))
            })
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
