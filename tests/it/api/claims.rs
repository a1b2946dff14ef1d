//! Claim codes through the server (issue 17, part 1): the first right code
//! claims a stamp; wrong codes lock a stamp at five and a network at twenty
//! an hour; a database copy holds no claim code.

use serde_json::{Value, json};
use tem::codes::StampCode;
use tem::codes::claim::ClaimKey;
use tem::config::ScanSettings;

use crate::api::helpers::{TestApp, spawn_app_full};

/// An app with one batch of `count` stamps issued with claim codes, and one
/// stamp issued without; returns it and the stamps' URLs (the plain one last).
pub(super) fn app_with_claim_stamps(count: u64) -> (TestApp, Vec<String>) {
    let app = spawn_app_full(
        true,
        &ScanSettings {
            rate_per_minute: 0,
            ..ScanSettings::default()
        },
        |_| {},
    );
    let producer = app.create_producer();
    let product = app.create_product(producer);
    let r = app.post(
        &format!("/api/v1/products/{product}/batches"),
        &json!({"lot_code": "C-1", "production_date": "2026-11-01", "quantity": 100}),
    );
    let batch = r.body["id"].as_u64().unwrap();
    let issued = app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": count, "claim_codes": true}),
    );
    assert_eq!(issued.status, 201, "{}", issued.body);
    let plain = app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 1}),
    );
    assert_eq!(plain.status, 201);
    let urls = app
        .get(&format!("/api/v1/batches/{batch}/stamps?limit=1000"))
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap().to_string())
        .collect();
    (app, urls)
}

/// The claim code printed under the panel of the stamp at `url`.
pub(super) fn claim_code(app: &TestApp, url: &str) -> String {
    let code = StampCode::parse(url).unwrap();
    let key = ClaimKey::open(&app.dir.path().join("keys"))
        .unwrap()
        .unwrap();
    key.code(code.serial, code.batch).grouped()
}

pub(super) fn claim(app: &TestApp, url: &str, typed: &str) -> (u16, Value) {
    let r = app.post_with_token(
        "/api/v1/claims",
        &json!({"code": url, "claim_code": typed}),
        None,
    );
    (r.status, r.body)
}

/// A code of the right shape (its check digit holds) that is not the stamp's.
fn wrong_code(right: &str) -> String {
    let digits: String = right.chars().filter(char::is_ascii_digit).collect();
    (0..10u8)
        .map(|d| {
            let mut c: Vec<u8> = digits.bytes().collect();
            c[0] = b'0' + (c[0] - b'0' + 1 + d) % 10;
            String::from_utf8(c).unwrap()
        })
        .find_map(|candidate| {
            // Fix the check digit by trying each last digit.
            (0..10u8).find_map(|last| {
                let mut c = candidate.clone().into_bytes();
                *c.last_mut().unwrap() = b'0' + last;
                let c = String::from_utf8(c).unwrap();
                (tem::codes::claim::ClaimCode::parse(&c).is_some() && c != digits).then_some(c)
            })
        })
        .unwrap()
}

#[test]
fn the_first_right_code_claims_the_stamp_and_only_once() {
    let (app, urls) = app_with_claim_stamps(3);
    let right = claim_code(&app, &urls[0]);
    let (status, body) = claim(&app, &urls[0], &wrong_code(&right));
    assert_eq!(
        (status, body["result"].as_str()),
        (200, Some("wrong-code")),
        "{body}"
    );
    assert_eq!(body["tries_left"], 4);
    let (status, body) = claim(&app, &urls[0], &right);
    assert_eq!(
        (status, body["result"].as_str()),
        (200, Some("claimed")),
        "{body}"
    );
    let claimed_at = body["claimed_at"].as_str().unwrap().to_string();
    // Again, with the right code or any other: claimed before, and when.
    for typed in [right.clone(), wrong_code(&right)] {
        let (_, body) = claim(&app, &urls[0], &typed);
        assert_eq!(body["result"], "already-claimed", "{body}");
        assert_eq!(body["claimed_at"], claimed_at.as_str());
    }
    // Another stamp's code does not claim this one.
    let (_, body) = claim(&app, &urls[1], &claim_code(&app, &urls[2]));
    assert_eq!(body["result"], "wrong-code", "{body}");
    // The claim is in the audit log.
    let entries = app.get("/api/v1/audit/entries?limit=1000").body;
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "stamp.claim"),
        "{entries}"
    );
}

#[test]
fn five_wrong_codes_lock_a_stamp_and_twenty_lock_a_network() {
    let (app, urls) = app_with_claim_stamps(6);
    let right = claim_code(&app, &urls[0]);
    for left in (1..=4).rev() {
        let (_, body) = claim(&app, &urls[0], &wrong_code(&right));
        assert_eq!(body["tries_left"], left, "{body}");
    }
    let (_, body) = claim(&app, &urls[0], &wrong_code(&right));
    assert_eq!(
        body["result"], "locked",
        "the fifth wrong code locks: {body}"
    );
    let (_, body) = claim(&app, &urls[0], &right);
    assert_eq!(body["result"], "locked", "even the right code now: {body}");
    // The producer lifts the lock (the buyer asked): the right code claims.
    let batch = tem::codes::StampCode::parse(&urls[0]).unwrap().batch.0;
    let r = app.post(
        &format!("/api/v1/batches/{batch}/claims/unlock"),
        &json!({"seq": 1}),
    );
    assert_eq!((r.status, &r.body), (200, &json!({"unlocked": true})));
    let (_, body) = claim(&app, &urls[0], &right);
    assert_eq!(body["result"], "claimed", "{body}");
    // Fifteen more wrong codes over three other stamps: twenty from this
    // network this hour; then even a right code for a fresh stamp waits.
    for url in &urls[1..4] {
        let right = claim_code(&app, url);
        for _ in 0..4 {
            assert_eq!(
                claim(&app, url, &wrong_code(&right)).1["result"],
                "wrong-code"
            );
        }
    }
    let right4 = claim_code(&app, &urls[4]);
    for _ in 0..3 {
        assert_eq!(
            claim(&app, &urls[4], &wrong_code(&right4)).1["result"],
            "wrong-code"
        );
    }
    let right5 = claim_code(&app, &urls[5]);
    let (_, body) = claim(&app, &urls[5], &right5);
    assert_eq!(
        body["result"], "locked",
        "the network is out of tries: {body}"
    );
}

#[test]
fn only_genuine_claim_stamps_can_be_claimed() {
    let (app, urls) = app_with_claim_stamps(1);
    let right = claim_code(&app, &urls[0]);
    // A forged code (its signature broken): no such stamp.
    let mut forged = urls[0].clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '1' { '2' } else { '1' });
    let (status, body) = claim(&app, &forged, &right);
    assert_eq!(status, 404, "{body}");
    // A stamp issued without a claim code.
    let (status, body) = claim(&app, urls.last().unwrap(), &right);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    // Malformed input is a wrong code, not an error.
    let (status, body) = claim(&app, &urls[0], "not a code");
    assert_eq!(
        (status, body["result"].as_str()),
        (200, Some("wrong-code")),
        "{body}"
    );
}

#[test]
fn a_copy_of_the_database_holds_no_claim_code() {
    let (app, urls) = app_with_claim_stamps(5);
    let db = std::fs::read(app.dir.path().join("tem.db")).unwrap_or_default();
    let wal = std::fs::read(app.dir.path().join("tem.db-wal")).unwrap_or_default();
    for url in &urls[..5] {
        let code = claim_code(&app, url);
        let digits: String = code.chars().filter(char::is_ascii_digit).collect();
        for bytes in [&db, &wal] {
            assert!(
                !bytes.windows(digits.len()).any(|w| w == digits.as_bytes()),
                "claim code {code} found in the database files"
            );
        }
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(app.dir.path().join("keys/claim.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn later_scans_of_a_claimed_stamp_say_so() {
    use crate::api::scan::{PHONE, path_of, scan_json};
    let (app, urls) = app_with_claim_stamps(2);
    // Sheets are printed and the stamps scanned before the sale: genuine.
    let batch = StampCode::parse(&urls[0]).unwrap().batch.0;
    let sheet = app.get(&format!("/api/v1/batches/{batch}/sheet.csv"));
    assert_eq!(sheet.status, 200);
    assert_eq!(
        scan_json(&app, &path_of(&urls[0]), PHONE)["verdict"],
        "genuine"
    );
    let (_, body) = claim(&app, &urls[0], &claim_code(&app, &urls[0]));
    assert_eq!(body["result"], "claimed");
    // Whoever scans it now learns it was claimed, and when.
    let j = scan_json(&app, &path_of(&urls[0]), "another-phone");
    assert_eq!(j["verdict"], "claimed", "{j}");
    assert_eq!(j["claimed_at"], body["claimed_at"], "{j}");
    let mut r = ureq::get(app.url(&path_of(&urls[0])))
        .header("User-Agent", "another-phone")
        .call()
        .unwrap();
    let html = r.body_mut().read_to_string().unwrap();
    assert!(
        html.contains("data-verdict=\"claimed\"") && html.contains("bản sao"),
        "{html}"
    );
    // The other stamp of the batch is untouched.
    assert_eq!(
        scan_json(&app, &path_of(&urls[1]), PHONE)["verdict"],
        "genuine"
    );
}

#[test]
fn the_scan_page_offers_the_claim_form_until_the_stamp_is_claimed() {
    let (app, urls) = app_with_claim_stamps(1);
    let batch = StampCode::parse(&urls[0]).unwrap().batch.0;
    assert_eq!(
        app.get(&format!("/api/v1/batches/{batch}/sheet.csv"))
            .status,
        200
    );
    let path = crate::api::scan::path_of(&urls[0]);
    let page = |p: &str| {
        ureq::get(app.url(p))
            .header("User-Agent", "buyer-phone")
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    };
    let html = page(&path);
    assert!(
        html.contains("id=\"claim\"") && html.contains(&format!("{path}/claim")),
        "{html}"
    );
    // A stamp issued without a claim code: no form.
    let plain = crate::api::scan::path_of(urls.last().unwrap());
    assert!(!page(&plain).contains("id=\"claim\""));
    // The buyer types the code as printed, spaces and all.
    let post = |typed: &str| {
        ureq::post(app.url(&format!("{path}/claim")))
            .header("User-Agent", "buyer-phone")
            .content_type("application/x-www-form-urlencoded")
            .send(format!("claim_code={}", typed.replace(' ', "+")))
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    };
    let wrong = post(&wrong_code(&claim_code(&app, &urls[0])));
    assert!(wrong.contains("data-result=\"wrong-code\""), "{wrong}");
    let done = post(&claim_code(&app, &urls[0]));
    assert!(done.contains("data-result=\"claimed\""), "{done}");
    let html = page(&path);
    assert!(
        !html.contains("id=\"claim\"") && html.contains("data-verdict=\"claimed\""),
        "{html}"
    );
}

/// GET with the admin token: status, the named headers, body.
fn download(app: &TestApp, path: &str, names: &[&str]) -> (u16, Vec<Option<String>>, Vec<u8>) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut resp = agent
        .get(app.url(path))
        .header(
            "Authorization",
            format!("Bearer {}", crate::api::helpers::TOKEN),
        )
        .call()
        .unwrap();
    let headers = names
        .iter()
        .map(|n| {
            resp.headers()
                .get(*n)
                .map(|v| v.to_str().unwrap().to_string())
        })
        .collect();
    let body = resp.body_mut().read_to_vec().unwrap();
    (resp.status().as_u16(), headers, body)
}

#[test]
fn sheets_over_http_hold_claim_codes_only_in_print_files_kept_from_caches() {
    let (app, urls) = app_with_claim_stamps(3);
    let batch = StampCode::parse(&urls[0]).unwrap().batch;
    let names = ["x-tem-claim-codes", "cache-control"];
    // A PNG page is a preview: the panel is drawn, the secret masked.
    let (status, headers, _) = download(
        &app,
        &format!("/api/v1/batches/{batch}/sheet.png?from=1&count=4"),
        &names,
    );
    assert_eq!(status, 200);
    assert_eq!(headers[0], None, "a preview holds no claim code");
    // The print-shop CSV holds them, and no cache may keep it.
    let (status, headers, body) = download(
        &app,
        &format!("/api/v1/batches/{batch}/sheet.csv?from=1&count=4"),
        &names,
    );
    assert_eq!(status, 200);
    assert_eq!(headers[0].as_deref(), Some("3"));
    assert_eq!(headers[1].as_deref(), Some("no-store"));
    let csv = String::from_utf8(body).unwrap();
    assert!(
        csv.lines().next().unwrap().ends_with(",claim_code"),
        "{csv}"
    );
    for url in &urls[..3] {
        assert!(csv.contains(&claim_code(&app, url)), "{csv}");
    }
    // Printed now: the same stamps again only when asked for.
    let (status, _, body) = download(
        &app,
        &format!("/api/v1/batches/{batch}/sheet.csv?from=1&count=3"),
        &names,
    );
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    let (status, headers, _) = download(
        &app,
        &format!("/api/v1/batches/{batch}/sheet.csv?from=1&count=3&reprint_claim_codes=true"),
        &names,
    );
    assert_eq!((status, headers[0].as_deref()), (200, Some("3")));
}

/// Claims `url` from a phone with this user agent; the answer's body.
fn claim_as(app: &TestApp, url: &str, agent: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"code": url, "claim_code": claim_code(app, url)});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = ureq::post(app.url("/api/v1/claims"))
        .header("User-Agent", agent)
        .config()
        .http_status_as_error(false)
        .build()
        .send_json(&body)
        .unwrap();
    let status = r.status().as_u16();
    (status, r.into_body().read_json().unwrap())
}

fn claimed_rescans(app: &TestApp) -> usize {
    app.get("/api/v1/triage")
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["summary"] == "claimed-rescan")
        .count()
}

#[test]
fn a_claimed_stamp_scanned_from_another_device_raises_one_alert_per_device() {
    use crate::api::scan::{path_of, scan_json};
    let (app, urls) = app_with_claim_stamps(1);
    let batch = StampCode::parse(&urls[0]).unwrap().batch.0;
    assert_eq!(
        app.get(&format!("/api/v1/batches/{batch}/sheet.csv"))
            .status,
        200
    );
    let path = path_of(&urls[0]);
    let (status, body) = claim_as(
        &app,
        &urls[0],
        "buyer-phone",
        json!({"province": "vĩnh long"}),
    );
    assert_eq!(
        (status, &body["result"]),
        (200, &json!("claimed")),
        "{body}"
    );
    // The buyer scanning their own pack again is no alarm.
    let j = scan_json(&app, &path, "buyer-phone");
    assert_eq!(j["verdict"], "claimed");
    assert_eq!(
        j["claimed_in"], "Tỉnh Vĩnh Long",
        "the province, by its name"
    );
    // Their own phone is told it is their pack, not a copy.
    assert_eq!(j["claimed_here"], true, "{j}");
    assert!(
        j["message"].as_str().unwrap().contains("Bạn đã xác nhận"),
        "{j}"
    );
    assert_eq!(claimed_rescans(&app), 0);
    // Another phone holding a pack with this stamp: one alert, however often it scans.
    let copy = scan_json(&app, &path, "copier-phone");
    assert_eq!(copy["claimed_here"], false);
    assert!(
        copy["message"].as_str().unwrap().contains("bản sao"),
        "{copy}"
    );
    scan_json(&app, &path, "copier-phone");
    assert_eq!(claimed_rescans(&app), 1);
    scan_json(&app, &path, "second-copier");
    assert_eq!(claimed_rescans(&app), 2);
    // The page words it for the person holding the pack, with the province.
    let mut r = ureq::get(app.url(&path))
        .header("User-Agent", "x")
        .call()
        .unwrap();
    let html = r.body_mut().read_to_string().unwrap();
    assert!(html.contains("(ở Tỉnh Vĩnh Long)"), "{html}");
}

#[test]
fn a_claim_records_a_province_never_free_text() {
    let (app, urls) = app_with_claim_stamps(2);
    // Free text that would show on every later scan page is refused, and
    // the refusal claims nothing.
    let (status, body) = claim_as(
        &app,
        &urls[0],
        "p",
        json!({"province": "Gọi 0900 123 456 để được hoàn tiền"}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_input", "{body}");
    assert_eq!(body["error"]["field"], "province", "{body}");
    // A shared location gives the province it falls in.
    let (status, body) = claim_as(&app, &urls[0], "p", json!({"lat": 9.9347, "lon": 106.3453}));
    assert_eq!(
        (status, &body["result"]),
        (200, &json!("claimed")),
        "{body}"
    );
    let (_, again) = claim_as(&app, &urls[0], "p", json!({}));
    assert_eq!(again["province"], "Tỉnh Vĩnh Long", "{again}");
    // Abroad: claimed, no province.
    let (_, body) = claim_as(
        &app,
        &urls[1],
        "p",
        json!({"lat": 13.7563, "lon": 100.5018}),
    );
    assert_eq!(body["result"], "claimed");
    let (_, again) = claim_as(&app, &urls[1], "p", json!({}));
    assert_eq!(again["province"], Value::Null);
}

#[test]
fn an_unclaimed_claim_stamp_scanned_often_points_to_the_claim_not_to_a_copy() {
    use crate::api::scan::{path_of, scan_json};
    let (app, urls) = app_with_claim_stamps(1);
    let batch = StampCode::parse(&urls[0]).unwrap().batch.0;
    assert_eq!(
        app.get(&format!("/api/v1/batches/{batch}/sheet.csv"))
            .status,
        200
    );
    let path = path_of(&urls[0]);
    for phone in ["a", "b"] {
        assert!(scan_json(&app, &path, phone)["warning"].is_null());
    }
    // The third device breaks the repeat rule: the answer is the certain check.
    let j = scan_json(&app, &path, "c");
    assert_eq!(j["verdict"], "genuine");
    assert_eq!(j["warning"]["code"], "claim-to-check", "{j}");
    assert_eq!(j["warning"]["reasons"][0], "many-devices", "{j}");
    // The rule still files its alert for inspectors.
    let alerts = app.get("/api/v1/triage").body;
    assert!(alerts.to_string().contains("many-devices"), "{alerts}");
}

#[test]
fn claims_reach_the_epcis_export_and_batch_verification() {
    let (app, urls) = app_with_claim_stamps(2);
    let batch = StampCode::parse(&urls[0]).unwrap().batch.0;
    assert_eq!(
        app.get(&format!("/api/v1/batches/{batch}/sheet.csv"))
            .status,
        200
    );
    let (_, body) = claim(&app, &urls[0], &claim_code(&app, &urls[0]));
    assert_eq!(body["result"], "claimed");
    let mut doc = Vec::new();
    tem::service::epcis::write(
        &*app.store,
        tem::domain::BatchId(batch),
        "https://tem.example.vn",
        &mut doc,
    )
    .unwrap();
    let doc: Value = serde_json::from_slice(&doc).unwrap();
    let claimed: Vec<&Value> = doc["epcisBody"]["eventList"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["tem:action"] == "claimed")
        .collect();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (&claimed[0]["action"], &claimed[0]["bizStep"]),
        (&json!("DELETE"), &json!("decommissioning"))
    );
    let serial = StampCode::parse(&urls[0]).unwrap().serial.to_string();
    assert!(
        claimed[0]["epcList"][0]
            .as_str()
            .unwrap()
            .ends_with(&serial)
    );
    let verify = || {
        app.post(&format!("/api/v1/batches/{batch}/verification"), &json!({}))
            .body
    };
    assert_eq!(verify()["report"]["log"]["altered_sales"], 0);
    let report = app.get(&format!("/api/v1/batches/{batch}/report")).body;
    assert_eq!(report["claimed"], 1, "{report}");
    let stats = app.get(&format!("/api/v1/batches/{batch}/stats")).body;
    assert_eq!(stats["claimed"], 1, "{stats}");
    // A claim erased from the database (to resell the pack as unclaimed) shows.
    app.execute_sql("UPDATE claims SET claimed_at = NULL");
    let r = verify();
    assert_eq!(r["report"]["verdict"], "compromised", "{r}");
    assert_eq!(r["report"]["log"]["altered_sales"], 1, "{r}");
}
