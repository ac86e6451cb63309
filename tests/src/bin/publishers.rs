//! Producers for `ops/chaos/kill.sh`: each of N producers (its own client certificate and
//! signing key) sends its share of M validate-and-create publications, one at a time, as a
//! real producer would: a request left without an answer (the middleware was killed) is
//! sent again, same bytes, until it is answered. Writes the number of publications answered
//! 2xx to `--progress` as it goes (the script kills the middleware at chosen counts), and one
//! JSON line per publication to `--record`: document id, producer, final status, tries,
//! SHA-256 of the body, transaction id.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use dev_tools::dev_jwt::JwtOperation;
use integration_tests::producer_args::ProducerArgs;

#[derive(Parser, Debug)]
struct Args {
    /// The middleware's base URL, without `/v1`.
    #[arg(long)]
    url: String,
    /// CA bundle for the middleware's server certificate.
    #[arg(long)]
    ca: String,
    /// `aud` of the tokens.
    #[arg(long)]
    aud: String,
    /// Folder with `p<i>.pem` / `p<i>.key` for each producer (client and signing pair).
    #[arg(long)]
    producers_dir: String,
    #[arg(long, default_value_t = 8)]
    producers: usize,
    #[arg(long, default_value_t = 1000)]
    publications: usize,
    /// The signed PDF published.
    #[arg(long)]
    pdf: String,
    /// Makes this run's document ids unique (the demo database persists).
    #[arg(long)]
    run: String,
    #[arg(long)]
    progress: String,
    #[arg(long)]
    record: String,
}

struct Outcome {
    n: usize,
    producer: usize,
    document_id: String,
    status: u16,
    tries: u32,
    body_sha256: String,
    tx: Option<String>,
}

fn form(request: &str, pdf: &[u8]) -> (String, Vec<u8>) {
    let boundary = "fsemwpublishersboundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"requestBody\"\r\n\r\n{request}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"doc.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").into_bytes();
    body.extend_from_slice(pdf);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn producer(
    args: Arc<Args>,
    p: usize,
    pdf: Arc<Vec<u8>>,
    accepted: Arc<AtomicUsize>,
) -> anyhow::Result<Vec<Outcome>> {
    let pem = format!("{}/p{p}.pem", args.producers_dir);
    let key = format!("{}/p{p}.key", args.producers_dir);
    let creds = ProducerArgs {
        ca: args.ca.clone(),
        cert: pem.clone(),
        key: key.clone(),
        jwt_cert: pem,
        jwt_key: key,
        aud: args.aud.clone(),
    };
    let client = creds.client(1, Some(Duration::from_secs(30)))?;
    let (auth, sig) = creds.tokens(JwtOperation::Create, &pdf)?;
    let mut out = Vec::new();
    for n in (p..args.publications).step_by(args.producers) {
        let document_id = format!("2.16.840.1.113883.2.9.2.160.4.4^KILL-{}-{n}", args.run);
        let request = serde_json::json!({
            "healthDataFormat": "CDA", "mode": "ATTACHMENT", "tipologiaStruttura": "Ospedale",
            "identificativoDoc": document_id,
            "identificativoRep": "2.16.840.1.113883.2.9.2.160.4.5.1", "tipoDocumentoLivAlto": "REF",
            "assettoOrganizzativo": "AD_PSC001", "tipoAttivitaClinica": "CON",
            "dataInizioPrestazione": "20241020110012", "attiCliniciRegoleAccesso": ["P99"],
            "identificativoSottomissione": format!("2.16.840.1.113883.2.9.2.160.4.3.{n}"),
        })
        .to_string();
        let (ct, body) = form(&request, &pdf);
        let body_sha256 =
            hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body).as_ref());
        let mut tries = 0;
        let (status, tx) = loop {
            tries += 1;
            let sent = client
                .post(format!("{}/v1/documents/validate-and-create", args.url))
                .header("content-type", &ct)
                .header("authorization", &auth)
                .header("fse-jwt-signature", &sig)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) => {
                    let tx = r
                        .headers()
                        .get("x-transaction-id")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let status = r.status().as_u16();
                    // The answer must be read in full to count as received.
                    if r.bytes().await.is_ok() {
                        break (status, tx);
                    }
                }
                Err(_) if tries < 600 => {}
                Err(e) => anyhow::bail!("{document_id}: no answer after {tries} tries: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        if (200..300).contains(&status) {
            accepted.fetch_add(1, Ordering::SeqCst);
        }
        out.push(Outcome {
            n,
            producer: p,
            document_id,
            status,
            tries,
            body_sha256,
            tx,
        });
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    middleware::install_crypto_provider();
    let args = Arc::new(Args::parse());
    let pdf = Arc::new(std::fs::read(&args.pdf)?);
    let accepted = Arc::new(AtomicUsize::new(0));
    let progress = {
        let (accepted, path) = (accepted.clone(), args.progress.clone());
        tokio::spawn(async move {
            // Replaced whole (write, then rename), so a reader never sees it half written.
            let tmp = format!("{path}.tmp");
            loop {
                let _ = std::fs::write(&tmp, accepted.load(Ordering::SeqCst).to_string())
                    .and_then(|()| std::fs::rename(&tmp, &path));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let tasks: Vec<_> = (0..args.producers)
        .map(|p| tokio::spawn(producer(args.clone(), p, pdf.clone(), accepted.clone())))
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    progress.abort();
    std::fs::write(&args.progress, accepted.load(Ordering::SeqCst).to_string())?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.record)?);
    for o in &all {
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "n": o.n, "producer": o.producer, "document_id": o.document_id, "status": o.status,
                "tries": o.tries, "body_sha256": o.body_sha256, "tx": o.tx,
            })
        )?;
    }
    println!(
        "{} publications, {} answered 2xx, {} sent more than once",
        all.len(),
        accepted.load(Ordering::SeqCst),
        all.iter().filter(|o| o.tries > 1).count()
    );
    Ok(())
}
