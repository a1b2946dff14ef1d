//! Signing in with a token, and out.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::strings::Strings;
use super::{DashError, PRE_COOKIE, SESSION_COOKIE, Signed, html, lang_of, secure, see_other};
use crate::service::sessions::{self, SignIn};
use crate::service::tokens::{self, Refused};
use crate::web::AppState;

#[derive(Template)]
#[template(path = "app/sign_in.html")]
struct SignInPage<'a> {
    t: &'static Strings,
    pre: &'a str,
    next: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

/// Only a path inside the dashboard (no other host).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/app") && !n.starts_with("//") && !n.contains("://") => n,
        _ => "/app",
    }
}

fn cookie<'a>(name: &'a str, value: String, req: &HttpRequest) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(req))
        .finish()
}

fn page(
    t: &'static Strings,
    req: &HttpRequest,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, DashError> {
    // A fresh double-submit value: a form posted from elsewhere lacks it.
    let pre = data_encoding::HEXLOWER.encode(&tokens::hash(&tokens::random_token())[..16]);
    let body = SignInPage {
        t,
        pre: &pre,
        next,
        error,
    }
    .render()
    .map_err(|e| DashError::Page(t, StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut response = html(status, body);
    response
        .add_cookie(&cookie(PRE_COOKIE, pre, req))
        .map_err(|e| DashError::Page(t, StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(response)
}

pub(crate) async fn form(
    req: HttpRequest,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, DashError> {
    page(
        lang_of(&req),
        &req,
        safe_next(q.next.as_deref()),
        None,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    pre: String,
    next: Option<String>,
}

pub(crate) async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, DashError> {
    let t = lang_of(&req);
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref()).to_string();
    let pre_ok = req.cookie(PRE_COOKIE).is_some_and(|c| {
        !form.pre.is_empty()
            && c.value().len() == form.pre.len()
            && bool::from(subtle::ConstantTimeEq::ct_eq(
                c.value().as_bytes(),
                form.pre.as_bytes(),
            ))
    });
    if !pre_ok {
        return page(t, &req, &next, Some(t.csrf_refused), StatusCode::FORBIDDEN);
    }
    let admin = state.admin.hash();
    let token = form.token.trim().to_string();
    let ctx = state.ctx.clone();
    let outcome = web::block(move || sessions::sign_in(ctx.store(), &token, admin))
        .await?
        .map_err(|e| DashError::Service(t, e))?;
    match outcome {
        SignIn::Opened(opened) => {
            let mut response = see_other(&next);
            response
                .add_cookie(&cookie(SESSION_COOKIE, opened.id, &req))
                .map_err(|e| {
                    DashError::Page(t, StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                })?;
            let _ = response.add_removal_cookie(&Cookie::build(PRE_COOKIE, "").path("/").finish());
            Ok(response)
        }
        SignIn::Refused(why) => {
            let message = match (t.lang, why) {
                ("vi", Refused::Expired) => "Mã truy cập đã hết hạn.",
                ("vi", Refused::Revoked) => "Mã truy cập đã bị thu hồi.",
                ("vi", Refused::Unknown) => "Mã truy cập không đúng.",
                (_, Refused::Expired) => "This token has expired.",
                (_, Refused::Revoked) => "This token was revoked.",
                (_, Refused::Unknown) => "This token is not valid.",
            };
            page(t, &req, &next, Some(message), StatusCode::UNAUTHORIZED)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn sign_out(
    req: HttpRequest,
    signed: Signed,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, DashError> {
    signed.check_csrf(&form.csrf)?;
    let t = signed.frame.t;
    if let Some(c) = req.cookie(SESSION_COOKIE) {
        let id = c.value().to_string();
        signed
            .attempt(&state, move |ctx, _| sessions::sign_out(ctx.store(), &id))
            .await?
            .map_err(|e| DashError::Service(t, e))?;
    }
    let mut response = see_other("/app/sign-in");
    let _ = response.add_removal_cookie(&Cookie::build(SESSION_COOKIE, "").path("/").finish());
    Ok(response)
}
