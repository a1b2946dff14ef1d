//! The audit log over HTTP: entries, signed tree heads, and the proofs an
//! inspector needs to check that an entry is in the log and that the log
//! only grew since a head they kept (RFC 6962 / 9162).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::audit::merkle;
use crate::codes::KeyRing;
use crate::service::ServiceError;
use crate::web::error::ErrorBody;

fn hex(h: &merkle::Hash) -> String {
    data_encoding::HEXLOWER.encode(h)
}

#[derive(Deserialize, IntoParams)]
pub struct EntryPage {
    /// First entry number (default 1).
    from: Option<u64>,
    /// At most this many (default and maximum 1,000).
    limit: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/audit/entries", tag = "audit", security(("bearer" = [])), params(EntryPage),
    responses((status = 200, body = Vec<crate::audit::Entry>)))]
/// Audit entries in order (see docs/audit-log.md for their canonical form).
pub async fn entries(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<EntryPage>,
) -> Result<HttpResponse, ApiError> {
    let from = page.from.unwrap_or(1).max(1);
    let limit = page.limit.unwrap_or(1000).clamp(1, 1000);
    let store = state.store.clone();
    let out = web::block(move || -> Result<Vec<crate::audit::Entry>, ServiceError> {
        let visible = Visible::of(&*store, &caller.grant)?;
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
    })
    .await??;
    Ok(HttpResponse::Ok().json(out))
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
    fn of(
        store: &dyn crate::store::Store,
        grant: &crate::domain::Grant,
    ) -> Result<Visible, ServiceError> {
        use crate::service::access;
        if grant.role == crate::domain::Role::Admin
            || (grant.role == crate::domain::Role::Inspector && grant.provinces.is_empty())
        {
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

#[utoipa::path(get, path = "/api/v1/audit/heads", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = Vec<crate::audit::TreeHead>)))]
/// Every signed tree head, oldest first.
pub async fn heads(_: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let heads = web::block(move || store.audit_heads())
        .await?
        .map_err(ServiceError::from)?;
    Ok(HttpResponse::Ok().json(heads))
}

#[utoipa::path(post, path = "/api/v1/audit/heads", tag = "audit", security(("bearer" = [])),
    responses((status = 201, body = crate::audit::TreeHead), (status = 503, body = ErrorBody)))]
/// Signs the log's current tree head now.
pub async fn sign_head(_: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let head = web::block(move || {
        let ring = KeyRing::open(&state.keys_dir)?;
        crate::service::audit::sign_head(&*state.store, &ring.signer()?)
    })
    .await??;
    Ok(HttpResponse::Created().json(head))
}

#[derive(Deserialize, IntoParams)]
pub struct InclusionQuery {
    /// The entry's number.
    seq: u64,
    /// The size of the tree head to prove against.
    size: u64,
}

#[derive(Serialize, ToSchema)]
pub struct InclusionProof {
    pub seq: u64,
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    /// Audit path, hex, bottom up.
    pub path: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/audit/proof/inclusion", tag = "audit", security(("bearer" = [])), params(InclusionQuery),
    responses((status = 200, body = InclusionProof), (status = 400, body = ErrorBody)))]
/// Proof that entry `seq` is in the tree of the first `size` entries.
pub async fn inclusion(
    _: Caller,
    state: web::Data<AppState>,
    q: web::Query<InclusionQuery>,
) -> Result<HttpResponse, ApiError> {
    let (seq, size) = (q.seq, q.size);
    let store = state.store.clone();
    let proof = web::block(move || -> Result<_, ApiError> {
        let log_size = store.audit_size().map_err(ServiceError::from)?;
        if seq == 0 || seq > size || size > log_size {
            return Err(ApiError::BadRequest {
                code: crate::web::error_code::INVALID_QUERY,
                message: format!("need 1 ≤ seq ≤ size ≤ {log_size} (the log's size)"),
            });
        }
        let mut nodes = &*store;
        let index = seq - 1;
        let leaf = store.audit_perfect(0, index).map_err(ServiceError::from)?;
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
    })
    .await??;
    Ok(HttpResponse::Ok().json(proof))
}

#[derive(Deserialize, IntoParams)]
pub struct ConsistencyQuery {
    /// The older tree size (a head the inspector kept).
    from: u64,
    /// The newer tree size.
    to: u64,
}

#[derive(Serialize, ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub path: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/audit/proof/consistency", tag = "audit", security(("bearer" = [])), params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = ErrorBody)))]
/// Proof that the tree of `from` entries is a prefix of the tree of `to` entries.
pub async fn consistency(
    _: Caller,
    state: web::Data<AppState>,
    q: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let (from, to) = (q.from, q.to);
    let store = state.store.clone();
    let path = web::block(move || -> Result<_, ApiError> {
        let log_size = store.audit_size().map_err(ServiceError::from)?;
        if from == 0 || from > to || to > log_size {
            return Err(ApiError::BadRequest {
                code: crate::web::error_code::INVALID_QUERY,
                message: format!("need 1 ≤ from ≤ to ≤ {log_size} (the log's size)"),
            });
        }
        let mut nodes = &*store;
        Ok(merkle::consistency_proof_in(&mut nodes, from, to)
            .map_err(ServiceError::from)?
            .unwrap_or_default())
    })
    .await??;
    Ok(HttpResponse::Ok().json(ConsistencyProof {
        from,
        to,
        path: path.iter().map(hex).collect(),
    }))
}
