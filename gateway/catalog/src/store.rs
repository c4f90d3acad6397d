//! Where the catalogue is kept: the [`CatalogStore`] trait. The embedded default is
//! [`crate::RedbCatalog`]; a PostgreSQL/pgstac store implements the same trait, and
//! `tests` in this crate hold the suite every implementation must pass.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::Result;
use crate::search::{Page, SearchQuery, StoredPage};

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
    /// `collection` when missing), its observations, and its checksum under its
    /// file name, in one durable commit. Same name and checksum: nothing is written.
    fn ingest(
        &self,
        collection: &Value,
        item: Value,
        checksum: &str,
        observations: Vec<Observation>,
    ) -> Result<Ingested>;
    /// Observations of one feature, ordered by time, between `start` and `end`
    /// (RFC 3339, inclusive, either open).
    fn observations(
        &self,
        kind: &str,
        feature_id: &str,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<Vec<Observation>>;
    /// Number of items.
    fn item_count(&self) -> Result<u64>;
    /// Why the store cannot take writes now (its disk full or failing), if so.
    fn fault(&self) -> Option<String> {
        None
    }
}
