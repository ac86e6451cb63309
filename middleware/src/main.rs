//! `fsemw`: thin entry point; everything lives in the library.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use middleware::cli::{Cli, Command, HsmCommand};
use middleware::commands::{EX_CONFIG, with_config};
use middleware::config::Config;
use middleware::{
    console, devtools, gateway_sim, install_crypto_provider, metrics, startup, telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    install_crypto_provider();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fsemw: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::DevPki { out, region_code } => {
            let names = devtools::dev_pki::PkiNames {
                region_code,
                ..Default::default()
            };
            devtools::dev_pki::generate(&out, &names)?;
            println!("dev PKI written to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::DevJwt {
            pdf,
            operation,
            claims,
            field,
            key,
            cert,
        } => {
            let pdf = pdf.map(std::fs::read).transpose()?;
            let overrides = match claims {
                Some(c) => {
                    serde_json::from_str(&c).map_err(|e| anyhow::anyhow!("--claims: {e}"))?
                }
                None => serde_json::Map::new(),
            };
            let claims = devtools::dev_jwt::claims_for(operation, pdf.as_deref(), &overrides)?;
            let signer = devtools::dev_jwt::signer(&cert, &key)?;
            let pair = devtools::dev_jwt::mint(&claims, &signer)?;
            match field {
                Some(f) => println!("{}", pair[f.as_str()].as_str().unwrap_or_default()),
                None => println!("{pair}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Hsm {
            action:
                HsmCommand::InitDev {
                    dir,
                    ca_cert,
                    ca_key,
                    label,
                    region_code,
                    module,
                },
        } => init_dev_token(dir, ca_cert, ca_key, label, region_code, module),
        Command::Validate {
            files,
            mode,
            activity,
            rules,
            format,
        } => validate(&files, mode, &activity, &rules, &format),
        Command::ConsolePassword { iterations } => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                eprintln!("fsemw: empty password on standard input");
                return Ok(ExitCode::from(EX_CONFIG));
            }
            println!("{}", console::auth::hash_password(password, iterations));
            Ok(ExitCode::SUCCESS)
        }
        Command::GatewaySim(opts) => {
            telemetry::init("plain", "info");
            let sim =
                gateway_sim::GatewaySim::build(&opts, Arc::new(gateway_sim::NoSchemaValidation))
                    .await?;
            eprintln!(
                "gateway simulator on https://{} (admin http://{})",
                sim.addr(),
                sim.admin_addr()
            );
            sim.run(shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        command => {
            let config = match Config::load(&cli.config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("fsemw: {e}");
                    return Ok(ExitCode::from(EX_CONFIG));
                }
            };
            if let Command::Serve = command {
                telemetry::init(&config.log.format, &config.log.filter);
                let app = startup::App::build(&config, metrics::Metrics::new()).await?;
                reload_on_sighup(app.state());
                tracing::info!(producers = %app.producer_addr(), admin = %app.admin_addr(), "fsemw listening");
                app.run(shutdown_signal()).await?;
                return Ok(ExitCode::SUCCESS);
            }
            // One-shot commands print their result; only problems are logged.
            telemetry::init(&config.log.format, "warn");
            with_config(config, command).await
        }
    }
}

/// `fsemw validate`: exit 0 when every document passes, 1 otherwise.
fn validate(
    files: &[std::path::PathBuf],
    mode: Option<String>,
    activity: &str,
    rules: &std::path::Path,
    format: &str,
) -> anyhow::Result<ExitCode> {
    let rules = cda_validation::engine::Rules::load(rules)?;
    let mode = mode
        .map(|m| serde_json::from_value(serde_json::Value::String(m)))
        .transpose()?;
    let mut all_pass = true;
    for file in files {
        let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let v = cda_validation::verdict::judge(&rules, &bytes, mode, activity == "VALIDATION");
        all_pass &= v.status.is_success();
        if format == "summary" {
            let what = v.body["type"].as_str().unwrap_or("ok");
            let detail = v.body["detail"]
                .as_str()
                .or(v.body["warning"].as_str())
                .unwrap_or_default();
            let short: String = detail.chars().take(160).collect();
            println!("{}\t{}\t{what}\t{short}", v.status.as_u16(), file.display());
        } else if files.len() == 1 {
            println!(
                "{}",
                serde_json::json!({"status": v.status.as_u16(), "body": v.body})
            );
        } else {
            println!(
                "{}",
                serde_json::json!({"file": file.display().to_string(), "status": v.status.as_u16(), "body": v.body})
            );
        }
    }
    Ok(if all_pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `fsemw hsm init-dev`: SoftHSM2 reads its configuration from the environment at
/// load time, so the command re-runs itself with `SOFTHSM2_CONF` pointing into `dir`.
fn init_dev_token(
    dir: std::path::PathBuf,
    ca_cert: std::path::PathBuf,
    ca_key: std::path::PathBuf,
    label: String,
    region_code: String,
    module: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    use devtools::dev_hsm::{DevTokenSpec, create, softhsm_module, write_softhsm_conf};
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let conf = dir.join("softhsm2.conf");
    if std::env::var_os("SOFTHSM2_CONF").map(std::path::PathBuf::from) != Some(conf.clone()) {
        write_softhsm_conf(&dir)?;
        let status = std::process::Command::new(std::env::current_exe()?)
            .args(std::env::args_os().skip(1))
            .env("SOFTHSM2_CONF", &conf)
            .status()?;
        return Ok(ExitCode::from(status.code().unwrap_or(1) as u8));
    }
    let module = module
        .or_else(softhsm_module)
        .ok_or_else(|| anyhow::anyhow!("SoftHSM2 not found: apt-get install softhsm2"))?;
    let pin_file = dir.join("pin");
    let existing = std::fs::read_to_string(&pin_file).ok().and_then(|pin| {
        hsm::pkcs11::Token::open(&module, &label, pin.trim().to_string().into(), 1).ok()
    });
    if existing.is_none() {
        let pin = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
        let spec = DevTokenSpec {
            module: module.clone(),
            label: label.clone(),
            pin,
            ca_cert,
            ca_key,
            region_code,
            out_dir: dir.clone(),
        };
        create(&spec)?;
        eprintln!(
            "token {label:?} created with keys 01 (authentication) and 02 (signature), not extractable"
        );
    } else {
        eprintln!("token {label:?} already exists");
    }
    println!("export SOFTHSM2_CONF={}", conf.display());
    println!("export PKCS11_MODULE={}", module.display());
    println!("export HSM_TOKEN_LABEL={label}");
    println!("export HSM_PIN_FILE={}", pin_file.display());
    Ok(ExitCode::SUCCESS)
}

/// Re-reads certificates and re-opens keys on SIGHUP, and the producer CAs' revocation
/// lists; what fails to load leaves the previous one in force.
fn reload_on_sighup(state: Arc<startup::AppState>) {
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            let keys = state.keys.clone();
            logged_reload("regional keys", move || keys.reload()).await;
            let trust = state.clone();
            logged_reload("revocation lists", move || {
                trust.client_trust.reload()?;
                trust.soap_trust.reload()
            })
            .await;
        }
    });
}

/// Runs a reload off the async threads and logs a failure.
async fn logged_reload<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    what: &str,
    reload: impl FnOnce() -> Result<T, E> + Send + 'static,
) {
    match tokio::task::spawn_blocking(reload).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, "{what} not reloaded; the previous ones stay in force")
        }
        Err(e) => tracing::error!(error = %e, "{what}: reload task failed"),
    }
}

/// Turns true on SIGINT or SIGTERM.
fn shutdown_signal() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        let _ = tx.send(true);
    });
    rx
}
