//! The catalogue on PostgreSQL with pgstac ([`PgCatalog`]): collections and items
//! in pgstac's own tables, written and searched through its functions
//! (`upsert_items`, `search`), so that any pgstac tool (pypgstac loads,
//! stac-fastapi-pgstac, titiler-pgstac) reads the same catalogue. What pgstac has
//! no place for, the observations of the time series and the checksums of the
//! ingested files, is in tables of the `hysope` schema, written in the same
//! transaction as the item they belong to.
//!
//! pgstac pages by key, not by position: a search's `next` and `prev` tokens are
//! pgstac's own (`next:COLLECTION:ID`), kept as [`PageStart::Key`], which stay
//! right while items are added between two pages.

use std::collections::BTreeMap;

use hysope_catalog::features::{
    FeaturePage, FeatureQuery, FeatureRecord, NameHit, Sighting, Summary, boxes, name_key,
    name_keys, rank_names,
};
use hysope_catalog::ingest::Product;
use hysope_catalog::search::{Entry, StoredPage};
use hysope_catalog::store::{
    CatalogStore, Ingested, ItemsCommit, Observation, document_id, extend, file_base, next_version,
    public_collection, publish_assets, source_in,
};
use hysope_catalog::{Error as CatalogError, ItemChange, Page, PageStart, Result, SearchQuery};
use serde_json::{Map, Value, json};
use sha2::Digest;

use crate::{Error, Param, Pg};

/// The pgstac version the store is written against (its `search` paging and
/// `context` settings); the server refuses a database without pgstac.
pub const PGSTAC_VERSION: &str = "0.10";

const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS hysope;
CREATE TABLE IF NOT EXISTS hysope.catalog_files (
    name text COLLATE \"C\" PRIMARY KEY,
    versions text NOT NULL
);
CREATE TABLE IF NOT EXISTS hysope.observations (
    kind text COLLATE \"C\" NOT NULL,
    feature_id text COLLATE \"C\" NOT NULL,
    time text COLLATE \"C\" NOT NULL,
    item_id text COLLATE \"C\" NOT NULL,
    properties text NOT NULL,
    PRIMARY KEY (kind, feature_id, time, item_id)
);
-- The reaches, nodes and lakes the products show (hysope_catalog::features):
-- the record without its geometry, its summary, the geometry (GeoJSON) and its box.
CREATE TABLE IF NOT EXISTS hysope.features (
    kind text COLLATE \"C\" NOT NULL,
    id text COLLATE \"C\" NOT NULL,
    record text NOT NULL,
    summary text NOT NULL,
    geometry text,
    west float8 NOT NULL,
    south float8 NOT NULL,
    east float8 NOT NULL,
    north float8 NOT NULL,
    parent text COLLATE \"C\",
    last_time bigint,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS features_box ON hysope.features
    USING gist (box(point(west, south), point(east, north)));
CREATE INDEX IF NOT EXISTS features_parent ON hysope.features (kind, parent, id);
-- Each name of a feature under each of its keys (hysope_catalog::features::name_keys).
CREATE TABLE IF NOT EXISTS hysope.feature_names (
    key text COLLATE \"C\" NOT NULL,
    kind text COLLATE \"C\" NOT NULL,
    name text COLLATE \"C\" NOT NULL,
    id text COLLATE \"C\" NOT NULL,
    PRIMARY KEY (key, kind, name, id)
);
CREATE INDEX IF NOT EXISTS feature_names_of ON hysope.feature_names (kind, id);
-- The change feed (hysope_catalog::ItemChange): a row written in the transaction
-- of the item it records, read in the order of (transaction id, sequence) and
-- only below the oldest transaction still running, so that no change can commit
-- behind a reader. The version each item was last stored with: an item stored
-- again unchanged makes no change.
CREATE TABLE IF NOT EXISTS hysope.item_versions (
    collection text COLLATE \"C\" NOT NULL,
    id text COLLATE \"C\" NOT NULL,
    version text NOT NULL,
    PRIMARY KEY (collection, id)
);
-- A catalogue from before the feed: its feed starts with every item it holds
-- (a rule's backfill reaches them).
DO $feed$
BEGIN
    IF to_regclass('hysope.catalog_changes') IS NULL THEN
        CREATE TABLE hysope.catalog_changes (
            xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            seq bigserial NOT NULL,
            collection text NOT NULL,
            item text NOT NULL,
            version text NOT NULL,
            time bigint NOT NULL,
            PRIMARY KEY (xid, seq)
        );
        INSERT INTO hysope.catalog_changes (collection, item, version, time)
        SELECT collection, id, encode(sha256(convert_to(content::text, 'UTF8')), 'hex'),
               (extract(epoch FROM now()) * 1000)::bigint
        FROM pgstac.items ORDER BY datetime, collection, id;
    END IF;
END
$feed$;
-- The numbers of Hysope's products as pgstac queryables: pgstac compares and
-- sorts an undeclared property as text (pass 372 before pass 51). Declared
-- once; an operator's own declaration of the same name is left as it is.
SELECT pgstac.upsert_queryable(q.name, q.definition::jsonb, q.wrapper, q.index_type)
FROM (VALUES
    ('swot:cycle_number', '{\"type\": \"integer\", \"title\": \"SWOT cycle\"}', 'to_int', 'BTREE'),
    ('swot:pass_number', '{\"type\": \"integer\", \"title\": \"SWOT pass\"}', 'to_int', 'BTREE'),
    ('swot:feature_count', '{\"type\": \"integer\"}', 'to_int', NULL),
    ('swot:observed_count', '{\"type\": \"integer\"}', 'to_int', NULL),
    ('swot:pixel_count', '{\"type\": \"integer\"}', 'to_int', NULL),
    ('swot:product_counter', '{\"type\": \"integer\"}', 'to_int', NULL),
    ('usgs:rows', '{\"type\": \"integer\"}', 'to_int', NULL)
) AS q(name, definition, wrapper, index_type)
WHERE NOT EXISTS (SELECT 1 FROM pgstac.queryables WHERE queryables.name = q.name);
";

const SCHEMA_LOCK: i64 = 0x6879_736f_7065_0004;

/// Search settings sent with every `pgstac.search`: an exact `numberMatched`,
/// counted again for each search (pgstac keeps counts for a day by default, so a
/// page after an ingest would give yesterday's total), and the items as stored,
/// each with its collection's base item, hydrated here ([`hydrate`]): pgstac's
/// own hydration in PL/pgSQL took 4x as long as the rest of a 100-item search.
const SEARCH_CONF: &str =
    r#"{"context": "on", "context_stats_ttl": "0 seconds", "nohydrate": true}"#;

/// The marker pgstac stores for a key an item lacks but its base item has.
const ABSENT: &str = "\u{1235f}\u{203b}";

/// An item as pgstac's `search` gives it without hydration (its stored content,
/// `pgstac:base_item` beside it) made whole, as pgstac's `merge_jsonb` does: the
/// item's values win, the base item fills what the item lacks, the marker
/// [`ABSENT`] removes a key, arrays of the same length merge member by member,
/// and no object keeps a null member.
fn hydrate(mut item: Value) -> Value {
    let base = item
        .as_object_mut()
        .and_then(|o| o.remove("pgstac:base_item"))
        .unwrap_or(Value::Null);
    merge(Some(item), Some(base)).unwrap_or(Value::Null)
}

fn merge(item: Option<Value>, base: Option<Value>) -> Option<Value> {
    match (item, base) {
        (Some(Value::String(s)), _) if s == ABSENT => None,
        (None | Some(Value::Null), base) => base.map(strip_nulls),
        (Some(Value::Object(mut a)), Some(Value::Object(mut b))) => {
            let mut out = Map::new();
            let keys: Vec<String> = a.keys().chain(b.keys()).cloned().collect();
            for key in keys {
                if out.contains_key(&key) {
                    continue;
                }
                if let Some(v) = merge(a.remove(&key), b.remove(&key)) {
                    if !v.is_null() {
                        out.insert(key, v);
                    }
                }
            }
            Some(Value::Object(out))
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => Some(Value::Array(
            a.into_iter()
                .zip(b)
                .map(|(x, y)| merge(Some(x), Some(y)).unwrap_or(Value::Null))
                .collect(),
        )),
        (Some(a), _) => Some(strip_nulls(a)),
    }
}

/// A value without null object members, at any depth (`jsonb_strip_nulls`).
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// The catalogue in a PostgreSQL database where pgstac is installed.
#[derive(Clone)]
pub struct PgCatalog {
    pg: Pg,
}

fn store_error(e: Error) -> CatalogError {
    CatalogError::Store(e.to_string())
}

/// A refused search (a bad token, a filter pgstac cannot run) is the caller's
/// error; anything else is the store's.
fn search_error(e: Error) -> CatalogError {
    if let Error::Db(db) = &e {
        if let Some(d) = db.as_db_error() {
            let code = d.code().code();
            // P0001: raised by pgstac (bad token, bad filter); 22xxx: bad data
            // (a date, a number); 42xxx: a property pgstac cannot compare.
            if code == "P0001" || code.starts_with("22") || code.starts_with("42") {
                return CatalogError::InvalidParameter(format!("search: {}", d.message()));
            }
        }
    }
    store_error(e)
}

/// The geometry an item without one is stored with: pgstac's geometry column is
/// never null (STAC allows `geometry: null`, a gauge file without site
/// coordinates has none). An empty collection intersects no box, as an item
/// without geometry matches none in the embedded store; [`restore`] turns it
/// back into null.
const NO_GEOMETRY: &str = r#"{"type":"GeometryCollection","geometries":[]}"#;

/// An item as pgstac takes it (see [`NO_GEOMETRY`]).
fn to_pgstac(item: &Value) -> String {
    match item.get("geometry") {
        None | Some(Value::Null) => {
            let mut item = item.clone();
            item["geometry"] = serde_json::from_str(NO_GEOMETRY).expect("a JSON geometry");
            item.to_string()
        }
        Some(_) => item.to_string(),
    }
}

/// An item as pgstac gives it back, as it was written. pgstac keeps no null
/// property: `datetime: null` beside `start_datetime` and `end_datetime` comes
/// back absent, which STAC does not allow, so it is put back; the stand-in of a
/// missing geometry ([`NO_GEOMETRY`]) becomes null again.
fn restore(mut item: Value) -> Value {
    if let Some(p) = item.get_mut("properties").and_then(Value::as_object_mut) {
        if !p.contains_key("datetime") {
            p.insert("datetime".into(), Value::Null);
        }
    }
    let empty = item["geometry"]["type"] == "GeometryCollection"
        && item["geometry"]["geometries"]
            .as_array()
            .is_some_and(Vec::is_empty);
    if empty {
        item["geometry"] = Value::Null;
        if let Some(o) = item.as_object_mut() {
            o.remove("bbox");
        }
    }
    item
}

fn text_of(time: Option<i64>) -> String {
    time.and_then(chrono::DateTime::from_timestamp_micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| "..".into())
}

/// The pgstac search document of a query. The fields extension is applied after
/// (by [`SearchQuery::shape`], as every store does), so pgstac returns whole items.
fn pgstac_search(query: &SearchQuery) -> Result<Value> {
    let mut s = Map::new();
    if !query.collections.is_empty() {
        s.insert("collections".into(), json!(query.collections));
    }
    if !query.ids.is_empty() {
        s.insert("ids".into(), json!(query.ids));
    }
    if let Some(b) = query.bbox {
        s.insert("bbox".into(), json!(b));
    }
    if let Some((start, end)) = query.datetime {
        s.insert(
            "datetime".into(),
            json!(format!("{}/{}", text_of(start), text_of(end))),
        );
    }
    // pgstac takes a filter or a query, not both, and its query knows neither
    // startsWith, endsWith nor contains: the query becomes CQL2 here, joined to
    // the filter.
    let mut terms = Vec::new();
    if let Some(filter) = &query.filter {
        let filter = serde_json::to_value(filter)
            .map_err(|e| CatalogError::InvalidParameter(format!("filter: {e}")))?;
        terms.push(for_pgstac(filter)?);
    }
    terms.extend(query_terms(&query.query));
    let filter = match terms.len() {
        0 => None,
        1 => terms.pop(),
        _ => Some(json!({"op": "and", "args": terms})),
    };
    if let Some(filter) = filter {
        s.insert("filter".into(), filter);
        s.insert("filter-lang".into(), json!("cql2-json"));
    }
    if !query.sortby.is_empty() {
        let sortby: Vec<Value> = query
            .sortby
            .iter()
            .map(|(field, asc)| {
                json!({"field": field, "direction": if *asc { "asc" } else { "desc" }})
            })
            .collect();
        s.insert("sortby".into(), Value::Array(sortby));
    }
    s.insert("limit".into(), json!(query.limit));
    match &query.start {
        PageStart::Offset(0) => {}
        PageStart::Key(token) => {
            s.insert("token".into(), json!(token));
        }
        other => {
            return Err(CatalogError::InvalidParameter(format!(
                "token: {:?} is not a paging token of this catalogue",
                other.token()
            )));
        }
    }
    s.insert(
        "conf".into(),
        serde_json::from_str(SEARCH_CONF).expect("the search settings are JSON"),
    );
    Ok(Value::Object(s))
}

/// The member geometries of a geometry collection, nested ones flattened.
fn members(geometry: &Value, out: &mut Vec<Value>) {
    match geometry["geometries"].as_array() {
        Some(list) if geometry["type"] == "GeometryCollection" => {
            for g in list {
                members(g, out);
            }
        }
        _ => out.push(geometry.clone()),
    }
}

/// A CQL2 JSON filter in the forms pgstac reads: `between` with its bounds as
/// two arguments (clients also send them as one array), and a geometry
/// collection, which pgstac's spatial operators refuse, as its members
/// (intersects a collection: intersects one of them; disjoint: all of them).
fn for_pgstac(filter: Value) -> Result<Value> {
    let Value::Object(mut node) = filter else {
        return Ok(filter);
    };
    let op = node
        .get("op")
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    let Some(Value::Array(args)) = node.remove("args") else {
        return Ok(Value::Object(node));
    };
    let mut args = args
        .into_iter()
        .map(for_pgstac)
        .collect::<Result<Vec<_>>>()?;
    match op.as_deref() {
        Some("between") if args.len() == 2 && args[1].as_array().is_some_and(|b| b.len() == 2) => {
            let bounds = args
                .pop()
                .and_then(|b| b.as_array().cloned())
                .unwrap_or_default();
            args.extend(bounds);
        }
        Some(spatial @ ("s_intersects" | "intersects" | "s_disjoint")) => {
            let collection = args.iter().position(|a| a["type"] == "GeometryCollection");
            if let Some(i) = collection {
                let mut parts = Vec::new();
                members(&args[i], &mut parts);
                let join = if spatial == "s_disjoint" { "and" } else { "or" };
                let terms: Vec<Value> = parts
                    .into_iter()
                    .map(|g| {
                        let mut each = args.clone();
                        each[i] = g;
                        json!({"op": spatial, "args": each})
                    })
                    .collect();
                return Ok(match terms.len() {
                    // An empty collection intersects nothing and is disjoint from all.
                    0 if join == "or" => json!({"op": "=", "args": [1, 0]}),
                    0 => json!({"op": "=", "args": [1, 1]}),
                    _ => json!({"op": join, "args": terms}),
                });
            }
        }
        Some(spatial)
            if spatial.starts_with("s_")
                && args.iter().any(|a| a["type"] == "GeometryCollection") =>
        {
            return Err(CatalogError::InvalidParameter(format!(
                "filter: {spatial} with a GeometryCollection is not supported by this catalogue (pgstac); s_intersects and s_disjoint are"
            )));
        }
        _ => {}
    }
    node.insert("args".into(), Value::Array(args));
    Ok(Value::Object(node))
}

/// A LIKE pattern matching `text` literally, with `%` where `before` and
/// `after` say.
fn like(text: &str, before: bool, after: bool) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    if before {
        pattern.push('%');
    }
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    if after {
        pattern.push('%');
    }
    pattern
}

/// The query extension's terms as CQL2 JSON, with the embedded store's rules:
/// an unknown value (absent or null) satisfies no comparison but `neq`; `in`
/// on a list property (`instruments`) matches when any member is in the list.
fn query_terms(query: &Map<String, Value>) -> Vec<Value> {
    let mut terms = Vec::new();
    for (name, ops) in query {
        let property = json!({ "property": name });
        let Some(ops) = ops.as_object() else { continue };
        for (op, arg) in ops {
            let compare = |cql: &str| json!({"op": cql, "args": [property, arg]});
            let text = |before: bool, after: bool| match arg.as_str() {
                Some(t) => json!({"op": "like", "args": [property, like(t, before, after)]}),
                // A text operator with a value that is not text matches nothing.
                None => json!({"op": "=", "args": [1, 0]}),
            };
            terms.push(match op.as_str() {
                "eq" => compare("="),
                "neq" => json!({"op": "or", "args": [
                    compare("<>"),
                    {"op": "isNull", "args": [property]},
                ]}),
                "lt" => compare("<"),
                "lte" => compare("<="),
                "gt" => compare(">"),
                "gte" => compare(">="),
                "startsWith" => text(false, true),
                "endsWith" => text(true, false),
                "contains" => text(true, true),
                "in" => json!({"op": "or", "args": [
                    compare("in"),
                    compare("a_overlaps"),
                ]}),
                // SearchQuery refuses any other operator before a store sees it.
                _ => continue,
            });
        }
    }
    terms
}

/// The token a pgstac `next` or `prev` link carries.
fn link_token(links: &Value, rel: &str) -> Option<PageStart> {
    links.as_array()?.iter().find_map(|l| {
        if l["rel"] != rel {
            return None;
        }
        let href = l["href"].as_str()?;
        let token = &href[href.find("token=")? + "token=".len()..];
        Some(PageStart::Key(token.to_string()))
    })
}

impl PgCatalog {
    /// The catalogue in `pg`'s database: pgstac must be installed there (by
    /// `pypgstac migrate`, or `deploy/services/postgres.sh` for the tests and the
    /// demo); the connections need `pgstac` on their search path ([`PgCatalog::connect`]
    /// sets it). The `hysope` schema's tables are made when missing.
    pub fn open(pg: Pg) -> Result<Self, Error> {
        let pool = pg.pool().clone();
        let version = pg.block(async move {
            let client = pool.get().await?;
            let has = client
                .query_one(
                    "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgstac'",
                    &[],
                )
                .await?
                .get::<_, i64>(0);
            if has == 0 {
                return Ok(None);
            }
            let row = client.query_one("SELECT pgstac.get_version()", &[]).await?;
            Ok(Some(row.get::<_, String>(0)))
        })?;
        match version {
            None => {
                return Err(Error::Setup(format!(
                    "the database has no pgstac schema: install pgstac {PGSTAC_VERSION} there (pypgstac migrate)"
                )));
            }
            Some(v) if !v.starts_with(PGSTAC_VERSION) => {
                return Err(Error::Setup(format!(
                    "the database has pgstac {v}; this Hysope needs pgstac {PGSTAC_VERSION}.x (pypgstac migrate --toversion {PGSTAC_VERSION}.0)"
                )));
            }
            Some(_) => {}
        }
        let pool = pg.pool().clone();
        pg.block(async move { crate::migrate(&pool, SCHEMA_LOCK, SCHEMA).await })?;
        Ok(Self { pg })
    }

    /// A pool to the database `url` names (`postgres://…`, or `pgstac://…` for
    /// the same), with pgstac first on every connection's search path, and the
    /// catalogue in it ([`PgCatalog::open`]).
    pub fn connect(url: &str, pool_size: usize) -> Result<Self, Error> {
        let url = match url.strip_prefix("pgstac://") {
            Some(rest) => format!("postgres://{rest}"),
            None => url.to_string(),
        };
        let (mut config, tls) = Pg::parse(&url)?;
        let options = format!(
            "{} -c search_path=pgstac,public",
            config.get_options().unwrap_or("")
        );
        config.options(options.trim_start());
        Self::open(Pg::with_config(config, tls, pool_size)?)
    }

    /// The pool.
    pub fn pg(&self) -> &Pg {
        &self.pg
    }

    fn texts(&self, sql: &'static str, params: Vec<Param>) -> Result<Vec<String>> {
        self.pg.texts(sql, params).map_err(store_error)
    }

    fn parse(text: &str) -> Result<Value> {
        Ok(serde_json::from_str(text)?)
    }
}

/// Reads a collection for update in `tx`, whether it exists or not: its stored
/// content (extent flags included), or None.
/// Records the changes of `items` (collection, id, version) in the feed, in the
/// transaction that stores them: those whose version differs from the one
/// stored last (a batch's later copy of an item wins).
/// One collection's share of a transaction: its entries, its items as one
/// pgstac JSON array, and each item's (collection, id, version).
struct Batch {
    collection: String,
    entries: Vec<Entry>,
    items: String,
    versions: Vec<(String, String, String)>,
}

async fn record_changes(
    tx: &tokio_postgres::Transaction<'_>,
    items: &[(String, String, String)],
) -> std::result::Result<(), tokio_postgres::Error> {
    let mut last: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for (collection, id, version) in items {
        last.insert((collection, id), version);
    }
    let mut columns: [Vec<&str>; 3] = Default::default();
    for ((collection, id), version) in last {
        columns[0].push(collection);
        columns[1].push(id);
        columns[2].push(version);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    tx.execute(
        "WITH input AS (
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS t(collection, id, version)
         ), changed AS (
             INSERT INTO hysope.item_versions AS iv (collection, id, version)
             SELECT collection, id, version FROM input
             ON CONFLICT (collection, id) DO UPDATE SET version = EXCLUDED.version
                 WHERE iv.version <> EXCLUDED.version
             RETURNING iv.collection, iv.id, iv.version
         )
         INSERT INTO hysope.catalog_changes (collection, item, version, time)
         SELECT collection, id, version, $4 FROM changed",
        &[&columns[0], &columns[1], &columns[2], &now],
    )
    .await?;
    Ok(())
}

async fn locked_collection(
    tx: &deadpool_postgres::Transaction<'_>,
    id: &str,
) -> Result<Option<Value>, Error> {
    // The row lock cannot cover a collection not made yet: two writers that both
    // find none would both create it (workers catalogued their first results
    // together, and one item was lost to the unique violation). One lock per id,
    // until the transaction ends.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 11))",
        &[&id],
    )
    .await?;
    let row = tx
        .query_opt(
            "SELECT content::text FROM pgstac.collections WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?;
    Ok(row.and_then(|r| serde_json::from_str(&r.get::<_, String>(0)).ok()))
}

/// A catalogue error raised inside a transaction's future, carried out through
/// the client's error type.
fn carry(e: CatalogError) -> Error {
    Error::Catalog(Box::new(e))
}

fn uncarry(e: Error) -> CatalogError {
    match e {
        Error::Catalog(e) => *e,
        other => store_error(other),
    }
}

/// Takes in the features a product shows, in `tx`: their
/// records read for update, absorbed, written back with their names.
async fn write_features(
    tx: &deadpool_postgres::Transaction<'_>,
    sightings: &[Sighting],
) -> Result<(), Error> {
    let mut by_kind: BTreeMap<&str, Vec<&Sighting>> = BTreeMap::new();
    for s in sightings {
        by_kind.entry(s.kind).or_default().push(s);
    }
    for (kind, sightings) in by_kind {
        let ids: Vec<&str> = sightings.iter().map(|s| s.id.as_str()).collect();
        let rows = tx
            .query(
                "SELECT id, record FROM hysope.features WHERE kind = $1 AND id = ANY($2)
                 ORDER BY id FOR UPDATE",
                &[&kind, &ids],
            )
            .await?;
        let mut records: BTreeMap<String, FeatureRecord> = BTreeMap::new();
        for r in rows {
            let record: FeatureRecord =
                serde_json::from_str(&r.get::<_, String>(1)).map_err(|e| carry(e.into()))?;
            records.insert(r.get(0), record);
        }
        for s in &sightings {
            match records.get_mut(&s.id) {
                Some(r) => r.absorb(s),
                None => {
                    records.insert(s.id.clone(), FeatureRecord::new(s));
                }
            }
        }
        let mut columns: (Vec<String>, Vec<String>, Vec<String>, Vec<Option<String>>) =
            Default::default();
        let mut bounds: [Vec<f64>; 4] = Default::default();
        let (mut parents, mut times) = (Vec::new(), Vec::new());
        let (mut name_keys_, mut name_names, mut name_ids) = (Vec::new(), Vec::new(), Vec::new());
        for (id, mut record) in records {
            // The geometry is set only when this product's is the newest.
            let geometry = std::mem::take(&mut record.geometry);
            let summary: Summary = record.summary();
            for name in &record.names {
                for key in name_keys(name) {
                    name_keys_.push(key);
                    name_names.push(name.clone());
                    name_ids.push(id.clone());
                }
            }
            columns
                .1
                .push(serde_json::to_string(&record).map_err(|e| carry(e.into()))?);
            columns
                .2
                .push(serde_json::to_string(&summary).map_err(|e| carry(e.into()))?);
            columns
                .3
                .push((!geometry.is_null()).then(|| geometry.to_string()));
            for (i, b) in record.bbox.iter().enumerate() {
                bounds[i].push(*b);
            }
            parents.push(record.parent.clone());
            times.push(summary.last_time);
            columns.0.push(id);
        }
        let [west, south, east, north] = &bounds;
        tx.execute(
            "INSERT INTO hysope.features
                 (kind, id, record, summary, geometry, west, south, east, north, parent, last_time)
             SELECT $1, i, r, s, g, w, so, e, n, p, t
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::float8[],
                         $7::float8[], $8::float8[], $9::float8[], $10::text[], $11::bigint[])
                 AS x(i, r, s, g, w, so, e, n, p, t)
             ON CONFLICT (kind, id) DO UPDATE SET
                 record = EXCLUDED.record, summary = EXCLUDED.summary,
                 geometry = COALESCE(EXCLUDED.geometry, features.geometry),
                 west = EXCLUDED.west, south = EXCLUDED.south,
                 east = EXCLUDED.east, north = EXCLUDED.north,
                 parent = EXCLUDED.parent, last_time = EXCLUDED.last_time",
            &[
                &kind, &columns.0, &columns.1, &columns.2, &columns.3, west, south, east, north,
                &parents, &times,
            ],
        )
        .await?;
        tx.execute(
            "DELETE FROM hysope.feature_names WHERE kind = $1 AND id = ANY($2)",
            &[&kind, &columns.0],
        )
        .await?;
        tx.execute(
            "INSERT INTO hysope.feature_names (key, kind, name, id)
             SELECT k, $1, n, i FROM unnest($2::text[], $3::text[], $4::text[]) AS x(k, n, i)
             ON CONFLICT DO NOTHING",
            &[&kind, &name_keys_, &name_names, &name_ids],
        )
        .await?;
    }
    Ok(())
}

/// The conditions of a features query that SQL decides (all but the CQL2
/// filter): `$1` kind, `$2` ids, `$3` reach, `$4..$11` two boxes, `$12` whether a
/// time range applies, `$13`/`$14` its ends, `$15` the id to start after.
const FEATURES_WHERE: &str = "
    kind = $1
    AND (cardinality($2::text[]) = 0 OR id = ANY($2))
    AND ($3::text IS NULL OR parent = $3)
    AND ($4::float8 IS NULL
         OR box(point(west, south), point(east, north)) && box(point($4, $5), point($6, $7))
         OR box(point(west, south), point(east, north)) && box(point($8, $9), point($10, $11)))
    AND (NOT $12 OR (last_time IS NOT NULL
                     AND ($13::bigint IS NULL OR last_time >= $13)
                     AND ($14::bigint IS NULL OR last_time <= $14)))
    AND id > $15";

/// A page of a features query, with the same rules as the embedded index: exact
/// counts unless a CQL2 filter has nothing narrowing it (ids, a reach or a box).
async fn features_page(
    client: &deadpool_postgres::Client,
    q: &FeatureQuery,
) -> Result<FeaturePage, Error> {
    let parts = q.bbox.map(boxes).unwrap_or_default();
    let corner = |part: usize, i: usize| parts.get(part).or(parts.first()).map(|b| b[i]);
    let (start, end) = q.datetime.unwrap_or((None, None));
    let ids: Vec<&str> = q.ids.iter().map(String::as_str).collect();
    let row_params = |after: &str| -> Vec<Param> {
        let mut p: Vec<Param> = vec![
            Box::new(q.kind.to_string()),
            Box::new(ids.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            Box::new(q.reach.clone()),
        ];
        for part in 0..2 {
            for i in 0..4 {
                p.push(Box::new(corner(part, i)));
            }
        }
        p.push(Box::new(q.datetime.is_some()));
        p.push(Box::new(start));
        p.push(Box::new(end));
        p.push(Box::new(after.to_string()));
        p
    };
    let refs = crate::refs;
    let parse = |text: String| -> Result<Summary, Error> {
        serde_json::from_str(&text).map_err(|e| carry(e.into()))
    };
    let after = q.after.clone().unwrap_or_default();
    let narrowed = !q.ids.is_empty() || q.reach.is_some() || q.bbox.is_some();
    let mut page: Vec<Summary> = Vec::new();
    let mut next = None;
    let matched;
    if q.filter.is_none() {
        let params = row_params(&after);
        let sql = format!(
            "SELECT summary FROM hysope.features WHERE {FEATURES_WHERE} ORDER BY id LIMIT {}",
            q.limit + 1
        );
        for r in client.query(sql.as_str(), &refs(&params)).await? {
            page.push(parse(r.get(0))?);
        }
        if page.len() > q.limit {
            page.truncate(q.limit);
            next = page.last().map(|s| s.id.clone());
        }
        let params = row_params("");
        let sql = format!("SELECT count(*) FROM hysope.features WHERE {FEATURES_WHERE}");
        let n: i64 = client.query_one(sql.as_str(), &refs(&params)).await?.get(0);
        matched = Some(n.max(0) as u64);
    } else if narrowed {
        // Every candidate is read to count those the filter keeps.
        let params = row_params("");
        let sql = format!("SELECT summary FROM hysope.features WHERE {FEATURES_WHERE} ORDER BY id");
        let mut n = 0u64;
        for r in client.query(sql.as_str(), &refs(&params)).await? {
            let s = parse(r.get(0))?;
            if !q.matches(&s) {
                continue;
            }
            n += 1;
            if s.id.as_str() > after.as_str() {
                if page.len() < q.limit {
                    page.push(s);
                } else if next.is_none() {
                    next = page.last().map(|s| s.id.clone());
                }
            }
        }
        matched = Some(n);
    } else {
        // Read in batches up to the page's end; the count is left out.
        let mut cursor = after.clone();
        'batches: loop {
            let params = row_params(&cursor);
            let sql = format!(
                "SELECT summary FROM hysope.features WHERE {FEATURES_WHERE} ORDER BY id LIMIT 1000"
            );
            let rows = client.query(sql.as_str(), &refs(&params)).await?;
            let done = rows.len() < 1000;
            for r in rows {
                let s = parse(r.get(0))?;
                cursor = s.id.clone();
                if !q.matches(&s) {
                    continue;
                }
                if page.len() < q.limit {
                    page.push(s);
                } else {
                    next = page.last().map(|s| s.id.clone());
                    break 'batches;
                }
            }
            if done {
                break;
            }
        }
        matched = None;
    }
    let page_ids: Vec<String> = match q.skip_geometry {
        true => Vec::new(),
        false => page.iter().map(|s| s.id.clone()).collect(),
    };
    let rows = client
        .query(
            "SELECT id, geometry FROM hysope.features WHERE kind = $1 AND id = ANY($2)",
            &[&q.kind, &page_ids],
        )
        .await?;
    let mut geometries: BTreeMap<String, Box<serde_json::value::RawValue>> = BTreeMap::new();
    for r in rows {
        if let Some(g) = r.get::<_, Option<String>>(1) {
            geometries.insert(
                r.get(0),
                serde_json::value::RawValue::from_string(g).map_err(|e| carry(e.into()))?,
            );
        }
    }
    let features = page
        .iter()
        .map(|s| s.to_geojson_raw(geometries.get(&s.id).map(|g| &**g), q.now))
        .collect();
    Ok(FeaturePage {
        features,
        matched,
        next,
    })
}

impl CatalogStore for PgCatalog {
    fn put_collection(&self, collection: &Value) -> Result<()> {
        let id = document_id(collection, "collection")?;
        let mut new = collection.clone();
        let pool = self.pg.pool().clone();
        self.pg
            .block(async move {
                let mut client = pool.get().await?;
                let tx = crate::begin(&mut client, true).await?;
                match locked_collection(&tx, &id).await? {
                    Some(old) => {
                        // Keep the extent computed from the items when a client
                        // replaces the collection.
                        if old["extent"]["temporal_has_items"].as_bool() == Some(true) {
                            new["extent"] = old["extent"].clone();
                        }
                        tx.execute(
                            "SELECT pgstac.update_collection($1::text::jsonb)",
                            &[&new.to_string()],
                        )
                        .await?;
                    }
                    None => {
                        tx.execute(
                            "SELECT pgstac.create_collection($1::text::jsonb)",
                            &[&new.to_string()],
                        )
                        .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            })
            .map_err(store_error)
    }

    fn collection(&self, id: &str) -> Result<Option<Value>> {
        let rows = self.texts(
            "SELECT content::text FROM pgstac.collections WHERE id = $1",
            vec![Box::new(id.to_string())],
        )?;
        rows.first()
            .map(|t| Self::parse(t).map(public_collection))
            .transpose()
    }

    fn collections(&self) -> Result<Vec<Value>> {
        self.texts(
            "SELECT content::text FROM pgstac.collections ORDER BY id COLLATE \"C\"",
            Vec::new(),
        )?
        .iter()
        .map(|t| Self::parse(t).map(public_collection))
        .collect()
    }

    fn delete_collection(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        let pool = self.pg.pool().clone();
        self.pg
            .block(async move {
                let mut client = pool.get().await?;
                let tx = crate::begin(&mut client, true).await?;
                if locked_collection(&tx, &id).await?.is_none() {
                    return Ok(false);
                }
                // pgstac drops the collection's item partitions with it.
                tx.execute("SELECT pgstac.delete_collection($1)", &[&id])
                    .await?;
                tx.commit().await?;
                Ok(true)
            })
            .map_err(store_error)
    }

    fn put_items(&self, items: &[Value]) -> Result<()> {
        hysope_store::block_on(self.submit_items(items, true))
    }

    fn submit_items(&self, items: &[Value], durable: bool) -> ItemsCommit {
        // Checked on the caller's thread; written in one transaction that grows
        // each collection's extent under its row lock (gateways writing to the
        // same collection at once take turns there).
        let mut by_collection: BTreeMap<String, (Vec<Entry>, Vec<&Value>)> = BTreeMap::new();
        for item in items {
            match Entry::of(item) {
                Ok(entry) => {
                    let slot = by_collection.entry(entry.collection.clone()).or_default();
                    slot.0.push(entry);
                    slot.1.push(item);
                }
                Err(e) => return Box::pin(std::future::ready(Err(e))),
            }
        }
        // Each item's version: the sha256 of the document as it is written.
        let batches: Vec<Batch> = by_collection
            .into_iter()
            .map(|(c, (entries, items))| {
                let rows: Vec<String> = items.iter().map(|i| to_pgstac(i)).collect();
                let versions = entries
                    .iter()
                    .zip(&rows)
                    .map(|(e, row)| {
                        let digest = sha2::Sha256::digest(row.as_bytes());
                        (e.collection.clone(), e.id.clone(), hex::encode(digest))
                    })
                    .collect();
                Batch {
                    collection: c,
                    entries,
                    items: format!("[{}]", rows.join(",")),
                    versions,
                }
            })
            .collect();
        let pool = self.pg.pool().clone();
        let done = self.pg.spawn(async move {
            let mut client = pool.get().await?;
            let tx = crate::begin(&mut client, durable).await?;
            for Batch {
                collection,
                entries,
                items,
                versions,
            } in &batches
            {
                let Some(mut stored) = locked_collection(&tx, collection).await? else {
                    return Err(carry(CatalogError::NoSuchCollection(collection.clone())));
                };
                tx.execute("SELECT pgstac.upsert_items($1::text::jsonb)", &[items])
                    .await?;
                record_changes(&tx, versions).await?;
                for entry in entries {
                    extend(&mut stored, entry);
                }
                tx.execute(
                    "SELECT pgstac.update_collection($1::text::jsonb)",
                    &[&stored.to_string()],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        });
        Box::pin(async move { done.await.map_err(uncarry) })
    }

    fn item(&self, collection: &str, id: &str) -> Result<Option<Value>> {
        let rows = self.texts(
            "SELECT pgstac.get_item($1, $2)::text WHERE EXISTS
               (SELECT 1 FROM pgstac.items WHERE collection = $2 AND id = $1)",
            vec![Box::new(id.to_string()), Box::new(collection.to_string())],
        )?;
        rows.first()
            .map(|t| Self::parse(t).map(restore))
            .transpose()
    }

    fn delete_item(&self, collection: &str, id: &str) -> Result<bool> {
        let (collection, id) = (collection.to_string(), id.to_string());
        let pool = self.pg.pool().clone();
        self.pg
            .block(async move {
                let client = pool.get().await?;
                let n = client
                    .execute(
                        "DELETE FROM pgstac.items WHERE collection = $1 AND id = $2",
                        &[&collection, &id],
                    )
                    .await?;
                Ok(n > 0)
            })
            .map_err(store_error)
    }

    fn search(&self, query: &SearchQuery) -> Result<Page> {
        let body = pgstac_search(query)?.to_string();
        let text = self
            .pg
            .texts(
                "SELECT pgstac.search($1::text::jsonb)::text",
                vec![Box::new(body)],
            )
            .map_err(search_error)?;
        let text = text
            .first()
            .ok_or_else(|| CatalogError::Store("pgstac.search returned no row".into()))?;
        let mut reply = Self::parse(text)?;
        let items = match reply["features"].take() {
            Value::Array(items) => items
                .into_iter()
                .map(|i| query.shape(restore(hydrate(i))))
                .collect(),
            _ => Vec::new(),
        };
        Ok(Page {
            matched: reply["numberMatched"].as_u64().unwrap_or(0),
            next: link_token(&reply["links"], "next"),
            prev: link_token(&reply["links"], "prev"),
            items,
        })
    }

    fn search_stored(&self, query: &SearchQuery) -> Result<StoredPage> {
        StoredPage::from_page(self.search(query)?)
    }

    fn ingest(&self, product: Product) -> Result<Ingested> {
        let Product {
            collection,
            mut item,
            sha256: checksum,
            observations,
            sightings,
        } = product;
        let base = document_id(&item, "item")?;
        let collection_id = document_id(&collection, "collection")?;
        // The rows of the observations, one per key (the last wins, as a
        // second write of the same key does in the embedded store).
        let mut rows: BTreeMap<(&str, String, String), String> = BTreeMap::new();
        for o in &observations {
            rows.insert(
                (o.kind, o.feature_id.clone(), o.time.clone()),
                Value::Object(o.properties.clone()).to_string(),
            );
        }
        let mut columns: [Vec<String>; 4] = Default::default();
        for ((kind, feature, time), properties) in rows {
            columns[0].push(kind.to_string());
            columns[1].push(feature);
            columns[2].push(time);
            columns[3].push(properties);
        }
        let pool = self.pg.pool().clone();
        self.pg
            .block(async move {
                let mut client = pool.get().await?;
                let tx = crate::begin(&mut client, true).await?;
                // One ingest of a file name at a time, across gateways.
                tx.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))",
                    &[&base],
                )
                .await?;
                let versions = tx
                    .query_opt(
                        "SELECT versions FROM hysope.catalog_files WHERE name = $1",
                        &[&base],
                    )
                    .await?;
                let mut versions: Vec<Value> = match versions {
                    Some(row) => serde_json::from_str(&row.get::<_, String>(0))
                        .map_err(|e| carry(e.into()))?,
                    None => Vec::new(),
                };
                if let Some(same) = versions.iter().find(|v| v["sha256"] == checksum) {
                    let id = same["item"].as_str().unwrap_or(&base).to_string();
                    // A file stored before features were kept: its features now.
                    if let Some(s) = sightings.first() {
                        let known = tx
                            .query_opt(
                                "SELECT 1 FROM hysope.features WHERE kind = $1 AND id = $2",
                                &[&s.kind, &s.id],
                            )
                            .await?;
                        if known.is_none() {
                            write_features(&tx, &sightings).await?;
                            tx.commit().await?;
                        }
                    }
                    return Ok(Ingested::Unchanged(id));
                }
                let mut stored = match locked_collection(&tx, &collection_id).await? {
                    Some(c) => c,
                    None => {
                        tx.execute(
                            "SELECT pgstac.create_collection($1::text::jsonb)",
                            &[&collection.to_string()],
                        )
                        .await?;
                        collection.clone()
                    }
                };
                let outcome = match versions.last().and_then(|v| v["item"].as_str()) {
                    None => Ingested::New(base.clone()),
                    Some(previous) => {
                        let previous = previous.to_string();
                        let old = tx
                            .query_opt(
                                "SELECT pgstac.get_item($1, $2)::text FROM pgstac.items
                                 WHERE collection = $2 AND id = $1",
                                &[&previous, &collection_id],
                            )
                            .await?;
                        let mut old: Option<Value> = old
                            .map(|r| serde_json::from_str(&r.get::<_, String>(0)).map(restore))
                            .transpose()
                            .map_err(|e| carry(e.into()))?;
                        let id = next_version(
                            &mut item,
                            old.as_mut(),
                            &base,
                            &collection_id,
                            &previous,
                            versions.len(),
                        );
                        if let Some(old) = old {
                            tx.execute(
                                "SELECT pgstac.upsert_item($1::text::jsonb)",
                                &[&to_pgstac(&old)],
                            )
                            .await?;
                        }
                        Ingested::NewVersion { item: id, previous }
                    }
                };
                let item_id = item["id"].as_str().unwrap_or(&base).to_string();
                let version = publish_assets(&mut item, &collection_id, &checksum);
                let entry = Entry::of(&item).map_err(carry)?;
                extend(&mut stored, &entry);
                tx.execute(
                    "SELECT pgstac.update_collection($1::text::jsonb)",
                    &[&stored.to_string()],
                )
                .await?;
                tx.execute(
                    "SELECT pgstac.upsert_item($1::text::jsonb)",
                    &[&to_pgstac(&item)],
                )
                .await?;
                record_changes(&tx, &[(collection_id.clone(), item_id.clone(), checksum.clone())])
                    .await?;
                let [kinds, features, times, properties] = &columns;
                tx.execute(
                    "INSERT INTO hysope.observations (kind, feature_id, time, item_id, properties)
                     SELECT k, f, t, $4, p FROM unnest($1::text[], $2::text[], $3::text[], $5::text[])
                         AS o(k, f, t, p)
                     ON CONFLICT (kind, feature_id, time, item_id)
                     DO UPDATE SET properties = EXCLUDED.properties",
                    &[kinds, features, times, &item_id, properties],
                )
                .await?;
                write_features(&tx, &sightings).await?;
                versions.push(version);
                tx.execute(
                    "INSERT INTO hysope.catalog_files (name, versions) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET versions = EXCLUDED.versions",
                    &[&base, &Value::from(versions).to_string()],
                )
                .await?;
                tx.commit().await?;
                Ok(outcome)
            })
            .map_err(uncarry)
    }

    fn observations(
        &self,
        kind: &str,
        feature_id: &str,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<Vec<Observation>> {
        let kind: &'static str = match kind {
            "reach" => "reach",
            "node" => "node",
            _ => "lake",
        };
        let (feature, start, end) = (
            feature_id.to_string(),
            start.map(str::to_string),
            end.map(str::to_string),
        );
        let pool = self.pg.pool().clone();
        let rows = self
            .pg
            .block(async move {
                let client = pool.get().await?;
                let rows = client
                    .query(
                        "SELECT time, item_id, properties FROM hysope.observations
                         WHERE kind = $1 AND feature_id = $2
                           AND ($3::text IS NULL OR time >= $3)
                           AND ($4::text IS NULL OR time <= $4)
                         ORDER BY time, item_id",
                        &[&kind, &feature, &start, &end],
                    )
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| {
                        (
                            r.get::<_, String>(0),
                            r.get::<_, String>(1),
                            r.get::<_, String>(2),
                        )
                    })
                    .collect::<Vec<_>>())
            })
            .map_err(store_error)?;
        rows.into_iter()
            .map(|(time, item_id, properties)| {
                Ok(Observation {
                    kind,
                    feature_id: feature_id.to_string(),
                    time,
                    item_id,
                    properties: serde_json::from_str(&properties)?,
                })
            })
            .collect()
    }

    fn features(&self, query: &FeatureQuery) -> Result<FeaturePage> {
        let q = query.clone();
        let pool = self.pg.pool().clone();
        self.pg
            .block(async move {
                let client = pool.get().await?;
                features_page(&client, &q).await
            })
            .map_err(uncarry)
    }

    fn feature(&self, kind: &str, id: &str, now: i64) -> Result<Option<Value>> {
        let (kind, id) = (kind.to_string(), id.to_string());
        let pool = self.pg.pool().clone();
        let row = self
            .pg
            .block(async move {
                let client = pool.get().await?;
                let row = client
                    .query_opt(
                        "SELECT record, geometry FROM hysope.features WHERE kind = $1 AND id = $2",
                        &[&kind, &id],
                    )
                    .await?;
                Ok(row.map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1))))
            })
            .map_err(store_error)?;
        let Some((record, geometry)) = row else {
            return Ok(None);
        };
        let record: FeatureRecord = serde_json::from_str(&record)?;
        let geometry = match geometry {
            Some(g) => serde_json::from_str(&g)?,
            None => Value::Null,
        };
        Ok(Some(record.summary().to_geojson(geometry, now)))
    }

    fn feature_names(&self, text: &str, kinds: &[&str], limit: usize) -> Result<Vec<NameHit>> {
        let key = name_key(text);
        // Keys from `key` up to, not including, `key` followed by the last character.
        let high = format!("{key}\u{10ffff}");
        let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        let wanted = (limit.max(1) * 4) as i64;
        let pool = self.pg.pool().clone();
        let rows = self
            .pg
            .block(async move {
                let client = pool.get().await?;
                let names = client
                    .query(
                        "SELECT DISTINCT kind, name FROM hysope.feature_names
                         WHERE key >= $1 AND key < $2 AND kind = ANY($3) LIMIT $4",
                        &[&key, &high, &kinds, &wanted],
                    )
                    .await?;
                let (mut ks, mut ns, mut keys) = (Vec::new(), Vec::new(), Vec::new());
                for r in names {
                    let name: String = r.get(1);
                    keys.push(name_key(&name));
                    ks.push(r.get::<_, String>(0));
                    ns.push(name);
                }
                let rows = client
                    .query(
                        "SELECT n.kind, n.name, count(*),
                                (array_agg(f.id ORDER BY f.id))[1:$4],
                                min(f.west), min(f.south), max(f.east), max(f.north)
                         FROM unnest($1::text[], $2::text[], $3::text[]) AS n(kind, name, key)
                         JOIN hysope.feature_names m
                           ON m.key = n.key AND m.kind = n.kind AND m.name = n.name
                         JOIN hysope.features f ON f.kind = m.kind AND f.id = m.id
                         GROUP BY n.kind, n.name",
                        &[
                            &ks,
                            &ns,
                            &keys,
                            &(hysope_catalog::features::NAME_IDS as i32),
                        ],
                    )
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| NameHit {
                        kind: r.get(0),
                        name: r.get(1),
                        count: r.get::<_, i64>(2).max(0) as usize,
                        ids: r.get(3),
                        bbox: [r.get(4), r.get(5), r.get(6), r.get(7)],
                    })
                    .collect::<Vec<_>>())
            })
            .map_err(store_error)?;
        let mut hits = rows;
        rank_names(text, &mut hits);
        hits.truncate(limit);
        Ok(hits)
    }

    fn asset_source(&self, _collection: &str, item: &str, asset: &str) -> Result<Option<String>> {
        let base = file_base(item).to_string();
        let pool = self.pg.pool().clone();
        let versions = self
            .pg
            .block(async move {
                let client = pool.get().await?;
                let row = client
                    .query_opt(
                        "SELECT versions FROM hysope.catalog_files WHERE name = $1",
                        &[&base],
                    )
                    .await?;
                Ok(row.map(|r| r.get::<_, String>(0)))
            })
            .map_err(store_error)?;
        let Some(versions) = versions else {
            return Ok(None);
        };
        let versions: Vec<Value> = serde_json::from_str(&versions)?;
        Ok(source_in(&versions, item, asset))
    }

    fn item_count(&self) -> Result<u64> {
        let pool = self.pg.pool().clone();
        self.pg
            .block(async move {
                let client = pool.get().await?;
                let n: i64 = client
                    .query_one("SELECT count(*) FROM pgstac.items", &[])
                    .await?
                    .get(0);
                Ok(n.max(0) as u64)
            })
            .map_err(store_error)
    }

    fn changes(&self, after: &str, limit: usize) -> Result<Vec<ItemChange>> {
        let (xid, seq) = match after {
            "" => ("0".to_string(), 0i64),
            text => text
                .split_once('.')
                .and_then(|(x, s)| {
                    Some((x.parse::<u64>().ok()?.to_string(), s.parse::<i64>().ok()?))
                })
                .ok_or_else(|| {
                    CatalogError::InvalidParameter(format!(
                        "{text:?} is not a position of this catalogue's changes"
                    ))
                })?,
        };
        let limit = limit.min(100_000) as i64;
        let pool = self.pg.pool().clone();
        self.pg
            .block(async move {
                let client = pool.get().await?;
                let rows = client
                    .query(
                        "SELECT xid::text, seq, collection, item, version, time
                         FROM hysope.catalog_changes
                         WHERE (xid, seq) > ($1::text::xid8, $2)
                           AND xid < pg_snapshot_xmin(pg_current_snapshot())
                         ORDER BY xid, seq LIMIT $3",
                        &[&xid, &seq, &limit],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| ItemChange {
                        position: format!(
                            "{:020}.{:020}",
                            r.get::<_, String>(0).parse::<u64>().unwrap_or(0),
                            r.get::<_, i64>(1)
                        ),
                        collection: r.get(2),
                        item: r.get(3),
                        version: r.get(4),
                        time: r.get::<_, i64>(5).max(0) as u64,
                    })
                    .collect())
            })
            .map_err(store_error)
    }

    fn fault(&self) -> Option<String> {
        self.pg.fault()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_becomes_a_pgstac_search() {
        let q = SearchQuery::from_get(&[
            ("collections".into(), "a,b".into()),
            ("bbox".into(), "1,2,3,4".into()),
            ("datetime".into(), "2020-01-01T00:00:00Z/..".into()),
            ("sortby".into(), "-datetime".into()),
            ("limit".into(), "7".into()),
            ("token".into(), "next:a:x".into()),
        ])
        .unwrap();
        let s = pgstac_search(&q).unwrap();
        assert_eq!(s["collections"], json!(["a", "b"]));
        assert_eq!(s["bbox"], json!([1.0, 2.0, 3.0, 4.0]));
        assert_eq!(s["datetime"], "2020-01-01T00:00:00Z/..");
        assert_eq!(
            s["sortby"],
            json!([{"field": "datetime", "direction": "desc"}])
        );
        assert_eq!(s["limit"], 7);
        assert_eq!(s["token"], "next:a:x");
        assert_eq!(s["conf"]["context"], "on");
    }

    #[test]
    fn the_query_extension_becomes_cql2() {
        let q: Map<String, Value> = serde_json::from_value(json!({
            "swot:crid": {"startsWith": "P_G%"},
            "instruments": {"in": ["karin"]},
            "n": {"neq": 2, "lt": 5}
        }))
        .unwrap();
        let terms = query_terms(&q);
        assert_eq!(terms.len(), 4);
        assert!(
            terms
                .contains(&json!({"op": "like", "args": [{"property": "swot:crid"}, "P\\_G\\%%"]}))
        );
        assert!(terms.contains(&json!({"op": "<", "args": [{"property": "n"}, 5]})));
        assert!(terms.contains(&json!({"op": "or", "args": [
            {"op": "<>", "args": [{"property": "n"}, 2]},
            {"op": "isNull", "args": [{"property": "n"}]},
        ]})));
        let s = pgstac_search(
            &SearchQuery::from_post(&json!({
                "filter": {"op": "=", "args": [{"property": "a"}, 1]},
                "filter-lang": "cql2-json",
                "query": {"b": {"eq": 2}}
            }))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(s["filter"]["op"], "and");
        assert!(s.get("query").is_none());
    }

    #[test]
    fn filters_take_the_forms_pgstac_reads() {
        let between = for_pgstac(json!({"op": "not", "args": [
            {"op": "between", "args": [{"property": "c"}, [0, 50]]}
        ]}))
        .unwrap();
        assert_eq!(
            between["args"][0],
            json!({"op": "between", "args": [{"property": "c"}, 0, 50]})
        );
        let point = json!({"type": "Point", "coordinates": [1, 2]});
        let line = json!({"type": "LineString", "coordinates": [[1, 2], [3, 4]]});
        let gc = json!({"type": "GeometryCollection", "geometries": [
            point, {"type": "GeometryCollection", "geometries": [line]}
        ]});
        let geometry = json!({"property": "geometry"});
        let split = for_pgstac(json!({"op": "s_intersects", "args": [geometry, gc]})).unwrap();
        assert_eq!(
            split,
            json!({"op": "or", "args": [
                {"op": "s_intersects", "args": [geometry, point]},
                {"op": "s_intersects", "args": [geometry, line]},
            ]})
        );
        let e = for_pgstac(json!({"op": "s_within", "args": [geometry, gc]})).unwrap_err();
        assert!(e.to_string().contains("s_within"), "{e}");
    }

    #[test]
    fn an_offset_token_of_the_embedded_store_is_refused() {
        let q = SearchQuery::from_get(&[("token".into(), "o40".into())]).unwrap();
        let e = pgstac_search(&q).unwrap_err().to_string();
        assert!(e.contains("o40") && e.contains("not a paging token"), "{e}");
    }

    #[test]
    fn paging_links_give_their_tokens() {
        let links = json!([
            {"rel": "self", "href": "./search"},
            {"rel": "next", "href": "./search?token=next:c:i2"},
            {"rel": "prev", "href": "./search?token=prev:c:i1"},
        ]);
        assert_eq!(
            link_token(&links, "next"),
            Some(PageStart::Key("next:c:i2".into()))
        );
        assert_eq!(
            link_token(&links, "prev"),
            Some(PageStart::Key("prev:c:i1".into()))
        );
        assert_eq!(link_token(&json!([]), "next"), None);
    }

    #[test]
    fn an_item_without_geometry_comes_back_without() {
        let item = json!({"id": "g", "geometry": null, "properties": {"datetime": "x"}});
        let stored: Value = serde_json::from_str(&to_pgstac(&item)).unwrap();
        assert_eq!(stored["geometry"]["type"], "GeometryCollection");
        let mut back = stored.clone();
        back["bbox"] = json!([0, 0, 0, 0]);
        assert_eq!(restore(back), item);
    }

    #[test]
    fn hydration_merges_as_pgstac_does() {
        let stored = json!({
            "id": "i", "collection": "c", "type": "Feature",
            "properties": {"datetime": "2020-01-01T00:00:00Z", "gone": ABSENT, "n": null},
            "assets": {"data": {"href": "a.zip"}},
            "bands": [{"name": "x"}, {"name": "y"}],
            "pgstac:base_item": {
                "type": "Feature", "stac_version": "1.1.0", "collection": "c", "assets": null,
                "properties": {"gone": 1, "platform": "swot", "empty": null},
                "bands": [{"unit": "m"}, {"unit": "s"}],
                "extra": {"k": null, "v": 1}
            }
        });
        assert_eq!(
            hydrate(stored),
            json!({
                "id": "i", "collection": "c", "type": "Feature", "stac_version": "1.1.0",
                "properties": {"datetime": "2020-01-01T00:00:00Z", "platform": "swot"},
                "assets": {"data": {"href": "a.zip"}},
                "bands": [{"name": "x", "unit": "m"}, {"name": "y", "unit": "s"}],
                "extra": {"v": 1}
            })
        );
    }

    #[test]
    fn a_stripped_datetime_comes_back_null() {
        let item = restore(json!({"properties": {"start_datetime": "x"}}));
        assert_eq!(item["properties"]["datetime"], Value::Null);
        assert!(
            item["properties"]
                .as_object()
                .unwrap()
                .contains_key("datetime")
        );
    }
}
