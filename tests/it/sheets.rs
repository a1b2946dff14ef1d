//! Stamp sheets through real artifacts: render with `tem sheet`, rasterise
//! with poppler's `pdftoppm`, decode every QR with `zbarimg` (not the crate
//! that encodes), verify every signature, and compare with what was asked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::process::Command;

use crate::common::{Env, label_crop, px, rasterise, rasterise_svg, tool, zbar_each};
use serde_json::Value;
use tem::codes::{CodeVerdict, KeySet, Verifier};
use tem::render::label::{self, Content, Lang, QUIET_ZONE};
use tem::render::layout::Layout;

fn stamps_csv(env: &Env, batch: u64, from: u32, count: u32) -> Vec<(u32, String, String)> {
    let out = env.path("expected.csv");
    env.ok(&[
        "export",
        "--batch",
        &batch.to_string(),
        "--from",
        &from.to_string(),
        "--count",
        &count.to_string(),
        "--csv",
        out.to_str().unwrap(),
    ]);
    let mut r = csv::Reader::from_path(&out).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[1].parse().unwrap(),
                rec[2].to_string(),
                rec[5].to_string(),
            )
        })
        .collect()
}

fn verifier(env: &Env) -> Verifier {
    Verifier::new(&KeySet::load(&env.path("keys")).unwrap())
}

fn batch_json(env: &Env, batch: u64) -> Value {
    serde_json::from_str(&env.ok(&["batch", "show", &batch.to_string(), "--json"])).unwrap()
}

#[test]
fn every_qr_on_a_printed_sheet_decodes_to_a_requested_genuine_stamp() {
    let env = Env::new();
    env.ok(&["demo"]);
    let batch = env.batches()[0]["id"].as_u64().unwrap();
    env.ok(&["issue", "--batch", &batch.to_string(), "--count", "100"]);
    let pdf = env.path("sheet.pdf");
    let out = env.ok(&[
        "sheet",
        "--batch",
        &batch.to_string(),
        "--from",
        "30",
        "--count",
        "100",
        "-o",
        pdf.to_str().unwrap(),
    ]);
    assert!(
        out.contains("100 stamps") && out.contains("2 page(s)"),
        "{out}"
    );

    let layout = Layout::builtin("a4-65").unwrap();
    let pages = rasterise(&pdf, 300);
    assert_eq!(pages.len(), 2);
    let crops: Vec<image::GrayImage> = (0..100u32)
        .map(|i| label_crop(&pages[(i / 65) as usize], &layout, i % 65, 300))
        .collect();
    let decoded = zbar_each(&crops, env.dir.path());
    let expected = stamps_csv(&env, batch, 30, 100);
    let verifier = verifier(&env);
    let mut seen = HashSet::new();
    for (i, (text, (seq, serial, url))) in decoded.iter().zip(&expected).enumerate() {
        assert_eq!(
            text, url,
            "label {i} (stamp {seq}) decodes to something else"
        );
        let check = verifier.check(text);
        assert_eq!(check.verdict, CodeVerdict::Genuine, "label {i}");
        assert_eq!(&check.code.unwrap().serial.to_string(), serial);
        assert!(seen.insert(serial.clone()));
    }
    assert_eq!(seen.len(), 100);
}

#[test]
fn sheet_text_is_real_vietnamese_in_an_embedded_font() {
    tool("pdftotext");
    let env = Env::new();
    env.ok(&["demo"]);
    let batch = env.batches()[1]["id"].as_u64().unwrap(); // Bưởi da xanh Hùng Hòa
    let pdf = env.path("s.pdf");
    env.ok(&[
        "sheet",
        "--batch",
        &batch.to_string(),
        "-o",
        pdf.to_str().unwrap(),
    ]);
    let text = String::from_utf8(
        Command::new("pdftotext")
            .arg(&pdf)
            .arg("-")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in ["Bưởi da xanh Hùng Hòa", "Quét mã để xác thực", "OCOP"] {
        assert!(
            flat.contains(expected),
            "pdftotext lacks {expected:?}:\n{text}"
        );
    }
    // The producer, in full or with the usual abbreviation when the label is small.
    assert!(
        flat.contains("Hợp tác xã bưởi da xanh Hùng Hòa")
            || flat.contains("HTX bưởi da xanh Hùng Hòa"),
        "pdftotext lacks the producer:\n{text}"
    );
    let fonts =
        String::from_utf8(Command::new("pdffonts").arg(&pdf).output().unwrap().stdout).unwrap();
    let embedded: Vec<&str> = fonts.lines().filter(|l| l.contains("NotoSans")).collect();
    assert_eq!(embedded.len(), 2, "{fonts}");
    for line in embedded {
        assert!(
            line.contains("yes yes yes"),
            "font not embedded, subset and mapped: {line}"
        );
    }
    // English labels on request.
    let en = env.path("en.pdf");
    env.ok(&[
        "sheet",
        "--batch",
        &batch.to_string(),
        "--from",
        "1",
        "--count",
        "1",
        "--lang",
        "en",
        "-o",
        en.to_str().unwrap(),
    ]);
    let text = String::from_utf8(
        Command::new("pdftotext")
            .arg(&en)
            .arg("-")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(text.contains("Scan to verify"), "{text}");
}

/// Finds the top-left dark pixel of a QR symbol inside `area` of a label crop.
fn first_dark(img: &image::GrayImage, x0: u32, y0: u32, w: u32, h: u32) -> Option<(u32, u32)> {
    let (mut top, mut left) = (None, None);
    for y in y0..(y0 + h).min(img.height()) {
        for x in x0..(x0 + w).min(img.width()) {
            if img.get_pixel(x, y)[0] < 128 {
                top = Some(top.map_or(y, |t: u32| t.min(y)));
                left = Some(left.map_or(x, |l: u32| l.min(x)));
            }
        }
    }
    Some((left?, top?))
}

#[test]
fn codes_sit_where_the_layout_puts_them_and_start_at_skips_used_labels() {
    let env = Env::new();
    env.ok(&["demo"]);
    let batch = env.batches()[0]["id"].as_u64().unwrap();
    let pdf = env.path("s.pdf");
    env.ok(&[
        "sheet",
        "--batch",
        &batch.to_string(),
        "--from",
        "1",
        "--count",
        "12",
        "--start-at",
        "7",
        "-o",
        pdf.to_str().unwrap(),
    ]);
    let dpi = 600;
    let page = &rasterise(&pdf, dpi)[0];
    let layout = Layout::builtin("a4-65").unwrap();
    let content = Content {
        product: "x".into(),
        producer: "y".into(),
        stars: None,
        lang: Lang::Vi,
        widest_code: None,
        quiet_zone: QUIET_ZONE,
        reserve_bottom: 0.0,
    };
    let design = label::design(&layout, &content, 41).unwrap();
    for slot in 0..6 {
        let crop = label_crop(page, &layout, slot, dpi);
        assert!(
            crop.pixels().all(|p| p[0] > 200),
            "label {} must stay empty with --start-at 7",
            slot + 1
        );
    }
    let mm_per_px = 25.4 / f64::from(dpi);
    for slot in 6..18 {
        let (lx, ly) = layout.label_origin(slot);
        let quiet = f64::from(design.module) * f64::from(QUIET_ZONE);
        let expected = (
            lx + f64::from(design.qr_x) + quiet,
            ly + f64::from(design.qr_y) + quiet,
        );
        // Look inside the symbol's box only (the text column is to its right).
        let side = f64::from(design.qr_side());
        let (bx, by) = (
            px(lx + f64::from(design.qr_x), dpi),
            px(ly + f64::from(design.qr_y), dpi),
        );
        let (fx, fy) = first_dark(page, bx, by, px(side, dpi), px(side, dpi)).expect("a QR symbol");
        let (mx, my) = (f64::from(fx) * mm_per_px, f64::from(fy) * mm_per_px);
        assert!(
            (mx - expected.0).abs() <= 0.1,
            "label {slot}: QR left edge at {mx:.3} mm, expected {:.3}",
            expected.0
        );
        assert!(
            (my - expected.1).abs() <= 0.1,
            "label {slot}: QR top edge at {my:.3} mm, expected {:.3}",
            expected.1
        );
    }
}

#[test]
fn layouts_whose_modules_would_be_too_small_are_refused_with_advice() {
    let env = Env::new();
    env.ok(&["demo"]);
    let err = env.fails(
        &[
            "sheet",
            "--batch",
            "1",
            "--label-size",
            "25x13",
            "--grid",
            "8x21",
            "--margins",
            "5,8",
            "-o",
            "x.pdf",
        ],
        2,
    );
    assert!(err.contains("0.33") && err.contains("a4-40"), "{err}");
    assert!(!env.path("x.pdf").exists());
    // Stamps stay unprinted after a refusal.
    assert_eq!(batch_json(&env, 1)["stamps"]["printed"], 0);
    // Every built-in layout takes the default code; a larger custom label is fine too.
    for layout in ["a4-65", "a4-40", "a4-21", "a4-14", "a4-round30"] {
        let out = env.path(&format!("{layout}.pdf"));
        env.ok(&[
            "sheet",
            "--batch",
            "2",
            "--from",
            "1",
            "--count",
            "3",
            "--layout",
            layout,
            "-o",
            out.to_str().unwrap(),
        ]);
    }
    env.ok(&[
        "sheet",
        "--batch",
        "2",
        "--from",
        "1",
        "--count",
        "3",
        "--label-size",
        "50x30",
        "--grid",
        "4x9",
        "--margins",
        "5,13.5",
        "-o",
        "c.pdf",
    ]);
    let err = env.fails(
        &["sheet", "--batch", "2", "--layout", "a4-99", "-o", "y.pdf"],
        2,
    );
    assert!(err.contains("a4-65"), "{err}");
    let err = env.fails(
        &["sheet", "--batch", "2", "--start-at", "66", "-o", "y.pdf"],
        2,
    );
    assert!(err.contains("start_at"), "{err}");
}

#[test]
fn printing_marks_stamps_printed_and_records_reprints() {
    let env = Env::new();
    env.ok(&["demo"]);
    let id = env.batches()[3]["id"].as_u64().unwrap();
    let b = id.to_string();
    assert_eq!(batch_json(&env, id)["stamps"]["printed"], 0);
    let out = env.ok(&["sheet", "--batch", &b, "-o", "all.pdf"]);
    assert!(out.contains("65 stamps"), "{out}");
    let counts = batch_json(&env, id)["stamps"].clone();
    assert_eq!(
        (counts["issued"].as_u64(), counts["printed"].as_u64()),
        (Some(0), Some(65))
    );
    // Nothing left to print by default.
    let err = env.fails(&["sheet", "--batch", &b, "-o", "none.pdf"], 2);
    assert!(err.contains("no unprinted stamps"), "{err}");
    // A reprint of some is allowed and said so.
    let out = env.ok(&[
        "sheet",
        "--batch",
        &b,
        "--from",
        "10",
        "--count",
        "5",
        "-o",
        "again.pdf",
    ]);
    assert!(out.contains("5 of them had been printed before"), "{out}");
    assert_eq!(batch_json(&env, id)["stamps"]["printed"], 65);
}

#[test]
fn csv_for_print_shops_lists_the_selected_stamps() {
    let env = Env::new();
    env.ok(&["demo"]);
    let serials = env.path("serials.txt");
    let expected = stamps_csv(&env, 1, 5, 3);
    // Serials, short codes and URLs are all accepted.
    let short = tem::domain::Serial::parse(&expected[1].1)
        .unwrap()
        .short_code()
        .to_string();
    std::fs::write(
        &serials,
        format!("{}\n{}\n{}\n", expected[0].1, short, expected[2].2),
    )
    .unwrap();
    let out = env.path("shop.csv");
    env.ok(&[
        "sheet",
        "--batch",
        "1",
        "--serials",
        serials.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let mut r = csv::Reader::from_path(&out).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    for h in ["serial", "short_code", "url"] {
        assert!(headers.contains(&h.to_string()));
    }
    let rows: Vec<(String, String)> = r
        .records()
        .map(|x| {
            let x = x.unwrap();
            (x[2].to_string(), x[4].to_string())
        })
        .collect();
    assert_eq!(
        rows,
        expected
            .iter()
            .map(|(_, s, u)| (s.clone(), u.clone()))
            .collect::<Vec<_>>()
    );
    // A serial of another batch is refused.
    let other = stamps_csv(&env, 2, 1, 1);
    std::fs::write(&serials, &other[0].1).unwrap();
    let err = env.fails(
        &[
            "sheet",
            "--batch",
            "1",
            "--serials",
            serials.to_str().unwrap(),
            "-o",
            "x.csv",
        ],
        2,
    );
    assert!(err.contains("belongs to batch 2"), "{err}");
}

/// The centre of the calibration crosshair near (20, 20) mm, in mm.
fn cross_centre(page: &image::GrayImage, dpi: u32) -> (f64, f64) {
    // The horizontal arm is the darkest row in the box, the vertical arm the darkest column.
    let (x0, y0, side) = (px(10.0, dpi), px(10.0, dpi), px(20.0, dpi));
    let dark = |x: u32, y: u32| u32::from(page.get_pixel(x, y)[0] < 128);
    let best_row = (y0..y0 + side)
        .max_by_key(|&y| (x0..x0 + side).map(|x| dark(x, y)).sum::<u32>())
        .unwrap();
    let best_col = (x0..x0 + side)
        .max_by_key(|&x| (y0..y0 + side).map(|y| dark(x, y)).sum::<u32>())
        .unwrap();
    let mm = 25.4 / f64::from(dpi);
    (f64::from(best_col) * mm, f64::from(best_row) * mm)
}

#[test]
fn the_calibration_page_and_printer_profiles_move_the_print() {
    let env = Env::new();
    env.ok(&["sheet", "--calibration", "-o", "cal.pdf"]);
    let dpi = 600;
    let (x, y) = cross_centre(&rasterise(&env.path("cal.pdf"), dpi)[0], dpi);
    assert!(
        (x - 20.0).abs() < 0.1 && (y - 20.0).abs() < 0.1,
        "cross at {x:.2}, {y:.2}"
    );
    std::fs::write(
        env.path("tem.toml"),
        "[printers.office]\noffset_x = 1.5\noffset_y = -0.5\n",
    )
    .unwrap();
    env.ok(&[
        "sheet",
        "--calibration",
        "--printer",
        "office",
        "-o",
        "cal2.pdf",
    ]);
    let dir = env.path("two");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::rename(env.path("cal2.pdf"), dir.join("cal2.pdf")).unwrap();
    let (x, y) = cross_centre(&rasterise(&dir.join("cal2.pdf"), dpi)[0], dpi);
    assert!(
        (x - 21.5).abs() < 0.1 && (y - 19.5).abs() < 0.1,
        "cross at {x:.2}, {y:.2}"
    );
    let err = env.fails(
        &["sheet", "--calibration", "--printer", "nope", "-o", "x.pdf"],
        2,
    );
    assert!(err.contains("office"), "{err}");
}

/// Reads the resolution a PNG records (pHYs, pixels per metre) as dpi.
fn png_dpi(bytes: &[u8]) -> Option<u32> {
    let at = bytes.windows(4).position(|w| w == b"pHYs")?;
    let ppm = u32::from_be_bytes(bytes[at + 4..at + 8].try_into().ok()?);
    Some((f64::from(ppm) * 0.0254).round() as u32)
}

#[test]
fn png_pages_have_whole_dots_per_module_and_decode() {
    let env = Env::new();
    env.ok(&["demo"]);
    let out = env.path("sheet.png");
    env.ok(&[
        "sheet",
        "--batch",
        "1",
        "--from",
        "1",
        "--count",
        "65",
        "--dpi",
        "600",
        "-o",
        out.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(png_dpi(&bytes), Some(600));
    let page = image::load_from_memory(&bytes).unwrap().to_luma8();
    let layout = Layout::builtin("a4-65").unwrap();
    assert_eq!(page.dimensions(), (px(210.0, 600), px(297.0, 600)));
    let content = Content {
        product: "x".into(),
        producer: "y".into(),
        stars: None,
        lang: Lang::Vi,
        widest_code: None,
        quiet_zone: QUIET_ZONE,
        reserve_bottom: 0.0,
    };
    let design = label::design(&layout, &content, 41).unwrap();
    let dots = tem::render::raster::module_dots(design.module, 600);
    let crops: Vec<image::GrayImage> = (0..65)
        .map(|i| label_crop(&page, &layout, i, 600))
        .collect();
    for (i, crop) in crops.iter().enumerate() {
        // Inside the symbol's box: only pure black or pure white, no grey edges.
        let (bx, by) = (
            px(f64::from(design.qr_x), 600),
            px(f64::from(design.qr_y), 600),
        );
        let side = px(f64::from(design.qr_side()), 600);
        let qr = image::imageops::crop_imm(crop, bx, by, side, side).to_image();
        assert!(
            qr.pixels().all(|p| p[0] == 0 || p[0] == 255),
            "label {i}: anti-aliased module edges"
        );
        // Every run of dark pixels on a row is a whole number of modules.
        for row in qr.rows() {
            let mut run = 0;
            for p in row.chain(std::iter::once(&image::Luma([255]))) {
                if p[0] == 0 {
                    run += 1;
                } else if run > 0 {
                    assert_eq!(
                        run % dots,
                        0,
                        "label {i}: a run of {run} dots is not whole {dots}-dot modules"
                    );
                    run = 0;
                }
            }
        }
    }
    let decoded = zbar_each(&crops, env.dir.path());
    let expected = stamps_csv(&env, 1, 1, 65);
    assert_eq!(
        decoded,
        expected
            .iter()
            .map(|(_, _, u)| u.clone())
            .collect::<Vec<_>>()
    );
}

#[test]
fn svg_pages_and_zip_labels_decode_to_the_requested_stamps() {
    tool("rsvg-convert");
    let env = Env::new();
    env.ok(&["demo"]);
    env.ok(&["issue", "--batch", "2", "--count", "10"]);
    let out = env.path("sheet.svg");
    env.ok(&[
        "sheet",
        "--batch",
        "2",
        "--from",
        "1",
        "--count",
        "70",
        "-o",
        out.to_str().unwrap(),
    ]);
    // Two pages: sheet-001.svg and sheet-002.svg.
    let layout = Layout::builtin("a4-65").unwrap();
    let mut crops = Vec::new();
    for page in 1..=2 {
        let svg = env.path(&format!("sheet-{page:03}.svg"));
        let png = env.path(&format!("svg-{page}.png"));
        let status = Command::new("rsvg-convert")
            .args(["-d", "300", "-p", "300", "-o"])
            .arg(&png)
            .arg(&svg)
            .status()
            .unwrap();
        assert!(status.success());
        let img = image::open(&png).unwrap().to_luma8();
        let on_page = if page == 1 { 65 } else { 5 };
        crops.extend((0..on_page).map(|i| label_crop(&img, &layout, i, 300)));
    }
    let decoded = zbar_each(&crops, env.dir.path());
    let expected = stamps_csv(&env, 2, 1, 70);
    assert_eq!(
        decoded,
        expected
            .iter()
            .map(|(_, _, u)| u.clone())
            .collect::<Vec<_>>()
    );

    // ZIP: one SVG and one PNG per stamp, and the manifest.
    let zip_path = env.path("labels.zip");
    env.ok(&[
        "sheet",
        "--batch",
        "2",
        "--from",
        "10",
        "--count",
        "4",
        "-o",
        zip_path.to_str().unwrap(),
    ]);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let names: Vec<String> = zip.file_names().map(String::from).collect();
    assert!(names.contains(&"stamps.csv".to_string()));
    assert_eq!(names.iter().filter(|n| n.ends_with(".svg")).count(), 4);
    assert_eq!(names.iter().filter(|n| n.ends_with(".png")).count(), 4);
    let expected = stamps_csv(&env, 2, 10, 4);
    let dir = env.path("unzipped");
    std::fs::create_dir_all(&dir).unwrap();
    let mut images = Vec::new();
    for (seq, serial, _) in &expected {
        for ext in ["png", "svg"] {
            let name = format!("{ext}/{seq:06}-{serial}.{ext}");
            let mut entry = zip
                .by_name(&name)
                .unwrap_or_else(|_| panic!("zip lacks {name}"));
            let path = dir.join(name.replace('/', "-"));
            std::io::copy(&mut entry, &mut std::fs::File::create(&path).unwrap()).unwrap();
            let png = if ext == "svg" {
                let png = path.with_extension("svg.png");
                assert!(
                    Command::new("rsvg-convert")
                        .args(["-d", "300", "-p", "300", "-o"])
                        .arg(&png)
                        .arg(&path)
                        .status()
                        .unwrap()
                        .success()
                );
                png
            } else {
                path
            };
            images.push(image::open(&png).unwrap().to_luma8());
        }
    }
    let decoded = zbar_each(&images, &dir);
    let verifier = verifier(&env);
    for (i, text) in decoded.iter().enumerate() {
        assert_eq!(text, &expected[i / 2].2, "zip image {i}");
        assert_eq!(verifier.check(text).verdict, CodeVerdict::Genuine);
    }
}

/// The width of a symbol's top-left finder pattern (7 modules), in pixels:
/// the first dark run of the first row that has one, a little below its top.
fn finder_width(img: &image::GrayImage) -> u32 {
    let dark = |x: u32, y: u32| img.get_pixel(x, y).0[0] < 128;
    let (w, h) = img.dimensions();
    let top = (0..h).find(|&y| (0..w / 2).any(|x| dark(x, y))).unwrap();
    let y = top + 2;
    let x0 = (0..w).find(|&x| dark(x, y)).unwrap();
    (x0..w).take_while(|&x| dark(x, y)).count() as u32
}

#[test]
fn every_format_prints_the_same_module_in_whole_dots() {
    let env = Env::new();
    env.ok(&["demo"]);
    env.ok(&["issue", "--batch", "2", "--count", "6"]);
    let sheet = |qz: &str, out: &str, extra: &[&str]| {
        let out = env.path(out);
        let args = [
            "sheet",
            "--batch",
            "2",
            "--from",
            "1",
            "--count",
            "6",
            "--quiet-zone",
            qz,
        ];
        env.ok(&[&args[..], extra, &["-o", out.to_str().unwrap()]].concat())
    };
    let module = |summary: &str| -> f64 {
        let at = summary.find("QR modules ").unwrap() + "QR modules ".len();
        summary[at..].split(' ').next().unwrap().parse().unwrap()
    };
    // a4-65, version 6: the room allows 0.40 mm; 5 dots at 300 dpi (0.423 mm) fit.
    let five_dots = 5.0 * 25.4 / 300.0;
    for (qz, name) in [("4", "qz4.pdf"), ("2", "qz2.pdf")] {
        let m = module(&sheet(qz, name, &[]));
        assert!((m - five_dots).abs() < 0.006, "quiet zone {qz}: {m}");
    }
    sheet("4", "s300.png", &["--dpi", "300"]);
    sheet("4", "s600.png", &["--dpi", "600"]);
    let layout = Layout::builtin("a4-65").unwrap();
    let pdf = label_crop(&rasterise(&env.path("qz4.pdf"), 300)[0], &layout, 0, 300);
    let png300 = label_crop(
        &image::open(env.path("s300.png")).unwrap().to_luma8(),
        &layout,
        0,
        300,
    );
    let png600 = label_crop(
        &image::open(env.path("s600.png")).unwrap().to_luma8(),
        &layout,
        0,
        600,
    );
    env.ok(&[
        "sheet",
        "--batch",
        "2",
        "--from",
        "1",
        "--count",
        "6",
        "-o",
        env.path("s.svg").to_str().unwrap(),
    ]);
    let svg = label_crop(&rasterise_svg(&env.path("s.svg"), 300), &layout, 0, 300);
    // 7 modules of 5 dots at 300 dpi, 10 at 600, in every format; the PDF's
    // and the SVG's symbols sit on the page's dot grid, so a 300-dpi raster
    // of them has crisp modules, not grey half-dots at every edge.
    assert_eq!(finder_width(&png300), 35);
    assert_eq!(finder_width(&png600), 70);
    for (name, img) in [("PDF", &pdf), ("SVG", &svg), ("PNG", &png300)] {
        assert_eq!(finder_width(img), 35, "{name}");
        let symbol = image::imageops::crop_imm(img, 0, 0, 220, img.height()).to_image();
        let grey = symbol
            .pixels()
            .filter(|p| (40..=215).contains(&p.0[0]))
            .count();
        assert!(
            grey * 100 < symbol.pixels().count(),
            "{name}: {grey} grey pixels in the symbol"
        );
    }
    // `tem layouts` says what each format gives, and the files agree: level
    // L (version 5) with a quiet zone of 2 gives a4-65 6 dots (0.51 mm).
    let listed = |extra: &[&str]| -> serde_json::Value {
        let out = env.ok(&[&["layouts", "--json"][..], extra].concat());
        let all: serde_json::Value = serde_json::from_str(&out).unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "a4-65")
            .unwrap()
            .clone()
    };
    let m = listed(&[]);
    assert_eq!(
        (
            m["qr_version"].as_i64(),
            m["formats"]["png300"]["dots"].as_u64()
        ),
        (Some(6), Some(5))
    );
    assert_eq!(m["formats"]["png600"]["dots"].as_u64(), Some(10));
    let l = listed(&["--ec", "L", "--quiet-zone", "2"]);
    assert_eq!(
        (
            l["qr_version"].as_i64(),
            l["formats"]["png300"]["dots"].as_u64()
        ),
        (Some(5), Some(6))
    );
    sheet("2", "l300.png", &["--dpi", "300", "--ec", "L"]);
    let l300 = label_crop(
        &image::open(env.path("l300.png")).unwrap().to_luma8(),
        &layout,
        0,
        300,
    );
    assert_eq!(finder_width(&l300), 42);
    // With a quiet zone of two the symbol still reads (zbar).
    let page = &rasterise(&env.path("qz2.pdf"), 300)[0];
    let crops: Vec<_> = (0..6).map(|i| label_crop(page, &layout, i, 300)).collect();
    let expected: Vec<String> = stamps_csv(&env, 2, 1, 6).into_iter().map(|s| s.2).collect();
    assert_eq!(zbar_each(&crops, env.dir.path()), expected);
    let err = env.fails(
        &[
            "sheet",
            "--batch",
            "2",
            "--from",
            "1",
            "--count",
            "1",
            "--quiet-zone",
            "1",
            "-o",
            "x.pdf",
        ],
        2,
    );
    assert!(
        err.contains("quiet_zone") && err.contains("2, 3 or 4"),
        "{err}"
    );
}
