//! `fsemw-dev`: the gateway simulator, the dev PKI, dev JWTs and the SoftHSM2 dev token
//! for development, the tests and the demo. The production binary `fsemw` has none of them.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use dev_tools::cli::{DevCli, DevCommand, DevHsmCommand};
use dev_tools::{dev_jwt, dev_pki};
use gateway_sim::{CdaValidator, GatewaySim, NoSchemaValidation, SimOptions};
use middleware::server::shutdown_signal;
use middleware::{install_crypto_provider, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    install_crypto_provider();
    match run(DevCli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fsemw-dev: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: DevCli) -> anyhow::Result<ExitCode> {
    match cli.command {
        DevCommand::GatewaySim(opts) => gateway_sim(opts).await,
        DevCommand::DevPki { out, region_code } => {
            let names = dev_pki::PkiNames {
                region_code,
                ..Default::default()
            };
            dev_pki::generate(&out, &names)?;
            println!("dev PKI written to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        DevCommand::DevJwt {
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
            let claims = dev_jwt::claims_for(operation, pdf.as_deref(), &overrides)?;
            let signer = dev_jwt::signer(&cert, &key)?;
            let pair = dev_jwt::mint(&claims, &signer)?;
            match field {
                Some(f) => println!("{}", pair[f.as_str()].as_str().unwrap_or_default()),
                None => println!("{pair}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        DevCommand::SignPdf { input, output } => {
            let pdf = std::fs::read(&input)?;
            std::fs::write(&output, dev_tools::dev_pades::sign_now(&pdf)?)?;
            println!("signed PDF written to {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        DevCommand::Hsm {
            action:
                DevHsmCommand::InitDev {
                    dir,
                    ca_cert,
                    ca_key,
                    label,
                    region_code,
                    module,
                },
        } => init_dev_token(dir, ca_cert, ca_key, label, region_code, module),
    }
}

/// `fsemw-dev gateway-sim`: with `--rules`, XSD, schematron and vocabulary run over that
/// folder (steps 9–11); without, those stages are skipped.
async fn gateway_sim(opts: SimOptions) -> anyhow::Result<ExitCode> {
    telemetry::init("plain", "info");
    let validator: Arc<dyn CdaValidator> = match &opts.rules {
        Some(dir) => Arc::new(cda_validation::engine::Rules::load(dir)?),
        None => Arc::new(NoSchemaValidation),
    };
    let sim = GatewaySim::build(&opts, validator).await?;
    eprintln!(
        "gateway simulator on https://{} (admin http://{})",
        sim.addr(),
        sim.admin_addr()
    );
    sim.run(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// `fsemw-dev hsm init-dev`: SoftHSM2 reads its configuration from the environment at
/// load time, so the command re-runs itself with `SOFTHSM2_CONF` pointing into `dir`.
fn init_dev_token(
    dir: std::path::PathBuf,
    ca_cert: std::path::PathBuf,
    ca_key: std::path::PathBuf,
    label: String,
    region_code: String,
    module: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    use dev_tools::dev_hsm::{DevTokenSpec, create, softhsm_module, write_softhsm_conf};
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
