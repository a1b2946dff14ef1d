//! The scan recorder: one thread that commits scans in groups.
//!
//! Every scan is a write (counts must be exact), so scans share
//! transactions. The recorder takes whatever scans are waiting (up to
//! `GROUP`) and has the verify thread check their signatures while it
//! commits the group checked before; then it commits that group in one
//! transaction and answers each caller. A panic while recording fails only
//! that group ("unavailable") and the thread goes on with the next one.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use super::GROUP;
use super::job::{Failure, Job, Reply};
use super::verify::{Checker, Keys};
use crate::domain::scan::RepeatRules;
use crate::store::{NewScan, ScanOutcome, Store, StoreError};

/// How long scans are answered "unavailable" without trying the database
/// after it said it cannot serve (a restart, an outage, a full disk).
pub(crate) const DOWN_PAUSE: Duration = Duration::from_secs(1);

/// Records a group of checked scans: the store, or in tests a stand-in.
pub(crate) trait Recorder: Send + Sync + 'static {
    fn record(
        &self,
        scans: &[NewScan],
        rules: &RepeatRules,
        today: jiff::civil::Date,
    ) -> Result<Vec<ScanOutcome>, StoreError>;
}

impl Recorder for std::sync::Arc<dyn Store> {
    fn record(
        &self,
        scans: &[NewScan],
        rules: &RepeatRules,
        today: jiff::civil::Date,
    ) -> Result<Vec<ScanOutcome>, StoreError> {
        self.record_scans(scans, rules, today)
    }
}

/// The recorder thread is gone.
#[derive(Debug)]
pub(super) struct Stopped;

/// The way into the recorder thread. The queue is not bounded here: every
/// scan in it has an HTTP request waiting for it, so the server's
/// connection limit bounds it.
pub(super) struct Recorders {
    tx: Sender<Job>,
}

impl Recorders {
    pub fn start(
        recorder: impl Recorder,
        keys: Arc<Keys>,
        rules: RepeatRules,
    ) -> std::io::Result<Recorders> {
        let (tx, rx) = channel::<Job>();
        let checker = Checker::start(keys)?;
        std::thread::Builder::new()
            .name("tem-scan-recorder".into())
            .spawn(move || record_loop(&recorder, &checker, &rx, &rules))?;
        Ok(Recorders { tx })
    }

    /// Hands a parsed scan to the recorder; `Err` when it has stopped.
    pub fn send(&self, job: Job) -> Result<(), Stopped> {
        self.tx.send(job).map_err(|_| Stopped)
    }
}

/// Everything waiting, up to `GROUP`; blocks for the first one when `wait`.
fn drain(rx: &Receiver<Job>, wait: bool) -> Option<Vec<Job>> {
    let first = if wait {
        rx.recv().ok()?
    } else {
        rx.try_recv().ok()?
    };
    let mut group = vec![first];
    while group.len() < GROUP {
        match rx.try_recv() {
            Ok(job) => group.push(job),
            Err(_) => break,
        }
    }
    Some(group)
}

fn record_loop(
    recorder: &impl Recorder,
    checker: &Checker,
    rx: &Receiver<Job>,
    rules: &RepeatRules,
) {
    let (mut groups, mut scanned, mut busy) = (0u64, 0u64, Duration::ZERO);
    // After the database said it cannot serve, the groups that follow are
    // answered "unavailable" at once for a moment, instead of each waiting
    // its turn for a connection behind a database that is down.
    let mut down_until: Option<Instant> = None;
    // The group being checked while the one before is committed.
    let mut in_check = false;
    loop {
        if !in_check {
            let Some(group) = drain(rx, true) else { return };
            if let Err(group) = checker.begin(group) {
                return fail(group);
            }
        }
        let Some(group) = checker.finish() else {
            return;
        };
        in_check = match drain(rx, false) {
            Some(next) => match checker.begin(next) {
                Ok(()) => true,
                Err(next) => {
                    fail(next);
                    false
                }
            },
            None => false,
        };
        let started = Instant::now();
        let (scans, replies): (Vec<NewScan>, Vec<Reply>) =
            group.into_iter().map(|c| (c.scan, c.reply)).unzip();
        if down_until.is_some_and(|until| started < until) {
            for reply in replies {
                let _ = reply.send(Err(Failure::Unavailable));
            }
            continue;
        }
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
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            recorder.record(&scans, rules, today)
        }));
        busy += started.elapsed();
        match result {
            Ok(Ok(outcomes)) => {
                down_until = None;
                for ((reply, scan), outcome) in replies.into_iter().zip(scans).zip(outcomes) {
                    let _ = reply.send(Ok((scan.check, outcome)));
                }
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, scans = scans.len(), "recording scans failed");
                let unavailable = e.is_unavailable();
                if unavailable {
                    down_until = Some(Instant::now() + DOWN_PAUSE);
                }
                for reply in replies {
                    let _ = reply.send(Err(if unavailable {
                        Failure::Unavailable
                    } else {
                        Failure::Store(e.to_string())
                    }));
                }
            }
            Err(panic) => {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %why, scans = scans.len(),
                    "the scan recorder failed; it goes on with the next group");
                for reply in replies {
                    let _ = reply.send(Err(Failure::Unavailable));
                }
            }
        }
    }
}

/// Answers "unavailable" to scans that cannot be checked (the verify thread
/// is gone).
fn fail(group: Vec<Job>) {
    for job in group {
        let _ = job.reply.send(Err(Failure::Unavailable));
    }
}
