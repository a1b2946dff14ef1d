//! Who may call the API. Until roles arrive, one admin token (from
//! `TEM_ADMIN_TOKEN` or config) guards every `/api/v1` route. Only its
//! SHA-256 is kept in memory, and comparison is constant-time.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};

/// A new random API token: 256 bits from the OS CSPRNG, base32, prefixed
/// `tem_` so that secret scanners and people can recognise it.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!(
        "tem_{}",
        data_encoding::BASE32_NOPAD
            .encode(&bytes)
            .to_ascii_lowercase()
    )
}

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

    fn accepts(&self, presented: &str) -> bool {
        let Some(expected) = &self.hash else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        presented.ct_eq(expected).into()
    }
}

/// Proof that the request carried the admin token. Handlers that take an
/// `Admin` argument are admin-only.
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Admin, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check(req))
    }
}

fn check(req: &HttpRequest) -> Result<Admin, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    if state.admin.hash.is_none() {
        return Err(ApiError::Unauthorized(
            "this server has no admin token configured; set TEM_ADMIN_TOKEN and restart".into(),
        ));
    }
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Unauthorized("send `Authorization: Bearer <token>`".into()))?;
    let token = header.strip_prefix("Bearer ").ok_or_else(|| {
        ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
    })?;
    if state.admin.accepts(token.trim()) {
        Ok(Admin)
    } else {
        Err(ApiError::Unauthorized("the token is not valid".into()))
    }
}
