//! What keeps a browser from being turned against the server or its users
//! (issue 18, hole 7): headers that stop content sniffing, framing and scripts
//! on every response; writes refused in the body types a page of another site may
//! send without asking (a form or a `text/plain` fetch: CSRF); and requests for a
//! host the server does not serve refused (DNS rebinding reaches a server bound to
//! loopback through a name the attacker controls).

use std::sync::Arc;

use axum::extract::{Request, State as AxState};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::State;
use crate::errors::{ApiError, Kind};

/// The content security policy of every response: no script, no plugin, no
/// frame, styles inline (the HTML pages'), images from the server.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
                       base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The content security policy of a file a job produced: also a sandbox (a unique
/// origin, no script), whatever the file holds.
pub const FILE_CSP: &str = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// Body types a browser sends from any page without a preflight (the CORS
/// "simple" types): never a write of this API.
const SIMPLE_BODY_TYPES: &[&str] = &[
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];

/// Adds the headers that keep a browser from sniffing, framing or scripting the
/// server's responses (a handler's own policy stays).
pub async fn browser_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Refuses a write (POST, PUT, PATCH, DELETE) whose body is of a type any web page
/// may send to any site: 415, before a handler reads it.
pub async fn no_simple_writes(request: Request, next: Next) -> Response {
    let writes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if writes {
        let essence = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        if let Some(essence) = essence.filter(|e| SIMPLE_BODY_TYPES.contains(&e.as_str())) {
            return ApiError::new(
                Kind::UnsupportedMediaType,
                format!(
                    "a {essence} body is not taken by this API (a page of any site may send one); send JSON (application/json)"
                ),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Refuses a request whose `Host` is not one the server serves, when the
/// operator (or a loopback bind) named them: 421.
pub async fn allowed_hosts(
    AxState(state): AxState<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(allowed) = &state.allowed_hosts {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(host_name)
            .unwrap_or_default();
        // An address, not a name, is no DNS rebinding (a rebound page sends its
        // own name): probes and scrapes reach a pod by its IP.
        let address = host.parse::<std::net::IpAddr>().is_ok();
        if !address && !allowed.iter().any(|a| a.eq_ignore_ascii_case(&host)) {
            return ApiError::new(
                Kind::MisdirectedRequest,
                format!("this server does not serve the host {host:?}"),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// The host of a `Host` header, without its port (`[::1]:5000` is `::1`).
pub fn host_name(host: &str) -> String {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_string();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name.to_string(),
        _ => host.to_string(),
    }
}

/// The hosts served when the server is bound to `addr` and the operator named
/// `extra`: with none named, the loopback names for a loopback bind and any host
/// otherwise (`None`).
pub fn hosts_for(addr: &std::net::SocketAddr, extra: &[String]) -> Option<Vec<String>> {
    if extra.is_empty() && !addr.ip().is_loopback() {
        return None;
    }
    let mut hosts: Vec<String> = extra.iter().map(|h| host_name(h)).collect();
    if addr.ip().is_loopback() {
        hosts.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
        hosts.push(addr.ip().to_string());
    }
    Some(hosts)
}

/// True for the media types a browser may show inline from a job's results
/// without risk (no markup, no script); any other is served as an attachment.
pub fn safe_inline(media: &str) -> bool {
    matches!(
        media,
        "application/json" | "application/geo+json" | "text/csv" | "text/plain" | "image/png"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("localhost:5000"), "localhost");
        assert_eq!(host_name("[::1]:5000"), "::1");
        assert_eq!(host_name("example.org"), "example.org");
        let loopback: std::net::SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let hosts = hosts_for(&loopback, &[]).unwrap();
        assert!(hosts.contains(&"localhost".to_string()));
        assert!(!hosts.contains(&"evil.example".to_string()));
        let any: std::net::SocketAddr = "0.0.0.0:5000".parse().unwrap();
        assert_eq!(hosts_for(&any, &[]), None);
        assert_eq!(
            hosts_for(&any, &["hysope.example:443".into()]),
            Some(vec!["hysope.example".to_string()])
        );
    }
}

/// Which replies the server gzips for a client that takes it (`Accept-Encoding`):
/// the API's documents (JSON, GeoJSON, CSV, HTML pages) of 1 KiB or more. Not a
/// reply that is already encoded (the portal's files), nor one with an ETag or
/// byte ranges (downloads, a job's files: their ETag and ranges name the bytes as
/// stored), nor a partial one.
#[derive(Clone, Copy, Debug, Default)]
pub struct CompressApiDocuments;

impl tower_http::compression::Predicate for CompressApiDocuments {
    fn should_compress<B>(&self, response: &axum::http::Response<B>) -> bool
    where
        B: axum::body::HttpBody,
    {
        let h = response.headers();
        if response.status() != axum::http::StatusCode::OK
            || h.contains_key(header::ETAG)
            || h.contains_key(header::ACCEPT_RANGES)
            || h.contains_key(header::CONTENT_RANGE)
        {
            return false;
        }
        let small = h
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n < 1024);
        let kind = h
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let document = [
            "application/json",
            "application/geo+json",
            "text/csv",
            "text/html",
        ]
        .iter()
        .any(|t| kind.starts_with(t))
            || (kind.starts_with("application/") && kind.contains("json"));
        document && !small
    }
}
