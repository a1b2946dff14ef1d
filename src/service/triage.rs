//! The inspectors' triage queue: stamps that started to look copied (scan
//! alerts) and consumer reports, each resolved once with an outcome and a note.

use super::{ServiceResult, access};
use crate::domain::text::{self, Lines};
use crate::domain::{BatchId, Grant, Outcome, TriageKind};
use crate::store::Store;
pub use crate::store::TriageItem;

/// Items the grant may see, open ones only unless `all`.
pub fn list(
    store: &dyn Store,
    grant: &Grant,
    all: bool,
    batch: Option<BatchId>,
) -> ServiceResult<Vec<TriageItem>> {
    if let Some(b) = batch {
        access::batch(store, grant, b)?;
    }
    let visible: Option<std::collections::HashSet<BatchId>> = (grant.role
        != crate::domain::Role::Admin)
        .then(|| access::batches(store, grant, None).map(|v| v.into_iter().map(|b| b.id).collect()))
        .transpose()?;
    Ok(store
        .triage(!all, batch)?
        .into_iter()
        .filter(|i| visible.as_ref().is_none_or(|v| v.contains(&i.batch_id)))
        .collect())
}

/// Resolves one item with an outcome and a note.
#[tracing::instrument(skip_all)]
pub fn resolve(
    store: &dyn Store,
    grant: &Grant,
    kind: TriageKind,
    id: i64,
    outcome: Outcome,
    note: &str,
    actor: &str,
) -> ServiceResult<TriageItem> {
    let note = text::required("note", note, 2000, Lines::Many)?;
    // Only items of batches the caller may see, and the same answer for the rest.
    let missing = || super::not_found(kind.as_str(), id);
    let item = store.triage_item(kind, id)?.ok_or_else(missing)?;
    if grant.role != crate::domain::Role::Admin {
        access::batch(store, grant, item.batch_id).map_err(|_| missing())?;
    }
    Ok(store.resolve_triage(kind, id, outcome, &note, actor)?)
}
