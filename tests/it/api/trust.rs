//! What a scan trusts: every signature is verified against the key set,
//! and the registry vouches only for the exact code it issued.

use serde_json::Value;
use tem::codes::keyring::{KeySet, KeyStatus};
use tem::codes::{KeyRing, StampCode};

use crate::api::helpers::TestApp;
use crate::api::scan::{PHONE, app_with_printed_stamps, path_of, scan_json};

/// Scans until `done` holds for the answer (the scanner rereads a changed
/// key ring within 2 s); returns that answer.
fn scan_until(app: &TestApp, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(8);
    loop {
        let json = scan_json(app, path, PHONE);
        if done(&json) || std::time::Instant::now() > until {
            return json;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn a_stamp_row_written_behind_tems_back_is_not_genuine() {
    let (app, _, urls) = app_with_printed_stamps(3);
    let printed = StampCode::parse(&urls[0]).unwrap();
    // Someone with the database rewrites stamp 1's signature and prints a
    // code that equals the row byte for byte: tem's key never signed it.
    let mut made_up = printed;
    made_up.signature = [0x5a; 64];
    made_up.signature[63] = 0x01;
    app.overwrite_signature(printed.serial, &made_up.signature);
    let json = scan_json(&app, &format!("/{}", made_up.to_digits()), PHONE);
    assert_eq!(json["verdict"], "forged", "{json}");
    assert_eq!(json["scan_count"], 0);
    // The stamp really printed no longer matches its row: not genuine
    // either, and the inspectors hear of it.
    let json = scan_json(&app, &path_of(&urls[0]), PHONE);
    assert_eq!(json["verdict"], "unknown-serial", "{json}");
    let triage = app.get("/api/v1/triage");
    assert!(
        triage.body.to_string().contains("registry-mismatch"),
        "{}",
        triage.body
    );
    // The other stamps are untouched.
    assert_eq!(
        scan_json(&app, &path_of(&urls[1]), PHONE)["verdict"],
        "genuine"
    );
}

#[test]
fn a_key_taken_out_of_the_key_set_no_longer_vouches_for_its_stamps() {
    let (app, _, urls) = app_with_printed_stamps(3);
    assert_eq!(
        scan_json(&app, &path_of(&urls[0]), PHONE)["verdict"],
        "genuine"
    );
    let path = app.dir.path().join("keys").join("keyring.json");
    let mut set: KeySet = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    set.keys.retain(|k| k.status != KeyStatus::Active);
    std::fs::write(&path, serde_json::to_string(&set).unwrap()).unwrap();
    let json = scan_until(&app, &path_of(&urls[1]), |j| j["verdict"] != "genuine");
    assert_eq!(json["verdict"], "unknown-key", "{json}");
    assert_eq!(json["scan_count"], 0, "not counted as a scan of the stamp");
}

/// The decision documented in docs/security.md: revoking a key (a stolen
/// laptop) does not turn a cooperative's printed stamps into fakes; the
/// registry still vouches for what tem issued while the key was good. A
/// code minted with the stolen key for a serial tem never issued is
/// `revoked-key`.
#[test]
fn stamps_issued_before_their_key_was_revoked_stay_genuine() {
    let (app, batch, urls) = app_with_printed_stamps(3);
    let keys = app.dir.path().join("keys");
    let mut ring = KeyRing::open(&keys).unwrap();
    let old = ring.active().unwrap().kid.clone();
    let thief = ring.signer().unwrap();
    ring.rotate().unwrap();
    ring.revoke(&old, Some("laptop stolen".into())).unwrap();
    let minted = thief.sign(tem::domain::Serial(77), tem::domain::BatchId(batch));
    let json = scan_until(&app, &format!("/{}", minted.to_digits()), |j| {
        j["verdict"] == "revoked-key"
    });
    assert_eq!(json["verdict"], "revoked-key", "{json}");
    let json = scan_json(&app, &path_of(&urls[0]), PHONE);
    assert_eq!(json["verdict"], "genuine", "{json}");
    assert_eq!(json["kid"], old.as_str());
    assert_eq!(json["scan_count"], 1);
}

/// The router decodes `%73` to `s`; authorization must see the same route,
/// so every spelling of a path is refused the same way and nothing is a 500.
#[test]
fn every_spelling_of_a_path_is_authorized_as_the_route_it_reaches() {
    let app = crate::api::helpers::spawn_app();
    let batch = app.batch();
    let body = serde_json::json!({"reason": "kiểm tra", "notice": "Tạm ngừng"});
    for path in [
        format!("/api/v1/batche%73/{batch}/recall"),
        format!("/api/v1/%62atches/{batch}/recall"),
        format!("/api/v1/batches/{batch}/%72ecall"),
    ] {
        let r = app.post_with_token(&path, &body, None);
        assert_eq!(r.status, 401, "{path}: {}", r.body);
        let r = app.post_with_token(&path, &body, Some("not-a-token"));
        assert_eq!(r.status, 401, "{path}: {}", r.body);
    }
    let r = app.get_with_token(&format!("/api/v1/batche%73/{batch}"), None);
    assert_eq!(r.status, 401, "{}", r.body);
    // The admin token gets through the same spelling.
    let r = app.post(&format!("/api/v1/batche%73/{batch}/recall"), &body);
    assert_eq!(r.status, 201, "{}", r.body);
}

/// Behind a trusted proxy the client is the rightmost address the proxy
/// chain vouches for: rotating the leftmost `X-Forwarded-For` entry (which
/// the client writes) does not escape the per-network rate limit.
#[test]
fn a_client_cannot_spoof_its_address_through_the_proxy() {
    let app = crate::api::helpers::spawn_app_full(
        true,
        &tem::config::ScanSettings {
            rate_per_minute: 3,
            trust_proxy: true,
            ..Default::default()
        },
        |_| (),
    );
    let statuses: Vec<u16> = (0..6)
        .map(|i| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .new_agent()
                .get(app.url("/12345"))
                .header("X-Forwarded-For", format!("203.0.{i}.1, 198.51.100.7"))
                .call()
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert_eq!(statuses[..3], [200, 200, 200]);
    assert_eq!(statuses[3..], [429, 429, 429], "{statuses:?}");
}

/// The session cookie is `Secure` only when a trusted proxy says the
/// request came over https; anyone else's `X-Forwarded-Proto` is ignored.
#[test]
fn only_a_trusted_proxy_makes_the_session_cookie_secure() {
    fn session_cookie(app: &TestApp) -> String {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        let mut form = agent
            .get(app.url("/app/sign-in"))
            .header("X-Forwarded-Proto", "https")
            .call()
            .unwrap();
        let pre = form
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with("tem_pre="))
            .unwrap();
        let body = form.body_mut().read_to_string().unwrap();
        let value = crate::api::dashboard::hidden(&body, "pre");
        let signed = agent
            .post(app.url("/app/sign-in"))
            .header("X-Forwarded-Proto", "https")
            .header("Cookie", pre.split(';').next().unwrap())
            .send_form([
                ("token", crate::api::helpers::TOKEN),
                ("pre", &value),
                ("next", "/app"),
            ])
            .unwrap();
        signed
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with("tem_session="))
            .expect("signed in")
    }
    let direct = crate::api::helpers::spawn_app();
    assert!(
        !session_cookie(&direct).contains("Secure"),
        "a client's own header"
    );
    let proxied = crate::api::helpers::spawn_app_full(
        true,
        &tem::config::ScanSettings {
            trust_proxy: true,
            ..Default::default()
        },
        |_| (),
    );
    assert!(
        session_cookie(&proxied).contains("Secure"),
        "a trusted proxy's header"
    );
}

/// A path at the root that cannot be a code (`/robots.txt`) is a 404 and
/// records nothing; a misread code (digits) is still a malformed scan.
#[test]
fn paths_that_cannot_be_codes_are_not_scans() {
    let app = crate::api::helpers::spawn_app();
    let before = app.db_fingerprint();
    for path in ["/robots.txt", "/wp-login.php", "/.env", "/app.js", "/1234x"] {
        assert_eq!(crate::api::helpers::get_status(&app, path), 404, "{path}");
    }
    // Browsers ask for an icon on every page: they get one.
    assert_eq!(crate::api::helpers::get_status(&app, "/favicon.ico"), 200);
    assert_eq!(app.db_fingerprint(), before, "nothing recorded");
    let json = scan_json(&app, "/12345", PHONE);
    assert_eq!(json["verdict"], "malformed");
    assert_ne!(app.db_fingerprint(), before, "a misread code is a scan");
}

/// Sharing a location is limited like scanning (it checks a token, which
/// must not be guessable by trying), and the token is checked in constant
/// time.
#[test]
fn sharing_a_location_is_rate_limited() {
    let app = crate::api::helpers::spawn_app_full(
        true,
        &tem::config::ScanSettings {
            rate_per_minute: 3,
            ..Default::default()
        },
        |_| (),
    );
    let statuses: Vec<u16> = (0..5)
        .map(|i| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .new_agent()
                .post(app.url("/api/v1/scans/location"))
                .send_form([
                    ("scan", "1"),
                    ("token", format!("guess{i}").as_str()),
                    ("lat", "9.9"),
                    ("lon", "106.3"),
                ])
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert_eq!(statuses, [404, 404, 404, 429, 429]);
}
