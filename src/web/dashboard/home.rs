//! The dashboard's start page (the products and latest batches the session
//! may see) and its search.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{DashError, Frame, Signed, render};
use crate::service::access::{self, BatchRow};
use crate::service::search::{self, StoredStamp};
use crate::web::AppState;

// ---------------------------------------------------------------- home

/// The start page lists this many of the latest batches.
const LATEST: usize = 200;

#[derive(Template)]
#[template(path = "app/home.html")]
struct HomePage {
    f: Frame,
    products: Vec<crate::domain::Product>,
    batches: Vec<BatchRow>,
}

pub(crate) async fn home(
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    // A shop's phone opens at the till.
    if signed.frame.role == crate::domain::Role::Seller {
        return Ok(super::see_other("/app/sell"));
    }
    let (products, batches) = signed
        .call(&state, move |ctx, who| {
            access::start_page(ctx.store(), &who.grant, LATEST)
        })
        .await?;
    render(
        t,
        &HomePage {
            f: signed.frame,
            products,
            batches,
        },
    )
}

#[derive(Template)]
#[template(path = "app/search.html")]
struct SearchPage {
    f: Frame,
    q: String,
    stamps: Vec<(StoredStamp, String)>,
    batches: Vec<BatchRow>,
    producers: Vec<crate::domain::Producer>,
    searched: bool,
}

#[derive(Deserialize)]
pub(crate) struct SearchQuery {
    q: Option<String>,
}

pub(crate) async fn search(
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
    let needle = text.clone();
    let (stamps, batches, producers) = signed
        .call(&state, move |ctx, who| {
            if needle.is_empty() {
                return Ok((Vec::new(), Vec::new(), Vec::new()));
            }
            search::search(ctx.store(), &who.grant, &needle)
                .map(|r| (r.stamps, r.batches, r.producers))
        })
        .await?;
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
