//! The JSON API under `/api/v1`: producers, products, batches, stages and
//! stamp issuance. Each handler turns its input into a service call on a
//! blocking thread and the result into JSON.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::{ApiError, AppState};
use crate::codes::KeyRing;
use crate::domain::{
    Batch, BatchId, BatchInput, Producer, ProducerId, ProducerInput, Product, ProductId,
    ProductInput, Stage, StageInput, StampState,
};
use crate::service::{ServiceError, issue, registry};
use crate::store::BatchSummary;
use crate::web::error::ErrorBody;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/batches/{id}/recall").route(web::post().to(recall_batch)))
        .service(web::resource("/batches/{id}/recall/lift").route(web::post().to(lift_recall)))
        .service(web::resource("/batches/{id}/void").route(web::post().to(void_stamps)));
    cfg.service(
        web::resource("/batches/{id}/sheet.{format}").route(web::get().to(super::sheets::sheet)),
    );
    cfg.service(
        web::resource("/producers")
            .route(web::get().to(list_producers))
            .route(web::post().to(create_producer)),
    )
    .service(web::resource("/producers/{id}").route(web::get().to(get_producer)))
    .service(
        web::resource("/products")
            .route(web::get().to(list_products))
            .route(web::post().to(create_product)),
    )
    .service(web::resource("/products/{id}").route(web::get().to(get_product)))
    .service(
        web::resource("/products/{id}/batches")
            .route(web::get().to(list_product_batches))
            .route(web::post().to(create_batch)),
    )
    .service(web::resource("/batches").route(web::get().to(list_batches)))
    .service(web::resource("/batches/{id}").route(web::get().to(get_batch)))
    .service(
        web::resource("/batches/{id}/stages")
            .route(web::get().to(list_stages))
            .route(web::post().to(add_stage)),
    )
    .service(
        web::resource("/batches/{id}/stamps")
            .route(web::get().to(list_stamps))
            .route(web::post().to(issue_stamps)),
    );
}

/// Runs a service call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(web::block(f).await??)
}

#[utoipa::path(get, path = "/api/v1/producers", tag = "registry", security(("admin" = [])),
    responses((status = 200, body = Vec<Producer>), (status = 401, body = ErrorBody)))]
pub async fn list_producers(
    _: Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    Ok(HttpResponse::Ok().json(blocking(move || registry::producers(&*store)).await?))
}

#[utoipa::path(post, path = "/api/v1/producers", tag = "registry", security(("admin" = [])), request_body = ProducerInput,
    responses((status = 201, body = Producer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn create_producer(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<ProducerInput>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let producer = blocking(move || registry::create_producer(&*store, body.into_inner())).await?;
    Ok(HttpResponse::Created().json(producer))
}

#[utoipa::path(get, path = "/api/v1/producers/{id}", tag = "registry", security(("admin" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Producer), (status = 404, body = ErrorBody)))]
pub async fn get_producer(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = (state.store.clone(), ProducerId(id.into_inner()));
    Ok(HttpResponse::Ok().json(blocking(move || registry::producer(&*store, id)).await?))
}

#[derive(Deserialize, IntoParams)]
pub struct ProductFilter {
    /// Only this producer's products.
    producer_id: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/products", tag = "registry", security(("admin" = [])),
    params(ProductFilter),
    responses((status = 200, body = Vec<Product>), (status = 404, body = ErrorBody)))]
pub async fn list_products(
    _: Admin,
    state: web::Data<AppState>,
    filter: web::Query<ProductFilter>,
) -> Result<HttpResponse, ApiError> {
    let (store, producer) = (state.store.clone(), filter.producer_id.map(ProducerId));
    Ok(HttpResponse::Ok().json(blocking(move || registry::products(&*store, producer)).await?))
}

#[utoipa::path(post, path = "/api/v1/products", tag = "registry", security(("admin" = [])), request_body = ProductInput,
    responses((status = 201, body = Product), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_product(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let product = blocking(move || registry::create_product(&*store, body.into_inner())).await?;
    Ok(HttpResponse::Created().json(product))
}

#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "registry", security(("admin" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Product), (status = 404, body = ErrorBody)))]
pub async fn get_product(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = (state.store.clone(), ProductId(id.into_inner()));
    Ok(HttpResponse::Ok().json(blocking(move || registry::product(&*store, id)).await?))
}

#[utoipa::path(get, path = "/api/v1/products/{id}/batches", tag = "registry", security(("admin" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<BatchSummary>), (status = 404, body = ErrorBody)))]
pub async fn list_product_batches(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = (state.store.clone(), ProductId(id.into_inner()));
    Ok(HttpResponse::Ok().json(blocking(move || registry::batches(&*store, Some(id))).await?))
}

#[utoipa::path(post, path = "/api/v1/products/{id}/batches", tag = "registry", security(("admin" = [])),
    params(("id" = i64, Path)), request_body = BatchInput,
    responses((status = 201, body = Batch), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "lot code already used for this product")))]
pub async fn create_batch(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<BatchInput>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = (state.store.clone(), ProductId(id.into_inner()));
    let batch = blocking(move || registry::create_batch(&*store, id, body.into_inner())).await?;
    Ok(HttpResponse::Created().json(batch))
}

#[utoipa::path(get, path = "/api/v1/batches", tag = "registry", security(("admin" = [])),
    responses((status = 200, body = Vec<BatchSummary>)))]
pub async fn list_batches(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    Ok(HttpResponse::Ok().json(blocking(move || registry::batches(&*store, None)).await?))
}

#[utoipa::path(get, path = "/api/v1/batches/{id}", tag = "registry", security(("admin" = [])),
    params(("id" = u32, Path)),
    responses((status = 200, body = Batch), (status = 404, body = ErrorBody)))]
pub async fn get_batch(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = (state.store.clone(), BatchId(id.into_inner()));
    Ok(HttpResponse::Ok().json(blocking(move || registry::batch(&*store, id)).await?))
}

#[utoipa::path(get, path = "/api/v1/batches/{id}/stages", tag = "registry", security(("admin" = [])),
    params(("id" = u32, Path)),
    responses((status = 200, body = Vec<Stage>), (status = 404, body = ErrorBody)))]
pub async fn list_stages(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = (state.store.clone(), BatchId(id.into_inner()));
    Ok(HttpResponse::Ok()
        .json(blocking(move || registry::batch(&*store, id).map(|b| b.stages)).await?))
}

#[utoipa::path(post, path = "/api/v1/batches/{id}/stages", tag = "registry", security(("admin" = [])),
    params(("id" = u32, Path)), request_body = StageInput,
    responses((status = 201, body = Stage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_stage(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    body: web::Json<StageInput>,
) -> Result<HttpResponse, ApiError> {
    let (store, id) = (state.store.clone(), BatchId(id.into_inner()));
    let stage = blocking(move || registry::add_stage(&*store, id, body.into_inner())).await?;
    Ok(HttpResponse::Created().json(stage))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// How many stamps to issue: 1 to 1,000,000.
    pub count: u64,
}

#[derive(Serialize, ToSchema)]
pub struct IssueResponse {
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
}

#[utoipa::path(post, path = "/api/v1/batches/{id}/stamps", tag = "stamps", security(("admin" = [])),
    params(("id" = u32, Path)), request_body = IssueRequest,
    responses((status = 201, body = IssueResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "no active signing key")))]
pub async fn issue_stamps(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    body: web::Json<IssueRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = BatchId(id.into_inner());
    let state = state.into_inner();
    let summary = blocking(move || {
        let keys = KeyRing::open(&state.keys_dir)?;
        issue::issue(
            &*state.store,
            &keys,
            &state.base_url,
            id,
            body.count,
            &mut |_| Ok(()),
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
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct StampPage {
    /// First sequence number to return (default 1).
    from: Option<u32>,
    /// At most this many (default 1,000, max 10,000).
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct StampView {
    pub seq: u32,
    pub serial: String,
    pub short_code: String,
    pub state: StampState,
    pub kid: String,
    pub url: String,
}

#[utoipa::path(get, path = "/api/v1/batches/{id}/stamps", tag = "stamps", security(("admin" = [])),
    params(("id" = u32, Path), StampPage),
    responses((status = 200, body = Vec<StampView>), (status = 404, body = ErrorBody)))]
pub async fn list_stamps(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    page: web::Query<StampPage>,
) -> Result<HttpResponse, ApiError> {
    let id = BatchId(id.into_inner());
    let from = page.from.unwrap_or(1).max(1);
    let limit = page.limit.unwrap_or(1_000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::BadRequest {
            code: "invalid_query",
            message: "limit: must be between 1 and 10000".into(),
        });
    }
    let state = state.into_inner();
    let base = state.base_url.clone();
    let stamps = blocking(move || {
        registry::batch(&*state.store, id)?;
        Ok(state.store.stamps(id, from, limit)?)
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
            url: s.code().url(&base),
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallRequest {
    /// Why (for the record).
    pub reason: String,
    /// What consumers see on their next scan.
    pub notice: String,
    /// Only stamps from..from+count−1; the whole batch when absent.
    pub from: Option<u32>,
    pub count: Option<u32>,
}

#[utoipa::path(post, path = "/api/v1/batches/{id}/recall", tag = "lifecycle", security(("admin" = [])),
    params(("id" = u32, Path)), request_body = RecallRequest,
    responses((status = 201, body = crate::store::RecallNotice), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn recall_batch(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    body: web::Json<RecallRequest>,
) -> Result<HttpResponse, ApiError> {
    let (store, id, b) = (
        state.store.clone(),
        BatchId(id.into_inner()),
        body.into_inner(),
    );
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
    let notice = blocking(move || {
        crate::service::lifecycle::recall(&*store, id, range, &b.reason, &b.notice, "api:admin")
    })
    .await?;
    Ok(HttpResponse::Created().json(notice))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/batches/{id}/recall/lift", tag = "lifecycle", security(("admin" = [])),
    params(("id" = u32, Path)), request_body = ReasonRequest,
    responses((status = 200, description = "{\"lifted\": n}"), (status = 404, body = ErrorBody)))]
pub async fn lift_recall(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    body: web::Json<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let (store, id, b) = (
        state.store.clone(),
        BatchId(id.into_inner()),
        body.into_inner(),
    );
    let lifted = blocking(move || crate::service::lifecycle::lift(&*store, id, &b.reason)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "lifted": lifted })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidRequest {
    pub from: u32,
    pub count: u32,
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/batches/{id}/void", tag = "lifecycle", security(("admin" = [])),
    params(("id" = u32, Path)), request_body = VoidRequest,
    responses((status = 200, description = "{\"voided\": n}"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn void_stamps(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    body: web::Json<VoidRequest>,
) -> Result<HttpResponse, ApiError> {
    let (store, id, b) = (
        state.store.clone(),
        BatchId(id.into_inner()),
        body.into_inner(),
    );
    let voided =
        blocking(move || crate::service::lifecycle::void(&*store, id, b.from, b.count, &b.reason))
            .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "voided": voided })))
}
