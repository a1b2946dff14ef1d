//! What every change writes besides itself, inside its own transaction:
//! the audit log entry (with the Merkle subtrees it completes) and, for
//! stamps, the lifecycle event. Every aggregate that changes something
//! uses these; they use nothing of the aggregates.

use super::backend::now;
use super::conn::{Conn, args};
use super::{StoreError, StoreResult};
use crate::audit::merkle;
use crate::domain::{BatchId, EventAction};

// The SQL of this file, named, so that rustfmt formats the code around it.
const NEXT_AUDIT_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log";
const INSERT_AUDIT_ENTRY: &str = "INSERT INTO audit_log (seq, at, actor, action, object, before, after, leaf) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const INSERT_AUDIT_NODE: &str = "INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)";
const AUDIT_LEAF: &str = "SELECT leaf FROM audit_log WHERE seq = ?1";
const AUDIT_NODE: &str = "SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2";
const INSERT_EVENT: &str =
    "INSERT INTO events (at, action, batch_id, first_seq, last_seq, count, actor, reason, detail)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// Appends an audit entry inside the caller's transaction.
pub(super) fn audit_append(
    tx: &dyn Conn,
    actor: &str,
    action: &str,
    object: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> StoreResult<()> {
    if cfg!(feature = "bench-without-audit") {
        return Ok(());
    }
    let seq: i64 = tx.query_row(NEXT_AUDIT_SEQ, args![], |r| r.get(0))?;
    let entry = crate::audit::Entry {
        seq: seq as u64,
        at: now(),
        actor: actor.to_string(),
        action: action.to_string(),
        object: object.to_string(),
        before,
        after,
    };
    tx.execute(
        INSERT_AUDIT_ENTRY,
        args![
            seq,
            entry.at,
            entry.actor,
            entry.action,
            entry.object,
            entry.before.as_ref().map(|v| v.to_string()),
            entry.after.as_ref().map(|v| v.to_string()),
            &entry.leaf()[..]
        ],
    )?;
    store_completed_nodes(tx, seq as u64 - 1, entry.leaf())
}

/// After leaf `index` is appended: stores every perfect subtree it
/// completes (docs/audit-log.md, V9).
pub(super) fn store_completed_nodes(
    tx: &dyn Conn,
    index: u64,
    leaf: merkle::Hash,
) -> StoreResult<()> {
    let (mut level, mut idx, mut h) = (0u32, index, leaf);
    while idx % 2 == 1 {
        let sibling = perfect_on(tx, level, idx - 1)?;
        h = merkle::node_hash(&sibling, &h);
        level += 1;
        idx /= 2;
        tx.execute(INSERT_AUDIT_NODE, args![level, idx as i64, &h[..]])?;
    }
    Ok(())
}

/// A stored perfect subtree: level 0 is an entry's leaf hash.
pub(super) fn perfect_on(c: &dyn Conn, level: u32, idx: u64) -> StoreResult<merkle::Hash> {
    let blob: Option<Vec<u8>> = if level == 0 {
        c.query_opt(AUDIT_LEAF, args![idx as i64 + 1], |r| r.get(0))?
    } else {
        c.query_opt(AUDIT_NODE, args![level, idx as i64], |r| r.get(0))?
    };
    blob.and_then(|b| merkle::Hash::try_from(b.as_slice()).ok())
        .ok_or_else(|| StoreError::database(format!("audit tree node {level}/{idx} is missing")))
}

/// What an event records besides its action and batch.
pub(super) struct EventRow<'a> {
    pub(super) first_seq: Option<u32>,
    pub(super) last_seq: Option<u32>,
    pub(super) count: u64,
    pub(super) actor: &'a str,
    pub(super) reason: Option<&'a str>,
    pub(super) detail: Option<serde_json::Value>,
}

/// Appends a lifecycle event inside the caller's transaction.
pub(super) fn record_event(
    tx: &dyn Conn,
    action: EventAction,
    batch: BatchId,
    e: EventRow<'_>,
) -> StoreResult<()> {
    tx.execute(
        INSERT_EVENT,
        args![
            now(),
            action.as_str(),
            batch.0,
            e.first_seq,
            e.last_seq,
            e.count as i64,
            e.actor,
            e.reason,
            e.detail.as_ref().map(|d| d.to_string())
        ],
    )?;
    audit_append(
        tx,
        e.actor,
        &format!("stamps.{action}"),
        &format!("batch:{}", batch.0),
        None,
        Some(serde_json::json!({
            "first_seq": e.first_seq, "last_seq": e.last_seq, "count": e.count,
            "reason": e.reason, "detail": e.detail,
        })),
    )
}
