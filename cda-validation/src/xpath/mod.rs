//! A small XPath engine for the gateway's schematron rules.
//!
//! # Layout
//! - `lexer`: tokens.
//! - `parser`: expression trees (compiled once per rule file).
//! - `eval`: evaluation over a roxmltree document.
//! - `check`: what the engine implements, checked once when a rule file is loaded.

pub mod check;
pub mod eval;
pub mod lexer;
pub mod parser;

pub use eval::{Env, Value, XNode};
pub use parser::{Expr, parse};
