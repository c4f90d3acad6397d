//! A job queue on PostgreSQL alone, for sites without a broker: a row per queued
//! id, taken with `SELECT … FOR UPDATE SKIP LOCKED` inside a transaction that the
//! delivery keeps open. Acknowledging deletes the row and commits; returning it
//! rolls back, and so does the server when the worker's connection dies: the id
//! is delivered again, in its place, as a broker redelivers what a dead consumer
//! never acknowledged. `NOTIFY` on push wakes the waiting workers at once; they
//! also look every second, should a notification be missed.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use hysope_jobs::{Acknowledge, Delivery, JobQueue, QueueDepth, Result};
use tokio::sync::Notify;

use crate::{Error, Pg};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS hysope_queue (
    seq bigserial PRIMARY KEY,
    job_id text NOT NULL,
    queued timestamptz NOT NULL DEFAULT now()
);
";

const SCHEMA_LOCK: i64 = 0x6879_736f_7065_0002;

/// The notification channel of pushes.
const CHANNEL: &str = "hysope_queue";

/// How long a waiting worker sleeps at most between looks, without a
/// notification.
const POLL: Duration = Duration::from_secs(1);

/// The job queue on PostgreSQL (see the module's documentation).
pub struct PgQueue {
    pg: Pg,
    pushed: Arc<Notify>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    depth: Arc<QueueDepth>,
}

impl Drop for PgQueue {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl PgQueue {
    /// The queue in `pg`'s database, whose table is made when missing.
    pub fn open(pg: Pg) -> Result<Self> {
        let pool = pg.pool().clone();
        pg.block(async move { crate::migrate(&pool, SCHEMA_LOCK, SCHEMA).await })?;
        let pushed = Arc::new(Notify::new());
        let depth = Arc::new(QueueDepth::default());
        let runtime = pg.runtime_handle();
        let tasks = vec![
            runtime.spawn(listen(
                pg.config().clone(),
                pg.tls().clone(),
                pushed.clone(),
            )),
            runtime.spawn(count(pg.clone(), depth.clone())),
        ];
        Ok(Self {
            pg,
            pushed,
            tasks,
            depth,
        })
    }
}

/// Counts the waiting ids every second, for [`JobQueue::depth`]: all gateways'
/// and workers' together (rows a worker holds but has not acknowledged
/// included).
async fn count(pg: Pg, depth: Arc<QueueDepth>) {
    loop {
        let pool = pg.pool().clone();
        let Some(mark) = depth.mark() else {
            tokio::time::sleep(POLL).await;
            continue;
        };
        let counted = async move {
            let client = pool.get().await?;
            let row = client
                .query_one("SELECT count(*) FROM hysope_queue", &[])
                .await?;
            Ok::<_, Error>(row.get::<_, i64>(0))
        }
        .await;
        if let Ok(n) = counted {
            depth.counted(mark, n.max(0) as usize);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Listens for pushes on a connection of its own, for as long as the queue
/// lives, connecting again after a failure.
async fn listen(config: tokio_postgres::Config, tls: crate::Tls, pushed: Arc<Notify>) {
    loop {
        let failed = match tls.connector() {
            Some(connector) => match config.connect(connector.clone()).await {
                Ok((client, connection)) => {
                    on(client, connection, &pushed).await;
                    None
                }
                Err(e) => Some(e),
            },
            None => match config.connect(tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    on(client, connection, &pushed).await;
                    None
                }
                Err(e) => Some(e),
            },
        };
        if let Some(e) = failed {
            tracing::warn!(error = %e, "job queue: cannot connect to listen");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Listens on `client` until its connection fails.
async fn on<S, T>(
    client: tokio_postgres::Client,
    mut connection: tokio_postgres::Connection<S, T>,
    pushed: &Notify,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use futures::StreamExt;
    let (tx, mut rx) = futures::channel::mpsc::unbounded();
    let stream = futures::stream::poll_fn(move |cx| connection.poll_message(cx)).map(move |m| {
        let _ = tx.unbounded_send(m);
    });
    let driver = tokio::spawn(stream.collect::<()>());
    if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
        tracing::warn!(error = %e, "job queue: cannot LISTEN");
    } else {
        // What was pushed while no one listened.
        pushed.notify_waiters();
        while let Some(message) = rx.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(_)) => pushed.notify_waiters(),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "job queue: the listening connection failed");
                    break;
                }
            }
        }
    }
    driver.abort();
}

/// A delivery's end: the transaction that holds its row's lock.
struct PgAck {
    pg: Pg,
    client: Option<deadpool_postgres::Object>,
    seq: i64,
}

impl PgAck {
    fn end(mut self: Box<Self>, ack: bool) -> BoxFuture<'static, Result<()>> {
        let Some(client) = self.client.take() else {
            return Box::pin(std::future::ready(Ok(())));
        };
        let seq = self.seq;
        let done = self.pg.spawn(async move {
            let ended = async {
                if ack {
                    client
                        .execute("DELETE FROM hysope_queue WHERE seq = $1", &[&seq])
                        .await?;
                    client.batch_execute("COMMIT").await?;
                } else {
                    client.batch_execute("ROLLBACK").await?;
                }
                Ok::<_, Error>(())
            }
            .await;
            if ended.is_err() {
                // A connection in an unknown state goes, never back to the pool;
                // the server rolls its transaction back.
                drop(deadpool_postgres::Object::take(client));
            }
            ended
        });
        Box::pin(async move { Ok(done.await?) })
    }
}

impl Acknowledge for PgAck {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        self.end(true)
    }

    fn nack(self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        self.end(false)
    }
}

impl Drop for PgAck {
    fn drop(&mut self) {
        // Neither acknowledged nor returned (the delivery's own drop returns it):
        // the transaction must not go back to the pool open.
        if let Some(client) = self.client.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

/// Takes the first id no one holds, in a transaction left open for its delivery.
async fn take(pg: Pg) -> std::result::Result<Option<Delivery>, Error> {
    let client = pg.pool().get().await?;
    // A delivery's transaction waits, idle, for its worker's claim: the pool's
    // idle-in-transaction limit is not for it (its row is skipped by the others).
    client
        .batch_execute("BEGIN; SET LOCAL idle_in_transaction_session_timeout = 0")
        .await?;
    let row = client
        .query_opt(
            "SELECT seq, job_id FROM hysope_queue ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED",
            &[],
        )
        .await;
    match row {
        Ok(Some(row)) => {
            let acker = PgAck {
                pg: pg.clone(),
                client: Some(client),
                seq: row.get(0),
            };
            Ok(Some(Delivery::new(row.get(1), Box::new(acker))))
        }
        Ok(None) => {
            client.batch_execute("ROLLBACK").await?;
            Ok(None)
        }
        Err(e) => {
            drop(deadpool_postgres::Object::take(client));
            Err(e.into())
        }
    }
}

impl JobQueue for PgQueue {
    fn push(&self, id: String) -> BoxFuture<'_, Result<()>> {
        let pool = self.pg.pool().clone();
        let moving = self.depth.begin();
        let done = self.pg.spawn(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute("INSERT INTO hysope_queue (job_id) VALUES ($1)", &[&id])
                .await?;
            tx.execute("SELECT pg_notify($1, '')", &[&CHANNEL]).await?;
            tx.commit().await?;
            Ok(())
        });
        Box::pin(async move {
            done.await?;
            moving.done(true);
            Ok(())
        })
    }

    fn pop(&self) -> BoxFuture<'_, Result<Delivery>> {
        Box::pin(async move {
            loop {
                let pushed = self.pushed.notified();
                tokio::pin!(pushed);
                pushed.as_mut().enable();
                let moving = self.depth.begin();
                match self.pg.spawn(take(self.pg.clone())).await {
                    Ok(Some(delivery)) => {
                        moving.done(false);
                        return Ok(delivery);
                    }
                    Ok(None) => drop(moving),
                    Err(e) => {
                        drop(moving);
                        tracing::warn!(error = %e, "job queue: cannot take a job");
                    }
                }
                let _ = tokio::time::timeout(POLL, pushed).await;
            }
        })
    }

    fn depth(&self) -> usize {
        self.depth.get()
    }
}
