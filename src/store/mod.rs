//! Persistence behind one interface. `Store` is what every layer above sees;
//! `sqlite` is the embedded default and `postgres` serves several nodes.
//! Both run the same queries, written once per aggregate (`registry`,
//! `stamps`, `lifecycle`, `scans`, `triage`, `audit`, `inspections`,
//! `access`, `media`) against `conn::Conn`, so nothing above this module
//! knows which database it talks to. `Store` is the sum of the aggregates'
//! traits.
//!
//! The trait is synchronous: rusqlite is, and the web layer already moves
//! blocking work off the async executor with `web::block`. Each method is
//! one transaction: it either happens completely or leaves no trace.

mod access;
mod audit;
mod backend;
pub mod backup;
pub mod claims;
mod conn;
mod event_query;
mod inspections;
mod journal;
mod lifecycle;
mod lookups;
mod media;
pub mod migrate;
mod pg_tls;
mod postgres;
mod previews;
mod registry;
mod rows;
pub mod sales;
mod scan_alerts;
mod scans;
mod schema;
mod sqlite;
mod stamps;
mod trade_events;
mod triage;

pub use access::{AccessStore, NewToken, SessionRecord, TokenInfo};
pub use audit::{AuditStore, BatchSnapshot};
pub use claims::{ClaimAttempt, ClaimOutcome, ClaimStore};
pub use event_query::{EventFilter, EventOf, EventQueryStore};
pub use inspections::{InspectionScan, InspectionStore, NewInspection};
pub use lifecycle::{
    Event, LifecycleStore, NewPrintJob, NewRecall, PrintJob, PrintedStamps, RecallNotice,
    RecallRecord,
};
pub use media::MediaStore;
pub use postgres::PgStore;
pub use previews::PreviewStore;
pub use registry::{BatchSummary, RegistryStore};
pub use sales::{ClaimRecord, Sale, SaleRecord, SaleStore, Seller, SoldStamp, Undo};
pub use scans::{
    BatchScanStats, NewScan, ScanOutcome, ScanRecord, ScanStore, ScannedStamp, SuspiciousStamp,
};
pub use sqlite::SqliteStore;
pub use stamps::{IssueReceipt, NewIssuance, StampFeed, StampStore, StoredStamp};
pub use trade_events::{ClaimEvent, SaleCursor, SaleEvent, TradeEventStore};
pub use triage::{ConsumerReport, NewReport, Resolution, TriageItem, TriageStore};

/// A failure's cause, kept so the log shows the whole chain.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A referenced row does not exist (`what` names it: "producer", "batch"…).
    #[error("{what} {id} does not exist")]
    NotFound {
        /// What was looked for ("batch", "producer"…).
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// A uniqueness rule was broken, e.g. a lot code already used for the product.
    #[error("{0}")]
    Conflict(String),
    /// The database file was written by a newer tem, or is not a tem database.
    #[error("database schema: {0}")]
    Schema(String),
    /// Issuance was stopped by its caller (e.g. the CSV could not be written).
    #[error("issuance aborted: {0}")]
    Aborted(String),
    /// The database cannot be reached or is too busy right now (connection
    /// refused or lost, pool exhausted, a lock held too long, disk full): the
    /// same request may succeed shortly. Callers over HTTP get 503 with
    /// `Retry-After`; nothing was changed.
    #[error("database unavailable: {what}")]
    Unavailable {
        /// What was being done.
        what: String,
        /// The error that caused it.
        #[source]
        source: Option<Cause>,
    },
    /// Anything else the database did that tem did not expect.
    #[error("database error: {what}")]
    Database {
        /// What was being done.
        what: String,
        /// Why the database cannot serve.
        #[source]
        source: Option<Cause>,
    },
}

impl StoreError {
    /// An unexpected database failure described by tem (no cause to keep).
    pub fn database(what: impl Into<String>) -> Self {
        StoreError::Database {
            what: what.into(),
            source: None,
        }
    }

    /// An unexpected database failure with the error that caused it.
    pub fn caused(what: impl Into<String>, source: impl Into<Cause>) -> Self {
        StoreError::Database {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// The database cannot serve now; `source` says why.
    pub fn unavailable(what: impl Into<String>, source: impl Into<Cause>) -> Self {
        StoreError::Unavailable {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// Whether trying again shortly may succeed (HTTP 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// A store operation's result.
pub type StoreResult<T> = Result<T, StoreError>;

/// Declares `Store` as the sum of the aggregates' traits, and implements
/// it for every type that has them all (the list is written once).
macro_rules! store_sum {
    ($(#[$doc:meta])* $($aggregate:ident),+) => {
        $(#[$doc])*
        pub trait Store: $($aggregate +)+ Send + Sync + std::fmt::Debug {}

        impl<T> Store for T where T: $($aggregate +)+ Send + Sync + std::fmt::Debug {}
    };
}

store_sum!(
    /// Everything tem keeps, as one object: the sum of the aggregates' traits,
    /// so `Arc<dyn Store>` is what the layers above hold. On `dyn Store` every
    /// method is at hand; on a concrete store (`SqliteStore`, `PgStore`) bring
    /// the traits into scope with `use crate::store::prelude::*`.
    RegistryStore,
    StampStore,
    LifecycleStore,
    EventQueryStore,
    TradeEventStore,
    ScanStore,
    TriageStore,
    AuditStore,
    InspectionStore,
    AccessStore,
    MediaStore,
    PreviewStore,
    ClaimStore,
    SaleStore
);

/// The aggregates' traits, for calling a `Store`'s methods.
pub mod prelude {
    pub use super::{
        AccessStore, AuditStore, ClaimStore, EventQueryStore, InspectionStore, LifecycleStore,
        MediaStore, PreviewStore, RegistryStore, SaleStore, ScanStore, StampStore, Store,
        TradeEventStore, TriageStore,
    };
}
