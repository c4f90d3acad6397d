//! The job traits' conformance suites against the embedded implementations: the
//! redb job store (in a file of its own, as `hysope serve` shares one with the
//! catalogue), the in-process queue and the deployments in a folder.

use hysope_jobs::{JobStore, RedbJobStore};

fn redb_store() -> (tempfile::TempDir, RedbJobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbJobStore::open(&dir.path().join("store.redb")).unwrap();
    (dir, store)
}

hysope_jobs::job_store_suite!(crate::redb_store());
hysope_jobs::job_queue_suite!(((), hysope_jobs::LocalQueue::default()));

#[test]
fn the_redb_store_keeps_its_jobs_across_reopening() {
    let (dir, store) = redb_store();
    let job = hysope_jobs::conformance::job("kept", 5, hysope_jobs::Status::Accepted);
    store.put(&job).unwrap();
    drop(store);
    let store = RedbJobStore::open(&dir.path().join("store.redb")).unwrap();
    assert_eq!(store.get("kept").unwrap().unwrap().created, 5);
    assert_eq!(store.unfinished().unwrap().len(), 1);
}

fn file_deployments() -> (tempfile::TempDir, hysope_jobs::deployments::FileDeployments) {
    let dir = tempfile::tempdir().unwrap();
    let store = hysope_jobs::deployments::FileDeployments::new(dir.path().join("processes"));
    (dir, store)
}

hysope_jobs::deployments_suite!(crate::file_deployments());
