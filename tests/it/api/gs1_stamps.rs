//! Stamps printed in GS1 form (`"gs1": true` at issuance): a GS1 Digital
//! Link URI with the product's GTIN and the stamp's serial, the rest of the
//! code in `?s=`. GS1's toolkit reads the URI; tem scans it as the stamp it
//! is; the printed symbol decodes (zbarimg) to exactly that URI; a GTIN
//! changed on the way is not vouched for; layouts too small for the larger
//! symbol are refused with the ones that fit.

use serde_json::{Value, json};

use super::helpers::{TestApp, spawn_app};
use crate::common::{label_crop, rasterise, zbar_each};

const GTIN13: &str = "8938505974194";

/// A product with a GTIN and a batch of it; the batch id.
fn batch_with_gtin(app: &TestApp, gtin: &str, lot: &str) -> u32 {
    let producer = app.create_producer();
    let r = app.post(
        "/api/v1/products",
        &json!({"producer_id": producer, "name": "Mật ong bạc hà", "gtin": gtin}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app.post(
        &format!("/api/v1/products/{}/batches", r.body["id"]),
        &json!({"lot_code": lot, "production_date": "2026-11-01", "shelf_life_days": 720, "quantity": 100}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_u64().unwrap() as u32
}

fn issue_gs1(app: &TestApp, batch: u32, count: u32) -> Vec<String> {
    let r = app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": count, "gs1": true}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["form"], "gs1");
    assert_eq!(r.body["qr_version"], 8);
    let first = r.body["first_seq"].as_u64().unwrap();
    // Printed (a CSV print file), so that scans can be genuine.
    let printed = app.get(&format!(
        "/api/v1/batches/{batch}/sheet.csv?from={first}&count={count}"
    ));
    assert_eq!(printed.status, 200, "{}", printed.body);
    let list = app.get(&format!("/api/v1/batches/{batch}/stamps?limit=100"));
    let list = list.body.get("stamps").unwrap_or(&list.body).clone();
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap().to_string())
        .collect()
}

/// The JSON answer to a phone opening `url` (its path and query on the
/// test server), without following redirects.
fn open(app: &TestApp, url: &str) -> (u16, Value) {
    let path = url.strip_prefix("https://tem.example.vn").unwrap();
    let mut resp = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
        .get(app.url(path))
        .header("Accept", "application/json")
        .call()
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn gs1_form_stamps_are_digital_links_gs1_reads_and_scan_as_genuine() {
    let app = spawn_app();
    let batch = batch_with_gtin(&app, GTIN13, "MO-2026/11");
    let urls = issue_gs1(&app, batch, 3);
    for url in &urls {
        assert!(
            url.starts_with("https://tem.example.vn/01/08938505974194/21/") && url.contains("?s=1"),
            "{url}"
        );
    }
    // GS1's own toolkit reads each as a valid Digital Link URI.
    assert_eq!(super::gs1::gs1_toolkit("validate", &urls), ["valid"; 3]);
    // A phone opening one gets the stamp's verdict, and the scan counts.
    let (status, first) = open(&app, &urls[0]);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["verdict"], "genuine", "{first}");
    assert_eq!(first["scan_count"], 1);
    assert_eq!(open(&app, &urls[0]).1["scan_count"], 2);
    // Without its signature the URI is an identifier only: the resolver.
    let bare = urls[1].split('?').next().unwrap();
    let (status, set) = open(&app, bare);
    assert_eq!(status, 200, "{set}");
    assert!(set["linkset"][0]["anchor"].is_string(), "a link set: {set}");
    // The same stamp typed as tem's own form is the same stamp.
    let code = tem::codes::StampCode::parse(&urls[2]).unwrap();
    let (_, own) = open(&app, &code.url("https://tem.example.vn"));
    assert_eq!(own["verdict"], "genuine", "{own}");
}

/// The GTIN is not under the signature: a URL whose GTIN was changed (to
/// another product's, on another of its labels) is not vouched for.
#[test]
fn a_gs1_stamp_with_another_gtin_is_not_genuine() {
    let app = spawn_app();
    let batch = batch_with_gtin(&app, GTIN13, "MO-1");
    let urls = issue_gs1(&app, batch, 1);
    batch_with_gtin(&app, "8934588012228", "OTHER-1");
    let moved = urls[0].replace("08938505974194", "08934588012228");
    let (status, body) = open(&app, &moved);
    assert_eq!(status, 200, "{body}");
    // As a code the registry did not issue: not found, and an alert for
    // inspectors.
    assert_eq!(body["verdict"], "unknown-serial", "{body}");
    let triage = app.get("/api/v1/triage").body.to_string();
    assert!(triage.contains("registry-mismatch"), "{triage}");
    assert_eq!(open(&app, &urls[0]).1["verdict"], "genuine");
    // Inspectors and tills hold it to the same rule.
    let r = app.post(
        "/api/v1/inspections",
        &json!({"place": "Chợ Trà Vinh", "province": "Trà Vinh", "codes": [moved, urls[0]]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let verdicts: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.body))
        .iter()
        .map(|s| s["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["unknown-serial", "genuine"], "{}", r.body);
    let r = app.post("/api/v1/stamps/sold", &json!({"codes": [moved]}));
    assert_eq!(r.body[0]["result"], "not-registered", "{}", r.body);
}

#[test]
fn the_gs1_form_needs_a_gtin() {
    let app = spawn_app();
    let batch = app.batch();
    let r = app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 1, "gs1": true}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "gs1");
    assert_eq!(
        app.get(&format!("/api/v1/batches/{batch}")).body["stamps"]["issued"],
        0
    );
}

/// Printed on the A4 65-up sheet the symbol (version 8) has 0.34 mm
/// modules and every label decodes to its stamp's URL; at level Q it would
/// fall under 0.33 mm, which is refused with the layouts that fit (tem's
/// own form still fits there).
#[test]
fn gs1_sheets_decode_to_their_urls_and_too_small_layouts_are_refused() {
    let app = spawn_app();
    let batch = batch_with_gtin(&app, GTIN13, "MO-SHEET");
    let urls = issue_gs1(&app, batch, 10);
    let (status, _, pdf) = super::sheets::get_bytes(
        &app,
        &format!("/api/v1/batches/{batch}/sheet.pdf?layout=a4-65&ec=Q&from=1&count=10"),
    );
    let refusal: Value = serde_json::from_slice(&pdf).unwrap_or(Value::Null);
    assert_eq!(status, 400, "{refusal}");
    let message = refusal["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("0.33") && message.contains("a4-21"),
        "{message}"
    );
    let (status, _, pdf) = super::sheets::get_bytes(
        &app,
        &format!("/api/v1/batches/{batch}/sheet.pdf?layout=a4-65&from=1&count=10"),
    );
    assert_eq!(status, 200);
    let path = app.dir.path().join("gs1.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let layout = tem::render::layout::Layout::builtin("a4-65").unwrap();
    let pages = rasterise(&path, 300);
    let crops: Vec<_> = (0..10u32)
        .map(|i| label_crop(&pages[0], &layout, i, 300))
        .collect();
    assert_eq!(zbar_each(&crops, app.dir.path()), urls);
    // tem's own form of another batch fits a4-65 at level Q.
    let own = app.batch();
    app.post(
        &format!("/api/v1/batches/{own}/stamps"),
        &json!({"count": 1}),
    );
    let (status, _, _) = super::sheets::get_bytes(
        &app,
        &format!("/api/v1/batches/{own}/sheet.pdf?layout=a4-65&ec=Q&from=1&count=1"),
    );
    assert_eq!(status, 200);
}
