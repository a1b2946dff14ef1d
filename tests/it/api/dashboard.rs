//! The dashboard over plain HTTP: sign-in and sessions, CSRF on every form,
//! producers kept to their own pages, forms that keep what was typed.

use std::collections::BTreeMap;

use serde_json::json;
use tem::domain::{Grant, ProducerId, Role};
use tem::service::tokens;

use crate::api::helpers::{TestApp, spawn_app};

/// A cookie-keeping client that does not follow redirects.
pub(crate) struct Visitor<'a> {
    app: &'a TestApp,
    agent: ureq::Agent,
    pub cookies: BTreeMap<String, String>,
}

pub(crate) struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl<'a> Visitor<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Visitor {
            app,
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .new_agent(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, resp: &mut ureq::http::Response<ureq::Body>) -> Page {
        for v in resp.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            if val.is_empty() || v.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        Page {
            status: resp.status().as_u16(),
            location: resp
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string()),
            body: String::from_utf8_lossy(
                &resp
                    .body_mut()
                    .with_config()
                    .limit(64 << 20)
                    .read_to_vec()
                    .unwrap_or_default(),
            )
            .into_owned(),
        }
    }

    pub fn get(&mut self, path: &str) -> Page {
        let mut resp = self
            .agent
            .get(self.app.url(path))
            .header("Cookie", self.cookie_header())
            .call()
            .unwrap();
        self.keep(&mut resp)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut resp = self
            .agent
            .post(self.app.url(path))
            .header("Cookie", self.cookie_header())
            .send_form(form.iter().copied())
            .unwrap();
        self.keep(&mut resp)
    }

    /// Signs in with `token` through the form; returns the reply to the POST.
    pub fn sign_in(&mut self, token: &str) -> Page {
        let form = self.get("/app/sign-in");
        let pre = hidden(&form.body, "pre");
        self.post(
            "/app/sign-in",
            &[("token", token), ("pre", &pre), ("next", "/app")],
        )
    }
}

/// The value of the hidden input `name` in a page.
pub(crate) fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        + marker.len();
    body[start..].split('"').next().unwrap().to_string()
}

fn producer_token(app: &TestApp, producer: i64) -> String {
    tokens::create(
        &*app.store,
        Grant::new(Role::Producer, Some(ProducerId(producer)), &[]).unwrap(),
        Some("HTX test"),
        None,
        "test",
    )
    .unwrap()
    .0
}

#[test]
fn sign_in_opens_a_session_and_sign_out_ends_it() {
    let app = spawn_app();
    let producer = app.create_producer();
    let token = producer_token(&app, producer);
    let mut v = Visitor::new(&app);
    // Not signed in: to the sign-in page, remembering where to go.
    let r = v.get("/app/batches/1");
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location.as_deref(),
        Some("/app/sign-in?next=/app/batches/1")
    );
    // A wrong token: refused on the form, no session.
    let r = v.sign_in("tem_wrong");
    assert_eq!(r.status, 401);
    assert!(r.body.contains("Mã truy cập không đúng"), "{}", r.body);
    assert!(!v.cookies.contains_key("tem_session"));
    // A sign-in form posted from elsewhere (no double-submit cookie): refused.
    let mut other = Visitor::new(&app);
    let r = other.post(
        "/app/sign-in",
        &[("token", &token), ("pre", "x"), ("next", "/app")],
    );
    assert_eq!(r.status, 403);
    assert!(!other.cookies.contains_key("tem_session"));

    let r = v.sign_in(&token);
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/app")));
    let session = v.cookies["tem_session"].clone();
    let home = v.get("/app");
    assert_eq!(home.status, 200);
    assert!(
        home.body.contains("Hợp tác xã"),
        "the producer's name shows: {}",
        home.body
    );
    assert!(
        home.body.contains("Chưa có sản phẩm nào"),
        "empty state: {}",
        home.body
    );
    // The cookie is HttpOnly and SameSite=Strict, and the database keeps only its hash.
    let mut raw = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .new_agent()
        .get(app.url("/app/sign-in"))
        .call()
        .unwrap();
    let _ = raw.body_mut().read_to_string();
    // (The sessions table's key is the hash; there is no column for the id.)
    let stored = app.store.session(&tokens::hash(&session)).unwrap();
    assert!(stored.is_some(), "the session is stored under its hash");

    // English on request, remembered.
    assert!(v.get("/app?lang=en").body.contains("No products yet"));
    assert!(v.get("/app").body.contains("No products yet"));
    v.get("/app?lang=vi");

    // Sign out needs the form's CSRF field too.
    let csrf = hidden(&home.body, "csrf");
    assert_eq!(v.post("/app/sign-out", &[]).status, 403);
    let r = v.post("/app/sign-out", &[("csrf", &csrf)]);
    assert_eq!(r.status, 303);
    // The old cookie no longer works.
    let mut replay = Visitor::new(&app);
    replay.cookies.insert("tem_session".into(), session);
    assert_eq!(replay.get("/app").status, 303);

    // Revoking the token ends its sessions at once.
    let mut v = Visitor::new(&app);
    v.sign_in(&token);
    assert_eq!(v.get("/app").status, 200);
    let id = tokens::list(&*app.store).unwrap().last().unwrap().id;
    tokens::revoke(&*app.store, id, "test").unwrap();
    assert_eq!(v.get("/app").status, 303);
}

#[test]
fn every_form_needs_its_csrf_token_and_producers_stay_on_their_own_pages() {
    let app = spawn_app();
    let a = app.create_producer();
    let b_resp = app.post(
        "/api/v1/producers",
        &json!({"kind": "household", "name": "Hộ B", "commune": "Xã 2", "province": "Bến Tre"}),
    );
    let b = b_resp.body["id"].as_i64().unwrap();
    let product = app.create_product(a);
    let batch = app.create_batch(product, "A-2026");
    let mut mine = Visitor::new(&app);
    mine.sign_in(&producer_token(&app, a));
    let page = mine.get(&format!("/app/batches/{batch}"));
    assert_eq!(page.status, 200);
    let csrf = hidden(&page.body, "csrf");

    // Without the token, or with another: refused, nothing issued.
    for bad in [None, Some("0".repeat(64))] {
        let mut form = vec![("count", "5")];
        if let Some(b) = &bad {
            form.push(("csrf", b.as_str()));
        }
        let r = mine.post(&format!("/app/batches/{batch}/issue"), &form);
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains("Biểu mẫu đã hết hạn"), "{}", r.body);
    }
    assert_eq!(
        app.get(&format!("/api/v1/batches/{batch}")).body["stamps"]["total"],
        0
    );
    let r = mine.post(
        &format!("/app/batches/{batch}/issue"),
        &[("csrf", &csrf), ("count", "5")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        app.get(&format!("/api/v1/batches/{batch}")).body["stamps"]["total"],
        5
    );

    // A bad value: the form again, the message next to the field, the text kept.
    let r = mine.post(
        &format!("/app/batches/{batch}/issue"),
        &[("csrf", &csrf), ("count", "năm")],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"issue-count-error\""), "{}", r.body);
    assert!(r.body.contains("value=\"năm\""), "{}", r.body);
    // The GS1 form needs the product's GTIN: no box is offered, and one
    // forced in is refused next to it, nothing issued.
    assert!(!page.body.contains("id=\"issue-gs1\""));
    let r = mine.post(
        &format!("/app/batches/{batch}/issue"),
        &[("csrf", &csrf), ("count", "1"), ("gs1", "on")],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"issue-gs1-error\""), "{}", r.body);
    let r = app.post(
        "/api/v1/products",
        &json!({"producer_id": a, "name": "Mật ong", "gtin": "8938505974194"}),
    );
    let with_gtin = app.create_batch(r.body["id"].as_i64().unwrap(), "A-GS1");
    let page = mine.get(&format!("/app/batches/{with_gtin}"));
    assert!(page.body.contains("id=\"issue-gs1\""), "{}", page.body);
    let r = mine.post(
        &format!("/app/batches/{with_gtin}/issue"),
        &[("csrf", &csrf), ("count", "2"), ("gs1", "on")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let urls = app.get(&format!("/api/v1/batches/{with_gtin}/stamps")).body;
    assert!(
        urls.to_string().contains("/01/08938505974194/21/"),
        "{urls}"
    );
    let r = mine.post(
        &format!("/app/products/{product}/batches"),
        &[
            ("csrf", &csrf),
            ("lot_code", "bad lot!"),
            ("production_date", "2026-11-01"),
            ("quantity", "10"),
        ],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"lot_code-error\""), "{}", r.body);
    assert!(r.body.contains("value=\"bad lot!\""), "{}", r.body);

    // Producer B sees none of A's pages, as if they did not exist.
    let mut theirs = Visitor::new(&app);
    theirs.sign_in(&producer_token(&app, b));
    for path in [
        format!("/app/batches/{batch}"),
        format!("/app/products/{product}"),
        format!("/app/batches/{batch}/preview.jpg"),
        format!("/app/batches/{batch}/sheet.pdf"),
        format!("/app/batches/{batch}/report.pdf"),
    ] {
        let r = theirs.get(&path);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    let their_csrf = hidden(&theirs.get("/app").body, "csrf");
    let r = theirs.post(
        &format!("/app/batches/{batch}/issue"),
        &[("csrf", &their_csrf), ("count", "5")],
    );
    assert_eq!(r.status, 404);
    let home = theirs.get("/app");
    assert!(!home.body.contains("A-2026"), "B's home lists A's batch");
    // Producers cannot recall.
    let r = mine.post(
        &format!("/app/batches/{batch}/recall"),
        &[("csrf", &csrf), ("reason", "x"), ("notice", "y")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        app.get(&format!("/api/v1/batches/{batch}/stats")).status,
        200
    );
}

#[test]
fn pages_are_escaped_and_framed_safely() {
    let app = spawn_app();
    let a = app.create_producer();
    let product = app.post(
        "/api/v1/products",
        &json!({"producer_id": a, "name": "<script>alert(1)</script> Mật ong"}),
    );
    let id = product.body["id"].as_i64().unwrap();
    let mut v = Visitor::new(&app);
    v.sign_in(crate::api::helpers::TOKEN);
    let page = v.get(&format!("/app/products/{id}"));
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<script>"), "{}", page.body);
    assert!(page.body.contains("&#60;script&#62;") || page.body.contains("&lt;script&gt;"));
    let mut raw = ureq::get(app.url("/app/sign-in")).call().unwrap();
    let csp = raw.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let _ = raw.body_mut().read_to_string();
}

impl Visitor<'_> {
    /// Posts multipart/form-data: text fields and (name, filename, bytes) files.
    pub fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Page {
        let boundary = "----temtestboundary7d1f";
        let mut body: Vec<u8> = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        for (k, name, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let mut resp = self
            .agent
            .post(self.app.url(path))
            .header("Cookie", self.cookie_header())
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .send(&body[..])
            .unwrap();
        self.keep(&mut resp)
    }
}

#[test]
fn inspectors_inspect_resolve_and_read_the_audit_log_admins_manage_tokens_and_keys() {
    let (app, batch, urls) = crate::api::scan::app_with_printed_stamps(3);
    // A consumer report for the triage queue.
    let code = urls[0].rsplit('/').next().unwrap().to_string();
    ureq::post(app.url(&format!("/{code}/report")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("kind=fake&message=nghi%20gia")
        .unwrap();
    let (inspector, _) = tokens::create(
        &*app.store,
        Grant::new(Role::Inspector, None, &[]).unwrap(),
        Some("Chi cục"),
        None,
        "test",
    )
    .unwrap();
    let mut v = Visitor::new(&app);
    v.sign_in(&inspector);
    let home = v.get("/app");
    let csrf = hidden(&home.body, "csrf");

    // An inspection from codes typed and a photo of a sheet page.
    let (status, _, png) = crate::api::sheets::get_bytes(
        &app,
        &format!("/api/v1/batches/{batch}/sheet.png?from=1&count=3&dpi=300"),
    );
    assert_eq!(status, 200);
    let codes = format!("{}\n{}", urls[1], urls[1]);
    let missing = v.post_multipart(
        "/app/inspections",
        &[("csrf", &csrf), ("place", ""), ("codes", &codes)],
        &[],
    );
    assert_eq!(missing.status, 422);
    assert!(
        missing.body.contains("id=\"place-error\""),
        "{}",
        missing.body
    );
    assert!(missing.body.contains(&urls[1]), "the codes typed are kept");
    let r = v.post_multipart(
        "/app/inspections",
        &[
            ("csrf", &csrf),
            ("place", "Chợ Trà Vinh"),
            ("province", "Trà Vinh"),
            ("codes", &codes),
        ],
        &[("photos", "ke-hang.png", &png)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = v.get(r.location.as_deref().unwrap());
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"duplicates\">2<"), "{}", page.body);
    assert!(page.body.contains("id=\"genuine\">3<"), "{}", page.body);
    let pdf = v.get(&format!("{}/record.pdf", r.location.as_deref().unwrap()));
    assert!(pdf.body.starts_with("%PDF"));
    // Without the CSRF field: refused.
    let r = v.post_multipart(
        "/app/inspections",
        &[("place", "Chợ"), ("codes", &codes)],
        &[],
    );
    assert_eq!(r.status, 403);

    // Triage: the report, resolved with an outcome and a note.
    let triage = v.get("/app/triage");
    assert!(triage.body.contains("nghi gia"), "{}", triage.body);
    let report_id = app.get("/api/v1/triage").body[0]["id"].as_i64().unwrap();
    let path = format!("/app/triage/report/{report_id}/resolve");
    let r = v.post(
        &path,
        &[("csrf", &csrf), ("outcome", "no-action"), ("note", "")],
    );
    assert_eq!(r.status, 422);
    let r = v.post(
        &path,
        &[
            ("csrf", &csrf),
            ("outcome", "no-action"),
            ("note", "Đã liên hệ người mua"),
        ],
    );
    assert_eq!(r.status, 303);
    assert!(
        v.get("/app/triage?all=1")
            .body
            .contains("Đã liên hệ người mua")
    );
    // The batch report, printable.
    let report = v.get(&format!("/app/batches/{batch}/report"));
    assert_eq!(report.status, 200);
    assert!(report.body.contains("L-2026"));
    // The audit log, newest first, with who did what.
    let audit = v.get("/app/audit");
    assert_eq!(audit.status, 200);
    assert!(audit.body.contains("inspection.create"), "{}", audit.body);
    assert!(audit.body.contains("token "), "{}", audit.body);
    // Inspectors have no admin page: the role table refuses it (403).
    assert_eq!(v.get("/app/admin").status, 403);

    // The admin: a producer (with an error first), a token shown once, keys.
    let mut a = Visitor::new(&app);
    a.sign_in(crate::api::helpers::TOKEN);
    let admin = a.get("/app/admin");
    assert_eq!(admin.status, 200);
    let csrf = hidden(&admin.body, "csrf");
    let r = a.post(
        "/app/admin/producers",
        &[
            ("csrf", &csrf),
            ("kind", "cooperative"),
            ("name", ""),
            ("commune", "Xã 1"),
            ("province", "Bến Tre"),
        ],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("value=\"Xã 1\""));
    let r = a.post(
        "/app/admin/producers",
        &[
            ("csrf", &csrf),
            ("kind", "cooperative"),
            ("name", "HTX Mới"),
            ("commune", "Xã 1"),
            ("province", "Bến Tre"),
        ],
    );
    assert_eq!(r.status, 303);
    let producer = app
        .get("/api/v1/producers")
        .body
        .as_array()
        .unwrap()
        .last()
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = a.post(
        "/app/admin/tokens",
        &[
            ("csrf", &csrf),
            ("role", "producer"),
            ("producer", &producer.to_string()),
            ("label", "HTX Mới"),
            ("expires", "30d"),
        ],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let marker = "<p class=\"code\">";
    let start = r.body.find(marker).unwrap() + marker.len();
    let new_token = r.body[start..].split('<').next().unwrap().to_string();
    assert!(new_token.starts_with("tem_"));
    assert!(
        !a.get("/app/admin").body.contains(&new_token),
        "shown once only"
    );
    let mut coop = Visitor::new(&app);
    assert_eq!(coop.sign_in(&new_token).status, 303);
    assert!(coop.get("/app").body.contains("HTX Mới"));
    let token_id = tokens::list(&*app.store).unwrap().last().unwrap().id;
    assert_eq!(
        a.post(
            &format!("/app/admin/tokens/{token_id}/revoke"),
            &[("csrf", &csrf)]
        )
        .status,
        303
    );
    assert_eq!(coop.get("/app").status, 303, "revoked: signed out");
    // Rotate the key: two keys, the old one verify-only.
    assert_eq!(
        a.post("/app/admin/keys/rotate", &[("csrf", &csrf)]).status,
        303
    );
    let keys = app.get_with_token("/.well-known/tem-keys.json", None).body;
    let statuses: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"active") && statuses.contains(&"verify-only"),
        "{statuses:?}"
    );
    let log = a.get("/app/audit");
    assert!(
        log.body.contains("keys.rotate") && log.body.contains("admin token"),
        "{}",
        log.body
    );
}

#[test]
fn producers_edit_products_and_add_stages_with_the_change_in_the_audit_log() {
    let app = spawn_app();
    let a = app.create_producer();
    let product = app.create_product(a);
    let batch = app.create_batch(product, "A-2026");
    let mut v = Visitor::new(&app);
    v.sign_in(&producer_token(&app, a));
    let edit = v.get(&format!("/app/products/{product}/edit"));
    assert_eq!(edit.status, 200);
    assert!(
        edit.body.contains("value=\"Gạo thơm Dân Tiến\""),
        "the form is filled"
    );
    let csrf = hidden(&edit.body, "csrf");
    let path = format!("/app/products/{product}");
    let r = v.post_multipart(
        &path,
        &[("csrf", &csrf), ("name", " "), ("ocop_group", "food")],
        &[],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"name-error\""), "{}", r.body);
    let photo = {
        let img = image::RgbImage::from_pixel(1600, 1600, image::Rgb([10, 120, 40]));
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        png
    };
    let r = v.post_multipart(
        &path,
        &[
            ("csrf", &csrf),
            ("name", "Gạo ST25 Dân Tiến"),
            ("ocop_group", "food"),
            ("description", "Gạo thơm vụ Đông Xuân"),
        ],
        &[("image", "gao.png", &photo)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let p = app.get(&format!("/api/v1/products/{product}")).body;
    assert_eq!(p["name"], "Gạo ST25 Dân Tiến");
    assert_eq!(p["ocop"]["stars"], 4, "the rating is kept");
    let image = p["images"][0].as_str().unwrap().to_string();
    let mut served = ureq::get(app.url(&format!("/media/{image}")))
        .call()
        .unwrap();
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    let bytes = served.body_mut().read_to_vec().unwrap();
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (1200, 1200));
    let entries = app.get("/api/v1/audit/entries").body;
    let update = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "product.update")
        .expect("an audit entry for the edit");
    assert_eq!(update["before"]["name"], "Gạo thơm Dân Tiến");
    assert_eq!(update["after"]["name"], "Gạo ST25 Dân Tiến");
    assert!(update["actor"].as_str().unwrap().starts_with("token "));

    // A stage: a bad time is shown next to the field; a good one is listed.
    let stage = format!("/app/batches/{batch}/stages");
    let r = v.post(
        &stage,
        &[("csrf", &csrf), ("name", "Thu hoạch"), ("time", "hôm qua")],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("value=\"hôm qua\""), "{}", r.body);
    let r = v.post(
        &stage,
        &[
            ("csrf", &csrf),
            ("name", "Thu hoạch"),
            ("time", "2026-11-01"),
            ("place", "Cánh đồng ấp 3"),
        ],
    );
    assert_eq!(r.status, 303);
    let page = v.get(&format!("/app/batches/{batch}"));
    assert!(page.body.contains("Cánh đồng ấp 3"), "{}", page.body);
}
