//! The job, deployment, token, registry records, rule and catalogue traits' conformance suites against PostgreSQL (the test server of
//! `deploy/services/postgres.sh`), each case in a schema of its own (the catalogue:
//! in a database of its own, copied from the pgstac template).

use hysope_postgres::testing::fresh_schema;
use hysope_postgres::{PgJobStore, PgQueue};

fn store() -> (hysope_postgres::testing::Schema, PgJobStore) {
    let (schema, pg) = fresh_schema(8);
    (schema, PgJobStore::open(pg).unwrap())
}

fn queue() -> (hysope_postgres::testing::Schema, PgQueue) {
    let (schema, pg) = fresh_schema(8);
    (schema, PgQueue::open(pg).unwrap())
}

hysope_jobs::job_store_suite!(crate::store());
hysope_jobs::job_queue_suite!(crate::queue());

fn deployments() -> (
    hysope_postgres::testing::Schema,
    hysope_postgres::PgDeployments,
) {
    let (schema, pg) = fresh_schema(4);
    (schema, hysope_postgres::PgDeployments::open(pg).unwrap())
}

hysope_jobs::deployments_suite!(crate::deployments());

fn tokens() -> (
    hysope_postgres::testing::Schema,
    std::sync::Arc<dyn hysope_identity::tokens::TokenStore>,
) {
    let (schema, pg) = fresh_schema(4);
    (
        schema,
        std::sync::Arc::new(hysope_postgres::PgTokenStore::open(pg).unwrap()),
    )
}

hysope_identity::token_store_suite!(crate::tokens());

fn records() -> (
    hysope_postgres::testing::Schema,
    std::sync::Arc<dyn hysope_registry::Records>,
) {
    let (schema, pg) = fresh_schema(4);
    (
        schema,
        std::sync::Arc::new(hysope_postgres::PgRecords::open(pg).unwrap()),
    )
}

hysope_registry::records_suite!(crate::records());

#[test]
fn the_rule_store_case() {
    let (_schema, pg) = fresh_schema(4);
    hysope_jobs::rules::conformance::a_store_keeps_replaces_lists_and_removes_rules(
        &hysope_postgres::PgRuleStore::open(pg).unwrap(),
    );
}

fn catalog() -> (
    hysope_postgres::testing::Database,
    hysope_postgres::PgCatalog,
) {
    hysope_postgres::testing::fresh_catalog(4)
}

hysope_catalog::catalog_store_suite!(crate::catalog());

/// Items come out of a search as stored, hydrated by the store (pgstac's
/// `nohydrate`): each must equal the item pgstac hydrates itself (`get_item`).
#[test]
fn searched_items_are_the_items_pgstac_hydrates() {
    use hysope_catalog::CatalogStore;
    let (_db, store) = catalog();
    let shared = hysope_catalog::conformance::shared_data();
    let report = hysope_catalog::ingest::ingest_paths(&store, &[shared], |_, _, _, _| {}).unwrap();
    assert_eq!(report.skipped(), 0);
    let mut token = String::new();
    let mut seen = 0;
    loop {
        let query = hysope_catalog::SearchQuery::from_get(&[
            ("limit".to_string(), "5".to_string()),
            ("token".to_string(), token.clone()),
        ])
        .unwrap();
        let page = store.search(&query).unwrap();
        for item in &page.items {
            let (collection, id) = (
                item["collection"].as_str().unwrap(),
                item["id"].as_str().unwrap(),
            );
            let whole = store.item(collection, id).unwrap().unwrap();
            assert_eq!(item, &whole, "{collection}/{id}");
            seen += 1;
        }
        match page.next {
            Some(next) => token = next.token(),
            None => break,
        }
    }
    assert_eq!(seen as u64, store.item_count().unwrap());
}

/// Every session of a pool says how long it may sit idle in a transaction (a
/// frozen gateway holds no lock for ever), beside the URL's own options.
#[test]
fn sessions_idle_in_a_transaction_are_bounded() {
    let (_schema, pg) = fresh_schema(2);
    let pool = pg.pool().clone();
    let (idle, path) = pg
        .block(async move {
            let client = pool.get().await?;
            let idle = client
                .query_one("SHOW idle_in_transaction_session_timeout", &[])
                .await?;
            let path = client.query_one("SHOW search_path", &[]).await?;
            Ok((idle.get::<_, String>(0), path.get::<_, String>(0)))
        })
        .unwrap();
    assert_eq!(idle, "20s");
    assert!(path.starts_with("t_"), "the URL's options kept: {path}");
}
