//! The till on a phone: a seller types a stamp's short code or URL, or takes
//! a photo of the stamp, and the packs are marked sold (`service::sales`);
//! the same page undoes a sale made by mistake.

use actix_multipart::form::MultipartForm;
use actix_multipart::form::bytes::Bytes as Upload;
use actix_multipart::form::text::Text;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::{DashError, Frame, Signed, render_status};
use crate::service::ServiceError;
use crate::service::sales::{self, SaleLine};
use crate::web::AppState;

#[derive(Template)]
#[template(path = "app/sell.html")]
struct SellPage {
    f: Frame,
    lines: Vec<SaleLine>,
    error: Option<String>,
    undone: bool,
}

fn page(
    signed: Signed,
    lines: Vec<SaleLine>,
    error: Option<String>,
    undone: bool,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_status(
        t,
        &SellPage {
            f: signed.frame,
            lines,
            error,
            undone,
        },
        status,
    )
}

pub(crate) async fn form(signed: Signed) -> Result<HttpResponse, DashError> {
    page(signed, Vec::new(), None, false)
}

#[derive(MultipartForm)]
pub(crate) struct SellForm {
    csrf: Option<Text<String>>,
    codes: Option<Text<String>>,
    /// "undo" to undo these sales.
    action: Option<Text<String>>,
    #[multipart(limit = "20MB")]
    photos: Vec<Upload>,
}

pub(crate) async fn submit(
    signed: Signed,
    state: web::Data<AppState>,
    MultipartForm(form): MultipartForm<SellForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(form.csrf.as_ref().map_or("", |c| c.0.as_str()))?;
    let t = signed.frame.t;
    let typed = form.codes.map(|c| c.0).unwrap_or_default();
    let undo = form.action.is_some_and(|a| a.0 == "undo");
    let photos: Vec<(String, Vec<u8>)> = form
        .photos
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.data.is_empty())
        .map(|(i, p)| {
            let name = p
                .file_name
                .clone()
                .unwrap_or_else(|| format!("photo {}", i + 1));
            (name, p.data.to_vec())
        })
        .collect();
    let done = signed
        .attempt(&state, move |ctx, who| {
            sales::at_till(ctx, who, &typed, &photos, undo)
        })
        .await?;
    match done {
        Ok(lines) => page(signed, lines, None, undo),
        Err(ServiceError::Invalid(e)) => page(signed, Vec::new(), Some(e.to_string()), undo),
        Err(e) => Err(DashError::Service(t, e)),
    }
}
