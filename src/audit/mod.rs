//! The tamper-evident audit log (issue 6), built on an RFC 6962 Merkle tree.
//! So far: the tree and its proofs (`merkle`); the log's entries, signed tree
//! heads and `tem audit verify` come next.

pub mod merkle;
