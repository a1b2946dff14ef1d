//! The JSON API under `/api/v1`: producers, products, batches, stages and
//! stamp issuance. Each handler turns its input into a service call on a
//! blocking thread and the result into JSON.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::{ApiError, AppState, call, created_json, ok_json};
use crate::domain::{
    Batch, BatchId, BatchInput, Producer, ProducerId, ProducerInput, Product, ProductId,
    ProductInput, Role, Stage, StageInput, StampState,
};
use crate::service::registry::BatchSummary;
use crate::service::{ServiceError, access, issue, registry, stamp_export};
use crate::web::error::ErrorBody;

pub use super::auth::RouteSpec;

/// Declares the API once: `ROUTES` (read by the OpenAPI document and the
/// role-matrix test) and `routes` (the actix registration) come from the
/// same list, so no route exists without its roles. Each resource is
/// wrapped in `auth::authorize` with its own routes' roles: authorization
/// runs on the route the router matched, however its path was spelled
/// (`/batche%73/1` is `/batches/1` to the router, and so to the check).
macro_rules! api {
    ($( $path:literal { $( $method:ident => $handler:path, [$($role:ident),*] );+ $(;)? } )*) => {
        /// Every API route with the roles that may call it.
        pub const ROUTES: &[RouteSpec] = &[
            $( $( RouteSpec { method: stringify!($method), path: $path, roles: &[$(Role::$role),*] }, )+ )*
        ];

        /// Registers every API route, each resource behind `auth::authorize`.
        pub fn routes(cfg: &mut web::ServiceConfig) {
            $( {
                const SPECS: &[RouteSpec] = &[
                    $( RouteSpec { method: stringify!($method), path: $path, roles: &[$(Role::$role),*] }, )+
                ];
                cfg.service(
                    web::resource($path)
                        .wrap(actix_web::middleware::from_fn(|req, next| {
                            super::auth::authorize(SPECS, req, next)
                        }))
                        $( .route(web::method(actix_web::http::Method::$method).to($handler)) )+
                );
            } )*
        }
    };
}

api! {
    "/verify/{code}" { GET => super::scan::verify_json, [] }
    "/scans/location" { POST => super::scan::share_location, [] }
    "/claims" { POST => super::scan::claim::claim, [] }
    "/producers" {
        GET => list_producers, [Admin, Producer, Inspector];
        POST => create_producer, [Admin];
    }
    "/producers/{id}" { GET => get_producer, [Admin, Producer, Inspector] }
    "/products" {
        GET => list_products, [Admin, Producer, Inspector];
        POST => create_product, [Admin, Producer];
    }
    "/products/{id}" { GET => get_product, [Admin, Producer, Inspector] }
    "/products/{id}/batches" {
        GET => list_product_batches, [Admin, Producer, Inspector];
        POST => create_batch, [Admin, Producer];
    }
    "/batches" { GET => list_batches, [Admin, Producer, Inspector] }
    "/batches/{id}" { GET => get_batch, [Admin, Producer, Inspector] }
    "/batches/{id}/stages" {
        GET => list_stages, [Admin, Producer, Inspector];
        POST => add_stage, [Admin, Producer];
    }
    "/batches/{id}/stamps" {
        GET => list_stamps, [Admin, Producer, Inspector];
        POST => issue_stamps, [Admin, Producer];
    }
    "/batches/{id}/stamps.csv" { GET => stamps_csv, [Admin, Producer, Inspector] }
    "/batches/{id}/sheet.{format}" { GET => super::sheets::sheet, [Admin, Producer] }
    "/batches/{id}/recall" { POST => recall_batch, [Admin, Inspector] }
    "/batches/{id}/recall/lift" { POST => lift_recall, [Admin, Inspector] }
    "/batches/{id}/void" { POST => void_stamps, [Admin, Producer] }
    "/batches/{id}/activate" { POST => activate_stamps, [Admin, Producer] }
    "/batches/{id}/claims/unlock" { POST => unlock_claim, [Admin, Producer] }
    "/batches/{id}/stats" { GET => batch_stats, [Admin, Producer, Inspector] }
    "/stamps/sold" { POST => super::sales::mark_sold, [Admin, Seller] }
    "/stamps/sold/undo" { POST => super::sales::undo_sold, [Admin, Seller] }
    "/batches/{id}/report" { GET => batch_report, [Admin, Producer, Inspector] }
    "/batches/{id}/verification" { POST => verify_batch, [Admin, Inspector] }
    "/epcis/events" { GET => super::epcis::events, [Admin, Producer, Inspector] }
    "/epcis/events/{id}" { GET => super::epcis::event, [Admin, Producer, Inspector] }
    "/triage" { GET => list_triage, [Admin, Producer, Inspector] }
    "/audit/entries" { GET => super::audit::entries, [Admin, Inspector] }
    "/audit/heads" {
        GET => super::audit::heads, [Admin, Inspector];
        POST => super::audit::sign_head, [Admin];
    }
    "/audit/proof/inclusion" { GET => super::audit::inclusion, [Admin, Inspector] }
    "/audit/proof/consistency" { GET => super::audit::consistency, [Admin, Inspector] }
    "/triage/{kind}/{id}/resolve" { POST => resolve_triage, [Admin, Inspector] }
    "/inspections" {
        GET => super::inspections::list, [Admin, Inspector];
        POST => super::inspections::create, [Admin, Inspector];
    }
    "/inspections/{id}" { GET => super::inspections::get, [Admin, Inspector] }
}

#[utoipa::path(get, path = "/api/v1/producers", tag = "registry", security(("bearer" = [])),
    responses((status = 200, body = Vec<Producer>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_producers(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    ok_json(&state, move |ctx| {
        access::producers(ctx.store(), &caller.grant)
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/producers", tag = "registry", security(("bearer" = [])), request_body = ProducerInput,
    responses((status = 201, body = Producer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(crate) async fn create_producer(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<ProducerInput>,
) -> Result<HttpResponse, ApiError> {
    created_json(&state, move |ctx| {
        registry::create_producer(ctx.store(), body.into_inner(), &caller.name)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/producers/{id}", tag = "registry", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Producer), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_producer(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = ProducerId(id.into_inner());
    ok_json(&state, move |ctx| {
        access::producer(ctx.store(), &caller.grant, id)
    })
    .await
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ProductFilter {
    /// Only this producer's products.
    producer_id: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/products", tag = "registry", security(("bearer" = [])),
    params(ProductFilter),
    responses((status = 200, body = Vec<Product>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_products(
    caller: Caller,
    state: web::Data<AppState>,
    filter: web::Query<ProductFilter>,
) -> Result<HttpResponse, ApiError> {
    let producer = filter.producer_id.map(ProducerId);
    ok_json(&state, move |ctx| {
        access::products(ctx.store(), &caller.grant, producer)
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/products", tag = "registry", security(("bearer" = [])), request_body = ProductInput,
    responses((status = 201, body = Product), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn create_product(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    created_json(&state, move |ctx| {
        registry::create_product(ctx.store(), body.into_inner(), &caller)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "registry", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Product), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_product(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = ProductId(id.into_inner());
    ok_json(&state, move |ctx| {
        access::product(ctx.store(), &caller.grant, id)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/products/{id}/batches", tag = "registry", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<BatchSummary>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_product_batches(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = ProductId(id.into_inner());
    ok_json(&state, move |ctx| {
        access::batches(ctx.store(), &caller.grant, Some(id))
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/products/{id}/batches", tag = "registry", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = BatchInput,
    responses((status = 201, body = Batch), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "lot code already used for this product")))]
pub(crate) async fn create_batch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<BatchInput>,
) -> Result<HttpResponse, ApiError> {
    let id = ProductId(id.into_inner());
    created_json(&state, move |ctx| {
        registry::create_batch(ctx.store(), id, body.into_inner(), &caller)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/batches", tag = "registry", security(("bearer" = [])),
    responses((status = 200, body = Vec<BatchSummary>)))]
pub(crate) async fn list_batches(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    ok_json(&state, move |ctx| {
        access::batches(ctx.store(), &caller.grant, None)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/batches/{id}", tag = "registry", security(("bearer" = [])),
    params(("id" = u32, Path)),
    responses((status = 200, body = Batch), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_batch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    let id = BatchId(id.into_inner());
    ok_json(&state, move |ctx| {
        access::batch(ctx.store(), &caller.grant, id)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/batches/{id}/stages", tag = "registry", security(("bearer" = [])),
    params(("id" = u32, Path)),
    responses((status = 200, body = Vec<Stage>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_stages(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    let id = BatchId(id.into_inner());
    ok_json(&state, move |ctx| {
        access::batch(ctx.store(), &caller.grant, id).map(|b| b.stages)
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/batches/{id}/stages", tag = "registry", security(("bearer" = [])),
    params(("id" = u32, Path)), request_body = StageInput,
    responses((status = 201, body = Stage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the batch already has the most stages a batch may have (50)")))]
pub(crate) async fn add_stage(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    body: web::Json<StageInput>,
) -> Result<HttpResponse, ApiError> {
    let id = BatchId(id.into_inner());
    created_json(&state, move |ctx| {
        registry::add_stage(ctx.store(), id, body.into_inner(), &caller)
    })
    .await
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IssueRequest {
    /// How many stamps to issue: 1 to 1,000,000.
    pub count: u64,
    /// Give each stamp a claim code for a scratch-off panel (default no).
    #[serde(default)]
    pub claim_codes: bool,
    /// Print the URLs as GS1 Digital Link URIs with the product's GTIN
    /// (default no; the product needs a GTIN).
    #[serde(default)]
    pub gs1: bool,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct IssueResponse {
    pub issuance: uuid::Uuid,
    pub batch_id: BatchId,
    pub count: u32,
    /// The new stamps are numbers first_seq..=last_seq of the batch.
    pub first_seq: u32,
    pub last_seq: u32,
    /// Key that signed them.
    pub kid: String,
    /// QR version of these stamps at error-correction level M.
    pub qr_version: i16,
    /// `tem` (the stamp URL is `{base}/{code}`) or `gs1` (a GS1 Digital Link URI).
    pub form: &'static str,
}

#[utoipa::path(post, path = "/api/v1/batches/{id}/stamps", tag = "stamps", security(("bearer" = [])),
    params(("id" = u32, Path)), request_body = IssueRequest,
    responses((status = 201, body = IssueResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the batch cannot hold more stamps"),
        (status = 503, body = ErrorBody, description = "no active signing key")))]
pub(crate) async fn issue_stamps(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    body: web::Json<IssueRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = BatchId(id.into_inner());
    let summary = call(&state, move |ctx| {
        issue::issue_for(
            ctx,
            issue::Order {
                batch: id,
                count: body.count,
                claim_codes: body.claim_codes,
                gs1: body.gs1,
            },
            &caller,
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(IssueResponse {
        issuance: summary.receipt.issuance,
        batch_id: summary.receipt.batch,
        count: summary.receipt.count,
        first_seq: summary.receipt.first_seq,
        last_seq: summary.receipt.last_seq,
        kid: summary.kid.to_string(),
        qr_version: summary.qr_version,
        form: match summary.form {
            crate::codes::StampForm::Tem => "tem",
            crate::codes::StampForm::Gs1 { .. } => "gs1",
        },
    }))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct StampPage {
    /// First sequence number to return (default 1).
    from: Option<u32>,
    /// At most this many (default 1,000, max 10,000).
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct StampView {
    pub seq: u32,
    pub serial: String,
    pub short_code: String,
    pub state: StampState,
    pub kid: String,
    pub url: String,
}

#[utoipa::path(get, path = "/api/v1/batches/{id}/stamps", tag = "stamps", security(("bearer" = [])),
    params(("id" = u32, Path), StampPage),
    responses((status = 200, body = Vec<StampView>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_stamps(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    page: web::Query<StampPage>,
) -> Result<HttpResponse, ApiError> {
    let id = BatchId(id.into_inner());
    let from = page.from.unwrap_or(1).max(1);
    let limit = page.limit.unwrap_or(1_000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::BadRequest {
            code: crate::web::error_code::INVALID_QUERY,
            message: "limit: must be between 1 and 10000".into(),
        });
    }
    let base = state.ctx.base_url().to_string();
    let stamps = call(&state, move |ctx| {
        access::stamps(ctx.store(), &caller.grant, id, from, limit)
    })
    .await?;
    let views: Vec<StampView> = stamps
        .iter()
        .map(|s| StampView {
            seq: s.seq,
            serial: s.serial.to_string(),
            short_code: s.serial.short_code().to_string(),
            state: s.state,
            kid: s.kid.to_string(),
            url: s.url(&base),
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecallRequest {
    /// Why (for the record).
    pub reason: String,
    /// What consumers see on their next scan.
    pub notice: String,
    /// Only stamps from..from+count−1; the whole batch when absent.
    pub from: Option<u32>,
    pub count: Option<u32>,
}

#[utoipa::path(post, path = "/api/v1/batches/{id}/recall", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = u32, Path)), request_body = RecallRequest,
    responses((status = 201, body = crate::service::lifecycle::RecallNotice), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn recall_batch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    body: web::Json<RecallRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, b) = (BatchId(id.into_inner()), body.into_inner());
    let range = match (b.from, b.count) {
        (Some(f), Some(c)) => Some((f, c)),
        (None, None) => None,
        _ => {
            return Err(ServiceError::from(crate::domain::DomainError::new(
                "count",
                "give both from and count, or neither",
            ))
            .into());
        }
    };
    created_json(&state, move |ctx| {
        crate::service::lifecycle::recall(ctx.store(), id, range, &b.reason, &b.notice, &caller)
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonRequest {
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/batches/{id}/recall/lift", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = u32, Path)), request_body = ReasonRequest,
    responses((status = 200, description = "{\"lifted\": n}"), (status = 404, body = ErrorBody)))]
pub(crate) async fn lift_recall(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    body: web::Json<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, b) = (BatchId(id.into_inner()), body.into_inner());
    ok_json(&state, move |ctx| {
        crate::service::lifecycle::lift(ctx.store(), id, &b.reason, &caller)
            .map(|n| serde_json::json!({ "lifted": n }))
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoidRequest {
    pub from: u32,
    pub count: u32,
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/batches/{id}/void", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = u32, Path)), request_body = VoidRequest,
    responses((status = 200, description = "{\"voided\": n}"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn void_stamps(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    body: web::Json<VoidRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, b) = (BatchId(id.into_inner()), body.into_inner());
    ok_json(&state, move |ctx| {
        crate::service::lifecycle::void(ctx.store(), id, b.from, b.count, &b.reason, &caller)
            .map(|n| serde_json::json!({ "voided": n }))
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RangeRequest {
    pub from: u32,
    pub count: u32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnlockRequest {
    /// The stamp's number in the batch.
    pub seq: u32,
}

#[utoipa::path(post, path = "/api/v1/batches/{id}/claims/unlock", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = u32, Path)), request_body = UnlockRequest,
    responses((status = 200, description = "{\"unlocked\": true|false}"), (status = 404, body = ErrorBody)))]
/// Lets a stamp locked by five wrong claim codes take codes again.
pub(crate) async fn unlock_claim(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    body: web::Json<UnlockRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, seq) = (BatchId(id.into_inner()), body.seq);
    ok_json(&state, move |ctx| {
        crate::service::lifecycle::unlock_claim(ctx.store(), id, seq, &caller)
            .map(|unlocked| serde_json::json!({ "unlocked": unlocked }))
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/batches/{id}/activate", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = u32, Path)), request_body = RangeRequest,
    responses((status = 200, description = "{\"activated\": n}"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "some stamps in the range were never printed, are voided or do not exist: nothing changed")))]
/// Stamps stuck on packages and released: printed → activated.
pub(crate) async fn activate_stamps(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    body: web::Json<RangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, b) = (BatchId(id.into_inner()), body.into_inner());
    ok_json(&state, move |ctx| {
        crate::service::lifecycle::activate(ctx.store(), id, b.from, b.count, &caller)
            .map(|n| serde_json::json!({ "activated": n }))
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/batches/{id}/stats", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = u32, Path)),
    responses((status = 200, body = crate::service::lifecycle::BatchStats), (status = 404, body = ErrorBody)))]
/// Stamps by state; scans in total, per day and by verdict; suspicious stamps; consumer reports.
pub(crate) async fn batch_stats(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    let id = BatchId(id.into_inner());
    let rules = *state.scanner.rules();
    ok_json(&state, move |ctx| {
        crate::service::lifecycle::stats(ctx.store(), &caller.grant, id, &rules)
    })
    .await
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ReportQuery {
    /// `json` (default), `html` (a printable page) or `pdf` (an A4 file).
    format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/batches/{id}/report", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = u32, Path), ReportQuery),
    responses((status = 200, body = crate::service::report::BatchReport, description = "JSON, or HTML with format=html"),
        (status = 404, body = ErrorBody)))]
/// The batch report: stamps by state, scans, suspicious stamps with their
/// scan history, recalls, consumer reports and lifecycle events.
pub(crate) async fn batch_report(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = match query.format.as_deref() {
        None => "json",
        Some(f @ ("json" | "html" | "pdf")) => f,
        Some(other) => {
            return Err(ApiError::BadRequest {
                code: crate::web::error_code::INVALID_QUERY,
                message: format!("format: must be json, html or pdf, not {other:?}"),
            });
        }
    };
    let id = BatchId(id.into_inner());
    let rules = *state.scanner.rules();
    let report = call(&state, move |ctx| {
        crate::service::report::batch(ctx.store(), &caller.grant, id, &rules)
    })
    .await?;
    match format {
        "json" => return Ok(HttpResponse::Ok().json(report)),
        "pdf" => {
            let lot = crate::domain::batch::file_label(&report.batch.lot_code);
            let bytes = web::block(move || crate::render::report_pdf::pdf(&report))
                .await?
                .map_err(|e| ApiError::Internal(format!("writing the PDF report: {e}")))?;
            return Ok(super::pdf_response(
                bytes,
                &format!("tem-report-{id}-{lot}.pdf"),
            ));
        }
        _ => {}
    }
    let page = crate::render::report::html(
        &report,
        Some(&format!("{}/static/report.css", state.scan_prefix)),
    )
    .map_err(|e| ApiError::Internal(format!("rendering the report: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(page))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct TriageQuery {
    /// Only this batch's items.
    batch: Option<u32>,
    /// Resolved items too (default: open ones only).
    all: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/triage", tag = "lifecycle", security(("bearer" = [])),
    params(TriageQuery),
    responses((status = 200, body = Vec<crate::service::triage::TriageItem>), (status = 404, body = ErrorBody)))]
/// The triage queue: stamps that started to look copied, and consumer
/// reports, newest first; open ones unless `all=true`. Producers read the
/// items about their own batches (inspectors resolve them).
pub(crate) async fn list_triage(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<TriageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (all, batch) = (query.all.unwrap_or(false), query.batch.map(BatchId));
    ok_json(&state, move |ctx| {
        crate::service::triage::list(ctx.store(), &caller.grant, all, batch)
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolveRequest {
    /// process-error, confirmed-counterfeit, no-action or other
    pub outcome: String,
    pub note: String,
}

#[utoipa::path(post, path = "/api/v1/triage/{kind}/{id}/resolve", tag = "lifecycle", security(("bearer" = [])),
    params(("kind" = String, Path, description = "alert or report"), ("id" = i64, Path)), request_body = ResolveRequest,
    responses((status = 200, body = crate::service::triage::TriageItem), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "resolved already")))]
/// Resolves a triage item with an outcome and a note (both recorded).
pub(crate) async fn resolve_triage(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, i64)>,
    body: web::Json<ResolveRequest>,
) -> Result<HttpResponse, ApiError> {
    let (kind, id) = path.into_inner();
    let b = body.into_inner();
    ok_json(&state, move |ctx| {
        crate::service::triage::resolve(
            ctx.store(),
            &caller.grant,
            kind.parse()?,
            id,
            b.outcome.parse()?,
            &b.note,
            &caller.name,
        )
    })
    .await
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct CsvPage {
    /// First stamp number (default 1).
    from: Option<u32>,
    /// At most this many rows (default and maximum 100,000).
    limit: Option<u32>,
}

/// Rows per CSV download; a bigger batch is fetched in pages with `from`.
const CSV_MAX: u32 = 100_000;

#[utoipa::path(get, path = "/api/v1/batches/{id}/stamps.csv", tag = "stamps", security(("bearer" = [])),
    params(("id" = u32, Path), CsvPage),
    responses((status = 200, content_type = "text/csv", description = "seq, serial, short_code, state, scan_count, first_scan_at, url"),
        (status = 404, body = ErrorBody)))]
/// The batch's stamps with their state and scan counts, as CSV.
pub(crate) async fn stamps_csv(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    page: web::Query<CsvPage>,
) -> Result<HttpResponse, ApiError> {
    let id = BatchId(id.into_inner());
    let from = page.from.unwrap_or(1).max(1);
    let limit = page.limit.unwrap_or(CSV_MAX);
    if !(1..=CSV_MAX).contains(&limit) {
        return Err(ApiError::BadRequest {
            code: crate::web::error_code::INVALID_QUERY,
            message: format!("limit: must be between 1 and {CSV_MAX}"),
        });
    }
    let (batch, body) = call(&state, move |ctx| {
        stamp_export::status_csv(
            ctx.store(),
            &caller.grant,
            ctx.base_url(),
            id,
            (from, limit),
        )
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"tem-batch-{id}-{}-stamps.csv\"",
                batch.file_label()
            ),
        ))
        .body(body))
}

#[utoipa::path(post, path = "/api/v1/batches/{id}/verification", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = u32, Path)),
    responses((status = 201, description = "the signed report: {report, kid, signature}; check it with `tem verify-report`"),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
/// Verifies a batch: every stamp's signature (batch equations), the stamps
/// against the audit log, the data consumers see, the scans; stores the
/// report and returns it signed by the service.
pub(crate) async fn verify_batch(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    let (id, state) = (BatchId(id.into_inner()), state.into_inner());
    let rules = *state.scanner.rules();
    created_json(&state, move |ctx| {
        crate::service::verification::verify_batch(ctx, id, &rules, &caller)
    })
    .await
}
