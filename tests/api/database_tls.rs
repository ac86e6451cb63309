//! PostgreSQL over TLS (`database.sslmode = "verify-full"`) against a throw-away cluster
//! that refuses clients without TLS: the product connects and migrates over TLS, and
//! refuses a server whose certificate another CA issued or that names another host.

use integration_tests::pg::TlsCluster;
use middleware::config::{DatabaseConfig, DbSslMode};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};

struct Pki {
    dir: std::path::PathBuf,
    server_cert: String,
    server_key: String,
}

fn ca(name: &str) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    (p, key)
}

/// A database CA, its server certificate for `localhost`, and a stranger CA.
fn pki() -> Pki {
    let dir = std::env::temp_dir().join(format!("fsemw-pg-pki-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca_params, ca_key) = ca("FSEMW test database CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("db-ca.pem"), ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "localhost");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = p.signed_by(&key, &issuer).unwrap();
    let (stranger, stranger_key) = ca("Some other CA");
    std::fs::write(
        dir.join("stranger-ca.pem"),
        stranger.self_signed(&stranger_key).unwrap().pem(),
    )
    .unwrap();
    Pki {
        server_cert: server.pem(),
        server_key: key.serialize_pem(),
        dir,
    }
}

fn config(url: String, sslmode: DbSslMode, ca: Option<std::path::PathBuf>) -> DatabaseConfig {
    DatabaseConfig {
        url,
        password: None,
        pool_size: 2,
        sslmode,
        sslrootcert: ca.map(|p| p.display().to_string()),
    }
}

async fn connect(cfg: &DatabaseConfig) -> Result<deadpool_postgres::Object, String> {
    let pool = middleware::db::pool(cfg).map_err(|e| e.to_string())?;
    pool.get()
        .await
        .map_err(|e| middleware::db::DbError::from(e).to_string())
}

/// The connection is refused, saying `why`.
async fn refused(cfg: DatabaseConfig, why: &str) {
    let e = connect(&cfg).await.unwrap_err();
    assert!(e.contains(why), "{e}");
}

#[tokio::test]
async fn the_database_is_reached_over_verified_tls_only() {
    let pki = pki();
    let cluster = TlsCluster::start(&pki.server_cert, &pki.server_key);
    let url =
        |host: &str, db: &str| format!("host={host} port={} user=app dbname={db}", cluster.port);
    let ca = pki.dir.join("db-ca.pem");

    // verify-full: connected, the session is encrypted, and the migrations run over it.
    let cfg = config(
        url("localhost", "postgres"),
        DbSslMode::VerifyFull,
        Some(ca.clone()),
    );
    let conn = connect(&cfg).await.expect("TLS connection");
    let row = conn
        .query_one(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "the session is not encrypted");
    assert!(row.get::<_, String>(1).starts_with("TLSv1."));
    conn.batch_execute("CREATE DATABASE fsemw_over_tls")
        .await
        .unwrap();
    let pool = middleware::db::pool(&config(
        url("localhost", "fsemw_over_tls"),
        DbSslMode::VerifyFull,
        Some(ca.clone()),
    ))
    .unwrap();
    let applied = middleware::db::migrate(&pool)
        .await
        .expect("migrations over TLS");
    assert!(applied > 0);

    // Without TLS the server refuses (pg_hba: hostnossl … reject).
    refused(
        config(url("localhost", "postgres"), DbSslMode::Disable, None),
        "no encryption",
    )
    .await;

    // A server certificate from another CA, or naming another host, is refused.
    refused(
        config(
            url("localhost", "postgres"),
            DbSslMode::VerifyFull,
            Some(pki.dir.join("stranger-ca.pem")),
        ),
        "UnknownIssuer",
    )
    .await;
    refused(
        config(
            url("127.0.0.1", "postgres"),
            DbSslMode::VerifyFull,
            Some(ca),
        ),
        "not valid for name",
    )
    .await;
    let _ = std::fs::remove_dir_all(&pki.dir);
}
