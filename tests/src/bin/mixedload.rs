//! Load generator for `ops/load/mixed.sh`: mixed producer traffic at a fixed rate (open
//! loop) against a running middleware — REST validations and validate-and-create
//! publications with a client certificate, and SOAP consultations (`IDocumentService`
//! `findDocuments`, signed SAML assertion and smart-card signature) — for a bounded time.
//! Every minute it prints one JSON line: requests by kind, errors, p50/p99 latency, and the
//! middleware's RSS. At the end, one JSON summary with every transaction id the middleware
//! returned, for the caller to check against the audit trail.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use dev_tools::dev_jwt::JwtOperation;
use integration_tests::producer_args::ProducerArgs;
use integration_tests::soap::{Identity, OPERATOR_CF, envelope};
use tokio::sync::Mutex;

#[derive(Parser, Debug)]
struct Args {
    /// The middleware's base URL, without `/v1`.
    #[arg(long)]
    url: String,
    #[command(flatten)]
    producer: ProducerArgs,
    /// PDF for validations, and the signed PDF for publications.
    #[arg(long)]
    validation_pdf: String,
    #[arg(long)]
    publication_pdf: String,
    /// The patient of the SOAP consultations (its consent is recorded first).
    #[arg(long, default_value = "PROVAX00X00X000Y")]
    patient: String,
    /// ASL of the SOAP services.
    #[arg(long, default_value = "aslba")]
    asl: String,
    /// Requests per second in all.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    #[arg(long, default_value_t = 1800)]
    duration_secs: u64,
    /// Seconds between reports.
    #[arg(long, default_value_t = 60)]
    report_secs: u64,
    /// The middleware's process id, for its RSS.
    #[arg(long)]
    pid: u32,
    /// Longest wait for one answer.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Writes one JSON line per request here (fault scripts judge each answer).
    #[arg(long)]
    record: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Validation,
    Publication,
    Consultation,
}

impl Kind {
    /// 50 % validations, 30 % publications, 20 % consultations, interleaved.
    fn of(n: u64) -> Self {
        match n % 10 {
            0 | 2 | 4 | 6 | 8 => Self::Validation,
            1 | 5 | 9 => Self::Publication,
            _ => Self::Consultation,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::Validation => "validation",
            Self::Publication => "publication",
            Self::Consultation => "consultation",
        }
    }
}

/// One answered (or failed) request.
struct Done {
    n: u64,
    kind: Kind,
    ok: bool,
    latency: Duration,
    tx: Option<String>,
    detail: Option<String>,
    /// Milliseconds from the start of the run to the request's scheduled time.
    at_ms: u64,
    /// HTTP status (0: no answer).
    status: u16,
    /// `type` of a problem document, or the `faultcode` of a SOAP fault.
    problem: Option<String>,
    /// Whether the middleware queued the publication (`[MW-QUEUED]` warning).
    queued: bool,
    /// SHA-256 of the request body (publications: unique per request).
    body_sha256: Option<String>,
}

struct Traffic {
    client: reqwest::Client,
    url: String,
    asl: String,
    validation: (Vec<u8>, String, String),
    publication: (Vec<u8>, String, String),
    /// Consultations, each signed anew by xmlsec1 on a thread of its own (a message is
    /// accepted once), ahead of the rate.
    consultations: Mutex<tokio::sync::mpsc::Receiver<String>>,
}

fn form(request: &str, pdf: &[u8]) -> (String, Vec<u8>) {
    let boundary = "fsemwmixedloadboundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"requestBody\"\r\n\r\n{request}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"doc.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").into_bytes();
    body.extend_from_slice(pdf);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Traffic {
    async fn send(&self, n: u64, at_ms: u64) -> Done {
        let kind = Kind::of(n);
        let consultation = match kind {
            Kind::Consultation => self.consultations.lock().await.recv().await,
            _ => None,
        };
        let started = Instant::now();
        let mut body_sha256 = None;
        let request = match kind {
            Kind::Validation | Kind::Publication => {
                let (pdf, auth, sig) = if kind == Kind::Validation {
                    &self.validation
                } else {
                    &self.publication
                };
                let (path, request) = if kind == Kind::Validation {
                    (
                        "documents/validation",
                        r#"{"healthDataFormat":"CDA","mode":"ATTACHMENT","activity":"VALIDATION"}"#
                            .to_string(),
                    )
                } else {
                    ("documents/validate-and-create", serde_json::json!({
                        "healthDataFormat": "CDA", "mode": "ATTACHMENT", "tipologiaStruttura": "Ospedale",
                        "identificativoDoc": format!("2.16.840.1.113883.2.9.2.160.4.4^LOAD-{n}"),
                        "identificativoRep": "2.16.840.1.113883.2.9.2.160.4.5.1", "tipoDocumentoLivAlto": "REF",
                        "assettoOrganizzativo": "AD_PSC001", "tipoAttivitaClinica": "CON",
                        "identificativoSottomissione": format!("2.16.840.1.113883.2.9.2.160.4.3.{n}"),
                    }).to_string())
                };
                let (ct, body) = form(&request, pdf);
                if kind == Kind::Publication {
                    body_sha256 = Some(hex::encode(
                        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body).as_ref(),
                    ));
                }
                self.client
                    .post(format!("{}/v1/{path}", self.url))
                    .header("content-type", ct)
                    .header("authorization", auth)
                    .header("fse-jwt-signature", sig)
                    .body(body)
            }
            Kind::Consultation => self
                .client
                .post(format!("{}/{}/IDocumentService", self.url, self.asl))
                .header("content-type", "text/xml; charset=UTF-8")
                .body(consultation.unwrap_or_default()),
        };
        match request.send().await {
            Ok(r) => {
                let status = r.status();
                let tx = r
                    .headers()
                    .get("x-transaction-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let text = r.text().await.unwrap_or_default();
                let ok =
                    status.is_success() && (kind != Kind::Consultation || !text.contains("Fault>"));
                let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
                Done {
                    n,
                    kind,
                    ok,
                    latency: started.elapsed(),
                    tx,
                    detail: (!ok).then(|| format!("{status}: {}", &text[..text.len().min(300)])),
                    at_ms,
                    status: status.as_u16(),
                    problem: json
                        .as_ref()
                        .and_then(|j| j.get("type"))
                        .and_then(|t| t.as_str())
                        .map(str::to_owned)
                        .or_else(|| {
                            let code = text.split("<faultcode>").nth(1)?;
                            Some(code[..code.find('<')?].to_string())
                        }),
                    queued: text.contains("[MW-QUEUED]"),
                    body_sha256,
                }
            }
            Err(e) => Done {
                n,
                kind,
                ok: false,
                latency: started.elapsed(),
                tx: None,
                detail: Some(format!("no answer: {e}")),
                at_ms,
                status: 0,
                problem: None,
                queued: false,
                body_sha256,
            },
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Signed `findDocuments` messages for `patient`, made by a thread as they are taken.
fn signed_consultations(patient: String) -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    std::thread::spawn(move || {
        let identity = Identity::new(&patient, "TREATMENT");
        loop {
            let message = envelope(
                "findDocuments",
                &format!("<codiceFiscalePaziente>{patient}</codiceFiscalePaziente>"),
                &identity.header(),
            );
            if tx.blocking_send(message).is_err() {
                return;
            }
        }
    });
    rx
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    middleware::install_crypto_provider();
    let a = Args::parse();
    let validation_pdf = std::fs::read(&a.validation_pdf)?;
    let publication_pdf = std::fs::read(&a.publication_pdf)?;
    let (va, vs) = a
        .producer
        .tokens(JwtOperation::Validation, &validation_pdf)?;
    let (pa, ps) = a.producer.tokens(JwtOperation::Create, &publication_pdf)?;
    let client = a
        .producer
        .client(64, Some(Duration::from_secs(a.timeout_secs)))?;
    // The patient's consultation consent, once, as an operator records it.
    let consent = envelope(
        "registraConsensi",
        &format!(
            "<codiceFiscalePaziente>{}</codiceFiscalePaziente><operatore><codiceFiscale>{OPERATOR_CF}</codiceFiscale></operatore><consenso><codice>C2</codice><valore>true</valore></consenso>",
            a.patient
        ),
        &Identity::new(&a.patient, "CONSENT").header(),
    );
    let answer = client
        .post(format!("{}/{}/IGestoreConsensoService", a.url, a.asl))
        .header("content-type", "text/xml; charset=UTF-8")
        .body(consent)
        .send()
        .await?;
    anyhow::ensure!(
        answer.status().is_success(),
        "consent: {}",
        answer.text().await?
    );
    let traffic = Arc::new(Traffic {
        client,
        url: a.url.clone(),
        asl: a.asl.clone(),
        validation: (validation_pdf, va, vs),
        publication: (publication_pdf, pa, ps),
        consultations: Mutex::new(signed_consultations(a.patient.clone())),
    });

    let done: Arc<Mutex<Vec<Done>>> = Arc::default();
    let in_flight = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + Duration::from_secs(a.duration_secs);
    let reporter = {
        let (done, in_flight, pid, every) = (done.clone(), in_flight.clone(), a.pid, a.report_secs);
        tokio::spawn(async move {
            let mut minute = 0u64;
            let mut seen = 0usize;
            loop {
                minute += 1;
                tokio::time::sleep_until((start + Duration::from_secs(every * minute)).into())
                    .await;
                let all = done.lock().await;
                let window = &all[seen..];
                seen = all.len();
                let mut lat: Vec<f64> = window
                    .iter()
                    .map(|d| d.latency.as_secs_f64() * 1000.0)
                    .collect();
                lat.sort_by(f64::total_cmp);
                let count = |k: Kind| window.iter().filter(|d| d.kind == k).count();
                println!(
                    "{}",
                    serde_json::json!({
                        "report": minute, "answered": window.len(),
                        "validation": count(Kind::Validation), "publication": count(Kind::Publication),
                        "consultation": count(Kind::Consultation),
                        "errors": window.iter().filter(|d| !d.ok).count(),
                        "p50_ms": percentile(&lat, 0.5), "p99_ms": percentile(&lat, 0.99),
                        "in_flight": in_flight.load(Ordering::Relaxed), "rss_kib": rss_kib(pid),
                    })
                );
                if Instant::now() >= end && in_flight.load(Ordering::Relaxed) == 0 {
                    break;
                }
            }
        })
    };

    // Open loop: request n is due at start + n / rate, whatever happened to the others.
    let mut n = 0u64;
    let mut sent = 0u64;
    loop {
        let at = start + Duration::from_secs_f64(n as f64 / a.rate);
        if at >= end {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        let (traffic, done, in_flight) = (traffic.clone(), done.clone(), in_flight.clone());
        in_flight.fetch_add(1, Ordering::Relaxed);
        let at_ms = (at - start).as_millis() as u64;
        tokio::spawn(async move {
            let d = traffic.send(n, at_ms).await;
            done.lock().await.push(d);
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
        n += 1;
        sent += 1;
    }
    while in_flight.load(Ordering::Relaxed) > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reporter.abort();
    let all = done.lock().await;
    if let Some(path) = &a.record {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for d in all.iter() {
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "n": d.n, "kind": d.kind.name(), "at_ms": d.at_ms, "status": d.status,
                    "type": d.problem, "queued": d.queued, "body_sha256": d.body_sha256,
                    "tx": d.tx, "latency_ms": d.latency.as_secs_f64() * 1000.0,
                })
            )?;
        }
    }
    let mut lat: Vec<f64> = all
        .iter()
        .map(|d| d.latency.as_secs_f64() * 1000.0)
        .collect();
    lat.sort_by(f64::total_cmp);
    let errors: Vec<String> = all
        .iter()
        .filter(|d| !d.ok)
        .filter_map(|d| d.detail.as_ref().map(|x| format!("{}: {x}", d.kind.name())))
        .take(20)
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "summary": true, "sent": sent, "answered": all.len(),
            "errors": all.iter().filter(|d| !d.ok).count(),
            "publications_accepted": all.iter().filter(|d| d.kind == Kind::Publication && d.ok).count(),
            "p50_ms": percentile(&lat, 0.5), "p99_ms": percentile(&lat, 0.99),
            "rss_kib": rss_kib(a.pid), "first_errors": errors,
            "transaction_ids": all.iter().filter_map(|d| d.tx.clone()).collect::<Vec<_>>(),
        })
    );
    Ok(())
}
