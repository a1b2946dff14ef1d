//! The inspector's pages: the triage queue, inspections (codes typed or
//! pasted, photos from the phone's camera), the batch report and the audit
//! log browser.

use actix_multipart::form::MultipartForm;
use actix_multipart::form::bytes::Bytes as Upload;
use actix_multipart::form::text::Text;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::form::FormState;
use super::{DashError, Frame, Signed, html, render, render_status, see_other};
use crate::domain::BatchId;
use crate::domain::inspection::Inspection;
use crate::domain::{Outcome, TriageKind};
use crate::service::inspection::{self, Found, Submission};
use crate::service::triage::TriageItem;
use crate::service::{ServiceError, audit_log, triage};
use crate::web::AppState;

fn when(t: &jiff::Timestamp) -> String {
    crate::render::report::local_time(*t)
}

// ---------------------------------------------------------------- triage

#[derive(Template)]
#[template(path = "app/triage.html")]
struct TriagePage {
    f: Frame,
    items: Vec<TriageItem>,
    more: usize,
    all: bool,
    outcomes: &'static [Outcome],
    failed: Option<(String, i64)>,
    form: FormState,
}

impl TriagePage {
    fn when(&self, t: &jiff::Timestamp) -> String {
        when(t)
    }
    fn failed_here(&self, kind: &TriageKind, id: &i64) -> bool {
        self.failed
            .as_ref()
            .is_some_and(|(k, i)| k == kind.as_str() && i == id)
    }
}

const TRIAGE_PAGE: usize = 100;

#[derive(Deserialize)]
pub(crate) struct TriageQuery {
    all: Option<String>,
}

async fn triage_page(
    signed: Signed,
    state: &AppState,
    all: bool,
    failed: Option<((String, i64), FormState)>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let mut items = signed
        .call(state, move |ctx, who| {
            triage::list(ctx.store(), &who.grant, all, None)
        })
        .await?;
    // The newest 100: a page a phone can load; the rest follow as these
    // are resolved.
    let more = items.len().saturating_sub(TRIAGE_PAGE);
    items.truncate(TRIAGE_PAGE);
    let (failed, form) = match failed {
        Some((f, form)) => (Some(f), form),
        None => (None, FormState::default()),
    };
    let status = if failed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_status(
        t,
        &TriagePage {
            f: signed.frame,
            items,
            more,
            all,
            outcomes: &Outcome::ALL,
            failed,
            form,
        },
        status,
    )
}

pub(crate) async fn triage_list(
    signed: Signed,
    state: web::Data<AppState>,
    q: web::Query<TriageQuery>,
) -> Result<HttpResponse, DashError> {
    triage_page(signed, &state, q.all.is_some(), None).await
}

#[derive(Deserialize)]
pub(crate) struct ResolveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
}

pub(crate) async fn resolve(
    signed: Signed,
    state: web::Data<AppState>,
    path: web::Path<(String, i64)>,
    form: web::Form<ResolveForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let t = signed.frame.t;
    let (kind, id) = path.into_inner();
    let f = form.into_inner();
    let (k, o, n) = (kind.clone(), f.outcome.clone(), f.note.clone());
    let done = signed
        .attempt(&state, move |ctx, who| {
            triage::resolve(
                ctx.store(),
                &who.grant,
                k.parse()?,
                id,
                o.parse()?,
                &n,
                &who.name,
            )
        })
        .await?;
    match done {
        Ok(_) => Ok(see_other("/app/triage")),
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
            let fs = FormState::with_values([("outcome", f.outcome), ("note", f.note)]).failed(
                t,
                e,
                &["outcome", "note"],
            );
            triage_page(signed, &state, false, Some(((kind, id), fs))).await
        }
        Err(e) => Err(DashError::Service(t, e)),
    }
}

// ---------------------------------------------------------------- inspections

#[derive(Template)]
#[template(path = "app/inspections.html")]
struct InspectionsPage {
    f: Frame,
    list: Vec<Inspection>,
}

pub(crate) async fn inspections(
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let list = signed
        .call(&state, move |ctx, who| {
            inspection::list(ctx.store(), &who.grant, 200)
        })
        .await?;
    render(
        t,
        &InspectionsPage {
            f: signed.frame,
            list,
        },
    )
}

#[derive(Template)]
#[template(path = "app/inspection_new.html")]
struct NewInspectionPage {
    f: Frame,
    form: FormState,
}

async fn new_inspection_page(
    signed: Signed,
    form: FormState,
    status: StatusCode,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    render_status(
        t,
        &NewInspectionPage {
            f: signed.frame,
            form,
        },
        status,
    )
}

pub(crate) async fn new_inspection(signed: Signed) -> Result<HttpResponse, DashError> {
    new_inspection_page(signed, FormState::default(), StatusCode::OK).await
}

#[derive(MultipartForm)]
pub(crate) struct InspectionForm {
    csrf: Option<Text<String>>,
    place: Option<Text<String>>,
    province: Option<Text<String>>,
    note: Option<Text<String>>,
    codes: Option<Text<String>>,
    #[multipart(limit = "20MB")]
    photos: Vec<Upload>,
}

fn text_of(t: &Option<Text<String>>) -> String {
    t.as_ref().map(|t| t.0.clone()).unwrap_or_default()
}

pub(crate) async fn create_inspection(
    signed: Signed,
    state: web::Data<AppState>,
    MultipartForm(form): MultipartForm<InspectionForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(form.csrf.as_ref().map_or("", |c| c.0.as_str()))?;
    let t = signed.frame.t;
    let fs = FormState::with_values([
        ("place", text_of(&form.place)),
        ("province", text_of(&form.province)),
        ("note", text_of(&form.note)),
        ("codes", text_of(&form.codes)),
    ]);
    let mut found = vec![Found::Code(text_of(&form.codes))];
    for (i, p) in form.photos.iter().enumerate() {
        if !p.data.is_empty() {
            found.push(Found::Photo {
                name: p
                    .file_name
                    .clone()
                    .unwrap_or_else(|| format!("photo {}", i + 1)),
                bytes: p.data.to_vec(),
            });
        }
    }
    let submission = Submission {
        place: text_of(&form.place),
        province: Some(text_of(&form.province)).filter(|p| !p.trim().is_empty()),
        location: None,
        at: None,
        note: Some(text_of(&form.note)).filter(|n| !n.trim().is_empty()),
        found,
        offline: None,
    };
    let verifier = state.scanner.verifier();
    let created = signed
        .attempt(&state, move |ctx, who| {
            inspection::create(ctx.store(), &verifier, &who.grant, &who.name, submission)
        })
        .await?;
    match created {
        Ok(i) => Ok(see_other(&format!("/app/inspections/{}", i.id))),
        Err(e @ ServiceError::Invalid(_)) => {
            let fs = fs.failed(t, e, &["place", "province", "note", "codes", "photos"]);
            new_inspection_page(signed, fs, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(DashError::Service(t, e)),
    }
}

#[derive(Template)]
#[template(path = "app/inspection.html")]
struct InspectionPage {
    f: Frame,
    i: Inspection,
}

pub(crate) async fn inspection_page(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let id = id.into_inner();
    let i = signed
        .call(&state, move |ctx, who| {
            inspection::get(ctx.store(), &who.grant, id)
        })
        .await?;
    render(t, &InspectionPage { f: signed.frame, i })
}

pub(crate) async fn inspection_pdf(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, DashError> {
    let id = id.into_inner();
    let bytes = signed
        .call(&state, move |ctx, who| {
            let i = inspection::get(ctx.store(), &who.grant, id)?;
            crate::render::report_pdf::inspection_pdf(&i).map_err(crate::service::internal)
        })
        .await?;
    Ok(crate::web::pdf_response(
        bytes,
        &format!("tem-bien-ban-{id}.pdf"),
    ))
}

// ---------------------------------------------------------------- report

/// The printable batch report (the same page `tem report --html` writes).
pub(crate) async fn report_html(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let id = BatchId(id.into_inner());
    let rules = *state.scanner.rules();
    let report = signed
        .call(&state, move |ctx, who| {
            crate::service::report::batch(ctx.store(), &who.grant, id, &rules)
        })
        .await?;
    let body = crate::render::report::html(&report, Some("/static/report.css"))
        .map_err(|e| DashError::Page(t, StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(html(StatusCode::OK, body))
}

// ---------------------------------------------------------------- audit

#[derive(Template)]
#[template(path = "app/audit.html")]
struct AuditPage {
    f: Frame,
    entries: Vec<crate::audit::Entry>,
    size: u64,
    head: Option<crate::audit::TreeHead>,
    next: Option<u64>,
    prev: Option<u64>,
}

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    from: Option<u64>,
}

const AUDIT_PAGE: u64 = 50;

/// The audit log, newest first, 50 entries a page, with the latest signed
/// head (admins and country-wide inspectors: province-limited inspectors
/// use the API, which filters entries by province).
pub(crate) async fn audit(
    signed: Signed,
    state: web::Data<AppState>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let wanted = q.from;
    let audit_log::Page {
        size,
        entries,
        head,
    } = signed
        .call(&state, move |ctx, who| {
            audit_log::page(ctx.store(), &who.grant, wanted, AUDIT_PAGE)
        })
        .await?;
    let top = entries.first().map(|e| e.seq).unwrap_or(0);
    let bottom = entries.last().map(|e| e.seq).unwrap_or(0);
    render(
        t,
        &AuditPage {
            f: signed.frame,
            size,
            head,
            next: (bottom > 1).then(|| bottom - 1),
            prev: (top < size).then(|| (top + AUDIT_PAGE).min(size)),
            entries,
        },
    )
}

impl AuditPage {
    fn json(&self, v: &Option<serde_json::Value>) -> String {
        v.as_ref().map(|v| v.to_string()).unwrap_or_default()
    }
}
