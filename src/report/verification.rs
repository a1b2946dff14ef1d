//! A batch verification report as tem signs it (format
//! `tem-verification/1`): the batch, each check's figures, the findings and
//! the verdict. `service::verification` makes it; the CLI, the API and the
//! PDF read it.

use serde::{Deserialize, Serialize};

pub const REPORT_FORMAT: &str = "tem-verification/1";
/// Domain of report signatures (never a stamp's, a head's or a bundle's).
pub const REPORT_DOMAIN: &[u8] = b"tem batch verification v1";
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub format: String,
    pub id: String,
    pub service: String,
    pub verified_at: String,
    pub verified_by: String,
    pub batch: BatchRef,
    /// clean | findings | compromised
    pub verdict: String,
    pub stamps: StampChecks,
    pub log: LogChecks,
    pub data: DataChecks,
    pub scans: ScanSummary,
    /// Everything found, most serious first.
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRef {
    pub id: u32,
    pub lot_code: String,
    pub product: String,
    pub producer: String,
    pub province: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StampChecks {
    pub total: u64,
    pub signatures_ok: u64,
    pub bad_signatures: u64,
    pub unknown_key: u64,
    /// Stamps whose key has since been revoked (their signatures hold).
    pub revoked_key: u64,
    pub revoked_key_serials: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogChecks {
    /// Audit entries about this batch that were replayed.
    pub entries: u64,
    pub audit_log_intact: bool,
    pub not_in_log: u64,
    pub missing_rows: u64,
    pub altered_states: u64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataChecks {
    /// Circular 02 items a consumer is not shown.
    pub missing: Vec<String>,
    /// Ratings, certificates and dates that no longer hold.
    pub lapsed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSummary {
    pub scans: u64,
    pub stamps_scanned: u64,
    pub suspicious: u64,
    pub consumer_reports: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// compromised | finding
    pub severity: String,
    /// bad-signature, unknown-key, not-in-log, missing-row, altered-state,
    /// audit-log, revoked-key, missing-data, lapsed, expired
    pub kind: String,
    pub detail: String,
}

/// The report with the service's detached signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReport {
    pub report: Report,
    pub kid: String,
    /// Base64url Ed25519 signature of REPORT_DOMAIN ‖ 0 ‖ report JSON.
    pub signature: String,
}
