//! Sold at the till (issue 17, part 2): a seller token marks the stamps of
//! the producers it sells for sold; later scans say so; only the same seller
//! undoes a sale, within ten days; many devices scanning a sold stamp raise
//! an alert.

use serde_json::{Value, json};
use tem::domain::{Grant, ProducerId};
use tem::service::tokens;

use crate::api::helpers::TestApp;
use crate::api::scan::{app_with_printed_stamps, path_of, scan_json};

/// A seller token for this shop, selling for these producers (none: all).
fn seller(app: &TestApp, shop: &str, producers: &[i64]) -> String {
    let grant = Grant::seller(shop, producers.iter().map(|p| ProducerId(*p)).collect()).unwrap();
    tokens::create(&*app.store, grant, None, None, "test")
        .unwrap()
        .0
}

fn sell(app: &TestApp, token: &str, path: &str, codes: &[&str]) -> (u16, Value) {
    let r = app.post_with_token(path, &json!({ "codes": codes }), Some(token));
    (r.status, r.body)
}

fn results(body: &Value) -> Vec<&str> {
    body.as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|l| l["result"].as_str().unwrap())
        .collect()
}

/// The producer of the app's one batch.
fn producer_of(app: &TestApp, batch: u32) -> i64 {
    let b = app.get(&format!("/api/v1/batches/{batch}"));
    let product = b.body["product_id"].as_i64().unwrap();
    app.get(&format!("/api/v1/products/{product}")).body["producer_id"]
        .as_i64()
        .unwrap()
}

#[test]
fn a_seller_marks_its_producers_stamps_sold_and_later_scans_say_where() {
    let (app, batch, urls) = app_with_printed_stamps(3);
    let producer = producer_of(&app, batch);
    let shop = seller(&app, "Cửa hàng OCOP Trà Vinh", &[producer]);
    let other_producer = app.create_producer();
    let elsewhere = seller(&app, "Siêu thị khác", &[other_producer]);
    // Issued but not printed, and a forged code.
    app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 1}),
    );
    let unprinted = app.get(&format!("/api/v1/batches/{batch}/stamps")).body[3]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let mut forged = urls[1].clone();
    forged.pop();
    forged.push(if urls[1].ends_with('A') { 'B' } else { 'A' });
    let (status, body) = sell(
        &app,
        &shop,
        "/api/v1/stamps/sold",
        &[&urls[0], &unprinted, &forged],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(results(&body), ["sold", "not-printed", "not-genuine"]);
    assert_eq!(body[0]["shop"], "Cửa hàng OCOP Trà Vinh");
    // A seller for other producers cannot touch these stamps.
    let (_, body) = sell(&app, &elsewhere, "/api/v1/stamps/sold", &[&urls[1]]);
    assert_eq!(results(&body), ["not-yours"]);
    // Selling again changes nothing.
    let (_, again) = sell(&app, &shop, "/api/v1/stamps/sold", &[&urls[0]]);
    assert_eq!(results(&again), ["already-sold"]);

    let j = scan_json(&app, &path_of(&urls[0]), "buyer-phone");
    assert_eq!(j["verdict"], "sold", "{j}");
    assert_eq!(j["sold_by"], "Cửa hàng OCOP Trà Vinh");
    assert!(j["sold_at"].is_string());
    let html = ureq::get(app.url(&path_of(&urls[0])))
        .header("User-Agent", "buyer-phone")
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(html.contains("tại Cửa hàng OCOP Trà Vinh"), "{html}");
    assert_eq!(
        scan_json(&app, &path_of(&urls[2]), "p")["verdict"],
        "genuine"
    );
    let stats = app.get(&format!("/api/v1/batches/{batch}/stats")).body;
    assert_eq!(stats["sold"], 1, "{stats}");
    let report = app.get(&format!("/api/v1/batches/{batch}/report")).body;
    assert_eq!(
        (&report["sold"], &report["claimed"]),
        (&json!(1), &json!(0)),
        "{report}"
    );
    // Only sellers (and admins) mark stamps sold.
    let producer_token = tokens::create(
        &*app.store,
        Grant::new(tem::domain::Role::Producer, Some(ProducerId(producer)), &[]).unwrap(),
        None,
        None,
        "test",
    )
    .unwrap()
    .0;
    let (status, _) = sell(&app, &producer_token, "/api/v1/stamps/sold", &[&urls[2]]);
    assert_eq!(status, 403);
    // A recalled pack is not sold.
    let recall = json!({"reason": "kiểm tra", "notice": "Tạm ngừng", "from": 3, "count": 1});
    assert_eq!(
        app.post(&format!("/api/v1/batches/{batch}/recall"), &recall)
            .status,
        201
    );
    let (_, body) = sell(&app, &shop, "/api/v1/stamps/sold", &[&urls[2]]);
    assert_eq!(results(&body), ["recalled"]);
    // At most 500 codes at once.
    let many: Vec<&str> = std::iter::repeat_n(urls[2].as_str(), 501).collect();
    let (status, body) = sell(&app, &shop, "/api/v1/stamps/sold", &many);
    assert_eq!(status, 400, "{body}");
}

#[test]
fn only_the_same_seller_undoes_a_sale_and_only_within_ten_days() {
    let (app, _, urls) = app_with_printed_stamps(2);
    let shop = seller(&app, "Quầy A", &[]);
    let other = seller(&app, "Quầy B", &[]);
    let (_, body) = sell(&app, &shop, "/api/v1/stamps/sold", &[&urls[0], &urls[1]]);
    assert_eq!(results(&body), ["sold", "sold"]);
    let (_, body) = sell(&app, &other, "/api/v1/stamps/sold/undo", &[&urls[0]]);
    assert_eq!(results(&body), ["other-seller"]);
    let (_, body) = sell(&app, &shop, "/api/v1/stamps/sold/undo", &[&urls[0]]);
    assert_eq!(results(&body), ["undone"]);
    assert_eq!(
        scan_json(&app, &path_of(&urls[0]), "p")["verdict"],
        "genuine"
    );
    let (_, body) = sell(&app, &shop, "/api/v1/stamps/sold/undo", &[&urls[0]]);
    assert_eq!(results(&body), ["not-sold"]);
    // Eleven days later the sale stands.
    app.backdate_sales(11);
    let (_, body) = sell(&app, &shop, "/api/v1/stamps/sold/undo", &[&urls[1]]);
    assert_eq!(results(&body), ["too-late"]);
    assert_eq!(scan_json(&app, &path_of(&urls[1]), "p")["verdict"], "sold");
    // Both changes are in the audit log, with the shop.
    let entries = app.get("/api/v1/audit/entries").body.to_string();
    assert!(
        entries.contains("stamp.sold") && entries.contains("stamp.unsold"),
        "{entries}"
    );
    assert!(entries.contains("Quầy A"), "{entries}");
}

#[test]
fn a_sold_stamp_scanned_from_many_devices_raises_one_alert() {
    let (app, _, urls) = app_with_printed_stamps(1);
    let shop = seller(&app, "Quầy A", &[]);
    let path = path_of(&urls[0]);
    // Scans before the sale (shelf checks) do not count.
    scan_json(&app, &path, "shop-phone");
    // Scan times are kept to the second: the sale comes in a later one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    sell(&app, &shop, "/api/v1/stamps/sold", &[&urls[0]]);
    let alerts = |app: &TestApp| {
        app.get("/api/v1/triage")
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["summary"] == "sold-many-devices")
            .count()
    };
    scan_json(&app, &path, "buyer-phone");
    scan_json(&app, &path, "buyer-tablet");
    assert_eq!(alerts(&app), 0, "one household");
    scan_json(&app, &path, "stranger-1");
    scan_json(&app, &path, "stranger-2");
    assert_eq!(alerts(&app), 1);
}

#[test]
fn sales_reach_the_epcis_export_the_offline_bundle_and_batch_verification() {
    use tem::codes::StampCode;
    let (app, batch, urls) = app_with_printed_stamps(3);
    let shop = seller(&app, "Quầy A", &[]);
    let (_, body) = sell(&app, &shop, "/api/v1/stamps/sold", &[&urls[0], &urls[1]]);
    assert_eq!(results(&body), ["sold", "sold"]);
    let sold: Vec<String> = urls[..2]
        .iter()
        .map(|u| StampCode::parse(u).unwrap().serial.to_string())
        .collect();

    // EPCIS: one retail_selling event naming the two stamps.
    let mut doc = Vec::new();
    tem::service::epcis::write(
        &*app.store,
        tem::domain::BatchId(batch),
        "https://tem.example.vn",
        &mut doc,
    )
    .unwrap();
    let doc: Value = serde_json::from_slice(&doc).unwrap();
    let events = doc["epcisBody"]["eventList"].as_array().unwrap();
    let sale = events
        .iter()
        .find(|e| e["tem:action"] == "sold")
        .expect("a sale event");
    assert_eq!(
        (&sale["action"], &sale["bizStep"], &sale["disposition"]),
        (
            &json!("OBSERVE"),
            &json!("retail_selling"),
            &json!("retail_sold")
        )
    );
    assert_eq!(sale["tem:place"], "Quầy A");
    let epcs: Vec<&str> = sale["epcList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(epcs.len(), 2);
    assert!(
        sold.iter()
            .all(|s| epcs.iter().any(|e| e.ends_with(s.as_str()))),
        "{epcs:?}"
    );

    // The offline kit knows the sale, and its signature holds.
    let keys = tem::codes::KeyRing::open(&app.dir.path().join("keys")).unwrap();
    let bundle = tem::service::bundle::export(
        &*app.store,
        &keys.signer().unwrap(),
        keys.key_set(),
        "https://tem.example.vn",
        &[],
    )
    .unwrap();
    let text = serde_json::to_string(&bundle).unwrap();
    let opened = tem::service::bundle::Bundle::open(&text, &keys.key_set()).unwrap();
    let today = jiff::Zoned::now().date();
    let checker = tem::service::bundle::OfflineChecker::new(&opened, today);
    let v = checker.check(&urls[0]);
    assert_eq!((v.verdict.as_str(), v.notice), ("sold", Some("Quầy A")));
    assert_eq!(checker.check(&urls[2]).verdict.as_str(), "genuine");

    // Verification agrees with the log; a sale written behind tem's back,
    // or one deleted, is tampering.
    let verify = |app: &TestApp| {
        app.post(&format!("/api/v1/batches/{batch}/verification"), &json!({}))
            .body
    };
    let r = verify(&app);
    assert_eq!(r["report"]["log"]["altered_sales"], 0, "{r}");
    let forged = StampCode::parse(&urls[2]).unwrap().serial.0 as i64;
    app.execute_sql(&format!(
        "INSERT INTO sales (serial, batch_id, seq, sold_at, seller, shop) VALUES ({forged}, {batch}, 3, '2026-12-01T00:00:00Z', 'x', 'x');
         DELETE FROM sales WHERE seq = 1;"
    ));
    let r = verify(&app);
    assert_eq!(r["report"]["verdict"], "compromised", "{r}");
    assert_eq!(r["report"]["log"]["altered_sales"], 2, "{r}");
    let text = r["report"]["findings"].to_string();
    assert!(
        text.contains("altered-sale")
            && text.contains("behind tem's back")
            && text.contains("removed"),
        "{text}"
    );
}

#[test]
fn the_till_page_sells_a_typed_short_code_and_the_stamps_in_a_photo() {
    use crate::api::dashboard::{Visitor, hidden};
    let (app, batch, urls) = app_with_printed_stamps(4);
    let token = seller(&app, "Quầy A", &[]);
    let mut v = Visitor::new(&app);
    assert_eq!(v.sign_in(&token).status, 303);
    // A shop's phone opens at the till, and sees nothing else.
    let start = v.get("/app");
    assert_eq!(
        (start.status, start.location.as_deref()),
        (303, Some("/app/sell"))
    );
    assert_eq!(v.get(&format!("/app/batches/{batch}")).status, 403);
    let csrf = hidden(&v.get("/app/sell").body, "csrf");
    // The short code typed from the label.
    let short = app.get(&format!("/api/v1/batches/{batch}/stamps")).body[3]["short_code"]
        .as_str()
        .unwrap()
        .to_string();
    let p = v.post_multipart(
        "/app/sell",
        &[("csrf", &csrf), ("codes", &short), ("action", "sell")],
        &[],
    );
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(
        p.body.matches("data-result=\"sold\"").count(),
        1,
        "{}",
        p.body
    );
    // A photo of three stamps (a sheet page, as a phone's camera sees a carton).
    let (status, _, png) = crate::api::sheets::get_bytes(
        &app,
        &format!("/api/v1/batches/{batch}/sheet.png?from=1&count=3&dpi=300"),
    );
    assert_eq!(status, 200);
    let p = v.post_multipart(
        "/app/sell",
        &[("csrf", &csrf), ("action", "sell")],
        &[("photos", "quay.png", &png)],
    );
    assert_eq!(
        p.body.matches("data-result=\"sold\"").count(),
        3,
        "{}",
        p.body
    );
    for url in &urls {
        assert_eq!(scan_json(&app, &path_of(url), "p")["verdict"], "sold");
    }
    // Undone by mistake, from the same page.
    let p = v.post_multipart(
        "/app/sell",
        &[("csrf", &csrf), ("codes", &urls[0]), ("action", "undo")],
        &[],
    );
    assert!(p.body.contains("data-result=\"undone\""), "{}", p.body);
    assert_eq!(
        scan_json(&app, &path_of(&urls[0]), "p")["verdict"],
        "genuine"
    );
    // A photo with no stamp in it is refused, naming it; nothing changes.
    let before = app.db_fingerprint();
    let p = v.post_multipart(
        "/app/sell",
        &[("csrf", &csrf), ("action", "sell")],
        &[("photos", "blank.png", &blank_png())],
    );
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains("blank.png"), "{}", p.body);
    assert_eq!(app.db_fingerprint(), before);
    // Without the page's CSRF token, nothing is sold.
    let p = v.post_multipart(
        "/app/sell",
        &[("csrf", "x"), ("codes", &urls[0]), ("action", "sell")],
        &[],
    );
    assert_eq!(p.status, 403);
}

fn blank_png() -> Vec<u8> {
    let img = image::GrayImage::from_pixel(200, 200, image::Luma([255]));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}
