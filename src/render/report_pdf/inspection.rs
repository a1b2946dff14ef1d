//! The inspection record (biên bản kiểm tra): where and by whom, the
//! summary, and every stamp checked with its verdict.

use std::io;

use super::{BODY, Doc, verdict_vi, when_text};
use crate::domain::inspection::Inspection;
use crate::render::font::Weight;

/// The inspection record (biên bản kiểm tra) as PDF bytes.
pub fn inspection_pdf(i: &Inspection) -> io::Result<Vec<u8>> {
    let mut d = Doc::new();
    header(&mut d, i);
    summary(&mut d, i);
    items(&mut d, i);
    d.signatures(["Cán bộ kiểm tra / Inspector", "Đại diện cơ sở / Shop"]);
    d.finish(
        &format!("Biên bản kiểm tra số {}", i.id),
        &format!("tem · biên bản kiểm tra số {} · {}", i.id, i.place),
    )
}

/// The title; where, when, by whom and how the inspection was made.
fn header(d: &mut Doc, i: &Inspection) {
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
}

/// Stamps checked, genuine, with problems and duplicated; by verdict.
fn summary(d: &mut Doc, i: &Inspection) {
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
}

/// Every stamp checked, with its verdict (and the offline one, when the
/// inspection was made offline).
fn items(d: &mut Doc, i: &Inspection) {
    d.heading(&format!("Chi tiết từng tem / Stamps ({})", i.items.len()));
    let offline = i.source == "offline";
    let rows: Vec<Vec<String>> = i
        .items
        .iter()
        .map(|it| {
            let mut verdict = verdict_vi(it.verdict.as_str()).to_string();
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
}
