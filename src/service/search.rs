//! Search for the dashboard: a stamp by its URL, code, serial or short
//! code; batches by number, lot, product, producer or province; producers
//! by name or province. Only what the caller may see is found.

use super::ServiceResult;
use super::access::{self, BatchRow};
use crate::codes::StampCode;
use crate::domain::{Grant, Producer, Serial, ShortCode};
pub use crate::store::StoredStamp;
use crate::store::{BatchSummary, Store};

/// At most this many batches or producers per search.
const LIMIT: usize = 100;

/// What a search found.
pub struct Results {
    /// Stamps with their batch's lot code.
    pub stamps: Vec<(StoredStamp, String)>,
    /// Batches with their stamps by state.
    pub batches: Vec<BatchRow>,
    /// Producers by name or province.
    pub producers: Vec<Producer>,
}

/// Searches what `grant` may see for `q`.
#[tracing::instrument(skip_all)]
pub fn search(store: &dyn Store, grant: &Grant, q: &str) -> ServiceResult<Results> {
    let q = q.trim();
    let serial = StampCode::parse(q)
        .map(|c| c.serial)
        .ok()
        .or_else(|| Serial::parse(q))
        .or_else(|| ShortCode::parse(q).map(ShortCode::serial));
    let mut stamps = Vec::new();
    if let Some(serial) = serial
        && let Some(stamp) = store.stamp(serial)?
        && let Ok(batch) = access::batch(store, grant, stamp.batch)
    {
        stamps.push((stamp, batch.lot_code));
    }
    let needle = q.to_lowercase();
    let producers: Vec<Producer> = access::producers(store, grant)?
        .into_iter()
        .filter(|p| {
            p.name.to_lowercase().contains(&needle) || p.province.to_lowercase().contains(&needle)
        })
        .take(LIMIT)
        .collect();
    let provinces_of: std::collections::HashMap<_, _> = access::producers(store, grant)?
        .into_iter()
        .map(|p| (p.id, p.province.to_lowercase()))
        .collect();
    let batches: Vec<BatchSummary> = access::batches(store, grant, None)?
        .into_iter()
        .filter(|b| {
            b.id.0.to_string() == q
                || b.lot_code.to_lowercase().contains(&needle)
                || b.product_name.to_lowercase().contains(&needle)
                || b.producer_name.to_lowercase().contains(&needle)
                || provinces_of
                    .get(&b.producer_id)
                    .is_some_and(|p| p.contains(&needle))
        })
        .take(LIMIT)
        .collect();
    Ok(Results {
        stamps,
        batches: access::with_counts(store, batches)?,
        producers,
    })
}
