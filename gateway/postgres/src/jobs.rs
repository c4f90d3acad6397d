//! The job store on PostgreSQL: one row per job, its JSON record beside the
//! columns the listings filter and sort on.

use std::collections::HashMap;

use hysope_jobs::{Job, JobCommit, JobFilter, JobPage, JobStore, Result, Status};

use crate::{Error, Pg};

/// The tables, made once per database (see [`crate::migrate`]). `id` sorts
/// bytewise (`COLLATE "C"`), as job ids are compared everywhere else.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS hysope_jobs (
    id text COLLATE \"C\" PRIMARY KEY,
    process_id text COLLATE \"C\" NOT NULL,
    status text NOT NULL,
    owner text COLLATE \"C\",
    created bigint NOT NULL,
    updated bigint NOT NULL,
    revision bigint NOT NULL,
    lease_until bigint,
    dispatched boolean NOT NULL,
    record text NOT NULL
);
CREATE INDEX IF NOT EXISTS hysope_jobs_created ON hysope_jobs (created, id);
CREATE INDEX IF NOT EXISTS hysope_jobs_process ON hysope_jobs (process_id, created, id);
CREATE INDEX IF NOT EXISTS hysope_jobs_status ON hysope_jobs (status, created, id);
CREATE INDEX IF NOT EXISTS hysope_jobs_owner ON hysope_jobs (owner, created, id);
CREATE INDEX IF NOT EXISTS hysope_jobs_lease ON hysope_jobs (lease_until) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS hysope_jobs_undispatched ON hysope_jobs (updated)
    WHERE status = 'accepted' AND NOT dispatched;
";

/// The advisory lock the job store's schema is made under.
const SCHEMA_LOCK: i64 = 0x6879_736f_7065_0001;

/// The job store on PostgreSQL, shared by every gateway and worker that names the
/// same database. A write is committed (`synchronous_commit` on, or off for a
/// write that may be lost: see [`JobStore::write`]) before it returns.
#[derive(Clone)]
pub struct PgJobStore {
    pg: Pg,
}

impl PgJobStore {
    /// The job store in `pg`'s database, whose tables are made when missing.
    pub fn open(pg: Pg) -> Result<Self> {
        let pool = pg.pool().clone();
        pg.block(async move { crate::migrate(&pool, SCHEMA_LOCK, SCHEMA).await })?;
        Ok(Self { pg })
    }

    /// The connection pool it uses.
    pub fn pg(&self) -> &Pg {
        &self.pg
    }
}

/// The columns of a job, as written.
#[derive(Default)]
struct Rows {
    ids: Vec<String>,
    processes: Vec<String>,
    statuses: Vec<String>,
    owners: Vec<Option<String>>,
    created: Vec<i64>,
    updated: Vec<i64>,
    revisions: Vec<i64>,
    leases: Vec<Option<i64>>,
    dispatched: Vec<bool>,
    records: Vec<String>,
}

fn rows(jobs: &[Job]) -> Result<Rows> {
    // One row per id, the last record of an id winning (as if written in turn):
    // an upsert may not touch a row twice.
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        last.insert(job.id.as_str(), i);
    }
    let mut out = Rows::default();
    for (i, job) in jobs.iter().enumerate() {
        if last[job.id.as_str()] != i {
            continue;
        }
        out.ids.push(job.id.clone());
        out.processes.push(job.process_id.clone());
        out.statuses.push(job.status.as_str().to_string());
        out.owners.push(job.owner.clone());
        out.created.push(ms(job.created));
        out.updated.push(ms(job.updated));
        out.revisions.push(ms(job.revision));
        out.leases.push(job.lease_until.map(ms));
        out.dispatched.push(job.dispatched);
        out.records.push(serde_json::to_string(job)?);
    }
    Ok(out)
}

/// Milliseconds as PostgreSQL's bigint (times past year 292 million saturate).
fn ms(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// Inserts or replaces jobs; [`SWAP`] is the same with a condition.
const UPSERT: &str = "INSERT INTO hysope_jobs
        (id, process_id, status, owner, created, updated, revision, lease_until, dispatched, record)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[],
        $7::int8[], $8::int8[], $9::bool[], $10::text[])
    ON CONFLICT (id) DO UPDATE SET
        process_id = excluded.process_id, status = excluded.status, owner = excluded.owner,
        created = excluded.created, updated = excluded.updated, revision = excluded.revision,
        lease_until = excluded.lease_until, dispatched = excluded.dispatched,
        record = excluded.record";

/// One job written over the revision before its own.
const SWAP: &str = "UPDATE hysope_jobs SET
        process_id = $2, status = $3, owner = $4, created = $5::int8, updated = $6::int8,
        revision = $7::int8, lease_until = $8::int8, dispatched = $9, record = $10
    WHERE id = $1 AND revision = $7::int8 - 1";

/// One job inserted as revision 1 unless it exists.
const INSERT_FIRST: &str = "INSERT INTO hysope_jobs
        (id, process_id, status, owner, created, updated, revision, lease_until, dispatched, record)
    VALUES ($1, $2, $3, $4, $5::int8, $6::int8, $7::int8, $8::int8, $9, $10)
    ON CONFLICT (id) DO NOTHING";

impl Rows {
    /// The first row's values, for the one-row statements.
    fn one(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 10] {
        [
            &self.ids[0],
            &self.processes[0],
            &self.statuses[0],
            &self.owners[0],
            &self.created[0],
            &self.updated[0],
            &self.revisions[0],
            &self.leases[0],
            &self.dispatched[0],
            &self.records[0],
        ]
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 10] {
        [
            &self.ids,
            &self.processes,
            &self.statuses,
            &self.owners,
            &self.created,
            &self.updated,
            &self.revisions,
            &self.leases,
            &self.dispatched,
            &self.records,
        ]
    }
}

fn decode(record: &str) -> Result<Job> {
    Ok(serde_json::from_str(record)?)
}

impl JobStore for PgJobStore {
    fn submit(&self, jobs: &[Job], durable: bool) -> JobCommit {
        let rows = match rows(jobs) {
            Ok(rows) => rows,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        if rows.ids.is_empty() {
            return Box::pin(std::future::ready(Ok(())));
        }
        let pool = self.pg.pool().clone();
        let done = self.pg.spawn(async move {
            let mut client = pool.get().await?;
            let tx = crate::begin(&mut client, durable).await?;
            tx.execute(UPSERT, &rows.params()).await?;
            tx.commit().await?;
            Ok::<_, Error>(())
        });
        Box::pin(async move { Ok(done.await?) })
    }

    fn swap(&self, job: &Job, durable: bool) -> hysope_jobs::SwapCommit {
        let rows = match rows(std::slice::from_ref(job)) {
            Ok(rows) => rows,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let pool = self.pg.pool().clone();
        let done = self.pg.spawn(async move {
            let mut client = pool.get().await?;
            let tx = crate::begin(&mut client, durable).await?;
            let one = rows.one();
            let mut written = tx.execute(SWAP, &one).await? == 1;
            if !written && rows.revisions[0] == 1 {
                written = tx.execute(INSERT_FIRST, &one).await? == 1;
            }
            tx.commit().await?;
            Ok::<_, Error>(written)
        });
        Box::pin(async move { Ok(done.await?) })
    }

    fn shared(&self) -> bool {
        true
    }

    fn stale(&self, now: u64, quiet_since: u64, limit: usize) -> Result<Vec<Job>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let records = self.pg.texts(
            "(SELECT record, created, id FROM hysope_jobs
              WHERE status = 'running' AND lease_until < $1)
             UNION ALL
             (SELECT record, created, id FROM hysope_jobs
              WHERE status = 'accepted' AND NOT dispatched AND updated < $2)
             ORDER BY created, id LIMIT $3",
            vec![
                Box::new(ms(now)),
                Box::new(ms(quiet_since)),
                Box::new(limit),
            ],
        )?;
        records.iter().map(|r| decode(r)).collect()
    }

    fn get(&self, id: &str) -> Result<Option<Job>> {
        let records = self.pg.texts(
            "SELECT record FROM hysope_jobs WHERE id = $1",
            vec![Box::new(id.to_string())],
        )?;
        records.first().map(|r| decode(r)).transpose()
    }

    fn list(&self, filter: &JobFilter, offset: usize, limit: usize) -> Result<JobPage> {
        let processes: Option<Vec<String>> =
            (!filter.process_ids.is_empty()).then(|| filter.process_ids.clone());
        let statuses: Option<Vec<String>> = (!filter.statuses.is_empty()).then(|| {
            filter
                .statuses
                .iter()
                .map(|s| s.as_str().to_string())
                .collect()
        });
        let (from, to) = match filter.created {
            None => (0, i64::MAX),
            Some((from, to)) => (from.map_or(0, ms), to.map_or(i64::MAX, ms)),
        };
        let owner = filter.owner.clone();
        let rule = filter.rule.clone();
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        // One more than asked: whether more follow.
        let take: Option<i64> = i64::try_from(limit).ok().and_then(|l| l.checked_add(1));
        let records = self.pg.texts(
            "SELECT record FROM hysope_jobs
             WHERE ($1::text[] IS NULL OR process_id = ANY($1))
               AND ($2::text[] IS NULL OR status = ANY($2))
               AND created BETWEEN $3 AND $4
               AND ($5::text IS NULL OR owner = $5)
               AND ($8::text IS NULL OR record::jsonb ->> 'rule' = $8)
             ORDER BY created DESC, id DESC
             OFFSET $6 LIMIT $7",
            vec![
                Box::new(processes),
                Box::new(statuses),
                Box::new(from),
                Box::new(to),
                Box::new(owner),
                Box::new(offset),
                Box::new(take),
                Box::new(rule),
            ],
        )?;
        let more = records.len() > limit;
        let jobs = records
            .iter()
            .take(limit)
            .map(|r| decode(r))
            .collect::<Result<Vec<_>>>()?;
        Ok(JobPage { jobs, more })
    }

    fn unfinished(&self) -> Result<Vec<Job>> {
        let records = self.pg.texts(
            "SELECT record FROM hysope_jobs WHERE status IN ('accepted', 'running')
             ORDER BY created, id",
            Vec::new(),
        )?;
        records.iter().map(|r| decode(r)).collect()
    }

    fn count(&self) -> Result<Vec<(String, Status, u64)>> {
        let pool = self.pg.pool().clone();
        let rows = self.pg.block(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT process_id, status, count(*) FROM hysope_jobs
                     GROUP BY process_id, status ORDER BY process_id, status",
                    &[],
                )
                .await?;
            Ok(rows
                .into_iter()
                .map(|r| {
                    (
                        r.get::<_, String>(0),
                        r.get::<_, String>(1),
                        r.get::<_, i64>(2),
                    )
                })
                .collect::<Vec<_>>())
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(p, s, n)| Some((p, Status::parse(&s)?, n as u64)))
            .collect())
    }

    fn fault(&self) -> Option<String> {
        self.pg.fault()
    }
}
