//! Key operations with their audit entries: the keys live in files (the
//! key directory), the record of who changed them in the database.
//!
//! Each operation holds the key directory's lock from reading the key ring
//! to writing its audit entry, so concurrent changes (a dashboard rotation,
//! a command-line revocation) happen one after the other. The file change
//! comes first, the audit entry second; a crash between the two leaves a
//! change without its entry, which `reconcile` finds and records (every
//! operation, and `tem serve` at start, reconciles first). The reverse — an
//! entry for a change that did not happen — cannot occur.

use std::path::Path;

use super::ServiceResult;
use crate::codes::{KeyRing, KeyStatus, Kid};
use crate::domain::text::{self, Lines};
use crate::store::Store;

/// Generates the first (active) key and records it in the audit log.
#[tracing::instrument(skip_all)]
pub fn generate(dir: &Path, store: &dyn Store, actor: &str) -> ServiceResult<Kid> {
    let _lock = KeyRing::lock(dir)?;
    reconcile_locked(dir, store)?;
    let mut ring = KeyRing::open(dir)?;
    let kid = ring.generate()?;
    store.audit_record(actor, "keys.generate", &format!("key:{kid}"), None)?;
    Ok(kid)
}

/// A new active key; the old one becomes verify-only (returned).
#[tracing::instrument(skip_all)]
pub fn rotate(dir: &Path, store: &dyn Store, actor: &str) -> ServiceResult<(Kid, Option<String>)> {
    let _lock = KeyRing::lock(dir)?;
    reconcile_locked(dir, store)?;
    let mut ring = KeyRing::open(dir)?;
    let (kid, retired) = ring.rotate()?;
    store.audit_record(
        actor,
        "keys.rotate",
        &format!("key:{kid}"),
        Some(serde_json::json!({ "retired": retired })),
    )?;
    Ok((kid, retired))
}

/// Marks a key compromised: codes it signs from now on, and any code it
/// signed that the registry did not issue before now, scan `revoked-key`.
/// Its private key file leaves the key directory.
#[tracing::instrument(skip_all)]
pub fn revoke(
    dir: &Path,
    store: &dyn Store,
    kid: &str,
    reason: Option<&str>,
    actor: &str,
) -> ServiceResult<Kid> {
    let reason = reason
        .map(|r| text::required("reason", r, 500, Lines::One))
        .transpose()?;
    let _lock = KeyRing::lock(dir)?;
    reconcile_locked(dir, store)?;
    let mut ring = KeyRing::open(dir)?;
    let kid = ring.revoke(kid, reason.clone())?;
    store.audit_record(
        actor,
        "keys.revoke",
        &format!("key:{kid}"),
        Some(serde_json::json!({ "reason": reason })),
    )?;
    Ok(kid)
}

/// Brings the audit log and the key directory in step after a crash:
/// records the key changes that have no audit entry (marked `recovered`,
/// with the time the key ring gives) and moves revoked keys' private files
/// out. Returns how many entries it added.
#[tracing::instrument(skip_all)]
pub fn reconcile(dir: &Path, store: &dyn Store) -> ServiceResult<usize> {
    let _lock = KeyRing::lock(dir)?;
    reconcile_locked(dir, store)
}

fn reconcile_locked(dir: &Path, store: &dyn Store) -> ServiceResult<usize> {
    let ring = KeyRing::open(dir)?;
    ring.retire_revoked()?;
    let mut added = 0;
    for (i, k) in ring.entries().iter().enumerate() {
        let object = format!("key:{}", k.kid);
        let entries = store.audit_entries_about(&object)?;
        let has = |action: &str| entries.iter().any(|e| e.action == action);
        if !has("keys.generate") && !has("keys.rotate") {
            let action = if i == 0 {
                "keys.generate"
            } else {
                "keys.rotate"
            };
            store.audit_record(
                "tem (recovered after an interrupted key change)",
                action,
                &object,
                Some(serde_json::json!({ "recovered": true, "at": k.valid_from })),
            )?;
            added += 1;
        }
        if k.status == KeyStatus::Revoked && !has("keys.revoke") {
            store.audit_record(
                "tem (recovered after an interrupted key change)",
                "keys.revoke",
                &object,
                Some(serde_json::json!({
                    "recovered": true,
                    "at": k.revoked_at,
                    "reason": k.revocation_reason,
                })),
            )?;
            added += 1;
        }
    }
    if added > 0 {
        tracing::warn!(
            added,
            "key changes without audit entries were found (an interrupted key change) and recorded"
        );
    }
    Ok(added)
}
