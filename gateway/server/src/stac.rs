//! STAC API 1.0 over the catalogue, under `/stac`: landing page, conformance,
//! collections, items (OGC API - Features), item search GET and POST with the
//! filter (CQL2 text and JSON), sort, fields and query extensions, transactions,
//! queryables; the per-feature time series under `/timeseries`; and the operators'
//! ingest endpoint that `hysope ingest` uses while a server holds the catalogue.
//! Handlers are thin: the rules live in `hysope-catalog`.

use std::sync::Arc;

use crate::query::{Format, Params};
use axum::Extension;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hysope_catalog::search::{PageStart, SearchQuery, StoredItem};
use hysope_catalog::timeseries::SeriesQuery;
use hysope_identity::{Action, Identity};
use serde_json::{Value, json};

use super::State;
use super::api::{base_url, conformance_page, json_response, link, negotiate};
use super::auth::Routes;
use super::errors::{ApiError, ApiResult, Kind};

type Shared = Arc<State>;

const GEOJSON: &str = "application/geo+json";
const JSON: &str = "application/json";

/// Conformance classes of the STAC API.
pub const CONFORMANCE: [&str; 24] = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#fields",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#query",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#filter",
    "https://api.stacspec.org/v1.0.0/ogcapi-features/extensions/transaction",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#fields",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/item-search#filter",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-operators",
];

/// The STAC and time series routes: reads are public, writes (transactions) an
/// operator's, and ingestion an operator's.
pub fn routes() -> Routes {
    use Action::{Catalog, Ingest, Read};
    let read = &[(Method::GET, Read)][..];
    Routes::new()
        .route("/stac", read, get(landing))
        .route("/stac/", read, get(landing))
        .route("/stac/conformance", read, get(conformance))
        .route("/stac/api", read, get(api_definition))
        .route("/stac/queryables", read, get(queryables))
        .route(
            "/stac/collections",
            &[(Method::GET, Read), (Method::POST, Catalog)],
            get(collections).post(create_collection),
        )
        .route(
            "/stac/collections/{cid}",
            &[
                (Method::GET, Read),
                (Method::PUT, Catalog),
                (Method::DELETE, Catalog),
            ],
            get(collection)
                .put(replace_collection)
                .delete(delete_collection),
        )
        .route("/stac/collections/{cid}/queryables", read, get(queryables))
        .route(
            "/stac/collections/{cid}/items",
            &[(Method::GET, Read), (Method::POST, Catalog)],
            // An item collection of a few thousand SWOT items runs to tens of MB:
            // this route alone takes bodies that large.
            get(items)
                .post(create_item)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_ITEMS_BODY)),
        )
        .route(
            "/stac/collections/{cid}/items/{iid}",
            &[
                (Method::GET, Read),
                (Method::PUT, Catalog),
                (Method::PATCH, Catalog),
                (Method::DELETE, Catalog),
            ],
            get(item)
                .put(replace_item)
                .patch(patch_item)
                .delete(delete_item),
        )
        .route(
            "/stac/search",
            &[(Method::GET, Read), (Method::POST, Read)],
            get(search_get).post(search_post),
        )
        .route(
            "/stac/ingest",
            &[(Method::POST, Ingest)],
            axum::routing::post(ingest),
        )
        .route("/timeseries/{kind}/{id}", read, get(timeseries))
}

/// The largest body of a bulk item creation (the other routes take axum's 2 MiB).
pub const MAX_ITEMS_BODY: usize = 64 << 20;

impl From<hysope_catalog::Error> for ApiError {
    fn from(e: hysope_catalog::Error) -> Self {
        use hysope_catalog::Error as E;
        let kind = match &e {
            E::InvalidParameter(_) => Kind::InvalidParameterValue,
            E::InvalidDocument(_) | E::Read(_) => Kind::InvalidBody,
            E::NoSuchCollection(_) | E::NoSuchItem { .. } => Kind::NotFound,
            E::Conflict(_) => Kind::Conflict,
            _ => Kind::Internal,
        };
        ApiError::new(kind, e.to_string())
    }
}

/// Runs catalogue work off the async threads (redb commits and reads block).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, hysope_catalog::Error> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(Kind::Internal, format!("catalogue task: {e}")))?
        .map_err(ApiError::from)
}

fn geojson_response(status: StatusCode, body: &Value) -> Response {
    let mut r = json_response(status, body);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON));
    r
}

fn stac(base: &str) -> String {
    format!("{base}/stac")
}

async fn landing(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Params(q): Params<Format>,
) -> ApiResult<Response> {
    let base = base_url(&headers);
    let root = stac(&base);
    let catalog = state.catalog().clone();
    let collections = blocking(move || catalog.collections()).await?;
    let mut links = vec![
        link(root.clone(), "self", JSON, "this catalogue"),
        link(root.clone(), "root", JSON, "this catalogue"),
        link(
            format!("{root}/conformance"),
            "conformance",
            JSON,
            "conformance classes",
        ),
        link(
            format!("{root}/api"),
            "service-desc",
            "application/vnd.oai.openapi+json;version=3.0",
            "the API definition",
        ),
        link(format!("{root}/collections"), "data", JSON, "collections"),
        json!({"href": format!("{root}/search"), "rel": "search", "type": GEOJSON, "method": "GET", "title": "item search"}),
        json!({"href": format!("{root}/search"), "rel": "search", "type": GEOJSON, "method": "POST", "title": "item search"}),
        link(
            format!("{root}/queryables"),
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            "application/schema+json",
            "queryables",
        ),
        link(
            format!("{base}/"),
            "related",
            JSON,
            "OGC API - Processes of this server",
        ),
    ];
    for c in &collections {
        let id = c["id"].as_str().unwrap_or_default();
        links.push(link(
            format!("{root}/collections/{id}"),
            "child",
            JSON,
            c["title"].as_str().unwrap_or(id),
        ));
    }
    let body = json!({
        "type": "Catalog",
        "stac_version": "1.1.0",
        "id": "hysope",
        "title": "Hysope catalogue",
        "description": "SWOT river and lake products, in-situ gauges and process results",
        "conformsTo": CONFORMANCE,
        "links": links,
    });
    Ok(negotiate(
        &headers,
        q.f.as_deref(),
        "Hysope catalogue",
        body,
    ))
}

async fn conformance(headers: HeaderMap, Params(q): Params<Format>) -> Response {
    conformance_page(&headers, q.f.as_deref(), &CONFORMANCE)
}

async fn api_definition(AxState(state): AxState<Shared>, headers: HeaderMap) -> Response {
    let doc = super::openapi::stac_document(&base_url(&headers), &state.access());
    let mut r = json_response(StatusCode::OK, &doc);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.oai.openapi+json;version=3.0"),
    );
    r
}

async fn queryables(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    cid: Option<Path<String>>,
) -> ApiResult<Response> {
    let base = base_url(&headers);
    if let Some(Path(cid)) = &cid {
        let catalog = state.catalog().clone();
        let id = cid.clone();
        if blocking(move || catalog.collection(&id)).await?.is_none() {
            return Err(hysope_catalog::Error::NoSuchCollection(cid.clone()).into());
        }
    }
    let number = |d: &str| json!({"type": "number", "description": d});
    let integer = |d: &str| json!({"type": "integer", "description": d});
    let text = |d: &str| json!({"type": "string", "description": d});
    let body = json!({
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": format!("{}/queryables", stac(&base)),
        "type": "object",
        "title": "Queryables of the Hysope catalogue",
        "properties": {
            "id": text("item id"),
            "collection": text("collection id"),
            "geometry": {"$ref": "https://geojson.org/schema/Geometry.json"},
            "datetime": {"type": "string", "format": "date-time", "description": "start of the product's time"},
            "start_datetime": {"type": "string", "format": "date-time"},
            "end_datetime": {"type": "string", "format": "date-time"},
            "platform": text("swot for SWOT products"),
            "swot:cycle_number": integer("SWOT cycle"),
            "swot:pass_number": integer("SWOT pass"),
            "swot:continent_code": text("continent code of vector products"),
            "swot:tile": text("tile of pixel-cloud products"),
            "swot:feature_kind": text("Reach, Node, Obs, Prior or Unassigned"),
            "swot:crid": text("composite release id"),
            "swot:feature_count": integer("features in the file"),
            "swot:observed_count": integer("features observed in this pass"),
            "reach_q": integer("best reach quality of the observed reaches (0 good .. 3 bad); null when none observed"),
            "node_q": integer("best node quality of the observed nodes"),
            "quality_f": integer("best lake quality of the observed lakes"),
            "swot:pixel_count": integer("pixels of a pixel cloud"),
            "usgs:sites": {"type": "array", "items": {"type": "string"}, "description": "USGS site numbers"},
            "processing:level": text("processing level"),
            "processing:software": {"type": "object", "description": "plugin and version of a process result"},
            "hysope:job_id": text("job that produced a process result"),
            "file:size": number("bytes of the data asset"),
        },
        "additionalProperties": true
    });
    let mut r = json_response(StatusCode::OK, &body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/schema+json"),
    );
    Ok(r)
}

/// Adds the links of a collection.
fn collection_links(base: &str, mut c: Value) -> Value {
    let root = stac(base);
    let id = c["id"].as_str().unwrap_or_default().to_string();
    let href = format!("{root}/collections/{id}");
    c["links"] = json!([
        link(href.clone(), "self", JSON, "this collection"),
        link(root.clone(), "root", JSON, "the catalogue"),
        link(root.clone(), "parent", JSON, "the catalogue"),
        link(format!("{href}/items"), "items", GEOJSON, "items"),
        link(
            format!("{href}/queryables"),
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            "application/schema+json",
            "queryables"
        ),
    ]);
    c
}

/// Adds the links of an item (the stored version links become absolute).
fn item_links(base: &str, mut item: Value) -> Value {
    let cid = item["collection"].as_str().unwrap_or_default().to_string();
    let id = item["id"].as_str().unwrap_or_default().to_string();
    let stored = item
        .get("links")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(assets) = item.get_mut("assets").and_then(Value::as_object_mut) {
        for asset in assets.values_mut() {
            if let Some(h) = asset["href"].as_str().filter(|h| h.starts_with('/')) {
                asset["href"] = json!(format!("{base}{h}"));
            }
        }
    }
    item["links"] = Value::Array(links_of(base, &cid, &id, &stored));
    item
}

/// The links of an item as served: self, parent, collection, root, then the stored
/// ones (version links and result links made absolute).
fn links_of(base: &str, cid: &str, id: &str, stored: &[Value]) -> Vec<Value> {
    let root = stac(base);
    let collection = format!("{root}/collections/{cid}");
    let mut links = vec![
        link(
            format!("{collection}/items/{id}"),
            "self",
            GEOJSON,
            "this item",
        ),
        link(collection.clone(), "parent", JSON, "its collection"),
        link(collection, "collection", JSON, "its collection"),
        link(root.clone(), "root", JSON, "the catalogue"),
    ];
    for l in stored {
        let rel = l["rel"].as_str().unwrap_or_default();
        if matches!(rel, "self" | "parent" | "collection" | "root") {
            continue;
        }
        let mut l = l.clone();
        if let (Some(c), Some(i)) = (l["hysope:collection"].as_str(), l["hysope:item"].as_str()) {
            l["href"] = json!(format!("{root}/collections/{c}/items/{i}"));
            if let Some(o) = l.as_object_mut() {
                o.remove("hysope:collection");
                o.remove("hysope:item");
            }
        }
        // Hrefs the server stores as paths (result files, the job) resolve against its origin.
        if let Some(h) = l["href"].as_str().filter(|h| h.starts_with('/')) {
            l["href"] = json!(format!("{base}{h}"));
        }
        links.push(l);
    }
    links
}

/// Writes one item of a search reply: the stored bytes after the links the server
/// makes, parsed only when an asset href must be made absolute.
fn write_item(base: &str, item: &StoredItem, out: &mut Vec<u8>) -> ApiResult<()> {
    let internal = |e: serde_json::Error| {
        ApiError::new(Kind::Internal, format!("stored item {}: {e}", item.id))
    };
    let Some(links) = &item.links else {
        // The fields extension left the links out.
        out.extend_from_slice(&item.body);
        return Ok(());
    };
    let stored: Vec<Value> = serde_json::from_slice(links).map_err(internal)?;
    out.extend_from_slice(b"{\"links\":");
    serde_json::to_writer(
        &mut *out,
        &links_of(base, &item.collection, &item.id, &stored),
    )
    .map_err(internal)?;
    match item.body.len() {
        0..=2 => out.push(b'}'),
        _ => {
            out.push(b',');
            absolute_hrefs(&item.body[1..], base, out);
        }
    }
    Ok(())
}

/// Copies stored JSON, making the hrefs relative to the server (`"href":"/...`,
/// the assets of ingested files and of results) absolute on the way, without
/// parsing it: in compact JSON the bytes `"href":"/` can only be a key and the
/// start of its value (inside a string its quotes would be escaped).
fn absolute_hrefs(json: &[u8], base: &str, out: &mut Vec<u8>) {
    const KEY: &[u8] = b"\"href\":\"/";
    let mut rest = json;
    while let Some(at) = rest.windows(KEY.len()).position(|w| w == KEY) {
        out.extend_from_slice(&rest[..at + KEY.len() - 1]);
        out.extend_from_slice(base.as_bytes());
        out.push(b'/');
        rest = &rest[at + KEY.len()..];
    }
    out.extend_from_slice(rest);
}

async fn collections(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Params(q): Params<Format>,
) -> ApiResult<Response> {
    let base = base_url(&headers);
    let catalog = state.catalog().clone();
    let list = blocking(move || catalog.collections()).await?;
    let root = stac(&base);
    let body = json!({
        "collections": list.into_iter().map(|c| collection_links(&base, c)).collect::<Vec<_>>(),
        "links": [
            link(format!("{root}/collections"), "self", JSON, "collections"),
            link(root.clone(), "root", JSON, "the catalogue"),
            link(root, "parent", JSON, "the catalogue"),
        ],
    });
    Ok(negotiate(&headers, q.f.as_deref(), "Collections", body))
}

async fn collection(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Path(cid): Path<String>,
    Params(q): Params<Format>,
) -> ApiResult<Response> {
    let catalog = state.catalog().clone();
    let id = cid.clone();
    let c = blocking(move || catalog.collection(&id))
        .await?
        .ok_or(hysope_catalog::Error::NoSuchCollection(cid))?;
    let title = c["title"].as_str().unwrap_or("Collection").to_string();
    Ok(negotiate(
        &headers,
        q.f.as_deref(),
        &title,
        collection_links(&base_url(&headers), c),
    ))
}

fn parse_body(body: &[u8], what: &str) -> ApiResult<Value> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(Kind::InvalidBody, format!("{what}: not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::new(
            Kind::InvalidBody,
            format!("{what}: expected a JSON object"),
        ));
    }
    Ok(value)
}

/// Checks a client's collection with the `stac` crate's type.
fn check_collection(value: &Value) -> ApiResult<()> {
    serde_json::from_value::<stac::Collection>(value.clone())
        .map(|_| ())
        .map_err(|e| {
            ApiError::new(
                Kind::InvalidBody,
                format!("collection: not a STAC collection: {e}"),
            )
        })
}

/// Checks a client's item with the `stac` crate's type, and sets its collection.
fn check_item(mut value: Value, cid: &str) -> ApiResult<Value> {
    match value.get("collection").and_then(Value::as_str) {
        Some(c) if c != cid => {
            return Err(ApiError::new(
                Kind::InvalidBody,
                format!("item: collection {c:?} differs from the collection of the path {cid:?}"),
            ));
        }
        _ => value["collection"] = json!(cid),
    }
    serde_json::from_value::<stac::Item>(value.clone())
        .map_err(|e| ApiError::new(Kind::InvalidBody, format!("item: not a STAC item: {e}")))?;
    hysope_catalog::search::Entry::of(&value)?;
    Ok(value)
}

async fn create_collection(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let value = parse_body(&body, "collection")?;
    check_collection(&value)?;
    let id = value["id"].as_str().unwrap_or_default().to_string();
    let catalog = state.catalog().clone();
    let stored = value.clone();
    blocking(move || {
        if catalog.collection(&id)?.is_some() {
            return Err(hysope_catalog::Error::Conflict(format!(
                "collection {id:?} exists; PUT replaces it"
            )));
        }
        catalog.put_collection(&stored)
    })
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &collection_links(&base_url(&headers), value),
    ))
}

async fn replace_collection(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Path(cid): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let mut value = parse_body(&body, "collection")?;
    if value
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| id != cid)
    {
        return Err(ApiError::new(
            Kind::InvalidBody,
            format!("collection: id differs from the path's {cid:?}"),
        ));
    }
    value["id"] = json!(cid);
    check_collection(&value)?;
    let catalog = state.catalog().clone();
    let stored = value.clone();
    let id = cid.clone();
    blocking(move || {
        if catalog.collection(&id)?.is_none() {
            return Err(hysope_catalog::Error::NoSuchCollection(id));
        }
        catalog.put_collection(&stored)
    })
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &collection_links(&base_url(&headers), value),
    ))
}

async fn delete_collection(
    AxState(state): AxState<Shared>,
    Path(cid): Path<String>,
) -> ApiResult<Response> {
    let catalog = state.catalog().clone();
    let id = cid.clone();
    if !blocking(move || catalog.delete_collection(&id)).await? {
        return Err(hysope_catalog::Error::NoSuchCollection(cid).into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn item(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Path((cid, iid)): Path<(String, String)>,
    Params(q): Params<Format>,
) -> ApiResult<Response> {
    let catalog = state.catalog().clone();
    let (c, i) = (cid.clone(), iid.clone());
    let found =
        blocking(move || catalog.item(&c, &i))
            .await?
            .ok_or(hysope_catalog::Error::NoSuchItem {
                collection: cid,
                item: iid.clone(),
            })?;
    let body = item_links(&base_url(&headers), found);
    if super::api::wants_html(&headers, q.f.as_deref()) {
        return Ok(negotiate(&headers, q.f.as_deref(), &iid, body));
    }
    Ok(geojson_response(StatusCode::OK, &body))
}

async fn create_item(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Path(cid): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let value = parse_body(&body, "item")?;
    // An ItemCollection creates its items in one commit.
    let items: Vec<Value> = if value["type"] == "FeatureCollection" {
        let features = value["features"].as_array().cloned().ok_or_else(|| {
            ApiError::new(Kind::InvalidBody, "item collection: no \"features\" array")
        })?;
        features
            .into_iter()
            .map(|f| check_item(f, &cid))
            .collect::<ApiResult<_>>()?
    } else {
        vec![check_item(value, &cid)?]
    };
    let catalog = state.catalog().clone();
    let stored = items.clone();
    let c = cid.clone();
    blocking(move || {
        if catalog.collection(&c)?.is_none() {
            return Err(hysope_catalog::Error::NoSuchCollection(c));
        }
        for i in &stored {
            let id = i["id"].as_str().unwrap_or_default();
            if catalog.item(&c, id)?.is_some() {
                return Err(hysope_catalog::Error::Conflict(format!(
                    "item {id:?} exists in {c:?}; PUT replaces it"
                )));
            }
        }
        catalog.put_items(&stored)
    })
    .await?;
    let base = base_url(&headers);
    if items.len() == 1 {
        let item = item_links(&base, items.into_iter().next().unwrap_or_default());
        let mut r = geojson_response(StatusCode::CREATED, &item);
        if let Some(href) = item["links"][0]["href"]
            .as_str()
            .and_then(|h| HeaderValue::from_str(h).ok())
        {
            r.headers_mut().insert(header::LOCATION, href);
        }
        return Ok(r);
    }
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"created": items.len()}),
    ))
}

async fn replace_item(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Path((cid, iid)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let mut value = parse_body(&body, "item")?;
    if value
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| id != iid)
    {
        return Err(ApiError::new(
            Kind::InvalidBody,
            format!("item: id differs from the path's {iid:?}"),
        ));
    }
    value["id"] = json!(iid);
    let value = check_item(value, &cid)?;
    let catalog = state.catalog().clone();
    let stored = value.clone();
    let (c, i) = (cid.clone(), iid.clone());
    blocking(move || {
        if catalog.item(&c, &i)?.is_none() {
            return Err(hysope_catalog::Error::NoSuchItem {
                collection: c,
                item: i,
            });
        }
        catalog.put_items(&[stored])
    })
    .await?;
    let _ = (headers, value);
    // OGC API - Features Part 4: a replacement answers 204 No Content.
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// RFC 7396 JSON merge patch: null removes a member, objects merge, the rest replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

async fn patch_item(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Path((cid, iid)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let patch = parse_body(&body, "item patch")?;
    if patch
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| id != iid)
    {
        return Err(ApiError::new(
            Kind::InvalidBody,
            format!("item patch: id differs from the path's {iid:?}"),
        ));
    }
    let catalog = state.catalog().clone();
    let (c, i) = (cid.clone(), iid.clone());
    let current =
        blocking(move || catalog.item(&c, &i))
            .await?
            .ok_or(hysope_catalog::Error::NoSuchItem {
                collection: cid.clone(),
                item: iid.clone(),
            })?;
    let mut value = current;
    merge_patch(&mut value, &patch);
    let value = check_item(value, &cid)?;
    let catalog = state.catalog().clone();
    let stored = value.clone();
    blocking(move || catalog.put_items(&[stored])).await?;
    let _ = (headers, value);
    // OGC API - Features Part 4: an update answers 204 No Content.
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_item(
    AxState(state): AxState<Shared>,
    Path((cid, iid)): Path<(String, String)>,
) -> ApiResult<Response> {
    // Deleting is idempotent: an item already gone answers 204 too (a client that
    // retries after a lost reply must not see an error); a missing collection is 404.
    let catalog = state.catalog().clone();
    blocking(move || {
        if catalog.collection(&cid)?.is_none() {
            return Err(hysope_catalog::Error::NoSuchCollection(cid));
        }
        catalog.delete_item(&cid, &iid)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn query_pairs(raw: Option<&str>) -> ApiResult<Vec<(String, String)>> {
    let raw = raw.unwrap_or("");
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .map_err(|e| ApiError::new(Kind::InvalidParameterValue, format!("query string: {e}")))
}

/// Runs a search and renders the ItemCollection with its paging links.
async fn run_search(
    state: Shared,
    headers: &HeaderMap,
    query: SearchQuery,
    self_href: String,
    next: impl Fn(&PageStart) -> Value,
) -> ApiResult<Response> {
    let base = base_url(headers);
    let catalog = state.catalog().clone();
    let q = query.clone();
    let page = blocking(move || catalog.search_stored(&q)).await?;
    let root = stac(&base);
    let mut links = vec![
        link(self_href, "self", GEOJSON, "this page"),
        link(root, "root", JSON, "the catalogue"),
    ];
    if let Some(n) = &page.next {
        links.push(next(n));
    }
    if let Some(p) = &page.prev {
        let mut prev = next(p);
        prev["rel"] = json!("prev");
        links.push(prev);
    }
    let mut out =
        Vec::with_capacity(page.items.iter().map(|i| i.body.len() + 600).sum::<usize>() + 1024);
    out.extend_from_slice(b"{\"type\":\"FeatureCollection\",\"features\":[");
    for (n, item) in page.items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_item(&base, item, &mut out)?;
    }
    out.extend_from_slice(
        format!(
            "],\"numberMatched\":{},\"numberReturned\":{},\"links\":{}}}",
            page.matched,
            page.items.len(),
            Value::Array(links)
        )
        .as_bytes(),
    );
    let mut r = (StatusCode::OK, out).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON));
    Ok(r)
}

fn get_next(href_base: String, pairs: Vec<(String, String)>) -> impl Fn(&PageStart) -> Value {
    move |start| {
        let mut p: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "token")
            .cloned()
            .collect();
        p.push(("token".into(), start.token()));
        let qs = serde_urlencoded::to_string(&p).unwrap_or_default();
        json!({"href": format!("{href_base}?{qs}"), "rel": "next", "type": GEOJSON, "method": "GET"})
    }
}

async fn search_get(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = query_pairs(raw.as_deref())?;
    let query = SearchQuery::from_get(&pairs)?;
    let href = format!("{}/search", stac(&base_url(&headers)));
    let self_href = match &raw {
        Some(r) if !r.is_empty() => format!("{href}?{r}"),
        _ => href.clone(),
    };
    run_search(state, &headers, query, self_href, get_next(href, pairs)).await
}

async fn search_post(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let value = if body.is_empty() {
        json!({})
    } else {
        parse_body(&body, "search")?
    };
    let query = SearchQuery::from_post(&value)?;
    let href = format!("{}/search", stac(&base_url(&headers)));
    let next_href = href.clone();
    run_search(state, &headers, query, href, move |start: &PageStart| {
        let mut b = value.clone();
        b["token"] = json!(start.token());
        json!({"href": next_href, "rel": "next", "type": GEOJSON, "method": "POST", "body": b, "merge": false})
    })
    .await
}

async fn items(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Path(cid): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = query_pairs(raw.as_deref())?;
    if pairs
        .iter()
        .any(|(k, _)| k == "collections" || k == "ids" || k == "intersects")
    {
        return Err(ApiError::new(
            Kind::InvalidParameterValue,
            "collections, ids and intersects are parameters of /search, not of a collection's items",
        ));
    }
    let mut query = SearchQuery::from_get(&pairs)?;
    query.collections = vec![cid.clone()];
    let catalog = state.catalog().clone();
    let c = cid.clone();
    if blocking(move || catalog.collection(&c)).await?.is_none() {
        return Err(hysope_catalog::Error::NoSuchCollection(cid).into());
    }
    let href = format!("{}/collections/{cid}/items", stac(&base_url(&headers)));
    let self_href = match &raw {
        Some(r) if !r.is_empty() => format!("{href}?{r}"),
        _ => href.clone(),
    };
    run_search(state, &headers, query, self_href, get_next(href, pairs)).await
}

async fn timeseries(
    AxState(state): AxState<Shared>,
    Path((kind, id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let kind = match kind.as_str() {
        "reaches" => "reach",
        "nodes" => "node",
        "lakes" => "lake",
        other => {
            return Err(ApiError::new(
                Kind::NotFound,
                format!("no time series of {other:?}: reaches, nodes or lakes"),
            ));
        }
    };
    let pairs = query_pairs(raw.as_deref())?;
    let output = pairs
        .iter()
        .find(|(k, _)| k == "output" || k == "f")
        .map(|(_, v)| v.clone())
        .or_else(|| {
            let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
            accept.contains("text/csv").then(|| "csv".to_string())
        })
        .unwrap_or_else(|| "json".into());
    if output != "json" && output != "csv" {
        return Err(ApiError::new(
            Kind::InvalidParameterValue,
            format!("output: {output:?} is not json or csv"),
        ));
    }
    let query = SeriesQuery::from_params(kind, &id, &pairs)?;
    let catalog = state.catalog().clone();
    let series = blocking(move || query.run(catalog.as_ref())).await?;
    if output == "csv" {
        let mut r = series.to_csv().into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        return Ok(r);
    }
    Ok(json_response(StatusCode::OK, &series.to_json()))
}

/// `POST /stac/ingest {"paths": [...]}`: ingestion by the server that holds the
/// catalogue (operators; `hysope ingest` while the server runs). The local operator
/// (who holds the data folder's secret, so the machine's files) names any path;
/// any other operator names paths inside the input roots and buckets the server
/// reads for its users (`--allow-bucket`) only.
async fn ingest(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let value = parse_body(&body, "ingest request")?;
    let entries: Vec<String> = value["paths"]
        .as_array()
        .ok_or_else(|| ApiError::new(Kind::InvalidBody, "ingest request: no \"paths\" array"))?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let (urls, paths): (Vec<String>, Vec<String>) =
        entries.into_iter().partition(|p| p.starts_with("s3://"));
    let paths: Vec<std::path::PathBuf> = paths.into_iter().map(std::path::PathBuf::from).collect();
    if caller.via != hysope_identity::Via::Local {
        for path in &paths {
            state
                .jobs()
                .check_input_path(path)
                .map_err(|e| ApiError::new(Kind::InvalidParameterValue, format!("ingest: {e}")))?;
        }
        // The buckets the server reads for its users (--allow-bucket), as inputs.
        for url in &urls {
            state
                .jobs()
                .check_egress(url)
                .map_err(|e| ApiError::new(Kind::InvalidParameterValue, format!("ingest: {e}")))?;
        }
    }
    let catalog = state.catalog().clone();
    // Each stored file wakes the production rules at once.
    let waker = state.clone();
    let mut report = blocking(move || {
        hysope_catalog::ingest::ingest_paths(catalog.as_ref(), &paths, |_, _, _, outcome| {
            if matches!(
                outcome,
                hysope_catalog::ingest::Outcome::Stored(
                    hysope_catalog::store::Ingested::New(_)
                        | hysope_catalog::store::Ingested::NewVersion { .. }
                )
            ) {
                waker.wake_rules();
            }
        })
    })
    .await?;
    for url in urls {
        let more = hysope_jobs::fetch::ingest_s3(state.catalog().clone(), &url, |_, _, _| {})
            .await
            .map_err(|e| ApiError::new(Kind::InvalidParameterValue, format!("{url}: {e:#}")))?;
        report.extend(more);
    }
    state.jobs().metrics().ingested(&report.by_outcome());
    if report.stored() > 0 {
        state.rules_wake.notify_one();
    }
    Ok(json_response(StatusCode::OK, &report.to_json()))
}
