//! What travels between the scan pipeline's stages: a parsed scan from an
//! HTTP worker to the verify thread, a checked one to the recorder, and
//! the outcome (or why there is none) back to the worker.

use crate::codes::{CodeCheck, CodeError, StampCode};
use crate::store::{NewScan, ScanOutcome};

/// A scan as the HTTP worker saw it: its code parsed, its signature not
/// yet checked.
pub(super) struct Pending {
    pub parsed: Result<StampCode, CodeError>,
    /// The GTIN a URL in GS1 form named.
    pub gtin: Option<String>,
    pub at: jiff::Timestamp,
    pub network: Option<String>,
    pub device: String,
    pub agent: String,
}

pub(super) type Outcome = Result<(CodeCheck, ScanOutcome), Failure>;

/// A parsed scan and where its outcome goes.
pub(super) struct Job {
    pub pending: Pending,
    pub reply: Reply,
}

/// Why a scan got no outcome.
#[derive(Debug)]
pub(super) enum Failure {
    /// The database refused the group.
    Store(String),
    /// The recorder failed while recording the group (and goes on).
    Unavailable,
}

pub(super) type Reply = tokio::sync::oneshot::Sender<Outcome>;

/// A checked scan waiting for its group commit, and where its outcome goes.
pub(super) struct Checked {
    pub scan: NewScan,
    pub reply: Reply,
}
