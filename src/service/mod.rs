//! Use cases, one file each. A service function validates nothing the domain
//! types already guarantee, makes one store call (one transaction) and returns
//! domain values. The web handlers and the CLI both call these.

pub mod access;
pub mod admin;
pub mod audit;
pub mod audit_log;
pub mod backup;
pub mod batch_overview;
pub mod bundle;
pub mod context;
pub mod demo;
pub mod epcis;
pub mod epcis_query;
pub mod inspection;
pub mod issue;
pub mod keys;
pub mod lifecycle;
pub mod migrate_data;
pub mod photos;
pub mod rate_limit;
pub mod registry;
pub mod report;
pub mod resolver;
pub mod sales;
pub mod scan;
pub mod search;
pub mod sessions;
pub mod sheet;
mod sheet_claims;
pub mod sheet_preview;
pub mod stamp_export;
pub mod tlog;
pub mod tlog_monitor;
pub mod tokens;
pub mod triage;
pub mod verification;
mod verification_sales;

use crate::codes::KeyError;
use crate::domain::DomainError;
/// The store's error, as `ServiceError::Store` carries it.
pub use crate::store::StoreError;
pub use context::Context;

/// Why a use case failed; the web layer maps each to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Input that breaks a rule (the field and the rule).
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("{what} {id} does not exist")]
    /// A row that does not exist (or that the caller may not see).
    NotFound {
        /// What was looked for ("batch", "producer"…).
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// Something that would clash with what exists (a lot code used twice, a state that forbids the change).
    #[error("{0}")]
    Conflict(String),
    /// A key problem (none active, a bad file…).
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The database failed (its cause is kept).
    #[error(transparent)]
    Store(StoreError),
    /// A part of tem that this request needs is not running right now
    /// (the scan recorder restarting): try again shortly.
    #[error("{0}")]
    Unavailable(String),
}

impl ServiceError {
    /// Whether trying again shortly may succeed: the database or a part of
    /// tem cannot serve right now.
    pub fn is_unavailable(&self) -> bool {
        match self {
            ServiceError::Store(e) => e.is_unavailable(),
            ServiceError::Unavailable(_) => true,
            _ => false,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, id } => ServiceError::NotFound { what, id },
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            other => ServiceError::Store(other),
        }
    }
}

/// A use case's result.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// An unexpected failure (writing a PDF, encoding JSON) as a service error:
/// a 500 for callers, the cause in the log.
pub(crate) fn internal(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Store(StoreError::database(e.to_string()))
}

pub(crate) fn not_found(what: &'static str, id: impl std::fmt::Display) -> ServiceError {
    ServiceError::NotFound {
        what,
        id: id.to_string(),
    }
}
