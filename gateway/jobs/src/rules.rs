//! Production rules (issue 24, HYMOTEP): the catalogue produces by itself.
//!
//! A rule says "when an item of these collections matching this CQL2 filter
//! enters the catalogue, run this process with inputs taken from the item" (an
//! item rule), or "every period, run it over the items that entered during the
//! last one" (a schedule rule). Each run is an ordinary job, owned by the rule's
//! owner, whose record names the rule.
//!
//! **Exactly once per (rule, item version).** Rules follow the catalogue's change
//! feed ([`CatalogStore::changes`]), whose rows are written in the commits of the
//! items they record: an item is never seen without its change, and an item
//! stored again unchanged makes none. A rule keeps its position in the feed. The
//! job of a change has an id derived from (rule, collection, item, version) and is
//! written only where no record of that id exists (a swap over revision 0), before
//! the rule's position moves past the change: a crash between the ingestion and
//! the job, or between the job and the position, makes the job once when the
//! rule reads the change again. A schedule rule's job is derived from (rule,
//! period) the same way.
//!
//! **Backfill.** A rule made with `backfill: true` starts at the start of the
//! feed (which holds every item the catalogue had when the feed began, see the
//! stores), so it runs over the items already there; its progress is the changes
//! read against those that were there when it was made.
//!
//! **Chains.** A job's result item enters the catalogue (collection `results`)
//! and its change may trigger other rules. The item carries the rules that led to
//! it (`hysope:rules`): a rule never fires on an item its own run made, directly
//! or through others (a cycle), nor on one made through [`MAX_CHAIN`] rules.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hysope_catalog::{CatalogStore, ItemChange, SearchQuery};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{Error, ExecuteRequest, Jobs, Result};

/// Rules a result may have passed through before no rule fires on it.
pub const MAX_CHAIN: usize = 8;

/// Changes a rule reads at a time.
const BATCH: usize = 256;

/// A production rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Its id (1-64 lowercase letters, digits and `-`).
    pub id: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The process it runs.
    pub process: String,
    /// When it runs.
    pub trigger: Trigger,
    /// Input id -> where its value comes from ([`Source`], as JSON).
    #[serde(default)]
    pub inputs: Map<String, Value>,
    /// `active` or `paused`.
    #[serde(default)]
    pub state: RuleState,
    /// Who made it: its jobs are theirs.
    pub owner: String,
    /// Milliseconds since the epoch.
    pub created: u64,
    /// Its last change (of state, position or counts).
    pub updated: u64,
    /// The feed position it has read up to (`""`: none yet).
    #[serde(default)]
    pub position: String,
    /// Its run over the items the catalogue had when it was made, if asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<Backfill>,
    /// What it did.
    #[serde(default)]
    pub counts: RuleCounts,
    /// Why it last passed over a matching item, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_skip: Option<String>,
    /// Its latest jobs, newest first (at most 20).
    #[serde(default)]
    pub recent_jobs: Vec<String>,
    /// A schedule rule's next period start (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_period: Option<u64>,
}

/// When a rule runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Trigger {
    /// Each item of `collections` matching `filter` that enters the catalogue
    /// (a new item, or a new version of a file).
    Item {
        /// The collections watched.
        collections: Vec<String>,
        /// A CQL2 filter (JSON or text) on the item, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Value>,
    },
    /// Every `every` seconds, over the items of `collections` matching `filter`
    /// that entered the catalogue during the period before (periods start at
    /// multiples of `every` since 1970, UTC).
    Schedule {
        /// The period, in seconds (10 s to 366 days).
        every: u64,
        /// The collections watched.
        collections: Vec<String>,
        /// A CQL2 filter (JSON or text) on the items, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Value>,
    },
}

/// Whether a rule runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleState {
    /// It follows the feed.
    #[default]
    Active,
    /// It does not (its position stays: resumed, it reads what came meanwhile).
    Paused,
}

/// A rule's run over the items already there when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backfill {
    /// The feed's last position when the rule was made (`""`: the feed was empty).
    pub until: String,
    /// Changes up to `until`.
    pub total: u64,
    /// Of those, the ones read.
    pub done: u64,
}

/// What a rule did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCounts {
    /// Jobs it made.
    pub triggered: u64,
    /// Changes whose job existed already (read again after a crash).
    pub repeated: u64,
    /// Matching items it passed over (an input it could not take from them).
    pub skipped: u64,
    /// Items it did not fire on: made through itself, or through too many rules.
    pub cycles: u64,
}

/// Where an input's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A file of the item: its asset `key`, by the download link the item gives.
    Asset(String),
    /// A property of the item (`null` or absent: the input is left out).
    Property(String),
    /// A value given in the rule.
    Value(Value),
    /// An asset of the previous item of the same collection that has the same
    /// values of the `same` properties (the latest before this one's datetime);
    /// none: the input is left out.
    Previous { asset: String, same: Vec<String> },
    /// The files of asset `key` of every item of the period (schedule rules).
    Assets(String),
}

impl Source {
    /// Reads a source from its JSON: `{"asset": KEY}`, `{"property": NAME}`,
    /// `{"value": V}`, `{"previous": {"same": [NAME...]}, "asset": KEY}`,
    /// `{"assets": KEY}`.
    pub fn parse(input: &str, value: &Value) -> std::result::Result<Self, String> {
        let bad = |why: &str| format!("input {input:?}: {why}");
        let o = value
            .as_object()
            .ok_or_else(|| bad("a source is an object such as {\"asset\": \"data\"}"))?;
        let text = |key: &str| -> std::result::Result<String, String> {
            o[key]
                .as_str()
                .filter(|s| !s.is_empty() && s.len() <= 128)
                .map(str::to_string)
                .ok_or_else(|| bad(&format!("\"{key}\" must be a name of 1 to 128 characters")))
        };
        let keys: Vec<&str> = o.keys().map(String::as_str).collect();
        match keys.as_slice() {
            ["asset"] => Ok(Source::Asset(text("asset")?)),
            ["property"] => Ok(Source::Property(text("property")?)),
            ["value"] => Ok(Source::Value(o["value"].clone())),
            ["assets"] => Ok(Source::Assets(text("assets")?)),
            ["asset", "previous"] | ["previous", "asset"] => {
                let same = o["previous"]["same"]
                    .as_array()
                    .filter(|a| a.len() <= 8)
                    .ok_or_else(|| bad("\"previous\" is {\"same\": [PROPERTY...]} (at most 8)"))?
                    .iter()
                    .map(|p| p.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("\"same\" lists property names"))?;
                Ok(Source::Previous {
                    asset: text("asset")?,
                    same,
                })
            }
            _ => Err(bad(
                "a source is one of {\"asset\": KEY}, {\"property\": NAME}, {\"value\": V}, {\"previous\": {\"same\": [...]}, \"asset\": KEY}, {\"assets\": KEY}",
            )),
        }
    }
}

/// Where rules are kept.
pub trait RuleStore: Send + Sync {
    /// Inserts or replaces a rule, durably.
    fn put(&self, rule: &Rule) -> Result<()>;
    /// A rule by id.
    fn get(&self, id: &str) -> Result<Option<Rule>>;
    /// Every rule, by id.
    fn list(&self) -> Result<Vec<Rule>>;
    /// Removes a rule; true when it was there.
    fn delete(&self, id: &str) -> Result<bool>;
}

/// The embedded rule store: a table of the server's redb file.
pub struct RedbRuleStore {
    db: Arc<hysope_store::SharedDb>,
}

const RULES: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("rules");

impl RedbRuleStore {
    /// The rules in the server's file.
    pub fn open_shared(db: Arc<hysope_store::SharedDb>) -> Result<Self> {
        let tx = db.begin_write().map_err(store_error)?;
        tx.open_table(RULES).map_err(store_error)?;
        tx.commit().map_err(store_error)?;
        Ok(Self { db })
    }
}

fn store_error(e: impl std::fmt::Display) -> Error {
    Error::Database(e.to_string())
}

impl RuleStore for RedbRuleStore {
    fn put(&self, rule: &Rule) -> Result<()> {
        let (id, bytes) = (
            rule.id.clone(),
            serde_json::to_vec(rule).map_err(store_error)?,
        );
        self.db
            .write(
                Box::new(move |tx| {
                    tx.open_table(RULES)?
                        .insert(id.as_str(), bytes.as_slice())?;
                    Ok(())
                }),
                true,
            )
            .map_err(store_error)
    }

    fn get(&self, id: &str) -> Result<Option<Rule>> {
        let read = self.db.begin_read().map_err(store_error)?;
        let table = read.open_table(RULES).map_err(store_error)?;
        let found = table.get(id).map_err(store_error)?;
        found
            .map(|v| serde_json::from_slice(v.value()).map_err(store_error))
            .transpose()
    }

    fn list(&self) -> Result<Vec<Rule>> {
        use redb::ReadableTable as _;
        let read = self.db.begin_read().map_err(store_error)?;
        let table = read.open_table(RULES).map_err(store_error)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(store_error)? {
            let (_, v) = row.map_err(store_error)?;
            out.push(serde_json::from_slice(v.value()).map_err(store_error)?);
        }
        Ok(out)
    }

    fn delete(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        let found = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = found.clone();
        self.db
            .write(
                Box::new(move |tx| {
                    let had = tx.open_table(RULES)?.remove(id.as_str())?.is_some();
                    flag.store(had, std::sync::atomic::Ordering::SeqCst);
                    Ok(())
                }),
                true,
            )
            .map_err(store_error)?;
        Ok(found.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// Whether `id` can name a rule: 1 to 64 lowercase letters, digits and `-`,
/// not first.
pub fn check_id(id: &str) -> std::result::Result<(), String> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{id:?} is not 1 to 64 lowercase letters, digits and '-' (not first)"
        ))
    }
}

/// The rule a request body describes, checked against the deployed processes:
/// `{"id", "title"?, "process", "trigger", "inputs", "backfill"?}`.
pub fn new_rule(
    jobs: &Jobs,
    body: &Value,
    owner: &str,
    now: u64,
) -> std::result::Result<Rule, String> {
    let o = body
        .as_object()
        .ok_or("a rule is a JSON object with id, process, trigger and inputs")?;
    if let Some(unknown) = o.keys().find(|k| {
        !matches!(
            k.as_str(),
            "id" | "title" | "process" | "trigger" | "inputs" | "backfill"
        )
    }) {
        return Err(format!(
            "a rule has no field {unknown:?} (id, title, process, trigger, inputs, backfill)"
        ));
    }
    // `Map`'s index panics on a missing key (a `Value`'s gives null): `get`.
    let id = o.get("id").and_then(Value::as_str).unwrap_or_default();
    check_id(id).map_err(|why| format!("id: {why}"))?;
    let title = match &o.get("title") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t.chars().count() <= 200 => Some(t.clone()),
        Some(_) => return Err("title: a text of at most 200 characters".into()),
    };
    let process_id = o
        .get("process")
        .and_then(Value::as_str)
        .ok_or("process: the id of a process")?;
    let process = jobs
        .process(process_id)
        .map_err(|_| format!("process: no process {process_id:?}"))?;
    let trigger: Trigger = serde_json::from_value(o.get("trigger").cloned().unwrap_or(Value::Null))
        .map_err(|e| {
            format!(
                "trigger: {e} (an item trigger is {{\"type\": \"item\", \"collections\": [...], \"filter\"?}}, a schedule {{\"type\": \"schedule\", \"every\": SECONDS, \"collections\": [...], \"filter\"?}})"
            )
        })?;
    let (collections, filter, schedule) = match &trigger {
        Trigger::Item {
            collections,
            filter,
        } => (collections, filter, false),
        Trigger::Schedule {
            every,
            collections,
            filter,
        } => {
            if !(10..=366 * 86_400).contains(every) {
                return Err("trigger: every is a period of 10 s to 366 days, in seconds".into());
            }
            (collections, filter, true)
        }
    };
    if collections.is_empty() || collections.len() > 16 {
        return Err("trigger: 1 to 16 collections".into());
    }
    for c in collections {
        if c.is_empty() || c.len() > 128 || c.chars().any(char::is_control) {
            return Err(format!("trigger: {c:?} is not a collection id"));
        }
    }
    if let Some(filter) = filter {
        filter_query(filter, "", "").map_err(|e| format!("trigger: {e}"))?;
    }
    let declared = hysope_engine::cwl::values::ids(&process.cwl, "inputs");
    let inputs = match o.get("inputs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(inputs)) => inputs.clone(),
        Some(_) => return Err("inputs: an object of input id to source".into()),
    };
    for (input, source) in &inputs {
        if !declared.contains(&input.as_str()) {
            return Err(format!(
                "inputs: process {process_id} has no input {input:?} (inputs: {})",
                declared.join(", ")
            ));
        }
        match Source::parse(input, source)? {
            Source::Assets(_) if !schedule => {
                return Err(format!(
                    "input {input:?}: \"assets\" (the files of a period) is for schedule rules"
                ));
            }
            Source::Asset(_) | Source::Property(_) | Source::Previous { .. } if schedule => {
                return Err(format!(
                    "input {input:?}: a schedule rule's inputs are {{\"assets\": KEY}} or {{\"value\": V}}"
                ));
            }
            _ => {}
        }
    }
    let backfill = match o.get("backfill") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err("backfill: true or false".into()),
    };
    Ok(Rule {
        id: id.to_string(),
        title,
        process: process_id.to_string(),
        trigger,
        inputs,
        state: RuleState::Active,
        owner: owner.to_string(),
        created: now,
        updated: now,
        position: String::new(),
        backfill: backfill.then(|| Backfill {
            until: String::new(),
            total: 0,
            done: 0,
        }),
        counts: RuleCounts::default(),
        last_skip: None,
        recent_jobs: Vec::new(),
        next_period: None,
    })
}

/// The search that finds item `item` of `collection` when it passes `filter`.
fn filter_query(
    filter: &Value,
    collection: &str,
    item: &str,
) -> hysope_catalog::Result<SearchQuery> {
    let mut body = json!({"filter": filter, "limit": 1});
    if filter.is_string() {
        body["filter-lang"] = json!("cql2-text");
    }
    if !collection.is_empty() {
        body["collections"] = json!([collection]);
        body["ids"] = json!([item]);
    }
    SearchQuery::from_post(&body)
}

/// Where a new rule starts in the feed: at its start for a backfill (with the
/// number of changes there are to read), else at its end.
pub fn place(catalog: &dyn CatalogStore, rule: &mut Rule) -> Result<()> {
    let (mut last, mut total) = (String::new(), 0u64);
    loop {
        let page = catalog
            .changes(&last, 10_000)
            .map_err(|e| Error::Database(e.to_string()))?;
        let Some(end) = page.last() else { break };
        total += page.len() as u64;
        last = end.position.clone();
    }
    match &mut rule.backfill {
        Some(backfill) => {
            backfill.until = last;
            backfill.total = total;
            rule.position = String::new();
        }
        None => rule.position = last,
    }
    if let Trigger::Schedule { every, .. } = rule.trigger {
        let now = crate::now_ms() / 1000;
        rule.next_period = Some((now / every + 1) * every);
    }
    Ok(())
}

/// What a change did to a rule.
enum Fired {
    /// A job was made.
    Job(String),
    /// Its job existed already.
    Repeated,
    /// Not an item of the rule's (another collection, the filter).
    NotMatched,
    /// A matching item the rule could not take an input from.
    Skipped(String),
    /// Made through the rule itself, or through too many rules.
    Cycle,
}

/// The id of the job rule `rule` makes for `change` (the same whichever
/// process makes it, and however often).
pub fn job_id_of(rule: &str, change: &ItemChange) -> String {
    job_id(&change_key(rule, change))
}

fn change_key(rule: &str, change: &ItemChange) -> String {
    format!(
        "rule\n{rule}\n{}\n{}\n{}",
        change.collection, change.item, change.version
    )
}

/// The id of a rule's job for a key (a change, or a period): the same key, the
/// same id, whichever process makes it.
fn job_id(key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::new_v8(bytes).to_string()
}

/// The rules an item was made through (`hysope:rules` of a result item).
fn chain_of(item: &Value) -> Vec<String> {
    item["properties"]["hysope:rules"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The href of asset `key` of `item`.
fn asset_href(item: &Value, key: &str) -> std::result::Result<Value, String> {
    item["assets"][key]["href"]
        .as_str()
        .map(|href| json!({"href": href}))
        .ok_or_else(|| {
            format!(
                "item {} has no asset {key:?}",
                item["id"].as_str().unwrap_or_default()
            )
        })
}

/// Runs blocking catalogue work off the async threads.
async fn catalog_call<T: Send + 'static>(
    catalog: &Arc<dyn CatalogStore>,
    f: impl FnOnce(&dyn CatalogStore) -> hysope_catalog::Result<T> + Send + 'static,
) -> Result<T> {
    let catalog = catalog.clone();
    tokio::task::spawn_blocking(move || f(catalog.as_ref()))
        .await
        .map_err(|e| Error::Database(e.to_string()))?
        .map_err(|e| Error::Database(e.to_string()))
}

/// The inputs of an item rule's job for `item`.
async fn item_inputs(
    jobs: &Jobs,
    rule: &Rule,
    item: &Value,
) -> std::result::Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (input, source) in &rule.inputs {
        let value = match Source::parse(input, source)? {
            Source::Asset(key) => Some(asset_href(item, &key)?),
            Source::Property(name) => {
                Some(item["properties"][&name].clone()).filter(|v| !v.is_null())
            }
            Source::Value(v) => Some(v),
            Source::Previous { asset, same } => previous_of(jobs, item, &same)
                .await?
                .map(|p| asset_href(&p, &asset))
                .transpose()?,
            Source::Assets(_) => {
                return Err(format!("input {input:?}: \"assets\" is for schedule rules"));
            }
        };
        if let Some(value) = value {
            out.insert(input.clone(), value);
        }
    }
    Ok(out)
}

/// The latest item of `item`'s collection before its datetime with the same
/// values of the `same` properties (not a deprecated version), if any.
async fn previous_of(
    jobs: &Jobs,
    item: &Value,
    same: &[String],
) -> std::result::Result<Option<Value>, String> {
    let collection = item["collection"].as_str().unwrap_or_default().to_string();
    let Some(datetime) = item["properties"]["datetime"].as_str() else {
        return Ok(None);
    };
    let mut terms =
        vec![json!({"op": "<", "args": [{"property": "datetime"}, {"timestamp": datetime}]})];
    for name in same {
        let value = &item["properties"][name];
        if value.is_null() {
            return Ok(None);
        }
        terms.push(json!({"op": "=", "args": [{"property": name}, value]}));
    }
    let body = json!({
        "collections": [collection],
        "filter-lang": "cql2-json",
        "filter": {"op": "and", "args": terms},
        "sortby": [{"field": "properties.datetime", "direction": "desc"}],
        "limit": 10,
    });
    let query = SearchQuery::from_post(&body).map_err(|e| e.to_string())?;
    let page = catalog_call(jobs.catalog(), move |c| c.search(&query))
        .await
        .map_err(|e| e.to_string())?;
    Ok(page
        .items
        .into_iter()
        .find(|i| i["properties"]["deprecated"] != true))
}

/// The item `change` names, as committed, if it passes `filter`.
async fn committed_item(
    jobs: &Jobs,
    change: &ItemChange,
    filter: Option<&Value>,
) -> Result<Option<Value>> {
    let (collection, id) = (change.collection.clone(), change.item.clone());
    let Some(item) = catalog_call(jobs.catalog(), move |c| c.item(&collection, &id)).await? else {
        return Ok(None);
    };
    if let Some(filter) = filter {
        let query = filter_query(filter, "", "").map_err(|e| Error::Database(e.to_string()))?;
        if !query
            .matches_document(&item)
            .map_err(|e| Error::Database(e.to_string()))?
        {
            return Ok(None);
        }
    }
    Ok(Some(item))
}

/// What `change` does to `rule` (an item rule).
async fn fire(jobs: &Arc<Jobs>, rule: &Rule, change: &ItemChange) -> Result<Fired> {
    let Trigger::Item {
        collections,
        filter,
    } = &rule.trigger
    else {
        return Ok(Fired::NotMatched);
    };
    if !collections.contains(&change.collection) {
        return Ok(Fired::NotMatched);
    }
    // The item as committed (not through the search index, which learns of a
    // new item a moment after its commit: the change may be read before).
    let Some(item) = committed_item(jobs, change, filter.as_ref()).await? else {
        return Ok(Fired::NotMatched);
    };
    let chain = chain_of(&item);
    if chain.contains(&rule.id) || chain.len() >= MAX_CHAIN {
        return Ok(Fired::Cycle);
    }
    let inputs = match item_inputs(jobs, rule, &item).await {
        Ok(inputs) => inputs,
        Err(why) => return Ok(Fired::Skipped(why)),
    };
    let key = change_key(&rule.id, change);
    let mut chain = chain;
    chain.push(rule.id.clone());
    make_job(jobs, rule, inputs, &key, chain).await
}

/// Makes (once) the job of `key` for `rule` with `inputs`.
async fn make_job(
    jobs: &Arc<Jobs>,
    rule: &Rule,
    inputs: Map<String, Value>,
    key: &str,
    chain: Vec<String>,
) -> Result<Fired> {
    let request = ExecuteRequest {
        inputs: Some(Value::Object(inputs)),
        ..ExecuteRequest::default()
    };
    let files = match jobs.catalog_files(&request, "").await {
        Ok(files) => files,
        Err(Error::InvalidRequest { detail, .. }) => return Ok(Fired::Skipped(detail)),
        Err(e) => return Err(e),
    };
    let mut job = match jobs.prepare(&rule.process, request, true, "", &rule.owner, &files) {
        Ok((job, _)) => job,
        Err(Error::InvalidRequest { detail, .. }) => return Ok(Fired::Skipped(detail)),
        Err(Error::NoSuchProcess(p)) => {
            return Ok(Fired::Skipped(format!("process {p:?} is not deployed")));
        }
        Err(e) => return Err(e),
    };
    job.id = job_id(key);
    job.rule = Some(rule.id.clone());
    job.rule_chain = chain;
    // The fault tests' crash points (see `execute::crash_point`): the change
    // read, no job yet; the job accepted, the rule's position not saved.
    crate::execute::crash_point("rule-before-job");
    let made = jobs.accept_once(&job).await?;
    crate::execute::crash_point("rule-job-accepted");
    Ok(if made {
        Fired::Job(job.id)
    } else {
        Fired::Repeated
    })
}

/// Reads the feed for an item rule from its position and makes its jobs; the
/// rule as it is then (its new position and counts). Stops at a full queue
/// (what is left waits for the next round).
async fn follow(jobs: &Arc<Jobs>, mut rule: Rule) -> Result<Rule> {
    let position = rule.position.clone();
    let changes = catalog_call(jobs.catalog(), move |c| c.changes(&position, BATCH)).await?;
    for change in changes {
        let lag = crate::now_ms().saturating_sub(change.time) as f64 / 1000.0;
        match fire(jobs, &rule, &change).await {
            Ok(Fired::Job(id)) => {
                rule.counts.triggered += 1;
                rule.recent_jobs.insert(0, id);
                rule.recent_jobs.truncate(20);
                jobs.metrics().rule_fired(&rule.id, "job", Some(lag));
            }
            Ok(Fired::Repeated) => {
                rule.counts.repeated += 1;
                jobs.metrics().rule_fired(&rule.id, "repeated", None);
            }
            Ok(Fired::NotMatched) => {}
            Ok(Fired::Skipped(why)) => {
                rule.counts.skipped += 1;
                tracing::warn!(rule = %rule.id, item = %change.item, reason = %why, "rule passed over an item");
                rule.last_skip = Some(format!("{}/{}: {why}", change.collection, change.item));
                jobs.metrics().rule_fired(&rule.id, "skipped", None);
            }
            Ok(Fired::Cycle) => {
                rule.counts.cycles += 1;
                jobs.metrics().rule_fired(&rule.id, "cycle", None);
            }
            Err(Error::Busy(_)) => break,
            Err(e) => {
                tracing::warn!(rule = %rule.id, error = %e, "rule stopped at a change; again in a moment");
                break;
            }
        }
        if let Some(backfill) = &mut rule.backfill {
            if !backfill.until.is_empty() && change.position <= backfill.until {
                backfill.done += 1;
            }
        }
        rule.position = change.position;
    }
    Ok(rule)
}

/// A schedule rule's period, when one has ended: the job over the items that
/// entered during it.
async fn run_period(jobs: &Arc<Jobs>, mut rule: Rule) -> Result<Rule> {
    let Trigger::Schedule {
        every,
        collections,
        filter,
    } = rule.trigger.clone()
    else {
        return Ok(rule);
    };
    let now = crate::now_ms() / 1000;
    let end = rule.next_period.unwrap_or((now / every + 1) * every);
    if now < end {
        rule.next_period = Some(end);
        return Ok(rule);
    }
    let start_ms = (end - every) * 1000;
    let end_ms = end * 1000;
    let mut items: Vec<Value> = Vec::new();
    let mut position = rule.position.clone();
    'feed: loop {
        let from = position.clone();
        let changes = catalog_call(jobs.catalog(), move |c| c.changes(&from, BATCH)).await?;
        if changes.is_empty() {
            break;
        }
        for change in changes {
            if change.time >= end_ms {
                break 'feed;
            }
            position = change.position.clone();
            if change.time < start_ms || !collections.contains(&change.collection) {
                continue;
            }
            let found = committed_item(jobs, &change, filter.as_ref()).await?;
            items.extend(found.into_iter().filter(|i| {
                let chain = chain_of(i);
                !chain.contains(&rule.id) && chain.len() < MAX_CHAIN
            }));
        }
    }
    if !items.is_empty() {
        let mut inputs = Map::new();
        let mut problem = None;
        for (input, source) in &rule.inputs {
            match Source::parse(input, source) {
                Ok(Source::Assets(key)) => {
                    let files: std::result::Result<Vec<Value>, String> =
                        items.iter().map(|i| asset_href(i, &key)).collect();
                    match files {
                        Ok(files) => {
                            inputs.insert(input.clone(), Value::Array(files));
                        }
                        Err(why) => problem = Some(why),
                    }
                }
                Ok(Source::Value(v)) => {
                    inputs.insert(input.clone(), v);
                }
                Ok(_) => problem = Some(format!("input {input:?}: not a schedule rule's source")),
                Err(why) => problem = Some(why),
            }
        }
        let key = format!("rule\n{}\nperiod\n{}", rule.id, end - every);
        let fired = match problem {
            Some(why) => Fired::Skipped(why),
            None => match make_job(jobs, &rule, inputs, &key, vec![rule.id.clone()]).await {
                Err(Error::Busy(_)) => return Ok(rule),
                other => other?,
            },
        };
        match fired {
            Fired::Job(id) => {
                rule.counts.triggered += 1;
                rule.recent_jobs.insert(0, id);
                rule.recent_jobs.truncate(20);
                let lag = crate::now_ms().saturating_sub(end_ms) as f64 / 1000.0;
                jobs.metrics().rule_fired(&rule.id, "job", Some(lag));
            }
            Fired::Repeated => rule.counts.repeated += 1,
            Fired::Skipped(why) => {
                rule.counts.skipped += 1;
                rule.last_skip = Some(format!("period from {}: {why}", end - every));
            }
            Fired::NotMatched | Fired::Cycle => {}
        }
    }
    rule.position = position;
    rule.next_period = Some(end + every);
    Ok(rule)
}

/// Serialises the changes to rules in this process: the dispatcher's write of
/// a rule's position and the API's pause, resume and delete.
pub static RULE_WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Writes what the dispatcher learnt of `rule` (position, counts, backfill,
/// recent jobs, next period) over the stored one, keeping its state; nothing
/// when it was deleted meanwhile.
async fn save_progress(store: &Arc<dyn RuleStore>, rule: Rule) -> Result<()> {
    let _guard = RULE_WRITES.lock().await;
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let Some(mut stored) = store.get(&rule.id)? else {
            return Ok(());
        };
        if stored.created != rule.created {
            return Ok(());
        }
        stored.position = rule.position;
        stored.counts = rule.counts;
        stored.backfill = rule.backfill;
        stored.recent_jobs = rule.recent_jobs;
        stored.last_skip = rule.last_skip;
        stored.next_period = rule.next_period;
        stored.updated = crate::now_ms();
        store.put(&stored)
    })
    .await
    .map_err(|e| Error::Database(e.to_string()))?
}

/// Follows the feed for every active rule: a round every `every` (and at once
/// when `wake` is notified, as an ingestion does), forever.
pub fn spawn_dispatcher(
    jobs: Arc<Jobs>,
    store: Arc<dyn RuleStore>,
    wake: Arc<tokio::sync::Notify>,
    every: Duration,
) {
    tokio::spawn(async move {
        loop {
            let listed = {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.list()).await
            };
            let rules = match listed {
                Ok(Ok(rules)) => rules,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "rules: cannot list them");
                    Vec::new()
                }
                Err(e) => {
                    tracing::warn!(error = %e, "rules: the listing panicked");
                    Vec::new()
                }
            };
            let mut busy = false;
            for rule in rules.into_iter().filter(|r| r.state == RuleState::Active) {
                let before = (rule.position.clone(), rule.next_period);
                let outcome = match rule.trigger {
                    Trigger::Item { .. } => follow(&jobs, rule).await,
                    Trigger::Schedule { .. } => run_period(&jobs, rule).await,
                };
                match outcome {
                    Ok(rule) => {
                        if (rule.position.clone(), rule.next_period) != before {
                            busy |= rule.position != before.0;
                            if let Err(e) = save_progress(&store, rule).await {
                                tracing::warn!(error = %e, "rules: progress not saved");
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "rules: a round failed"),
                }
            }
            // More to read: at once; else at the next tick or ingestion.
            if !busy {
                let _ = tokio::time::timeout(every, wake.notified()).await;
            }
        }
    });
}

/// The rules as the API shows them: the stored record, with the backfill's
/// progress as a fraction.
pub fn document(rule: &Rule) -> Value {
    let mut v = serde_json::to_value(rule).unwrap_or_default();
    if let Some(b) = &rule.backfill {
        let fraction = if b.total == 0 {
            1.0
        } else {
            b.done as f64 / b.total as f64
        };
        v["backfill"]["progress"] = json!((fraction * 1000.0).round() / 1000.0);
    }
    v
}

/// How many rules a server takes.
pub const MAX_RULES: usize = 256;

/// Counts of a rule's jobs by state, from its recent jobs.
pub fn recent_states(jobs: &Jobs, rule: &Rule) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for id in &rule.recent_jobs {
        if let Ok(Some(job)) = jobs.store.get(id) {
            *out.entry(job.status.as_str().to_string()).or_insert(0) += 1;
        }
    }
    out
}

/// The conformance case of [`RuleStore`], run by every implementation (the
/// embedded store below, PostgreSQL in `hysope-postgres`'s suites).
pub mod conformance {
    use super::*;

    fn rule(id: &str) -> Rule {
        Rule {
            id: id.into(),
            title: Some("t".into()),
            process: "echo".into(),
            trigger: Trigger::Item {
                collections: vec!["c".into()],
                filter: Some(json!("swot:pass_number = 5")),
            },
            inputs: json!({"stringInput": {"value": "x"}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            state: RuleState::Active,
            owner: "ops".into(),
            created: 1,
            updated: 1,
            position: String::new(),
            backfill: Some(Backfill {
                until: "00000000000000000003".into(),
                total: 3,
                done: 0,
            }),
            counts: RuleCounts::default(),
            last_skip: None,
            recent_jobs: Vec::new(),
            next_period: None,
        }
    }

    /// Rules are kept whole, replaced, listed by id and removed.
    pub fn a_store_keeps_replaces_lists_and_removes_rules(store: &dyn RuleStore) {
        assert!(store.list().unwrap().is_empty());
        assert_eq!(store.get("b").unwrap(), None);
        let (a, mut b) = (rule("a"), rule("b"));
        store.put(&b).unwrap();
        store.put(&a).unwrap();
        assert_eq!(store.get("a").unwrap().as_ref(), Some(&a));
        b.state = RuleState::Paused;
        b.position = "00000000000000000002".into();
        b.counts.triggered = 2;
        store.put(&b).unwrap();
        assert_eq!(store.list().unwrap(), vec![a, b]);
        assert!(store.delete("a").unwrap());
        assert!(!store.delete("a").unwrap());
        assert_eq!(store.list().unwrap().len(), 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_store_passes_the_rule_store_case() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(hysope_store::SharedDb::open(&dir.path().join("s.redb")).unwrap());
        conformance::a_store_keeps_replaces_lists_and_removes_rules(
            &RedbRuleStore::open_shared(db).unwrap(),
        );
    }

    #[test]
    fn sources_are_read_and_bad_ones_say_why() {
        assert_eq!(
            Source::parse("a", &json!({"asset": "data"})),
            Ok(Source::Asset("data".into()))
        );
        assert_eq!(
            Source::parse(
                "a",
                &json!({"previous": {"same": ["swot:pass_number"]}, "asset": "data"})
            ),
            Ok(Source::Previous {
                asset: "data".into(),
                same: vec!["swot:pass_number".into()]
            })
        );
        for bad in [
            json!("data"),
            json!({"asset": ""}),
            json!({"asset": "d", "value": 1}),
            json!({"previous": {}, "asset": "d"}),
        ] {
            let why = Source::parse("a", &bad).unwrap_err();
            assert!(why.starts_with("input \"a\": "), "{why}");
        }
    }

    #[test]
    fn a_key_gives_one_job_id() {
        assert_eq!(job_id("rule\na\nc\ni\nv1"), job_id("rule\na\nc\ni\nv1"));
        assert_ne!(job_id("rule\na\nc\ni\nv1"), job_id("rule\na\nc\ni\nv2"));
        assert!(uuid::Uuid::parse_str(&job_id("k")).is_ok());
    }
}
