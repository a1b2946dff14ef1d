//! Recalls and voids: withdrawing a batch (or part of it) or single stamps.
//! Consumers see a recall notice on their next scan.

use super::{ServiceResult, access};
use crate::domain::text::{self, Lines};
use crate::domain::{Actor, BatchId, DomainError, Grant};
pub use crate::store::RecallNotice;
use crate::store::{NewRecall, Store};

/// Recalls a batch, or stamps `from`..`from+count−1` of it.
#[tracing::instrument(skip_all)]
pub fn recall(
    store: &dyn Store,
    batch: BatchId,
    range: Option<(u32, u32)>,
    reason: &str,
    notice: &str,
    by: &Actor,
) -> ServiceResult<RecallNotice> {
    access::batch(store, &by.grant, batch)?;
    let range = range
        .map(|(from, count)| checked_range(from, count))
        .transpose()?;
    let recall = NewRecall {
        batch,
        range,
        reason: text::required("reason", reason, 500, Lines::Many)?,
        notice: text::required("notice", notice, 1000, Lines::Many)?,
        actor: by.name.clone(),
    };
    let notice = store.recall(&recall)?;
    super::resolver::recalls_changed();
    tracing::warn!(batch.id = %batch, "batch recalled");
    Ok(notice)
}

/// Lifts every recall in force on a batch, for someone allowed to.
#[tracing::instrument(skip_all)]
pub fn lift(store: &dyn Store, batch: BatchId, reason: &str, by: &Actor) -> ServiceResult<u32> {
    access::batch(store, &by.grant, batch)?;
    let reason = text::required("reason", reason, 500, Lines::Many)?;
    let lifted = store.lift_recalls(batch, &reason, &by.name)?;
    super::resolver::recalls_changed();
    Ok(lifted)
}

/// Voids stamps `from`..`from+count−1` (damaged in printing, lost…).
#[tracing::instrument(skip_all)]
pub fn void(
    store: &dyn Store,
    batch: BatchId,
    from: u32,
    count: u32,
    reason: &str,
    by: &Actor,
) -> ServiceResult<u32> {
    access::batch(store, &by.grant, batch)?;
    let (first, last) = checked_range(from, count)?;
    let reason = text::required("reason", reason, 500, Lines::Many)?;
    Ok(store.void_stamps(batch, first, last, &reason, &by.name)?)
}

/// Activates printed stamps `from`..`from+count−1`: they were stuck on
/// packages and released. Never-printed or voided stamps refuse the range.
#[tracing::instrument(skip_all)]
pub fn activate(
    store: &dyn Store,
    batch: BatchId,
    from: u32,
    count: u32,
    by: &Actor,
) -> ServiceResult<u32> {
    access::batch(store, &by.grant, batch)?;
    let (first, last) = checked_range(from, count)?;
    Ok(store.activate_stamps(batch, first, last, &by.name)?)
}

/// A batch's stamp counts by state and what its scans add up to.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BatchStats {
    /// The batch.
    pub batch_id: BatchId,
    /// Its stamps by state.
    pub stamps: crate::domain::StampCounts,
    /// Its scans.
    pub scans: crate::store::BatchScanStats,
    /// Scans by province, where known: from the locations people chose to
    /// share, each placed in the province of the nearest commune centre on
    /// the 2025 map (an estimate near borders), most scans first.
    pub scans_by_province: Vec<ProvinceScans>,
    /// Scans with a shared location (the rest have no known province).
    pub located_scans: u64,
    /// Fetches of the batch's stamp URLs by link-preview robots, crawlers
    /// and HEAD requests, per robot family, most first: never scans.
    pub previews: Vec<PreviewFetches>,
    /// Stamps a shop marked sold at the till.
    pub sold: u64,
    /// Stamps a buyer claimed with the code under the scratch panel.
    pub claimed: u64,
}

/// How often one family of robots fetched a batch's stamp URLs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PreviewFetches {
    /// "facebook", "zalo", "google", "head"…
    pub family: String,
    /// Fetches.
    pub fetches: u64,
}

/// Scans located in one province.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ProvinceScans {
    /// The province.
    pub province: String,
    /// How many scans.
    pub scans: u64,
}

/// Counts located scans per province, most first (ties by name).
pub fn by_province(locations: &[(f64, f64)]) -> Vec<ProvinceScans> {
    let mut counts: std::collections::BTreeMap<&str, u64> = Default::default();
    for &(lat, lon) in locations {
        if let Some(p) = crate::domain::geo::province_of(lat, lon) {
            *counts.entry(p).or_default() += 1;
        }
    }
    let mut out: Vec<ProvinceScans> = counts
        .into_iter()
        .map(|(p, n)| ProvinceScans {
            province: p.to_string(),
            scans: n,
        })
        .collect();
    out.sort_by(|a, b| {
        b.scans
            .cmp(&a.scans)
            .then_with(|| a.province.cmp(&b.province))
    });
    out
}

/// Lets stamp `seq` of `batch`, locked by five wrong claim codes, take
/// codes again (its producer, when the buyer asks); false if it was not
/// locked.
#[tracing::instrument(skip_all)]
pub fn unlock_claim(
    store: &dyn Store,
    batch: BatchId,
    seq: u32,
    by: &Actor,
) -> ServiceResult<bool> {
    access::batch(store, &by.grant, batch)?;
    let stamp = store
        .stamps(batch, seq, 1)?
        .into_iter()
        .find(|s| s.seq == seq)
        .ok_or_else(|| super::not_found("stamp", format!("number {seq} of batch {batch}")))?;
    Ok(store.unlock_claim(stamp.serial, &by.name)?)
}

/// The figures of a batch the grant may see.
#[tracing::instrument(skip_all)]
pub fn stats(
    store: &dyn Store,
    grant: &Grant,
    batch: BatchId,
    rules: &crate::domain::scan::RepeatRules,
) -> ServiceResult<BatchStats> {
    access::batch(store, grant, batch)?;
    batch_stats(store, batch, rules)
}

/// The figures of a batch, for a caller that has checked access.
pub(crate) fn batch_stats(
    store: &dyn Store,
    batch: BatchId,
    rules: &crate::domain::scan::RepeatRules,
) -> ServiceResult<BatchStats> {
    let locations = store.scan_locations(batch)?;
    let (sold, claimed) = store.sold_and_claimed(batch)?;
    Ok(BatchStats {
        batch_id: batch,
        stamps: store.stamp_counts(batch)?,
        scans: store.batch_scan_stats(batch, rules, false)?,
        scans_by_province: by_province(&locations),
        located_scans: locations.len() as u64,
        previews: store
            .previews(batch)?
            .into_iter()
            .map(|(family, fetches)| PreviewFetches { family, fetches })
            .collect(),
        sold,
        claimed,
    })
}

fn checked_range(from: u32, count: u32) -> Result<(u32, u32), DomainError> {
    if from == 0 || count == 0 {
        return Err(DomainError::new(
            "from",
            "stamp numbers and counts start at 1",
        ));
    }
    let last = from.checked_add(count - 1).ok_or_else(|| {
        DomainError::new(
            "count",
            "the range goes past the last possible stamp number",
        )
    })?;
    Ok((from, last))
}
