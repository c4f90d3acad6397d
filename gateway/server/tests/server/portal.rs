//! The portal's files over HTTP: the page shell for every page path, versioned
//! assets cached for a year, ETags, gzip, the portal's content security policy,
//! anonymous reads, and a browser's visit of `/` sent to the portal.

use crate::common;

use axum::http::StatusCode;
use common::{app, call, get, raw};

const ANONYMOUS: (&str, &str) = ("x-test-anonymous", "1");

#[tokio::test(flavor = "multi_thread")]
async fn the_portal_is_served_with_its_cache_rules_and_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _state) = app(dir.path()).await;
    let build = hysope_server::portal::load().build().to_string();

    let bare = call(&app, "GET", "/portal", &[ANONYMOUS], "").await;
    assert_eq!(bare.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(bare.headers["location"], "/portal/");

    for page in ["/portal/", "/portal/map", "/portal/reaches/57203000041"] {
        let shell = call(&app, "GET", page, &[ANONYMOUS], "").await;
        assert_eq!(shell.status, StatusCode::OK, "{page}");
        assert_eq!(shell.headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(shell.headers["cache-control"], "no-cache");
        assert!(
            shell
                .text
                .contains(&format!("/portal/assets/{build}/app/main.js")),
            "{}",
            shell.text
        );
        let csp = shell.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';") && csp.contains("connect-src 'self'"));
        assert!(!csp.contains("unsafe-eval"));
    }

    // An asset of this build: a year; by an older build's name: not kept.
    let main = format!("/portal/assets/{build}/app/main.js");
    let asset = get(&app, &main).await;
    assert_eq!(asset.status, StatusCode::OK);
    assert_eq!(
        asset.headers["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        asset.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let old = get(&app, "/portal/assets/0123456789abcdef/app/main.js").await;
    assert_eq!(old.status, StatusCode::OK);
    assert_eq!(old.headers["cache-control"], "no-cache");
    assert_eq!(old.text, asset.text);

    // Revalidation.
    let etag = asset.headers["etag"].to_str().unwrap().to_string();
    let again = call(&app, "GET", &main, &[("if-none-match", &etag)], "").await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.text.is_empty());

    // Compressed for a client that takes it.
    let lib = format!("/portal/assets/{build}/vendor/maplibre-gl/dist/maplibre-gl.mjs");
    let plain = get(&app, &lib).await;
    let gzip = call(&app, "GET", &lib, &[("accept-encoding", "gzip, br")], "").await;
    assert_eq!(gzip.headers["content-encoding"], "gzip");
    assert_eq!(gzip.headers["vary"], "Accept-Encoding");
    let (full, packed): (usize, usize) = (
        plain.headers["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap(),
        gzip.headers["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap(),
    );
    assert!(packed * 3 < full, "{packed} of {full}");

    // What is not a file of the portal: 404 saying what.
    for missing in [
        format!("/portal/assets/{build}/app/nothing.js"),
        format!("/portal/assets/{build}/../../Cargo.toml"),
        "/portal/assets/".to_string(),
        "/portal/favicon.ico".to_string(),
    ] {
        let r = get(&app, &missing).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{missing}");
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .contains("no portal file"),
            "{}",
            r.text
        );
    }

    // A browser at the server's address lands on the portal; the landing page
    // stays as JSON, and as HTML with f=html.
    let browser = call(
        &app,
        "GET",
        "/",
        &[
            ANONYMOUS,
            ("accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
        ],
        "",
    )
    .await;
    assert_eq!(browser.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.headers["location"], "/portal/");
    let html = call(&app, "GET", "/?f=html", &[ANONYMOUS], "").await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.text.contains("/portal/"));
    let json = get(&app, "/").await.json();
    assert!(
        json["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["href"] == "http://test.local/portal/" && l["type"] == "text/html")
    );
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn api_documents_go_gzipped_to_clients_that_take_them_and_downloads_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = app(dir.path()).await;
    let zip = common::root().join(
        "../shared/data/swot/SWOT_L2_HR_RiverSP_Reach_049_058_AU_20260419T185249_20260419T190852_PID0_01.zip",
    );
    let catalog = state.catalog().clone();
    tokio::task::spawn_blocking(move || {
        hysope_catalog::ingest::ingest_paths(catalog.as_ref(), &[zip], |_, _, _, _| {})
    })
    .await
    .unwrap()
    .unwrap();
    let gzip = [("accept-encoding", "gzip")];
    for uri in [
        "/features/collections/reaches/items?limit=100",
        "/timeseries/reaches?bbox=170,-45,175,-40&f=csv",
        "/stac/search?limit=50",
    ] {
        let (status, plain_headers, plain) = raw(&app, "GET", uri, &[], "").await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(!plain_headers.contains_key("content-encoding"), "{uri}");
        let (status, headers, packed) = raw(&app, "GET", uri, &gzip, "").await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(headers["content-encoding"], "gzip", "{uri}");
        eprintln!("{uri}: {} of {}", packed.len(), plain.len());
        assert!(
            packed.len() * 3 < plain.len() * 2,
            "{uri}: {} of {}",
            packed.len(),
            plain.len()
        );
        let unpacked = gunzip(&packed);
        if uri.starts_with("/stac") || uri.starts_with("/features") {
            // Documents with a time stamp: compare them without it.
            let strip = |b: &[u8]| {
                let mut v: serde_json::Value = serde_json::from_slice(b).unwrap();
                v.as_object_mut().unwrap().remove("timeStamp");
                v
            };
            assert_eq!(strip(&unpacked), strip(&plain), "{uri}");
        } else {
            assert_eq!(unpacked, plain, "{uri}");
        }
    }
    // A download keeps its bytes as stored (its ETag and ranges name them).
    let page = get(&app, "/stac/search?limit=50").await.json();
    let href = page["features"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["assets"].as_object().unwrap().values())
        .filter_map(|a| a["href"].as_str())
        .find(|h| h.contains("/assets/"))
        .expect("a download link")
        .trim_start_matches("http://test.local")
        .to_string();
    let (status, headers, _) = raw(&app, "GET", &href, &gzip, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key("content-encoding"), "{headers:?}");
}
