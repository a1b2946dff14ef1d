//! The tamper-evident audit log, built on an RFC 6962 Merkle tree: the
//! entry and signed tree head types here, the tree and its proofs in
//! `merkle`, signing and checking in `service::audit` (docs/audit-log.md).

pub mod merkle;
pub mod tiles;

use serde::Serialize;

/// One audit entry as stored and as hashed into the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Entry {
    /// Its place in the log, from 1.
    pub seq: u64,
    /// When it was written (RFC 3339, UTC).
    pub at: String,
    /// Who did it ("token 3 (producer)", "cli:lan", "admin token").
    pub actor: String,
    /// What was done ("batch.create", "stamps.issue", "keys.rotate"…).
    pub action: String,
    /// What it was done to ("batch:8", "key:ab12…").
    pub object: String,
    /// The object before the change, where there was one (null otherwise).
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The object after the change (null when it was removed or nothing
    /// was stored).
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl Entry {
    /// The bytes the leaf hash covers: the entry as JSON, fields in this
    /// fixed order (documented in docs/audit-log.md).
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The entry's leaf hash in the Merkle tree (RFC 6962: `SHA-256(0x00 ‖ canonical JSON)`).
    pub fn leaf(&self) -> merkle::Hash {
        merkle::leaf_hash(&self.canonical())
    }
}

/// A signed tree head: the log had `size` entries with head `root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TreeHead {
    /// How many entries the tree covers.
    pub size: u64,
    /// Hex SHA-256.
    pub root: String,
    /// When the head was signed (RFC 3339, UTC).
    pub at: String,
    /// The key that signed it.
    pub kid: String,
    /// Base64url Ed25519 signature of `signed_bytes`.
    pub signature: String,
}

/// Domain of tree-head signatures.
pub const HEAD_DOMAIN: &[u8] = b"tem audit tree head v1";

impl TreeHead {
    /// What the signature covers: "size\nroot\nat".
    pub fn signed_bytes(size: u64, root_hex: &str, at: &str) -> Vec<u8> {
        format!("{size}\n{root_hex}\n{at}").into_bytes()
    }
}
