//! Everything the dashboard's batch page shows, read for a caller who may
//! see the batch: the batch, its product and producer, the scan figures, the
//! recall in force and the consumers' reports.

use super::{ServiceResult, access, lifecycle, registry};
use crate::domain::scan::RepeatRules;
use crate::domain::{Batch, BatchId, Grant, Producer, Product};
use crate::store::prelude::*;
pub use crate::store::{BatchScanStats, ConsumerReport, RecallRecord};

/// A batch and what is known about it.
pub struct BatchOverview {
    /// The batch.
    pub batch: Batch,
    /// Its product.
    pub product: Product,
    /// Its producer.
    pub producer: Producer,
    /// Its stamps and scan figures.
    pub stats: lifecycle::BatchStats,
    /// The recall in force, if any.
    pub recall: Option<RecallRecord>,
    /// What consumers reported about its stamps.
    pub reports: Vec<ConsumerReport>,
}

/// The overview of a batch `grant` may see.
pub fn overview(
    store: &dyn Store,
    grant: &Grant,
    id: BatchId,
    rules: &RepeatRules,
) -> ServiceResult<BatchOverview> {
    let batch = access::batch(store, grant, id)?;
    let product = registry::product(store, batch.product_id)?;
    let producer = registry::producer(store, product.producer_id)?;
    let stats = lifecycle::batch_stats(store, id, rules)?;
    let recall = store
        .recalls(id)?
        .into_iter()
        .find(|r| r.lifted_at.is_none());
    let reports = store.consumer_reports(id)?;
    Ok(BatchOverview {
        batch,
        product,
        producer,
        stats,
        recall,
        reports,
    })
}
