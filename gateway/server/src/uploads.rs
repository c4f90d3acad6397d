//! Files people upload for their jobs (`/uploads`): the portal's "upload a file"
//! for a process's file input, and any client's way to give a job a file the
//! server cannot fetch. `POST /uploads?name=NAME` streams the body to
//! `DATA/inputs/uploads/ID/NAME` (at most [`MAX_UPLOAD`] bytes; a user keeps at
//! most [`QUOTA_FILES`] files and [`QUOTA_BYTES`] bytes), answering its link
//! `/uploads/ID`; an execute request names it by that link as an input's `href`,
//! and the job reads the file where it lies (its owner's, or an operator's, only:
//! another user's upload is not found). `GET /uploads` lists the caller's files,
//! `DELETE /uploads/ID` removes one. The record of each (owner, name, size,
//! sha256, media type, time) is `DATA/inputs/uploads/ID.json`.
//!
//! The files stay until their owner removes them: a job's provenance names them.
//! With workers on other machines, `DATA/inputs` is shared as the input roots are.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use hysope_identity::Identity;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::State;
use crate::api::{base_url, json_response};
use crate::errors::{ApiError, ApiResult, Kind};
use crate::query::Params;

/// The largest upload, bytes.
pub const MAX_UPLOAD: u64 = 256 << 20;
/// The bytes a user's uploads may hold together.
pub const QUOTA_BYTES: u64 = 2 << 30;
/// The files a user may keep.
pub const QUOTA_FILES: usize = 200;

/// One upload's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub media_type: String,
    pub created: String,
}

fn folder(state: &State) -> PathBuf {
    state.data_dir().join("inputs").join("uploads")
}

/// An upload id is a UUID (as this server makes them): anything else is no
/// upload, and never a path.
fn valid_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id)
}

/// A file name a user gives: one path component of printable characters, no
/// leading dot, at most 128 bytes.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 128 {
        return Err(format!(
            "the file name has {} bytes; give 1 to 128",
            name.len()
        ));
    }
    if name.starts_with('.')
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(format!(
            "the file name {name:?} is not one plain name (no '/', '\\', control characters or leading '.')"
        ));
    }
    Ok(())
}

fn read_record(dir: &FsPath, id: &str) -> Option<Upload> {
    let text = std::fs::read(dir.join(format!("{id}.json"))).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Every upload's record under `dir` (unreadable ones left out).
fn records(dir: &FsPath) -> Vec<Upload> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<Upload> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let id = name.strip_suffix(".json")?;
            valid_id(id).then(|| read_record(dir, id)).flatten()
        })
        .collect();
    out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    out
}

/// The uploads of `owner`, newest first.
async fn owned_by(state: &State, owner: &str) -> ApiResult<Vec<Upload>> {
    let dir = folder(state);
    let owner = owner.to_string();
    tokio::task::spawn_blocking(move || {
        records(&dir)
            .into_iter()
            .filter(|r| r.owner == owner)
            .collect()
    })
    .await
    .map_err(|e| ApiError::new(Kind::Internal, e.to_string()))
}

/// The upload `id` as `caller` may use it: theirs (an operator's: any), else not
/// found.
fn find(state: &State, caller: &Identity, id: &str) -> ApiResult<Upload> {
    let missing = || ApiError::new(Kind::NotFound, format!("no upload {id}"));
    if !valid_id(id) {
        return Err(missing());
    }
    let record = read_record(&folder(state), id).ok_or_else(missing)?;
    if !caller.owns(Some(&record.owner)) {
        return Err(missing());
    }
    Ok(record)
}

/// Where the file of upload `id` lies, when `caller` may use it.
pub fn path_for(state: &State, caller: &Identity, id: &str) -> ApiResult<PathBuf> {
    let record = find(state, caller, id)?;
    Ok(folder(state).join(&record.id).join(&record.name))
}

/// The upload id an input's `href` names (`/uploads/ID`, relative or under the
/// server's URL), if it names one.
pub fn upload_id<'a>(href: &'a str, base: &str) -> Option<&'a str> {
    let path = href.strip_prefix(base).unwrap_or(href);
    path.strip_prefix("/uploads/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

fn shown(record: &Upload, base: &str) -> serde_json::Value {
    let mut v = serde_json::to_value(record).unwrap_or_default();
    v["href"] = json!(format!("{base}/uploads/{}", record.id));
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadQuery {
    name: String,
}

/// `POST /uploads?name=NAME`: the body is the file.
pub(crate) async fn create(
    AxState(state): AxState<Arc<State>>,
    Extension(caller): Extension<Identity>,
    headers: HeaderMap,
    Params(q): Params<UploadQuery>,
    body: Body,
) -> ApiResult<Response> {
    check_name(&q.name).map_err(|e| ApiError::new(Kind::InvalidParameterValue, e))?;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_UPLOAD) {
        return Err(too_large());
    }
    let dir = folder(&state);
    let owned = owned_by(&state, &caller.subject).await?;
    let used: u64 = owned.iter().map(|r| r.size).sum();
    if owned.len() >= QUOTA_FILES {
        return Err(ApiError::new(
            Kind::Conflict,
            format!(
                "you keep {QUOTA_FILES} uploads already, as many as a user may: remove some (DELETE /uploads/ID)"
            ),
        ));
    }
    let room = QUOTA_BYTES.saturating_sub(used);
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 200 && v.chars().all(|c| c.is_ascii_graphic() || c == ' '))
        .unwrap_or("application/octet-stream")
        .to_string();

    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    let into = dir.join(&id);
    tokio::fs::create_dir_all(&into)
        .await
        .map_err(|e| ApiError::new(Kind::Internal, format!("the upload folder: {e}")))?;
    let path = into.join(&q.name);
    let written = write(body, &path, room.min(MAX_UPLOAD), room < MAX_UPLOAD).await;
    let (size, sha256) = match written {
        Ok(done) => done,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&into).await;
            return Err(e);
        }
    };
    let record = Upload {
        id: id.clone(),
        owner: caller.subject.clone(),
        name: q.name,
        size,
        sha256,
        media_type,
        created: hysope_jobs::rfc3339(hysope_jobs::now_ms()),
    };
    let text = serde_json::to_vec_pretty(&record).unwrap_or_default();
    let tmp = dir.join(format!("{id}.json.tmp"));
    let saved = async {
        tokio::fs::write(&tmp, &text).await?;
        tokio::fs::rename(&tmp, dir.join(format!("{id}.json"))).await
    }
    .await;
    if let Err(e) = saved {
        let _ = tokio::fs::remove_dir_all(&into).await;
        return Err(ApiError::new(
            Kind::Internal,
            format!("the upload's record: {e}"),
        ));
    }
    let base = base_url(&headers);
    let mut r = json_response(StatusCode::CREATED, &shown(&record, &base));
    if let Ok(v) = HeaderValue::from_str(&format!("{base}/uploads/{id}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

fn too_large() -> ApiError {
    ApiError::new(
        Kind::TooLarge,
        format!("an upload may have {MAX_UPLOAD} bytes at most"),
    )
}

/// Streams `body` to `path`: its size and sha256, or the error (more than
/// `limit` bytes: too large, or over the quota when `quota_bound`).
async fn write(
    body: Body,
    path: &FsPath,
    limit: u64,
    quota_bound: bool,
) -> ApiResult<(u64, String)> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| ApiError::new(Kind::Internal, format!("the upload's file: {e}")))?;
    let mut hash = Sha256::new();
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::new(Kind::InvalidBody, format!("the upload stopped: {e}")))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(if quota_bound {
                ApiError::new(
                    Kind::Conflict,
                    format!(
                        "your uploads may hold {QUOTA_BYTES} bytes together; this one does not fit: remove some (DELETE /uploads/ID)"
                    ),
                )
            } else {
                too_large()
            });
        }
        hash.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::new(Kind::Internal, format!("writing the upload: {e}")))?;
    }
    file.sync_all()
        .await
        .map_err(|e| ApiError::new(Kind::Internal, format!("writing the upload: {e}")))?;
    Ok((size, hex::encode(hash.finalize())))
}

/// `GET /uploads`: the caller's uploads, newest first.
pub(crate) async fn list(
    AxState(state): AxState<Arc<State>>,
    Extension(caller): Extension<Identity>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let mine = owned_by(&state, &caller.subject).await?;
    let base = base_url(&headers);
    let used: u64 = mine.iter().map(|r| r.size).sum();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "uploads": mine.iter().map(|r| shown(r, &base)).collect::<Vec<_>>(),
            "quota": {"files": QUOTA_FILES, "bytes": QUOTA_BYTES, "used_files": mine.len(), "used_bytes": used, "max_upload": MAX_UPLOAD},
        }),
    ))
}

/// `GET /uploads/{id}`: an upload's record.
pub(crate) async fn show(
    AxState(state): AxState<Arc<State>>,
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let record = find(&state, &caller, &id)?;
    Ok(json_response(
        StatusCode::OK,
        &shown(&record, &base_url(&headers)),
    ))
}

/// `DELETE /uploads/{id}`: removes an upload (the owner's or an operator's).
pub(crate) async fn remove(
    AxState(state): AxState<Arc<State>>,
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let record = find(&state, &caller, &id)?;
    let dir = folder(&state);
    // The record first: a file without its record is no upload any more.
    tokio::fs::remove_file(dir.join(format!("{id}.json")))
        .await
        .map_err(|e| ApiError::new(Kind::Internal, format!("removing the upload: {e}")))?;
    let _ = tokio::fs::remove_dir_all(dir.join(&record.id)).await;
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids() {
        assert!(check_name("gauge.csv").is_ok());
        assert!(check_name("relevé d’Orléans (2024).csv").is_ok());
        for bad in ["", ".hidden", "a/b", "..", "a\\b", "a\nb", &"x".repeat(129)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        assert!(valid_id(&id));
        assert!(!valid_id(&id.to_uppercase()));
        assert!(!valid_id("../../etc"));
        assert_eq!(
            upload_id(&format!("/uploads/{id}"), "http://h"),
            Some(id.as_str())
        );
        assert_eq!(
            upload_id(&format!("http://h/uploads/{id}"), "http://h"),
            Some(id.as_str())
        );
        assert_eq!(upload_id("/uploads/", "http://h"), None);
        assert_eq!(upload_id("/uploads/a/b", "http://h"), None);
        assert_eq!(upload_id("http://elsewhere/uploads/x", "http://h"), None);
    }
}
