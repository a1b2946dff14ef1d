//! The audit log over HTTP: entries, signed tree heads, and the proofs an
//! inspector needs to check that an entry is in the log and that the log
//! only grew since a head they kept (`service::audit_log`).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Caller;
use super::{ApiError, AppState, call};
use crate::service::ServiceError;
use crate::service::audit_log::{self, ConsistencyProof, InclusionProof};
use crate::web::error::ErrorBody;

#[derive(Deserialize, IntoParams)]
pub(crate) struct EntryPage {
    /// First entry number (default 1).
    from: Option<u64>,
    /// At most this many (default and maximum 1,000).
    limit: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/audit/entries", tag = "audit", security(("bearer" = [])), params(EntryPage),
    responses((status = 200, body = Vec<crate::audit::Entry>)))]
/// Audit entries in order (see docs/audit-log.md for their canonical form);
/// an inspector limited to provinces reads the entries about them.
pub(crate) async fn entries(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<EntryPage>,
) -> Result<HttpResponse, ApiError> {
    let from = page.from.unwrap_or(1).max(1);
    let limit = page.limit.unwrap_or(1000).clamp(1, 1000);
    let out = call(&state, move |ctx| {
        audit_log::entries(ctx.store(), &caller.grant, from, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(get, path = "/api/v1/audit/heads", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = Vec<crate::audit::TreeHead>)))]
/// Every signed tree head, oldest first.
pub(crate) async fn heads(_: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let heads = call(&state, move |ctx| audit_log::heads(ctx.store())).await?;
    Ok(HttpResponse::Ok().json(heads))
}

#[utoipa::path(post, path = "/api/v1/audit/heads", tag = "audit", security(("bearer" = [])),
    responses((status = 201, body = crate::audit::TreeHead), (status = 503, body = ErrorBody)))]
/// Signs the log's current tree head now.
pub(crate) async fn sign_head(
    _: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let head = call(&state, audit_log::sign_head_now).await?;
    Ok(HttpResponse::Created().json(head))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct InclusionQuery {
    /// The entry's number.
    seq: u64,
    /// The size of the tree head to prove against.
    size: u64,
}

#[utoipa::path(get, path = "/api/v1/audit/proof/inclusion", tag = "audit", security(("bearer" = [])), params(InclusionQuery),
    responses((status = 200, body = InclusionProof), (status = 400, body = ErrorBody)))]
/// Proof that entry `seq` is in the tree of the first `size` entries.
pub(crate) async fn inclusion(
    _: Caller,
    state: web::Data<AppState>,
    q: web::Query<InclusionQuery>,
) -> Result<HttpResponse, ApiError> {
    let (seq, size) = (q.seq, q.size);
    let store = state.ctx.shared_store();
    let proof = web::block(move || audit_log::inclusion(&*store, seq, size))
        .await?
        .map_err(query_error)?;
    Ok(HttpResponse::Ok().json(proof))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ConsistencyQuery {
    /// The older tree size (a head the inspector kept).
    from: u64,
    /// The newer tree size.
    to: u64,
}

#[utoipa::path(get, path = "/api/v1/audit/proof/consistency", tag = "audit", security(("bearer" = [])), params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = ErrorBody)))]
/// Proof that the tree of `from` entries is a prefix of the tree of `to` entries.
pub(crate) async fn consistency(
    _: Caller,
    state: web::Data<AppState>,
    q: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let (from, to) = (q.from, q.to);
    let store = state.ctx.shared_store();
    let proof = web::block(move || audit_log::consistency(&*store, from, to))
        .await?
        .map_err(query_error)?;
    Ok(HttpResponse::Ok().json(proof))
}

/// Sizes outside the log are a wrong query (400 `invalid_query`).
fn query_error(e: ServiceError) -> ApiError {
    match e {
        ServiceError::Invalid(e) => ApiError::BadRequest {
            code: crate::web::error_code::INVALID_QUERY,
            message: e.rule,
        },
        other => other.into(),
    }
}
