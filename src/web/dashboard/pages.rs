//! The dashboard's pages and forms. Each handler checks what the session
//! may see through `service::access` (another producer's object is "not
//! found"), calls the same service functions as the API, and renders a
//! template; a form with errors is shown again with what was typed and the
//! message next to its field.

use std::collections::BTreeMap;

use actix_multipart::form::MultipartForm;
use actix_multipart::form::bytes::Bytes as Upload;
use actix_multipart::form::text::Text;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::strings::Strings;
use super::{DashError, Frame, Signed, render, render_status, see_other, service};
use crate::codes::KeyRing;
use crate::domain::{
    BatchId, BatchInput, DomainError, OcopGroup, ProducerId, ProductId, ProductInput, Role,
    StampCounts,
};
use crate::render::label::Lang;
use crate::render::layout::Layout;
use crate::service::{ServiceError, access, issue, lifecycle, registry};
use crate::store::{BatchSummary, Store};
use crate::web::AppState;
use crate::web::auth::Caller;

/// What a form had in it, and what was wrong, to show it again.
#[derive(Debug, Default, Clone)]
pub struct FormState {
    pub values: BTreeMap<String, String>,
    pub errors: BTreeMap<String, String>,
    /// A message for the whole form.
    pub message: Option<String>,
}

impl FormState {
    /// A form shown again holding these values.
    pub fn with_values<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> FormState {
        FormState {
            values: pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            ..Default::default()
        }
    }

    pub fn value(&self, field: &str) -> &str {
        self.values.get(field).map(String::as_str).unwrap_or("")
    }
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }
    /// Puts a service error next to its field (or on the form).
    pub(super) fn failed(mut self, t: &'static Strings, e: ServiceError, fields: &[&str]) -> Self {
        match &e {
            ServiceError::Invalid(d) => {
                let field = fields
                    .iter()
                    .find(|f| d.field == **f || d.field.starts_with(&format!("{f}.")))
                    .copied();
                match field {
                    Some(f) => {
                        self.errors.insert(f.to_string(), d.rule.clone());
                        self.message = Some(t.check_form.to_string());
                    }
                    None => self.message = Some(e.to_string()),
                }
            }
            _ => self.message = Some(e.to_string()),
        }
        self
    }
}

fn caller(s: &Signed) -> Caller {
    Caller {
        grant: s.session.grant.clone(),
        actor: s.session.actor.clone(),
    }
}

/// A batch with its stamps by state, for lists.
pub struct BatchRow {
    pub b: BatchSummary,
    pub c: StampCounts,
}

fn batch_rows(
    store: &dyn Store,
    batches: Vec<BatchSummary>,
) -> Result<Vec<BatchRow>, ServiceError> {
    let counts = store.stamp_counts_by_batch(&batches.iter().map(|b| b.id).collect::<Vec<_>>())?;
    Ok(batches
        .into_iter()
        .map(|b| BatchRow {
            c: counts.get(&b.id).copied().unwrap_or_default(),
            b,
        })
        .collect())
}

// ---------------------------------------------------------------- home

#[derive(Template)]
#[template(path = "app/home.html")]
struct HomePage {
    f: Frame,
    products: Vec<crate::domain::Product>,
    batches: Vec<BatchRow>,
}

pub async fn home(signed: Signed, state: web::Data<AppState>) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let (store, grant) = (state.store.clone(), signed.session.grant.clone());
    let (products, batches) = web::block(move || -> Result<_, ServiceError> {
        let products = access::products(&*store, &grant, None)?;
        let mut batches = access::batches(&*store, &grant, None)?;
        batches.sort_by_key(|b| std::cmp::Reverse(b.id.0));
        batches.truncate(200);
        Ok((products, batch_rows(&*store, batches)?))
    })
    .await?
    .map_err(service(t))?;
    render(
        t,
        &HomePage {
            f: signed.frame,
            products,
            batches,
        },
    )
}

// ---------------------------------------------------------------- products

#[derive(Template)]
#[template(path = "app/product_new.html")]
struct NewProductPage {
    f: Frame,
    form: FormState,
    groups: Vec<(&'static str, &'static str)>,
    producers: Vec<crate::domain::Producer>,
    /// Editing this product (its id and current photo), or a new one.
    editing: Option<(i64, Option<String>)>,
}

fn ocop_groups(t: &'static Strings) -> Vec<(&'static str, &'static str)> {
    OcopGroup::ALL
        .iter()
        .map(|g| {
            let label = match (t.lang, g.as_str()) {
                ("vi", "food") => "Thực phẩm",
                ("vi", "beverages") => "Đồ uống",
                ("vi", "herbal") => "Thảo dược",
                ("vi", "textiles") => "Vải và may mặc",
                ("vi", "souvenirs") => "Lưu niệm, nội thất, trang trí",
                ("vi", "tourism") => "Du lịch cộng đồng, nông thôn",
                (_, "food") => "Food",
                (_, "beverages") => "Beverages",
                (_, "herbal") => "Herbal products",
                (_, "textiles") => "Textiles and garments",
                (_, "souvenirs") => "Souvenirs, furniture, decoration",
                _ => "Community and rural tourism",
            };
            (g.as_str(), label)
        })
        .collect()
}

async fn new_product_page(
    signed: Signed,
    state: &AppState,
    form: FormState,
    status: StatusCode,
) -> Result<HttpResponse, DashError> {
    product_form_page(signed, state, form, status, None).await
}

async fn product_form_page(
    signed: Signed,
    state: &AppState,
    form: FormState,
    status: StatusCode,
    editing: Option<(i64, Option<String>)>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let (store, grant) = (state.store.clone(), signed.session.grant.clone());
    let producers = web::block(move || access::producers(&*store, &grant))
        .await?
        .map_err(service(t))?;
    let page = NewProductPage {
        groups: ocop_groups(t),
        f: signed.frame,
        form,
        producers,
        editing,
    };
    render_status(t, &page, status)
}

pub async fn new_product(
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, DashError> {
    new_product_page(signed, &state, FormState::default(), StatusCode::OK).await
}

#[derive(MultipartForm)]
pub struct ProductForm {
    csrf: Option<Text<String>>,
    name: Text<String>,
    producer_id: Option<Text<i64>>,
    ocop_group: Option<Text<String>>,
    description: Option<Text<String>>,
    #[multipart(limit = "20MB")]
    image: Option<Upload>,
}

/// What the product form holds, cleaned of empty fields.
struct ProductFields {
    name: String,
    group: Option<String>,
    description: Option<String>,
    image: Option<Vec<u8>>,
}

impl ProductForm {
    fn fields(&self) -> ProductFields {
        ProductFields {
            name: self.name.0.clone(),
            group: self
                .ocop_group
                .as_ref()
                .map(|g| g.0.clone())
                .filter(|g| !g.is_empty()),
            description: self
                .description
                .as_ref()
                .map(|d| d.0.clone())
                .filter(|d| !d.trim().is_empty()),
            image: self
                .image
                .as_ref()
                .filter(|u| !u.data.is_empty())
                .map(|u| u.data.to_vec()),
        }
    }
}

impl ProductFields {
    /// The form as typed, to show again with its errors.
    fn form_state(&self) -> FormState {
        FormState::with_values([
            ("name", self.name.clone()),
            ("ocop_group", self.group.clone().unwrap_or_default()),
            ("description", self.description.clone().unwrap_or_default()),
        ])
    }
}

/// Largest side of a stored product photo.
const IMAGE_SIDE: u32 = 1200;

/// Decodes an uploaded photo, turns it upright, makes it at most
/// IMAGE_SIDE a side and re-encodes it as JPEG: no EXIF (location, camera)
/// or other metadata survives.
pub fn normalise_image(bytes: &[u8]) -> Result<Vec<u8>, DomainError> {
    let bad = |why: String| DomainError::new("image", why);
    let picture = crate::picture::decode(bytes).map_err(|e| bad(e.to_string()))?;
    // Small first, then upright: turning the full-size photo would copy it.
    let mut img = crate::picture::shrink(&picture.image, IMAGE_SIDE);
    drop(picture.image);
    img.apply_orientation(picture.orientation);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82)
        .encode_image(&img.to_rgb8())
        .map_err(|_| bad("the image cannot be encoded".into()))?;
    Ok(out)
}

/// A normalised photo, named by the hash of its bytes (stored with the
/// product, in its transaction).
fn photo(bytes: &[u8]) -> Result<crate::domain::Media, ServiceError> {
    Ok(crate::domain::Media::jpeg(normalise_image(bytes)?))
}

pub async fn create_product(
    signed: Signed,
    state: web::Data<AppState>,
    MultipartForm(form): MultipartForm<ProductForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(form.csrf.as_ref().map_or("", |c| c.0.as_str()))?;
    let t = signed.frame.t;
    let fields = form.fields();
    let mut state_of_form = fields.form_state();
    let producer_id = match (signed.session.grant.role, signed.session.grant.producer) {
        (Role::Producer, Some(p)) => p.0,
        _ => form.producer_id.as_ref().map(|p| p.0).unwrap_or(0),
    };
    state_of_form
        .values
        .insert("producer_id".into(), producer_id.to_string());
    let ProductFields {
        name,
        group,
        description,
        image,
    } = fields;
    let (store, grant, actor) = (
        state.store.clone(),
        signed.session.grant.clone(),
        signed.session.actor.clone(),
    );
    let created = web::block(move || -> Result<_, ServiceError> {
        access::producer(&*store, &grant, ProducerId(producer_id)).map_err(|_| {
            ServiceError::from(DomainError::new("producer_id", "choose a producer"))
        })?;
        let photo = image.map(|bytes| photo(&bytes)).transpose()?;
        registry::create_product_with_photo(
            &*store,
            ProductInput {
                producer_id,
                name,
                ocop_group: group,
                description,
                ..Default::default()
            },
            photo,
            &actor,
        )
    })
    .await?;
    match created {
        Ok(p) => Ok(see_other(&format!("/app/products/{}", p.id))),
        Err(e @ ServiceError::Invalid(_)) => {
            let form = state_of_form.failed(
                t,
                e,
                &["name", "ocop_group", "description", "image", "producer_id"],
            );
            new_product_page(signed, &state, form, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(DashError::Service(t, e)),
    }
}

pub async fn edit_product(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let (store, grant, id) = (
        state.store.clone(),
        signed.session.grant.clone(),
        id.into_inner(),
    );
    let p = web::block(move || access::product(&*store, &grant, ProductId(id)))
        .await?
        .map_err(service(t))?;
    let form = FormState::with_values([
        ("name", p.name.clone()),
        (
            "ocop_group",
            p.ocop_group
                .map(|g| g.as_str().to_string())
                .unwrap_or_default(),
        ),
        ("description", p.description.clone().unwrap_or_default()),
    ]);
    let image = p.images.iter().find(|i| !i.contains("://")).cloned();
    product_form_page(signed, &state, form, StatusCode::OK, Some((id, image))).await
}

/// Saves the edit form: name, group, description, and a new photo if one
/// was chosen (the old one stays otherwise).
pub async fn update_product(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    MultipartForm(form): MultipartForm<ProductForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(form.csrf.as_ref().map_or("", |c| c.0.as_str()))?;
    let t = signed.frame.t;
    let id = id.into_inner();
    let fields = form.fields();
    let fs = fields.form_state();
    let ProductFields {
        name,
        group,
        description,
        image,
    } = fields;
    let (store, grant, actor) = (
        state.store.clone(),
        signed.session.grant.clone(),
        signed.session.actor.clone(),
    );
    let saved = web::block(move || -> Result<_, ServiceError> {
        access::product(&*store, &grant, ProductId(id))?;
        let photo = image.map(|bytes| photo(&bytes)).transpose()?;
        registry::edit_product(
            &*store,
            ProductId(id),
            &name,
            group,
            description,
            photo,
            &actor,
        )
    })
    .await?;
    match saved {
        Ok(_) => Ok(see_other(&format!("/app/products/{id}"))),
        Err(e @ ServiceError::Invalid(_)) => {
            let fs = fs.failed(t, e, &["name", "ocop_group", "description", "image"]);
            product_form_page(
                signed,
                &state,
                fs,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some((id, None)),
            )
            .await
        }
        Err(e) => Err(DashError::Service(t, e)),
    }
}

#[derive(Deserialize)]
pub struct StageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    place: Option<String>,
    #[serde(default)]
    time: String,
    note: Option<String>,
}

pub async fn add_stage(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    form: web::Form<StageForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let (id, f) = (id.into_inner(), form.into_inner());
    let values = vec![
        ("name", f.name.clone()),
        ("place", f.place.clone().unwrap_or_default()),
        ("time", f.time.clone()),
        ("note", f.note.clone().unwrap_or_default()),
    ];
    batch_action(
        signed,
        state,
        id,
        "stage",
        values,
        &["name", "place", "time", "note"],
        move |st, who| {
            registry::add_stage(
                &*st.store,
                BatchId(id),
                crate::domain::StageInput {
                    name: f.name,
                    place: f.place.filter(|p| !p.trim().is_empty()),
                    time: f.time,
                    note: f.note.filter(|n| !n.trim().is_empty()),
                },
                &who.actor,
            )?;
            Ok(1)
        },
    )
    .await
}

impl ProductPage {
    /// The OCOP group's name in the page's language.
    fn group(&self, g: &OcopGroup) -> &'static str {
        ocop_groups(self.f.t)
            .into_iter()
            .find(|(v, _)| *v == g.as_str())
            .map_or("", |(_, label)| label)
    }
}

#[derive(Template)]
#[template(path = "app/product.html")]
struct ProductPage {
    f: Frame,
    p: crate::domain::Product,
    producer: crate::domain::Producer,
    batches: Vec<BatchRow>,
    form: FormState,
    older: Option<usize>,
    newer: Option<usize>,
}

/// Batches per page of a product's list (newest first).
const BATCHES_PER_PAGE: usize = 100;

async fn product_page(
    signed: Signed,
    state: &AppState,
    id: i64,
    page: usize,
    form: FormState,
    status: StatusCode,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let (store, grant) = (state.store.clone(), signed.session.grant.clone());
    let (p, producer, batches, total) = web::block(move || -> Result<_, ServiceError> {
        let p = access::product(&*store, &grant, ProductId(id))?;
        let producer = registry::producer(&*store, p.producer_id)?;
        let mut batches = registry::batches(&*store, Some(p.id))?;
        let total = batches.len();
        batches.sort_by_key(|b| std::cmp::Reverse(b.id.0));
        let batches: Vec<_> = batches
            .into_iter()
            .skip(page * BATCHES_PER_PAGE)
            .take(BATCHES_PER_PAGE)
            .collect();
        Ok((p, producer, batch_rows(&*store, batches)?, total))
    })
    .await?
    .map_err(service(t))?;
    let pages = total.div_ceil(BATCHES_PER_PAGE);
    render_status(
        t,
        &ProductPage {
            f: signed.frame,
            p,
            producer,
            batches,
            form,
            older: (page + 1 < pages).then_some(page + 1),
            newer: page.checked_sub(1),
        },
        status,
    )
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<usize>,
}

pub async fn product(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, DashError> {
    product_page(
        signed,
        &state,
        id.into_inner(),
        q.page.unwrap_or(0).min(100_000),
        FormState::default(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct BatchForm {
    #[serde(default)]
    csrf: String,
    lot_code: String,
    production_date: String,
    shelf_life_days: Option<String>,
    quantity: String,
}

pub async fn create_batch(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<BatchForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let t = signed.frame.t;
    let id = id.into_inner();
    let form = form.into_inner();
    let mut fs = FormState::with_values([
        ("lot_code", form.lot_code.clone()),
        ("production_date", form.production_date.clone()),
        ("quantity", form.quantity.clone()),
        (
            "shelf_life_days",
            form.shelf_life_days.clone().unwrap_or_default(),
        ),
    ]);
    let quantity = form.quantity.trim().parse::<u32>();
    let shelf = form
        .shelf_life_days
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse::<u32>)
        .transpose();
    let (quantity, shelf) = match (quantity, shelf) {
        (Ok(q), Ok(s)) => (q, s),
        (q, s) => {
            if q.is_err() {
                fs.errors.insert("quantity".into(), number_error(t));
            }
            if s.is_err() {
                fs.errors.insert("shelf_life_days".into(), number_error(t));
            }
            fs.message = Some(t.check_form.into());
            return product_page(signed, &state, id, 0, fs, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let (store, grant, actor) = (
        state.store.clone(),
        signed.session.grant.clone(),
        signed.session.actor.clone(),
    );
    let input = BatchInput {
        lot_code: form.lot_code,
        production_date: form.production_date,
        shelf_life_days: shelf,
        quantity,
        ..Default::default()
    };
    let created = web::block(move || -> Result<_, ServiceError> {
        access::product(&*store, &grant, ProductId(id))?;
        registry::create_batch(&*store, ProductId(id), input, &actor)
    })
    .await?;
    match created {
        Ok(b) => Ok(see_other(&format!("/app/batches/{}", b.id))),
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
            let fs = fs.failed(
                t,
                e,
                &["lot_code", "production_date", "shelf_life_days", "quantity"],
            );
            product_page(signed, &state, id, 0, fs, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(DashError::Service(t, e)),
    }
}

fn number_error(t: &'static Strings) -> String {
    if t.lang == "vi" {
        "phải là một số nguyên dương".into()
    } else {
        "must be a whole number".into()
    }
}

// ---------------------------------------------------------------- batches

#[derive(Template)]
#[template(path = "app/batch.html")]
struct BatchPage {
    f: Frame,
    b: crate::domain::Batch,
    product: crate::domain::Product,
    producer: crate::domain::Producer,
    counts: StampCounts,
    scans: crate::store::BatchScanStats,
    chart: String,
    /// Scans by province (shared locations), as SVG; empty when none.
    province_chart: String,
    located: u64,
    recall: Option<crate::store::RecallRecord>,
    reports: Vec<crate::store::ConsumerReport>,
    layouts: Vec<(String, String)>,
    layout: String,
    show_preview: bool,
    done: Option<String>,
    /// Which form failed ("issue", "activate", "void", "recall", "lift").
    failed: Option<String>,
    form: FormState,
}

#[derive(Deserialize, Default)]
pub struct BatchQuery {
    done: Option<String>,
    n: Option<u64>,
    layout: Option<String>,
    preview: Option<String>,
    lang: Option<String>,
}

async fn batch_page(
    signed: Signed,
    state: &AppState,
    id: u32,
    q: BatchQuery,
    failed: Option<(&str, FormState)>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let (store, grant) = (state.store.clone(), signed.session.grant.clone());
    let rules = *state.scanner.rules();
    let data = web::block(move || -> Result<_, ServiceError> {
        let b = access::batch(&*store, &grant, BatchId(id))?;
        let product = registry::product(&*store, b.product_id)?;
        let producer = registry::producer(&*store, product.producer_id)?;
        let stats = lifecycle::stats(&*store, b.id, &rules)?;
        let recall = store
            .recalls(b.id)?
            .into_iter()
            .find(|r| r.lifted_at.is_none());
        let reports = store.consumer_reports(b.id)?;
        Ok((b, product, producer, stats, recall, reports))
    })
    .await?
    .map_err(service(t))?;
    let (b, product, producer, stats, recall, reports) = data;
    let done = q.done.as_deref().map(|d| {
        let what = match d {
            "issued" => t.done_issued,
            "activated" => t.done_activated,
            "voided" => t.done_voided,
            "recalled" => t.done_recalled,
            "stage" => t.done_stage,
            _ => t.done_lifted,
        };
        match (d, q.n) {
            ("issued" | "activated" | "voided", Some(n)) => format!("{what}: {n}"),
            _ => what.to_string(),
        }
    });
    let layout = q
        .layout
        .clone()
        .filter(|l| Layout::builtin(l).is_some())
        .unwrap_or_else(|| "a4-65".into());
    let (failed, form) = match failed {
        Some((which, f)) => (Some(which.to_string()), f),
        None => (None, FormState::default()),
    };
    let chart = scans_chart(&stats.scans.per_day, t);
    let province_chart = province_chart(&stats.scans_by_province, t);
    let located = stats.located_scans;
    let page = BatchPage {
        f: signed.frame,
        counts: stats.stamps,
        scans: stats.scans,
        chart,
        province_chart,
        located,
        b,
        product,
        producer,
        recall,
        reports,
        layouts: crate::render::layout::builtins()
            .into_iter()
            .map(|l| (l.name, l.description))
            .collect(),
        layout,
        show_preview: q.preview.is_some(),
        done,
        failed: failed.clone(),
        form,
    };
    let status = if failed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_status(t, &page, status)
}

pub async fn batch(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    q: web::Query<BatchQuery>,
) -> Result<HttpResponse, DashError> {
    let _ = &q.lang;
    batch_page(signed, &state, id.into_inner(), q.into_inner(), None).await
}

/// Escapes text for HTML or SVG.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Scans per day (the last 60 days with scans) as an SVG bar chart, drawn
/// here: no script, no CDN. The largest count labels the scale.
fn scans_chart(per_day: &[(String, u64)], t: &'static Strings) -> String {
    if per_day.is_empty() {
        return String::new();
    }
    let days = &per_day[per_day.len().saturating_sub(60)..];
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let (w, h, pad) = (600.0_f64, 160.0_f64, 22.0_f64);
    let bar = (w - 2.0 * pad) / days.len() as f64;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(t.scans_per_day)
    );
    svg.push_str(&format!(
        r#"<text x="{pad}" y="14" class="axis">{max}</text><line x1="{pad}" y1="{}" x2="{}" y2="{}" class="base"/>"#,
        h - pad,
        w - pad,
        h - pad
    ));
    for (i, (day, n)) in days.iter().enumerate() {
        let bh = ((h - 2.0 * pad) * (*n as f64) / max as f64).max(1.0);
        let x = pad + i as f64 * bar;
        svg.push_str(&format!(
            r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}"><title>{}: {n}</title></rect>"#,
            h - pad - bh,
            (bar - 1.0).max(1.0),
            escape(day)
        ));
    }
    if let (Some((first, _)), Some((last, _))) = (days.first(), days.last()) {
        svg.push_str(&format!(
            r#"<text x="{pad}" y="{}" class="axis">{}</text><text x="{}" y="{}" class="axis" text-anchor="end">{}</text>"#,
            h - 6.0,
            escape(first),
            w - pad,
            h - 6.0,
            escape(last)
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// Scans per province as horizontal SVG bars, most first (at most 12).
fn province_chart(rows: &[lifecycle::ProvinceScans], t: &'static Strings) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let rows = &rows[..rows.len().min(12)];
    let max = rows.iter().map(|r| r.scans).max().unwrap_or(1).max(1);
    let (w, row_h, label_w) = (600.0_f64, 22.0_f64, 230.0_f64);
    let h = row_h * rows.len() as f64 + 4.0;
    let mut svg = format!(
        r#"<svg class="chart" id="province-chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(t.by_province)
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 2.0 + i as f64 * row_h;
        let bw = ((w - label_w - 60.0) * r.scans as f64 / max as f64).max(1.0);
        svg.push_str(&format!(
            r#"<text x="4" y="{:.1}" class="axis">{}</text><rect x="{label_w}" y="{:.1}" width="{bw:.1}" height="{:.1}"/><text x="{:.1}" y="{:.1}" class="axis">{}</text>"#,
            y + 15.0,
            escape(&r.province),
            y + 3.0,
            row_h - 6.0,
            label_w + bw + 6.0,
            y + 15.0,
            r.scans
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[derive(Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    csrf: String,
    count: String,
}

impl BatchPage {
    /// The value to show in a field of form `which`: what was typed when
    /// that form failed, else empty.
    fn val(&self, which: &str, field: &str) -> &str {
        if self.failed.as_deref() == Some(which) {
            self.form.value(field)
        } else {
            ""
        }
    }
    fn err(&self, which: &str, field: &str) -> Option<&str> {
        if self.failed.as_deref() == Some(which) {
            self.form.error(field)
        } else {
            None
        }
    }
    fn msg(&self, which: &str) -> Option<&str> {
        if self.failed.as_deref() == Some(which) {
            self.form.message.as_deref()
        } else {
            None
        }
    }
    fn when(&self, t: &jiff::Timestamp) -> String {
        crate::render::report::local_time(*t)
    }
    fn day(&self, d: &jiff::civil::Date) -> String {
        d.strftime("%d/%m/%Y").to_string()
    }
}

/// Runs a batch form's action; errors go back to the batch page next to
/// the form's field.
async fn batch_action(
    signed: Signed,
    state: web::Data<AppState>,
    id: u32,
    which: &'static str,
    values: Vec<(&'static str, String)>,
    fields: &'static [&'static str],
    action: impl FnOnce(&AppState, &Caller) -> Result<u64, ServiceError> + Send + 'static,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let who = caller(&signed);
    let st = state.clone();
    let outcome = web::block(move || -> Result<u64, ServiceError> {
        access::batch(&*st.store, &who.grant, BatchId(id))?;
        action(&st, &who)
    })
    .await?;
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

fn parse_number(
    field: &'static str,
    value: &str,
    t: &'static Strings,
) -> Result<u32, ServiceError> {
    value
        .trim()
        .parse::<u32>()
        .map_err(|_| DomainError::new(field, number_error(t)).into())
}

pub async fn issue(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    form: web::Form<IssueForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let (id, t, count) = (id.into_inner(), signed.frame.t, form.count.clone());
    batch_action(
        signed,
        state,
        id,
        "issue",
        vec![("count", count.clone())],
        &["count"],
        move |st, who| {
            let n = parse_number("count", &count, t)?;
            let keys = KeyRing::open(&st.keys_dir)?;
            let summary = issue::issue(
                &*st.store,
                &keys,
                &st.base_url,
                BatchId(id),
                u64::from(n),
                &who.actor,
                &mut |_| Ok(()),
            )?;
            Ok(u64::from(summary.receipt.count))
        },
    )
    .await
}

#[derive(Deserialize)]
pub struct RangeForm {
    #[serde(default)]
    csrf: String,
    from: String,
    count: String,
    reason: Option<String>,
}

pub async fn activate(
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
        vec![("from", f.from.clone()), ("count", f.count.clone())],
        &["from", "count"],
        move |st, who| {
            let from = parse_number("from", &f.from, t)?;
            let count = parse_number("count", &f.count, t)?;
            Ok(u64::from(lifecycle::activate(
                &*st.store,
                BatchId(id),
                from,
                count,
                &who.actor,
            )?))
        },
    )
    .await
}

pub async fn void(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    form: web::Form<RangeForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let (id, t, f) = (id.into_inner(), signed.frame.t, form.into_inner());
    let reason = f.reason.clone().unwrap_or_default();
    batch_action(
        signed,
        state,
        id,
        "void",
        vec![
            ("from", f.from.clone()),
            ("count", f.count.clone()),
            ("reason", reason.clone()),
        ],
        &["from", "count", "reason"],
        move |st, who| {
            let from = parse_number("from", &f.from, t)?;
            let count = parse_number("count", &f.count, t)?;
            Ok(u64::from(lifecycle::void(
                &*st.store,
                BatchId(id),
                from,
                count,
                &reason,
                &who.actor,
            )?))
        },
    )
    .await
}

#[derive(Deserialize)]
pub struct RecallForm {
    #[serde(default)]
    csrf: String,
    reason: String,
    notice: Option<String>,
}

pub async fn recall(
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
        move |st, who| {
            lifecycle::recall(
                &*st.store,
                BatchId(id),
                None,
                &f.reason,
                &notice,
                &who.actor,
            )?;
            Ok(1)
        },
    )
    .await
}

pub async fn lift(
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
        move |st, who| {
            Ok(u64::from(lifecycle::lift(
                &*st.store,
                BatchId(id),
                &f.reason,
                &who.actor,
            )?))
        },
    )
    .await
}

#[derive(Deserialize)]
pub struct LayoutQuery {
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
pub async fn preview(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    q: web::Query<LayoutQuery>,
) -> Result<HttpResponse, DashError> {
    use crate::service::sheet::{self, Format, Selection, SheetRequest};
    let t = signed.frame.t;
    let layout = layout_of(&q, t)?;
    let (id, who) = (id.into_inner(), caller(&signed));
    let st = state.clone();
    let png = web::block(move || -> Result<Vec<u8>, ServiceError> {
        access::batch(&*st.store, &who.grant, BatchId(id))?;
        let prepared = sheet::prepare(
            &*st.store,
            &st.base_url,
            SheetRequest {
                batch: BatchId(id),
                layout,
                format: Format::Png,
                selection: Selection::Unprinted,
                start_at: 1,
                ec: sheet::parse_ec("M")?,
                lang: if t.lang == "en" { Lang::En } else { Lang::Vi },
                crop_marks: false,
                calibration: Default::default(),
                dpi: 300,
                page: Some(1),
                actor: who.actor.clone(),
            },
        )?;
        let mut page = Vec::new();
        sheet::write_pages(
            &prepared,
            &mut |_, bytes| {
                page = bytes;
                Ok(())
            },
            &mut |_| (),
        )
        .map_err(crate::service::internal)?;
        // Small enough for a slow phone connection (~60 KB): a look at the
        // layout, not a printable page.
        let img = image::load_from_memory(&page)
            .map_err(crate::service::internal)?
            .resize(720, 1020, image::imageops::FilterType::Triangle)
            .to_luma8();
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 70)
            .encode_image(&img)
            .map_err(crate::service::internal)?;
        Ok(out)
    })
    .await?
    .map_err(service(t))?;
    Ok(HttpResponse::Ok()
        .content_type("image/jpeg")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(png))
}

/// The PDF of every stamp waiting to be printed (records the print job).
pub async fn sheet_pdf(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    q: web::Query<crate::web::sheets::SheetQuery>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    crate::web::sheets::respond(
        caller(&signed),
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

pub async fn report_pdf(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let (id, grant, store) = (
        BatchId(id.into_inner()),
        signed.session.grant.clone(),
        state.store.clone(),
    );
    let rules = *state.scanner.rules();
    let bytes = web::block(move || -> Result<Vec<u8>, ServiceError> {
        access::batch(&*store, &grant, id)?;
        let report = crate::service::report::batch(&*store, id, &rules)?;
        crate::render::report_pdf::pdf(&report).map_err(crate::service::internal)
    })
    .await?
    .map_err(service(t))?;
    Ok(crate::web::pdf_response(
        bytes,
        &format!("tem-report-{id}.pdf"),
    ))
}

// ---------------------------------------------------------------- search

#[derive(Template)]
#[template(path = "app/search.html")]
struct SearchPage {
    f: Frame,
    q: String,
    stamps: Vec<(crate::store::StoredStamp, String)>,
    batches: Vec<BatchRow>,
    producers: Vec<crate::domain::Producer>,
    searched: bool,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

pub async fn search(
    signed: Signed,
    state: web::Data<AppState>,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let text =
        crate::domain::text::optional("q", q.q.as_deref(), 200, crate::domain::text::Lines::One)
            .ok()
            .flatten()
            .unwrap_or_default();
    let (store, grant, needle) = (
        state.store.clone(),
        signed.session.grant.clone(),
        text.clone(),
    );
    let (stamps, batches, producers) = web::block(move || -> Result<_, ServiceError> {
        if needle.is_empty() {
            return Ok((Vec::new(), Vec::new(), Vec::new()));
        }
        crate::service::search::search(&*store, &grant, &needle)
            .map(|r| (r.stamps, r.batches, r.producers))
    })
    .await?
    .map_err(service(t))?;
    let store = state.store.clone();
    let batches = web::block(move || batch_rows(&*store, batches))
        .await?
        .map_err(service(t))?;
    render(
        t,
        &SearchPage {
            f: signed.frame,
            searched: !text.is_empty(),
            q: text,
            stamps,
            batches,
            producers,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploaded_photos_lose_their_metadata_and_shrink() {
        // A 2000×1500 JPEG with an EXIF block (GPS would live there).
        let img = image::RgbImage::from_fn(2000, 1500, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&img)
            .unwrap();
        let exif = b"Exif\0\0MM\0*\0\0\0\x08\0\0GPS-secret-farm-location";
        let mut with_exif = jpeg[..2].to_vec();
        with_exif.extend_from_slice(&[0xFF, 0xE1]);
        with_exif.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        with_exif.extend_from_slice(exif);
        with_exif.extend_from_slice(&jpeg[2..]);
        assert!(image::load_from_memory(&with_exif).is_ok());

        let out = normalise_image(&with_exif).unwrap();
        let back = image::load_from_memory(&out).unwrap();
        assert_eq!((back.width(), back.height()), (1200, 900));
        let has = |needle: &[u8]| out.windows(needle.len()).any(|w| w == needle);
        assert!(!has(b"Exif") && !has(b"GPS-secret"), "metadata kept");
        assert_eq!(normalise_image(b"not an image").unwrap_err().field, "image");
    }
}
