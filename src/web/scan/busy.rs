//! The page a phone gets when its scan could not be checked: the service is
//! unavailable (the database away, a disk full) or the network scanned too
//! often. A person who scanned a stamp reads a sentence in their language
//! and a link to try again, with the status and `Retry-After` a program
//! needs; the JSON error is for programs that ask for JSON.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use askama::Template;

use super::Lang;
use crate::web::ApiError;

/// The page for `err` when it means "try again later" (503, 429); `None`
/// for any other error, which keeps its JSON answer.
pub(super) fn page(err: &ApiError, lang: Lang, base: &str, code: &str) -> Option<HttpResponse> {
    use actix_web::ResponseError;
    let status = err.status_code();
    let t = lang.strings();
    let (result, headline, detail, retry) = match status {
        StatusCode::SERVICE_UNAVAILABLE => ("busy", t.busy, t.busy_detail, "2"),
        StatusCode::TOO_MANY_REQUESTS => ("rate-limited", t.limited, t.limited_detail, "60"),
        _ => return None,
    };
    let html = super::notice::Notice {
        lang: lang.code(),
        base,
        id: "busy",
        class: "warn",
        result,
        headline,
        detail: detail.to_string(),
        back: format!("{base}/{code}"),
        link: t.scan_again,
        button: true,
    }
    .render()
    .ok()?;
    Some(
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::RETRY_AFTER, retry))
            .body(html),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ServiceError;

    #[test]
    fn unavailable_gets_a_page_with_retry_after_and_other_errors_keep_json() {
        let down = ApiError::Service(ServiceError::Unavailable("the database".into()));
        let r = page(&down, Lang::En, "", "1234").expect("a page");
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers().get(header::RETRY_AFTER).unwrap(), "2");
        assert!(page(&ApiError::NotFound("x".into()), Lang::Vi, "", "1").is_none());
    }
}
