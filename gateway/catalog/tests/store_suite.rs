//! The catalogue store's conformance suite against the embedded redb store.

use hysope_catalog::RedbCatalog;

fn redb_catalog() -> (tempfile::TempDir, RedbCatalog) {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbCatalog::open(&dir.path().join("catalog.redb")).unwrap();
    (dir, store)
}

hysope_catalog::catalog_store_suite!(crate::redb_catalog());
