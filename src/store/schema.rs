//! Facts about tem's schema that both databases share.

use super::StoreResult;
use super::conn::{Conn, args};

/// Every table of the schema, parents before children (foreign keys).
/// A table missing here is refused, so a new migration cannot be left out
/// of the copy unnoticed.
pub const TABLES: &[&str] = &[
    "producers",
    "products",
    "product_images",
    "certifications",
    "batches",
    "stages",
    "signing_keys",
    "issuances",
    "stamps",
    "batch_stamp_counts",
    "print_jobs",
    "scans",
    "recalls",
    "consumer_reports",
    "settings",
    "api_tokens",
    "events",
    "triage_resolutions",
    "audit_log",
    "audit_heads",
    "audit_nodes",
    "inspections",
    "inspection_items",
    "sessions",
    "media",
    "verifications",
    "rate_windows",
    "previews",
    "claims",
    "claim_windows",
    "sales",
];

/// Rows in each table of `TABLES` (empty tables included), in its order.
pub(super) fn table_counts(c: &dyn Conn) -> StoreResult<Vec<(&'static str, u64)>> {
    TABLES
        .iter()
        .map(|t| {
            let n: i64 =
                c.query_row(&format!("SELECT COUNT(*) FROM {t}"), args![], |r| r.get(0))?;
            Ok((*t, n as u64))
        })
        .collect()
}
