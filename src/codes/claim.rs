//! Claim codes: the secret under a stamp's scratch-off panel. A photocopied
//! QR carries a genuine signature; the claim code is what only the buyer of
//! the pack sees, so the first right code claims the stamp and every copy
//! scanned afterwards is caught for certain.
//!
//! A claim code is derived, not stored: HMAC-SHA-256 under the claim key
//! (`claim.key` in the key directory, beside the signing keys, mode 0600)
//! of the stamp's serial and batch, cut to 13 decimal digits (43 bits) and
//! followed by a Damm check digit, which catches every single mistyped digit
//! and every swap of two neighbours. The database holds no code and no hash
//! of one: a copy of it reveals nothing. Sheets printed at any time
//! recompute the codes; a claim recomputes the stamp's code and compares in
//! constant time.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::keyring::KeyError;
use crate::domain::{BatchId, Serial};

/// The claim key's file in the key directory.
pub const CLAIM_KEY_FILE: &str = "claim.key";

/// Random digits in a claim code: 10¹³ ≈ 2⁴³ codes.
pub const CLAIM_DIGITS: usize = 13;

/// What the HMAC is computed over, before the serial and batch: a code for
/// another purpose can never equal a claim code.
const DOMAIN: &[u8] = b"tem-claim/1";

/// The secret claim codes are derived from.
pub struct ClaimKey(Zeroizing<[u8; 32]>);

impl ClaimKey {
    /// The key of the directory `dir`, made (random, mode 0600) if there is
    /// none yet. Call it under the key directory's lock (`KeyRing::lock`).
    pub fn open_or_create(dir: &Path) -> Result<ClaimKey, KeyError> {
        if let Some(key) = Self::open(dir)? {
            return Ok(key);
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::fill(&mut bytes[..]);
        let path = dir.join(CLAIM_KEY_FILE);
        let io = |source| KeyError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(io)?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        let hex = Zeroizing::new(data_encoding::HEXLOWER.encode(&bytes[..]));
        file.write_all(hex.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(ClaimKey(bytes))
    }

    /// The key of the directory `dir`, if it has one. Refuses a key file
    /// other users can read, as for signing keys.
    pub fn open(dir: &Path) -> Result<Option<ClaimKey>, KeyError> {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(CLAIM_KEY_FILE);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(KeyError::Io { path, source }),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions { path, mode });
        }
        let text = Zeroizing::new(fs::read_to_string(&path).map_err(|source| KeyError::Io {
            path: path.clone(),
            source,
        })?);
        let mut bytes = Zeroizing::new([0u8; 32]);
        match data_encoding::HEXLOWER.decode(text.trim().as_bytes()) {
            Ok(decoded) if decoded.len() == 32 => {
                let decoded = Zeroizing::new(decoded);
                bytes.copy_from_slice(&decoded);
            }
            _ => return Err(KeyError::BadPrivateKey(path)),
        }
        Ok(Some(ClaimKey(bytes)))
    }

    /// A key from its bytes (tests, benchmarks).
    pub fn from_bytes(bytes: [u8; 32]) -> ClaimKey {
        ClaimKey(Zeroizing::new(bytes))
    }

    /// The claim code of stamp `serial` in `batch`.
    pub fn code(&self, serial: Serial, batch: BatchId) -> ClaimCode {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0[..])
            .expect("HMAC takes a key of any length");
        mac.update(DOMAIN);
        mac.update(&serial.0.to_be_bytes());
        mac.update(&batch.0.to_be_bytes());
        let tag = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&tag[..8]);
        // 2⁶⁴ mod 10¹³ is tiny next to 2⁶⁴: the digits are uniform to
        // within one part in two million.
        let number = u64::from_be_bytes(first) % 10u64.pow(CLAIM_DIGITS as u32);
        let mut digits = format!("{number:0width$}", width = CLAIM_DIGITS);
        digits.push(char::from(b'0' + damm(digits.as_bytes())));
        ClaimCode(digits)
    }

    /// Whether `typed` is the claim code of stamp `serial` in `batch`
    /// (spaces and dashes ignored; compared in constant time).
    pub fn accepts(&self, serial: Serial, batch: BatchId, typed: &str) -> bool {
        let Some(typed) = ClaimCode::parse(typed) else {
            return false;
        };
        let expected = self.code(serial, batch);
        expected.0.as_bytes().ct_eq(typed.0.as_bytes()).into()
    }
}

/// A claim code: 13 digits and a check digit.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimCode(String);

impl ClaimCode {
    /// A code as a buyer typed it: digits, with any spaces or dashes; None
    /// unless it has the right length and its check digit holds.
    pub fn parse(typed: &str) -> Option<ClaimCode> {
        let digits: String = typed
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '\u{a0}'))
            .collect();
        if digits.len() != CLAIM_DIGITS + 1 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        (damm(digits.as_bytes()) == 0).then_some(ClaimCode(digits))
    }

    /// The digits, as stored nowhere and printed under the panel.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// In groups of four, as printed: "1234 5678 9012 34".
    pub fn grouped(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|g| std::str::from_utf8(g).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl std::fmt::Debug for ClaimCode {
    /// Never printed in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClaimCode(…)")
    }
}

/// The Damm algorithm's check over ASCII digits: appending it makes the
/// whole come out 0.
fn damm(digits: &[u8]) -> u8 {
    const TABLE: [[u8; 10]; 10] = [
        [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
        [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
        [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
        [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
        [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
        [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
        [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
        [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
        [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
        [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
    ];
    digits.iter().fold(0u8, |interim, d| {
        TABLE[interim as usize][(d - b'0') as usize]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ClaimKey {
        ClaimKey::from_bytes([42; 32])
    }

    #[test]
    fn a_stamp_has_one_code_that_its_key_accepts() {
        let code = key().code(Serial(7), BatchId(3));
        assert_eq!(code.as_str().len(), CLAIM_DIGITS + 1);
        assert_eq!(
            code,
            key().code(Serial(7), BatchId(3)),
            "derived, not drawn"
        );
        assert!(key().accepts(Serial(7), BatchId(3), &code.grouped()));
        assert!(key().accepts(Serial(7), BatchId(3), code.as_str()));
        // Another stamp, batch or key: another code.
        assert_ne!(code, key().code(Serial(8), BatchId(3)));
        assert_ne!(code, key().code(Serial(7), BatchId(4)));
        assert_ne!(
            code,
            ClaimKey::from_bytes([43; 32]).code(Serial(7), BatchId(3))
        );
        assert!(!ClaimKey::from_bytes([43; 32]).accepts(Serial(7), BatchId(3), code.as_str()));
    }

    #[test]
    fn every_single_typo_and_neighbour_swap_is_caught_by_the_check_digit() {
        let code = key().code(Serial(123_456), BatchId(9));
        let digits = code.as_str().as_bytes().to_vec();
        for i in 0..digits.len() {
            for d in b'0'..=b'9' {
                if d == digits[i] {
                    continue;
                }
                let mut typo = digits.clone();
                typo[i] = d;
                let typo = String::from_utf8(typo).unwrap();
                assert!(ClaimCode::parse(&typo).is_none(), "{typo}");
            }
            if i + 1 < digits.len() && digits[i] != digits[i + 1] {
                let mut swapped = digits.clone();
                swapped.swap(i, i + 1);
                assert!(ClaimCode::parse(std::str::from_utf8(&swapped).unwrap()).is_none());
            }
        }
        assert!(ClaimCode::parse("").is_none());
        assert!(ClaimCode::parse("12345678901234567890").is_none());
        assert!(ClaimCode::parse("abcd efgh ijkl mn").is_none());
    }

    #[test]
    fn the_key_file_is_made_once_for_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        assert!(ClaimKey::open(dir.path()).unwrap().is_none());
        let made = ClaimKey::open_or_create(dir.path()).unwrap();
        let again = ClaimKey::open_or_create(dir.path()).unwrap();
        assert_eq!(
            made.code(Serial(1), BatchId(1)),
            again.code(Serial(1), BatchId(1)),
            "the same key is read back"
        );
        let path = dir.path().join(CLAIM_KEY_FILE);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            ClaimKey::open(dir.path()),
            Err(KeyError::Permissions { .. })
        ));
    }

    #[test]
    fn codes_never_reach_a_log() {
        let code = key().code(Serial(1), BatchId(1));
        assert!(!format!("{code:?}").contains(code.as_str()));
    }
}
