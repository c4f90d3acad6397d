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

use hysope_catalog::search::{Entry, StoredPage};
use hysope_catalog::store::{
    CatalogStore, Ingested, ItemsCommit, Observation, document_id, extend, next_version,
    public_collection,
};
use hysope_catalog::{Error as CatalogError, Page, PageStart, Result, SearchQuery};
use serde_json::{Map, Value, json};

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
        let batches: Vec<(String, Vec<Entry>, String)> = by_collection
            .into_iter()
            .map(|(c, (entries, items))| {
                let rows: Vec<String> = items.iter().map(|i| to_pgstac(i)).collect();
                (c, entries, format!("[{}]", rows.join(",")))
            })
            .collect();
        let pool = self.pg.pool().clone();
        let done = self.pg.spawn(async move {
            let mut client = pool.get().await?;
            let tx = crate::begin(&mut client, durable).await?;
            for (collection, entries, items) in &batches {
                let Some(mut stored) = locked_collection(&tx, collection).await? else {
                    return Err(carry(CatalogError::NoSuchCollection(collection.clone())));
                };
                tx.execute("SELECT pgstac.upsert_items($1::text::jsonb)", &[items])
                    .await?;
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

    fn ingest(
        &self,
        collection: &Value,
        mut item: Value,
        checksum: &str,
        observations: Vec<Observation>,
    ) -> Result<Ingested> {
        let base = document_id(&item, "item")?;
        let collection_id = document_id(collection, "collection")?;
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
        let collection = collection.clone();
        let checksum = checksum.to_string();
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
                    return Ok(Ingested::Unchanged(
                        same["item"].as_str().unwrap_or(&base).to_string(),
                    ));
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
                versions.push(json!({ "sha256": checksum, "item": item_id }));
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
