//! Persistence behind one interface. `Store` is what every layer above sees;
//! `sqlite` is the embedded default and `postgres` serves several nodes.
//! Both run the same queries (`sql`, through `conn`), so nothing above this
//! module knows which database it talks to.
//!
//! The trait is synchronous: rusqlite is, and the web layer already moves
//! blocking work off the async executor with `web::block`. Each method is
//! one transaction: it either happens completely or leaves no trace.

mod conn;
pub mod migrate;
mod pg_tls;
mod postgres;
mod sql;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::codes::{Kid, StampCode};
use crate::domain::{
    Batch, BatchId, NewBatch, NewProducer, NewProduct, NewStage, Producer, ProducerId, Product,
    ProductId, Serial, Stage, StampCounts, StampState,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A referenced row does not exist (`what` names it: "producer", "batch"…).
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: String },
    /// A uniqueness rule was broken, e.g. a lot code already used for the product.
    #[error("{0}")]
    Conflict(String),
    /// The database file was written by a newer tem, or is not a tem database.
    #[error("database schema: {0}")]
    Schema(String),
    /// Issuance was stopped by its caller (e.g. the CSV could not be written).
    #[error("issuance aborted: {0}")]
    Aborted(String),
    #[error("database error: {0}")]
    Database(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Summary of a batch in listings.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BatchSummary {
    pub id: BatchId,
    pub lot_code: String,
    pub product_id: ProductId,
    pub product_name: String,
    pub producer_id: ProducerId,
    pub producer_name: String,
    #[schema(value_type = String, format = Date)]
    pub production_date: jiff::civil::Date,
    #[schema(value_type = Option<String>, format = Date)]
    pub expiry_date: Option<jiff::civil::Date>,
    pub quantity: u32,
    pub stamps_issued: u64,
}

/// Where issuance gets its stamps from and reports progress to. The store
/// pulls chunks inside its transaction, so signing (on other threads) and
/// writing overlap, and memory stays bounded by the chunk queue.
pub trait StampFeed {
    /// The next chunk of signed stamps; `None` when all were handed out.
    fn next_chunk(&mut self) -> Option<Vec<StampCode>>;
    /// A new stamp to replace one whose serial already exists (a 2⁻⁶⁴ event
    /// per stamp, but "never reused" must hold without exceptions).
    fn replacement(&mut self) -> StampCode;
    /// Called after a chunk is written with its stamps and their sequence
    /// numbers. An error aborts the issuance and rolls everything back.
    fn written(&mut self, stamps: &[(u32, StampCode)]) -> Result<(), String>;
}

/// What an issuance wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueReceipt {
    pub issuance: uuid::Uuid,
    pub batch: BatchId,
    pub count: u32,
    /// Sequence numbers first..=last within the batch.
    pub first_seq: u32,
    pub last_seq: u32,
    pub replaced_duplicates: u32,
}

/// A stored stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStamp {
    pub serial: Serial,
    pub batch: BatchId,
    pub seq: u32,
    pub state: StampState,
    pub kid: Kid,
    pub signature: [u8; 64],
    /// When tem issued it (its issuance's time).
    pub issued_at: jiff::Timestamp,
}

impl StoredStamp {
    pub fn code(&self) -> StampCode {
        StampCode {
            kid_hint: self.kid.hint(),
            serial: self.serial,
            batch: self.batch,
            signature: self.signature,
        }
    }

    /// Whether `code` is exactly this stamp as issued (the signature
    /// compared in constant time): the only code the registry vouches for.
    pub fn is(&self, code: &StampCode, kid: Option<Kid>) -> bool {
        use subtle::ConstantTimeEq;
        kid == Some(self.kid)
            && code.kid_hint == self.kid.hint()
            && code.serial == self.serial
            && code.batch == self.batch
            && bool::from(code.signature.ct_eq(&self.signature))
    }
}

/// Which stamps a print job covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintedStamps {
    /// Numbers first..=last of the batch, all of them.
    Range { first: u32, last: u32 },
    /// These numbers (sorted, unique).
    List(Vec<u32>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPrintJob {
    pub batch: BatchId,
    /// Who asked: "cli:USER" or the API principal.
    pub actor: String,
    pub layout: String,
    pub format: String,
    pub stamps: PrintedStamps,
}

/// A recorded print job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PrintJob {
    pub id: uuid::Uuid,
    pub batch_id: BatchId,
    pub actor: String,
    pub layout: String,
    pub format: String,
    pub first_seq: u32,
    pub last_seq: u32,
    pub stamps: u32,
    /// How many of these stamps had already been printed (a reprint).
    pub reprinted: u32,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

/// One scan to record.
#[derive(Debug, Clone)]
pub struct NewScan {
    /// The scanned code and what its signature proved (checked against the
    /// key set before recording), or why it is not a stamp code.
    pub check: crate::codes::CodeCheck,
    pub at: jiff::Timestamp,
    /// Salted hash of the client's network (IPv4 /24, IPv6 /48).
    pub network: Option<String>,
    /// Salted hash standing for the device (network and full user agent).
    pub device: String,
    /// User-agent family, e.g. "Zalo/Android".
    pub agent: String,
}

/// A recall notice that consumers see.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RecallNotice {
    pub reason: String,
    pub notice: String,
    #[schema(value_type = String, format = DateTime)]
    pub since: jiff::Timestamp,
}

/// What recording a scan found and decided.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOutcome {
    pub scan_id: i64,
    pub verdict: crate::domain::scan::Verdict,
    /// Repeat-scan warnings (only for stamps the registry knows).
    pub repeat: Vec<crate::domain::scan::RepeatReason>,
    pub stamp: Option<ScannedStamp>,
}

/// A registered stamp as seen by a scan, this scan included.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedStamp {
    pub serial: Serial,
    pub batch: BatchId,
    pub seq: u32,
    pub state: StampState,
    pub scan_count: u64,
    pub first_scan_at: Option<jiff::Timestamp>,
    pub recall: Option<RecallNotice>,
}

#[derive(Debug, Clone)]
pub struct NewRecall {
    pub batch: BatchId,
    /// Stamp numbers, or the whole batch.
    pub range: Option<(u32, u32)>,
    pub reason: String,
    pub notice: String,
    pub actor: String,
}

/// An inspection to store, judged already (`service::inspection`).
#[derive(Debug, Clone)]
pub struct NewInspection {
    pub at: String,
    pub place: String,
    pub province: Option<String>,
    pub location: Option<(f64, f64)>,
    pub note: Option<String>,
    pub inspector: String,
    pub source: String,
    pub bundle_at: Option<String>,
    pub items: Vec<crate::domain::inspection::Item>,
    pub summary: crate::domain::inspection::Summary,
    /// Checks made offline, recorded as scans in the same transaction.
    pub scans: Vec<InspectionScan>,
}

/// A stamp checked offline by an inspector: a scan at `at` (RFC 3339). It
/// counts in the stamp's scans but not in the consumer repeat-scan rules.
#[derive(Debug, Clone)]
pub struct InspectionScan {
    pub serial: Serial,
    pub batch: BatchId,
    pub at: String,
    pub verdict: String,
}

#[derive(Debug, Clone)]
pub struct NewReport {
    pub serial: Option<Serial>,
    pub batch: Option<BatchId>,
    pub kind: String,
    pub message: Option<String>,
    pub place: Option<String>,
    pub network: Option<String>,
}

/// Something for an inspector to look at: a scan alert (a stamp that
/// started to look copied) or a consumer report, and how it was resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TriageItem {
    /// "alert" or "report"
    pub kind: String,
    pub id: i64,
    pub batch_id: BatchId,
    pub seq: Option<u32>,
    pub serial: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    /// The rules broken (alerts) or the report's kind and message.
    pub summary: String,
    pub place: Option<String>,
    pub resolution: Option<Resolution>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Resolution {
    /// process-error, confirmed-counterfeit, no-action, other
    pub outcome: String,
    pub note: String,
    pub actor: String,
    #[schema(value_type = String, format = DateTime)]
    pub resolved_at: jiff::Timestamp,
}

/// A recall as recorded, lifted or not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RecallRecord {
    pub id: i64,
    pub first_seq: Option<u32>,
    pub last_seq: Option<u32>,
    pub reason: String,
    pub notice: String,
    pub actor: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub lifted_at: Option<jiff::Timestamp>,
    pub lift_reason: Option<String>,
}

/// What a consumer reported from the scan page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ConsumerReport {
    pub id: i64,
    pub serial: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    pub kind: String,
    pub message: Option<String>,
    pub place: Option<String>,
}

/// One recorded scan, as a report shows it (the network only as its salted hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ScanRecord {
    pub serial: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    pub verdict: String,
    pub network: Option<String>,
    pub device: Option<String>,
    pub agent: Option<String>,
    pub shared_location: bool,
}

/// One lifecycle event (see the `events` table).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Event {
    pub id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    /// commission, print, activate, void, recall, lift, alert
    pub action: String,
    pub batch_id: BatchId,
    /// The stamps concerned (both absent: the whole batch).
    pub first_seq: Option<u32>,
    pub last_seq: Option<u32>,
    pub count: u64,
    pub actor: String,
    pub place: Option<String>,
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub detail: Option<serde_json::Value>,
}

/// What the scans of one batch add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct BatchScanStats {
    /// Scans of this batch's stamps (every verdict).
    pub scans: u64,
    /// Stamps scanned at least once.
    pub stamps_scanned: u64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_scan_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_scan_at: Option<jiff::Timestamp>,
    /// Scans per day (Vietnam time), oldest first: ("2026-11-27", n).
    pub per_day: Vec<(String, u64)>,
    /// Scans by verdict, e.g. ("genuine", 120), ("recalled", 3).
    pub by_verdict: Vec<(String, u64)>,
    /// Stamps whose recent scans break the repeat-scan rules, with the scan count.
    pub suspicious: Vec<SuspiciousStamp>,
    /// Consumer reports about this batch.
    pub reports: u64,
    /// Every scan of the suspicious stamps, when asked for (the report shows
    /// it per stamp).
    #[serde(skip)]
    pub history: Vec<ScanRecord>,
}

/// A stamp that looks copied, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SuspiciousStamp {
    pub seq: u32,
    pub serial: String,
    pub scan_count: u64,
    pub reasons: Vec<crate::domain::scan::RepeatReason>,
}

/// An API token as stored: its grant and life, never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    #[serde(flatten)]
    pub grant: crate::domain::Grant,
    pub label: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<jiff::Timestamp>,
}

/// A dashboard session as stored: the token it stands for (with its current
/// state), or the configured admin token's hash.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub token: Option<TokenInfo>,
    pub admin_hash: Option<Vec<u8>>,
    pub csrf: String,
    pub expires_at: jiff::Timestamp,
}

/// A token to store: the SHA-256 of the secret and what it grants.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub hash: [u8; 32],
    pub grant: crate::domain::Grant,
    pub label: Option<String>,
    pub expires_at: jiff::Timestamp,
}

pub trait Store: Send + Sync + std::fmt::Debug {
    /// Checks that the database answers.
    fn ping(&self) -> StoreResult<()>;

    /// `actor` (who, for the audit log) here and in every change below.
    fn create_producer(&self, new: &NewProducer, actor: &str) -> StoreResult<Producer>;
    fn producer(&self, id: ProducerId) -> StoreResult<Option<Producer>>;
    fn producers(&self) -> StoreResult<Vec<Producer>>;

    fn create_product(&self, new: &NewProduct, actor: &str) -> StoreResult<Product>;
    fn product(&self, id: ProductId) -> StoreResult<Option<Product>>;
    /// Replaces a product's details (same producer), with an audit entry
    /// holding it before and after.
    fn update_product(&self, id: ProductId, new: &NewProduct, actor: &str) -> StoreResult<Product>;
    fn products(&self, producer: Option<ProducerId>) -> StoreResult<Vec<Product>>;

    fn create_batch(&self, new: &NewBatch, actor: &str) -> StoreResult<Batch>;
    fn batch(&self, id: BatchId) -> StoreResult<Option<Batch>>;
    fn batches(&self, product: Option<ProductId>) -> StoreResult<Vec<BatchSummary>>;
    fn add_stage(&self, batch: BatchId, stage: &NewStage, actor: &str) -> StoreResult<Stage>;

    /// Stores `count` stamps from `feed` for `batch`, signed by `kid`, in one
    /// transaction. Serials are unique across the registry.
    fn issue_stamps(
        &self,
        batch: BatchId,
        kid: Kid,
        public_key: &[u8; 32],
        count: u32,
        actor: &str,
        feed: &mut dyn StampFeed,
    ) -> StoreResult<IssueReceipt>;

    /// Stamps of a batch in sequence order, from `from_seq`, at most `limit`.
    fn stamps(&self, batch: BatchId, from_seq: u32, limit: u32) -> StoreResult<Vec<StoredStamp>>;
    fn stamp(&self, serial: Serial) -> StoreResult<Option<StoredStamp>>;
    /// The stamps of a batch in one state, in number order.
    fn stamps_in_state(&self, batch: BatchId, state: StampState) -> StoreResult<Vec<StoredStamp>>;
    fn stamp_counts(&self, batch: BatchId) -> StoreResult<StampCounts>;
    /// Stamps by state for several batches.
    fn stamp_counts_by_batch(
        &self,
        batches: &[BatchId],
    ) -> StoreResult<std::collections::HashMap<BatchId, StampCounts>> {
        batches
            .iter()
            .map(|b| Ok((*b, self.stamp_counts(*b)?)))
            .collect()
    }

    /// Records a print job and moves its `issued` stamps to `printed`, in one
    /// transaction. Voided stamps are refused (`Conflict`); printed and
    /// activated ones count as reprints.
    fn record_print_job(&self, job: &NewPrintJob) -> StoreResult<PrintJob>;
    fn print_jobs(&self, batch: BatchId) -> StoreResult<Vec<PrintJob>>;

    /// Records scans in one transaction: for each, looks the stamp up,
    /// compares it with the scanned code, judges the scan
    /// (`domain::scan::judge`: the signature verdict the caller checked, and
    /// the registry only when it holds exactly this code: same serial,
    /// batch, key and signature bytes, compared in constant time), stores
    /// the scan, updates the stamp's scan count and recent scans, and applies
    /// the repeat-scan rules. A code whose signature holds but which differs
    /// from its stamp's row raises a `registry-mismatch` alert. Counting is
    /// exact under concurrency: SQLite has one writer, and on PostgreSQL
    /// each stamp's row is locked while it is counted (whichever node).
    fn record_scans(
        &self,
        scans: &[NewScan],
        rules: &crate::domain::scan::RepeatRules,
        today: jiff::civil::Date,
    ) -> StoreResult<Vec<ScanOutcome>>;
    /// Stores a token; its producer must exist (`NotFound` otherwise).
    fn create_token(&self, new: &NewToken, actor: &str) -> StoreResult<TokenInfo>;
    /// The token whose hash is `hash` (looked up by its first 8 bytes, then
    /// compared in full in constant time), revoked or expired ones included.
    fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenInfo>>;
    fn tokens(&self) -> StoreResult<Vec<TokenInfo>>;
    /// Marks a token revoked; false if there is no such token or it already was.
    fn revoke_token(&self, id: i64, actor: &str) -> StoreResult<bool>;

    /// Opens a dashboard session (and forgets expired ones).
    fn create_session(
        &self,
        hash: &[u8; 32],
        token_id: Option<i64>,
        admin_hash: Option<&[u8; 32]>,
        csrf: &str,
        expires_at: jiff::Timestamp,
    ) -> StoreResult<()>;
    fn session(&self, hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>>;
    fn delete_session(&self, hash: &[u8; 32]) -> StoreResult<()>;
    /// Stores an uploaded image under its name (idempotent).
    fn put_media(&self, name: &str, content_type: &str, bytes: &[u8]) -> StoreResult<()>;
    /// An image: its content type and bytes.
    fn media(&self, name: &str) -> StoreResult<Option<(String, Vec<u8>)>>;

    /// The locations people chose to share with scans of a batch.
    fn scan_locations(&self, batch: BatchId) -> StoreResult<Vec<(f64, f64)>>;
    /// Adds a location the person chose to share to a recorded scan.
    fn set_scan_location(&self, scan_id: i64, lat: f64, lon: f64) -> StoreResult<bool>;
    /// A service-wide value; `make` creates it the first time (atomically).
    fn setting(&self, key: &str, make: &dyn Fn() -> String) -> StoreResult<String>;
    /// Recalls a batch or a range of its stamps.
    fn recall(&self, recall: &NewRecall) -> StoreResult<RecallNotice>;
    /// Lifts every active recall of a batch; returns how many.
    fn lift_recalls(&self, batch: BatchId, reason: &str, actor: &str) -> StoreResult<u32>;
    /// Voids stamps first..=last of a batch; returns how many changed.
    fn void_stamps(
        &self,
        batch: BatchId,
        first: u32,
        last: u32,
        reason: &str,
        actor: &str,
    ) -> StoreResult<u32>;
    /// Moves printed stamps `first..=last` to activated (already activated
    /// ones count as done). All or nothing: any stamp in the range that was
    /// never printed, or was voided, or does not exist refuses the whole
    /// range (`Conflict`). Returns how many changed.
    fn activate_stamps(
        &self,
        batch: BatchId,
        first: u32,
        last: u32,
        actor: &str,
    ) -> StoreResult<u32>;
    /// Scan count and first scan of stamps `from_seq`.., at most `limit`, by number.
    fn stamp_scans(
        &self,
        batch: BatchId,
        from_seq: u32,
        limit: u32,
    ) -> StoreResult<Vec<(u32, u64, Option<jiff::Timestamp>)>>;
    /// Every recall of a batch, oldest first.
    fn recalls(&self, batch: BatchId) -> StoreResult<Vec<RecallRecord>>;
    /// Consumer reports about a batch's stamps, newest first.
    fn consumer_reports(&self, batch: BatchId) -> StoreResult<Vec<ConsumerReport>>;
    /// Scan alerts and consumer reports, newest first: only unresolved ones
    /// when `open_only`, of one batch or all.
    fn triage(&self, open_only: bool, batch: Option<BatchId>) -> StoreResult<Vec<TriageItem>>;
    /// One triage item, resolved or not.
    fn triage_item(&self, kind: &str, id: i64) -> StoreResult<Option<TriageItem>>;
    /// Records the outcome of a triage item; `Conflict` if it was resolved
    /// already, `NotFound` if there is no such item.
    fn resolve_triage(
        &self,
        kind: &str,
        id: i64,
        outcome: &str,
        note: &str,
        actor: &str,
    ) -> StoreResult<TriageItem>;
    /// Appends an audit entry for a change made outside the database (key
    /// generation, rotation, revocation).
    fn audit_record(
        &self,
        actor: &str,
        action: &str,
        object: &str,
        after: Option<serde_json::Value>,
    ) -> StoreResult<()>;
    /// Every audit entry in order, with the leaf hash stored for it.
    /// From entry `from_seq` on, at most `limit` of them.
    fn audit_entries(
        &self,
        from_seq: u64,
        limit: u64,
    ) -> StoreResult<Vec<(crate::audit::Entry, Vec<u8>)>>;
    /// Stores an inspection and its items, with its audit entry, at once.
    fn create_inspection(
        &self,
        new: &NewInspection,
    ) -> StoreResult<crate::domain::inspection::Inspection>;
    fn inspection(&self, id: i64) -> StoreResult<Option<crate::domain::inspection::Inspection>>;
    /// Every inspection, newest first, without its items.
    fn inspections(&self) -> StoreResult<Vec<crate::domain::inspection::Inspection>>;

    /// The entries whose object is `object` (e.g. "batch:8"), in order.
    fn audit_entries_about(&self, object: &str) -> StoreResult<Vec<crate::audit::Entry>>;
    /// Every stamp of a batch (in number order) and the audit entries about
    /// it, read in one snapshot: an issuance or print job committed meanwhile
    /// is in both or in neither.
    fn batch_stamps_and_entries(
        &self,
        batch: BatchId,
    ) -> StoreResult<(Vec<StoredStamp>, Vec<crate::audit::Entry>)>;
    /// Stores a batch verification's signed report, with its audit entry.
    fn record_verification(
        &self,
        id: &str,
        batch: BatchId,
        actor: &str,
        verdict: &str,
        report: &str,
    ) -> StoreResult<()>;

    /// How many entries the log holds.
    fn audit_size(&self) -> StoreResult<u64>;
    /// The stored hash of a perfect subtree (level 0: an entry's leaf).
    fn audit_perfect(&self, level: u32, index: u64) -> StoreResult<crate::audit::merkle::Hash>;
    fn audit_heads(&self) -> StoreResult<Vec<crate::audit::TreeHead>>;
    fn add_audit_head(&self, head: &crate::audit::TreeHead) -> StoreResult<()>;
    /// A batch's lifecycle events, oldest first.
    fn events(&self, batch: BatchId) -> StoreResult<Vec<Event>>;
    /// Scan figures for a batch's report and statistics.
    /// `rules` judge which stamps look copied, as of each stamp's last scan.
    /// `with_history` also collects every scan of the suspicious stamps
    /// (`history`), in the same pass over the scans.
    fn batch_scan_stats(
        &self,
        batch: BatchId,
        rules: &crate::domain::scan::RepeatRules,
        with_history: bool,
    ) -> StoreResult<BatchScanStats>;
    fn add_report(&self, report: &NewReport) -> StoreResult<i64>;

    /// Whether other tem nodes may share this database (PostgreSQL): what
    /// one node keeps in memory is then not the whole count.
    fn shared(&self) -> bool;
    /// Counts one request from `network` in `minute` and returns the count
    /// so far, for rate limits that hold across nodes. Not serialised with
    /// other writes.
    fn count_request(&self, network: &str, minute: i64) -> StoreResult<u64>;
}

/// Proofs and heads from the subtrees the store keeps.
impl crate::audit::merkle::Subtrees for &dyn Store {
    type Error = StoreError;
    fn perfect(&mut self, level: u32, index: u64) -> StoreResult<crate::audit::merkle::Hash> {
        self.audit_perfect(level, index)
    }
}
