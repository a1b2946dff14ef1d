//! Small reads several aggregates share inside their transactions.

use super::StoreResult;
use super::conn::{Conn, args};
use super::rows::bad_value;
use crate::domain::{BatchId, StampCounts, StampState};

// The SQL of this file, named, so that rustfmt formats the code around it.
const BATCH_EXISTS: &str = "SELECT 1 FROM batches WHERE id = ?1";
const STAMP_COUNTS: &str = "SELECT state, n FROM batch_stamp_counts WHERE batch_id = ?1";

pub(super) fn batch_exists(conn: &dyn Conn, batch: BatchId) -> StoreResult<bool> {
    Ok(conn
        .query_opt(BATCH_EXISTS, args![batch.0], |_| Ok(()))?
        .is_some())
}

pub(super) fn counts(conn: &dyn Conn, batch: BatchId) -> StoreResult<StampCounts> {
    let mut c = StampCounts::default();
    for row in conn.rows(STAMP_COUNTS, args![batch.0])? {
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

const COUNT_OUT: &str =
    "UPDATE batch_stamp_counts SET n = n - ?3 WHERE batch_id = ?1 AND state = ?2";
const COUNT_IN: &str = "INSERT INTO batch_stamp_counts (batch_id, state, n) VALUES (?1, ?2, ?3)
     ON CONFLICT (batch_id, state) DO UPDATE SET n = batch_stamp_counts.n + excluded.n";

/// Keeps a batch's counts by state in step with its stamps (inside the
/// transaction that changed them): `n` stamps left state `from`, if they
/// were in one (new stamps were not), and entered state `to`.
pub(super) fn move_counts(
    tx: &dyn Conn,
    batch: BatchId,
    from: Option<StampState>,
    to: StampState,
    n: u64,
) -> StoreResult<()> {
    if n == 0 {
        return Ok(());
    }
    if let Some(from) = from {
        count_out(tx, batch, from, n)?;
    }
    tx.execute(COUNT_IN, args![batch.0, to.code(), n as i64])?;
    Ok(())
}

/// `n` stamps left state `from` (when they go to several states at once,
/// e.g. voiding: `move_counts` with no `from` then adds them).
pub(super) fn count_out(
    tx: &dyn Conn,
    batch: BatchId,
    from: StampState,
    n: u64,
) -> StoreResult<()> {
    if n > 0 {
        tx.execute(COUNT_OUT, args![batch.0, from.code(), n as i64])?;
    }
    Ok(())
}
