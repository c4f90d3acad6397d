//! STAC API item search: one validated [`SearchQuery`] built from a GET query
//! string or a POST body (parsed with the `stac` crate's API types), and the rules
//! every store applies (bbox, intersects, datetime, ids, collections, CQL2 filter,
//! query, sort, fields, limit and paging). Stores narrow candidates with their
//! indexes and call [`SearchQuery::matches`] for the rest.

use std::cmp::Ordering;

use cql2::Expr;
use serde_json::{Map, Value, json};
use stac::api::{Direction, Fields, Filter, GetSearch, Search};

use crate::{Error, Result};

/// Largest page a client may ask for.
pub const MAX_LIMIT: usize = 10_000;
/// The fields of an item when a client asks for the default set.
const DEFAULT_FIELDS: [&str; 10] = [
    "type",
    "stac_version",
    "id",
    "collection",
    "geometry",
    "bbox",
    "links",
    "assets",
    "properties.datetime",
    "properties.start_datetime",
];

/// Page size when the client does not say.
pub const DEFAULT_LIMIT: usize = 10;

/// A validated search.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Only these collections (empty: all).
    pub collections: Vec<String>,
    /// Only these item ids (empty: all).
    pub ids: Vec<String>,
    /// West, south, east, north.
    pub bbox: Option<[f64; 4]>,
    /// Start and end of the datetime interval in microseconds since 1970, inclusive, either open.
    pub datetime: Option<(Option<i64>, Option<i64>)>,
    /// CQL2 filter (including `intersects`, folded into it).
    pub filter: Option<Expr>,
    /// Query extension: property -> {operator: value}.
    pub query: Map<String, Value>,
    /// Sort keys: field (`id`, `collection`, `datetime`, a property, `properties.x`) and ascending.
    pub sortby: Vec<(String, bool)>,
    /// Fields extension.
    pub fields: Option<Fields>,
    /// The client sent `include` as null or `[]`: the default field set, less `exclude`.
    pub fields_default_set: bool,
    /// Page size.
    pub limit: usize,
    /// Where the page starts (from the paging token).
    pub start: PageStart,
}

/// Where a page of a search starts, read from its paging token. Each store pages
/// its own way: the embedded one by position (token `o40`), pgstac by the key of
/// the item a page ends or starts at (`next:COLLECTION:ID`, `prev:...`), which
/// stays right while items are added between two pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStart {
    /// Items skipped before the page.
    Offset(usize),
    /// A keyset token as the store wrote it (`next:...` or `prev:...`).
    Key(String),
}

impl Default for PageStart {
    fn default() -> Self {
        PageStart::Offset(0)
    }
}

impl PageStart {
    /// The longest keyset token taken (a collection and an item id, each at most
    /// a few hundred bytes).
    pub const MAX_KEY_BYTES: usize = 2048;

    /// The paging token of this start, for a `next` or `prev` link.
    pub fn token(&self) -> String {
        match self {
            PageStart::Offset(n) => format!("o{n}"),
            PageStart::Key(key) => key.clone(),
        }
    }

    /// Reads a paging token: empty or absent is the first page.
    pub fn parse(token: Option<&str>) -> Result<PageStart> {
        let t = match token {
            None | Some("") => return Ok(PageStart::default()),
            Some(t) => t,
        };
        let refuse = || bad(format!("token: {t:?} is not a paging token of this server"));
        if let Some(n) = t.strip_prefix('o') {
            return n.parse().map(PageStart::Offset).map_err(|_| refuse());
        }
        let keyed = (t.starts_with("next:") || t.starts_with("prev:"))
            && t.len() > 5
            && t.len() <= Self::MAX_KEY_BYTES
            && !t.chars().any(char::is_control);
        if keyed {
            Ok(PageStart::Key(t.to_string()))
        } else {
            Err(refuse())
        }
    }

    /// The position of a store that pages by position; a keyset token (from
    /// another store) is refused as a bad parameter.
    pub fn offset(&self) -> Result<usize> {
        match self {
            PageStart::Offset(n) => Ok(*n),
            PageStart::Key(key) => Err(bad(format!(
                "token: {key:?} is not a paging token of this catalogue"
            ))),
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The items of the page, in order, with the fields extension applied.
    pub items: Vec<Value>,
    /// How many items match in all.
    pub matched: u64,
    /// Where the next page starts, when there is one.
    pub next: Option<PageStart>,
    /// Where the previous page starts, when this is not the first.
    pub prev: Option<PageStart>,
}

/// One item of a page as the store keeps it, for a server that writes it into a
/// reply without parsing it: its links apart from the rest.
#[derive(Debug, Clone)]
pub struct StoredItem {
    /// Collection id.
    pub collection: String,
    /// Item id.
    pub id: String,
    /// The stored links (a JSON array), or None when the fields extension left them out.
    pub links: Option<Vec<u8>>,
    /// The item without its links (a JSON object).
    pub body: Vec<u8>,
}

/// A page of stored items.
#[derive(Debug, Clone, Default)]
pub struct StoredPage {
    /// The items, in order.
    pub items: Vec<StoredItem>,
    /// How many items match in all.
    pub matched: u64,
    /// Where the next page starts, when there is one.
    pub next: Option<PageStart>,
    /// Where the previous page starts, when this is not the first.
    pub prev: Option<PageStart>,
}

impl StoredPage {
    /// The stored form of a page of documents.
    pub fn from_page(page: Page) -> Result<StoredPage> {
        let items = page
            .items
            .into_iter()
            .map(|mut item| {
                let text = |k: &str| item[k].as_str().unwrap_or_default().to_string();
                let (collection, id) = (text("collection"), text("id"));
                let links = item
                    .as_object_mut()
                    .and_then(|o| o.remove("links"))
                    .map(|l| serde_json::to_vec(&l))
                    .transpose()?;
                Ok(StoredItem {
                    collection,
                    id,
                    links,
                    body: serde_json::to_vec(&item)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(StoredPage {
            items,
            matched: page.matched,
            next: page.next,
            prev: page.prev,
        })
    }
}

/// The index entry of an item: what the fast path of a search looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Collection id.
    pub collection: String,
    /// Item id.
    pub id: String,
    /// West, south, east, north, or None for an item without geometry.
    pub bbox: Option<[f64; 4]>,
    /// Start of the item's time, microseconds since 1970.
    pub start: i64,
    /// End of the item's time (equal to start for an instant).
    pub end: i64,
}

impl Entry {
    /// The entry of an item document.
    pub fn of(item: &Value) -> Result<Entry> {
        let text = |v: &Value| v.as_str().map(str::to_string);
        let id = text(&item["id"]).ok_or_else(|| invalid("item has no string \"id\""))?;
        let collection = text(&item["collection"])
            .ok_or_else(|| invalid(&format!("item {id:?} has no string \"collection\"")))?;
        let props = &item["properties"];
        let time = |key: &str| -> Result<Option<i64>> {
            match props.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_str().and_then(micros).map(Some).ok_or_else(|| {
                    invalid(&format!(
                        "item {id:?}: properties.{key} is not an RFC 3339 date-time: {v}"
                    ))
                }),
            }
        };
        let datetime = time("datetime")?;
        let start = time("start_datetime")?.or(datetime);
        let end = time("end_datetime")?.or(datetime);
        let (Some(start), Some(end)) = (start, end) else {
            return Err(invalid(&format!(
                "item {id:?}: properties need \"datetime\", or \"start_datetime\" and \"end_datetime\""
            )));
        };
        let bbox = match item.get("bbox") {
            Some(Value::Array(b)) if b.len() == 4 || b.len() == 6 => {
                let n: Vec<f64> = b.iter().filter_map(Value::as_f64).collect();
                if n.len() != b.len() {
                    return Err(invalid(&format!("item {id:?}: bbox holds a non-number")));
                }
                let half = n.len() / 2;
                Some([n[0], n[1], n[half], n[half + 1]])
            }
            None | Some(Value::Null) => match &item["geometry"] {
                Value::Null => None,
                geometry => geometry_bbox(geometry),
            },
            Some(other) => {
                return Err(invalid(&format!(
                    "item {id:?}: bbox must hold 4 or 6 numbers: {other}"
                )));
            }
        };
        Ok(Entry {
            collection,
            id,
            bbox,
            start,
            end,
        })
    }
}

fn invalid(text: &str) -> Error {
    Error::InvalidDocument(text.to_string())
}

fn bad(text: impl Into<String>) -> Error {
    Error::InvalidParameter(text.into())
}

/// Microseconds since 1970 of an RFC 3339 date-time.
pub fn micros(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_micros())
}

/// The box around a GeoJSON geometry's coordinates.
pub fn geometry_bbox(geometry: &Value) -> Option<[f64; 4]> {
    fn walk(v: &Value, b: &mut Option<[f64; 4]>) {
        match v {
            Value::Array(a) if a.len() >= 2 && a.iter().all(Value::is_number) => {
                let (x, y) = (a[0].as_f64().unwrap_or(0.0), a[1].as_f64().unwrap_or(0.0));
                *b = Some(match *b {
                    None => [x, y, x, y],
                    Some(c) => [c[0].min(x), c[1].min(y), c[2].max(x), c[3].max(y)],
                });
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, b)),
            _ => {}
        }
    }
    let mut b = None;
    if let Some(parts) = geometry.get("geometries").and_then(Value::as_array) {
        parts.iter().for_each(|g| walk(&g["coordinates"], &mut b));
    } else {
        walk(&geometry["coordinates"], &mut b);
    }
    b
}

impl SearchQuery {
    /// A search from the query string of `GET /search` or `GET /collections/{id}/items`.
    pub fn from_get(pairs: &[(String, String)]) -> Result<SearchQuery> {
        let mut map = Map::new();
        let (mut token, mut query) = (None, None);
        for (key, value) in pairs {
            match key.as_str() {
                "token" => token = Some(value.clone()),
                "query" => query = Some(value.clone()),
                "f" => {}
                "bbox" => {
                    let n: Vec<&str> = value.split(',').collect();
                    if !(n.len() == 4 || n.len() == 6)
                        || n.iter().any(|x| x.trim().parse::<f64>().is_err())
                    {
                        return Err(bad(format!(
                            "bbox: expected 4 or 6 comma-separated numbers (west,south,east,north), got {value:?}"
                        )));
                    }
                    map.insert(key.clone(), Value::String(value.clone()));
                }
                "limit" => {
                    if value.parse::<u64>().is_err() {
                        return Err(bad(format!(
                            "limit: expected a positive integer, got {value:?}"
                        )));
                    }
                    map.insert(key.clone(), Value::String(value.clone()));
                }
                "datetime" => {
                    stac::datetime::parse(value)
                        .map_err(|e| bad(format!("datetime {value:?}: {e} (RFC 3339 instant or start/end interval with .. for open ends)")))?;
                    map.insert(key.clone(), Value::String(value.clone()));
                }
                _ => {
                    map.insert(key.clone(), Value::String(value.clone()));
                }
            }
        }
        let get: GetSearch = serde_json::from_value(Value::Object(map))
            .map_err(|e| bad(format!("search parameters: {e}")))?;
        if let Some(unknown) = get.items.additional_fields.keys().next() {
            return Err(bad(format!(
                "{unknown}: not a search parameter of this server"
            )));
        }
        let filter_lang = get.items.filter_lang.clone();
        let search = Search::try_from(get).map_err(|e| bad(format!("search parameters: {e}")))?;
        let mut q = Self::from_search(search, filter_lang.as_deref())?;
        if let Some(text) = query {
            let parsed: Value = serde_json::from_str(&text)
                .map_err(|e| bad(format!("query: not a JSON object: {e}")))?;
            q.query = match parsed {
                Value::Object(m) => m,
                _ => return Err(bad("query: not a JSON object")),
            };
            check_query(&q.query)?;
        }
        q.start = PageStart::parse(token.as_deref())?;
        Ok(q)
    }

    /// A search from the JSON body of `POST /search`.
    pub fn from_post(body: &Value) -> Result<SearchQuery> {
        let mut body = body.clone();
        let Some(object) = body.as_object_mut() else {
            return Err(bad("search body: expected a JSON object"));
        };
        // Single names are accepted where lists are expected, as other servers do.
        for key in ["collections", "ids"] {
            if let Some(Value::String(one)) = object.get(key) {
                let list = one.split(',').map(|s| json!(s.trim())).collect();
                object.insert(key.into(), Value::Array(list));
            }
        }
        let mut fields_default_set = false;
        match object.get_mut("fields") {
            Some(Value::Null) => {
                return Err(bad(
                    "fields: expected an object with include and exclude lists",
                ));
            }
            Some(Value::Object(fields)) => {
                for key in ["include", "exclude"] {
                    let empty = match fields.get(key) {
                        Some(Value::Null) => true,
                        Some(Value::Array(a)) => a.is_empty(),
                        _ => false,
                    };
                    if key == "include" && empty {
                        fields_default_set = true;
                    }
                    if fields.get(key).is_some_and(Value::is_null) {
                        fields.remove(key);
                    }
                }
            }
            _ => {}
        }
        let token = match object.remove("token") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t),
            Some(other) => return Err(bad(format!("token: expected a string, got {other}"))),
        };
        // A filter without filter-lang is CQL2 JSON (an object) or CQL2 text (a
        // string); the stac crate reads the pair together and would otherwise
        // leave the filter out of the search.
        if !object.contains_key("filter-lang") {
            let lang = match object.get("filter") {
                Some(Value::Object(_)) => Some("cql2-json"),
                Some(Value::String(_)) => Some("cql2-text"),
                None | Some(Value::Null) => None,
                Some(other) => {
                    return Err(bad(format!(
                        "filter: expected a CQL2 JSON object or CQL2 text, got {other}"
                    )));
                }
            };
            if let Some(lang) = lang {
                object.insert("filter-lang".into(), json!(lang));
            }
        }
        // A CQL2 text filter arrives as a string with filter-lang cql2-text.
        let lang = object
            .get("filter-lang")
            .and_then(Value::as_str)
            .map(str::to_string);
        let search: Search =
            serde_json::from_value(body).map_err(|e| bad(format!("search body: {e}")))?;
        let mut q = Self::from_search(search, lang.as_deref())?;
        q.start = PageStart::parse(token.as_deref())?;
        q.fields_default_set = fields_default_set;
        Ok(q)
    }

    /// Validates a `stac` crate search.
    pub fn from_search(search: Search, filter_lang: Option<&str>) -> Result<SearchQuery> {
        let search = search
            .valid()
            .map_err(|e| bad(format!("search parameters: {e}")))?;
        let items = &search.items;
        let limit = match items.limit {
            None => DEFAULT_LIMIT,
            Some(0) => return Err(bad("limit: must be at least 1")),
            Some(n) => usize::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT),
        };
        let bbox = items.bbox.map(|b| {
            let v: Vec<f64> = b.into();
            let half = v.len() / 2;
            [v[0], v[1], v[half], v[half + 1]]
        });
        if let Some(b) = bbox {
            if !(-90.0..=90.0).contains(&b[1]) || !(-90.0..=90.0).contains(&b[3]) || b[1] > b[3] {
                return Err(bad(format!(
                    "bbox: latitudes must be within -90..90 with south <= north, got {b:?}"
                )));
            }
        }
        let datetime = match items.datetime.as_deref() {
            None => None,
            Some(text) => {
                let (start, end) = stac::datetime::parse(text)
                    .map_err(|e| bad(format!("datetime {text:?}: {e}")))?;
                Some((
                    start.map(|t| t.timestamp_micros()),
                    end.map(|t| t.timestamp_micros()),
                ))
            }
        };
        let mut filter = match &items.filter {
            None => None,
            Some(Filter::Cql2Text(text)) => {
                if let Some(lang) = filter_lang {
                    if lang != "cql2-text" && lang != "cql2-json" {
                        return Err(bad(format!(
                            "filter-lang: {lang:?} is not supported (cql2-text, cql2-json)"
                        )));
                    }
                }
                check_text_filter(text).map_err(bad)?;
                bound_the_parser();
                Some(cql2::parse_text(text).map_err(|e| bad(format!("filter: {e}")))?)
            }
            Some(Filter::Cql2Json(map)) => {
                let value = Value::Object(map.clone());
                check_json_filter(&value).map_err(bad)?;
                Some(
                    serde_json::from_value::<Expr>(value)
                        .map_err(|e| bad(format!("filter: not a CQL2 JSON expression: {e}")))?,
                )
            }
        };
        if let Some(crs) = &items.filter_crs {
            if crs != "http://www.opengis.net/def/crs/OGC/1.3/CRS84" {
                return Err(bad(format!(
                    "filter-crs: only CRS84 is supported, got {crs}"
                )));
            }
        }
        if let Some(geometry) = &search.intersects {
            let geometry = serde_json::to_value(geometry)?;
            let clause: Expr = serde_json::from_value(json!({
                "op": "s_intersects",
                "args": [{"property": "geometry"}, geometry]
            }))
            .map_err(|e| bad(format!("intersects: {e}")))?;
            filter = Some(match filter {
                None => clause,
                Some(f) => Expr::Operation {
                    op: "and".into(),
                    args: vec![Box::new(f), Box::new(clause)],
                },
            });
        }
        let query = items.query.clone().unwrap_or_default();
        check_query(&query)?;
        let sortby = items
            .sortby
            .iter()
            .map(|s| (s.field.clone(), matches!(s.direction, Direction::Ascending)))
            .collect();
        Ok(SearchQuery {
            collections: search.collections.clone(),
            ids: search.ids.clone(),
            bbox,
            datetime,
            filter,
            query,
            sortby,
            fields: items.fields.clone(),
            fields_default_set: false,
            limit,
            start: PageStart::default(),
        })
    }

    /// True when an entry passes the index rules (collections, ids, bbox, datetime).
    pub fn matches_entry(&self, e: &Entry) -> bool {
        if !self.collections.is_empty() && !self.collections.contains(&e.collection) {
            return false;
        }
        if !self.ids.is_empty() && !self.ids.contains(&e.id) {
            return false;
        }
        if let Some(b) = self.bbox {
            let Some(i) = e.bbox else { return false };
            let x_overlap = if b[0] <= b[2] {
                i[0] <= b[2] && i[2] >= b[0]
            } else {
                // A box across the antimeridian: west > east.
                i[2] >= b[0] || i[0] <= b[2]
            };
            if !(x_overlap && i[1] <= b[3] && i[3] >= b[1]) {
                return false;
            }
        }
        if let Some((start, end)) = self.datetime {
            if start.is_some_and(|s| e.end < s) || end.is_some_and(|t| e.start > t) {
                return false;
            }
        }
        true
    }

    /// True when the search needs the item documents beyond the index entries: a
    /// filter, a query, or a sort other than by time (the index keeps two orders:
    /// by collection and id, and by time).
    pub fn needs_document(&self) -> bool {
        self.filter.is_some()
            || !self.query.is_empty()
            || self
                .sortby
                .iter()
                .any(|(f, _)| !matches!(f.as_str(), "datetime" | "properties.datetime"))
    }

    /// True when an item document passes the filter and the query.
    pub fn matches_document(&self, item: &Value) -> Result<bool> {
        if let Some(filter) = &self.filter {
            // A predicate that cannot be decided for this item (a property it lacks,
            // a type that does not compare) is not true of it: the item is left out.
            if !filter.clone().reduce(Some(item)).is_ok_and(Expr::is_true) {
                return Ok(false);
            }
        }
        for (name, ops) in &self.query {
            let value = property(item, name);
            if !query_matches(value, ops) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Orders two items by the sort keys (ties: ascending collection, then id).
    pub fn compare(&self, a: &Value, b: &Value) -> Ordering {
        for (field, ascending) in &self.sortby {
            let o = compare_values(property(a, field), property(b, field));
            let o = if *ascending { o } else { o.reverse() };
            if o != Ordering::Equal {
                return o;
            }
        }
        compare_values(a.get("collection"), b.get("collection"))
            .then_with(|| compare_values(a.get("id"), b.get("id")))
    }

    /// Applies the fields extension to an item: with `include`, the named fields
    /// plus what keeps it an item (type, stac_version, id, collection); with only
    /// `exclude`, everything else (or the default set when `include` was sent empty);
    /// a field both included and excluded is included.
    pub fn shape(&self, item: Value) -> Value {
        let Some(fields) = &self.fields else {
            return item;
        };
        let mut include: Vec<&str> = fields.include.iter().map(String::as_str).collect();
        if include.is_empty() && self.fields_default_set && !fields.exclude.is_empty() {
            include = DEFAULT_FIELDS.to_vec();
        }
        if include.is_empty() && fields.exclude.is_empty() {
            return item;
        }
        let mut item = item;
        if !include.is_empty() {
            let mut kept = Map::new();
            for key in ["type", "stac_version", "id", "collection"] {
                if let Some(v) = item.get(key) {
                    kept.insert(key.to_string(), v.clone());
                }
            }
            for path in &include {
                copy_path(&item, &mut kept, path);
            }
            item = Value::Object(kept);
        }
        for path in &fields.exclude {
            let kept_below = fields
                .include
                .iter()
                .any(|i| i == path || i.starts_with(&format!("{path}.")));
            if !kept_below {
                remove_path(&mut item, path);
            }
        }
        item
    }
}

/// The longest filter parsed (CQL2 text, or CQL2 JSON written out), in bytes.
pub const MAX_FILTER_BYTES: usize = 16 * 1024;
/// The deepest nesting of a filter (parentheses of CQL2 text, arrays and objects of
/// CQL2 JSON): the parser and the evaluation recurse once per level.
pub const MAX_FILTER_DEPTH: usize = 32;

/// Rule calls one parse of a CQL2 text may make. The parser backtracks: on
/// unbalanced parentheses its work grows fourfold a level (16 levels took 0.4 to
/// 0.7 s, 32 would take hours), while a balanced 20 KB filter of 1,200 terms
/// takes 16 ms; with this budget any parse ends within about 30 ms (debug build).
pub const MAX_FILTER_CALLS: usize = 1_000_000;

/// A CQL2 filter from a URL parameter: text (`filter-lang` absent or
/// `cql2-text`) or JSON (`cql2-json`), checked for size and depth first.
pub fn parse_filter(text: &str, lang: Option<&str>) -> Result<Expr> {
    match lang {
        None | Some("cql2-text") => {
            check_text_filter(text).map_err(bad)?;
            bound_the_parser();
            cql2::parse_text(text).map_err(|e| bad(format!("filter: {e}")))
        }
        Some("cql2-json") => {
            let value: Value =
                serde_json::from_str(text).map_err(|e| bad(format!("filter: not JSON ({e})")))?;
            check_json_filter(&value).map_err(bad)?;
            serde_json::from_value::<Expr>(value)
                .map_err(|e| bad(format!("filter: not a CQL2 JSON expression: {e}")))
        }
        Some(other) => Err(bad(format!(
            "filter-lang: {other:?} is not supported (cql2-text, cql2-json)"
        ))),
    }
}

/// Bounds the CQL2 parser (pest, process-wide) by [`MAX_FILTER_CALLS`].
fn bound_the_parser() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| pest::set_call_limit(std::num::NonZeroUsize::new(MAX_FILTER_CALLS)));
}

/// Refuses a CQL2 text filter too long or too deeply nested, before the parser
/// sees it (600 nested parentheses overflowed its stack and aborted the server).
fn check_text_filter(text: &str) -> std::result::Result<(), String> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(format!(
            "filter: {} bytes, more than the {MAX_FILTER_BYTES} a filter may have",
            text.len()
        ));
    }
    let (mut depth, mut deepest, mut quoted) = (0usize, 0usize, false);
    for c in text.chars() {
        match c {
            // '' inside a literal is an escaped quote: it toggles twice.
            '\'' => quoted = !quoted,
            '(' if !quoted => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_FILTER_DEPTH {
        return Err(format!(
            "filter: parentheses nested {deepest} deep, more than the {MAX_FILTER_DEPTH} a filter may have"
        ));
    }
    Ok(())
}

/// [`check_text_filter`] for a CQL2 JSON filter.
fn check_json_filter(value: &Value) -> std::result::Result<(), String> {
    fn depth(value: &Value) -> usize {
        match value {
            Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    let deepest = depth(value);
    if deepest > 2 * MAX_FILTER_DEPTH {
        return Err(format!(
            "filter: nested {deepest} deep, more than the {} a filter may have",
            2 * MAX_FILTER_DEPTH
        ));
    }
    let bytes = value.to_string().len();
    if bytes > MAX_FILTER_BYTES {
        return Err(format!(
            "filter: {bytes} bytes, more than the {MAX_FILTER_BYTES} a filter may have"
        ));
    }
    Ok(())
}

const QUERY_OPS: [&str; 10] = [
    "eq",
    "neq",
    "lt",
    "lte",
    "gt",
    "gte",
    "startsWith",
    "endsWith",
    "contains",
    "in",
];

fn check_query(query: &Map<String, Value>) -> Result<()> {
    for (name, ops) in query {
        let Some(ops) = ops.as_object() else {
            return Err(bad(format!(
                "query.{name}: expected an object of operators such as {{\"lte\": 1}}"
            )));
        };
        for op in ops.keys() {
            if !QUERY_OPS.contains(&op.as_str()) {
                return Err(bad(format!(
                    "query.{name}.{op}: unknown operator (eq, neq, lt, lte, gt, gte, startsWith, endsWith, contains, in)"
                )));
            }
        }
    }
    Ok(())
}

fn query_matches(value: Option<&Value>, ops: &Value) -> bool {
    let Some(ops) = ops.as_object() else {
        return false;
    };
    ops.iter().all(|(op, arg)| {
        // GET clients send numbers as text: compare them as numbers with numbers.
        let coerced;
        let arg = match (value, arg) {
            (Some(Value::Number(_)), Value::String(t)) => match t.parse::<f64>() {
                Ok(n) => {
                    coerced = json!(n);
                    &coerced
                }
                Err(_) => arg,
            },
            _ => arg,
        };
        let Some(v) = value.filter(|v| !v.is_null()) else {
            // An unknown value (absent or null) satisfies no comparison but neq.
            return op == "neq";
        };
        let cmp = || compare_values(Some(v), Some(arg));
        let text = |f: fn(&str, &str) -> bool| match (v.as_str(), arg.as_str()) {
            (Some(a), Some(b)) => f(a, b),
            _ => false,
        };
        match op.as_str() {
            "eq" => cmp() == Ordering::Equal,
            "neq" => cmp() != Ordering::Equal,
            "lt" => comparable(v, arg) && cmp() == Ordering::Less,
            "lte" => comparable(v, arg) && cmp() != Ordering::Greater,
            "gt" => comparable(v, arg) && cmp() == Ordering::Greater,
            "gte" => comparable(v, arg) && cmp() != Ordering::Less,
            "startsWith" => text(|a, b| a.starts_with(b)),
            "endsWith" => text(|a, b| a.ends_with(b)),
            "contains" => text(|a, b| a.contains(b)),
            // On a list property (instruments, usgs:sites), any member may match.
            "in" => arg.as_array().is_some_and(|list| {
                let members = match v {
                    Value::Array(items) => items.iter().collect(),
                    one => vec![one],
                };
                members.iter().any(|m| {
                    list.iter()
                        .any(|x| compare_values(Some(m), Some(x)) == Ordering::Equal)
                })
            }),
            _ => false,
        }
    })
}

fn comparable(a: &Value, b: &Value) -> bool {
    (a.is_number() && b.is_number()) || (a.is_string() && b.is_string())
}

/// A field of an item: top-level (`id`, `collection`), dotted (`properties.x`), or a property name.
pub fn property<'a>(item: &'a Value, field: &str) -> Option<&'a Value> {
    if let Some(path) = field.strip_prefix("properties.") {
        return item.get("properties")?.get(path);
    }
    match field {
        "id" | "collection" | "geometry" | "bbox" => item.get(field),
        _ => item.get("properties")?.get(field),
    }
}

/// Order of JSON values: absent/null last, numbers by value, strings by text, others by their text.
fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Number(x)), Some(Value::String(y))) => match y.parse::<f64>() {
            Ok(y) => x.as_f64().partial_cmp(&Some(y)).unwrap_or(Ordering::Equal),
            Err(_) => Ordering::Less,
        },
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

fn copy_path(from: &Value, to: &mut Map<String, Value>, path: &str) {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let Some(value) = from.get(head) else { return };
    if rest.is_empty() {
        to.insert(head.to_string(), value.clone());
        return;
    }
    let slot = to
        .entry(head.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(inner) = slot {
        copy_path(value, inner, rest);
    }
}

fn remove_path(item: &mut Value, path: &str) {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let Some(object) = item.as_object_mut() else {
        return;
    };
    if rest.is_empty() {
        object.remove(head);
    } else if let Some(inner) = object.get_mut(head) {
        remove_path(inner, rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn item(id: &str, q: Value) -> Value {
        json!({"type": "Feature", "id": id, "collection": "c", "bbox": [0, 0, 1, 1],
               "geometry": {"type": "Point", "coordinates": [0.5, 0.5]},
               "properties": {"datetime": "2024-01-02T00:00:00Z", "reach_q": q}})
    }

    #[test]
    fn paging_tokens_are_offsets_or_keys_and_nothing_else() {
        let parse = |t: &str| PageStart::parse(Some(t));
        assert_eq!(parse("").unwrap(), PageStart::Offset(0));
        assert_eq!(PageStart::parse(None).unwrap(), PageStart::Offset(0));
        assert_eq!(parse("o40").unwrap(), PageStart::Offset(40));
        let key = parse("next:SWOT_L2_HR_RiverSP_Reach:item-1").unwrap();
        assert_eq!(
            key,
            PageStart::Key("next:SWOT_L2_HR_RiverSP_Reach:item-1".into())
        );
        assert_eq!(key.token(), "next:SWOT_L2_HR_RiverSP_Reach:item-1");
        assert_eq!(PageStart::Offset(7).token(), "o7");
        // A key is not an offset: a store that pages by position refuses it.
        let e = key.offset().unwrap_err().to_string();
        assert!(e.contains("not a paging token of this catalogue"), "{e}");
        let long = format!("prev:{}", "x".repeat(PageStart::MAX_KEY_BYTES));
        for bad in ["o", "o-1", "x40", "next:", "next:a\nb", long.as_str()] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("token:"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_posted_filter_without_its_language_is_read() {
        let json = SearchQuery::from_post(&json!({
            "filter": {"op": "=", "args": [{"property": "swot:cycle_number"}, 2]}
        }))
        .unwrap();
        assert!(json.filter.is_some());
        let text = SearchQuery::from_post(&json!({"filter": "swot:cycle_number = 2"})).unwrap();
        assert_eq!(text.filter, json.filter);
        let err = SearchQuery::from_post(&json!({"filter": 3}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("filter"), "{err}");
    }

    #[test]
    fn get_parameters_become_a_query() {
        let q = SearchQuery::from_get(&pairs(&[
            ("bbox", "0,0,2,2"),
            ("collections", "a,b"),
            ("datetime", "2024-01-01T00:00:00Z/.."),
            ("limit", "5"),
            ("sortby", "-datetime"),
            ("filter", "reach_q <= 1"),
            ("token", "o10"),
        ]))
        .unwrap();
        assert_eq!(q.bbox, Some([0.0, 0.0, 2.0, 2.0]));
        assert_eq!(q.collections, ["a", "b"]);
        assert_eq!(q.limit, 5);
        assert_eq!(q.start, PageStart::Offset(10));
        assert_eq!(q.sortby, [("datetime".to_string(), false)]);
        assert!(q.matches_document(&item("x", json!(1))).unwrap());
        assert!(!q.matches_document(&item("x", json!(2))).unwrap());
        // An unknown quality (null) is not a match: the filter says so, not a number.
        assert!(!q.matches_document(&item("x", Value::Null)).unwrap());
    }

    #[test]
    fn bad_parameters_name_themselves() {
        let err =
            |list: &[(&str, &str)]| SearchQuery::from_get(&pairs(list)).unwrap_err().to_string();
        assert!(err(&[("bbox", "0,0,x,1")]).contains("bbox"));
        assert!(err(&[("datetime", "yesterday")]).contains("datetime"));
        assert!(err(&[("limit", "0")]).contains("limit"));
        assert!(err(&[("filter", "reach_q <=")]).contains("filter"));
        assert!(err(&[("token", "zz")]).contains("token"));
        assert!(err(&[("bbox", "0,95,1,96")]).contains("latitudes"));
    }

    #[test]
    fn deep_or_long_filters_are_refused_before_parsing() {
        let err =
            |list: &[(&str, &str)]| SearchQuery::from_get(&pairs(list)).unwrap_err().to_string();
        // 600 nested parentheses overflowed the parser's stack and aborted the process.
        let deep = format!("{}reach_q <= 1{}", "(".repeat(600), ")".repeat(600));
        assert!(err(&[("filter", &deep)]).contains("nested 600 deep"));
        let long = format!("reach_id = '{}'", "7".repeat(MAX_FILTER_BYTES));
        assert!(err(&[("filter", &long)]).contains("bytes"));
        // Parentheses inside a literal do not count; 32 levels are accepted.
        let quoted = format!("river_name = '{}'", "(".repeat(100));
        assert!(SearchQuery::from_get(&pairs(&[("filter", &quoted)])).is_ok());
        let fine = format!("{}reach_q <= 1{}", "(".repeat(32), ")".repeat(32));
        assert!(SearchQuery::from_get(&pairs(&[("filter", &fine)])).is_ok());
        // Unbalanced parentheses made the parser backtrack fourfold a level (this
        // took hours at 32): the parse is bounded, and refused quickly.
        let started = std::time::Instant::now();
        let unbalanced = format!("{}point(1 2", "(".repeat(32));
        assert!(err(&[("filter", &unbalanced)]).contains("filter"));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // CQL2 JSON: the same bound.
        let mut nested = json!({"op": "<=", "args": [{"property": "reach_q"}, 1]});
        for _ in 0..100 {
            nested = json!({"op": "not", "args": [nested]});
        }
        let refused =
            SearchQuery::from_post(&json!({"filter": nested, "filter-lang": "cql2-json"}))
                .unwrap_err()
                .to_string();
        assert!(refused.contains("deep"), "{refused}");
    }

    #[test]
    fn query_extension_and_intersects() {
        let q = SearchQuery::from_post(&json!({
            "query": {"reach_q": {"lte": 1}},
            "intersects": {"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1],[0,0]]]}
        }))
        .unwrap();
        assert!(q.matches_document(&item("x", json!(0))).unwrap());
        assert!(!q.matches_document(&item("x", json!(3))).unwrap());
        let far = SearchQuery::from_post(&json!({
            "intersects": {"type": "Point", "coordinates": [50, 50]}
        }))
        .unwrap();
        assert!(!far.matches_document(&item("x", json!(0))).unwrap());
    }

    #[test]
    fn fields_keep_what_is_asked() {
        let q =
            SearchQuery::from_get(&pairs(&[("fields", "properties.reach_q,-geometry")])).unwrap();
        let shaped = q.shape(item("x", json!(1)));
        assert_eq!(shaped["properties"], json!({"reach_q": 1}));
        assert!(shaped.get("geometry").is_none());
        assert_eq!(shaped["id"], "x");
    }

    #[test]
    fn entries_of_items() {
        let e = Entry::of(&item("x", json!(1))).unwrap();
        assert_eq!(e.bbox, Some([0.0, 0.0, 1.0, 1.0]));
        assert_eq!(e.start, micros("2024-01-02T00:00:00Z").unwrap());
        let err = Entry::of(&json!({"id": "y", "collection": "c", "properties": {}})).unwrap_err();
        assert!(err.to_string().contains("datetime"), "{err}");
    }
}
