//! The production rules on PostgreSQL, for gateways that share their job store:
//! a rule made through one gateway is followed by the others (each rule's jobs
//! are made once whoever reads its change first, see [`hysope_jobs::rules`]).

use hysope_jobs::rules::{Rule, RuleStore};

use crate::{Error, Pg};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS hysope_rules (
    id text COLLATE \"C\" PRIMARY KEY,
    record text NOT NULL
);
";

const SCHEMA_LOCK: i64 = 0x6879_736f_7065_0008;

/// The rule store on PostgreSQL; writes are committed before they return.
#[derive(Clone)]
pub struct PgRuleStore {
    pg: Pg,
}

fn store_error(e: impl std::fmt::Display) -> hysope_jobs::Error {
    hysope_jobs::Error::Database(e.to_string())
}

impl PgRuleStore {
    /// The rules in `pg`'s database, whose table is made when missing.
    pub fn open(pg: Pg) -> Result<Self, Error> {
        let pool = pg.pool().clone();
        pg.block(async move { crate::migrate(&pool, SCHEMA_LOCK, SCHEMA).await })?;
        Ok(Self { pg })
    }
}

impl RuleStore for PgRuleStore {
    fn put(&self, rule: &Rule) -> hysope_jobs::Result<()> {
        let text = serde_json::to_string(rule).map_err(store_error)?;
        let id = rule.id.clone();
        let pool = self.pg.pool().clone();
        self.pg
            .block(async move {
                let client = pool.get().await?;
                client
                    .execute(
                        "INSERT INTO hysope_rules (id, record) VALUES ($1, $2)
                         ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
                        &[&id, &text],
                    )
                    .await?;
                Ok(())
            })
            .map_err(store_error)
    }

    fn get(&self, id: &str) -> hysope_jobs::Result<Option<Rule>> {
        let rows = self
            .pg
            .texts(
                "SELECT record FROM hysope_rules WHERE id = $1",
                vec![Box::new(id.to_string())],
            )
            .map_err(store_error)?;
        rows.first()
            .map(|r| serde_json::from_str(r).map_err(store_error))
            .transpose()
    }

    fn list(&self) -> hysope_jobs::Result<Vec<Rule>> {
        let rows = self
            .pg
            .texts("SELECT record FROM hysope_rules ORDER BY id", Vec::new())
            .map_err(store_error)?;
        rows.iter()
            .map(|r| serde_json::from_str(r).map_err(store_error))
            .collect()
    }

    fn delete(&self, id: &str) -> hysope_jobs::Result<bool> {
        let id = id.to_string();
        let pool = self.pg.pool().clone();
        self.pg
            .block(async move {
                let client = pool.get().await?;
                Ok(client
                    .execute("DELETE FROM hysope_rules WHERE id = $1", &[&id])
                    .await?
                    > 0)
            })
            .map_err(store_error)
    }
}
