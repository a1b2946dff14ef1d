//! GS1 Digital Link URIs (GS1 Digital Link standard 1.2, §4): a product's
//! GTIN and, below it, a lot and a serial as path segments,
//! `/01/{gtin}/10/{lot}/21/{serial}`. Parsed here and checked as the
//! standard asks a resolver to (the GTIN's length and check digit, each
//! qualifier's character set and length, their order), and written back in
//! the canonical form: the GTIN as 14 digits, the qualifiers percent-encoded.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::{DomainError, Gtin};

pub mod compressed;

/// The longest lot (AI 10) and serial (AI 21): 20 characters.
pub const MAX_QUALIFIER: usize = 20;

/// Characters left as they are in a path segment; GS1 Digital Link §6.2
/// asks for the rest of the AI character set to be percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How deep a Digital Link URI identifies: a product, a lot of it, or one
/// item of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `/01/{gtin}`.
    Gtin,
    /// `/01/{gtin}/10/{lot}`.
    Lot,
    /// `/01/{gtin}/21/{serial}` or `/01/{gtin}/10/{lot}/21/{serial}`.
    Serial,
}

/// A GTIN with an optional lot and serial, as a Digital Link URI names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitalLink {
    gtin: String,
    lot: Option<String>,
    serial: Option<String>,
}

impl DigitalLink {
    /// Builds one from its parts, checking each as `parse_path` does.
    pub fn new(gtin: &str, lot: Option<&str>, serial: Option<&str>) -> Result<Self, DomainError> {
        let gtin = Gtin::parse("gtin", gtin)?;
        Ok(DigitalLink {
            gtin: format!("{:0>14}", gtin.as_str()),
            lot: lot.map(|l| qualifier("lot", l)).transpose()?,
            serial: serial.map(|s| qualifier("serial", s)).transpose()?,
        })
    }

    /// Parses the path of a Digital Link URI (`/01/…`, percent-encoded as
    /// it came; one trailing slash tolerated). The error names the part at
    /// fault.
    pub fn parse_path(path: &str) -> Result<Self, DomainError> {
        let path = path.strip_prefix('/').unwrap_or(path);
        let path = path.strip_suffix('/').unwrap_or(path);
        let parts: Vec<&str> = path.split('/').collect();
        let decode = |field: &str, raw: &str| -> Result<String, DomainError> {
            percent_decode_str(raw)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| DomainError::new(field, "is not valid percent-encoded UTF-8"))
        };
        match parts.as_slice() {
            ["01", gtin] => Self::new(gtin, None, None),
            ["01", gtin, "10", lot] => Self::new(gtin, Some(&decode("lot", lot)?), None),
            ["01", gtin, "21", serial] => Self::new(gtin, None, Some(&decode("serial", serial)?)),
            ["01", gtin, "10", lot, "21", serial] => Self::new(
                gtin,
                Some(&decode("lot", lot)?),
                Some(&decode("serial", serial)?),
            ),
            ["01", _, "21", _, "10", _] => Err(DomainError::new(
                "path",
                "puts the serial (21) before the lot (10); GS1 Digital Link orders them 10, then 21",
            )),
            _ => Err(DomainError::new(
                "path",
                "must be /01/{gtin}, optionally followed by /10/{lot} and /21/{serial}",
            )),
        }
    }

    /// Reads a compressed URI's path: the whole of it compressed
    /// (`/ARBCUPJjZA`), or the GTIN plain and the rest compressed
    /// (`/01/{gtin}/{compressed}`). Returns the URI and its other elements
    /// (data attributes such as `17`, and non-GS1 pairs) as query pairs.
    pub fn parse_compressed(path: &str) -> Result<(Self, Vec<(String, String)>), DomainError> {
        let path = path.strip_prefix('/').unwrap_or(path);
        let path = path.strip_suffix('/').unwrap_or(path);
        let mut elements = match path.split('/').collect::<Vec<_>>().as_slice() {
            [segment] => compressed::decompress(segment)?,
            ["01", gtin, segment] => {
                let mut e = compressed::decompress(segment)?;
                e.ais.insert(0, ("01".into(), (*gtin).to_string()));
                e
            }
            _ => return Err(DomainError::new("path", "is not a GS1 Digital Link URI")),
        };
        let mut take = |ai: &str| {
            let at = elements.ais.iter().position(|(a, _)| a == ai)?;
            Some(elements.ais.remove(at).1)
        };
        let gtin = take("01").ok_or_else(|| {
            DomainError::new(
                "path",
                "names no GTIN (01): tem resolves products by their GTIN",
            )
        })?;
        if take("22").is_some() {
            return Err(DomainError::new(
                "path",
                "has a consumer product variant (22), which tem does not resolve",
            ));
        }
        let (lot, serial) = (take("10"), take("21"));
        let link = Self::new(&gtin, lot.as_deref(), serial.as_deref())?;
        let mut query = elements.ais;
        query.append(&mut elements.other);
        Ok((link, query))
    }

    /// The GTIN as 14 digits (GTIN-8, 12 and 13 padded with zeros).
    pub fn gtin(&self) -> &str {
        &self.gtin
    }

    /// The lot (AI 10), decoded.
    pub fn lot(&self) -> Option<&str> {
        self.lot.as_deref()
    }

    /// The serial (AI 21), decoded.
    pub fn serial(&self) -> Option<&str> {
        self.serial.as_deref()
    }

    /// How deep it identifies.
    pub fn level(&self) -> Level {
        match (&self.lot, &self.serial) {
            (_, Some(_)) => Level::Serial,
            (Some(_), None) => Level::Lot,
            (None, None) => Level::Gtin,
        }
    }

    /// The same URI one level up: a lot's GTIN, an item's lot (or GTIN).
    pub fn parent(&self) -> Option<DigitalLink> {
        match self.level() {
            Level::Gtin => None,
            Level::Lot => Some(DigitalLink {
                lot: None,
                ..self.clone()
            }),
            Level::Serial => Some(DigitalLink {
                serial: None,
                ..self.clone()
            }),
        }
    }

    /// The canonical path: `/01/{14 digits}[/10/{lot}][/21/{serial}]`.
    pub fn path(&self) -> String {
        let mut out = format!("/01/{}", self.gtin);
        if let Some(lot) = &self.lot {
            out.push_str("/10/");
            out.extend(utf8_percent_encode(lot, SEGMENT));
        }
        if let Some(serial) = &self.serial {
            out.push_str("/21/");
            out.extend(utf8_percent_encode(serial, SEGMENT));
        }
        out
    }

    /// The forms the GTIN may be stored in: as given to tem a product's
    /// GTIN keeps its own length (8, 12, 13 or 14 digits).
    pub fn stored_forms(&self) -> Vec<String> {
        let mut forms = vec![self.gtin.clone()];
        for len in [13, 12, 8] {
            let (zeros, rest) = self.gtin.split_at(14 - len);
            if zeros.bytes().all(|b| b == b'0') {
                forms.push(rest.to_string());
            }
        }
        forms
    }
}

/// A lot or serial: 1 to 20 characters of GS1's AI encodable character set
/// 82 (GS1 General Specifications, figure 7.11-1).
fn qualifier(field: &str, value: &str) -> Result<String, DomainError> {
    if value.is_empty() || value.chars().count() > MAX_QUALIFIER {
        return Err(DomainError::new(
            field,
            format!("must be 1 to {MAX_QUALIFIER} characters"),
        ));
    }
    if let Some(bad) = value.chars().find(|c| !in_cset82(*c)) {
        return Err(DomainError::new(
            field,
            format!(
                "has {bad:?}, outside GS1's character set 82 (letters A–Z a–z, digits and !\"%&'()*+,-./:;<=>?_)"
            ),
        ));
    }
    Ok(value.to_string())
}

fn in_cset82(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!\"%&'()*+,-./:;<=>?_".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtins_are_checked_and_padded_to_14_digits() {
        let dl = DigitalLink::parse_path("/01/8938505974194").unwrap();
        assert_eq!(dl.gtin(), "08938505974194");
        assert_eq!(dl.level(), Level::Gtin);
        assert_eq!(dl.path(), "/01/08938505974194");
        assert!(dl.stored_forms().contains(&"8938505974194".to_string()));
        // GTIN-8 and GTIN-12.
        assert_eq!(
            DigitalLink::parse_path("/01/96385074").unwrap().gtin(),
            "00000096385074"
        );
        assert_eq!(
            DigitalLink::parse_path("/01/614141000036").unwrap().gtin(),
            "00614141000036"
        );
        // A wrong check digit, a wrong length, letters.
        for bad in [
            "/01/8938505974195",
            "/01/893850597419",
            "/01/89385059741x4",
            "/01/",
        ] {
            assert!(DigitalLink::parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lots_and_serials_are_decoded_checked_and_encoded_back() {
        let dl = DigitalLink::parse_path("/01/08938505974194/10/L%C3%B4/21/1").unwrap_err();
        assert_eq!(dl.field, "lot", "ô is outside character set 82");
        let dl = DigitalLink::parse_path("/01/08938505974194/10/AB%2F12/21/0042/").unwrap();
        assert_eq!(dl.lot(), Some("AB/12"));
        assert_eq!(dl.serial(), Some("0042"));
        assert_eq!(dl.level(), Level::Serial);
        assert_eq!(dl.path(), "/01/08938505974194/10/AB%2F12/21/0042");
        assert_eq!(dl.parent().unwrap().path(), "/01/08938505974194/10/AB%2F12");
        let long = format!("/01/08938505974194/21/{}", "9".repeat(21));
        assert!(DigitalLink::parse_path(&long).is_err());
        assert!(DigitalLink::parse_path("/01/08938505974194/21/1/10/A").is_err());
        assert!(DigitalLink::parse_path("/01/08938505974194/10/").is_err());
        assert!(DigitalLink::parse_path("/01/08938505974194/22/A").is_err());
    }
}
