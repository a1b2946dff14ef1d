//! Inspections over HTTP: submit the codes or photos of the stamps found in
//! a shop, read the record back as JSON or as the printable PDF biên bản.

use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::{ApiError, AppState, call};
use crate::domain::inspection::{Inspection, OfflineCheck};
use crate::service::ServiceError;
use crate::service::inspection::{self, Found, Submission};
use crate::web::error::ErrorBody;

/// Photos make this body large: up to 20 photos of a few megabytes each.
pub const MAX_INSPECTION_BYTES: usize = 48 << 20;

/// An inspection as the API takes it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectionRequest {
    /// Shop or market, e.g. "Chợ Đồng Xuân, quầy 12".
    pub place: String,
    /// Province (required for inspectors limited to provinces).
    pub province: Option<String>,
    /// Latitude, if the inspector shares it.
    pub lat: Option<f64>,
    /// Longitude.
    pub lon: Option<f64>,
    /// When the inspection took place (RFC 3339); now when absent.
    pub at: Option<String>,
    /// The inspector's note.
    pub note: Option<String>,
    /// Stamp URLs or codes, as typed, pasted or scanned (one per entry or
    /// one per line).
    #[serde(default)]
    pub codes: Vec<String>,
    /// Photos (JPEG or PNG), base64; every QR code in each is read.
    #[serde(default)]
    pub photos: Vec<String>,
    /// Checks made offline with a bundle, uploaded by `tem bundle sync`.
    pub offline: Option<OfflineUpload>,
}

/// Checks made offline with a bundle, uploaded later.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineUpload {
    /// When the bundle used for the checks was created.
    pub bundle_created_at: String,
    /// The checks.
    pub checks: Vec<OfflineCheck>,
}

fn invalid(field: &str, rule: String) -> ApiError {
    ServiceError::from(crate::domain::DomainError::new(field, rule)).into()
}

/// Reads the JSON body up to `MAX_INSPECTION_BYTES`.
async fn read_body(mut payload: web::Payload) -> Result<InspectionRequest, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest {
            code: crate::web::error_code::INVALID_JSON,
            message: e.to_string(),
        })?;
        if body.len() + chunk.len() > MAX_INSPECTION_BYTES {
            return Err(ApiError::TooLarge(MAX_INSPECTION_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    parse_request(&body)
}

/// An inspection request from its JSON bytes: the body as a client sent
/// it, checked field by field (`submission` then turns it into the
/// service's input).
pub fn parse_request(body: &[u8]) -> Result<InspectionRequest, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        code: crate::web::error_code::INVALID_JSON,
        message: e.to_string(),
    })
}

/// What an inspection request asks the service to judge: codes, decoded
/// photos' bytes, the place and time, and offline checks.
pub fn submission(r: InspectionRequest) -> Result<Submission, ApiError> {
    let at =
        r.at.as_deref()
            .map(|t| {
                t.parse::<jiff::Timestamp>()
                    .map_err(|_| invalid("at", format!("{t:?} is not an RFC 3339 time")))
            })
            .transpose()?;
    let location = match (r.lat, r.lon) {
        (Some(lat), Some(lon)) => Some((lat, lon)),
        (None, None) => None,
        _ => return Err(invalid("lat", "give both lat and lon, or neither".into())),
    };
    let mut found: Vec<Found> = r.codes.into_iter().map(Found::Code).collect();
    for (i, p) in r.photos.iter().enumerate() {
        // A data URL ("data:image/jpeg;base64,…") is fine too.
        let text = p.trim();
        let text = text.split_once(";base64,").map_or(text, |(_, b)| b);
        let bytes = data_encoding::BASE64
            .decode(text.as_bytes())
            .map_err(|e| invalid("photos", format!("photo {}: not base64 ({e})", i + 1)))?;
        found.push(Found::Photo {
            name: format!("photo {}", i + 1),
            bytes,
        });
    }
    let offline = r
        .offline
        .map(|o| -> Result<_, ApiError> {
            let created = o
                .bundle_created_at
                .parse::<jiff::Timestamp>()
                .map_err(|_| {
                    invalid(
                        "offline",
                        format!("{:?} is not an RFC 3339 time", o.bundle_created_at),
                    )
                })?;
            Ok((created, o.checks))
        })
        .transpose()?;
    Ok(Submission {
        place: r.place,
        province: r.province,
        location,
        at,
        note: r.note,
        found,
        offline,
    })
}

#[utoipa::path(post, path = "/api/v1/inspections", tag = "inspections", security(("bearer" = [])),
    request_body = InspectionRequest,
    responses((status = 201, body = Inspection), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
/// Records an inspection: a verdict per stamp, duplicates flagged, a summary.
pub(crate) async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let submission = submission(read_body(payload).await?)?;
    let (store, verifier) = (state.ctx.shared_store(), state.scanner.verifier());
    let created = web::block(move || {
        inspection::create(&*store, &verifier, &caller.grant, &caller.name, submission)
    })
    .await??;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/inspections/{}", created.id),
        ))
        .json(created))
}

#[utoipa::path(get, path = "/api/v1/inspections", tag = "inspections", security(("bearer" = [])),
    responses((status = 200, body = Vec<Inspection>)))]
/// The newest 500 inspections the caller may read (summaries, no items).
pub(crate) async fn list(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let out = call(&state, move |ctx| {
        inspection::list(ctx.store(), &caller.grant, 500)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct FormatQuery {
    /// `json` (default) or `pdf` (the printable biên bản kiểm tra).
    format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/inspections/{id}", tag = "inspections", security(("bearer" = [])),
    params(("id" = i64, Path), FormatQuery),
    responses((status = 200, body = Inspection), (status = 404, body = ErrorBody)))]
/// One inspection with every stamp, as JSON or PDF.
pub(crate) async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<FormatQuery>,
) -> Result<HttpResponse, ApiError> {
    let pdf = match query.format.as_deref() {
        None | Some("json") => false,
        Some("pdf") => true,
        Some(other) => {
            return Err(ApiError::BadRequest {
                code: crate::web::error_code::INVALID_QUERY,
                message: format!("format: must be json or pdf, not {other:?}"),
            });
        }
    };
    let id = id.into_inner();
    let found = call(&state, move |ctx| {
        inspection::get(ctx.store(), &caller.grant, id)
    })
    .await?;
    if !pdf {
        return Ok(HttpResponse::Ok().json(found));
    }
    let bytes = web::block(move || crate::render::report_pdf::inspection_pdf(&found))
        .await?
        .map_err(|e| ApiError::Internal(format!("writing the PDF record: {e}")))?;
    Ok(crate::web::pdf_response(
        bytes,
        &format!("tem-bien-ban-{id}.pdf"),
    ))
}
