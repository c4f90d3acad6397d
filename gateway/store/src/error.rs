//! Errors of the storage foundation.

use std::path::PathBuf;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another process holds the file.
    #[error("{}: the store is open in another process (a running `hysope serve`?)", path.display())]
    AlreadyOpen {
        /// The store's file.
        path: PathBuf,
    },
    /// The file could not be opened or created.
    #[error("{}: {source}", path.display())]
    Open {
        /// The store's file.
        path: PathBuf,
        /// redb's reason.
        source: redb::DatabaseError,
    },
    /// redb failed in a transaction.
    #[error("store: {0}")]
    Redb(#[from] redb::Error),
    /// A file of the store could not be read or removed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A log left by an earlier version (`hysope serve --store-log`) may hold
    /// changes the file lacks.
    #[error("{}: a store log left by an earlier version of hysope, which may hold changes the store lacks; start that version once without --store-log (it makes them again and removes the log), or remove the file to drop them", path.display())]
    LeftoverLog {
        /// The log.
        path: PathBuf,
    },
    /// A change panicked inside its transaction (the committing thread goes on).
    #[error("a change to the store panicked")]
    Panicked,
    /// The committing thread is gone (the store was closed).
    #[error("the committing thread stopped")]
    Stopped,
    /// The committing thread could not be started.
    #[error("cannot start the committing thread: {0}")]
    Thread(std::io::Error),
    /// A writer's own error from inside its change, handed back to that writer as
    /// it is (see [`Error::change`] and [`Error::into_change`]).
    #[error(transparent)]
    Change(Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// Wraps a writer's own error raised inside a change, so that the writer gets
    /// it back unchanged.
    pub fn change(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Change(Box::new(e))
    }

    /// The writer's own error of type `E` this error carries, if any; `Err(self)`
    /// otherwise.
    pub fn into_change<E: std::error::Error + 'static>(self) -> std::result::Result<E, Self> {
        match self {
            Error::Change(e) => match e.downcast::<E>() {
                Ok(mine) => Ok(*mine),
                Err(other) => Err(Error::Change(other)),
            },
            other => Err(other),
        }
    }
}

/// Result of the store.
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! redb_error {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Redb(e.into())
            }
        }
    )*};
}
redb_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// Implements `From` of redb's error types for an error type that has
/// `From<hysope_store::Error>`, so that a store built on [`SharedDb`](crate::SharedDb)
/// reads its tables with `?`.
#[macro_export]
macro_rules! from_redb_errors {
    ($t:ty) => {
        $crate::from_redb_errors!(@each $t;
            DatabaseError, TransactionError, TableError, StorageError, CommitError);
    };
    (@each $t:ty; $($e:ident),*) => {$(
        impl From<$crate::redb::$e> for $t {
            fn from(e: $crate::redb::$e) -> Self {
                <$t>::from($crate::Error::from(e))
            }
        }
    )*};
}
