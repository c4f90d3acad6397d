//! The registry's curation over REST (`/registry/...`, JSON or HTML): packages and
//! their versions with state, digest, signer, check report and review log; the
//! review actions; the queue of submissions and the audit log (operators); a
//! developer's signing keys and quota; shared namespaces (operators).

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use hysope_identity::{Action, Identity, Role};
use hysope_registry::curation::{Actor, Refusal, Review, VersionRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::State;
use crate::api::{json_response, negotiate};
use crate::auth::Routes;
use crate::errors::{ApiError, ApiResult, Kind};
use crate::query::{Format, Params};

type Shared = Arc<State>;

/// The `/registry` routes.
pub fn routes() -> Routes {
    use Action::*;
    Routes::new()
        .route("/registry", &[(Method::GET, Read)], get(landing))
        .route("/registry/packages", &[(Method::GET, Read)], get(packages))
        .route(
            "/registry/packages/{ns}/{name}",
            &[(Method::GET, Read)],
            get(package),
        )
        .route(
            "/registry/packages/{ns}/{name}/versions/{version}",
            &[(Method::GET, Read)],
            get(version),
        )
        .route(
            "/registry/packages/{ns}/{name}/versions/{version}/review",
            &[(Method::POST, Publish)],
            post(review),
        )
        .route("/registry/queue", &[(Method::GET, Review)], get(queue))
        .route("/registry/audit", &[(Method::GET, Review)], get(audit))
        .route(
            "/registry/keys",
            &[(Method::GET, Publish), (Method::POST, Publish)],
            get(keys).post(add_key),
        )
        .route(
            "/registry/keys/{id}",
            &[(Method::DELETE, Publish)],
            delete(remove_key),
        )
        .route("/registry/quota", &[(Method::GET, Publish)], get(quota))
        .route(
            "/registry/namespaces",
            &[(Method::GET, Review)],
            get(namespaces),
        )
        .route(
            "/registry/namespaces/{ns}",
            &[(Method::PUT, Review)],
            put(set_namespace),
        )
}

impl From<Refusal> for ApiError {
    fn from(e: Refusal) -> Self {
        match e {
            Refusal::NotFound(m) => ApiError::new(Kind::NotFound, m),
            Refusal::Forbidden(m) => ApiError::new(Kind::Forbidden, m),
            Refusal::Conflict(m) => ApiError::new(Kind::Conflict, m),
            Refusal::Invalid(m) => ApiError::new(Kind::InvalidParameterValue, m),
            e @ Refusal::Store(_) => ApiError::new(Kind::Internal, e.to_string()),
            Refusal::Unavailable(m) => ApiError::new(Kind::Unavailable, m),
        }
    }
}

/// The registry's view of a caller: none when anonymous.
pub(crate) fn actor(identity: &Identity) -> Option<Actor<'_>> {
    (identity.role != Role::Anonymous).then_some(Actor {
        user: &identity.subject,
        operator: identity.role >= Role::Operator,
    })
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> ApiResult<T> {
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes))
        .map_err(|e| ApiError::new(Kind::InvalidBody, format!("{what}: {e}")))
}

/// The processes whose documents pin the component `hex` (sha256) from the
/// registry.
fn processes_pinning(state: &State, hex: &str) -> Vec<String> {
    state
        .jobs
        .processes()
        .all()
        .filter(|p| p.pins.iter().any(|h| h == hex))
        .map(|p| p.id.clone())
        .collect()
}

/// Why `process` may not run now: it pins a quarantined component.
pub fn disabled_by_quarantine(
    state: &State,
    process: &hysope_jobs::processes::Process,
) -> Option<String> {
    for hex in &process.pins {
        if let Ok(Some(v)) = state
            .registry
            .curation
            .by_component(&format!("sha256:{hex}"))
        {
            if v.state == hysope_registry::State::Quarantined {
                return Some(format!(
                    "this process runs the plugin {}, which is quarantined: it is disabled",
                    v.reference()
                ));
            }
        }
    }
    None
}

/// What a deploy by `caller` pins `name` (a `hysope:WasmRequirement` component)
/// to: the component's sha256 hex when it names a registry version
/// (`namespace/name@version`) or a component the registry holds (`sha256:HEX`);
/// `None` for a file name the plugin search path resolves. A version that is
/// yanked, rejected or quarantined takes no new deploys; a submitted one only
/// its namespace's (the process is then theirs until it is approved).
pub fn pin(state: &State, caller: &Identity, name: &str) -> ApiResult<Option<String>> {
    let curation = &state.registry.curation;
    let record =
        if let Some((repo, version)) = name.split_once('@').filter(|(r, _)| r.contains('/')) {
            let found = curation.version(repo, version)?;
            match found {
                Some(v) if curation.may_see(actor(caller), repo, v.state)? => v,
                _ => {
                    return Err(ApiError::new(
                        Kind::InvalidParameterValue,
                        format!("no plugin {name} in the registry visible to you"),
                    ));
                }
            }
        } else if name.starts_with("sha256:") {
            match curation.by_component(name)? {
                Some(v) if curation.may_see(actor(caller), &v.repository, v.state)? => v,
                _ => return Ok(None),
            }
        } else {
            return Ok(None);
        };
    let member = match actor(caller) {
        Some(me) => curation.may_publish(me, record.repository.split('/').next().unwrap_or(""))?,
        None => false,
    };
    let fine =
        record.state.deployable() || (record.state == hysope_registry::State::Submitted && member);
    if !fine {
        let why = match record.state {
            hysope_registry::State::Submitted => {
                "waits for review (only its namespace may deploy it until it is approved)"
                    .to_string()
            }
            hysope_registry::State::Yanked => {
                "is yanked: no new deploys (processes that pinned it keep running)".to_string()
            }
            other => format!("is {other}"),
        };
        return Err(ApiError::new(
            Kind::InvalidParameterValue,
            format!("{} {why}", record.reference()),
        ));
    }
    Ok(Some(
        record.component.trim_start_matches("sha256:").to_string(),
    ))
}

/// Writes the components `hexes` (pinned by a deploy) beside the deployed
/// documents, where the sandbox finds them by digest (`DATA/processes/HEX.wasm`),
/// checked against their digest, durably.
pub async fn materialise(state: &State, hexes: &[String]) -> ApiResult<()> {
    let dir = state.jobs.deployed_dir();
    for hex in hexes {
        let path = dir.join(format!("{hex}.wasm"));
        if path.is_file() {
            continue;
        }
        let digest = hysope_registry::Digest::parse(&format!("sha256:{hex}"))
            .map_err(|e| ApiError::new(Kind::Internal, e.message))?;
        let bytes = state
            .registry
            .blobs
            .read(&digest)
            .await
            .map_err(|e| ApiError::new(Kind::Internal, e.message))?
            .ok_or_else(|| {
                ApiError::new(
                    Kind::Internal,
                    format!(
                        "the registry has a version whose blob {digest} is not in this gateway's blob store (gateways that share the registry's records need shared blobs: --registry-blobs s3://...)"
                    ),
                )
            })?;
        hysope_jobs::worker::blocking(|| -> anyhow::Result<()> {
            std::fs::create_dir_all(&dir)?;
            hysope_jobs::deployments::write_durably(&path, &bytes)
        })
        .map_err(|e| ApiError::new(Kind::Internal, format!("cannot keep the component: {e:#}")))?;
    }
    Ok(())
}

/// True when `process` pins a plugin version waiting for review (or rejected):
/// the process is its owner's until the version is approved. (One that pins a
/// quarantined version is seen by all, and disabled.)
pub fn private_to_owner(state: &State, process: &hysope_jobs::processes::Process) -> bool {
    process.pins.iter().any(|hex| {
        matches!(
            state.registry.curation.by_component(&format!("sha256:{hex}")),
            Ok(Some(v)) if matches!(v.state, hysope_registry::State::Submitted | hysope_registry::State::Rejected)
        )
    })
}

/// A version as the API shows it: its record with the processes that pin it.
fn shown(state: &State, v: &VersionRecord) -> Value {
    let mut out = serde_json::to_value(v).unwrap_or(Value::Null);
    let processes = processes_pinning(state, v.component.trim_start_matches("sha256:"));
    if let Some(map) = out.as_object_mut() {
        map.insert("reference".into(), json!(v.reference()));
        map.insert("processes".into(), json!(processes));
    }
    out
}

/// The versions the caller may see (of `repository`, or all).
fn visible(
    state: &State,
    identity: &Identity,
    repository: Option<&str>,
) -> ApiResult<Vec<VersionRecord>> {
    let me = actor(identity);
    let curation = &state.registry.curation;
    let all = curation.versions(repository, |_| true)?;
    let mut out = Vec::new();
    for v in all {
        if curation.may_see(me, &v.repository, v.state)? {
            out.push(v);
        }
    }
    Ok(out)
}

async fn landing(headers: HeaderMap, Params(q): Params<Format>) -> Response {
    let base = crate::api::base_url(&headers);
    let body = json!({
        "title": "Hysope plugin registry",
        "description": "Signed WebAssembly components (OCI artifacts under /v2/) and their curation",
        "links": [
            crate::api::link(format!("{base}/registry/packages"), "items", "application/json", "packages"),
            crate::api::link(format!("{base}/registry/queue"), "queue", "application/json", "submissions waiting for review (operators)"),
            crate::api::link(format!("{base}/registry/audit"), "audit", "application/json", "the audit log (operators)"),
            crate::api::link(format!("{base}/registry/keys"), "keys", "application/json", "your signing keys"),
            crate::api::link(format!("{base}/registry/quota"), "quota", "application/json", "your quota"),
            crate::api::link(format!("{base}/v2/"), "service", "application/json", "the OCI distribution API"),
        ],
    });
    negotiate(&headers, q.f.as_deref(), "Plugin registry", body)
}

async fn packages(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    headers: HeaderMap,
    Params(q): Params<Format>,
) -> ApiResult<Response> {
    let versions = visible(&state, &identity, None)?;
    let mut packages: std::collections::BTreeMap<String, Vec<&VersionRecord>> = Default::default();
    for v in &versions {
        packages.entry(v.repository.clone()).or_default().push(v);
    }
    let list: Vec<Value> = packages
        .iter()
        .map(|(repo, vs)| {
            json!({
                "repository": repo,
                "versions": vs.iter().map(|v| json!({"version": v.version, "state": v.state, "component": v.component})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(negotiate(
        &headers,
        q.f.as_deref(),
        "Packages",
        json!({"packages": list}),
    ))
}

async fn package(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
    Params(q): Params<Format>,
) -> ApiResult<Response> {
    let repo = format!("{ns}/{name}");
    let versions = visible(&state, &identity, Some(&repo))?;
    if versions.is_empty() {
        return Err(ApiError::new(
            Kind::NotFound,
            format!("no package {repo} (or none of its versions is visible to you)"),
        ));
    }
    let shown: Vec<Value> = versions.iter().map(|v| shown(&state, v)).collect();
    Ok(negotiate(
        &headers,
        q.f.as_deref(),
        &repo,
        json!({"repository": repo, "versions": shown}),
    ))
}

fn find_version(
    state: &State,
    identity: &Identity,
    repo: &str,
    version: &str,
) -> ApiResult<VersionRecord> {
    let record = state.registry.curation.version(repo, version)?;
    match record {
        Some(v)
            if state
                .registry
                .curation
                .may_see(actor(identity), repo, v.state)? =>
        {
            Ok(v)
        }
        _ => Err(ApiError::new(
            Kind::NotFound,
            format!("no version {repo}@{version} visible to you"),
        )),
    }
}

async fn version(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path((ns, name, version)): Path<(String, String, String)>,
    headers: HeaderMap,
    Params(q): Params<Format>,
) -> ApiResult<Response> {
    let repo = format!("{ns}/{name}");
    let v = find_version(&state, &identity, &repo, &version)?;
    let log = state
        .registry
        .curation
        .audit(Some(&v.reference()), 0, 1000)?;
    let mut body = shown(&state, &v);
    if let Some(map) = body.as_object_mut() {
        map.insert("review_log".into(), json!(log));
    }
    Ok(negotiate(&headers, q.f.as_deref(), &v.reference(), body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewRequest {
    action: String,
    reason: String,
    #[serde(default)]
    successor: Option<String>,
}

/// `POST .../versions/{version}/review`: `{"action", "reason", "successor"?}`.
async fn review(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path((ns, name, version)): Path<(String, String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let request: ReviewRequest = body(&bytes, "review request")?;
    let action = Review::parse(&request.action).ok_or_else(|| {
        ApiError::new(
            Kind::InvalidParameterValue,
            format!(
                "action {:?} is not one of {}",
                request.action,
                Review::ALL.map(Review::as_str).join(", ")
            ),
        )
    })?;
    let repo = format!("{ns}/{name}");
    // A version the caller may not see is not found, whatever they ask.
    find_version(&state, &identity, &repo, &version)?;
    let me = actor(&identity).ok_or_else(|| ApiError::new(Kind::Unauthorized, "sign in"))?;
    let record = state.registry.curation.review(
        me,
        &repo,
        &version,
        action,
        &request.reason,
        request.successor.as_deref(),
    )?;
    if action == Review::Quarantine {
        let reason = format!(
            "the plugin {} was quarantined by {}: {}",
            record.reference(),
            identity.subject,
            request.reason.trim()
        );
        let users = processes_pinning(&state, record.component.trim_start_matches("sha256:"));
        let cancelled = state
            .jobs
            .cancel_waiting(&users, &reason)
            .await
            .map_err(|e| ApiError::new(Kind::Internal, e.to_string()))?;
        let mut out = shown(&state, &record);
        if let Some(map) = out.as_object_mut() {
            map.insert("cancelled_jobs".into(), json!(cancelled));
        }
        return Ok(json_response(StatusCode::OK, &out));
    }
    Ok(json_response(StatusCode::OK, &shown(&state, &record)))
}

async fn queue(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Params(q): Params<Format>,
) -> ApiResult<Response> {
    let submitted = state
        .registry
        .curation
        .versions(None, |v| v.state == hysope_registry::State::Submitted)?;
    let shown: Vec<Value> = submitted.iter().map(|v| shown(&state, v)).collect();
    Ok(negotiate(
        &headers,
        q.f.as_deref(),
        "Submissions",
        json!({"submissions": shown}),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    after: Option<u64>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    f: Option<String>,
}

async fn audit(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Params(q): Params<AuditQuery>,
) -> ApiResult<Response> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let entries =
        state
            .registry
            .curation
            .audit(q.subject.as_deref(), q.after.unwrap_or(0), limit)?;
    let next = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    Ok(negotiate(
        &headers,
        q.f.as_deref(),
        "Audit log",
        json!({"entries": entries, "next_after": next}),
    ))
}

/// A fingerprint as a path segment: `SHA256:` dropped, base64 made URL-safe.
fn key_id(fingerprint: &str) -> String {
    fingerprint
        .trim_start_matches("SHA256:")
        .replace('/', "_")
        .replace('+', "-")
}

async fn keys(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
) -> ApiResult<Response> {
    let keys = state.registry.curation.keys(&identity.subject)?;
    let list: Vec<Value> = keys
        .iter()
        .map(|k| {
            let mut v = serde_json::to_value(k).unwrap_or(Value::Null);
            if let Some(map) = v.as_object_mut() {
                map.insert("id".into(), json!(key_id(&k.fingerprint)));
            }
            v
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"user": identity.subject, "keys": list}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    key: String,
    #[serde(default)]
    comment: Option<String>,
}

async fn add_key(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let new: NewKey = body(&bytes, "signing key")?;
    let record = state.registry.curation.add_key(
        &identity.subject,
        &new.key,
        new.comment.as_deref().unwrap_or(""),
    )?;
    let mut v = serde_json::to_value(&record).unwrap_or(Value::Null);
    if let Some(map) = v.as_object_mut() {
        map.insert("id".into(), json!(key_id(&record.fingerprint)));
    }
    Ok(json_response(StatusCode::CREATED, &v))
}

async fn remove_key(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let curation = &state.registry.curation;
    let key = curation
        .keys(&identity.subject)?
        .into_iter()
        .find(|k| key_id(&k.fingerprint) == id)
        .ok_or_else(|| ApiError::new(Kind::NotFound, format!("you have no key {id:?}")))?;
    curation.remove_key(&identity.subject, &key.fingerprint)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"removed": key.fingerprint}),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct QuotaQuery {
    #[serde(default)]
    namespace: Option<String>,
}

async fn quota(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Params(q): Params<QuotaQuery>,
) -> ApiResult<Response> {
    let namespace = q.namespace.unwrap_or_else(|| identity.subject.clone());
    let me = actor(&identity).ok_or_else(|| ApiError::new(Kind::Unauthorized, "sign in"))?;
    if !state.registry.curation.may_publish(me, &namespace)? {
        return Err(ApiError::new(
            Kind::Forbidden,
            format!("you are not a member of the namespace {namespace:?}"),
        ));
    }
    let usage = state
        .registry
        .usage(&namespace)
        .map_err(|e| ApiError::new(Kind::Internal, e.message))?;
    let q = state.registry.quotas;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "namespace": namespace,
            "usage": usage,
            "limits": {
                "max_component_bytes": q.max_component,
                "storage_per_namespace_bytes": q.storage_per_namespace,
                "versions_per_package_per_day": q.versions_per_day,
                "new_packages_per_hour": q.packages_per_hour,
                "pending_per_namespace": q.pending_per_namespace,
            },
        }),
    ))
}

async fn namespaces(AxState(state): AxState<Shared>) -> ApiResult<Response> {
    let list = state.registry.curation.namespaces()?;
    Ok(json_response(StatusCode::OK, &json!({"namespaces": list})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetNamespace {
    members: Vec<String>,
    #[serde(default)]
    reason: Option<String>,
}

async fn set_namespace(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path(ns): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let request: SetNamespace = body(&bytes, "namespace")?;
    if request.members.len() > 1000 {
        return Err(ApiError::new(
            Kind::InvalidParameterValue,
            "a namespace has at most 1000 members",
        ));
    }
    let namespace = state.registry.curation.set_namespace(
        &identity.subject,
        &ns,
        &request.members,
        request.reason.as_deref().unwrap_or(""),
    )?;
    Ok(json_response(StatusCode::OK, &json!(namespace)))
}
