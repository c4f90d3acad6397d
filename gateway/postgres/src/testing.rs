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

/// A schema that is dropped with its tables when this goes.
pub struct Schema {
    pg: Pg,
    name: String,
}

impl Schema {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The test server's URL with this schema first on the search path (for a
    /// server or worker started as a process).
    pub fn url(&self) -> String {
        let base = url();
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-csearch_path%3D{}", self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let pool = self.pg.pool().clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let _ = self.pg.block(async move {
            pool.get().await?.batch_execute(&sql).await?;
            Ok(())
        });
    }
}

/// A new schema on the test server and a pool whose connections use it.
pub fn fresh_schema(pool_size: usize) -> (Schema, Pg) {
    // Schema names are identifiers: no dash.
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = Pg::connect(&url(), 2).expect("the test server's URL");
    let sql = format!("CREATE SCHEMA {name}");
    let pool = admin.pool().clone();
    if let Err(e) = admin.block(async move {
        pool.get().await?.batch_execute(&sql).await?;
        Ok(())
    }) {
        panic!(
            "the PostgreSQL test server at {} is not reachable ({e}): start it with `sh deploy/services/postgres.sh`",
            url()
        );
    }
    let mut config: tokio_postgres::Config = url().parse().expect("the test server's URL");
    config.options(format!("-c search_path={name}"));
    let pg = Pg::with_config(config, pool_size).expect("a pool");
    (Schema { pg: admin, name }, pg)
}
