//! The tamper-evident audit log, built on an RFC 6962 Merkle tree: the
//! entry and signed tree head types here, the tree and its proofs in
//! `merkle`, signing and checking in `service::audit` (docs/audit-log.md).

pub mod merkle;

use serde::Serialize;

/// One audit entry as stored and as hashed into the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Entry {
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    #[schema(value_type = Object)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Object)]
    pub after: Option<serde_json::Value>,
}

impl Entry {
    /// The bytes the leaf hash covers: the entry as JSON, fields in this
    /// fixed order (documented in docs/audit-log.md).
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn leaf(&self) -> merkle::Hash {
        merkle::leaf_hash(&self.canonical())
    }
}

/// A signed tree head: the log had `size` entries with head `root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TreeHead {
    pub size: u64,
    /// Hex SHA-256.
    pub root: String,
    pub at: String,
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
