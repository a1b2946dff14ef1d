//! A batch's page: its stamps by state, scan figures and charts, recall,
//! consumer reports, and the forms of its actions (shown again with their
//! errors when one fails).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::form::FormState;
use super::{DashError, Frame, Signed, render_status};
use crate::domain::{BatchId, StampCounts};
use crate::render::charts;
use crate::render::layout::Layout;
use crate::service::batch_overview::{
    self, BatchOverview, BatchScanStats, ConsumerReport, RecallRecord,
};
use crate::web::AppState;

// ---------------------------------------------------------------- batches

#[derive(Template)]
#[template(path = "app/batch.html")]
pub(super) struct BatchPage {
    f: Frame,
    b: crate::domain::Batch,
    product: crate::domain::Product,
    producer: crate::domain::Producer,
    counts: StampCounts,
    scans: BatchScanStats,
    chart: String,
    /// Scans by province (shared locations), as SVG; empty when none.
    province_chart: String,
    located: u64,
    /// Fetches by link-preview robots and crawlers, per family: not scans.
    previews: Vec<crate::service::lifecycle::PreviewFetches>,
    /// Stamps sold at a till, and claimed by their buyers.
    sold: u64,
    claimed: u64,
    recall: Option<RecallRecord>,
    reports: Vec<ConsumerReport>,
    layouts: Vec<(String, String)>,
    layout: String,
    show_preview: bool,
    done: Option<String>,
    /// Which form failed ("issue", "activate", "void", "recall", "lift").
    failed: Option<String>,
    form: FormState,
}

#[derive(Deserialize, Default)]
pub(crate) struct BatchQuery {
    done: Option<String>,
    n: Option<u64>,
    layout: Option<String>,
    preview: Option<String>,
    lang: Option<String>,
}

pub(super) async fn batch_page(
    signed: Signed,
    state: &AppState,
    id: u32,
    q: BatchQuery,
    failed: Option<(&str, FormState)>,
) -> Result<HttpResponse, DashError> {
    let t = signed.frame.t;
    let rules = *state.scanner.rules();
    let overview = signed
        .call(state, move |ctx, who| {
            batch_overview::overview(ctx.store(), &who.grant, BatchId(id), &rules)
        })
        .await?;
    let BatchOverview {
        batch: b,
        product,
        producer,
        stats,
        recall,
        reports,
    } = overview;
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
    let chart = charts::scans_per_day(&stats.scans.per_day, t.scans_per_day);
    let by_province: Vec<(&str, u64)> = stats
        .scans_by_province
        .iter()
        .map(|r| (r.province.as_str(), r.scans))
        .collect();
    let province_chart = charts::scans_by_province(&by_province, t.by_province);
    let located = stats.located_scans;
    let previews = stats.previews;
    let page = BatchPage {
        f: signed.frame,
        counts: stats.stamps,
        scans: stats.scans,
        chart,
        province_chart,
        located,
        previews,
        sold: stats.sold,
        claimed: stats.claimed,
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

pub(crate) async fn batch(
    signed: Signed,
    state: web::Data<AppState>,
    id: web::Path<u32>,
    q: web::Query<BatchQuery>,
) -> Result<HttpResponse, DashError> {
    let _ = &q.lang;
    batch_page(signed, &state, id.into_inner(), q.into_inner(), None).await
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
