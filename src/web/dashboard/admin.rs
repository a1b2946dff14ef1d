//! The admin page: producers, tokens (a new token is shown once, on the
//! page answering the form, never in a URL), signing keys, settings.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::form::FormState;
use super::strings::Strings;
use super::{DashError, Frame, Signed, render_status, see_other};
use crate::codes::keyring::PublicKeyEntry;
use crate::domain::{ProducerId, ProducerInput};
use crate::service::tokens::TokenInfo;
use crate::service::{ServiceError, registry, tokens};
use crate::web::AppState;

#[derive(Template)]
#[template(path = "app/admin.html")]
struct AdminPage {
    f: Frame,
    producers: Vec<crate::domain::Producer>,
    tokens: Vec<TokenInfo>,
    keys: Vec<PublicKeyEntry>,
    settings: Vec<(&'static str, String)>,
    /// A token just created: shown once.
    new_token: Option<String>,
    /// Which form failed, and what it held.
    failed: Option<&'static str>,
    form: FormState,
}

impl AdminPage {
    fn val(&self, which: &str, field: &str) -> &str {
        if self.failed == Some(which) {
            self.form.value(field)
        } else {
            ""
        }
    }
    fn err(&self, which: &str, field: &str) -> Option<&str> {
        if self.failed == Some(which) {
            self.form.error(field)
        } else {
            None
        }
    }
    fn msg(&self, which: &str) -> Option<&str> {
        if self.failed == Some(which) {
            self.form.message.as_deref()
        } else {
            None
        }
    }
    fn status(&self, k: &PublicKeyEntry) -> String {
        serde_json::to_value(k.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
    fn producer_name(&self, id: &Option<ProducerId>) -> String {
        id.and_then(|id| self.producers.iter().find(|p| p.id == id))
            .map(|p| p.name.clone())
            .unwrap_or_default()
    }
}

async fn admin_page(
    signed: Signed,
    state: &AppState,
    new_token: Option<String>,
    failed: Option<(&'static str, FormState)>,
) -> Result<HttpResponse, DashError> {
    let t: &'static Strings = signed.frame.t;
    let ctx = state.ctx.clone();
    let crate::service::admin::Overview {
        producers,
        tokens,
        keys,
    } = web::block(move || crate::service::admin::overview(&ctx))
        .await?
        .map_err(|e| DashError::Service(t, e))?;
    let rules = state.scanner.rules();
    let settings = vec![
        ("base_url", state.ctx.base_url().to_string()),
        (
            "scan",
            format!(
                "{} devices, {}/24 h, {}/7 days, {} km",
                rules.devices, rules.scans_per_day, rules.scans_per_week, rules.distant_km
            ),
        ),
        (
            "printers",
            state
                .printers
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("keys", state.ctx.keys_dir().display().to_string()),
    ];
    let (failed, form) = match failed {
        Some((w, f)) => (Some(w), f),
        None => (None, FormState::default()),
    };
    let status = match (&new_token, failed) {
        (_, Some(_)) => StatusCode::UNPROCESSABLE_ENTITY,
        (Some(_), _) => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    render_status(
        t,
        &AdminPage {
            f: signed.frame,
            producers,
            tokens,
            keys,
            settings,
            new_token,
            failed,
            form,
        },
        status,
    )
}

pub(crate) async fn page(
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, DashError> {
    admin_page(signed, &state, None, None).await
}

#[derive(Deserialize)]
pub(crate) struct ProducerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    commune: String,
    #[serde(default)]
    province: String,
    phone: Option<String>,
}

pub(crate) async fn create_producer(
    signed: Signed,
    state: web::Data<AppState>,
    form: web::Form<ProducerForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let t = signed.frame.t;
    let f = form.into_inner();
    let fs = FormState::with_values([
        ("kind", f.kind.clone()),
        ("name", f.name.clone()),
        ("commune", f.commune.clone()),
        ("province", f.province.clone()),
        ("phone", f.phone.clone().unwrap_or_default()),
    ]);
    let input = ProducerInput {
        kind: f.kind,
        name: f.name,
        commune: f.commune,
        province: f.province,
        phone: f.phone.filter(|p| !p.trim().is_empty()),
        ..Default::default()
    };
    let created = signed
        .attempt(&state, move |ctx, who| {
            registry::create_producer(ctx.store(), input, &who.name)
        })
        .await?;
    match created {
        Ok(_) => Ok(see_other("/app/admin#producers")),
        Err(e @ ServiceError::Invalid(_)) => {
            let fs = fs.failed(t, e, &["kind", "name", "commune", "province", "phone"]);
            admin_page(signed, &state, None, Some(("producer", fs))).await
        }
        Err(e) => Err(DashError::Service(t, e)),
    }
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    producer: Option<String>,
    province: Option<String>,
    expires: Option<String>,
    label: Option<String>,
    shop: Option<String>,
}

pub(crate) async fn create_token(
    signed: Signed,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let t = signed.frame.t;
    let f = form.into_inner();
    let fs = FormState::with_values(
        [
            ("role", Some(f.role.clone())),
            ("producer", f.producer.clone()),
            ("province", f.province.clone()),
            ("expires", f.expires.clone()),
            ("label", f.label.clone()),
            ("shop", f.shop.clone()),
        ]
        .map(|(k, v)| (k, v.unwrap_or_default())),
    );
    let form = tokens::TokenForm {
        role: f.role,
        producer: f.producer,
        province: f.province,
        expires: f.expires,
        label: f.label,
        shop: f.shop,
    };
    let created = signed
        .attempt(&state, move |ctx, who| {
            tokens::create_from_form(ctx.store(), form, &who.name)
        })
        .await?;
    match created {
        Ok((token, _)) => admin_page(signed, &state, Some(token), None).await,
        Err(e @ ServiceError::Invalid(_)) => {
            let fs = fs.failed(
                t,
                e,
                &["role", "producer", "province", "expires", "label", "shop"],
            );
            admin_page(signed, &state, None, Some(("token", fs))).await
        }
        Err(e) => Err(DashError::Service(t, e)),
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
    reason: Option<String>,
}

pub(crate) async fn revoke_token(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let t = signed.frame.t;
    let id = id.into_inner();
    signed
        .attempt(&state, move |ctx, who| {
            tokens::revoke(ctx.store(), id, &who.name)
        })
        .await?
        .map_err(|e| DashError::Service(t, e))?;
    Ok(see_other("/app/admin#tokens"))
}

pub(crate) async fn rotate_key(
    signed: Signed,
    state: web::Data<AppState>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let t = signed.frame.t;
    let dir = state.ctx.keys_dir().to_path_buf();
    signed
        .attempt(&state, move |ctx, who| {
            crate::service::keys::rotate(&dir, ctx.store(), &who.name)
        })
        .await?
        .map_err(|e| DashError::Service(t, e))?;
    Ok(see_other("/app/admin#keys"))
}

pub(crate) async fn revoke_key(
    signed: Signed,
    state: web::Data<AppState>,
    kid: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let t = signed.frame.t;
    let (dir, kid) = (state.ctx.keys_dir().to_path_buf(), kid.into_inner());
    let reason = form.reason.clone().filter(|r| !r.trim().is_empty());
    let revoked = signed
        .attempt(&state, move |ctx, who| {
            crate::service::keys::revoke(&dir, ctx.store(), &kid, reason.as_deref(), &who.name)
        })
        .await?;
    match revoked {
        Ok(_) => Ok(see_other("/app/admin#keys")),
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Keys(_))) => {
            let fs = FormState {
                message: Some(e.to_string()),
                ..Default::default()
            };
            admin_page(signed, &state, None, Some(("keys", fs))).await
        }
        Err(e) => Err(DashError::Service(t, e)),
    }
}
