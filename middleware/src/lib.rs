//! The regional FSE 2.0 middleware: a gateway-identical REST API for producers,
//! forwarding every call synchronously to the national gateway with the region's
//! certificates, and recording each transaction.
//!
//! # Layout
//! - [`config`]: the TOML configuration and its validation.
//! - [`cli`], [`commands`]: the `fsemw` command line.
//! - [`startup`]: [`startup::App::build`] binds listeners; shared by `main` and tests.
//! - [`server`]: TLS accept loop, TLS configurations, client identity.
//! - [`front_door`]: the one way in for producer requests (transaction, caller, audit row).
//! - [`forward`]: the data path from producer to gateway and back.
//! - [`keys`]: the regional key pair at run time (PKCS#11 or dev PEM), rotation, expiry.
//! - [`problem`]: middleware errors as problem documents.
//! - [`audit`], [`db`]: the audit trail and the producer registry in PostgreSQL.
//! - [`admin`], [`admin_access`], [`metrics`], [`telemetry`]: operations.
//! - [`cda`]: CDA extraction from PDFs and CDA facts.
//! - [`xds_service`]: the regional XDS registry and ASL repositories (SOAP).
//! - [`outbox`]: publications queued during a gateway outage, and their delivery.
//! - [`soap_services`]: the legacy regional SOAP services per ASL.
//! - [`trust`]: trusted certificates and revocation lists (producers, SAML signers, smart
//!   cards), reloadable; [`xmldsig`], [`saml`], [`wssec`], [`xsd_datetime`]: the SOAP
//!   callers' signatures.

pub mod admin;
pub mod admin_access;
pub mod audit;
pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod cpu_pool;
pub mod db;
pub mod forward;
pub mod front_door;
pub mod keys;
pub mod metrics;
pub mod outbox;
pub mod problem;
pub mod saml;
pub mod server;
pub mod soap_services;
pub mod startup;
pub mod telemetry;
pub mod touchpoint;
pub mod trust;
pub mod wssec;
pub mod xmldsig;
pub mod xsd_datetime;

/// Installs the process-wide rustls crypto provider (aws-lc-rs); call once at start.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
pub mod xds_service;
