//! Several `tem serve` processes on one PostgreSQL database, as a province
//! runs them behind a load balancer: the real binary, the real server, a
//! fresh database per test (TEM_TEST_DATABASE_URL; skipped with a message
//! when it is unset). Checks are made through both nodes and, behind tem's
//! back, in the database itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Env;
use crate::common::pg::{TestDatabase, test_database};

const TOKEN: &str = "nodes-admin-token-0123456789abcdef";

struct Node {
    child: Child,
    url: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder with tem.toml and the shared key directory, and the database.
struct Cluster {
    env: Env,
    db: TestDatabase,
}

impl Cluster {
    fn new(test: &str, rate_per_minute: u32) -> Option<Cluster> {
        let db = test_database(test)?;
        let env = Env::new();
        std::fs::write(
            env.path("tem.toml"),
            format!("[scan]\nrate_per_minute = {rate_per_minute}\n"),
        )
        .unwrap();
        let c = Cluster { env, db };
        // Every node signs with the same keys (copied to each machine in a
        // real deployment); the first run migrates the database.
        c.tem(&["keys", "generate"]);
        Some(c)
    }

    fn tem(&self, args: &[&str]) -> String {
        let out = self
            .env
            .cmd()
            .env("TEM_DB", &self.db.url)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tem {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn node(&self) -> Node {
        let mut cmd = self.env.cmd();
        cmd.env("TEM_DB", &self.db.url)
            .env("TEM_ADMIN_TOKEN", TOKEN);
        let (child, url) = crate::common::serve(cmd);
        Node { child, url }
    }

    fn sql_count(&self, query: &str) -> i64 {
        self.db.client().query_one(query, &[]).unwrap().get(0)
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .new_agent()
}

fn call(node: &Node, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", node.url);
    let a = agent();
    let resp = match (method, body) {
        ("GET", _) => a
            .get(&url)
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .header("Accept", "application/json")
            .call(),
        (_, body) => a
            .post(&url)
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .send_json(body.unwrap_or(Value::Null)),
    };
    let mut resp = resp.unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A producer, product and batch made through `node`; the batch id.
fn batch(node: &Node, lot: &str) -> u64 {
    let (s, p) = call(
        node,
        "POST",
        "/api/v1/producers",
        Some(
            json!({"kind": "cooperative", "name": "HTX Dân Tiến", "commune": "Dân Thành", "province": "Trà Vinh"}),
        ),
    );
    assert_eq!(s, 201, "{p}");
    let (s, pr) = call(
        node,
        "POST",
        "/api/v1/products",
        Some(json!({"producer_id": p["id"], "name": "Gạo thơm"})),
    );
    assert_eq!(s, 201, "{pr}");
    let (s, b) = call(
        node,
        "POST",
        &format!("/api/v1/products/{}/batches", pr["id"]),
        Some(
            json!({"lot_code": lot, "production_date": "2026-06-15", "shelf_life_days": 365, "quantity": 100000}),
        ),
    );
    assert_eq!(s, 201, "{b}");
    b["id"].as_u64().unwrap()
}

fn issue(node: &Node, batch: u64, count: u64) -> Value {
    let (s, r) = call(
        node,
        "POST",
        &format!("/api/v1/batches/{batch}/stamps"),
        Some(json!({ "count": count })),
    );
    assert_eq!(s, 201, "{r}");
    r
}

#[test]
fn two_nodes_issue_at_once_without_duplicate_serials() {
    let Some(c) = Cluster::new("two_nodes_issue_at_once", 0) else {
        return;
    };
    let (a, b) = (c.node(), c.node());
    let shared = batch(&a, "L-SHARED");
    let own = batch(&b, "L-OWN");
    // Four clients, two per node, issue into one batch and another at once.
    let receipts: Vec<Value> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (node, target) in [(&a, shared), (&b, shared), (&a, own), (&b, shared)] {
            handles.push(s.spawn(move || {
                (0..4)
                    .map(|_| issue(node, target, 2_500))
                    .collect::<Vec<_>>()
            }));
        }
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(receipts.len(), 16);
    // Each receipt owns its numbers; together they cover 1..=n exactly.
    let mut ranges: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for r in &receipts {
        ranges
            .entry(r["batch_id"].as_u64().unwrap())
            .or_default()
            .push((
                r["first_seq"].as_u64().unwrap(),
                r["last_seq"].as_u64().unwrap(),
            ));
    }
    for (batch, mut rs) in ranges {
        rs.sort();
        let mut next = 1;
        for (first, last) in rs {
            assert_eq!(first, next, "batch {batch}: numbers are contiguous");
            assert_eq!(last - first + 1, 2_500);
            next = last + 1;
        }
    }
    assert_eq!(
        c.sql_count(&format!(
            "SELECT COUNT(*) FROM stamps WHERE batch_id = {shared}"
        )),
        30_000
    );
    assert_eq!(
        c.sql_count(&format!(
            "SELECT COUNT(*) FROM stamps WHERE batch_id = {own}"
        )),
        10_000
    );
    assert_eq!(
        c.sql_count("SELECT COUNT(DISTINCT serial) FROM stamps"),
        40_000,
        "no serial appears twice"
    );
    // Both nodes report the same, exact counts.
    for node in [&a, &b] {
        let (_, bt) = call(node, "GET", &format!("/api/v1/batches/{shared}"), None);
        assert_eq!(bt["stamps"]["total"], 30_000, "{bt}");
        assert_eq!(bt["stamps"]["issued"], 30_000);
    }
    // The exported codes all verify, and name 30,000 different serials.
    let (s, list) = call(
        &b,
        "GET",
        &format!("/api/v1/batches/{shared}/stamps?limit=10000&from=20001"),
        None,
    );
    assert_eq!(s, 200);
    let serials: HashSet<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["serial"].as_str().unwrap())
        .collect();
    assert_eq!(serials.len(), 10_000);
    // The audit log, written by two processes, is one intact chain.
    let out = c.tem(&["audit", "verify"]);
    assert!(out.contains("intact"), "{out}");
}

#[test]
fn eight_clients_scanning_through_two_nodes_count_exactly() {
    let Some(c) = Cluster::new("eight_clients_scanning", 0) else {
        return;
    };
    let (a, b) = (c.node(), c.node());
    let batch = batch(&a, "L-SCAN");
    issue(&a, batch, 20);
    let (_, stamps) = call(&b, "GET", &format!("/api/v1/batches/{batch}/stamps"), None);
    let paths: Vec<String> = stamps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let url = s["url"].as_str().unwrap();
            format!("/api/v1/verify/{}", url.rsplit('/').next().unwrap())
        })
        .collect();
    assert_eq!(paths.len(), 20);
    // 8 clients × 60 scans, alternating nodes; client k scans stamp (k + i) % 20.
    let seen: Vec<(usize, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|k| {
                let (a, b, paths) = (&a, &b, &paths);
                s.spawn(move || {
                    (0..60)
                        .map(|i| {
                            let node = if (k + i) % 2 == 0 { a } else { b };
                            let stamp = (k + i) % 20;
                            let (status, j) = call(node, "GET", &paths[stamp], None);
                            assert_eq!(status, 200, "{j}");
                            (stamp, j["scan_count"].as_u64().unwrap())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(seen.len(), 480);
    // Every scan of a stamp got its own count: 1, 2, … n with none twice.
    let mut per_stamp: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for (stamp, n) in seen {
        per_stamp.entry(stamp).or_default().push(n);
    }
    for (stamp, mut counts) in per_stamp {
        counts.sort();
        let n = counts.len() as u64;
        assert_eq!(counts, (1..=n).collect::<Vec<_>>(), "stamp {stamp}");
    }
    assert_eq!(
        c.sql_count(&format!(
            "SELECT CAST(SUM(scan_count) AS BIGINT) FROM stamps WHERE batch_id = {batch}"
        )),
        480
    );
    for node in [&a, &b] {
        let (_, stats) = call(node, "GET", &format!("/api/v1/batches/{batch}/stats"), None);
        assert_eq!(stats["scans"]["scans"], 480, "{stats}");
        assert_eq!(stats["scans"]["stamps_scanned"], 20);
    }
}

#[test]
fn the_scan_rate_limit_holds_across_nodes() {
    let Some(c) = Cluster::new("the_scan_rate_limit_holds_across_nodes", 10) else {
        return;
    };
    let (a, b) = (c.node(), c.node());
    // Stay inside one minute window.
    let second = jiff::Timestamp::now().as_second() % 60;
    if second > 45 {
        std::thread::sleep(Duration::from_secs((61 - second) as u64));
    }
    let statuses: Vec<u16> = (0..14)
        .map(|i| {
            let node = if i % 2 == 0 { &a } else { &b };
            call(node, "GET", "/api/v1/verify/123", None).0
        })
        .collect();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        refused, 4,
        "10 a minute from one network, whichever node: {statuses:?}"
    );
}

#[test]
fn a_node_killed_mid_issuance_leaves_no_partial_issue() {
    let Some(c) = Cluster::new("a_node_killed_mid_issuance", 0) else {
        return;
    };
    let (mut a, b) = (c.node(), c.node());
    let batch = batch(&b, "L-KILL");
    issue(&b, batch, 100);
    let audit_before = c.sql_count("SELECT COUNT(*) FROM audit_log");
    let url = format!("{}/api/v1/batches/{batch}/stamps", a.url);
    let request = std::thread::spawn(move || {
        agent()
            .post(&url)
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .send_json(json!({ "count": 1_000_000 }))
            .map(|r| r.status().as_u16())
    });
    // Wait until node A is inside its issuing transaction, writing stamps.
    let started = Instant::now();
    loop {
        let writing = c.sql_count(
            "SELECT COUNT(*) FROM pg_stat_activity
             WHERE application_name = 'tem' AND xact_start IS NOT NULL
               AND query LIKE 'INSERT INTO stamps%'",
        );
        if writing > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "node A never started writing stamps"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    assert!(
        !matches!(request.join().unwrap(), Ok(201)),
        "the issuance must not have completed before the kill"
    );
    // Nothing of it remains: stamps, issuance, counts, events, audit.
    let (_, bt) = call(&b, "GET", &format!("/api/v1/batches/{batch}"), None);
    assert_eq!(bt["stamps"]["total"], 100, "{bt}");
    assert_eq!(
        c.sql_count(&format!(
            "SELECT COUNT(*) FROM stamps WHERE batch_id = {batch}"
        )),
        100
    );
    assert_eq!(c.sql_count("SELECT COUNT(*) FROM issuances"), 1);
    assert_eq!(c.sql_count("SELECT COUNT(*) FROM audit_log"), audit_before);
    // The survivor goes on: its write lock was released with the dead
    // connection, and numbering continues where the last real issue ended.
    let r = issue(&b, batch, 10);
    assert_eq!(
        (r["first_seq"].as_u64(), r["last_seq"].as_u64()),
        (Some(101), Some(110))
    );
    let out = c.tem(&["audit", "verify"]);
    assert!(out.contains("intact"), "{out}");
}

#[test]
fn data_moves_from_sqlite_to_postgres_and_checks_out() {
    let Some(db) = test_database("data_moves_from_sqlite_to_postgres") else {
        return;
    };
    // A SQLite registry in use: demo data, a token, a recall, a signed head.
    let env = Env::new();
    env.ok(&["demo"]);
    env.ok(&["token", "create", "--role", "inspector"]);
    env.ok(&[
        "recall",
        "--batch",
        "2",
        "--reason",
        "thử nghiệm",
        "--notice",
        "Ngừng bán",
    ]);
    // Stamp 1 of batch 1 printed and scanned once on SQLite.
    let printed = env.path("printed.csv");
    env.ok(&[
        "sheet",
        "--batch",
        "1",
        "--from",
        "1",
        "--count",
        "1",
        "-o",
        printed.to_str().unwrap(),
    ]);
    let first_url = std::fs::read_to_string(&printed)
        .unwrap()
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next_back())
        .unwrap()
        .to_string();
    let first_code = first_url.rsplit('/').next().unwrap().to_string();
    let verify_on = |base: &str| -> Value {
        let mut r = agent()
            .get(&format!("{base}/api/v1/verify/{first_code}"))
            .call()
            .unwrap();
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
    };
    {
        let (mut child, base) = crate::common::serve(env.cmd());
        let v = verify_on(&base);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            (v["verdict"].as_str(), v["scan_count"].as_u64()),
            (Some("genuine"), Some(1)),
            "{v}"
        );
    }
    env.ok(&["audit", "sign"]);
    let pg = |args: &[&str]| -> String {
        let mut all = vec!["--db", db.url.as_str()];
        all.extend_from_slice(args);
        env.ok(&all)
    };
    let out = env.ok(&["migrate-data", "--from", "sqlite:tem.db", "--to", &db.url]);
    assert!(
        out.contains("verify") && out.contains("with the source's root"),
        "{out}"
    );
    assert!(!out.contains(":tem@"), "the password is not printed: {out}");

    // The same registry, read through PostgreSQL.
    for args in [
        &["batch", "list", "--json"][..],
        &["producer", "list", "--json"],
        &["token", "list", "--json"],
        &["batch", "show", "2", "--json"],
    ] {
        assert_eq!(pg(args), env.ok(args), "tem {args:?}");
    }
    let verified = pg(&["audit", "verify"]);
    assert!(
        verified.contains("intact") && verified.contains("1 signed heads"),
        "{verified}"
    );
    let stamps = |via: &dyn Fn(&[&str]) -> String| via(&["export", "--batch", "1", "--csv", "-"]);
    assert_eq!(stamps(&pg), stamps(&|a: &[&str]| env.ok(a)));

    // A second run without --force is refused and changes nothing.
    let before = db
        .client()
        .query_one("SELECT COUNT(*) FROM audit_log", &[])
        .unwrap()
        .get::<_, i64>(0);
    let err = env.fails(
        &["migrate-data", "--from", "sqlite:tem.db", "--to", &db.url],
        2,
    );
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    let after: i64 = db
        .client()
        .query_one("SELECT COUNT(*) FROM audit_log", &[])
        .unwrap()
        .get(0);
    assert_eq!(before, after);
    // With --force it is replaced by the source as it is now.
    env.ok(&[
        "producer",
        "add",
        "--kind",
        "household",
        "--name",
        "Hộ ông Năm",
        "--commune",
        "Hòa Ân",
        "--province",
        "Trà Vinh",
    ]);
    env.ok(&[
        "migrate-data",
        "--from",
        "sqlite:tem.db",
        "--to",
        &db.url,
        "--force",
    ]);
    assert_eq!(
        pg(&["producer", "list", "--json"]),
        env.ok(&["producer", "list", "--json"])
    );
    // New rows continue the copied ids.
    let added = pg(&[
        "producer",
        "add",
        "--kind",
        "household",
        "--name",
        "Hộ bà Sáu",
        "--commune",
        "Hòa Ân",
        "--province",
        "Trà Vinh",
    ]);
    let producers: Value = serde_json::from_str(&pg(&["producer", "list", "--json"])).unwrap();
    let ids: Vec<u64> = producers
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len() as u64, *ids.iter().max().unwrap(), "{added}");

    // A node on the copy serves the stamps: genuine, counting on from the
    // scan made on SQLite.
    let mut cmd = env.cmd();
    cmd.env("TEM_DB", &db.url);
    let (child, base) = crate::common::serve(cmd);
    let node = Node { child, url: base };
    let v = verify_on(&node.url);
    assert_eq!(v["serial"].as_str().map(|s| s.len()), Some(16), "{v}");
    assert_eq!(v["verdict"], "genuine", "{v}");
    assert_eq!(
        v["scan_count"], 2,
        "the scan made on SQLite came along: {v}"
    );
}

/// The GS1 resolver keeps what a URI names, but a recall made through one
/// node shows in the other node's link set within a second
/// (`service::resolver::RECALLS_TTL`), and its lift too.
#[test]
fn a_recall_on_one_node_reaches_the_other_nodes_resolver_within_a_second() {
    let Some(c) = Cluster::new("resolver_recall_across_nodes", 0) else {
        return;
    };
    let (a, b) = (c.node(), c.node());
    let (s, p) = call(
        &a,
        "POST",
        "/api/v1/producers",
        Some(
            json!({"kind": "cooperative", "name": "HTX Mật ong", "commune": "Đồng Văn", "province": "Hà Giang"}),
        ),
    );
    assert_eq!(s, 201, "{p}");
    let (s, pr) = call(
        &a,
        "POST",
        "/api/v1/products",
        Some(json!({"producer_id": p["id"], "name": "Mật ong bạc hà", "gtin": "8938505974194"})),
    );
    assert_eq!(s, 201, "{pr}");
    let (s, lot) = call(
        &a,
        "POST",
        &format!("/api/v1/products/{}/batches", pr["id"]),
        Some(
            json!({"lot_code": "R-1", "production_date": "2026-06-15", "shelf_life_days": 365, "quantity": 10}),
        ),
    );
    assert_eq!(s, 201, "{lot}");
    let path = "/01/08938505974194/10/R-1?linkType=all";
    let recall_status = "https://ref.gs1.org/voc/recallStatus";
    let listed = || {
        let (s, set) = call(&b, "GET", path, None);
        assert_eq!(s, 200, "{set}");
        set["linkset"][0].get(recall_status).is_some()
    };
    assert!(
        !listed(),
        "no recall yet (and node b now has the lot cached)"
    );
    let within_a_second = |want: bool, what: &str| {
        let t = Instant::now();
        while listed() != want {
            assert!(
                t.elapsed() < Duration::from_millis(1500),
                "node b's resolver did not show the {what} made on node a within a second"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let (s, r) = call(
        &a,
        "POST",
        &format!("/api/v1/batches/{}/recall", lot["id"]),
        Some(json!({"reason": "kiểm nghiệm", "notice": "Ngừng sử dụng lô này"})),
    );
    assert!(s < 300, "{r}");
    within_a_second(true, "recall");
    let (s, r) = call(
        &a,
        "POST",
        &format!("/api/v1/batches/{}/recall/lift", lot["id"]),
        Some(json!({"reason": "đạt"})),
    );
    assert!(s < 300, "{r}");
    within_a_second(false, "lift");
}
