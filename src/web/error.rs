//! The one place where errors become HTTP responses:
//! `{"error": {"code": "...", "message": "..."}}` with a stable snake_case
//! code. Server-side failures stay opaque to the client and are logged.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::error_code::{self as code, ErrorCode};
use crate::codes::KeyError;
use crate::service::ServiceError;

/// Why a request failed, as the API answers it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A use case failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("{message}")]
    /// A 400 with one of the request codes (`invalid_json`, `invalid_query`…).
    BadRequest {
        /// The stable code (`web::error_code`).
        code: ErrorCode,
        /// What is wrong, for people.
        message: String,
    },
    /// No token, or one not accepted (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The role may not call the route (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such route or object (404).
    #[error("{0}")]
    NotFound(String),
    /// The body is larger than this many bytes (413).
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// Something failed inside tem (500; the log says what).
    #[error("the server could not finish the request")]
    Internal(String),
    /// Too many requests from the network (429).
    #[error("too many requests from your network; try again in a minute")]
    TooManyRequests,
}

/// The JSON body of every error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's code, message and field.
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
    /// The code (with its status), the message and the field at fault.
    fn parts(&self) -> (ErrorCode, String, Option<String>) {
        use ServiceError as S;
        match self {
            ApiError::Service(S::Invalid(e)) => (code::INVALID_INPUT, e.to_string(), Some(e.field.clone())),
            ApiError::Service(S::NotFound { what, id }) => {
                (code::not_found(what), format!("{what} {id} does not exist"), None)
            }
            ApiError::Service(S::Conflict(m)) => (code::CONFLICT, m.clone(), None),
            ApiError::Service(S::Keys(KeyError::NoKeys(_) | KeyError::NoActiveKey(_))) => (
                code::NO_SIGNING_KEY,
                "no active signing key; an administrator must run `tem keys generate` or `tem keys rotate`".into(),
                None,
            ),
            ApiError::Service(S::Keys(_)) => (
                code::SIGNING_KEY_UNAVAILABLE,
                "the signing key cannot be used; see the server log".into(),
                None,
            ),
            ApiError::Service(S::Unavailable(m)) => (code::UNAVAILABLE, m.clone(), None),
            ApiError::Service(S::Store(e)) if e.is_unavailable() => (
                code::UNAVAILABLE,
                "the database is unavailable right now; try again shortly".into(),
                None,
            ),
            ApiError::Service(S::Store(_)) | ApiError::Internal(_) => {
                (code::INTERNAL_ERROR, "the server could not finish the request".into(), None)
            }
            ApiError::BadRequest { code, message } => (*code, message.clone(), None),
            ApiError::Unauthorized(m) => (code::UNAUTHORIZED, m.clone(), None),
            ApiError::Forbidden(m) => (code::FORBIDDEN, m.clone(), None),
            ApiError::NotFound(m) => (code::NOT_FOUND, m.clone(), None),
            ApiError::TooLarge(_) => (code::PAYLOAD_TOO_LARGE, self.to_string(), None),
            ApiError::TooManyRequests => (code::RATE_LIMITED, self.to_string(), None),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0.status
    }

    fn error_response(&self) -> HttpResponse {
        let (code, message, field) = self.parts();
        let (status, code) = (code.status, code.code.to_string());
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
        match self {
            ApiError::Internal(detail) => detail.clone(),
            other => cause_chain(other),
        }
    }
}

/// An error and every cause under it, for the log: "database unavailable:
/// SQLite: database is locked".
pub fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(format!("blocking task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ServiceError;
    use crate::service::StoreError;

    fn outage() -> StoreError {
        StoreError::unavailable("SQLite", std::io::Error::other("database is locked"))
    }

    #[test]
    fn an_unavailable_database_is_503_with_retry_after_and_no_cause() {
        let response = ApiError::Service(ServiceError::Store(outage())).error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get("Retry-After").unwrap(), "2");
        let (code, message, _) = ApiError::Service(ServiceError::Store(outage())).parts();
        assert_eq!(code, code::UNAVAILABLE);
        assert!(
            !message.contains("locked"),
            "the cause stays in the log: {message}"
        );
        let broken = ApiError::Service(ServiceError::Store(StoreError::database("bad row")));
        assert_eq!(
            broken.error_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn the_log_gets_every_cause() {
        let e = ServiceError::Store(outage());
        assert_eq!(
            cause_chain(&e),
            "database unavailable: SQLite: database is locked"
        );
    }
}
