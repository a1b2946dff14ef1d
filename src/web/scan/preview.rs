//! What a link-preview robot, a crawler or a HEAD request gets for a stamp
//! URL: a small page with Open Graph tags (the product and producer when the
//! code's signature holds, and "scan to verify"), no verdict and no counts.
//! The fetch is counted apart (`Scanner::preview`); it is never a scan.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Lang, client, could_be_a_code, language};
use crate::web::{ApiError, AppState};

#[derive(Template)]
#[template(path = "preview.html")]
struct PreviewPage<'a> {
    lang: &'static str,
    base: &'a str,
    title: String,
    description: &'static str,
    url: String,
}

/// `HEAD {base}/{code}`: the preview's headers, without its body.
pub(crate) async fn head(
    req: HttpRequest,
    state: web::Data<AppState>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !could_be_a_code(&code) {
        return super::super::gs1::compressed(&req, &state, &code).await;
    }
    respond(&req, &state, &code, "head").await
}

/// The preview of the stamp URL `code` for a robot of `family`.
pub(crate) async fn respond(
    req: &HttpRequest,
    state: &AppState,
    code: &str,
    family: &'static str,
) -> Result<HttpResponse, ApiError> {
    if !state.limiter.allow(client(req, state).ip).await {
        return Err(ApiError::TooManyRequests);
    }
    let lang = language(req);
    let preview = state.scanner.preview(code, family).await?;
    let title = match &preview.details {
        Some(d) => format!("{} · {}", d.product.name, d.producer.name),
        None => "tem".to_string(),
    };
    let page = PreviewPage {
        lang: lang.code(),
        base: &state.scan_prefix,
        title,
        description: match lang {
            Lang::Vi => "Quét mã trên tem để kiểm tra hàng chính hãng và xem nguồn gốc sản phẩm.",
            Lang::En => "Scan the code on the stamp to check the product is genuine and see where it comes from.",
        },
        url: format!("{}/{code}", state.ctx.base_url().trim_end_matches('/')),
    }
    .render()
    .map_err(|e| ApiError::Internal(format!("rendering the preview: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::VARY, "User-Agent, Accept-Language"))
        .body(page))
}
