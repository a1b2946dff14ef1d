//! The store suite: every behaviour of `Store` that the layers above rely
//! on, run against both stores. Each test is a function of `&dyn Store`;
//! `store_suite!` runs it on a fresh SQLite file and on a fresh PostgreSQL
//! database (skipped, with a message, when TEM_TEST_DATABASE_URL is unset).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;

use tem::audit::merkle;
use tem::codes::{CodeCheck, CodeVerdict, Kid, StampCode};
use tem::domain::scan::RepeatRules;
use tem::domain::{
    BatchId, BatchInput, CertificationInput, Grant, NewBatch, NewProducer, NewProduct, NewStage,
    OcopRatingInput, ProducerInput, ProductId, ProductInput, Role, Serial, StageInput, StampCounts,
    StampState,
};
use tem::domain::{Outcome, TriageKind};
use tem::store::prelude::*;
use tem::store::{
    NewInspection, NewPrintJob, NewRecall, NewReport, NewScan, NewToken, PgStore, PrintedStamps,
    SqliteStore, StampFeed, Store, StoreError,
};

use crate::common::pg::{TestDatabase, test_database};

/// A store under test, with what keeps its database alive.
struct Subject {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    _db: Option<TestDatabase>,
}

fn sqlite() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    Subject {
        store: Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap()),
        _dir: Some(dir),
        _db: None,
    }
}

fn postgres(test: &str) -> Option<Subject> {
    let db = test_database(test)?;
    Some(Subject {
        store: Arc::new(PgStore::open(&db.url).unwrap()),
        _dir: None,
        _db: Some(db),
    })
}

macro_rules! store_suite {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::sqlite());
                }
            )*
        }
        mod on_postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(s) = super::postgres(stringify!($name)) {
                        super::$name(&s);
                    }
                }
            )*
        }
    };
}

store_suite!(
    registry_round_trip,
    a_serial_that_exists_is_replaced_never_reused,
    a_failing_feed_rolls_the_whole_issuance_back,
    stamps_for_another_batch_are_refused,
    lifecycle_print_activate_void,
    scans_count_judge_and_alert,
    the_registry_vouches_only_for_the_code_it_issued,
    recalls_reach_scans_and_lift,
    tokens_and_sessions,
    media_and_settings,
    inspections_with_offline_scans,
    audit_log_tree_and_heads,
    concurrent_writers_keep_counts_and_log_exact,
    request_counts_per_network_and_minute,
);

const KID: Kid = Kid([1, 2, 3, 4, 5, 6, 7, 8]);

/// An issuance of `count` stamps of `batch` under `KID`, without claim codes.
fn issuance(batch: BatchId, public_key: &[u8; 32], count: u32) -> tem::store::NewIssuance<'_> {
    tem::store::NewIssuance {
        batch,
        kid: KID,
        public_key,
        count,
        claim_codes: false,
        gs1_gtin: None,
    }
}

fn producer(store: &dyn Store, name: &str) -> tem::domain::Producer {
    store
        .create_producer(
            &NewProducer::try_from(ProducerInput {
                kind: "cooperative".into(),
                name: name.into(),
                commune: "Phú Cần".into(),
                province: "Trà Vinh".into(),
                ..Default::default()
            })
            .unwrap(),
            "test",
        )
        .unwrap()
}

fn product(store: &dyn Store, producer: i64) -> tem::domain::Product {
    store
        .create_product(
            &NewProduct::try_from(ProductInput {
                producer_id: producer,
                name: "Dưa lưới".into(),
                ..Default::default()
            })
            .unwrap(),
            "test",
        )
        .unwrap()
}

fn batch(store: &dyn Store, product: ProductId, lot: &str) -> BatchId {
    store
        .create_batch(
            &NewBatch::from_input(
                product,
                BatchInput {
                    lot_code: lot.into(),
                    production_date: "2026-07-20".into(),
                    quantity: 100,
                    ..Default::default()
                },
            )
            .unwrap(),
            "test",
        )
        .unwrap()
        .id
}

fn store_with_batch(s: &Subject) -> (&dyn Store, BatchId) {
    let store = &*s.store;
    let p = producer(store, "Hợp tác xã A");
    let pr = product(store, p.id.0);
    (store, batch(store, pr.id, "L1"))
}

/// A feed that hands out the given serials, then fresh ones counting up
/// from 1,000,000 as replacements.
struct ScriptedFeed {
    chunks: Vec<Vec<u64>>,
    batch: BatchId,
    next_fresh: u64,
    fail_after_first_chunk: bool,
    chunks_written: usize,
}

impl ScriptedFeed {
    fn new(batch: BatchId, chunks: Vec<Vec<u64>>) -> Self {
        ScriptedFeed {
            chunks,
            batch,
            next_fresh: 1_000_000,
            fail_after_first_chunk: false,
            chunks_written: 0,
        }
    }

    fn code(&self, serial: u64) -> StampCode {
        code(self.batch, serial)
    }
}

fn code(batch: BatchId, serial: u64) -> StampCode {
    StampCode {
        kid_hint: KID.hint(),
        serial: Serial(serial),
        batch,
        signature: [9; 64],
    }
}

impl StampFeed for ScriptedFeed {
    fn next_chunk(&mut self) -> Option<Vec<StampCode>> {
        if self.chunks.is_empty() {
            return None;
        }
        let serials = self.chunks.remove(0);
        Some(serials.into_iter().map(|s| self.code(s)).collect())
    }

    fn replacement(&mut self) -> StampCode {
        self.next_fresh += 1;
        self.code(self.next_fresh)
    }

    fn written(&mut self, _: &[(u32, StampCode)]) -> Result<(), String> {
        self.chunks_written += 1;
        if self.fail_after_first_chunk {
            return Err("disk full".into());
        }
        Ok(())
    }
}

fn issue(store: &dyn Store, batch: BatchId, serials: std::ops::RangeInclusive<u64>) -> u32 {
    let serials: Vec<u64> = serials.collect();
    let n = serials.len() as u32;
    store
        .issue_stamps(
            &issuance(batch, &[7; 32], n),
            "test",
            &mut ScriptedFeed::new(batch, vec![serials]),
        )
        .unwrap()
        .first_seq
}

/// Stamps 1..=`n` issued, printed and activated: on sale.
fn released(store: &dyn Store, batch: BatchId, n: u32) {
    issue(store, batch, 1..=u64::from(n));
    store
        .record_print_job(&NewPrintJob {
            batch,
            actor: "test".into(),
            layout: "a4-3x8".into(),
            format: "pdf".into(),
            stamps: PrintedStamps::Range { first: 1, last: n },
            claim_codes: 0,
            claim_reprint: false,
        })
        .unwrap();
    store.activate_stamps(batch, 1, n, "test").unwrap();
}

/// What checking the signature says, as the scan service's verify stage
/// would: the suite's stamps carry the signature [9; 64], which stands for
/// one that verifies under `KID`; any other bytes do not verify.
fn check(code: &StampCode) -> CodeCheck {
    signed(code, code.signature == [9; 64])
}

/// A check whose signature holds (or not) under `KID`, whatever its bytes.
fn signed(code: &StampCode, holds: bool) -> CodeCheck {
    CodeCheck {
        verdict: if holds {
            CodeVerdict::Genuine
        } else {
            CodeVerdict::Forged
        },
        code: Some(*code),
        kid: holds.then_some(KID),
        problem: None,
        key_until: None,
    }
}

fn scan(store: &dyn Store, code: StampCode, device: &str, at: &str) -> tem::store::ScanOutcome {
    scan_checked(store, check(&code), device, at)
}

fn scan_checked(
    store: &dyn Store,
    check: CodeCheck,
    device: &str,
    at: &str,
) -> tem::store::ScanOutcome {
    let at: jiff::Timestamp = at.parse().unwrap();
    let mut out = store
        .record_scans(
            &[NewScan {
                check,
                at,
                network: Some("net".into()),
                device: device.into(),
                agent: "Zalo/Android".into(),
                gtin: None,
            }],
            &RepeatRules::default(),
            at.to_zoned(jiff::tz::TimeZone::UTC).date(),
        )
        .unwrap();
    out.pop().unwrap()
}

// ------------------------------------------------------------------ tests

fn registry_round_trip(s: &Subject) {
    let store = &*s.store;
    let p = producer(store, "Hợp tác xã Dừa sáp");
    assert_eq!(store.producer(p.id).unwrap().unwrap(), p);
    assert_eq!(store.producers().unwrap(), vec![p.clone()]);
    assert!(
        store
            .producer(tem::domain::ProducerId(999))
            .unwrap()
            .is_none()
    );

    let input = ProductInput {
        producer_id: p.id.0,
        name: "Dừa sáp Cầu Kè".into(),
        ocop_group: Some("food".into()),
        ocop: Some(OcopRatingInput {
            stars: 4,
            decision_no: "123/QĐ-UBND".into(),
            decision_date: "2025-03-01".into(),
        }),
        description: Some("Ruột dẻo, thơm".into()),
        images: vec!["media/a.jpg".into(), "media/b.jpg".into()],
        certifications: vec![CertificationInput {
            name: "VietGAP".into(),
            issuer: Some("Sở NN".into()),
            number: Some("VG-1".into()),
            valid_until: Some("2027-01-01".into()),
        }],
        ..Default::default()
    };
    let made = store
        .create_product(&NewProduct::try_from(input.clone()).unwrap(), "test")
        .unwrap();
    assert_eq!(store.product(made.id).unwrap().unwrap(), made);
    assert_eq!(made.images, ["media/a.jpg", "media/b.jpg"]);
    assert_eq!(made.ocop.as_ref().unwrap().stars, 4);
    assert_eq!(made.certifications.len(), 1);

    // An edit replaces images and certifications; before and after are audited.
    let edited = store
        .update_product(
            made.id,
            &NewProduct::try_from(ProductInput {
                name: "Dừa sáp".into(),
                images: vec!["media/c.jpg".into()],
                certifications: vec![],
                ..input
            })
            .unwrap(),
            "test",
        )
        .unwrap();
    assert_eq!(
        (
            edited.name.as_str(),
            edited.images.len(),
            edited.certifications.len()
        ),
        ("Dừa sáp", 1, 0)
    );
    let other = producer(store, "Hộ B");
    let moved = NewProduct::try_from(ProductInput {
        producer_id: other.id.0,
        name: "x".into(),
        ..Default::default()
    })
    .unwrap();
    assert!(matches!(
        store.update_product(made.id, &moved, "test"),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.products(Some(p.id)).unwrap().len(), 1);
    assert_eq!(store.products(Some(other.id)).unwrap().len(), 0);
    assert_eq!(store.products(None).unwrap().len(), 1);

    let b = store
        .create_batch(
            &NewBatch::from_input(
                made.id,
                BatchInput {
                    lot_code: "DS-01".into(),
                    production_date: "2026-07-20".into(),
                    shelf_life_days: Some(30),
                    quantity: 500,
                    unit: Some("trái".into()),
                    stages: vec![StageInput {
                        name: "Thu hoạch".into(),
                        place: Some("Cầu Kè".into()),
                        time: "2026-07-19".into(),
                        note: None,
                    }],
                    ..Default::default()
                },
            )
            .unwrap(),
            "test",
        )
        .unwrap();
    assert_eq!(b.expiry_date.unwrap().to_string(), "2026-08-19");
    assert_eq!(store.batch(b.id).unwrap().unwrap(), b);
    let stage = store
        .add_stage(
            b.id,
            &NewStage::try_from(StageInput {
                name: "Đóng gói".into(),
                place: None,
                time: "2026-07-20".into(),
                note: Some("thùng 10 trái".into()),
            })
            .unwrap(),
            "test",
        )
        .unwrap();
    assert_eq!(stage.position, 2);
    assert_eq!(store.batch(b.id).unwrap().unwrap().stages.len(), 2);
    // A lot code is unique per product.
    let again = NewBatch::from_input(
        made.id,
        BatchInput {
            lot_code: "DS-01".into(),
            production_date: "2026-07-21".into(),
            quantity: 1,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(matches!(
        store.create_batch(&again, "test"),
        Err(StoreError::Conflict(_))
    ));
    let missing = NewBatch::from_input(ProductId(999), BatchInput { ..again_input() }).unwrap();
    assert!(matches!(
        store.create_batch(&missing, "test"),
        Err(StoreError::NotFound {
            what: "product",
            ..
        })
    ));
    let list = store.batches(Some(made.id)).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (
            list[0].lot_code.as_str(),
            list[0].stamps_issued,
            list[0].producer_name.as_str()
        ),
        ("DS-01", 0, "Hợp tác xã Dừa sáp")
    );
    // Two producers, a product, its edit, a batch and a stage: six entries,
    // nothing for the refused changes.
    let actions: Vec<String> = store
        .audit_entries(1, 100)
        .unwrap()
        .into_iter()
        .map(|(e, _)| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "producer.create",
            "product.create",
            "product.update",
            "producer.create",
            "batch.create",
            "stage.add"
        ]
    );
}

fn again_input() -> BatchInput {
    BatchInput {
        lot_code: "X".into(),
        production_date: "2026-07-21".into(),
        quantity: 1,
        ..Default::default()
    }
}

fn a_serial_that_exists_is_replaced_never_reused(s: &Subject) {
    let (store, batch) = store_with_batch(s);
    // First issuance: serials 1..=40 (a full group of 32 on SQLite and a
    // short one; short groups only on PostgreSQL).
    let first: Vec<u64> = (1..=40).collect();
    let r = store
        .issue_stamps(
            &issuance(batch, &[0; 32], 40),
            "test",
            &mut ScriptedFeed::new(batch, vec![first]),
        )
        .unwrap();
    assert_eq!((r.first_seq, r.last_seq, r.replaced_duplicates), (1, 40, 0));
    // Second: 3 serials collide with the first issuance (in a full group and
    // in the short tail), one collides within the chunk itself.
    let mut second: Vec<u64> = (100..140).collect();
    second[0] = 5;
    second[20] = 40;
    second[35] = 7;
    second[36] = 101;
    let r = store
        .issue_stamps(
            &issuance(batch, &[0; 32], 40),
            "test",
            &mut ScriptedFeed::new(batch, vec![second]),
        )
        .unwrap();
    assert_eq!(
        (r.first_seq, r.last_seq, r.replaced_duplicates),
        (41, 80, 4)
    );
    // A big issuance crosses several multi-row groups on both stores.
    let r = store
        .issue_stamps(
            &issuance(batch, &[0; 32], 1200),
            "test",
            &mut ScriptedFeed::new(batch, vec![(2000..2600).collect(), (2590..3190).collect()]),
        )
        .unwrap();
    // 10 serials repeat the first chunk; the feed's 4 replacements repeat
    // the ones the second issuance already used.
    assert_eq!(
        (r.first_seq, r.last_seq, r.replaced_duplicates),
        (81, 1280, 14)
    );

    let all = store.stamps(batch, 1, 5000).unwrap();
    assert_eq!(all.len(), 1280);
    let seqs: Vec<u32> = all.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, (1..=1280).collect::<Vec<_>>());
    let serials: HashSet<u64> = all.iter().map(|s| s.serial.0).collect();
    assert_eq!(serials.len(), 1280, "no serial may appear twice");
    assert_eq!(store.stamp_counts(batch).unwrap().total, 1280);
    assert_eq!(store.stamp_counts(batch).unwrap().issued, 1280);
    let one = store.stamp(Serial(2000)).unwrap().unwrap();
    assert_eq!(
        (one.batch, one.kid, one.state),
        (batch, KID, StampState::Issued)
    );
    assert_eq!(one.signature, [9; 64]);
    assert!(store.stamp(Serial(999_999)).unwrap().is_none());
    // Serials above 2^63 are stored bit for bit.
    let high = u64::MAX - 5;
    let first = issue(store, batch, high..=high + 2);
    assert_eq!(
        store.stamp(Serial(high + 1)).unwrap().unwrap().seq,
        first + 1
    );
}

fn a_failing_feed_rolls_the_whole_issuance_back(s: &Subject) {
    let (store, batch) = store_with_batch(s);
    let audit_before = store.audit_size().unwrap();
    let mut feed = ScriptedFeed::new(batch, vec![(1..=64).collect(), (65..=128).collect()]);
    feed.fail_after_first_chunk = true;
    let err = store
        .issue_stamps(&issuance(batch, &[0; 32], 128), "test", &mut feed)
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Aborted(ref m) if m.contains("disk full")),
        "{err}"
    );
    assert_eq!(feed.chunks_written, 1);
    assert!(store.stamps(batch, 1, 1000).unwrap().is_empty());
    assert_eq!(store.stamp_counts(batch).unwrap(), StampCounts::default());
    // A feed that runs dry is refused the same way.
    let mut short = ScriptedFeed::new(batch, vec![(1..=10).collect()]);
    assert!(matches!(
        store.issue_stamps(&issuance(batch, &[0; 32], 20), "test", &mut short),
        Err(StoreError::Aborted(_))
    ));
    assert!(store.stamps(batch, 1, 1000).unwrap().is_empty());
    assert_eq!(store.audit_size().unwrap(), audit_before);
    assert!(store.events(batch).unwrap().is_empty());
    // The numbers were not used up: the next issuance starts at 1.
    assert_eq!(issue(store, batch, 1..=3), 1);
}

fn stamps_for_another_batch_are_refused(s: &Subject) {
    let (store, batch) = store_with_batch(s);
    let mut feed = ScriptedFeed::new(BatchId(batch.0 + 1), vec![(1..=5).collect()]);
    assert!(matches!(
        store.issue_stamps(&issuance(batch, &[0; 32], 5), "test", &mut feed),
        Err(StoreError::Aborted(_))
    ));
    let mut feed = ScriptedFeed::new(batch, vec![(1..=5).collect()]);
    let missing = BatchId(batch.0 + 1);
    assert!(matches!(
        store.issue_stamps(&issuance(missing, &[0; 32], 5), "test", &mut feed),
        Err(StoreError::NotFound { what: "batch", .. })
    ));
}

fn lifecycle_print_activate_void(s: &Subject) {
    let (store, batch) = store_with_batch(s);
    issue(store, batch, 1..=20);
    let job = |stamps| NewPrintJob {
        batch,
        actor: "test".into(),
        layout: "a4-3x8".into(),
        format: "pdf".into(),
        stamps,
        claim_codes: 0,
        claim_reprint: false,
    };
    // Activating what was never printed is refused, all or nothing.
    assert!(matches!(
        store.activate_stamps(batch, 1, 5, "test"),
        Err(StoreError::Conflict(_))
    ));
    let p = store
        .record_print_job(&job(PrintedStamps::Range { first: 1, last: 10 }))
        .unwrap();
    assert_eq!((p.stamps, p.reprinted), (10, 0));
    let p = store
        .record_print_job(&job(PrintedStamps::List(vec![9, 10, 11, 15])))
        .unwrap();
    assert_eq!(
        (p.first_seq, p.last_seq, p.stamps, p.reprinted),
        (9, 15, 4, 2)
    );
    assert_eq!(store.print_jobs(batch).unwrap().len(), 2);
    assert_eq!(store.activate_stamps(batch, 1, 8, "test").unwrap(), 8);
    assert_eq!(store.activate_stamps(batch, 1, 8, "test").unwrap(), 0);
    assert!(matches!(
        store.activate_stamps(batch, 19, 25, "test"),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.void_stamps(batch, 5, 12, "torn", "test").unwrap(), 8);
    assert_eq!(store.void_stamps(batch, 5, 12, "torn", "test").unwrap(), 0);
    // A voided stamp cannot be printed; nothing of that job is recorded.
    assert!(matches!(
        store.record_print_job(&job(PrintedStamps::Range {
            first: 12,
            last: 14
        })),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.record_print_job(&job(PrintedStamps::Range {
            first: 20,
            last: 21
        })),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.print_jobs(batch).unwrap().len(), 2);
    let counts = store.stamp_counts(batch).unwrap();
    assert_eq!(
        (
            counts.issued,
            counts.printed,
            counts.activated,
            counts.voided,
            counts.total
        ),
        // Issued 13, 14, 16..=20; printed 15; activated 1..=4; voided 5..=12.
        (7, 1, 4, 8, 20),
        "{counts:?}"
    );
    let by_state = |st| store.stamps_in_state(batch, st).unwrap().len() as u64;
    assert_eq!(by_state(StampState::Issued), counts.issued);
    assert_eq!(by_state(StampState::Activated), counts.activated);
    assert_eq!(by_state(StampState::Voided), counts.voided);
    let events: Vec<String> = store
        .events(batch)
        .unwrap()
        .into_iter()
        .map(|e| e.action.to_string())
        .collect();
    assert_eq!(events, ["commission", "print", "print", "activate", "void"]);
    let map = store.stamp_counts_by_batch(&[batch]).unwrap();
    assert_eq!(map[&batch], counts);
}

fn scans_count_judge_and_alert(s: &Subject) {
    let (store, batch) = store_with_batch(s);
    released(store, batch, 3);
    let genuine = code(batch, 1);
    let first = scan(store, genuine, "phone-1", "2026-11-27T01:00:00Z");
    assert_eq!(first.verdict.as_str(), "genuine");
    let stamp = first.stamp.unwrap();
    assert_eq!((stamp.seq, stamp.scan_count), (1, 1));
    // A forged signature on a real serial: not the registry's stamp.
    let mut forged = genuine;
    forged.signature[0] ^= 1;
    let out = scan(store, forged, "phone-9", "2026-11-27T01:01:00Z");
    assert_eq!(out.verdict.as_str(), "forged");
    assert!(out.stamp.is_none());
    // Many devices: the scan that first breaks a rule raises one alert.
    let rules = RepeatRules::default();
    let mut alerts_seen = 0;
    for i in 0..rules.devices + 2 {
        let out = scan(
            store,
            genuine,
            &format!("phone-{i}"),
            &format!("2026-11-27T02:{:02}:00Z", i),
        );
        if !out.repeat.is_empty() {
            alerts_seen += 1;
        }
    }
    assert!(alerts_seen >= 2, "later scans keep the warning");
    let stamp = store.stamp_scans(batch, 1, 10).unwrap();
    assert_eq!(stamp[0].1, u64::from(rules.devices) + 3, "exact scan count");
    assert_eq!(stamp[1].1, 0);
    let triage = store.triage(true, Some(batch)).unwrap();
    assert_eq!(triage.len(), 1, "{triage:?}");
    assert_eq!(triage[0].kind, TriageKind::Alert);
    assert_eq!(
        triage[0].serial.as_deref(),
        Some(Serial(1).to_string().as_str())
    );
    // Reports join the queue; resolving is once only.
    let report = store
        .add_report(&NewReport {
            serial: Some(Serial(2)),
            batch: Some(batch),
            kind: tem::domain::ReportKind::Fake,
            message: Some("tem bị bóc".into()),
            place: Some("Chợ Trà Vinh".into()),
            network: None,
        })
        .unwrap();
    assert_eq!(store.consumer_reports(batch).unwrap()[0].id, report);
    assert_eq!(store.triage(true, None).unwrap().len(), 2);
    let item = store
        .triage_item(TriageKind::Report, report)
        .unwrap()
        .unwrap();
    assert_eq!(item.seq, Some(2));
    assert_eq!(item.summary, "fake: tem bị bóc");
    let done = store
        .resolve_triage(
            TriageKind::Report,
            report,
            Outcome::NoAction,
            "đã kiểm tra",
            "inspector",
        )
        .unwrap();
    assert_eq!(done.resolution.unwrap().outcome, Outcome::NoAction);
    // The resolution is in the audit log, about the stamp's batch.
    let resolved: Vec<_> = store
        .audit_entries_about(&format!("batch:{}", batch.0))
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "triage.resolve")
        .collect();
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!(resolved[0].actor, "inspector");
    let after = resolved[0].after.as_ref().unwrap();
    assert_eq!(after["item"], format!("report:{report}"));
    assert_eq!(after["note"], "đã kiểm tra");
    assert!(matches!(
        store.resolve_triage(
            TriageKind::Report,
            report,
            Outcome::Other,
            "again",
            "inspector"
        ),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.resolve_triage(TriageKind::Alert, 999_999, Outcome::Other, "x", "inspector"),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.triage(true, None).unwrap().len(), 1);
    assert_eq!(store.triage(false, None).unwrap().len(), 2);
    // A shared location reaches the scan and the stamp's recent scans.
    assert!(
        store
            .set_scan_location(first.scan_id, 9.93, 106.34)
            .unwrap()
    );
    assert!(!store.set_scan_location(999_999, 1.0, 1.0).unwrap());
    assert_eq!(store.scan_locations(batch).unwrap(), vec![(9.93, 106.34)]);
    let stats = store.batch_scan_stats(batch, &rules, true).unwrap();
    assert_eq!(stats.scans, u64::from(rules.devices) + 4);
    assert_eq!(stats.stamps_scanned, 1);
    assert_eq!(stats.reports, 1);
    assert_eq!(
        stats.per_day,
        vec![("2026-11-27".to_string(), u64::from(rules.devices) + 4)]
    );
    assert!(stats.by_verdict.contains(&("forged".to_string(), 1)));
    assert_eq!(stats.suspicious.len(), 1);
    assert_eq!(stats.history.len() as u64, u64::from(rules.devices) + 4);
    assert_eq!(
        stats.history.iter().filter(|h| h.shared_location).count(),
        1
    );
    // A malformed code is recorded too.
    let out = store
        .record_scans(
            &[NewScan {
                check: CodeCheck::malformed(tem::codes::CodeError::Empty),
                at: jiff::Timestamp::now(),
                network: None,
                device: "d".into(),
                agent: "a".into(),
                gtin: None,
            }],
            &rules,
            jiff::civil::date(2026, 11, 27),
        )
        .unwrap();
    assert_eq!(out[0].verdict.as_str(), "malformed");
}

/// Genuine needs both: the signature verified by the caller, and the
/// registry's row equal to the code.
fn the_registry_vouches_only_for_the_code_it_issued(s: &Subject) {
    let (store, batch) = store_with_batch(s);
    released(store, batch, 3);
    let row = code(batch, 1);
    // A row whose signature does not verify (written behind tem's back)
    // is forged even though the code equals it byte for byte.
    let out = scan_checked(store, signed(&row, false), "p1", "2026-11-27T01:00:00Z");
    assert_eq!(out.verdict.as_str(), "forged");
    assert!(out.stamp.is_none());
    // A code whose signature holds but which differs from the row (other
    // bytes, another batch, another key): not registered, and an alert.
    let mut other_bytes = row;
    other_bytes.signature[63] ^= 1;
    let out = scan_checked(
        store,
        signed(&other_bytes, true),
        "p2",
        "2026-11-27T01:01:00Z",
    );
    assert_eq!(out.verdict.as_str(), "unknown-serial");
    assert!(out.stamp.is_none());
    let mut other_key = signed(&row, true);
    other_key.kid = Some(Kid([8, 7, 6, 5, 4, 3, 2, 1]));
    let out = scan_checked(store, other_key, "p3", "2026-11-27T01:02:00Z");
    assert_eq!(out.verdict.as_str(), "unknown-serial");
    let mut moved = row;
    moved.batch = BatchId(batch.0 + 1000);
    let out = scan_checked(store, signed(&moved, true), "p4", "2026-11-27T01:03:00Z");
    assert_eq!(out.verdict.as_str(), "unknown-serial");
    let stamps = store.stamp_scans(batch, 1, 1).unwrap();
    assert_eq!(
        stamps[0].1, 0,
        "none of these counted as a scan of the stamp"
    );
    let alerts: Vec<_> = store
        .triage(true, Some(batch))
        .unwrap()
        .into_iter()
        .filter(|t| t.kind == TriageKind::Alert && t.summary.contains("registry-mismatch"))
        .collect();
    assert_eq!(alerts.len(), 3, "{alerts:?}");
    // The code exactly as issued, signature verified: genuine, counted.
    let out = scan(store, row, "p5", "2026-11-27T01:04:00Z");
    assert_eq!(out.verdict.as_str(), "genuine");
    assert_eq!(out.stamp.unwrap().scan_count, 1);
}

fn recalls_reach_scans_and_lift(s: &Subject) {
    let (store, batch) = store_with_batch(s);
    released(store, batch, 10);
    let notice = store
        .recall(&NewRecall {
            batch,
            range: Some((3, 4)),
            reason: "ô nhiễm".into(),
            notice: "Ngừng sử dụng".into(),
            actor: "inspector".into(),
        })
        .unwrap();
    let out = scan(store, code(batch, 3), "p", "2026-11-27T03:00:00Z");
    assert_eq!(out.verdict.as_str(), "recalled");
    assert_eq!(out.stamp.unwrap().recall.unwrap().notice, notice.notice);
    assert_eq!(
        scan(store, code(batch, 5), "p", "2026-11-27T03:00:00Z")
            .verdict
            .as_str(),
        "genuine"
    );
    assert_eq!(
        store.lift_recalls(batch, "đã xử lý", "inspector").unwrap(),
        1
    );
    assert_eq!(store.lift_recalls(batch, "again", "inspector").unwrap(), 0);
    assert_eq!(
        scan(store, code(batch, 3), "q", "2026-11-27T04:00:00Z")
            .verdict
            .as_str(),
        "genuine"
    );
    let recalls = store.recalls(batch).unwrap();
    assert_eq!(recalls.len(), 1);
    assert_eq!(
        (recalls[0].first_seq, recalls[0].last_seq),
        (Some(3), Some(4))
    );
    assert!(recalls[0].lifted_at.is_some());
    assert!(matches!(
        store.lift_recalls(BatchId(batch.0 + 50), "x", "y"),
        Err(StoreError::NotFound { .. })
    ));
}

fn tokens_and_sessions(s: &Subject) {
    let store = &*s.store;
    let p = producer(store, "HTX");
    let hash = [5u8; 32];
    let token = store
        .create_token(
            &NewToken {
                hash,
                grant: Grant {
                    role: Role::Producer,
                    producer: Some(p.id),
                    provinces: vec![],
                    ..Grant::admin()
                },
                label: Some("máy tính HTX".into()),
                expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
            },
            "admin",
        )
        .unwrap();
    assert_eq!(store.token_by_hash(&hash).unwrap().unwrap(), token);
    // Same lookup prefix, different hash: no token.
    let mut near = hash;
    near[31] ^= 1;
    assert!(store.token_by_hash(&near).unwrap().is_none());
    let orphan = NewToken {
        hash: [6; 32],
        grant: Grant {
            role: Role::Producer,
            producer: Some(tem::domain::ProducerId(999)),
            provinces: vec![],
            ..Grant::admin()
        },
        label: None,
        expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
    };
    assert!(matches!(
        store.create_token(&orphan, "admin"),
        Err(StoreError::NotFound { .. })
    ));
    let inspector = store
        .create_token(
            &NewToken {
                hash: [7; 32],
                grant: Grant {
                    role: Role::Inspector,
                    producer: None,
                    provinces: vec!["Trà Vinh".into()],
                    ..Grant::admin()
                },
                label: None,
                expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
            },
            "admin",
        )
        .unwrap();
    assert_eq!(inspector.grant.provinces, ["Trà Vinh"]);
    // A seller names its shop and the producers it sells for.
    let seller = store
        .create_token(
            &NewToken {
                hash: [9; 32],
                grant: Grant::seller("Cửa hàng OCOP Trà Vinh", vec![p.id]).unwrap(),
                label: None,
                expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
            },
            "admin",
        )
        .unwrap();
    assert_eq!(store.token_by_hash(&[9; 32]).unwrap().unwrap(), seller);
    assert_eq!(seller.grant.role, Role::Seller);
    assert_eq!(seller.grant.sells_for, [p.id]);
    assert_eq!(seller.grant.shop.as_deref(), Some("Cửa hàng OCOP Trà Vinh"));
    assert_eq!(store.tokens().unwrap().len(), 3);

    let session = [1u8; 32];
    let later: jiff::Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    store
        .create_session(&session, Some(token.id), None, "csrf-1", later)
        .unwrap();
    let admin = [2u8; 32];
    store
        .create_session(&admin, None, Some(&[3; 32]), "csrf-2", later)
        .unwrap();
    // An expired session is forgotten when the next one opens.
    let old = [4u8; 32];
    store
        .create_session(
            &old,
            None,
            Some(&[3; 32]),
            "c",
            "2020-01-01T00:00:00Z".parse().unwrap(),
        )
        .unwrap();
    store
        .create_session(&[8; 32], None, Some(&[3; 32]), "c", later)
        .unwrap();
    assert!(store.session(&old).unwrap().is_none());
    let got = store.session(&session).unwrap().unwrap();
    assert_eq!(
        (got.token.unwrap().id, got.csrf.as_str()),
        (token.id, "csrf-1")
    );
    assert_eq!(
        store.session(&admin).unwrap().unwrap().admin_hash,
        Some(vec![3; 32])
    );
    assert!(store.revoke_token(token.id, "admin").unwrap());
    assert!(!store.revoke_token(token.id, "admin").unwrap());
    let revoked = store.session(&session).unwrap().unwrap().token.unwrap();
    assert!(
        revoked.revoked_at.is_some(),
        "the session sees its token's state"
    );
    store.delete_session(&session).unwrap();
    assert!(store.session(&session).unwrap().is_none());
}

fn media_and_settings(s: &Subject) {
    let store = &*s.store;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    store.put_media("a.jpg", "image/jpeg", &bytes).unwrap();
    store.put_media("a.jpg", "image/jpeg", b"other").unwrap();
    assert_eq!(
        store.media("a.jpg").unwrap().unwrap(),
        ("image/jpeg".to_string(), bytes)
    );
    assert!(store.media("b.jpg").unwrap().is_none());
    let made = std::cell::Cell::new(0);
    let make = || {
        made.set(made.get() + 1);
        format!("salt-{}", made.get())
    };
    assert_eq!(store.setting("salt", &make).unwrap(), "salt-1");
    assert_eq!(store.setting("salt", &make).unwrap(), "salt-1");
    assert_eq!(made.get(), 1);
    store.ping().unwrap();

    // A photo is stored with its product, in the product's transaction: a
    // product that fails leaves no photo behind.
    let photo = tem::domain::Media::jpeg(b"\xff\xd8 a photo".to_vec());
    let mut new = NewProduct::try_from(ProductInput {
        producer_id: 999,
        name: "Mật ong".into(),
        ..Default::default()
    })
    .unwrap();
    new.images.push(photo.name.clone());
    new.media.push(photo.clone());
    assert!(
        store.create_product(&new, "test").is_err(),
        "no producer 999"
    );
    assert!(
        store.media(&photo.name).unwrap().is_none(),
        "no orphan photo"
    );
    new.producer_id = producer(store, "Hộ nuôi ong").id;
    let made = store.create_product(&new, "test").unwrap();
    assert_eq!(made.images, std::slice::from_ref(&photo.name));
    assert_eq!(store.media(&photo.name).unwrap().unwrap().1, photo.bytes);
}

fn inspections_with_offline_scans(s: &Subject) {
    let (store, batch) = store_with_batch(s);
    issue(store, batch, 1..=2);
    let item =
        |n: u32, serial: u64, verdict: &str, dup: Option<u32>| tem::domain::inspection::Item {
            n,
            source: "code".into(),
            input: format!("code {n}"),
            serial: Some(Serial(serial).to_string()),
            batch_id: Some(batch.0),
            verdict: tem::domain::scan::Verdict::parse(verdict).unwrap(),
            reason: None,
            duplicate_of: dup,
            offline_verdict: None,
            checked_at: None,
        };
    let items = vec![
        item(1, 1, "genuine", None),
        item(2, 1, "genuine", Some(1)),
        item(3, 77, "unknown-serial", None),
    ];
    let summary = tem::domain::inspection::summarise(&items);
    let made = store
        .create_inspection(&NewInspection {
            at: "2026-11-27T05:00:00Z".into(),
            place: "Chợ Bến Thành".into(),
            province: Some("Hồ Chí Minh".into()),
            location: Some((10.77, 106.7)),
            note: None,
            inspector: "inspector 1".into(),
            source: "offline".into(),
            bundle_at: Some("2026-11-26T00:00:00Z".into()),
            items,
            summary: summary.clone(),
            scans: vec![
                tem::store::InspectionScan {
                    serial: Serial(1),
                    batch,
                    at: "2026-11-27T05:00:00Z".into(),
                    verdict: tem::domain::scan::Verdict::Genuine,
                },
                // Not a registered stamp: no scan.
                tem::store::InspectionScan {
                    serial: Serial(77),
                    batch,
                    at: "2026-11-27T05:00:00Z".into(),
                    verdict: tem::domain::scan::Verdict::UnknownSerial,
                },
            ],
        })
        .unwrap();
    assert_eq!(made.items.len(), 3);
    assert_eq!(made.summary, summary);
    assert_eq!(made.summary.duplicates, 1);
    assert_eq!(store.inspection(made.id).unwrap().unwrap(), made);
    let list = store.inspections().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].summary, summary, "the list carries each summary");
    assert!(list[0].items.is_empty());
    assert_eq!(store.stamp_scans(batch, 1, 2).unwrap()[0].1, 1);
    assert!(store.inspection(made.id + 1).unwrap().is_none());
}

fn audit_log_tree_and_heads(s: &Subject) {
    let (store, batch) = store_with_batch(s);
    for i in 0..20 {
        store
            .audit_record("cli:test", "key.generate", &format!("key:{i}"), None)
            .unwrap();
    }
    store
        .record_verification("v-1", batch, "inspector", "clean", "{}")
        .unwrap();
    let size = store.audit_size().unwrap();
    assert_eq!(size, 3 + 20 + 1);
    let entries = store.audit_entries(1, 1000).unwrap();
    assert_eq!(entries.len() as u64, size);
    let leaves: Vec<merkle::Hash> = entries
        .iter()
        .map(|(e, stored)| {
            assert_eq!(
                e.leaf().as_slice(),
                stored.as_slice(),
                "stored leaf of {}",
                e.seq
            );
            e.leaf()
        })
        .collect();
    // Every perfect subtree the store keeps agrees with the entries.
    let mut view: &dyn Store = store;
    assert_eq!(
        merkle::range_hash(&mut view, 0, size).unwrap(),
        merkle::root(&leaves)
    );
    assert_eq!(
        merkle::range_hash(&mut view, 0, 16).unwrap(),
        merkle::root(&leaves[..16])
    );
    assert_eq!(store.audit_entries(5, 2).unwrap()[0].0.seq, 5);
    assert_eq!(
        store
            .audit_entries_about(&format!("batch:{batch}"))
            .unwrap()
            .len(),
        1
    );
    let head = tem::audit::TreeHead {
        size,
        root: data_encoding::HEXLOWER.encode(&merkle::root(&leaves)),
        at: "2026-11-27T00:00:00Z".into(),
        kid: "k".into(),
        signature: data_encoding::BASE64URL_NOPAD.encode(&[1; 64]),
    };
    store.add_audit_head(&head).unwrap();
    store.add_audit_head(&head).unwrap();
    assert_eq!(store.audit_heads().unwrap(), vec![head]);
}

fn concurrent_writers_keep_counts_and_log_exact(s: &Subject) {
    let (store, batch) = store_with_batch(s);
    released(store, batch, 4);
    let before = store.audit_size().unwrap();
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            scope.spawn(move || {
                for i in 0..25 {
                    let at = format!("2026-11-27T06:{:02}:{:02}Z", t, i);
                    scan(store, code(batch, 1 + (i % 4)), &format!("d{t}"), &at);
                    if i % 5 == 0 {
                        store
                            .audit_record("cli:test", "key.generate", &format!("k{t}-{i}"), None)
                            .unwrap();
                    }
                }
            });
        }
        // Meanwhile an inspector's offline checks count scans of the same
        // stamps, under the exclusive write lock.
        scope.spawn(move || {
            for i in 0..5u32 {
                store
                    .create_inspection(&NewInspection {
                        at: format!("2026-11-27T07:0{i}:00Z"),
                        place: "Chợ".into(),
                        province: None,
                        location: None,
                        note: None,
                        inspector: "inspector".into(),
                        source: "offline".into(),
                        bundle_at: None,
                        items: vec![],
                        summary: tem::domain::inspection::summarise(&[]),
                        scans: vec![tem::store::InspectionScan {
                            serial: Serial(1 + u64::from(i % 4)),
                            batch,
                            at: format!("2026-11-27T07:0{i}:00Z"),
                            verdict: tem::domain::scan::Verdict::Genuine,
                        }],
                    })
                    .unwrap();
            }
        });
    });
    let scans: u64 = store
        .stamp_scans(batch, 1, 4)
        .unwrap()
        .iter()
        .map(|s| s.1)
        .sum();
    assert_eq!(scans, 105);
    let stats = store
        .batch_scan_stats(batch, &RepeatRules::default(), false)
        .unwrap();
    assert_eq!(stats.scans, 105);
    // Alerts and records: one unbroken run of sequence numbers.
    let entries = store.audit_entries(1, 10_000).unwrap();
    let seqs: Vec<u64> = entries.iter().map(|(e, _)| e.seq).collect();
    assert_eq!(seqs, (1..=entries.len() as u64).collect::<Vec<_>>());
    assert!(entries.len() as u64 >= before + 25);
    let leaves: Vec<merkle::Hash> = entries.iter().map(|(e, _)| e.leaf()).collect();
    let mut view: &dyn Store = store;
    assert_eq!(
        merkle::range_hash(&mut view, 0, leaves.len() as u64).unwrap(),
        merkle::root(&leaves)
    );
}

fn request_counts_per_network_and_minute(s: &Subject) {
    let store = &*s.store;
    let counts: Vec<u64> = (0..3)
        .map(|_| store.count_request("net-a", 100).unwrap())
        .collect();
    assert_eq!(counts, [1, 2, 3]);
    assert_eq!(store.count_request("net-b", 100).unwrap(), 1);
    assert_eq!(
        store.count_request("net-a", 101).unwrap(),
        1,
        "a new minute"
    );
    // Counting is exact under concurrency (several nodes, many requests).
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..25 {
                    store.count_request("net-c", 100).unwrap();
                }
            });
        }
    });
    assert_eq!(store.count_request("net-c", 100).unwrap(), 101);
}

// ------------------------------------------------- migrations, per database

const FUTURE: &str = "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
                      VALUES (99, 'future', '2030-01-01T00:00:00Z', '1')";

#[test]
fn a_sqlite_database_from_a_newer_tem_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(FUTURE, [])
        .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Schema(_)), "{err}");
}

#[test]
fn a_postgres_database_from_a_newer_tem_is_refused() {
    let Some(db) = test_database("a_postgres_database_from_a_newer_tem_is_refused") else {
        return;
    };
    drop(PgStore::open(&db.url).unwrap());
    db.client().execute(FUTURE, &[]).unwrap();
    let err = PgStore::open(&db.url).unwrap_err();
    assert!(matches!(err, StoreError::Schema(_)), "{err}");
}

#[test]
fn postgres_nodes_starting_together_migrate_once() {
    let Some(db) = test_database("postgres_nodes_starting_together_migrate_once") else {
        return;
    };
    let stores: Vec<PgStore> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| PgStore::open(&db.url))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    let applied: i64 = db
        .client()
        .query_one("SELECT COUNT(*) FROM refinery_schema_history", &[])
        .unwrap()
        .get(0);
    let files = std::fs::read_dir("src/store/migrations/postgres")
        .unwrap()
        .count();
    assert_eq!(applied as usize, files, "each migration applied once");
    for s in &stores {
        s.ping().unwrap();
    }
}

#[test]
fn a_postgres_url_with_a_wrong_password_says_so_without_the_password() {
    let Some(db) = test_database("a_postgres_url_with_a_wrong_password") else {
        return;
    };
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_password(Some("not-the-password-9f3a")).unwrap();
    let err = PgStore::open(url.as_str()).unwrap_err().to_string();
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
    assert!(!err.contains("not-the-password-9f3a"), "{err}");
    let err = PgStore::open("postgres://user:secret-pw@[bad")
        .unwrap_err()
        .to_string();
    assert!(!err.contains("secret-pw"), "{err}");
}

/// PostgreSQL over TLS: `verify-full` checks the server's certificate
/// against the given CA and its name; `require` encrypts without checking;
/// a certificate from an unknown CA or for another name is refused.
#[test]
fn postgres_over_tls_checks_the_server_certificate() {
    let Some(db) = test_database("postgres_over_tls") else {
        return;
    };
    let Ok(ca) = std::env::var("TEM_TEST_PG_CA") else {
        assert!(
            std::env::var_os("TEM_TEST_REQUIRE_POSTGRES").is_none(),
            "scripts/test sets TEM_TEST_PG_CA"
        );
        return;
    };
    let url = url::Url::parse(&db.url).unwrap();
    let with = |host: &str, query: &str| {
        let mut u = url.clone();
        u.set_host(Some(host)).unwrap();
        u.set_query(Some(query));
        u.to_string()
    };
    let tls_connections = || -> i64 {
        let mut admin = db.client();
        admin
            .query_one(
                "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                 WHERE a.datname = current_database() AND a.application_name = 'tem' AND s.ssl",
                &[],
            )
            .unwrap()
            .get(0)
    };
    // The CA given, the name on the certificate: connected, encrypted.
    let store = PgStore::open(&with(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .unwrap();
    store.ping().unwrap();
    assert!(tls_connections() > 0, "the pool's connections use TLS");
    drop(store);
    // The system's roots do not know the test CA.
    let err = PgStore::open(&with("localhost", "sslmode=verify-full"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("sslmode=verify-full"), "{err}");
    // The certificate names localhost, not 127.0.0.1.
    let err = PgStore::open(&with(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("cannot connect"), "{err}");
    assert!(
        !err.contains("tem_test:tem_test"),
        "no password in messages: {err}"
    );
    // require: encrypted, the certificate not checked.
    let store = PgStore::open(&with("127.0.0.1", "sslmode=require")).unwrap();
    store.ping().unwrap();
    drop(store);
}
