//! The conformance suite of [`CatalogStore`], run by every implementation: the
//! embedded redb store here (`tests/store_suite.rs`), pgstac when it comes. Each case
//! is a function over a fresh, empty store and a scratch folder, on the real files
//! of `../shared/data`: ingestion, re-ingestion and versions, bad files, the search
//! rules and the time series. [`catalog_store_suite!`](crate::catalog_store_suite)
//! declares one test per case (the calling crate needs `tempfile`).

use std::path::{Path, PathBuf};

use crate::ingest::{Outcome, ingest_paths};
use crate::store::Ingested;
use crate::timeseries::SeriesQuery;
use crate::{CatalogStore, SearchQuery};
use serde_json::{Value, json};

/// `../shared/data` beside the project (the real SWOT and USGS files).
pub fn shared_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn search(store: &dyn CatalogStore, list: &[(&str, &str)]) -> crate::Page {
    store
        .search(&SearchQuery::from_get(&pairs(list)).unwrap())
        .unwrap()
}

fn ids(page: &crate::Page) -> Vec<String> {
    page.items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// Ingests every file of `../shared/data`; none may be skipped.
fn ingest_shared(store: &dyn CatalogStore) {
    let report = ingest_paths(store, &[shared_data()], |_, _, _, _| {}).unwrap();
    assert_eq!(report.skipped(), 0, "{:?}", report.files);
}

/// The catalogue store's cases.
pub mod catalog_store {
    use super::*;

    /// Every shared file becomes one item.
    pub fn every_shared_file_becomes_one_item(store: &dyn CatalogStore, _work: &Path) {
        ingest_shared(store);
        // Every SWOT file and the 3 USGS files.
        let swot = std::fs::read_dir(shared_data().join("swot"))
            .unwrap()
            .chain(std::fs::read_dir(shared_data().join("swot/simulated-cycles")).unwrap())
            .filter(|e| e.as_ref().unwrap().path().is_file())
            .count();
        assert_eq!(store.item_count().unwrap() as usize, swot + 3);
        let reaches = search(
            store,
            &[
                ("collections", "SWOT_L2_HR_RiverSP_Reach"),
                ("limit", "100"),
            ],
        );
        assert_eq!(reaches.matched, 6);
        let real = store
            .item(
                "SWOT_L2_HR_RiverSP_Reach",
                "SWOT_L2_HR_RiverSP_Reach_049_058_AU_20260419T185249_20260419T190852_PID0_01",
            )
            .unwrap()
            .unwrap();
        let p = &real["properties"];
        assert_eq!(p["swot:cycle_number"], 49);
        assert_eq!(p["swot:pass_number"], 58);
        assert_eq!(p["swot:feature_count"], 52);
        assert_eq!(p["start_datetime"], "2026-04-19T18:52:49Z");
        let size = std::fs::metadata(shared_data().join(
            "swot/SWOT_L2_HR_RiverSP_Reach_049_058_AU_20260419T185249_20260419T190852_PID0_01.zip",
        ))
        .unwrap()
        .len();
        assert_eq!(real["assets"]["data"]["file:size"], size);
        assert!(
            real["assets"]["data"]["file:checksum"]
                .as_str()
                .unwrap()
                .starts_with("1220")
        );
        // The reaches of this pass lie in the South Island of New Zealand.
        let b: Vec<f64> = real["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(
            b[0] > 166.0 && b[2] < 175.0 && b[1] > -47.0 && b[3] < -40.0,
            "{b:?}"
        );
        let collection = store
            .collection("SWOT_L2_HR_RiverSP_Reach")
            .unwrap()
            .unwrap();
        assert!(
            collection["extent"]["temporal"]["interval"][0][0]
                .as_str()
                .unwrap()
                .starts_with("2010-08-16")
        );
    }

    /// Reingesting is a no op and a changed file is a new version.
    pub fn reingesting_is_a_no_op_and_a_changed_file_is_a_new_version(
        store: &dyn CatalogStore,
        work: &Path,
    ) {
        ingest_shared(store);
        let before = store.item_count().unwrap();
        let again = ingest_paths(store, &[shared_data().join("usgs")], |_, _, _, _| {}).unwrap();
        assert_eq!(again.unchanged(), 3);
        assert_eq!(store.item_count().unwrap(), before);

        let changed = work.join("waterservices_peaks.txt");
        let mut text =
            std::fs::read_to_string(shared_data().join("usgs/waterservices_peaks.txt")).unwrap();
        text.push_str("USGS\t01594440\t2019-01-01\t\t5000\t\t13.00\t\t\t\t\t\t\n");
        std::fs::write(&changed, text).unwrap();
        let report = ingest_paths(store, &[changed], |_, _, _, _| {}).unwrap();
        let Outcome::Stored(Ingested::NewVersion { item, previous }) = &report.files[0].1 else {
            panic!("{:?}", report.files)
        };
        assert_eq!(item, &format!("{previous}.v2"));
        let old = store.item("USGS_NWIS_peaks", previous).unwrap().unwrap();
        assert_eq!(old["properties"]["deprecated"], true);
        let new = store.item("USGS_NWIS_peaks", item).unwrap().unwrap();
        assert_eq!(new["properties"]["end_datetime"], "2019-01-01T00:00:00Z");
    }

    /// The changes after `after` once there are `n` of them: a change may be read
    /// only when no older transaction can still commit (PostgreSQL: every write
    /// transaction of the cluster older than it ended), so it may come a moment
    /// after its commit.
    fn changes_when(store: &dyn CatalogStore, after: &str, n: usize) -> Vec<crate::ItemChange> {
        let started = std::time::Instant::now();
        loop {
            let changes = store.changes(after, 100).unwrap();
            if changes.len() >= n || started.elapsed() > std::time::Duration::from_secs(20) {
                return changes;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// The change feed (issue 24's production rules follow it): one change per
    /// new item and per new version, in commit order, none for a file or a
    /// document stored again unchanged; read from any point.
    pub fn the_change_feed_has_new_items_and_versions_never_repeats(
        store: &dyn CatalogStore,
        work: &Path,
    ) {
        assert!(store.changes("", 10).unwrap().is_empty());
        let usgs = shared_data().join("usgs");
        ingest_paths(store, std::slice::from_ref(&usgs), |_, _, _, _| {}).unwrap();
        let first = changes_when(store, "", 3);
        assert_eq!(first.len(), 3, "{first:?}");
        assert!(
            first.windows(2).all(|w| w[0].position < w[1].position),
            "{first:?}"
        );
        for change in &first {
            assert!(change.collection.starts_with("USGS_NWIS_"), "{change:?}");
            assert_eq!(change.version.len(), 64, "a sha256: {change:?}");
            let item = store.item(&change.collection, &change.item).unwrap();
            assert!(item.is_some(), "{change:?}");
        }
        // The same files again: nothing new.
        ingest_paths(store, std::slice::from_ref(&usgs), |_, _, _, _| {}).unwrap();
        assert_eq!(store.changes("", 100).unwrap(), first);
        // A changed file: a new version, one change naming it.
        let changed = work.join("waterservices_peaks.txt");
        let mut text = std::fs::read_to_string(usgs.join("waterservices_peaks.txt")).unwrap();
        text.push_str("USGS\t01594440\t2019-01-01\t\t5000\t\t13.00\t\t\t\t\t\t\n");
        std::fs::write(&changed, text).unwrap();
        let report = ingest_paths(store, &[changed], |_, _, _, _| {}).unwrap();
        let Outcome::Stored(Ingested::NewVersion { item, .. }) = &report.files[0].1 else {
            panic!("{:?}", report.files)
        };
        let after = changes_when(store, &first[2].position, 1);
        assert_eq!(after.len(), 1, "{after:?}");
        assert_eq!(&after[0].item, item);
        // Documents through the transactions: a new one, the same again, a changed one.
        store
            .put_collection(&json!({"type": "Collection", "id": "fed", "stac_version": "1.0.0",
                "description": "d", "license": "CC0-1.0", "links": [],
                "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[null, null]]}}}))
            .unwrap();
        let mut doc = json!({"type": "Feature", "stac_version": "1.0.0", "id": "a", "collection": "fed",
            "geometry": {"type": "Point", "coordinates": [1.0, 43.0]}, "bbox": [1.0, 43.0, 1.0, 43.0],
            "properties": {"datetime": "2024-01-01T00:00:00Z"}, "links": [], "assets": {}});
        store.put_items(std::slice::from_ref(&doc)).unwrap();
        store.put_items(std::slice::from_ref(&doc)).unwrap();
        doc["properties"]["swot:quality"] = json!(1);
        store.put_items(std::slice::from_ref(&doc)).unwrap();
        let fed = changes_when(store, &after[0].position, 2);
        assert_eq!(fed.len(), 2, "{fed:?}");
        assert!(fed.iter().all(|c| c.collection == "fed" && c.item == "a"));
        assert_ne!(fed[0].version, fed[1].version);
        assert_eq!(store.changes("", 2).unwrap().len(), 2, "a limit");
        assert!(store.changes("not a position", 2).is_err());
    }

    /// Truncated and foreign files are skipped with a reason.
    pub fn truncated_and_foreign_files_are_skipped_with_a_reason(
        store: &dyn CatalogStore,
        work: &Path,
    ) {
        let source = shared_data().join(
            "swot/SWOT_L2_HR_RiverSP_Reach_049_058_AU_20260419T185249_20260419T190852_PID0_01.zip",
        );
        let bytes = std::fs::read(&source).unwrap();
        let input = work.join("in");
        std::fs::create_dir(&input).unwrap();
        std::fs::write(
            input.join(
                "SWOT_L2_HR_RiverSP_Reach_049_058_AU_20260419T185249_20260419T190852_PID0_01.zip",
            ),
            &bytes[..bytes.len() / 2],
        )
        .unwrap();
        std::fs::write(input.join("notes.csv"), "a,b\n1,2\n").unwrap();
        let pixc = "SWOT_L2_HR_PIXC_001_042_067L_20220402T112019_20220402T112029_Dx0000_01.nc";
        let pixc_bytes = std::fs::read(shared_data().join("swot").join(pixc)).unwrap();
        std::fs::write(input.join(pixc), &pixc_bytes[..pixc_bytes.len() / 3]).unwrap();
        std::fs::copy(
            shared_data().join("usgs/waterservices_ratings.txt"),
            input.join("r.txt"),
        )
        .unwrap();
        let report = ingest_paths(store, &[input], |_, _, _, _| {}).unwrap();
        assert_eq!(report.skipped(), 3, "{:?}", report.files);
        assert_eq!(report.stored(), 1);
        for (path, outcome) in &report.files {
            if let Outcome::Skipped(why) = outcome {
                let name = path.file_name().unwrap().to_str().unwrap();
                assert!(why.contains(name), "{why}");
                if name == pixc {
                    // The HDF5 superblock's end-of-file address tells a cut file apart.
                    assert!(why.contains("truncated"), "{why}");
                }
            }
        }
    }

    /// Search rules.
    pub fn search_rules(store: &dyn CatalogStore, _work: &Path) {
        ingest_shared(store);
        let total = store.item_count().unwrap();
        // Paging: every item once, in pages of 4.
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = search(store, &[("limit", "4"), ("token", &token)]);
            assert_eq!(page.matched, total);
            seen.extend(ids(&page));
            match page.next {
                Some(n) => token = n.token(),
                None => break,
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len() as u64, total);
        // bbox over Oceania: the two real AU-continent products.
        let au = search(store, &[("bbox", "110,-50,180,0")]);
        assert_eq!(au.matched, 2, "{:?}", ids(&au));
        // datetime: the 10 simulated 2010 files, and the USGS peaks table whose years span 2010.
        let y2010 = search(
            store,
            &[("datetime", "2010-01-01T00:00:00Z/2010-12-31T23:59:59Z")],
        );
        assert_eq!(y2010.matched, 11);
        // CQL2 text: reach files with at least one usable reach; unknown quality is not a match.
        let good = search(
            store,
            &[("filter", "reach_q <= 1"), ("filter-lang", "cql2-text")],
        );
        assert_eq!(good.matched, 6);
        let none = search(store, &[("filter", "reach_q > 1")]);
        assert_eq!(none.matched, 0);
        let cycle = search(
            store,
            &[(
                "filter",
                "\"swot:cycle_number\" = 2 AND \"swot:feature_kind\" = 'Reach'",
            )],
        );
        assert_eq!(cycle.matched, 2);
        // Sort by datetime, descending: the newest first.
        let newest = search(store, &[("sortby", "-datetime"), ("limit", "1")]);
        assert_eq!(newest.items[0]["properties"]["swot:cycle_number"], 49);
        // Sort by a property.
        let by_pass = search(
            store,
            &[
                ("sortby", "+swot:pass_number"),
                ("collections", "SWOT_L2_HR_RiverSP_Node"),
                ("limit", "10"),
            ],
        );
        let passes: Vec<i64> = by_pass
            .items
            .iter()
            .map(|i| i["properties"]["swot:pass_number"].as_i64().unwrap())
            .collect();
        assert_eq!(passes, [51, 51, 51, 372, 372]);
        // Fields.
        let slim = search(
            store,
            &[("fields", "properties.swot:cycle_number"), ("limit", "1")],
        );
        assert_eq!(slim.items[0]["properties"].as_object().unwrap().len(), 1);
        // POST with CQL2 JSON and the query extension.
        let post = store
            .search(
                &SearchQuery::from_post(&json!({
                    "filter": {"op": "=", "args": [{"property": "swot:feature_kind"}, "Prior"]},
                    "filter-lang": "cql2-json",
                    "query": {"swot:observed_count": {"gt": 100}}
                }))
                .unwrap(),
            )
            .unwrap();
        assert_eq!(post.matched, 1);
    }

    /// Reach time series across cycles.
    pub fn reach_time_series_across_cycles(store: &dyn CatalogStore, _work: &Path) {
        ingest_shared(store);
        // The first reach of the simulated files, seen by passes 51 (cycles 1-3) and 372 (cycles 1-2).
        let item = store
            .item(
                "SWOT_L2_HR_RiverSP_Reach",
                "SWOT_L2_HR_RiverSP_Reach_1_51_NA_20100816T184024_20100816T184031_PGA2_03",
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            item["properties"]["swot:observed_count"],
            item["properties"]["swot:feature_count"]
        );
        let all = store.observations("reach", "", None, None).unwrap();
        assert!(all.is_empty());
        let series = |params: &[(&str, &str)], id: &str| {
            SeriesQuery::from_params("reach", id, &pairs(params))
                .unwrap()
                .run(store)
                .unwrap()
        };
        let ts = series(&[("fields", "wse,width,reach_q")], "74269900011");
        let json = ts.to_json();
        if ts.rows.is_empty() {
            panic!("no observations for the sample reach: {json}");
        }
        assert_eq!(ts.rows.len(), 5, "{json}");
        let times: Vec<&str> = ts.rows.iter().map(|o| o.time.as_str()).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        let csv = ts.to_csv();
        assert!(
            csv.starts_with("reach_id,time,wse,width,reach_q,item\n"),
            "{csv}"
        );
        assert_eq!(csv.lines().count(), 6);
        // Bad ids and times are refused with their name.
        let err = SeriesQuery::from_params("reach", "12", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("11 digits"), "{err}");
        let err =
            SeriesQuery::from_params("reach", "74269900011", &pairs(&[("start_time", "soon")]))
                .unwrap_err()
                .to_string();
        assert!(err.contains("start_time"), "{err}");
        // A time range keeps the rows inside it; a quality threshold drops unknown quality.
        let two = series(&[("start_time", "2010-09-01T00:00:00Z")], "74269900011");
        assert_eq!(two.rows.len(), 3);
        let strict = series(&[("quality", "-1")], "74269900011");
        assert_eq!((strict.rows.len(), strict.dropped_by_quality), (0, 5));
        let rows: &Vec<Value> = json["observations"].as_array().unwrap();
        assert!(
            rows.iter()
                .all(|r| r["wse"].is_number() || r["wse"].is_null())
        );
    }

    /// The reaches, nodes and lakes of the products as features: every one with
    /// its geometry, fills as nulls, pages by box and id, nodes by reach, names.
    pub fn features_of_the_shared_products(store: &dyn CatalogStore, _work: &Path) {
        use crate::features::{FeatureQuery, check_id};
        ingest_shared(store);
        // The reach ids of every reach file, read here from the files themselves.
        let mut expected = std::collections::BTreeSet::new();
        let mut named = std::collections::BTreeMap::<String, Vec<String>>::new();
        for dir in [
            shared_data().join("swot"),
            shared_data().join("swot/simulated-cycles"),
        ] {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_str().unwrap().to_string();
                if !name.contains("RiverSP_Reach") {
                    continue;
                }
                let layer = hysope_swot::read_zip(&std::fs::read(&path).unwrap(), &name).unwrap();
                for f in &layer.features {
                    let id = f
                        .get("reach_id")
                        .and_then(Value::as_str)
                        .unwrap()
                        .to_string();
                    if let Some(n) = f.get("river_name").and_then(Value::as_str) {
                        if n != "no_data" {
                            named.entry(n.to_string()).or_default().push(id.clone());
                        }
                    }
                    expected.insert(id);
                }
            }
        }
        let now = crate::search::micros("2026-12-01T00:00:00Z").unwrap();
        let query = |collection: &str, list: &[(&str, &str)]| {
            FeatureQuery::from_params(collection, &pairs(list), now).unwrap()
        };
        let all = store
            .features(&query("reaches", &[("limit", "10000")]))
            .unwrap();
        assert_eq!(all.matched, Some(expected.len() as u64));
        let all_features = all.to_values();
        let got: Vec<&str> = all_features
            .iter()
            .map(|f| f["id"].as_str().unwrap())
            .collect();
        assert_eq!(got, expected.iter().map(String::as_str).collect::<Vec<_>>());
        for f in &all_features {
            let kind = f["geometry"]["type"].as_str().unwrap_or_default();
            assert!(kind.contains("LineString"), "{f}");
            let p = &f["properties"];
            check_id("reach", p["reach_id"].as_str().unwrap()).unwrap();
            for key in [
                "wse",
                "wse_median",
                "wse_anomaly",
                "days_since_last_observation",
            ] {
                // Fills are nulls, never -999999999999.
                assert!(
                    p[key].is_null() || p[key].as_f64().unwrap() > -1.0e6,
                    "{key}: {f}"
                );
            }
        }
        // The simulated reach seen in five passes, all of them usable or not.
        let sample = store.feature("reach", "74269900011", now).unwrap().unwrap();
        assert_eq!(sample["properties"]["passes"], json!(5), "{sample}");
        assert!(
            store
                .feature("reach", "00000000001", now)
                .unwrap()
                .is_none()
        );
        // Pages of 7 inside a box, in id order, each feature meeting the box.
        let first = &all_features[0];
        let b: Vec<f64> = first["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let text = format!(
            "{},{},{},{}",
            b[0] - 1.0,
            b[1] - 1.0,
            b[2] + 1.0,
            b[3] + 1.0
        );
        let (mut seen, mut after, mut matched) = (Vec::new(), None::<String>, None);
        loop {
            let mut params = vec![("bbox", text.as_str()), ("limit", "7")];
            if let Some(a) = &after {
                params.push(("after", a.as_str()));
            }
            let page = store.features(&query("reaches", &params)).unwrap();
            matched = matched.or(page.matched);
            assert_eq!(page.matched, matched);
            seen.extend(
                page.to_values()
                    .iter()
                    .map(|f| f["id"].as_str().unwrap().to_string()),
            );
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert!(seen.contains(&first["id"].as_str().unwrap().to_string()));
        assert_eq!(Some(seen.len() as u64), matched);
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        // A CQL2 filter on the summary: every feature it returns satisfies it.
        let high = store
            .features(&query(
                "reaches",
                &[("filter", "wse > 100 AND quality <= 1"), ("limit", "10000")],
            ))
            .unwrap();
        assert!(!high.features.is_empty());
        for f in &high.to_values() {
            assert!(f["properties"]["wse"].as_f64().unwrap() > 100.0, "{f}");
            assert!(f["properties"]["quality"].as_i64().unwrap() <= 1, "{f}");
        }
        // Without geometries (a map's dots): the same features, each with its box.
        let bare = store
            .features(&query(
                "reaches",
                &[("limit", "10000"), ("skipGeometry", "true")],
            ))
            .unwrap()
            .to_values();
        assert_eq!(bare.len(), all_features.len());
        for (b, f) in bare.iter().zip(&all_features) {
            assert_eq!(
                (&b["id"], &b["bbox"], &b["properties"]),
                (&f["id"], &f["bbox"], &f["properties"])
            );
            assert!(b["geometry"].is_null(), "{b}");
        }
        // The nodes of a reach, each naming it.
        let nodes = store
            .features(&query(
                "nodes",
                &[("reach", "74269900011"), ("limit", "1000")],
            ))
            .unwrap();
        assert!(!nodes.features.is_empty());
        for n in &nodes.to_values() {
            assert_eq!(n["properties"]["reach_id"], json!("74269900011"), "{n}");
            assert_eq!(n["geometry"]["type"], json!("Point"));
        }
        // The lakes of the Prior file that it draws (611 of its 723 lakes were not
        // observed and have no polygon: they are no feature until a product draws them).
        let lakes = store.features(&query("lakes", &[("limit", "1")])).unwrap();
        assert_eq!(lakes.matched, Some(112));
        assert_eq!(lakes.to_values()[0]["geometry"]["type"], json!("Polygon"));
        // A river by a prefix of its name, any word, in any case.
        let (name, ids) = named.iter().next().expect("a named reach in the real file");
        let word = name.split(' ').next().unwrap();
        let hits = store
            .feature_names(&word[..3].to_uppercase(), &["reach", "lake"], 10)
            .unwrap();
        let hit = hits
            .iter()
            .find(|h| &h.name == name)
            .expect("the name found");
        let mut ids = ids.clone();
        ids.sort();
        ids.dedup();
        assert_eq!(hit.ids, ids);
        assert_eq!(hit.kind, "reach");
    }
}

/// Declares the catalogue store suite's tests; `$make` is an expression giving
/// `(guard, store)`, a fresh empty store and what keeps it alive (a folder).
#[macro_export]
macro_rules! catalog_store_suite {
    ($make:expr) => {
        mod catalog_store_suite {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance::catalog_store as case;

            #[test]
            fn every_shared_file_becomes_one_item() {
                let (_guard, store) = $make;
                let work = tempfile::tempdir().unwrap();
                case::every_shared_file_becomes_one_item(&store, work.path());
            }
            #[test]
            fn reingesting_is_a_no_op_and_a_changed_file_is_a_new_version() {
                let (_guard, store) = $make;
                let work = tempfile::tempdir().unwrap();
                case::reingesting_is_a_no_op_and_a_changed_file_is_a_new_version(
                    &store,
                    work.path(),
                );
            }
            #[test]
            fn the_change_feed_has_new_items_and_versions_never_repeats() {
                let (_guard, store) = $make;
                let work = tempfile::tempdir().unwrap();
                case::the_change_feed_has_new_items_and_versions_never_repeats(&store, work.path());
            }
            #[test]
            fn truncated_and_foreign_files_are_skipped_with_a_reason() {
                let (_guard, store) = $make;
                let work = tempfile::tempdir().unwrap();
                case::truncated_and_foreign_files_are_skipped_with_a_reason(&store, work.path());
            }
            #[test]
            fn search_rules() {
                let (_guard, store) = $make;
                let work = tempfile::tempdir().unwrap();
                case::search_rules(&store, work.path());
            }
            #[test]
            fn features_of_the_shared_products() {
                let (_guard, store) = $make;
                let work = tempfile::tempdir().unwrap();
                case::features_of_the_shared_products(&store, work.path());
            }
            #[test]
            fn reach_time_series_across_cycles() {
                let (_guard, store) = $make;
                let work = tempfile::tempdir().unwrap();
                case::reach_time_series_across_cycles(&store, work.path());
            }
        }
    };
}
