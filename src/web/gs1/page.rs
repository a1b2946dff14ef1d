//! The page a Digital Link URI's links point to:
//! `{base}/product/01/{gtin}[/10/{lot}][/21/{serial}]`, in Vietnamese or
//! English. It shows the product, and the lot when tem knows it; for an
//! item it says plainly that an identifier is not a proof: only the tem
//! stamp's signed code tells a genuine pack.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::super::scan::{Lang, Strings, language};
use super::super::{ApiError, AppState};
use crate::domain::digital_link::DigitalLink;
use crate::service::resolver::Resolution;

/// The words of this page that the scan page does not have.
struct Words {
    identifier_only: &'static str,
    identifier_only_detail: &'static str,
    lot_title: &'static str,
    lot_unknown: &'static str,
    no_stages: &'static str,
    verification: &'static str,
    issued_here: &'static str,
    not_issued: &'static str,
    state: &'static str,
    states: [&'static str; 4],
}

const VI: Words = Words {
    identifier_only: "Chỉ là mã định danh, chưa phải xác thực",
    identifier_only_detail: "Mã GS1 này cho biết sản phẩm, nhưng ai cũng có thể in lại. Để biết hàng thật, hãy quét tem tem (mã QR có chữ ký) trên bao bì.",
    lot_title: "Lô hàng",
    lot_unknown: "Hệ thống chưa có lô hàng mang số lô này; dưới đây là thông tin sản phẩm.",
    no_stages: "Chưa ghi công đoạn nào cho lô này.",
    verification: "Kiểm tra mã định danh",
    issued_here: "tem đã phát hành số sê-ri này cho sản phẩm này. Số sê-ri không có chữ ký nên bản sao cũng trùng khớp: chỉ quét tem trên bao bì mới biết hàng thật.",
    not_issued: "tem chưa từng phát hành số sê-ri này cho sản phẩm này.",
    state: "Trạng thái tem",
    states: [
        "đã phát hành, chưa in",
        "đã in",
        "đã dán lên bao bì",
        "đã hủy",
    ],
};

const EN: Words = Words {
    identifier_only: "An identifier only, not a check",
    identifier_only_detail: "This GS1 code names the product, but anyone can print it again. To know the pack is genuine, scan the tem stamp (the signed QR code) on it.",
    lot_title: "Lot",
    lot_unknown: "tem has no lot with this lot number; here is the product.",
    no_stages: "No stages have been recorded for this lot.",
    verification: "Identifier check",
    issued_here: "tem issued this serial for this product. A serial carries no signature, so a copy matches too: only scanning the stamp on the pack tells a genuine one.",
    not_issued: "tem never issued this serial for this product.",
    state: "Stamp state",
    states: ["issued, not printed", "printed", "on a package", "voided"],
};

struct LotView {
    code: String,
    produced: String,
    expires: Option<String>,
    raw_material: Option<String>,
    stages: Vec<String>,
}

struct RecallView {
    reason: String,
    notice: String,
    since: String,
}

#[derive(Template)]
#[template(path = "gs1_item.html")]
struct ItemPage<'a> {
    t: &'static Strings,
    g: &'static Words,
    lang: &'static str,
    other_lang: &'static str,
    base: &'a str,
    identifier_only: bool,
    recall: Option<RecallView>,
    product_name: String,
    images: Vec<String>,
    description: Option<String>,
    /// Stars, their glyphs, the decision.
    ocop: Option<(u8, String, String)>,
    gtin: String,
    serial: Option<String>,
    /// For an item: whether tem issued its serial, and the stamp's state.
    issued: Option<Option<&'static str>>,
    lot: Option<LotView>,
    lot_asked: bool,
    producer_name: String,
    origin: String,
    certifications: Vec<String>,
}

fn view<'a>(res: &Resolution, lang: Lang, base: &'a str) -> ItemPage<'a> {
    let p = &res.product;
    let stage = |s: &crate::domain::Stage| {
        let mut line = format!("{} · {}", s.name, s.time.as_str().replace('T', " "));
        if let Some(place) = &s.place {
            line.push_str(&format!(" · {place}"));
        }
        line
    };
    ItemPage {
        t: lang.strings(),
        g: if lang == Lang::Vi { &VI } else { &EN },
        lang: lang.code(),
        other_lang: if lang == Lang::Vi { "en" } else { "vi" },
        base,
        identifier_only: res.link.serial().is_some(),
        recall: res.recall.as_ref().map(|r| RecallView {
            reason: r.reason.clone(),
            notice: r.notice.clone(),
            since: lang.time(r.created_at),
        }),
        product_name: p.name.clone(),
        images: p
            .images
            .iter()
            .filter(|i| !i.contains("://"))
            .map(|i| format!("{base}/media/{i}"))
            .collect(),
        description: p.description.clone(),
        ocop: p.ocop.as_ref().map(|o| {
            (
                o.stars,
                "★".repeat(usize::from(o.stars)),
                format!("{} ({})", o.decision_no, lang.date(o.decision_date)),
            )
        }),
        gtin: res.link.gtin().to_string(),
        serial: res.link.serial().map(str::to_string),
        issued: res.link.serial().map(|_| {
            let g = if lang == Lang::Vi { &VI } else { &EN };
            res.stamp_state.map(|s| {
                use crate::domain::StampState;
                g.states[match s {
                    StampState::Issued => 0,
                    StampState::Printed => 1,
                    StampState::Activated => 2,
                    StampState::Voided => 3,
                }]
            })
        }),
        lot: res.batch.as_ref().map(|b| LotView {
            code: b.lot_code.clone(),
            produced: lang.date(b.production_date),
            expires: b.expiry_date.map(|d| lang.date(d)),
            raw_material: b.raw_material_area.clone(),
            stages: b.stages.iter().map(stage).collect(),
        }),
        lot_asked: res.link.lot().is_some(),
        producer_name: res.producer.name.clone(),
        origin: res.producer.address(),
        certifications: p
            .certifications
            .iter()
            .map(|c| {
                let mut line = c.name.clone();
                for part in [&c.issuer, &c.number].into_iter().flatten() {
                    line.push_str(&format!(" · {part}"));
                }
                if let Some(v) = c.valid_until {
                    line.push_str(&format!(
                        " · {} {}",
                        lang.strings().valid_until,
                        lang.date(v)
                    ));
                }
                line
            })
            .collect(),
    }
}

/// `GET {base}/product/01/…`: the product, lot or item page.
pub(in crate::web) async fn product_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let link = DigitalLink::parse_path(super::dl_path(&req, &state, "/product"))
        .map_err(|e| ApiError::Service(e.into()))?;
    let resolution = state.resolver.item(link).await?;
    let html = view(&resolution, language(&req), &state.scan_prefix)
        .render()
        .map_err(|e| ApiError::Internal(format!("rendering the product page: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::VARY, "Accept-Language"))
        .body(html))
}
