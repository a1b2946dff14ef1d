//! Batch verification's check of the sold and claimed states: the audit log
//! is replayed (`stamp.sold`, `stamp.unsold`, `stamp.claim` entries about
//! the batch) and compared with the `sales` and `claims` rows, both ways. A
//! sale or claim written behind tem's back, or one removed, shows.

use std::collections::BTreeSet;

use crate::report::verification::{Finding, FindingKind, LogChecks, Severity};
use crate::store::BatchSnapshot;

/// Differences listed one by one; the rest are counted.
const LISTED: usize = 100;

/// Compares the batch's sold and claimed stamps with the log's replay.
pub(super) fn check(snapshot: &BatchSnapshot, log: &mut LogChecks, findings: &mut Vec<Finding>) {
    let (logged_sold, logged_claimed) = replay(&snapshot.entries);
    let stored_sold: BTreeSet<String> = snapshot
        .sales
        .iter()
        .map(|s| s.serial.to_string())
        .collect();
    let stored_claimed: BTreeSet<String> = snapshot
        .claims
        .iter()
        .map(|c| c.serial.to_string())
        .collect();
    let mut differences = Vec::new();
    for (what, stored, logged) in [
        ("sold", &stored_sold, &logged_sold),
        ("claimed", &stored_claimed, &logged_claimed),
    ] {
        for serial in stored.difference(logged) {
            differences.push(format!(
                "stamp {serial} is {what} in the database but not by the audit log (a row written behind tem's back)"
            ));
        }
        for serial in logged.difference(stored) {
            differences.push(format!(
                "stamp {serial} is {what} by the audit log but not in the database (a row removed)"
            ));
        }
    }
    log.altered_sales = differences.len() as u64;
    findings.extend(differences.into_iter().take(LISTED).map(|detail| Finding {
        severity: Severity::Compromised,
        kind: FindingKind::AlteredSale,
        detail,
    }));
}

/// The serials sold and claimed as the log tells it.
fn replay(entries: &[crate::audit::Entry]) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut sold, mut claimed) = (BTreeSet::new(), BTreeSet::new());
    for e in entries {
        let Some(after) = e.after.as_ref() else {
            continue;
        };
        let serials = || {
            after["serials"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(String::from))
        };
        match e.action.as_str() {
            "stamp.sold" => sold.extend(serials()),
            "stamp.unsold" => {
                for s in serials() {
                    sold.remove(&s);
                }
            }
            "stamp.claim" => claimed.extend(after["serial"].as_str().map(String::from)),
            _ => {}
        }
    }
    (sold, claimed)
}
