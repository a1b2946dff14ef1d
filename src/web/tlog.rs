//! `{base}/log/…`: the audit log as a tiled transparency log
//! (`service::tlog`; docs/audit-log.md). Public, read-only, CORS-open:
//! anyone may check the log.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{ApiError, AppState, call};
use crate::service::tlog;

/// `GET {base}/log/checkpoint`: the signed note of the tree as it is now.
pub(super) async fn checkpoint(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let note = call(&state, tlog::checkpoint).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        // Mutable: a few seconds at most (tlog-tiles).
        .insert_header((header::CACHE_CONTROL, "public, max-age=2"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(note))
}

/// `GET {base}/log/tile/…`: a tile of hashes or an entry bundle. Both
/// full and partial tiles are immutable (a partial tile of a width is the
/// start of the full one), so both are cached for a year.
pub(super) async fn tile(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let prefix = format!("{}/log/", state.scan_prefix);
    let path = req
        .path()
        .strip_prefix(&prefix)
        .unwrap_or_default()
        .to_string();
    let tile = state.tiles.get(path).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(tile))
}
