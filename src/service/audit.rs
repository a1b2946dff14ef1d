//! Signing tree heads of the audit log and checking the log against them.

use ed25519_dalek::Signature;

use super::ServiceResult;
use crate::audit::{Entry, HEAD_DOMAIN, TreeHead, merkle};
use crate::codes::{KeySet, Signer};
use crate::store::Store;

/// Signs the head of the log as it is now and stores it.
pub fn sign_head(store: &dyn Store, signer: &Signer) -> ServiceResult<TreeHead> {
    let leaves: Vec<merkle::Hash> = store
        .audit_entries(1, u64::MAX)?
        .iter()
        .map(|(e, _)| e.leaf())
        .collect();
    let root = data_encoding::HEXLOWER.encode(&merkle::root(&leaves));
    let at = jiff::Timestamp::now().to_string();
    let size = leaves.len() as u64;
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
    pub entries: u64,
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

/// Recomputes every entry's hash and the tree at every signed head: an
/// entry edited, deleted, inserted or moved changes a head or breaks the
/// numbering, and a head not signed by a known key is refused.
pub fn verify(store: &dyn Store, keys: &KeySet) -> ServiceResult<Verification> {
    Ok(check(
        &store.audit_entries(1, u64::MAX)?,
        &store.audit_heads()?,
        keys,
    ))
}

/// The checks of `verify` on entries and heads from anywhere (a database,
/// or a remote service's API, where the stored hash is the recomputed one).
pub fn check(stored: &[(Entry, Vec<u8>)], heads: &[TreeHead], keys: &KeySet) -> Verification {
    let mut findings = Vec::new();
    let leaves: Vec<merkle::Hash> = stored.iter().map(|(e, _)| e.leaf()).collect();
    for (i, ((e, stored_leaf), leaf)) in stored.iter().zip(&leaves).enumerate() {
        let expected = i as u64 + 1;
        if e.seq != expected {
            findings.push(format!(
                "entry numbers jump from {} to {} (entries deleted or inserted)",
                expected - 1,
                e.seq
            ));
            break;
        }
        if leaf[..] != stored_leaf[..] {
            findings.push(format!(
                "entry {} does not match its stored hash (edited)",
                e.seq
            ));
        }
    }
    for h in heads {
        if !head_signature_ok(h, keys) {
            findings.push(format!(
                "the tree head of size {} is not signed by a known key",
                h.size
            ));
            continue;
        }
        if h.size as usize > leaves.len() {
            findings.push(format!(
                "a signed head covers {} entries but the log holds {} (entries deleted)",
                h.size,
                leaves.len()
            ));
            continue;
        }
        let root = data_encoding::HEXLOWER.encode(&merkle::root(&leaves[..h.size as usize]));
        if root != h.root {
            findings.push(format!(
                "the first {} entries no longer give the signed head of {} (entries edited, deleted, inserted or reordered)",
                h.size, h.at
            ));
        }
    }
    let signed = heads.iter().map(|h| h.size).max().unwrap_or(0);
    Verification {
        entries: leaves.len() as u64,
        heads_checked: heads.len(),
        unsigned_tail: (leaves.len() as u64).saturating_sub(signed),
        findings,
    }
}
