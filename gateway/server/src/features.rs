//! OGC API - Features of the SWOT features themselves under `/features`: the
//! collections `reaches`, `nodes` and `lakes` (their geometries and a summary of
//! their passes for map colouring, see [`hysope_catalog::features`]), with bbox,
//! datetime, CQL2 filter and paging by id; and the name search
//! `/features/names?q=` (prefix completion over river and lake names). QGIS's
//! OGC API Features provider is the reference client: landing page, conformance,
//! collections, items with `limit` and `bbox`, `next` links. Beside them, the
//! time series of many features at once, `/timeseries/{reaches|nodes|lakes}`
//! ([`hysope_catalog::series`]): CSV and GeoJSON streamed one feature at a time.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hysope_catalog::features::{self, COLLECTIONS, FeatureQuery};
use hysope_catalog::series::{self, Output, SeriesRequest};
use hysope_identity::Action;
use serde_json::{Value, json};

use super::State;
use super::api::{base_url, conformance_page, json_response, link, negotiate};
use super::auth::Routes;
use super::errors::{ApiError, ApiResult, Kind};
use super::query::{Format, Params};

type Shared = Arc<State>;

const GEOJSON: &str = "application/geo+json";
const JSON: &str = "application/json";
const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// Conformance classes of `/features`.
pub const CONFORMANCE: [&str; 8] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
];

/// The routes: all public reads.
pub fn routes() -> Routes {
    let read = &[(Method::GET, Action::Read)][..];
    Routes::new()
        .route("/features", read, get(landing))
        .route("/features/", read, get(landing))
        .route("/features/conformance", read, get(conformance))
        .route("/features/names", read, get(names))
        .route("/features/collections", read, get(collections))
        .route("/features/collections/{cid}", read, get(collection))
        .route(
            "/features/collections/{cid}/queryables",
            read,
            get(queryables),
        )
        .route("/features/collections/{cid}/items", read, get(items))
        .route("/features/collections/{cid}/items/{fid}", read, get(item))
        .route("/timeseries/{kind}", read, get(series))
}

fn root(base: &str) -> String {
    format!("{base}/features")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn geojson(status: StatusCode, body: &Value) -> Response {
    geojson_bytes(status, body.to_string().into_bytes())
}

/// GeoJSON written already.
fn geojson_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON));
    r
}

/// Runs catalogue reads off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> hysope_catalog::Result<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(Kind::Internal, format!("catalogue task: {e}")))?
        .map_err(ApiError::from)
}

fn kind_or_404(cid: &str) -> ApiResult<&'static str> {
    features::kind_of(cid).ok_or_else(|| {
        ApiError::new(
            Kind::NotFound,
            format!("no feature collection {cid:?}: reaches, nodes or lakes"),
        )
    })
}

async fn landing(headers: HeaderMap, Params(q): Params<Format>) -> Response {
    let base = base_url(&headers);
    let r = root(&base);
    let body = json!({
        "title": "Hysope features: SWOT reaches, nodes and lakes",
        "description": "The reaches and nodes of the SWOT river database and the lakes of the Prior Lake Database that the catalogued products show, with their latest water surface elevation, its anomaly, days since the last usable pass and quality.",
        "links": [
            link(r.clone(), "self", JSON, "this page"),
            link(format!("{r}/conformance"), "conformance", JSON, "conformance classes"),
            link(format!("{r}/collections"), "data", JSON, "the feature collections"),
            link(format!("{base}/stac/api"), "service-desc", "application/vnd.oai.openapi+json;version=3.0", "the API definition"),
            link(format!("{r}/names"), "search", JSON, "features by river or lake name (?q=)"),
            link(format!("{base}/stac"), "related", JSON, "the STAC catalogue of the products"),
        ],
    });
    negotiate(&headers, q.f.as_deref(), "Hysope features", body)
}

async fn conformance(headers: HeaderMap, Params(q): Params<Format>) -> Response {
    conformance_page(&headers, q.f.as_deref(), &CONFORMANCE)
}

fn collection_document(base: &str, cid: &str, kind: &str) -> Value {
    let r = root(base);
    let (title, description) = match kind {
        "reach" => (
            "SWOT river reaches",
            "Reaches of the SWOT river database (SWORD) as the RiverSP products draw them (lines)",
        ),
        "node" => (
            "SWOT river nodes",
            "Nodes (about 200 m apart) of the SWOT river database as the RiverSP products give them (points)",
        ),
        _ => (
            "SWOT lakes",
            "Lakes of the Prior Lake Database as the LakeSP products draw them (polygons of observed lakes)",
        ),
    };
    json!({
        "id": cid,
        "title": title,
        "description": description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]], "crs": CRS84}},
        "links": [
            link(format!("{r}/collections/{cid}"), "self", JSON, title),
            link(format!("{r}/collections/{cid}/items"), "items", GEOJSON, "the features"),
            link(format!("{r}/collections/{cid}/queryables"), "http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json", "queryables"),
        ],
    })
}

async fn collections(headers: HeaderMap, Params(q): Params<Format>) -> Response {
    let base = base_url(&headers);
    let list: Vec<Value> = COLLECTIONS
        .iter()
        .map(|(cid, kind)| collection_document(&base, cid, kind))
        .collect();
    let body = json!({
        "links": [link(format!("{}/collections", root(&base)), "self", JSON, "the feature collections")],
        "collections": list,
    });
    negotiate(&headers, q.f.as_deref(), "Feature collections", body)
}

async fn collection(
    Path(cid): Path<String>,
    headers: HeaderMap,
    Params(q): Params<Format>,
) -> ApiResult<Response> {
    let kind = kind_or_404(&cid)?;
    let body = collection_document(&base_url(&headers), &cid, kind);
    Ok(negotiate(&headers, q.f.as_deref(), &cid, body))
}

async fn queryables(Path(cid): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    let kind = kind_or_404(&cid)?;
    let mut properties = serde_json::Map::new();
    for (name, kind, description) in features::queryables(kind) {
        properties.insert(
            name.clone(),
            json!({"type": [kind, "null"], "description": description}),
        );
    }
    let body = json!({
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": format!("{}/collections/{cid}/queryables", root(&base_url(&headers))),
        "type": "object",
        "title": cid,
        "properties": properties,
        "additionalProperties": false,
    });
    let mut r = json_response(StatusCode::OK, &body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/schema+json"),
    );
    Ok(r)
}

fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn items(
    AxState(state): AxState<Shared>,
    Path(cid): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    kind_or_404(&cid)?;
    let params = pairs(raw.as_deref());
    refuse_repeats(&params)?;
    let query = FeatureQuery::from_params(&cid, &params, now())?;
    let catalog = state.catalog().clone();
    let q = query.clone();
    let page = blocking(move || catalog.features(&q)).await?;
    let base = base_url(&headers);
    let href = format!("{}/collections/{cid}/items", root(&base));
    let encode = |list: &[(String, String)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(list)
            .finish()
    };
    let mut links = vec![
        link(
            match raw.as_deref() {
                Some(r) if !r.is_empty() => format!("{href}?{r}"),
                _ => href.clone(),
            },
            "self",
            GEOJSON,
            "this page",
        ),
        link(
            format!("{}/collections/{cid}", root(&base)),
            "collection",
            JSON,
            "the collection",
        ),
    ];
    if let Some(after) = &page.next {
        let mut next: Vec<(String, String)> =
            params.into_iter().filter(|(k, _)| k != "after").collect();
        next.push(("after".into(), after.clone()));
        links.push(link(
            format!("{href}?{}", encode(&next)),
            "next",
            GEOJSON,
            "the next page",
        ));
    }
    // The features are written as the catalogue gave them (GeoJSON text).
    #[derive(serde::Serialize)]
    struct Collection<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(rename = "timeStamp")]
        time_stamp: String,
        #[serde(rename = "numberMatched", skip_serializing_if = "Option::is_none")]
        number_matched: Option<u64>,
        #[serde(rename = "numberReturned")]
        number_returned: usize,
        features: &'a [Box<serde_json::value::RawValue>],
        links: Vec<Value>,
    }
    let body = serde_json::to_vec(&Collection {
        kind: "FeatureCollection",
        time_stamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        number_matched: page.matched,
        number_returned: page.features.len(),
        features: &page.features,
        links,
    })
    .map_err(|e| ApiError::new(Kind::Internal, format!("a features page: {e}")))?;
    Ok(geojson_bytes(StatusCode::OK, body))
}

async fn item(
    AxState(state): AxState<Shared>,
    Path((cid, fid)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let kind = kind_or_404(&cid)?;
    features::check_id(kind, &fid)?;
    let catalog = state.catalog().clone();
    let id = fid.clone();
    let found = blocking(move || catalog.feature(kind, &id, now())).await?;
    let Some(mut feature) = found else {
        return Err(ApiError::new(
            Kind::NotFound,
            format!("no {kind} {fid} in the catalogue's products"),
        ));
    };
    let base = base_url(&headers);
    let r = root(&base);
    let plural = features::collection_of(kind);
    feature["links"] = json!([
        link(
            format!("{r}/collections/{cid}/items/{fid}"),
            "self",
            GEOJSON,
            "this feature"
        ),
        link(
            format!("{r}/collections/{cid}"),
            "collection",
            JSON,
            "the collection"
        ),
        link(
            format!("{base}/timeseries/{plural}/{fid}"),
            "related",
            JSON,
            "its time series"
        ),
    ]);
    Ok(geojson(StatusCode::OK, &feature))
}

/// `?q=` the start of a name (any word), `kind=` reach, node or lake (repeated or
/// comma-separated; default reach and lake), `limit=` (1..100, default 10).
#[derive(Debug, Default, serde::Deserialize)]
struct NameParams {
    q: Option<String>,
    kind: Option<String>,
    limit: Option<usize>,
    f: Option<String>,
}

async fn names(
    AxState(state): AxState<Shared>,
    Params(p): Params<NameParams>,
) -> ApiResult<Response> {
    let _ = p.f;
    let text = p.q.unwrap_or_default();
    let text = text.trim().to_string();
    if features::name_key(&text).chars().count() < 2 || text.len() > 200 {
        return Err(ApiError::new(
            Kind::InvalidParameterValue,
            "q: give 2 to 200 characters of a river or lake name",
        ));
    }
    let mut kinds: Vec<&'static str> = Vec::new();
    for k in p
        .kind
        .as_deref()
        .unwrap_or("reach,lake")
        .split(',')
        .map(str::trim)
    {
        let kind = match k {
            "reach" | "reaches" => "reach",
            "node" | "nodes" => "node",
            "lake" | "lakes" => "lake",
            other => {
                return Err(ApiError::new(
                    Kind::InvalidParameterValue,
                    format!("kind: {other:?} is not reach, node or lake"),
                ));
            }
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let limit = match p.limit {
        None => 10,
        Some(n) if (1..=features::MAX_NAMES).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::new(
                Kind::InvalidParameterValue,
                format!("limit: {n} is not within 1..={}", features::MAX_NAMES),
            ));
        }
    };
    let catalog = state.catalog().clone();
    let q = text.clone();
    let hits = blocking(move || catalog.feature_names(&q, &kinds, limit)).await?;
    let body = json!({
        "q": text,
        "names": hits.iter().map(|h| h.to_json()).collect::<Vec<_>>(),
    });
    Ok(json_response(StatusCode::OK, &body))
}

fn refuse_repeats(params: &[(String, String)]) -> ApiResult<()> {
    let mut seen = std::collections::HashSet::new();
    match params.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        Some((k, _)) => Err(ApiError::new(
            Kind::InvalidParameterValue,
            format!("query parameter {k}: given twice"),
        )),
        None => Ok(()),
    }
}

/// `GET /timeseries/{reaches|nodes|lakes}?ids=...|bbox=...|reach=...`: the series
/// of many features. The features are found first (a wrong request is answered
/// 400 before any byte of the reply); CSV and GeoJSON are then streamed one
/// feature at a time, NetCDF is built whole (up to its cap) and sent.
async fn series(
    AxState(state): AxState<Shared>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = pairs(raw.as_deref());
    refuse_repeats(&params)?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .map(str::to_string);
    let request =
        SeriesRequest::from_params(&kind, &params, accept.as_deref()).map_err(|e| match e {
            hysope_catalog::Error::NoSuchCollection(_) => ApiError::new(
                Kind::NotFound,
                format!("no time series of {kind:?}: reaches, nodes or lakes"),
            ),
            other => other.into(),
        })?;
    let catalog = state.catalog().clone();
    let r = request.clone();
    let targets = blocking(move || r.resolve(catalog.as_ref(), now())).await?;
    let output = request.output;
    let disposition = format!(
        "inline; filename=\"{}-timeseries.{}\"",
        features::collection_of(request.kind),
        output.extension()
    );
    let catalog = state.catalog().clone();
    let body = if output == Output::NetCdf {
        let bytes = blocking(move || {
            let mut out = Vec::new();
            series::write(&request, catalog.as_ref(), &targets, |chunk| {
                out.extend_from_slice(&chunk);
                true
            })?;
            Ok(out)
        })
        .await?;
        axum::body::Body::from(bytes)
    } else {
        // A small queue between the reader and the connection: memory stays
        // bounded whatever the request's size, and a client that leaves stops
        // the reading.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
        tokio::task::spawn_blocking(move || {
            let sent = series::write(&request, catalog.as_ref(), &targets, |chunk| {
                tx.blocking_send(Ok(chunk.into())).is_ok()
            });
            if let Err(e) = sent {
                tracing::warn!(error = %e, "time series reply cut short");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        });
        // Fused: the gzip layer polls a finished body once more.
        let stream = futures::StreamExt::fuse(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
        axum::body::Body::from_stream(stream)
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(output.media_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
