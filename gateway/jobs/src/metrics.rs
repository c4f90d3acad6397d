//! Prometheus metrics of the gateway: requests by route and status, their latency by
//! route, jobs by state and process, job durations, plugin failures by cause, queue
//! depth; build info, readiness by check, worker slots, ingestion by outcome,
//! catalogue items by collection, store commit latency, component loads, and the
//! process's own (CPU, memory, file descriptors, threads, start time).

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
    /// How many jobs may wait before new ones are refused.
    pub queue_limit: IntGauge,
    /// 1 when a check of readiness passes, else 0, by check.
    ready: IntGaugeVec,
    /// Slots of running tools, busy or free.
    pub worker_slots: IntGaugeVec,
    /// Files ingested by the server, by outcome.
    ingest_files: IntCounterVec,
    /// Bytes of the files ingested by the server, by outcome.
    ingest_bytes: IntCounterVec,
    /// When the server last stored an ingested file (a new item or version).
    ingest_last_stored: IntGauge,
    /// Items of the catalogue by collection.
    pub catalog_items: IntGaugeVec,
    /// Seconds of the store's commits, durable or not (embedded store).
    pub store_commit: HistogramVec,
    /// Component loads by where their compiled code came from.
    component_loads: IntCounterVec,
    /// The process's own metrics, read from `/proc` at each scrape.
    process: crate::process_metrics::ProcessMetrics,
    /// Changes the production rules read, by rule and outcome.
    rule_triggers: IntCounterVec,
    /// Seconds from an item's entry into the catalogue to its rule's job.
    rule_lag: HistogramVec,
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
        let queue_limit = IntGauge::new(
            "hysope_queue_limit",
            "Jobs that may wait for a worker before new ones are refused (429)",
        )?;
        let ingest_last_stored = IntGauge::new(
            "hysope_ingest_last_stored_timestamp_seconds",
            "When the server last stored an ingested file as a new item or version (0: not since it started)",
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new("hysope_build_info", "1, labelled with the running version"),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let ready = IntGaugeVec::new(
            Opts::new(
                "hysope_ready",
                "1 when a check of readiness passes, else 0 (store, catalog, queue, workers)",
            ),
            &["check"],
        )?;
        let worker_slots = IntGaugeVec::new(
            Opts::new(
                "hysope_worker_slots",
                "Slots of running tools, busy or free",
            ),
            &["state"],
        )?;
        let ingest_files = IntCounterVec::new(
            Opts::new(
                "hysope_ingest_files_total",
                "Files ingested by the server, by outcome (new, new-version, unchanged, skipped)",
            ),
            &["outcome"],
        )?;
        let ingest_bytes = IntCounterVec::new(
            Opts::new(
                "hysope_ingest_bytes_total",
                "Bytes of the files ingested by the server, by outcome",
            ),
            &["outcome"],
        )?;
        let catalog_items = IntGaugeVec::new(
            Opts::new(
                "hysope_catalog_items",
                "Items of the catalogue by collection",
            ),
            &["collection"],
        )?;
        let store_commit = HistogramVec::new(
            HistogramOpts::new(
                "hysope_store_commit_duration_seconds",
                "Time of the embedded store's commits, from their transaction's start to the commit's end",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
            &["durability"],
        )?;
        let component_loads = IntCounterVec::new(
            Opts::new(
                "hysope_component_loads_total",
                "Plugin component loads by where their compiled code came from (memory, cache, compiled)",
            ),
            &["source"],
        )?;
        let process = crate::process_metrics::ProcessMetrics::new()?;
        let rule_triggers = IntCounterVec::new(
            Opts::new(
                "hysope_rule_triggers_total",
                "Catalogue changes a production rule acted on, by rule and outcome (job, repeated, skipped, cycle)",
            ),
            &["rule", "outcome"],
        )?;
        let rule_lag = HistogramVec::new(
            HistogramOpts::new(
                "hysope_rule_lag_seconds",
                "Time from an item's entry into the catalogue (or a period's end) to its rule's job being accepted",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0]),
            &["rule"],
        )?;
        registry.register(Box::new(rule_triggers.clone()))?;
        registry.register(Box::new(rule_lag.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_duration.clone()))?;
        registry.register(Box::new(jobs.clone()))?;
        registry.register(Box::new(job_duration.clone()))?;
        registry.register(Box::new(plugin_failures.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        registry.register(Box::new(build_info.clone()))?;
        registry.register(Box::new(queue_limit.clone()))?;
        registry.register(Box::new(ingest_last_stored.clone()))?;
        registry.register(Box::new(ready.clone()))?;
        registry.register(Box::new(worker_slots.clone()))?;
        registry.register(Box::new(ingest_files.clone()))?;
        registry.register(Box::new(ingest_bytes.clone()))?;
        registry.register(Box::new(catalog_items.clone()))?;
        registry.register(Box::new(store_commit.clone()))?;
        registry.register(Box::new(component_loads.clone()))?;
        process.register(&registry)?;
        Ok(Self {
            registry,
            requests,
            request_duration,
            jobs,
            job_duration,
            plugin_failures,
            queue_depth,
            queue_limit,
            ready,
            worker_slots,
            ingest_files,
            ingest_bytes,
            ingest_last_stored,
            catalog_items,
            store_commit,
            component_loads,
            process,
            rule_triggers,
            rule_lag,
        })
    }

    /// Counts a change a rule acted on, and the lag of the job it made.
    pub fn rule_fired(&self, rule: &str, outcome: &str, lag: Option<f64>) {
        self.rule_triggers.with_label_values(&[rule, outcome]).inc();
        if let Some(lag) = lag {
            self.rule_lag.with_label_values(&[rule]).observe(lag);
        }
    }

    /// Sets the readiness gauges from the checks.
    pub fn set_ready(&self, checks: &[crate::Check]) {
        for check in checks {
            self.ready
                .with_label_values(&[check.name])
                .set(i64::from(check.fault.is_none()));
        }
    }

    /// Counts an ingestion's files and bytes by outcome.
    pub fn ingested(&self, by_outcome: &[(&str, u64, u64)]) {
        for (outcome, files, bytes) in by_outcome {
            self.ingest_files
                .with_label_values(&[outcome])
                .inc_by(*files);
            self.ingest_bytes
                .with_label_values(&[outcome])
                .inc_by(*bytes);
            if matches!(*outcome, "new" | "new-version") && *files > 0 {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                self.ingest_last_stored.set(now as i64);
            }
        }
    }

    /// Brings the component load counters up to the engine's counts.
    pub fn set_component_loads(&self, counts: hysope_engine::wasm::LoadCounts) {
        for (source, count) in [
            ("memory", counts.memory),
            ("cache", counts.cache),
            ("compiled", counts.compiled),
        ] {
            let counter = self.component_loads.with_label_values(&[source]);
            counter.inc_by(count.saturating_sub(counter.get()));
        }
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
        self.process.update();
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
