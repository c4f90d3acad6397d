//! Who is calling, and what they may do.
//!
//! Every request carries an [`Identity`]: anonymous when it has no token, else the
//! user of a personal access token ([`tokens`], kept hashed in the store), of an
//! OIDC access token ([`oidc`], a JWT checked against the provider's keys), or the
//! local operator (the secret a running server writes into its data folder for the
//! commands of the same machine). [`Authenticator`] tells which.
//!
//! What an identity may do is decided from its [`Role`] and, for a personal token
//! given scopes, from those scopes: each route of the API names one [`Action`], and
//! the [`Policy`] says which role an action needs.

pub mod conformance;
mod error;
pub mod oidc;
pub mod tokens;

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use error::{AuthError, Error, Result};
pub use oidc::{Oidc, OidcConfig};
pub use tokens::{NewToken, RedbTokenStore, TokenRecord, TokenStore};

/// What a caller is, from the least to the most trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// No token: reads the public documents and the catalogue.
    Anonymous,
    /// Executes processes and follows their own jobs.
    User,
    /// Also deploys, replaces and undeploys their own processes.
    Developer,
    /// Sees and dismisses every job, writes the catalogue, ingests, manages tokens.
    Operator,
}

impl Role {
    /// Every role, least trusted first.
    pub const ALL: [Role; 4] = [Role::Anonymous, Role::User, Role::Developer, Role::Operator];

    /// The role's name in the API, the configuration and the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Anonymous => "anonymous",
            Role::User => "user",
            Role::Developer => "developer",
            Role::Operator => "operator",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a request does; each route of the API names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Reads a public document: the landing page, conformance, the API definition,
    /// process descriptions, the STAC catalogue and time series.
    Read,
    /// Executes a process.
    Execute,
    /// Lists, follows, reads the results of and dismisses jobs (one's own; all of
    /// them for an operator).
    Jobs,
    /// Deploys, replaces and undeploys processes (one's own; any deployed one for an
    /// operator).
    Deploy,
    /// Writes the STAC catalogue (transactions).
    Catalog,
    /// Ingests product files into the catalogue.
    Ingest,
    /// Creates, lists and revokes personal access tokens.
    Tokens,
    /// Reads the server's metrics.
    Metrics,
    /// Publishes plugins to the registry (in one's own namespaces) and manages
    /// one's signing keys.
    Publish,
    /// Reviews the registry's submissions, curates its versions and namespaces.
    Review,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 10] = [
        Action::Read,
        Action::Execute,
        Action::Jobs,
        Action::Deploy,
        Action::Catalog,
        Action::Ingest,
        Action::Tokens,
        Action::Metrics,
        Action::Publish,
        Action::Review,
    ];

    /// The action's name, which is also the scope that grants it to a personal token.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Execute => "execute",
            Action::Jobs => "jobs",
            Action::Deploy => "deploy",
            Action::Catalog => "catalog",
            Action::Ingest => "ingest",
            Action::Tokens => "tokens",
            Action::Metrics => "metrics",
            Action::Publish => "publish",
            Action::Review => "review",
        }
    }

    /// The action named `name`.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// Which role each action needs: the defaults of the issue that introduced roles,
/// with one operator setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Anonymous callers may execute processes and follow the jobs they started by
    /// their links (a public demo). Off by default.
    pub anonymous_execute: bool,
}

impl Policy {
    /// The least role that may do `action`.
    pub fn required(&self, action: Action) -> Role {
        match action {
            Action::Read => Role::Anonymous,
            Action::Execute | Action::Jobs if self.anonymous_execute => Role::Anonymous,
            Action::Execute | Action::Jobs => Role::User,
            Action::Deploy | Action::Publish => Role::Developer,
            Action::Catalog
            | Action::Ingest
            | Action::Tokens
            | Action::Metrics
            | Action::Review => Role::Operator,
        }
    }

    /// Whether `identity` may do `action`, and if not, why.
    pub fn decide(&self, identity: &Identity, action: Action) -> Decision {
        let needed = self.required(action);
        if identity.role < needed {
            return if identity.role == Role::Anonymous {
                Decision::Unauthenticated(needed)
            } else {
                Decision::Forbidden(format!(
                    "{} {:?} has the role {}; this needs the role {needed}",
                    identity.kind_name(),
                    identity.subject,
                    identity.role
                ))
            };
        }
        if action != Action::Read {
            if let Some(scopes) = &identity.scopes {
                if !scopes.contains(&action) {
                    return Decision::Forbidden(format!(
                        "this personal token's scopes ({}) do not include {}",
                        scopes
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        action.as_str()
                    ));
                }
            }
        }
        Decision::Allowed
    }
}

/// The outcome of [`Policy::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on.
    Allowed,
    /// An anonymous caller needs a token of at least this role (401).
    Unauthenticated(Role),
    /// The caller is known and may not (403), for this reason.
    Forbidden(String),
}

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Via {
    /// No token.
    Anonymous,
    /// A personal access token, by its public id.
    Personal {
        /// The token's id (not its secret).
        token: String,
    },
    /// An OIDC access token of this issuer.
    Oidc {
        /// The token's `iss`.
        issuer: String,
    },
    /// The data folder's local secret (commands of the same machine).
    Local,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The user's name (`anonymous` for no one; the `sub` of an OIDC token).
    pub subject: String,
    /// What the caller may do.
    pub role: Role,
    /// The actions a personal token was limited to, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<Action>>,
    /// How the caller proved it.
    pub via: Via,
}

/// The subject of anonymous callers (also the owner of the jobs they start).
pub const ANONYMOUS: &str = "anonymous";

/// The subject of the local operator.
pub const LOCAL_OPERATOR: &str = "local-operator";

impl Identity {
    /// A caller without a token.
    pub fn anonymous() -> Self {
        Identity {
            subject: ANONYMOUS.into(),
            role: Role::Anonymous,
            scopes: None,
            via: Via::Anonymous,
        }
    }

    /// The operator of the machine, who holds the data folder's local secret.
    pub fn local_operator() -> Self {
        Identity {
            subject: LOCAL_OPERATOR.into(),
            role: Role::Operator,
            scopes: None,
            via: Via::Local,
        }
    }

    /// True for an operator (who sees and acts on everyone's jobs and processes).
    pub fn is_operator(&self) -> bool {
        self.role == Role::Operator
    }

    /// True when this caller may see and act on what `owner` owns: its owner, or
    /// an operator. Things of no owner (made before identities existed) are the
    /// operators' only.
    pub fn owns(&self, owner: Option<&str>) -> bool {
        self.is_operator() || owner == Some(self.subject.as_str())
    }

    fn kind_name(&self) -> &'static str {
        match self.via {
            Via::Anonymous => "caller",
            Via::Personal { .. } => "the user of this personal token",
            Via::Oidc { .. } => "the user of this access token",
            Via::Local => "the local operator",
        }
    }
}

/// Tells who is calling from the credentials of a request.
pub struct Authenticator {
    tokens: Arc<dyn TokenStore>,
    oidc: Option<Oidc>,
    /// The data folder's local secret, if the server wrote one.
    local_secret: Option<String>,
    /// Personal tokens verified in the last [`STALE_IF_ERROR`], for while the
    /// token store cannot be read (a full disk, a database down): the operators'
    /// scrapes and status pages keep working then.
    recent: std::sync::Mutex<HashMap<String, Recent>>,
}

/// How long a personal token verified once is taken while the store cannot
/// answer (revocations cannot be written then either, on this server).
pub const STALE_IF_ERROR: std::time::Duration = std::time::Duration::from_secs(300);

/// At most this many recently verified tokens are kept (the oldest half is
/// dropped beyond).
const RECENT_TOKENS: usize = 4096;

/// A personal token verified recently.
#[derive(Clone)]
struct Recent {
    identity: Identity,
    expires: Option<u64>,
    verified: std::time::Instant,
}

/// The prefix of a personal access token (so that a leaked one is recognised by
/// secret scanners and never taken for a JWT).
pub const PERSONAL_PREFIX: &str = "hysope_pat_";

impl Authenticator {
    /// Tokens from `tokens`, JWTs checked by `oidc` if a provider is configured.
    pub fn new(tokens: Arc<dyn TokenStore>, oidc: Option<Oidc>) -> Self {
        Self {
            tokens,
            oidc,
            local_secret: None,
            recent: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// A personal token's identity from the store; while the store cannot
    /// answer, from a verification of the last [`STALE_IF_ERROR`].
    fn personal(&self, token: &str) -> std::result::Result<Identity, AuthError> {
        let hash = tokens::hash(token);
        let verified = tokens::identify(self.tokens.as_ref(), &hash);
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match verified {
            Ok((identity, expires)) => {
                if recent.len() >= RECENT_TOKENS {
                    let mut by_age: Vec<_> = recent
                        .iter()
                        .map(|(k, r)| (r.verified, k.clone()))
                        .collect();
                    by_age.sort();
                    for (_, old) in by_age.into_iter().take(RECENT_TOKENS / 2) {
                        recent.remove(&old);
                    }
                }
                recent.insert(
                    hash,
                    Recent {
                        identity: identity.clone(),
                        expires,
                        verified: std::time::Instant::now(),
                    },
                );
                Ok(identity)
            }
            Err(AuthError::Unavailable(why)) => recent
                .get(&hash)
                .filter(|r| {
                    r.verified.elapsed() < STALE_IF_ERROR
                        && r.expires.is_none_or(|at| at > now_ms())
                })
                .map(|r| r.identity.clone())
                .ok_or(AuthError::Unavailable(why)),
            Err(e) => {
                recent.remove(&hash);
                Err(e)
            }
        }
    }

    /// Also accepts `secret` as the local operator's.
    pub fn with_local_secret(mut self, secret: String) -> Self {
        self.local_secret = Some(secret);
        self
    }

    /// The store of personal tokens.
    pub fn tokens(&self) -> &Arc<dyn TokenStore> {
        &self.tokens
    }

    /// The trusted OIDC provider's issuer, if any.
    pub fn oidc_issuer(&self) -> Option<&str> {
        self.oidc.as_ref().map(|o| o.config().issuer.as_str())
    }

    /// The trusted provider's configuration, if any.
    pub fn oidc_config(&self) -> Option<&OidcConfig> {
        self.oidc.as_ref().map(|o| o.config())
    }

    /// The identity of the bearer of `token` (the text after `Bearer `, or the
    /// value of `X-API-Key`); `None` is anonymous.
    pub async fn authenticate(
        &self,
        token: Option<&str>,
    ) -> std::result::Result<Identity, AuthError> {
        let Some(token) = token else {
            return Ok(Identity::anonymous());
        };
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Invalid("the token is empty".into()));
        }
        if let Some(secret) = &self.local_secret {
            if same_secret(token.as_bytes(), secret.as_bytes()) {
                return Ok(Identity::local_operator());
            }
        }
        if token.starts_with(PERSONAL_PREFIX) {
            return self.personal(token);
        }
        if token.split('.').count() == 3 {
            return match &self.oidc {
                Some(oidc) => oidc.identify(token).await,
                None => Err(AuthError::Invalid(
                    "an access token (JWT) was given, but this server trusts no OIDC provider"
                        .into(),
                )),
            };
        }
        Err(AuthError::Invalid(format!(
            "not a token of this server (a personal token starts with {PERSONAL_PREFIX}; an OIDC access token is a JWT)"
        )))
    }
}

/// `prefix` and 256 random bits from the system, in URL-safe base64.
pub fn random_secret(prefix: &str) -> std::result::Result<String, Error> {
    use base64::Engine;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| Error::Invalid(format!("the system has no random numbers: {e}")))?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    ))
}

/// Compares two secrets in a time that depends on their lengths only.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One token record, and a store that cannot answer while `down` is set.
    struct Flaky {
        record: TokenRecord,
        down: std::sync::atomic::AtomicBool,
    }

    impl TokenStore for Flaky {
        fn insert(&self, _: &TokenRecord) -> Result<()> {
            unreachable!()
        }
        fn by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(Error::Invalid("the disk is full".into()));
            }
            Ok((hash == self.record.hash).then(|| self.record.clone()))
        }
        fn get(&self, _: &str) -> Result<Option<TokenRecord>> {
            unreachable!()
        }
        fn list(&self, _: Option<&str>) -> Result<Vec<TokenRecord>> {
            unreachable!()
        }
        fn revoke(&self, _: &str, _: u64) -> Result<TokenRecord> {
            unreachable!()
        }
    }

    /// Issue 24: while the token store cannot answer, a personal token verified
    /// in the last five minutes still identifies its bearer (the operators'
    /// scrapes of a server whose disk is full); one never verified does not.
    #[tokio::test]
    async fn a_recently_verified_token_outlives_a_store_that_cannot_answer() {
        let secret = "hysope_pat_recent";
        let other = "hysope_pat_never_seen";
        let record = TokenRecord {
            id: "t1".into(),
            user: "prometheus".into(),
            role: Role::Operator,
            scopes: Some(vec![Action::Metrics]),
            created: 0,
            expires: None,
            revoked: None,
            created_by: "ops".into(),
            note: None,
            hash: tokens::hash(secret),
        };
        let store = Arc::new(Flaky {
            record,
            down: false.into(),
        });
        let auth = Authenticator::new(store.clone(), None);
        assert_eq!(
            auth.authenticate(Some(secret)).await.unwrap().subject,
            "prometheus"
        );
        store.down.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = auth.authenticate(Some(secret)).await.unwrap();
        assert_eq!(
            (seen.subject.as_str(), seen.role),
            ("prometheus", Role::Operator)
        );
        assert!(matches!(
            auth.authenticate(Some(other)).await,
            Err(AuthError::Unavailable(_))
        ));
    }

    fn caller(role: Role, scopes: Option<Vec<Action>>) -> Identity {
        Identity {
            subject: "ada".into(),
            role,
            scopes,
            via: Via::Personal { token: "t".into() },
        }
    }

    #[test]
    fn the_default_policy_is_the_issues_table() {
        let p = Policy::default();
        let allowed = |role, action| p.decide(&caller(role, None), action) == Decision::Allowed;
        assert!(allowed(Role::User, Action::Execute));
        assert!(allowed(Role::User, Action::Jobs));
        assert!(!allowed(Role::User, Action::Deploy));
        assert!(allowed(Role::Developer, Action::Deploy));
        assert!(!allowed(Role::Developer, Action::Catalog));
        for action in Action::ALL {
            assert!(allowed(Role::Operator, action), "{action:?}");
        }
        let anonymous = Identity::anonymous();
        assert_eq!(p.decide(&anonymous, Action::Read), Decision::Allowed);
        assert_eq!(
            p.decide(&anonymous, Action::Execute),
            Decision::Unauthenticated(Role::User)
        );
        let open = Policy {
            anonymous_execute: true,
        };
        assert_eq!(open.decide(&anonymous, Action::Execute), Decision::Allowed);
        assert_eq!(
            open.decide(&anonymous, Action::Deploy),
            Decision::Unauthenticated(Role::Developer)
        );
    }

    #[test]
    fn scopes_narrow_a_token_but_never_widen_it() {
        let p = Policy::default();
        let narrow = caller(Role::Operator, Some(vec![Action::Ingest]));
        assert_eq!(p.decide(&narrow, Action::Ingest), Decision::Allowed);
        assert_eq!(p.decide(&narrow, Action::Read), Decision::Allowed);
        assert!(matches!(
            p.decide(&narrow, Action::Catalog),
            Decision::Forbidden(_)
        ));
        let wide = caller(Role::User, Some(vec![Action::Catalog]));
        assert!(matches!(
            p.decide(&wide, Action::Catalog),
            Decision::Forbidden(_)
        ));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
        assert!(!same_secret(b"abcd", b"abc"));
        assert!(!same_secret(b"", b"abc"));
    }

    #[test]
    fn ownership() {
        let ada = caller(Role::User, None);
        assert!(ada.owns(Some("ada")));
        assert!(!ada.owns(Some("bob")));
        assert!(!ada.owns(None));
        assert!(Identity::local_operator().owns(Some("bob")));
        assert!(Identity::local_operator().owns(None));
    }
}
