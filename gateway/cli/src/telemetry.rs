//! OpenTelemetry traces (cargo feature `otel`): the spans of requests (`request`,
//! with its `request_id`, method and route) and of jobs (`job`, with its id,
//! process and the request that submitted it), exported over OTLP/HTTP with JSON
//! bodies when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set;
//! the service is named by `OTEL_SERVICE_NAME` (`hysope` by default). A build
//! without the feature says so when those variables are set.

/// Whether the environment asks for traces.
pub fn wanted() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
}

#[cfg(feature = "otel")]
mod otlp {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::Layer;

    /// Flushes and stops the exporter when dropped (at the end of `main`).
    pub struct Guard(SdkTracerProvider);

    impl Drop for Guard {
        fn drop(&mut self) {
            if let Err(e) = self.0.shutdown() {
                eprintln!("hysope: traces not all exported: {e}");
            }
        }
    }

    /// The layer that turns spans into OpenTelemetry spans, and its guard.
    pub fn layer<S>() -> anyhow::Result<(Box<dyn Layer<S> + Send + Sync>, Guard)>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
    {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpJson)
            .build()?;
        let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "hysope".into());
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(service)
                    .build(),
            )
            .build();
        let tracer = provider.tracer("hysope");
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
        Ok((Box::new(layer), Guard(provider)))
    }
}

#[cfg(feature = "otel")]
pub use otlp::{Guard, layer};

/// Without the feature: nothing to flush.
#[cfg(not(feature = "otel"))]
pub struct Guard;
