//! Downloads of catalogued files over HTTP:
//! `GET|HEAD /stac/collections/{cid}/items/{iid}/assets/{key}`. An ingested
//! product's item links here instead of naming a path of the server (`file://`)
//! or an object of its storage (`s3://`); the catalogue keeps where the file is
//! ([`CatalogStore::asset_source`](hysope_catalog::CatalogStore::asset_source)).
//! Served with its length, a strong ETag and `Repr-Digest` from the checksum
//! taken at ingestion, single byte ranges (206, 416), `If-None-Match` (304),
//! streamed whatever its size. Assets that already are HTTP links (a job's result
//! files, whose route checks the caller's rights on the job) are redirected to.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use hysope_identity::Action;

use super::State;
use super::api::base_url;
use super::auth::Routes;
use super::errors::{ApiError, ApiResult, Kind};

type Shared = Arc<State>;

/// Bytes read from a file per chunk of the reply.
const CHUNK: usize = 256 << 10;

/// The route: reads, as the catalogue's.
pub fn routes() -> Routes {
    Routes::new().route(
        "/stac/collections/{cid}/items/{iid}/assets/{key}",
        &[(Method::GET, Action::Read), (Method::HEAD, Action::Read)],
        get(download),
    )
}

/// A byte range asked for, inclusive, within a file of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// No range (or one the server ignores, as HTTP allows): the whole file.
    Whole,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// Outside the file: 416.
    Unsatisfiable,
}

/// Reads a `Range` header for a file of `size` bytes: one `bytes=` range (`a-b`,
/// `a-`, `-n`); several ranges or another unit are ignored (the whole file).
pub fn parse_range(value: Option<&str>, size: u64) -> Range {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let number = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (true, false) => match number(b) {
            Some(0) => Range::Unsatisfiable,
            Some(n) if size > 0 => Range::Part(size.saturating_sub(n), size - 1),
            Some(_) => Range::Unsatisfiable,
            None => Range::Whole,
        },
        (false, _) => {
            let Some(start) = number(a) else {
                return Range::Whole;
            };
            let end = if b.is_empty() {
                Some(u64::MAX)
            } else {
                number(b)
            };
            match end {
                None => Range::Whole,
                Some(end) if end < start => Range::Whole,
                Some(_) if start >= size => Range::Unsatisfiable,
                Some(end) => Range::Part(start, end.min(size - 1)),
            }
        }
        (true, true) => Range::Whole,
    }
}

fn not_found(what: String) -> ApiError {
    ApiError::new(Kind::NotFound, what)
}

/// An opened file or object: its size and a way to stream a part of it.
enum Source {
    File(tokio::fs::File, u64),
    Object(
        Arc<dyn object_store::ObjectStore>,
        object_store::path::Path,
        u64,
    ),
}

impl Source {
    fn size(&self) -> u64 {
        match self {
            Source::File(_, n) | Source::Object(_, _, n) => *n,
        }
    }

    async fn body(self, start: u64, len: u64) -> ApiResult<Body> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        match self {
            Source::File(mut file, _) => {
                file.seek(std::io::SeekFrom::Start(start))
                    .await
                    .map_err(|e| ApiError::new(Kind::Internal, format!("reading the file: {e}")))?;
                let reader = file.take(len);
                // Fused: a layer may poll a finished body once more.
                let stream = futures::StreamExt::fuse(futures::stream::unfold(
                    reader,
                    |mut reader| async move {
                        let mut buf = vec![0u8; CHUNK];
                        match reader.read(&mut buf).await {
                            Ok(0) => None,
                            Ok(n) => {
                                buf.truncate(n);
                                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), reader))
                            }
                            Err(e) => Some((Err(e), reader)),
                        }
                    },
                ));
                Ok(Body::from_stream(stream))
            }
            Source::Object(store, key, _) => {
                if len == 0 {
                    return Ok(Body::empty());
                }
                let options = object_store::GetOptions {
                    range: Some((start..start + len).into()),
                    ..Default::default()
                };
                let result = store.get_opts(&key, options).await.map_err(|e| {
                    ApiError::new(Kind::Internal, format!("reading the object: {e}"))
                })?;
                Ok(Body::from_stream(result.into_stream()))
            }
        }
    }
}

async fn open(state: &State, source: &str, catalogued_size: Option<u64>) -> ApiResult<Source> {
    if let Some(path) = source.strip_prefix("file://") {
        let file = tokio::fs::File::open(path).await.map_err(|e| {
            tracing::warn!(file = path, error = %e, "a catalogued file cannot be read");
            ApiError::new(
                Kind::Gone,
                "the catalogued file is no longer where it was ingested: an operator must ingest it again",
            )
        })?;
        let size = file
            .metadata()
            .await
            .map_err(|e| ApiError::new(Kind::Internal, format!("reading the file: {e}")))?
            .len();
        if catalogued_size.is_some_and(|n| n != size) {
            return Err(ApiError::new(
                Kind::Conflict,
                format!(
                    "the file changed since it was catalogued ({size} bytes, catalogued with {}): an operator must ingest it again",
                    catalogued_size.unwrap_or_default()
                ),
            ));
        }
        return Ok(Source::File(file, size));
    }
    if source.starts_with("s3://") {
        state
            .jobs()
            .check_egress(source)
            .map_err(|e| ApiError::new(Kind::Forbidden, format!("the file's bucket: {e}")))?;
        let (store, key) = hysope_jobs::fetch::s3_object(source)
            .map_err(|e| ApiError::new(Kind::Internal, format!("the file's storage: {e:#}")))?;
        let meta = store.head(&key).await.map_err(|e| {
            tracing::warn!(object = source, error = %e, "a catalogued object cannot be read");
            ApiError::new(
                Kind::Gone,
                "the catalogued object is no longer where it was ingested: an operator must ingest it again",
            )
        })?;
        return Ok(Source::Object(store, key, meta.size));
    }
    Err(not_found(
        "the asset names no file this server serves".into(),
    ))
}

async fn download(
    AxState(state): AxState<Shared>,
    Path((cid, iid, key)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let catalog = state.catalog().clone();
    let (c, i, k) = (cid.clone(), iid.clone(), key.clone());
    let (item, source) = tokio::task::spawn_blocking(move || {
        Ok::<_, hysope_catalog::Error>((catalog.item(&c, &i)?, catalog.asset_source(&c, &i, &k)?))
    })
    .await
    .map_err(|e| ApiError::new(Kind::Internal, format!("catalogue task: {e}")))??;
    let item = item.ok_or_else(|| not_found(format!("no item {iid} in collection {cid}")))?;
    let asset = item["assets"]
        .get(&key)
        .ok_or_else(|| not_found(format!("item {iid} has no asset {key:?}")))?;
    let href = asset["href"].as_str().unwrap_or_default();
    let route = hysope_catalog::store::asset_route(&cid, &iid, &key);
    let source = match source {
        Some(s) => s,
        // An asset that is a link of this server (a job's files) or of another:
        // the client goes there, and that route checks its own rights.
        None if href.starts_with('/') && href != route => {
            return Ok(redirect(&format!("{}{href}", base_url(&headers))));
        }
        None if href.starts_with("https://") || href.starts_with("http://") => {
            return Ok(redirect(href));
        }
        // A file named by the item itself (a catalogue written before the
        // download route): served only inside the server's input roots.
        None if href.starts_with("file://") => {
            let path = std::path::Path::new(&href["file://".len()..]);
            state
                .jobs()
                .check_input_path(path)
                .map_err(|_| not_found(format!("item {iid}'s asset {key:?} is not served")))?;
            href.to_string()
        }
        None => {
            return Err(not_found(format!(
                "item {iid}'s asset {key:?} is not served"
            )));
        }
    };
    let catalogued = asset["file:size"].as_u64();
    let file = open(&state, &source, catalogued).await?;
    let size = file.size();
    let mut out = HeaderMap::new();
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(media) = asset["type"]
        .as_str()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        out.insert(header::CONTENT_TYPE, media);
    }
    let name = item["assets"][&key]["title"].as_str().unwrap_or(&iid);
    out.insert(header::CONTENT_DISPOSITION, super::api::attachment(name));
    // The checksum taken at ingestion (a sha2-256 multihash) as a strong ETag and
    // a representation digest (RFC 9530).
    let digest = asset["file:checksum"]
        .as_str()
        .and_then(|c| c.strip_prefix("1220"))
        .and_then(|hex_digest| {
            hex::decode(hex_digest)
                .ok()
                .map(|b| (hex_digest.to_string(), b))
        });
    if let Some((hex_digest, bytes)) = &digest {
        let etag = format!("\"sha256-{hex_digest}\"");
        if headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
        {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            r.headers_mut().insert(
                header::ETAG,
                HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("")),
            );
            return Ok(r);
        }
        if let Ok(v) = HeaderValue::from_str(&etag) {
            out.insert(header::ETAG, v);
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        if let Ok(v) = HeaderValue::from_str(&format!("sha-256=:{b64}:")) {
            out.insert("repr-digest", v);
        }
    }
    let range = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        size,
    );
    let (status, start, len) = match range {
        Range::Whole => (StatusCode::OK, 0, size),
        Range::Part(a, b) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{size}")) {
                out.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
        Range::Unsatisfiable => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
    };
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        file.body(start, len).await?
    };
    let mut r = (status, body).into_response();
    r.headers_mut().extend(out);
    Ok(r)
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_http_reads_them() {
        let r = |v: &str| parse_range(Some(v), 100);
        assert_eq!(r("bytes=0-9"), Range::Part(0, 9));
        assert_eq!(r("bytes=90-"), Range::Part(90, 99));
        assert_eq!(r("bytes=90-500"), Range::Part(90, 99));
        assert_eq!(r("bytes=-10"), Range::Part(90, 99));
        assert_eq!(r("bytes=-500"), Range::Part(0, 99));
        assert_eq!(r("bytes=100-"), Range::Unsatisfiable);
        assert_eq!(r("bytes=-0"), Range::Unsatisfiable);
        // Ignored: several ranges, another unit, nonsense, end before start.
        for ignored in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=a-b",
            "bytes=9-1",
            "bytes=-",
        ] {
            assert_eq!(r(ignored), Range::Whole, "{ignored}");
        }
        assert_eq!(parse_range(None, 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Range::Unsatisfiable);
    }
}
