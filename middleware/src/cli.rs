//! Command line of `fsemw`, the production binary. The development commands (gateway
//! simulator, dev PKI, dev JWT, SoftHSM2 dev token) are `fsemw-dev`'s (`dev-tools/`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Regional FSE 2.0 middleware in front of the national gateway.
#[derive(Debug, Parser)]
#[command(name = "fsemw", version)]
pub struct Cli {
    /// Configuration file (TOML); `FSEMW_*` variables override it.
    #[arg(
        long,
        short,
        env = "FSEMW_CONFIG",
        global = true,
        default_value = "/etc/fsemw/fsemw.toml"
    )]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the middleware (migrations are applied at start).
    Serve,
    /// Validate the configuration and exit.
    CheckConfig,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage the producer registry.
    Producer {
        /// Action.
        #[command(subcommand)]
        action: ProducerCommand,
    },
    /// Read the audit trail.
    Tx {
        /// Action.
        #[command(subcommand)]
        action: TxCommand,
    },
    /// Validate documents as the gateway would (PDF with injected CDA, or a bare CDA).
    Validate {
        /// PDF or XML files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where the CDA is in the PDF (absent: RESOURCE, then ATTACHMENT, with a warning).
        #[arg(long, value_parser = ["ATTACHMENT", "RESOURCE"])]
        mode: Option<String>,
        /// VALIDATION (201) or VERIFICA (200).
        #[arg(long, default_value = "VERIFICA", value_parser = ["VALIDATION", "VERIFICA"])]
        activity: String,
        /// Rules folder (schemas/, terminology/).
        #[arg(long, env = "FSEMW_RULES_DIR")]
        rules: PathBuf,
        /// `json` (status and body of each document) or `summary` (one line per document).
        #[arg(long, default_value = "json", value_parser = ["json", "summary"])]
        format: String,
    },
    /// Hash a console user's password (read from standard input) for `[[console.users]]`.
    ConsolePassword {
        /// PBKDF2 iterations.
        #[arg(long, default_value_t = crate::console::auth::ITERATIONS)]
        iterations: u32,
    },
    /// The regional keys' token.
    Hsm {
        /// Action.
        #[command(subcommand)]
        action: HsmCommand,
    },
}

/// `fsemw hsm …`
#[derive(Debug, Subcommand)]
pub enum HsmCommand {
    /// Show the configured token: keys (id, label, extractable), certificates and expiry.
    Status,
}

/// `fsemw producer …`
#[derive(Debug, Subcommand)]
pub enum ProducerCommand {
    /// Register (or update and re-enable) a producer.
    Add {
        /// CN of its TLS client certificate.
        #[arg(long)]
        cn: String,
        /// Accredited `subject_application_id`.
        #[arg(long)]
        app_id: String,
        /// Accredited `subject_application_vendor`.
        #[arg(long)]
        app_vendor: String,
        /// Accredited `subject_application_version`.
        #[arg(long)]
        app_version: String,
        /// `producer` or `repository`.
        #[arg(long, default_value = "producer", value_parser = ["producer", "repository"])]
        role: String,
        /// ASL or structure.
        #[arg(long)]
        organization: String,
        /// Certificate (PEM) whose key signs its JWTs, if not its TLS certificate; repeat it
        /// to accept several (a renewal overlap, a case-2 key and a national case-1 one).
        #[arg(long)]
        signing_cert: Vec<PathBuf>,
    },
    /// List producers.
    List,
    /// Disable a producer.
    Disable {
        /// CN of its TLS client certificate.
        #[arg(long)]
        cn: String,
    },
}

/// `fsemw tx …`
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Show the trail of a transaction id, gateway traceID or workflowInstanceId.
    Show {
        /// The id.
        id: Option<String>,
        /// Or: every transaction of a document id.
        #[arg(long)]
        document: Option<String>,
        /// Or: every transaction of a patient (fiscal code, hashed before the query).
        #[arg(long)]
        cf: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}
