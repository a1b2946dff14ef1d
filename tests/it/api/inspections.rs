//! Inspections: codes and photos from a shop, a verdict per stamp,
//! duplicates flagged, the record stored, audited and printable.

use serde_json::json;

use crate::api::scan::app_with_printed_stamps;
use crate::api::sheets::get_bytes;

#[test]
fn an_inspection_judges_codes_and_photos_and_flags_duplicates() {
    let (app, batch, urls) = app_with_printed_stamps(8);
    // Stamps 7–8 recalled.
    let r = app.post(
        &format!("/api/v1/batches/{batch}/recall"),
        &json!({"reason": "Nhiễm khuẩn", "notice": "Ngừng sử dụng", "from": 7, "count": 2}),
    );
    assert_eq!(r.status, 201);
    // One digit of stamp 4's code changed: a forged stamp.
    let mut forged = urls[3].clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '1' { '2' } else { '1' });
    // A photo holding stamps 1–6 (a sheet page rendered by tem).
    let (status, ctype, png) = get_bytes(
        &app,
        &format!("/api/v1/batches/{batch}/sheet.png?from=1&count=6&dpi=300"),
    );
    assert_eq!(
        (status, ctype.as_str()),
        (200, "image/png"),
        "{}",
        String::from_utf8_lossy(&png)
    );

    let body = json!({
        "place": "Chợ Đồng Xuân, quầy 12",
        "province": "Hà Nội",
        "at": "2026-11-20T03:00:00Z",
        "note": "Kiểm tra định kỳ",
        // Pasted as one block (one code per line) and one by one; stamp 1 twice.
        "codes": [format!("{}\n{}", urls[0], urls[1]), forged, urls[6].clone(), urls[0].clone(), "không phải mã tem"],
        "photos": [data_encoding::BASE64.encode(&png)],
    });
    let r = app.post("/api/v1/inspections", &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    let verdicts: Vec<(&str, &str)> = items
        .iter()
        .map(|i| {
            (
                i["source"].as_str().unwrap(),
                i["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        &verdicts[..6],
        &[
            ("code", "genuine"),
            ("code", "genuine"),
            ("code", "forged"),
            ("code", "recalled"),
            ("code", "genuine"),
            ("code", "malformed"),
        ]
    );
    // The photo decodes to all six stamps on it, each genuine.
    let from_photo: Vec<&serde_json::Value> =
        items.iter().filter(|i| i["source"] == "photo 1").collect();
    assert_eq!(from_photo.len(), 6, "{}", r.body);
    assert!(from_photo.iter().all(|i| i["verdict"] == "genuine"));
    let serial = |url: &str| {
        let code = tem::codes::StampCode::parse(url).unwrap();
        code.serial.to_string()
    };
    let photo_serials: std::collections::BTreeSet<&str> = from_photo
        .iter()
        .map(|i| i["serial"].as_str().unwrap())
        .collect();
    let expected: std::collections::BTreeSet<String> =
        urls[..6].iter().map(|u| serial(u)).collect();
    assert_eq!(photo_serials, expected.iter().map(String::as_str).collect());
    // Duplicates: the second stamp-1 code, and the photo's stamps 1, 2 and 4
    // (stamp 4's code was forged in the list, but its serial was seen).
    assert_eq!(items[4]["duplicate_of"], 1);
    assert!(items[0]["duplicate_of"].is_null());
    let dup_in_photo = from_photo
        .iter()
        .filter(|i| !i["duplicate_of"].is_null())
        .count();
    assert_eq!(dup_in_photo, 3, "{}", r.body);
    let s = &r.body["summary"];
    assert_eq!(s["stamps"], 12);
    assert_eq!(s["duplicates"], 4);
    // Genuine and not a duplicate: stamps 1, 2 (codes) and 3, 5, 6 (photo).
    assert_eq!(s["genuine"], 5);
    assert_eq!(s["problems"], 7);
    assert_eq!(s["by_verdict"]["forged"], 1);
    assert_eq!(s["by_verdict"]["recalled"], 1);
    assert_eq!(s["by_verdict"]["malformed"], 1);

    // Stored: read back the same, listed, and in the audit log.
    let id = r.body["id"].as_i64().unwrap();
    let back = app.get(&format!("/api/v1/inspections/{id}"));
    assert_eq!(back.status, 200);
    assert_eq!(back.body, r.body);
    let list = app.get("/api/v1/inspections");
    assert_eq!(list.body[0]["id"], id);
    assert_eq!(list.body[0]["summary"], r.body["summary"]);
    let audit = app.get("/api/v1/audit/entries");
    let entry = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "inspection.create")
        .expect("an audit entry for the inspection");
    assert_eq!(entry["object"], format!("inspection:{id}"));
    assert_eq!(entry["after"]["summary"], r.body["summary"]);

    // The printable record, read back by poppler.
    let (status, ctype, pdf) = get_bytes(&app, &format!("/api/v1/inspections/{id}?format=pdf"));
    assert_eq!((status, ctype.as_str()), (200, "application/pdf"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bien-ban.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&file)
        .arg("-")
        .output()
        .unwrap();
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    for want in [
        "BIÊN BẢN KIỂM TRA",
        "Chợ Đồng Xuân",
        "Hà Nội",
        "Kiểm tra định kỳ",
        "Giả (sai chữ ký)",
        "Đã thu hồi",
        "trùng với tem thứ 1",
        "20/11/2026",
    ] {
        assert!(text.contains(want), "{want:?} not in the PDF:\n{text}");
    }
    assert!(text.contains(&serial(&urls[6])), "{text}");
}

#[test]
fn bad_inspections_are_refused_with_the_field_named() {
    let (app, _, urls) = app_with_printed_stamps(1);
    let cases = [
        (json!({"place": "", "codes": [urls[0]]}), "place"),
        (json!({"place": "Chợ", "codes": []}), "codes"),
        (json!({"place": "Chợ", "photos": ["not base64!"]}), "photos"),
        (
            json!({"place": "Chợ", "photos": [data_encoding::BASE64.encode(b"GIF89a not an image")]}),
            "photos",
        ),
        (
            json!({"place": "Chợ", "codes": [urls[0]], "at": "yesterday"}),
            "at",
        ),
        (
            json!({"place": "Chợ", "codes": [urls[0]], "lat": 10.0}),
            "lat",
        ),
        (
            json!({"place": "Chợ", "codes": [urls[0]], "lat": 91.0, "lon": 0.0}),
            "location",
        ),
    ];
    for (body, field) in cases {
        let r = app.post("/api/v1/inspections", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(field),
            "{body}: {}",
            r.body
        );
    }
    let r = app.post(
        "/api/v1/inspections",
        &json!({"place": "Chợ", "codes": [urls[0]], "extra": 1}),
    );
    assert_eq!((r.status, r.code()), (400, "invalid_json"));
    assert_eq!(
        app.get("/api/v1/inspections").body,
        json!([]),
        "nothing stored"
    );
    assert_eq!(app.get("/api/v1/inspections/99").status, 404);
    assert_eq!(app.get("/api/v1/inspections/1?format=docx").status, 400);
}
