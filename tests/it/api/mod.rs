//! API tests: the real server on a random port, a temporary SQLite file and
//! key directory, spoken to over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod browser;
mod browser_dashboard;
mod claims;
mod clients;
mod dashboard;
mod dashboard_roles;
mod epcis;
mod gs1;
mod gs1_stamps;
pub(crate) mod helpers;
mod inspections;
mod lifecycle;
mod previews;
mod registry;
mod roles;
mod sales;
mod scan;
mod sheets;
mod stamps;
mod tlog;
mod trust;
