//! `fsemw`: thin entry point; everything lives in the library.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use middleware::cli::{Cli, Command};
use middleware::commands::{EX_CONFIG, with_config};
use middleware::config::Config;
use middleware::server::shutdown_signal;
use middleware::{console, install_crypto_provider, metrics, startup, telemetry};

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
