//! The conformance suites of the job traits, run by every implementation: the
//! embedded ones here (`tests/suites.rs`), PostgreSQL and RabbitMQ when they come.
//! Each case is a function over a fresh, empty store or queue; the macros
//! [`job_store_suite!`](crate::job_store_suite) and
//! [`job_queue_suite!`](crate::job_queue_suite) declare one test per case (the
//! calling crate needs tokio with its `macros` and `rt-multi-thread` features).

use serde_json::Map;

use crate::{Job, JobFilter, JobQueue, JobStore, Status};

/// A job of the suites: process `echo` when `created` is even, `filter` when odd.
pub fn job(id: &str, created: u64, status: Status) -> Job {
    Job {
        id: id.into(),
        process_id: if created.is_multiple_of(2) {
            "echo"
        } else {
            "filter"
        }
        .into(),
        status,
        message: String::new(),
        created,
        started: None,
        finished: None,
        updated: created,
        progress: 0,
        inputs: Map::new(),
        outputs: None,
        response: "document".into(),
        subscriber: None,
        results: None,
        attempts: 0,
        failure: None,
        base_url: None,
        owner: None,
        revision: 0,
        lease_until: None,
        dispatched: false,
        log: Vec::new(),
        request_id: None,
        rule: None,
        rule_chain: Vec::new(),
    }
}

fn ids(store: &dyn JobStore, filter: &JobFilter, offset: usize, limit: usize) -> Vec<String> {
    store
        .list(filter, offset, limit)
        .unwrap()
        .jobs
        .into_iter()
        .map(|j| j.id)
        .collect()
}

/// Ten jobs j0..j9 created at 1000..1009, j0..j6 successful, j7..j9 running.
fn ten(store: &dyn JobStore) {
    let jobs: Vec<Job> = (0..10)
        .map(|i| {
            let status = if i < 7 {
                Status::Successful
            } else {
                Status::Running
            };
            job(&format!("j{i}"), 1000 + i, status)
        })
        .collect();
    store.put_all(&jobs).unwrap();
}

/// The job store's cases.
pub mod job_store {
    use super::*;

    /// What is put is got back whole; an unknown id is none.
    pub fn a_job_put_is_got_back_whole(store: &dyn JobStore) {
        let mut one = job("a", 1, Status::Failed);
        one.failure = Some(crate::FailureKind::InvalidParameterValue);
        one.inputs
            .insert("x".into(), serde_json::json!({"href": "file:///a"}));
        one.message = "why".into();
        store.put(&one).unwrap();
        let back = store.get("a").unwrap().unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&one).unwrap()
        );
        assert!(store.get("b").unwrap().is_none());
    }

    /// Listing is newest first, paged, and says when more follow.
    pub fn jobs_list_newest_first_in_pages(store: &dyn JobStore) {
        ten(store);
        let page = store.list(&JobFilter::default(), 0, 4).unwrap();
        let got: Vec<_> = page.jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(got, ["j9", "j8", "j7", "j6"]);
        assert!(page.more);
        let last = store.list(&JobFilter::default(), 8, 4).unwrap();
        assert_eq!(last.jobs.len(), 2);
        assert!(!last.more);
    }

    /// Filters by process, status and creation time, alone and together.
    pub fn filters_select_by_process_status_and_time(store: &dyn JobStore) {
        ten(store);
        let echo_done = JobFilter {
            process_ids: vec!["echo".into()],
            statuses: vec![Status::Successful],
            ..Default::default()
        };
        assert_eq!(ids(store, &echo_done, 1, 10), ["j4", "j2", "j0"]);
        let running = JobFilter {
            statuses: vec![Status::Running],
            ..Default::default()
        };
        assert_eq!(ids(store, &running, 0, 10), ["j9", "j8", "j7"]);
        assert_eq!(ids(store, &running, 1, 10), ["j8", "j7"]);
        let window = JobFilter {
            created: Some((Some(1002), Some(1004))),
            ..Default::default()
        };
        assert_eq!(ids(store, &window, 0, 10), ["j4", "j3", "j2"]);
        let early_done = JobFilter {
            statuses: vec![Status::Successful],
            created: Some((None, Some(1001))),
            ..Default::default()
        };
        assert_eq!(ids(store, &early_done, 0, 10), ["j1", "j0"]);
        let filter = JobFilter {
            process_ids: vec!["filter".into()],
            ..Default::default()
        };
        assert_eq!(ids(store, &filter, 3, 10), ["j3", "j1"]);
        let two_states = JobFilter {
            statuses: vec![Status::Running, Status::Failed],
            process_ids: vec!["echo".into(), "filter".into()],
            ..Default::default()
        };
        assert_eq!(ids(store, &two_states, 0, 10), ["j9", "j8", "j7"]);
    }

    /// Listing by owner finds a user's jobs only, with the other filters, and a
    /// job of no owner in no user's list; listing by rule finds the rule's jobs.
    pub fn owners_list_their_own_jobs(store: &dyn JobStore) {
        let jobs: Vec<Job> = (0..9u64)
            .map(|i| {
                let mut j = job(&format!("o{i}"), 2000 + i, Status::Successful);
                j.owner = match i % 3 {
                    0 => Some("ada".into()),
                    1 => Some("bob".into()),
                    _ => None,
                };
                if i == 3 {
                    j.status = Status::Failed;
                }
                if i % 2 == 0 {
                    j.rule = Some("r1".into());
                }
                j
            })
            .collect();
        store.put_all(&jobs).unwrap();
        let by_rule = |rule: &str| JobFilter {
            rule: Some(rule.into()),
            ..Default::default()
        };
        assert_eq!(
            ids(store, &by_rule("r1"), 0, 10),
            ["o8", "o6", "o4", "o2", "o0"]
        );
        assert!(ids(store, &by_rule("r2"), 0, 10).is_empty());
        let ada_r1 = JobFilter {
            owner: Some("ada".into()),
            ..by_rule("r1")
        };
        assert_eq!(ids(store, &ada_r1, 0, 10), ["o6", "o0"]);
        let of = |owner: &str| JobFilter {
            owner: Some(owner.into()),
            ..Default::default()
        };
        assert_eq!(ids(store, &of("ada"), 0, 10), ["o6", "o3", "o0"]);
        assert_eq!(ids(store, &of("ada"), 1, 1), ["o3"]);
        assert_eq!(ids(store, &of("bob"), 0, 10), ["o7", "o4", "o1"]);
        assert!(ids(store, &of("carol"), 0, 10).is_empty());
        let ada_failed = JobFilter {
            statuses: vec![Status::Failed],
            ..of("ada")
        };
        assert_eq!(ids(store, &ada_failed, 0, 10), ["o3"]);
        let bob_echo = JobFilter {
            process_ids: vec!["filter".into()],
            ..of("bob")
        };
        let expected: Vec<String> = ["o7", "o4", "o1"]
            .into_iter()
            .filter(|id| store.get(id).unwrap().unwrap().process_id == "filter")
            .map(String::from)
            .collect();
        assert_eq!(ids(store, &bob_echo, 0, 10), expected);
        assert_eq!(
            store.get("o1").unwrap().unwrap().owner.as_deref(),
            Some("bob")
        );
    }

    /// A job that changes state moves in the listings and leaves the unfinished.
    pub fn a_state_change_moves_the_job_in_every_listing(store: &dyn JobStore) {
        ten(store);
        let open: Vec<_> = store
            .unfinished()
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(open, ["j7", "j8", "j9"], "oldest first");
        let mut done = store.get("j8").unwrap().unwrap();
        done.status = Status::Failed;
        done.failure = Some(crate::FailureKind::ProcessFailed);
        store.put(&done).unwrap();
        assert_eq!(store.unfinished().unwrap().len(), 2);
        let failed = JobFilter {
            statuses: vec![Status::Failed],
            ..Default::default()
        };
        assert_eq!(ids(store, &failed, 0, 10), ["j8"]);
        let running = JobFilter {
            statuses: vec![Status::Running],
            ..Default::default()
        };
        assert_eq!(ids(store, &running, 0, 10), ["j9", "j7"]);
        assert_eq!(ids(store, &JobFilter::default(), 0, 100).len(), 10);
    }

    /// Counts per process and state, for the metrics.
    pub fn counts_are_per_process_and_state(store: &dyn JobStore) {
        ten(store);
        let mut counts = store.count().unwrap();
        counts.sort_by(|a, b| (&a.0, a.1.as_str()).cmp(&(&b.0, b.1.as_str())));
        assert_eq!(
            counts,
            [
                ("echo".to_string(), Status::Running, 1),
                ("echo".to_string(), Status::Successful, 4),
                ("filter".to_string(), Status::Running, 2),
                ("filter".to_string(), Status::Successful, 3),
            ]
        );
    }

    /// Writes submitted together, durable or not, are all there once they return;
    /// the later record of a job written twice wins.
    pub async fn concurrent_submits_are_all_kept(store: &dyn JobStore) {
        let commits: Vec<_> = (0..50u64)
            .map(|i| store.submit(&[job(&format!("s{i:02}"), i, Status::Accepted)], i % 2 == 0))
            .collect();
        for commit in commits {
            commit.await.unwrap();
        }
        let mut again = job("s07", 7, Status::Running);
        again.attempts = 1;
        store.submit(&[again], true).await.unwrap();
        assert_eq!(store.get("s07").unwrap().unwrap().attempts, 1);
        assert_eq!(ids(store, &JobFilter::default(), 0, 100).len(), 50);
        assert_eq!(store.unfinished().unwrap().len(), 50);
    }

    /// A swap writes over the revision it was made from and nothing else: a
    /// change made from an old read is refused, a new job goes in as revision 1.
    pub async fn a_swap_writes_only_over_its_revision(store: &dyn JobStore) {
        store.put(&job("w", 2, Status::Accepted)).unwrap();
        let mut claim = store.get("w").unwrap().unwrap();
        claim.status = Status::Running;
        claim.revision += 1;
        let mut late = store.get("w").unwrap().unwrap();
        late.status = Status::Dismissed;
        late.revision += 1;
        assert!(store.swap(&claim, true).await.unwrap());
        assert!(
            !store.swap(&late, true).await.unwrap(),
            "a stale change was written"
        );
        let stored = store.get("w").unwrap().unwrap();
        assert_eq!((stored.status, stored.revision), (Status::Running, 1));
        assert_eq!(store.unfinished().unwrap().len(), 1);
        // Made again over what is stored now, it goes in.
        let mut again = stored;
        again.status = Status::Dismissed;
        again.revision += 1;
        assert!(store.swap(&again, false).await.unwrap());
        assert!(store.unfinished().unwrap().is_empty());
        let listed = ids(
            store,
            &JobFilter {
                statuses: vec![Status::Dismissed],
                ..JobFilter::default()
            },
            0,
            10,
        );
        assert_eq!(listed, ["w"]);
        // New jobs: revision 1 is inserted, any other is refused.
        let mut fresh = job("n", 3, Status::Running);
        fresh.revision = 1;
        assert!(store.swap(&fresh, true).await.unwrap());
        let mut orphan = job("m", 4, Status::Running);
        orphan.revision = 5;
        assert!(!store.swap(&orphan, true).await.unwrap());
        assert!(store.get("m").unwrap().is_none());
    }

    /// Writers racing on one job with read-and-swap lose no change: each of 40
    /// increments lands once.
    pub async fn racing_swaps_lose_no_change(store: &dyn JobStore) {
        store.put(&job("r", 2, Status::Running)).unwrap();
        let racers = (0..40).map(|_| async {
            loop {
                let mut job = store.get("r").unwrap().unwrap();
                job.attempts += 1;
                job.revision += 1;
                if store.swap(&job, false).await.unwrap() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        });
        futures::future::join_all(racers).await;
        let job = store.get("r").unwrap().unwrap();
        assert_eq!((job.attempts, job.revision), (40, 40));
    }

    /// The sweeper's jobs: running ones whose lease ran out, accepted ones not
    /// dispatched and quiet since the given time; no other.
    pub fn stale_jobs_are_lapsed_leases_and_undispatched_ones(store: &dyn JobStore) {
        let mut jobs = Vec::new();
        for (id, status, lease, dispatched, updated) in [
            ("lapsed", Status::Running, Some(100), false, 10),
            ("held", Status::Running, Some(1000), false, 10),
            ("undispatched", Status::Accepted, None, false, 10),
            ("recent", Status::Accepted, None, false, 490),
            ("queued", Status::Accepted, None, true, 10),
            ("done", Status::Successful, Some(100), false, 10),
        ] {
            let mut j = job(id, jobs.len() as u64, status);
            j.lease_until = lease;
            j.dispatched = dispatched;
            j.updated = updated;
            jobs.push(j);
        }
        store.put_all(&jobs).unwrap();
        let stale: Vec<String> = store
            .stale(500, 400, 10)
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(stale, ["lapsed", "undispatched"]);
        assert_eq!(store.stale(500, 400, 1).unwrap().len(), 1);
    }
}

/// The job queue's cases.
pub mod job_queue {
    use std::time::Duration;

    use super::*;

    /// Ids come out in the order they went in, each once when acknowledged.
    pub async fn ids_come_out_in_order_and_once(queue: &dyn JobQueue) {
        for id in ["a", "b", "c"] {
            queue.push(id.into()).await.unwrap();
        }
        assert_eq!(queue.depth(), 3);
        for id in ["a", "b", "c"] {
            let delivery = queue.pop().await.unwrap();
            assert_eq!(delivery.id(), id);
            delivery.ack().await.unwrap();
        }
        assert_eq!(queue.depth(), 0);
        let none = tokio::time::timeout(Duration::from_millis(100), queue.pop()).await;
        assert!(none.is_err(), "an acknowledged id came back");
    }

    /// A worker waiting on an empty queue gets the next id pushed.
    pub async fn pop_waits_for_a_push(queue: &dyn JobQueue) {
        let (delivery, ()) = tokio::join!(queue.pop(), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            queue.push("late".into()).await.unwrap();
        });
        let delivery = delivery.unwrap();
        assert_eq!(delivery.id(), "late");
        delivery.ack().await.unwrap();
    }

    /// A returned delivery, or one dropped unacknowledged, is delivered again.
    pub async fn returned_and_dropped_deliveries_come_back(queue: &dyn JobQueue) {
        queue.push("x".into()).await.unwrap();
        let first = queue.pop().await.unwrap();
        first.nack().await.unwrap();
        let again = tokio::time::timeout(Duration::from_secs(10), queue.pop())
            .await
            .expect("the returned id was not delivered again")
            .unwrap();
        assert_eq!(again.id(), "x");
        drop(again);
        let third = tokio::time::timeout(Duration::from_secs(10), queue.pop())
            .await
            .expect("the dropped delivery was not delivered again")
            .unwrap();
        assert_eq!(third.id(), "x");
        third.ack().await.unwrap();
    }
}

/// The deployments' cases. Each takes the store and a folder the components
/// it is given are read from.
pub mod deployments {
    use std::path::Path;

    use crate::deployments::{Deployment, Deployments};

    /// A deployment of `id` whose document says `text`.
    pub fn deployment(id: &str, text: &str) -> Deployment {
        Deployment {
            id: id.into(),
            content_type: "application/cwl+json".into(),
            fragment: None,
            owner: Some("ada".into()),
            document: format!("{{\"class\": \"ExpressionTool\", \"doc\": \"{text}\"}}"),
            body: text.as_bytes().to_vec(),
        }
    }

    /// A component file in `dir` and its sha256 hex digest.
    fn component(dir: &Path, bytes: &[u8]) -> String {
        use sha2::Digest;
        let hex = hex::encode(sha2::Sha256::digest(bytes));
        std::fs::write(dir.join(format!("{hex}.wasm")), bytes).unwrap();
        hex
    }

    /// What is put is got back whole, listed, and removed once.
    pub fn a_deployment_is_kept_listed_and_removed(store: &dyn Deployments, dir: &Path) {
        assert!(store.all().unwrap().is_empty());
        assert_eq!(store.get("b").unwrap(), None);
        for id in ["b", "a"] {
            assert!(store.put(&deployment(id, id), &[], dir, false).unwrap());
        }
        assert_eq!(store.get("a").unwrap().unwrap(), deployment("a", "a"));
        let ids: Vec<String> = store.all().unwrap().into_iter().map(|d| d.id).collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(store.remove("a").unwrap());
        assert!(!store.remove("a").unwrap());
        assert_eq!(store.get("a").unwrap(), None);
        assert_eq!(store.all().unwrap().len(), 1);
        // Deployed again after its removal.
        assert!(
            store
                .put(&deployment("a", "again"), &[], dir, false)
                .unwrap()
        );
        assert_eq!(store.get("a").unwrap().unwrap().body, b"again");
    }

    /// A deploy of an id that exists is refused and changes nothing; a replace
    /// changes it.
    pub fn a_deploy_never_replaces_a_replace_does(store: &dyn Deployments, dir: &Path) {
        assert!(store.put(&deployment("p", "one"), &[], dir, false).unwrap());
        assert!(!store.put(&deployment("p", "two"), &[], dir, false).unwrap());
        assert_eq!(store.get("p").unwrap().unwrap().body, b"one");
        assert!(store.put(&deployment("p", "two"), &[], dir, true).unwrap());
        assert_eq!(store.get("p").unwrap().unwrap(), deployment("p", "two"));
    }

    /// The components a deployment pins are found by digest, and only those.
    pub fn pinned_components_are_found_by_digest(store: &dyn Deployments, dir: &Path) {
        let hex = component(dir, b"\0asm component bytes");
        assert!(
            store
                .put(
                    &deployment("c", "c"),
                    std::slice::from_ref(&hex),
                    dir,
                    false
                )
                .unwrap()
        );
        assert_eq!(
            store.component(&hex).unwrap().as_deref(),
            Some(&b"\0asm component bytes"[..])
        );
        assert_eq!(store.component(&"0".repeat(64)).unwrap(), None);
        assert_eq!(store.component("../../etc/passwd").unwrap(), None);
    }

    /// A shared store reports every change after a mark, removals included,
    /// and none twice; a store of one server reports none.
    pub fn changes_after_a_mark_are_reported(store: &dyn Deployments, dir: &Path) {
        let (start, none) = store.changes(0).unwrap();
        assert!(none.is_empty());
        store.put(&deployment("x", "x"), &[], dir, false).unwrap();
        store.put(&deployment("y", "y"), &[], dir, false).unwrap();
        let (mark, ids) = store.changes(start).unwrap();
        if !store.shared() {
            assert!(ids.is_empty());
            return;
        }
        assert_eq!(ids, ["x", "y"]);
        store.remove("x").unwrap();
        store.put(&deployment("y", "y2"), &[], dir, true).unwrap();
        let (next, ids) = store.changes(mark).unwrap();
        assert_eq!(ids, ["x", "y"]);
        assert!(next > mark);
        assert_eq!(store.changes(next).unwrap().1, Vec::<String>::new());
    }
}

/// Declares the job store suite's tests; `$make` is an expression giving
/// `(guard, store)`, a fresh empty store and what keeps it alive (a folder).
#[macro_export]
macro_rules! job_store_suite {
    ($make:expr) => {
        mod job_store_suite {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance::job_store as case;

            #[test]
            fn a_job_put_is_got_back_whole() {
                let (_guard, store) = $make;
                case::a_job_put_is_got_back_whole(&store);
            }
            #[test]
            fn jobs_list_newest_first_in_pages() {
                let (_guard, store) = $make;
                case::jobs_list_newest_first_in_pages(&store);
            }
            #[test]
            fn filters_select_by_process_status_and_time() {
                let (_guard, store) = $make;
                case::filters_select_by_process_status_and_time(&store);
            }
            #[test]
            fn a_state_change_moves_the_job_in_every_listing() {
                let (_guard, store) = $make;
                case::a_state_change_moves_the_job_in_every_listing(&store);
            }
            #[test]
            fn owners_list_their_own_jobs() {
                let (_guard, store) = $make;
                case::owners_list_their_own_jobs(&store);
            }
            #[test]
            fn counts_are_per_process_and_state() {
                let (_guard, store) = $make;
                case::counts_are_per_process_and_state(&store);
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_submits_are_all_kept() {
                let (_guard, store) = $make;
                case::concurrent_submits_are_all_kept(&store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_swap_writes_only_over_its_revision() {
                let (_guard, store) = $make;
                case::a_swap_writes_only_over_its_revision(&store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn racing_swaps_lose_no_change() {
                let (_guard, store) = $make;
                case::racing_swaps_lose_no_change(&store).await;
            }
            #[test]
            fn stale_jobs_are_lapsed_leases_and_undispatched_ones() {
                let (_guard, store) = $make;
                case::stale_jobs_are_lapsed_leases_and_undispatched_ones(&store);
            }
        }
    };
}

/// Declares the job queue suite's tests; `$make` is an expression giving
/// `(guard, queue)`, a fresh empty queue and what keeps it alive.
#[macro_export]
macro_rules! job_queue_suite {
    ($make:expr) => {
        mod job_queue_suite {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance::job_queue as case;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn ids_come_out_in_order_and_once() {
                let (_guard, queue) = $make;
                case::ids_come_out_in_order_and_once(&queue).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn pop_waits_for_a_push() {
                let (_guard, queue) = $make;
                case::pop_waits_for_a_push(&queue).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn returned_and_dropped_deliveries_come_back() {
                let (_guard, queue) = $make;
                case::returned_and_dropped_deliveries_come_back(&queue).await;
            }
        }
    };
}

/// Declares the deployments suite's tests; `$make` is an expression giving
/// `(guard, store)`, a fresh empty store and what keeps it alive.
#[macro_export]
macro_rules! deployments_suite {
    ($make:expr) => {
        mod deployments_suite {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance::deployments as case;

            #[test]
            fn a_deployment_is_kept_listed_and_removed() {
                let (_guard, store) = $make;
                let dir = tempfile::tempdir().unwrap();
                case::a_deployment_is_kept_listed_and_removed(&store, dir.path());
            }
            #[test]
            fn a_deploy_never_replaces_a_replace_does() {
                let (_guard, store) = $make;
                let dir = tempfile::tempdir().unwrap();
                case::a_deploy_never_replaces_a_replace_does(&store, dir.path());
            }
            #[test]
            fn pinned_components_are_found_by_digest() {
                let (_guard, store) = $make;
                let dir = tempfile::tempdir().unwrap();
                case::pinned_components_are_found_by_digest(&store, dir.path());
            }
            #[test]
            fn changes_after_a_mark_are_reported() {
                let (_guard, store) = $make;
                let dir = tempfile::tempdir().unwrap();
                case::changes_after_a_mark_are_reported(&store, dir.path());
            }
        }
    };
}
