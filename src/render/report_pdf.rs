//! The batch report and the inspection record (biên bản kiểm tra) as PDF
//! files (A4, Noto Sans embedded as subsets, real text): what an inspector
//! files. Text is
//! wrapped to its table cell and tables continue on the next page with their
//! header repeated; every page carries the lot and "page n/m".

use std::io;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::font::{Weight, font};
use super::pdf::{FontUse, compress, font_objects};
use super::report::local_time as vietnam_time;
use crate::domain::inspection::Inspection;
use crate::service::report::BatchReport;

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 42.0;
const BODY: f32 = 8.5;
const PAD: f32 = 3.0;

/// A document being laid out top to bottom.
struct Doc {
    fonts: [FontUse; 2],
    pages: Vec<Content>,
    y: f32,
}

fn font_ref(weight: Weight) -> Name<'static> {
    match weight {
        Weight::Regular => Name(b"F1"),
        Weight::Bold => Name(b"F2"),
    }
}

/// Splits `text` into lines no wider than `width` points at `size`.
fn wrap(text: &str, weight: Weight, size: f32, width: f32) -> Vec<String> {
    let f = font(weight);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if f.width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A word wider than the cell (a serial, a hash) is cut by characters.
            for ch in word.chars() {
                let mut next = line.clone();
                next.push(ch);
                if f.width(&next, size) > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line.push(ch);
                } else {
                    line = next;
                }
            }
        }
        lines.push(line);
    }
    lines
}

impl Doc {
    fn new() -> Doc {
        let mut d = Doc {
            fonts: [
                FontUse::new(Weight::Regular, Ref::new(3)),
                FontUse::new(Weight::Bold, Ref::new(4)),
            ],
            pages: Vec::new(),
            y: 0.0,
        };
        d.new_page();
        d
    }

    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = PAGE_H - MARGIN;
    }

    /// Starts a new page unless `height` points still fit.
    fn room(&mut self, height: f32) -> bool {
        if self.y - height < MARGIN + 14.0 {
            self.new_page();
            return false;
        }
        true
    }

    fn text(&mut self, x: f32, baseline: f32, text: &str, weight: Weight, size: f32, grey: f32) {
        let glyphs = self.fonts[weight as usize].encode(text);
        let c = self.pages.last_mut().expect("a page");
        c.set_fill_gray(grey);
        c.begin_text();
        c.set_font(font_ref(weight), size);
        c.next_line(x, baseline);
        c.show(Str(&glyphs));
        c.end_text();
    }

    /// A paragraph across the page.
    fn para(&mut self, text: &str, weight: Weight, size: f32, grey: f32) {
        for line in wrap(text, weight, size, PAGE_W - 2.0 * MARGIN) {
            self.room(size * 1.4);
            self.y -= size * 1.3;
            self.text(MARGIN, self.y, &line, weight, size, grey);
        }
        self.y -= size * 0.4;
    }

    fn heading(&mut self, text: &str) {
        self.room(40.0);
        self.y -= 10.0;
        self.para(text, Weight::Bold, 11.5, 0.0);
        let c = self.pages.last_mut().expect("a page");
        c.set_stroke_gray(0.5);
        c.set_line_width(0.5);
        c.move_to(MARGIN, self.y + 2.0);
        c.line_to(PAGE_W - MARGIN, self.y + 2.0);
        c.stroke();
        self.y -= 4.0;
    }

    /// A table: column widths as shares of the page width; the header row
    /// is repeated on each page the table runs onto.
    fn table(&mut self, header: &[&str], shares: &[f32], rows: &[Vec<String>]) {
        let total = PAGE_W - 2.0 * MARGIN;
        let widths: Vec<f32> = shares.iter().map(|s| s * total).collect();
        self.row(
            header.iter().map(|h| h.to_string()).collect(),
            &widths,
            true,
            header,
        );
        for r in rows {
            self.row(r.clone(), &widths, false, header);
        }
        self.y -= 6.0;
    }

    fn row(&mut self, cells: Vec<String>, widths: &[f32], is_header: bool, header: &[&str]) {
        let weight = if is_header {
            Weight::Bold
        } else {
            Weight::Regular
        };
        let wrapped: Vec<Vec<String>> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| wrap(c, weight, BODY, w - 2.0 * PAD))
            .collect();
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let height = lines as f32 * BODY * 1.25 + 2.0 * PAD;
        if !self.room(height) && !is_header {
            // Continued on a new page: the header first.
            self.row(
                header.iter().map(|h| h.to_string()).collect(),
                widths,
                true,
                header,
            );
        }
        let top = self.y;
        let mut x = MARGIN;
        {
            let c = self.pages.last_mut().expect("a page");
            if is_header {
                c.set_fill_gray(0.92);
                c.rect(MARGIN, top - height, widths.iter().sum(), height);
                c.fill_nonzero();
            }
            c.set_stroke_gray(0.7);
            c.set_line_width(0.4);
            for w in widths {
                c.rect(x, top - height, *w, height);
                x += w;
            }
            c.stroke();
        }
        let mut x = MARGIN;
        for (lines, w) in wrapped.iter().zip(widths) {
            let mut baseline = top - PAD - BODY;
            for line in lines {
                self.text(x + PAD, baseline, line, weight, BODY, 0.0);
                baseline -= BODY * 1.25;
            }
            x += w;
        }
        self.y = top - height;
    }

    /// Two signature lines side by side, with who signs under each.
    fn signatures(&mut self, who: [&str; 2]) {
        self.room(70.0);
        self.y -= 50.0;
        let y = self.y;
        for (i, who) in who.iter().enumerate() {
            let x = MARGIN + i as f32 * (PAGE_W - 2.0 * MARGIN) / 2.0;
            let c = self.pages.last_mut().expect("a page");
            c.set_stroke_gray(0.0);
            c.move_to(x + 10.0, y);
            c.line_to(x + 230.0, y);
            c.stroke();
            self.text(x + 10.0, y - 12.0, who, Weight::Regular, 9.0, 0.0);
        }
    }

    /// Adds "lot · page n/m" to every page and writes the file.
    fn finish(mut self, title: &str, footer: &str) -> io::Result<Vec<u8>> {
        let n = self.pages.len();
        for i in 0..n {
            let line = format!("{footer} · trang {}/{n}", i + 1);
            let glyphs = self.fonts[0].encode(&line);
            let c = &mut self.pages[i];
            c.set_fill_gray(0.35);
            c.begin_text();
            c.set_font(font_ref(Weight::Regular), 7.5);
            c.next_line(MARGIN, MARGIN - 16.0);
            c.show(Str(&glyphs));
            c.end_text();
        }
        let catalog = Ref::new(1);
        let pages_ref = Ref::new(2);
        let mut next = 5;
        let mut alloc = || {
            let r = Ref::new(next);
            next += 1;
            r
        };
        let mut pdf = Pdf::new();
        let mut kids = Vec::with_capacity(n);
        for page in self.pages {
            let (page_ref, content_ref) = (alloc(), alloc());
            kids.push(page_ref);
            let mut p = pdf.page(page_ref);
            p.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
            p.parent(pages_ref);
            p.contents(content_ref);
            let mut resources = p.resources();
            let mut fonts = resources.fonts();
            fonts.pair(Name(b"F1"), Ref::new(3));
            fonts.pair(Name(b"F2"), Ref::new(4));
            fonts.finish();
            resources.finish();
            p.finish();
            pdf.stream(content_ref, &compress(&page.finish()))
                .filter(Filter::FlateDecode);
        }
        for used in &self.fonts {
            let refs = [alloc(), alloc(), alloc(), alloc()];
            for (_, chunk) in font_objects(used, refs)? {
                pdf.extend(&chunk);
            }
        }
        let count = kids.len() as i32;
        pdf.pages(pages_ref).kids(kids).count(count);
        pdf.catalog(catalog).pages(pages_ref);
        pdf.document_info(alloc())
            .producer(TextStr("tem"))
            .title(TextStr(title));
        Ok(pdf.finish())
    }
}

fn range(first: Option<u32>, last: Option<u32>) -> String {
    match (first, last) {
        (Some(f), Some(l)) if f == l => f.to_string(),
        (Some(f), Some(l)) => format!("{f}–{l}"),
        _ => "cả lô".into(),
    }
}

/// The report as PDF bytes.
pub fn pdf(r: &BatchReport) -> io::Result<Vec<u8>> {
    let mut d = Doc::new();
    let b = &r.batch;
    d.para(
        &format!("Báo cáo lô hàng / Batch report: {}", b.lot_code),
        Weight::Bold,
        15.0,
        0.0,
    );
    d.para(
        &format!("Lập lúc {} (UTC+7) · tem", vietnam_time(r.generated_at)),
        Weight::Regular,
        9.0,
        0.35,
    );
    d.table(
        &["Sản phẩm", "Chủ thể", "Ngày sản xuất", "Hạn sử dụng"],
        &[0.3, 0.4, 0.15, 0.15],
        &[vec![
            b.product.clone(),
            format!("{} ({})", b.producer, b.province),
            b.production_date.strftime("%d/%m/%Y").to_string(),
            b.expiry_date
                .map(|e| e.strftime("%d/%m/%Y").to_string())
                .unwrap_or_else(|| "—".into()),
        ]],
    );
    d.heading("Tem theo trạng thái / Stamps by state");
    let s = &r.stamps;
    d.table(
        &["Tổng", "Đã phát hành", "Đã in", "Đã kích hoạt", "Đã hủy"],
        &[0.2; 5],
        &[[s.total, s.issued, s.printed, s.activated, s.voided]
            .iter()
            .map(u64::to_string)
            .collect()],
    );
    d.heading("Lượt quét / Scans");
    let sc = &r.scans;
    let when = |t: Option<jiff::Timestamp>| t.map(vietnam_time).unwrap_or_else(|| "—".into());
    d.table(
        &[
            "Lượt quét",
            "Tem đã được quét",
            "Lần quét đầu",
            "Lần quét cuối",
        ],
        &[0.2, 0.2, 0.3, 0.3],
        &[vec![
            sc.scans.to_string(),
            sc.stamps_scanned.to_string(),
            when(sc.first_scan_at),
            when(sc.last_scan_at),
        ]],
    );
    if !sc.by_verdict.is_empty() {
        let rows: Vec<Vec<String>> = sc
            .by_verdict
            .iter()
            .map(|(v, n)| vec![v.clone(), n.to_string()])
            .collect();
        d.table(&["Kết quả", "Lượt quét"], &[0.5, 0.5], &rows);
    }
    if !sc.per_day.is_empty() {
        let rows: Vec<Vec<String>> = sc
            .per_day
            .iter()
            .map(|(day, n)| vec![day.clone(), n.to_string()])
            .collect();
        d.table(&["Ngày", "Lượt quét"], &[0.5, 0.5], &rows);
    }
    d.heading(&format!(
        "Tem đáng ngờ / Suspicious stamps ({})",
        r.suspicious.len()
    ));
    if r.suspicious.is_empty() {
        d.para("Không có.", Weight::Regular, BODY + 1.0, 0.0);
    }
    for s in &r.suspicious {
        let reasons: Vec<&str> = s.stamp.reasons.iter().map(|x| x.as_str()).collect();
        d.para(
            &format!(
                "Tem số {} · {} · {} lượt quét · {}",
                s.stamp.seq,
                s.stamp.serial,
                s.stamp.scan_count,
                reasons.join(", ")
            ),
            Weight::Bold,
            BODY + 0.5,
            0.0,
        );
        let rows: Vec<Vec<String>> = s
            .scans
            .iter()
            .map(|h| {
                vec![
                    vietnam_time(h.at),
                    h.verdict.clone(),
                    h.network.clone().unwrap_or_default(),
                    h.device.clone().unwrap_or_default(),
                    h.agent.clone().unwrap_or_default(),
                ]
            })
            .collect();
        d.table(
            &[
                "Thời điểm",
                "Kết quả",
                "Mạng (băm)",
                "Thiết bị (băm)",
                "Trình duyệt",
            ],
            &[0.2, 0.14, 0.22, 0.22, 0.22],
            &rows,
        );
    }
    d.heading(&format!("Thu hồi / Recalls ({})", r.recalls.len()));
    if r.recalls.is_empty() {
        d.para("Không có.", Weight::Regular, BODY + 1.0, 0.0);
    } else {
        let rows: Vec<Vec<String>> = r
            .recalls
            .iter()
            .map(|c| {
                vec![
                    vietnam_time(c.created_at),
                    range(c.first_seq, c.last_seq),
                    c.reason.clone(),
                    c.notice.clone(),
                    c.actor.clone(),
                    match (c.lifted_at, &c.lift_reason) {
                        (Some(at), Some(why)) => format!("{}: {why}", vietnam_time(at)),
                        (Some(at), None) => vietnam_time(at),
                        _ => "đang hiệu lực".into(),
                    },
                ]
            })
            .collect();
        d.table(
            &["Từ", "Tem", "Lý do", "Thông báo", "Người", "Gỡ bỏ"],
            &[0.14, 0.1, 0.2, 0.24, 0.14, 0.18],
            &rows,
        );
    }
    d.heading(&format!(
        "Phản ánh của người tiêu dùng / Consumer reports ({})",
        r.consumer_reports.len()
    ));
    if r.consumer_reports.is_empty() {
        d.para("Không có.", Weight::Regular, BODY + 1.0, 0.0);
    } else {
        let rows: Vec<Vec<String>> = r
            .consumer_reports
            .iter()
            .map(|c| {
                vec![
                    vietnam_time(c.at),
                    c.kind.clone(),
                    c.serial.clone().unwrap_or_default(),
                    c.place.clone().unwrap_or_default(),
                    c.message.clone().unwrap_or_default(),
                ]
            })
            .collect();
        d.table(
            &["Thời điểm", "Loại", "Tem", "Nơi mua", "Nội dung"],
            &[0.15, 0.12, 0.18, 0.2, 0.35],
            &rows,
        );
    }
    d.heading(&format!("Sự kiện / Lifecycle events ({})", r.events.len()));
    let rows: Vec<Vec<String>> = r
        .events
        .iter()
        .map(|e| {
            vec![
                vietnam_time(e.at),
                e.action.clone(),
                range(e.first_seq, e.last_seq),
                e.count.to_string(),
                e.actor.clone(),
                e.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    d.table(
        &["Thời điểm", "Sự kiện", "Tem", "Số tem", "Người", "Lý do"],
        &[0.16, 0.12, 0.14, 0.1, 0.22, 0.26],
        &rows,
    );
    d.signatures(["Cán bộ kiểm tra / Inspector", "Đại diện chủ thể / Producer"]);
    d.finish(
        &format!("Báo cáo lô {}", b.lot_code),
        &format!("tem · lô {} · {}", b.lot_code, b.product),
    )
}

/// A verdict in Vietnamese, as records print it.
pub fn verdict_vi(v: &str) -> &'static str {
    match v {
        "genuine" => "Chính hãng",
        "recalled" => "Đã thu hồi",
        "voided" => "Đã hủy",
        "expired" => "Hết hạn",
        "not-printed" => "Chưa in",
        "unknown-serial" => "Không có trong hệ thống",
        "forged" => "Giả (sai chữ ký)",
        "unknown-key" => "Khóa lạ",
        "revoked-key" => "Khóa đã thu hồi",
        _ => "Không đọc được",
    }
}

fn when_text(at: &str) -> String {
    at.parse::<jiff::Timestamp>()
        .map(vietnam_time)
        .unwrap_or_else(|_| at.to_string())
}

/// The inspection record (biên bản kiểm tra) as PDF bytes.
pub fn inspection_pdf(i: &Inspection) -> io::Result<Vec<u8>> {
    let mut d = Doc::new();
    d.para(
        "BIÊN BẢN KIỂM TRA TEM TRUY XUẤT NGUỒN GỐC",
        Weight::Bold,
        14.0,
        0.0,
    );
    d.para(
        &format!("Inspection record no. {} · tem", i.id),
        Weight::Regular,
        9.0,
        0.35,
    );
    let place = match &i.province {
        Some(p) => format!("{}, {p}", i.place),
        None => i.place.clone(),
    };
    let location = match (i.lat, i.lon) {
        (Some(lat), Some(lon)) => format!("{lat:.5}, {lon:.5}"),
        _ => "—".into(),
    };
    d.table(
        &[
            "Số biên bản",
            "Thời điểm kiểm tra (UTC+7)",
            "Địa điểm",
            "Tọa độ",
        ],
        &[0.14, 0.26, 0.4, 0.2],
        &[vec![i.id.to_string(), when_text(&i.at), place, location]],
    );
    let who = vec![vec![
        i.inspector.clone(),
        if i.source == "offline" {
            format!(
                "ngoại tuyến (gói dữ liệu lập {})",
                i.bundle_at.as_deref().map(when_text).unwrap_or_default()
            )
        } else {
            "trực tuyến".into()
        },
        when_text(&i.created_at),
    ]];
    d.table(
        &["Người kiểm tra", "Cách kiểm tra", "Ghi nhận lúc"],
        &[0.4, 0.35, 0.25],
        &who,
    );
    if let Some(note) = &i.note {
        d.para(
            &format!("Ghi chú: {note}"),
            Weight::Regular,
            BODY + 1.0,
            0.0,
        );
    }
    d.heading("Tổng hợp / Summary");
    let s = &i.summary;
    d.table(
        &["Số tem kiểm tra", "Chính hãng", "Có vấn đề", "Trùng lặp"],
        &[0.25; 4],
        &[vec![
            s.stamps.to_string(),
            s.genuine.to_string(),
            s.problems.to_string(),
            s.duplicates.to_string(),
        ]],
    );
    let rows: Vec<Vec<String>> = s
        .by_verdict
        .iter()
        .map(|(v, n)| vec![format!("{} ({v})", verdict_vi(v)), n.to_string()])
        .collect();
    d.table(&["Kết quả", "Số tem"], &[0.6, 0.4], &rows);
    d.heading(&format!("Chi tiết từng tem / Stamps ({})", i.items.len()));
    let offline = i.source == "offline";
    let rows: Vec<Vec<String>> = i
        .items
        .iter()
        .map(|it| {
            let mut verdict = verdict_vi(&it.verdict).to_string();
            if let Some(first) = it.duplicate_of {
                verdict.push_str(&format!(" · trùng với tem thứ {first}"));
            }
            if let Some(r) = &it.reason {
                verdict.push_str(&format!(" · {r}"));
            }
            let mut row = vec![
                it.n.to_string(),
                it.source.clone(),
                it.serial.clone().unwrap_or_else(|| it.input.clone()),
                it.batch_id.map(|b| b.to_string()).unwrap_or_default(),
                verdict,
            ];
            if offline {
                row.push(format!(
                    "{} {}",
                    it.offline_verdict.as_deref().unwrap_or(""),
                    it.checked_at.as_deref().map(when_text).unwrap_or_default()
                ));
            }
            row
        })
        .collect();
    if offline {
        d.table(
            &["#", "Nguồn", "Số sê-ri", "Lô", "Kết quả", "Ngoại tuyến"],
            &[0.05, 0.09, 0.3, 0.06, 0.3, 0.2],
            &rows,
        );
    } else {
        d.table(
            &["#", "Nguồn", "Số sê-ri", "Lô", "Kết quả"],
            &[0.06, 0.1, 0.34, 0.08, 0.42],
            &rows,
        );
    }
    d.signatures(["Cán bộ kiểm tra / Inspector", "Đại diện cơ sở / Shop"]);
    d.finish(
        &format!("Biên bản kiểm tra số {}", i.id),
        &format!("tem · biên bản kiểm tra số {} · {}", i.id, i.place),
    )
}

/// A batch verification report as PDF bytes (the signed JSON is the
/// authoritative copy; the PDF names its id and signing key).
pub fn verification_pdf(s: &crate::service::verification::SignedReport) -> io::Result<Vec<u8>> {
    let r = &s.report;
    let mut d = Doc::new();
    d.para(
        "BÁO CÁO XÁC MINH LÔ HÀNG / Batch verification report",
        Weight::Bold,
        14.0,
        0.0,
    );
    let verdict = match r.verdict.as_str() {
        "clean" => "KHÔNG CÓ VẤN ĐỀ (clean)",
        "findings" => "CÓ PHÁT HIỆN (findings)",
        _ => "BỊ XÂM PHẠM (compromised)",
    };
    d.para(&format!("Kết luận: {verdict}"), Weight::Bold, 12.0, 0.0);
    d.para(
        &format!(
            "Báo cáo {} · lập lúc {} (UTC+7) · {} · ký bởi khóa {}",
            r.id,
            when_text(&r.verified_at),
            r.verified_by,
            s.kid
        ),
        Weight::Regular,
        8.0,
        0.35,
    );
    d.table(
        &["Lô", "Sản phẩm", "Chủ thể", "Tỉnh"],
        &[0.2, 0.3, 0.3, 0.2],
        &[vec![
            format!("{} (#{})", r.batch.lot_code, r.batch.id),
            r.batch.product.clone(),
            r.batch.producer.clone(),
            r.batch.province.clone(),
        ]],
    );
    d.heading("Chữ ký tem / Stamp signatures");
    let st = &r.stamps;
    d.table(
        &[
            "Tổng số tem",
            "Chữ ký đúng",
            "Chữ ký sai",
            "Khóa lạ",
            "Khóa đã thu hồi",
        ],
        &[0.2; 5],
        &[[
            st.total,
            st.signatures_ok,
            st.bad_signatures,
            st.unknown_key,
            st.revoked_key,
        ]
        .iter()
        .map(u64::to_string)
        .collect()],
    );
    d.heading("Đối chiếu nhật ký kiểm toán / Audit log");
    let l = &r.log;
    d.table(
        &[
            "Mục nhật ký",
            "Nhật ký nguyên vẹn",
            "Không có trong nhật ký",
            "Thiếu dòng",
            "Sai trạng thái",
        ],
        &[0.2; 5],
        &[vec![
            l.entries.to_string(),
            if l.audit_log_intact { "có" } else { "KHÔNG" }.into(),
            l.not_in_log.to_string(),
            l.missing_rows.to_string(),
            l.altered_states.to_string(),
        ]],
    );
    d.heading("Lượt quét / Scans");
    let sc = &r.scans;
    d.table(
        &["Lượt quét", "Tem đã quét", "Tem đáng ngờ", "Phản ánh"],
        &[0.25; 4],
        &[[
            sc.scans,
            sc.stamps_scanned,
            sc.suspicious,
            sc.consumer_reports,
        ]
        .iter()
        .map(u64::to_string)
        .collect()],
    );
    d.heading(&format!("Phát hiện / Findings ({})", r.findings.len()));
    if r.findings.is_empty() {
        d.para("Không có.", Weight::Regular, BODY + 1.0, 0.0);
    } else {
        let rows: Vec<Vec<String>> = r
            .findings
            .iter()
            .map(|f| vec![f.severity.clone(), f.kind.clone(), f.detail.clone()])
            .collect();
        d.table(&["Mức", "Loại", "Chi tiết"], &[0.16, 0.16, 0.68], &rows);
    }
    d.para(
        &format!(
            "Bản JSON có chữ ký là bản gốc; kiểm tra bằng: tem verify-report tệp.json (chữ ký {}…)",
            &s.signature[..16.min(s.signature.len())]
        ),
        Weight::Regular,
        8.0,
        0.35,
    );
    d.signatures(["Cán bộ kiểm tra / Inspector", "Đại diện chủ thể / Producer"]);
    d.finish(
        &format!("Xác minh lô {}", r.batch.lot_code),
        &format!("tem · xác minh lô {} · {}", r.batch.lot_code, r.id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_character_and_fits_the_width() {
        let text = "Ngừng sử dụng lô này ngay, liên hệ hợp tác xã để được hoàn tiền 0123456789abcdef0123456789abcdef";
        let lines = wrap(text, Weight::Regular, 8.5, 60.0);
        assert!(lines.len() > 3);
        for l in &lines {
            assert!(font(Weight::Regular).width(l, 8.5) <= 60.0 + 0.01, "{l:?}");
        }
        let joined: String = lines.concat().split_whitespace().collect();
        let original: String = text.split_whitespace().collect();
        assert_eq!(joined, original);
        assert_eq!(wrap("a\nb", Weight::Bold, 9.0, 100.0), ["a", "b"]);
    }
}
