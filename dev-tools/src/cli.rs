//! Command line of `fsemw-dev`: what development, the tests and the demo need beside the
//! product (same arguments as the commands had in `fsemw` before they moved here).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use gateway_sim::SimOptions;

use crate::dev_jwt::JwtOperation;

/// Development tools of the regional FSE 2.0 middleware: never shipped, never in production.
#[derive(Debug, Parser)]
#[command(name = "fsemw-dev", version)]
pub struct DevCli {
    /// What to do.
    #[command(subcommand)]
    pub command: DevCommand,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Run the national gateway simulator.
    GatewaySim(SimOptions),
    /// Mint a producer's JWT pair for a PDF (development and tests).
    DevJwt {
        /// The PDF the tokens are for.
        #[arg(long)]
        pdf: Option<PathBuf>,
        /// Operation.
        #[arg(long, value_enum)]
        operation: JwtOperation,
        /// JSON object of claims overriding the defaults.
        #[arg(long)]
        claims: Option<String>,
        /// Print only one value (`authorization` or `fse_jwt_signature`) instead of JSON.
        #[arg(long, value_parser = ["authorization", "fse_jwt_signature"])]
        field: Option<String>,
        /// Signing key (PEM); default: the demo producer's.
        #[arg(
            long,
            env = "FSEMW_DEV_JWT_KEY",
            default_value = ".demo/pki/producer.key"
        )]
        key: String,
        /// Signing certificate (PEM); default: the demo producer's.
        #[arg(
            long,
            env = "FSEMW_DEV_JWT_CERT",
            default_value = ".demo/pki/producer.pem"
        )]
        cert: String,
    },
    /// Generate a development PKI (CAs, server, regional and producer certificates).
    DevPki {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Region code used in the regional certificate CNs.
        #[arg(long, default_value = "160")]
        region_code: String,
    },
    /// Sign a PDF (PAdES, a test certificate) as a producer's software would, for the
    /// simulator's signature check; an earlier signature is left outside the form.
    SignPdf {
        /// The PDF to sign.
        input: PathBuf,
        /// Where to write the signed PDF.
        output: PathBuf,
    },
    /// A development token for the regional keys.
    Hsm {
        /// Action.
        #[command(subcommand)]
        action: DevHsmCommand,
    },
}

/// `fsemw-dev hsm …`
#[derive(Debug, Subcommand)]
pub enum DevHsmCommand {
    /// Create a SoftHSM2 development token with both regional keys and their certificates.
    InitDev {
        /// Private folder for the token, its configuration, certificates and PIN file.
        #[arg(long)]
        dir: PathBuf,
        /// CA certificate (PEM) issuing the regional certificates (dev national CA).
        #[arg(long)]
        ca_cert: PathBuf,
        /// CA key (PEM).
        #[arg(long)]
        ca_key: PathBuf,
        /// Token label.
        #[arg(long, default_value = "fsemw")]
        label: String,
        /// Region code for the certificate CNs.
        #[arg(long, default_value = "160")]
        region_code: String,
        /// PKCS#11 module (default: SoftHSM2's).
        #[arg(long)]
        module: Option<PathBuf>,
    },
}
