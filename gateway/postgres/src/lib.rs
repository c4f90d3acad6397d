//! Hysope's scale-out parts on PostgreSQL: the job store ([`PgJobStore`]) that
//! several gateways and workers share, a job queue that needs no broker
//! ([`PgQueue`]: `SELECT … FOR UPDATE SKIP LOCKED`, woken by `LISTEN/NOTIFY`),
//! the personal token store ([`PgTokenStore`]), the deployed processes
//! ([`PgDeployments`]), and the catalogue on pgstac
//! ([`PgCatalog`]).
//!
//! Both run their queries on a runtime of their own ([`Pg`]): the job store's
//! trait is called from async tasks and from plain threads alike, and a query
//! must neither need the caller's runtime nor starve it.

mod catalog;
mod deployments;
mod jobs;
mod queue;
mod registry;
mod rules;
pub mod testing;
mod tls;
mod tokens;

use std::future::Future;
use std::sync::{Arc, Mutex};

pub use catalog::{PGSTAC_VERSION, PgCatalog};
pub use deployments::PgDeployments;
pub use jobs::PgJobStore;
pub use queue::PgQueue;
pub use registry::PgRecords;
pub use rules::PgRuleStore;
pub use tls::Tls;
pub use tokens::PgTokenStore;

/// What went wrong talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not a PostgreSQL connection string.
    #[error("PostgreSQL URL {url:?}: {reason}")]
    Url {
        /// The URL, without its password.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server refused or failed a query.
    #[error("PostgreSQL: {}", describe(.0))]
    Db(#[from] tokio_postgres::Error),
    /// No connection could be had from the pool.
    #[error("PostgreSQL: no connection: {0}")]
    Pool(String),
    /// The runtime of the queries is gone.
    #[error("PostgreSQL: the client's runtime stopped")]
    Stopped,
    /// The database lacks what a store needs (pgstac, its version).
    #[error("PostgreSQL: {0}")]
    Setup(String),
    /// A catalogue error raised inside a transaction.
    #[error("{0}")]
    Catalog(Box<hysope_catalog::Error>),
}

/// A client error with what the server said (tokio-postgres's own text for a
/// refused statement is only "db error").
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(": {detail}"));
            }
            if let Some(place) = db.where_() {
                text.push_str(&format!(", in {}", place.lines().next().unwrap_or(place)));
            }
            text
        }
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => Error::Db(e),
            other => Error::Pool(other.to_string()),
        }
    }
}

impl From<Error> for hysope_jobs::Error {
    fn from(e: Error) -> Self {
        if e.is_unreachable() {
            hysope_jobs::Error::Unavailable(e.to_string())
        } else {
            hysope_jobs::Error::Database(e.to_string())
        }
    }
}

impl Error {
    /// The server could not be reached (no connection, or the connection lost),
    /// as against a statement it refused.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Pool(_) | Error::Stopped => true,
            Error::Db(e) => e.is_closed() || e.as_db_error().is_none_or(is_shutdown),
            _ => false,
        }
    }
}

/// A server shutting down or starting up (`57P01` admin shutdown, `57P02`
/// crash shutdown, `57P03` cannot connect now) refuses the statement only
/// because it is going away or not back yet.
fn is_shutdown(db: &tokio_postgres::error::DbError) -> bool {
    matches!(db.code().code(), "57P01" | "57P02" | "57P03")
}

/// A connection pool to one PostgreSQL database and the runtime its queries run
/// on. Cheap to clone; the runtime ends with the last clone.
#[derive(Clone)]
pub struct Pg {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Option<tokio::runtime::Runtime>,
    pool: deadpool_postgres::Pool,
    config: tokio_postgres::Config,
    tls: Tls,
    /// The last failure to reach the server, cleared by the next success.
    fault: Mutex<Option<String>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropped from inside another runtime too: never block there.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A query parameter owned by the query (it runs on the client's runtime).
pub type Param = Box<dyn tokio_postgres::types::ToSql + Sync + Send>;

/// `params` as tokio-postgres takes them.
pub(crate) fn refs(params: &[Param]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

/// Opens a transaction on `client`; with `durable: false` its commit does not
/// wait for the disk (`synchronous_commit = off`: a crash may lose it, a reader
/// sees it at once).
async fn begin(
    client: &mut deadpool_postgres::Object,
    durable: bool,
) -> Result<deadpool_postgres::Transaction<'_>, Error> {
    let tx = client.transaction().await?;
    if !durable {
        tx.batch_execute("SET LOCAL synchronous_commit = off")
            .await?;
    }
    Ok(tx)
}

/// Connections a [`Pg`] keeps at most, unless the URL says otherwise
/// (`?pool_size=N`, read by [`Pg::connect`]).
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How long a session may sit idle inside a transaction before the server ends
/// it (no transaction of Hysope waits on anything but the database between its
/// statements); a URL's own `options` may set another.
const IDLE_IN_TRANSACTION: &str = "-c idle_in_transaction_session_timeout=20000";

impl Pg {
    /// A pool to the database `url` names (`postgres://user:password@host:port/db`
    /// or a libpq key=value string), with `pool_size` connections at most. No
    /// connection is made yet: the first query makes one, and says what failed.
    pub fn connect(url: &str, pool_size: usize) -> Result<Self, Error> {
        let (config, tls) = Self::parse(url)?;
        Self::with_config(config, tls, pool_size)
    }

    /// The connection settings `url` gives and the TLS it asks for (`sslmode`,
    /// `sslrootcert`: see [`Tls`]), refused when it is no PostgreSQL URL or
    /// names no host (the message without its password).
    pub fn parse(url: &str) -> Result<(tokio_postgres::Config, Tls), Error> {
        let (config, tls) = tls::parse(url)?;
        if config.get_hosts().is_empty() {
            return Err(Error::Url {
                url: redact(url),
                reason: "it names no host".into(),
            });
        }
        Ok((config, tls))
    }

    /// [`Pg::connect`] with settings already parsed.
    pub fn with_config(
        mut config: tokio_postgres::Config,
        tls: Tls,
        pool_size: usize,
    ) -> Result<Self, Error> {
        // A client frozen inside a transaction (a paused VM, a stopped process)
        // would hold its locks for ever, and every other gateway would wait on
        // them (seen: a gateway starting behind a stopped one's advisory lock).
        // The server ends such a session; the client's next query reconnects.
        let options = match config.get_options() {
            Some(given) if given.contains("idle_in_transaction_session_timeout") => {
                given.to_string()
            }
            Some(given) => format!("{given} {IDLE_IN_TRANSACTION}"),
            None => IDLE_IN_TRANSACTION.to_string(),
        };
        config.options(&options);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hysope-pg")
            .enable_all()
            .build()
            .map_err(|e| Error::Pool(format!("cannot start the client's runtime: {e}")))?;
        let manager_config = deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        };
        let manager = match tls.connector() {
            Some(connector) => deadpool_postgres::Manager::from_config(
                config.clone(),
                connector.clone(),
                manager_config,
            ),
            None => deadpool_postgres::Manager::from_config(
                config.clone(),
                tokio_postgres::NoTls,
                manager_config,
            ),
        };
        let pool = {
            let _entered = runtime.enter();
            deadpool_postgres::Pool::builder(manager)
                .max_size(pool_size.max(2))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .create_timeout(Some(std::time::Duration::from_secs(10)))
                .wait_timeout(Some(std::time::Duration::from_secs(60)))
                .build()
                .map_err(|e| Error::Pool(e.to_string()))?
        };
        Ok(Self {
            inner: Arc::new(Inner {
                runtime: Some(runtime),
                pool,
                config,
                tls,
                fault: Mutex::new(None),
            }),
        })
    }

    /// The pool.
    pub fn pool(&self) -> &deadpool_postgres::Pool {
        &self.inner.pool
    }

    /// The parsed connection settings (for connections outside the pool:
    /// `LISTEN`).
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.inner.config
    }

    /// How connections are made (for connections outside the pool).
    pub fn tls(&self) -> &Tls {
        &self.inner.tls
    }

    pub(crate) fn runtime_handle(&self) -> tokio::runtime::Handle {
        self.handle().clone()
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.inner
            .runtime
            .as_ref()
            .expect("the runtime lives as long as the pool")
            .handle()
    }

    /// Runs `query` on the client's runtime; resolves with its outcome, whatever
    /// runtime (or none) awaits it. A failure to reach the server is kept as the
    /// pool's [`fault`](Pg::fault) until a query succeeds.
    pub fn spawn<T: Send + 'static>(
        &self,
        query: impl Future<Output = Result<T, Error>> + Send + 'static,
    ) -> impl Future<Output = Result<T, Error>> + Send + 'static {
        let task = self.handle().spawn(query);
        let me = self.clone();
        async move {
            let out = task.await.map_err(|_| Error::Stopped)?;
            me.observe(&out);
            out
        }
    }

    /// Runs `query` on the client's runtime and blocks the calling thread until it
    /// is done (for the job store's synchronous reads).
    pub fn block<T: Send + 'static>(
        &self,
        query: impl Future<Output = Result<T, Error>> + Send + 'static,
    ) -> Result<T, Error> {
        let done = self.spawn(query);
        let wait = || hysope_store::block_on(done);
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        }
    }

    /// The rows `sql` selects with `params`, read on the client's runtime while
    /// the calling thread waits (see [`Pg::block`]).
    pub fn rows(
        &self,
        sql: impl Into<String>,
        params: Vec<Param>,
    ) -> Result<Vec<tokio_postgres::Row>, Error> {
        let (pool, sql) = (self.pool().clone(), sql.into());
        self.block(async move {
            let client = pool.get().await?;
            Ok(client.query(sql.as_str(), &refs(&params)).await?)
        })
    }

    /// The first column (text) of the rows `sql` selects with `params` (see
    /// [`Pg::rows`]).
    pub fn texts(&self, sql: &'static str, params: Vec<Param>) -> Result<Vec<String>, Error> {
        let rows = self.rows(sql, params)?;
        Ok(rows.into_iter().map(|r| r.get::<_, String>(0)).collect())
    }

    fn observe<T>(&self, out: &Result<T, Error>) {
        let mut fault = self.inner.fault.lock().unwrap_or_else(|e| e.into_inner());
        match out {
            Ok(_) => *fault = None,
            // Only a server out of reach is a fault of the pool; a refused
            // statement is the caller's error.
            Err(e) if e.is_unreachable() => *fault = Some(format!("PostgreSQL unreachable: {e}")),
            Err(_) => {}
        }
    }

    /// Why the server could not be reached by the last query, if it could not.
    pub fn fault(&self) -> Option<String> {
        self.inner
            .fault
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) => {
                let user = user.split(':').next().unwrap_or("");
                format!("{scheme}://{user}:***@{host}")
            }
            None => url.to_string(),
        },
        None => url
            .split_whitespace()
            .map(|kv| {
                if kv.starts_with("password=") {
                    "password=***"
                } else {
                    kv
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Runs the schema's statements once per database, whoever starts first: the
/// statements run under a transaction-wide advisory lock, so gateways and
/// workers starting together do not race on `CREATE TABLE IF NOT EXISTS`.
async fn migrate(pool: &deadpool_postgres::Pool, lock: i64, sql: &str) -> Result<(), Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])
        .await?;
    tx.batch_execute(sql).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("postgres://ada:secret@db:5432/hysope"),
            "postgres://ada:***@db:5432/hysope"
        );
        assert_eq!(
            redact("host=db password=secret user=ada"),
            "host=db password=*** user=ada"
        );
        assert_eq!(redact("postgres://db/hysope"), "postgres://db/hysope");
    }

    #[test]
    fn a_url_without_host_is_refused() {
        let e = Pg::connect("postgres:///hysope", 4).err().unwrap();
        assert!(e.to_string().contains("names no host"), "{e}");
        let e = Pg::connect("mysql://x", 4).err().unwrap();
        assert!(e.to_string().contains("PostgreSQL URL"), "{e}");
    }
}
