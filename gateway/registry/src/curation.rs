//! What the registry knows of its packages beyond their bytes: each version's
//! state, publisher, signer and check report; the review actions of operators and
//! publishers, each logged in an append-only audit table; the developers' SSH
//! signing keys; the shared namespaces and their members. Kept in the registry's
//! [records](crate::records).
//!
//! **States.** A version is `submitted` when its publish passed every check; an
//! operator other than its publisher approves or rejects it (the four-eyes rule).
//! An approved version may be deprecated (with a successor) and undeprecated,
//! yanked (no new deploys; processes that pinned it keep running) and unyanked
//! (back to the state it was yanked from), by an operator or a member of its
//! namespace. An operator may quarantine any version: it is no longer downloadable
//! and the processes that use it are disabled; quarantine is final. Nothing is
//! overwritten: every change is a new audit entry.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::records::{RecordTx, Records, RecordsError, Table};

/// Where a version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Published, checked, waiting for an operator.
    Submitted,
    /// Approved: public, deployable by anyone.
    Approved,
    /// Refused by an operator.
    Rejected,
    /// Approved, but a successor is recommended.
    Deprecated,
    /// No new deploys; processes that pinned it keep running.
    Yanked,
    /// Not downloadable; the processes that use it are disabled.
    Quarantined,
}

impl State {
    /// The state's name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Submitted => "submitted",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Deprecated => "deprecated",
            State::Yanked => "yanked",
            State::Quarantined => "quarantined",
        }
    }

    /// True when a new process may pin the version (its publisher's own processes
    /// may pin a submitted one, privately).
    pub fn deployable(self) -> bool {
        matches!(self, State::Approved | State::Deprecated)
    }

    /// True when its bytes may be downloaded by whoever may see it.
    pub fn downloadable(self) -> bool {
        self != State::Quarantined
    }

    /// True when anyone may see and pull it (not only its namespace and operators).
    pub fn public(self) -> bool {
        matches!(self, State::Approved | State::Deprecated | State::Yanked)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A review action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Review {
    /// submitted -> approved (an operator, not the publisher).
    Approve,
    /// submitted -> rejected (an operator, not the publisher).
    Reject,
    /// approved -> deprecated, naming a successor.
    Deprecate,
    /// deprecated -> approved.
    Undeprecate,
    /// approved or deprecated -> yanked.
    Yank,
    /// yanked -> the state it was yanked from.
    Unyank,
    /// any state but quarantined -> quarantined (an operator).
    Quarantine,
}

impl Review {
    /// Every action.
    pub const ALL: [Review; 7] = [
        Review::Approve,
        Review::Reject,
        Review::Deprecate,
        Review::Undeprecate,
        Review::Yank,
        Review::Unyank,
        Review::Quarantine,
    ];

    /// The action's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Review::Approve => "approve",
            Review::Reject => "reject",
            Review::Deprecate => "deprecate",
            Review::Undeprecate => "undeprecate",
            Review::Yank => "yank",
            Review::Unyank => "unyank",
            Review::Quarantine => "quarantine",
        }
    }

    /// The action named `name`.
    pub fn parse(name: &str) -> Option<Review> {
        Review::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// True when only an operator may take it (other actions are open to the
    /// members of the package's namespace too).
    pub fn operators_only(self) -> bool {
        matches!(self, Review::Approve | Review::Reject | Review::Quarantine)
    }
}

/// Who signed a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signer {
    /// The user whose key it is.
    pub user: String,
    /// The key's fingerprint (`SHA256:...`).
    pub fingerprint: String,
}

/// A published version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// `namespace/name`.
    pub repository: String,
    /// Its version (the tag).
    pub version: String,
    /// The manifest's digest.
    pub manifest: String,
    /// The component's digest (the engine's cache key is its hex part).
    pub component: String,
    /// The component's size in bytes.
    pub size: u64,
    /// Who pushed it.
    pub publisher: String,
    /// Whose key signed it.
    pub signer: Signer,
    /// Where it stands.
    pub state: State,
    /// The state it was yanked from (to unyank to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked_from: Option<State>,
    /// The recommended successor of a deprecated version (`namespace/name@version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
    /// When it was published (ms since the epoch).
    pub created_ms: u64,
    /// When its state last changed.
    pub updated_ms: u64,
    /// What the checks at publish found.
    pub report: serde_json::Value,
    /// The CWL descriptor published with it.
    pub cwl: String,
}

impl VersionRecord {
    /// `namespace/name@version`.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.repository, self.version)
    }
}

/// One line of the audit table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its place in the table (from 1).
    pub seq: u64,
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// Who.
    pub actor: String,
    /// What: `publish`, a review action, `namespace`, `member`.
    pub action: String,
    /// The version concerned (`namespace/name@version`), or the namespace.
    pub subject: String,
    /// The state before, if a version's changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<State>,
    /// The state after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<State>,
    /// Why.
    pub reason: String,
    /// A deprecation's successor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
}

/// A developer's signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Whose.
    pub user: String,
    /// `SHA256:...`.
    pub fingerprint: String,
    /// The public key, as in the `.pub` file (without its comment).
    pub key: String,
    /// The comment given.
    pub comment: String,
    /// When added (ms since the epoch).
    pub added_ms: u64,
}

/// A namespace shared by several users (each user's own namespace is their name
/// and needs no record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// Its name.
    pub name: String,
    /// The users who may publish in it.
    pub members: Vec<String>,
    /// The operator who made it.
    pub created_by: String,
    /// When (ms since the epoch).
    pub created_ms: u64,
}

/// Who acts.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// Their user name.
    pub user: &'a str,
    /// True for an operator.
    pub operator: bool,
}

/// Why the registry refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No such thing (404).
    #[error("{0}")]
    NotFound(String),
    /// The caller may not (403).
    #[error("{0}")]
    Forbidden(String),
    /// Not from the state it is in, or exists already (409).
    #[error("{0}")]
    Conflict(String),
    /// The request is wrong (400).
    #[error("{0}")]
    Invalid(String),
    /// The store failed (500).
    #[error("the registry's store failed: {0}")]
    Store(String),
    /// The store is out of reach for now (503).
    #[error("{0}")]
    Unavailable(String),
}

fn store_err(e: impl std::fmt::Display) -> Refusal {
    Refusal::Store(e.to_string())
}

fn records_err(e: RecordsError) -> Refusal {
    match e.into_refusal::<Refusal>() {
        Ok(mine) => mine,
        Err(RecordsError::Unavailable(why)) => Refusal::Unavailable(why),
        Err(e) => Refusal::Store(e.to_string()),
    }
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(bytes).map_err(store_err)
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The longest reason taken.
pub const MAX_REASON: usize = 2000;

/// Appends `entry` (its `seq` is set here) to the audit log in `tx`.
pub(crate) fn append_audit(
    tx: &mut dyn RecordTx,
    entry: &AuditEntry,
) -> crate::records::Result<u64> {
    tx.append_audit(&|seq| {
        let mut entry = entry.clone();
        entry.seq = seq;
        serde_json::to_vec(&entry).unwrap_or_default()
    })
}

/// Writes `record` in `tx`, and its place in the index of its component.
pub(crate) fn put_version(
    tx: &mut dyn RecordTx,
    record: &VersionRecord,
) -> crate::records::Result<()> {
    let bytes = serde_json::to_vec(record).unwrap_or_default();
    let (r, v) = (record.repository.as_str(), record.version.as_str());
    tx.put(Table::Versions, &[r, v], &bytes)?;
    tx.put(
        Table::ComponentVersions,
        &[record.component.as_str(), r, v],
        &[],
    )
}

/// The curation records.
pub struct Curation {
    records: Arc<dyn Records>,
}

impl Curation {
    /// The curation records in `records`.
    pub fn new(records: Arc<dyn Records>) -> Self {
        Curation { records }
    }

    /// The version `version` of `repository`.
    pub fn version(
        &self,
        repository: &str,
        version: &str,
    ) -> Result<Option<VersionRecord>, Refusal> {
        let found = self
            .records
            .get(Table::Versions, &[repository, version])
            .map_err(records_err)?;
        found.map(|v| decode(&v)).transpose()
    }

    /// The versions whose component is `digest` (`sha256:...`), by repository and
    /// version (an index read, not a scan of every version).
    pub fn versions_of_component(&self, digest: &str) -> Result<Vec<VersionRecord>, Refusal> {
        let keys = self
            .records
            .scan(Table::ComponentVersions, &[digest], None, usize::MAX)
            .map_err(records_err)?;
        let mut out = Vec::with_capacity(keys.len());
        for (key, _) in keys {
            out.extend(self.version(&key[1], &key[2])?);
        }
        Ok(out)
    }

    /// The version whose component is `digest` (`sha256:...`) that was published
    /// first.
    pub fn by_component(&self, digest: &str) -> Result<Option<VersionRecord>, Refusal> {
        Ok(self
            .versions_of_component(digest)?
            .into_iter()
            .min_by_key(|v| v.created_ms))
    }

    /// Every version, by repository then version, that `keep` keeps.
    pub fn versions(
        &self,
        repository: Option<&str>,
        keep: impl Fn(&VersionRecord) -> bool,
    ) -> Result<Vec<VersionRecord>, Refusal> {
        let prefix: &[&str] = match &repository {
            Some(r) => &[r],
            None => &[],
        };
        let entries = self
            .records
            .scan(Table::Versions, prefix, None, usize::MAX)
            .map_err(records_err)?;
        let mut out = Vec::new();
        for (_, value) in entries {
            let record: VersionRecord = decode(&value)?;
            if keep(&record) {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// True when `actor` may publish in (and manage the versions of) `namespace`:
    /// their own, a shared one they are a member of, or any for an operator.
    pub fn may_publish(&self, actor: Actor<'_>, namespace: &str) -> Result<bool, Refusal> {
        if actor.operator || actor.user == namespace {
            return Ok(true);
        }
        Ok(self
            .namespace(namespace)?
            .is_some_and(|n| n.members.iter().any(|m| m == actor.user)))
    }

    /// True when `actor` may see a version of `repository` in state `state`.
    pub fn may_see(
        &self,
        actor: Option<Actor<'_>>,
        repository: &str,
        state: State,
    ) -> Result<bool, Refusal> {
        if state.public() {
            return Ok(true);
        }
        let Some(actor) = actor else { return Ok(false) };
        let namespace = repository.split('/').next().unwrap_or("");
        self.may_publish(actor, namespace)
    }

    /// Applies `change` in one durable commit; a [`Refusal`] it raises is
    /// returned as it is.
    fn write(&self, change: crate::records::Change) -> Result<(), Refusal> {
        self.records.write(change).map_err(records_err)
    }

    /// Changes the version `repository@version` inside one commit: `change` sees
    /// the record as stored, changes it and returns the audit entry that says so
    /// (or refuses); the record (its `updated_ms` set) and the entry (its time
    /// set) are written together.
    fn change_version(
        &self,
        repository: &str,
        version: &str,
        change: impl Fn(&mut VersionRecord) -> Result<AuditEntry, Refusal> + Send + 'static,
    ) -> Result<VersionRecord, Refusal> {
        let (repo, ver) = (repository.to_string(), version.to_string());
        let result = Arc::new(std::sync::Mutex::new(None));
        let out = result.clone();
        self.write(Box::new(move |tx| {
            let stored = tx.get(Table::Versions, &[&repo, &ver])?;
            let stored = stored.ok_or_else(|| {
                RecordsError::refused(Refusal::NotFound(format!("no version {repo}@{ver}")))
            })?;
            let mut record: VersionRecord = serde_json::from_slice(&stored)
                .map_err(|e| RecordsError::refused(Refusal::Store(e.to_string())))?;
            let mut entry = change(&mut record).map_err(RecordsError::refused)?;
            let now = now_ms();
            record.updated_ms = now;
            entry.at_ms = now;
            put_version(tx, &record)?;
            append_audit(tx, &entry)?;
            *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(record);
            Ok(())
        }))?;
        let record = result.lock().unwrap_or_else(|e| e.into_inner()).take();
        record.ok_or_else(|| {
            Refusal::Store(format!(
                "the change of {repository}@{version} left no record"
            ))
        })
    }

    /// Takes `action` on `repository@version` for `reason`; a deprecation names
    /// its `successor` (`namespace/name@version`, approved). Checks the state
    /// machine, the role and the four-eyes rule inside the commit, so that two
    /// reviews of one version cannot both pass.
    pub fn review(
        &self,
        actor: Actor<'_>,
        repository: &str,
        version: &str,
        action: Review,
        reason: &str,
        successor: Option<&str>,
    ) -> Result<VersionRecord, Refusal> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Refusal::Invalid(format!(
                "{} needs a reason",
                action.as_str()
            )));
        }
        if reason.len() > MAX_REASON {
            return Err(Refusal::Invalid(format!(
                "the reason has {} bytes; at most {MAX_REASON}",
                reason.len()
            )));
        }
        let namespace = repository.split('/').next().unwrap_or("");
        let member = self.may_publish(actor, namespace)?;
        if action.operators_only() && !actor.operator {
            return Err(Refusal::Forbidden(format!(
                "only an operator may {} a version",
                action.as_str()
            )));
        }
        if !actor.operator && !member {
            return Err(Refusal::Forbidden(format!(
                "{:?} is not a member of the namespace {namespace:?}",
                actor.user
            )));
        }
        let successor = match (action, successor) {
            (Review::Deprecate, None) => {
                return Err(Refusal::Invalid(
                    "deprecate needs a successor (namespace/name@version)".into(),
                ));
            }
            (Review::Deprecate, Some(s)) => {
                let (repo, ver) = s.split_once('@').ok_or_else(|| {
                    Refusal::Invalid(format!("successor {s:?} is not namespace/name@version"))
                })?;
                let next = self.version(repo, ver)?.ok_or_else(|| {
                    Refusal::Invalid(format!("successor {s} is not in the registry"))
                })?;
                if !next.state.deployable() || next.state == State::Deprecated {
                    return Err(Refusal::Invalid(format!(
                        "successor {s} is {}; name an approved version",
                        next.state
                    )));
                }
                if repo == repository && ver == version {
                    return Err(Refusal::Invalid("a version cannot succeed itself".into()));
                }
                Some(s.to_string())
            }
            (_, Some(_)) => {
                return Err(Refusal::Invalid(format!(
                    "only deprecate takes a successor, not {}",
                    action.as_str()
                )));
            }
            (_, None) => None,
        };
        let user = actor.user.to_string();
        let reason = reason.to_string();
        self.change_version(repository, version, move |record| {
            let subject = record.reference();
            let from = record.state;
            let to = transition(from, action, record.yanked_from)
                .map_err(|why| Refusal::Conflict(format!("{subject} is {from}: {why}")))?;
            if matches!(action, Review::Approve | Review::Reject) && record.publisher == user {
                return Err(Refusal::Forbidden(format!(
                    "{user:?} published {subject}; another operator reviews it (four eyes)"
                )));
            }
            record.yanked_from = match action {
                Review::Yank => Some(from),
                Review::Unyank => None,
                _ => record.yanked_from,
            };
            match action {
                Review::Deprecate => record.successor = successor.clone(),
                Review::Undeprecate => record.successor = None,
                _ => {}
            }
            record.state = to;
            Ok(AuditEntry {
                seq: 0,
                at_ms: 0,
                actor: user.clone(),
                action: action.as_str().into(),
                subject,
                from: Some(from),
                to: Some(to),
                reason: reason.clone(),
                successor: successor.clone(),
            })
        })
    }

    /// Admits `repository@version` of the bundled plugins' namespace as approved:
    /// they ship with the server the operator installed (see
    /// [`crate::bootstrap`]). Refused for any other namespace or state.
    pub fn admit_bundled(&self, repository: &str, version: &str) -> Result<VersionRecord, Refusal> {
        if repository.split('/').next() != Some(crate::bootstrap::NAMESPACE) {
            return Err(Refusal::Forbidden(format!(
                "only the bundled plugins' namespace {:?} is admitted at start",
                crate::bootstrap::NAMESPACE
            )));
        }
        self.change_version(repository, version, |record| {
            if record.state != State::Submitted {
                return Err(Refusal::Conflict(format!(
                    "{} is {}",
                    record.reference(),
                    record.state
                )));
            }
            record.state = State::Approved;
            Ok(AuditEntry {
                seq: 0,
                at_ms: 0,
                actor: crate::bootstrap::PUBLISHER.into(),
                action: "approve".into(),
                subject: record.reference(),
                from: Some(State::Submitted),
                to: Some(State::Approved),
                reason: "bundled with this server (built from its sources): admitted at start"
                    .into(),
                successor: None,
            })
        })
    }

    /// The audit entries after `after`, at most `limit`, of `subject` (a version
    /// reference or a repository, whose versions' entries it gives) when given.
    pub fn audit(
        &self,
        subject: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, Refusal> {
        let mut out = Vec::new();
        let mut mark = after;
        // Read in pages: a subject's entries may be few among many.
        while out.len() < limit {
            let page = self.records.audit(mark, 512).map_err(records_err)?;
            let Some((last, _)) = page.last() else { break };
            mark = *last;
            for (_, value) in page {
                let entry: AuditEntry = decode(&value)?;
                let matches = match subject {
                    None => true,
                    Some(s) if s.contains('@') => entry.subject == s,
                    Some(s) => entry.subject == s || entry.subject.starts_with(&format!("{s}@")),
                };
                if matches {
                    out.push(entry);
                    if out.len() == limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// The signing keys of `user`.
    pub fn keys(&self, user: &str) -> Result<Vec<KeyRecord>, Refusal> {
        let entries = self
            .records
            .scan(Table::Keys, &[user], None, usize::MAX)
            .map_err(records_err)?;
        entries.iter().map(|(_, value)| decode(value)).collect()
    }

    /// Adds `key` (a line of a `.pub` file) to `user`'s signing keys.
    pub fn add_key(&self, user: &str, key: &str, comment: &str) -> Result<KeyRecord, Refusal> {
        let parsed = crate::signatures::parse_public_key(key).map_err(Refusal::Invalid)?;
        if comment.len() > 200 {
            return Err(Refusal::Invalid(
                "the key's comment has more than 200 bytes".into(),
            ));
        }
        let fingerprint = crate::signatures::fingerprint(&parsed);
        if self.keys(user)?.len() >= MAX_KEYS {
            return Err(Refusal::Conflict(format!(
                "{user:?} has {MAX_KEYS} keys already; remove one first"
            )));
        }
        let mut bare = parsed.clone();
        bare.set_comment("");
        let record = KeyRecord {
            user: user.to_string(),
            fingerprint: fingerprint.clone(),
            key: bare.to_openssh().map_err(store_err)?.trim().to_string(),
            comment: if comment.is_empty() {
                parsed.comment().to_string()
            } else {
                comment.to_string()
            },
            added_ms: now_ms(),
        };
        let bytes = serde_json::to_vec(&record).map_err(store_err)?;
        let (u, f) = (user.to_string(), fingerprint);
        self.write(Box::new(move |tx| {
            if tx.get(Table::Keys, &[&u, &f])?.is_some() {
                return Err(RecordsError::refused(Refusal::Conflict(format!(
                    "key {f} is registered already"
                ))));
            }
            tx.put(Table::Keys, &[&u, &f], &bytes)
        }))?;
        Ok(record)
    }

    /// Removes `user`'s key `fingerprint` (versions it signed stay as they are).
    pub fn remove_key(&self, user: &str, fingerprint: &str) -> Result<(), Refusal> {
        let (u, f) = (user.to_string(), fingerprint.to_string());
        self.write(Box::new(move |tx| {
            if !tx.remove(Table::Keys, &[&u, &f])? {
                return Err(RecordsError::refused(Refusal::NotFound(format!(
                    "{u:?} has no key {f}"
                ))));
            }
            Ok(())
        }))
    }

    /// The shared namespace `name`.
    pub fn namespace(&self, name: &str) -> Result<Option<Namespace>, Refusal> {
        let found = self
            .records
            .get(Table::Namespaces, &[name])
            .map_err(records_err)?;
        found.map(|v| decode(&v)).transpose()
    }

    /// Every shared namespace.
    pub fn namespaces(&self) -> Result<Vec<Namespace>, Refusal> {
        let entries = self
            .records
            .scan(Table::Namespaces, &[], None, usize::MAX)
            .map_err(records_err)?;
        entries.iter().map(|(_, value)| decode(value)).collect()
    }

    /// Creates the shared namespace `name` with `members`, or sets the members of
    /// an existing one (an operator's act, audited).
    pub fn set_namespace(
        &self,
        by: &str,
        name: &str,
        members: &[String],
        reason: &str,
    ) -> Result<Namespace, Refusal> {
        crate::oci::check_repository(&format!("{name}/x0"))
            .map_err(|e| Refusal::Invalid(format!("namespace {name:?}: {}", e.message)))?;
        for m in members {
            hysope_identity_check(m)?;
        }
        let existing = self.namespace(name)?;
        let namespace = Namespace {
            name: name.to_string(),
            members: members.to_vec(),
            created_by: existing
                .as_ref()
                .map(|n| n.created_by.clone())
                .unwrap_or_else(|| by.to_string()),
            created_ms: existing
                .as_ref()
                .map(|n| n.created_ms)
                .unwrap_or_else(now_ms),
        };
        let bytes = serde_json::to_vec(&namespace).map_err(store_err)?;
        let entry = AuditEntry {
            seq: 0,
            at_ms: now_ms(),
            actor: by.to_string(),
            action: "namespace".into(),
            subject: name.to_string(),
            from: None,
            to: None,
            reason: if reason.trim().is_empty() {
                format!("members: {}", members.join(", "))
            } else {
                format!("{} (members: {})", reason.trim(), members.join(", "))
            },
            successor: None,
        };
        let key = name.to_string();
        self.write(Box::new(move |tx| {
            tx.put(Table::Namespaces, &[&key], &bytes)?;
            append_audit(tx, &entry)?;
            Ok(())
        }))?;
        Ok(namespace)
    }
}

/// The most signing keys a user has.
pub const MAX_KEYS: usize = 20;

fn hysope_identity_check(user: &str) -> Result<(), Refusal> {
    let ok = !user.is_empty()
        && user.len() <= 64
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(Refusal::Invalid(format!("{user:?} is not a user name")))
    }
}

/// The state `action` leads to from `from` (`yanked_from` for an unyank), or why
/// not.
pub fn transition(
    from: State,
    action: Review,
    yanked_from: Option<State>,
) -> Result<State, String> {
    use Review as R;
    use State as S;
    match (from, action) {
        (S::Submitted, R::Approve) => Ok(S::Approved),
        (S::Submitted, R::Reject) => Ok(S::Rejected),
        (S::Approved, R::Deprecate) => Ok(S::Deprecated),
        (S::Deprecated, R::Undeprecate) => Ok(S::Approved),
        (S::Approved | S::Deprecated, R::Yank) => Ok(S::Yanked),
        (S::Yanked, R::Unyank) => Ok(yanked_from.unwrap_or(S::Approved)),
        (S::Quarantined, R::Quarantine) => Err("it is quarantined already".into()),
        (_, R::Quarantine) => Ok(S::Quarantined),
        (_, action) => Err(format!(
            "{} is taken from {}",
            action.as_str(),
            match action {
                R::Approve | R::Reject => "submitted",
                R::Deprecate => "approved",
                R::Undeprecate => "deprecated",
                R::Yank => "approved or deprecated",
                R::Unyank => "yanked",
                R::Quarantine => "any state but quarantined",
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transition_is_allowed_or_refused() {
        let states = [
            State::Submitted,
            State::Approved,
            State::Rejected,
            State::Deprecated,
            State::Yanked,
            State::Quarantined,
        ];
        let mut allowed = Vec::new();
        for from in states {
            for action in Review::ALL {
                if let Ok(to) = transition(from, action, Some(State::Deprecated)) {
                    allowed.push((from, action, to));
                }
            }
        }
        use Review as R;
        use State as S;
        assert_eq!(
            allowed,
            [
                (S::Submitted, R::Approve, S::Approved),
                (S::Submitted, R::Reject, S::Rejected),
                (S::Submitted, R::Quarantine, S::Quarantined),
                (S::Approved, R::Deprecate, S::Deprecated),
                (S::Approved, R::Yank, S::Yanked),
                (S::Approved, R::Quarantine, S::Quarantined),
                (S::Rejected, R::Quarantine, S::Quarantined),
                (S::Deprecated, R::Undeprecate, S::Approved),
                (S::Deprecated, R::Yank, S::Yanked),
                (S::Deprecated, R::Quarantine, S::Quarantined),
                (S::Yanked, R::Unyank, S::Deprecated),
                (S::Yanked, R::Quarantine, S::Quarantined),
            ]
        );
    }
}
