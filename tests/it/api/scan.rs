//! The stamp URL through the real server: every verdict as HTML and JSON,
//! repeat scans, escaping, exact counting under concurrency, limits.

use serde_json::{Value, json};
use tem::codes::keyring::{KeySet, KeyStatus, PublicKeyEntry};
use tem::codes::{KeyRing, Signer, StampCode};
use tem::config::ScanSettings;
use tem::domain::{BatchId, Serial};

use crate::api::helpers::{TestApp, spawn_app, spawn_app_full};

/// A secret whose key the test apps list as revoked.
const REVOKED_SECRET: [u8; 32] = [7; 32];

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// GETs a stamp URL path as a phone would (HTML) and as a program (JSON).
fn scan_html(app: &TestApp, path: &str, ua: &str) -> (u16, String) {
    let mut r = agent()
        .get(app.url(path))
        .header("User-Agent", ua)
        .call()
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

pub(crate) fn scan_json(app: &TestApp, path: &str, ua: &str) -> Value {
    let mut r = agent()
        .get(app.url(path))
        .header("User-Agent", ua)
        .header("Accept", "application/json")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

fn verdict_of(html: &str) -> String {
    let at = html.find("data-verdict=\"").expect("verdict attribute") + 14;
    html[at..].split('"').next().unwrap().to_string()
}

pub(crate) fn path_of(url: &str) -> String {
    format!("/{}", url.rsplit('/').next().unwrap())
}

/// An app with one printed, unexpired batch; returns it, the batch id and its stamp URLs.
pub(crate) fn app_with_printed_stamps(count: u64) -> (TestApp, u32, Vec<String>) {
    let app = spawn_app_full(
        true,
        &ScanSettings {
            rate_per_minute: 0,
            ..ScanSettings::default()
        },
        |keys| {
            // List a known key as revoked, to reach the revoked-key verdict.
            let path = keys.join("keyring.json");
            let mut set: KeySet =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            set.keys.push(PublicKeyEntry::new(
                Signer::from_secret(REVOKED_SECRET).public_key(),
                KeyStatus::Revoked,
            ));
            std::fs::write(&path, serde_json::to_string(&set).unwrap()).unwrap();
        },
    );
    let producer = app.create_producer();
    let product = app.create_product(producer);
    let r = app.post(
        &format!("/api/v1/products/{product}/batches"),
        &json!({"lot_code": "L-2026", "production_date": "2026-11-01", "shelf_life_days": 3650, "quantity": 100}),
    );
    let batch = r.body["id"].as_u64().unwrap() as u32;
    app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": count}),
    );
    let (status, _, _) = {
        let mut resp = agent()
            .get(app.url(&format!("/api/v1/batches/{batch}/sheet.csv")))
            .header(
                "Authorization",
                format!("Bearer {}", crate::api::helpers::TOKEN),
            )
            .call()
            .unwrap();
        let s = resp.status().as_u16();
        (s, (), resp.body_mut().read_to_string().unwrap())
    };
    assert_eq!(status, 200);
    let urls = app
        .get(&format!("/api/v1/batches/{batch}/stamps?limit=1000"))
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap().to_string())
        .collect();
    (app, batch, urls)
}

pub(crate) const PHONE: &str = "Mozilla/5.0 (Linux; Android 12; SM-A125F) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36 Zalo android/12";

#[test]
fn each_verdict_is_reached_through_the_server_as_html_and_json() {
    let (app, batch, urls) = app_with_printed_stamps(6);
    let signer = KeyRing::open(&app.dir.path().join("keys"))
        .unwrap()
        .signer()
        .unwrap();
    let mut cases: Vec<(String, &str)> = Vec::new();
    cases.push((path_of(&urls[0]), "genuine"));
    // Recall stamps 2–2, void stamp 3.
    assert_eq!(app.post(&format!("/api/v1/batches/{batch}/recall"), &json!({"reason": "Nhiễm khuẩn", "notice": "Ngừng sử dụng lô L-2026", "from": 2, "count": 1})).status, 201);
    cases.push((path_of(&urls[1]), "recalled"));
    assert_eq!(
        app.post(
            &format!("/api/v1/batches/{batch}/void"),
            &json!({"from": 3, "count": 1, "reason": "in hỏng"})
        )
        .body["voided"],
        1
    );
    cases.push((path_of(&urls[2]), "voided"));
    // Issued but not printed.
    app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 1}),
    );
    let unprinted = app
        .get(&format!("/api/v1/batches/{batch}/stamps?from=7"))
        .body[0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    cases.push((path_of(&unprinted), "not-printed"));
    // Signed by our key, never issued.
    cases.push((
        format!("/{}", signer.sign(Serial(42), BatchId(batch)).to_digits()),
        "unknown-serial",
    ));
    // One digit changed.
    let mut forged = path_of(&urls[3]);
    let last = forged.pop().unwrap();
    forged.push(if last == '1' { '2' } else { '1' });
    cases.push((forged, "forged"));
    cases.push((
        format!(
            "/{}",
            Signer::from_secret([99; 32])
                .sign(Serial(1), BatchId(batch))
                .to_digits()
        ),
        "unknown-key",
    ));
    cases.push((
        format!(
            "/{}",
            Signer::from_secret(REVOKED_SECRET)
                .sign(Serial(5), BatchId(batch))
                .to_digits()
        ),
        "revoked-key",
    ));
    cases.push(("/12345".into(), "malformed"));
    cases.push((format!("/{}", "9".repeat(1000)), "malformed"));

    for (path, expected) in &cases {
        let (status, html) = scan_html(&app, path, PHONE);
        assert_eq!(status, 200, "{path}");
        assert_eq!(verdict_of(&html), *expected, "HTML for {expected}");
        let json = scan_json(&app, path, PHONE);
        assert_eq!(json["verdict"], *expected, "JSON for {expected}: {json}");
        for field in ["verdict", "serial", "scan_count"] {
            assert!(json.get(field).is_some(), "JSON lacks {field}");
        }
    }
    // Genuine pages carry what Circular 02/2024 lists.
    let (_, html) = scan_html(&app, &path_of(&urls[0]), PHONE);
    for text in [
        "Tem chính hãng",
        "Gạo thơm Dân Tiến",
        "Hợp tác xã nông nghiệp Dân Tiến",
        "Dân Thành, Trà Vinh",
        "L-2026",
        "Số sê-ri",
        "Đã quét",
    ] {
        assert!(html.contains(text), "page lacks {text}");
    }
    let json = scan_json(&app, &path_of(&urls[0]), PHONE);
    assert_eq!(json["product"]["name"], "Gạo thơm Dân Tiến");
    assert_eq!(json["producer"]["province"], "Trà Vinh");
    assert_eq!(json["batch"]["lot_code"], "L-2026");
    // The recalled page shows the notice.
    let (_, html) = scan_html(&app, &path_of(&urls[1]), PHONE);
    assert!(html.contains("Ngừng sử dụng lô L-2026"));
    // English on request.
    let (_, html) = scan_html(&app, &format!("{}?lang=en", path_of(&urls[4])), PHONE);
    assert!(html.contains("Genuine stamp") && html.contains("lang=\"en\""));
    let mut r = agent()
        .get(app.url(&path_of(&urls[4])))
        .header("Accept-Language", "en-US,en;q=0.9")
        .call()
        .unwrap();
    assert!(
        r.body_mut()
            .read_to_string()
            .unwrap()
            .contains("Genuine stamp")
    );
    // The JSON API path answers the same.
    let mut r = agent()
        .get(app.url(&format!("/api/v1/verify{}", path_of(&urls[4]))))
        .call()
        .unwrap();
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(v["verdict"], "genuine");
}

#[test]
fn repeat_scans_warn_by_the_rules() {
    let (app, _, urls) = app_with_printed_stamps(3);
    let path = path_of(&urls[0]);
    // The buyer scans twice on one phone: fine.
    for n in 1..=2 {
        let j = scan_json(&app, &path, PHONE);
        assert_eq!(
            (j["verdict"].as_str(), j["scan_count"].as_u64()),
            (Some("genuine"), Some(n))
        );
        assert!(j["warning"].is_null(), "{j}");
    }
    // A third scan within 24 hours: still genuine, with the repeat warning.
    let j = scan_json(&app, &path, PHONE);
    assert_eq!(j["verdict"], "genuine");
    assert_eq!(j["warning"]["code"], "repeat-scan");
    assert!(
        j["warning"]["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("many-scans-in-a-day"))
    );
    let (_, html) = scan_html(&app, &path, PHONE);
    assert!(
        html.contains("class=\"verdict warn\"") && html.contains("Cảnh báo"),
        "repeat warning not shown"
    );
    // Three devices on another stamp.
    let other = path_of(&urls[1]);
    for (i, ua) in ["phone-a", "phone-b", "phone-c"].iter().enumerate() {
        let j = scan_json(&app, &other, ua);
        assert_eq!(j["warning"].is_null(), i < 2, "{j}");
    }
}

#[test]
fn producer_text_is_escaped_on_the_page() {
    let app = spawn_app();
    let r = app.post("/api/v1/producers", &json!({"kind": "household", "name": "<img src=x onerror=alert(1)>", "commune": "X", "province": "Y"}));
    let producer = r.body["id"].as_i64().unwrap();
    let r = app.post("/api/v1/products", &json!({"producer_id": producer, "name": "<script>alert(1)</script>", "description": "\"><b>bold</b>"}));
    let product = r.body["id"].as_i64().unwrap();
    let batch = app.create_batch(product, "X-1");
    app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 1}),
    );
    let url = app.get(&format!("/api/v1/batches/{batch}/stamps")).body[0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, html) = scan_html(&app, &path_of(&url), PHONE);
    // Shown as text (askama writes &#60; for <), never as markup.
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img src=x"));
    assert!(!html.contains("<b>bold</b>"));
}

#[test]
fn concurrent_scans_are_counted_exactly() {
    let (app, _, urls) = app_with_printed_stamps(1);
    let app = std::sync::Arc::new(app);
    let path = path_of(&urls[0]);
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (app, path) = (app.clone(), path.clone());
            std::thread::spawn(move || {
                let agent = agent();
                for _ in 0..500 {
                    let r = agent
                        .get(app.url(&path))
                        .header("User-Agent", format!("client-{i}"))
                        .header("Accept", "application/json")
                        .call()
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let j = scan_json(&app, &path, PHONE);
    assert_eq!(j["scan_count"], 4001);
}

#[test]
fn pages_are_small_safe_and_self_contained() {
    let (app, _, urls) = app_with_printed_stamps(1);
    let mut r = agent().get(app.url(&path_of(&urls[0]))).call().unwrap();
    let headers = r.headers().clone();
    let html = r.body_mut().read_to_string().unwrap();
    let csp = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe-inline")
    );
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
    let mut css = agent().get(app.url("/static/tem.css")).call().unwrap();
    let css = css.body_mut().read_to_string().unwrap();
    assert!(
        html.len() + css.len() < 60 * 1024,
        "page and CSS are {} bytes",
        html.len() + css.len()
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page must not load anything from elsewhere"
    );
    assert!(!html.contains("<script>"), "no inline script");
    assert!(html.contains("name=\"viewport\""));
}

#[test]
fn consumers_can_report_and_share_a_location() {
    let (app, _, urls) = app_with_printed_stamps(1);
    let path = path_of(&urls[0]);
    let mut r = agent()
        .post(app.url(&format!("{path}/report")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("kind=fake&place=Ch%E1%BB%A3+C%C3%A0ng+Long&message=bao+b%C3%AC+kh%C3%A1c")
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.body_mut().read_to_string().unwrap().contains("Cảm ơn"));
    let bad = agent()
        .post(app.url(&format!("{path}/report")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("kind=spam")
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);

    let (_, html) = scan_html(&app, &path, PHONE);
    let grab = |name: &str| {
        let at = html.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        html[at..].split('"').next().unwrap().to_string()
    };
    let (scan, token) = (grab("data-scan"), grab("data-token"));
    let ok = agent()
        .post(app.url("/api/v1/scans/location"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(format!("scan={scan}&token={token}&lat=9.935&lon=106.345"))
        .unwrap();
    assert_eq!(ok.status().as_u16(), 204);
    let forged = agent()
        .post(app.url("/api/v1/scans/location"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(format!("scan={scan}&token=0000&lat=9.9&lon=106.3"))
        .unwrap();
    assert_eq!(forged.status().as_u16(), 404);
    // A malformed or JSON body gets the JSON error envelope, not actix's
    // plain-text error.
    for (content_type, body, code) in [
        (
            "application/x-www-form-urlencoded",
            "scan=x&lat=north".to_string(),
            "invalid_form",
        ),
        (
            "application/json",
            format!("{{\"scan\": {scan}}}"),
            "unsupported_media_type",
        ),
    ] {
        let r = app.post_raw("/api/v1/scans/location", content_type, body.as_bytes());
        assert_eq!(
            (r.status, r.code()),
            (400, code),
            "{content_type}: {}",
            r.body
        );
    }
}

/// A phone over the limit gets a page in its language with a link to scan
/// again, not the JSON error a program gets.
#[test]
fn a_phone_over_the_scan_limit_gets_a_page_to_try_again() {
    let app = spawn_app_full(
        true,
        &ScanSettings {
            rate_per_minute: 2,
            ..ScanSettings::default()
        },
        |_| (),
    );
    let path = "/1234";
    let over = (0..10)
        .map(|_| {
            let mut r = agent()
                .get(app.url(path))
                .header("User-Agent", PHONE)
                .call()
                .unwrap();
            let retry = r
                .headers()
                .get("Retry-After")
                .map(|v| v.to_str().unwrap().to_string());
            let html = r.body_mut().read_to_string().unwrap();
            (r.status().as_u16(), retry, html)
        })
        .find(|(status, _, _)| *status == 429)
        .expect("the limit of 2 a minute answered 429 within 10 scans");
    assert_eq!(over.1.as_deref(), Some("60"));
    assert!(over.2.contains("Quá nhiều lượt quét"), "{}", over.2);
    assert!(over.2.contains(&format!("href=\"{path}\"")), "{}", over.2);
    assert!(over.2.starts_with("<!doctype html>"), "{}", over.2);
}

#[test]
fn scans_are_rate_limited_per_network() {
    let app = spawn_app_full(
        true,
        &ScanSettings {
            rate_per_minute: 5,
            ..ScanSettings::default()
        },
        |_| (),
    );
    // The limit counts per minute (fixed windows, shared by the nodes): seven
    // requests that straddle a minute boundary are two windows, so such a
    // round is played again (on a slow machine it happens).
    let minute = || jiff::Timestamp::now().as_second() / 60;
    let statuses = loop {
        let started = minute();
        let statuses: Vec<u16> = (0..7)
            .map(|_| {
                agent()
                    .get(app.url("/api/v1/verify/123"))
                    .call()
                    .unwrap()
                    .status()
                    .as_u16()
            })
            .collect();
        if minute() == started {
            break statuses;
        }
        // A new window: wait for it to be clean of this round's requests.
        std::thread::sleep(std::time::Duration::from_secs(
            61 - (jiff::Timestamp::now().as_second() % 60) as u64,
        ));
    };
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429]);
}

#[test]
fn the_code_parser_never_panics_on_arbitrary_input() {
    use proptest::prelude::*;
    let mut runner =
        proptest::test_runner::TestRunner::new(proptest::test_runner::Config::with_cases(2000));
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..600), |bytes| {
            let text = String::from_utf8_lossy(&bytes);
            let _ = StampCode::parse(&text);
            Ok(())
        })
        .unwrap();
    runner
        .run(&"[0-9]{180,200}", |digits| {
            let _ = StampCode::parse(&digits);
            Ok(())
        })
        .unwrap();
}

#[test]
fn statistics_count_scans_per_province_from_shared_locations() {
    let (app, batch, urls) = app_with_printed_stamps(3);
    let share = |path: &str, ua: &str, at: Option<(f64, f64)>| {
        let (_, html) = scan_html(&app, path, ua);
        let grab = |name: &str| {
            let at = html.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            html[at..].split('"').next().unwrap().to_string()
        };
        if let Some((lat, lon)) = at {
            let r = agent()
                .post(app.url("/api/v1/scans/location"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(format!(
                    "scan={}&token={}&lat={lat}&lon={lon}",
                    grab("data-scan"),
                    grab("data-token")
                ))
                .unwrap();
            assert_eq!(r.status().as_u16(), 204);
        }
    };
    // Two in Trà Vinh (Vĩnh Long province since 2025), one in Hà Nội, one in
    // Bangkok (no province), one without a location.
    share(&path_of(&urls[0]), "phone-1", Some((9.9347, 106.3453)));
    share(&path_of(&urls[1]), "phone-2", Some((9.9513, 106.3346)));
    share(&path_of(&urls[2]), "phone-3", Some((21.0287, 105.8524)));
    share(&path_of(&urls[0]), "phone-4", Some((13.7563, 100.5018)));
    share(&path_of(&urls[1]), "phone-5", None);
    let stats = app.get(&format!("/api/v1/batches/{batch}/stats")).body;
    assert_eq!(stats["scans"]["scans"], 5);
    assert_eq!(stats["located_scans"], 4);
    assert_eq!(
        stats["scans_by_province"],
        json!([
            {"province": "Tỉnh Vĩnh Long", "scans": 2},
            {"province": "Thành phố Hà Nội", "scans": 1},
        ])
    );
}
