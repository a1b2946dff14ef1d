//! The one place where errors become HTTP responses:
//! `{"error": {"code": "...", "message": "..."}}` with a stable snake_case
//! code. Server-side failures stay opaque to the client and are logged.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::codes::KeyError;
use crate::service::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the server could not finish the request")]
    Internal(String),
    #[error("too many requests from your network; try again in a minute")]
    TooManyRequests,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_input`, `batch_not_found`, `unauthorized`…
    pub code: String,
    /// For people; may change between versions.
    pub message: String,
    /// The input field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, String, String, Option<String>) {
        use ServiceError as S;
        match self {
            ApiError::Service(S::Invalid(e)) => {
                (StatusCode::BAD_REQUEST, "invalid_input".into(), e.to_string(), Some(e.field.clone()))
            }
            ApiError::Service(S::NotFound { what, id }) => (
                StatusCode::NOT_FOUND,
                format!("{what}_not_found"),
                format!("{what} {id} does not exist"),
                None,
            ),
            ApiError::Service(S::Conflict(m)) => (StatusCode::CONFLICT, "conflict".into(), m.clone(), None),
            ApiError::Service(S::Keys(k)) => match k {
                KeyError::NoKeys(_) | KeyError::NoActiveKey(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no_signing_key".into(),
                    "no active signing key; an administrator must run `tem keys generate` or `tem keys rotate`"
                        .into(),
                    None,
                ),
                _ => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "signing_key_unavailable".into(),
                    "the signing key cannot be used; see the server log".into(),
                    None,
                ),
            },
            ApiError::Service(S::Unavailable(m)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable".into(), m.clone(), None)
            }
            ApiError::Service(S::Store(_)) | ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error".into(),
                "the server could not finish the request".into(),
                None,
            ),
            ApiError::BadRequest { code, message } => (StatusCode::BAD_REQUEST, (*code).into(), message.clone(), None),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized".into(), m.clone(), None),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden".into(), m.clone(), None),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found".into(), m.clone(), None),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".into(), self.to_string(), None),
            ApiError::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into(), self.to_string(), None),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code, message, field) = self.parts();
        if status.is_server_error() {
            // The full cause goes to the log, never to the client.
            tracing::error!(error.code = %code, error.cause = %self.cause_chain(), "request failed");
        }
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header(("Retry-After", "2"));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code,
                message,
                field,
            },
        })
    }
}

impl ApiError {
    fn cause_chain(&self) -> String {
        let mut out = match self {
            ApiError::Internal(detail) => detail.clone(),
            other => other.to_string(),
        };
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            out.push_str(": ");
            out.push_str(&s.to_string());
            source = s.source();
        }
        out
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(format!("blocking task failed: {e}"))
    }
}
