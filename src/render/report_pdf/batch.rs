//! The batch report: the batch, its stamps, scans, suspicious stamps,
//! recalls, consumer reports and lifecycle events.

use std::io;

use super::{BODY, Doc, vietnam_time};
use crate::render::font::Weight;
use crate::report::batch::BatchReport;

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
    batch_section(&mut d, r);
    scans_section(&mut d, r);
    suspicious_section(&mut d, r);
    recalls_section(&mut d, r);
    reports_section(&mut d, r);
    events_section(&mut d, r);
    d.signatures(["Cán bộ kiểm tra / Inspector", "Đại diện chủ thể / Producer"]);
    let b = &r.batch;
    d.finish(
        &format!("Báo cáo lô {}", b.lot_code),
        &format!("tem · lô {} · {}", b.lot_code, b.product),
    )
}

/// The title, the batch and its stamps by state.
fn batch_section(d: &mut Doc, r: &BatchReport) {
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
        &[
            "Tổng",
            "Đã phát hành",
            "Đã in",
            "Đã kích hoạt",
            "Đã hủy",
            "Đã bán",
            "Đã xác nhận",
        ],
        &[1.0 / 7.0; 7],
        &[[
            s.total,
            s.issued,
            s.printed,
            s.activated,
            s.voided,
            r.sold,
            r.claimed,
        ]
        .iter()
        .map(u64::to_string)
        .collect()],
    );
}

/// Scan totals, by verdict and per day.
fn scans_section(d: &mut Doc, r: &BatchReport) {
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
}

/// Each suspicious stamp with the rules it breaks and its whole scan history.
fn suspicious_section(d: &mut Doc, r: &BatchReport) {
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
                    h.verdict.to_string(),
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
}

/// Recalls, lifted or in force.
fn recalls_section(d: &mut Doc, r: &BatchReport) {
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
}

/// What consumers reported.
fn reports_section(d: &mut Doc, r: &BatchReport) {
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
                    c.kind.to_string(),
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
}

/// The batch's lifecycle events.
fn events_section(d: &mut Doc, r: &BatchReport) {
    d.heading(&format!("Sự kiện / Lifecycle events ({})", r.events.len()));
    let rows: Vec<Vec<String>> = r
        .events
        .iter()
        .map(|e| {
            vec![
                vietnam_time(e.at),
                e.action.to_string(),
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
}
