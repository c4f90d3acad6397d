//! A fresh, empty schema per test on the test server that
//! `deploy/services/postgres.sh` starts (`$HYSOPE_TEST_POSTGRES`, by default
//! `postgres://postgres@127.0.0.1:54329/postgres`): tests share the server, never
//! their tables. No server is a failure that says how to start one, never a
//! skipped test.

use crate::Pg;

/// The test server's URL.
pub fn url() -> String {
    std::env::var("HYSOPE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:54329/postgres".into())
}

/// Runs `sql` (statements without results) on the test server through `admin`.
fn execute(admin: &Pg, sql: String) -> Result<(), crate::Error> {
    let pool = admin.pool().clone();
    admin.block(async move {
        pool.get().await?.batch_execute(&sql).await?;
        Ok(())
    })
}

/// A schema that is dropped with its tables when this goes.
pub struct Schema {
    pg: Pg,
    name: String,
    /// The URL of the server it is on.
    server: String,
}

impl Schema {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of the server it is on (for psql).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The test server's URL with this schema first on the search path (for a
    /// server or worker started as a process).
    pub fn url(&self) -> String {
        let base = &self.server;
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-csearch_path%3D{}", self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = execute(
            &self.pg,
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

/// A new schema on the test server and a pool whose connections use it.
pub fn fresh_schema(pool_size: usize) -> (Schema, Pg) {
    fresh_schema_on(&url(), pool_size)
}

/// [`fresh_schema`] on the server at `server` (a test's own server).
pub fn fresh_schema_on(server: &str, pool_size: usize) -> (Schema, Pg) {
    // Schema names are identifiers: no dash.
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = Pg::connect(server, 2).expect("the test server's URL");
    if let Err(e) = execute(&admin, format!("CREATE SCHEMA {name}")) {
        panic!(
            "the PostgreSQL test server at {server} is not reachable ({e}): start it with `sh deploy/services/postgres.sh`"
        );
    }
    let (mut config, tls) = Pg::parse(server).expect("the test server's URL");
    config.options(format!("-c search_path={name}"));
    let pg = Pg::with_config(config, tls, pool_size).expect("a pool");
    let schema = Schema {
        pg: admin,
        name,
        server: server.to_string(),
    };
    (schema, pg)
}

/// The database every catalogue test copies: pgstac installed, nothing in it
/// (`deploy/services/postgres.sh` makes it).
pub const PGSTAC_TEMPLATE: &str = "hysope_pgstac";

/// A database that is dropped when this goes.
pub struct Database {
    admin: Pg,
    name: String,
}

impl Database {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The test server's URL for this database.
    pub fn url(&self) -> String {
        let base = url();
        let (head, query) = match base.split_once('?') {
            Some((h, q)) => (h.to_string(), format!("?{q}")),
            None => (base.clone(), String::new()),
        };
        let server = head.rsplit_once('/').map_or(head.as_str(), |(s, _)| s);
        format!("{server}/{}{query}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = execute(
            &self.admin,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// A new database copied from [`PGSTAC_TEMPLATE`] on the test server.
pub fn fresh_pgstac_database() -> Database {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = Pg::connect(&url(), 2).expect("the test server's URL");
    if let Err(e) = execute(
        &admin,
        format!("CREATE DATABASE {name} TEMPLATE {PGSTAC_TEMPLATE}"),
    ) {
        panic!(
            "cannot copy the pgstac database {PGSTAC_TEMPLATE} on the PostgreSQL test server at {} ({e}): start it with `sh deploy/services/postgres.sh`",
            url()
        );
    }
    Database { admin, name }
}

/// A catalogue on a fresh pgstac database, with what drops the database.
pub fn fresh_catalog(pool_size: usize) -> (Database, crate::PgCatalog) {
    let db = fresh_pgstac_database();
    let catalog = crate::PgCatalog::connect(&db.url(), pool_size).expect("the pgstac catalogue");
    (db, catalog)
}
