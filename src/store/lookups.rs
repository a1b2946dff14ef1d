//! Small reads several aggregates share inside their transactions.

use super::StoreResult;
use super::conn::{Conn, args};
use super::rows::bad_value;
use crate::domain::{BatchId, StampCounts, StampState};

pub(super) fn batch_exists(conn: &dyn Conn, batch: BatchId) -> StoreResult<bool> {
    Ok(conn
        .query_opt(
            "SELECT 1 FROM batches WHERE id = ?1",
            args![batch.0],
            |_| Ok(()),
        )?
        .is_some())
}

pub(super) fn counts(conn: &dyn Conn, batch: BatchId) -> StoreResult<StampCounts> {
    let mut c = StampCounts::default();
    for row in conn.rows(
        "SELECT state, n FROM batch_stamp_counts WHERE batch_id = ?1",
        args![batch.0],
    )? {
        let n =
            u64::try_from(row.get::<i64>(1)?).map_err(|_| bad_value("stamp count", "negative"))?;
        match StampState::from_code(row.get(0)?) {
            Some(StampState::Issued) => c.issued = n,
            Some(StampState::Printed) => c.printed = n,
            Some(StampState::Activated) => c.activated = n,
            Some(StampState::Voided) => c.voided = n,
            None => return Err(bad_value("stamp state", "?")),
        }
        c.total += n;
    }
    Ok(c)
}
