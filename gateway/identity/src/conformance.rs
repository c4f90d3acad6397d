//! The conformance suite of [`TokenStore`], run by every implementation (the
//! embedded redb store in this crate's tests; PostgreSQL when it comes).
//! [`token_store_suite!`](crate::token_store_suite) declares one test per case
//! over a constructor returning `(guard, store)`.

use std::time::Duration;

use crate::tokens::{NewToken, TokenStore, hash, issue};
use crate::{Action, AuthError, Authenticator, Role, Via};

fn new(user: &str, role: Role) -> NewToken {
    NewToken {
        user: user.into(),
        role,
        scopes: None,
        lifetime: None,
        created_by: "suite".into(),
        note: None,
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The token store's cases.
pub mod token_store {
    use super::*;

    /// A token is found by its hash, never stored in clear, and identifies its
    /// user with its role and scopes.
    pub fn issued_tokens_identify_their_user(store: std::sync::Arc<dyn TokenStore>) {
        let (secret, record) = issue(store.as_ref(), new("ada", Role::Developer)).unwrap();
        assert!(secret.starts_with(crate::PERSONAL_PREFIX));
        assert_eq!(secret.len(), crate::PERSONAL_PREFIX.len() + 43);
        let stored = store.by_hash(&hash(&secret)).unwrap().unwrap();
        assert_eq!(stored, record);
        assert!(!serde_json::to_string(&stored).unwrap().contains(&secret));
        assert!(!stored.public().to_string().contains(&stored.hash));
        let mut scoped = new("bob", Role::Operator);
        scoped.scopes = Some(vec![Action::Ingest]);
        let (bob, _) = issue(store.as_ref(), scoped).unwrap();
        let auth = Authenticator::new(store.clone(), None);
        let ada = block_on(auth.authenticate(Some(&secret))).unwrap();
        assert_eq!((ada.subject.as_str(), ada.role), ("ada", Role::Developer));
        assert_eq!(ada.via, Via::Personal { token: record.id });
        let bob = block_on(auth.authenticate(Some(&bob))).unwrap();
        assert_eq!(bob.scopes, Some(vec![Action::Ingest]));
        // One character off is unknown.
        let mut wrong = secret.clone();
        let last = wrong.pop();
        wrong.push(if last == Some('A') { 'B' } else { 'A' });
        assert!(matches!(
            block_on(auth.authenticate(Some(&wrong))),
            Err(AuthError::Invalid(_))
        ));
    }

    /// Two tokens of one user are distinct; listing by user finds theirs only,
    /// oldest first.
    pub fn tokens_are_listed_by_user(store: std::sync::Arc<dyn TokenStore>) {
        let (a, _) = issue(store.as_ref(), new("ada", Role::User)).unwrap();
        let (b, _) = issue(store.as_ref(), new("ada", Role::User)).unwrap();
        issue(store.as_ref(), new("bob", Role::User)).unwrap();
        assert_ne!(a, b);
        let ada = store.list(Some("ada")).unwrap();
        assert_eq!(ada.len(), 2);
        assert!(ada[0].created <= ada[1].created);
        assert_eq!(store.list(None).unwrap().len(), 3);
        assert!(store.list(Some("carol")).unwrap().is_empty());
    }

    /// A revoked token stops working at once and keeps its first revocation time;
    /// an unknown id is an error.
    pub fn revoked_tokens_stop_working(store: std::sync::Arc<dyn TokenStore>) {
        let (secret, record) = issue(store.as_ref(), new("ada", Role::User)).unwrap();
        let auth = Authenticator::new(store.clone(), None);
        assert!(block_on(auth.authenticate(Some(&secret))).is_ok());
        let revoked = store.revoke(&record.id, 1_000).unwrap();
        assert_eq!(revoked.revoked, Some(1_000));
        assert_eq!(
            store.revoke(&record.id, 2_000).unwrap().revoked,
            Some(1_000)
        );
        let err = block_on(auth.authenticate(Some(&secret))).unwrap_err();
        assert!(err.to_string().contains("revoked"), "{err}");
        assert!(matches!(
            store.revoke("nope", 1),
            Err(crate::Error::NoSuchToken(_))
        ));
    }

    /// An expired token is refused with the time it expired.
    pub fn expired_tokens_stop_working(store: std::sync::Arc<dyn TokenStore>) {
        let mut short = new("ada", Role::User);
        short.lifetime = Some(Duration::from_millis(1));
        let (secret, _) = issue(store.as_ref(), short).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let auth = Authenticator::new(store.clone(), None);
        let err = block_on(auth.authenticate(Some(&secret))).unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
    }

    /// Bad user names, the anonymous role and the server's own names are refused
    /// before anything is stored.
    pub fn bad_requests_store_nothing(store: std::sync::Arc<dyn TokenStore>) {
        for user in [
            "",
            "a/b",
            "../x",
            "anonymous",
            "local-operator",
            "a b",
            &"x".repeat(129),
        ] {
            assert!(
                issue(store.as_ref(), new(user, Role::User)).is_err(),
                "{user:?}"
            );
        }
        assert!(issue(store.as_ref(), new("ada", Role::Anonymous)).is_err());
        assert!(store.list(None).unwrap().is_empty());
    }
}

/// Declares the token store's cases as tests over `$make`, an expression giving
/// `(guard, Arc<dyn TokenStore>)` (the guard keeps its files alive).
#[macro_export]
macro_rules! token_store_suite {
    ($make:expr) => {
        mod token_store_suite {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance::token_store as case;

            #[test]
            fn issued_tokens_identify_their_user() {
                let (_guard, store) = $make;
                case::issued_tokens_identify_their_user(store);
            }
            #[test]
            fn tokens_are_listed_by_user() {
                let (_guard, store) = $make;
                case::tokens_are_listed_by_user(store);
            }
            #[test]
            fn revoked_tokens_stop_working() {
                let (_guard, store) = $make;
                case::revoked_tokens_stop_working(store);
            }
            #[test]
            fn expired_tokens_stop_working() {
                let (_guard, store) = $make;
                case::expired_tokens_stop_working(store);
            }
            #[test]
            fn bad_requests_store_nothing() {
                let (_guard, store) = $make;
                case::bad_requests_store_nothing(store);
            }
        }
    };
}

#[cfg(test)]
mod redb_suite {
    use std::sync::Arc;

    use crate::tokens::{RedbTokenStore, TokenStore};

    fn make() -> (tempfile::TempDir, Arc<dyn TokenStore>) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(hysope_store::SharedDb::open(&dir.path().join("store.redb")).unwrap());
        let store: Arc<dyn TokenStore> = Arc::new(RedbTokenStore::open_shared(db).unwrap());
        (dir, store)
    }

    crate::token_store_suite!(make());
}
