//! Compressed GS1 Digital Link URIs (GS1 Digital Link 1.2, compression):
//! the element strings packed into bits and written in URI-safe base 64,
//! `https://host/ARBCUPJjZA`. A resolver must decompress them; this is the
//! decoder, driven by GS1's tables (`assets/gs1/compression.json`, taken
//! from GS1's reference toolkit) and held to that toolkit's output in
//! `tests/it/api/gs1.rs`.
//!
//! The input is untrusted: its length is capped before decoding, every read
//! is checked against the bits there are, and no value may claim more
//! characters than its format allows.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use super::super::DomainError;

/// The longest compressed segment looked at (a URI with every qualifier
/// and a few attributes is well under 200 characters).
pub const MAX_COMPRESSED: usize = 400;

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[derive(Deserialize)]
struct Tables {
    prefix_lengths: HashMap<String, usize>,
    formats: HashMap<String, Vec<Part>>,
    optimisations: HashMap<String, Vec<String>>,
}

/// One part of an AI's value: numeric or alphanumeric, fixed or at most so
/// many characters.
#[derive(Deserialize)]
struct Part {
    kind: String,
    fixed: Option<usize>,
    max: Option<usize>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../../assets/gs1/compression.json")).unwrap_or_else(|e| {
        panic!("assets/gs1/compression.json is part of tem and must parse: {e}")
    })
});

/// What a compressed URI held: GS1 AIs and their values in order, and any
/// other key=value pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elements {
    /// (AI, value), e.g. ("01", "08938505974194").
    pub ais: Vec<(String, String)>,
    /// Non-GS1 key=value pairs that were compressed with them.
    pub other: Vec<(String, String)>,
}

fn error(why: impl Into<String>) -> DomainError {
    DomainError::new(
        "path",
        format!("is not a compressed GS1 Digital Link: {}", why.into()),
    )
}

/// Bits read from the left, each read checked against the length.
struct Bits {
    bits: Vec<bool>,
    at: usize,
}

impl Bits {
    fn left(&self) -> usize {
        self.bits.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<u128, DomainError> {
        if n > 127 || n > self.left() {
            return Err(error("it ends in the middle of a value"));
        }
        let mut v = 0u128;
        for b in &self.bits[self.at..self.at + n] {
            v = (v << 1) | u128::from(*b);
        }
        self.at += n;
        Ok(v)
    }

    fn small(&mut self, n: usize) -> Result<usize, DomainError> {
        usize::try_from(self.take(n)?).map_err(|_| error("a length is out of range"))
    }
}

/// Bits for a number of `digits` decimal digits, as the standard (and its
/// toolkit) counts them.
fn value_bits(digits: usize) -> usize {
    (digits as f64 * 10f64.ln() / 2f64.ln() + 0.01).ceil() as usize
}

/// Bits for a length of at most `max`.
fn length_bits(max: usize) -> usize {
    ((max as f64).ln() / 2f64.ln() + 0.01).ceil() as usize
}

/// Decompresses the base-64 segment of a compressed Digital Link URI.
pub fn decompress(segment: &str) -> Result<Elements, DomainError> {
    if segment.is_empty() || segment.len() > MAX_COMPRESSED {
        return Err(error(format!("must be 1 to {MAX_COMPRESSED} characters")));
    }
    let mut bits = Vec::with_capacity(segment.len() * 6);
    for c in segment.bytes() {
        let v = BASE64
            .iter()
            .position(|b| *b == c)
            .ok_or_else(|| error("it has a character outside URI-safe base 64"))?;
        bits.extend((0..6).rev().map(|i| (v >> i) & 1 == 1));
    }
    let mut r = Bits { bits, at: 0 };
    let t = &*TABLES;
    let mut out = Elements {
        ais: Vec::new(),
        other: Vec::new(),
    };
    while r.left() > 8 {
        let (h1, h2) = (r.small(4)?, r.small(4)?);
        if h1 <= 9 && h2 <= 9 {
            let mut ai = format!("{h1}{h2}");
            let len = *t
                .prefix_lengths
                .get(&ai)
                .ok_or_else(|| error(format!("no Application Identifier starts with {ai}")))?;
            while ai.len() < len {
                let d = r.small(4)?;
                if d > 9 {
                    return Err(error("an Application Identifier must be all digits"));
                }
                ai.push_str(&d.to_string());
            }
            let value = value_of(&mut r, t, &ai)?;
            out.ais.push((ai, value));
        } else if let Some(seq) = t.optimisations.get(&format!("{h1:X}{h2:X}")) {
            for ai in seq {
                let value = value_of(&mut r, t, ai)?;
                out.ais.push((ai.clone(), value));
            }
        } else if h1 == 0xF {
            // A non-GS1 key=value pair: 7 bits of key length (h2 and 3 more).
            let key_len = (h2 << 3) | r.small(3)?;
            let mut key = String::with_capacity(key_len);
            for _ in 0..key_len {
                key.push(char::from(BASE64[r.small(6)?]));
            }
            let enc = r.small(3)?;
            let n = r.small(7)?;
            let value = decode(&mut r, enc, n)?;
            out.other.push((key, value));
        } else {
            return Err(error(format!("no optimisation has the code {h1:X}{h2:X}")));
        }
    }
    if out.ais.is_empty() {
        return Err(error("it holds no Application Identifier"));
    }
    Ok(out)
}

/// The value of `ai`, part by part as its format says.
fn value_of(r: &mut Bits, t: &Tables, ai: &str) -> Result<String, DomainError> {
    let parts = t
        .formats
        .get(ai)
        .ok_or_else(|| error(format!("Application Identifier {ai} is unknown")))?;
    let mut value = String::new();
    for p in parts {
        match (p.kind.as_str(), p.fixed, p.max) {
            ("N", Some(len), _) => {
                let v = r.take(value_bits(len))?;
                value.push_str(&format!("{v:0>len$}"));
            }
            ("N", None, Some(max)) => {
                let digits = r.small(length_bits(max))?;
                if digits > max {
                    return Err(error(format!(
                        "a value of {ai} is longer than {max} digits"
                    )));
                }
                let v = r.take(value_bits(digits))?;
                if digits > 0 {
                    value.push_str(&v.to_string());
                }
            }
            ("X", fixed, max) => {
                let enc = r.small(3)?;
                let n = match (fixed, max) {
                    (Some(len), _) => len,
                    (None, Some(max)) => {
                        let n = r.small(length_bits(max))?;
                        if n > max {
                            return Err(error(format!(
                                "a value of {ai} is longer than {max} characters"
                            )));
                        }
                        n
                    }
                    _ => return Err(error(format!("the format of {ai} is not known"))),
                };
                value.push_str(&decode(r, enc, n)?);
            }
            _ => return Err(error(format!("the format of {ai} is not known"))),
        }
    }
    Ok(value)
}

/// `n` characters in encoding `enc`: digits, lower or upper hexadecimal,
/// URI-safe base 64, or 7-bit ASCII.
fn decode(r: &mut Bits, enc: usize, n: usize) -> Result<String, DomainError> {
    Ok(match enc {
        0 => {
            let v = r.take(value_bits(n))?;
            v.to_string()
        }
        1 | 2 => {
            let mut s = String::with_capacity(n);
            for _ in 0..n {
                let c = char::from(HEX[r.small(4)?]);
                s.push(if enc == 1 { c.to_ascii_lowercase() } else { c });
            }
            s
        }
        3 => {
            let mut s = String::with_capacity(n);
            for _ in 0..n {
                s.push(char::from(BASE64[r.small(6)?]));
            }
            s
        }
        4 => {
            let mut s = String::with_capacity(n);
            for _ in 0..n {
                s.push(char::from(u8::try_from(r.small(7)?).unwrap_or(b'?')));
            }
            s
        }
        _ => return Err(error(format!("the encoding {enc} is not one of GS1's"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gs1s_toolkit_outputs_decompress_to_their_element_strings() {
        // Compressed by GS1's toolkit (digital-link.js 1.4.3, compressWebUri).
        let e = decompress("ARBCUPJjZA").unwrap();
        assert_eq!(e.ais, vec![("01".into(), "08938505974194".into())]);
        let e = decompress("CxBCUPJjZRU2etZMGTZexYkJgFDZYepy-wOI").unwrap();
        let ais: Vec<&str> = e.ais.iter().map(|(a, _)| a.as_str()).collect();
        assert!(
            ais.contains(&"01") && ais.contains(&"10") && ais.contains(&"21"),
            "{e:?}"
        );
        let lot = &e.ais.iter().find(|(a, _)| a == "10").unwrap().1;
        assert_eq!(lot, "MO-2026/11");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "!!!",
            "A",
            &"_".repeat(MAX_COMPRESSED + 1),
            "________",
            "9_______",
        ] {
            assert!(decompress(bad).is_err(), "{bad}");
        }
    }
}
