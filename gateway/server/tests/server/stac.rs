//! STAC API and time series handlers, called in process: the landing page and its
//! links, search errors that name the parameter, exceptions for missing resources,
//! transactions, time series parameters, and the ingest endpoint's token.

use crate::common;

use axum::http::StatusCode;
use common::{app, call, get, root};
use serde_json::{Value, json};

fn rels(doc: &Value) -> Vec<&str> {
    doc["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn landing_search_items_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = app(dir.path()).await;
    let data = root().join("../shared/data/swot/simulated-cycles");
    let catalog = state.catalog().clone();
    tokio::task::spawn_blocking(move || {
        hysope_catalog::ingest::ingest_paths(catalog.as_ref(), &[data], |_, _, _, _| {})
    })
    .await
    .unwrap()
    .unwrap();

    let landing = get(&app, "/stac").await;
    assert_eq!(landing.status, StatusCode::OK);
    let doc = landing.json();
    assert_eq!(doc["type"], "Catalog");
    for rel in [
        "self",
        "root",
        "conformance",
        "service-desc",
        "data",
        "search",
        "child",
    ] {
        assert!(rels(&doc).contains(&rel), "{rel} missing: {:?}", rels(&doc));
    }
    let search_methods: Vec<&str> = doc["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["rel"] == "search")
        .map(|l| l["method"].as_str().unwrap())
        .collect();
    assert_eq!(search_methods, ["GET", "POST"]);
    assert!(
        get(&app, "/").await.json()["links"]
            .to_string()
            .contains("test.local/stac")
    );

    let page = get(
        &app,
        "/stac/search?limit=3&collections=SWOT_L2_HR_RiverSP_Reach",
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["content-type"], "application/geo+json");
    let page = page.json();
    assert_eq!(page["numberMatched"], 5);
    assert_eq!(page["numberReturned"], 3);
    let next = page["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://test.local")
        .to_string();
    let second = get(&app, &next).await.json();
    assert_eq!(second["numberReturned"], 2);
    let item = &second["features"][0];
    let self_href = item["links"][0]["href"].as_str().unwrap();
    assert!(
        self_href.starts_with("http://test.local/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/")
    );

    // Wrong parameters: 400 with the parameter named.
    for (uri, name) in [
        ("/stac/search?bbox=1,2,3", "bbox"),
        ("/stac/search?datetime=tomorrow", "datetime"),
        ("/stac/search?limit=-1", "limit"),
        ("/stac/search?filter=reach_q%20%3C%3D", "filter"),
        ("/stac/search?token=zzz", "token"),
        ("/stac/search?colections=x", "colections"),
        (
            "/stac/collections/SWOT_L2_HR_RiverSP_Reach/items?ids=a",
            "ids",
        ),
        ("/timeseries/reaches/123", "reach id"),
        ("/timeseries/reaches/74269900011?start_time=x", "start_time"),
        ("/timeseries/reaches/74269900011?output=xml", "output"),
    ] {
        let r = get(&app, uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.text);
        assert!(
            r.json()["detail"].as_str().unwrap().contains(name),
            "{uri}: {}",
            r.text
        );
    }
    let bad_body = call(&app, "POST", "/stac/search", &[], "{\"limit\": \"ten\"}").await;
    assert_eq!(bad_body.status, StatusCode::BAD_REQUEST);
    // Missing things: 404 exceptions.
    for uri in [
        "/stac/collections/nope",
        "/stac/collections/nope/items",
        "/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/nope",
        "/timeseries/rivers/74269900011",
    ] {
        let r = get(&app, uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.json()["status"], 404);
    }
    // The time series of a reach seen five times.
    let ts = get(&app, "/timeseries/reaches/74269900011?fields=wse&quality=0")
        .await
        .json();
    assert_eq!(ts["numberReturned"], 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn transactions_and_ingestion() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = app(dir.path()).await;
    let collection = json!({"type": "Collection", "stac_version": "1.1.0", "id": "mine",
        "description": "d", "license": "other", "links": [],
        "extent": {"spatial": {"bbox": [[0, 0, 1, 1]]}, "temporal": {"interval": [[null, null]]}}});
    let r = call(
        &app,
        "POST",
        "/stac/collections",
        &[],
        &collection.to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let again = call(
        &app,
        "POST",
        "/stac/collections",
        &[],
        &collection.to_string(),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let item = json!({"type": "Feature", "stac_version": "1.1.0", "id": "a",
        "geometry": {"type": "Point", "coordinates": [0.5, 0.5]}, "bbox": [0.5, 0.5, 0.5, 0.5],
        "properties": {"datetime": "2024-05-01T00:00:00Z", "n": 1}, "links": [], "assets": {}});
    let r = call(
        &app,
        "POST",
        "/stac/collections/mine/items",
        &[],
        &item.to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .ends_with("/stac/collections/mine/items/a")
    );
    // Not an item: no datetime.
    let broken = json!({"type": "Feature", "id": "b", "geometry": null, "properties": {}});
    let r = call(
        &app,
        "POST",
        "/stac/collections/mine/items",
        &[],
        &broken.to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("datetime"),
        "{}",
        r.text
    );
    let r = call(
        &app,
        "PATCH",
        "/stac/collections/mine/items/a",
        &[],
        "{\"properties\": {\"n\": 2}}",
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let got = get(&app, "/stac/collections/mine/items/a").await.json();
    assert_eq!(got["properties"]["n"], 2);
    assert_eq!(got["properties"]["datetime"], "2024-05-01T00:00:00Z");
    let found = call(
        &app,
        "POST",
        "/stac/search",
        &[],
        "{\"filter\": \"n = 2\", \"filter-lang\": \"cql2-text\"}",
    )
    .await;
    assert_eq!(found.json()["numberMatched"], 1);
    assert_eq!(
        call(&app, "DELETE", "/stac/collections/mine/items/a", &[], "")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&app, "/stac/collections/mine/items/a").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(state.catalog().item_count().unwrap(), 0);

    // The ingest endpoint needs an operator (here the local one).
    let body = json!({"paths": [root().join("../shared/data/usgs")]}).to_string();
    let r = call(
        &app,
        "POST",
        "/stac/ingest",
        &[("x-test-anonymous", "1")],
        &body,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let token = format!("Bearer {}", state.local_secret());
    let r = call(
        &app,
        "POST",
        "/stac/ingest",
        &[("authorization", token.as_str())],
        &body,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["stored"], 3);
}
