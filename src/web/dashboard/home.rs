//! The dashboard's start page (the products and latest batches the session
//! may see) and its search.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{DashError, Frame, Signed, render, service};
use crate::domain::StampCounts;
use crate::service::{ServiceError, access};
use crate::store::{BatchSummary, Store};
use crate::web::AppState;
use crate::web::auth::Caller;

pub(super) fn caller(s: &Signed) -> Caller {
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

pub(super) fn batch_rows(
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
