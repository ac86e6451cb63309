//! `ops/bench/hsm.sh`: the same RSA-2048 key signing in memory and inside SoftHSM2.
//!
//! `hsmbench prepare --dir D` writes the key (PKCS#8), a CA and the key's certificate;
//! the script imports the key into a token; `hsmbench run --dir D …` measures JWT
//! signatures per second and mutual-TLS handshakes per second with each backend.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use hsm::jwt::{RawClaims, sign_rs256};
use hsm::pkcs11::{KeyRef, Token};
use hsm::{Certificate, PemSigner, Pkcs11Signer, RegionalKeys, Signer};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256,
    PKCS_RSA_SHA256, RsaKeySize,
};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write key, CA and certificate into DIR.
    Prepare {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Measure both backends.
    Run {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        module: PathBuf,
        #[arg(long)]
        label: String,
        #[arg(long)]
        pin: String,
        #[arg(long, default_value_t = 3)]
        seconds: u64,
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
}

fn prepare(dir: &PathBuf) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name.push(DnType::CommonName, "bench CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    std::fs::write(dir.join("ca.pem"), ca.self_signed(&ca_key)?.pem())?;
    let key = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "S1#160#BENCH");
    let cert = leaf.signed_by(&key, &Issuer::new(ca.clone(), &ca_key))?;
    std::fs::write(dir.join("key.pem"), key.serialize_pem())?;
    std::fs::write(dir.join("cert.pem"), cert.pem())?;
    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let server = CertificateParams::new(vec!["localhost".to_string()])?
        .signed_by(&server_key, &Issuer::new(ca, &ca_key))?;
    std::fs::write(dir.join("server.pem"), server.pem())?;
    std::fs::write(dir.join("server.key"), server_key.serialize_pem())?;
    Ok(())
}

/// Runs `op` on `threads` threads for `secs` seconds; returns operations per second.
fn rate(threads: usize, secs: u64, op: impl Fn() + Send + Sync + 'static) -> f64 {
    let op = Arc::new(op);
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (op, count, stop) = (op.clone(), count.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    op();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    handles
        .into_iter()
        .for_each(|h| h.join().expect("bench thread"));
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn handshakes_per_sec(
    dir: &std::path::Path,
    signer: Arc<dyn Signer>,
    threads: usize,
    secs: u64,
) -> anyhow::Result<f64> {
    use middleware::server::tls::{load_roots, strict_server_config};
    let d = |n: &str| dir.join(n).display().to_string();
    let server = Arc::new(strict_server_config(
        &d("server.pem"),
        &d("server.key"),
        &d("ca.pem"),
    )?);
    let keys = RegionalKeys {
        authentication: signer.clone(),
        signature: signer,
    };
    let certified = keys.tls_certified_key()?;
    let client = Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(load_roots(&d("ca.pem"))?)
            .with_client_cert_resolver(Arc::new(integration_tests::FixedClientCert(certified))),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(server);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = acceptor.accept(tcp).await;
                });
            }
        });
        let count = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(secs);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..threads * 2 {
            let (client, count) = (client.clone(), count.clone());
            tasks.push(tokio::spawn(async move {
                let connector = tokio_rustls::TlsConnector::from(client);
                while Instant::now() < deadline {
                    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
                    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
                    if connector.connect(name, tcp).await.is_ok() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for t in tasks {
            t.await?;
        }
        Ok(count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
    })
}

fn main() -> anyhow::Result<()> {
    middleware::install_crypto_provider();
    match Args::parse().command {
        Cmd::Prepare { dir } => prepare(&dir),
        Cmd::Run {
            dir,
            module,
            label,
            pin,
            seconds,
            threads,
        } => {
            let d = |n: &str| dir.join(n).display().to_string();
            let memory: Arc<dyn Signer> = Arc::new(PemSigner::load(&d("cert.pem"), &d("key.pem"))?);
            let token = Arc::new(Token::open(&module, &label, pin.into(), threads.max(2))?);
            let chain = Certificate::load_pem_chain(&d("cert.pem"))?;
            let key = KeyRef {
                id: vec![2],
                label: "signature".into(),
            };
            let hsm: Arc<dyn Signer> = Arc::new(Pkcs11Signer::new(token, key, chain)?);
            let claims = RawClaims::from_value(&serde_json::json!({
                "sub": "RSSMRA22A01A399Z^^^&2.16.840.1.113883.2.9.4.3.2&ISO", "iss": "integrity:S1#160#BENCH",
                "aud": "https://gateway/v1", "iat": 1, "exp": 2, "jti": "x", "person_id": "RSSMRA22A01A399Z",
                "attachment_hash": "00", "action_id": "CREATE", "purpose_of_use": "TREATMENT",
            }))?;
            let mut results = Vec::new();
            for (name, signer) in [("memory", memory.clone()), ("softhsm2", hsm.clone())] {
                let s = signer.clone();
                let c = claims.clone();
                let jwt = rate(threads, seconds, move || {
                    sign_rs256(&c, s.as_ref()).expect("sign");
                });
                let tls = handshakes_per_sec(&dir, signer, threads, seconds)?;
                results.push((name, jwt, tls));
            }
            println!(
                "{:<10}{:>16}{:>20}",
                "key", "JWT signs/s", "mTLS handshakes/s"
            );
            for (name, jwt, tls) in &results {
                println!("{name:<10}{jwt:>16.1}{tls:>20.1}");
            }
            let (m, h) = (&results[0], &results[1]);
            println!(
                "softhsm2/memory: JWT x{:.2}, handshakes x{:.2} ({threads} threads, {seconds} s each, same RSA-2048 key, TLS 1.3)",
                h.1 / m.1,
                h.2 / m.2
            );
            Ok(())
        }
    }
}
