//! Scanning: verify a code, judge it against the registry, record the scan,
//! and gather what the consumer page shows.
//!
//! The HTTP worker parses the code and hands the scan to the recorder
//! (`recorder`), one thread that commits scans in groups (every scan is a
//! write: the count must be exact); many concurrent scans share one
//! transaction, and each caller waits only for its group. Before a group is
//! committed, the verify thread (`verify`) checks all its signatures against
//! the key set with batch equations (`codes::batch`), while the recorder
//! commits the group before it: signature work and commits overlap, and a
//! flood of forged codes costs the verify thread's CPU, never time under the
//! write lock. The registry vouches for a code only if it equals the stored
//! stamp: a code must both verify and match to be genuine.
//!
//! The recorder survives a panic: the scans of the failed group are answered
//! "unavailable" (503) and the next group is recorded as usual.

mod claim;
mod job;
mod preview;
mod recorder;
mod verify;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{ServiceError, ServiceResult};
use crate::codes::{CodeCheck, CodeError, StampCode, Verifier};
use crate::domain::scan::{RepeatRules, Verdict};
use crate::domain::{Batch, BatchId, Producer, Product};
use crate::store::{NewReport, ScanOutcome, Store, StoreError};
pub use claim::{ClaimAnswer, ClaimPlace};
use job::{Failure, Job, Pending};
pub use preview::Preview;
pub(crate) use recorder::Recorder;
use recorder::Recorders;
use verify::Keys;

/// Longest text the scan endpoint looks at: the 189-digit code plus a
/// generous URL around it. Longer input is malformed before any decoding.
pub const MAX_INPUT: usize = 400;
/// Scans verified and committed together at most.
const GROUP: usize = 256;
/// How long product, producer and batch details may be reused before they
/// are read again (recalls and stamp states are read on every scan).
const DETAILS_TTL: Duration = Duration::from_secs(30);

/// Who scanned, reduced to what the rules need (no raw address is kept).
#[derive(Debug, Clone)]
pub struct Client {
    /// The client's address (after trusted proxies), for the rate limit and the network hash.
    pub ip: Option<std::net::IpAddr>,
    /// Its user agent, for the device hash.
    pub user_agent: String,
}

/// Everything the scan page and the JSON answer show.
#[derive(Debug, Clone)]
pub struct ScanResult {
    /// The code's signature check.
    pub check: CodeCheck,
    /// What was recorded and judged.
    pub outcome: ScanOutcome,
    /// The batch's details, for the page.
    pub details: Option<Arc<Details>>,
}

/// The registry's data about a stamp's batch, product and producer.
#[derive(Debug, Clone)]
pub struct Details {
    /// The batch.
    pub batch: Batch,
    /// Its product.
    pub product: Product,
    /// Its producer.
    pub producer: Producer,
}

/// The scan service: key set, salt, rules, the recorder thread and a small cache.
pub struct Scanner {
    store: Arc<dyn Store>,
    keys: Arc<Keys>,
    salt: String,
    rules: RepeatRules,
    recorder: Recorders,
    details: Mutex<HashMap<BatchId, (Instant, Arc<Details>)>>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("keys_dir", &self.keys.dir)
            .finish_non_exhaustive()
    }
}

impl Scanner {
    /// Starts the recorder thread. The salt for network hashes is shared by
    /// every node through the database.
    pub fn start(
        store: Arc<dyn Store>,
        keys_dir: PathBuf,
        rules: RepeatRules,
    ) -> ServiceResult<Arc<Scanner>> {
        Self::start_with(store.clone(), store, keys_dir, rules)
    }

    /// Starts the stages with `recorder` recording the scans.
    pub(crate) fn start_with(
        store: Arc<dyn Store>,
        recorder: impl Recorder,
        keys_dir: PathBuf,
        rules: RepeatRules,
    ) -> ServiceResult<Arc<Scanner>> {
        let salt = store.setting("scan.network_salt", &|| {
            let mut bytes = [0u8; 32];
            rand::fill(&mut bytes);
            data_encoding::HEXLOWER.encode(&bytes)
        })?;
        let keys = Arc::new(Keys::new(keys_dir));
        let recorder = Recorders::start(recorder, keys.clone(), rules).map_err(|e| {
            ServiceError::Store(StoreError::database(format!(
                "cannot start the scan recorder: {e}"
            )))
        })?;
        Ok(Arc::new(Scanner {
            store,
            keys,
            salt,
            rules,
            recorder,
            details: Mutex::new(HashMap::new()),
        }))
    }

    /// The current key set's verifier (reloaded when the key ring changes).
    pub fn verifier(&self) -> Arc<Verifier> {
        self.keys.verifier()
    }

    /// The repeat-scan rules in force.
    pub fn rules(&self) -> &RepeatRules {
        &self.rules
    }

    /// Checks the signature of a scanned text against the key set (for
    /// reports; scans go through `scan`). Pure CPU; safe on any thread.
    pub fn check(&self, text: &str) -> CodeCheck {
        match parse(text) {
            Ok(code) => self.keys.verifier().check_code(&code),
            Err(e) => CodeCheck::malformed(e),
        }
    }

    /// The salted, coarse hash of a client's network: IPv4 /24, IPv6 /48.
    pub fn network_hash(&self, ip: Option<std::net::IpAddr>) -> Option<String> {
        let coarse = match ip? {
            std::net::IpAddr::V4(v4) => {
                let o = v4.octets();
                format!("{}.{}.{}.0/24", o[0], o[1], o[2])
            }
            std::net::IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        };
        Some(self.hash(&coarse))
    }

    fn hash(&self, text: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.salt.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        data_encoding::HEXLOWER.encode(&h.finalize()[..8])
    }

    /// A salted hash of the client's network and user agent: the same
    /// phone on the same network hashes the same, and nothing more is kept.
    pub fn device_hash(&self, client: &Client) -> String {
        let network = self.network_hash(client.ip);
        self.hash(&format!(
            "{}|{}",
            network.as_deref().unwrap_or("-"),
            client.user_agent
        ))
    }

    /// Verifies and records a scan of `text` and returns what to show.
    /// Waits for the scan's group commit, so the count shown includes this
    /// scan.
    pub async fn scan(&self, text: &str, client: &Client) -> ServiceResult<ScanResult> {
        let network = self.network_hash(client.ip);
        let device = self.device_hash(client);
        let pending = Pending {
            parsed: parse(text),
            gtin: gs1_gtin(text),
            at: jiff::Timestamp::now(),
            network,
            device,
            agent: agent_family(&client.user_agent),
        };
        let stopped = || ServiceError::Unavailable("the scan recorder is not running".into());
        let (reply, outcome) = tokio::sync::oneshot::channel();
        self.recorder
            .send(Job { pending, reply })
            .map_err(|_| stopped())?;
        let outcome = outcome.await.map_err(|_| stopped())?;
        let (check, outcome) = outcome.map_err(|e| match e {
            Failure::Store(e) => ServiceError::Store(StoreError::database(e)),
            Failure::Unavailable => {
                ServiceError::Unavailable("the scan could not be recorded; try again".into())
            }
        })?;
        let details = match &outcome.stamp {
            Some(stamp) => Some(self.details(stamp.batch).await?),
            None => None,
        };
        Ok(ScanResult {
            check,
            outcome,
            details,
        })
    }

    async fn details(&self, batch: BatchId) -> ServiceResult<Arc<Details>> {
        if let Some((at, d)) = self
            .details
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&batch)
            && at.elapsed() < DETAILS_TTL
        {
            return Ok(d.clone());
        }
        let store = self.store.clone();
        let d = tokio::task::spawn_blocking(move || -> ServiceResult<Details> {
            let batch = super::registry::batch(&*store, batch)?;
            let product = super::registry::product(&*store, batch.product_id)?;
            let producer = super::registry::producer(&*store, product.producer_id)?;
            Ok(Details {
                batch,
                product,
                producer,
            })
        })
        .await
        .map_err(|e| ServiceError::Store(StoreError::database(e.to_string())))??;
        let d = Arc::new(d);
        let mut cache = self.details.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(batch, (Instant::now(), d.clone()));
        Ok(d)
    }

    /// Adds a location the person chose to share. `token` must be the one
    /// the page was given for this scan.
    pub fn share_location(
        &self,
        scan_id: i64,
        token: &str,
        lat: f64,
        lon: f64,
    ) -> ServiceResult<bool> {
        use subtle::ConstantTimeEq;
        let expected = self.scan_token(scan_id);
        if !bool::from(token.as_bytes().ct_eq(expected.as_bytes())) {
            return Ok(false);
        }
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(crate::domain::DomainError::new(
                "lat",
                "must be a latitude and longitude in degrees",
            )
            .into());
        }
        Ok(self.store.set_scan_location(scan_id, lat, lon)?)
    }

    /// A token that lets the page for scan `id` (and only it) add a location.
    pub fn scan_token(&self, scan_id: i64) -> String {
        self.hash(&format!("scan-token|{scan_id}"))
    }

    /// Stores a consumer report about a stamp.
    pub fn report(
        &self,
        check: &CodeCheck,
        kind: &str,
        message: Option<&str>,
        place: Option<&str>,
        ip: Option<std::net::IpAddr>,
    ) -> ServiceResult<i64> {
        use crate::domain::text::{self, Lines};
        let report = NewReport {
            serial: check.code.map(|c| c.serial),
            batch: check.code.map(|c| c.batch),
            kind: kind.parse::<crate::domain::ReportKind>()?,
            message: text::optional("message", message, 1000, Lines::Many)?,
            place: text::optional("place", place, 200, Lines::One)?,
            network: self.network_hash(ip),
        };
        Ok(self.store.add_report(&report)?)
    }
}

/// Parses a scanned text; input longer than any stamp URL is malformed
/// before any decoding work.
fn parse(text: &str) -> Result<StampCode, CodeError> {
    if text.len() > MAX_INPUT {
        return Err(CodeError::WrongLength(text.len()));
    }
    StampCode::parse(text)
}

/// The GTIN a stamp URL in GS1 form names (`None` for tem's own form).
fn gs1_gtin(text: &str) -> Option<String> {
    if text.len() > MAX_INPUT {
        return None;
    }
    crate::codes::format::gs1::parse(text)?
        .ok()
        .map(|(_, gtin)| gtin)
}

/// The browser or app family and platform from a user-agent string; enough
/// to tell Zalo's in-app browser from a phone's camera-app browser.
pub fn agent_family(ua: &str) -> String {
    let app = if ua.contains("Zalo") {
        "Zalo"
    } else if ua.contains("FBAN") || ua.contains("FBAV") {
        "Facebook"
    } else if ua.contains("SamsungBrowser") {
        "Samsung Internet"
    } else if ua.contains("CriOS") || (ua.contains("Chrome/") && !ua.contains("Edg/")) {
        "Chrome"
    } else if ua.contains("Firefox/") || ua.contains("FxiOS") {
        "Firefox"
    } else if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.is_empty() {
        "unknown"
    } else {
        "other"
    };
    let platform = if ua.contains("Android") {
        "Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS X") {
        "macOS"
    } else if ua.contains("Linux") {
        "Linux"
    } else {
        "other"
    };
    format!("{app}/{platform}")
}

/// The verdict as the page and JSON describe it, with the repeat warning.
pub fn is_suspicious(result: &ScanResult) -> bool {
    result.outcome.verdict != Verdict::Genuine || !result.outcome.repeat.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_families() {
        let zalo = "Mozilla/5.0 (Linux; Android 12; SM-A125F) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36 Zalo android/12";
        assert_eq!(agent_family(zalo), "Zalo/Android");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(agent_family(iphone), "Safari/iOS");
        assert_eq!(agent_family(""), "unknown/other");
    }

    /// Panics while recording the first group it gets, then records.
    struct PanicsOnce {
        store: Arc<dyn Store>,
        panicked: std::sync::atomic::AtomicBool,
    }

    impl Recorder for PanicsOnce {
        fn record(
            &self,
            scans: &[crate::store::NewScan],
            rules: &RepeatRules,
            today: jiff::civil::Date,
        ) -> Result<Vec<ScanOutcome>, StoreError> {
            if !self
                .panicked
                .swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                panic!("recording failed on purpose");
            }
            self.store.record_scans(scans, rules, today)
        }
    }

    /// A database that is down: each try takes `wait` (a pool waiting for
    /// a connection) and fails "unavailable"; counts the tries.
    struct Down {
        wait: Duration,
        tries: Arc<std::sync::atomic::AtomicU32>,
    }

    impl Recorder for Down {
        fn record(
            &self,
            _: &[crate::store::NewScan],
            _: &RepeatRules,
            _: jiff::civil::Date,
        ) -> Result<Vec<ScanOutcome>, StoreError> {
            self.tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(self.wait);
            Err(StoreError::unavailable("down", "connection refused"))
        }
    }

    #[test]
    fn scans_behind_a_database_that_is_down_are_answered_at_once_not_each_after_a_wait() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> =
            Arc::new(crate::store::SqliteStore::open(&dir.path().join("tem.db")).expect("store"));
        let tries = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let down = Down {
            wait: Duration::from_millis(300),
            tries: tries.clone(),
        };
        let scanner =
            Scanner::start_with(store, down, dir.path().join("keys"), RepeatRules::default())
                .expect("scanner");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let started = Instant::now();
            // Twenty scans one after another, as a phone's retries or a queue
            // of customers: without the pause each waits its own 300 ms.
            for _ in 0..20 {
                let client = Client {
                    ip: None,
                    user_agent: "test".into(),
                };
                let r = scanner.scan("/123", &client).await;
                assert!(matches!(r, Err(ServiceError::Unavailable(_))), "{r:?}");
            }
            let took = started.elapsed();
            assert!(
                took < Duration::from_secs(2),
                "20 scans took {took:?} behind a database that is down"
            );
        });
        assert!(
            tries.load(std::sync::atomic::Ordering::SeqCst) <= 3,
            "the database was tried for every scan"
        );
    }

    #[test]
    fn a_recorder_panic_fails_its_group_as_unavailable_and_the_next_scan_is_recorded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> =
            Arc::new(crate::store::SqliteStore::open(&dir.path().join("tem.db")).expect("store"));
        let recorder = PanicsOnce {
            store: store.clone(),
            panicked: Default::default(),
        };
        let scanner = Scanner::start_with(
            store,
            recorder,
            dir.path().join("keys"),
            RepeatRules::default(),
        )
        .expect("scanner");
        let client = Client {
            ip: None,
            user_agent: "test".into(),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let first =
                tokio::time::timeout(Duration::from_secs(10), scanner.scan("/123", &client))
                    .await
                    .expect("answered, not hung");
            assert!(
                matches!(first, Err(ServiceError::Unavailable(_))),
                "{first:?}"
            );
            let second =
                tokio::time::timeout(Duration::from_secs(10), scanner.scan("/123", &client))
                    .await
                    .expect("answered, not hung")
                    .expect("recorded after the panic");
            assert_eq!(second.outcome.verdict, Verdict::Malformed);
            assert!(second.outcome.scan_id > 0);
        });
    }
}
