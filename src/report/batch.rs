//! The batch report inspectors print and file, as data: the batch, its
//! stamps by state, scans, the stamps that look copied with their scan
//! history, recalls, consumer reports and lifecycle events.
//! `service::report` builds it; `render` prints it.

use crate::domain::{BatchId, StampCounts};
use crate::store::{
    BatchScanStats, ConsumerReport, Event, RecallRecord, ScanRecord, SuspiciousStamp,
};

/// What happened to a batch: its stamps, scans, recalls, reports and events.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BatchReport {
    /// When the report was made.
    #[schema(value_type = String, format = DateTime)]
    pub generated_at: jiff::Timestamp,
    /// The batch.
    pub batch: ReportBatch,
    /// Its stamps by state.
    pub stamps: StampCounts,
    /// Stamps a shop marked sold at the till.
    pub sold: u64,
    /// Stamps their buyers claimed with the code under the scratch panel.
    pub claimed: u64,
    /// Its scans.
    pub scans: BatchScanStats,
    /// The suspicious stamps again, each with every scan recorded for it.
    pub suspicious: Vec<SuspiciousHistory>,
    /// Its recalls, lifted or not.
    pub recalls: Vec<RecallRecord>,
    /// What consumers reported.
    pub consumer_reports: Vec<ConsumerReport>,
    /// Its lifecycle events (printing, activation, voids, recalls).
    pub events: Vec<Event>,
}

/// The batch, as the report names it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReportBatch {
    /// Its id.
    pub id: BatchId,
    /// Its lot code.
    pub lot_code: String,
    /// The product's name.
    pub product: String,
    /// The producer's name.
    pub producer: String,
    /// The producer's province.
    pub province: String,
    /// When it was made.
    #[schema(value_type = String, format = Date)]
    pub production_date: jiff::civil::Date,
    /// Best before, if any.
    #[schema(value_type = Option<String>, format = Date)]
    pub expiry_date: Option<jiff::civil::Date>,
}

/// A stamp that looks copied, with its scans.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SuspiciousHistory {
    /// The stamp.
    #[serde(flatten)]
    pub stamp: SuspiciousStamp,
    /// Its scans, newest first.
    pub scans: Vec<ScanRecord>,
}
