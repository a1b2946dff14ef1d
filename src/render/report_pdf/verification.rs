//! A batch verification report: the verdict, each check's figures and
//! the findings; the signed JSON stays the authoritative copy.

use std::io;

use super::{BODY, Doc, when_text};
use crate::render::font::Weight;
use crate::report::verification::{Conclusion, Report, SignedReport};

/// A batch verification report as PDF bytes (the signed JSON is the
/// authoritative copy; the PDF names its id and signing key).
pub fn verification_pdf(s: &SignedReport) -> io::Result<Vec<u8>> {
    let r = &s.report;
    let mut d = Doc::new();
    header(&mut d, s);
    checks(&mut d, r);
    findings(&mut d, s);
    d.signatures(["Cán bộ kiểm tra / Inspector", "Đại diện chủ thể / Producer"]);
    d.finish(
        &format!("Xác minh lô {}", r.batch.lot_code),
        &format!("tem · xác minh lô {} · {}", r.batch.lot_code, r.id),
    )
}

/// The title, the verdict, who verified and with which key, the batch.
fn header(d: &mut Doc, s: &SignedReport) {
    let r = &s.report;
    d.para(
        "BÁO CÁO XÁC MINH LÔ HÀNG / Batch verification report",
        Weight::Bold,
        14.0,
        0.0,
    );
    let verdict = match r.verdict {
        Conclusion::Clean => "KHÔNG CÓ VẤN ĐỀ (clean)",
        Conclusion::Findings => "CÓ PHÁT HIỆN (findings)",
        Conclusion::Compromised => "BỊ XÂM PHẠM (compromised)",
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
}

/// Each check's figures: signatures, the audit log, scans.
fn checks(d: &mut Doc, r: &Report) {
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
            "Sai bán / xác nhận",
        ],
        &[1.0 / 6.0; 6],
        &[vec![
            l.entries.to_string(),
            if l.audit_log_intact { "có" } else { "KHÔNG" }.into(),
            l.not_in_log.to_string(),
            l.missing_rows.to_string(),
            l.altered_states.to_string(),
            l.altered_sales.to_string(),
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
}

/// The findings, and where the signed original is checked.
fn findings(d: &mut Doc, s: &SignedReport) {
    let r = &s.report;
    d.heading(&format!("Phát hiện / Findings ({})", r.findings.len()));
    if r.findings.is_empty() {
        d.para("Không có.", Weight::Regular, BODY + 1.0, 0.0);
    } else {
        let rows: Vec<Vec<String>> = r
            .findings
            .iter()
            .map(|f| vec![f.severity.to_string(), f.kind.to_string(), f.detail.clone()])
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
}
