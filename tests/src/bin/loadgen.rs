//! Load generator for `ops/bench/*`: validation requests over mutual TLS.
//!
//! Tokens are minted once (the gateway does not check `jti` uniqueness) and the
//! multipart body is built once, so the client spends its time on the wire.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use dev_tools::dev_jwt::JwtOperation;
use integration_tests::producer_args::ProducerArgs;

/// Command line.
#[derive(Parser)]
struct Args {
    /// Validation URL base (`…/v1`).
    #[arg(long)]
    url: String,
    #[command(flatten)]
    producer: ProducerArgs,
    /// The PDF.
    #[arg(long)]
    pdf: String,
    /// Pad the PDF to at least this size (valid incremental update).
    #[arg(long, default_value_t = 200 * 1024)]
    pad_to: usize,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    #[arg(long, default_value_t = 2)]
    warmup_secs: u64,
    /// Open loop: requests per second in all, each on a schedule (0: each connection sends
    /// its next request as soon as the previous one is answered). Latency is measured from
    /// the scheduled time, so a server that falls behind is charged for the wait.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Label printed with the figures.
    #[arg(long)]
    label: String,
    /// Send validate-and-create publications instead of validations (2xx counts as done).
    #[arg(long)]
    publication: bool,
}

/// Appends an unreferenced stream object and a new xref section (PDF incremental update).
fn pad_pdf(pdf: Vec<u8>, target: usize) -> anyhow::Result<Vec<u8>> {
    if pdf.len() >= target {
        return Ok(pdf);
    }
    let doc = lopdf::Document::load_mem(&pdf)?;
    let root = doc.trailer.get(b"Root")?.as_reference()?;
    let tail = String::from_utf8_lossy(&pdf[pdf.len().saturating_sub(64)..]).to_string();
    let prev: usize = tail
        .rsplit("startxref")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("0")
        .parse()?;
    let id = doc.max_id + 1;
    let filler = vec![b'0'; target - pdf.len()];
    let mut out = pdf;
    out.extend_from_slice(b"\n");
    let offset = out.len();
    out.extend_from_slice(
        format!("{id} 0 obj\n<< /Length {} >>\nstream\n", filler.len()).as_bytes(),
    );
    out.extend_from_slice(&filler);
    out.extend_from_slice(b"\nendstream\nendobj\n");
    let xref = out.len();
    out.extend_from_slice(format!("xref\n{id} 1\n{offset:010} 00000 n \ntrailer\n<< /Size {} /Root {} {} R /Prev {prev} >>\nstartxref\n{xref}\n%%EOF\n", id + 1, root.0, root.1).as_bytes());
    lopdf::Document::load_mem(&out)?;
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    middleware::install_crypto_provider();
    let a = Args::parse();
    let pdf = pad_pdf(std::fs::read(&a.pdf)?, a.pad_to)?;
    let op = if a.publication {
        JwtOperation::Create
    } else {
        JwtOperation::Validation
    };
    let (auth, sig) = a.producer.tokens(op, &pdf)?;
    let boundary = "fsemwbenchboundary";
    let request = if a.publication {
        serde_json::json!({
            "healthDataFormat": "CDA", "mode": "ATTACHMENT", "tipologiaStruttura": "Ospedale",
            "identificativoDoc": "2.16.840.1.113883.2.9.2.160.4.4^BENCH",
            "identificativoRep": "2.16.840.1.113883.2.9.2.160.4.5.1", "tipoDocumentoLivAlto": "REF",
            "assettoOrganizzativo": "AD_PSC001", "tipoAttivitaClinica": "CON",
            "identificativoSottomissione": "2.16.840.1.113883.2.9.2.160.4.3.1",
        })
        .to_string()
    } else {
        r#"{"healthDataFormat":"CDA","mode":"ATTACHMENT","activity":"VALIDATION"}"#.to_string()
    };
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"requestBody\"\r\n\r\n{request}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"doc.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").into_bytes();
    body.extend_from_slice(&pdf);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let body = bytes::Bytes::from(body);
    let client = a.producer.client(a.concurrency, None)?;
    let url = if a.publication {
        format!("{}/documents/validate-and-create", a.url)
    } else {
        format!("{}/documents/validation", a.url)
    };
    let ct = format!("multipart/form-data; boundary={boundary}");
    let shared = Arc::new((client, url, ct, auth, sig, body));

    let rate = a.rate;
    let run = |secs: u64| {
        let shared = shared.clone();
        let workers = a.concurrency;
        async move {
            let start = Instant::now();
            let deadline = start + Duration::from_secs(secs);
            let mut handles = Vec::new();
            for w in 0..workers {
                let s = shared.clone();
                handles.push(tokio::spawn(async move {
                    let (client, url, ct, auth, sig, body) = &*s;
                    let mut lat = Vec::new();
                    let mut errors = 0u64;
                    let mut k = 0u64;
                    while Instant::now() < deadline {
                        let t = if rate > 0.0 {
                            // This connection's k-th request, in the global schedule.
                            let at = start
                                + Duration::from_secs_f64(
                                    (k * workers as u64 + w as u64) as f64 / rate,
                                );
                            k += 1;
                            if at >= deadline {
                                break;
                            }
                            tokio::time::sleep_until(at.into()).await;
                            at
                        } else {
                            Instant::now()
                        };
                        let r = client
                            .post(url)
                            .header("Content-Type", ct)
                            .header("Authorization", auth)
                            .header("FSE-JWT-Signature", sig)
                            .body(body.clone())
                            .send()
                            .await;
                        match r {
                            Ok(r) if r.status().is_success() => {
                                let _ = r.bytes().await;
                                lat.push(t.elapsed());
                            }
                            _ => errors += 1,
                        }
                    }
                    (lat, errors)
                }));
            }
            let mut lat = Vec::new();
            let mut errors = 0;
            for h in handles {
                let (l, e) = h.await.expect("worker");
                lat.extend(l);
                errors += e;
            }
            (lat, errors)
        }
    };
    let (warm, _) = run(a.warmup_secs).await;
    let started = Instant::now();
    let (mut lat, errors) = run(a.duration_secs).await;
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    println!(
        "{}",
        serde_json::json!({
            "label": a.label, "pdf_bytes": pdf.len(), "concurrency": a.concurrency, "requests": lat.len(), "errors": errors, "warmup_requests": warm.len(), "rate": rate,
            "rps": lat.len() as f64 / elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99), "p999_ms": pct(0.999),
        })
    );
    Ok(())
}
