//! The batch report inspectors print and file, as data: the batch, its
//! stamps by state, scans, the stamps that look copied with their scan
//! history, recalls, consumer reports and lifecycle events.
//! `service::report` builds it; `render` prints it.

use crate::domain::{BatchId, StampCounts};
use crate::store::{
    BatchScanStats, ConsumerReport, Event, RecallRecord, ScanRecord, SuspiciousStamp,
};

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BatchReport {
    #[schema(value_type = String, format = DateTime)]
    pub generated_at: jiff::Timestamp,
    pub batch: ReportBatch,
    pub stamps: StampCounts,
    pub scans: BatchScanStats,
    /// The suspicious stamps again, each with every scan recorded for it.
    pub suspicious: Vec<SuspiciousHistory>,
    pub recalls: Vec<RecallRecord>,
    pub consumer_reports: Vec<ConsumerReport>,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReportBatch {
    pub id: BatchId,
    pub lot_code: String,
    pub product: String,
    pub producer: String,
    pub province: String,
    #[schema(value_type = String, format = Date)]
    pub production_date: jiff::civil::Date,
    #[schema(value_type = Option<String>, format = Date)]
    pub expiry_date: Option<jiff::civil::Date>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SuspiciousHistory {
    #[serde(flatten)]
    pub stamp: SuspiciousStamp,
    pub scans: Vec<ScanRecord>,
}
