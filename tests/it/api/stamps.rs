//! Issuing stamps over HTTP: all or nothing, unique serials under
//! concurrency, and codes that verify against the published key set.

use std::collections::HashSet;

use serde_json::json;
use tem::codes::{CodeVerdict, KeySet, Verifier};

use crate::api::helpers::{spawn_app, spawn_app_with};

fn published_verifier(app: &crate::api::helpers::TestApp) -> Verifier {
    let keys: KeySet =
        serde_json::from_value(app.get_with_token("/.well-known/tem-keys.json", None).body)
            .unwrap();
    Verifier::new(&keys)
}

#[test]
fn issued_stamps_verify_against_the_published_keys() {
    let app = spawn_app();
    let batch = app.batch();
    let r = app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 300}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (
            r.body["count"].as_u64(),
            r.body["first_seq"].as_u64(),
            r.body["last_seq"].as_u64()
        ),
        (Some(300), Some(1), Some(300))
    );
    assert_eq!(r.body["qr_version"], 6);

    let stamps = app
        .get(&format!("/api/v1/batches/{batch}/stamps?limit=1000"))
        .body;
    let stamps = stamps.as_array().unwrap();
    assert_eq!(stamps.len(), 300);
    let verifier = published_verifier(&app);
    let mut serials = HashSet::new();
    for (i, s) in stamps.iter().enumerate() {
        assert_eq!(s["seq"].as_u64(), Some(i as u64 + 1));
        assert_eq!(s["state"], "issued");
        let url = s["url"].as_str().unwrap();
        assert!(url.starts_with("https://tem.example.vn/1"));
        let check = verifier.check(url);
        assert_eq!(check.verdict, CodeVerdict::Genuine);
        let code = check.code.unwrap();
        assert_eq!(code.batch.0, batch);
        assert_eq!(code.serial.to_string(), s["serial"].as_str().unwrap());
        assert_eq!(
            code.serial.short_code().to_string(),
            s["short_code"].as_str().unwrap()
        );
        assert!(serials.insert(code.serial));
    }
    let counts = app.get(&format!("/api/v1/batches/{batch}")).body["stamps"].clone();
    assert_eq!(
        (counts["total"].as_u64(), counts["issued"].as_u64()),
        (Some(300), Some(300))
    );
}

#[test]
fn stamp_counts_out_of_range_are_refused() {
    let app = spawn_app();
    let batch = app.batch();
    for count in [json!(0), json!(1_000_001), json!(-5), json!("ten")] {
        let r = app.post(
            &format!("/api/v1/batches/{batch}/stamps"),
            &json!({"count": count}),
        );
        assert_eq!(r.status, 400, "{count}: {}", r.body);
    }
    let r = app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 0}),
    );
    assert_eq!(r.body["error"]["field"], "count");
    let r = app.post("/api/v1/batches/999/stamps", &json!({"count": 5}));
    assert_eq!((r.status, r.code()), (404, "batch_not_found"));
    assert_eq!(
        app.store
            .stamp_counts(tem::domain::BatchId(batch))
            .unwrap()
            .total,
        0
    );
}

#[test]
fn without_a_signing_key_issuance_fails_cleanly_and_stores_nothing() {
    let app = spawn_app_with(false);
    let batch = app.batch();
    let r = app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 10}),
    );
    assert_eq!((r.status, r.code()), (503, "no_signing_key"));
    assert_eq!(
        app.store
            .stamp_counts(tem::domain::BatchId(batch))
            .unwrap()
            .total,
        0
    );
    assert!(
        !r.body
            .to_string()
            .contains(app.dir.path().to_str().unwrap()),
        "server paths must not leak"
    );
}

#[test]
fn concurrent_issuance_never_duplicates_a_serial_or_a_number() {
    let app = std::sync::Arc::new(spawn_app());
    let batch = app.batch();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let app = app.clone();
            std::thread::spawn(move || {
                for _ in 0..3 {
                    let r = app.post(
                        &format!("/api/v1/batches/{batch}/stamps"),
                        &json!({"count": 250}),
                    );
                    assert_eq!(r.status, 201, "{}", r.body);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut all = Vec::new();
    let mut from = 1;
    loop {
        let page = app
            .get(&format!(
                "/api/v1/batches/{batch}/stamps?from={from}&limit=1000"
            ))
            .body;
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        from = page.last().unwrap()["seq"].as_u64().unwrap() + 1;
        all.extend(page);
    }
    assert_eq!(all.len(), 3000);
    let serials: HashSet<_> = all
        .iter()
        .map(|s| s["serial"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(serials.len(), 3000);
    let seqs: Vec<u64> = all.iter().map(|s| s["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=3000).collect::<Vec<_>>());
    assert_eq!(
        app.store
            .stamp_counts(tem::domain::BatchId(batch))
            .unwrap()
            .total,
        3000
    );
}
