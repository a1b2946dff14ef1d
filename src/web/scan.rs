//! The stamp URL: `GET {base path}/{code}` answers people with a light HTML
//! page (Vietnamese first, no JavaScript needed, no external resources) and
//! programs with JSON (`Accept: application/json`, or `/api/v1/verify/{code}`).
//! Every request is verified, judged, recorded and counted.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::domain::BatchId;
use crate::domain::scan::{RepeatReason, Verdict};
use crate::service::scan::{Client, Details, ScanResult};

mod busy;
pub(crate) mod claim;
mod notice;
pub(crate) mod preview;
mod strings;
mod told;
pub(crate) use strings::Strings;

/// Vietnam's offset (no daylight saving), for dates shown to people.
fn vietnam() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::fixed(jiff::tz::offset(7))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Lang {
    Vi,
    En,
}

impl Lang {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    pub(crate) fn strings(self) -> &'static Strings {
        match self {
            Lang::Vi => &strings::VI,
            Lang::En => &strings::EN,
        }
    }

    pub(crate) fn date(self, d: jiff::civil::Date) -> String {
        match self {
            Lang::Vi => d.strftime("%d/%m/%Y").to_string(),
            Lang::En => d.to_string(),
        }
    }

    pub(crate) fn time(self, t: jiff::Timestamp) -> String {
        let z = t.to_zoned(vietnam());
        match self {
            Lang::Vi => z.strftime("%H:%M %d/%m/%Y").to_string(),
            Lang::En => z.strftime("%Y-%m-%d %H:%M").to_string(),
        }
    }
}

/// `?lang=en|vi` first, then the first language of `Accept-Language`; Vietnamese by default.
pub(crate) fn language(req: &HttpRequest) -> Lang {
    let query = req.query_string();
    for pair in query.split('&') {
        match pair {
            "lang=en" => return Lang::En,
            "lang=vi" => return Lang::Vi,
            _ => {}
        }
    }
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let first = accept
        .split(',')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if first.starts_with("en") {
        Lang::En
    } else {
        Lang::Vi
    }
}

fn wants_json(req: &HttpRequest) -> bool {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

fn client(req: &HttpRequest, state: &AppState) -> Client {
    Client {
        ip: super::client::client_ip(req, &state.proxies),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(300)
            .collect(),
    }
}

/// The JSON answer (also documented in the OpenAPI file).
#[derive(Serialize, ToSchema)]
pub(crate) struct ScanJson {
    /// genuine, recalled, voided, expired, claimed, not-printed, unknown-serial, forged, unknown-key, revoked-key, malformed
    pub verdict: Verdict,
    /// Set when a genuine stamp looks copied: code "repeat-scan" and the reasons.
    pub warning: Option<WarningJson>,
    /// One line for people, in the page's language.
    pub message: String,
    pub serial: Option<String>,
    pub short_code: Option<String>,
    pub kid: Option<String>,
    /// Scans of this stamp so far, this one included (0 when the registry does not know it).
    pub scan_count: u64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_scan_at: Option<jiff::Timestamp>,
    pub recall: Option<crate::service::lifecycle::RecallNotice>,
    /// When a buyer claimed the stamp with its claim code (verdict claimed).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub claimed_at: Option<jiff::Timestamp>,
    /// The province its buyer shared when claiming it, if any.
    pub claimed_in: Option<String>,
    /// When a shop sold it at the till (verdict sold).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sold_at: Option<jiff::Timestamp>,
    /// Which shop sold it.
    pub sold_by: Option<String>,
    /// The stamp was claimed from this very device (the buyer's own scan).
    pub claimed_here: bool,
    pub batch: Option<serde_json::Value>,
    pub product: Option<serde_json::Value>,
    pub producer: Option<serde_json::Value>,
    pub scan_id: i64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct WarningJson {
    /// "repeat-scan"; or "claim-to-check" for a claim stamp not claimed yet
    /// (its claim code settles the question).
    pub code: String,
    pub reasons: Vec<RepeatReason>,
    pub message: String,
}

fn class(result: &ScanResult, told: &told::Told) -> &'static str {
    match result.outcome.verdict {
        _ if told.claimed_here => "ok",
        Verdict::Genuine | Verdict::Sold if told.warning.is_none() => "ok",
        Verdict::Genuine | Verdict::Sold | Verdict::Expired => "warn",
        _ => "bad",
    }
}

fn to_json(result: &ScanResult, lang: Lang) -> ScanJson {
    let t = lang.strings();
    let o = &result.outcome;
    let told = told::told(result, t);
    let warning = told.warning.map(|(code, message)| WarningJson {
        code: code.into(),
        reasons: o.repeat.clone(),
        message,
    });
    let d = result.details.as_deref();
    ScanJson {
        verdict: o.verdict,
        warning,
        message: format!("{}. {}", told.headline, told.detail),
        claimed_here: told.claimed_here,
        serial: result.check.code.map(|c| c.serial.to_string()),
        short_code: result.check.code.map(|c| c.serial.short_code().to_string()),
        kid: result.check.kid.map(|k| k.to_string()),
        scan_count: o.stamp.as_ref().map_or(0, |s| s.scan_count),
        first_scan_at: o.stamp.as_ref().and_then(|s| s.first_scan_at),
        recall: o.stamp.as_ref().and_then(|s| s.recall.clone()),
        claimed_at: o.stamp.as_ref().and_then(|s| s.claimed_at),
        claimed_in: o.stamp.as_ref().and_then(|s| s.claimed_in.clone()),
        sold_at: o.stamp.as_ref().and_then(|s| s.sold.as_ref().map(|x| x.0)),
        sold_by: o
            .stamp
            .as_ref()
            .and_then(|s| s.sold.as_ref().map(|x| x.1.clone())),
        batch: d.and_then(|d| serde_json::to_value(&d.batch).ok()),
        product: d.and_then(|d| serde_json::to_value(&d.product).ok()),
        producer: d.and_then(|d| serde_json::to_value(&d.producer).ok()),
        scan_id: o.scan_id,
    }
}

struct OcopView {
    stars: u8,
    star_glyphs: String,
    decision_no: String,
    decision_date: String,
    valid_until: String,
    lapsed: bool,
}

struct StageView {
    name: String,
    time: String,
    place: Option<String>,
    note: Option<String>,
}

struct CertView {
    name: String,
    issuer: Option<String>,
    number: Option<String>,
    valid_until: Option<String>,
    lapsed: bool,
}

/// The batch, product and producer part of the page.
#[derive(Template)]
#[template(path = "scan_details.html")]
struct DetailsView<'a> {
    t: &'a Strings,
    product_name: String,
    description: Option<String>,
    images: Vec<String>,
    ocop: Option<OcopView>,
    gtin: Option<String>,
    lot_code: String,
    production_date: String,
    expiry_date: Option<String>,
    raw_material_area: Option<String>,
    producer_name: String,
    origin: String,
    phone: Option<String>,
    email: Option<String>,
    stages: Vec<StageView>,
    certifications: Vec<CertView>,
}

struct StampView {
    serial: String,
    short_code: String,
    history: String,
    scan_id: i64,
    token: String,
}

struct RecallView {
    reason: String,
    notice: String,
    since: String,
}

#[derive(Template)]
#[template(path = "scan.html")]
struct ScanPage<'a> {
    t: &'a Strings,
    lang: &'static str,
    other_lang: &'static str,
    base: &'a str,
    class: &'static str,
    verdict: &'static str,
    headline: String,
    detail: String,
    warnings: Vec<String>,
    recall: Option<RecallView>,
    /// Rendered (and escaped) by `DetailsView`, shared by every scan of the batch.
    details: Option<Arc<str>>,
    stamp: Option<StampView>,
    /// Where the claim form posts, when the stamp can be claimed now.
    claim_action: Option<String>,
    /// The provinces the claim form offers.
    provinces: &'static [&'static str],
    report_action: String,
}

fn page(
    result: &ScanResult,
    lang: Lang,
    state: &AppState,
    code_path: &str,
) -> Result<String, ApiError> {
    let t = lang.strings();
    let o = &result.outcome;
    let told = told::told(result, t);
    let (headline, detail) = (told.headline, told.detail);
    let mut warnings = Vec::new();
    if let Some((_, message)) = &told.warning {
        warnings.push(message.clone());
    }
    if let Some(s) = o.stamp.as_ref()
        && let Some(at) = s.claimed_at
    {
        warnings.push(t.claimed_on(&lang.time(at), s.claimed_in.as_deref()));
    }
    if let Some(s) = o.stamp.as_ref()
        && let Some((at, shop)) = &s.sold
    {
        warnings.push(t.sold_on(&lang.time(*at), shop));
    }
    let details = match &result.details {
        Some(d) => Some(state.page_parts.details(d, lang, &state.scan_prefix)?),
        None => None,
    };
    let stamp = o.stamp.as_ref().map(|s| StampView {
        serial: s.serial.to_string(),
        short_code: s.serial.short_code().to_string(),
        history: t.history(
            s.scan_count,
            s.first_scan_at.map(|f| lang.time(f)).as_deref(),
        ),
        scan_id: o.scan_id,
        token: state.scanner.scan_token(o.scan_id),
    });
    let recall = o
        .stamp
        .as_ref()
        .and_then(|s| s.recall.as_ref())
        .map(|r| RecallView {
            reason: r.reason.clone(),
            notice: r.notice.clone(),
            since: lang.time(r.since),
        });
    let view = ScanPage {
        t,
        lang: lang.code(),
        other_lang: if lang == Lang::Vi { "en" } else { "vi" },
        base: &state.scan_prefix,
        class: class(result, &told),
        verdict: o.verdict.as_str(),
        headline: headline.to_string(),
        detail: detail.to_string(),
        warnings,
        recall,
        details,
        stamp,
        claim_action: o
            .stamp
            .as_ref()
            .filter(|s| o.verdict == Verdict::Genuine && s.claimable && s.claimed_at.is_none())
            .map(|_| format!("{}/{}/claim", state.scan_prefix, code_path)),
        provinces: crate::domain::geo::provinces(),
        report_action: format!("{}/{}/report", state.scan_prefix, code_path),
    };
    view.render()
        .map_err(|e| ApiError::Internal(format!("rendering the scan page: {e}")))
}

fn details_view<'a>(d: &Details, lang: Lang, scan_prefix: &str, t: &'a Strings) -> DetailsView<'a> {
    let today = jiff::Timestamp::now().to_zoned(vietnam()).date();
    let p = &d.product;
    let producer = &d.producer;
    let origin = producer.address();
    DetailsView {
        t,
        product_name: p.name.clone(),
        description: p.description.clone(),
        // Only images tem serves itself: the page loads nothing from elsewhere.
        images: p
            .images
            .iter()
            .filter(|i| !i.contains("://"))
            .map(|i| format!("{}/media/{i}", scan_prefix))
            .collect(),
        ocop: p.ocop.as_ref().map(|o| OcopView {
            stars: o.stars,
            star_glyphs: "★".repeat(usize::from(o.stars)),
            decision_no: o.decision_no.clone(),
            decision_date: lang.date(o.decision_date),
            valid_until: lang.date(o.valid_until),
            lapsed: o.valid_until < today,
        }),
        gtin: p.gtin.as_ref().map(|g| g.as_str().to_string()),
        lot_code: d.batch.lot_code.clone(),
        production_date: lang.date(d.batch.production_date),
        expiry_date: d.batch.expiry_date.map(|e| lang.date(e)),
        raw_material_area: d.batch.raw_material_area.clone(),
        producer_name: producer.name.clone(),
        origin,
        phone: producer.phone.clone(),
        email: producer.email.clone(),
        stages: d
            .batch
            .stages
            .iter()
            .map(|s| StageView {
                name: s.name.clone(),
                time: s
                    .time
                    .as_str()
                    .parse::<jiff::civil::Date>()
                    .map(|x| lang.date(x))
                    .unwrap_or_else(|_| s.time.as_str().replace('T', " ")),
                place: s.place.clone(),
                note: s.note.clone(),
            })
            .collect(),
        certifications: p
            .certifications
            .iter()
            .map(|c| CertView {
                name: c.name.clone(),
                issuer: c.issuer.clone(),
                number: c.number.clone(),
                valid_until: c.valid_until.map(|v| lang.date(v)),
                lapsed: c.valid_until.is_some_and(|v| v < today),
            })
            .collect(),
    }
}

/// The details a fragment was rendered from, and the fragment.
type RenderedDetails = (Arc<Details>, Arc<str>);

/// Rendered product sections per batch and language. An entry is reused while
/// the scanner hands out the same `Details` (it rereads them every 30 s), so
/// edits and lapsed ratings show up within that time.
#[derive(Default)]
pub(crate) struct PageParts {
    details: std::sync::Mutex<std::collections::HashMap<(BatchId, Lang), RenderedDetails>>,
}

impl PageParts {
    fn details(
        &self,
        d: &Arc<Details>,
        lang: Lang,
        scan_prefix: &str,
    ) -> Result<Arc<str>, ApiError> {
        let key = (d.batch.id, lang);
        if let Some((seen, html)) = self
            .details
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            && Arc::ptr_eq(seen, d)
        {
            return Ok(html.clone());
        }
        let html: Arc<str> = details_view(d, lang, scan_prefix, lang.strings())
            .render()
            .map_err(|e| ApiError::Internal(format!("rendering the scan page: {e}")))?
            .into();
        let mut cache = self.details.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, (d.clone(), html.clone()));
        Ok(html)
    }
}

async fn run_scan(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    code: &str,
) -> Result<ScanResult, ApiError> {
    let client = client(req, state);
    if !state.limiter.allow(client.ip).await {
        return Err(ApiError::TooManyRequests);
    }
    Ok(state.scanner.scan(code, &client).await?)
}

/// Whether a root path could be a stamp code at all: digits only (a code
/// a phone misread is still recorded as a malformed scan). `favicon.ico`,
/// `robots.txt` and the like are not scans.
fn could_be_a_code(segment: &str) -> bool {
    !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit())
}

/// `GET {base}/{code}`: the page a phone opens.
pub(crate) async fn scan_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !could_be_a_code(&code) {
        // Not a stamp: a compressed GS1 Digital Link URI, or no page.
        return super::gs1::compressed(&req, &state, &code).await;
    }
    scan_answer(&req, &state, &code, &code, &code).await
}

/// The answer to a scan of `text` (a code, or a stamp URL in GS1 form):
/// the preview for a robot, else the verdict page (or JSON). `again` is
/// the path under `{base}/` that opens the same URL (the busy page's
/// link), `forms` the code path the page's claim and report forms post to.
pub(crate) async fn scan_answer(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    text: &str,
    again: &str,
    forms: &str,
) -> Result<HttpResponse, ApiError> {
    let (req, state) = (req.clone(), state.clone());
    if let Some(family) = crate::domain::robots::robot_family(&client(&req, &state).user_agent) {
        return preview::respond(&req, &state, text, family).await;
    }
    let lang = language(&req);
    let result = match run_scan(&req, &state, text).await {
        Ok(result) => result,
        // A person gets a page to try again from; a program its JSON error.
        Err(e) if !wants_json(&req) => {
            return busy::page(&e, lang, &state.scan_prefix, again).ok_or(e);
        }
        Err(e) => return Err(e),
    };
    if wants_json(&req) {
        return Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(to_json(&result, lang)));
    }
    let html = page(&result, lang, &state, forms)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "Accept, Accept-Language"))
        .body(html))
}

#[utoipa::path(get, path = "/api/v1/verify/{code}", tag = "scan",
    params(("code" = String, Path, description = "the stamp code or its whole URL (URL-encoded)"),
        ("lang" = Option<String>, Query, description = "vi (default) or en")),
    responses((status = 200, body = ScanJson, description = "always 200 with a verdict, even for forged or malformed codes"),
        (status = 429, body = crate::web::error::ErrorBody)))]
/// `GET /api/v1/verify/{code}`: the same check and record, as JSON.
pub(crate) async fn verify_json(
    req: HttpRequest,
    state: web::Data<AppState>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let lang = language(&req);
    let result = run_scan(&req, &state, &code).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(to_json(&result, lang)))
}

#[derive(Deserialize)]
pub(crate) struct ReportForm {
    kind: String,
    message: Option<String>,
    place: Option<String>,
}

/// `POST {base}/{code}/report`: "this looks fake", "bought at …".
pub(crate) async fn report(
    req: HttpRequest,
    state: web::Data<AppState>,
    code: web::Path<String>,
    form: web::Form<ReportForm>,
) -> Result<HttpResponse, ApiError> {
    if !could_be_a_code(&code) {
        return Err(ApiError::NotFound(format!("no page {}", req.path())));
    }
    let lang = language(&req);
    let client = client(&req, &state);
    if !state.limiter.allow(client.ip).await {
        return Err(ApiError::TooManyRequests);
    }
    let check = state.scanner.check(&code);
    let scanner: Arc<crate::service::scan::Scanner> = state.scanner.clone();
    let form = form.into_inner();
    web::block(move || {
        scanner.report(
            &check,
            &form.kind,
            form.message.as_deref(),
            form.place.as_deref(),
            client.ip,
        )
    })
    .await??;
    let t = lang.strings();
    let html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><link rel=\"stylesheet\" href=\"{}/static/tem.css\"></head><body><main><header class=\"verdict ok\"><h1>{}</h1><p>{}</p></header></main></body></html>",
        lang.code(),
        t.report_thanks,
        state.scan_prefix,
        t.report_thanks,
        t.report_thanks_detail
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

#[derive(Deserialize)]
pub(crate) struct LocationForm {
    scan: i64,
    token: String,
    lat: f64,
    lon: f64,
}

#[utoipa::path(post, path = "/api/v1/scans/location", tag = "scan",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "scan, token (both from the scan page), lat, lon"),
    responses((status = 204, description = "stored"), (status = 400, body = crate::web::error::ErrorBody),
        (status = 404, body = crate::web::error::ErrorBody, description = "no such scan, or a wrong token"),
        (status = 429, body = crate::web::error::ErrorBody, description = "too many requests from this network")))]
/// `POST /api/v1/scans/location`: a location the person chose to share.
pub(crate) async fn share_location(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LocationForm>,
) -> Result<HttpResponse, ApiError> {
    // Counted with the scans of the same network: guessing tokens costs
    // the same budget as scanning.
    if !state.limiter.allow(client(&req, &state).ip).await {
        return Err(ApiError::TooManyRequests);
    }
    let scanner = state.scanner.clone();
    let f = form.into_inner();
    let stored =
        web::block(move || scanner.share_location(f.scan, &f.token, f.lat, f.lon)).await??;
    if stored {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("no such scan".into()))
    }
}

/// The icon browsers ask for (a green stamp with a T), so they get one
/// instead of a 404 on every page.
pub(crate) async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "public, max-age=604800"))
        .body(&include_bytes!("../../assets/static/favicon.png")[..])
}

pub(crate) async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../assets/static/tem.css"))
}

pub(crate) async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../assets/static/scan.js"))
}

pub(crate) async fn report_css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(crate::render::report::CSS)
}
