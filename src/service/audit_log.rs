//! Reading the audit log: the entries a caller may see, the signed tree
//! heads, and the proofs an inspector checks them with (RFC 6962 / 9162:
//! an entry is in the tree of a head; an older head's tree is a prefix of a
//! newer one's).

use serde::Serialize;
use utoipa::ToSchema;

use super::{ServiceError, ServiceResult, access};
use crate::audit::{Entry, TreeHead, merkle};
use crate::domain::{DomainError, Grant, Role};
use crate::store::prelude::*;

/// Entries `from`.., at most `limit`, that `grant` may read.
pub fn entries(
    store: &dyn Store,
    grant: &Grant,
    from: u64,
    limit: u64,
) -> ServiceResult<Vec<Entry>> {
    let visible = Visible::of(store, grant)?;
    // Callers who see everything get exactly one page from the database;
    // the others read on from `from` until a page of what they may see.
    let read = if visible.all { limit } else { u64::MAX };
    Ok(store
        .audit_entries(from, read)?
        .into_iter()
        .map(|(e, _)| e)
        .filter(|e| visible.allows(&e.object))
        .take(limit as usize)
        .collect())
}

/// A page of the log for reading, newest first.
pub struct Page {
    /// Entries in the log.
    pub size: u64,
    /// The page's entries, newest first.
    pub entries: Vec<Entry>,
    /// The latest signed tree head, if any.
    pub head: Option<TreeHead>,
}

/// Up to `page` entries ending at `top` (default: the newest), for callers
/// who may read the whole log (admins, inspectors of the whole country).
pub fn page(store: &dyn Store, grant: &Grant, top: Option<u64>, page: u64) -> ServiceResult<Page> {
    if !Visible::whole_log(grant) {
        return Err(super::not_found("page", "audit"));
    }
    let size = store.audit_size()?;
    let top = top.unwrap_or(size).min(size);
    let from = top.saturating_sub(page - 1).max(1);
    let mut entries: Vec<Entry> = store
        .audit_entries(from, top + 1 - from)?
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    entries.reverse();
    let head = store.audit_heads()?.into_iter().max_by_key(|h| h.size);
    Ok(Page {
        size,
        entries,
        head,
    })
}

/// Every signed tree head, oldest first.
pub fn heads(store: &dyn Store) -> ServiceResult<Vec<TreeHead>> {
    Ok(store.audit_heads()?)
}

/// Signs the log's current tree head now, with the active key.
pub fn sign_head_now(ctx: &super::Context) -> ServiceResult<TreeHead> {
    super::audit::sign_head(ctx.store(), &ctx.keys()?.signer()?)
}

/// Proof that an entry is in a tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionProof {
    /// The entry's number.
    pub seq: u64,
    /// Its leaf's index (seq − 1).
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// The leaf's hash, hex.
    pub leaf_hash: String,
    /// Audit path, hex, bottom up.
    pub path: Vec<String>,
}

/// Proof that entry `seq` is in the tree of the first `size` entries.
pub fn inclusion(store: &dyn Store, seq: u64, size: u64) -> ServiceResult<InclusionProof> {
    let log_size = store.audit_size()?;
    if seq == 0 || seq > size || size > log_size {
        return Err(DomainError::new(
            "seq",
            format!("need 1 ≤ seq ≤ size ≤ {log_size} (the log's size)"),
        )
        .into());
    }
    let index = seq - 1;
    let leaf = store.audit_perfect(0, index)?;
    let mut nodes = store;
    let path = merkle::inclusion_proof_in(&mut nodes, index, size)
        .map_err(ServiceError::from)?
        .unwrap_or_default();
    Ok(InclusionProof {
        seq,
        leaf_index: index,
        tree_size: size,
        leaf_hash: hex(&leaf),
        path: path.iter().map(hex).collect(),
    })
}

/// Proof that one tree is a prefix of a later one.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyProof {
    /// The older tree's size.
    pub from: u64,
    /// The newer tree's size.
    pub to: u64,
    /// The proof's hashes, hex.
    pub path: Vec<String>,
}

/// Proof that the tree of `from` entries is a prefix of the tree of `to`.
pub fn consistency(store: &dyn Store, from: u64, to: u64) -> ServiceResult<ConsistencyProof> {
    let log_size = store.audit_size()?;
    if from == 0 || from > to || to > log_size {
        return Err(DomainError::new(
            "from",
            format!("need 1 ≤ from ≤ to ≤ {log_size} (the log's size)"),
        )
        .into());
    }
    let mut nodes = store;
    let path = merkle::consistency_proof_in(&mut nodes, from, to)
        .map_err(ServiceError::from)?
        .unwrap_or_default();
    Ok(ConsistencyProof {
        from,
        to,
        path: path.iter().map(hex).collect(),
    })
}

fn hex(h: &merkle::Hash) -> String {
    data_encoding::HEXLOWER.encode(h)
}

/// Which entries a caller may read: everything for admins and inspectors
/// of the whole country; for an inspector limited to provinces, only the
/// entries about producers, products and batches there (the tree heads and
/// proofs, which are hashes, stay open to every inspector).
struct Visible {
    all: bool,
    producers: std::collections::HashSet<i64>,
    products: std::collections::HashSet<i64>,
    batches: std::collections::HashSet<u32>,
}

impl Visible {
    fn whole_log(grant: &Grant) -> bool {
        grant.role == Role::Admin || (grant.role == Role::Inspector && grant.provinces.is_empty())
    }

    fn of(store: &dyn Store, grant: &Grant) -> ServiceResult<Visible> {
        if Visible::whole_log(grant) {
            return Ok(Visible {
                all: true,
                producers: Default::default(),
                products: Default::default(),
                batches: Default::default(),
            });
        }
        Ok(Visible {
            all: false,
            producers: access::producers(store, grant)?
                .iter()
                .map(|p| p.id.0)
                .collect(),
            products: access::products(store, grant, None)?
                .iter()
                .map(|p| p.id.0)
                .collect(),
            batches: access::batches(store, grant, None)?
                .iter()
                .map(|b| b.id.0)
                .collect(),
        })
    }

    fn allows(&self, object: &str) -> bool {
        if self.all {
            return true;
        }
        let Some((kind, id)) = object.split_once(':') else {
            return false;
        };
        match kind {
            "producer" => id.parse().is_ok_and(|n: i64| self.producers.contains(&n)),
            "product" => id.parse().is_ok_and(|n: i64| self.products.contains(&n)),
            "batch" => id.parse().is_ok_and(|n: u32| self.batches.contains(&n)),
            _ => false,
        }
    }
}
