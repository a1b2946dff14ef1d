//! The HTTP service (actix-web): routes, shared state, request limits, and the
//! JSON error envelope for everything that goes wrong before a handler runs.

pub mod api;
mod application;
mod audit;
mod auth;
pub mod client;
mod dashboard;
pub(crate) mod epcis;
pub mod error;
pub mod error_code;
mod gs1;
pub mod inspections;
pub mod openapi;
pub mod public;
mod sales;
pub mod scan;
mod sheets;
mod stream;
mod tlog;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use crate::service::rate_limit::RateLimiter;
use crate::service::resolver::Resolver;
use crate::service::scan::Scanner;
use crate::service::{Context, ServiceResult};
pub use application::{Application, Settings, StartError};
pub use auth::random_token;
pub use dashboard::{Access as PageAccess, PAGES, PageRoute};
pub use error::ApiError;

/// Everything a handler may use. Cheap to clone (shared pointers).
#[derive(Clone)]
pub struct AppState {
    /// The registry, keys and base URL every service call runs against.
    pub ctx: Context,
    /// The configured admin token (hashed).
    pub admin: auth::AdminToken,
    /// Printer profiles (`[printers.NAME]` in tem.toml).
    pub printers: std::collections::BTreeMap<String, crate::render::pdf::Calibration>,
    /// The scan pipeline.
    pub scanner: Arc<Scanner>,
    /// Whether `/epcis/events` answers anyone (the public subset).
    pub epcis_public: bool,
    /// The audit log's full tiles, once read.
    pub tiles: Arc<crate::service::tlog::TileCache>,
    /// The GS1 resolver, with what it last read of the registry.
    pub resolver: Arc<Resolver>,
    /// The per-network limit on verification.
    pub limiter: Arc<RateLimiter>,
    /// Proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` count (`client`).
    pub proxies: crate::domain::network::TrustedProxies,
    /// The path of the base URL ("" or e.g. "/t"): stamp URLs live under it.
    pub scan_prefix: String,
    /// Rendered parts of scan pages shared by every stamp of a batch.
    pub(crate) page_parts: Arc<scan::PageParts>,
}

impl AppState {
    /// The state for `settings`; starts the scan pipeline.
    pub fn build(
        ctx: Context,
        settings: &application::Settings,
    ) -> Result<Self, crate::service::ServiceError> {
        let scan = &settings.scan;
        let scanner = Scanner::start(
            ctx.shared_store(),
            ctx.keys_dir().to_path_buf(),
            scan.rules(),
        )?;
        let limiter = Arc::new(RateLimiter::new(scan.rate_per_minute, &ctx));
        let resolver = Arc::new(Resolver::new(ctx.shared_store()));
        let tiles = Arc::new(crate::service::tlog::TileCache::new(ctx.shared_store()));
        Ok(AppState {
            scan_prefix: base_path(ctx.base_url()),
            ctx,
            admin: auth::AdminToken::new(settings.admin_token.as_deref()),
            printers: settings.printers.clone(),
            scanner,
            resolver,
            tiles,
            epcis_public: settings.epcis_public,
            limiter,
            proxies: settings.proxies.clone(),
            page_parts: Default::default(),
        })
    }
}

/// The path part of a base URL, without a trailing slash.
fn base_path(base_url: &str) -> String {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    rest.find('/')
        .map(|i| rest[i..].trim_end_matches('/').to_string())
        .unwrap_or_default()
}

/// Runs one service call with the service context on the blocking pool
/// (the database and the signing work block).
pub(crate) async fn call<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Context) -> ServiceResult<T> + Send + 'static,
) -> Result<T, ApiError> {
    let ctx = state.ctx.clone();
    Ok(web::block(move || f(&ctx)).await??)
}

/// One service call, answered 200 with its value as JSON.
pub(crate) async fn ok_json<T: serde::Serialize + Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Context) -> ServiceResult<T> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(call(state, f).await?))
}

/// One service call that made something, answered 201 with it as JSON.
pub(crate) async fn created_json<T: serde::Serialize + Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Context) -> ServiceResult<T> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(call(state, f).await?))
}

/// JSON bodies above this are refused: the largest legitimate body (a product
/// with 20 certifications and a long description) is under 32 KB.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// Form bodies of the public pages (a shared location, a report) above this
/// are refused: a report's message is at most a few KB.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// A PDF shown in the browser (`inline`) under a file name for saving.
pub fn pdf_response(bytes: Vec<u8>, filename: &str) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{filename}\""),
        ))
        .body(bytes)
}

/// Routes and their configuration, shared by `run` and the tests. The stamp
/// URL (`{scan_prefix}/{code}`) comes last: it matches any single segment.
pub fn routes(cfg: &mut web::ServiceConfig, scan_prefix: &str) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_JSON_BYTES)
            .error_handler(|err, _req| json_error(err).into()),
    )
    .app_data(
        web::PathConfig::default().error_handler(|err, _req| {
            ApiError::NotFound(format!("no such resource ({err})")).into()
        }),
    )
    // The scan page's forms (location, report); the dashboard's scope has
    // its own, answering with a page.
    .app_data(
        web::FormConfig::default()
            .limit(MAX_FORM_BYTES)
            .error_handler(|err, _req| form_error(err).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::BadRequest {
            code: crate::web::error_code::INVALID_QUERY,
            message: err.to_string(),
        }
        .into()
    }))
    .configure(|cfg| public::register_first(cfg, scan_prefix))
    .configure(dashboard::routes)
    // Routes with a path parameter are matched by regex, so all of /api/v1
    // (the route table in api.rs) sits inside its scope: a stamp URL then
    // costs one prefix test there, not a regex per API route.
    .service(web::scope("/api/v1").configure(api::routes))
    .configure(|cfg| public::register_last(cfg, scan_prefix));
}

fn json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as J;
    match err {
        J::OverflowKnownLength { .. } | J::Overflow { .. } => ApiError::TooLarge(MAX_JSON_BYTES),
        J::ContentType => ApiError::BadRequest {
            code: crate::web::error_code::UNSUPPORTED_MEDIA_TYPE,
            message: "send the body as JSON with Content-Type: application/json".into(),
        },
        J::Deserialize(e) => ApiError::BadRequest {
            code: crate::web::error_code::INVALID_JSON,
            message: e.to_string(),
        },
        other => ApiError::BadRequest {
            code: crate::web::error_code::INVALID_JSON,
            message: other.to_string(),
        },
    }
}

fn form_error(err: actix_web::error::UrlencodedError) -> ApiError {
    use actix_web::error::UrlencodedError as U;
    match err {
        U::Overflow { .. } => ApiError::TooLarge(MAX_FORM_BYTES),
        U::ContentType => ApiError::BadRequest {
            code: crate::web::error_code::UNSUPPORTED_MEDIA_TYPE,
            message: "send the body as a form with Content-Type: application/x-www-form-urlencoded"
                .into(),
        },
        other => ApiError::BadRequest {
            code: crate::web::error_code::INVALID_FORM,
            message: other.to_string(),
        },
    }
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}

/// Liveness and database reachability, for load balancers and monitoring.
async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let ctx = state.ctx.clone();
    web::block(move || ctx.ping())
        .await?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ok" })))
}

/// The public key set verifiers need. Read from the key directory on each
/// request so that `tem keys rotate` takes effect without a restart.
async fn key_set(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let set = call(&state, crate::service::tlog::published_keys).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .json(set))
}

/// Headers on every response: no sniffing, no framing, no referrer, and a
/// content security policy that allows only tem's own CSS and script (no
/// inline script, nothing from other hosts).
fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
}

/// One line per request at `info` (method, path, status, milliseconds).
/// When `info` is off (as under load), a request costs one level check: the
/// scan endpoint answers thousands a second and builds no span for them.
async fn access_log(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    if !tracing::enabled!(tracing::Level::INFO) {
        return next.call(req).await;
    }
    let started = std::time::Instant::now();
    let (method, path) = (req.method().clone(), req.path().to_string());
    let res = next.call(req).await?;
    tracing::info!(
        http.method = %method,
        http.target = %path,
        http.status_code = res.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    Ok(res)
}

/// How long a client may take to send a request's head.
pub const CLIENT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long an idle keep-alive connection stays open.
pub const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// Starts the server on a bound listener.
fn run(listener: TcpListener, state: AppState, workers: Option<usize>) -> std::io::Result<Server> {
    let prefix = state.scan_prefix.clone();
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        let prefix = prefix.clone();
        App::new()
            .wrap(security_headers())
            .wrap(actix_web::middleware::from_fn(access_log))
            .app_data(data.clone())
            .configure(move |cfg| routes(cfg, &prefix))
            .default_service(web::to(not_found))
    })
    // A client has 5 s to send a request's head (slowloris clients that
    // trickle headers are cut off), an idle keep-alive connection is closed
    // after 15 s, and a client gets 2 s to take the end of a response
    // (docs/reliability.md, slow and idle clients).
    .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
    .keep_alive(actix_web::http::KeepAlive::Timeout(KEEP_ALIVE))
    .client_disconnect_timeout(std::time::Duration::from_secs(2))
    .backlog(2048)
    .listen(listener)?;
    if let Some(n) = workers {
        server = server.workers(n);
    }
    Ok(server.run())
}
