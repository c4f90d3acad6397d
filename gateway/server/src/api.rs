//! The HTTP API: routes, content negotiation (JSON or HTML) and the handlers of
//! OGC API - Processes - Part 1.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{Value, json};

use super::State;
use super::auth::{Routes, Table};
use super::errors::{ApiError, ApiResult, Kind};
use super::query::{DeployQuery, Format, JobsQuery, Paging, Params};
use hysope_identity::{Action, Identity};
use hysope_jobs::documents::{
    file_href, media_type, requested_results, result_value, results_document, status_info,
};
use hysope_jobs::worker;
use hysope_jobs::{ExecuteRequest, FailureKind, Job, JobFilter, Status};

/// Conformance classes declared at `/conformance`.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/callback",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/deploy-replace-undeploy",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/ogcapppkg",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/cwl",
];

type Shared = Arc<State>;

/// The routes of the API and the action of each method: the one table of who may
/// call what (see [`super::auth`]).
pub fn routes() -> Routes {
    use Action::*;
    use axum::routing::{delete, post};
    Routes::new()
        .route("/", &[(Method::GET, Read)], get(landing))
        .route("/conformance", &[(Method::GET, Read)], get(conformance))
        .route("/api", &[(Method::GET, Read)], get(api_definition))
        .route("/me", &[(Method::GET, Read)], get(whoami))
        .route("/ready", &[(Method::GET, Read)], get(ready))
        .route("/livez", &[(Method::GET, Read)], get(livez))
        .route("/readyz", &[(Method::GET, Read)], get(readyz))
        .route(
            "/processes",
            &[(Method::GET, Read), (Method::POST, Deploy)],
            get(process_list).post(deploy),
        )
        .route(
            "/processes/{id}",
            &[
                (Method::GET, Read),
                (Method::PUT, Deploy),
                (Method::DELETE, Deploy),
            ],
            get(process_description).put(replace).delete(undeploy),
        )
        .route(
            "/processes/{id}/package",
            &[(Method::GET, Read)],
            get(process_package),
        )
        .route(
            "/processes/{id}/execution",
            &[(Method::POST, Execute)],
            post(execute),
        )
        .route("/jobs", &[(Method::GET, Jobs)], get(job_list))
        .route(
            "/jobs/{id}",
            &[(Method::GET, Jobs), (Method::DELETE, Jobs)],
            get(job_status).delete(dismiss),
        )
        .route(
            "/jobs/{id}/results",
            &[(Method::GET, Jobs)],
            get(job_results),
        )
        .route(
            "/jobs/{id}/files/{*path}",
            &[(Method::GET, Jobs)],
            get(job_file),
        )
        .route("/metrics", &[(Method::GET, Metrics)], get(metrics))
        .route(
            "/uploads",
            &[(Method::GET, Execute), (Method::POST, Execute)],
            get(super::uploads::list).post(super::uploads::create),
        )
        .route(
            "/uploads/{id}",
            &[(Method::GET, Execute), (Method::DELETE, Execute)],
            get(super::uploads::show).delete(super::uploads::remove),
        )
        .route(
            "/admin/status",
            &[(Method::GET, Metrics)],
            get(super::status::status),
        )
        .route(
            "/rules",
            &[(Method::GET, Review), (Method::POST, Review)],
            get(super::rules::list).post(super::rules::create),
        )
        .route(
            "/rules/{id}",
            &[(Method::GET, Review), (Method::DELETE, Review)],
            get(super::rules::show).delete(super::rules::remove),
        )
        .route(
            "/rules/{id}/pause",
            &[(Method::POST, Review)],
            post(super::rules::pause),
        )
        .route(
            "/rules/{id}/resume",
            &[(Method::POST, Review)],
            post(super::rules::resume),
        )
        .route(
            "/admin/tokens",
            &[(Method::GET, Tokens), (Method::POST, Tokens)],
            get(super::tokens::list).post(super::tokens::create),
        )
        .route(
            "/admin/tokens/{id}",
            &[(Method::DELETE, Tokens)],
            delete(super::tokens::revoke),
        )
        .merge(super::stac::routes())
        .merge(super::features::routes())
        .merge(super::downloads::routes())
        .merge(super::oci::routes())
        .merge(super::curation::routes())
        .merge(super::portal::routes())
}

/// The route table (built once).
pub fn rules() -> &'static [super::auth::Rule] {
    static RULES: std::sync::OnceLock<Vec<super::auth::Rule>> = std::sync::OnceLock::new();
    RULES.get_or_init(|| routes().into_parts().1)
}

/// The routes of a worker (`hysope worker`): no API, only what its platform
/// watches it by, each with its action like every route.
pub fn worker_routes() -> Routes {
    use Action::*;
    Routes::new()
        .route("/ready", &[(Method::GET, Read)], get(ready))
        .route("/livez", &[(Method::GET, Read)], get(livez))
        .route("/readyz", &[(Method::GET, Read)], get(readyz))
        .route("/metrics", &[(Method::GET, Metrics)], get(metrics))
}

/// The router of the whole API.
pub fn router(state: Shared) -> Router {
    router_of(routes(), state)
}

/// The router of a worker: readiness and metrics ([`worker_routes`]).
pub fn worker_router(state: Shared) -> Router {
    router_of(worker_routes(), state)
}

/// `routes` behind the middleware every route passes: the role check of the
/// route table, the browser and `Host` guards, the request counts.
fn router_of(routes: Routes, state: Shared) -> Router {
    let (routes, rules) = routes.into_parts();
    let table = Arc::new(Table::new(&rules));
    routes
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            (state.clone(), table),
            super::auth::authorize,
        ))
        .layer(middleware::from_fn(super::guard::no_simple_writes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::guard::allowed_hosts,
        ))
        .layer(middleware::from_fn(super::guard::browser_headers))
        // gzip at its fastest level: at the default level a page of 100 STAC items
        // took twice as long to answer compressed as plain (BENCHMARKS.md, issue 22).
        .layer(
            tower_http::compression::CompressionLayer::new()
                .gzip(true)
                .quality(tower_http::CompressionLevel::Fastest)
                .compress_when(super::guard::CompressApiDocuments),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

/// The probes of a platform (Kubernetes' conventions): answered to anyone
/// without looking at a token, and never counted in the request metrics (a
/// probe every few seconds would be most of a quiet server's traffic).
pub(super) const PROBES: [&str; 2] = ["/livez", "/readyz"];

/// `GET /livez`: the process answers (no dependency is checked: a full disk or a
/// broker down is for `/readyz`, and restarting the process would not mend it).
async fn livez(uri: axum::http::Uri) -> Response {
    probe_reply(
        "livez",
        &[hysope_jobs::Check {
            name: "ping",
            fault: None,
        }],
        uri.query(),
    )
}

/// `GET /readyz`: whether the server can take work now (its checks, see
/// [`hysope_jobs::Jobs::checks`]). `?verbose` lists the checks; `?exclude=NAME`
/// (repeatable) leaves one out.
async fn readyz(AxState(state): AxState<Shared>, uri: axum::http::Uri) -> Response {
    let checks = state.jobs.checks();
    state.jobs.metrics().set_ready(&checks);
    probe_reply("readyz", &checks, uri.query())
}

/// A probe's text reply: `ok` (200), or every check with `[+]` or `[-]` and its
/// failure (503) or, with `verbose`, its success.
fn probe_reply(probe: &str, checks: &[hysope_jobs::Check], query: Option<&str>) -> Response {
    use std::fmt::Write;
    let (mut verbose, mut exclude) = (false, Vec::new());
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*key {
            "verbose" => verbose = !matches!(&*value, "false" | "0"),
            "exclude" if checks.iter().any(|c| c.name == value) => exclude.push(value),
            "exclude" => {
                let names: Vec<_> = checks.iter().map(|c| c.name).collect();
                return ApiError::new(
                    Kind::InvalidParameterValue,
                    format!(
                        "/{probe} has no check {value:?} to exclude (its checks: {})",
                        names.join(", ")
                    ),
                )
                .into_response();
            }
            other => {
                return ApiError::new(
                    Kind::InvalidParameterValue,
                    format!("/{probe} takes no parameter {other:?} (it takes verbose and exclude)"),
                )
                .into_response();
            }
        }
    }
    let (mut text, mut failed) = (String::new(), false);
    for check in checks {
        let _ = match &check.fault {
            _ if exclude.iter().any(|e| e == check.name) => {
                writeln!(text, "[+]{} excluded: ok", check.name)
            }
            None => writeln!(text, "[+]{} ok", check.name),
            Some(why) => {
                failed = true;
                writeln!(
                    text,
                    "[-]{} failed: {}",
                    check.name,
                    why.replace(['\n', '\r'], " ")
                )
            }
        };
    }
    let status = if failed {
        let _ = writeln!(text, "{probe} check failed");
        StatusCode::SERVICE_UNAVAILABLE
    } else if verbose {
        let _ = writeln!(text, "{probe} check passed");
        StatusCode::OK
    } else {
        text = "ok\n".into();
        StatusCode::OK
    };
    let mut r = (status, text).into_response();
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if failed {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    r
}

/// `GET /ready`: 200 when the server can take work, else 503 with the reasons
/// (the failing checks of `/readyz`, as JSON).
async fn ready(AxState(state): AxState<Shared>) -> Response {
    let faults = state.jobs.faults();
    if faults.is_empty() {
        return json_response(StatusCode::OK, &json!({"ready": true}));
    }
    let mut r = json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({"ready": false, "reasons": faults}),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    r
}

/// `GET /me`: who the server takes the caller for, and what they may do.
async fn whoami(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
) -> Response {
    let may: Vec<&str> = Action::ALL
        .into_iter()
        .filter(|a| state.policy.decide(&caller, *a) == hysope_identity::Decision::Allowed)
        .map(Action::as_str)
        .collect();
    let mut body = serde_json::to_value(&caller).unwrap_or_default();
    body["may"] = json!(may);
    if let Some(sign_in) = super::portal::sign_in(&state) {
        body["sign_in"] = sign_in;
    }
    json_response(StatusCode::OK, &body)
}

async fn count_requests(AxState(state): AxState<Shared>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    if PROBES.contains(&route.as_str()) {
        return next.run(request).await;
    }
    // A label of a bounded set: any method is accepted on the wire, and each new
    // label is a new time series kept forever.
    let method = match *request.method() {
        Method::GET
        | Method::HEAD
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::OPTIONS => request.method().as_str().to_string(),
        _ => "OTHER".to_string(),
    };
    let id = RequestId::of(request.headers());
    let span = tracing::info_span!("request", request_id = %id.0, %method, %route);
    let header = HeaderValue::from_str(&id.0).ok();
    let mut request = request;
    request.extensions_mut().insert(id);
    let arrived = std::time::Instant::now();
    let mut response = tracing::Instrument::instrument(next.run(request), span).await;
    if let Some(header) = header {
        response.headers_mut().insert("x-request-id", header);
    }
    let elapsed = arrived.elapsed();
    let metrics = state.jobs.metrics();
    metrics
        .requests
        .with_label_values(&[&route, &method, response.status().as_str()])
        .inc();
    metrics
        .request_duration
        .with_label_values(&[&route])
        .observe(elapsed.as_secs_f64());
    state.traffic.record(
        std::time::SystemTime::now(),
        response.status().as_u16(),
        elapsed,
    );
    response
}

/// A request's id: the client's `X-Request-Id` when it is a plain token (1-128
/// letters, digits, `-`, `_`, `.`, `:`), else a new UUID. Answered in the
/// reply's `X-Request-Id`, carried in the request's log lines and into the job
/// it submits.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    fn of(headers: &HeaderMap) -> Self {
        let given = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                (1..=128).contains(&v.len())
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            });
        Self(given.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string))
    }
}

/// The server's own URL as the client reached it.
pub(super) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// True when the client asked for HTML (`f=html`, or an Accept preferring it).
pub(super) fn wants_html(headers: &HeaderMap, f: Option<&str>) -> bool {
    match f {
        Some("html") => return true,
        Some(_) => return false,
        None => {}
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    // The first of the two named wins (browsers send text/html first).
    match (accept.find("text/html"), accept.find("json")) {
        (Some(_), None) => true,
        (Some(h), Some(j)) => h < j,
        _ => false,
    }
}

/// `Content-Disposition: attachment` with a file name as plain ASCII without
/// quotes (it is a header's value).
pub(super) fn attachment(name: &str) -> HeaderValue {
    let shown: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename=\"{shown}\""))
        .unwrap_or(HeaderValue::from_static("attachment"))
}

/// A conformance page (`conformsTo`), as JSON or HTML.
pub(super) fn conformance_page(headers: &HeaderMap, f: Option<&str>, classes: &[&str]) -> Response {
    negotiate(headers, f, "Conformance", json!({ "conformsTo": classes }))
}

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// JSON, or its HTML page when asked for.
pub(super) fn negotiate(
    headers: &HeaderMap,
    f: Option<&str>,
    title: &str,
    body: Value,
) -> Response {
    if wants_html(headers, f) {
        super::html::page(title, &body).into_response()
    } else {
        json_response(StatusCode::OK, &body)
    }
}

pub(super) use hysope_jobs::documents::link;

async fn landing(headers: HeaderMap, Params(q): Params<Format>) -> Response {
    // A browser opening the server's address gets the portal; the landing page
    // as HTML stays at `/?f=html`.
    if q.f.is_none() && wants_html(&headers, None) {
        return axum::response::Redirect::to("/portal/").into_response();
    }
    let base = base_url(&headers);
    let body = json!({
        "title": "Hysope",
        "description": "Hydrology processing in the SWOT era: OGC API - Processes over CWL workflows of sandboxed WebAssembly plugins",
        "links": [
            link(format!("{base}/"), "self", "application/json", "this document"),
            link(format!("{base}/?f=html"), "alternate", "text/html", "this document as HTML"),
            link(format!("{base}/api"), "service-desc", "application/vnd.oai.openapi+json;version=3.0", "the API definition"),
            link(format!("{base}/api?f=html"), "service-doc", "text/html", "the API documentation"),
            link(format!("{base}/conformance"), "http://www.opengis.net/def/rel/ogc/1.0/conformance", "application/json", "conformance classes"),
            link(format!("{base}/processes"), "http://www.opengis.net/def/rel/ogc/1.0/processes", "application/json", "processes"),
            link(format!("{base}/jobs"), "http://www.opengis.net/def/rel/ogc/1.0/job-list", "application/json", "jobs"),
            link(format!("{base}/stac"), "data", "application/json", "the STAC catalogue of SWOT products, gauges and results"),
            link(format!("{base}/portal/"), "related", "text/html", "the web portal: a map of the rivers and lakes, their time series"),
        ],
    });
    negotiate(&headers, q.f.as_deref(), "Hysope", body)
}

async fn conformance(headers: HeaderMap, Params(q): Params<Format>) -> Response {
    conformance_page(&headers, q.f.as_deref(), CONFORMANCE)
}

async fn api_definition(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Params(q): Params<Format>,
) -> Response {
    let doc = super::openapi::document(&base_url(&headers), &state.access());
    if wants_html(&headers, q.f.as_deref()) {
        return super::html::page("API definition", &doc).into_response();
    }
    let mut r = json_response(StatusCode::OK, &doc);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.oai.openapi+json;version=3.0"),
    );
    r
}

async fn process_list(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    headers: HeaderMap,
    Params(q): Params<Paging>,
) -> ApiResult<Response> {
    let base = base_url(&headers);
    let limit = q.limit(100, 10_000)?;
    let offset = q.offset();
    let registry = state.jobs.processes();
    // Processes that pin a plugin version not yet approved are their owner's.
    let hidden: Vec<String> = registry
        .all()
        .filter(|p| super::curation::private_to_owner(&state, p) && !may_see_private(&caller, p))
        .map(|p| p.id.clone())
        .collect();
    if wants_html(&headers, q.f.as_deref()) || !hidden.is_empty() {
        let body = process_list_body(&registry, &base, limit, offset, &hidden);
        if wants_html(&headers, q.f.as_deref()) {
            return Ok(negotiate(&headers, q.f.as_deref(), "Processes", body));
        }
        return Ok(json_response(StatusCode::OK, &body));
    }
    let text = registry.listing((base.clone(), limit, offset), || {
        process_list_body(&registry, &base, limit, offset, &[]).to_string()
    });
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// The `/processes` document: a page of summaries and its links.
fn process_list_body(
    registry: &hysope_jobs::processes::Registry,
    base: &str,
    limit: usize,
    offset: usize,
    hidden: &[String],
) -> Value {
    let total = registry.all().filter(|p| !hidden.contains(&p.id)).count();
    let page: Vec<Value> = registry
        .all()
        .filter(|p| !hidden.contains(&p.id))
        .skip(offset)
        .take(limit)
        .map(|p| p.summary(base))
        .collect();
    let mut links = vec![
        link(
            format!("{base}/processes"),
            "self",
            "application/json",
            "this document",
        ),
        link(
            format!("{base}/processes?f=html"),
            "alternate",
            "text/html",
            "this document as HTML",
        ),
    ];
    if offset + page.len() < total {
        links.push(link(
            format!("{base}/processes?offset={}&limit={limit}", offset + limit),
            "next",
            "application/json",
            "next page",
        ));
    }
    json!({"processes": page, "links": links})
}

/// True when `caller` may see `process` while it is private: its owner, or an
/// operator.
fn may_see_private(caller: &Identity, process: &hysope_jobs::processes::Process) -> bool {
    caller.role >= hysope_identity::Role::Operator
        || process.owner.as_deref() == Some(caller.subject.as_str())
}

/// The process `id` as `caller` may see it: one that pins a plugin version not yet
/// approved is its owner's (404 to others).
fn find_process(
    state: &State,
    id: &str,
    caller: &Identity,
) -> ApiResult<Arc<hysope_jobs::processes::Process>> {
    let process = state.jobs.process(id)?;
    if super::curation::private_to_owner(state, &process) && !may_see_private(caller, &process) {
        return Err(hysope_jobs::Error::NoSuchProcess(id.to_string()).into());
    }
    Ok(process)
}

async fn process_description(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Params(q): Params<Format>,
) -> ApiResult<Response> {
    let process = find_process(&state, &id, &caller)?;
    let body = process.description(&base_url(&headers));
    Ok(negotiate(
        &headers,
        q.f.as_deref(),
        &format!("Process {id}"),
        body,
    ))
}

async fn process_package(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let process = find_process(&state, &id, &caller)?;
    let json = process.source.trim_start().starts_with('{');
    let ty = if json {
        "application/cwl+json"
    } else {
        "application/cwl+yaml"
    };
    let mut r = process.source.clone().into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
    Ok(r)
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Whether this server can run a deployed tool's container image.
fn check_image(state: &State, image: &str) -> Result<(), String> {
    match state.jobs().backends() {
        Some(backends) => backends.check_image(image),
        None => Err(format!(
            "image {image}: this server runs no container (start it with --container-runtime and --image-cache)"
        )),
    }
}

/// A deploy or replace request checked into a process of `owner` (`id`: the
/// one replaced), its registry references pinned by what `caller` may see and
/// the components they name put where the sandbox finds them.
async fn parse_deploy(
    state: &State,
    caller: &Identity,
    headers: &HeaderMap,
    body: &[u8],
    w: Option<&str>,
    id: Option<&str>,
    owner: &str,
) -> ApiResult<(
    hysope_jobs::processes::Process,
    hysope_jobs::deployments::Deployment,
)> {
    let mut pinned = Vec::new();
    let parsed = super::deploy::parse(
        &content_type(headers),
        body,
        w,
        id,
        state.data_dir(),
        owner,
        super::deploy::Checks {
            pin: &mut |name| {
                let hex = super::curation::pin(state, caller, name)?;
                pinned.extend(hex.clone());
                Ok(hex)
            },
            images: &|image| check_image(state, image),
        },
    )?;
    super::curation::materialise(state, &pinned).await?;
    Ok(parsed)
}

async fn deploy(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    headers: HeaderMap,
    Params(q): Params<DeployQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    let (process, deployment) = parse_deploy(
        &state,
        &caller,
        &headers,
        &body,
        q.w.as_deref(),
        None,
        &caller.subject,
    )
    .await?;
    let base = base_url(&headers);
    let location = format!("{base}/processes/{}", process.id);
    let _guard = state.deploy_lock.lock().await;
    if let Ok(existing) = state.jobs.process(&process.id) {
        let kind = if existing.builtin {
            Kind::ImmutableProcess
        } else {
            Kind::DuplicatedProcess
        };
        let mut r =
            ApiError::new(kind, format!("process {:?} exists already", process.id)).into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return Ok(r);
    }
    // Another gateway sharing the deployments may have taken the id meanwhile.
    let stored = worker::blocking(|| {
        state.jobs.deployments().put(
            &deployment,
            &process.pins,
            &state.jobs.deployed_dir(),
            false,
        )
    })?;
    if !stored {
        let mut r = ApiError::new(
            Kind::DuplicatedProcess,
            format!("process {:?} exists already", process.id),
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return Ok(r);
    }
    let summary = process.summary(&base);
    state.jobs.install(process);
    let mut r = json_response(StatusCode::CREATED, &summary);
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// The deployed process `id` if `caller` may replace or undeploy it: its owner,
/// or an operator.
fn mutable(
    state: &State,
    id: &str,
    caller: &Identity,
) -> ApiResult<Arc<hysope_jobs::processes::Process>> {
    let process = find_process(state, id, caller)?;
    if process.builtin {
        return Err(ApiError::new(
            Kind::ImmutableProcess,
            format!("process {id:?} is built in; it cannot be replaced or undeployed"),
        ));
    }
    if !caller.owns(process.owner.as_deref()) {
        return Err(ApiError::new(
            Kind::Forbidden,
            format!(
                "process {id:?} was deployed by another user; only they or an operator may replace or undeploy it"
            ),
        ));
    }
    Ok(process)
}

async fn replace(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Params(q): Params<DeployQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    let _guard = state.deploy_lock.lock().await;
    let existing = mutable(&state, &id, &caller)?;
    // A process replaced by an operator stays its owner's.
    let owner = existing.owner.as_deref().unwrap_or(&caller.subject);
    let (process, deployment) = parse_deploy(
        &state,
        &caller,
        &headers,
        &body,
        q.w.as_deref(),
        Some(&id),
        owner,
    )
    .await?;
    worker::blocking(|| {
        state
            .jobs
            .deployments()
            .put(&deployment, &process.pins, &state.jobs.deployed_dir(), true)
    })?;
    state.jobs.install(process);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn undeploy(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let _guard = state.deploy_lock.lock().await;
    mutable(&state, &id, &caller)?;
    worker::blocking(|| state.jobs.deployments().remove(&id))?;
    state.jobs.uninstall(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn execute(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    request_id: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    // An unknown process is a 404 whatever the body holds.
    let process = find_process(&state, &id, &caller)?;
    if let Some(why) = super::curation::disabled_by_quarantine(&state, &process) {
        return Err(ApiError::new(Kind::Forbidden, why));
    }
    let request = ExecuteRequest::from_json(&body)?;
    let prefer_async = headers
        .get_all("prefer")
        .iter()
        .filter_map(|h| h.to_str().ok())
        .any(|h| {
            h.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
        });
    let base = base_url(&headers);
    let mut files = state.jobs.catalog_files(&request, &base).await?;
    // The caller's uploads the request names (`/uploads/ID`): where they lie.
    for (input, href) in hysope_jobs::processes::named_places(request.inputs.as_ref()) {
        if let Some(upload) = super::uploads::upload_id(&href, &base) {
            let path = super::uploads::path_for(&state, &caller, upload).map_err(|e| {
                ApiError::new(
                    Kind::InvalidParameterValue,
                    format!("input {input:?}: {}", e.detail),
                )
            })?;
            files
                .0
                .insert(href.clone(), hysope_engine::cwl::values::file_uri(&path));
        }
    }
    let (mut job, asynchronous) =
        state
            .jobs
            .prepare(&id, request, prefer_async, &base, &caller.subject, &files)?;
    job.request_id = request_id.map(|Extension(RequestId(id))| id);
    if asynchronous {
        // Durable before its 201.
        state.jobs.accept(&job).await?;
        let mut r = json_response(StatusCode::CREATED, &status_info(&job, &base));
        if let Ok(v) = HeaderValue::from_str(&format!("{base}/jobs/{}", job.id)) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        r.headers_mut().insert(
            "preference-applied",
            HeaderValue::from_static("respond-async"),
        );
        return Ok(r);
    }
    // Stored when it starts; durable when it ends, before the reply.
    let job = state.jobs.run_sync(job).await?;
    let mut r = if job.response == "raw" {
        raw_result(&state, &job, &base).await?
    } else {
        results_response(&state, &job, &base).await?
    };
    let monitor = format!("{base}/jobs/{}", job.id);
    if let Ok(v) = HeaderValue::from_str(&monitor) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    // /req/core/job-results-success-sync: the job created for the execution.
    if let Ok(v) = HeaderValue::from_str(&format!(
        "<{monitor}>; rel=\"monitor\"; type=\"application/json\""
    )) {
        r.headers_mut().append(header::LINK, v);
    }
    Ok(r)
}

/// A job's results document, or the exception saying why there is none.
async fn results_response(state: &State, job: &Job, base: &str) -> ApiResult<Response> {
    match job.status {
        Status::Successful => {}
        Status::Failed => {
            let kind = match job.failure {
                Some(FailureKind::InvalidParameterValue) => Kind::InvalidParameterValue,
                _ => Kind::ProcessFailed,
            };
            return Err(ApiError::new(
                kind,
                format!("job {} failed: {}", job.id, job.message),
            ));
        }
        Status::Dismissed => {
            return Err(ApiError::new(
                Kind::NoSuchJob,
                format!("job {} was dismissed", job.id),
            ));
        }
        _ => {
            return Err(ApiError::new(
                Kind::ResultNotReady,
                format!("job {} is {}", job.id, job.status.as_str()),
            ));
        }
    }
    let mut doc = results_document(job, base);
    inline_values(state, job, &mut doc).await?;
    Ok(json_response(StatusCode::OK, &doc))
}

/// Outputs requested with `transmissionMode: value`: files inline, as JSON when they
/// are JSON, as text when they are text, else base64.
async fn inline_values(state: &State, job: &Job, doc: &mut Value) -> ApiResult<()> {
    let Some(requested) = job.outputs.as_ref().and_then(Value::as_object) else {
        return Ok(());
    };
    for (name, options) in requested {
        if options.get("transmissionMode").and_then(Value::as_str) != Some("value") {
            continue;
        }
        let Some(value) = job.results.as_ref().and_then(|r| r.get(name)) else {
            continue;
        };
        let files: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        let mut inlined = Vec::new();
        for file in &files {
            if !is_file(file) {
                inlined.push((*file).clone());
                continue;
            }
            let location = location(file);
            let bytes = result_bytes(state, job, name, location).await?;
            let media = media_type(location);
            let inline = if media.ends_with("json") {
                serde_json::from_slice::<Value>(&bytes)
                    .map(|v| json!({"value": v, "mediaType": media}))
                    .ok()
            } else if media.starts_with("text/") {
                String::from_utf8(bytes.clone())
                    .map(|t| json!({"value": t, "mediaType": media}))
                    .ok()
            } else {
                None
            };
            inlined.push(inline.unwrap_or_else(|| {
                use base64::Engine;
                json!({
                    "value": base64::engine::general_purpose::STANDARD.encode(&bytes),
                    "encoding": "base64",
                    "mediaType": media,
                })
            }));
        }
        doc[name] = match value {
            Value::Array(_) => Value::Array(inlined),
            _ => inlined.into_iter().next().unwrap_or(Value::Null),
        };
    }
    Ok(())
}

/// The bytes of a file among a successful job's results; a file the results name
/// but the store lacks is a server fault.
async fn result_bytes(state: &State, job: &Job, name: &str, location: &str) -> ApiResult<Vec<u8>> {
    state
        .jobs
        .result_file(job, location)
        .await
        .map_err(|e| match e {
            hysope_jobs::Error::NoSuchResult { .. } => {
                ApiError::new(Kind::Internal, format!("result {name} is missing"))
            }
            e => e.into(),
        })
}

/// Job `id` if `caller` may see it: its owner's or an operator's; anyone else is
/// told there is no such job (a 404, so that job ids cannot be probed).
fn find_job(state: &State, id: &str, caller: &Identity) -> ApiResult<Job> {
    let job = state.jobs.status(id)?;
    if !caller.owns(job.owner.as_deref()) {
        return Err(hysope_jobs::Error::NoSuchJob(id.to_string()).into());
    }
    Ok(job)
}

async fn job_status(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Params(q): Params<Format>,
) -> ApiResult<Response> {
    let job = find_job(&state, &id, &caller)?;
    let mut status = status_info(&job, &base_url(&headers));
    // The job's own page shows what its plugins logged (lists do not carry it).
    if !job.log.is_empty() {
        status["hysope:log"] = json!(job.log);
    }
    Ok(negotiate(
        &headers,
        q.f.as_deref(),
        &format!("Job {id}"),
        status,
    ))
}

async fn job_results(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let job = find_job(&state, &id, &caller)?;
    // A job executed with `response: raw` keeps that form for its results.
    if job.response == "raw" {
        return raw_result(&state, &job, &base_url(&headers)).await;
    }
    results_response(&state, &job, &base_url(&headers)).await
}

/// `response: raw`: the requested outputs themselves. One output by value: its
/// value (a file's bytes with its media type, a literal as JSON). Several, or any by
/// reference among others: `multipart/related`, one part per output (an array of
/// files, one part per file: `id.0`, `id.1`, ...) named by `Content-ID`; a part by
/// reference has no body and a `Content-Location`. Every output by reference: 204
/// with a `Link` header per output (`rel` the OGC results relation, `title` the
/// output id).
async fn raw_result(state: &State, job: &Job, base: &str) -> ApiResult<Response> {
    if job.status != Status::Successful {
        return results_response(state, job, base).await;
    }
    // (part id, value, by reference); optional outputs without a value are left out.
    let mut parts: Vec<(String, &Value, bool)> = Vec::new();
    for (name, value, options) in requested_results(job) {
        let by_reference = options
            .and_then(|o| o.get("transmissionMode"))
            .and_then(Value::as_str)
            == Some("reference");
        match value {
            Value::Null => {}
            Value::Array(items) if items.iter().all(is_file) && !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    parts.push((format!("{name}.{i}"), item, by_reference));
                }
            }
            value => parts.push((name.clone(), value, by_reference)),
        }
    }
    if let [(name, value, false)] = parts.as_slice() {
        let (bytes, media) = raw_value(state, job, base, name, value).await?;
        let file_name = is_file(value).then(|| location(value).rsplit('/').next().unwrap_or(name));
        return Ok(file_response(bytes, file_name.unwrap_or(name), media));
    }
    if !parts.is_empty()
        && parts
            .iter()
            .all(|(_, v, by_reference)| *by_reference && is_file(v))
    {
        let mut r = StatusCode::NO_CONTENT.into_response();
        for (name, value, _) in &parts {
            let location = location(value);
            let link = format!(
                "<{}>; rel=\"{RESULTS_REL}\"; title=\"{name}\"; type=\"{}\"",
                file_href(job, base, location),
                media_type(location)
            );
            if let Ok(v) = HeaderValue::from_str(&link) {
                r.headers_mut().append(header::LINK, v);
            }
        }
        return Ok(r);
    }
    let boundary = format!("hysope-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    let mut root_type = "application/json";
    for (i, (name, value, by_reference)) in parts.iter().enumerate() {
        // A part by reference: no body, where the value is instead.
        let (bytes, media, extra) = if *by_reference && is_file(value) {
            let location = location(value);
            let href = file_href(job, base, location);
            (
                Vec::new(),
                media_type(location),
                format!("Content-Location: {href}\r\n"),
            )
        } else {
            let (bytes, media) = raw_value(state, job, base, name, value).await?;
            (bytes, media, String::new())
        };
        if i == 0 {
            root_type = media;
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-ID: <{name}>\r\nContent-Type: {media}\r\n{extra}\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(&bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut r = body.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "multipart/related; boundary={boundary}; type=\"{root_type}\""
    )) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(r)
}

/// The relation of a link to a job's result.
const RESULTS_REL: &str = "http://www.opengis.net/def/rel/ogc/1.0/results";

fn is_file(value: &Value) -> bool {
    hysope_engine::cwl::values::class_of(value) == Some("File")
}

/// Where a File value of a job's results lies in its result store.
fn location(file: &Value) -> &str {
    file.get("location").and_then(Value::as_str).unwrap_or("")
}

/// An output's bytes and media type in a raw response: a file's content, or any
/// other value as JSON (a Directory as its link document).
async fn raw_value(
    state: &State,
    job: &Job,
    base: &str,
    name: &str,
    value: &Value,
) -> ApiResult<(Vec<u8>, &'static str)> {
    if is_file(value) {
        let location = location(value);
        let bytes = result_bytes(state, job, name, location).await?;
        return Ok((bytes, media_type(location)));
    }
    let shown = result_value(value.clone(), job, base);
    Ok((
        serde_json::to_vec(&shown).unwrap_or_default(),
        "application/json",
    ))
}

async fn job_file(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    Path((id, path)): Path<(String, String)>,
) -> ApiResult<Response> {
    let job = find_job(&state, &id, &caller)?;
    // Streamed as it is read: a file of any size costs a chunk of memory.
    let file = state.jobs.open_result(&job, &path).await?;
    let name = path.rsplit('/').next().unwrap_or(&path);
    let mut r = file_response(
        axum::body::Body::from_stream(file.chunks),
        name,
        media_type(&path),
    );
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    Ok(r)
}

/// A file a job produced: its media type, sandboxed by its content security
/// policy, and downloaded rather than shown unless the type is safe inline (a
/// plugin's `.html` or `.svg` never runs on the server's origin).
fn file_response(body: impl IntoResponse, name: &str, media: &'static str) -> Response {
    let mut r = body.into_response();
    let headers = r.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(super::guard::FILE_CSP),
    );
    if !super::guard::safe_inline(media) {
        headers.insert(header::CONTENT_DISPOSITION, attachment(name));
    }
    r
}

async fn dismiss(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    find_job(&state, &id, &caller)?;
    let job = state.jobs.dismiss(&id).await?;
    Ok(json_response(
        StatusCode::OK,
        &status_info(&job, &base_url(&headers)),
    ))
}

/// `datetime` of `/jobs`: an instant or an interval `a/b` with `..` for open ends.
fn parse_datetime(text: &str) -> ApiResult<(Option<u64>, Option<u64>)> {
    let instant = |t: &str| -> ApiResult<Option<u64>> {
        if t == ".." || t.is_empty() {
            return Ok(None);
        }
        humantime::parse_rfc3339_weak(t)
            .map(|time| {
                time.duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .ok()
            })
            .map_err(|e| {
                ApiError::new(
                    Kind::InvalidParameterValue,
                    format!("datetime {t:?} is not RFC 3339: {e}"),
                )
            })
    };
    match text.split_once('/') {
        Some((a, b)) => Ok((instant(a)?, instant(b)?)),
        None => {
            let t = instant(text)?;
            Ok((t, t))
        }
    }
}

async fn job_list(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    headers: HeaderMap,
    Params(q): Params<JobsQuery>,
) -> ApiResult<Response> {
    let base = base_url(&headers);
    let paging = q.paging();
    let limit = paging.limit(10, 10_000)?;
    let offset = paging.offset();
    let mut filter = JobFilter::default();
    if let Some(p) = &q.process_id {
        filter.process_ids = p.split(',').map(str::to_string).collect();
    }
    if let Some(s) = &q.status {
        for name in s.split(',') {
            filter.statuses.push(Status::parse(name).ok_or_else(|| {
                ApiError::new(
                    Kind::InvalidParameterValue,
                    format!("status {name:?} is not one of accepted, running, successful, failed, dismissed"),
                )
            })?);
        }
    }
    if let Some(d) = &q.datetime {
        filter.created = Some(parse_datetime(d)?);
    }
    if let Some(rule) = &q.rule {
        hysope_jobs::rules::check_id(rule).map_err(|why| {
            ApiError::new(
                Kind::InvalidParameterValue,
                format!("query parameter rule: {why}"),
            )
        })?;
        filter.rule = Some(rule.clone());
    }
    // Everyone sees their own jobs, an operator all of them. Anonymous callers (a
    // public demo) share one subject: they follow their jobs by the links they got,
    // and list none.
    if !caller.is_operator() {
        filter.owner = Some(caller.subject.clone());
    }
    let page = if caller.role == hysope_identity::Role::Anonymous {
        hysope_jobs::JobPage {
            jobs: Vec::new(),
            more: false,
        }
    } else {
        state.jobs.list(&filter, offset, limit)?
    };
    let jobs: Vec<Value> = page.jobs.iter().map(|j| status_info(j, &base)).collect();
    let mut links = vec![link(
        format!("{base}/jobs"),
        "self",
        "application/json",
        "this document",
    )];
    if page.more {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        pairs.append_pair("offset", &(offset + limit).to_string());
        pairs.append_pair("limit", &limit.to_string());
        for (key, value) in [
            ("processID", &q.process_id),
            ("status", &q.status),
            ("datetime", &q.datetime),
            ("rule", &q.rule),
        ] {
            if let Some(v) = value {
                pairs.append_pair(key, v);
            }
        }
        let next = format!("{base}/jobs?{}", pairs.finish());
        links.push(link(next, "next", "application/json", "next page"));
    }
    Ok(negotiate(
        &headers,
        q.f.as_deref(),
        "Jobs",
        json!({"jobs": jobs, "links": links}),
    ))
}

async fn metrics(AxState(state): AxState<Shared>) -> Response {
    let mut r = state.jobs.metrics_text().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(Kind::NotFound, format!("no resource at {method} {uri}"))
}
