//! OGC API exceptions: every error the API returns is built here, with its
//! standard type URI and status code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

const OGC: &str = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/";
const OGC_PART2: &str = "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/";

/// The kinds of error the API reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No process with that id (404).
    NoSuchProcess,
    /// No job with that id (404).
    NoSuchJob,
    /// The job has not finished, or finished without results (404).
    ResultNotReady,
    /// An input or a request field is wrong (400).
    InvalidParameterValue,
    /// An input the process needs is absent (400).
    MissingInput,
    /// The process cannot run the way the request asks (sync/async) (400).
    NotSupported,
    /// The job ran and failed (500 for a synchronous execution).
    ProcessFailed,
    /// A deploy request with a process id already taken (409).
    DuplicatedProcess,
    /// A process that cannot be replaced or undeployed (403).
    ImmutableProcess,
    /// `w` names no workflow of a deployed document (400).
    WorkflowNotFound,
    /// The request body is not valid for this endpoint (400).
    InvalidBody,
    /// Unsupported media type of a request body (415).
    UnsupportedMediaType,
    /// No resource at this path (404).
    NotFound,
    /// The path exists, not with this method (405, with `Allow`).
    MethodNotAllowed,
    /// The resource exists already (409).
    Conflict,
    /// The client may not do this (403).
    Forbidden,
    /// The resource was here and is no more (410).
    Gone,
    /// This needs an identity and the request has none (401, with
    /// `WWW-Authenticate`).
    Unauthorized,
    /// The request's token is not taken: unknown, expired, revoked, badly signed
    /// (401, with `WWW-Authenticate` saying `invalid_token`).
    InvalidToken,
    /// The server cannot check the request's identity now (503, with `Retry-After`).
    Unavailable,
    /// The request names a host this server does not serve (421).
    MisdirectedRequest,
    /// The server has as much work waiting as it takes; come back later (429,
    /// with `Retry-After`).
    Busy,
    /// The request's body is larger than this endpoint takes (413).
    TooLarge,
    /// The server failed (500).
    Internal,
}

impl Kind {
    fn parts(self) -> (StatusCode, String, &'static str) {
        use Kind::*;
        let ogc = |name: &str| format!("{OGC}{name}");
        match self {
            NoSuchProcess => (
                StatusCode::NOT_FOUND,
                ogc("no-such-process"),
                "No such process",
            ),
            NoSuchJob => (StatusCode::NOT_FOUND, ogc("no-such-job"), "No such job"),
            ResultNotReady => (
                StatusCode::NOT_FOUND,
                ogc("result-not-ready"),
                "Result not ready",
            ),
            InvalidParameterValue => (
                StatusCode::BAD_REQUEST,
                ogc("invalid-parameter-value"),
                "Invalid parameter value",
            ),
            MissingInput => (
                StatusCode::BAD_REQUEST,
                ogc("missing-input"),
                "Missing input",
            ),
            NotSupported => (
                StatusCode::BAD_REQUEST,
                ogc("execution-mode-not-supported"),
                "Execution mode not supported",
            ),
            ProcessFailed => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ogc("process-failed"),
                "The process failed",
            ),
            DuplicatedProcess => (
                StatusCode::CONFLICT,
                format!("{OGC_PART2}duplicated-process"),
                "Duplicated process",
            ),
            ImmutableProcess => (
                StatusCode::FORBIDDEN,
                format!("{OGC_PART2}immutable-process"),
                "Immutable process",
            ),
            WorkflowNotFound => (
                StatusCode::BAD_REQUEST,
                format!("{OGC_PART2}workflow-not-found"),
                "Workflow not found",
            ),
            InvalidBody => (
                StatusCode::BAD_REQUEST,
                ogc("invalid-request"),
                "Invalid request",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("{OGC_PART2}unsupported-media-type"),
                "Unsupported media type",
            ),
            NotFound => (StatusCode::NOT_FOUND, ogc("not-found"), "Not found"),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                ogc("method-not-allowed"),
                "Method not allowed",
            ),
            Conflict => (StatusCode::CONFLICT, ogc("conflict"), "Conflict"),
            Forbidden => (StatusCode::FORBIDDEN, ogc("forbidden"), "Forbidden"),
            Gone => (StatusCode::GONE, ogc("gone"), "Gone"),
            Unauthorized => (
                StatusCode::UNAUTHORIZED,
                ogc("unauthorized"),
                "Unauthorized",
            ),
            InvalidToken => (
                StatusCode::UNAUTHORIZED,
                ogc("invalid-token"),
                "Invalid token",
            ),
            Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                ogc("unavailable"),
                "Service unavailable",
            ),
            Busy => (
                StatusCode::TOO_MANY_REQUESTS,
                ogc("too-many-requests"),
                "Too many requests",
            ),
            MisdirectedRequest => (
                StatusCode::MISDIRECTED_REQUEST,
                ogc("misdirected-request"),
                "Misdirected request",
            ),
            TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ogc("payload-too-large"),
                "Payload too large",
            ),
            Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ogc("internal-error"),
                "Internal error",
            ),
        }
    }
}

/// When a client told the server is busy may come back.
const RETRY_AFTER_SECONDS: &str = "5";

/// An API error: rendered as an OGC exception document.
#[derive(Debug)]
pub struct ApiError {
    /// What went wrong.
    pub kind: Kind,
    /// Says what and where, for the person reading it.
    pub detail: String,
}

impl ApiError {
    /// An error of `kind` with `detail`.
    pub fn new(kind: Kind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.kind.parts().0
    }

    /// The exception document.
    pub fn body(&self) -> serde_json::Value {
        let (status, uri, title) = self.kind.parts();
        json!({
            "type": uri,
            "title": title,
            "status": status.as_u16(),
            "detail": self.detail,
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.parts().2, self.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.kind == Kind::Internal {
            tracing::error!(detail = %self.detail, "internal error");
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        use axum::http::{HeaderValue, header};
        let headers = response.headers_mut();
        match self.kind {
            Kind::Busy | Kind::Unavailable => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECONDS),
                );
            }
            // RFC 6750: the scheme and realm, and the error when a token was given.
            Kind::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"hysope\""),
                );
            }
            Kind::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"hysope\", error=\"invalid_token\""),
                );
            }
            _ => {}
        }
        response
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        // The job system's own errors keep their kind through anyhow.
        match e.downcast::<hysope_jobs::Error>() {
            Ok(jobs) => jobs.into(),
            Err(e) => ApiError::new(Kind::Internal, chain_text(&e)),
        }
    }
}

/// An error and its causes joined by ": ", leaving out a cause whose text the
/// message before it already ends with (errors that print their source).
pub fn chain_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

impl From<hysope_jobs::Error> for ApiError {
    fn from(e: hysope_jobs::Error) -> Self {
        use hysope_jobs::{Error, RequestFault};
        let kind = match &e {
            Error::InvalidRequest { fault, .. } => match fault {
                RequestFault::InvalidBody => Kind::InvalidBody,
                RequestFault::MissingInput => Kind::MissingInput,
                _ => Kind::InvalidParameterValue,
            },
            Error::NoSuchProcess(_) => Kind::NoSuchProcess,
            Error::NoSuchJob(_) => Kind::NoSuchJob,
            Error::Busy(_) => Kind::Busy,
            Error::Unavailable(_) => Kind::Unavailable,
            Error::ResultNotReady { .. } => Kind::ResultNotReady,
            Error::NoSuchResult { .. } => Kind::NotFound,
            _ => Kind::Internal,
        };
        ApiError::new(kind, e.to_string())
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
