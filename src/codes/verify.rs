//! Offline verification of a stamp code against a public key set.
//!
//! This answers only what the code itself can prove: is it well formed, is
//! its key known and trusted, does the signature hold. What the registry
//! knows (recalls, voids, scan history) is layered on top by the scan service.

use serde::Serialize;

use super::format::{CodeError, Kid, StampCode, signed_message};
use ed25519_dalek::VerifyingKey;

use super::keyring::{KeySet, KeyStatus};

/// What the code alone says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CodeVerdict {
    /// The signature is valid under a trusted key.
    Genuine,
    /// A key with this code's kid exists but the signature does not verify.
    Forged,
    /// No key in the set matches the code's kid.
    UnknownKey,
    /// The signature is valid, but under a key that was revoked as compromised.
    RevokedKey,
    /// Not a stamp code at all.
    Malformed,
}

impl CodeVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Genuine => "genuine",
            Self::Forged => "forged",
            Self::UnknownKey => "unknown-key",
            Self::RevokedKey => "revoked-key",
            Self::Malformed => "malformed",
        }
    }
}

/// The result of checking one code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeCheck {
    pub verdict: CodeVerdict,
    /// The parsed code, unless malformed.
    pub code: Option<StampCode>,
    /// The full kid of the key whose signature held (genuine or revoked-key).
    pub kid: Option<Kid>,
    /// Why the code is malformed.
    pub problem: Option<CodeError>,
}

impl CodeCheck {
    /// The check of a text that is not a stamp code.
    pub fn malformed(problem: CodeError) -> CodeCheck {
        CodeCheck {
            verdict: CodeVerdict::Malformed,
            code: None,
            kid: None,
            problem: Some(problem),
        }
    }
}

/// Verifies codes against a key set whose keys were decoded once up front
/// (decoding an Ed25519 point costs about as much as a hash; do it once,
/// not per code).
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: Vec<(Kid, VerifyingKey, KeyStatus)>,
}

impl Verifier {
    pub fn new(set: &KeySet) -> Verifier {
        Verifier {
            keys: set.decoded().collect(),
        }
    }

    /// Checks a scanned text (URL or bare code).
    pub fn check(&self, text: &str) -> CodeCheck {
        match StampCode::parse(text) {
            Ok(code) => self.check_code(&code),
            Err(e) => CodeCheck {
                verdict: CodeVerdict::Malformed,
                code: None,
                kid: None,
                problem: Some(e),
            },
        }
    }

    /// Checks a parsed code. Every key whose kid starts with the code's
    /// 2-byte hint is tried (hints can collide, as in EU DCC's kid rule).
    pub fn check_code(&self, code: &StampCode) -> CodeCheck {
        let signature = ed25519_dalek::Signature::from_bytes(&code.signature);
        let mut any_candidate = false;
        for (kid, vk, status) in self
            .keys
            .iter()
            .filter(|(kid, _, _)| kid.hint() == code.kid_hint)
        {
            any_candidate = true;
            let message = signed_message(kid, code.serial, code.batch);
            if vk.verify_strict(&message, &signature).is_ok() {
                let verdict = if *status == KeyStatus::Revoked {
                    CodeVerdict::RevokedKey
                } else {
                    CodeVerdict::Genuine
                };
                return CodeCheck {
                    verdict,
                    code: Some(*code),
                    kid: Some(*kid),
                    problem: None,
                };
            }
        }
        let verdict = if any_candidate {
            CodeVerdict::Forged
        } else {
            CodeVerdict::UnknownKey
        };
        CodeCheck {
            verdict,
            code: Some(*code),
            kid: None,
            problem: None,
        }
    }
}
