//! tem's integration tests, one binary (one link, one process to start):
//! - `api`: the real server on a random port, spoken to over HTTP (and, in
//!   `browser*`, through Chromium);
//! - `cli`: the `tem` command as people run it;
//! - `store`: every store operation on SQLite and on PostgreSQL;
//! - `codes`: stamp codes, keys and QR symbols against independent tools;
//! - `sheets`: printed sheets rasterised and decoded by zbar (`claim_sheets`:
//!   the scratch panels of claim stamps);
//! - `nodes`: several `tem serve` nodes on one PostgreSQL database;
//! - `security`: what an adversary tries, each attack in its own process;
//! - `photos`: printed stamps in phone-like photos, read by zbar;
//! - `sim_market`: the market of genuine and copied stamps (issue 17).
//!
//! The fuzz targets (`tests/fuzz.rs`) stay a binary of their own: they
//! measure each parser's peak memory with a process-wide allocator, which
//! other tests running beside them would disturb.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod claim_sheets;
mod cli;
mod codes;
mod common;
mod nodes;
mod photos;
mod security;
mod sheets;
mod sim_market;
mod store;
