//! What each subcommand does (the binary's `main` only dispatches here).

use std::process::ExitCode;

use crate::audit::CfHasher;
use crate::cli::{Command, HsmCommand, ProducerCommand, TxCommand};
use crate::config::Config;
use crate::db::producers::NewProducer;
use crate::db::transactions::{TransactionQuery, TransactionRecord, search};

/// Exit code for configuration errors (EX_CONFIG).
pub const EX_CONFIG: u8 = 78;

/// Runs the commands that need the configuration.
pub async fn with_config(config: Config, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::CheckConfig => {
            println!("configuration valid");
        }
        Command::Migrate => {
            let pool = crate::db::pool(&config.database)?;
            let n = crate::db::migrate(&pool).await?;
            println!("{n} migration(s) applied");
        }
        Command::Producer { action } => producer(&config, action).await?,
        Command::Tx {
            action:
                TxCommand::Show {
                    id,
                    document,
                    cf,
                    json,
                },
        } => {
            let pool = crate::db::pool(&config.database)?;
            let hasher = CfHasher::of(&config.audit);
            let q = TransactionQuery {
                id,
                document_id: document,
                patient_cf_hmac: cf.map(|c| hasher.candidates(&c)),
                ..Default::default()
            };
            let rows = search(&pool, &q).await?;
            if rows.is_empty() {
                eprintln!("no transaction found");
                return Ok(ExitCode::from(1));
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                rows.iter().for_each(print_record);
            }
        }
        Command::Hsm {
            action: HsmCommand::Status,
        } => hsm_status(&config)?,
        other => anyhow::bail!("{other:?} does not take a configuration"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn producer(config: &Config, action: ProducerCommand) -> anyhow::Result<()> {
    let pool = crate::db::pool(&config.database)?;
    crate::db::migrate(&pool).await?;
    match action {
        ProducerCommand::Add {
            cn,
            app_id,
            app_vendor,
            app_version,
            role,
            organization,
            signing_cert,
        } => {
            let mut pems = Vec::new();
            for p in &signing_cert {
                let pem = std::fs::read_to_string(p)?;
                hsm::Certificate::parse_pem_chain(pem.as_bytes(), &p.display().to_string())?;
                pems.push(pem.trim_end().to_string() + "\n");
            }
            let signing_cert_pem = (!pems.is_empty()).then(|| pems.concat());
            let p = crate::db::producers::upsert(
                &pool,
                &NewProducer {
                    cert_cn: cn,
                    application_id: app_id,
                    application_vendor: app_vendor,
                    application_version: app_version,
                    role,
                    organization,
                    signing_cert_pem,
                },
            )
            .await?;
            println!("producer {} registered (id {})", p.cert_cn, p.id);
        }
        ProducerCommand::List => {
            println!(
                "{:<5} {:<8} {:<40} {:<12} {:<10} APPLICATION",
                "ID", "ENABLED", "CN", "ROLE", "ORG"
            );
            for p in crate::db::producers::list(&pool).await? {
                println!(
                    "{:<5} {:<8} {:<40} {:<12} {:<10} {}/{}/{}",
                    p.id,
                    p.enabled,
                    p.cert_cn,
                    p.role,
                    p.organization,
                    p.application_id,
                    p.application_vendor,
                    p.application_version
                );
            }
        }
        ProducerCommand::Disable { cn } => {
            if crate::db::producers::disable(&pool, &cn).await? {
                println!("producer {cn} disabled");
            } else {
                anyhow::bail!("no producer with CN {cn:?}");
            }
        }
    }
    Ok(())
}

fn hsm_status(config: &Config) -> anyhow::Result<()> {
    match &config.keys.pkcs11 {
        Some(p) if config.keys.backend == crate::config::KeyBackend::Pkcs11 => {
            println!("module       {}", p.module);
            println!("token        {}", p.token_label);
            let token = crate::keys::open_token(p)?;
            println!(
                "  {:<12} {:<4} {:<15} {:<12} {:<10} CERTIFICATE",
                "CLASS", "ID", "LABEL", "EXTRACTABLE", "SENSITIVE"
            );
            for o in hsm::pkcs11::admin::inventory(&token)? {
                let flag = |b: Option<bool>| b.map(|b| b.to_string()).unwrap_or_else(|| "-".into());
                let cert = o
                    .certificate
                    .map(|(cn, _)| cn)
                    .unwrap_or_else(|| "-".into());
                println!(
                    "  {:<12} {:<4} {:<15} {:<12} {:<10} {cert}",
                    o.class,
                    o.id,
                    o.label,
                    flag(o.extractable),
                    flag(o.sensitive)
                );
            }
        }
        _ => println!("backend      pem (development only: private keys in files)"),
    }
    let store = crate::keys::KeyStore::open(&config.keys)?;
    println!("keys         usable: both keys sign and match their certificates");
    for e in store.expiries() {
        println!(
            "certificate  {:<15} {:<28} expires in {} days ({})",
            e.certificate,
            e.subject,
            e.seconds_left / 86_400,
            e.status
        );
    }
    Ok(())
}

fn print_record(r: &TransactionRecord) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("transaction   {}", r.tx_id);
    println!("  received    {}", r.received_at);
    println!(
        "  producer    {} (id {})",
        opt(&r.client_cn),
        r.producer_id.map(|i| i.to_string()).unwrap_or("-".into())
    );
    println!(
        "  application {}/{}/{}",
        opt(&r.application_id),
        opt(&r.application_vendor),
        opt(&r.application_version)
    );
    println!(
        "  request     {} {} ({}, case {})",
        r.method, r.path, r.operation, r.certificate_case
    );
    println!(
        "  outcome     {} HTTP {} {}",
        r.outcome,
        r.http_status,
        opt(&r.problem_type)
    );
    if let Some(t) = &r.problem_title {
        println!("  problem     {t}");
    }
    println!(
        "  gateway     traceID {} spanID {}",
        opt(&r.gtw_trace_id),
        opt(&r.gtw_span_id)
    );
    println!("  workflow    {}", opt(&r.workflow_instance_id));
    println!("  document    {}", opt(&r.document_id));
    println!(
        "  file        sha256 {} ({} bytes)",
        opt(&r.file_sha256),
        r.file_bytes.map(|b| b.to_string()).unwrap_or("-".into())
    );
    println!(
        "  patient     {}",
        if r.patient_cf_hmac.is_some() {
            "CF hash recorded"
        } else {
            "-"
        }
    );
    if let Some(w) = &r.local_warnings {
        println!("  warnings    {w}");
    }
    if let Some(d) = &r.delivery {
        println!(
            "  delivery    {d}{}{}",
            r.delivery_status
                .map(|s| format!(", gateway HTTP {s}"))
                .unwrap_or_default(),
            r.delivered_at
                .map(|t| format!(" at {t}"))
                .unwrap_or_default()
        );
    }
    println!(
        "  timing      total {:.1} ms, gateway {}",
        r.duration_ms,
        r.gtw_duration_ms
            .map(|d| format!("{d:.1} ms"))
            .unwrap_or("-".into())
    );
}
