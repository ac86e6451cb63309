//! Development and test tooling shipped in the binary (never used in production paths).
//!
//! - [`dev_pki`]: `fsemw dev-pki`, certificates and keys for the demo and the tests.
//! - [`dev_jwt`]: `fsemw dev-jwt`, a producer's JWT pair minted like the Ministry's generator.
//! - [`dev_hsm`]: `fsemw hsm init-dev`, a SoftHSM2 token holding the regional keys.

pub mod dev_hsm;
pub mod dev_jwt;
pub mod dev_pki;
