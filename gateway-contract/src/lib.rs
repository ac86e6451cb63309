//! The national gateway's contract as both of its sides read it: the middleware that
//! forwards to the gateway and the simulator that stands in for it.
//!
//! - [`cda`]: the CDA inside a PDF (ATTACHMENT and RESOURCE modes), found and read as the
//!   gateway does, and the facts it compares with the tokens.
//! - [`form_scanner`]: the streaming `multipart/form-data` scanner (bodies read chunk by chunk
//!   where they lie); [`form`]: a whole form read with it (`requestBody` and `file`).
//!
//! A leaf: no server, no database, no simulator. Issue 17 moves the rest of the shared
//! contract here (operations and paths, the error catalogue).

pub mod cda;
pub mod form;
pub mod form_scanner;
