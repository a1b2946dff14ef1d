//! Decoding stored values that every aggregate shares: times, dates, and the
//! errors for values that are not what tem wrote.

use super::conn::Row;
use super::{StoreError, StoreResult};

/// A stored RFC 3339 time.
pub(super) fn timestamp(t: &str) -> StoreResult<jiff::Timestamp> {
    t.parse().map_err(|_| bad_value("time", t))
}

pub(super) fn bad_value(what: &str, value: &str) -> StoreError {
    StoreError::database(format!("stored {what} {value:?} is not valid"))
}

pub(super) fn ts(row: &Row, idx: usize) -> StoreResult<jiff::Timestamp> {
    timestamp(row.str(idx)?)
}

pub(super) fn day(row: &Row, idx: usize) -> StoreResult<jiff::civil::Date> {
    let s = row.str(idx)?;
    s.parse().map_err(|_| bad_value("date", s))
}

pub(super) fn opt_day(row: &Row, idx: usize) -> StoreResult<Option<jiff::civil::Date>> {
    let s: Option<String> = row.get(idx)?;
    s.map(|s| s.parse().map_err(|_| bad_value("date", &s)))
        .transpose()
}

pub(super) fn not_found(what: &'static str, id: impl std::fmt::Display) -> StoreError {
    StoreError::NotFound {
        what,
        id: id.to_string(),
    }
}
