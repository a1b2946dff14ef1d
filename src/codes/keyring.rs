//! Signing keys on disk and the public key set.
//!
//! `keys/` holds one PKCS#8 PEM file per private key (`<kid>.pem`, mode
//! 0600) and `keyring.json` with the public half and the status of every key.
//! Exactly one key is active (signs new stamps); rotated keys become
//! verify-only, so stamps already printed stay genuine; a revoked key is
//! compromised: its private key file leaves `keys/` for `keys/revoked/`,
//! which nothing in tem reads. Private keys never leave this module except
//! as a `Signer`, whose `Debug` shows only the kid; their bytes are zeroed
//! when dropped (the PEM text too).
//!
//! Changes take `KeyRing::lock` (an exclusive lock on `keys/.lock`), so a
//! rotation from the dashboard and a revocation from the command line run
//! one after the other and neither is lost; `keyring.json` is replaced
//! atomically (a unique temporary file, fsync, rename, fsync of the folder).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::format::{Kid, StampCode, signed_message};
use crate::domain::{BatchId, Serial};

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The directory holds no key.
    #[error("no signing keys in {0}: run `tem keys generate` first")]
    NoKeys(PathBuf),
    /// No key is active for signing.
    #[error("no active signing key in {0}: run `tem keys rotate` to make one")]
    NoActiveKey(PathBuf),
    /// A key is active already (retire it first).
    #[error("an active key ({0}) already exists: use `tem keys rotate` to replace it")]
    ActiveKeyExists(Kid),
    /// No key has this id.
    #[error("no key with id {0:?}")]
    UnknownKid(String),
    /// The key was revoked before.
    #[error("key {0} is already revoked")]
    AlreadyRevoked(Kid),
    #[error(
        "private key file {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    /// A private key file other users can read.
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The private key file is not a key.
    #[error("private key file {0} is not a valid Ed25519 PKCS#8 PEM key")]
    BadPrivateKey(PathBuf),
    #[error("private key file {path} does not match the public key recorded for {kid}")]
    /// A private key that is not the one recorded for its id.
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The id it was recorded under.
        kid: Kid,
    },
    #[error("key set {path}: {reason}")]
    /// A key set file that is not one.
    BadKeySet {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing a key file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a key stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStatus {
    /// Signs new stamps. Exactly one key at a time.
    Active,
    /// Retired by rotation: no longer signs, still verifies.
    VerifyOnly,
    /// Compromised: stamps under it are not trusted by signature alone.
    Revoked,
}

/// One key in the published key set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicKeyEntry {
    /// Its id (hex).
    pub kid: String,
    /// Always "Ed25519".
    pub alg: String,
    /// The raw 32-byte public key, base64url without padding.
    pub public_key: String,
    /// Active, retired or revoked.
    pub status: KeyStatus,
    /// Since when it signs.
    #[schema(value_type = String, format = DateTime)]
    pub valid_from: jiff::Timestamp,
    /// When the key stopped signing (rotation or revocation).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_until: Option<jiff::Timestamp>,
    /// When it was revoked, if it was.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<jiff::Timestamp>,
    /// Why it was revoked.
    pub revocation_reason: Option<String>,
}

/// The public key set: what `/.well-known/tem-keys.json` and `tem keys
/// export` publish, and all an offline verifier needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeySet {
    /// Always "tem-keys/1".
    pub format: String,
    /// Every key, active, retired or revoked.
    pub keys: Vec<PublicKeyEntry>,
}

/// The `format` field of a key set file.
pub const KEY_SET_FORMAT: &str = "tem-keys/1";

impl PublicKeyEntry {
    /// An entry for a public key, valid from now.
    pub fn new(public_key: [u8; 32], status: KeyStatus) -> PublicKeyEntry {
        let now = now_seconds();
        PublicKeyEntry {
            kid: Kid::of(&public_key).to_string(),
            alg: "Ed25519".to_string(),
            public_key: data_encoding::BASE64URL_NOPAD.encode(&public_key),
            status,
            valid_from: now,
            valid_until: (status != KeyStatus::Active).then_some(now),
            revoked_at: (status == KeyStatus::Revoked).then_some(now),
            revocation_reason: None,
        }
    }
}

impl KeySet {
    /// A key set of these keys.
    pub fn new(keys: Vec<PublicKeyEntry>) -> KeySet {
        KeySet {
            format: KEY_SET_FORMAT.to_string(),
            keys,
        }
    }
}
const KEYRING_FILE: &str = "keyring.json";

impl KeySet {
    /// Reads a published key set from a file.
    pub fn read(path: &Path) -> Result<KeySet, KeyError> {
        let text = fs::read_to_string(path).map_err(io_err(path))?;
        let set: KeySet = serde_json::from_str(&text).map_err(|e| KeyError::BadKeySet {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if set.format != KEY_SET_FORMAT {
            return Err(KeyError::BadKeySet {
                path: path.to_path_buf(),
                reason: format!(
                    "unknown format {:?} (expected {KEY_SET_FORMAT:?})",
                    set.format
                ),
            });
        }
        for k in &set.keys {
            decode_public(k).map_err(|reason| KeyError::BadKeySet {
                path: path.to_path_buf(),
                reason,
            })?;
        }
        Ok(set)
    }

    /// Loads whatever `--keys` names: a key directory or a published key-set file.
    pub fn load(path: &Path) -> Result<KeySet, KeyError> {
        if !path.exists() {
            return Err(KeyError::BadKeySet {
                path: path.to_path_buf(),
                reason:
                    "no such key directory or key-set file (create keys with `tem keys generate`, \
                         or pass --keys with a file from `tem keys export`)"
                        .into(),
            });
        }
        if path.is_dir() {
            Ok(KeyRing::open(path)?.key_set())
        } else {
            KeySet::read(path)
        }
    }

    /// A short digest of the keys themselves (each kid and public key, not
    /// their status): what `tem keys list` prints for an inspector to
    /// compare before pinning the set in the field kit. A new key changes
    /// it; a revocation does not.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let mut keys: Vec<(Kid, [u8; 32])> = self
            .decoded()
            .map(|(kid, key, _)| (kid, key.to_bytes()))
            .collect();
        keys.sort();
        let mut h = sha2::Sha256::new();
        h.update(b"tem key set v1\0");
        for (kid, key) in keys {
            h.update(kid.0);
            h.update(key);
        }
        let hex = data_encoding::HEXLOWER.encode(&h.finalize()[..16]);
        hex.as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// Every well-formed key with its status (`read` refuses malformed ones).
    pub fn decoded(&self) -> impl Iterator<Item = (Kid, VerifyingKey, KeyStatus)> + '_ {
        self.keys.iter().filter_map(|k| {
            let (kid, vk) = decode_public(k).ok()?;
            Some((kid, vk, k.status))
        })
    }
}

/// Key times are kept to the second: nobody needs nanoseconds in a key set.
fn now_seconds() -> jiff::Timestamp {
    jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn decode_public(k: &PublicKeyEntry) -> Result<(Kid, VerifyingKey), String> {
    let raw = data_encoding::BASE64URL_NOPAD
        .decode(k.public_key.as_bytes())
        .map_err(|_| format!("key {}: public_key is not base64url", k.kid))?;
    let raw: [u8; 32] = raw
        .try_into()
        .map_err(|_| format!("key {}: public_key must be 32 bytes", k.kid))?;
    let vk = VerifyingKey::from_bytes(&raw)
        .map_err(|_| format!("key {}: not an Ed25519 point", k.kid))?;
    let kid = Kid::of(&raw);
    if kid.to_string() != k.kid {
        return Err(format!(
            "key {}: kid does not match its public key (expected {kid})",
            k.kid
        ));
    }
    Ok((kid, vk))
}

/// The key directory: private keys plus `keyring.json`.
#[derive(Debug)]
pub struct KeyRing {
    dir: PathBuf,
    keys: Vec<PublicKeyEntry>,
}

/// The active private key, able to sign stamp codes. Cloning is cheap enough
/// for one clone per signing thread.
#[derive(Clone)]
pub struct Signer {
    kid: Kid,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid.to_string())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The id of the signing key.
    pub fn kid(&self) -> Kid {
        self.kid
    }

    /// Its public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs a stamp: the code for `serial` in `batch`.
    pub fn sign(&self, serial: Serial, batch: BatchId) -> StampCode {
        let message = signed_message(&self.kid, serial, batch);
        StampCode {
            kid_hint: self.kid.hint(),
            serial,
            batch,
            signature: self.key.sign(&message).to_bytes(),
        }
    }

    /// A signer from a fixed 32-byte secret: for test vectors only.
    pub fn from_secret(secret: [u8; 32]) -> Signer {
        let key = SigningKey::from_bytes(&secret);
        Signer {
            kid: Kid::of(&key.verifying_key().to_bytes()),
            key,
        }
    }

    /// Signs a signed note's text (c2sp.org/signed-note: the audit log's
    /// checkpoints), as the spec has it: the text itself, no prefix. The
    /// text must be what a note may hold (UTF-8, no control character but
    /// newline, ending in one), which keeps it apart from everything else
    /// this key signs: stamp messages hold 0x01, documents a 0x00.
    pub fn sign_note(&self, text: &str) -> Option<[u8; 64]> {
        let ok = text.ends_with('\n') && !text.chars().any(|c| c.is_control() && c != '\n');
        ok.then(|| self.key.sign(text.as_bytes()).to_bytes())
    }

    /// Signs arbitrary bytes under a domain prefix (bundles, reports).
    pub fn sign_document(&self, domain: &[u8], body: &[u8]) -> [u8; 64] {
        let mut message = Vec::with_capacity(domain.len() + 1 + body.len());
        message.extend_from_slice(domain);
        message.push(0);
        message.extend_from_slice(body);
        self.key.sign(&message).to_bytes()
    }
}

impl KeyRing {
    /// Opens a key directory; a missing directory or keyring is an empty ring.
    pub fn open(dir: &Path) -> Result<KeyRing, KeyError> {
        let file = dir.join(KEYRING_FILE);
        let keys = match fs::read_to_string(&file) {
            Ok(text) => {
                let set: KeySet = serde_json::from_str(&text).map_err(|e| KeyError::BadKeySet {
                    path: file.clone(),
                    reason: e.to_string(),
                })?;
                set.keys
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(KeyError::Io {
                    path: file,
                    source: e,
                });
            }
        };
        Ok(KeyRing {
            dir: dir.to_path_buf(),
            keys,
        })
    }

    /// The key directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every key with its status (public parts only).
    pub fn entries(&self) -> &[PublicKeyEntry] {
        &self.keys
    }

    /// The public key set verifiers need.
    pub fn key_set(&self) -> KeySet {
        KeySet {
            format: KEY_SET_FORMAT.to_string(),
            keys: self.keys.clone(),
        }
    }

    /// The key that signs now, if any.
    pub fn active(&self) -> Option<&PublicKeyEntry> {
        self.keys.iter().find(|k| k.status == KeyStatus::Active)
    }

    /// Makes the first key. Refuses when an active key exists.
    pub fn generate(&mut self) -> Result<Kid, KeyError> {
        if let Some(active) = self.active() {
            let kid =
                Kid::parse(&active.kid).ok_or_else(|| KeyError::UnknownKid(active.kid.clone()))?;
            return Err(KeyError::ActiveKeyExists(kid));
        }
        self.add_new_active()
    }

    /// Makes a new active key; the old active key becomes verify-only.
    pub fn rotate(&mut self) -> Result<(Kid, Option<String>), KeyError> {
        let now = now_seconds();
        let mut retired = None;
        let snapshot = self.keys.clone();
        for k in &mut self.keys {
            if k.status == KeyStatus::Active {
                k.status = KeyStatus::VerifyOnly;
                k.valid_until = Some(now);
                retired = Some(k.kid.clone());
            }
        }
        match self.add_new_active() {
            Ok(kid) => Ok((kid, retired)),
            Err(e) => {
                self.keys = snapshot;
                Err(e)
            }
        }
    }

    /// Marks a key compromised. Its private key is never used again.
    pub fn revoke(&mut self, kid: &str, reason: Option<String>) -> Result<Kid, KeyError> {
        let kid = Kid::parse(kid).ok_or_else(|| KeyError::UnknownKid(kid.to_string()))?;
        let now = now_seconds();
        let entry = self
            .keys
            .iter_mut()
            .find(|k| k.kid == kid.to_string())
            .ok_or_else(|| KeyError::UnknownKid(kid.to_string()))?;
        if entry.status == KeyStatus::Revoked {
            return Err(KeyError::AlreadyRevoked(kid));
        }
        entry.status = KeyStatus::Revoked;
        entry.revoked_at = Some(now);
        entry.valid_until.get_or_insert(now);
        entry.revocation_reason = reason;
        self.save()?;
        self.retire_private_key(kid)?;
        Ok(kid)
    }

    /// Moves a revoked key's private file out of `keys/` into
    /// `keys/revoked/` (nothing in tem reads there; delete it once nobody
    /// needs it for an investigation). Idempotent.
    fn retire_private_key(&self, kid: Kid) -> Result<(), KeyError> {
        let from = self.dir.join(format!("{kid}.pem"));
        if !from.exists() {
            return Ok(());
        }
        let dir = self.dir.join("revoked");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io_err(&dir))?;
        let to = dir.join(format!("{kid}.pem"));
        fs::rename(&from, &to).map_err(io_err(&to))?;
        sync_dir(&self.dir)?;
        Ok(())
    }

    /// Moves the private files of keys already revoked out of `keys/` (a
    /// revocation interrupted between its two steps). Returns how many.
    pub fn retire_revoked(&self) -> Result<usize, KeyError> {
        let mut n = 0;
        for k in self.keys.iter().filter(|k| k.status == KeyStatus::Revoked) {
            if let Some(kid) = Kid::parse(&k.kid)
                && self.dir.join(format!("{kid}.pem")).exists()
            {
                self.retire_private_key(kid)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Takes the key directory's lock (created if needed), waiting for
    /// whoever holds it: every change of keys happens under it, from the
    /// moment the key ring is read until it is saved.
    pub fn lock(dir: &Path) -> Result<KeyLock, KeyError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join(".lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err(&path))?;
        file.lock().map_err(io_err(&path))?;
        Ok(KeyLock { _file: file })
    }

    /// The active key, ready to sign; checks the file's permissions and
    /// that it matches the recorded public key.
    pub fn signer(&self) -> Result<Signer, KeyError> {
        if self.keys.is_empty() {
            return Err(KeyError::NoKeys(self.dir.clone()));
        }
        let active = self
            .active()
            .ok_or_else(|| KeyError::NoActiveKey(self.dir.clone()))?;
        let kid =
            Kid::parse(&active.kid).ok_or_else(|| KeyError::UnknownKid(active.kid.clone()))?;
        let path = self.dir.join(format!("{kid}.pem"));
        let meta = fs::metadata(&path).map_err(io_err(&path))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions { path, mode });
        }
        let pem = zeroize::Zeroizing::new(fs::read_to_string(&path).map_err(io_err(&path))?);
        let key =
            SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyError::BadPrivateKey(path.clone()))?;
        if Kid::of(&key.verifying_key().to_bytes()) != kid {
            return Err(KeyError::Mismatch { path, kid });
        }
        Ok(Signer { kid, key })
    }

    fn add_new_active(&mut self) -> Result<Kid, KeyError> {
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let key = SigningKey::generate(&mut rand::rng());
        let public = key.verifying_key().to_bytes();
        let kid = Kid::of(&public);
        // PKCS#8 v1 (no embedded public key): OpenSSL 3.0 cannot read v2.
        // The secret's copies are zeroed when dropped (the PEM text is
        // `Zeroizing` already).
        let secret = zeroize::Zeroizing::new(key.to_bytes());
        let pem = KeypairBytes {
            secret_key: *secret,
            public_key: None,
        }
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|_| KeyError::BadPrivateKey(self.dir.join(format!("{kid}.pem"))))?;
        let path = self.dir.join(format!("{kid}.pem"));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err(&path))?;
        file.write_all(pem.as_bytes()).map_err(io_err(&path))?;
        file.sync_all().map_err(io_err(&path))?;
        sync_dir(&self.dir)?;
        self.keys
            .push(PublicKeyEntry::new(public, KeyStatus::Active));
        if let Err(e) = self.save() {
            self.keys.pop();
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Ok(kid)
    }

    /// Writes keyring.json atomically: a temporary file of its own,
    /// synced, renamed over the old one, and the folder synced, so after a
    /// crash the file is the old one or the new one.
    fn save(&self) -> Result<(), KeyError> {
        let path = self.dir.join(KEYRING_FILE);
        let mut nonce = [0u8; 8];
        rand::fill(&mut nonce);
        let tmp = self.dir.join(format!(
            ".{KEYRING_FILE}.{}.tmp",
            data_encoding::HEXLOWER.encode(&nonce)
        ));
        let json =
            serde_json::to_string_pretty(&self.key_set()).map_err(|e| KeyError::BadKeySet {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(json.as_bytes()).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        if let Err(e) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(KeyError::Io { path, source: e });
        }
        sync_dir(&self.dir)
    }
}

/// Held while keys change (`KeyRing::lock`); dropping it lets the next one in.
#[derive(Debug)]
pub struct KeyLock {
    _file: fs::File,
}

/// Makes a rename or new file in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), KeyError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_rotate_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = KeyRing::open(dir.path()).unwrap();
        assert!(matches!(ring.signer(), Err(KeyError::NoKeys(_))));
        let first = ring.generate().unwrap();
        assert!(matches!(ring.generate(), Err(KeyError::ActiveKeyExists(_))));
        let mode = fs::metadata(dir.path().join(format!("{first}.pem")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let (second, retired) = ring.rotate().unwrap();
        assert_eq!(retired.as_deref(), Some(first.to_string().as_str()));
        let ring = KeyRing::open(dir.path()).unwrap();
        assert_eq!(ring.signer().unwrap().kid(), second);
        let statuses: Vec<_> = ring.entries().iter().map(|k| k.status).collect();
        assert_eq!(statuses, [KeyStatus::VerifyOnly, KeyStatus::Active]);

        let mut ring = ring;
        ring.revoke(&second.to_string(), Some("laptop stolen".into()))
            .unwrap();
        assert!(matches!(ring.signer(), Err(KeyError::NoActiveKey(_))));
        assert!(matches!(
            ring.revoke(&second.to_string(), None),
            Err(KeyError::AlreadyRevoked(_))
        ));
    }

    #[test]
    fn loose_permissions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = KeyRing::open(dir.path()).unwrap();
        let kid = ring.generate().unwrap();
        let path = dir.path().join(format!("{kid}.pem"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = ring.signer().unwrap_err();
        assert!(matches!(err, KeyError::Permissions { .. }));
        assert!(err.to_string().contains("chmod 600"));
    }

    #[test]
    fn signer_debug_hides_the_key() {
        let signer = Signer::from_secret([7; 32]);
        let shown = format!("{signer:?}");
        assert!(shown.contains(&signer.kid().to_string()));
        assert!(!shown.contains("secret"));
        assert!(!shown.contains("07, 07"));
    }
}
