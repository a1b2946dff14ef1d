//! The dashboard in a real browser (Debian's headless Chromium over
//! WebDriver, a 360 px phone viewport): a producer signs in, creates a
//! product with a photo, a batch, issues 500 stamps, previews and downloads
//! the PDF — which is rasterised and decoded with zbarimg into 500 genuine
//! stamps, exactly those issued; then an inspector signs in, finds the
//! batch, recalls it, and a scan of one of its stamps shows the recall.
//! Every page: no browser errors, nothing loaded from elsewhere, nothing
//! wider than the phone; a screenshot of each in target/tmp/screenshots/.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use tem::codes::{CodeVerdict, KeyRing, Verifier};
use tem::domain::{Grant, ProducerId, Role};
use tem::render::layout::Layout;
use tem::service::tokens;

use crate::api::browser::{BrowserLog, WIDTH, connect_with, screenshot_dir, start_driver};
use crate::api::helpers::spawn_app;
use crate::common::{label_crop, rasterise, zbar_each};

/// Checks what every dashboard page must satisfy and saves a screenshot.
async fn look(client: &Client, origin: &str, name: &str) {
    let log = client.issue_cmd(BrowserLog).await.unwrap();
    let errors: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        // A form shown again with its errors answers 422, which Chromium
        // logs as a failed load; expected on the pages named "-error".
        .filter(|e| {
            !(name.ends_with("-error")
                && e["source"] == "network"
                && e["message"].as_str().unwrap_or("").contains("422"))
        })
        .collect();
    assert!(errors.is_empty(), "{name}: browser errors {errors:?}");
    let requests = client
        .execute(
            "return [location.href].concat(performance.getEntriesByType('resource').map(function (e) { return e.name; }));",
            vec![],
        )
        .await
        .unwrap();
    let requests: Vec<String> = serde_json::from_value(requests).unwrap();
    for r in &requests {
        assert!(r.starts_with(origin), "{name}: request left tem: {r}");
    }
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
        "{name}: wider than the phone"
    );
    let png = client.screenshot().await.unwrap();
    let path = screenshot_dir().join(format!("dashboard-{name}.png"));
    std::fs::write(&path, &png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

async fn fill(client: &Client, css: &str, text: &str) {
    let e = client.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

/// Clicks what loads a new page (a link, a submit button) and waits until
/// the new document has loaded: the click itself may return first.
async fn click(client: &Client, css: &str) {
    client
        .execute("window.__tem_old_page = true;", vec![])
        .await
        .unwrap();
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let state = client
            .execute(
                "return [window.__tem_old_page === true, document.readyState];",
                vec![],
            )
            .await;
        if let Ok(v) = state
            && v == json!([false, "complete"])
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{css}: no new page loaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn sign_in(client: &Client, origin: &str, token: &str, name: &str) {
    client.goto(&format!("{origin}/app")).await.unwrap();
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/app/sign-in")
    );
    look(client, origin, &format!("{name}-sign-in")).await;
    fill(client, "#token", token).await;
    click(client, "form button[type=submit]").await;
    assert_eq!(client.current_url().await.unwrap().path(), "/app");
}

/// Waits for one finished PDF in `dir`.
fn downloaded(dir: &Path) -> std::path::PathBuf {
    let started = Instant::now();
    loop {
        let done: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
            .collect();
        if let [one] = done.as_slice() {
            return one.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no PDF downloaded"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn chromium_walks_the_producer_and_inspector_flows() {
    let app = spawn_app();
    let producer = app.create_producer();
    let (producer_token, _) = tokens::create(
        &*app.store,
        Grant::new(Role::Producer, Some(ProducerId(producer)), &[]).unwrap(),
        Some("HTX Dân Tiến"),
        None,
        "test",
    )
    .unwrap();
    let (inspector_token, _) = tokens::create(
        &*app.store,
        Grant::new(Role::Inspector, None, &["Trà Vinh".into()]).unwrap(),
        Some("Chi cục QLCL Trà Vinh"),
        None,
        "test",
    )
    .unwrap();
    // A product photo, as a phone would take it (large).
    let photo = app.dir.path().join("mat-ong.jpg");
    image::RgbImage::from_fn(3000, 2000, |x, y| {
        image::Rgb([200, (100 + x / 30) as u8, (y / 10 % 256) as u8])
    })
    .save(&photo)
    .unwrap();
    let downloads = tempfile::tempdir().unwrap();

    let driver = start_driver();
    let origin = app.url("");
    let origin = origin.trim_end_matches('/').to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (batch_id, pdf) = rt.block_on(async {
        let client = connect_with(driver.1, Some(downloads.path())).await;

        // The producer: sign in, an empty home that says what to do.
        sign_in(&client, &origin, &producer_token, "producer").await;
        assert!(text(&client, ".who").await.contains("Hợp tác xã nông nghiệp Dân Tiến"));
        assert!(text(&client, "#products .empty").await.contains("Hãy thêm sản phẩm đầu tiên"));
        look(&client, &origin, "producer-home-empty").await;

        // A product with a photo; a missing name first: the error by the field.
        click(&client, "#new-product").await;
        look(&client, &origin, "product-new").await;
        fill(&client, "#description", "Mật ong nguyên chất từ vườn cà phê").await;
        client
            .execute("document.getElementById('name').removeAttribute('required');", vec![])
            .await
            .unwrap();
        click(&client, "#product-form button[type=submit]").await;
        assert_eq!(text(&client, "#name-error").await, "must not be empty");
        assert_eq!(
            client.find(Locator::Css("#description")).await.unwrap().prop("value").await.unwrap().as_deref(),
            Some("Mật ong nguyên chất từ vườn cà phê"),
            "what was typed is kept"
        );
        look(&client, &origin, "product-new-error").await;
        fill(&client, "#name", "Mật ong hoa cà phê").await;
        client
            .find(Locator::Css("#ocop_group option[value=food]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        client
            .find(Locator::Css("#image"))
            .await
            .unwrap()
            .send_keys(photo.to_str().unwrap())
            .await
            .unwrap();
        click(&client, "#product-form button[type=submit]").await;
        assert_eq!(text(&client, "h1").await, "Mật ong hoa cà phê");
        let size = client
            .execute(
                "var i = document.querySelector('img.photo'); return [i.complete, i.naturalWidth, i.naturalHeight];",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(size, json!([true, 1200, 800]), "the photo, made smaller");
        look(&client, &origin, "product").await;

        // A batch.
        fill(&client, "#lot_code", "MO-2026-01").await;
        client
            .execute("document.getElementById('production_date').value = '2026-11-20';", vec![])
            .await
            .unwrap();
        fill(&client, "#shelf_life_days", "730").await;
        fill(&client, "#quantity", "500").await;
        click(&client, "#batch-form button[type=submit]").await;
        let path = client.current_url().await.unwrap().path().to_string();
        let batch_id: u32 = path.rsplit('/').next().unwrap().parse().unwrap();
        assert_eq!(text(&client, "#count-total").await, "0");
        look(&client, &origin, "batch-new").await;

        // Issue 500 stamps.
        fill(&client, "#issue-count", "500").await;
        click(&client, "#issue-form button[type=submit]").await;
        assert_eq!(text(&client, "#done").await, "Đã phát hành tem: 500");
        assert_eq!(text(&client, "#count-issued").await, "500");
        look(&client, &origin, "batch-issued").await;

        // Preview the first page, then download the PDF.
        click(&client, "#preview-form button[type=submit]").await;
        let preview = client
            .execute(
                "var i = document.getElementById('preview'); return [i.complete, i.naturalWidth > 300];",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(preview, json!([true, true]), "the preview image loaded");
        look(&client, &origin, "batch-preview").await;
        // A download: the page stays.
        client
            .find(Locator::Css("#download"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let pdf = tokio::task::spawn_blocking({
            let dir = downloads.path().to_path_buf();
            move || downloaded(&dir)
        })
        .await
        .unwrap();
        client.refresh().await.unwrap();
        assert_eq!(text(&client, "#count-printed").await, "500");
        assert_eq!(text(&client, "#count-issued").await, "0");

        // The inspector: signs out the producer, signs in, finds the batch, recalls it.
        click(&client, ".signout button").await;
        sign_in(&client, &origin, &inspector_token, "inspector").await;
        look(&client, &origin, "inspector-home").await;
        client.goto(&format!("{origin}/app/search")).await.unwrap();
        fill(&client, "#q", "MO-2026").await;
        click(&client, "form.search button[type=submit]").await;
        look(&client, &origin, "search").await;
        click(&client, "#batch-results a").await;
        assert_eq!(
            client.current_url().await.unwrap().path(),
            format!("/app/batches/{batch_id}")
        );
        fill(&client, "#recall-reason", "Phát hiện tồn dư kháng sinh").await;
        fill(&client, "#recall-notice", "Ngừng sử dụng lô MO-2026-01, liên hệ HTX để đổi trả").await;
        click(&client, "#recall-form button[type=submit]").await;
        assert_eq!(text(&client, "#done").await, "Đã thu hồi lô");
        assert!(text(&client, "#recall").await.contains("Ngừng sử dụng lô MO-2026-01"));
        look(&client, &origin, "batch-recalled").await;

        // Any stamp of the batch now scans as recalled, with the notice.
        let stamps = app.get(&format!("/api/v1/batches/{batch_id}/stamps?limit=1"));
        let stamp_url = stamps.body[0]["url"].as_str().unwrap().to_string();
        let code = stamp_url.rsplit('/').next().unwrap();
        client.goto(&format!("{origin}/{code}")).await.unwrap();
        let verdict = client
            .find(Locator::Css("#verdict"))
            .await
            .unwrap()
            .attr("data-verdict")
            .await
            .unwrap();
        assert_eq!(verdict.as_deref(), Some("recalled"));
        assert!(text(&client, "#recall").await.contains("Ngừng sử dụng lô MO-2026-01"));
        look(&client, &origin, "scan-recalled").await;

        // The inspector's other pages, and the admin's, on the phone too.
        for (path, name) in [
            ("/app/triage", "triage"),
            ("/app/inspections/new", "inspection-new"),
            ("/app/inspections", "inspections"),
        ] {
            client.goto(&format!("{origin}{path}")).await.unwrap();
            look(&client, &origin, name).await;
        }
        client.goto(&format!("{origin}/app/inspections/new")).await.unwrap();
        fill(&client, "#place", "Chợ Trà Vinh").await;
        fill(&client, "#province", "Trà Vinh").await;
        fill(&client, "#codes", &format!("{stamp_url}\n{stamp_url}")).await;
        click(&client, "#inspection-form button[type=submit]").await;
        assert_eq!(text(&client, "#duplicates").await, "1");
        look(&client, &origin, "inspection").await;
        client.goto(&format!("{origin}/app")).await.unwrap();
        click(&client, ".signout button").await;
        sign_in(&client, &origin, crate::api::helpers::TOKEN, "admin").await;
        for (path, name) in [("/app/admin", "admin"), ("/app/audit", "audit")] {
            client.goto(&format!("{origin}{path}")).await.unwrap();
            look(&client, &origin, name).await;
        }
        assert!(text(&client, "#entries").await.contains("stamps.recall"));
        client.close().await.unwrap();
        (batch_id, pdf)
    });

    // The downloaded file: every label decoded by zbarimg, every signature
    // verified, exactly the 500 stamps issued.
    let layout = Layout::builtin("a4-65").unwrap();
    let pages = rasterise(&pdf, 300);
    assert_eq!(pages.len(), 8, "500 labels on 65-label pages");
    let crops: Vec<_> = (0..500u32)
        .map(|i| label_crop(&pages[(i / 65) as usize], &layout, i % 65, 300))
        .collect();
    let decoded = zbar_each(&crops, app.dir.path());
    let keys = KeyRing::open(&app.dir.path().join("keys"))
        .unwrap()
        .key_set();
    let verifier = Verifier::new(&keys);
    let mut serials = HashSet::new();
    for (i, text) in decoded.iter().enumerate() {
        let check = verifier.check(text);
        assert_eq!(check.verdict, CodeVerdict::Genuine, "label {i}: {text:?}");
        let code = check.code.unwrap();
        assert_eq!(code.batch.0, batch_id);
        serials.insert(code.serial.to_string());
    }
    let issued: HashSet<String> = app
        .get(&format!("/api/v1/batches/{batch_id}/stamps?limit=1000"))
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["serial"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(serials.len(), 500);
    assert_eq!(serials, issued);
}
