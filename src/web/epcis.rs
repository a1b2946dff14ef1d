//! The EPCIS 2.0 query interface over HTTP (`service::epcis_query`):
//! `GET /api/v1/epcis/events[/{eventID}]` for tokens, and `GET
//! /epcis/events[/{eventID}]` for anyone when the server opens the public
//! subset (`epcis_public`). Answers are EPCIS query documents, streamed
//! (a commissioning event lists every stamp it made), with the next page
//! in a `Link: <…>; rel="next"` header.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::Caller;
use super::stream::written_body;
use super::{ApiError, AppState};
use crate::service::epcis_query::{self, Audience, EventQuery, Page};

/// The versions the answers are written in (the binding's headers).
const VERSIONS: [(&str, &str); 2] = [("GS1-EPCIS-Version", "2.0.0"), ("GS1-CBV-Version", "2.0.0")];

/// The EPCIS 2.0 query parameters tem reads (`EventQuery::parse`); any
/// other is 400.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[allow(dead_code, non_snake_case)]
pub(crate) struct EpcisParams {
    /// `ObjectEvent` (tem writes no other type; any other list answers none).
    eventType: Option<String>,
    /// Events at or after this time (RFC 3339 with its offset).
    GE_eventTime: Option<String>,
    /// Events before this time.
    LT_eventTime: Option<String>,
    /// `ADD`, `OBSERVE` or `DELETE`, several separated by `|`.
    EQ_action: Option<String>,
    /// CBV business steps (`commissioning`, `encoding`, `packing`, `holding`, `decommissioning`, `inspecting`), bare or as URIs.
    EQ_bizStep: Option<String>,
    /// CBV dispositions (`inactive`, `active`, `recalled`), bare or as URIs.
    EQ_disposition: Option<String>,
    /// Stamps: `{base}/stamp/{serial}`, or a Digital Link URI with the serial.
    MATCH_epc: Option<String>,
    /// The same as `MATCH_epc` (tem's events have only an `epcList`).
    MATCH_anyEPC: Option<String>,
    /// Lot codes (`tem:lot`, an extension field of every event).
    #[serde(rename = "EQ_tem:lot")]
    #[param(rename = "EQ_tem:lot")]
    EQ_tem_lot: Option<String>,
    /// Event IDs (`{base}/event/{n}`).
    EQ_eventID: Option<String>,
    /// Events per page: 1 to 1000, 30 when not given.
    perPage: Option<u32>,
    /// The next page, from the previous page's `Link: <…>; rel="next"`.
    nextPageToken: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/epcis/events", tag = "lifecycle", security(("bearer" = [])),
    params(EpcisParams),
    responses((status = 200, description = "An EPCIS 2.0 query document (JSON-LD); the next page in `Link: <…>; rel=\"next\"`"),
        (status = 400, body = crate::web::error::ErrorBody)))]
/// `GET /api/v1/epcis/events`: the events the token's grant sees.
pub(crate) async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    page_of(req, state, Audience::Grant(caller.0.grant)).await
}

#[utoipa::path(get, path = "/api/v1/epcis/events/{id}", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = String, Path, description = "The event's ID (`{base}/event/{n}`, percent-encoded) or its number")),
    responses((status = 200, description = "An EPCIS 2.0 query document holding the event"),
        (status = 404, body = crate::web::error::ErrorBody)))]
/// `GET /api/v1/epcis/events/{eventID}`: one event the grant sees.
pub(crate) async fn event(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    one(state, Audience::Grant(caller.0.grant), id.into_inner()).await
}

/// `GET /epcis/events`: the public subset, when the server opened it.
pub(super) async fn public_events(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    open(&req, &state).await?;
    page_of(req, state, Audience::Public).await
}

/// `GET /epcis/events/{eventID}`: one event of the public subset.
pub(super) async fn public_event(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    open(&req, &state).await?;
    one(state, Audience::Public, id.into_inner()).await
}

/// Whether anyone may ask: the subset is open, and the caller's network is
/// within the per-network limit it shares with verification (anonymous
/// requests that read the database count against one budget).
async fn open(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    if !state.epcis_public {
        return Err(ApiError::NotFound(
            "this server does not open its EPCIS events to anyone; ask with a token at /api/v1/epcis/events".into(),
        ));
    }
    let ip = super::client::client_ip(req, &state.proxies);
    if !state.limiter.allow(ip).await {
        return Err(ApiError::TooManyRequests);
    }
    Ok(())
}

async fn page_of(
    req: HttpRequest,
    state: web::Data<AppState>,
    audience: Audience,
) -> Result<HttpResponse, ApiError> {
    let base = state.ctx.base_url().trim_end_matches('/').to_string();
    let query =
        EventQuery::parse(req.query_string(), &base).map_err(|e| ApiError::Service(e.into()))?;
    let ctx = state.ctx.clone();
    let at = base.clone();
    let page =
        web::block(move || epcis_query::events(ctx.store(), &at, &audience, query)).await??;
    let next = page
        .next_query()
        .map(|q| format!("<{}{}?{q}>; rel=\"next\"", origin(&base), req.path()));
    Ok(answer(state, base, page, next))
}

async fn one(
    state: web::Data<AppState>,
    audience: Audience,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let base = state.ctx.base_url().trim_end_matches('/').to_string();
    let ctx = state.ctx.clone();
    let at = base.clone();
    let page = web::block(move || epcis_query::event(ctx.store(), &at, &audience, &id)).await??;
    Ok(answer(state, base, page, None))
}

/// The scheme and host of the base URL (a `Link` is absolute).
fn origin(base: &str) -> &str {
    let host_start = base.find("://").map_or(0, |i| i + 3);
    base[host_start..]
        .find('/')
        .map_or(base, |i| &base[..host_start + i])
}

fn answer(
    state: web::Data<AppState>,
    base: String,
    page: Page,
    next: Option<String>,
) -> HttpResponse {
    let mut r = HttpResponse::Ok();
    r.content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    for h in VERSIONS {
        r.insert_header(h);
    }
    if let Some(link) = next {
        r.insert_header((header::LINK, link));
    }
    let ctx = state.ctx.clone();
    r.streaming(written_body("EPCIS query document", move |out| {
        epcis_query::write(ctx.store(), &base, &page, out).map_err(|e| e.to_string())
    }))
}
