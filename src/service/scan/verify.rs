//! Signature checks for scans, off the write thread.
//!
//! The recorder drains the scans waiting for it and hands them here; while
//! this thread checks their signatures with batch equations
//! (`Verifier::check_codes`), the recorder commits the group checked before.
//! So the two overlap, a group is everything that arrived during one
//! commit (large groups make cheap equations), and the signature work of a
//! flood of forged codes is done here, never while the write lock is held.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use super::GROUP;
use super::job::{Checked, Job};
use crate::codes::batch::chunk_for;
use crate::codes::{CodeCheck, CodeVerdict, KeySet, StampCode, Verifier};
use crate::store::NewScan;

/// The verifying thread: takes groups of jobs, answers checked groups.
pub(super) struct Checker {
    tx: Sender<Vec<Job>>,
    rx: Receiver<Vec<Checked>>,
}

impl Checker {
    pub fn start(keys: Arc<Keys>) -> std::io::Result<Checker> {
        let (tx, jobs) = channel::<Vec<Job>>();
        let (checked, rx) = channel::<Vec<Checked>>();
        std::thread::Builder::new()
            .name("tem-scan-verify".into())
            .spawn(move || {
                let mut bad_share = 0.0;
                while let Ok(group) = jobs.recv() {
                    if checked.send(check(&keys, &mut bad_share, group)).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Checker { tx, rx })
    }

    /// Starts checking a group; `finish` gives it back checked.
    pub fn begin(&self, group: Vec<Job>) -> Result<(), Vec<Job>> {
        self.tx.send(group).map_err(|e| e.0)
    }

    /// The group passed to the last `begin`, checked.
    pub fn finish(&self) -> Option<Vec<Checked>> {
        self.rx.recv().ok()
    }
}

/// Checks a group's signatures together. The first equation's size follows
/// the recent share of forged codes: whole groups while forgeries are rare,
/// one by one under a flood of them.
pub(super) fn check(keys: &Keys, bad_share: &mut f64, jobs: Vec<Job>) -> Vec<Checked> {
    let verifier = keys.verifier();
    let codes: Vec<StampCode> = jobs
        .iter()
        .filter_map(|j| j.pending.parsed.as_ref().ok().copied())
        .collect();
    let (checks, _) = verifier.check_codes(&codes, chunk_for(*bad_share, GROUP));
    if !codes.is_empty() {
        let forged = checks
            .iter()
            .filter(|c| c.verdict == CodeVerdict::Forged)
            .count();
        *bad_share = 0.75 * *bad_share + 0.25 * (forged as f64 / codes.len() as f64);
    }
    let mut checks = checks.into_iter();
    jobs.into_iter()
        .map(|job| {
            let p = job.pending;
            let check = match p.parsed {
                Ok(code) => checks.next().unwrap_or_else(|| verifier.check_code(&code)),
                Err(e) => CodeCheck::malformed(e),
            };
            Checked {
                scan: NewScan {
                    check,
                    at: p.at,
                    network: p.network,
                    device: p.device,
                    agent: p.agent,
                    gtin: p.gtin,
                },
                reply: job.reply,
            }
        })
        .collect()
}

/// The public key set, reloaded when `keyring.json` changes (checked at
/// most every 2 s, so rotation and revocation apply without a restart).
pub(super) struct Keys {
    pub dir: PathBuf,
    cell: RwLock<(Arc<Verifier>, Option<SystemTime>, Instant)>,
}

impl Keys {
    pub fn new(dir: PathBuf) -> Keys {
        let (v, m) = load_verifier(&dir);
        Keys {
            dir,
            cell: RwLock::new((Arc::new(v), m, Instant::now())),
        }
    }

    pub fn verifier(&self) -> Arc<Verifier> {
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
