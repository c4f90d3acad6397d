//! Where the catalogue is kept: the [`CatalogStore`] trait. The embedded default is
//! [`crate::RedbCatalog`]; a PostgreSQL/pgstac store implements the same trait, and
//! `tests` in this crate hold the suite every implementation must pass.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};

use crate::Result;
use crate::features::{FeaturePage, FeatureQuery, NameHit};
use crate::ingest::Product;
use crate::search::{Entry, Page, SearchQuery, StoredPage};

/// The end of [`CatalogStore::submit_items`].
pub type ItemsCommit = Pin<Box<dyn Future<Output = Result<()>> + Send + 'static>>;

/// One observation of a feature (a reach, a node, a lake) in one product: the row of
/// the product's table with fill values as nulls, for the time series endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// `reach`, `node` or `lake`.
    pub kind: &'static str,
    /// SWORD reach or node id, or Prior Lake Database lake id.
    pub feature_id: String,
    /// Observation time, RFC 3339 UTC with microseconds (sorts as text).
    pub time: String,
    /// Id of the item (product file) it comes from.
    pub item_id: String,
    /// The attributes, fill values as nulls.
    pub properties: serde_json::Map<String, Value>,
}

/// What the store did with an ingested product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// A new item.
    New(String),
    /// The same file (same checksum) was ingested before as this item: nothing done.
    Unchanged(String),
    /// A file of the same name with other content: a new version of the item.
    NewVersion {
        /// The new item id.
        item: String,
        /// The item it supersedes.
        previous: String,
    },
}

/// Where catalogue collections, items and observations are kept. Every write is
/// durable when it returns.
pub trait CatalogStore: Send + Sync {
    /// Inserts or replaces a collection.
    fn put_collection(&self, collection: &Value) -> Result<()>;
    /// A collection by id.
    fn collection(&self, id: &str) -> Result<Option<Value>>;
    /// Every collection, ordered by id.
    fn collections(&self) -> Result<Vec<Value>>;
    /// Removes a collection and its items; false when there was none.
    fn delete_collection(&self, id: &str) -> Result<bool>;
    /// Inserts or replaces items (each names its collection, which must exist), in
    /// one durable commit; the collections' extents grow to cover them.
    fn put_items(&self, items: &[Value]) -> Result<()>;
    /// [`CatalogStore::put_items`] for async callers: the future resolves once the
    /// items are stored. With `durable: false` a store may leave the disk flush to
    /// the next durable commit of its file (the server's job record that follows).
    /// By default the items are stored, durably, before the future is returned; a
    /// store with commits of its own lets the caller wait without a thread.
    fn submit_items(&self, items: &[Value], durable: bool) -> ItemsCommit {
        let _ = durable;
        Box::pin(std::future::ready(self.put_items(items)))
    }
    /// An item by collection and id.
    fn item(&self, collection: &str, id: &str) -> Result<Option<Value>>;
    /// Removes an item; false when there was none.
    fn delete_item(&self, collection: &str, id: &str) -> Result<bool>;
    /// Item search with STAC API semantics.
    fn search(&self, query: &SearchQuery) -> Result<Page>;
    /// The same search with the items as stored bytes, for replies written without
    /// parsing the items; stores that keep no such bytes serialise `search`'s page.
    fn search_stored(&self, query: &SearchQuery) -> Result<StoredPage> {
        StoredPage::from_page(self.search(query)?)
    }
    /// Stores one ingested product file: its item (whose collection is created from
    /// the product's collection when missing), its observations, the features it
    /// shows (see [`crate::features`]) and its checksum under its file name, in one
    /// durable commit. Same name and checksum: nothing is written (but the
    /// features of a file stored before features were kept are added).
    fn ingest(&self, product: Product) -> Result<Ingested>;
    /// A page of features, ordered by id.
    fn features(&self, query: &FeatureQuery) -> Result<FeaturePage>;
    /// One feature as GeoJSON, `now` the request's time (microseconds since 1970).
    fn feature(&self, kind: &str, id: &str, now: i64) -> Result<Option<Value>>;
    /// Names of features of the given kinds that start, from any word, with `text`.
    fn feature_names(&self, text: &str, kinds: &[&str], limit: usize) -> Result<Vec<NameHit>>;
    /// Observations of one feature, ordered by time, between `start` and `end`
    /// (RFC 3339, inclusive, either open).
    fn observations(
        &self,
        kind: &str,
        feature_id: &str,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<Vec<Observation>>;
    /// Where the file behind an ingested item's asset is (`file://` or `s3://`),
    /// kept out of the item itself: the item links to the server's download
    /// route instead ([`publish_assets`]).
    fn asset_source(&self, collection: &str, item: &str, asset: &str) -> Result<Option<String>>;
    /// Number of items.
    fn item_count(&self) -> Result<u64>;
    /// The items that entered the catalogue or changed after the position
    /// `after` (`""`: from the start), at most `limit`, in the order of their
    /// commits: the feed production rules follow. A change is written in the
    /// commit of the item it records, and is read only once no change can
    /// commit before it; an item stored again unchanged (the same file, the same
    /// document) makes none.
    fn changes(&self, after: &str, limit: usize) -> Result<Vec<ItemChange>>;
    /// Number of items of each collection, by collection id.
    fn item_counts(&self) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for collection in self.collections()? {
            let Some(id) = collection["id"].as_str() else {
                continue;
            };
            let page = self.search_stored(&crate::SearchQuery {
                collections: vec![id.to_string()],
                limit: 1,
                ..Default::default()
            })?;
            out.push((id.to_string(), page.matched));
        }
        Ok(out)
    }
    /// Why the store cannot take writes now (its disk full or failing), if so.
    fn fault(&self) -> Option<String> {
        None
    }
}

/// An item that entered the catalogue, or a new version or document of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ItemChange {
    /// Its place in the feed: positions sort as text in commit order (the
    /// embedded store's sequence, PostgreSQL's transaction id and sequence).
    pub position: String,
    /// The item's collection.
    pub collection: String,
    /// The item's id.
    pub item: String,
    /// What was stored: the file's sha256 for an ingested file, the stored
    /// document's sha256 otherwise.
    pub version: String,
    /// When, in milliseconds since the epoch.
    pub time: u64,
}

/// The `id` of a document a store is given (`what`: "item", "collection").
pub fn document_id(document: &Value, what: &str) -> Result<String> {
    document["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| crate::Error::InvalidDocument(format!("{what} has no string \"id\"")))
}

/// Grows a collection's extent to cover an item's index entry (the bookkeeping
/// flags it keeps inside the extent are removed by [`public_collection`]).
pub fn extend(collection: &mut Value, entry: &Entry) {
    let to_text = |micros: i64| {
        chrono::DateTime::from_timestamp_micros(micros)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    };
    let extent = collection
        .as_object_mut()
        .map(|c| c.entry("extent").or_insert_with(|| json!({})));
    let Some(extent) = extent else { return };
    if let Some(b) = entry.bbox {
        let current = extent["spatial"]["bbox"][0].as_array().and_then(|a| {
            let n: Vec<f64> = a.iter().filter_map(Value::as_f64).collect();
            (n.len() == 4).then(|| [n[0], n[1], n[2], n[3]])
        });
        let merged = match current {
            Some(c) if !(c == [-180.0, -90.0, 180.0, 90.0] && entry_count_hint(extent)) => [
                c[0].min(b[0]),
                c[1].min(b[1]),
                c[2].max(b[2]),
                c[3].max(b[3]),
            ],
            _ => b,
        };
        extent["spatial"] = json!({ "bbox": [merged] });
        extent["spatial_has_items"] = Value::Bool(true);
    }
    let interval = extent["temporal"]["interval"][0].as_array().cloned();
    let (start, end) = (to_text(entry.start), to_text(entry.end));
    let (mut lo, mut hi) = (start.clone(), end.clone());
    if let Some(pair) = interval {
        if let (Some(a), Some(b)) = (
            pair.first().and_then(Value::as_str),
            pair.get(1).and_then(Value::as_str),
        ) {
            if extent["temporal_has_items"].as_bool() == Some(true) {
                if crate::search::micros(a).is_some_and(|a| a < entry.start) {
                    lo = Some(a.to_string());
                }
                if crate::search::micros(b).is_some_and(|b| b > entry.end) {
                    hi = Some(b.to_string());
                }
            }
        }
    }
    extent["temporal"] = json!({ "interval": [[lo, hi]] });
    extent["temporal_has_items"] = Value::Bool(true);
}

/// True when the collection's extent was not yet computed from items (the default
/// whole-world box of a new collection must not swallow the first item's box).
fn entry_count_hint(extent: &Value) -> bool {
    extent["spatial_has_items"].as_bool() != Some(true)
}

/// Removes the bookkeeping flags before a collection leaves the store.
pub fn public_collection(mut c: Value) -> Value {
    if let Some(extent) = c.get_mut("extent").and_then(Value::as_object_mut) {
        extent.remove("spatial_has_items");
        extent.remove("temporal_has_items");
    }
    c
}

fn push_link(item: &mut Value, rel: &str, collection: &str, id: &str) {
    let link = json!({
        "rel": rel,
        "href": format!("./{id}"),
        "type": "application/geo+json",
        "hysope:collection": collection,
        "hysope:item": id,
    });
    match item.get_mut("links").and_then(Value::as_array_mut) {
        Some(links) => links.push(link),
        None => item["links"] = json!([link]),
    }
}

/// The next version of an ingested file whose earlier content is the item
/// `previous`: `item` becomes `BASE.vN` (`version` N, a `predecessor-version`
/// link) and `old`, the previous item when the store still has it, is marked
/// deprecated with a `successor-version` link. `versions` is how many contents of
/// the file were stored before. Returns the new id.
pub fn next_version(
    item: &mut Value,
    old: Option<&mut Value>,
    base: &str,
    collection: &str,
    previous: &str,
    versions: usize,
) -> String {
    let id = format!("{base}.v{}", versions + 1);
    item["id"] = json!(id);
    item["properties"]["version"] = json!((versions + 1).to_string());
    push_link(item, "predecessor-version", collection, previous);
    if let Some(old) = old {
        old["properties"]["deprecated"] = json!(true);
        push_link(old, "successor-version", collection, &id);
    }
    id
}

/// The download route of an item's asset, relative to the server's base URL.
pub fn asset_route(collection: &str, item: &str, asset: &str) -> String {
    format!("/stac/collections/{collection}/items/{item}/assets/{asset}")
}

/// The (collection, item, asset) an [`asset_route`] names: the route itself, or
/// the route under `base` (the server's URL, as the catalogue's hrefs are written
/// for a caller). `None` for anything else, a query or fragment included.
pub fn parse_asset_route<'a>(href: &'a str, base: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let path = href
        .strip_prefix(base.trim_end_matches('/'))
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(href);
    let rest = path.strip_prefix("/stac/collections/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [c, "items", i, "assets", k]
            if [*c, *i, *k].into_iter().all(|s| {
                !s.is_empty() && !s.contains(['?', '#', '%']) && s != "." && s != ".."
            }) =>
        {
            Some((c, i, k))
        }
        _ => None,
    }
}

/// Makes an ingested item's assets that name a file of the server (`file://`)
/// or an object of its storage (`s3://`) point at the server's download route
/// instead; returns the version record of the file (`sha256`, `item`, and the
/// `sources` the route serves). Called once the item's id is final.
pub fn publish_assets(item: &mut Value, collection: &str, sha256: &str) -> Value {
    let id = item["id"].as_str().unwrap_or_default().to_string();
    let mut sources = serde_json::Map::new();
    if let Some(assets) = item.get_mut("assets").and_then(Value::as_object_mut) {
        for (key, asset) in assets.iter_mut() {
            let Some(href) = asset["href"].as_str() else {
                continue;
            };
            if href.starts_with("file://") || href.starts_with("s3://") {
                sources.insert(key.clone(), json!(href));
                asset["href"] = json!(asset_route(collection, &id, key));
            }
        }
    }
    json!({ "sha256": sha256, "item": id, "sources": sources })
}

/// The file name an item id was made from (`NAME.v2` -> `NAME`).
pub fn file_base(item: &str) -> &str {
    match item.rsplit_once(".v") {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => item,
    }
}

/// The source of `asset` in a file's version records, for item `item`.
pub fn source_in(versions: &[Value], item: &str, asset: &str) -> Option<String> {
    versions
        .iter()
        .find(|v| v["item"] == item)
        .and_then(|v| v["sources"][asset].as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_asset_route_is_read_back_relative_or_under_the_servers_url_and_nothing_else() {
        let base = "http://127.0.0.1:5000";
        let route = asset_route("SWOT_L2_HR_RiverSP_Reach", "SWOT_A.v2", "data");
        let expected = Some(("SWOT_L2_HR_RiverSP_Reach", "SWOT_A.v2", "data"));
        assert_eq!(parse_asset_route(&route, base), expected);
        assert_eq!(parse_asset_route(&format!("{base}{route}"), base), expected);
        assert_eq!(
            parse_asset_route(&format!("{base}{route}"), &format!("{base}/")),
            expected
        );
        for other in [
            format!("http://elsewhere.example{route}"),
            format!("{route}?x=1"),
            format!("{route}/more"),
            "/stac/collections/c/items/../assets/data".to_string(),
            "/stac/collections/c/items//assets/data".to_string(),
            "/stac/collections/c/items/i/assets/d%2e".to_string(),
            "/stac/collections/c/items/i".to_string(),
            "file:///stac/collections/c/items/i/assets/data".to_string(),
        ] {
            assert_eq!(parse_asset_route(&other, base), None, "{other}");
        }
    }
}
