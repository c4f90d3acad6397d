//! The registry's bytes over the OCI distribution API (`/v2/`): blobs (monolithic
//! and chunked uploads, streamed to a staging file, never held whole in memory),
//! manifests by version tag or digest, tag listing with paging, referrers (the
//! signatures of a component), and `/.well-known/wasm-pkg/registry.json` for
//! `wkg`. Errors are the OCI envelope. OCI clients sign in with HTTP basic
//! authentication whose password is a personal access token (see
//! [`crate::auth`]).
//!
//! Who sees what: an approved, deprecated or yanked version is public; a submitted
//! or rejected one only to its namespace's members and operators; a quarantined
//! one to nobody (403). An anonymous caller asking for what they may not see is
//! answered 401 (as for what does not exist), so that clients send their
//! credentials and names cannot be probed.

use std::sync::Arc;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hysope_identity::{Action, Identity, Role};
use hysope_registry::curation::Actor;
use hysope_registry::oci::{MANIFEST, check_repository};
use hysope_registry::{Code, Digest, OciError};
use serde::Deserialize;
use serde_json::json;

use crate::State;
use crate::auth::Routes;
use crate::curation::actor;
use crate::query::Params;

type Shared = Arc<State>;

/// The largest manifest taken (it carries the CWL descriptor and the signature).
pub const MAX_MANIFEST: usize = 4 << 20;

/// An OCI error as a response: the envelope, and `Retry-After` for a quota.
pub struct Oci(pub OciError);

impl From<OciError> for Oci {
    fn from(e: OciError) -> Self {
        Oci(e)
    }
}

impl IntoResponse for Oci {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut r = (status, self.0.envelope().to_string()).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"hysope\", charset=\"UTF-8\""),
            );
        }
        if let Some(s) = self.0.retry_after_s {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                h.insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

type OciResult<T> = Result<T, Oci>;

/// The `/v2/` routes, and the well-known document.
pub fn routes() -> Routes {
    use Action::*;
    let big = axum::extract::DefaultBodyLimit::disable();
    Routes::new()
        .route("/v2/", &[(Method::GET, Read)], get(base))
        .route(
            "/.well-known/wasm-pkg/registry.json",
            &[(Method::GET, Read)],
            get(well_known),
        )
        .route(
            "/v2/{ns}/{name}/blobs/{digest}",
            &[(Method::GET, Read)],
            get(blob),
        )
        .route(
            "/v2/{ns}/{name}/blobs/uploads/",
            &[(Method::POST, Publish)],
            post(start_upload).layer(big),
        )
        .route(
            "/v2/{ns}/{name}/blobs/uploads",
            &[(Method::POST, Publish)],
            post(start_upload).layer(big),
        )
        .route(
            "/v2/{ns}/{name}/blobs/uploads/{id}",
            &[
                (Method::GET, Publish),
                (Method::PATCH, Publish),
                (Method::PUT, Publish),
                (Method::DELETE, Publish),
            ],
            get(upload_status)
                .patch(upload_chunk)
                .put(finish_upload)
                .delete(cancel_upload)
                .layer(big),
        )
        .route(
            "/v2/{ns}/{name}/manifests/{reference}",
            &[(Method::GET, Read), (Method::PUT, Publish)],
            get(manifest)
                .put(put_manifest)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_MANIFEST)),
        )
        .route(
            "/v2/{ns}/{name}/tags/list",
            &[(Method::GET, Read)],
            get(tags),
        )
        .route(
            "/v2/{ns}/{name}/referrers/{digest}",
            &[(Method::GET, Read)],
            get(referrers),
        )
}

fn publisher(identity: &Identity) -> Actor<'_> {
    Actor {
        user: &identity.subject,
        operator: identity.role >= Role::Operator,
    }
}

fn repository(ns: &str, name: &str) -> OciResult<String> {
    let repo = format!("{ns}/{name}");
    check_repository(&repo)?;
    Ok(repo)
}

/// Not found, or (to an anonymous caller) sign in: the same answer for what
/// does not exist and what they may not see.
fn unknown(identity: &Identity, code: Code, what: String) -> Oci {
    if identity.role == Role::Anonymous {
        Oci(OciError::new(
            Code::Unauthorized,
            format!(
                "{what}: not found, or not public (sign in: basic authentication, a personal access token as password)"
            ),
        ))
    } else {
        Oci(OciError::new(code, format!("{what}: not found")))
    }
}

fn with_headers(mut r: Response, pairs: &[(&'static str, String)]) -> Response {
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(v) {
            r.headers_mut().insert(*k, v);
        }
    }
    r
}

/// `GET /v2/`: the API is here.
async fn base() -> Response {
    with_headers(
        (StatusCode::OK, "{}").into_response(),
        &[
            ("content-type", "application/json".into()),
            ("docker-distribution-api-version", "registry/2.0".into()),
        ],
    )
}

/// `GET /.well-known/wasm-pkg/registry.json`: where `wkg` finds the registry.
async fn well_known(headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    crate::api::json_response(
        StatusCode::OK,
        &json!({"preferredProtocol": "oci", "oci": {"registry": host, "namespacePrefix": ""}}),
    )
}

/// May `identity` read the component blob or manifest of `record`?
fn visible(
    state: &State,
    identity: &Identity,
    record: &hysope_registry::VersionRecord,
) -> OciResult<()> {
    if !record.state.downloadable() {
        return Err(Oci(OciError::new(
            Code::Denied,
            format!(
                "{} is quarantined: it cannot be downloaded",
                record.reference()
            ),
        )));
    }
    let may = state
        .registry
        .curation
        .may_see(actor(identity), &record.repository, record.state)
        .map_err(|e| Oci(OciError::new(Code::Denied, e.to_string())))?;
    if may {
        Ok(())
    } else {
        Err(unknown(identity, Code::ManifestUnknown, record.reference()))
    }
}

/// `GET|HEAD /v2/NAME/blobs/DIGEST`.
async fn blob(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path((ns, name, digest)): Path<(String, String, String)>,
    method: Method,
) -> OciResult<Response> {
    let repo = repository(&ns, &name)?;
    let digest = Digest::parse(&digest)?;
    // A component's bytes: not downloadable when any version of them is
    // quarantined, else when the caller may see one of their versions.
    let versions = state
        .registry
        .curation
        .versions_of_component(digest.as_str())
        .map_err(|e| Oci(OciError::new(Code::BlobUnknown, e.to_string())))?;
    if let Some(q) = versions.iter().find(|v| !v.state.downloadable()) {
        visible(&state, &identity, q)?;
    }
    if let Some(first) = versions.first() {
        let me = actor(&identity);
        let curation = &state.registry.curation;
        let any = versions.iter().any(|v| {
            curation
                .may_see(me, &v.repository, v.state)
                .unwrap_or(false)
        });
        if !any {
            visible(&state, &identity, first)?;
        }
    }
    let headers = |size: u64| {
        vec![
            ("content-type", "application/octet-stream".to_string()),
            ("content-length", size.to_string()),
            ("docker-content-digest", digest.to_string()),
            ("etag", format!("\"{digest}\"")),
        ]
    };
    if method == Method::HEAD {
        let size = state.registry.blobs.size(&digest).await?.ok_or_else(|| {
            unknown(
                &identity,
                Code::BlobUnknown,
                format!("blob {digest} in {repo}"),
            )
        })?;
        return Ok(with_headers(StatusCode::OK.into_response(), &headers(size)));
    }
    let (size, stream) = state.registry.blobs.stream(&digest).await?.ok_or_else(|| {
        unknown(
            &identity,
            Code::BlobUnknown,
            format!("blob {digest} in {repo}"),
        )
    })?;
    let body = Body::from_stream(stream);
    Ok(with_headers(
        (StatusCode::OK, body).into_response(),
        &headers(size),
    ))
}

#[derive(Deserialize)]
struct UploadQuery {
    digest: Option<String>,
    mount: Option<String>,
}

fn upload_location(repo: &str, id: &str) -> String {
    format!("/v2/{repo}/blobs/uploads/{id}")
}

fn stored(repo: &str, digest: &Digest) -> Response {
    with_headers(
        StatusCode::CREATED.into_response(),
        &[
            ("location", format!("/v2/{repo}/blobs/{digest}")),
            ("docker-content-digest", digest.to_string()),
            ("content-length", "0".into()),
        ],
    )
}

fn may_push(state: &State, identity: &Identity, repo: &str) -> OciResult<()> {
    let namespace = repo.split('/').next().unwrap_or("");
    let may = state
        .registry
        .curation
        .may_publish(publisher(identity), namespace)
        .map_err(|e| Oci(OciError::new(Code::Denied, e.to_string())))?;
    if may {
        Ok(())
    } else {
        Err(Oci(OciError::new(
            Code::Denied,
            format!(
                "{:?} may not push to {repo}: publish in your own namespace ({}/NAME) or one you are a member of",
                identity.subject, identity.subject
            ),
        )))
    }
}

/// `POST /v2/NAME/blobs/uploads/`: starts a session, or stores a whole blob
/// (`?digest=`), or mounts a stored one (`?mount=`).
async fn start_upload(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Params(query): Params<UploadQuery>,
    body: Body,
) -> OciResult<Response> {
    let repo = repository(&ns, &name)?;
    may_push(&state, &identity, &repo)?;
    let blobs = &state.registry.blobs;
    if let Some(mount) = &query.mount {
        // Blobs are shared by every repository: a stored one is mounted at once.
        let digest = Digest::parse(mount)?;
        if blobs.size(&digest).await?.is_some() {
            return Ok(stored(&repo, &digest));
        }
    }
    let id = blobs.start_for(&identity.subject)?;
    if let Some(digest) = &query.digest {
        let digest = Digest::parse(digest)?;
        blobs
            .append_stream(&id, Some(0), body.into_data_stream())
            .await?;
        blobs.commit(&id, &digest).await?;
        return Ok(stored(&repo, &digest));
    }
    Ok(with_headers(
        StatusCode::ACCEPTED.into_response(),
        &[
            ("location", upload_location(&repo, &id)),
            ("range", "0-0".into()),
            ("docker-upload-uuid", id.clone()),
            ("content-length", "0".into()),
        ],
    ))
}

fn progress(repo: &str, id: &str, size: u64, status: StatusCode) -> Response {
    with_headers(
        status.into_response(),
        &[
            ("location", upload_location(repo, id)),
            ("range", format!("0-{}", size.saturating_sub(1))),
            ("docker-upload-uuid", id.to_string()),
            ("content-length", "0".into()),
        ],
    )
}

/// The repository of the upload session `id` the caller started, if they may
/// still push there.
fn session(
    state: &State,
    identity: &Identity,
    ns: &str,
    name: &str,
    id: &str,
) -> OciResult<String> {
    let repo = repository(ns, name)?;
    may_push(state, identity, &repo)?;
    state.registry.blobs.check_owner(id, &identity.subject)?;
    Ok(repo)
}

/// Appends the request's body to session `id`, at the offset its
/// `Content-Range` says, if it says one.
async fn receive(state: &State, id: &str, headers: &HeaderMap, body: Body) -> OciResult<u64> {
    let start = chunk_start(headers)?;
    Ok(state
        .registry
        .blobs
        .append_stream(id, start, body.into_data_stream())
        .await?)
}

/// `GET /v2/NAME/blobs/uploads/ID`: how far the session is.
async fn upload_status(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path((ns, name, id)): Path<(String, String, String)>,
) -> OciResult<Response> {
    let repo = session(&state, &identity, &ns, &name, &id)?;
    let size = state.registry.blobs.offset(&id)?;
    Ok(progress(&repo, &id, size, StatusCode::NO_CONTENT))
}

/// The first byte a `Content-Range: START-END` chunk says it starts at.
fn chunk_start(headers: &HeaderMap) -> OciResult<Option<u64>> {
    let Some(value) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("");
    let text = text.strip_prefix("bytes ").unwrap_or(text);
    let start = text
        .split('-')
        .next()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            Oci(OciError::new(
                Code::BlobUploadInvalid,
                format!("Content-Range {text:?} is not START-END"),
            ))
        })?;
    Ok(Some(start))
}

fn out_of_order(e: OciError) -> Response {
    if e.code == Code::BlobUploadInvalid && e.message.contains("starts at") {
        let mut r = Oci(e).into_response();
        *r.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
        return r;
    }
    Oci(e).into_response()
}

/// `PATCH /v2/NAME/blobs/uploads/ID`: a chunk, in order.
async fn upload_chunk(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path((ns, name, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let run = async {
        let repo = session(&state, &identity, &ns, &name, &id)?;
        let size = receive(&state, &id, &headers, body).await?;
        Ok::<_, Oci>(progress(&repo, &id, size, StatusCode::ACCEPTED))
    };
    match run.await {
        Ok(r) => r,
        Err(Oci(e)) => out_of_order(e),
    }
}

/// `PUT /v2/NAME/blobs/uploads/ID?digest=`: the last chunk (maybe empty), then
/// the blob is stored if it hashes to the digest.
async fn finish_upload(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path((ns, name, id)): Path<(String, String, String)>,
    Params(query): Params<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let run = async {
        let repo = session(&state, &identity, &ns, &name, &id)?;
        let digest = query.digest.as_deref().ok_or_else(|| {
            Oci(OciError::new(
                Code::DigestInvalid,
                "the upload ends with ?digest=sha256:...",
            ))
        })?;
        let digest = Digest::parse(digest)?;
        receive(&state, &id, &headers, body).await?;
        state.registry.blobs.commit(&id, &digest).await?;
        Ok::<_, Oci>(stored(&repo, &digest))
    };
    match run.await {
        Ok(r) => r,
        Err(Oci(e)) => out_of_order(e),
    }
}

/// `DELETE /v2/NAME/blobs/uploads/ID`: gives the session up.
async fn cancel_upload(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path((ns, name, id)): Path<(String, String, String)>,
) -> OciResult<Response> {
    session(&state, &identity, &ns, &name, &id)?;
    state.registry.blobs.offset(&id)?;
    state.registry.blobs.cancel(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET|HEAD /v2/NAME/manifests/REFERENCE`.
async fn manifest(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path((ns, name, reference)): Path<(String, String, String)>,
    method: Method,
) -> OciResult<Response> {
    let repo = repository(&ns, &name)?;
    let not_found = || {
        unknown(
            &identity,
            Code::ManifestUnknown,
            format!("manifest {repo}:{reference}"),
        )
    };
    let (digest, bytes) = state
        .registry
        .manifests
        .get(&repo, &reference)?
        .ok_or_else(not_found)?;
    // By tag: that version; by digest: the version this manifest is.
    let record = if reference.starts_with("sha256:") {
        state.registry.version_of_manifest(&repo, &bytes)?
    } else {
        state
            .registry
            .curation
            .version(&repo, &reference)
            .map_err(|e| Oci(OciError::new(Code::ManifestUnknown, e.to_string())))?
    };
    if let Some(record) = record {
        visible(&state, &identity, &record)?;
    }
    let media = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| {
            v.get("mediaType")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| MANIFEST.to_string());
    let headers = [
        ("content-type", media),
        ("content-length", bytes.len().to_string()),
        ("docker-content-digest", digest.to_string()),
        ("etag", format!("\"{digest}\"")),
    ];
    if method == Method::HEAD {
        return Ok(with_headers(StatusCode::OK.into_response(), &headers));
    }
    Ok(with_headers(
        (StatusCode::OK, Bytes::from(bytes)).into_response(),
        &headers,
    ))
}

/// `PUT /v2/NAME/manifests/REFERENCE`: a component (by version) or a signature
/// (by digest); see [`hysope_registry::registry`].
async fn put_manifest(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path((ns, name, reference)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> OciResult<Response> {
    let repo = repository(&ns, &name)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let digest = state
        .registry
        .push_manifest(
            publisher(&identity),
            &repo,
            &reference,
            content_type,
            &body,
            state.checker.clone(),
        )
        .await?;
    let mut pairs = vec![
        ("location", format!("/v2/{repo}/manifests/{digest}")),
        ("docker-content-digest", digest.to_string()),
        ("content-length", "0".into()),
    ];
    if let Ok(hysope_registry::Manifest::Signature { subject, .. }) =
        hysope_registry::oci::parse_manifest(content_type, &body)
    {
        pairs.push(("oci-subject", subject.digest));
    }
    Ok(with_headers(StatusCode::CREATED.into_response(), &pairs))
}

#[derive(Deserialize)]
struct TagsQuery {
    n: Option<usize>,
    last: Option<String>,
}

/// `GET /v2/NAME/tags/list?n=&last=`: the versions the caller may see, in
/// order, with a `Link` to the next page.
async fn tags(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path((ns, name)): Path<(String, String)>,
    Params(query): Params<TagsQuery>,
) -> OciResult<Response> {
    let repo = repository(&ns, &name)?;
    let n = query.n.unwrap_or(1000).min(1000);
    let registry = &state.registry;
    let me = actor(&identity);
    let mut out = Vec::new();
    let mut last = query.last.clone();
    let mut more = false;
    // Pages of the stored tags, less those the caller may not see.
    loop {
        let page = registry.manifests.tags(&repo, last.as_deref(), n + 1)?;
        let exhausted = page.len() <= n;
        for tag in &page {
            if out.len() == n {
                more = true;
                break;
            }
            let shown = match registry
                .curation
                .version(&repo, tag)
                .map_err(|e| Oci(OciError::new(Code::NameUnknown, e.to_string())))?
            {
                Some(v) => registry
                    .curation
                    .may_see(me, &repo, v.state)
                    .map_err(|e| Oci(OciError::new(Code::NameUnknown, e.to_string())))?,
                None => true,
            };
            if shown {
                out.push(tag.clone());
            }
            last = Some(tag.clone());
        }
        if more || exhausted || n == 0 {
            break;
        }
    }
    if out.is_empty() && query.last.is_none() && !registry.manifests.has_repository(&repo)? {
        return Err(unknown(
            &identity,
            Code::NameUnknown,
            format!("repository {repo}"),
        ));
    }
    let mut r = crate::api::json_response(StatusCode::OK, &json!({"name": repo, "tags": out}));
    if more {
        if let Some(last) = out.last() {
            if let Ok(v) = HeaderValue::from_str(&format!(
                "</v2/{repo}/tags/list?n={n}&last={last}>; rel=\"next\""
            )) {
                r.headers_mut().insert(header::LINK, v);
            }
        }
    }
    Ok(r)
}

#[derive(Deserialize)]
struct ReferrersQuery {
    #[serde(rename = "artifactType")]
    artifact_type: Option<String>,
}

/// `GET /v2/NAME/referrers/DIGEST`: the signatures of a manifest, as an image
/// index.
async fn referrers(
    AxState(state): AxState<Shared>,
    Extension(identity): Extension<Identity>,
    Path((ns, name, digest)): Path<(String, String, String)>,
    Params(query): Params<ReferrersQuery>,
) -> OciResult<Response> {
    let repo = repository(&ns, &name)?;
    let subject = Digest::parse(&digest)?;
    if let Some((_, bytes)) = state.registry.manifests.get(&repo, subject.as_str())? {
        if let Some(record) = state.registry.version_of_manifest(&repo, &bytes)? {
            visible(&state, &identity, &record)?;
        }
    }
    let mut manifests = Vec::new();
    for (d, kind) in state.registry.manifests.referrers(&repo, &subject)? {
        if query.artifact_type.as_deref().is_some_and(|t| t != kind) {
            continue;
        }
        let size = state
            .registry
            .manifests
            .get(&repo, d.as_str())?
            .map(|(_, b)| b.len())
            .unwrap_or(0);
        manifests.push(json!({"mediaType": MANIFEST, "digest": d.as_str(), "size": size, "artifactType": kind}));
    }
    let mut r = crate::api::json_response(
        StatusCode::OK,
        &json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}),
    );
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.oci.image.index.v1+json"),
    );
    if query.artifact_type.is_some() {
        r.headers_mut().insert(
            "oci-filters-applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(r)
}
