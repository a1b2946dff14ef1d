//! Sheets over HTTP: a streamed PDF, a PNG page, CSV, and the errors.

use serde_json::json;

use crate::api::helpers::{TOKEN, spawn_app};

pub(crate) fn get_bytes(app: &crate::api::helpers::TestApp, path: &str) -> (u16, String, Vec<u8>) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut resp = agent
        .get(app.url(path))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp
        .body_mut()
        .with_config()
        .limit(200 * 1024 * 1024)
        .read_to_vec()
        .unwrap();
    (status, ctype, body)
}

#[test]
fn a_streamed_pdf_sheet_holds_the_batch_and_marks_it_printed() {
    let app = spawn_app();
    let batch = app.batch();
    assert_eq!(
        app.post(
            &format!("/api/v1/batches/{batch}/stamps"),
            &json!({"count": 130})
        )
        .status,
        201
    );
    let (status, ctype, pdf) = get_bytes(
        &app,
        &format!("/api/v1/batches/{batch}/sheet.pdf?layout=a4-65"),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(ctype, "application/pdf");
    assert!(pdf.starts_with(b"%PDF-1.7") && pdf.ends_with(b"%%EOF\n"));
    let path = app.dir.path().join("api.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let info = String::from_utf8(
        std::process::Command::new("pdfinfo")
            .arg(&path)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        info.lines()
            .any(|l| l.starts_with("Pages:") && l.trim_end().ends_with(" 2")),
        "{info}"
    );
    let text = String::from_utf8(
        std::process::Command::new("pdftotext")
            .arg(&path)
            .arg("-")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(text.contains("Gạo thơm"), "{text}");
    let counts = app.get(&format!("/api/v1/batches/{batch}")).body["stamps"].clone();
    assert_eq!(
        (counts["issued"].as_u64(), counts["printed"].as_u64()),
        (Some(0), Some(130))
    );
    // Nothing left: 409 with a code.
    let r = app.get(&format!("/api/v1/batches/{batch}/sheet.pdf"));
    assert_eq!((r.status, r.code()), (409, "conflict"));
}

#[test]
fn png_pages_and_csv_and_bad_requests() {
    let app = spawn_app();
    let batch = app.batch();
    app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 70}),
    );
    let (status, ctype, png) = get_bytes(
        &app,
        &format!("/api/v1/batches/{batch}/sheet.png?from=1&count=70&page=2&dpi=300"),
    );
    assert_eq!((status, ctype.as_str()), (200, "image/png"));
    let img = image::load_from_memory(&png).unwrap();
    assert_eq!((img.width(), img.height()), (2480, 3508));
    let (status, ctype, csv) = get_bytes(
        &app,
        &format!("/api/v1/batches/{batch}/sheet.csv?from=3&count=4"),
    );
    assert_eq!((status, ctype.as_str()), (200, "text/csv; charset=utf-8"));
    let text = String::from_utf8(csv).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.lines().next().unwrap().contains("short_code"));

    let r = app.get(&format!("/api/v1/batches/{batch}/sheet.doc"));
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (400, Some("format"))
    );
    let r = app.get(&format!("/api/v1/batches/{batch}/sheet.pdf?layout=a5-2"));
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (400, Some("layout"))
    );
    let r = app.get(&format!("/api/v1/batches/{batch}/sheet.pdf?from=1"));
    assert_eq!(r.status, 400);
    let r = app.get(&format!(
        "/api/v1/batches/{batch}/sheet.png?from=1&count=70&page=9"
    ));
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (400, Some("page"))
    );
    let r = app.get("/api/v1/batches/999/sheet.pdf");
    assert_eq!((r.status, r.code()), (404, "batch_not_found"));
    let r = app.get_with_token(&format!("/api/v1/batches/{batch}/sheet.pdf"), None);
    assert_eq!(r.status, 401);
}

fn counts(app: &crate::api::helpers::TestApp, batch: u32) -> (u64, u64) {
    let c = app.get(&format!("/api/v1/batches/{batch}")).body["stamps"].clone();
    (
        c["issued"].as_u64().unwrap(),
        c["printed"].as_u64().unwrap(),
    )
}

/// A page of a sheet is a preview; a PDF download cut short prints nothing;
/// only a file produced in full records the print job.
#[test]
fn only_a_whole_file_records_a_print_job() {
    let app = spawn_app();
    let batch = app.batch();
    app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 3000}),
    );
    // A preview page, PNG or SVG.
    for page in ["sheet.png?page=1", "sheet.svg?page=2"] {
        let (status, _, _) = get_bytes(&app, &format!("/api/v1/batches/{batch}/{page}"));
        assert_eq!(status, 200, "{page}");
    }
    assert_eq!(counts(&app, batch), (3000, 0), "previews print nothing");
    // A PDF download abandoned after its first bytes.
    {
        use std::io::{Read, Write};
        let address = app.address.trim_start_matches("http://");
        let mut socket = std::net::TcpStream::connect(address).unwrap();
        write!(
            socket,
            "GET /api/v1/batches/{batch}/sheet.pdf HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        )
        .unwrap();
        let mut first = [0u8; 4096];
        socket.read_exact(&mut first).unwrap();
        assert!(String::from_utf8_lossy(&first).starts_with("HTTP/1.1 200"));
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(counts(&app, batch), (3000, 0), "a download cut short");
    let jobs = app.store.print_jobs(tem::domain::BatchId(batch)).unwrap();
    assert!(jobs.is_empty(), "{jobs:?}");
    // The whole PDF: printed.
    let (status, _, pdf) = get_bytes(&app, &format!("/api/v1/batches/{batch}/sheet.pdf"));
    assert_eq!(status, 200);
    assert!(pdf.ends_with(b"%%EOF\n"));
    assert_eq!(counts(&app, batch), (0, 3000));
    let jobs = app.store.print_jobs(tem::domain::BatchId(batch)).unwrap();
    assert_eq!(jobs.len(), 1, "one job, for the whole file");
}
