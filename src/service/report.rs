//! The batch report inspectors print and file: stamps by state, scans, the
//! stamps that look copied with their scan history and why, recalls,
//! consumer reports and the lifecycle events.

use super::{ServiceResult, registry};
use crate::domain::BatchId;
use crate::domain::scan::RepeatRules;
use crate::store::Store;

pub use crate::report::batch::{BatchReport, ReportBatch, SuspiciousHistory};

/// Builds the report of one batch (the caller has checked who may see it).
#[tracing::instrument(skip_all)]
/// The report of a batch the grant may see.
pub fn batch(
    store: &dyn Store,
    grant: &crate::domain::Grant,
    id: BatchId,
    rules: &RepeatRules,
) -> ServiceResult<BatchReport> {
    let b = super::access::batch(store, grant, id)?;
    let product = registry::product(store, b.product_id)?;
    let producer = registry::producer(store, product.producer_id)?;
    let stamps = store.stamp_counts(id)?;
    let (sold, claimed) = store.sold_and_claimed(id)?;
    let mut scans = store.batch_scan_stats(id, rules, true)?;
    let history = std::mem::take(&mut scans.history);
    let suspicious = scans
        .suspicious
        .iter()
        .map(|s| SuspiciousHistory {
            stamp: s.clone(),
            scans: history
                .iter()
                .filter(|h| h.serial == s.serial)
                .cloned()
                .collect(),
        })
        .collect();
    Ok(BatchReport {
        generated_at: jiff::Timestamp::now(),
        batch: ReportBatch {
            id,
            lot_code: b.lot_code,
            product: product.name,
            producer: producer.name,
            province: producer.province,
            production_date: b.production_date,
            expiry_date: b.expiry_date,
        },
        stamps,
        sold,
        claimed,
        scans,
        suspicious,
        recalls: store.recalls(id)?,
        consumer_reports: store.consumer_reports(id)?,
        events: store.events(id)?,
    })
}
