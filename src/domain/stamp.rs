//! Stamps: the serial, its human-readable short code and its lifecycle state.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A stamp's serial number (số sê-ri): 64 random bits from a CSPRNG,
/// unique across the whole registry. Shown as 16 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(pub u64);

impl Serial {
    /// The short code printed under the QR symbol.
    pub fn short_code(self) -> ShortCode {
        ShortCode::from_serial(self)
    }

    /// Parses a serial written as 16 hex digits.
    pub fn parse(s: &str) -> Option<Serial> {
        let s = s.trim();
        if s.len() != 16 {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(Serial)
    }
}

impl std::fmt::Display for Serial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for Serial {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Crockford's base32 alphabet: no I, L, O or U, so nothing reads as 0/1/V.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The code people type when a camera fails: the serial in Crockford base32
/// (13 symbols) plus a check symbol, shown as `XXXXX-XXXXX-XXXX`.
/// Reading is forgiving: case, dashes and spaces are ignored, O reads as 0 and
/// I/L as 1. The check symbol is a weighted sum over GF(32) with distinct
/// weights, so it catches every single wrong symbol and every swap of two
/// different neighbours (a Luhn mod 32 check would miss 0↔Z swaps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShortCode(Serial);

impl ShortCode {
    /// The short code of a serial.
    pub fn from_serial(serial: Serial) -> Self {
        Self(serial)
    }

    /// The serial it stands for.
    pub fn serial(self) -> Serial {
        self.0
    }

    fn symbols(self) -> [u8; 14] {
        let mut values = [0u8; 14];
        // 13 × 5 = 65 bits: the first symbol carries the top 4 bits.
        for (i, v) in values.iter_mut().take(13).enumerate() {
            let shift = 5 * (12 - i);
            *v = ((u128::from(self.0.0) >> shift) & 31) as u8;
        }
        values[13] = check_symbol(&values[..13]);
        values
    }

    /// Parses a typed short code; `None` when it is not one (wrong length,
    /// bad symbol or failed check).
    pub fn parse(text: &str) -> Option<ShortCode> {
        let mut values = Vec::with_capacity(14);
        for c in text.trim().chars() {
            let v = match c.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => 0,
                'I' | 'L' => 1,
                c => ALPHABET.iter().position(|&a| char::from(a) == c)? as u8,
            };
            values.push(v);
        }
        if values.len() != 14 || values[0] > 15 || check_symbol(&values[..13]) != values[13] {
            return None;
        }
        let n = values[..13]
            .iter()
            .fold(0u128, |acc, &v| (acc << 5) | u128::from(v));
        u64::try_from(n).ok().map(|n| ShortCode(Serial(n)))
    }
}

impl std::fmt::Display for ShortCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, v) in self.symbols().iter().enumerate() {
            if i == 5 || i == 10 {
                f.write_str("-")?;
            }
            write!(f, "{}", char::from(ALPHABET[*v as usize]))?;
        }
        Ok(())
    }
}

impl Serialize for ShortCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The check symbol: Σ αⁱ⁺¹·vᵢ in GF(2⁵) (x⁵ + x² + 1, α = x). The weights
/// α¹…α¹³ are distinct and non-zero, which is what makes single errors and
/// neighbour swaps change the sum.
fn check_symbol(values: &[u8]) -> u8 {
    let mut weight = 1u8;
    let mut sum = 0u8;
    for &v in values {
        weight = gf32_mul(weight, 2);
        sum ^= gf32_mul(weight, v);
    }
    sum
}

fn gf32_mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            product ^= a;
        }
        b >>= 1;
        a <<= 1;
        if a & 0b10_0000 != 0 {
            a ^= 0b10_0101; // reduce by x⁵ + x² + 1
        }
    }
    product
}

/// Where a stamp is in its life. Each step happens once, in this order;
/// voided is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StampState {
    /// Signed and stored, not yet printed.
    Issued,
    /// Printed on a sheet.
    Printed,
    /// Stuck on a package and released.
    Activated,
    /// Withdrawn (damaged in printing, lost…).
    Voided,
}

impl StampState {
    /// As in JSON: "issued", "printed", "activated", "voided".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Printed => "printed",
            Self::Activated => "activated",
            Self::Voided => "voided",
        }
    }

    /// The state's number, as stored.
    pub fn code(self) -> i64 {
        match self {
            Self::Issued => 0,
            Self::Printed => 1,
            Self::Activated => 2,
            Self::Voided => 3,
        }
    }

    /// A state by its stored number.
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => Self::Issued,
            1 => Self::Printed,
            2 => Self::Activated,
            3 => Self::Voided,
            _ => return None,
        })
    }
}

/// How many stamps of a batch are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StampCounts {
    /// All stamps of the batch.
    pub total: u64,
    /// Issued, not yet printed.
    pub issued: u64,
    /// Printed, not yet on a package.
    pub printed: u64,
    /// On packages and released.
    pub activated: u64,
    /// Voided (damaged, lost).
    pub voided: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_code_shape() {
        let code = Serial(0x0123_4567_89ab_cdef).short_code().to_string();
        assert_eq!(code.len(), 16);
        assert_eq!(code.matches('-').count(), 2);
        assert!(!code.contains(['I', 'L', 'O', 'U']));
        assert_eq!(
            ShortCode::parse(&code).unwrap().serial(),
            Serial(0x0123_4567_89ab_cdef)
        );
    }

    #[test]
    fn extreme_serials_round_trip() {
        for n in [0, 1, u64::MAX, 1 << 63] {
            let code = Serial(n).short_code().to_string();
            assert_eq!(ShortCode::parse(&code).unwrap().serial().0, n, "{code}");
        }
    }

    proptest! {
        #[test]
        fn short_code_round_trips_forgivingly(n: u64) {
            let code = Serial(n).short_code().to_string();
            let typed = code.to_lowercase().replace('-', " ").replace('0', "o").replace('1', "l");
            prop_assert_eq!(ShortCode::parse(&typed).map(|c| c.serial().0), Some(n));
        }

        #[test]
        fn one_wrong_symbol_is_caught(n: u64, pos in 0usize..14, delta in 1u8..32) {
            let mut symbols = Serial(n).short_code().symbols();
            symbols[pos] = (symbols[pos] + delta) % 32;
            let text: String = symbols.iter().map(|&v| char::from(ALPHABET[v as usize])).collect();
            prop_assert!(ShortCode::parse(&text).is_none());
        }

        #[test]
        fn neighbour_swaps_are_caught(n: u64, pos in 0usize..13) {
            let mut symbols = Serial(n).short_code().symbols();
            prop_assume!(symbols[pos] != symbols[pos + 1]);
            symbols.swap(pos, pos + 1);
            let text: String = symbols.iter().map(|&v| char::from(ALPHABET[v as usize])).collect();
            prop_assert!(ShortCode::parse(&text).is_none());
        }
    }
}

/// What happened to a batch's stamps, as its lifecycle events record it
/// (the `events` table; EPCIS maps each to a business step).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum EventAction {
    /// Stamps issued (signed and stored).
    Commission,
    /// A print job covered them.
    Print,
    /// Stuck on packages and released for sale.
    Activate,
    /// Taken out of use.
    Void,
    /// Recalled.
    Recall,
    /// A recall lifted.
    Lift,
    /// A scan alert (the repeat-scan rules, or a registry mismatch).
    Alert,
}

impl EventAction {
    /// Every action.
    pub const ALL: [EventAction; 7] = [
        EventAction::Commission,
        EventAction::Print,
        EventAction::Activate,
        EventAction::Void,
        EventAction::Recall,
        EventAction::Lift,
        EventAction::Alert,
    ];

    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::Commission => "commission",
            EventAction::Print => "print",
            EventAction::Activate => "activate",
            EventAction::Void => "void",
            EventAction::Recall => "recall",
            EventAction::Lift => "lift",
            EventAction::Alert => "alert",
        }
    }

    /// The action named `s`, if it is one.
    pub fn parse(s: &str) -> Option<EventAction> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl std::fmt::Display for EventAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
