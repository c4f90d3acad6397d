//! Helpers of the in-process handler tests: a server state on a temporary data
//! folder, and requests through the router without a socket.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use hysope_server::{Config, State, api};
use serde_json::Value;
use tower::ServiceExt;

pub fn root() -> PathBuf {
    hysope_test_components::workspace_root()
}

pub fn config(data: &Path) -> Config {
    Config {
        process_dirs: vec![
            root().join("plugins"),
            root().join("gateway/server/tests/processes"),
        ],
        input_roots: vec![root().join("../shared/data")],
        ..Config::new(data, engine())
    }
}

/// The engine of the `hysope` command (its cache and plugin search path).
pub fn engine() -> hysope_engine::Engine {
    hysope_engine::Engine::open(hysope_engine::EngineSettings::from_env()).unwrap()
}

/// The router, called as the local operator unless a request says otherwise: a
/// request with its own `Authorization` or `X-API-Key` keeps it, and one with
/// `x-test-anonymous` goes without any (the identity tests, `identity.rs`, call
/// the plain router).
pub async fn app(data: &Path) -> (Router, Arc<State>) {
    let (app, state, _) = app_with(config(data)).await;
    (app, state)
}

/// [`app`] on `config`, with the number of jobs it queued again at start.
pub async fn app_with(config: Config) -> (Router, Arc<State>, usize) {
    let (state, requeued) = hysope_server::start(config).await.unwrap();
    (
        as_operator(api::router(state.clone()), &state),
        state,
        requeued,
    )
}

/// `router` with the local operator's token on requests that carry none.
pub fn as_operator(router: Router, state: &State) -> Router {
    let bearer = format!("Bearer {}", state.local_secret());
    router.layer(axum::middleware::map_request(
        move |mut request: axum::extract::Request| {
            let bearer = bearer.clone();
            async move {
                let headers = request.headers_mut();
                if headers.remove("x-test-anonymous").is_none()
                    && !headers.contains_key("authorization")
                    && !headers.contains_key("x-api-key")
                {
                    headers.insert("authorization", bearer.parse().unwrap());
                }
                request
            }
        },
    ))
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

pub async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl AsRef<[u8]>,
) -> Reply {
    let (status, headers, bytes) = raw(app, method, uri, headers, body).await;
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A call's status, headers and bytes as sent (a gzip body is not text).
pub async fn raw(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl AsRef<[u8]>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "test.local");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.as_ref().to_vec())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes.to_vec())
}

pub async fn get(app: &Router, uri: &str) -> Reply {
    call(app, "GET", uri, &[], "").await
}
