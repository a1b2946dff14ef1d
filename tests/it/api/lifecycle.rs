//! The stamp lifecycle through the API: activation, voids, recalls and
//! their lifting as consumers see them, and batch statistics checked against
//! counts computed here independently.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::api::scan::{PHONE, app_with_printed_stamps, path_of, scan_json};

#[test]
fn activation_needs_printed_stamps_and_is_all_or_nothing() {
    // Six stamps issued and printed; four more issued, never printed.
    let (app, batch, _) = app_with_printed_stamps(6);
    app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 4}),
    );
    let activate = |from: u32, count: u32| {
        app.post(
            &format!("/api/v1/batches/{batch}/activate"),
            &json!({"from": from, "count": count}),
        )
    };
    let r = activate(1, 4);
    assert_eq!(
        (r.status, r.body["activated"].as_u64()),
        (200, Some(4)),
        "{}",
        r.body
    );
    // 5..8 crosses into never-printed stamps: refused, nothing changes.
    let r = activate(5, 4);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("never printed")
    );
    let states = |app: &crate::api::helpers::TestApp| -> Vec<String> {
        app.get(&format!("/api/v1/batches/{batch}/stamps"))
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["state"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        states(&app),
        [
            "activated",
            "activated",
            "activated",
            "activated",
            "printed",
            "printed",
            "issued",
            "issued",
            "issued",
            "issued"
        ]
    );
    // A voided stamp refuses activation too, and scans as voided.
    app.post(
        &format!("/api/v1/batches/{batch}/void"),
        &json!({"from": 6, "count": 1, "reason": "in hỏng"}),
    );
    assert_eq!(activate(5, 2).status, 409);
    assert_eq!(activate(11, 1).status, 409, "no stamp 11");
    // Again on active stamps: nothing to do, not an error.
    assert_eq!(activate(1, 3).body["activated"], 0);
    let stats = app.get(&format!("/api/v1/batches/{batch}/stats")).body;
    assert_eq!(
        stats["stamps"],
        json!({"total": 10, "issued": 4, "printed": 1, "activated": 4, "voided": 1})
    );
    let bad = activate(0, 1);
    assert_eq!((bad.status, bad.code()), (400, "invalid_input"));
}

#[test]
fn recalls_show_on_the_next_scan_and_go_when_lifted() {
    let (app, batch, urls) = app_with_printed_stamps(2);
    let path = path_of(&urls[0]);
    assert_eq!(scan_json(&app, &path, PHONE)["verdict"], "genuine");
    let r = app.post(
        &format!("/api/v1/batches/{batch}/recall"),
        &json!({"reason": "Nhiễm khuẩn", "notice": "Ngừng sử dụng lô L-2026"}),
    );
    assert_eq!(r.status, 201);
    let j = scan_json(&app, &path, PHONE);
    assert_eq!(j["verdict"], "recalled");
    assert_eq!(j["recall"]["notice"], "Ngừng sử dụng lô L-2026");
    let html = ureq::get(app.url(&path))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(html.contains("data-verdict=\"recalled\"") && html.contains("Ngừng sử dụng lô L-2026"));
    let r = app.post(
        &format!("/api/v1/batches/{batch}/recall/lift"),
        &json!({"reason": "Kiểm nghiệm lại đạt"}),
    );
    assert_eq!(r.body["lifted"], 1);
    let j = scan_json(&app, &path, "another phone");
    assert_eq!(j["verdict"], "genuine");
    assert!(j["recall"].is_null());
    let html = ureq::get(app.url(&path))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(!html.contains("Ngừng sử dụng"), "lifted recall still shown");
}

#[test]
fn batch_statistics_equal_independent_counts() {
    let (app, batch, urls) = app_with_printed_stamps(5);
    // Scans: stamp 1 three times from one phone (3 in 24 h: suspicious),
    // stamp 2 from two phones, stamp 3 once; a forged code naming this batch.
    let mut expected_verdicts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut scan = |path: &str, ua: &str| {
        let v: Value = scan_json(&app, path, ua);
        *expected_verdicts
            .entry(match v["verdict"].as_str().unwrap() {
                "genuine" => "genuine",
                "forged" => "forged",
                other => panic!("unexpected verdict {other}"),
            })
            .or_default() += 1;
    };
    for _ in 0..3 {
        scan(&path_of(&urls[0]), PHONE);
    }
    scan(&path_of(&urls[1]), "phone-a");
    scan(&path_of(&urls[1]), "phone-b");
    scan(&path_of(&urls[2]), PHONE);
    let mut forged = path_of(&urls[4]);
    let last = forged.pop().unwrap();
    forged.push(if last == '1' { '2' } else { '1' });
    scan(&forged, PHONE);
    // One consumer report.
    ureq::post(app.url(&format!("{}/report", path_of(&urls[2]))))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("kind=fake")
        .unwrap();

    let stats = app.get(&format!("/api/v1/batches/{batch}/stats")).body;
    let s = &stats["scans"];
    assert_eq!(s["scans"], 7);
    assert_eq!(s["stamps_scanned"], 3);
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
        .date()
        .to_string();
    assert_eq!(s["per_day"], json!([[today, 7]]));
    let by_verdict: BTreeMap<String, u64> = s["by_verdict"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_u64().unwrap()))
        .collect();
    let expected: BTreeMap<String, u64> = expected_verdicts
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    assert_eq!(by_verdict, expected);
    assert_eq!(s["suspicious"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["suspicious"][0]["seq"], 1);
    assert_eq!(s["suspicious"][0]["scan_count"], 3);
    assert_eq!(
        s["suspicious"][0]["reasons"],
        json!(["many-scans-in-a-day"])
    );
    assert_eq!(s["reports"], 1);
    assert!(s["first_scan_at"].as_str().unwrap() <= s["last_scan_at"].as_str().unwrap());
    assert_eq!(stats["stamps"]["printed"], 5);
}

#[test]
fn the_batch_report_adds_up_and_prints_safely() {
    let (app, batch, urls) = app_with_printed_stamps(4);
    for _ in 0..3 {
        scan_json(&app, &path_of(&urls[0]), PHONE);
    }
    scan_json(&app, &path_of(&urls[1]), PHONE);
    app.post(
        &format!("/api/v1/batches/{batch}/void"),
        &json!({"from": 4, "count": 1, "reason": "in hỏng"}),
    );
    app.post(
        &format!("/api/v1/batches/{batch}/recall"),
        &json!({"reason": "kiểm tra", "notice": "Tạm ngừng", "from": 3, "count": 1}),
    );
    app.post(
        &format!("/api/v1/batches/{batch}/recall/lift"),
        &json!({"reason": "đạt"}),
    );
    ureq::post(app.url(&format!("{}/report", path_of(&urls[1]))))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("kind=fake&message=%3Cscript%3Ealert(1)%3C%2Fscript%3E&place=Ch%E1%BB%A3+L%E1%BB%9Bn")
        .unwrap();

    let r = app.get(&format!("/api/v1/batches/{batch}/report"));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = r.body;
    assert_eq!(r["batch"]["lot_code"], "L-2026");
    assert_eq!(
        r["stamps"],
        json!({"total": 4, "issued": 0, "printed": 3, "activated": 0, "voided": 1})
    );
    assert_eq!(
        (
            r["scans"]["scans"].as_u64(),
            r["scans"]["stamps_scanned"].as_u64()
        ),
        (Some(4), Some(2))
    );
    let suspicious = r["suspicious"].as_array().unwrap();
    assert_eq!(suspicious.len(), 1);
    assert_eq!(suspicious[0]["seq"], 1);
    assert_eq!(
        suspicious[0]["scans"].as_array().unwrap().len(),
        3,
        "the stamp's whole history"
    );
    assert!(
        suspicious[0]["scans"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["verdict"] == "genuine")
    );
    assert_eq!(r["recalls"].as_array().unwrap().len(), 1);
    assert_eq!(r["recalls"][0]["lift_reason"], "đạt");
    assert_eq!(r["consumer_reports"][0]["place"], "Chợ Lớn");
    let actions: Vec<&str> = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["commission", "print", "alert", "void", "recall", "lift"]
    );

    let mut resp = ureq::get(app.url(&format!("/api/v1/batches/{batch}/report?format=html")))
        .header(
            "Authorization",
            format!("Bearer {}", crate::api::helpers::TOKEN),
        )
        .call()
        .unwrap();
    let html = resp.body_mut().read_to_string().unwrap();
    assert!(
        html.contains("Báo cáo lô hàng") && html.contains("L-2026") && html.contains("Chợ Lớn")
    );
    // Shown as text: the angle brackets escaped (askama writes &#60; &#62;).
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            && !html.contains("<script>alert")
    );
    assert!(
        html.contains("/static/report.css"),
        "styles linked, not inline (CSP)"
    );
    let bad = app.get(&format!("/api/v1/batches/{batch}/report?format=docx"));
    assert_eq!((bad.status, bad.code()), (400, "invalid_query"));

    // The PDF: real text in embedded fonts, read back by poppler.
    let mut resp = ureq::get(app.url(&format!("/api/v1/batches/{batch}/report?format=pdf")))
        .header(
            "Authorization",
            format!("Bearer {}", crate::api::helpers::TOKEN),
        )
        .call()
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(50_000_000)
        .read_to_vec()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, &bytes).unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        text.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&text.stderr)
    );
    let text = String::from_utf8(text.stdout).unwrap();
    let serial = r["suspicious"][0]["serial"].as_str().unwrap();
    for want in [
        "Báo cáo lô hàng",
        "L-2026",
        "Gạo thơm Dân Tiến",
        "Chợ Lớn",
        "Tạm ngừng",
        "many-scans-in-a-day",
        serial,
        "trang 1/",
    ] {
        assert!(text.contains(want), "PDF text lacks {want:?}:\n{text}");
    }
    assert!(
        text.contains("<script>alert(1)</script>"),
        "a PDF shows the text as typed"
    );
    let fonts = std::process::Command::new("pdffonts")
        .arg(&file)
        .output()
        .unwrap();
    let fonts = String::from_utf8(fonts.stdout).unwrap();
    assert_eq!(
        fonts
            .lines()
            .filter(|l| l.contains("NotoSans") && l.contains("yes yes yes"))
            .count(),
        2,
        "{fonts}"
    );
}

#[test]
fn suspicious_stamps_and_reports_wait_in_triage_until_resolved() {
    let (app, batch, urls) = app_with_printed_stamps(2);
    // Three scans in a day: the third breaks a rule and raises one alert;
    // a fourth repeats the warning but no new alert.
    for _ in 0..4 {
        scan_json(&app, &path_of(&urls[0]), PHONE);
    }
    ureq::post(app.url(&format!("{}/report", path_of(&urls[1]))))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("kind=fake&place=Ch%E1%BB%A3+L%E1%BB%9Bn")
        .unwrap();
    let open = app.get("/api/v1/triage").body;
    let items = open.as_array().unwrap();
    assert_eq!(items.len(), 2, "{open}");
    let alert = items.iter().find(|i| i["kind"] == "alert").unwrap();
    let report = items.iter().find(|i| i["kind"] == "report").unwrap();
    assert_eq!(
        (alert["batch_id"].as_u64(), alert["seq"].as_u64()),
        (Some(u64::from(batch)), Some(1))
    );
    assert_eq!(alert["summary"], "many-scans-in-a-day");
    assert_eq!(report["seq"], 2);
    assert_eq!(report["place"], "Chợ Lớn");
    assert!(alert["resolution"].is_null());

    let resolve = |kind: &str, id: i64, body: serde_json::Value| {
        app.post(&format!("/api/v1/triage/{kind}/{id}/resolve"), &body)
    };
    let bad = resolve(
        "alert",
        alert["id"].as_i64().unwrap(),
        json!({"outcome": "ignored", "note": "x"}),
    );
    assert_eq!((bad.status, bad.code()), (400, "invalid_input"));
    let r = resolve(
        "alert",
        alert["id"].as_i64().unwrap(),
        json!({"outcome": "confirmed-counterfeit", "note": "Tem photo tại chợ Cái Răng"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["resolution"]["outcome"], "confirmed-counterfeit");
    assert_eq!(r.body["resolution"]["note"], "Tem photo tại chợ Cái Răng");
    assert_eq!(r.body["resolution"]["actor"], "admin token");
    let again = resolve(
        "alert",
        alert["id"].as_i64().unwrap(),
        json!({"outcome": "no-action", "note": "x"}),
    );
    assert_eq!(again.status, 409);
    assert_eq!(
        resolve("report", 999, json!({"outcome": "no-action", "note": "x"})).status,
        404
    );
    // Open items: only the report now; everything with all=true.
    let open = app.get("/api/v1/triage").body;
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["kind"], "report");
    let all = app
        .get(&format!("/api/v1/triage?all=true&batch={batch}"))
        .body;
    assert_eq!(all.as_array().unwrap().len(), 2);
    // The alert is also a lifecycle event of the batch.
    let report = app.get(&format!("/api/v1/batches/{batch}/report")).body;
    assert!(
        report["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "alert")
    );
}

#[test]
fn the_stamp_csv_has_states_and_scan_counts() {
    let (app, batch, urls) = app_with_printed_stamps(3);
    app.post(
        &format!("/api/v1/batches/{batch}/activate"),
        &json!({"from": 1, "count": 1}),
    );
    app.post(
        &format!("/api/v1/batches/{batch}/void"),
        &json!({"from": 3, "count": 1, "reason": "mất"}),
    );
    for ua in ["a", "b"] {
        scan_json(&app, &path_of(&urls[0]), ua);
    }
    let mut r = ureq::get(app.url(&format!("/api/v1/batches/{batch}/stamps.csv")))
        .header(
            "Authorization",
            format!("Bearer {}", crate::api::helpers::TOKEN),
        )
        .call()
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = r.body_mut().read_to_string().unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        rows.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "seq",
            "serial",
            "short_code",
            "state",
            "scan_count",
            "first_scan_at",
            "url"
        ]
    );
    let rows: Vec<Vec<String>> = rows
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let summary: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[3].as_str(), r[4].as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("1", "activated", "2"),
            ("2", "printed", "0"),
            ("3", "voided", "0")
        ]
    );
    assert_eq!(rows[0][6], urls[0]);
    assert!(rows[0][5].parse::<jiff::Timestamp>().is_ok() && rows[1][5].is_empty());
    let bad = app.get(&format!("/api/v1/batches/{batch}/stamps.csv?limit=0"));
    assert_eq!(bad.status, 400);
}

#[test]
fn producers_read_the_reports_about_their_own_stamps_only() {
    use tem::domain::{Grant, ProducerId, Role};
    let (app, _, urls) = app_with_printed_stamps(1);
    ureq::post(app.url(&format!("{}/report", path_of(&urls[0]))))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("kind=wrong-info&message=sai+ng%C3%A0y")
        .unwrap();
    let other = app.post(
        "/api/v1/producers",
        &json!({"kind": "household", "name": "Hộ B", "commune": "Xã 2", "province": "Bến Tre"}),
    );
    let token = |p: i64| {
        tem::service::tokens::create(
            &*app.store,
            Grant::new(Role::Producer, Some(ProducerId(p)), &[]).unwrap(),
            None,
            None,
            "test",
        )
        .unwrap()
        .0
    };
    let own = app.get_with_token("/api/v1/triage", Some(&token(1))).body;
    assert_eq!(own.as_array().unwrap().len(), 1, "{own}");
    assert_eq!(own[0]["summary"], "wrong-info: sai ngày");
    let theirs = app
        .get_with_token(
            "/api/v1/triage",
            Some(&token(other.body["id"].as_i64().unwrap())),
        )
        .body;
    assert_eq!(theirs, json!([]));
    // Reading, not resolving.
    let r = app.post_with_token(
        &format!("/api/v1/triage/report/{}/resolve", own[0]["id"]),
        &json!({"outcome": "no-action", "note": "x"}),
        Some(&token(1)),
    );
    assert_eq!(r.status, 403);
}
