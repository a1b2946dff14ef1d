//! PostgreSQL for tests: a fresh database per test on the server that
//! TEM_TEST_DATABASE_URL names, dropped when the test ends.
//!
//! Without the variable the PostgreSQL half of a test is skipped, and says
//! so on stderr. `scripts/test` sets it, and also sets
//! TEM_TEST_REQUIRE_POSTGRES=1, which turns a missing server into a failure
//! so that CI cannot skip these tests quietly.

use std::sync::atomic::{AtomicU32, Ordering};

pub struct TestDatabase {
    /// The URL of the fresh database.
    pub url: String,
    server: String,
    name: String,
}

/// A fresh, empty database, or `None` (with a message) when no server is configured.
pub fn test_database(test: &str) -> Option<TestDatabase> {
    let Ok(server) = std::env::var("TEM_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("TEM_TEST_REQUIRE_POSTGRES").is_none(),
            "{test}: TEM_TEST_REQUIRE_POSTGRES is set but TEM_TEST_DATABASE_URL is not"
        );
        // Straight to stderr: the test harness would hide an eprintln!.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test} on PostgreSQL: TEM_TEST_DATABASE_URL is not set (scripts/test sets it)"
        );
        return None;
    };
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "tem_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        jiff::Timestamp::now().as_microsecond() % 1_000_000
    );
    let mut admin = postgres::Client::connect(&server, postgres::NoTls)
        .unwrap_or_else(|e| panic!("TEM_TEST_DATABASE_URL: cannot connect: {e}"));
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    let mut url = url::Url::parse(&server).expect("TEM_TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    Some(TestDatabase {
        url: url.to_string(),
        server,
        name,
    })
}

impl TestDatabase {
    /// A client on this database, for checks behind tem's back.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
