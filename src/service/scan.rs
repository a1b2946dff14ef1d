//! Scanning: verify a code, judge it against the registry, record the scan,
//! and gather what the consumer page shows.
//!
//! Every scan is a write (the count must be exact), so scans go through one
//! recorder thread that commits them in groups: many concurrent scans share
//! one transaction and one fsync, and each caller waits only for its group.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::{ServiceError, ServiceResult};
use crate::codes::{CodeCheck, CodeError, CodeVerdict, KeySet, Kid, StampCode, Verifier};
use crate::domain::scan::{RepeatRules, Verdict};
use crate::domain::{Batch, BatchId, Producer, Product};
use crate::store::{NewReport, NewScan, ScanOutcome, Store, StoreError};

/// Longest text the scan endpoint looks at: the 189-digit code plus a
/// generous URL around it. Longer input is malformed before any decoding.
pub const MAX_INPUT: usize = 400;
/// Scans committed together at most.
const GROUP: usize = 256;
/// How long product, producer and batch details may be reused before they
/// are read again (recalls and stamp states are read on every scan).
const DETAILS_TTL: Duration = Duration::from_secs(30);

/// Who scanned, reduced to what the rules need (no raw address is kept).
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: String,
}

/// Everything the scan page and the JSON answer show.
#[derive(Debug, Clone)]
pub struct ScanResult {
    pub check: CodeCheck,
    pub outcome: ScanOutcome,
    pub details: Option<Arc<Details>>,
}

/// The registry's data about a stamp's batch, product and producer.
#[derive(Debug, Clone)]
pub struct Details {
    pub batch: Batch,
    pub product: Product,
    pub producer: Producer,
}

/// A scan waiting for its group commit (its code parsed, not yet verified)
/// and where to send the outcome.
type Job = (
    NewScan,
    tokio::sync::oneshot::Sender<Result<(CodeCheck, ScanOutcome), String>>,
);

/// The public key set, reloaded when `keyring.json` changes (checked at
/// most every 2 s, so rotation and revocation apply without a restart).
struct Keys {
    dir: PathBuf,
    cell: RwLock<(Arc<Verifier>, Option<SystemTime>, Instant)>,
}

impl Keys {
    fn new(dir: PathBuf) -> Keys {
        let (v, m) = load_verifier(&dir);
        Keys {
            dir,
            cell: RwLock::new((Arc::new(v), m, Instant::now())),
        }
    }

    fn verifier(&self) -> Arc<Verifier> {
        {
            let guard = self.cell.read().unwrap_or_else(|e| e.into_inner());
            if guard.2.elapsed() < Duration::from_secs(2) {
                return guard.0.clone();
            }
        }
        let mut guard = self.cell.write().unwrap_or_else(|e| e.into_inner());
        let mtime = std::fs::metadata(self.dir.join("keyring.json"))
            .and_then(|m| m.modified())
            .ok();
        if mtime != guard.1 {
            let (v, m) = load_verifier(&self.dir);
            guard.0 = Arc::new(v);
            guard.1 = m;
        }
        guard.2 = Instant::now();
        guard.0.clone()
    }
}

/// The scan service: key set, salt, rules, the recorder thread and a small cache.
pub struct Scanner {
    store: Arc<dyn Store>,
    keys: Arc<Keys>,
    salt: String,
    rules: RepeatRules,
    jobs: Mutex<Sender<Job>>,
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
        let salt = store.setting("scan.network_salt", &|| {
            let mut bytes = [0u8; 32];
            rand::fill(&mut bytes);
            data_encoding::HEXLOWER.encode(&bytes)
        })?;
        let (tx, rx) = channel::<Job>();
        let keys = Arc::new(Keys::new(keys_dir));
        let (recorder_store, recorder_keys) = (store.clone(), keys.clone());
        std::thread::Builder::new()
            .name("tem-scan-recorder".into())
            .spawn(move || record_loop(recorder_store, recorder_keys, rx, rules))
            .map_err(|e| {
                ServiceError::Store(StoreError::Database(format!(
                    "cannot start the scan recorder: {e}"
                )))
            })?;
        Ok(Arc::new(Scanner {
            store,
            keys,
            salt,
            rules,
            jobs: Mutex::new(tx),
            details: Mutex::new(HashMap::new()),
        }))
    }

    /// The current key set's verifier (reloaded when the key ring changes).
    pub fn verifier(&self) -> Arc<Verifier> {
        self.keys.verifier()
    }

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

    /// Records a scan of `text` and returns what to show. Waits for the
    /// scan's group commit, so the count shown includes this scan.
    pub async fn scan(&self, text: &str, client: &Client) -> ServiceResult<ScanResult> {
        let network = self.network_hash(client.ip);
        let device = self.hash(&format!(
            "{}|{}",
            network.as_deref().unwrap_or("-"),
            client.user_agent
        ));
        let pending = NewScan {
            parsed: parse(text),
            at: jiff::Timestamp::now(),
            network,
            device,
            agent: agent_family(&client.user_agent),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stopped =
            || ServiceError::Store(StoreError::Database("the scan recorder stopped".into()));
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send((pending, tx))
            .map_err(|_| stopped())?;
        let (check, outcome) = rx
            .await
            .map_err(|_| stopped())?
            .map_err(|e| ServiceError::Store(StoreError::Database(e)))?;
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
        .map_err(|e| ServiceError::Store(StoreError::Database(e.to_string())))??;
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
        if token != self.scan_token(scan_id) {
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
        const KINDS: [&str; 4] = ["fake", "wrong-info", "expired", "other"];
        let kind = kind.trim();
        if !KINDS.contains(&kind) {
            return Err(crate::domain::DomainError::new(
                "kind",
                format!("must be one of {}", KINDS.join(", ")),
            )
            .into());
        }
        let report = NewReport {
            serial: check.code.map(|c| c.serial),
            batch: check.code.map(|c| c.batch),
            kind: kind.to_string(),
            message: text::optional("message", message, 1000, Lines::Many)?,
            place: text::optional("place", place, 200, Lines::One)?,
            network: self.network_hash(ip),
        };
        Ok(self.store.add_report(&report)?)
    }
}

fn load_verifier(dir: &std::path::Path) -> (Verifier, Option<SystemTime>) {
    let mtime = std::fs::metadata(dir.join("keyring.json"))
        .and_then(|m| m.modified())
        .ok();
    let set = KeySet::load(dir).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "no key set: every scan will be unknown-key");
        KeySet::new(Vec::new())
    });
    (Verifier::new(&set), mtime)
}

/// Parses a scanned text; input longer than any stamp URL is malformed
/// before any decoding work.
fn parse(text: &str) -> Result<StampCode, CodeError> {
    if text.len() > MAX_INPUT {
        return Err(CodeError::WrongLength(text.len()));
    }
    StampCode::parse(text)
}

/// Drains jobs in groups and records each group in one transaction.
///
/// A code whose serial, batch, key and signature equal what the registry
/// stored at issuance is vouched for by the registry (a constant-time
/// comparison; the stored signature is what tem's key produced). Every other
/// parsed code gets full Ed25519 verification, so forged codes, unknown
/// serials and foreign keys are told apart as before. Re-verifying the
/// stored signatures themselves is the job of batch verification.
fn record_loop(store: Arc<dyn Store>, keys: Arc<Keys>, rx: Receiver<Job>, rules: RepeatRules) {
    let (mut groups, mut scanned, mut busy) = (0u64, 0u64, Duration::ZERO);
    while let Ok(first) = rx.recv() {
        let started = Instant::now();
        let mut jobs = vec![first];
        while jobs.len() < GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (scans, replies): (Vec<NewScan>, Vec<_>) = jobs.into_iter().unzip();
        let verifier = keys.verifier();
        let check = |code: &StampCode, vouched: Option<Kid>| match vouched {
            Some(kid) => CodeCheck {
                verdict: CodeVerdict::Genuine,
                code: Some(*code),
                kid: Some(kid),
                problem: None,
            },
            None => verifier.check_code(code),
        };
        let today = jiff::Zoned::now().date();
        groups += 1;
        scanned += scans.len() as u64;
        if groups % 1000 == 0 {
            tracing::debug!(
                groups,
                scans = scanned,
                busy_ms = busy.as_millis() as u64,
                "scan recorder"
            );
        }
        let result = store.record_scans(&scans, &check, &rules, today);
        busy += started.elapsed();
        match result {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, scans = scans.len(), "recording scans failed");
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
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
}
