//! `/features` (OGC API - Features of the SWOT reaches, nodes and lakes) through
//! the requests QGIS's OAPIF provider sends, with its Accept headers: landing page,
//! conformance, collection, queryables, items with `limit=1`, `limit=10`,
//! `limit=1000` and a `bbox`, following `next` links; and the name search.

use crate::common;

use axum::http::StatusCode;
use common::{app, call, get, root};
use serde_json::Value;

const ACCEPT_JSON: (&str, &str) = ("accept", "application/json");
const ACCEPT_ITEMS: (&str, &str) = ("accept", "application/geo+json, application/json");
const ACCEPT_SCHEMA: (&str, &str) = ("accept", "application/schema+json");

fn href<'a>(doc: &'a Value, rel: &str) -> Option<&'a str> {
    doc["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .and_then(|l| l["href"].as_str())
}

fn local(url: &str) -> String {
    url.trim_start_matches("http://test.local").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn qgis_reads_the_reaches_pages_them_by_box_and_finds_a_river_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = app(dir.path()).await;
    let swot = root().join("../shared/data/swot");
    let data: Vec<_> = std::fs::read_dir(&swot)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(".zip"))
        .collect();
    assert_eq!(
        data.len(),
        2,
        "the real RiverSP reach and LakeSP Prior files"
    );
    let catalog = state.catalog().clone();
    tokio::task::spawn_blocking(move || {
        hysope_catalog::ingest::ingest_paths(catalog.as_ref(), &data, |_, _, _, _| {})
    })
    .await
    .unwrap()
    .unwrap();

    // The landing page, as QGIS asks for it, and the links it follows.
    let landing = call(&app, "GET", "/features", &[ACCEPT_JSON], "").await;
    assert_eq!(landing.status, StatusCode::OK, "{}", landing.text);
    let landing = landing.json();
    let conformance = call(
        &app,
        "GET",
        &local(href(&landing, "conformance").unwrap()),
        &[ACCEPT_JSON],
        "",
    )
    .await
    .json();
    let classes = conformance["conformsTo"].to_string();
    assert!(
        classes.contains("ogcapi-features-1/1.0/conf/core"),
        "{classes}"
    );
    assert!(
        classes.contains("ogcapi-features-1/1.0/conf/geojson"),
        "{classes}"
    );
    let collections = call(
        &app,
        "GET",
        &local(href(&landing, "data").unwrap()),
        &[ACCEPT_JSON],
        "",
    )
    .await
    .json();
    let ids: Vec<&str> = collections["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["reaches", "nodes", "lakes"]);
    let reaches = call(
        &app,
        "GET",
        "/features/collections/reaches",
        &[ACCEPT_JSON],
        "",
    )
    .await
    .json();
    assert_eq!(reaches["itemType"], "feature");
    assert_eq!(
        reaches["crs"][0],
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    );
    let items_url = local(href(&reaches, "items").unwrap());
    let queryables = call(
        &app,
        "GET",
        "/features/collections/reaches/queryables",
        &[ACCEPT_SCHEMA],
        "",
    )
    .await;
    assert_eq!(
        queryables.headers["content-type"],
        "application/schema+json"
    );
    assert!(queryables.json()["properties"]["wse_anomaly"].is_object());

    // limit=1 for the count, limit=10 for the fields, limit=1000 for the layer.
    let one = call(
        &app,
        "GET",
        &format!("{items_url}?limit=1"),
        &[ACCEPT_ITEMS],
        "",
    )
    .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.headers["content-type"], "application/geo+json");
    let one = one.json();
    assert_eq!(one["type"], "FeatureCollection");
    assert_eq!(
        one["numberMatched"], 52,
        "the 52 reaches of the real RiverSP file"
    );
    assert_eq!(one["numberReturned"], 1);
    let first = &one["features"][0];
    assert_eq!(first["type"], "Feature");
    assert!(
        first["geometry"]["type"]
            .as_str()
            .unwrap()
            .contains("LineString")
    );
    let props = &first["properties"];
    for key in [
        "reach_id",
        "river_name",
        "wse",
        "wse_anomaly",
        "days_since_last_observation",
        "quality",
    ] {
        assert!(props.get(key).is_some(), "{key} missing: {props}");
    }
    let all = call(
        &app,
        "GET",
        &format!("{items_url}?limit=1000"),
        &[ACCEPT_ITEMS],
        "",
    )
    .await
    .json();
    let features = all["features"].as_array().unwrap();
    assert_eq!(features.len(), 52);
    assert!(href(&all, "next").is_none());
    // Fills never as numbers: a null or a real elevation.
    for f in features {
        let wse = &f["properties"]["wse"];
        assert!(wse.is_null() || wse.as_f64().unwrap() > -1000.0, "{f}");
    }

    // A box around part of the river, paged by 5 through the next links.
    let bbox = &features[10]["bbox"];
    let b: Vec<f64> = bbox
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let box_text = format!(
        "{},{},{},{}",
        b[0] - 0.2,
        b[1] - 0.2,
        b[2] + 0.2,
        b[3] + 0.2
    );
    let mut url = format!("{items_url}?limit=5&bbox={box_text}");
    let (mut seen, mut matched) = (Vec::<String>::new(), None);
    loop {
        let page = call(&app, "GET", &url, &[ACCEPT_ITEMS], "").await;
        assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.text);
        let page = page.json();
        matched = matched.or(page["numberMatched"].as_u64());
        for f in page["features"].as_array().unwrap() {
            let fb: Vec<f64> = f["bbox"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert!(
                fb[2] >= b[0] - 0.2
                    && fb[0] <= b[2] + 0.2
                    && fb[3] >= b[1] - 0.2
                    && fb[1] <= b[3] + 0.2,
                "{f}"
            );
            seen.push(f["id"].as_str().unwrap().to_string());
        }
        match href(&page, "next") {
            Some(next) => url = local(next),
            None => break,
        }
    }
    assert!(seen.contains(&features[10]["id"].as_str().unwrap().to_string()));
    assert_eq!(Some(seen.len() as u64), matched);
    assert!(seen.len() < 52);

    // One feature, with a link to its time series.
    let id = features[10]["id"].as_str().unwrap();
    let one = call(
        &app,
        "GET",
        &format!("{items_url}/{id}"),
        &[ACCEPT_ITEMS],
        "",
    )
    .await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(
        href(&one.json(), "related")
            .unwrap()
            .ends_with(&format!("/timeseries/reaches/{id}"))
    );

    // A river by the start of its name.
    let name = features
        .iter()
        .find_map(|f| f["properties"]["river_name"].as_str())
        .expect("a named reach")
        .to_string();
    let prefix: String = name.chars().take(3).collect();
    let found = get(
        &app,
        &format!("/features/names?q={}", prefix.to_lowercase()),
    )
    .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    let found = found.json();
    let hit = found["names"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name.as_str())
        .unwrap_or_else(|| panic!("{name} not found: {found}"));
    let expected = features
        .iter()
        .filter(|f| {
            f["properties"]["river_name"]
                .as_str()
                .is_some_and(|n| n.split("; ").any(|p| p == name))
        })
        .count();
    assert_eq!(hit["count"], expected);
    assert_eq!(hit["collection"], "reaches");

    // Wrong requests: 400 naming the parameter, 404 for what is not there.
    for (uri, name) in [
        ("/features/collections/reaches/items?bbox=1,2,3", "bbox"),
        ("/features/collections/reaches/items?limit=0", "limit"),
        (
            "/features/collections/reaches/items?filter=wse%20%3E",
            "filter",
        ),
        ("/features/collections/reaches/items?colour=red", "colour"),
        (
            "/features/collections/reaches/items?limit=1&limit=2",
            "limit",
        ),
        (
            "/features/collections/reaches/items?bbox-crs=EPSG:3857",
            "bbox-crs",
        ),
        ("/features/collections/reaches/items/123", "11 digits"),
        ("/features/names?q=a", "q"),
        ("/features/names?q=grey&kind=river", "kind"),
    ] {
        let r = get(&app, uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.text);
        assert!(
            r.json()["detail"].as_str().unwrap().contains(name),
            "{uri}: {}",
            r.text
        );
    }
    for uri in [
        "/features/collections/rivers",
        "/features/collections/rivers/items",
        "/features/collections/reaches/items/00000000001",
    ] {
        let r = get(&app, uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {}", r.text);
    }
}

/// Copies a shared RiverSP reach file into `dir` and ingests the copy; its path.
async fn ingest_a_copy(state: &hysope_server::State, dir: &std::path::Path) -> std::path::PathBuf {
    let file = std::fs::read_dir(root().join("../shared/data/swot"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_str().unwrap().contains("RiverSP_Reach"))
        .unwrap();
    let copy = dir.join(file.file_name().unwrap());
    std::fs::copy(&file, &copy).unwrap();
    let catalog = state.catalog().clone();
    let path = copy.clone();
    tokio::task::spawn_blocking(move || {
        hysope_catalog::ingest::ingest_paths(catalog.as_ref(), &[path], |_, _, _, _| {})
    })
    .await
    .unwrap()
    .unwrap();
    copy
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ingested_file_is_downloaded_by_http_whole_or_by_range_never_by_its_path() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = app(dir.path()).await;
    // A copy of the file, to change and remove later.
    let copy = ingest_a_copy(&state, dir.path()).await;
    let bytes = std::fs::read(&copy).unwrap();

    // Searches and the item give an HTTP link of this server, never the path.
    let page = get(&app, "/stac/search?collections=SWOT_L2_HR_RiverSP_Reach").await;
    assert!(!page.text.contains("file://"), "{}", page.text);
    let item = &page.json()["features"][0];
    let href = item["assets"]["data"]["href"].as_str().unwrap().to_string();
    let id = item["id"].as_str().unwrap();
    assert_eq!(
        href,
        format!(
            "http://test.local/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/{id}/assets/data"
        )
    );
    let one = get(
        &app,
        &format!("/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/{id}"),
    )
    .await;
    assert!(
        !one.text.contains("file://") && one.text.contains(&href),
        "{}",
        one.text
    );

    // The whole file, its length, ETag and digest from the ingestion's checksum.
    let uri = local(&href);
    let whole = get(&app, &uri).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.headers["accept-ranges"], "bytes");
    assert_eq!(whole.headers["content-type"], "application/zip");
    assert_eq!(
        whole.headers["content-length"],
        bytes.len().to_string().as_str()
    );
    let digest = sha2::Sha256::digest(&bytes);
    let etag = format!("\"sha256-{}\"", hex::encode(digest));
    assert_eq!(whole.headers["etag"], etag.as_str());
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
    assert_eq!(
        whole.headers["repr-digest"],
        format!("sha-256=:{b64}:").as_str()
    );
    // A range, a suffix, beyond the end, a conditional request, HEAD.
    let part = call(&app, "GET", &uri, &[("range", "bytes=100-199")], "").await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers["content-range"],
        format!("bytes 100-199/{}", bytes.len()).as_str()
    );
    assert_eq!(part.headers["content-length"], "100");
    let tail = call(&app, "GET", &uri, &[("range", "bytes=-22")], "").await;
    assert_eq!(tail.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        tail.headers["content-range"],
        format!(
            "bytes {}-{}/{}",
            bytes.len() - 22,
            bytes.len() - 1,
            bytes.len()
        )
        .as_str()
    );
    // The end of a zip is its end-of-central-directory record, text-safe up to its signature.
    assert!(
        tail.text.as_bytes().starts_with(b"PK\x05\x06"),
        "{:?}",
        &tail.text.as_bytes()[..4]
    );
    let beyond = call(
        &app,
        "GET",
        &uri,
        &[("range", &format!("bytes={}-", bytes.len()))],
        "",
    )
    .await;
    assert_eq!(beyond.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        beyond.headers["content-range"],
        format!("bytes */{}", bytes.len()).as_str()
    );
    let same = call(&app, "GET", &uri, &[("if-none-match", &etag)], "").await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    let head = call(&app, "HEAD", &uri, &[], "").await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(
        head.headers["content-length"],
        bytes.len().to_string().as_str()
    );
    assert!(head.text.is_empty());

    // No such asset or item: 404. The file gone: 410; changed: 409.
    for bad in [
        format!("/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/{id}/assets/thumbnail"),
        "/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/nope/assets/data".to_string(),
    ] {
        assert_eq!(get(&app, &bad).await.status, StatusCode::NOT_FOUND, "{bad}");
    }
    std::fs::write(&copy, [bytes.as_slice(), b"more"].concat()).unwrap();
    let changed = get(&app, &uri).await;
    assert_eq!(changed.status, StatusCode::CONFLICT, "{}", changed.text);
    assert!(
        changed.json()["detail"]
            .as_str()
            .unwrap()
            .contains("ingest it again")
    );
    std::fs::remove_file(&copy).unwrap();
    let gone = get(&app, &uri).await;
    assert_eq!(gone.status, StatusCode::GONE, "{}", gone.text);
    assert!(
        !gone.text.contains(dir.path().to_str().unwrap()),
        "the path never leaves: {}",
        gone.text
    );
}

/// Executes `swot-river-filter` synchronously with `inputs`.
async fn run_filter(app: &axum::Router, inputs: Value) -> common::Reply {
    let body = serde_json::json!({ "inputs": inputs });
    call(
        app,
        "POST",
        "/processes/swot-river-filter/execution",
        &[("content-type", "application/json")],
        &body.to_string(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catalogued_file_is_a_process_input_by_its_download_link() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = app(dir.path()).await;
    // Outside every input root: the catalogue took it in, so it is the server's own.
    ingest_a_copy(&state, dir.path()).await;
    let page = get(&app, "/stac/search?collections=SWOT_L2_HR_RiverSP_Reach").await;
    let item = page.json()["features"][0].clone();
    let id = item["id"].as_str().unwrap().to_string();
    let href = item["assets"]["data"]["href"].as_str().unwrap().to_string();

    // By the link a search gives (absolute) and by the route alone (relative).
    for given in [href.clone(), local(&href)] {
        let r = run_filter(
            &app,
            serde_json::json!({"product": {"href": given}, "max_reach_q": 1}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{given}: {}", r.text);
        let summary = get(&app, &local(r.json()["summary"]["href"].as_str().unwrap())).await;
        assert!(
            summary.json()["kept"].as_u64().unwrap() > 0,
            "{}",
            summary.text
        );
        // The result item says which catalogue item it came from.
        let job = r.headers["link"]
            .to_str()
            .unwrap()
            .split("/jobs/")
            .nth(1)
            .unwrap()
            .split('>')
            .next()
            .unwrap()
            .to_string();
        let result = get(&app, &format!("/stac/collections/results/items/{job}")).await;
        assert_eq!(result.status, StatusCode::OK, "{}", result.text);
        let links = result.json()["links"].clone();
        let from: Vec<&Value> = links
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["rel"] == "derived_from")
            .collect();
        assert_eq!(from.len(), 1, "{}", result.text);
        assert_eq!(
            from[0]["href"],
            format!("http://test.local/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/{id}")
                .as_str(),
            "{}",
            result.text
        );
    }

    // Routes of the catalogue that name no file, and a path outside the input roots.
    for (given, says) in [
        (
            format!("/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/{id}/assets/nothing"),
            "names no file of the catalogue",
        ),
        (
            "/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/unknown/assets/data".to_string(),
            "names no file of the catalogue",
        ),
        ("/etc/passwd".to_string(), "outside the allowed input roots"),
    ] {
        let r = run_filter(&app, serde_json::json!({"product": {"href": given}})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{given}: {}", r.text);
        assert!(
            r.json()["detail"].as_str().unwrap().contains(says) && r.text.contains("product"),
            "{given}: {}",
            r.text
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn skip_geometry_leaves_the_boxes_and_a_wrong_value_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = app(dir.path()).await;
    ingest_a_copy(&state, dir.path()).await;
    let page = get(
        &app,
        "/features/collections/reaches/items?limit=5&skipGeometry=true",
    )
    .await
    .json();
    let features = page["features"].as_array().unwrap();
    assert_eq!(features.len(), 5);
    for f in features {
        assert!(f["geometry"].is_null(), "{f}");
        assert_eq!(f["bbox"].as_array().unwrap().len(), 4, "{f}");
    }
    let bad = get(&app, "/features/collections/reaches/items?skipGeometry=yes").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.json()["detail"]
            .as_str()
            .unwrap()
            .contains("skipGeometry: expected true or false")
    );
}
