//! Roles on the dashboard: every page × every kind of visitor, generated
//! from the route table (`tem::web::PAGES`), so a new page cannot be left
//! out. Forms are posted with the visitor's valid CSRF token, so a refusal
//! can only come from the role check; after every refusal the database is
//! exactly as it was.

use serde_json::json;
use tem::domain::{Grant, ProducerId, Role};
use tem::service::tokens;
use tem::web::{PAGES, PageAccess};

use crate::api::dashboard::{Page, Visitor, hidden};
use crate::api::helpers::{TOKEN, TestApp, spawn_app};

/// Who visits, and what they may see of producer A's data (Trà Vinh).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    SignedOut,
    OtherProducer,
    OtherProvinceInspector,
    Inspector,
    OwnProducer,
    Admin,
    /// A shop selling A's products.
    Seller,
}

impl Who {
    fn role(self) -> Option<Role> {
        match self {
            Who::Admin => Some(Role::Admin),
            Who::OwnProducer | Who::OtherProducer => Some(Role::Producer),
            Who::Inspector | Who::OtherProvinceInspector => Some(Role::Inspector),
            Who::Seller => Some(Role::Seller),
            Who::SignedOut => None,
        }
    }

    fn sees_a(self) -> bool {
        matches!(self, Who::Admin | Who::OwnProducer | Who::Inspector)
    }
}

/// Refusals first, so that the allowed visitors' changes come after.
const ALL: [Who; 7] = [
    Who::SignedOut,
    Who::OtherProducer,
    Who::OtherProvinceInspector,
    Who::Inspector,
    Who::OwnProducer,
    Who::Admin,
    Who::Seller,
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
fn every_dashboard_page_answers_each_visitor_as_its_roles_say() {
    let app = spawn_app();
    let a = producer(&app, "Hợp tác xã A", "Trà Vinh");
    let b = producer(&app, "Hợp tác xã B", "Bến Tre");
    let product = app.create_product(a);
    let batch = app.create_batch(product, "A-2026");
    let issued = app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 10}),
    );
    assert_eq!(issued.status, 201);
    assert_eq!(
        app.get(&format!("/api/v1/batches/{batch}/sheet.csv?from=1&count=4"))
            .status,
        200
    );
    let stamps = app.get(&format!("/api/v1/batches/{batch}/stamps"));
    let url = stamps.body[0]["url"].as_str().unwrap().to_string();
    let code_path = url.rsplit('/').next().unwrap().to_string();
    ureq::post(app.url(&format!("/{code_path}/report")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("kind=fake")
        .unwrap();
    let report_id = app.get("/api/v1/triage").body[0]["id"].as_i64().unwrap();
    let inspection = app.post(
        "/api/v1/inspections",
        &json!({"place": "Chợ Trà Vinh", "province": "Trà Vinh", "codes": [url]}),
    );
    assert_eq!(inspection.status, 201, "{}", inspection.body);
    let inspection_id = inspection.body["id"].as_i64().unwrap();
    let (_, spare) = tokens::create(&*app.store, Grant::admin(), Some("spare"), None, "t").unwrap();
    // A verify-only key to revoke: the first key, after a rotation.
    let keys = app.dir.path().join("keys");
    let (_, old) = tem::service::keys::rotate(&keys, &*app.store, "test").unwrap();
    let old_kid = old.expect("the key rotated out");

    let mut visitors: Vec<(Who, Visitor, String)> = Vec::new();
    for who in ALL {
        let mut v = Visitor::new(&app);
        let grant = match who {
            Who::SignedOut => None,
            Who::Admin => Some(None),
            Who::OwnProducer => Some(Some(Grant::new(Role::Producer, Some(ProducerId(a)), &[]))),
            Who::OtherProducer => Some(Some(Grant::new(Role::Producer, Some(ProducerId(b)), &[]))),
            Who::Inspector => Some(Some(Grant::new(Role::Inspector, None, &[]))),
            Who::OtherProvinceInspector => {
                Some(Some(Grant::new(Role::Inspector, None, &["Bến Tre".into()])))
            }
            Who::Seller => Some(Some(Grant::seller("Quầy A", vec![ProducerId(a)]))),
        };
        let csrf = match grant {
            None => String::new(),
            Some(grant) => {
                let t = match grant {
                    None => TOKEN.to_string(),
                    Some(g) => token(&app, g.unwrap()),
                };
                assert_eq!(v.sign_in(&t).status, 303, "{who:?} signs in");
                // A shop's phone opens at the till (the start page sends it there).
                let start = if who == Who::Seller {
                    "/app/sell"
                } else {
                    "/app"
                };
                hidden(&v.get(start).body, "csrf")
            }
        };
        visitors.push((who, v, csrf));
    }

    let mut checked = 0;
    for route in PAGES {
        let roles = match route.access {
            PageAccess::Anyone => {
                // Open pages: sign-in and sign-out. Signing out is not tried
                // here (it would end the visitors' sessions).
                assert!(
                    ["/sign-in", "/sign-out"].contains(&route.path),
                    "{} is open to anyone",
                    route.path
                );
                continue;
            }
            PageAccess::Roles(roles) => roles,
        };
        let object = route.path.contains('{');
        let path = format!(
            "/app{}",
            match route.path {
                "/triage/{kind}/{id}/resolve" => format!("/triage/report/{report_id}/resolve"),
                "/admin/tokens/{id}/revoke" => format!("/admin/tokens/{}/revoke", spare.id),
                "/admin/keys/{kid}/revoke" => format!("/admin/keys/{old_kid}/revoke"),
                "/batches/{id}/sheet.pdf" => format!("/batches/{batch}/sheet.pdf?from=1&count=2"),
                "/search" => "/search?q=A-2026".to_string(),
                p if p.starts_with("/products/{id}") => p.replace("{id}", &product.to_string()),
                p if p.starts_with("/batches/{id}") => p.replace("{id}", &batch.to_string()),
                p if p.starts_with("/inspections/{id}") => {
                    p.replace("{id}", &inspection_id.to_string())
                }
                p if p.contains('{') => panic!("no sample for {p}: add one"),
                p => p.to_string(),
            }
        );
        for (who, v, csrf) in visitors.iter_mut() {
            let who = *who;
            let province = if who == Who::OtherProvinceInspector {
                "Bến Tre"
            } else {
                "Trà Vinh"
            };
            let lot = format!("L-{who:?}");
            let before = app.db_fingerprint();
            let page: Page = match (route.method, route.path) {
                ("GET", _) => v.get(&path),
                ("POST", "/products") => v.post_multipart(
                    &path,
                    &[
                        ("csrf", csrf),
                        ("name", "Mật ong rừng"),
                        ("producer_id", &a.to_string()),
                        ("ocop_group", "food"),
                    ],
                    &[],
                ),
                ("POST", "/products/{id}") => v.post_multipart(
                    &path,
                    &[
                        ("csrf", csrf),
                        ("name", "Gạo thơm Dân Tiến"),
                        ("ocop_group", "food"),
                    ],
                    &[],
                ),
                ("POST", "/sell") => v.post_multipart(
                    &path,
                    &[("csrf", csrf), ("codes", &url), ("action", "sell")],
                    &[],
                ),
                ("POST", "/inspections") => v.post_multipart(
                    &path,
                    &[
                        ("csrf", csrf),
                        ("place", "Chợ"),
                        ("province", province),
                        ("codes", &url),
                    ],
                    &[],
                ),
                ("POST", p) => {
                    let fields: Vec<(&str, &str)> = match p {
                        "/products/{id}/batches" => vec![
                            ("lot_code", &lot),
                            ("production_date", "2026-11-01"),
                            ("shelf_life_days", "365"),
                            ("quantity", "100"),
                        ],
                        "/batches/{id}/stages" => {
                            vec![("name", "Thu hoạch"), ("time", "2026-11-01")]
                        }
                        "/batches/{id}/issue" => vec![("count", "1")],
                        "/batches/{id}/activate" => vec![("from", "1"), ("count", "2")],
                        "/batches/{id}/void" => {
                            vec![("from", "4"), ("count", "1"), ("reason", "in hỏng")]
                        }
                        "/batches/{id}/recall" => {
                            vec![("reason", "kiểm tra"), ("notice", "Tạm ngừng")]
                        }
                        "/batches/{id}/lift" => vec![("reason", "xong")],
                        "/triage/{kind}/{id}/resolve" => {
                            vec![("outcome", "no-action"), ("note", "đã xem")]
                        }
                        "/admin/producers" => vec![
                            ("kind", "household"),
                            ("name", "Hộ C"),
                            ("commune", "Xã 2"),
                            ("province", "Trà Vinh"),
                        ],
                        "/admin/tokens" => vec![("role", "inspector"), ("label", "mới")],
                        "/admin/tokens/{id}/revoke"
                        | "/admin/keys/rotate"
                        | "/admin/keys/{kid}/revoke" => vec![],
                        other => panic!("no sample body for POST {other}: add one"),
                    };
                    let mut form = vec![("csrf", csrf.as_str())];
                    form.extend(fields);
                    v.post(&path, &form)
                }
                (m, p) => panic!("no sample for {m} {p}"),
            };
            let to_sign_in = page.status == 303
                && page
                    .location
                    .as_deref()
                    .is_some_and(|l| l.starts_with("/app/sign-in"));
            let allowed = who.role().is_some_and(|r| roles.contains(&r));
            let hidden_object = (object && !who.sees_a())
                || (route.path == "/audit" && who == Who::OtherProvinceInspector);
            let what = format!("{} {} as {who:?}", route.method, path);
            if who == Who::SignedOut {
                assert!(to_sign_in, "{what}: {} {:?}", page.status, page.location);
            } else if !allowed {
                assert_eq!(page.status, 403, "{what}");
            } else if hidden_object {
                assert_eq!(page.status, 404, "{what}");
            } else {
                assert!(
                    !to_sign_in && ![403, 404].contains(&page.status) && page.status < 500,
                    "{what}: {} {:?}",
                    page.status,
                    page.location
                );
                checked += 1;
                continue;
            }
            assert_eq!(
                app.db_fingerprint(),
                before,
                "{what} was refused but changed the database"
            );
        }
    }
    assert!(checked > 40, "only {checked} allowed requests were tried");
}

/// A dashboard form does what an API route does; it may not allow a role
/// the API refuses (the dashboard once let inspectors issue stamps).
#[test]
fn dashboard_forms_allow_no_role_their_api_route_refuses() {
    let same = [
        ("POST", "/products", "POST", "/products"),
        ("POST", "/sell", "POST", "/stamps/sold"),
        (
            "POST",
            "/products/{id}/batches",
            "POST",
            "/products/{id}/batches",
        ),
        (
            "POST",
            "/batches/{id}/stages",
            "POST",
            "/batches/{id}/stages",
        ),
        (
            "POST",
            "/batches/{id}/issue",
            "POST",
            "/batches/{id}/stamps",
        ),
        (
            "GET",
            "/batches/{id}/sheet.pdf",
            "GET",
            "/batches/{id}/sheet.{format}",
        ),
        (
            "GET",
            "/batches/{id}/preview.jpg",
            "GET",
            "/batches/{id}/sheet.{format}",
        ),
        (
            "POST",
            "/batches/{id}/activate",
            "POST",
            "/batches/{id}/activate",
        ),
        ("POST", "/batches/{id}/void", "POST", "/batches/{id}/void"),
        (
            "POST",
            "/batches/{id}/recall",
            "POST",
            "/batches/{id}/recall",
        ),
        (
            "POST",
            "/batches/{id}/lift",
            "POST",
            "/batches/{id}/recall/lift",
        ),
        (
            "POST",
            "/triage/{kind}/{id}/resolve",
            "POST",
            "/triage/{kind}/{id}/resolve",
        ),
        ("POST", "/inspections", "POST", "/inspections"),
        ("GET", "/inspections/{id}", "GET", "/inspections/{id}"),
        ("POST", "/admin/producers", "POST", "/producers"),
    ];
    for (method, page, api_method, api_path) in same {
        let page_roles = PAGES
            .iter()
            .find(|p| p.method == method && p.path == page)
            .map(|p| match p.access {
                PageAccess::Roles(r) => r,
                PageAccess::Anyone => panic!("{page} is open to anyone"),
            })
            .unwrap_or_else(|| panic!("no page {method} {page}"));
        let api_roles = tem::web::api::ROUTES
            .iter()
            .find(|r| r.method == api_method && r.path == api_path)
            .unwrap_or_else(|| panic!("no API route {api_method} {api_path}"))
            .roles;
        for role in page_roles {
            assert!(
                api_roles.contains(role),
                "{method} /app{page} lets a {role:?} do what {api_method} /api/v1{api_path} refuses"
            );
        }
    }
}
