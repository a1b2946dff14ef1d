//! `POST /api/v1/claims`: a buyer claims a stamp with the code under its
//! scratch-off panel (`Scanner::claim`).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{client, could_be_a_code, language};
use crate::service::scan::{ClaimAnswer, ClaimPlace};
use crate::web::{ApiError, AppState};

/// A claim as the API takes it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimRequest {
    /// The stamp's URL or code, as scanned.
    code: String,
    /// The code under the scratch-off panel (spaces and dashes allowed).
    claim_code: String,
    /// The buyer's province, if they choose to say: one of the 34 (e.g.
    /// "Vĩnh Long"); anything else is refused.
    province: Option<String>,
    /// Or a location the buyer shares: latitude, with `lon`.
    lat: Option<f64>,
    /// Longitude, with `lat`.
    lon: Option<f64>,
}

#[utoipa::path(post, path = "/api/v1/claims", tag = "scan", request_body = ClaimRequest,
    responses((status = 200, body = ClaimAnswer,
        description = "result: claimed, already-claimed (with when and where), wrong-code (with tries_left) or locked"),
        (status = 400, body = crate::web::error::ErrorBody),
        (status = 404, body = crate::web::error::ErrorBody, description = "the code is not a genuine stamp of this service"),
        (status = 409, body = crate::web::error::ErrorBody, description = "the stamp was issued without a claim code"),
        (status = 429, body = crate::web::error::ErrorBody, description = "too many requests from this network")))]
/// Claims a stamp: the first right code claims it; five wrong codes lock it,
/// and a network that sends twenty wrong codes in an hour is locked out.
pub(crate) async fn claim(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ClaimRequest>,
) -> Result<HttpResponse, ApiError> {
    let client = client(&req, &state);
    if !state.limiter.allow(client.ip).await {
        return Err(ApiError::TooManyRequests);
    }
    let b = body.into_inner();
    let place = ClaimPlace {
        province: b.province,
        location: b.lat.zip(b.lon),
    };
    let answer = state
        .scanner
        .claim(&b.code, &b.claim_code, &place, &client)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(answer))
}

/// The scan page's claim form.
#[derive(Deserialize)]
pub(crate) struct ClaimForm {
    claim_code: String,
    province: Option<String>,
}

/// `POST {base}/{code}/claim`: the scan page's claim form; answers a page.
pub(crate) async fn claim_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    code: web::Path<String>,
    form: web::Form<ClaimForm>,
) -> Result<HttpResponse, ApiError> {
    if !could_be_a_code(&code) {
        return Err(ApiError::NotFound(format!("no page {}", req.path())));
    }
    let client = client(&req, &state);
    if !state.limiter.allow(client.ip).await {
        return Err(ApiError::TooManyRequests);
    }
    let lang = language(&req);
    let t = lang.strings();
    let form = form.into_inner();
    let place = ClaimPlace {
        province: form.province,
        location: None,
    };
    let answer = state
        .scanner
        .claim(&code, &form.claim_code, &place, &client)
        .await?;
    let (class, headline, detail) = match answer.result {
        "claimed" => ("ok", t.claim_done, t.claim_done_detail.to_string()),
        "already-claimed" => (
            "warn",
            t.claim_before,
            answer
                .claimed_at
                .map(|at| t.claimed_on(&lang.time(at), answer.province.as_deref()))
                .unwrap_or_default(),
        ),
        "wrong-code" => (
            "warn",
            t.claim_wrong,
            format!(
                "{} {}",
                t.claim_wrong_detail,
                answer.tries_left.unwrap_or_default()
            ),
        ),
        _ => ("bad", t.claim_locked, t.claim_locked_detail.to_string()),
    };
    let page = super::notice::Notice {
        lang: lang.code(),
        base: &state.scan_prefix,
        id: "claim-result",
        class,
        result: answer.result,
        headline,
        detail,
        back: format!("{}/{}", state.scan_prefix, code.as_str()),
        link: "← tem",
        button: false,
    }
    .render()
    .map_err(|e| ApiError::Internal(format!("rendering the claim page: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(page))
}
