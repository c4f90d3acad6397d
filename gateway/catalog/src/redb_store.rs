//! The embedded catalogue store: tables of a redb file (the server's
//! `DATA/store.redb`, which its jobs share, see [`SharedDb`]) holding
//! collections, items, observations and the checksums of ingested files, plus an
//! in-memory index of every item's collection, id, box and time that answers the
//! index part of a search without reading items. The index entries are kept in a
//! table of their own beside the items, written in the items' commits, so that an
//! open reads 49 bytes per item instead of parsing every item (a file written
//! before that table existed has it made at its first open).

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, RwLock};

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};
use serde_json::{Value, json};

use crate::features::{
    FeatureIndex, FeaturePage, FeatureQuery, FeatureRecord, NameHit, Sighting, Summary,
};
use crate::ingest::Product;
use crate::search::{Entry, Page, PageStart, SearchQuery, StoredItem, StoredPage};
use crate::store::{
    CatalogStore, Ingested, ItemChange, ItemsCommit, Observation, document_id, extend, file_base,
    next_version, public_collection, publish_assets, source_in,
};
use crate::{Error, Result, SharedDb};
use hysope_store::block_on;
use sha2::Digest;

const COLLECTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("collections");
const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");
/// (collection, item id) -> the item's index entry (see [`encode_entry`]).
const ITEM_ENTRIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("item_entries");
/// Item id of a product file (its name without extension) -> versions: [{sha256, item}].
const FILES: TableDefinition<&str, &[u8]> = TableDefinition::new("files");
/// The change feed: sequence -> an [`ItemChange`] (JSON), written in the commit of
/// the item it records.
const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");
/// kind \x1f feature id \x1f time \x1f item id -> the observation's properties.
const OBSERVATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("observations");
/// (kind, feature id) -> its [`FeatureRecord`] without geometry (JSON).
const FEATURE_RECORDS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("feature_records");
/// (kind, feature id) -> its [`Summary`] (JSON), read at open for the index.
const FEATURE_SUMMARIES: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("feature_summaries");
/// (kind, feature id) -> its GeoJSON geometry.
const FEATURE_GEOMETRIES: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("feature_geometries");

const SEP: char = '\u{1f}';

/// Items are stored as their links (a JSON array), the byte 0x1E, then the item
/// without its links: a search splices the stored bytes into its reply after the
/// links the server makes, without parsing the item. (0x1E cannot occur in JSON
/// text outside a string, nor unescaped inside one.)
const RECORD_SEPARATOR: u8 = 0x1e;

fn encode_item(item: &Value) -> Result<Vec<u8>> {
    let mut rest = item.clone();
    let links = rest
        .as_object_mut()
        .and_then(|o| o.remove("links"))
        .unwrap_or_else(|| json!([]));
    let mut out = serde_json::to_vec(&links)?;
    out.push(RECORD_SEPARATOR);
    serde_json::to_writer(&mut out, &rest)?;
    Ok(out)
}

/// The stored links and the item without them.
fn split_item(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == RECORD_SEPARATOR) {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (b"[]", bytes),
    }
}

/// An index entry as stored: 1 when it has a box, the box (west, south, east,
/// north) as 4 little-endian f64, the start and end as little-endian i64.
const ENTRY_BYTES: usize = 1 + 4 * 8 + 2 * 8;

fn encode_entry(entry: &Entry) -> [u8; ENTRY_BYTES] {
    let mut out = [0u8; ENTRY_BYTES];
    if let Some(b) = entry.bbox {
        out[0] = 1;
        for (i, v) in b.iter().enumerate() {
            out[1 + 8 * i..9 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
    }
    out[33..41].copy_from_slice(&entry.start.to_le_bytes());
    out[41..49].copy_from_slice(&entry.end.to_le_bytes());
    out
}

fn decode_entry(collection: &str, id: &str, bytes: &[u8]) -> Result<Entry> {
    if bytes.len() != ENTRY_BYTES {
        return Err(Error::Store(format!(
            "the index entry of item {collection}/{id} has {} bytes, not {ENTRY_BYTES}",
            bytes.len()
        )));
    }
    let f = |i: usize| f64::from_le_bytes(bytes[1 + 8 * i..9 + 8 * i].try_into().unwrap_or([0; 8]));
    let i = |at: usize| i64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
    Ok(Entry {
        collection: collection.to_string(),
        id: id.to_string(),
        bbox: (bytes[0] == 1).then(|| [f(0), f(1), f(2), f(3)]),
        start: i(33),
        end: i(41),
    })
}

/// Stores an item's bytes and its index entry.
fn put_item_row(txn: &redb::WriteTransaction, entry: &Entry, bytes: &[u8]) -> Result<()> {
    let key = (entry.collection.as_str(), entry.id.as_str());
    txn.open_table(ITEMS)?.insert(key, bytes)?;
    txn.open_table(ITEM_ENTRIES)?
        .insert(key, encode_entry(entry).as_slice())?;
    Ok(())
}

/// Appends a change of an item to the feed, in the item's transaction.
fn record_change(
    txn: &redb::WriteTransaction,
    collection: &str,
    item: &str,
    version: String,
) -> Result<()> {
    let mut changes = txn.open_table(CHANGES)?;
    let seq = changes.last()?.map_or(0, |(k, _)| k.value()) + 1;
    let change = ItemChange {
        position: position_of(seq),
        collection: collection.to_string(),
        item: item.to_string(),
        version,
        time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    changes.insert(seq, serde_json::to_vec(&change)?.as_slice())?;
    Ok(())
}

/// The feed position of the embedded store's change `seq`.
fn position_of(seq: u64) -> String {
    format!("{seq:020}")
}

/// Removes an item and its index entry; true when it was there.
fn remove_item_row(txn: &redb::WriteTransaction, collection: &str, id: &str) -> Result<bool> {
    let existed = txn.open_table(ITEMS)?.remove((collection, id))?.is_some();
    txn.open_table(ITEM_ENTRIES)?.remove((collection, id))?;
    Ok(existed)
}

fn decode_item(bytes: &[u8]) -> Result<Value> {
    let (links, rest) = split_item(bytes);
    let mut item: Value = serde_json::from_slice(rest)?;
    if let Some(o) = item.as_object_mut() {
        o.insert("links".into(), serde_json::from_slice(links)?);
    }
    Ok(item)
}

/// The redb catalogue store.
pub struct RedbCatalog {
    /// Concurrent `put_items` calls share commits (with the file's other writers).
    db: Arc<SharedDb>,
    index: Arc<RwLock<Index>>,
    features: Arc<RwLock<FeatureIndex>>,
}

#[derive(Default)]
struct Index {
    entries: Vec<Entry>,
    position: HashMap<(String, String), usize>,
    /// Entries ordered by (collection, id), and by (start, collection, id); rebuilt when stale.
    by_key: Vec<usize>,
    by_time: Vec<usize>,
    stale: bool,
}

impl Index {
    fn upsert(&mut self, entry: Entry) {
        let key = (entry.collection.clone(), entry.id.clone());
        match self.position.get(&key) {
            Some(&i) => self.entries[i] = entry,
            None => {
                self.position.insert(key, self.entries.len());
                self.entries.push(entry);
            }
        }
        self.stale = true;
    }

    fn remove(&mut self, collection: &str, id: &str) {
        let Some(i) = self
            .position
            .remove(&(collection.to_string(), id.to_string()))
        else {
            return;
        };
        self.entries.swap_remove(i);
        if let Some(moved) = self.entries.get(i) {
            self.position
                .insert((moved.collection.clone(), moved.id.clone()), i);
        }
        self.stale = true;
    }

    fn refresh(&mut self) {
        if !self.stale {
            return;
        }
        let e = &self.entries;
        let mut by_key: Vec<usize> = (0..e.len()).collect();
        by_key.sort_unstable_by(|&a, &b| {
            (&e[a].collection, &e[a].id).cmp(&(&e[b].collection, &e[b].id))
        });
        let mut by_time = by_key.clone();
        by_time.sort_by_key(|&i| e[i].start);
        self.by_key = by_key;
        self.by_time = by_time;
        self.stale = false;
    }
}

/// A range of `(kind, id)` keys.
type KeyRange<'a> = (Bound<(&'a str, &'a str)>, Bound<(&'a str, &'a str)>);
/// The summaries of the range at an index, and whether some were JSON.
type RangeRead = (usize, Vec<Summary>, bool);

impl RedbCatalog {
    /// Writes the encoded items of one `put_items` call in `txn` and grows their
    /// collections' extents.
    fn write_items(txn: &redb::WriteTransaction, rows: &[(Entry, Vec<u8>)]) -> Result<()> {
        let mut collections = txn.open_table(COLLECTIONS)?;
        let mut touched: HashMap<&str, Value> = HashMap::new();
        for (entry, bytes) in rows {
            if !touched.contains_key(entry.collection.as_str()) {
                let c = collections
                    .get(entry.collection.as_str())?
                    .ok_or_else(|| Error::NoSuchCollection(entry.collection.clone()))?;
                touched.insert(&entry.collection, serde_json::from_slice(c.value())?);
            }
            if let Some(c) = touched.get_mut(entry.collection.as_str()) {
                extend(c, entry);
            }
            let key = (entry.collection.as_str(), entry.id.as_str());
            let same = txn
                .open_table(ITEMS)?
                .get(key)?
                .is_some_and(|stored| stored.value() == bytes.as_slice());
            if !same {
                let version = hex::encode(sha2::Sha256::digest(bytes));
                record_change(txn, &entry.collection, &entry.id, version)?;
            }
            put_item_row(txn, entry, bytes)?;
        }
        for (id, c) in touched {
            collections.insert(id, serde_json::to_vec(&c)?.as_slice())?;
        }
        Ok(())
    }

    /// Opens (or creates) the store at `path` and builds its index.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_shared(Arc::new(SharedDb::open(path)?))
    }

    /// The catalogue in a file other stores share (the server's jobs): the
    /// catalogue's writes share their commits with theirs.
    pub fn open_shared(db: Arc<SharedDb>) -> Result<Self> {
        let started = std::time::Instant::now();
        // A file from before the change feed: its feed starts with every item
        // it holds, so that a rule's backfill reaches them.
        let feed_is_new = match db.begin_read()?.open_table(CHANGES) {
            Ok(_) => false,
            Err(redb::TableError::TableDoesNotExist(_)) => true,
            Err(e) => return Err(e.into()),
        };
        let txn = db.begin_write()?;
        if feed_is_new {
            txn.open_table(CHANGES)?;
            let mut seeded = Vec::new();
            {
                let items = txn.open_table(ITEMS)?;
                for row in items.iter()? {
                    let (key, bytes) = row?;
                    let (collection, id) = key.value();
                    let version = hex::encode(sha2::Sha256::digest(bytes.value()));
                    seeded.push((collection.to_string(), id.to_string(), version));
                }
            }
            for (collection, id, version) in seeded {
                record_change(&txn, &collection, &id, version)?;
            }
        }
        {
            txn.open_table(COLLECTIONS)?;
            txn.open_table(ITEMS)?;
            txn.open_table(FILES)?;
            txn.open_table(OBSERVATIONS)?;
            txn.open_table(ITEM_ENTRIES)?;
            txn.open_table(FEATURE_RECORDS)?;
            txn.open_table(FEATURE_SUMMARIES)?;
            txn.open_table(FEATURE_GEOMETRIES)?;
        }
        txn.commit()?;
        let complete = {
            let read = db.begin_read()?;
            read.open_table(ITEMS)?.len()? == read.open_table(ITEM_ENTRIES)?.len()?
        };
        if !complete {
            Self::make_entries(&db)?;
        }
        let tables = started.elapsed();
        let mut index = Index::default();
        {
            let read = db.begin_read()?;
            let entries = read.open_table(ITEM_ENTRIES)?;
            for row in entries.iter()? {
                let (key, value) = row?;
                let (collection, id) = key.value();
                index.upsert(decode_entry(collection, id, value.value())?);
            }
        }
        let entries_at = started.elapsed();
        let features = {
            let (summaries, json) = Self::read_summaries(&db)?;
            if json {
                Self::rewrite_summaries(&db, &summaries)?;
            }
            let read_at = started.elapsed();
            let count = summaries.len();
            let built = FeatureIndex::build(summaries);
            tracing::info!(
                items = index.entries.len(),
                features = count,
                tables_ms = tables.as_millis() as u64,
                entries_ms = (entries_at - tables).as_millis() as u64,
                summaries_ms = (read_at - entries_at).as_millis() as u64,
                index_ms = (started.elapsed() - read_at).as_millis() as u64,
                "catalogue loaded"
            );
            built
        };
        Ok(RedbCatalog {
            db,
            index: Arc::new(RwLock::new(index)),
            features: Arc::new(RwLock::new(features)),
        })
    }

    /// Every feature's summary, and whether some were stored as JSON. The rows
    /// of a catalogue ingested pass by pass lie all over the file: read from a
    /// cold disk one after the other they took 1.5 s at SWORD scale, so key ranges
    /// (a kind and an id's first digit: SWORD and the Prior Lake Database start
    /// their ids with a continent's) are read by several threads at once.
    fn read_summaries(db: &SharedDb) -> Result<(Vec<Summary>, bool)> {
        let mut splits: Vec<(&str, String)> = Vec::new();
        for kind in ["lake", "node", "reach"] {
            splits.extend((1..=9).map(|d| (kind, d.to_string())));
        }
        let ranges: Vec<KeyRange> = (0..=splits.len())
            .map(|i| {
                let lo = match i {
                    0 => Bound::Unbounded,
                    i => Bound::Included((splits[i - 1].0, splits[i - 1].1.as_str())),
                };
                let hi = match splits.get(i) {
                    Some((kind, id)) => Bound::Excluded((*kind, id.as_str())),
                    None => Bound::Unbounded,
                };
                (lo, hi)
            })
            .collect();
        let read = db.begin_read()?;
        let next = std::sync::atomic::AtomicUsize::new(0);
        // Threads wait on the disk more than they compute: more than the cores.
        let threads = 8;
        let parts: Vec<Result<Vec<RangeRead>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| -> Result<Vec<RangeRead>> {
                        let table = read.open_table(FEATURE_SUMMARIES)?;
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(range) = ranges.get(i) else {
                                return Ok(done);
                            };
                            let (mut out, mut json) = (Vec::new(), false);
                            for row in table.range::<(&str, &str)>(*range)? {
                                let (key, value) = row?;
                                let (kind, id) = key.value();
                                json |= value.value().first() == Some(&b'{');
                                out.push(Summary::from_bytes(kind, id, value.value())?);
                            }
                            done.push((i, out, json));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err(Error::Store("a summary reader panicked".into())))
                })
                .collect()
        });
        let mut all = Vec::new();
        for part in parts {
            all.extend(part?);
        }
        all.sort_by_key(|(i, _, _)| *i);
        let json = all.iter().any(|(_, _, j)| *j);
        Ok((all.into_iter().flat_map(|(_, s, _)| s).collect(), json))
    }

    /// Stores every summary again in the binary layout (a file written when they
    /// were JSON), in one commit.
    fn rewrite_summaries(db: &SharedDb, summaries: &[Summary]) -> Result<()> {
        let started = std::time::Instant::now();
        let txn = db.begin_write()?;
        txn.delete_table(FEATURE_SUMMARIES)?;
        {
            let mut table = txn.open_table(FEATURE_SUMMARIES)?;
            for s in summaries {
                table.insert((s.kind.as_str(), s.id.as_str()), s.to_bytes().as_slice())?;
            }
        }
        txn.commit()?;
        tracing::info!(
            features = summaries.len(),
            ms = started.elapsed().as_millis() as u64,
            "feature summaries stored again in the binary layout"
        );
        Ok(())
    }

    /// Takes in the features a product shows, in `txn`;
    /// returns their new summaries.
    fn write_features(
        txn: &redb::WriteTransaction,
        sightings: &[Sighting],
    ) -> Result<Vec<Summary>> {
        let mut records = txn.open_table(FEATURE_RECORDS)?;
        let mut summaries = txn.open_table(FEATURE_SUMMARIES)?;
        let mut geometries = txn.open_table(FEATURE_GEOMETRIES)?;
        let mut out = Vec::with_capacity(sightings.len());
        for sighting in sightings {
            let key = (sighting.kind, sighting.id.as_str());
            let known: Option<FeatureRecord> = match records.get(key)? {
                Some(v) => Some(serde_json::from_slice(v.value())?),
                None => None,
            };
            let mut record = match known {
                Some(mut r) => {
                    r.absorb(sighting);
                    r
                }
                None => FeatureRecord::new(sighting),
            };
            // The geometry is set only when this product's is the newest.
            let geometry = std::mem::take(&mut record.geometry);
            if !geometry.is_null() {
                geometries.insert(key, serde_json::to_vec(&geometry)?.as_slice())?;
            }
            let summary = record.summary();
            records.insert(key, serde_json::to_vec(&record)?.as_slice())?;
            summaries.insert(key, summary.to_bytes().as_slice())?;
            out.push(summary);
        }
        Ok(out)
    }

    fn geometry(
        table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
        kind: &str,
        id: &str,
    ) -> Result<Value> {
        Ok(match table.get((kind, id))? {
            Some(g) => serde_json::from_slice(g.value())?,
            None => Value::Null,
        })
    }

    /// Makes the index entries of every item again from the items (a file
    /// written before the entries had a table, or one whose table is short).
    fn make_entries(db: &SharedDb) -> Result<()> {
        let txn = db.begin_write()?;
        txn.delete_table(ITEM_ENTRIES)?;
        {
            let items = txn.open_table(ITEMS)?;
            let mut entries = txn.open_table(ITEM_ENTRIES)?;
            for row in items.iter()? {
                let (key, value) = row?;
                let item: Value = serde_json::from_slice(split_item(value.value()).1)?;
                entries.insert(key.value(), encode_entry(&Entry::of(&item)?).as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The index, its orders brought up to date.
    fn fresh_index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        // Searches share the read lock; only the first after a write takes the write
        // lock, to rebuild the orders.
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        if !index.stale {
            return index;
        }
        drop(index);
        self.index
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .refresh();
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Entries in the order the query asks for: by time when it sorts by time, else
    /// by collection and id (a sort on anything else reorders the documents later).
    fn order<'a>(
        index: &'a Index,
        query: &SearchQuery,
    ) -> Box<dyn Iterator<Item = &'a usize> + 'a> {
        match query.sortby.as_slice() {
            [] => Box::new(index.by_key.iter()),
            [(_, false)] if by_time_only(query) => Box::new(index.by_time.iter().rev()),
            _ => Box::new(index.by_time.iter()),
        }
    }

    /// The page of a query the index answers alone: (collection, id, stored bytes)
    /// of the page's items, and how many match.
    fn index_page(&self, query: &SearchQuery) -> Result<(Vec<StoredRow>, usize)> {
        let index = self.fresh_index();
        let read = self.db.begin_read()?;
        let table = read.open_table(ITEMS)?;
        let (start, limit) = (query.start.offset()?, query.limit);
        let mut rows = Vec::new();
        let mut matched = 0usize;
        for &i in Self::order(&index, query) {
            let e = &index.entries[i];
            if !query.matches_entry(e) {
                continue;
            }
            if matched >= start && matched < start + limit {
                let bytes = table
                    .get((e.collection.as_str(), e.id.as_str()))?
                    .ok_or_else(|| Error::Store(format!("index names missing item {}", e.id)))?
                    .value()
                    .to_vec();
                rows.push((e.collection.clone(), e.id.clone(), bytes));
            }
            matched += 1;
        }
        Ok((rows, matched))
    }

    fn read_item(
        table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
        collection: &str,
        id: &str,
    ) -> Result<Option<Value>> {
        match table.get((collection, id))? {
            Some(v) => Ok(Some(decode_item(v.value())?)),
            None => Ok(None),
        }
    }
}

/// Collection, id and stored bytes of an item.
type StoredRow = (String, String, Vec<u8>);

/// True when the query sorts by time alone (or not at all): the index order serves it.
fn by_time_only(query: &SearchQuery) -> bool {
    query.sortby.is_empty()
        || (query.sortby.len() == 1
            && matches!(
                query.sortby[0].0.as_str(),
                "datetime" | "properties.datetime"
            ))
}

fn page_of(query: &SearchQuery, items: Vec<Value>, matched: usize) -> Result<Page> {
    let (start, limit) = (query.start.offset()?, query.limit);
    Ok(Page {
        items,
        matched: matched as u64,
        next: (start + limit < matched).then_some(PageStart::Offset(start + limit)),
        prev: (start > 0).then(|| PageStart::Offset(start.saturating_sub(limit))),
    })
}

fn observation_key(kind: &str, feature: &str, time: &str, item: &str) -> String {
    format!("{kind}{SEP}{feature}{SEP}{time}{SEP}{item}")
}

impl CatalogStore for RedbCatalog {
    fn put_collection(&self, collection: &Value) -> Result<()> {
        let id = document_id(collection, "collection")?;
        let id = id.as_str();
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(COLLECTIONS)?;
            // Keep the extent computed from the items when a client replaces the collection.
            let mut new = collection.clone();
            if let Some(old) = table.get(id)? {
                let old: Value = serde_json::from_slice(old.value())?;
                if old["extent"]["temporal_has_items"].as_bool() == Some(true) {
                    new["extent"] = old["extent"].clone();
                }
            }
            table.insert(id, serde_json::to_vec(&new)?.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    fn collection(&self, id: &str) -> Result<Option<Value>> {
        let read = self.db.begin_read()?;
        let table = read.open_table(COLLECTIONS)?;
        Ok(match table.get(id)? {
            Some(v) => Some(public_collection(serde_json::from_slice(v.value())?)),
            None => None,
        })
    }

    fn collections(&self) -> Result<Vec<Value>> {
        let read = self.db.begin_read()?;
        let table = read.open_table(COLLECTIONS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, v) = row?;
            out.push(public_collection(serde_json::from_slice(v.value())?));
        }
        Ok(out)
    }

    fn delete_collection(&self, id: &str) -> Result<bool> {
        let txn = self.db.begin_write()?;
        let mut removed_items = Vec::new();
        let existed = {
            let mut collections = txn.open_table(COLLECTIONS)?;
            let existed = collections.remove(id)?.is_some();
            let keys: Vec<String> = txn
                .open_table(ITEMS)?
                .range((id, "")..)?
                .map_while(|row| {
                    let (k, _) = row.ok()?;
                    let (c, i) = k.value();
                    (c == id).then(|| i.to_string())
                })
                .collect();
            for key in keys {
                remove_item_row(&txn, id, &key)?;
                removed_items.push(key);
            }
            existed
        };
        txn.commit()?;
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        for item in removed_items {
            index.remove(id, &item);
        }
        Ok(existed)
    }

    fn put_items(&self, items: &[Value]) -> Result<()> {
        block_on(self.submit_items(items, true))
    }

    fn submit_items(&self, items: &[Value], durable: bool) -> ItemsCommit {
        // Checked and encoded on the caller's thread; the commit is shared with the
        // writers of the same moment (see [`SharedDb`]); the index learns the items
        // once they are stored.
        let rows = match items
            .iter()
            .map(|item| Ok((Entry::of(item)?, encode_item(item)?)))
            .collect::<Result<Vec<_>>>()
        {
            Ok(rows) => Arc::new(rows),
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let written = rows.clone();
        let commit = self.db.submit(
            Box::new(move |txn| {
                Self::write_items(txn, &written).map_err(hysope_store::Error::change)
            }),
            durable,
        );
        let index = self.index.clone();
        Box::pin(async move {
            commit.await?;
            let mut index = index.write().unwrap_or_else(|e| e.into_inner());
            for (entry, _) in rows.iter() {
                index.upsert(entry.clone());
            }
            Ok(())
        })
    }

    fn item(&self, collection: &str, id: &str) -> Result<Option<Value>> {
        let read = self.db.begin_read()?;
        let table = read.open_table(ITEMS)?;
        Self::read_item(&table, collection, id)
    }

    fn delete_item(&self, collection: &str, id: &str) -> Result<bool> {
        let txn = self.db.begin_write()?;
        let existed = remove_item_row(&txn, collection, id)?;
        txn.commit()?;
        if existed {
            self.index
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(collection, id);
        }
        Ok(existed)
    }

    fn search(&self, query: &SearchQuery) -> Result<Page> {
        if !query.needs_document() {
            let (rows, matched) = self.index_page(query)?;
            let items = rows
                .iter()
                .map(|(_, _, bytes)| decode_item(bytes).map(|i| query.shape(i)))
                .collect::<Result<Vec<_>>>()?;
            return page_of(query, items, matched);
        }
        let index = self.fresh_index();
        let read = self.db.begin_read()?;
        let table = read.open_table(ITEMS)?;
        let mut all = Vec::new();
        for &i in Self::order(&index, query) {
            let e = &index.entries[i];
            if !query.matches_entry(e) {
                continue;
            }
            let Some(item) = Self::read_item(&table, &e.collection, &e.id)? else {
                continue;
            };
            if query.matches_document(&item)? {
                all.push(item);
            }
        }
        if !by_time_only(query) {
            all.sort_by(|a, b| query.compare(a, b));
        }
        let matched = all.len();
        let items = all
            .into_iter()
            .skip(query.start.offset()?)
            .take(query.limit)
            .map(|i| query.shape(i))
            .collect();
        page_of(query, items, matched)
    }

    fn search_stored(&self, query: &SearchQuery) -> Result<StoredPage> {
        if query.needs_document() || query.fields.is_some() {
            return StoredPage::from_page(self.search(query)?);
        }
        let (rows, matched) = self.index_page(query)?;
        let items = rows
            .into_iter()
            .map(|(collection, id, bytes)| {
                let (links, body) = split_item(&bytes);
                StoredItem {
                    collection,
                    id,
                    links: Some(links.to_vec()),
                    body: body.to_vec(),
                }
            })
            .collect();
        let page = page_of(query, Vec::new(), matched)?;
        Ok(StoredPage {
            items,
            matched: page.matched,
            next: page.next,
            prev: page.prev,
        })
    }

    fn ingest(&self, product: Product) -> Result<Ingested> {
        let Product {
            collection,
            mut item,
            sha256,
            observations,
            sightings,
        } = product;
        let (collection, checksum) = (&collection, sha256.as_str());
        let base = document_id(&item, "item")?;
        let collection_id = document_id(collection, "collection")?;
        let txn = self.db.begin_write()?;
        let mut updated_previous = None;
        let outcome = {
            let mut files = txn.open_table(FILES)?;
            let mut versions: Vec<Value> = match files.get(base.as_str())? {
                Some(v) => serde_json::from_slice(v.value())?,
                None => Vec::new(),
            };
            if let Some(same) = versions.iter().find(|v| v["sha256"] == checksum) {
                let id = same["item"].as_str().unwrap_or(&base).to_string();
                drop(files);
                // A file stored before features were kept: its features now.
                let missing = match sightings.first() {
                    Some(s) => txn
                        .open_table(FEATURE_RECORDS)?
                        .get((s.kind, s.id.as_str()))?
                        .is_none(),
                    None => false,
                };
                if missing {
                    let summaries = Self::write_features(&txn, &sightings)?;
                    txn.commit()?;
                    let mut index = self.features.write().unwrap_or_else(|e| e.into_inner());
                    summaries.into_iter().for_each(|s| index.upsert(s));
                }
                return Ok(Ingested::Unchanged(id));
            }
            let outcome = match versions.last().and_then(|v| v["item"].as_str()) {
                None => Ingested::New(base.clone()),
                Some(previous) => {
                    let previous = previous.to_string();
                    let mut old =
                        Self::read_item(&txn.open_table(ITEMS)?, &collection_id, &previous)?;
                    let id = next_version(
                        &mut item,
                        old.as_mut(),
                        &base,
                        &collection_id,
                        &previous,
                        versions.len(),
                    );
                    if let Some(old) = old {
                        let entry = Entry::of(&old)?;
                        put_item_row(&txn, &entry, &encode_item(&old)?)?;
                        updated_previous = Some(entry);
                    }
                    Ingested::NewVersion { item: id, previous }
                }
            };
            let item_id = item["id"].as_str().unwrap_or(&base).to_string();
            versions.push(publish_assets(&mut item, &collection_id, checksum));
            files.insert(base.as_str(), serde_json::to_vec(&versions)?.as_slice())?;
            let entry = Entry::of(&item)?;
            let mut collections = txn.open_table(COLLECTIONS)?;
            let mut stored: Value = match collections.get(collection_id.as_str())? {
                Some(c) => serde_json::from_slice(c.value())?,
                None => collection.clone(),
            };
            extend(&mut stored, &entry);
            collections.insert(
                collection_id.as_str(),
                serde_json::to_vec(&stored)?.as_slice(),
            )?;
            put_item_row(&txn, &entry, &encode_item(&item)?)?;
            record_change(&txn, &collection_id, &item_id, checksum.to_string())?;
            let mut table = txn.open_table(OBSERVATIONS)?;
            for o in &observations {
                let key = observation_key(o.kind, &o.feature_id, &o.time, &item_id);
                table.insert(key.as_str(), serde_json::to_vec(&o.properties)?.as_slice())?;
            }
            let summaries = Self::write_features(&txn, &sightings)?;
            (outcome, entry, summaries)
        };
        txn.commit()?;
        {
            let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = updated_previous {
                index.upsert(old);
            }
            index.upsert(outcome.1);
        }
        let mut features = self.features.write().unwrap_or_else(|e| e.into_inner());
        outcome.2.into_iter().for_each(|s| features.upsert(s));
        Ok(outcome.0)
    }

    fn observations(
        &self,
        kind: &str,
        feature_id: &str,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<Vec<Observation>> {
        let read = self.db.begin_read()?;
        let table = read.open_table(OBSERVATIONS)?;
        let prefix = format!("{kind}{SEP}{feature_id}{SEP}");
        let low = format!("{prefix}{}", start.unwrap_or(""));
        let high = format!("{prefix}\u{7f}");
        let kind: &'static str = match kind {
            "reach" => "reach",
            "node" => "node",
            _ => "lake",
        };
        let mut out = Vec::new();
        for row in table.range(low.as_str()..high.as_str())? {
            let (k, v) = row?;
            let key = k.value();
            let mut parts = key[prefix.len()..].split(SEP);
            let time = parts.next().unwrap_or("").to_string();
            let item_id = parts.next().unwrap_or("").to_string();
            if end.is_some_and(|e| time.as_str() > e) {
                break;
            }
            out.push(Observation {
                kind,
                feature_id: feature_id.to_string(),
                time,
                item_id,
                properties: serde_json::from_slice(v.value())?,
            });
        }
        Ok(out)
    }

    fn features(&self, query: &FeatureQuery) -> Result<FeaturePage> {
        let index = self.features.read().unwrap_or_else(|e| e.into_inner());
        let (summaries, matched, next) = index.query(query);
        let read = self.db.begin_read()?;
        let geometries = read.open_table(FEATURE_GEOMETRIES)?;
        let features = summaries
            .into_iter()
            .map(|s| {
                if query.skip_geometry {
                    return Ok(s.to_geojson_raw(None, query.now));
                }
                // The stored GeoJSON is spliced in, checked but not parsed into values.
                let stored = geometries.get((s.kind.as_str(), s.id.as_str()))?;
                let geometry: Option<&serde_json::value::RawValue> = match &stored {
                    Some(g) => Some(serde_json::from_slice(g.value())?),
                    None => None,
                };
                Ok(s.to_geojson_raw(geometry, query.now))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(FeaturePage {
            features,
            matched,
            next,
        })
    }

    fn feature(&self, kind: &str, id: &str, now: i64) -> Result<Option<Value>> {
        let read = self.db.begin_read()?;
        let record: FeatureRecord = match read.open_table(FEATURE_RECORDS)?.get((kind, id))? {
            Some(v) => serde_json::from_slice(v.value())?,
            None => return Ok(None),
        };
        let geometry = Self::geometry(&read.open_table(FEATURE_GEOMETRIES)?, kind, id)?;
        Ok(Some(record.summary().to_geojson(geometry, now)))
    }

    fn feature_names(&self, text: &str, kinds: &[&str], limit: usize) -> Result<Vec<NameHit>> {
        let index = self.features.read().unwrap_or_else(|e| e.into_inner());
        Ok(index.names(text, kinds, limit))
    }

    fn fault(&self) -> Option<String> {
        self.db.fault()
    }

    fn asset_source(&self, _collection: &str, item: &str, asset: &str) -> Result<Option<String>> {
        let read = self.db.begin_read()?;
        let versions: Vec<Value> = match read.open_table(FILES)?.get(file_base(item))? {
            Some(v) => serde_json::from_slice(v.value())?,
            None => return Ok(None),
        };
        Ok(source_in(&versions, item, asset))
    }

    fn item_count(&self) -> Result<u64> {
        let read = self.db.begin_read()?;
        Ok(read.open_table(ITEMS)?.len()?)
    }

    fn changes(&self, after: &str, limit: usize) -> Result<Vec<ItemChange>> {
        let after = match after {
            "" => 0,
            text => text.parse::<u64>().map_err(|_| {
                Error::InvalidParameter(format!(
                    "{text:?} is not a position of this catalogue's changes"
                ))
            })?,
        };
        let read = self.db.begin_read()?;
        let table = match read.open_table(CHANGES) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        table
            .range(after.saturating_add(1)..)?
            .take(limit)
            .map(|row| Ok(serde_json::from_slice(row?.1.value())?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::ingest_paths;

    fn ingested() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let store = RedbCatalog::open(&path).unwrap();
        ingest_paths(
            &store,
            &[crate::conformance::shared_data()],
            |_, _, _, _| {},
        )
        .unwrap();
        (dir, path)
    }

    /// A file from before the change feed gets one at its first open, holding
    /// every item it has (a rule's backfill reaches them).
    #[test]
    fn a_file_without_a_change_feed_gets_one_with_every_item() {
        let (_dir, path) = ingested();
        let items = {
            let db = SharedDb::open(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.delete_table(CHANGES).unwrap();
            txn.commit().unwrap();
            db.begin_read()
                .unwrap()
                .open_table(ITEMS)
                .unwrap()
                .len()
                .unwrap()
        };
        let store = RedbCatalog::open(&path).unwrap();
        let feed = store.changes("", 100_000).unwrap();
        assert_eq!(feed.len() as u64, items);
        assert!(items > 10);
        drop(store);
        let store = RedbCatalog::open(&path).unwrap();
        assert_eq!(store.changes("", 100_000).unwrap(), feed, "seeded once");
    }

    fn all(store: &RedbCatalog) -> Vec<(String, String)> {
        let q = SearchQuery {
            limit: 10_000,
            ..SearchQuery::default()
        };
        let page = store.search(&q).unwrap();
        page.items
            .iter()
            .map(|i| {
                (
                    i["collection"].as_str().unwrap().into(),
                    i["id"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    #[test]
    fn an_open_reads_the_stored_entries_not_the_items() {
        let (_dir, path) = ingested();
        let before = all(&RedbCatalog::open(&path).unwrap());
        assert!(before.len() > 10, "{before:?}");
        // An item's bytes made unreadable: the open does not parse them (the
        // index is read from its own table), the item is reported when read.
        let (c, id) = before[0].clone();
        {
            let db = SharedDb::open(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(ITEMS)
                .unwrap()
                .insert((c.as_str(), id.as_str()), b"not json".as_slice())
                .unwrap();
            txn.commit().unwrap();
        }
        let store = RedbCatalog::open(&path).unwrap();
        let q = SearchQuery {
            ids: vec![before[1].1.clone()],
            limit: 10,
            ..SearchQuery::default()
        };
        assert_eq!(store.search(&q).unwrap().items.len(), 1);
        assert!(store.item(&c, &id).is_err());
    }

    #[test]
    fn a_file_without_the_entries_table_gets_it_at_its_first_open() {
        let (_dir, path) = ingested();
        let expected = all(&RedbCatalog::open(&path).unwrap());
        // As an earlier version left it: items, no entries.
        {
            let db = SharedDb::open(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.delete_table(ITEM_ENTRIES).unwrap();
            txn.commit().unwrap();
        }
        let store = RedbCatalog::open(&path).unwrap();
        assert_eq!(all(&store), expected);
        // Kept for the next open, one entry per item.
        drop(store);
        let db = SharedDb::open(&path).unwrap();
        let read = db.begin_read().unwrap();
        assert_eq!(
            read.open_table(ITEM_ENTRIES).unwrap().len().unwrap(),
            read.open_table(ITEMS).unwrap().len().unwrap()
        );
    }

    #[test]
    fn entries_follow_the_items_through_writes_and_deletes() {
        let (_dir, path) = ingested();
        let store = RedbCatalog::open(&path).unwrap();
        let mut items = all(&store);
        let (c, id) = items.pop().unwrap();
        assert!(store.delete_item(&c, &id).unwrap());
        let kept = all(&store);
        drop(store);
        let store = RedbCatalog::open(&path).unwrap();
        assert_eq!(all(&store), kept);
        assert!(!kept.contains(&(c.clone(), id.clone())));
        assert!(store.delete_collection(&c).unwrap());
        let left = all(&store);
        drop(store);
        assert!(left.iter().all(|(col, _)| col != &c));
        assert_eq!(all(&RedbCatalog::open(&path).unwrap()), left);
        // Every entry as stored decodes to the entry of its item.
        let db = SharedDb::open(&path).unwrap();
        let read = db.begin_read().unwrap();
        let items = read.open_table(ITEMS).unwrap();
        for row in read.open_table(ITEM_ENTRIES).unwrap().iter().unwrap() {
            let (key, value) = row.unwrap();
            let (collection, id) = key.value();
            let stored = decode_entry(collection, id, value.value()).unwrap();
            let item = decode_item(items.get((collection, id)).unwrap().unwrap().value()).unwrap();
            assert_eq!(stored, Entry::of(&item).unwrap());
        }
    }

    fn summaries(path: &Path) -> Vec<(String, String, Vec<u8>)> {
        let db = SharedDb::open(path).unwrap();
        let read = db.begin_read().unwrap();
        let table = read.open_table(FEATURE_SUMMARIES).unwrap();
        table
            .iter()
            .unwrap()
            .map(|row| {
                let (key, value) = row.unwrap();
                let (kind, id) = key.value();
                (kind.to_string(), id.to_string(), value.value().to_vec())
            })
            .collect()
    }

    #[test]
    fn summaries_stored_as_json_are_read_and_stored_again_in_the_binary_layout() {
        let (_dir, path) = ingested();
        let binary = summaries(&path);
        assert!(binary.len() > 100, "{}", binary.len());
        assert!(binary.iter().all(|(_, _, b)| b[0] == 1));
        let page = |store: &RedbCatalog| {
            let q = FeatureQuery {
                kind: "reach",
                limit: 10_000,
                ..FeatureQuery::default()
            };
            store.features(&q).unwrap().to_values()
        };
        let expected = page(&RedbCatalog::open(&path).unwrap());
        // As an earlier version left them: JSON.
        {
            let db = SharedDb::open(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut table = txn.open_table(FEATURE_SUMMARIES).unwrap();
                for (kind, id, bytes) in &binary {
                    let s = Summary::from_bytes(kind, id, bytes).unwrap();
                    let json = serde_json::to_vec(&s).unwrap();
                    table
                        .insert((kind.as_str(), id.as_str()), json.as_slice())
                        .unwrap();
                }
            }
            txn.commit().unwrap();
        }
        assert!(summaries(&path).iter().all(|(_, _, b)| b[0] == b'{'));
        let store = RedbCatalog::open(&path).unwrap();
        assert_eq!(page(&store), expected);
        drop(store);
        assert_eq!(summaries(&path), binary);
    }
}
