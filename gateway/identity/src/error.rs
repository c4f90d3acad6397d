//! The errors of identity.

/// A failure of the token store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage under the token store failed.
    #[error(transparent)]
    Store(#[from] hysope_store::Error),
    /// A stored record does not decode.
    #[error("a stored token record is damaged: {0}")]
    Record(#[from] serde_json::Error),
    /// The request to the store is wrong (a user name, a role, a scope).
    #[error("{0}")]
    Invalid(String),
    /// No token with that id.
    #[error("no token {0:?}")]
    NoSuchToken(String),
}

hysope_store::from_redb_errors!(Error);

/// Result of the token store.
pub type Result<T> = std::result::Result<T, Error>;

/// Why the credentials of a request are not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token is missing a part, unknown, expired, revoked, badly signed or of
    /// another issuer or audience: the caller must get another (401).
    #[error("{0}")]
    Invalid(String),
    /// The server cannot check the token now (its OIDC provider or its store does
    /// not answer): not the caller's fault (503).
    #[error("{0}")]
    Unavailable(String),
}
