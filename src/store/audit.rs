//! The audit log: entries appended inside the transactions they record, the
//! Merkle subtrees kept for proofs, signed tree heads and batch verifications.

use super::backend::{Backend, now};
use super::conn::{Conn, Row, args};
use super::journal::{audit_append, perfect_on, store_completed_nodes};
use super::prelude::*;
use super::rows::bad_value;
use super::stamps::{STAMP_COLUMNS, STAMP_FROM, StoredStamp, stamp_row};
use super::{StoreError, StoreResult};
use crate::audit::merkle;
use crate::domain::BatchId;

// The SQL of this file, named, so that rustfmt formats the code around it.
const AUDIT_ENTRIES_FROM: &str =
    "SELECT seq, at, actor, action, object, before, after, leaf FROM audit_log
     WHERE seq >= ?1 ORDER BY seq LIMIT ?2";
/// A batch as batch verification reads it: one snapshot.
#[derive(Debug, Clone)]
pub struct BatchSnapshot {
    /// Its stamps, in number order.
    pub stamps: Vec<StoredStamp>,
    /// Its sold stamps.
    pub sales: Vec<super::sales::SaleRecord>,
    /// Its claimed stamps.
    pub claims: Vec<super::sales::ClaimRecord>,
    /// The audit entries about it, in order.
    pub entries: Vec<crate::audit::Entry>,
}

const AUDIT_ENTRIES_ABOUT: &str = "SELECT seq, at, actor, action, object, before, after FROM audit_log WHERE object = ?1 ORDER BY seq";
const INSERT_VERIFICATION: &str = "INSERT INTO verifications (id, batch_id, at, actor, verdict, report) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const AUDIT_SIZE: &str = "SELECT COALESCE(MAX(seq), 0) FROM audit_log";
const AUDIT_HEADS: &str = "SELECT size, root, at, kid, signature FROM audit_heads ORDER BY size";
const INSERT_AUDIT_HEAD: &str =
    "INSERT INTO audit_heads (size, root, at, kid, signature) VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (size) DO NOTHING";
const AUDIT_NODES_MISSING: &str =
    "SELECT EXISTS (SELECT 1 FROM audit_log WHERE seq = 2), EXISTS (SELECT 1 FROM audit_nodes)";
const DELETE_AUDIT_NODES: &str = "DELETE FROM audit_nodes";
const AUDIT_LEAVES: &str = "SELECT leaf FROM audit_log ORDER BY seq";
const AUDIT_LEAVES_FROM: &str = "SELECT leaf FROM audit_log WHERE seq >= ?1 ORDER BY seq LIMIT ?2";
const AUDIT_NODES_FROM: &str =
    "SELECT hash FROM audit_nodes WHERE level = ?1 AND idx >= ?2 ORDER BY idx LIMIT ?3";

/// The append-only audit log and the tree over it.
pub trait AuditStore {
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
    /// The entries whose object is `object` (e.g. "batch:8"), in order.
    fn audit_entries_about(&self, object: &str) -> StoreResult<Vec<crate::audit::Entry>>;
    /// Every stamp of a batch (in number order), its sales and claims, and
    /// the audit entries about it, read in one snapshot: an issuance, print
    /// job or sale committed meanwhile is in both or in neither.
    fn batch_snapshot(&self, batch: BatchId) -> StoreResult<BatchSnapshot>;
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
    /// The hashes of perfect subtrees `first..first+count` of `level`, in
    /// order (level 0: the entries' leaves); fewer if the tree has fewer.
    fn audit_perfect_range(
        &self,
        level: u32,
        first: u64,
        count: u64,
    ) -> StoreResult<Vec<crate::audit::merkle::Hash>>;
    /// Every signed tree head, oldest first.
    fn audit_heads(&self) -> StoreResult<Vec<crate::audit::TreeHead>>;
    /// Stores a signed tree head.
    fn add_audit_head(&self, head: &crate::audit::TreeHead) -> StoreResult<()>;
}

impl<B: Backend> AuditStore for B {
    fn audit_record(
        &self,
        actor: &str,
        action: &str,
        object: &str,
        after: Option<serde_json::Value>,
    ) -> StoreResult<()> {
        self.write(|tx| audit_append(tx, actor, action, object, None, after))
    }

    fn audit_entries(
        &self,
        from_seq: u64,
        limit: u64,
    ) -> StoreResult<Vec<(crate::audit::Entry, Vec<u8>)>> {
        self.read(|c| {
            c.query_map(
                AUDIT_ENTRIES_FROM,
                args![
                    from_seq.min(i64::MAX as u64) as i64,
                    limit.min(i64::MAX as u64) as i64
                ],
                |r| Ok((audit_entry(r)?, r.get(7)?)),
            )
        })
    }

    fn audit_entries_about(&self, object: &str) -> StoreResult<Vec<crate::audit::Entry>> {
        self.read(|c| c.query_map(AUDIT_ENTRIES_ABOUT, args![object], audit_entry))
    }

    fn batch_snapshot(&self, batch: BatchId) -> StoreResult<BatchSnapshot> {
        self.read(|c| {
            let stamps = c.query_map(
                &format!(
                    "SELECT {STAMP_COLUMNS} {STAMP_FROM} WHERE s.batch_id = ?1 ORDER BY s.seq"
                ),
                args![batch.0],
                stamp_row,
            )?;
            let entries = c.query_map(
                AUDIT_ENTRIES_ABOUT,
                args![format!("batch:{batch}")],
                audit_entry,
            )?;
            let (sales, claims) = super::sales::sales_and_claims(c, batch)?;
            Ok(BatchSnapshot {
                stamps,
                sales,
                claims,
                entries,
            })
        })
    }

    fn record_verification(
        &self,
        id: &str,
        batch: BatchId,
        actor: &str,
        verdict: &str,
        report: &str,
    ) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                INSERT_VERIFICATION,
                args![id, batch.0, now(), actor, verdict, report],
            )?;
            audit_append(
                tx,
                actor,
                "batch.verify",
                &format!("verification:{id}"),
                None,
                Some(serde_json::json!({ "batch": batch.0, "verdict": verdict })),
            )
        })
    }

    fn audit_size(&self) -> StoreResult<u64> {
        self.read(|c| Ok(c.query_row(AUDIT_SIZE, args![], |r| r.get::<i64>(0))? as u64))
    }

    fn audit_perfect(&self, level: u32, idx: u64) -> StoreResult<merkle::Hash> {
        self.read(|c| perfect_on(c, level, idx))
    }

    fn audit_perfect_range(
        &self,
        level: u32,
        first: u64,
        count: u64,
    ) -> StoreResult<Vec<merkle::Hash>> {
        let (first, count) = (first.min(i64::MAX as u64) as i64, count.min(1 << 20) as i64);
        let blobs: Vec<Vec<u8>> = self.read(|c| {
            if level == 0 {
                c.query_map(AUDIT_LEAVES_FROM, args![first + 1, count], |r| r.get(0))
            } else {
                c.query_map(AUDIT_NODES_FROM, args![level, first, count], |r| r.get(0))
            }
        })?;
        blobs
            .iter()
            .map(|b| {
                merkle::Hash::try_from(b.as_slice())
                    .map_err(|_| bad_value("audit tree hash", "(wrong length)"))
            })
            .collect()
    }

    fn audit_heads(&self) -> StoreResult<Vec<crate::audit::TreeHead>> {
        self.read(|c| {
            c.query_map(AUDIT_HEADS, args![], |r| {
                Ok(crate::audit::TreeHead {
                    size: r.get::<i64>(0)? as u64,
                    root: data_encoding::HEXLOWER.encode(&r.get::<Vec<u8>>(1)?),
                    at: r.get(2)?,
                    kid: r.get(3)?,
                    signature: data_encoding::BASE64URL_NOPAD.encode(&r.get::<Vec<u8>>(4)?),
                })
            })
        })
    }

    fn add_audit_head(&self, h: &crate::audit::TreeHead) -> StoreResult<()> {
        let root = data_encoding::HEXLOWER
            .decode(h.root.as_bytes())
            .map_err(|_| bad_value("root", &h.root))?;
        let sig = data_encoding::BASE64URL_NOPAD
            .decode(h.signature.as_bytes())
            .map_err(|_| bad_value("signature", &h.signature))?;
        self.write(|tx| {
            tx.execute(
                INSERT_AUDIT_HEAD,
                args![h.size as i64, root, h.at, h.kid, sig],
            )?;
            Ok(())
        })
    }
}

/// An audit entry from columns seq, at, actor, action, object, before, after.
pub(super) fn audit_entry(r: &Row) -> StoreResult<crate::audit::Entry> {
    let json = |i: usize| -> StoreResult<Option<serde_json::Value>> {
        let text: Option<String> = r.get(i)?;
        text.map(|t| serde_json::from_str(&t).map_err(|_| bad_value("audit JSON", &t)))
            .transpose()
    };
    Ok(crate::audit::Entry {
        seq: r.get::<i64>(0)? as u64,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        object: r.get(4)?,
        before: json(5)?,
        after: json(6)?,
    })
}

/// Whether the audit log has entries but no stored subtrees (a database
/// from before V9). Two index probes, not counts: this runs at every open.
pub(super) fn audit_nodes_missing(c: &dyn Conn) -> StoreResult<bool> {
    let (two_entries, any_node): (bool, bool) =
        c.query_row(AUDIT_NODES_MISSING, args![], |r| Ok((r.get(0)?, r.get(1)?)))?;
    // Only a log that never had them: stored nodes that disagree with the
    // entries are left for `tem audit verify` (which recomputes from the
    // entries) and for proof checkers to notice, not repaired quietly.
    Ok(two_entries && !any_node)
}

/// Writes the stored subtrees of an audit log that has entries without
/// them; a no-op when they are complete.
pub(super) fn backfill_audit_nodes(tx: &dyn Conn) -> StoreResult<()> {
    if !audit_nodes_missing(tx)? {
        return Ok(());
    }
    tx.execute(DELETE_AUDIT_NODES, args![])?;
    let leaves: Vec<Vec<u8>> = tx.query_map(AUDIT_LEAVES, args![], |r| r.get(0))?;
    for (i, leaf) in leaves.iter().enumerate() {
        let leaf = merkle::Hash::try_from(leaf.as_slice())
            .map_err(|_| StoreError::database(format!("audit entry {} has a bad hash", i + 1)))?;
        store_completed_nodes(tx, i as u64, leaf)?;
    }
    Ok(())
}

/// Proofs and heads from the subtrees the store keeps.
impl crate::audit::merkle::Subtrees for &dyn Store {
    type Error = StoreError;
    fn perfect(&mut self, level: u32, index: u64) -> StoreResult<crate::audit::merkle::Hash> {
        self.audit_perfect(level, index)
    }
}
