//! The web dashboard for producers, inspectors and admins: server-rendered
//! pages (askama, checked at compile time), no JavaScript, every asset
//! served by tem. Sign-in turns a token into a session cookie (HttpOnly,
//! SameSite=Strict); every form carries the session's CSRF secret.

mod admin;
mod batch;
mod batch_actions;
mod form;
mod home;
mod inspect;
mod products;
mod sell;
mod signin;
pub mod strings;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;

use super::AppState;
use crate::domain::{Actor, Role};
use crate::service::sessions::{self, Session};
use crate::service::{Context, ServiceError, ServiceResult};
use strings::Strings;

/// The session cookie; its value is the random session id.
pub const SESSION_COOKIE: &str = "tem_session";
/// The sign-in form's double-submit cookie (no session exists yet).
const PRE_COOKIE: &str = "tem_pre";
const LANG_COOKIE: &str = "tem_lang";

/// Who may open a dashboard route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (the sign-in form, signing out).
    Anyone,
    /// A signed-in session with one of these roles. Signed out: the
    /// sign-in page (303); another role: 403. Which objects the role may
    /// see is decided by `service::access` in the handler (404 otherwise).
    Roles(&'static [Role]),
}

/// One dashboard route: method, path under `/app`, and who may open it.
#[derive(Debug)]
pub struct PageRoute {
    /// "GET" or "POST".
    pub method: &'static str,
    /// Its path under /app.
    pub path: &'static str,
    /// Who may open it.
    pub access: Access,
}

const ALL: &[Role] = &[Role::Admin, Role::Producer, Role::Inspector];
const MAKERS: &[Role] = &[Role::Admin, Role::Producer];
const CHECKERS: &[Role] = &[Role::Admin, Role::Inspector];
const ADMINS: &[Role] = &[Role::Admin];
const SELLERS: &[Role] = &[Role::Admin, Role::Seller];
const EVERYONE: &[Role] = &[Role::Admin, Role::Producer, Role::Inspector, Role::Seller];

/// Declares the dashboard once: `PAGES` (read by the role-matrix test) and
/// the actix registration come from the same list, and each resource is
/// wrapped in `authorize` with its own routes' access, so no page exists
/// without its roles and the check runs on the route the router matched.
macro_rules! pages {
    ($( $path:literal { $( $method:ident => $handler:path, $access:expr );+ $(;)? } )*) => {
        /// Every dashboard page with who may open it: the routes are made from this table, and a test opens each page as each role.
        pub const PAGES: &[PageRoute] = &[
            $( $( PageRoute { method: stringify!($method), path: $path, access: $access }, )+ )*
        ];

        fn pages(cfg: &mut web::ServiceConfig) {
            $( {
                const SPECS: &[PageRoute] = &[
                    $( PageRoute { method: stringify!($method), path: $path, access: $access }, )+
                ];
                cfg.service(
                    web::resource($path)
                        .wrap(actix_web::middleware::from_fn(|req, next| authorize(SPECS, req, next)))
                        $( .route(web::method(actix_web::http::Method::$method).to($handler)) )+
                );
            } )*
        }
    };
}

pages! {
    "" { GET => home::home, Access::Roles(EVERYONE) }
    "/" { GET => home::home, Access::Roles(EVERYONE) }
    "/sell" {
        GET => sell::form, Access::Roles(SELLERS);
        POST => sell::submit, Access::Roles(SELLERS);
    }
    "/sign-in" {
        GET => signin::form, Access::Anyone;
        POST => signin::sign_in, Access::Anyone;
    }
    "/sign-out" { POST => signin::sign_out, Access::Anyone }
    "/products/new" { GET => products::new_product, Access::Roles(MAKERS) }
    "/products" { POST => products::create_product, Access::Roles(MAKERS) }
    "/products/{id}" {
        GET => products::product, Access::Roles(ALL);
        POST => products::update_product, Access::Roles(MAKERS);
    }
    "/products/{id}/edit" { GET => products::edit_product, Access::Roles(MAKERS) }
    "/products/{id}/batches" { POST => products::create_batch, Access::Roles(MAKERS) }
    "/batches/{id}" { GET => batch::batch, Access::Roles(ALL) }
    "/batches/{id}/stages" { POST => products::add_stage, Access::Roles(MAKERS) }
    "/batches/{id}/issue" { POST => batch_actions::issue, Access::Roles(MAKERS) }
    "/batches/{id}/preview.jpg" { GET => batch_actions::preview, Access::Roles(MAKERS) }
    "/batches/{id}/sheet.pdf" { GET => batch_actions::sheet_pdf, Access::Roles(MAKERS) }
    "/batches/{id}/report.pdf" { GET => batch_actions::report_pdf, Access::Roles(ALL) }
    "/batches/{id}/report" { GET => inspect::report_html, Access::Roles(ALL) }
    "/batches/{id}/activate" { POST => batch_actions::activate, Access::Roles(MAKERS) }
    "/batches/{id}/void" { POST => batch_actions::void, Access::Roles(MAKERS) }
    "/batches/{id}/recall" { POST => batch_actions::recall, Access::Roles(CHECKERS) }
    "/batches/{id}/lift" { POST => batch_actions::lift, Access::Roles(CHECKERS) }
    "/search" { GET => home::search, Access::Roles(ALL) }
    "/triage" { GET => inspect::triage_list, Access::Roles(CHECKERS) }
    "/triage/{kind}/{id}/resolve" { POST => inspect::resolve, Access::Roles(CHECKERS) }
    "/inspections" {
        GET => inspect::inspections, Access::Roles(CHECKERS);
        POST => inspect::create_inspection, Access::Roles(CHECKERS);
    }
    "/inspections/new" { GET => inspect::new_inspection, Access::Roles(CHECKERS) }
    "/inspections/{id}" { GET => inspect::inspection_page, Access::Roles(CHECKERS) }
    "/inspections/{id}/record.pdf" { GET => inspect::inspection_pdf, Access::Roles(CHECKERS) }
    "/audit" { GET => inspect::audit, Access::Roles(CHECKERS) }
    "/admin" { GET => admin::page, Access::Roles(ADMINS) }
    "/admin/producers" { POST => admin::create_producer, Access::Roles(ADMINS) }
    "/admin/tokens" { POST => admin::create_token, Access::Roles(ADMINS) }
    "/admin/tokens/{id}/revoke" { POST => admin::revoke_token, Access::Roles(ADMINS) }
    "/admin/keys/rotate" { POST => admin::rotate_key, Access::Roles(ADMINS) }
    "/admin/keys/{kid}/revoke" { POST => admin::revoke_key, Access::Roles(ADMINS) }
}

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/app")
            .wrap(actix_web::middleware::from_fn(remember_lang))
            .app_data(
                web::FormConfig::default()
                    .limit(64 * 1024)
                    .error_handler(|err, req| {
                        let t = lang_of(req);
                        DashError::Page(
                            t,
                            StatusCode::BAD_REQUEST,
                            format!("{}: {err}", t.check_form),
                        )
                        .into()
                    }),
            )
            .app_data(
                actix_multipart::form::MultipartFormConfig::default()
                    .total_limit(25 << 20)
                    .memory_limit(25 << 20)
                    .error_handler(|err, req| {
                        let t = lang_of(req);
                        DashError::Page(
                            t,
                            StatusCode::BAD_REQUEST,
                            format!("{}: {err}", t.check_form),
                        )
                        .into()
                    }),
            )
            .configure(pages),
    )
    .route("/static/app.css", web::get().to(css))
    .route("/media/{name}", web::get().to(media));
}

/// Middleware on each dashboard resource, given that resource's routes:
/// for a route with roles, resolves the session (signed out: the sign-in
/// page) and checks its role (403) before the handler runs, which then
/// gets the `Signed` from the request.
async fn authorize(
    routes: &'static [PageRoute],
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let roles = match routes.iter().find(|r| r.method == req.method().as_str()) {
        Some(PageRoute {
            access: Access::Roles(roles),
            ..
        }) => *roles,
        // Open to anyone, or a method the resource lacks (the router's 405).
        _ => return next.call(req).await,
    };
    let signed = Signed::resolve(req.request())
        .await?
        .ok_or_else(|| DashError::SignIn(req.path().to_string()))?;
    if !roles.contains(&signed.frame.role) {
        let t = signed.frame.t;
        return Err(DashError::Page(t, StatusCode::FORBIDDEN, t.forbidden.into()).into());
    }
    req.extensions_mut().insert(signed);
    next.call(req).await
}

/// `?lang=vi|en` on any dashboard page is remembered in a cookie, so the
/// next pages keep the language; every answer says in `Server-Timing` how
/// long tem took to make it.
async fn remember_lang(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let chosen = match req.query_string() {
        q if q.split('&').any(|p| p == "lang=en") => Some("en"),
        q if q.split('&').any(|p| p == "lang=vi") => Some("vi"),
        _ => None,
    };
    let started = std::time::Instant::now();
    let mut res = next.call(req).await?;
    // How long tem took (what the page-speed benchmark measures).
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&format!(
        "app;dur={:.2}",
        started.elapsed().as_secs_f64() * 1000.0
    )) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("server-timing"),
            v,
        );
    }
    if let Some(lang) = chosen {
        let cookie = actix_web::cookie::Cookie::build(LANG_COOKIE, lang)
            .path("/")
            .same_site(actix_web::cookie::SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::days(365))
            .finish();
        let _ = res.response_mut().add_cookie(&cookie);
    }
    Ok(res)
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../../assets/static/app.css"))
}

/// An uploaded image, by its content-hash name (so cacheable for ever).
async fn media(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, super::ApiError> {
    let name = name.into_inner();
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(super::ApiError::NotFound(format!("no image {name}")));
    }
    let found = super::call(&state, move |ctx| {
        crate::service::photos::media(ctx.store(), &name)
    })
    .await?;
    match found {
        Some((content_type, bytes)) => Ok(HttpResponse::Ok()
            .content_type(content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(bytes)),
        None => Err(super::ApiError::NotFound("no such image".into())),
    }
}

/// The language of a request: `?lang=` (remembered in a cookie), else the
/// cookie, else Vietnamese.
pub(crate) fn lang_of(req: &HttpRequest) -> &'static Strings {
    let query =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.get("lang").cloned());
    let chosen = query.or_else(|| req.cookie(LANG_COOKIE).map(|c| c.value().to_string()));
    match chosen.as_deref() {
        Some("en") => &strings::EN,
        _ => &strings::VI,
    }
}

/// What every page's frame needs: the words, the CSRF secret for its forms,
/// and who is signed in.
pub(crate) struct Frame {
    pub t: &'static Strings,
    pub csrf: String,
    pub who: String,
    pub role: Role,
    /// May read the whole audit log (admins, country-wide inspectors).
    pub audit: bool,
    /// The current path, for the language switch.
    pub path: String,
}

impl Frame {
    /// A stored RFC 3339 time as Vietnam time ("14:05 27/11/2026").
    pub fn local(&self, at: &str) -> String {
        at.parse::<jiff::Timestamp>()
            .map(crate::render::report::local_time)
            .unwrap_or_else(|_| at.to_string())
    }

    /// A scan verdict in the page's language.
    pub fn verdict(&self, v: &str) -> String {
        if self.t.lang == "vi" {
            crate::render::report_pdf::verdict_vi(v).to_string()
        } else {
            v.replace('-', " ")
        }
    }

    pub fn is_producer(&self) -> bool {
        self.role == Role::Producer
    }
    pub fn can_inspect(&self) -> bool {
        matches!(self.role, Role::Inspector | Role::Admin)
    }
}

/// A signed-in person: their session and the page frame.
pub(crate) struct Signed {
    pub session: Session,
    pub frame: Frame,
}

impl Signed {
    /// Who is signed in, as the service sees them.
    pub fn actor(&self) -> Actor {
        Actor {
            grant: self.session.grant.clone(),
            name: self.session.actor.clone(),
        }
    }

    /// Runs one service call as the signed-in person on the blocking pool;
    /// a failure becomes its page (404, 409, 503…) in the session's language.
    pub async fn call<T: Send + 'static>(
        &self,
        state: &AppState,
        f: impl FnOnce(&Context, &Actor) -> ServiceResult<T> + Send + 'static,
    ) -> Result<T, DashError> {
        let t = self.frame.t;
        self.attempt(state, f).await?.map_err(service(t))
    }

    /// Like `call`, but hands back the service's answer, for forms that
    /// show a mistake next to its field.
    pub async fn attempt<T: Send + 'static>(
        &self,
        state: &AppState,
        f: impl FnOnce(&Context, &Actor) -> ServiceResult<T> + Send + 'static,
    ) -> Result<ServiceResult<T>, DashError> {
        let (ctx, who) = (state.ctx.clone(), self.actor());
        Ok(web::block(move || f(&ctx, &who)).await?)
    }
}

impl FromRequest for Signed {
    type Error = DashError;
    type Future = Pin<Box<dyn Future<Output = Result<Signed, DashError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        // Put there by `authorize` for every route with roles.
        let ready = req.extensions_mut().remove::<Signed>();
        let req = req.clone();
        Box::pin(async move {
            match ready {
                Some(signed) => Ok(signed),
                None => Signed::resolve(&req)
                    .await?
                    .ok_or_else(|| DashError::SignIn(req.path().to_string())),
            }
        })
    }
}

impl Signed {
    /// The session a request's cookie names, with its page frame; `None`
    /// when signed out (no cookie, or a session that ended).
    async fn resolve(req: &HttpRequest) -> Result<Option<Signed>, DashError> {
        let t = lang_of(req);
        let Some(cookie) = req.cookie(SESSION_COOKIE) else {
            return Ok(None);
        };
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| DashError::Page(t, StatusCode::INTERNAL_SERVER_ERROR, t.error.into()))?
            .clone();
        let admin = state.admin.hash();
        let store = state.ctx.shared_store();
        let id = cookie.value().to_string();
        let found = web::block(move || sessions::resolve(&*store, &id, admin))
            .await
            .map_err(|_| DashError::Page(t, StatusCode::INTERNAL_SERVER_ERROR, t.error.into()))?
            .map_err(|e| DashError::Service(t, e))?;
        let Some(session) = found else {
            return Ok(None);
        };
        let producer = session.producer_name.clone();
        // The cooperative's name for a producer; the token's label or
        // role for the others.
        let role = match (session.grant.role, t.lang) {
            (Role::Admin, "vi") => "Quản trị",
            (Role::Inspector, "vi") => "Cán bộ kiểm tra",
            (Role::Admin, _) => "Administrator",
            (Role::Inspector, _) => "Inspector",
            (Role::Seller, "vi") => "Cửa hàng",
            (Role::Seller, _) => "Shop",
            (Role::Producer, _) => t.producer,
        };
        let who = match (producer, &session.label) {
            (Some(p), _) => p,
            (None, Some(l)) => format!("{l} ({role})"),
            (None, None) => role.to_string(),
        };
        Ok(Some(Signed {
            frame: Frame {
                t,
                csrf: session.csrf.clone(),
                who,
                role: session.grant.role,
                audit: session.grant.role == Role::Admin
                    || (session.grant.role == Role::Inspector
                        && session.grant.provinces.is_empty()),
                path: req.path().to_string(),
            },
            session,
        }))
    }

    /// Refuses a form whose CSRF field is not this session's.
    pub fn check_csrf(&self, presented: &str) -> Result<(), DashError> {
        if sessions::csrf_ok(&self.session, presented) {
            Ok(())
        } else {
            Err(DashError::Page(
                self.frame.t,
                StatusCode::FORBIDDEN,
                self.frame.t.csrf_refused.into(),
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "app/error.html")]
struct ErrorPage<'a> {
    t: &'static Strings,
    message: &'a str,
}

/// What goes wrong on a page: not signed in (to the sign-in page), or an
/// error shown as a page of its own.
#[derive(Debug)]
pub(crate) enum DashError {
    SignIn(String),
    Page(&'static Strings, StatusCode, String),
    Service(&'static Strings, ServiceError),
}

impl std::fmt::Display for DashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DashError::SignIn(_) => write!(f, "not signed in"),
            DashError::Page(_, status, m) => write!(f, "{status}: {m}"),
            DashError::Service(_, e) => write!(f, "{e}"),
        }
    }
}

impl From<actix_web::error::BlockingError> for DashError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        DashError::Page(
            &strings::VI,
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server is too busy".into(),
        )
    }
}

impl ResponseError for DashError {
    fn status_code(&self) -> StatusCode {
        match self {
            DashError::SignIn(_) => StatusCode::SEE_OTHER,
            DashError::Page(_, s, _) => *s,
            DashError::Service(_, e) => match e {
                ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
                ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
                ServiceError::Conflict(_) => StatusCode::CONFLICT,
                ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                ServiceError::Store(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (t, message) = match self {
            DashError::SignIn(path) => {
                let next = if path.starts_with("/app") {
                    path
                } else {
                    "/app"
                };
                return HttpResponse::SeeOther()
                    .insert_header((
                        header::LOCATION,
                        format!("/app/sign-in?next={}", form_urlencode(next)),
                    ))
                    .finish();
            }
            DashError::Page(t, _, m) => (*t, m.clone()),
            DashError::Service(t, e) => match e {
                ServiceError::NotFound { .. } => (*t, t.not_found.to_string()),
                ServiceError::Invalid(_) | ServiceError::Conflict(_) => (*t, e.to_string()),
                other => {
                    let cause = crate::web::error::cause_chain(other);
                    tracing::error!(error.cause = %cause, "dashboard request failed");
                    (*t, t.error.to_string())
                }
            },
        };
        let body = ErrorPage {
            t,
            message: &message,
        }
        .render()
        .unwrap_or_else(|_| message.clone());
        let status = self.status_code();
        let mut response = html(status, body);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
        }
        response
    }
}

/// An HTML response with the dashboard's headers: no framing, no sniffing,
/// nothing loaded from elsewhere, no scripts at all, not cached.
pub(crate) fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .body(body)
}

pub(crate) fn render(t: &'static Strings, page: &impl Template) -> Result<HttpResponse, DashError> {
    render_status(t, page, StatusCode::OK)
}

/// A page with its status (422 for a form shown again with errors).
pub(crate) fn render_status(
    t: &'static Strings,
    page: &impl Template,
    status: StatusCode,
) -> Result<HttpResponse, DashError> {
    page.render()
        .map(|b| html(status, b))
        .map_err(|e| DashError::Page(t, StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// Maps a service error to an error page in the page's language.
pub(crate) fn service(t: &'static Strings) -> impl Fn(ServiceError) -> DashError {
    move |e| DashError::Service(t, e)
}

/// 303 to `to` after a form was handled.
pub(crate) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

pub(crate) fn form_urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether cookies should be `Secure`: the request came over https through
/// a trusted proxy that says so with `X-Forwarded-Proto: https` (tem itself
/// serves plain HTTP; anyone else's header does not count). Over
/// plain http — a test machine, a LAN without TLS — a Secure cookie would
/// never come back.
fn secure(req: &HttpRequest) -> bool {
    req.app_data::<web::Data<AppState>>()
        .is_some_and(|s| crate::web::client::is_https(req, &s.proxies))
}
