//! The signed stamp code: its format (bytes ⇄ digits ⇄ URL ⇄ QR), the
//! key ring that signs it, offline verification, and reading codes back from
//! photos. Nothing here touches the registry.

pub mod batch;
pub mod claim;
pub mod format;
pub mod keyring;
pub mod list;
pub mod photo;
pub mod verify;

pub use format::{CodeError, Kid, Segment, StampCode, StampForm};
pub use keyring::{KeyError, KeyRing, KeySet, KeyStatus, Signer};
pub use verify::{CodeCheck, CodeVerdict, Verifier};
