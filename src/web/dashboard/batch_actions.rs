//! What the batch page's forms and links do: issue, activate, void, recall
//! and lift, the sheet preview, the print file and the report PDF.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::batch::{BatchQuery, batch_page};
use super::form::{FormState, parse_number};
use super::strings::Strings;
use super::{DashError, Signed, see_other};
use crate::domain::Actor;
use crate::domain::{BatchId, DomainError};
use crate::render::label::Lang;
use crate::render::layout::Layout;
use crate::service::{Context, ServiceResult};
use crate::service::{ServiceError, issue, lifecycle, sheet_preview};
use crate::web::AppState;

#[derive(Deserialize)]
pub(crate) struct IssueForm {
    #[serde(default)]
    csrf: String,
    count: String,
    /// "on" when the claim-code box is ticked.
    claim_codes: Option<String>,
    /// "on" when the GS1-form box is ticked.
    gs1: Option<String>,
}

/// Runs a batch form's action; errors go back to the batch page next to
/// the form's field.
pub(super) async fn batch_action(
    signed: Signed,
    state: web::Data<AppState>,
    id: u32,
    which: &'static str,
    values: Vec<(&'static str, String)>,
    fields: &'static [&'static str],
    action: impl FnOnce(&Context, &Actor) -> ServiceResult<u64> + Send + 'static,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    // Each action's service function checks that `who` may touch the batch.
    let outcome = signed.attempt(&state, action).await?;
    match outcome {
        Ok(n) => Ok(see_other(&format!(
            "/app/batches/{id}?done={}&n={n}",
            match which {
                "issue" => "issued",
                "activate" => "activated",
                "void" => "voided",
                "recall" => "recalled",
                "stage" => "stage",
                _ => "lifted",
            }
        ))),
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Conflict(_) | ServiceError::Keys(_))) => {
            let fs = FormState::with_values(values).failed(t, e, fields);
            batch_page(signed, &state, id, BatchQuery::default(), Some((which, fs))).await
        }
        Err(e) => Err(DashError::Service(t, e)),
    }
}

pub(crate) async fn issue(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    form: web::Form<IssueForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let (id, t, count) = (id.into_inner(), signed.frame.t, form.count.clone());
    let claim_codes = form.claim_codes.is_some();
    let gs1 = form.gs1.is_some();
    batch_action(
        signed,
        state,
        id,
        "issue",
        vec![("count", count.clone())],
        &["count", "gs1"],
        move |ctx, who| {
            let n = parse_number("count", &count, t)?;
            let order = issue::Order {
                batch: BatchId(id),
                count: u64::from(n),
                claim_codes,
                gs1,
            };
            let summary = issue::issue_for(ctx, order, who)?;
            Ok(u64::from(summary.receipt.count))
        },
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct RangeForm {
    #[serde(default)]
    csrf: String,
    from: String,
    count: String,
    reason: Option<String>,
}

impl RangeForm {
    /// The first stamp and how many, as numbers.
    fn range(&self, t: &'static Strings) -> Result<(u32, u32), ServiceError> {
        Ok((
            parse_number("from", &self.from, t)?,
            parse_number("count", &self.count, t)?,
        ))
    }

    /// The fields as typed, to show again next to a mistake.
    fn values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("from", self.from.clone()),
            ("count", self.count.clone()),
            ("reason", self.reason.clone().unwrap_or_default()),
        ]
    }
}

pub(crate) async fn activate(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    form: web::Form<RangeForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let (id, t, f) = (id.into_inner(), signed.frame.t, form.into_inner());
    batch_action(
        signed,
        state,
        id,
        "activate",
        f.values(),
        &["from", "count"],
        move |ctx, who| {
            let (from, count) = f.range(t)?;
            lifecycle::activate(ctx.store(), BatchId(id), from, count, who).map(u64::from)
        },
    )
    .await
}

pub(crate) async fn void(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    form: web::Form<RangeForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let (id, t, f) = (id.into_inner(), signed.frame.t, form.into_inner());
    batch_action(
        signed,
        state,
        id,
        "void",
        f.values(),
        &["from", "count", "reason"],
        move |ctx, who| {
            let (from, count) = f.range(t)?;
            let reason = f.reason.unwrap_or_default();
            lifecycle::void(ctx.store(), BatchId(id), from, count, &reason, who).map(u64::from)
        },
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct RecallForm {
    #[serde(default)]
    csrf: String,
    reason: String,
    notice: Option<String>,
}

pub(crate) async fn recall(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    form: web::Form<RecallForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let (id, f) = (id.into_inner(), form.into_inner());
    let notice = f.notice.clone().unwrap_or_default();
    batch_action(
        signed,
        state,
        id,
        "recall",
        vec![("reason", f.reason.clone()), ("notice", notice.clone())],
        &["reason", "notice"],
        move |ctx, who| {
            lifecycle::recall(ctx.store(), BatchId(id), None, &f.reason, &notice, who)?;
            Ok(1)
        },
    )
    .await
}

pub(crate) async fn lift(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    form: web::Form<RecallForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let (id, f) = (id.into_inner(), form.into_inner());
    batch_action(
        signed,
        state,
        id,
        "lift",
        vec![("lift_reason", f.reason.clone())],
        &["reason"],
        move |ctx, who| lifecycle::lift(ctx.store(), BatchId(id), &f.reason, who).map(u64::from),
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct LayoutQuery {
    layout: Option<String>,
}

fn layout_of(q: &LayoutQuery, t: &'static Strings) -> Result<Layout, DashError> {
    let name = q.layout.as_deref().unwrap_or("a4-65");
    Layout::builtin(name).ok_or_else(|| {
        DashError::Service(
            t,
            DomainError::new("layout", format!("no layout {name:?}")).into(),
        )
    })
}

/// The first page of the stamps waiting to be printed, small, as JPEG:
/// rendered from the same sheet code, but nothing is recorded as printed.
pub(crate) async fn preview(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    q: web::Query<LayoutQuery>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let layout = layout_of(&q, t)?;
    let id = BatchId(id.into_inner());
    let lang = if t.lang == "en" { Lang::En } else { Lang::Vi };
    let png = signed
        .call(&state, move |ctx, who| {
            sheet_preview::jpeg(ctx, who, id, layout, lang)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("image/jpeg")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(png))
}

/// The PDF of every stamp waiting to be printed (records the print job).
pub(crate) async fn sheet_pdf(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    q: web::Query<crate::web::sheets::SheetQuery>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    crate::web::sheets::respond(
        crate::web::auth::Caller(signed.actor()),
        state,
        id.into_inner(),
        "pdf",
        q.into_inner(),
    )
    .await
    .map_err(|e| api_error(t, e))
}

fn api_error(t: &'static Strings, e: crate::web::ApiError) -> DashError {
    match e {
        crate::web::ApiError::Service(s) => DashError::Service(t, s),
        other => DashError::Page(
            t,
            actix_web::ResponseError::status_code(&other),
            other.to_string(),
        ),
    }
}

pub(crate) async fn report_pdf(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
) -> Result<HttpResponse, DashError> {
    let id = BatchId(id.into_inner());
    let rules = *state.scanner.rules();
    let bytes = signed
        .call(&state, move |ctx, who| {
            let report = crate::service::report::batch(ctx.store(), &who.grant, id, &rules)?;
            crate::render::report_pdf::pdf(&report).map_err(crate::service::internal)
        })
        .await?;
    Ok(crate::web::pdf_response(
        bytes,
        &format!("tem-report-{id}.pdf"),
    ))
}
