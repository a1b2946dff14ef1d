//! `spawn_app()` starts tem on 127.0.0.1:0 and returns a client for it.
//! The store is a SQLite file, or with TEM_TEST_STORE=postgres a fresh
//! database on the TEM_TEST_DATABASE_URL server: the whole API suite runs
//! on either (scripts/test runs it on both).

use std::sync::Arc;

use serde_json::{Value, json};
use tem::codes::KeyRing;
use tem::config::ScanSettings;
use tem::domain::network::TrustedProxies;
use tem::store::{PgStore, SqliteStore, Store};
use tem::web;

pub const TOKEN: &str = "test-admin-token-0123456789abcdef";

pub struct TestApp {
    pub address: String,
    pub dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    agent: ureq::Agent,
    /// The PostgreSQL database, dropped with the app.
    _db: Option<crate::common::pg::TestDatabase>,
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The error code of a JSON error reply.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error reply: {}", self.body))
    }
}

pub fn spawn_app() -> TestApp {
    spawn_app_with(true)
}

/// Starts the app; `with_key` false leaves the key directory empty.
pub fn spawn_app_with(with_key: bool) -> TestApp {
    spawn_app_full(
        with_key,
        &ScanSettings {
            rate_per_minute: 0,
            ..ScanSettings::default()
        },
        |_| (),
    )
}

/// Starts the app with scan settings, after `prepare_keys` may add to the key directory.
pub fn spawn_app_full(
    with_key: bool,
    scan: &ScanSettings,
    prepare_keys: impl FnOnce(&std::path::Path),
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let (store, db): (Arc<dyn Store>, _) = match std::env::var("TEM_TEST_STORE").as_deref() {
        Ok("postgres") => {
            let db = crate::common::pg::test_database("the API suite")
                .expect("TEM_TEST_STORE=postgres needs TEM_TEST_DATABASE_URL");
            (Arc::new(PgStore::open(&db.url).unwrap()), Some(db))
        }
        _ => (
            Arc::new(SqliteStore::open(&dir.path().join("tem.db")).unwrap()),
            None,
        ),
    };
    let keys = dir.path().join("keys");
    if with_key {
        KeyRing::open(&keys).unwrap().generate().unwrap();
    }
    prepare_keys(&keys);
    let settings = web::Settings {
        listen: "127.0.0.1:0".into(),
        admin_token: Some(TOKEN.into()),
        scan: *scan,
        printers: Default::default(),
        proxies: TrustedProxies::parse(&[], scan.trust_proxy).unwrap(),
        workers: Some(2),
        audit_head_every: None,
        // Open here; `tem serve` keeps it closed unless configured (tested
        // in api::epcis through the binary).
        epcis_public: true,
    };
    // The same start as `tem serve`, on a port of its own (built outside
    // the runtime, as `tem serve` does: building reads the store).
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let ctx = tem::service::Context::new(store.clone(), keys, "https://tem.example.vn".into());
    std::thread::spawn(move || {
        let app = web::Application::build(settings, ctx).unwrap();
        port_tx.send(app.port()).unwrap();
        actix_web::rt::System::new()
            .block_on(app.run_until_stopped())
            .unwrap()
    });
    let address = format!("http://127.0.0.1:{}", port_rx.recv().unwrap());
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    TestApp {
        address,
        dir,
        store,
        agent,
        _db: db,
    }
}

/// The status of a plain GET (no token), whatever the body.
pub fn get_status(app: &TestApp, path: &str) -> u16 {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .get(app.url(path))
        .call()
        .unwrap()
        .status()
        .as_u16()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    fn reply(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut resp = resp.unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply { status, body }
    }

    pub fn get(&self, path: &str) -> Reply {
        Self::reply(
            self.agent
                .get(self.url(path))
                .header("Authorization", format!("Bearer {TOKEN}"))
                .call(),
        )
    }

    pub fn get_with_token(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = self.agent.get(self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::reply(req.call())
    }

    pub fn post_with_token(&self, path: &str, body: &Value, token: Option<&str>) -> Reply {
        let mut req = self.agent.post(self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::reply(req.send_json(body))
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        Self::reply(
            self.agent
                .post(self.url(path))
                .header("Authorization", format!("Bearer {TOKEN}"))
                .send_json(body),
        )
    }

    pub fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Reply {
        Self::reply(
            self.agent
                .post(self.url(path))
                .header("Authorization", format!("Bearer {TOKEN}"))
                .header("Content-Type", content_type)
                .send(body),
        )
    }

    pub fn create_producer(&self) -> i64 {
        let r = self.post(
            "/api/v1/producers",
            &json!({"kind": "cooperative", "name": "Hợp tác xã nông nghiệp Dân Tiến", "commune": "Dân Thành", "province": "Trà Vinh"}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    }

    pub fn create_product(&self, producer: i64) -> i64 {
        let r = self.post(
            "/api/v1/products",
            &json!({"producer_id": producer, "name": "Gạo thơm Dân Tiến", "ocop_group": "food",
                    "ocop": {"stars": 4, "decision_no": "1021/QĐ-UBND", "decision_date": "2024-05-20"}}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    }

    pub fn create_batch(&self, product: i64, lot: &str) -> u32 {
        let r = self.post(
            &format!("/api/v1/products/{product}/batches"),
            &json!({"lot_code": lot, "production_date": "2024-06-15", "shelf_life_days": 365, "quantity": 5000}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_u64().unwrap() as u32
    }

    /// Writes a stamp's signature straight into the database, as an edited
    /// backup or a leaked database account could.
    pub fn overwrite_signature(&self, serial: tem::domain::Serial, signature: &[u8; 64]) {
        let key = serial.0 as i64;
        match &self._db {
            Some(db) => {
                let n = db
                    .client()
                    .execute(
                        "UPDATE stamps SET signature = $1 WHERE serial = $2",
                        &[&&signature[..], &key],
                    )
                    .unwrap();
                assert_eq!(n, 1);
            }
            None => {
                let c = rusqlite::Connection::open(self.dir.path().join("tem.db")).unwrap();
                c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                let n = c
                    .execute(
                        "UPDATE stamps SET signature = ?1 WHERE serial = ?2",
                        rusqlite::params![&signature[..], key],
                    )
                    .unwrap();
                assert_eq!(n, 1);
            }
        }
    }

    /// Runs one SQL statement straight on the database, as a leaked
    /// database account could (the same text on SQLite and PostgreSQL).
    pub fn execute_sql(&self, sql: &str) {
        match &self._db {
            Some(db) => {
                db.client().batch_execute(sql).unwrap();
            }
            None => {
                let c = rusqlite::Connection::open(self.dir.path().join("tem.db")).unwrap();
                c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                c.execute_batch(sql).unwrap();
            }
        }
    }

    /// Moves every recorded sale `days` days into the past.
    pub fn backdate_sales(&self, days: i64) {
        let at = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days)).to_string();
        match &self._db {
            Some(db) => {
                db.client()
                    .execute("UPDATE sales SET sold_at = $1", &[&at])
                    .unwrap();
            }
            None => {
                let c = rusqlite::Connection::open(self.dir.path().join("tem.db")).unwrap();
                c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                c.execute("UPDATE sales SET sold_at = ?1", [&at]).unwrap();
            }
        }
    }

    /// A digest of every row of every table but `sessions` (signing in
    /// writes there): equal before and after a request that changed nothing.
    pub fn db_fingerprint(&self) -> String {
        use sha2::Digest;
        let mut digest = sha2::Sha256::new();
        match &self._db {
            Some(db) => {
                let mut c = db.client();
                let tables: Vec<String> = c
                    .query(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' \
                         AND tablename NOT IN ('sessions', 'refinery_schema_history') ORDER BY 1",
                        &[],
                    )
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                for t in tables {
                    let row = c
                        .query_one(
                            &format!(
                                "SELECT count(*), coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM {t} x"
                            ),
                            &[],
                        )
                        .unwrap();
                    let (n, h): (i64, String) = (row.get(0), row.get(1));
                    digest.update(format!("{t}:{n}:{h}\n"));
                }
            }
            None => {
                let c = rusqlite::Connection::open(self.dir.path().join("tem.db")).unwrap();
                let tables: Vec<String> = c
                    .prepare(
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                         AND name NOT IN ('sessions', 'refinery_schema_history') ORDER BY 1",
                    )
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                for t in tables {
                    let mut stmt = c.prepare(&format!("SELECT * FROM {t}")).unwrap();
                    let columns = stmt.column_count();
                    let mut rows: Vec<String> = stmt
                        .query_map([], |r| {
                            Ok((0..columns)
                                .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                                .collect::<Vec<_>>()
                                .join(","))
                        })
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();
                    rows.sort();
                    digest.update(format!("{t}:{}:{}\n", rows.len(), rows.join("|")));
                }
            }
        }
        data_encoding::HEXLOWER.encode(&digest.finalize())
    }

    /// A producer, product and batch; returns the batch id.
    pub fn batch(&self) -> u32 {
        let producer = self.create_producer();
        let product = self.create_product(producer);
        self.create_batch(product, "DT-2024-01")
    }
}
