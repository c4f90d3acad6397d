//! Errors of the catalogue.

/// What went wrong in the catalogue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request parameter is wrong; the text names it.
    #[error("{0}")]
    InvalidParameter(String),
    /// An item or collection sent by a client is not valid STAC; the text says where.
    #[error("{0}")]
    InvalidDocument(String),
    /// The named collection does not exist.
    #[error("no collection {0:?}")]
    NoSuchCollection(String),
    /// The named item does not exist.
    #[error("no item {item:?} in collection {collection:?}")]
    NoSuchItem {
        /// Collection id.
        collection: String,
        /// Item id.
        item: String,
    },
    /// Something with this id exists already.
    #[error("{0}")]
    Conflict(String),
    /// A product file could not be read (truncated, foreign); the text names the file.
    #[error("{0}")]
    Read(#[from] hysope_swot::ReadError),
    /// The store failed.
    #[error("catalogue store: {0}")]
    Store(String),
    /// The storage foundation failed.
    #[error("catalogue store: {0}")]
    Storage(hysope_store::Error),
    /// File-system error, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result of the catalogue.
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! store_error {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Store(e.to_string())
            }
        }
    )*};
}
store_error!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError,
    serde_json::Error
);

impl From<hysope_store::Error> for Error {
    /// A catalogue error raised inside a change comes back as it is.
    fn from(e: hysope_store::Error) -> Self {
        match e.into_change::<Error>() {
            Ok(mine) => mine,
            Err(e) => Error::Storage(e),
        }
    }
}
