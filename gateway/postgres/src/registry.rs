//! The plugin registry's records on PostgreSQL, beside the jobs, for gateways
//! that share a job store: a plugin published through one gateway is listed,
//! reviewed, pulled and deployed through any (its blobs are on S3 with
//! `--registry-blobs`). One table per [`Table`] (`hysope_registry_NAME`: the
//! key's parts `k1`.. in `COLLATE "C"`, so that they sort byte by byte as the
//! embedded store's do, and the value), and the audit log
//! (`hysope_registry_audit`).
//!
//! A change runs in one transaction that first takes a transaction-wide advisory
//! lock: changes are applied one after the other, each seeing every change
//! committed before it (a version tag checked free is still free at the commit;
//! the audit log's numbers follow the commits). Registry writes are rare (a
//! publish, a review) and short, so one writer at a time costs nothing that
//! matters. The change itself is the registry's own code, run on the calling
//! thread; each of its reads and writes is a statement of the open transaction.

use hysope_registry::records::{
    Change, Entry, RecordTx, Records, RecordsError, Result, Table, check_key, check_prefix,
};

use crate::{Error, Param, Pg};

const SCHEMA_LOCK: i64 = 0x6879_736f_7065_0007;
/// Held by every change until its commit (see the module's documentation).
const WRITE_LOCK: i64 = 0x6879_736f_7065_0008;

fn table_name(table: Table) -> String {
    format!("hysope_registry_{}", table.name())
}

fn columns(table: Table) -> String {
    (1..=table.arity())
        .map(|i| format!("k{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn schema() -> String {
    let mut sql = String::new();
    for table in Table::ALL {
        let keys: Vec<String> = (1..=table.arity())
            .map(|i| format!("k{i} text COLLATE \"C\" NOT NULL"))
            .collect();
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {} ({}, value bytea NOT NULL, PRIMARY KEY ({}));\n",
            table_name(table),
            keys.join(", "),
            columns(table)
        ));
    }
    sql.push_str(
        "CREATE TABLE IF NOT EXISTS hysope_registry_audit (seq bigint PRIMARY KEY, entry bytea NOT NULL);\n",
    );
    sql
}

fn failed(e: Error) -> RecordsError {
    if e.is_unreachable() {
        RecordsError::Unavailable(format!("the registry's store is out of reach: {e}"))
    } else {
        RecordsError::Failed(format!("the registry's store failed: {e}"))
    }
}

fn key_params(key: &[&str]) -> Vec<Param> {
    key.iter()
        .map(|k| Box::new(k.to_string()) as Param)
        .collect()
}

/// `WHERE k1 = $1 AND ...` for the first `n` parts, from parameter `$1`.
fn key_filter(n: usize) -> String {
    let terms: Vec<String> = (1..=n).map(|i| format!("k{i} = ${i}")).collect();
    if terms.is_empty() {
        "TRUE".into()
    } else {
        terms.join(" AND ")
    }
}

fn get_sql(table: Table) -> String {
    format!(
        "SELECT value FROM {} WHERE {}",
        table_name(table),
        key_filter(table.arity())
    )
}

fn entries(table: Table, rows: Vec<tokio_postgres::Row>) -> Vec<Entry> {
    let n = table.arity();
    rows.into_iter()
        .map(|row| {
            let key = (0..n).map(|i| row.get::<_, String>(i)).collect();
            (key, row.get::<_, Vec<u8>>(n))
        })
        .collect()
}

/// The registry's records in a PostgreSQL database.
#[derive(Clone)]
pub struct PgRecords {
    pg: Pg,
}

impl PgRecords {
    /// The records in `pg`'s database, whose tables are made when missing.
    pub fn open(pg: Pg) -> std::result::Result<Self, Error> {
        let pool = pg.pool().clone();
        let sql = schema();
        pg.block(async move { crate::migrate(&pool, SCHEMA_LOCK, &sql).await })?;
        Ok(Self { pg })
    }

    fn query(&self, sql: String, params: Vec<Param>) -> Result<Vec<tokio_postgres::Row>> {
        self.pg.rows(sql, params).map_err(failed)
    }
}

impl Records for PgRecords {
    fn get(&self, table: Table, key: &[&str]) -> Result<Option<Vec<u8>>> {
        check_key(table, key)?;
        let rows = self.query(get_sql(table), key_params(key))?;
        Ok(rows.first().map(|r| r.get::<_, Vec<u8>>(0)))
    }

    fn scan(
        &self,
        table: Table,
        prefix: &[&str],
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Entry>> {
        check_prefix(table, prefix, after)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut params = key_params(prefix);
        let mut filter = key_filter(prefix.len());
        if let Some(after) = after {
            params.push(Box::new(after.to_string()));
            filter.push_str(&format!(" AND k{} > ${}", prefix.len() + 1, params.len()));
        }
        params.push(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
        let sql = format!(
            "SELECT {cols}, value FROM {t} WHERE {filter} ORDER BY {cols} LIMIT ${n}",
            cols = columns(table),
            t = table_name(table),
            n = params.len()
        );
        Ok(entries(table, self.query(sql, params)?))
    }

    fn audit(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.query(
            "SELECT seq, entry FROM hysope_registry_audit WHERE seq > $1 ORDER BY seq LIMIT $2"
                .into(),
            vec![Box::new(after), Box::new(limit)],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<_, i64>(0).max(0) as u64, r.get::<_, Vec<u8>>(1)))
            .collect())
    }

    fn write(&self, change: Change) -> Result<()> {
        let pool = self.pg.pool().clone();
        let client = self
            .pg
            .block(async move {
                let client = pool.get().await?;
                let begin = format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})");
                if let Err(e) = client.batch_execute(&begin).await {
                    // Not back to the pool in the middle of a transaction.
                    drop(deadpool_postgres::Object::take(client));
                    return Err(e.into());
                }
                Ok(client)
            })
            .map_err(failed)?;
        let mut tx = PgTx {
            pg: self.pg.clone(),
            client: Some(client),
        };
        let outcome = change(&mut tx);
        let ended = tx.end(if outcome.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        });
        outcome?;
        ended
    }

    fn shared(&self) -> bool {
        true
    }
}

/// A change's open transaction: its connection, taken out of the pool until the
/// commit or the rollback (dropped with the connection closed if neither came).
struct PgTx {
    pg: Pg,
    client: Option<deadpool_postgres::Object>,
}

impl PgTx {
    fn query(&mut self, sql: String, params: Vec<Param>) -> Result<Vec<tokio_postgres::Row>> {
        let client = self.client.take().ok_or_else(|| {
            RecordsError::Unavailable("the change's connection to PostgreSQL was lost".into())
        })?;
        let (client, rows) = self
            .pg
            .block(async move {
                let rows = client.query(sql.as_str(), &crate::refs(&params)).await;
                Ok((client, rows))
            })
            .map_err(failed)?;
        self.client = Some(client);
        rows.map_err(|e| failed(Error::Db(e)))
    }

    fn end(&mut self, how: &'static str) -> Result<()> {
        let client = self.client.take().ok_or_else(|| {
            RecordsError::Unavailable("the change's connection to PostgreSQL was lost".into())
        })?;
        self.pg
            .block(async move {
                let ended = client.batch_execute(how).await;
                if ended.is_err() {
                    drop(deadpool_postgres::Object::take(client));
                }
                Ok(ended?)
            })
            .map_err(failed)
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        // A change that panicked: its transaction never goes back to the pool.
        if let Some(client) = self.client.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

impl RecordTx for PgTx {
    fn get(&mut self, table: Table, key: &[&str]) -> Result<Option<Vec<u8>>> {
        check_key(table, key)?;
        let rows = self.query(get_sql(table), key_params(key))?;
        Ok(rows.first().map(|r| r.get::<_, Vec<u8>>(0)))
    }

    fn put(&mut self, table: Table, key: &[&str], value: &[u8]) -> Result<()> {
        check_key(table, key)?;
        let n = table.arity();
        let mut params = key_params(key);
        params.push(Box::new(value.to_vec()));
        let placeholders: Vec<String> = (1..=n + 1).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO {t} ({cols}, value) VALUES ({p}) ON CONFLICT ({cols}) DO UPDATE SET value = EXCLUDED.value",
            t = table_name(table),
            cols = columns(table),
            p = placeholders.join(", ")
        );
        self.query(sql, params)?;
        Ok(())
    }

    fn remove(&mut self, table: Table, key: &[&str]) -> Result<bool> {
        check_key(table, key)?;
        let sql = format!(
            "DELETE FROM {} WHERE {} RETURNING 1",
            table_name(table),
            key_filter(table.arity())
        );
        Ok(!self.query(sql, key_params(key))?.is_empty())
    }

    fn append_audit(&mut self, entry: &dyn Fn(u64) -> Vec<u8>) -> Result<u64> {
        let rows = self.query(
            "SELECT coalesce(max(seq), 0) + 1 FROM hysope_registry_audit".into(),
            Vec::new(),
        )?;
        let seq = rows.first().map_or(1, |r| r.get::<_, i64>(0)).max(1);
        self.query(
            "INSERT INTO hysope_registry_audit (seq, entry) VALUES ($1, $2)".into(),
            vec![Box::new(seq), Box::new(entry(seq as u64))],
        )?;
        Ok(seq as u64)
    }
}
