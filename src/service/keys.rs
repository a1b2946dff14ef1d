//! Key operations with their audit entries: the keys live in files (the
//! key directory), the record of who changed them in the database.

use std::path::Path;

use super::ServiceResult;
use crate::codes::{KeyRing, Kid};
use crate::domain::text::{self, Lines};
use crate::store::Store;

pub fn generate(dir: &Path, store: &dyn Store, actor: &str) -> ServiceResult<Kid> {
    let mut ring = KeyRing::open(dir)?;
    let kid = ring.generate()?;
    store.audit_record(actor, "keys.generate", &format!("key:{kid}"), None)?;
    Ok(kid)
}

/// A new active key; the old one becomes verify-only (returned).
pub fn rotate(dir: &Path, store: &dyn Store, actor: &str) -> ServiceResult<(Kid, Option<String>)> {
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
