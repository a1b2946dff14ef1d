//! Products on the dashboard: creating and editing them (with a photo),
//! their page with their batches, and the forms that add a batch or a
//! production stage.

use actix_multipart::form::MultipartForm;
use actix_multipart::form::bytes::Bytes as Upload;
use actix_multipart::form::text::Text;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::batch_actions::batch_action;
use super::form::{FormState, number_error};
use super::strings::Strings;
use super::{DashError, Frame, Signed, render_status, see_other};
use crate::domain::{BatchId, BatchInput, OcopGroup, ProducerId, ProductId, Role};
use crate::service::{ServiceError, access, registry};
use crate::web::AppState;

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
    let producers = signed
        .call(state, move |ctx, who| {
            access::producers(ctx.store(), &who.grant)
        })
        .await?;
    let page = NewProductPage {
        groups: ocop_groups(t),
        f: signed.frame,
        form,
        producers,
        editing,
    };
    render_status(t, &page, status)
}

pub(crate) async fn new_product(
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, DashError> {
    new_product_page(signed, &state, FormState::default(), StatusCode::OK).await
}

#[derive(MultipartForm)]
pub(crate) struct ProductForm {
    csrf: Option<Text<String>>,
    name: Text<String>,
    producer_id: Option<Text<i64>>,
    ocop_group: Option<Text<String>>,
    description: Option<Text<String>>,
    #[multipart(limit = "20MB")]
    image: Option<Upload>,
}

impl ProductForm {
    /// What the form holds, cleaned of empty fields, as the service takes it.
    fn fields(&self) -> registry::ProductForm {
        registry::ProductForm {
            name: self.name.0.clone(),
            ocop_group: self
                .ocop_group
                .as_ref()
                .map(|g| g.0.clone())
                .filter(|g| !g.is_empty()),
            description: self
                .description
                .as_ref()
                .map(|d| d.0.clone())
                .filter(|d| !d.trim().is_empty()),
            photo: self
                .image
                .as_ref()
                .filter(|u| !u.data.is_empty())
                .map(|u| u.data.to_vec()),
        }
    }
}

/// The form as typed, to show again with its errors.
fn form_state(fields: &registry::ProductForm) -> FormState {
    FormState::with_values([
        ("name", fields.name.clone()),
        ("ocop_group", fields.ocop_group.clone().unwrap_or_default()),
        (
            "description",
            fields.description.clone().unwrap_or_default(),
        ),
    ])
}

pub(crate) async fn create_product(
    signed: Signed,
    state: web::Data<AppState>,
    MultipartForm(form): MultipartForm<ProductForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(form.csrf.as_ref().map_or("", |c| c.0.as_str()))?;
    let t = signed.frame.t;
    let fields = form.fields();
    let mut state_of_form = form_state(&fields);
    let producer_id = match (signed.session.grant.role, signed.session.grant.producer) {
        (Role::Producer, Some(p)) => p.0,
        _ => form.producer_id.as_ref().map(|p| p.0).unwrap_or(0),
    };
    state_of_form
        .values
        .insert("producer_id".into(), producer_id.to_string());
    let created = signed
        .attempt(&state, move |ctx, who| {
            registry::create_product_from_form(
                ctx.store(),
                &who.grant,
                ProducerId(producer_id),
                fields,
                &who.name,
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

pub(crate) async fn edit_product(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, DashError> {
    let id = id.into_inner();
    let p = signed
        .call(&state, move |ctx, who| {
            access::product(ctx.store(), &who.grant, ProductId(id))
        })
        .await?;
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
pub(crate) async fn update_product(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    MultipartForm(form): MultipartForm<ProductForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(form.csrf.as_ref().map_or("", |c| c.0.as_str()))?;
    let t = signed.frame.t;
    let id = id.into_inner();
    let fields = form.fields();
    let fs = form_state(&fields);
    let saved = signed
        .attempt(&state, move |ctx, who| {
            registry::edit_product_from_form(
                ctx.store(),
                &who.grant,
                ProductId(id),
                fields,
                &who.name,
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
pub(crate) struct StageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    place: Option<String>,
    #[serde(default)]
    time: String,
    note: Option<String>,
}

pub(crate) async fn add_stage(
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
        move |ctx, who| {
            registry::add_stage(
                ctx.store(),
                BatchId(id),
                crate::domain::StageInput {
                    name: f.name,
                    place: f.place.filter(|p| !p.trim().is_empty()),
                    time: f.time,
                    note: f.note.filter(|n| !n.trim().is_empty()),
                },
                who,
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
    batches: Vec<access::BatchRow>,
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
    let overview = signed
        .call(state, move |ctx, who| {
            access::product_page(
                ctx.store(),
                &who.grant,
                ProductId(id),
                page,
                BATCHES_PER_PAGE,
            )
        })
        .await?;
    let access::ProductPage {
        product: p,
        producer,
        batches,
        total,
    } = overview;
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
pub(crate) struct PageQuery {
    page: Option<usize>,
}

pub(crate) async fn product(
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
pub(crate) struct BatchForm {
    #[serde(default)]
    csrf: String,
    lot_code: String,
    production_date: String,
    shelf_life_days: Option<String>,
    quantity: String,
}

pub(crate) async fn create_batch(
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
    let input = BatchInput {
        lot_code: form.lot_code,
        production_date: form.production_date,
        shelf_life_days: shelf,
        quantity,
        ..Default::default()
    };
    let created = signed
        .attempt(&state, move |ctx, who| {
            registry::create_batch(ctx.store(), ProductId(id), input, who)
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
