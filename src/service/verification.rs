//! Batch verification (issue 9): is everything about this batch what the
//! producer and tem say it is, without trusting the database blindly?
//!
//! 1. Every stamp's signature is checked again against the key set, in
//!    batches (ed25519-dalek's batch equation, on every core); a batch that
//!    fails is split in halves until the bad stamps are found, and those are
//!    checked one by one with `verify_strict`. The message signed binds the
//!    stamp to its batch, so a stamp moved to another batch fails too.
//! 2. The stamps are replayed from the audit log (commission, print,
//!    activate, void entries for the batch, in order) and compared with the
//!    rows: a row the log never commissioned (inserted), a commissioned
//!    stamp without a row (deleted), a state the log does not explain
//!    (altered). The whole log is checked against its signed heads.
//!    Sold and claimed stamps are replayed the same way and compared with
//!    their rows (`verification_sales`).
//! 3. What a consumer is shown is checked against Circular 02/2024/TT-BKHCN
//!    and the OCOP rules: missing items, lapsed ratings and certificates.
//! 4. Scans are summarised.
//!
//! The verdict is `compromised` when anything shows tampering, `findings`
//! when data is missing or lapsed (or stamps are under a revoked key),
//! `clean` otherwise. The report is signed by the service and stored.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, VerifyingKey};

use super::{ServiceResult, internal};
use crate::codes::batch::{self, Claim};
use crate::codes::format::signed_message;
use crate::codes::{KeySet, KeyStatus, Signer};
use crate::domain::{BatchId, StampState};
use crate::store::{Store, StoredStamp};

pub use crate::report::verification::{
    BatchRef, Conclusion, DataChecks, Finding, FindingKind, LogChecks, REPORT_DOMAIN,
    REPORT_FORMAT, Report, ScanSummary, Severity, SignedReport, StampChecks,
};

/// Findings listed one by one per kind; the rest are counted.
const LISTED: usize = 100;
/// Signatures per batch equation.
const CHUNK: usize = 1024;

fn compromised(kind: FindingKind, detail: String) -> Finding {
    Finding {
        severity: Severity::Compromised,
        kind,
        detail,
    }
}

fn finding(kind: FindingKind, detail: String) -> Finding {
    Finding {
        severity: Severity::Finding,
        kind,
        detail,
    }
}

/// Verifies `batch`, stores the signed report and its audit entry.
#[tracing::instrument(skip_all, fields(batch = %batch))]
pub fn verify_batch(
    ctx: &super::Context,
    batch: BatchId,
    rules: &crate::domain::scan::RepeatRules,
    by: &crate::domain::Actor,
) -> ServiceResult<SignedReport> {
    let store = ctx.store();
    let b = super::access::batch(store, &by.grant, batch)?;
    let ring = ctx.keys()?;
    let (keys, signer, service) = (&ring.key_set(), &ring.signer()?, ctx.base_url());
    let product = super::registry::product(store, b.product_id)?;
    let producer = super::registry::producer(store, product.producer_id)?;
    let mut findings = Vec::new();
    // The stamps and the audit entries the replay compares them with, from
    // one snapshot: an issuance committed between two reads would look like
    // stamps the log never commissioned.
    let snapshot = store.batch_snapshot(batch)?;
    let (stamps, entries) = (&snapshot.stamps, &snapshot.entries);
    let stamp_checks = check_signatures(keys, stamps, batch, &mut findings);
    let mut log = check_log(store, keys, stamps, entries, &mut findings)?;
    super::verification_sales::check(&snapshot, &mut log, &mut findings);
    let data = check_data(&b, &product, stamps.is_empty(), &mut findings);
    let scans = summarise_scans(store, batch, rules)?;

    findings.sort_by_key(|f| f.severity);
    let verdict = if findings.iter().any(|f| f.severity == Severity::Compromised) {
        Conclusion::Compromised
    } else if findings.is_empty() {
        Conclusion::Clean
    } else {
        Conclusion::Findings
    };
    let report = Report {
        format: REPORT_FORMAT.into(),
        id: uuid::Uuid::new_v4().to_string(),
        service: service.to_string(),
        verified_at: jiff::Timestamp::now().to_string(),
        verified_by: by.name.clone(),
        batch: BatchRef {
            id: batch.0,
            lot_code: b.lot_code.clone(),
            product: product.name.clone(),
            producer: producer.name.clone(),
            province: producer.province.clone(),
        },
        verdict,
        stamps: stamp_checks,
        log,
        data,
        scans,
        findings,
    };
    let signed = sign(report, signer)?;
    store.record_verification(
        &signed.report.id,
        batch,
        &by.name,
        verdict.as_str(),
        &serde_json::to_string(&signed).map_err(internal)?,
    )?;
    Ok(signed)
}

/// Check 1: every stamp's signature against the key set (batch equations on
/// every core), and the stamps whose key is unknown or revoked.
fn check_signatures(
    keys: &KeySet,
    stamps: &[StoredStamp],
    batch: BatchId,
    findings: &mut Vec<Finding>,
) -> StampChecks {
    let mut stamp_checks = StampChecks {
        total: stamps.len() as u64,
        ..Default::default()
    };
    let key_list: Vec<(crate::codes::Kid, VerifyingKey, KeyStatus)> = keys.decoded().collect();
    let decoded: BTreeMap<String, (usize, KeyStatus)> = key_list
        .iter()
        .enumerate()
        .map(|(i, (kid, _, status))| (kid.to_string(), (i, *status)))
        .collect();
    let batch_keys = batch::Keys::new(key_list.iter().map(|(_, key, _)| *key).collect());
    let mut known: Vec<(&StoredStamp, usize)> = Vec::with_capacity(stamps.len());
    for s in stamps {
        match decoded.get(&s.kid.to_string()) {
            Some((key, status)) => {
                if *status == KeyStatus::Revoked {
                    stamp_checks.revoked_key += 1;
                    if stamp_checks.revoked_key_serials.len() < LISTED {
                        stamp_checks.revoked_key_serials.push(s.serial.to_string());
                    }
                }
                known.push((s, *key));
            }
            None => {
                stamp_checks.unknown_key += 1;
                if stamp_checks.unknown_key as usize <= LISTED {
                    findings.push(compromised(
                        FindingKind::UnknownKey,
                        format!(
                            "stamp #{} ({}) names key {}, which is not in the key set",
                            s.seq, s.serial, s.kid
                        ),
                    ));
                }
            }
        }
    }
    let (bad, _) = bad_signatures(&batch_keys, &known, batch);
    stamp_checks.bad_signatures = bad.len() as u64;
    stamp_checks.signatures_ok = known.len() as u64 - bad.len() as u64;
    for s in bad.iter().take(LISTED) {
        findings.push(compromised(
            FindingKind::BadSignature,
            format!(
                "stamp #{} ({}): the signature does not hold for this batch (forged, altered, or moved from another batch)",
                s.seq, s.serial
            ),
        ));
    }
    if bad.len() > LISTED {
        findings.push(compromised(
            FindingKind::BadSignature,
            format!("… and {} more", bad.len() - LISTED),
        ));
    }
    if stamp_checks.revoked_key > 0 {
        findings.push(finding(
            FindingKind::RevokedKey,
            format!(
                "{} stamps are signed by a key that has since been revoked; scans trust them only through the registry",
                stamp_checks.revoked_key
            ),
        ));
    }

    stamp_checks
}

/// Check 2: the stamps against the audit log's replay (rows never commissioned,
/// states that differ, commissioned rows gone), and the log against its
/// signed heads.
fn check_log(
    store: &dyn Store,
    keys: &KeySet,
    stamps: &[StoredStamp],
    entries: &[crate::audit::Entry],
    findings: &mut Vec<Finding>,
) -> ServiceResult<LogChecks> {
    let log_check = super::audit::verify(store, keys, Vec::new())?;
    let mut log = LogChecks {
        audit_log_intact: log_check.findings.is_empty(),
        ..Default::default()
    };
    for f in log_check.findings.iter().take(LISTED) {
        findings.push(compromised(FindingKind::AuditLog, f.clone()));
    }

    log.entries = entries.len() as u64;
    let expected = replay(entries);
    let mut listed = 0;
    let mut stored_seqs = std::collections::HashSet::with_capacity(stamps.len());
    for s in stamps {
        stored_seqs.insert(s.seq);
        match expected.get(s.seq as usize).copied().flatten() {
            None => {
                log.not_in_log += 1;
                if listed < LISTED {
                    listed += 1;
                    findings.push(compromised(
                        FindingKind::NotInLog,
                        format!("stamp #{} ({}) was never commissioned in the audit log (a row inserted behind tem's back)", s.seq, s.serial),
                    ));
                }
            }
            Some(state) if state != s.state => {
                log.altered_states += 1;
                if listed < LISTED {
                    listed += 1;
                    findings.push(compromised(
                        FindingKind::AlteredState,
                        format!(
                            "stamp #{} is {} in the database but {} by the audit log",
                            s.seq,
                            s.state.as_str(),
                            state.as_str()
                        ),
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for (seq, state) in expected.iter().enumerate() {
        if state.is_some() && !stored_seqs.contains(&(seq as u32)) {
            log.missing_rows += 1;
            if listed < LISTED {
                listed += 1;
                findings.push(compromised(
                    FindingKind::MissingRow,
                    format!("stamp #{seq} was commissioned in the audit log but has no row (deleted or moved)"),
                ));
            }
        }
    }

    Ok(log)
}

/// Check 3: what consumers are shown (Circular 02/2024/TT-BKHCN, OCOP): missing
/// items and lapsed ratings, certifications and expiry.
fn check_data(
    b: &crate::domain::Batch,
    product: &crate::domain::Product,
    no_stamps: bool,
    findings: &mut Vec<Finding>,
) -> DataChecks {
    let today = jiff::Zoned::now().date();
    let mut data = DataChecks::default();
    let mut missing = |item: &str| data.missing.push(item.to_string());
    if product.images.is_empty() {
        missing("product image (Circular 02, item 2)");
    }
    if b.stages.is_empty() {
        missing("production stages with place and time (Circular 02, item 5)");
    }
    if product.certifications.is_empty() {
        missing("standards or certifications applied (Circular 02, item 10)");
    }
    if no_stamps {
        missing("trace codes: the batch has no stamps (Circular 02, item 7)");
    }
    if let Some(o) = &product.ocop
        && o.valid_until < today
    {
        data.lapsed.push(format!(
            "OCOP {}-star rating (decision {}) lapsed on {} (36 months)",
            o.stars, o.decision_no, o.valid_until
        ));
    }
    for c in &product.certifications {
        if let Some(until) = c.valid_until
            && until < today
        {
            data.lapsed
                .push(format!("certification {} lapsed on {until}", c.name));
        }
    }
    if let Some(e) = b.expiry_date
        && e < today
    {
        data.lapsed.push(format!("the batch expired on {e}"));
    }
    for m in &data.missing {
        findings.push(finding(FindingKind::MissingData, m.clone()));
    }
    for l in &data.lapsed {
        findings.push(finding(FindingKind::Lapsed, l.clone()));
    }

    data
}

/// Check 4: what the batch's scans add up to.
fn summarise_scans(
    store: &dyn Store,
    batch: BatchId,
    rules: &crate::domain::scan::RepeatRules,
) -> ServiceResult<ScanSummary> {
    let stats = super::lifecycle::batch_stats(store, batch, rules)?;
    Ok(ScanSummary {
        scans: stats.scans.scans,
        stamps_scanned: stats.scans.stamps_scanned,
        suspicious: stats.scans.suspicious.len() as u64,
        consumer_reports: stats.scans.reports,
    })
}

fn sign(report: Report, signer: &Signer) -> ServiceResult<SignedReport> {
    let body = serde_json::to_vec(&report).map_err(internal)?;
    let signature = signer.sign_document(REPORT_DOMAIN, &body);
    Ok(SignedReport {
        report,
        kid: signer.kid().to_string(),
        signature: data_encoding::BASE64URL_NOPAD.encode(&signature),
    })
}

/// The stamps whose signature fails, found with batch equations on every
/// core and bisection of the chunks that fail (`codes::batch`), and the
/// number of single checks that took.
fn bad_signatures<'a>(
    keys: &batch::Keys,
    stamps: &[(&'a StoredStamp, usize)],
    batch: BatchId,
) -> (Vec<&'a StoredStamp>, usize) {
    let parts: Vec<(Vec<&StoredStamp>, usize)> = crate::parallel::par_chunks(stamps, |part| {
        let (mut bad, mut singles) = (Vec::new(), 0);
        for chunk in part.chunks(CHUNK) {
            let claims: Vec<Claim> = chunk
                .iter()
                .map(|(s, key)| Claim {
                    message: signed_message(&s.kid, s.serial, batch),
                    signature: Signature::from_bytes(&s.signature),
                    key: *key,
                })
                .collect();
            let checked = batch::verify_claims(keys, &claims, CHUNK);
            singles += checked.single_checks;
            bad.extend(
                chunk
                    .iter()
                    .zip(checked.ok)
                    .filter(|(_, ok)| !ok)
                    .map(|((s, _), _)| *s),
            );
        }
        (bad, singles)
    });
    let singles = parts.iter().map(|(_, n)| n).sum();
    let mut bad: Vec<&StoredStamp> = parts.into_iter().flat_map(|(b, _)| b).collect();
    bad.sort_by_key(|s| s.seq);
    (bad, singles)
}

/// Each stamp's state as the audit log tells it, indexed by stamp number
/// (`None`: never commissioned).
fn replay(entries: &[crate::audit::Entry]) -> Vec<Option<StampState>> {
    let mut states: Vec<Option<StampState>> = Vec::new();
    let range = |e: &crate::audit::Entry| -> Option<(u32, u32)> {
        let a = e.after.as_ref()?;
        Some((
            a["first_seq"].as_u64()? as u32,
            a["last_seq"].as_u64()? as u32,
        ))
    };
    for e in entries {
        let Some((first, last)) = range(e) else {
            continue;
        };
        if last < first || last as usize > 50_000_000 {
            continue;
        }
        if states.len() <= last as usize {
            states.resize(last as usize + 1, None);
        }
        let listed: Option<Vec<u32>> = e.after.as_ref().and_then(|a| {
            a["detail"]["seqs"].as_array().map(|v| {
                v.iter()
                    .filter_map(|x| x.as_u64().map(|n| n as u32))
                    .collect()
            })
        });
        let seqs: Box<dyn Iterator<Item = u32>> = match &listed {
            Some(list) => Box::new(list.iter().copied()),
            None => Box::new(first..=last),
        };
        for seq in seqs {
            let slot = &mut states[seq as usize];
            *slot = match (e.action.as_str(), *slot) {
                ("stamps.commission", _) => Some(StampState::Issued),
                ("stamps.print", Some(StampState::Issued)) => Some(StampState::Printed),
                ("stamps.activate", Some(StampState::Printed)) => Some(StampState::Activated),
                ("stamps.void", Some(_)) => Some(StampState::Voided),
                (_, s) => s,
            };
        }
    }
    states
}

/// Why a report is refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReportError {
    /// The file is not a report (why).
    #[error("not a tem verification report: {0}")]
    Unreadable(String),
    /// Its signature does not verify.
    #[error("the signature does not verify: the report was changed after tem signed it")]
    BadSignature,
    /// It is signed by a key not in the key set (its id).
    #[error("signed by key {0}, which is not in the key set")]
    UnknownKey(String),
    /// It is signed by a revoked key (its id).
    #[error("signed by key {0}, which is revoked")]
    RevokedKey(String),
}

/// Checks a signed report against a key set; returns it when it holds.
pub fn check_report(text: &str, keys: &KeySet) -> Result<SignedReport, ReportError> {
    let signed: SignedReport =
        serde_json::from_str(text).map_err(|e| ReportError::Unreadable(e.to_string()))?;
    if signed.report.format != REPORT_FORMAT {
        return Err(ReportError::Unreadable(format!(
            "format {:?}",
            signed.report.format
        )));
    }
    let (_, key, status) = keys
        .decoded()
        .find(|(kid, _, _)| kid.to_string() == signed.kid)
        .ok_or_else(|| ReportError::UnknownKey(signed.kid.clone()))?;
    let body =
        serde_json::to_vec(&signed.report).map_err(|e| ReportError::Unreadable(e.to_string()))?;
    let mut message = REPORT_DOMAIN.to_vec();
    message.push(0);
    message.extend_from_slice(&body);
    let sig = data_encoding::BASE64URL_NOPAD
        .decode(signed.signature.as_bytes())
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
        .ok_or(ReportError::BadSignature)?;
    key.verify_strict(&message, &sig)
        .map_err(|_| ReportError::BadSignature)?;
    if status == KeyStatus::Revoked {
        return Err(ReportError::RevokedKey(signed.kid.clone()));
    }
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Serial;

    #[test]
    fn bad_stamps_are_found_by_bisection_not_one_by_one() {
        let signer = Signer::from_secret([9u8; 32]);
        let key = VerifyingKey::from_bytes(&signer.public_key()).unwrap();
        let batch = BatchId(8);
        let mut stamps: Vec<StoredStamp> = (1..=5000u32)
            .map(|seq| {
                let code = signer.sign(Serial(1_000_000 + u64::from(seq)), batch);
                StoredStamp {
                    serial: code.serial,
                    batch,
                    seq,
                    state: StampState::Printed,
                    kid: signer.kid(),
                    signature: code.signature,
                    issued_at: jiff::Timestamp::UNIX_EPOCH,
                    claimable: false,
                    form: crate::codes::StampForm::Tem,
                }
            })
            .collect();
        for seq in [17u32, 2048, 4999] {
            stamps[seq as usize - 1].signature[5] ^= 1;
        }
        // Signed for another batch: fails here.
        stamps[299].signature = signer.sign(stamps[299].serial, BatchId(9)).signature;
        let with_keys: Vec<_> = stamps.iter().map(|s| (s, 0)).collect();
        let keys = batch::Keys::new(vec![key]);
        let (bad, singles) = bad_signatures(&keys, &with_keys, batch);
        let bad: Vec<u32> = bad.iter().map(|s| s.seq).collect();
        assert_eq!(bad, [17, 300, 2048, 4999]);
        assert!(
            singles <= 4 * 4,
            "{singles} single verifications for 4 bad stamps in 5,000"
        );
    }

    #[test]
    fn the_audit_log_replays_into_each_stamps_state() {
        let entry =
            |action: &str, first: u32, last: u32, seqs: Option<Vec<u32>>| crate::audit::Entry {
                seq: 1,
                at: String::new(),
                actor: String::new(),
                action: action.into(),
                object: "batch:1".into(),
                before: None,
                after: Some(serde_json::json!({
                    "first_seq": first, "last_seq": last, "count": 0, "reason": null,
                    "detail": seqs.map(|s| serde_json::json!({"seqs": s})),
                })),
            };
        let states = replay(&[
            entry("stamps.commission", 1, 6, None),
            entry("stamps.print", 1, 5, Some(vec![1, 3, 5])),
            entry("stamps.activate", 1, 3, None),
            entry("stamps.void", 5, 6, None),
            entry("stamps.print", 1, 6, None),
        ]);
        use StampState::*;
        assert_eq!(
            states,
            [
                None,
                Some(Activated),
                Some(Printed),
                Some(Activated),
                Some(Printed),
                Some(Voided),
                Some(Voided)
            ]
        );
    }
}
