//! tem as a GS1-conformant resolver: each statement of GS1's conformance
//! list (Digital Link 1.2, `Conformance1_2.txt`, quoted above its test)
//! against the running server; the link set against GS1's model link set.

use serde_json::{Value, json};

use super::helpers::{TestApp, spawn_app};

const BASE: &str = "https://tem.example.vn";
const GTIN13: &str = "8938505974194";
const GTIN: &str = "08938505974194";
const VOC: &str = "https://ref.gs1.org/voc/";

/// One answer: status, headers by lower-case name, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn location(&self) -> &str {
        self.header("location").expect("a Location header")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

fn call(app: &TestApp, method: &str, path: &str, accept: Option<&str>) -> Answer {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let url = app.url(path);
    let mut req = ureq::http::Request::builder().method(method).uri(&url);
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    let mut resp = agent.run(req.body(()).unwrap()).unwrap();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    Answer {
        status: resp.status().as_u16(),
        headers,
        body: resp.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn get(app: &TestApp, path: &str) -> Answer {
    call(app, "GET", path, None)
}

/// A product with a GTIN-13 and OCOP rating, a lot with a stage, and one
/// stamp of it; returns (batch id, the stamp's serial as 16 hex digits).
fn registry(app: &TestApp) -> (u32, String) {
    let producer = app.create_producer();
    let r = app.post(
        "/api/v1/products",
        &json!({"producer_id": producer, "name": "Mật ong bạc hà", "gtin": GTIN13, "ocop_group": "food",
                "ocop": {"stars": 4, "decision_no": "1021/QĐ-UBND", "decision_date": "2024-05-20"}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let product = r.body["id"].as_i64().unwrap();
    let r = app.post(
        &format!("/api/v1/products/{product}/batches"),
        &json!({"lot_code": "MO-2026/11", "production_date": "2026-11-02", "shelf_life_days": 720,
                "quantity": 100, "stages": [{"name": "Thu hoạch", "time": "2026-10-20", "place": "Đồng Văn"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let batch = r.body["id"].as_u64().unwrap() as u32;
    let r = app.post(
        &format!("/api/v1/batches/{batch}/stamps"),
        &json!({"count": 1}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let stamps = app.get(&format!("/api/v1/batches/{batch}/stamps?limit=1"));
    let serial = stamps.body[0]["serial"]
        .as_str()
        .or_else(|| stamps.body["stamps"][0]["serial"].as_str())
        .unwrap_or_else(|| panic!("no serial in {}", stamps.body))
        .to_string();
    (batch, serial)
}

/// The links of a `Link` header: (target, rel, the whole entry).
fn header_links(value: &str) -> Vec<(String, String, String)> {
    value
        .split(", <")
        .map(|entry| {
            let entry = entry.trim_start_matches('<');
            let href = entry.split('>').next().unwrap().to_string();
            let rel = entry
                .split("rel=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_string();
            (href, rel, entry.to_string())
        })
        .collect()
}

/// "SHALL support HTTP 1.1 (or higher) GET, HEAD and OPTIONS requests." and
/// "SHALL support CORS".
#[test]
fn get_head_and_options_are_answered_with_cors() {
    let app = spawn_app();
    registry(&app);
    let path = format!("/01/{GTIN}");
    let got = get(&app, &path);
    assert_eq!(got.status, 307);
    assert_eq!(got.header("access-control-allow-origin"), Some("*"));
    let head = call(&app, "HEAD", &path, None);
    assert_eq!(head.status, 307);
    assert_eq!(head.location(), got.location());
    let options = call(&app, "OPTIONS", &path, None);
    assert_eq!(options.status, 204);
    let methods = options.header("access-control-allow-methods").unwrap();
    for m in ["GET", "HEAD", "OPTIONS"] {
        assert!(methods.contains(m), "{methods}");
    }
    assert_eq!(options.header("access-control-allow-origin"), Some("*"));
}

/// "SHALL extract and syntactically validate the URI … and report errors
/// with an HTTP response code of 400." and "SHALL NOT use a 200 OK response
/// code with a resource that indicates an error condition."
#[test]
fn a_uri_that_is_not_a_digital_link_is_400_and_an_unknown_gtin_404() {
    let app = spawn_app();
    registry(&app);
    for bad in [
        format!("/01/{GTIN}/foo"),
        "/01/08938505974195".to_string(),
        "/01/0893850597419".to_string(),
        format!("/01/{GTIN}/21/{}", "9".repeat(21)),
        format!("/01/{GTIN}/21/1/10/A"),
        format!("/01/{GTIN}/10/L%C3%B4"),
    ] {
        let r = get(&app, &bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], "invalid_input", "{bad}");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{bad}");
    }
    assert_eq!(
        get(&app, "/01/96385074").status,
        404,
        "a valid GTIN-8 no product has"
    );
}

/// "SHALL respond to a query parameter of linkType set to all by returning
/// a list of links … as per Linkset … If the request … includes one or more
/// key qualifiers, any links associated with each level up to the primary
/// key SHALL be included. The URI used as the subject … SHALL be the
/// uncompressed version." and "All links exposed SHALL include the target
/// URL, the link relationship type … and a human-readable title".
#[test]
fn link_type_all_answers_a_link_set_with_every_level_up_to_the_gtin() {
    let app = spawn_app();
    registry(&app);
    let lot = format!("/01/{GTIN13}/10/MO-2026%2F11");
    let r = get(&app, &format!("{lot}?linkType=all"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/linkset+json"));
    let set = r.json();
    let context = &set["linkset"][0];
    assert_eq!(
        context["anchor"],
        format!("{BASE}/01/{GTIN}/10/MO-2026%2F11")
    );
    let pips: Vec<&str> = context[format!("{VOC}pip")]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["href"].as_str().unwrap())
        .collect();
    assert!(
        pips.contains(&format!("{BASE}/product/01/{GTIN}/10/MO-2026%2F11").as_str()),
        "{pips:?}"
    );
    assert!(
        pips.contains(&format!("{BASE}/product/01/{GTIN}").as_str()),
        "{pips:?}"
    );
    assert!(context[format!("{VOC}traceability")].is_array());
    assert!(context[format!("{VOC}certificationInfo")].is_array());
    assert!(
        context.get(format!("{VOC}recallStatus")).is_none(),
        "no recall in force"
    );
    for (key, links) in context.as_object().unwrap() {
        if !key.starts_with(VOC) {
            continue;
        }
        for l in links.as_array().unwrap() {
            assert!(l["href"].as_str().unwrap().starts_with(BASE), "{l}");
            assert!(!l["title"].as_str().unwrap().is_empty(), "{l}");
            assert_eq!(l["type"], "text/html");
        }
    }
    // Asked for by media type, the same list.
    let r = call(&app, "GET", &lot, Some("application/linkset+json"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), set);
    let r = call(
        &app,
        "GET",
        &format!("{lot}?linkType=all"),
        Some("application/json"),
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
}

/// "SHOULD expose link to the linkset in an HTTP Link header, even when
/// redirecting.", "SHALL recognise one available link as the default …",
/// "SHALL redirect to the default link unless …" and "SHALL redirect to
/// the requested linkType if available".
#[test]
fn redirects_go_to_the_default_or_the_asked_link_type_with_the_links_in_a_header() {
    let app = spawn_app();
    registry(&app);
    let lot = format!("/01/{GTIN}/10/MO-2026%2F11");
    let r = get(&app, &lot);
    assert_eq!(r.status, 307);
    let links = header_links(r.header("link").expect("a Link header on a redirect"));
    assert!(
        links
            .iter()
            .any(|(href, rel, _)| rel == "linkset" && href == &format!("{BASE}{lot}?linkType=all")),
        "{links:?}"
    );
    for (href, rel, entry) in &links {
        assert!(href.starts_with("https://"), "{entry}");
        assert!(!rel.is_empty() && entry.contains("title=\""), "{entry}");
    }
    assert_eq!(
        r.location(),
        format!("{BASE}/product/01/{GTIN}/10/MO-2026%2F11")
    );
    assert!(
        links
            .iter()
            .any(|(href, rel, _)| href == r.location() && rel == &format!("{VOC}pip")),
        "the default is one of the links"
    );
    for (rel, _) in links
        .iter()
        .map(|(h, r, _)| (r, h))
        .filter(|(r, _)| r.starts_with(VOC))
    {
        let short = rel.replace(VOC, "gs1:");
        for asked in [rel.clone(), short] {
            let r = get(
                &app,
                &format!(
                    "{lot}?linkType={}",
                    asked.replace(':', "%3A").replace('/', "%2F")
                ),
            );
            assert_eq!(r.status, 307, "{asked}");
            let expected = &links.iter().find(|(_, l, _)| l == rel).unwrap().0;
            assert_eq!(r.location(), expected, "{asked}");
        }
    }
    // English readers go to the English page.
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let en = agent
        .get(app.url(&lot))
        .header("Accept-Language", "en-GB,en;q=0.9")
        .call()
        .unwrap();
    assert_eq!(
        en.headers().get("location").unwrap().to_str().unwrap(),
        format!("{BASE}/product/01/{GTIN}/10/MO-2026%2F11?lang=en")
    );
}

/// "By default, SHALL pass on all key=value pairs in the query string of
/// the request URI (if present) when redirecting." and "SHOULD tolerate
/// trailing slashes".
#[test]
fn the_query_is_passed_on_and_a_trailing_slash_changes_nothing() {
    let app = spawn_app();
    registry(&app);
    let r = get(&app, &format!("/01/{GTIN}?foo=bar&17=271231"));
    assert_eq!(
        r.location(),
        format!("{BASE}/product/01/{GTIN}?foo=bar&17=271231")
    );
    let r = get(
        &app,
        &format!("/01/{GTIN}/10/MO-2026%2F11?linkType=gs1:traceability&foo=bar"),
    );
    assert_eq!(
        r.location(),
        format!("{BASE}/product/01/{GTIN}/10/MO-2026%2F11?foo=bar#stages")
    );
    let plain = get(&app, &format!("/01/{GTIN}/10/MO-2026%2F11"));
    let slash = get(&app, &format!("/01/{GTIN}/10/MO-2026%2F11/"));
    assert_eq!(
        (plain.status, plain.location()),
        (slash.status, slash.location())
    );
}

/// "SHALL provide a resolver description file at /.well-known/gs1resolver."
/// and "… SHALL recognise the GS1 Web vocabulary namespace".
#[test]
fn the_resolver_describes_itself() {
    let app = spawn_app();
    let r = get(&app, "/.well-known/gs1resolver");
    assert_eq!(r.status, 200);
    let d = r.json();
    assert_eq!(d["resolverRoot"], BASE);
    assert_eq!(d["supportedPrimaryKeys"], json!(["01"]));
    assert_eq!(d["supportedLinkType"][0]["namespace"], VOC);
}

/// `gs1:recallStatus` is listed only while a recall is in force.
#[test]
fn the_recall_link_comes_and_goes_with_the_recall() {
    let app = spawn_app();
    let (batch, _) = registry(&app);
    let path = format!("/01/{GTIN}/10/MO-2026%2F11?linkType=all");
    let recall = format!("{VOC}recallStatus");
    assert!(get(&app, &path).json()["linkset"][0].get(&recall).is_none());
    let r = app.post(
        &format!("/api/v1/batches/{batch}/recall"),
        &json!({"reason": "kiểm nghiệm", "notice": "Ngừng sử dụng lô này"}),
    );
    assert!(r.status < 300, "{}", r.body);
    let set = get(&app, &path).json();
    assert_eq!(
        set["linkset"][0][&recall][0]["href"],
        format!("{BASE}/product/01/{GTIN}/10/MO-2026%2F11#recall")
    );
    let page = get(&app, &format!("/product/01/{GTIN}/10/MO-2026%2F11"));
    assert!(page.body.contains("id=\"recall\"") && page.body.contains("Ngừng sử dụng lô này"));
    let r = app.post(
        &format!("/api/v1/batches/{batch}/recall/lift"),
        &json!({"reason": "đạt"}),
    );
    assert!(r.status < 300, "{}", r.body);
    assert!(get(&app, &path).json()["linkset"][0].get(&recall).is_none());
}

/// An item's Digital Link URI carries no signature: its page names the
/// product and the stamp's lot but never says genuine, and says to scan
/// the tem stamp.
#[test]
fn an_item_page_shows_the_lot_and_never_a_verdict() {
    let app = spawn_app();
    let (batch, serial) = registry(&app);
    let r = get(&app, &format!("/01/{GTIN}/21/{serial}"));
    assert_eq!(
        r.location(),
        format!("{BASE}/product/01/{GTIN}/21/{serial}")
    );
    let page = get(&app, &format!("/product/01/{GTIN}/21/{serial}"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("id=\"identifier-only\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("MO-2026/11"), "the stamp's lot is shown");
    assert!(!page.body.contains("verdict ok"), "no genuine verdict");
    // The stamp's lot's links come with the item's, and a verification
    // service: what tem says of the identifier (issued by it, and the
    // stamp's state, read at once: a void shows on the next answer).
    let set = get(&app, &format!("/01/{GTIN}/21/{serial}?linkType=all")).json();
    assert!(set["linkset"][0][format!("{VOC}traceability")].is_array());
    assert_eq!(
        set["linkset"][0][format!("{VOC}verificationService")][0]["href"],
        format!("{BASE}/product/01/{GTIN}/21/{serial}#verification")
    );
    assert!(
        page.body.contains("id=\"verification\"")
            && page
                .body
                .contains("id=\"stamp-state\">đã phát hành, chưa in<"),
        "{}",
        page.body
    );
    let r = app.post(
        &format!("/api/v1/batches/{batch}/void"),
        &json!({"from": 1, "count": 1, "reason": "mất"}),
    );
    assert!(r.status < 300, "{}", r.body);
    let page = get(&app, &format!("/product/01/{GTIN}/21/{serial}"));
    assert!(
        page.body.contains("id=\"stamp-state\">đã hủy<"),
        "{}",
        page.body
    );
    // An unknown serial: the product, no verdict, and tem says it never
    // issued it; no verification service is offered.
    let page = get(&app, &format!("/product/01/{GTIN}/21/ABC"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"identifier-only\""));
    assert!(page.body.contains("id=\"not-issued\""));
    assert!(!page.body.contains("MO-2026/11"));
    let set = get(&app, &format!("/01/{GTIN}/21/ABC?linkType=all")).json();
    assert!(
        set["linkset"][0]
            .get(format!("{VOC}verificationService"))
            .is_none()
    );
    // An unknown lot: the product's page says so.
    let page = get(&app, &format!("/product/01/{GTIN}/10/NOPE"));
    assert!(page.body.contains("id=\"lot-unknown\""));
}

/// The link set has the shape of GS1's model link set (the resolver test
/// suite's `modelLinkset.json`): every member of a link is one the model's
/// links have, with the same JSON type, and every link type is a URI in
/// the GS1 Web Vocabulary.
#[test]
fn link_sets_have_the_shape_of_gs1s_model() {
    let model: Value =
        serde_json::from_str(include_str!("../../data/gs1/modelLinkset.json")).unwrap();
    let kind = |v: &Value| match v {
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        _ => "other",
    };
    let mut members = std::collections::BTreeMap::new();
    for (key, links) in model["linkset"][0].as_object().unwrap() {
        if let Some(links) = links.as_array().filter(|_| key.starts_with(VOC)) {
            for l in links {
                for (m, v) in l.as_object().unwrap() {
                    members.insert(m.clone(), kind(v));
                }
            }
        }
    }
    assert_eq!(kind(&model["linkset"][0]["anchor"]), "string");
    let app = spawn_app();
    let (_, serial) = registry(&app);
    for path in [
        format!("/01/{GTIN}"),
        format!("/01/{GTIN}/10/MO-2026%2F11"),
        format!("/01/{GTIN}/10/MO-2026%2F11/21/{serial}"),
    ] {
        let set = get(&app, &format!("{path}?linkType=all")).json();
        let context = set["linkset"][0].as_object().unwrap();
        assert_eq!(kind(&context["anchor"]), "string");
        for (key, links) in context {
            if key == "anchor" || key == "itemDescription" {
                continue;
            }
            assert!(
                key.starts_with(VOC),
                "{key} is not a GS1 Web Vocabulary link type"
            );
            for l in links.as_array().unwrap() {
                for (m, v) in l.as_object().unwrap() {
                    assert_eq!(members.get(m), Some(&kind(v)), "{path}: member {m} of {l}");
                }
            }
        }
    }
}

/// Runs `node` with `args` (and `NODE_PATH`), `stdin` as its input; its
/// output. Node comes from Debian through scripts/test.
pub(super) fn node(args: &[String], node_path: Option<&str>, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut cmd = std::process::Command::new("node");
    cmd.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    if let Some(p) = node_path {
        cmd.env("NODE_PATH", p);
    }
    let mut child = cmd.spawn().expect("node (scripts/test installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs GS1's digital-link.js (`tests/gs1/toolkit.js`, installed by
/// scripts/test into target/gs1-node) on `uris`; one answer each.
pub(super) fn gs1_toolkit(op: &str, uris: &[String]) -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let modules = format!("{root}/target/gs1-node/node_modules");
    assert!(
        std::path::Path::new(&format!("{modules}/digital-link.js")).exists(),
        "GS1's digital-link.js is missing: scripts/test installs it into target/gs1-node"
    );
    let out = node(
        &[format!("{root}/tests/gs1/toolkit.js"), op.to_string()],
        Some(&modules),
        &uris.join("\n"),
    );
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every Digital Link URI tem writes (the link sets' subjects, the
/// canonical forms of GTIN-13 and padded inputs, percent-encoded lots,
/// stamp serials) is valid for GS1's own toolkit, and what the toolkit
/// calls invalid tem answers 400.
#[test]
fn gs1s_toolkit_accepts_the_uris_tem_writes_and_tem_refuses_what_it_refuses() {
    let app = spawn_app();
    let (_, serial) = registry(&app);
    let mut written = Vec::new();
    for path in [
        format!("/01/{GTIN13}"),
        format!("/01/{GTIN}/10/MO-2026%2F11"),
        format!("/01/{GTIN}/21/{serial}"),
        format!("/01/{GTIN}/10/MO-2026%2F11/21/{serial}/"),
    ] {
        let set = get(&app, &format!("{path}?linkType=all")).json();
        written.push(set["linkset"][0]["anchor"].as_str().unwrap().to_string());
    }
    assert!(
        written
            .iter()
            .all(|u| u.starts_with(&format!("{BASE}/01/{GTIN}")))
    );
    let answers = gs1_toolkit("validate", &written);
    assert_eq!(answers, vec!["valid"; written.len()], "{written:?}");
    // What GS1's toolkit calls invalid, tem refuses with 400.
    let refused = [
        "/01/08938505974195".to_string(),
        format!("/01/{GTIN}/21/{}", "9".repeat(21)),
    ];
    let uris: Vec<String> = refused.iter().map(|p| format!("{BASE}{p}")).collect();
    assert!(
        gs1_toolkit("validate", &uris).iter().all(|a| a != "valid"),
        "{uris:?}"
    );
    for p in &refused {
        assert_eq!(get(&app, p).status, 400, "{p}");
    }
}

/// "SHALL be able to decompress a URI to generate a GS1 Digital Link URI"
/// and "If handling a compressed request URI, it SHALL expose the
/// uncompressed URI in the Link response header with a rel value of
/// owl:sameAs." The compressed URIs are GS1's toolkit's.
#[test]
fn compressed_uris_from_gs1s_toolkit_resolve_as_their_uncompressed_form() {
    let app = spawn_app();
    let (_, serial) = registry(&app);
    let plain = vec![
        format!("{BASE}/01/{GTIN}"),
        format!("{BASE}/01/{GTIN}/10/MO-2026%2F11"),
        format!("{BASE}/01/{GTIN}/10/MO-2026%2F11/21/{serial}"),
        format!("{BASE}/01/{GTIN}/21/{serial}?17=271231"),
    ];
    let compressed = gs1_toolkit("compress", &plain);
    assert_eq!(compressed.len(), plain.len());
    for (uri, c) in plain.iter().zip(&compressed) {
        let short = c
            .strip_prefix(BASE)
            .unwrap_or_else(|| panic!("the toolkit compressed {uri} to {c}"));
        assert!(!short[1..].contains('/'), "fully compressed: {c}");
        let a = get(&app, uri.strip_prefix(BASE).unwrap());
        for method in ["GET", "HEAD"] {
            let b = call(&app, method, short, None);
            assert_eq!(b.status, 307, "{method} {c} ({uri}): {}", b.body);
            assert_eq!(b.location(), a.location(), "{method} {c} ({uri})");
            let link = b.header("link").unwrap();
            assert!(
                link.contains(&format!("<{uri}>; rel=\"owl:sameAs\"")),
                "{c}: {link}"
            );
        }
    }
    // The link set of a compressed URI has the uncompressed one as subject.
    let c = compressed[1].strip_prefix(BASE).unwrap();
    let set = get(&app, &format!("{c}?linkType=all")).json();
    assert_eq!(set["linkset"][0]["anchor"], plain[1]);
    // A segment that is neither a stamp nor a compressed Digital Link is
    // still 404; one that decompresses but names no GTIN, too.
    assert_eq!(get(&app, "/not-a-stamp").status, 404);
    assert_eq!(get(&app, "/AAAAAAAAAAAAAAAAAAAAAAAA").status, 404);
}
