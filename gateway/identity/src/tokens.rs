//! Personal access tokens: 256 random bits shown once to their owner, kept as
//! their SHA-256 in the store with the user, role, scopes, expiry and revocation.
//!
//! A token is `hysope_pat_` and 43 characters of URL-safe base64. Its hash is the
//! store's key: a token is looked up, never compared with every stored one, and a
//! copy of the store gives nobody a usable token.

use std::sync::Arc;
use std::time::Duration;

use hysope_store::SharedDb;
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::{Action, AuthError, Error, Identity, PERSONAL_PREFIX, Result, Role, Via, now_ms};

/// A stored token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Public id, to list and revoke it.
    pub id: String,
    /// Whose token it is.
    pub user: String,
    /// The role it carries.
    pub role: Role,
    /// The actions it is limited to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<Action>>,
    /// When it was made, in milliseconds since the epoch.
    pub created: u64,
    /// When it stops working, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// When it was revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<u64>,
    /// Who made it.
    pub created_by: String,
    /// What it is for, in its owner's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// SHA-256 of the secret, hex.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub hash: String,
}

impl TokenRecord {
    /// Whether the token works at `now`, and if not, why.
    pub fn usable(&self, now: u64) -> std::result::Result<(), String> {
        if let Some(at) = self.revoked {
            return Err(format!(
                "personal token {} was revoked at {}",
                self.id,
                rfc3339(at)
            ));
        }
        if let Some(at) = self.expires.filter(|&at| at <= now) {
            return Err(format!(
                "personal token {} expired at {}",
                self.id,
                rfc3339(at)
            ));
        }
        Ok(())
    }

    /// The record as the API shows it: no hash.
    pub fn public(&self) -> serde_json::Value {
        let mut shown = self.clone();
        shown.hash.clear();
        let mut value = serde_json::to_value(&shown).unwrap_or_default();
        for (field, at) in [
            ("created", Some(self.created)),
            ("expires", self.expires),
            ("revoked", self.revoked),
        ] {
            if let Some(at) = at {
                value[field] = rfc3339(at).into();
            }
        }
        value
    }
}

fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// What a new token is.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Whose token it is.
    pub user: String,
    /// The role it carries (not anonymous).
    pub role: Role,
    /// The actions it is limited to, if any.
    pub scopes: Option<Vec<Action>>,
    /// How long it works, if not forever.
    pub lifetime: Option<Duration>,
    /// Who makes it.
    pub created_by: String,
    /// What it is for.
    pub note: Option<String>,
}

impl NewToken {
    /// A token request as people write it (the HTTP API and the command line): the
    /// role by name, scope names, a lifetime as `90d` or `12h` (named
    /// `lifetime_name` in errors).
    pub fn parse(
        user: String,
        role: &str,
        scopes: Option<&[String]>,
        lifetime: Option<&str>,
        lifetime_name: &str,
        created_by: String,
        note: Option<String>,
    ) -> Result<NewToken> {
        let role = Role::parse(role).ok_or_else(|| {
            Error::Invalid(format!("role {role:?} is not user, developer or operator"))
        })?;
        let scopes = scopes
            .map(parse_scopes)
            .transpose()
            .map_err(Error::Invalid)?;
        let lifetime = lifetime
            .map(|t| {
                humantime::parse_duration(t).map_err(|e| {
                    Error::Invalid(format!("{lifetime_name} {t:?}: {e} (say 90d, 12h)"))
                })
            })
            .transpose()?;
        Ok(NewToken {
            user,
            role,
            scopes,
            lifetime,
            created_by,
            note,
        })
    }
}

/// Parses a token's scopes (action names).
pub fn parse_scopes(names: &[String]) -> std::result::Result<Vec<Action>, String> {
    names
        .iter()
        .map(|n| {
            Action::parse(n.trim()).ok_or_else(|| {
                format!(
                    "{n:?} is not a scope ({})",
                    Action::ALL.map(Action::as_str).join(", ")
                )
            })
        })
        .collect()
}

/// Where personal tokens are kept: one trait, the embedded store in the server's
/// redb file ([`RedbTokenStore`]), checked by [`crate::token_store_suite!`].
pub trait TokenStore: Send + Sync {
    /// Stores a new token, durably before it returns.
    fn insert(&self, record: &TokenRecord) -> Result<()>;
    /// The token whose secret hashes to `hash` (hex).
    fn by_hash(&self, hash: &str) -> Result<Option<TokenRecord>>;
    /// The token with this id.
    fn get(&self, id: &str) -> Result<Option<TokenRecord>>;
    /// The tokens of `user`, or all, oldest first.
    fn list(&self, user: Option<&str>) -> Result<Vec<TokenRecord>>;
    /// Marks the token revoked at `at` (durably; a token revoked already keeps its
    /// first time) and returns it.
    fn revoke(&self, id: &str, at: u64) -> Result<TokenRecord>;
}

/// The longest user name.
pub const MAX_USER_NAME: usize = 128;

/// Checks a user name: 1 to 128 letters, digits and `. _ - @`, not one of the
/// names the server gives itself.
pub fn check_user_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_USER_NAME {
        return Err(Error::Invalid(format!(
            "a user name has 1 to {MAX_USER_NAME} characters, not {}",
            name.len()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
    {
        return Err(Error::Invalid(format!(
            "user name {name:?}: {c:?} is not allowed (letters, digits and . _ - @)"
        )));
    }
    if name == crate::ANONYMOUS || name == crate::LOCAL_OPERATOR {
        return Err(Error::Invalid(format!(
            "user name {name:?} is the server's own"
        )));
    }
    Ok(())
}

/// Makes a token: its secret (to show once) and its stored record.
pub fn issue(store: &dyn TokenStore, new: NewToken) -> Result<(String, TokenRecord)> {
    check_user_name(&new.user)?;
    if new.role == Role::Anonymous {
        return Err(Error::Invalid(
            "a token carries the role user, developer or operator, not anonymous".into(),
        ));
    }
    if let Some(note) = &new.note {
        if note.len() > 256 || note.chars().any(char::is_control) {
            return Err(Error::Invalid(
                "a token's note has at most 256 characters and no control character".into(),
            ));
        }
    }
    let token = crate::random_secret(PERSONAL_PREFIX)?;
    let mut id = [0u8; 8];
    getrandom::fill(&mut id)
        .map_err(|e| Error::Invalid(format!("the system has no random numbers: {e}")))?;
    let created = now_ms();
    let lifetime_ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let record = TokenRecord {
        id: hex::encode(id),
        user: new.user,
        role: new.role,
        scopes: new.scopes,
        created,
        expires: new.lifetime.map(|d| created.saturating_add(lifetime_ms(d))),
        revoked: None,
        created_by: new.created_by,
        note: new.note,
        hash: hash(&token),
    };
    store.insert(&record)?;
    Ok((token, record))
}

/// SHA-256 of a token, hex.
pub fn hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The identity of the bearer of the personal token whose [`hash`] is
/// `hashed`, and when the token expires.
pub(crate) fn identify(
    store: &dyn TokenStore,
    hashed: &str,
) -> std::result::Result<(Identity, Option<u64>), AuthError> {
    let record = store
        .by_hash(hashed)
        .map_err(|e| AuthError::Unavailable(format!("the token store does not answer: {e}")))?
        .ok_or_else(|| AuthError::Invalid("unknown personal token".into()))?;
    record.usable(now_ms()).map_err(AuthError::Invalid)?;
    let identity = Identity {
        subject: record.user,
        role: record.role,
        scopes: record.scopes,
        via: Via::Personal { token: record.id },
    };
    Ok((identity, record.expires))
}

const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
/// SHA-256 of the secret (hex) -> token id.
const BY_HASH: TableDefinition<&str, &str> = TableDefinition::new("tokens_by_hash");

/// The embedded token store: two tables of the server's redb file.
pub struct RedbTokenStore {
    db: Arc<SharedDb>,
}

impl RedbTokenStore {
    /// The token store in the server's file.
    pub fn open_shared(db: Arc<SharedDb>) -> Result<Self> {
        let tx = db.begin_write()?;
        tx.open_table(TOKENS)?;
        tx.open_table(BY_HASH)?;
        tx.commit()?;
        Ok(Self { db })
    }

    fn write(&self, change: hysope_store::Change) -> Result<()> {
        Ok(self.db.write(change, true)?)
    }
}

fn decode(bytes: &[u8]) -> Result<TokenRecord> {
    Ok(serde_json::from_slice(bytes)?)
}

impl TokenStore for RedbTokenStore {
    fn insert(&self, record: &TokenRecord) -> Result<()> {
        let bytes = serde_json::to_vec(record)?;
        let (id, hash) = (record.id.clone(), record.hash.clone());
        self.write(Box::new(move |tx| {
            let mut tokens = tx.open_table(TOKENS)?;
            let mut by_hash = tx.open_table(BY_HASH)?;
            if tokens.get(id.as_str())?.is_some() || by_hash.get(hash.as_str())?.is_some() {
                return Err(hysope_store::Error::change(std::io::Error::other(format!(
                    "token {id} exists already"
                ))));
            }
            tokens.insert(id.as_str(), bytes.as_slice())?;
            by_hash.insert(hash.as_str(), id.as_str())?;
            Ok(())
        }))
    }

    fn by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
        let tx = self.db.begin_read()?;
        let by_hash = tx.open_table(BY_HASH)?;
        let Some(id) = by_hash.get(hash)? else {
            return Ok(None);
        };
        let tokens = tx.open_table(TOKENS)?;
        let found = tokens.get(id.value())?;
        found.map(|v| decode(v.value())).transpose()
    }

    fn get(&self, id: &str) -> Result<Option<TokenRecord>> {
        let tx = self.db.begin_read()?;
        let tokens = tx.open_table(TOKENS)?;
        let found = tokens.get(id)?;
        found.map(|v| decode(v.value())).transpose()
    }

    fn list(&self, user: Option<&str>) -> Result<Vec<TokenRecord>> {
        let tx = self.db.begin_read()?;
        let tokens = tx.open_table(TOKENS)?;
        let mut out = Vec::new();
        for entry in tokens.iter()? {
            let record = decode(entry?.1.value())?;
            if user.is_none_or(|u| u == record.user) {
                out.push(record);
            }
        }
        out.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(out)
    }

    fn revoke(&self, id: &str, at: u64) -> Result<TokenRecord> {
        let Some(mut record) = self.get(id)? else {
            return Err(Error::NoSuchToken(id.to_string()));
        };
        if record.revoked.is_some() {
            return Ok(record);
        }
        record.revoked = Some(at);
        let bytes = serde_json::to_vec(&record)?;
        let key = id.to_string();
        self.write(Box::new(move |tx| {
            let mut tokens = tx.open_table(TOKENS)?;
            // A revocation never undoes an earlier one made meanwhile.
            let earlier = tokens
                .get(key.as_str())?
                .map(|v| decode(v.value()).map(|r| r.revoked.is_some()))
                .transpose()
                .map_err(hysope_store::Error::change)?;
            if earlier != Some(true) {
                tokens.insert(key.as_str(), bytes.as_slice())?;
            }
            Ok(())
        }))?;
        Ok(self.get(id)?.unwrap_or(record))
    }
}
