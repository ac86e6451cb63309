//! `fsemw`: thin entry point; everything lives in the library.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use middleware::cli::{Cli, Command};
use middleware::commands::{EX_CONFIG, with_config};
use middleware::config::Config;
use middleware::{devtools, gateway_sim, install_crypto_provider, metrics, startup, telemetry};

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
