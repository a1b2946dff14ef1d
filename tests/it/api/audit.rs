//! The audit log over HTTP: an inclusion proof for an old entry and a
//! consistency proof between two signed heads, checked with the RFC 9162
//! algorithms against the heads the server signed.

use serde_json::{Value, json};
use tem::audit::merkle;

use crate::api::helpers::spawn_app;

fn hash(hex: &Value) -> merkle::Hash {
    data_encoding::HEXLOWER
        .decode(hex.as_str().unwrap().as_bytes())
        .unwrap()
        .try_into()
        .unwrap()
}

fn path(v: &Value) -> Vec<merkle::Hash> {
    v.as_array().unwrap().iter().map(hash).collect()
}

#[test]
fn proofs_show_an_entry_is_in_the_log_and_the_log_only_grew() {
    let app = spawn_app();
    let batch = app.batch();
    app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 3}),
    );
    let old = app.post("/api/v1/audit/heads", &json!({}));
    assert_eq!(old.status, 201, "{}", old.body);
    let old_size = old.body["size"].as_u64().unwrap();
    assert!(
        old_size >= 4,
        "producer, product, batch, commission: {}",
        old.body
    );
    // More changes, another head.
    app.post(
        &format!("/api/v1/batches/{batch}/void"),
        &json!({"from": 1, "count": 1, "reason": "in hỏng"}),
    );
    app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 2}),
    );
    let new = app.post("/api/v1/audit/heads", &json!({})).body;
    let new_size = new["size"].as_u64().unwrap();
    assert_eq!(new_size, old_size + 2);
    let heads = app.get("/api/v1/audit/heads").body;
    assert_eq!(heads.as_array().unwrap().len(), 2);

    // The first entry (the producer's creation) is in the newer tree.
    let entries = app.get("/api/v1/audit/entries?from=1&limit=1").body;
    assert_eq!(entries[0]["action"], "producer.create");
    // Who: the caller's token, as the API saw it.
    assert_eq!(entries[0]["actor"], "admin token");
    let p = app
        .get(&format!(
            "/api/v1/audit/proof/inclusion?seq=1&size={new_size}"
        ))
        .body;
    let leaf = hash(&p["leaf_hash"]);
    // Anyone can rebuild the canonical bytes (docs/audit-log.md): the keys in
    // their fixed order, compact, nested keys sorted.
    let e = &entries[0];
    let canonical = format!(
        "{{\"seq\":{},\"at\":{},\"actor\":{},\"action\":{},\"object\":{},\"before\":{},\"after\":{}}}",
        e["seq"], e["at"], e["actor"], e["action"], e["object"], e["before"], e["after"]
    );
    assert_eq!(
        leaf,
        merkle::leaf_hash(canonical.as_bytes()),
        "the leaf is the hash of the entry as served"
    );
    assert!(merkle::verify_inclusion(
        &leaf,
        0,
        new_size,
        &path(&p["path"]),
        &hash(&new["root"])
    ));
    assert!(!merkle::verify_inclusion(
        &merkle::leaf_hash(b"forged"),
        0,
        new_size,
        &path(&p["path"]),
        &hash(&new["root"])
    ));

    // The newer tree extends the older one.
    let c = app
        .get(&format!(
            "/api/v1/audit/proof/consistency?from={old_size}&to={new_size}"
        ))
        .body;
    assert!(merkle::verify_consistency(
        old_size,
        new_size,
        &hash(&old.body["root"]),
        &hash(&new["root"]),
        &path(&c["path"])
    ));
    assert!(!merkle::verify_consistency(
        old_size,
        new_size,
        &hash(&new["root"]),
        &hash(&new["root"]),
        &path(&c["path"])
    ));

    let bad = app.get(&format!(
        "/api/v1/audit/proof/inclusion?seq=0&size={new_size}"
    ));
    assert_eq!(bad.status, 400);
    let bad = app.get(&format!(
        "/api/v1/audit/proof/consistency?from=5&to={}",
        new_size + 10
    ));
    assert_eq!(bad.status, 400);
}

#[test]
fn a_batch_verification_over_http_is_signed_and_checks_out() {
    let app = spawn_app();
    let batch = app.batch();
    app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 30}),
    );
    let r = app.post(&format!("/api/v1/batches/{batch}/verification"), &json!({}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["report"]["stamps"]["total"], 30);
    assert_eq!(r.body["report"]["stamps"]["signatures_ok"], 30);
    // The helper's product has no image or stages: findings, not tampering.
    assert_eq!(r.body["report"]["verdict"], "findings", "{}", r.body);
    let keys: tem::codes::KeySet =
        serde_json::from_value(app.get_with_token("/.well-known/tem-keys.json", None).body)
            .unwrap();
    let checked = tem::service::verification::check_report(&r.body.to_string(), &keys).unwrap();
    assert_eq!(checked.report.batch.id, batch);
    let mut edited = r.body.clone();
    edited["report"]["verdict"] = json!("clean");
    assert!(tem::service::verification::check_report(&edited.to_string(), &keys).is_err());
    assert_eq!(
        app.post("/api/v1/batches/999/verification", &json!({}))
            .status,
        404
    );
}
