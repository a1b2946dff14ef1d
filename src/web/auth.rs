//! Who may call the API. Every route under `/api/v1` is listed in
//! `api::ROUTES` with the roles that may call it; `authorize` (middleware on
//! each matched resource) checks the bearer token against that list before
//! any handler runs and hands the handler a `Caller`. Which objects a caller may see is
//! decided by `service::access`.
//!
//! Tokens: the admin token from `TEM_ADMIN_TOKEN`/config (only its SHA-256
//! is kept in memory) acts as an admin token; every other token is created
//! with `tem token create` and stored hashed. Comparisons are constant-time.

use std::future::{Ready, ready};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};
use crate::domain::Actor;
use crate::service::tokens::{self, Refused};

pub use crate::service::tokens::random_token;

#[derive(Clone)]
pub struct AdminToken {
    hash: Option<[u8; 32]>,
}

impl AdminToken {
    pub fn new(token: Option<&str>) -> Self {
        AdminToken {
            hash: token.map(|t| Sha256::digest(t.as_bytes()).into()),
        }
    }

    /// The configured admin token's SHA-256 (dashboard sign-in compares it).
    pub fn hash(&self) -> Option<[u8; 32]> {
        self.hash
    }

    fn accepts(&self, presented: &str) -> bool {
        let Some(expected) = &self.hash else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        presented.ct_eq(expected).into()
    }
}

/// The authenticated caller of a non-public API route: what its token
/// grants, and how to name it in records ("token 12", "admin token").
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

impl std::ops::Deref for Caller {
    type Target = Actor;

    fn deref(&self) -> &Actor {
        &self.0
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Set by `authorize` for every route that is not public.
        ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or_else(|| ApiError::Internal(format!("no caller for {}", req.path()))),
        )
    }
}

/// One API route: its method, its path under `/api/v1`, and the roles that
/// may call it (none listed: anyone, no token needed).
#[derive(Debug)]
pub struct RouteSpec {
    /// "GET", "POST"…
    pub method: &'static str,
    /// Its path under /api/v1.
    pub path: &'static str,
    /// Who may call it (none: anyone).
    pub roles: &'static [crate::domain::Role],
}

/// Middleware on each API resource, given that resource's routes: unless
/// the route for the request's method is public, authenticates the bearer
/// token (401) and checks its role (403). A method the resource does not
/// have goes on to the router's 405.
pub async fn authorize(
    routes: &'static [RouteSpec],
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(route) = routes.iter().find(|r| r.method == req.method().as_str()) else {
        return next.call(req).await;
    };
    if route.roles.is_empty() {
        return next.call(req).await;
    }
    let caller = authenticate(req.request()).await?;
    if !route.roles.contains(&caller.grant.role) {
        return Err(ApiError::Forbidden(format!(
            "a {} token may not call {} {}; this needs: {}",
            caller.grant.role.as_str(),
            route.method,
            route.path,
            route
                .roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    req.extensions_mut().insert(caller);
    next.call(req).await
}

async fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Unauthorized("send `Authorization: Bearer <token>`".into()))?;
    let token = header
        .strip_prefix("Bearer ")
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
        })?
        .trim()
        .to_string();
    if state.admin.accepts(&token) {
        return Ok(Caller(Actor::admin("admin token")));
    }
    let store = state.ctx.shared_store();
    match web::block(move || tokens::authenticate(&*store, &token)).await?? {
        Ok(info) => Ok(Caller(Actor {
            name: format!("token {} ({})", info.id, info.grant.role.as_str()),
            grant: info.grant,
        })),
        Err(Refused::Expired) => Err(ApiError::Unauthorized("the token has expired".into())),
        Err(Refused::Revoked) => Err(ApiError::Unauthorized("the token was revoked".into())),
        Err(Refused::Unknown) => Err(ApiError::Unauthorized("the token is not valid".into())),
    }
}
