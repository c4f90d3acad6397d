//! The job, token and catalogue traits' conformance suites against PostgreSQL (the test server of
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

fn catalog() -> (
    hysope_postgres::testing::Database,
    hysope_postgres::PgCatalog,
) {
    hysope_postgres::testing::fresh_catalog(4)
}

hysope_catalog::catalog_store_suite!(crate::catalog());
