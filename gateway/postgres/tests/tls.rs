//! TLS to PostgreSQL: the test server of `deploy/services/postgres.sh` takes TLS
//! connections with a certificate of its test CA (`postgres.sh tls-url`). A URL
//! that asks for TLS is encrypted and verifies the server; one whose CA is not
//! trusted does not connect; the queue suite (its LISTEN connection is made
//! outside the pool) and the registry's records suite pass over TLS.

use std::sync::OnceLock;

use hysope_postgres::Pg;

/// The test server's URL that asks for TLS, verified against its test CA.
fn tls_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let script = hysope_root().join("deploy/services/postgres.sh");
        let out = std::process::Command::new("sh")
            .arg(&script)
            .arg("tls-url")
            .output()
            .expect("sh deploy/services/postgres.sh tls-url");
        assert!(
            out.status.success(),
            "postgres.sh tls-url: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

fn hysope_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether the connection `pg` makes is encrypted, as the server says.
fn encrypted(pg: &Pg) -> Result<bool, hysope_postgres::Error> {
    let pool = pg.pool().clone();
    pg.block(async move {
        let client = pool.get().await?;
        let row = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await?;
        Ok(row.get::<_, bool>(0))
    })
}

#[test]
fn a_url_that_asks_for_tls_is_encrypted_and_verified() {
    let pg = Pg::connect(tls_url(), 2).unwrap();
    assert!(pg.tls().enabled());
    assert!(encrypted(&pg).unwrap(), "not encrypted over {}", tls_url());
    // The same server in the clear when the URL does not ask.
    let plain = Pg::connect(&hysope_postgres::testing::url(), 2).unwrap();
    assert!(!encrypted(&plain).unwrap());
    // By its address too: the certificate names 127.0.0.1.
    let by_ip = tls_url().replace("@localhost:", "@127.0.0.1:");
    assert!(encrypted(&Pg::connect(&by_ip, 2).unwrap()).unwrap());
}

#[test]
fn a_server_whose_ca_is_not_trusted_is_refused() {
    // The system's roots only: the test CA is not among them.
    let (base, _) = tls_url().split_once('?').unwrap();
    let pg = Pg::connect(&format!("{base}?sslmode=require"), 2).unwrap();
    let err = encrypted(&pg).unwrap_err();
    let text = err.to_string();
    assert!(
        text.to_lowercase().contains("certificate") || text.contains("UnknownIssuer"),
        "{text}"
    );
}

fn queue() -> (hysope_postgres::testing::Schema, hysope_postgres::PgQueue) {
    let (schema, pg) = hysope_postgres::testing::fresh_schema_on(tls_url(), 8);
    assert!(pg.tls().enabled());
    (schema, hysope_postgres::PgQueue::open(pg).unwrap())
}

hysope_jobs::job_queue_suite!(crate::queue());

fn records() -> (
    hysope_postgres::testing::Schema,
    std::sync::Arc<dyn hysope_registry::Records>,
) {
    let (schema, pg) = hysope_postgres::testing::fresh_schema_on(tls_url(), 4);
    (
        schema,
        std::sync::Arc::new(hysope_postgres::PgRecords::open(pg).unwrap()),
    )
}

hysope_registry::records_suite!(crate::records());
