//! Deployed processes on PostgreSQL, beside the jobs, for gateways and workers
//! that share a job store: a process deployed through one is listed, described
//! and run by all. A deployment and the components it pins commit together, so
//! no server ever reads a document whose component is not there yet. Components
//! are content-addressed (sha256), kept once however many processes pin them,
//! and immutable.
//!
//! Changes are numbered by one sequence, drawn under a transaction-wide advisory
//! lock that every writer takes: a change becomes visible only after every
//! change numbered before it, so a server that asks for the changes after its
//! last mark misses none. A removed process keeps its row, without document,
//! until it is deployed again, so that its removal is reported as a change.

use std::path::Path;

use hysope_jobs::deployments::{Deployment, Deployments, is_hex_digest};

use crate::{Error, Pg};

const SCHEMA: &str = "
CREATE SEQUENCE IF NOT EXISTS hysope_deployments_change;
CREATE TABLE IF NOT EXISTS hysope_deployments (
    id text COLLATE \"C\" PRIMARY KEY,
    change bigint NOT NULL,
    record text,
    document text,
    body bytea
);
CREATE INDEX IF NOT EXISTS hysope_deployments_by_change ON hysope_deployments (change);
CREATE TABLE IF NOT EXISTS hysope_components (
    digest text COLLATE \"C\" PRIMARY KEY,
    bytes bytea NOT NULL
);
";

const SCHEMA_LOCK: i64 = 0x6879_736f_7065_0005;
/// Held by every writer until its commit (see the module's documentation).
const WRITE_LOCK: i64 = 0x6879_736f_7065_0006;

/// Deployed processes and their components on PostgreSQL.
#[derive(Clone)]
pub struct PgDeployments {
    pg: Pg,
}

impl PgDeployments {
    /// The deployments in `pg`'s database, whose tables are made when missing.
    pub fn open(pg: Pg) -> Result<Self, Error> {
        let pool = pg.pool().clone();
        pg.block(async move { crate::migrate(&pool, SCHEMA_LOCK, SCHEMA).await })?;
        Ok(Self { pg })
    }
}

fn decode(
    id: String,
    record: String,
    document: String,
    body: Vec<u8>,
) -> hysope_jobs::Result<Deployment> {
    let mut deployment: Deployment = serde_json::from_str(&record)?;
    deployment.id = id;
    deployment.document = document;
    deployment.body = body;
    Ok(deployment)
}

type Row = (String, String, String, Vec<u8>);

impl PgDeployments {
    fn rows(&self, id: Option<String>) -> hysope_jobs::Result<Vec<Deployment>> {
        let pool = self.pg.pool().clone();
        let rows: Vec<Row> = self.pg.block(async move {
            let client = pool.get().await?;
            let rows = match &id {
                Some(id) => {
                    client
                        .query(
                            "SELECT id, record, document, body FROM hysope_deployments
                             WHERE id = $1 AND record IS NOT NULL",
                            &[id],
                        )
                        .await?
                }
                None => {
                    client
                        .query(
                            "SELECT id, record, document, body FROM hysope_deployments
                             WHERE record IS NOT NULL ORDER BY id",
                            &[],
                        )
                        .await?
                }
            };
            Ok(rows
                .into_iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect())
        })?;
        rows.into_iter()
            .map(|(id, record, document, body)| decode(id, record, document, body))
            .collect()
    }
}

impl Deployments for PgDeployments {
    fn put(
        &self,
        deployment: &Deployment,
        pins: &[String],
        components: &Path,
        replace: bool,
    ) -> hysope_jobs::Result<bool> {
        // The components first read here (at most the registry's component
        // size each), then sent in the deployment's transaction.
        let mut bytes = Vec::new();
        for hex in pins {
            if !is_hex_digest(hex) {
                return Err(hysope_jobs::Error::Database(format!(
                    "deployed processes: {hex:?} is not a sha256 digest"
                )));
            }
            let path = components.join(format!("{hex}.wasm"));
            let read = std::fs::read(&path).map_err(|e| {
                hysope_jobs::Error::Database(format!(
                    "deployed processes: component {}: {e}",
                    path.display()
                ))
            })?;
            bytes.push((hex.clone(), read));
        }
        let record = serde_json::to_string(deployment)?;
        let (id, document, body) = (
            deployment.id.clone(),
            deployment.document.clone(),
            deployment.body.clone(),
        );
        let pool = self.pg.pool().clone();
        let written = self.pg.block(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .await?;
            if !replace {
                let there = tx
                    .query_opt(
                        "SELECT 1 FROM hysope_deployments WHERE id = $1 AND record IS NOT NULL",
                        &[&id],
                    )
                    .await?;
                if there.is_some() {
                    return Ok(false);
                }
            }
            for (hex, bytes) in &bytes {
                tx.execute(
                    "INSERT INTO hysope_components (digest, bytes) VALUES ($1, $2)
                     ON CONFLICT (digest) DO NOTHING",
                    &[hex, bytes],
                )
                .await?;
            }
            tx.execute(
                "INSERT INTO hysope_deployments (id, change, record, document, body)
                 VALUES ($1, nextval('hysope_deployments_change'), $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET change = EXCLUDED.change,
                     record = EXCLUDED.record, document = EXCLUDED.document, body = EXCLUDED.body",
                &[&id, &record, &document, &body],
            )
            .await?;
            tx.commit().await?;
            Ok(true)
        })?;
        Ok(written)
    }

    fn remove(&self, id: &str) -> hysope_jobs::Result<bool> {
        let id = id.to_string();
        let pool = self.pg.pool().clone();
        let removed = self.pg.block(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .await?;
            let n = tx
                .execute(
                    "UPDATE hysope_deployments SET change = nextval('hysope_deployments_change'),
                         record = NULL, document = NULL, body = NULL
                     WHERE id = $1 AND record IS NOT NULL",
                    &[&id],
                )
                .await?;
            tx.commit().await?;
            Ok(n == 1)
        })?;
        Ok(removed)
    }

    fn get(&self, id: &str) -> hysope_jobs::Result<Option<Deployment>> {
        Ok(self.rows(Some(id.to_string()))?.pop())
    }

    fn all(&self) -> hysope_jobs::Result<Vec<Deployment>> {
        self.rows(None)
    }

    fn component(&self, hex: &str) -> hysope_jobs::Result<Option<Vec<u8>>> {
        if !is_hex_digest(hex) {
            return Ok(None);
        }
        let hex = hex.to_string();
        let pool = self.pg.pool().clone();
        Ok(self.pg.block(async move {
            let client = pool.get().await?;
            let row = client
                .query_opt(
                    "SELECT bytes FROM hysope_components WHERE digest = $1",
                    &[&hex],
                )
                .await?;
            Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
        })?)
    }

    fn changes(&self, mark: u64) -> hysope_jobs::Result<(u64, Vec<String>)> {
        let from = i64::try_from(mark).unwrap_or(i64::MAX);
        let pool = self.pg.pool().clone();
        let rows: Vec<(String, i64)> = self.pg.block(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT id, change FROM hysope_deployments WHERE change > $1 ORDER BY change",
                    &[&from],
                )
                .await?;
            Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        let next = rows.last().map_or(mark, |(_, c)| (*c).max(0) as u64);
        Ok((next, rows.into_iter().map(|(id, _)| id).collect()))
    }

    fn shared(&self) -> bool {
        true
    }
}
