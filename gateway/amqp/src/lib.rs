//! The job queue on an AMQP 0-9-1 broker (RabbitMQ): [`AmqpQueue`].
//!
//! The job store is the truth; the broker only carries job ids to workers. An id
//! is published persistent to a durable queue and a push returns once the broker
//! confirmed it (publisher confirms). Workers consume with manual
//! acknowledgements and a prefetch of their free slots; a worker acknowledges an
//! id right after its claim of the job is committed in the store, never after the
//! run, so the broker's consumer timeout (30 minutes by default) never ends a long
//! SWOT run. A delivery whose worker died unacknowledged is delivered again:
//! redeliveries are expected, and harmless (a claim takes accepted jobs only).
//!
//! The connection is made again after the broker restarts (or the network
//! fails): a push in flight then fails with the broker's error (the caller's job
//! stays accepted and undispatched, for the sweeper), a waiting worker waits for
//! the new connection, and an acknowledgement on the dead channel is dropped (the
//! id comes back, and its claim is skipped).
//!
//! `amqps://` connects with TLS (rustls), the broker's certificate verified
//! against the system's roots, or against the PEM certificates of
//! `?cacert=PATH` (a site's own CA); `cacert` with `amqp://` is refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use hysope_jobs::{Acknowledge, Delivery, JobQueue, QueueDepth, Result};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};

/// The queue's name unless the URL says `?queue=NAME`.
pub const DEFAULT_QUEUE: &str = "hysope.jobs";

/// How long a worker or a push waits before connecting again.
const RECONNECT: Duration = Duration::from_secs(1);

/// The job queue on an AMQP broker (see the crate's documentation).
pub struct AmqpQueue {
    inner: Arc<Inner>,
    depth_task: tokio::task::JoinHandle<()>,
}

struct Inner {
    /// The broker's URL without our own query parameters.
    uri: String,
    /// The URL for messages (no password).
    shown: String,
    queue: String,
    /// TLS settings of amqps:// (the CA certificates of `?cacert`).
    tls: lapin::tcp::OwnedTLSConfig,
    prefetch: u16,
    link: tokio::sync::Mutex<Option<Arc<Link>>>,
    /// The consumer of the current link, one `next()` at a time.
    consumer: tokio::sync::Mutex<Option<(u64, Consumer)>>,
    generation: AtomicU64,
    depth: QueueDepth,
    /// Why the last attempt to connect failed (`None` once one succeeds).
    unreachable: std::sync::Mutex<Option<String>>,
}

/// One connection and its channels.
struct Link {
    generation: u64,
    connection: Connection,
    publish: Channel,
    consume: Channel,
}

impl Drop for AmqpQueue {
    fn drop(&mut self) {
        self.depth_task.abort();
    }
}

fn queue_error(what: &str, shown: &str, e: impl std::fmt::Display) -> hysope_jobs::Error {
    hysope_jobs::Error::Queue(format!("{shown}: {what}: {e}"))
}

/// `url` without its password.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "(an AMQP URL that does not parse)".into(),
    }
}

impl AmqpQueue {
    /// Connects to the broker `url` (`amqp://USER:PASSWORD@HOST:PORT/VHOST`, the
    /// queue named by `?queue=NAME`, [`DEFAULT_QUEUE`] by default), declares the
    /// durable queue and lets this process hold `prefetch` unacknowledged ids
    /// (its free slots). Must be called inside a tokio runtime.
    pub async fn connect(url: &str, prefetch: u16) -> Result<Self> {
        let shown = redact(url);
        let mut parsed =
            url::Url::parse(url).map_err(|e| queue_error("not an AMQP URL", &shown, e))?;
        if !matches!(parsed.scheme(), "amqp" | "amqps") {
            return Err(queue_error(
                "not an AMQP URL",
                &shown,
                "the scheme is neither amqp nor amqps",
            ));
        }
        let mut queue = DEFAULT_QUEUE.to_string();
        let mut cacert = None;
        let kept: Vec<(String, String)> = parsed
            .query_pairs()
            .filter_map(|(k, v)| match k.as_ref() {
                "queue" => {
                    queue = v.into_owned();
                    None
                }
                "cacert" => {
                    cacert = Some(v.into_owned());
                    None
                }
                _ => Some((k.into_owned(), v.into_owned())),
            })
            .collect();
        let mut tls = lapin::tcp::OwnedTLSConfig::default();
        if let Some(path) = cacert {
            if parsed.scheme() != "amqps" {
                return Err(queue_error(
                    "cacert",
                    &shown,
                    "a CA certificate is for amqps:// (TLS), not amqp://",
                ));
            }
            let pem = std::fs::read_to_string(&path)
                .map_err(|e| queue_error("cacert", &shown, format!("{path}: {e}")))?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(queue_error(
                    "cacert",
                    &shown,
                    format!("{path}: no PEM certificate in it"),
                ));
            }
            tls.cert_chain = Some(pem);
        }
        if queue.is_empty()
            || queue.len() > 255
            || !queue
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c))
        {
            return Err(queue_error(
                "queue",
                &shown,
                format!("{queue:?} is not a queue name (letters, digits, . _ - :)"),
            ));
        }
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
        let inner = Arc::new(Inner {
            uri: parsed.to_string(),
            shown,
            queue,
            tls,
            prefetch: prefetch.max(1),
            link: tokio::sync::Mutex::new(None),
            consumer: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
            depth: QueueDepth::default(),
            unreachable: std::sync::Mutex::new(None),
        });
        // The first connection says what is wrong at once.
        inner.link().await?;
        let depth_task = tokio::spawn(count(Arc::downgrade(&inner)));
        Ok(Self { inner, depth_task })
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.inner.queue
    }

    /// Deletes the queue and the ids in it (the tests' queues; an operator
    /// deletes a site's queue with the broker's own tools).
    pub async fn delete(&self) -> Result<()> {
        let link = self.inner.link().await?;
        link.publish
            .queue_delete(
                self.inner.queue.as_str().into(),
                lapin::options::QueueDeleteOptions::default(),
            )
            .await
            .map_err(|e| queue_error("cannot delete the queue", &self.inner.shown, e))?;
        Ok(())
    }
}

impl Inner {
    /// The current connection, made again when it is gone.
    async fn link(&self) -> Result<Arc<Link>> {
        let mut link = self.link.lock().await;
        if let Some(current) = link.as_ref() {
            if current.connection.status().connected()
                && current.publish.status().connected()
                && current.consume.status().connected()
            {
                return Ok(current.clone());
            }
        }
        *link = None;
        let made = self.connect().await;
        *self
            .unreachable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            made.as_ref().err().map(|e| e.to_string());
        let made = made?;
        *link = Some(made.clone());
        Ok(made)
    }

    /// A new connection and its channels.
    async fn connect(&self) -> Result<Arc<Link>> {
        let runtime = lapin::runtime::default_runtime()
            .map_err(|e| queue_error("cannot connect", &self.shown, e))?;
        let connection = Connection::connect_with_config(
            &self.uri,
            ConnectionProperties::default(),
            self.tls.clone(),
            runtime,
        )
        .await
        .map_err(|e| queue_error("cannot connect", &self.shown, e))?;
        let err = |what: &'static str| move |e| queue_error(what, &self.shown, e);
        let publish = connection
            .create_channel()
            .await
            .map_err(err("cannot open a channel"))?;
        publish
            .queue_declare(
                self.queue.as_str().into(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await
            .map_err(err("cannot declare the queue"))?;
        publish
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(err("cannot turn publisher confirms on"))?;
        let consume = connection
            .create_channel()
            .await
            .map_err(err("cannot open a channel"))?;
        consume
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await
            .map_err(err("cannot set the prefetch"))?;
        Ok(Arc::new(Link {
            generation: self.generation.fetch_add(1, Ordering::SeqCst) + 1,
            connection,
            publish,
            consume,
        }))
    }

    /// Forgets `link` (it failed) unless a newer one replaced it already.
    async fn drop_link(&self, failed: &Link) {
        let mut link = self.link.lock().await;
        if link
            .as_ref()
            .is_some_and(|l| l.generation == failed.generation)
        {
            *link = None;
        }
    }

    /// Publishes `id`, persistent, and waits for the broker's confirmation.
    async fn publish(&self, id: &str) -> Result<()> {
        let link = self.link().await?;
        let published = async {
            let confirm = link
                .publish
                .basic_publish(
                    "".into(),
                    self.queue.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    id.as_bytes(),
                    BasicProperties::default()
                        .with_delivery_mode(2)
                        .with_content_type("text/plain".into()),
                )
                .await?
                .await?;
            Ok::<_, lapin::Error>(confirm)
        }
        .await;
        match published {
            Ok(confirm) => {
                if confirm.is_ack() && confirm.take_message().is_none() {
                    Ok(())
                } else {
                    Err(queue_error(
                        "publish",
                        &self.shown,
                        "the broker refused the message (or had no queue to route it to)",
                    ))
                }
            }
            Err(e) => {
                self.drop_link(&link).await;
                Err(queue_error("publish", &self.shown, e))
            }
        }
    }

    /// The next delivery, connecting (again) as needed.
    async fn next(self: &Arc<Self>) -> Result<Delivery> {
        let mut consumer = self.consumer.lock().await;
        loop {
            let link = match self.link().await {
                Ok(link) => link,
                Err(e) => {
                    tracing::warn!(error = %e, "job queue: broker out of reach; trying again");
                    tokio::time::sleep(RECONNECT).await;
                    continue;
                }
            };
            if consumer.as_ref().is_none_or(|(g, _)| *g != link.generation) {
                let started = link
                    .consume
                    .basic_consume(
                        self.queue.as_str().into(),
                        "".into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await;
                match started {
                    Ok(c) => *consumer = Some((link.generation, c)),
                    Err(e) => {
                        tracing::warn!(error = %e, "job queue: cannot consume; trying again");
                        self.drop_link(&link).await;
                        tokio::time::sleep(RECONNECT).await;
                        continue;
                    }
                }
            }
            let Some((_, stream)) = consumer.as_mut() else {
                continue;
            };
            match stream.next().await {
                Some(Ok(delivery)) => {
                    let id = String::from_utf8_lossy(&delivery.data).into_owned();
                    let acker = AmqpAck {
                        acker: Some(delivery.acker),
                        shown: self.shown.clone(),
                    };
                    return Ok(Delivery::new(id, Box::new(acker)));
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "job queue: the consumer failed; connecting again");
                }
                None => {
                    tracing::warn!("job queue: the broker ended the consumer; connecting again");
                }
            }
            *consumer = None;
            self.drop_link(&link).await;
            tokio::time::sleep(RECONNECT).await;
        }
    }
}

/// Counts the ids ready in the queue every second (the broker's count, all
/// gateways' pushes together; ids delivered but not acknowledged are not in it).
async fn count(inner: std::sync::Weak<Inner>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(inner) = inner.upgrade() else { return };
        let Ok(link) = inner.link().await else {
            continue;
        };
        let Some(mark) = inner.depth.mark() else {
            continue;
        };
        let declared = link
            .publish
            .queue_declare(
                inner.queue.as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await;
        match declared {
            Ok(queue) => inner.depth.counted(mark, queue.message_count() as usize),
            Err(_) => inner.drop_link(&link).await,
        }
    }
}

/// A delivery's end: the broker's acknowledgement of its message.
struct AmqpAck {
    acker: Option<lapin::Acker>,
    shown: String,
}

impl AmqpAck {
    fn end(mut self, ack: bool) -> BoxFuture<'static, Result<()>> {
        let acker = self.acker.take();
        let shown = std::mem::take(&mut self.shown);
        Box::pin(async move {
            let Some(acker) = acker else { return Ok(()) };
            let ended = if ack {
                acker.ack(BasicAckOptions::default()).await
            } else {
                acker
                    .nack(BasicNackOptions {
                        multiple: false,
                        requeue: true,
                    })
                    .await
            };
            if let Err(e) = ended {
                // Its channel is gone: the broker delivers the message again,
                // which a claimed job ignores.
                tracing::warn!(broker = %shown, error = %e, "job queue: a delivery's end not sent; it will come back");
            }
            Ok(())
        })
    }
}

impl Acknowledge for AmqpAck {
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        (*self).end(true)
    }

    fn nack(self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        (*self).end(false)
    }
}

impl JobQueue for AmqpQueue {
    fn push(&self, id: String) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let moving = self.inner.depth.begin();
            // Once more on a new connection when the first try found it dead.
            match self.inner.publish(&id).await {
                Ok(()) => {}
                Err(first) => {
                    tracing::warn!(error = %first, "job queue: publish failed; once more");
                    self.inner.publish(&id).await?;
                }
            }
            moving.done(true);
            Ok(())
        })
    }

    fn pop(&self) -> BoxFuture<'_, Result<Delivery>> {
        Box::pin(async move {
            let delivery = self.inner.next().await?;
            self.inner.depth.moved(false);
            Ok(delivery)
        })
    }

    fn depth(&self) -> usize {
        self.inner.depth.get()
    }

    fn fault(&self) -> Option<String> {
        self.inner
            .unreachable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("amqp://ada:secret@broker:5672/%2f?queue=q"),
            "amqp://ada:***@broker:5672/%2f?queue=q"
        );
        assert_eq!(redact("amqp://broker:5672/%2f"), "amqp://broker:5672/%2f");
    }

    #[tokio::test]
    async fn bad_urls_and_queue_names_are_refused_before_connecting() {
        let e = AmqpQueue::connect("http://broker/", 1).await.err().unwrap();
        assert!(e.to_string().contains("neither amqp nor amqps"), "{e}");
        let e = AmqpQueue::connect("amqp://ada:secret@broker/%2f?cacert=/ca.pem", 1)
            .await
            .err()
            .unwrap();
        assert!(e.to_string().contains("not amqp://"), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
        let e = AmqpQueue::connect("amqps://broker/%2f?cacert=/nowhere/ca.pem", 1)
            .await
            .err()
            .unwrap();
        assert!(e.to_string().contains("/nowhere/ca.pem"), "{e}");
        let e = AmqpQueue::connect("amqp://broker/%2f?queue=a%20b", 1)
            .await
            .err()
            .unwrap();
        assert!(e.to_string().contains("not a queue name"), "{e}");
    }
}
