//! Claim stamps on paper (issue 17, part 1): every format prints the claim
//! code in a marked scratch panel without spoiling the QR symbol; print-shop
//! files carry a `claim_code` column and are written for their owner only;
//! layouts without room are refused; reprints happen only on request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::common::{Env, label_crop, rasterise, tool, zbar_each};
use tem::codes::StampCode;
use tem::codes::claim::ClaimKey;
use tem::render::layout::Layout;

/// A demo database whose batch 2 has `n` claim stamps after its stamps
/// without claim codes; returns their (number, URL, printed claim code).
fn claim_stamps(env: &Env, n: u32) -> Vec<(u32, String, String)> {
    env.ok(&["demo"]);
    let before = env.stamp_count(2) as u32;
    env.ok(&[
        "issue",
        "--batch",
        "2",
        "--count",
        &n.to_string(),
        "--claim-codes",
    ]);
    let csv = env.path("expected.csv");
    let (from, count) = ((before + 1).to_string(), n.to_string());
    let args = ["export", "--batch", "2", "--from", &from, "--count", &count];
    env.ok(&[&args[..], &["--csv", csv.to_str().unwrap()]].concat());
    let key = ClaimKey::open(&env.path("keys")).unwrap().unwrap();
    csv::Reader::from_path(&csv)
        .unwrap()
        .records()
        .map(|r| {
            let r = r.unwrap();
            let code = StampCode::parse(&r[5]).unwrap();
            let claim = key.code(code.serial, code.batch).grouped();
            (r[1].parse().unwrap(), r[5].to_string(), claim)
        })
        .collect()
}

fn sheet(env: &Env, from: u32, count: u32, out: &str, extra: &[&str]) -> std::process::Output {
    let (from, count) = (from.to_string(), count.to_string());
    let args = [
        "sheet", "--batch", "2", "--from", &from, "--count", &count, "-o",
    ];
    let path = env.path(out);
    env.run(&[&args[..], &[path.to_str().unwrap()], extra].concat())
}

fn mode(env: &Env, name: &str) -> u32 {
    std::fs::metadata(env.path(name))
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

fn pdf_text(path: &std::path::Path) -> String {
    let out = Command::new("pdftotext")
        .arg(path)
        .arg("-")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_format_prints_the_claim_code_in_a_scratch_panel_and_the_qr_still_decodes() {
    tool("pdftotext");
    tool("rsvg-convert");
    let env = Env::new();
    let stamps = claim_stamps(&env, 6);
    let first = stamps[0].0;

    // PDF, from the last stamp without a claim code on: the marker and both
    // lines of each code, as text, on the claim stamps only; every QR decodes.
    let out = sheet(&env, first - 1, 7, "claims.pdf", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(
        warning.contains("6 claim codes") && warning.contains("0600"),
        "{warning}"
    );
    assert_eq!(
        mode(&env, "claims.pdf"),
        0o600,
        "a file of secrets is its owner's only"
    );
    let text = pdf_text(&env.path("claims.pdf"));
    assert_eq!(text.matches("Mã cào").count(), 6, "{text}");
    for (_, _, claim) in &stamps {
        let (head, tail) = claim.split_at(9);
        assert!(
            text.contains(head) && text.contains(tail.trim()),
            "{claim} not printed:\n{text}"
        );
    }
    let layout = Layout::builtin("a4-65").unwrap();
    let page = &rasterise(&env.path("claims.pdf"), 300)[0];
    let crops: Vec<_> = (0..7).map(|i| label_crop(page, &layout, i, 300)).collect();
    let urls: Vec<String> = stamps.iter().map(|s| s.1.clone()).collect();
    assert_eq!(zbar_each(&crops, env.dir.path())[1..], urls);

    // PNG and SVG (reprints now, asked for): the QR decodes beside the panel,
    // and the panel is ink where the label without a claim code is blank.
    for ext in ["png", "svg"] {
        let name = format!("claims.{ext}");
        let out = sheet(&env, first - 1, 7, &name, &["--reprint-claim-codes"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(mode(&env, &name), 0o600);
        let png = if ext == "svg" {
            let png = env.path("svg.png");
            let ok = Command::new("rsvg-convert")
                .args(["-d", "300", "-p", "300", "-o"])
                .arg(&png)
                .arg(env.path(&name))
                .status()
                .unwrap();
            assert!(ok.success());
            png
        } else {
            env.path(&name)
        };
        let page = image::open(&png).unwrap().to_luma8();
        let crops: Vec<_> = (0..7).map(|i| label_crop(&page, &layout, i, 300)).collect();
        assert_eq!(zbar_each(&crops, env.dir.path())[1..], urls, "{ext}");
        assert!(
            panel_ink(&crops[0]) < 0.01,
            "{ext}: a panel without a claim code"
        );
        for crop in &crops[1..] {
            assert!(panel_ink(crop) > 0.05, "{ext}: no panel printed");
        }
    }
    // A job without claim stamps holds no secret: readable as usual.
    assert!(sheet(&env, 1, 1, "plain.pdf", &[]).status.success());
    assert_eq!(mode(&env, "plain.pdf") & 0o044, 0o044);
    assert!(!pdf_text(&env.path("plain.pdf")).contains("Mã cào"));
}

/// Share of dark pixels where an a4-65 label's scratch panel goes: the
/// bottom third of its text column.
fn panel_ink(crop: &image::GrayImage) -> f64 {
    let (w, h) = crop.dimensions();
    let (x0, y0) = (w * 62 / 100, h * 70 / 100);
    let mut dark = 0u32;
    for y in y0..h * 95 / 100 {
        for x in x0..w * 97 / 100 {
            dark += u32::from(crop.get_pixel(x, y).0[0] < 128);
        }
    }
    f64::from(dark) / f64::from((w * 97 / 100 - x0) * (h * 95 / 100 - y0))
}

#[test]
fn print_shop_files_carry_the_claim_code_for_their_owner_only() {
    let env = Env::new();
    let stamps = claim_stamps(&env, 4);
    let first = stamps[0].0;
    let out = sheet(&env, first - 1, 5, "shop.csv", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("4 claim codes"));
    assert_eq!(mode(&env, "shop.csv"), 0o600);
    let mut r = csv::Reader::from_path(env.path("shop.csv")).unwrap();
    assert_eq!(r.headers().unwrap().get(5), Some("claim_code"));
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(&rows[0][5], "", "the stamp without a claim code has none");
    for (row, (seq, url, claim)) in rows[1..].iter().zip(&stamps) {
        assert_eq!(
            (&row[1], &row[4], &row[5]),
            (&seq.to_string()[..], &url[..], &claim[..])
        );
    }
    // The ZIP's manifest too; and the download is on record, by whom.
    let out = sheet(&env, first, 4, "shop.zip", &["--reprint-claim-codes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&env, "shop.zip"), 0o600);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(env.path("shop.zip")).unwrap()).unwrap();
    let manifest = std::io::read_to_string(zip.by_name("stamps.csv").unwrap()).unwrap();
    assert!(manifest.lines().next().unwrap().ends_with(",claim_code"));
    assert!(stamps.iter().all(|s| manifest.contains(&s.2)));
    let db = rusqlite::Connection::open(env.path("tem.db")).unwrap();
    let details: Vec<String> = db
        .prepare("SELECT detail FROM events WHERE action = 'print' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(details.len(), 2);
    let csv_job: serde_json::Value = serde_json::from_str(&details[0]).unwrap();
    assert_eq!(csv_job["claim_codes"], 4);
    assert_eq!(csv_job["claim_reprint"], false);
    let zip_job: serde_json::Value = serde_json::from_str(&details[1]).unwrap();
    assert_eq!(
        zip_job["claim_reprint"], true,
        "the asked-for reprint is recorded"
    );
}

#[test]
fn layouts_without_room_and_unasked_reprints_are_refused() {
    let env = Env::new();
    let stamps = claim_stamps(&env, 2);
    let first = stamps[0].0;
    let out = sheet(&env, first, 2, "round.pdf", &["--layout", "a4-round30"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scratch panel") && err.contains("a4-65") && err.contains("a4-14"),
        "{err}"
    );
    assert!(!env.path("round.pdf").exists());
    // Round stickers stay fine for stamps without claim codes.
    assert!(
        sheet(&env, 1, 2, "plain.pdf", &["--layout", "a4-round30"])
            .status
            .success()
    );

    assert!(sheet(&env, first, 2, "once.pdf", &[]).status.success());
    let again = sheet(&env, first, 2, "twice.pdf", &[]);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("--reprint-claim-codes") && err.contains("printed before"),
        "{err}"
    );
    assert!(!env.path("twice.pdf").exists());
    assert!(
        sheet(&env, first, 2, "twice.pdf", &["--reprint-claim-codes"])
            .status
            .success()
    );
}
