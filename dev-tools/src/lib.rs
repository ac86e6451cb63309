//! Development and test tooling of the regional FSE 2.0 middleware, behind the `fsemw-dev`
//! binary; the production binary `fsemw` links none of it (checked by `ops/test.sh`).
//!
//! - [`cli`]: `fsemw-dev`'s command line.
//! - [`dev_pki`]: `fsemw-dev dev-pki`, certificates and keys for the demo and the tests.
//! - [`dev_jwt`]: `fsemw-dev dev-jwt`, a producer's JWT pair minted like the Ministry's generator.
//! - [`dev_pades`]: `fsemw-dev sign-pdf`, a PDF signed as a producer's software signs it.
//! - [`dev_hsm`]: `fsemw-dev hsm init-dev`, a SoftHSM2 token holding the regional keys.

pub mod cli;
pub mod dev_hsm;
pub mod dev_jwt;
pub mod dev_pades;
pub mod dev_pki;
