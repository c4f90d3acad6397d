//! The personal token store on PostgreSQL, for gateways that share their users'
//! tokens: a token made through one is taken by all.

use hysope_identity::tokens::{TokenRecord, TokenStore};

use crate::{Error, Pg};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS hysope_tokens (
    id text COLLATE \"C\" PRIMARY KEY,
    hash text COLLATE \"C\" NOT NULL UNIQUE,
    username text COLLATE \"C\" NOT NULL,
    created bigint NOT NULL,
    record text NOT NULL
);
CREATE INDEX IF NOT EXISTS hysope_tokens_user ON hysope_tokens (username, created, id);
";

const SCHEMA_LOCK: i64 = 0x6879_736f_7065_0003;

/// The token store on PostgreSQL; writes are committed before they return.
#[derive(Clone)]
pub struct PgTokenStore {
    pg: Pg,
}

fn store_error(e: Error) -> hysope_identity::Error {
    hysope_identity::Error::Store(hysope_store::Error::change(e))
}

fn decode(record: &str) -> hysope_identity::Result<TokenRecord> {
    Ok(serde_json::from_str(record)?)
}

impl PgTokenStore {
    /// The token store in `pg`'s database, whose table is made when missing.
    pub fn open(pg: Pg) -> Result<Self, Error> {
        let pool = pg.pool().clone();
        pg.block(async move { crate::migrate(&pool, SCHEMA_LOCK, SCHEMA).await })?;
        Ok(Self { pg })
    }

    fn records(
        &self,
        sql: &'static str,
        param: Option<String>,
    ) -> hysope_identity::Result<Vec<TokenRecord>> {
        let params: Vec<crate::Param> = param
            .into_iter()
            .map(|p| Box::new(p) as crate::Param)
            .collect();
        let rows = self.pg.texts(sql, params).map_err(store_error)?;
        rows.iter().map(|r| decode(r)).collect()
    }
}

impl TokenStore for PgTokenStore {
    fn insert(&self, record: &TokenRecord) -> hysope_identity::Result<()> {
        let text = serde_json::to_string(record)?;
        let (id, hash, user) = (record.id.clone(), record.hash.clone(), record.user.clone());
        let created = i64::try_from(record.created).unwrap_or(i64::MAX);
        let pool = self.pg.pool().clone();
        let inserted = self
            .pg
            .block(async move {
                let client = pool.get().await?;
                Ok(client
                    .execute(
                        "INSERT INTO hysope_tokens (id, hash, username, created, record)
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                        &[&id, &hash, &user, &created, &text],
                    )
                    .await?)
            })
            .map_err(store_error)?;
        if inserted != 1 {
            return Err(hysope_identity::Error::Store(hysope_store::Error::change(
                std::io::Error::other(format!("token {} exists already", record.id)),
            )));
        }
        Ok(())
    }

    fn by_hash(&self, hash: &str) -> hysope_identity::Result<Option<TokenRecord>> {
        Ok(self
            .records(
                "SELECT record FROM hysope_tokens WHERE hash = $1",
                Some(hash.to_string()),
            )?
            .pop())
    }

    fn get(&self, id: &str) -> hysope_identity::Result<Option<TokenRecord>> {
        Ok(self
            .records(
                "SELECT record FROM hysope_tokens WHERE id = $1",
                Some(id.to_string()),
            )?
            .pop())
    }

    fn list(&self, user: Option<&str>) -> hysope_identity::Result<Vec<TokenRecord>> {
        match user {
            Some(user) => self.records(
                "SELECT record FROM hysope_tokens WHERE username = $1 ORDER BY created, id",
                Some(user.to_string()),
            ),
            None => self.records(
                "SELECT record FROM hysope_tokens ORDER BY created, id",
                None,
            ),
        }
    }

    fn revoke(&self, id: &str, at: u64) -> hysope_identity::Result<TokenRecord> {
        // The first revocation's time stays: one conditional update, whoever
        // revokes at the same moment.
        let pool = self.pg.pool().clone();
        let key = id.to_string();
        let record = self
            .pg
            .block(async move {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                let row = tx
                    .query_opt(
                        "SELECT record FROM hysope_tokens WHERE id = $1 FOR UPDATE",
                        &[&key],
                    )
                    .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let text: String = row.get(0);
                let Ok(mut record) = serde_json::from_str::<TokenRecord>(&text) else {
                    return Ok(Some(Err(text)));
                };
                if record.revoked.is_none() {
                    record.revoked = Some(at);
                    let updated = serde_json::to_string(&record).unwrap_or(text);
                    tx.execute(
                        "UPDATE hysope_tokens SET record = $2 WHERE id = $1",
                        &[&key, &updated],
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(Some(Ok(record)))
            })
            .map_err(store_error)?;
        match record {
            None => Err(hysope_identity::Error::NoSuchToken(id.to_string())),
            Some(Ok(record)) => Ok(record),
            Some(Err(damaged)) => decode(&damaged),
        }
    }
}
