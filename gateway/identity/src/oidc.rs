//! OIDC access tokens: JWTs of any provider, checked against the keys it
//! publishes (its JWKS, found through its discovery document).
//!
//! Only asymmetric algorithms are taken (RSA, RSA-PSS, ECDSA, EdDSA): never `none`,
//! never an HMAC whose key would be the public one. The issuer must match exactly,
//! the audience when one is configured; `exp` is required, `nbf` checked, both with
//! a small leeway. The keys are fetched at the first token and again when a token
//! names a key the server does not know, at most every 30 s (a provider rotating its
//! keys is followed; a caller inventing key ids does not make the server hammer it).
//! Roles come from a configurable claim path (`roles`, `realm_access.roles`,
//! `groups`), mapped to Hysope's roles by name or by the configured map.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::{AuthError, Identity, Role, Via};

/// How the server trusts a provider.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The provider's issuer URL (`iss`), exactly; its discovery document is at
    /// `ISSUER/.well-known/openid-configuration`.
    pub issuer: String,
    /// The audience (`aud`) tokens must be for, if any.
    pub audience: Option<String>,
    /// Where the roles are in a token: a dotted path (`roles`, `realm_access.roles`).
    pub roles_claim: String,
    /// The provider's role names and the roles they give; empty: the provider's
    /// names are Hysope's (`user`, `developer`, `operator`).
    pub role_map: Vec<(String, Role)>,
    /// The role of a valid token that names none of the mapped roles.
    pub default_role: Role,
    /// Clock difference accepted on `exp` and `nbf`.
    pub leeway: Duration,
    /// The provider's client id of the web portal (a public client: authorization
    /// code with PKCE, no secret), when people sign in there with the provider.
    pub portal_client: Option<String>,
    /// The scopes the portal asks for (`openid` and whatever the provider needs
    /// to put the roles in the access token).
    pub portal_scope: String,
}

impl OidcConfig {
    /// A provider with the defaults: roles in `roles` by Hysope's names, a token
    /// without one is a user's, 30 s of leeway.
    pub fn new(issuer: impl Into<String>) -> Self {
        OidcConfig {
            issuer: issuer.into(),
            audience: None,
            roles_claim: "roles".into(),
            role_map: Vec::new(),
            default_role: Role::User,
            leeway: Duration::from_secs(30),
            portal_client: None,
            portal_scope: "openid".into(),
        }
    }

    /// Parses `NAME=ROLE,NAME=ROLE` (the command line's role map).
    pub fn parse_role_map(text: &str) -> Result<Vec<(String, Role)>, String> {
        text.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|pair| {
                let (name, role) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("{pair:?} is not NAME=ROLE"))?;
                let role = Role::parse(role.trim())
                    .ok_or_else(|| format!("{role:?} is not a role (user, developer, operator)"))?;
                Ok((name.trim().to_string(), role))
            })
            .collect()
    }
}

/// The algorithms a provider's tokens may be signed with.
const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The shortest time between two fetches of the keys.
const REFETCH_EVERY: Duration = Duration::from_secs(30);

/// The largest discovery document or key set read.
const MAX_DOCUMENT: usize = 1 << 20;

/// A provider's keys, as last fetched.
#[derive(Default)]
struct Keys {
    /// By key id; `""` for a set's only key without an id.
    by_id: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    fetched: Option<Instant>,
}

/// Checks access tokens of one provider.
pub struct Oidc {
    config: OidcConfig,
    client: reqwest::Client,
    keys: RwLock<Keys>,
    /// One fetch at a time.
    fetching: tokio::sync::Mutex<()>,
    /// Tokens whose signature was checked, by their SHA-256, with their identity and
    /// expiry: a client sends the same token with each request, and checking an
    /// RSA signature cost a fifth of a synchronous execution (BENCHMARKS.md). The
    /// same bytes were signed; `exp` is checked again at each use.
    verified: std::sync::Mutex<HashMap<[u8; 32], (Identity, u64)>>,
}

/// Verified tokens remembered, at most.
const MAX_VERIFIED: usize = 10_000;

impl Oidc {
    /// A checker of `config`'s provider (nothing is fetched until the first token).
    pub fn new(config: OidcConfig) -> Result<Self, String> {
        let issuer = url::Url::parse(&config.issuer)
            .map_err(|e| format!("OIDC issuer {:?}: {e}", config.issuer))?;
        if !matches!(issuer.scheme(), "https" | "http") {
            return Err(format!(
                "OIDC issuer {:?} is not an http(s) URL",
                config.issuer
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the OIDC client: {e}"))?;
        Ok(Oidc {
            config,
            client,
            keys: RwLock::new(Keys::default()),
            fetching: tokio::sync::Mutex::new(()),
            verified: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The identity of the bearer of `token`.
    pub async fn identify(&self, token: &str) -> Result<Identity, AuthError> {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let now = jsonwebtoken::get_current_timestamp();
        {
            let verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((identity, exp)) = verified.get(&digest) {
                if now <= exp.saturating_add(self.config.leeway.as_secs()) {
                    return Ok(identity.clone());
                }
            }
        }
        let (identity, exp) = self.verify(token).await?;
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= MAX_VERIFIED {
            let leeway = self.config.leeway.as_secs();
            verified.retain(|_, (_, exp)| now <= exp.saturating_add(leeway));
            if verified.len() >= MAX_VERIFIED {
                verified.clear();
            }
        }
        verified.insert(digest, (identity.clone(), exp));
        Ok(identity)
    }

    /// Checks `token`'s signature and claims: its identity and expiry.
    async fn verify(&self, token: &str) -> Result<(Identity, u64), AuthError> {
        let invalid = |what: String| AuthError::Invalid(what);
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| invalid(format!("the access token's header is not readable: {e}")))?;
        if !ASYMMETRIC.contains(&header.alg) {
            return Err(invalid(format!(
                "access tokens signed with {:?} are not taken (RS*, PS*, ES256, ES384 or EdDSA only)",
                header.alg
            )));
        }
        let kid = header.kid.clone().unwrap_or_default();
        let key = match self.key(&kid) {
            Some(key) => key,
            None => {
                self.refresh().await?;
                self.key(&kid).ok_or_else(|| {
                    invalid(format!(
                        "the provider publishes no key {kid:?} (the token is not its, or its keys changed)"
                    ))
                })?
            }
        };
        let (key, key_alg) = key;
        if key_alg.is_some_and(|a| a != header.alg) {
            return Err(invalid(format!(
                "key {kid:?} is for {:?}, the token says {:?}",
                key_alg, header.alg
            )));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        match &self.config.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        validation.leeway = self.config.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss"]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|e| invalid(format!("the access token is not valid: {e}")))?;
        let claims = data.claims;
        let subject = claims
            .get("sub")
            .or_else(|| claims.get("client_id"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control))
            .ok_or_else(|| invalid("the access token names no subject (sub)".into()))?
            .to_string();
        let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        Ok((
            Identity {
                subject,
                role: self.role_of(&claims),
                scopes: None,
                via: Via::Oidc {
                    issuer: self.config.issuer.clone(),
                },
            },
            exp,
        ))
    }

    /// The highest role the token's role claim gives.
    fn role_of(&self, claims: &Value) -> Role {
        let mut at = claims;
        for part in self.config.roles_claim.split('.') {
            match at.get(part) {
                Some(v) => at = v,
                None => return self.config.default_role,
            }
        }
        let names: Vec<&str> = match at {
            Value::String(s) => s.split_whitespace().collect(),
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        names
            .into_iter()
            .filter_map(|name| {
                if self.config.role_map.is_empty() {
                    Role::parse(name).filter(|r| *r != Role::Anonymous)
                } else {
                    self.config
                        .role_map
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, r)| *r)
                }
            })
            .max()
            .unwrap_or(self.config.default_role)
    }

    fn key(&self, kid: &str) -> Option<(DecodingKey, Option<Algorithm>)> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.by_id.get(kid).cloned()
    }

    /// Fetches the keys again, unless they were fetched less than 30 s ago.
    async fn refresh(&self) -> Result<(), AuthError> {
        let _one = self.fetching.lock().await;
        let recent = {
            let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
            keys.fetched.is_some_and(|t| t.elapsed() < REFETCH_EVERY)
        };
        if recent {
            return Ok(());
        }
        let fetched = self.fetch_keys().await;
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        keys.fetched = Some(Instant::now());
        match fetched {
            Ok(by_id) => {
                tracing::info!(issuer = %self.config.issuer, keys = by_id.len(), "OIDC keys fetched");
                keys.by_id = by_id;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(issuer = %self.config.issuer, error = %e, "cannot fetch the OIDC keys");
                Err(AuthError::Unavailable(format!(
                    "the OIDC provider's keys cannot be fetched: {e}"
                )))
            }
        }
    }

    async fn fetch_keys(
        &self,
    ) -> Result<HashMap<String, (DecodingKey, Option<Algorithm>)>, String> {
        let issuer = self.config.issuer.trim_end_matches('/');
        let discovery: Value = self
            .get_json(&format!("{issuer}/.well-known/openid-configuration"))
            .await?;
        if discovery.get("issuer").and_then(Value::as_str) != Some(self.config.issuer.as_str()) {
            return Err(format!(
                "the discovery document names the issuer {}, not {:?}",
                discovery.get("issuer").unwrap_or(&Value::Null),
                self.config.issuer
            ));
        }
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or("the discovery document has no jwks_uri")?;
        let set: JwkSet = serde_json::from_value(self.get_json(jwks_uri).await?)
            .map_err(|e| format!("the key set is not a JWKS: {e}"))?;
        let mut by_id = HashMap::new();
        let usable: Vec<&Jwk> = set
            .keys
            .iter()
            .filter(|k| {
                !matches!(
                    k.common.public_key_use,
                    Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
                )
            })
            .collect();
        for jwk in &usable {
            if matches!(
                jwk.algorithm,
                jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
            ) {
                continue; // a shared secret is never a provider's public key
            }
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
            let id = jwk.common.key_id.clone().unwrap_or_default();
            by_id.insert(id, (key, alg));
        }
        if by_id.is_empty() {
            return Err("the key set has no usable signing key".into());
        }
        Ok(by_id)
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT {
                return Err(format!("GET {url}: more than {MAX_DOCUMENT} bytes"));
            }
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_come_from_the_configured_claim() {
        let mut config = OidcConfig::new("https://id.example");
        config.roles_claim = "realm_access.roles".into();
        let oidc = Oidc::new(config.clone()).unwrap();
        let claims =
            serde_json::json!({"realm_access": {"roles": ["offline", "developer", "user"]}});
        assert_eq!(oidc.role_of(&claims), Role::Developer);
        assert_eq!(oidc.role_of(&serde_json::json!({})), Role::User);
        // "anonymous" in a claim gives nothing more than the default.
        let claims = serde_json::json!({"realm_access": {"roles": ["anonymous"]}});
        assert_eq!(oidc.role_of(&claims), Role::User);
        config.role_map =
            OidcConfig::parse_role_map("hysope-admins=operator, staff=developer").unwrap();
        config.roles_claim = "groups".into();
        config.default_role = Role::Anonymous;
        let oidc = Oidc::new(config).unwrap();
        assert_eq!(
            oidc.role_of(&serde_json::json!({"groups": ["staff"]})),
            Role::Developer
        );
        assert_eq!(
            oidc.role_of(&serde_json::json!({"groups": ["operator"]})),
            Role::Anonymous
        );
        assert_eq!(
            oidc.role_of(&serde_json::json!({"groups": "staff hysope-admins"})),
            Role::Operator
        );
        assert!(OidcConfig::parse_role_map("x=root").is_err());
        assert!(OidcConfig::parse_role_map("x").is_err());
    }
}
