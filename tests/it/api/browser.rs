//! The scan page in a real browser: Debian's headless Chromium, driven over
//! WebDriver (chromedriver), at a 360 px phone viewport. For a genuine, a
//! forged, a recalled and a repeat-scanned stamp it checks the verdict a
//! person sees, that the browser logged no error, that every request went to
//! tem itself, that nothing is wider than the screen, and saves a screenshot
//! to `target/tmp/screenshots/` for people to look at.
//!
//! `scripts/test` installs `chromium` and `chromium-driver`; without them the
//! test fails and says so (it is not skipped quietly).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::api::scan::{app_with_printed_stamps, path_of, scan_json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
pub(crate) const WIDTH: u32 = 360;

/// chromedriver, stopped when dropped.
pub(crate) struct Driver(Child, pub(crate) u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn start_driver() -> Driver {
    for path in [CHROMEDRIVER, CHROMIUM] {
        assert!(
            std::path::Path::new(path).exists(),
            "{path} is missing: install Debian's chromium and chromium-driver (scripts/test does)"
        );
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child, port);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    driver
}

/// The browser's console and error log since the last call (chromedriver's
/// `se/log` endpoint; the W3C protocol has no log command).
#[derive(Debug)]
pub(crate) struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or("")))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

async fn connect(port: u16) -> Client {
    connect_with(port, None).await
}

/// A session whose downloads land in `downloads`, when given.
pub(crate) async fn connect_with(port: u16, downloads: Option<&std::path::Path>) -> Client {
    let mut prefs = json!({"intl.accept_languages": "vi-VN,vi"});
    if let Some(dir) = downloads {
        prefs["download.default_directory"] = json!(dir.display().to_string());
        prefs["download.prompt_for_download"] = json!(false);
    }
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--hide-scrollbars", "--lang=vi"],
            "prefs": prefs,
            // A cheap Android phone: 360 CSS pixels wide, two device pixels each.
            "mobileEmulation": {
                "deviceMetrics": {"width": WIDTH, "height": 780, "pixelRatio": 2.0, "touch": true, "mobile": true},
                "userAgent": crate::api::scan::PHONE,
            },
        },
        "goog:loggingPrefs": {"browser": "ALL"},
    });
    let caps = match caps {
        Value::Object(map) => map,
        _ => unreachable!(),
    };
    // Two TLS back ends are linked (ureq's and fantoccini's); pick one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    ClientBuilder::rustls()
        .expect("TLS setup")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session")
}

pub(crate) fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What the browser shows and did for one page.
struct Seen {
    verdict: String,
    headline: String,
    notices: Vec<String>,
}

/// Opens `url`, checks what every page must satisfy, saves a screenshot.
async fn open(client: &Client, origin: &str, url: &str, name: &str) -> Seen {
    client.goto(url).await.unwrap();
    let header = client.find(Locator::Css("#verdict")).await.unwrap();
    let verdict = header.attr("data-verdict").await.unwrap().unwrap();
    let h1 = client.find(Locator::Css("#verdict h1")).await.unwrap();
    assert!(h1.is_displayed().await.unwrap(), "{name}: headline hidden");
    let headline = h1.text().await.unwrap();
    let mut notices = Vec::new();
    for n in client.find_all(Locator::Css(".notice")).await.unwrap() {
        if n.is_displayed().await.unwrap() {
            notices.push(n.text().await.unwrap());
        }
    }
    // Let the deferred script run, then read what the browser logged.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = client.issue_cmd(BrowserLog).await.unwrap();
    let errors: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "{name}: browser errors {errors:?}");
    // Every request the page made went to tem.
    let requests = client
        .execute(
            "return [location.href].concat(performance.getEntriesByType('resource').map(function (e) { return e.name; }));",
            vec![],
        )
        .await
        .unwrap();
    let requests: Vec<String> = serde_json::from_value(requests).unwrap();
    assert!(
        requests.len() >= 3,
        "{name}: page, CSS and script expected, got {requests:?}"
    );
    for r in &requests {
        assert!(
            r.starts_with(origin),
            "{name}: request left the server: {r}"
        );
    }
    // Laid out for the phone: nothing wider than the screen.
    let widths = client
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        widths,
        json!([WIDTH, WIDTH]),
        "{name}: viewport and page width"
    );
    let png = client.screenshot().await.unwrap();
    let shot = image::load_from_memory(&png).unwrap();
    assert_eq!(shot.width(), 2 * WIDTH, "{name}: screenshot width");
    let path = screenshot_dir().join(format!("scan-{name}.png"));
    std::fs::write(&path, &png).unwrap();
    eprintln!("screenshot: {}", path.display());
    Seen {
        verdict,
        headline,
        notices,
    }
}

#[test]
fn chromium_shows_each_verdict_on_a_phone() {
    let (app, batch, urls) = app_with_printed_stamps(4);
    assert_eq!(
        app.post(
            &format!("/api/v1/batches/{batch}/recall"),
            &json!({"reason": "Nhiễm khuẩn", "notice": "Ngừng sử dụng lô L-2026", "from": 2, "count": 1})
        )
        .status,
        201
    );
    // Someone scanned stamp 3 three times today already.
    let repeat = path_of(&urls[2]);
    for ua in ["phone-a", "phone-b", "phone-c"] {
        scan_json(&app, &repeat, ua);
    }
    let mut forged = path_of(&urls[3]);
    let last = forged.pop().unwrap();
    forged.push(if last == '1' { '2' } else { '1' });

    let driver = start_driver();
    let origin = app.url("");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = connect(driver.1).await;
        let seen = open(&client, &origin, &app.url(&path_of(&urls[0])), "genuine").await;
        assert_eq!(
            (seen.verdict.as_str(), seen.headline.as_str()),
            ("genuine", "Tem chính hãng")
        );
        assert!(seen.notices.is_empty(), "{:?}", seen.notices);
        let product = client.find(Locator::Css("#product h2")).await.unwrap();
        assert_eq!(product.text().await.unwrap(), "Gạo thơm Dân Tiến");
        let count = client.find(Locator::Css("#scan-count")).await.unwrap();
        assert_eq!(count.text().await.unwrap(), "Đây là lần quét đầu tiên.");
        // scan.js ran: the location button (hidden without JavaScript) shows.
        let share = client.find(Locator::Css("#share-location")).await.unwrap();
        assert!(
            share.is_displayed().await.unwrap(),
            "location button hidden"
        );

        let seen = open(&client, &origin, &app.url(&forged), "forged").await;
        assert_eq!(
            (seen.verdict.as_str(), seen.headline.as_str()),
            ("forged", "Tem giả")
        );
        assert!(
            client.find(Locator::Css("#product")).await.is_err(),
            "a forged stamp shows no product"
        );

        let seen = open(&client, &origin, &app.url(&path_of(&urls[1])), "recalled").await;
        assert_eq!(
            (seen.verdict.as_str(), seen.headline.as_str()),
            ("recalled", "Sản phẩm bị thu hồi")
        );
        assert!(
            seen.notices
                .iter()
                .any(|n| n.contains("Ngừng sử dụng lô L-2026")),
            "{:?}",
            seen.notices
        );

        let seen = open(&client, &origin, &app.url(&repeat), "repeat-scan").await;
        assert_eq!(
            (seen.verdict.as_str(), seen.headline.as_str()),
            ("genuine", "Tem chính hãng")
        );
        assert!(
            seen.notices
                .iter()
                .any(|n| n.starts_with("Cảnh báo: tem này đã được quét 4 lần")),
            "{:?}",
            seen.notices
        );

        // English on request, same checks.
        let seen = open(
            &client,
            &origin,
            &app.url(&format!("{}?lang=en", path_of(&urls[0]))),
            "genuine-en",
        )
        .await;
        assert_eq!(seen.headline, "Genuine stamp");
        client.close().await.unwrap();
    });
}
