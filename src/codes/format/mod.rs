//! The stamp code: bytes ⇄ digits ⇄ URL, and the QR symbol that carries it.
//!
//! Layout (docs/stamp-format.md is the specification):
//!
//! ```text
//! code    = version-digit "1" ‖ 188 decimal digits
//! digits  = the 78-byte payload read as one big-endian integer, zero-padded
//! payload = kid-hint (2) ‖ serial (8, BE) ‖ batch (4, BE) ‖ ed25519 signature (64)
//! signed  = "tem-stamp-v1" ‖ 0x01 ‖ kid (8) ‖ serial (8, BE) ‖ batch (4, BE)
//! ```
//!
//! Why decimal: QR numeric mode stores 10 bits per 3 digits (3.33 bits per
//! digit, 0.415 bytes per symbol), denser than alphanumeric base32 (5.5 bits
//! per 5 bits of data). With the default base URL the whole URL is 840 bits,
//! inside the 864 bits of a version 6 symbol at level M.

use num_bigint::BigUint;
use qrcode::bits::Bits;
use qrcode::{EcLevel, QrCode, Version};

use crate::domain::{BatchId, Serial};

pub mod gs1;

/// The only format version so far; it is the code's first digit.
pub const FORMAT_VERSION: u8 = 1;
/// Domain separation: a signature over a stamp can never be mistaken for a
/// signature over anything else this key signs (bundles, reports).
pub const SIGNING_DOMAIN: &[u8] = b"tem-stamp-v1";
/// Bytes of the key id carried in a code: enough to pick the key among a few.
pub const KID_HINT_LEN: usize = 2;
/// Bytes after the version digit: key hint, serial, batch, signature.
pub const PAYLOAD_LEN: usize = KID_HINT_LEN + 8 + 4 + 64;
/// ceil(78 × 8 / log2 10) = ceil(624 / 3.3219) = 188.
pub const PAYLOAD_DIGITS: usize = 188;
/// Digits in a code: the version digit and the payload.
pub const CODE_LEN: usize = 1 + PAYLOAD_DIGITS;

/// A key id: the first 8 bytes of SHA-256 over the raw 32-byte public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid(pub [u8; 8]);

impl Kid {
    /// The key id of a public key (the first bytes of its SHA-256).
    pub fn of(public_key: &[u8; 32]) -> Kid {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(public_key);
        let mut kid = [0u8; 8];
        kid.copy_from_slice(&digest[..8]);
        Kid(kid)
    }

    /// The bytes of the id a code carries.
    pub fn hint(&self) -> [u8; KID_HINT_LEN] {
        [self.0[0], self.0[1]]
    }

    /// Parses a key id written in hex; None if it is not one.
    pub fn parse(s: &str) -> Option<Kid> {
        let s = s.trim();
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut kid = [0u8; 8];
        for (i, chunk) in kid.iter_mut().enumerate() {
            *chunk = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Kid(kid))
    }
}

impl std::fmt::Display for Kid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The fields a stamp code binds under its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StampCode {
    /// The first bytes of the signing key's id.
    pub kid_hint: [u8; KID_HINT_LEN],
    /// The stamp's serial.
    pub serial: Serial,
    /// The batch it belongs to.
    pub batch: BatchId,
    /// The Ed25519 signature over the version, serial and batch.
    pub signature: [u8; 64],
}

/// Why a text is not a stamp code. A malformed code is a verdict shown to
/// the person who scanned it, so each reason reads as a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Nothing was given.
    #[error("the code is empty")]
    Empty,
    /// Something other than digits where the code should be.
    #[error("the code must be digits only")]
    NotDigits,
    /// Not the length of a code (the length found).
    #[error("the code must be {CODE_LEN} digits long (got {0})")]
    WrongLength(usize),
    /// A format version tem does not know (the digit found).
    #[error("unsupported code format version {0}")]
    UnsupportedVersion(char),
    /// Digits that are not a number a code can hold.
    #[error("the code's number is out of range")]
    OutOfRange,
    /// A URL in GS1 form with a part that is not as the form says.
    #[error("not a tem stamp in GS1 form: {0}")]
    NotGs1(&'static str),
}

/// How a stamp's URL is written: tem's own form (`{base}/{189 digits}`) or
/// the GS1 form (a Digital Link URI with the GTIN and serial, the rest of
/// the code in a parameter; `codes::format::gs1`). Same code, same signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StampForm {
    /// `{base}/{code}`: the smallest symbol.
    Tem,
    /// `{base}/01/{gtin}/21/{serial}?s=…`: GS1 scanners read GTIN and serial.
    Gs1 {
        /// The GTIN, 14 digits.
        gtin: String,
    },
}

/// A piece of a stamp URL and the QR mode it is written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text, in byte mode.
    Bytes(String),
    /// Digits, in numeric mode (3.33 bits a digit).
    Numeric(String),
}

impl Segment {
    /// The URL the segments spell.
    pub fn join(segments: &[Segment]) -> String {
        segments
            .iter()
            .map(|s| match s {
                Segment::Bytes(t) | Segment::Numeric(t) => t.as_str(),
            })
            .collect()
    }
}

/// The message a stamp's signature covers.
pub fn signed_message(kid: &Kid, serial: Serial, batch: BatchId) -> [u8; 33] {
    let mut m = [0u8; 33];
    m[..12].copy_from_slice(SIGNING_DOMAIN);
    m[12] = FORMAT_VERSION;
    m[13..21].copy_from_slice(&kid.0);
    m[21..29].copy_from_slice(&serial.0.to_be_bytes());
    m[29..33].copy_from_slice(&batch.0.to_be_bytes());
    m
}

impl StampCode {
    fn payload(&self) -> [u8; PAYLOAD_LEN] {
        let mut p = [0u8; PAYLOAD_LEN];
        p[..2].copy_from_slice(&self.kid_hint);
        p[2..10].copy_from_slice(&self.serial.0.to_be_bytes());
        p[10..14].copy_from_slice(&self.batch.0.to_be_bytes());
        p[14..].copy_from_slice(&self.signature);
        p
    }

    /// The 189-digit code that follows the base URL.
    pub fn to_digits(&self) -> String {
        versioned_digits(&self.payload(), PAYLOAD_DIGITS)
    }

    /// The full URL printed in the QR code, in tem's own form.
    pub fn url(&self, base_url: &str) -> String {
        format!("{}/{}", base_url.trim_end_matches('/'), self.to_digits())
    }

    /// The URL in `form`, as the segments of its QR symbol.
    pub fn segments(&self, base_url: &str, form: &StampForm) -> Vec<Segment> {
        match form {
            StampForm::Tem => vec![
                Segment::Bytes(format!("{}/", base_url.trim_end_matches('/'))),
                Segment::Numeric(self.to_digits()),
            ],
            StampForm::Gs1 { gtin } => self.gs1_segments(base_url, gtin),
        }
    }

    /// The URL in `form`.
    pub fn url_in(&self, base_url: &str, form: &StampForm) -> String {
        Segment::join(&self.segments(base_url, form))
    }

    /// Parses a code from what a person or scanner gives: the bare code or a
    /// whole URL, with surrounding whitespace, in any letter case; a URL in
    /// GS1 form too (its GTIN is not part of the code: `gs1_form::parse`).
    pub fn parse(text: &str) -> Result<StampCode, CodeError> {
        if let Some(gs1) = gs1::parse(text) {
            return gs1.map(|(code, _)| code);
        }
        let code = code_part(text);
        if code.is_empty() {
            return Err(CodeError::Empty);
        }
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::NotDigits);
        }
        if code.len() != CODE_LEN {
            return Err(CodeError::WrongLength(code.len()));
        }
        let p: [u8; PAYLOAD_LEN] = versioned_bytes(code)?;
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&p[14..]);
        Ok(StampCode {
            kid_hint: [p[0], p[1]],
            serial: Serial(u64::from_be_bytes(
                p[2..10].try_into().map_err(|_| CodeError::OutOfRange)?,
            )),
            batch: BatchId(u32::from_be_bytes(
                p[10..14].try_into().map_err(|_| CodeError::OutOfRange)?,
            )),
            signature,
        })
    }
}

/// The format version digit, then `bytes` read as one big-endian integer
/// in decimal, zero-padded to `width` digits (both forms' numbers).
fn versioned_digits(bytes: &[u8], width: usize) -> String {
    let n = BigUint::from_bytes_be(bytes).to_str_radix(10);
    let mut out = String::with_capacity(1 + width);
    out.push(char::from(b'0' + FORMAT_VERSION));
    out.extend(std::iter::repeat_n('0', width.saturating_sub(n.len())));
    out.push_str(&n);
    out
}

/// The `N` bytes a versioned digit string (already checked to be digits of
/// the right length) stands for: its version must be tem's, its number
/// must fit.
fn versioned_bytes<const N: usize>(digits: &str) -> Result<[u8; N], CodeError> {
    let version = digits.as_bytes()[0];
    if version != b'0' + FORMAT_VERSION {
        return Err(CodeError::UnsupportedVersion(char::from(version)));
    }
    let n = BigUint::parse_bytes(&digits.as_bytes()[1..], 10).ok_or(CodeError::NotDigits)?;
    let bytes = n.to_bytes_be();
    if bytes.len() > N {
        return Err(CodeError::OutOfRange);
    }
    let mut p = [0u8; N];
    p[N - bytes.len()..].copy_from_slice(&bytes);
    Ok(p)
}

/// The code part of a scanned text: the last path segment of a URL (query and
/// fragment dropped) or the text itself, trimmed.
fn code_part(text: &str) -> &str {
    let t = text.trim();
    let t = t.split(['?', '#']).next().unwrap_or(t);
    let t = t.trim_end_matches('/');
    match t.rfind('/') {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

/// Normalises a configured base URL: scheme and host lower-case (phone
/// cameras and Zalo do not open `HTTPS://UPPER` as a link), no trailing
/// slash, no query or fragment.
pub fn normalise_base_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim().trim_end_matches('/');
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| format!("base URL {raw:?} must start with https:// or http://"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(format!(
            "base URL {raw:?} must start with https:// or http://"
        ));
    }
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    if !host_ok {
        return Err(format!("base URL {raw:?} has an invalid host"));
    }
    if path.contains(['?', '#', ' ']) {
        return Err(format!(
            "base URL {raw:?} must not have a query, fragment or spaces"
        ));
    }
    Ok(format!("{scheme}://{}{path}", host.to_ascii_lowercase()))
}

/// Builds the QR symbol for a stamp URL in tem's form with explicit
/// segments: one byte segment for `base_url/` and one numeric segment for
/// the code. The
/// `qrcode` crate's own segmentation would put the whole lower-case URL in
/// byte mode (about 1.5 versions larger). Picks the smallest version.
pub fn qr_for(
    base_url: &str,
    code: &StampCode,
    ec: EcLevel,
) -> Result<QrCode, qrcode::types::QrError> {
    QrCode::with_bits(qr_bits(&code.segments(base_url, &StampForm::Tem), ec)?, ec)
}

/// The data bits of a stamp symbol: its segments, each in its mode, and
/// the terminator, in the smallest version that holds them.
pub fn qr_bits(segments: &[Segment], ec: EcLevel) -> Result<Bits, qrcode::types::QrError> {
    let mut last = qrcode::types::QrError::DataTooLong;
    for v in 1..=40 {
        let mut bits = Bits::new(Version::Normal(v));
        let pushed = segments
            .iter()
            .try_for_each(|s| match s {
                Segment::Bytes(t) => bits.push_byte_data(t.as_bytes()),
                Segment::Numeric(d) => bits.push_numeric_data(d.as_bytes()),
            })
            .and_then(|()| bits.push_terminator(ec));
        match pushed {
            Ok(()) => return Ok(bits),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The QR version (1–40) a code's symbol has.
pub fn qr_version(qr: &QrCode) -> i16 {
    match qr.version() {
        Version::Normal(v) | Version::Micro(v) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn sample() -> StampCode {
        StampCode {
            kid_hint: [0xab, 0xcd],
            serial: Serial(0x0011_2233_4455_6677),
            batch: BatchId(42),
            signature: [0xff; 64],
        }
    }

    #[test]
    fn code_is_189_digits_and_round_trips() {
        let code = sample();
        let digits = code.to_digits();
        assert_eq!(digits.len(), CODE_LEN);
        assert!(digits.starts_with('1'));
        assert_eq!(StampCode::parse(&digits).unwrap(), code);
    }

    #[test]
    fn all_zero_and_all_one_payloads_round_trip() {
        for fill in [0x00, 0xff] {
            let code = StampCode {
                kid_hint: [fill; 2],
                serial: Serial(u64::from_be_bytes([fill; 8])),
                batch: BatchId(u32::from_be_bytes([fill; 4])),
                signature: [fill; 64],
            };
            assert_eq!(StampCode::parse(&code.to_digits()).unwrap(), code);
        }
    }

    #[test]
    fn parse_accepts_urls_and_whitespace() {
        let code = sample();
        let url = code.url("https://tem.example.vn");
        assert_eq!(StampCode::parse(&format!("  {url}\n")).unwrap(), code);
        assert_eq!(StampCode::parse(&format!("{url}?lang=en")).unwrap(), code);
        assert_eq!(StampCode::parse(&url.to_uppercase()).unwrap(), code);
    }

    #[test]
    fn parse_refuses_malformed() {
        let digits = sample().to_digits();
        assert_eq!(StampCode::parse(""), Err(CodeError::Empty));
        assert_eq!(
            StampCode::parse(&digits[1..]),
            Err(CodeError::WrongLength(188))
        );
        assert_eq!(
            StampCode::parse(&format!("2{}", &digits[1..])),
            Err(CodeError::UnsupportedVersion('2'))
        );
        assert_eq!(
            StampCode::parse(&format!("1{}", "9".repeat(188))),
            Err(CodeError::OutOfRange)
        );
        assert_eq!(StampCode::parse("1abc"), Err(CodeError::NotDigits));
    }

    #[test]
    fn default_base_url_gives_version_6_at_level_m() {
        let qr = qr_for("https://tem.example.vn", &sample(), EcLevel::M).unwrap();
        assert_eq!(qr_version(&qr), 6);
        assert_eq!(qr.width(), 41);
    }

    #[test]
    fn base_url_is_normalised() {
        assert_eq!(
            normalise_base_url("HTTPS://Tem.Example.VN/").unwrap(),
            "https://tem.example.vn"
        );
        assert_eq!(
            normalise_base_url("https://x.vn/S").unwrap(),
            "https://x.vn/S"
        );
        assert!(normalise_base_url("ftp://x.vn").is_err());
        assert!(normalise_base_url("tem.example.vn").is_err());
        assert!(normalise_base_url("https://x.vn/?a=1").is_err());
    }
}
