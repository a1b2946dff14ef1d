//! Link previews, crawlers and HEAD requests on stamp URLs: a preview page,
//! never a scan (issue 17, part 3).

use crate::api::scan::{PHONE, app_with_printed_stamps, path_of, scan_json};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// The robots that open a link when someone shares it in a chat, or follow
/// it to index it, as their user agents say.
const ROBOTS: &[(&str, &str)] = &[
    (
        "facebook",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    ),
    ("telegram", "TelegramBot (like TwitterBot)"),
    ("whatsapp", "WhatsApp/2.23.20.0 A"),
    ("zalo", "ZaloBot/1.0 link preview"),
    (
        "google",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    ),
    ("twitter", "Twitterbot/1.0"),
];

fn fetch_as(app: &crate::api::helpers::TestApp, path: &str, ua: &str) -> (u16, String) {
    let mut r = agent()
        .get(app.url(path))
        .header("User-Agent", ua)
        .call()
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

#[test]
fn shared_links_are_previewed_not_scanned() {
    let (app, batch, urls) = app_with_printed_stamps(3);
    let path = path_of(&urls[0]);
    // The buyer scans once, then shares the link in three chats: each app
    // fetches it twice (a preview and a refresh).
    assert_eq!(scan_json(&app, &path, PHONE)["scan_count"], 1);
    for (_, ua) in ROBOTS {
        for _ in 0..2 {
            let (status, html) = fetch_as(&app, &path, ua);
            assert_eq!(status, 200, "{ua}");
            assert!(
                html.contains("property=\"og:title\"") && html.contains("Gạo thơm Dân Tiến"),
                "{ua}: the product in the preview: {html}"
            );
            assert!(
                !html.contains("data-verdict") && !html.contains("lần quét"),
                "{ua}: no verdict, no counts: {html}"
            );
        }
    }
    // The buyer's next scan counts two scans, and no repeat rule fired.
    let j = scan_json(&app, &path, PHONE);
    assert_eq!(j["scan_count"], 2, "previews are not scans: {j}");
    assert!(j["warning"].is_null(), "no repeat rule from robots: {j}");
    // Counted apart, per robot family, in the batch's statistics.
    let stats = app.get(&format!("/api/v1/batches/{batch}/stats")).body;
    let previews = stats["previews"].as_array().unwrap();
    for (family, _) in ROBOTS {
        assert!(
            previews
                .iter()
                .any(|p| p["family"] == *family && p["fetches"] == 2),
            "{family}: {stats}"
        );
    }
    assert_eq!(stats["scans"]["scans"], 2, "{stats}");
    // And on the batch's dashboard page, apart from the scans.
    let mut v = crate::api::dashboard::Visitor::new(&app);
    v.sign_in(crate::api::helpers::TOKEN);
    let page = v.get(&format!("/app/batches/{batch}"));
    assert!(
        page.body.contains("id=\"previews\"") && page.body.contains("facebook: 2"),
        "{}",
        page.body
    );
}

#[test]
fn head_answers_like_get_without_a_body_and_is_not_a_scan() {
    let (app, batch, urls) = app_with_printed_stamps(1);
    let path = path_of(&urls[0]);
    let r = agent()
        .head(app.url(&path))
        .header("User-Agent", PHONE)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let mut r = r;
    assert_eq!(r.body_mut().read_to_string().unwrap(), "", "no body");
    assert_eq!(scan_json(&app, &path, PHONE)["scan_count"], 1);
    let stats = app.get(&format!("/api/v1/batches/{batch}/stats")).body;
    assert_eq!(stats["previews"][0]["family"], "head", "{stats}");
    // Not a code: 404, as for GET.
    let r = agent().head(app.url("/favicon.php")).call().unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[test]
fn a_forged_code_is_previewed_without_any_product() {
    let (app, batch, urls) = app_with_printed_stamps(1);
    let mut forged = path_of(&urls[0]);
    let last = forged.pop().unwrap();
    forged.push(if last == '1' { '2' } else { '1' });
    let (status, html) = fetch_as(&app, &forged, ROBOTS[0].1);
    assert_eq!(status, 200);
    assert!(!html.contains("Gạo thơm Dân Tiến"), "{html}");
    assert!(html.contains("<title>tem</title>"), "{html}");
    let stats = app.get(&format!("/api/v1/batches/{batch}/stats")).body;
    assert_eq!(stats["previews"], serde_json::json!([]), "{stats}");
}
