//! Producers, products, batches and stages over HTTP, and the error envelope.

use serde_json::json;

use crate::api::helpers::{TOKEN, spawn_app};

#[test]
fn healthz_key_set_and_openapi_are_public() {
    let app = spawn_app();
    let r = app.get_with_token("/healthz", None);
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ok")));

    let keys = app.get_with_token("/.well-known/tem-keys.json", None);
    assert_eq!(keys.status, 200);
    assert_eq!(keys.body["format"], "tem-keys/1");
    let list = keys.body["keys"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "active");
    assert_eq!(list[0]["kid"].as_str().unwrap().len(), 16);
    assert!(
        !keys.body.to_string().contains("PRIVATE"),
        "the key set must hold only public keys"
    );

    let doc = app.get_with_token("/api/openapi.json", None);
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/producers",
        "/api/v1/products",
        "/api/v1/products/{id}/batches",
        "/api/v1/batches/{id}",
        "/api/v1/batches/{id}/stages",
        "/api/v1/batches/{id}/stamps",
    ] {
        assert!(
            doc.body["paths"].get(path).is_some(),
            "OpenAPI lacks {path}"
        );
    }
    // An audit entry's `before` and `after` are null when there is nothing
    // to show; the schema must allow it.
    let entry = &doc.body["components"]["schemas"]["Entry"]["properties"];
    for field in ["before", "after"] {
        let text = entry[field].to_string();
        assert!(
            text.contains("null"),
            "Entry.{field} is not nullable: {text}"
        );
    }
}

#[test]
fn api_routes_need_the_admin_token() {
    let app = spawn_app();
    for token in [None, Some("wrong-token-wrong-token-wrong")] {
        let r = app.get_with_token("/api/v1/producers", token);
        assert_eq!(r.status, 401);
        assert_eq!(r.code(), "unauthorized");
    }
    assert_eq!(
        app.get_with_token("/api/v1/producers", Some(TOKEN)).status,
        200
    );
}

#[test]
fn producer_names_are_stored_in_nfc() {
    let app = spawn_app();
    // "Dân Tiến" with combining marks (NFD), as some keyboards send it.
    let nfd = "Hợp tác xã Da\u{0302}n Tie\u{0302}\u{0301}n";
    let r = app.post("/api/v1/producers", &json!({"kind": "cooperative", "name": nfd, "commune": "Dân Thành", "province": "Trà Vinh"}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["name"], "Hợp tác xã Dân Tiến");
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/producers/{id}")).body["name"],
        "Hợp tác xã Dân Tiến"
    );
}

#[test]
fn invalid_fields_are_named_and_nothing_is_stored() {
    let app = spawn_app();
    let r = app.post(
        "/api/v1/producers",
        &json!({"kind": "farm", "name": "X", "commune": "Y", "province": "Z"}),
    );
    assert_eq!((r.status, r.code()), (400, "invalid_input"));
    assert_eq!(r.body["error"]["field"], "kind");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cooperative")
    );

    let r = app.post(
        "/api/v1/producers",
        &json!({"kind": "household", "name": "X".repeat(201), "commune": "Y", "province": "Z"}),
    );
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (400, Some("name"))
    );

    let producer = app.create_producer();
    let r = app.post(
        "/api/v1/products",
        &json!({"producer_id": producer, "name": "Gạo", "gtin": "8934588012113"}),
    );
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (400, Some("gtin"))
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("check digit")
    );

    let r = app.post("/api/v1/products", &json!({"producer_id": producer, "name": "Gạo", "ocop_group": "food", "ocop": {"stars": 6, "decision_no": "1", "decision_date": "2024-01-01"}}));
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (400, Some("ocop.stars"))
    );

    assert_eq!(
        app.get("/api/v1/producers").body.as_array().unwrap().len(),
        1
    );
    assert_eq!(
        app.get("/api/v1/products").body.as_array().unwrap().len(),
        0
    );
}

#[test]
fn unknown_references_are_404_with_a_code() {
    let app = spawn_app();
    let r = app.post(
        "/api/v1/products",
        &json!({"producer_id": 999, "name": "Gạo"}),
    );
    assert_eq!((r.status, r.code()), (404, "producer_not_found"));
    let r = app.get("/api/v1/batches/12345");
    assert_eq!((r.status, r.code()), (404, "batch_not_found"));
    let r = app.get("/api/v1/batches/not-a-number");
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = app.get("/api/v1/products/77/batches");
    assert_eq!((r.status, r.code()), (404, "product_not_found"));
    let r = app.get("/api/v1/nothing-here");
    assert_eq!((r.status, r.code()), (404, "not_found"));
}

#[test]
fn malformed_and_oversized_bodies_are_refused() {
    let app = spawn_app();
    let r = app.post_raw("/api/v1/producers", "application/json", b"{\"kind\": ");
    assert_eq!((r.status, r.code()), (400, "invalid_json"));
    let r = app.post_raw(
        "/api/v1/producers",
        "application/json",
        br#"{"kind":"household","name":"A","commune":"B","province":"C","extra":1}"#,
    );
    assert_eq!((r.status, r.code()), (400, "invalid_json"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("extra")
    );
    let big = format!(
        "{{\"kind\":\"household\",\"name\":\"{}\"}}",
        "a".repeat(300 * 1024)
    );
    let r = app.post_raw("/api/v1/producers", "application/json", big.as_bytes());
    assert_eq!((r.status, r.code()), (413, "payload_too_large"));
    let r = app.post_raw("/api/v1/producers", "text/plain", b"hello");
    assert_eq!((r.status, r.code()), (400, "unsupported_media_type"));
}

#[test]
fn batches_hold_what_circular_02_2024_asks_for() {
    let app = spawn_app();
    let producer = app.create_producer();
    let product = app.create_product(producer);
    let r = app.post(
        &format!("/api/v1/products/{product}/batches"),
        &json!({
            "lot_code": "DT-2024-HT1", "production_date": "2024-06-15", "expiry_date": "2025-06-15",
            "quantity": 5000, "unit": "túi 5 kg", "raw_material_area": "Cánh đồng ấp Dân Tiến",
            "stages": [
                {"name": "Thu hoạch", "place": "Cánh đồng ấp Dân Tiến", "time": "2024-05-28"},
                {"name": "Xay xát", "place": "Nhà máy HTX", "time": "2024-06-10T07:30"}
            ]
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_u64().unwrap();
    let r = app.post(
        &format!("/api/v1/batches/{id}/stages"),
        &json!({"name": "Đóng gói", "place": "Xưởng HTX", "time": "2024-06-15"}),
    );
    assert_eq!((r.status, r.body["position"].as_u64()), (201, Some(3)));

    let batch = app.get(&format!("/api/v1/batches/{id}")).body;
    assert_eq!(batch["lot_code"], "DT-2024-HT1");
    assert_eq!(batch["expiry_date"], "2025-06-15");
    let names: Vec<&str> = batch["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Thu hoạch", "Xay xát", "Đóng gói"]);
    assert_eq!(batch["stages"][1]["time"], "2024-06-10T07:30");

    let product = app.get(&format!("/api/v1/products/{product}")).body;
    assert_eq!(product["ocop"]["stars"], 4);
    assert_eq!(product["ocop"]["valid_until"], "2027-05-19");

    let listed = app.get("/api/v1/batches").body;
    let first = &listed.as_array().unwrap()[0];
    for field in [
        "id",
        "lot_code",
        "product_id",
        "product_name",
        "producer_id",
    ] {
        assert!(first.get(field).is_some(), "batch list lacks {field}");
    }
}

#[test]
fn a_lot_code_is_unique_per_product() {
    let app = spawn_app();
    let producer = app.create_producer();
    let product = app.create_product(producer);
    app.create_batch(product, "LOT-1");
    let r = app.post(
        &format!("/api/v1/products/{product}/batches"),
        &json!({"lot_code": "LOT-1", "production_date": "2024-06-15", "quantity": 1}),
    );
    assert_eq!((r.status, r.code()), (409, "conflict"));
    // The same lot code under another product is fine.
    let other = app.create_product(producer);
    app.create_batch(other, "LOT-1");
}
