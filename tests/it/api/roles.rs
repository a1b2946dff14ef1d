//! Roles: every API route × every kind of caller, generated from the route
//! table (`tem::web::api::ROUTES`), so a new route cannot be left out.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tem::domain::{Grant, ProducerId, Role};
use tem::service::tokens;
use tem::store::NewToken;
use tem::web::api::ROUTES;

use crate::api::helpers::{TestApp, spawn_app};

/// Who calls, and what they may see of producer A's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Admin,
    OwnProducer,
    OtherProducer,
    Inspector,
    OtherProvinceInspector,
    /// A shop selling A's products: marks stamps sold, reads nothing.
    Seller,
    /// A shop selling only B's products.
    OtherSeller,
    NoToken,
    Expired,
    Revoked,
}

impl Who {
    fn role(self) -> Option<Role> {
        match self {
            Who::Admin => Some(Role::Admin),
            Who::OwnProducer | Who::OtherProducer => Some(Role::Producer),
            Who::Inspector | Who::OtherProvinceInspector => Some(Role::Inspector),
            Who::Seller | Who::OtherSeller => Some(Role::Seller),
            _ => None,
        }
    }

    /// Whether this caller may see producer A's objects.
    fn sees_a(self) -> bool {
        matches!(self, Who::Admin | Who::OwnProducer | Who::Inspector)
    }
}

const ALL: [Who; 10] = [
    Who::Admin,
    Who::OwnProducer,
    Who::OtherProducer,
    Who::Inspector,
    Who::OtherProvinceInspector,
    Who::Seller,
    Who::OtherSeller,
    Who::NoToken,
    Who::Expired,
    Who::Revoked,
];

fn producer(app: &TestApp, name: &str, province: &str) -> i64 {
    let r = app.post(
        "/api/v1/producers",
        &json!({"kind": "cooperative", "name": name, "commune": "Xã 1", "province": province}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

fn token(app: &TestApp, grant: Grant) -> String {
    tokens::create(&*app.store, grant, Some("test"), None, "test")
        .unwrap()
        .0
}

#[test]
fn every_route_answers_each_caller_as_its_roles_say() {
    let app = spawn_app();
    // Producer A (Trà Vinh) owns the data; B is another producer (Bến Tre).
    let a = producer(&app, "Hợp tác xã A", "Trà Vinh");
    let b = producer(&app, "Hợp tác xã B", "Bến Tre");
    let product = app.create_product(a);
    let batch = app.create_batch(product, "A-2026");
    assert_eq!(
        app.post(
            &format!("/api/v1/batches/{batch}/stamps"),
            &json!({"count": 5})
        )
        .status,
        201
    );
    // Stamps 1–2 printed, so that activating them is possible.
    assert_eq!(
        app.get(&format!("/api/v1/batches/{batch}/sheet.csv?from=1&count=2"))
            .status,
        200
    );
    let stamps = app.get(&format!("/api/v1/batches/{batch}/stamps"));
    let code_path = stamps.body[0]["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    // A consumer report about A's stamp, for the triage routes.
    ureq::post(app.url(&format!("/{code_path}/report")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("kind=fake")
        .unwrap();
    let report_id = app.get("/api/v1/triage").body[0]["id"].as_i64().unwrap();
    // An inspection in A's province.
    let inspection_body = json!({
        "place": "Chợ Trà Vinh", "province": "Trà Vinh",
        "codes": [stamps.body[0]["url"].as_str().unwrap()],
    });
    let inspection = app.post("/api/v1/inspections", &inspection_body);
    assert_eq!(inspection.status, 201, "{}", inspection.body);
    let inspection_id = inspection.body["id"].as_i64().unwrap();
    // The EPCIS event of A's stamps being issued.
    let events = app.get("/api/v1/epcis/events?EQ_bizStep=commissioning");
    let event_id =
        events.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["eventID"]
            .as_str()
            .expect("A's commissioning event")
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();

    let mut tokens_by_who: BTreeMap<Who, Option<String>> = BTreeMap::new();
    tokens_by_who.insert(Who::Admin, Some(token(&app, Grant::admin())));
    tokens_by_who.insert(
        Who::OwnProducer,
        Some(token(
            &app,
            Grant::new(Role::Producer, Some(ProducerId(a)), &[]).unwrap(),
        )),
    );
    tokens_by_who.insert(
        Who::OtherProducer,
        Some(token(
            &app,
            Grant::new(Role::Producer, Some(ProducerId(b)), &[]).unwrap(),
        )),
    );
    tokens_by_who.insert(
        Who::Inspector,
        Some(token(&app, Grant::new(Role::Inspector, None, &[]).unwrap())),
    );
    tokens_by_who.insert(
        Who::OtherProvinceInspector,
        Some(token(
            &app,
            Grant::new(Role::Inspector, None, &["Bến Tre".into()]).unwrap(),
        )),
    );
    tokens_by_who.insert(
        Who::Seller,
        Some(token(
            &app,
            Grant::seller("Quầy A", vec![ProducerId(a)]).unwrap(),
        )),
    );
    tokens_by_who.insert(
        Who::OtherSeller,
        Some(token(
            &app,
            Grant::seller("Quầy B", vec![ProducerId(b)]).unwrap(),
        )),
    );
    tokens_by_who.insert(Who::NoToken, None);
    // Expired an hour ago.
    let expired = tokens::random_token();
    app.store
        .create_token(
            &NewToken {
                hash: tokens::hash(&expired),
                grant: Grant::admin(),
                label: None,
                expires_at: jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1),
            },
            "test",
        )
        .unwrap();
    tokens_by_who.insert(Who::Expired, Some(expired));
    let (revoked, info) = tokens::create(&*app.store, Grant::admin(), None, None, "test").unwrap();
    tokens::revoke(&*app.store, info.id, "test").unwrap();
    tokens_by_who.insert(Who::Revoked, Some(revoked));

    // A concrete request for every route: path and body. A route missing
    // here fails the test.
    let sample = |method: &str, path: &str| -> (String, Value) {
        let p = match path {
            "/verify/{code}" => format!("/verify/{code_path}"),
            "/products/{id}" | "/products/{id}/batches" => {
                path.replace("{id}", &product.to_string())
            }
            "/producers/{id}" => path.replace("{id}", &a.to_string()),
            "/inspections/{id}" => format!("/inspections/{inspection_id}"),
            "/epcis/events/{id}" => format!("/epcis/events/{event_id}"),
            "/triage/{kind}/{id}/resolve" => format!("/triage/report/{report_id}/resolve"),
            "/audit/proof/inclusion" => "/audit/proof/inclusion?seq=1&size=2".to_string(),
            "/audit/proof/consistency" => "/audit/proof/consistency?from=1&to=2".to_string(),
            "/batches/{id}/sheet.{format}" => format!("/batches/{batch}/sheet.csv?from=1&count=2"),
            p if p.starts_with("/batches/{id}") => p.replace("{id}", &batch.to_string()),
            p => p.to_string(),
        };
        let body = match (method, path) {
            ("GET", _) => Value::Null,
            ("POST", "/producers") => {
                json!({"kind": "household", "name": "Hộ kinh doanh C", "commune": "Xã 2", "province": "Trà Vinh"})
            }
            ("POST", "/products") => {
                json!({"producer_id": a, "name": "Mật ong", "ocop_group": "food"})
            }
            ("POST", "/products/{id}/batches") => {
                json!({"lot_code": format!("L-{}", rand_suffix()), "production_date": "2026-11-01", "quantity": 10})
            }
            ("POST", "/batches/{id}/stages") => json!({"name": "Thu hoạch", "time": "2026-11-01"}),
            ("POST", "/batches/{id}/stamps") => json!({"count": 1}),
            ("POST", "/batches/{id}/recall") => {
                json!({"reason": "kiểm tra", "notice": "Tạm ngừng", "from": 5, "count": 1})
            }
            ("POST", "/batches/{id}/recall/lift") => json!({"reason": "xong"}),
            ("POST", "/batches/{id}/void") => json!({"from": 4, "count": 1, "reason": "in hỏng"}),
            ("POST", "/batches/{id}/activate") => json!({"from": 1, "count": 2}),
            ("POST", "/batches/{id}/claims/unlock") => json!({"seq": 1}),
            ("POST", "/claims") => json!({"code": "123", "claim_code": "1"}),
            ("POST", "/audit/heads") => json!({}),
            ("POST", "/triage/{kind}/{id}/resolve") => {
                json!({"outcome": "no-action", "note": "đã kiểm tra"})
            }
            ("POST", "/scans/location") => Value::Null,
            ("POST", "/inspections") => inspection_body.clone(),
            ("POST", "/stamps/sold" | "/stamps/sold/undo") => {
                json!({"codes": [stamps.body[0]["url"].as_str().unwrap()]})
            }
            ("POST", "/batches/{id}/verification") => json!({}),
            (m, p) => {
                panic!("route {m} {p} has no sample request in the role-matrix test: add one")
            }
        };
        (format!("/api/v1{p}"), body)
    };

    let doc = app.get_with_token("/api/openapi.json", None).body;
    let mut checked = 0;
    for route in ROUTES {
        let op = &doc["paths"][format!("/api/v1{}", route.path)][route.method.to_lowercase()];
        for who in ALL {
            let (path, body) = sample(route.method, route.path);
            let token = tokens_by_who[&who].as_deref();
            let r = match (route.method, route.path) {
                ("GET", _) => app.get_with_token(&path, token),
                ("POST", "/scans/location") => continue, // public, form-encoded: covered in scan tests
                ("POST", _) => app.post_with_token(&path, &body, token),
                (m, _) => panic!("no client for method {m}"),
            };
            let what = format!(
                "{} {} as {who:?}: {} {}",
                route.method, route.path, r.status, r.body
            );
            checked += 1;
            // Whatever the answer, the API document says it can be given.
            assert!(
                op["responses"][r.status.to_string()].is_object(),
                "undocumented status: {what}"
            );
            if route.roles.is_empty() {
                assert!(
                    ![401, 403].contains(&r.status),
                    "public route refused: {what}"
                );
                continue;
            }
            let Some(role) = who.role() else {
                assert_eq!(r.status, 401, "{what}");
                assert_eq!(r.code(), "unauthorized", "{what}");
                continue;
            };
            if !route.roles.contains(&role) {
                assert_eq!(r.status, 403, "{what}");
                assert_eq!(r.code(), "forbidden", "{what}");
                continue;
            }
            let names_object = route.path.contains("{id}")
                || (route.method == "POST" && route.path == "/products");
            if (route.method, route.path, who)
                == ("POST", "/inspections", Who::OtherProvinceInspector)
            {
                // An inspector of Bến Tre cannot file an inspection in Trà Vinh.
                assert_eq!(r.status, 400, "{what}");
                assert!(
                    r.body["error"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("Bến Tre"),
                    "{what}"
                );
                continue;
            }
            if who.sees_a() {
                assert!(
                    r.status < 500 && ![401, 403, 404].contains(&r.status),
                    "allowed caller refused: {what}"
                );
            } else if names_object {
                // Another producer's, or another province's, object: as if it did not exist.
                assert_eq!(r.status, 404, "{what}");
            } else {
                assert_eq!(r.status, 200, "{what}");
                if route.path == "/triage" {
                    assert_eq!(r.body, json!([]), "triage leaks A's items: {what}");
                }
                let text = r.body.to_string();
                assert!(
                    !text.contains("Hợp tác xã A") && !text.contains("A-2026"),
                    "list leaks A's data: {what}"
                );
            }
        }
    }
    assert!(checked >= (ROUTES.len() - 1) * ALL.len());
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

#[test]
fn the_openapi_document_lists_each_routes_roles() {
    let app = spawn_app();
    let doc = app.get_with_token("/api/openapi.json", None).body;
    for route in ROUTES {
        let op = &doc["paths"][format!("/api/v1{}", route.path)][route.method.to_lowercase()];
        assert!(
            op.is_object(),
            "{} {} missing from the OpenAPI document",
            route.method,
            route.path
        );
        let roles: Vec<&str> = route.roles.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            op["x-roles"],
            json!(roles),
            "{} {}",
            route.method,
            route.path
        );
    }
}

/// The routes outside both role tables are open by design: each answers a
/// caller with no credentials (and none is left out of the table).
#[test]
fn every_public_route_answers_anyone() {
    use tem::web::public::{PUBLIC_ROUTES, STAMP_ROUTES};
    let (app, _, urls) = crate::api::scan::app_with_printed_stamps(1);
    let code = urls[0].rsplit('/').next().unwrap().to_string();
    // A product with a GTIN, for the GS1 Digital Link routes.
    let producer = app.create_producer();
    let r = app.post(
        "/api/v1/products",
        &json!({"producer_id": producer, "name": "Mật ong bạc hà", "gtin": "8938505974194"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    for route in PUBLIC_ROUTES.iter().chain(STAMP_ROUTES) {
        assert!(!route.why.is_empty());
        let path = route
            .path
            .replace("{base}", "")
            .replace("{code}", &code)
            .replace("/log/tile/{tail:.*}", "/log/tile/0/000.p/1")
            .replace("{tail:.*}", "08938505974194")
            // The commissioning of the stamps: public (this server opens
            // the EPCIS subset).
            .replace("/epcis/events/{id}", "/epcis/events/1");
        let url = app.url(&path);
        let status = match (route.method, route.path) {
            ("GET", _) => agent.get(&url).call(),
            ("HEAD", _) => agent.head(&url).call(),
            ("OPTIONS", _) => agent.options(&url).call(),
            ("POST", "{base}/{code}/claim") => agent
                .post(&url)
                .content_type("application/x-www-form-urlencoded")
                .send("claim_code=1234"),
            ("POST", "{base}/{code}/report") => agent
                .post(&url)
                .content_type("application/x-www-form-urlencoded")
                .send("kind=other"),
            (m, p) => panic!("public route {m} {p} has no sample request: add one"),
        }
        .unwrap()
        .status()
        .as_u16();
        assert!(
            status < 500 && ![401, 403, 404].contains(&status),
            "{} {} answered {status}",
            route.method,
            route.path
        );
    }
}
