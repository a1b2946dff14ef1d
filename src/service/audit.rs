//! Signing tree heads of the audit log and checking the log against them.

use ed25519_dalek::Signature;

use super::ServiceResult;
use crate::audit::{Entry, HEAD_DOMAIN, TreeHead, merkle};
use crate::codes::{KeySet, Signer};
use crate::store::Store;

/// Signs the head of the log as it is now and stores it.
/// A log that did not grow since its last head gets that head back.
#[tracing::instrument(skip_all)]
pub fn sign_head(store: &dyn Store, signer: &Signer) -> ServiceResult<TreeHead> {
    let size = store.audit_size()?;
    if let Some(head) = store.audit_heads()?.into_iter().find(|h| h.size == size) {
        return Ok(head);
    }
    let root = data_encoding::HEXLOWER.encode(&merkle::range_hash(&mut { store }, 0, size)?);
    let at = jiff::Timestamp::now().to_string();
    let signature = signer.sign_document(HEAD_DOMAIN, &TreeHead::signed_bytes(size, &root, &at));
    let head = TreeHead {
        size,
        root,
        at,
        kid: signer.kid().to_string(),
        signature: data_encoding::BASE64URL_NOPAD.encode(&signature),
    };
    store.add_audit_head(&head)?;
    Ok(head)
}

/// What `verify` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verification {
    /// Entries checked.
    pub entries: u64,
    /// Signed tree heads checked.
    pub heads_checked: usize,
    /// Entries after the last signed head (not yet covered by a signature).
    pub unsigned_tail: u64,
    /// Everything wrong; empty means the log is intact.
    pub findings: Vec<String>,
}

/// Whether a head's signature holds under a key of `keys`.
pub fn head_signature_ok(head: &TreeHead, keys: &KeySet) -> bool {
    let Ok(sig) = data_encoding::BASE64URL_NOPAD.decode(head.signature.as_bytes()) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(&sig) else {
        return false;
    };
    let mut message = HEAD_DOMAIN.to_vec();
    message.push(0);
    message.extend_from_slice(&TreeHead::signed_bytes(head.size, &head.root, &head.at));
    keys.decoded().any(|(kid, key, _)| {
        kid.to_string() == head.kid && key.verify_strict(&message, &sig).is_ok()
    })
}

/// Entries read from the database per query while verifying.
const PAGE: u64 = 10_000;

/// Recomputes every entry's hash and the tree at every signed head: an
/// entry edited, deleted, inserted or moved changes a head or breaks the
/// numbering, and a head not signed by a known key is refused. Reads the
/// log page by page, in one pass.
/// `kept`: heads the checker saved earlier, checked like the stored ones
/// (a log that dropped or rewrote them fails).
#[tracing::instrument(skip_all)]
pub fn verify(
    store: &dyn Store,
    keys: &KeySet,
    kept: Vec<TreeHead>,
) -> ServiceResult<Verification> {
    let mut heads = store.audit_heads()?;
    heads.extend(kept);
    let mut checker = Checker::new(heads, keys);
    let mut from = 1;
    loop {
        let page = store.audit_entries(from, PAGE)?;
        for (entry, stored_leaf) in &page {
            checker.push(entry, stored_leaf);
        }
        if (page.len() as u64) < PAGE {
            break;
        }
        from += PAGE;
    }
    Ok(checker.finish())
}

/// The log checked as it streams by: each entry's number and hash, and
/// each signed head compared with the tree when the log reaches its size.
pub struct Checker {
    frontier: merkle::Frontier,
    /// Heads with a good signature, by size, not yet reached.
    pending: std::collections::BTreeMap<u64, Vec<TreeHead>>,
    heads_checked: usize,
    signed: u64,
    numbering_broken: bool,
    findings: Vec<String>,
}

impl Checker {
    /// A checker against the kept `heads`, whose signatures `keys` check.
    pub fn new(heads: Vec<TreeHead>, keys: &KeySet) -> Checker {
        let mut findings = Vec::new();
        let mut pending: std::collections::BTreeMap<u64, Vec<TreeHead>> = Default::default();
        let heads_checked = heads.len();
        let signed = heads.iter().map(|h| h.size).max().unwrap_or(0);
        for h in heads {
            if head_signature_ok(&h, keys) {
                pending.entry(h.size).or_default().push(h);
            } else {
                findings.push(format!(
                    "the tree head of size {} is not signed by a known key",
                    h.size
                ));
            }
        }
        let mut checker = Checker {
            frontier: merkle::Frontier::default(),
            pending,
            heads_checked,
            signed,
            numbering_broken: false,
            findings,
        };
        checker.compare_heads();
        checker
    }

    /// Checks the next entry and the leaf hash stored for it.
    pub fn push(&mut self, entry: &Entry, stored_leaf: &[u8]) {
        let expected = self.frontier.size() + 1;
        if entry.seq != expected && !self.numbering_broken {
            // Reported once; the entries are still hashed as they stand.
            self.findings.push(format!(
                "entry numbers jump from {} to {} (entries deleted or inserted)",
                expected - 1,
                entry.seq
            ));
            self.numbering_broken = true;
        }
        let leaf = entry.leaf();
        if leaf[..] != stored_leaf[..] {
            self.findings.push(format!(
                "entry {} does not match its stored hash (edited)",
                entry.seq
            ));
        }
        self.frontier.push(leaf);
        self.compare_heads();
    }

    /// Checks the heads whose size the log has just reached.
    fn compare_heads(&mut self) {
        let size = self.frontier.size();
        if let Some(heads) = self.pending.remove(&size) {
            let root = data_encoding::HEXLOWER.encode(&self.frontier.root());
            for h in heads.iter().filter(|h| h.root != root) {
                self.findings.push(format!(
                    "the first {} entries no longer give the signed head of {} (entries edited, deleted, inserted or reordered)",
                    h.size, h.at
                ));
            }
        }
    }

    /// What the check found.
    pub fn finish(mut self) -> Verification {
        let entries = self.frontier.size();
        for (size, _) in std::mem::take(&mut self.pending) {
            self.findings.push(format!(
                "a signed head covers {size} entries but the log holds {entries} (entries deleted)"
            ));
        }
        Verification {
            entries,
            heads_checked: self.heads_checked,
            unsigned_tail: entries.saturating_sub(self.signed),
            findings: self.findings,
        }
    }
}

/// Signs the audit log's tree head every `every` while entries were added,
/// with the active key, so entries are covered by a signature within that
/// time; a missing key is logged and tried again next time.
pub fn spawn_head_signer(ctx: super::Context, every: std::time::Duration) {
    let sign = move || -> Result<Option<u64>, super::ServiceError> {
        let store = ctx.store();
        let signed = store
            .audit_heads()?
            .iter()
            .map(|h| h.size)
            .max()
            .unwrap_or(0);
        if store.audit_entries(signed + 1, 1)?.is_empty() {
            return Ok(None);
        }
        let signer = ctx.keys()?.signer()?;
        Ok(Some(sign_head(store, &signer)?.size))
    };
    let spawned = std::thread::Builder::new()
        .name("tem-audit-heads".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                match sign() {
                    Ok(Some(size)) => tracing::info!(size, "audit tree head signed"),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot sign the audit tree head"),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the audit head signer");
    }
}
