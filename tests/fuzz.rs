//! Property-based fuzzing of every parser of untrusted bytes, on stable
//! Rust (proptest): stamp codes, GS1 Digital Link paths, short codes and serials, code lists, offline
//! bundles, layout TOML, inspection requests, JSON bodies and the fields
//! forms fill, and pictures. Each input must be answered (Ok or Err), never
//! panic, and never make the parser hold more memory than its limit.
//!
//! `cargo test` runs `TEM_FUZZ_CASES` cases per target (256 by default);
//! `scripts/fuzz` runs a million each in a release build. Inputs that once
//! failed are kept as regression cases at the end of this file.
//!
//! One test runs the targets one after the other, so the allocator's peak
//! (peakmem-alloc, the process-wide allocator of this test binary) is each
//! target's own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;
use std::time::Instant;

use peakmem_alloc::{INSTRUMENTED_SYSTEM, PeakMemAlloc, PeakMemAllocTrait};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

#[global_allocator]
static GLOBAL: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

const MB: usize = 1 << 20;

fn cases() -> u32 {
    std::env::var("TEM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Runs `cases()` inputs of `strategy` through `parse`; fails on a panic,
/// on `parse`'s own property, or on a peak of memory above `limit(input)`.
fn target<S: Strategy>(
    name: &str,
    strategy: S,
    limit: impl Fn(&S::Value) -> usize,
    parse: impl Fn(&S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let started = Instant::now();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    });
    let result = runner.run(&strategy, |input| {
        let allowed = limit(&input);
        GLOBAL.reset_peak_memory();
        parse(&input)?;
        let peak = GLOBAL.get_peak_memory();
        prop_assert!(
            peak <= allowed,
            "{name}: {peak} bytes at the peak, the limit is {allowed}"
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("fuzz target {name}: {e}");
    }
    eprintln!(
        "fuzz target {name}: {} cases in {:.1} s, no panic, memory within limits",
        cases(),
        started.elapsed().as_secs_f64()
    );
}

/// Text as it arrives: any characters, digits and URL pieces mixed in.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex(&format!("(?s).{{0,{max}}}")).unwrap(),
        proptest::string::string_regex(&format!("[0-9]{{0,{max}}}")).unwrap(),
        proptest::string::string_regex(&format!("[ -~]{{0,{max}}}")).unwrap(),
    ]
}

/// Some bytes of `base` overwritten, and maybe cut short or extended.
fn mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = base.len();
    (
        proptest::collection::vec((0..len.max(1), any::<u8>()), 0..12),
        0..=len + 64,
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(move |(edits, cut, tail)| {
            let mut b = base.clone();
            for (i, v) in edits {
                if i < b.len() {
                    b[i] = v;
                }
            }
            b.truncate(cut);
            if cut > len {
                b.extend(tail);
            }
            b
        })
}

/// A JSON value of any shape, small.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)),
        text(40).prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 32, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("name".to_string()),
                    Just("producer_id".to_string()),
                    Just("lot_code".to_string()),
                    Just("production_date".to_string()),
                    Just("quantity".to_string()),
                    Just("codes".to_string()),
                    Just("place".to_string()),
                    Just("photos".to_string()),
                    Just("offline".to_string()),
                    Just("gtin".to_string()),
                    Just("ocop".to_string()),
                    Just("time".to_string()),
                    text(12)
                ],
                inner,
                0..8
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn a_real_code() -> tem::codes::StampCode {
    tem::codes::Signer::from_secret([5; 32]).sign(
        tem::domain::Serial(0x1234_5678_9abc_def0),
        tem::domain::BatchId(42),
    )
}

/// A small real PNG and JPEG, to mutate.
fn real_pictures() -> (Vec<u8>, Vec<u8>) {
    let img = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 99]));
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
        .encode_image(&img)
        .unwrap();
    (png, jpeg)
}

/// A real signed bundle and the key set that signed it.
fn a_real_bundle() -> (String, tem::codes::KeySet) {
    let dir = tempfile::tempdir().unwrap();
    let store = tem::store::SqliteStore::open(&dir.path().join("tem.db")).unwrap();
    tem::service::demo::load(&store).unwrap();
    let mut ring = tem::codes::KeyRing::open(&dir.path().join("keys")).unwrap();
    ring.generate().unwrap();
    let bundle = tem::service::bundle::export(
        &store,
        &ring.signer().unwrap(),
        ring.key_set(),
        "https://tem.example.vn",
        &[],
    )
    .unwrap();
    (serde_json::to_string(&bundle).unwrap(), ring.key_set())
}

#[test]
fn every_parser_of_untrusted_bytes_survives_arbitrary_input() {
    // Stamp codes: anything, digit runs, URLs, and a real code with digits changed.
    let real = a_real_code().to_digits();
    let near = || {
        mutated(real.clone().into_bytes()).prop_map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let urls = (text(40), near()).prop_map(|(host, code)| format!("https://{host}/{code}?lang=vi"));
    // Stamps in GS1 form, with any byte changed.
    let gs1 = a_real_code().url_in(
        "https://tem.example.vn",
        &tem::codes::StampForm::Gs1 {
            gtin: "08938505974194".into(),
        },
    );
    let near_gs1 = mutated(gs1.into_bytes()).prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    target(
        "stamp code",
        prop_oneof![text(600), near(), urls, near_gs1],
        |s| 64 * 1024 + 4 * s.len(),
        |s| {
            if let Ok(code) = tem::codes::StampCode::parse(s) {
                let again = tem::codes::StampCode::parse(&code.to_digits()).unwrap();
                prop_assert_eq!(again, code, "a parsed code prints and parses back the same");
            }
            Ok(())
        },
    );
    // GS1 Digital Link paths, plain and compressed (the stamp route's
    // other tenant): base-64 runs, near-valid plain paths, anything.
    let b64 = proptest::string::string_regex("[A-Za-z0-9_-]{0,120}").unwrap();
    let paths = (text(30), text(30)).prop_map(|(a, b)| format!("/01/08938505974194/10/{a}/21/{b}"));
    // GS1's tables (parsed once per process, over 100 KB) load before the limit
    // applies: it bounds what one input makes the decoder hold.
    let _ = tem::domain::digital_link::DigitalLink::parse_compressed("ARBCUPJjZA");
    target(
        "GS1 Digital Link path (plain or compressed)",
        prop_oneof![text(500), b64, paths],
        |s| 64 * 1024 + 16 * s.len(),
        |s| {
            use tem::domain::digital_link::DigitalLink;
            if let Ok(dl) = DigitalLink::parse_path(s) {
                prop_assert_eq!(
                    DigitalLink::parse_path(&dl.path()).unwrap(),
                    dl,
                    "canonical paths parse back the same"
                );
            }
            let _ = DigitalLink::parse_compressed(s);
            Ok(())
        },
    );
    let params = prop::collection::vec(
        (
            prop_oneof![
                Just("perPage"),
                Just("nextPageToken"),
                Just("GE_eventTime"),
                Just("EQ_bizStep"),
                Just("MATCH_epc"),
                Just("EQ_tem:lot"),
                Just("EQ_eventID"),
                Just("eventType")
            ],
            text(60),
        ),
        0..6,
    )
    .prop_map(|pairs| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            q.append_pair(k, &v);
        }
        q.finish()
    });
    target(
        "EPCIS query string",
        prop_oneof![text(2000), params],
        |s| 64 * 1024 + 16 * s.len(),
        |s| {
            let _ = tem::service::epcis_query::EventQuery::parse(s, "https://tem.example.vn");
            Ok(())
        },
    );
    target(
        "short code, serial, serial list line",
        text(80),
        |s| 16 * 1024 + 4 * s.len(),
        |s| {
            if let Some(short) = tem::domain::ShortCode::parse(s) {
                prop_assert_eq!(
                    tem::domain::ShortCode::parse(&short.to_string()),
                    Some(short)
                );
            }
            let _ = tem::domain::Serial::parse(s);
            let _ = tem::service::sheet::parse_serial(s);
            Ok(())
        },
    );
    target(
        "code list (CSV or lines)",
        proptest::collection::vec(
            prop_oneof![text(40), Just("url".to_string()), Just(real.clone())],
            0..40,
        )
        .prop_map(|lines| lines.join(if lines.len() % 2 == 0 { "\n" } else { "," })),
        |s| 64 * 1024 + 8 * s.len(),
        |s| {
            let items = tem::codes::list::parse("f", s);
            prop_assert!(items.len() <= s.lines().count());
            Ok(())
        },
    );

    // Offline bundles: anything, and a real one with bytes changed.
    let (bundle, keys) = a_real_bundle();
    target(
        "offline bundle",
        prop_oneof![
            text(400).prop_map(String::into_bytes),
            mutated(bundle.clone().into_bytes()),
        ],
        |b| MB + 16 * b.len(),
        |b| {
            let text = String::from_utf8_lossy(b);
            if let Ok(opened) = tem::service::bundle::Bundle::open(&text, &keys) {
                // Only the bundle tem signed opens: any change to what was
                // signed is refused.
                let signed: tem::service::bundle::Bundle = serde_json::from_str(&bundle).unwrap();
                prop_assert_eq!(
                    serde_json::to_string(&opened.payload).unwrap(),
                    serde_json::to_string(&signed.payload).unwrap()
                );
            }
            Ok(())
        },
    );

    // Layout files (tem.toml printers and `tem sheet --layout-file`).
    let layout = "name = \"x\"\npage_width = 210.0\npage_height = 297.0\ncolumns = 5\nrows = 13\nlabel_width = 38.1\nlabel_height = 21.2\nmargin_left = 4.7\nmargin_top = 10.7\ngap_x = 2.5\ngap_y = 0.0\n";
    target(
        "layout TOML",
        prop_oneof![
            text(300).prop_map(String::into_bytes),
            mutated(layout.as_bytes().to_vec())
        ],
        |b| 256 * 1024 + 16 * b.len(),
        |b| {
            let _ = tem::render::layout::Layout::from_toml(&String::from_utf8_lossy(b));
            Ok(())
        },
    );

    // Inspection requests (the API's JSON body).
    let request = serde_json::json!({
        "place": "Chợ Trà Vinh", "province": "Trà Vinh", "lat": 9.9, "lon": 106.3,
        "at": "2026-11-27T03:00:00Z", "codes": [real],
        "offline": {"bundle_created_at": "2026-11-26T00:00:00Z", "checks": [{"code": "1", "at": "x", "verdict": "genuine"}]},
    })
    .to_string();
    target(
        "inspection request",
        prop_oneof![
            json().prop_map(|v| v.to_string().into_bytes()),
            mutated(request.into_bytes()),
            text(200).prop_map(String::into_bytes),
        ],
        |b| 256 * 1024 + 16 * b.len(),
        |b| {
            if let Ok(r) = tem::web::inspections::parse_request(b) {
                let _ = tem::web::inspections::submission(r);
            }
            Ok(())
        },
    );

    // JSON bodies of the registry API, through to the domain's checks.
    target(
        "registry JSON bodies",
        json(),
        |v| 256 * 1024 + 32 * v.to_string().len(),
        |v| {
            if let Ok(i) = serde_json::from_value::<tem::domain::ProductInput>(v.clone()) {
                let _ = tem::domain::NewProduct::try_from(i);
            }
            if let Ok(i) = serde_json::from_value::<tem::domain::BatchInput>(v.clone()) {
                let _ = tem::domain::NewBatch::from_input(tem::domain::ProductId(1), i);
            }
            if let Ok(i) = serde_json::from_value::<tem::domain::ProducerInput>(v.clone()) {
                let _ = tem::domain::NewProducer::try_from(i);
            }
            if let Ok(i) = serde_json::from_value::<tem::domain::StageInput>(v.clone()) {
                let _ = tem::domain::NewStage::try_from(i);
            }
            Ok(())
        },
    );
    // The fields forms fill: text (NFC, lengths), GTIN, dates, groups, kinds.
    target(
        "form fields",
        text(300),
        |s| 64 * 1024 + 16 * s.len(),
        |s| {
            use tem::domain::text::{self, Lines};
            if let Ok(t) = text::required("name", s, 200, Lines::One) {
                prop_assert!(t.chars().count() <= 200 && !t.contains('\n'));
            }
            let _ = text::optional("note", Some(s), 2000, Lines::Many);
            let _ = tem::domain::Gtin::parse("gtin", s);
            let _ = tem::domain::StageTime::parse("time", s);
            let _ = tem::domain::OcopGroup::parse("ocop_group", s);
            let _ = tem::domain::ProducerKind::parse("kind", s);
            Ok(())
        },
    );

    // Pictures: anything, and real PNG and JPEG files with bytes changed.
    let (png, jpeg) = real_pictures();
    target(
        "picture (PNG, JPEG)",
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..2048),
            mutated(png),
            mutated(jpeg),
        ],
        |_| tem::picture::MAX_ALLOC as usize + 32 * MB,
        |b| {
            if let Ok(p) = tem::picture::decode(b) {
                let pixels = u64::from(p.image.width()) * u64::from(p.image.height());
                prop_assert!(pixels <= tem::picture::MAX_PIXELS);
            }
            let _ = tem::codes::photo::decode_bytes("fuzz", b);
            Ok(())
        },
    );
}
