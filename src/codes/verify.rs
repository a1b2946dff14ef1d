//! Offline verification of a stamp code against a public key set.
//!
//! This answers only what the code itself can prove: is it well formed, is
//! its key known and trusted, does the signature hold. What the registry
//! knows (recalls, voids, scan history) is layered on top by the scan service.

use serde::Serialize;

use super::format::{CodeError, Kid, StampCode, signed_message};
use ed25519_dalek::VerifyingKey;

use super::batch::{Checked, Claim, Keys as BatchKeys, verify_claims};
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
    /// The same answer among the scan page's verdicts.
    pub fn as_verdict(self) -> crate::domain::scan::Verdict {
        use crate::domain::scan::Verdict;
        match self {
            Self::Genuine => Verdict::Genuine,
            Self::Forged => Verdict::Forged,
            Self::UnknownKey => Verdict::UnknownKey,
            Self::RevokedKey => Verdict::RevokedKey,
            Self::Malformed => Verdict::Malformed,
        }
    }

    /// The verdict's name (kebab-case).
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
    /// The answer.
    pub verdict: CodeVerdict,
    /// The parsed code, unless malformed.
    pub code: Option<StampCode>,
    /// The full kid of the key whose signature held (genuine or revoked-key).
    pub kid: Option<Kid>,
    /// Why the code is malformed.
    pub problem: Option<CodeError>,
    /// For a signature under a revoked key: when that key stopped signing.
    /// Stamps tem issued before then are still vouched for by the registry.
    pub key_until: Option<jiff::Timestamp>,
}

impl CodeCheck {
    /// What the signature check found, as the scan judge takes it.
    pub fn signature(&self) -> crate::domain::scan::Signature {
        use crate::domain::scan::Signature;
        match self.verdict {
            CodeVerdict::Malformed => Signature::Malformed,
            CodeVerdict::Forged => Signature::Forged,
            CodeVerdict::UnknownKey => Signature::UnknownKey,
            CodeVerdict::Genuine => Signature::Holds,
            CodeVerdict::RevokedKey => Signature::HoldsRevoked {
                until: self.key_until,
            },
        }
    }

    /// The check of a text that is not a stamp code.
    pub fn malformed(problem: CodeError) -> CodeCheck {
        CodeCheck {
            verdict: CodeVerdict::Malformed,
            code: None,
            kid: None,
            problem: Some(problem),
            key_until: None,
        }
    }

    /// The check of a code whose signature held under `key` (genuine, or
    /// revoked-key when the key is revoked).
    fn held(code: &StampCode, key: &KnownKey) -> CodeCheck {
        let revoked = key.status == KeyStatus::Revoked;
        CodeCheck {
            verdict: if revoked {
                CodeVerdict::RevokedKey
            } else {
                CodeVerdict::Genuine
            },
            code: Some(*code),
            kid: Some(key.kid),
            problem: None,
            key_until: revoked.then_some(key.until).flatten(),
        }
    }

    /// The check of a code whose signature failed (`forged`), or whose key
    /// hint matches no key (`unknown-key`).
    fn failed(code: &StampCode, any_candidate: bool) -> CodeCheck {
        CodeCheck {
            verdict: if any_candidate {
                CodeVerdict::Forged
            } else {
                CodeVerdict::UnknownKey
            },
            code: Some(*code),
            kid: None,
            problem: None,
            key_until: None,
        }
    }
}

/// A key of the set, decoded once.
#[derive(Debug, Clone)]
struct KnownKey {
    kid: Kid,
    key: VerifyingKey,
    status: KeyStatus,
    /// When the key stopped signing (rotation or revocation), if it did.
    until: Option<jiff::Timestamp>,
}

/// Verifies codes against a key set whose keys were decoded once up front
/// (decoding an Ed25519 point costs about as much as a hash; do it once,
/// not per code).
#[derive(Debug)]
pub struct Verifier {
    keys: Vec<KnownKey>,
    /// The same keys, in the same order, for batch equations.
    batch: BatchKeys,
}

impl Verifier {
    /// A verifier for the keys of `set` (each decoded once).
    pub fn new(set: &KeySet) -> Verifier {
        let until: std::collections::HashMap<String, Option<jiff::Timestamp>> = set
            .keys
            .iter()
            .map(|k| (k.kid.clone(), k.valid_until.or(k.revoked_at)))
            .collect();
        let keys: Vec<KnownKey> = set
            .decoded()
            .map(|(kid, key, status)| KnownKey {
                kid,
                key,
                status,
                until: until.get(&kid.to_string()).copied().flatten(),
            })
            .collect();
        Verifier {
            batch: BatchKeys::new(keys.iter().map(|k| k.key).collect()),
            keys,
        }
    }

    /// Checks a scanned text (URL or bare code).
    pub fn check(&self, text: &str) -> CodeCheck {
        match StampCode::parse(text) {
            Ok(code) => self.check_code(&code),
            Err(e) => CodeCheck::malformed(e),
        }
    }

    fn candidates(&self, code: &StampCode) -> impl Iterator<Item = (usize, &KnownKey)> {
        self.keys
            .iter()
            .enumerate()
            .filter(move |(_, k)| k.kid.hint() == code.kid_hint)
    }

    /// Checks a parsed code. Every key whose kid starts with the code's
    /// 2-byte hint is tried (hints can collide, as in EU DCC's kid rule).
    pub fn check_code(&self, code: &StampCode) -> CodeCheck {
        let signature = ed25519_dalek::Signature::from_bytes(&code.signature);
        let mut any_candidate = false;
        for (_, key) in self.candidates(code) {
            any_candidate = true;
            let message = signed_message(&key.kid, code.serial, code.batch);
            if key.key.verify_strict(&message, &signature).is_ok() {
                return CodeCheck::held(code, key);
            }
        }
        CodeCheck::failed(code, any_candidate)
    }

    /// Checks many codes at once, with the same verdicts as `check_code`:
    /// codes whose hint names one key share batch equations (`chunk` per
    /// first equation, see `batch::verify_claims`); the rare code whose hint
    /// matches several keys is checked on its own against each.
    pub fn check_codes(&self, codes: &[StampCode], chunk: usize) -> (Vec<CodeCheck>, Checked) {
        let mut out: Vec<Option<CodeCheck>> = vec![None; codes.len()];
        let mut claims = Vec::with_capacity(codes.len());
        let mut claimed = Vec::with_capacity(codes.len());
        for (i, code) in codes.iter().enumerate() {
            let mut candidates = self.candidates(code);
            match (candidates.next(), candidates.next()) {
                (None, _) => out[i] = Some(CodeCheck::failed(code, false)),
                (Some((index, key)), None) => {
                    claims.push(Claim {
                        message: signed_message(&key.kid, code.serial, code.batch),
                        signature: ed25519_dalek::Signature::from_bytes(&code.signature),
                        key: index,
                    });
                    claimed.push((i, key));
                }
                (Some(_), Some(_)) => out[i] = Some(self.check_code(code)),
            }
        }
        let checked = verify_claims(&self.batch, &claims, chunk);
        for ((i, key), ok) in claimed.into_iter().zip(&checked.ok) {
            out[i] = Some(if *ok {
                CodeCheck::held(&codes[i], key)
            } else {
                CodeCheck::failed(&codes[i], true)
            });
        }
        (out.into_iter().flatten().collect(), checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Signer;
    use crate::codes::keyring::PublicKeyEntry;
    use crate::domain::{BatchId, Serial};

    #[test]
    fn many_codes_get_the_verdicts_of_one_by_one_checks() {
        let good = Signer::from_secret([1; 32]);
        let revoked = Signer::from_secret([2; 32]);
        let stranger = Signer::from_secret([3; 32]);
        let mut gone = PublicKeyEntry::new(revoked.public_key(), KeyStatus::Revoked);
        gone.valid_until = Some(jiff::Timestamp::from_second(1_700_000_000).unwrap());
        let set = KeySet::new(vec![
            PublicKeyEntry::new(good.public_key(), KeyStatus::Active),
            gone,
        ]);
        let v = Verifier::new(&set);
        let mut codes: Vec<StampCode> = (0..40)
            .map(|i| good.sign(Serial(1000 + i), BatchId(3)))
            .collect();
        codes[5].signature[9] ^= 4;
        codes[6] = revoked.sign(Serial(7), BatchId(3));
        codes[7] = stranger.sign(Serial(8), BatchId(3));
        codes[8].batch = BatchId(4);
        for chunk in [1, 4, 64] {
            let (checks, _) = v.check_codes(&codes, chunk);
            let single: Vec<CodeCheck> = codes.iter().map(|c| v.check_code(c)).collect();
            assert_eq!(checks, single, "chunk {chunk}");
        }
        let (checks, _) = v.check_codes(&codes, 64);
        let verdicts: Vec<&str> = checks.iter().map(|c| c.verdict.as_str()).collect();
        assert_eq!(
            verdicts[4..9],
            ["genuine", "forged", "revoked-key", "unknown-key", "forged"]
        );
        assert_eq!(
            checks[6].key_until.map(|t| t.as_second()),
            Some(1_700_000_000)
        );
        assert_eq!(checks[4].kid, Some(good.kid()));
        assert!(checks[4].key_until.is_none());
    }
}
