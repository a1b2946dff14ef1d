//! tem: signed QR traceability stamps for farm and craft products.
//!
//! Data flows one way: a request (web or CLI) becomes a domain value, a
//! service call makes one store transaction, and the result becomes a
//! response.
//!
//! Every public item is documented (`missing_docs` is denied; CI also runs
//! `cargo doc` with warnings denied).
#![deny(missing_docs)]

/// The tamper-evident audit log: entries, signed tree heads, Merkle proofs.
pub mod audit;
/// Command line: argument parsing and one file per subcommand.
pub mod cli;
/// The signed stamp code: format, keys, verification, photos.
pub mod codes;
/// Settings from defaults, tem.toml, TEM_* environment and flags.
pub mod config;
/// Producers, products, batches, stamps: valid values only, no I/O.
pub mod domain;
/// CPU-bound work on every core, results in order.
pub mod parallel;
/// Pictures from outside (photos), decoded within limits set before decoding.
pub mod picture;
/// Printable stamp sheets: layouts, QR symbols, fonts, PDF/PNG/SVG.
pub mod render;
/// The documents tem issues about a batch (report, verification), as data.
pub mod report;
/// Use cases shared by the web service and the CLI.
pub mod service;
/// Persistence behind the `Store` trait (SQLite by default).
pub mod store;
/// The HTTP service: the scan page, the JSON API, the dashboard, key set, health.
pub mod web;
