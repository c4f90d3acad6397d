//! The job queue suite against RabbitMQ (the broker of
//! `deploy/services/rabbitmq.sh`, `$HYSOPE_TEST_AMQP`), a queue per case, and
//! what only a broker does: a delivery held by a consumer whose connection dies
//! comes back, and ids pushed before the broker restarts are still there after
//! it, for a consumer that connects again by itself.

use std::time::Duration;

use hysope_amqp::AmqpQueue;
use hysope_jobs::JobQueue;

fn url() -> String {
    std::env::var("HYSOPE_TEST_AMQP")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

fn queue_url(name: &str) -> String {
    format!("{}?queue={name}", url())
}

fn fresh_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("hysope.test.{:016x}", h.finish())
}

/// The restart test has the broker to itself; the others share it.
static BROKER: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn shared_broker() -> tokio::sync::RwLockReadGuard<'static, ()> {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(BROKER.read()))
}

/// Deletes its queue when dropped (and lets the broker restart then).
struct Fresh {
    name: String,
    _shared: Option<tokio::sync::RwLockReadGuard<'static, ()>>,
}

impl Drop for Fresh {
    fn drop(&mut self) {
        let url = queue_url(&self.name);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async {
                if let Ok(queue) = AmqpQueue::connect(&url, 1).await {
                    let _ = queue.delete().await;
                }
            });
        })
        .join();
    }
}

async fn connect(name: &str, prefetch: u16) -> AmqpQueue {
    AmqpQueue::connect(&queue_url(name), prefetch)
        .await
        .unwrap_or_else(|e| {
            panic!("the RabbitMQ test broker is not reachable ({e}): start it with `sh deploy/services/rabbitmq.sh`")
        })
}

fn fresh() -> (Fresh, AmqpQueue) {
    let name = fresh_name();
    let shared = shared_broker();
    // The queue is made on the caller's runtime (the suite's test).
    let queue = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(connect(&name, 4))
    });
    (
        Fresh {
            name,
            _shared: Some(shared),
        },
        queue,
    )
}

hysope_jobs::job_queue_suite!(crate::fresh());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_of_a_consumer_that_went_away_comes_back_to_another() {
    let name = fresh_name();
    let _fresh = Fresh {
        name: name.clone(),
        _shared: Some(shared_broker()),
    };
    let first = connect(&name, 1).await;
    first.push("held".into()).await.unwrap();
    let held = first.pop().await.unwrap();
    assert_eq!(held.id(), "held");
    // Neither acknowledged nor returned: its connection closes with the queue.
    std::mem::forget(held);
    drop(first);
    let second = connect(&name, 1).await;
    let again = tokio::time::timeout(Duration::from_secs(30), second.pop())
        .await
        .expect("the held id did not come back")
        .unwrap();
    assert_eq!(again.id(), "held");
    again.ack().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_pushed_before_the_broker_restarts_are_delivered_after_it() {
    let _alone = BROKER.write().await;
    let name = fresh_name();
    let _fresh = Fresh {
        name: name.clone(),
        _shared: None,
    };
    let queue = connect(&name, 2).await;
    for id in ["a", "b", "c"] {
        queue.push(id.into()).await.unwrap();
    }
    let script = hysope_root().join("deploy/services/rabbitmq.sh");
    let restarted = tokio::process::Command::new("sh")
        .arg(&script)
        .arg("restart")
        .output()
        .await
        .unwrap();
    assert!(
        restarted.status.success(),
        "{}",
        String::from_utf8_lossy(&restarted.stderr)
    );
    // The same queue object connects again by itself, for takes and pushes.
    let mut got = Vec::new();
    for _ in 0..3 {
        let delivery = tokio::time::timeout(Duration::from_secs(60), queue.pop())
            .await
            .expect("an id pushed before the restart was not delivered after it")
            .unwrap();
        got.push(delivery.id().to_string());
        delivery.ack().await.unwrap();
    }
    got.sort();
    assert_eq!(got, ["a", "b", "c"]);
    queue.push("d".into()).await.unwrap();
    let d = tokio::time::timeout(Duration::from_secs(30), queue.pop())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.id(), "d");
    d.ack().await.unwrap();
}

fn hysope_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The broker's amqps URL, verified against its test CA
/// (`rabbitmq.sh tls-url`).
fn tls_url() -> &'static str {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        let script = hysope_root().join("deploy/services/rabbitmq.sh");
        let out = std::process::Command::new("sh")
            .arg(&script)
            .arg("tls-url")
            .output()
            .expect("sh deploy/services/rabbitmq.sh tls-url");
        assert!(
            out.status.success(),
            "rabbitmq.sh tls-url: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

/// The same cases over amqps.
mod tls {
    use super::*;

    fn fresh_tls() -> (Fresh, AmqpQueue) {
        let name = fresh_name();
        let shared = shared_broker();
        let url = format!("{}&queue={name}", tls_url());
        let queue = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(AmqpQueue::connect(&url, 4))
        })
        .unwrap_or_else(|e| panic!("amqps to the test broker ({url}): {e}"));
        (
            Fresh {
                name,
                _shared: Some(shared),
            },
            queue,
        )
    }

    hysope_jobs::job_queue_suite!(super::fresh_tls());

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_broker_whose_ca_is_not_trusted_is_refused() {
        let _shared = shared_broker();
        // The system's roots only: the test CA is not among them.
        let (base, _) = tls_url().split_once('?').unwrap();
        let err = AmqpQueue::connect(&format!("{base}?queue={}", fresh_name()), 1)
            .await
            .err()
            .expect("connected to a broker whose CA is not trusted");
        let text = err.to_string();
        assert!(
            text.to_lowercase().contains("certificate") || text.contains("UnknownIssuer"),
            "{text}"
        );
        assert!(!text.contains("guest:guest"), "{text}");
    }
}
