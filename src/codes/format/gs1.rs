//! The GS1 form of a stamp URL (docs/stamp-format.md §9): a GS1 Digital
//! Link URI naming the product's GTIN and the stamp's serial, with the rest
//! of the code in one query parameter:
//!
//! ```text
//! {base}/01/{gtin, 14 digits}/21/{serial, 16 hex digits}?s={"1" ‖ 169 digits}
//! s digits = kid-hint (2) ‖ batch (4, BE) ‖ ed25519 signature (64), as one
//!            big-endian integer, zero-padded
//! ```
//!
//! GS1 scanners read the GTIN and serial straight from the path; tem reads
//! the same fields as from its own form and verifies the same signature over
//! the same message. The GTIN is not signed: it is a label, checked against
//! the stamp's issuance where the registry is at hand.

use super::{CodeError, KID_HINT_LEN, Segment, StampCode};
use crate::domain::{BatchId, Gtin, Serial};

/// The query parameter that carries the signature (a letter: an all-digit
/// key would read as a GS1 application identifier).
pub const PARAM: &str = "s";
/// Bytes in the parameter after its version digit: key hint, batch, signature.
pub const SIG_PAYLOAD_LEN: usize = KID_HINT_LEN + 4 + 64;
/// ceil(70 × 8 / log2 10) = ceil(560 / 3.3219) = 169.
pub const SIG_DIGITS: usize = 169;

/// A GTIN written as GS1 Digital Link writes it: 14 digits, check digit
/// checked. `None` if it is not a GTIN.
pub fn gtin14(gtin: &str) -> Option<String> {
    Gtin::parse("gtin", gtin)
        .ok()
        .map(|g| format!("{:0>14}", g.as_str()))
}

impl StampCode {
    /// The `s` parameter: the version digit and 169 digits.
    pub fn gs1_param(&self) -> String {
        let mut p = [0u8; SIG_PAYLOAD_LEN];
        p[..2].copy_from_slice(&self.kid_hint);
        p[2..6].copy_from_slice(&self.batch.0.to_be_bytes());
        p[6..].copy_from_slice(&self.signature);
        super::versioned_digits(&p, SIG_DIGITS)
    }

    /// The URL in GS1 form, as QR segments: bytes for the text, numeric
    /// for the GTIN and the parameter (the densest mode for digits).
    pub fn gs1_segments(&self, base_url: &str, gtin14: &str) -> Vec<Segment> {
        vec![
            Segment::Bytes(format!("{}/01/", base_url.trim_end_matches('/'))),
            Segment::Numeric(gtin14.to_string()),
            Segment::Bytes(format!("/21/{}?{PARAM}=", self.serial)),
            Segment::Numeric(self.gs1_param()),
        ]
    }
}

/// Reads a stamp URL in GS1 form: the code and the GTIN it names. `None`
/// when the text is not in GS1 form (no `s` parameter after a `/21/`
/// serial), so the caller reads it as tem's own form.
pub fn parse(text: &str) -> Option<Result<(StampCode, String), CodeError>> {
    let t = text.trim();
    let t = t.split('#').next().unwrap_or(t);
    let (path, query) = t.split_once('?')?;
    let param = query
        .split('&')
        .find_map(|pair| pair.strip_prefix(PARAM)?.strip_prefix('='))?;
    let path = path.trim_end_matches('/');
    // A whole URL, or the path under the base URL (`01/…`).
    let rest = match path.rfind("/01/") {
        Some(at) => &path[at + 4..],
        None => path.strip_prefix("01/")?,
    };
    let (gtin, serial) = rest.split_once("/21/")?;
    Some(read(gtin, serial, param))
}

fn read(gtin: &str, serial: &str, param: &str) -> Result<(StampCode, String), CodeError> {
    let gtin = match gtin14(gtin) {
        Some(g) if gtin.len() == 14 => g,
        _ => {
            return Err(CodeError::NotGs1(
                "the GTIN must be 14 digits with its check digit",
            ));
        }
    };
    let serial = Serial::parse(serial)
        .filter(|_| serial.len() == 16)
        .ok_or(CodeError::NotGs1("the serial must be 16 hex digits"))?;
    if param.is_empty() {
        return Err(CodeError::Empty);
    }
    if !param.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeError::NotDigits);
    }
    if param.len() != 1 + SIG_DIGITS {
        return Err(CodeError::NotGs1("the s parameter must be 170 digits"));
    }
    let p: [u8; SIG_PAYLOAD_LEN] = super::versioned_bytes(param)?;
    let mut signature = [0u8; 64];
    signature.copy_from_slice(&p[6..]);
    let batch = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
    Ok((
        StampCode {
            kid_hint: [p[0], p[1]],
            serial,
            batch: BatchId(batch),
            signature,
        },
        gtin,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;

    #[test]
    fn gs1_urls_round_trip_and_read_as_codes() {
        let code = sample();
        let url = Segment::join(&code.gs1_segments("https://tem.example.vn", "08938505974194"));
        assert!(
            url.starts_with("https://tem.example.vn/01/08938505974194/21/0011223344556677?s=1"),
            "{url}"
        );
        assert_eq!(
            parse(&url).unwrap().unwrap(),
            (code, "08938505974194".to_string())
        );
        assert_eq!(StampCode::parse(&url).unwrap(), code);
        assert_eq!(
            StampCode::parse(&format!(" {url}&lang=en\n")).unwrap(),
            code
        );
        for fill in [0x00, 0xff] {
            let c = StampCode {
                kid_hint: [fill; 2],
                serial: Serial(u64::from_be_bytes([fill; 8])),
                batch: BatchId(u32::from_be_bytes([fill; 4])),
                signature: [fill; 64],
            };
            let url = Segment::join(&c.gs1_segments("https://x.vn", "08938505974194"));
            assert_eq!(StampCode::parse(&url).unwrap(), c);
        }
    }

    #[test]
    fn broken_gs1_urls_are_malformed_and_plain_digital_links_are_not_codes() {
        let url = Segment::join(&sample().gs1_segments("https://x.vn", "08938505974194"));
        let bad = [
            url.replace("08938505974194", "08938505974195"),
            url.replace("/21/0011223344556677", "/21/0011"),
            url.replace("?s=1", "?s=2"),
            url.replace("?s=1", "?s=1a"),
            format!("{url}0"),
            format!(
                "{}?s=1{}",
                url.split('?').next().unwrap(),
                "9".repeat(SIG_DIGITS)
            ),
        ];
        for b in &bad {
            assert!(matches!(parse(b), Some(Err(_))), "{b}");
            assert!(StampCode::parse(b).is_err(), "{b}");
        }
        assert_eq!(
            parse(&format!(
                "https://x.vn/01/08938505974194/21/{}?s={}",
                "00112233",
                "1".repeat(170)
            )),
            Some(Err(CodeError::NotGs1("the serial must be 16 hex digits")))
        );
        assert!(parse("https://x.vn/01/08938505974194/21/0011223344556677").is_none());
        assert!(parse("https://x.vn/01/08938505974194/21/0011223344556677?lang=en").is_none());
    }
}
