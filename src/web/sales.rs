//! Sold at the till over HTTP: a shop's seller token marks the stamps of the
//! packs it sells (`service::sales`), and undoes its own sales within ten
//! days. The JSON body is capped by the API's JSON limit; a request carries
//! at most 500 codes.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Caller;
use super::{ApiError, AppState, ok_json};
use crate::service::sales::{self, SaleLine};

/// Stamps at the till.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SaleRequest {
    /// Stamp URLs or codes as scanned, or short codes as typed from the
    /// label (1 to 500).
    codes: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/stamps/sold", tag = "lifecycle", security(("bearer" = [])),
    request_body = SaleRequest,
    responses((status = 200, body = Vec<SaleLine>,
        description = "one line per code, in order: sold, already-sold (with when and by which shop), not-genuine, not-registered, not-yours, not-printed, voided or recalled"),
        (status = 400, body = crate::web::error::ErrorBody), (status = 403, body = crate::web::error::ErrorBody)))]
/// Marks stamps sold by the caller's shop: later scans say "sold on DATE by SHOP".
pub(crate) async fn mark_sold(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<SaleRequest>,
) -> Result<HttpResponse, ApiError> {
    let codes = body.into_inner().codes;
    ok_json(&state, move |ctx| sales::mark_sold(ctx, &caller, &codes)).await
}

#[utoipa::path(post, path = "/api/v1/stamps/sold/undo", tag = "lifecycle", security(("bearer" = [])),
    request_body = SaleRequest,
    responses((status = 200, body = Vec<SaleLine>,
        description = "one line per code: undone, not-sold, other-seller (only the seller who sold it may undo) or too-late (after ten days)"),
        (status = 400, body = crate::web::error::ErrorBody), (status = 403, body = crate::web::error::ErrorBody)))]
/// Undoes the caller's own sales of these stamps, within ten days.
pub(crate) async fn undo_sold(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<SaleRequest>,
) -> Result<HttpResponse, ApiError> {
    let codes = body.into_inner().codes;
    ok_json(&state, move |ctx| sales::undo(ctx, &caller, &codes)).await
}
