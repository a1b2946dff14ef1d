//! Scans: what a consumer or inspector is told about a stamp, and the rules
//! that flag a stamp as probably cloned.
//!
//! The verdict combines what the code proves (signature, key) with what the
//! registry knows (recall, void, print state, expiry), and then the scan
//! history (repeat-scan rules in the spirit of EU medicine verification: a
//! second scan from the same device is normal; many devices, many scans in a
//! short time, or scans far apart are not).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::StampState;

/// What a scan tells the person who made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Signed by a trusted key, in the registry, printed, not recalled, voided or expired.
    Genuine,
    /// The batch (or this part of it) was recalled; the notice explains.
    Recalled,
    /// This stamp was withdrawn (damaged in printing, lost…).
    Voided,
    /// The product is past its expiry date.
    Expired,
    /// A buyer claimed this stamp with the code under its scratch-off
    /// panel: whoever scans it now, if they just bought the pack, probably
    /// holds a copy.
    Claimed,
    /// Sold at a shop's till (seller role): genuine, and the pack left the
    /// shop on that day; scans from many devices after it raise an alert.
    Sold,
    /// Issued but never printed: a stamp nobody should hold. Suspicious.
    NotPrinted,
    /// The signature is valid but the registry does not know the serial.
    UnknownSerial,
    /// The signature does not verify.
    Forged,
    /// No key in the key set matches.
    UnknownKey,
    /// Signed by a key revoked as compromised, and not a stamp tem issued
    /// under it before it stopped signing.
    RevokedKey,
    /// Not a stamp code.
    Malformed,
}

impl Verdict {
    /// The verdict's name, as stored and sent (kebab-case).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Genuine => "genuine",
            Verdict::Recalled => "recalled",
            Verdict::Voided => "voided",
            Verdict::Expired => "expired",
            Verdict::Claimed => "claimed",
            Verdict::Sold => "sold",
            Verdict::NotPrinted => "not-printed",
            Verdict::UnknownSerial => "unknown-serial",
            Verdict::Forged => "forged",
            Verdict::UnknownKey => "unknown-key",
            Verdict::RevokedKey => "revoked-key",
            Verdict::Malformed => "malformed",
        }
    }

    /// Every verdict, the good one first.
    pub const ALL: [Verdict; 12] = [
        Verdict::Genuine,
        Verdict::Recalled,
        Verdict::Voided,
        Verdict::Expired,
        Verdict::Claimed,
        Verdict::Sold,
        Verdict::NotPrinted,
        Verdict::UnknownSerial,
        Verdict::Forged,
        Verdict::UnknownKey,
        Verdict::RevokedKey,
        Verdict::Malformed,
    ];

    /// The verdict named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Verdict> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the registry knows about a stamp at scan time. Only given for a
/// code that equals the stored stamp byte for byte (serial, batch, key and
/// signature): the registry vouches for nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    /// Issued, printed, activated or voided.
    pub state: StampState,
    /// Whether a recall in force covers it.
    pub recalled: bool,
    /// Its batch's best-before date.
    pub expiry: Option<jiff::civil::Date>,
    /// When tem issued the stamp.
    pub issued_at: jiff::Timestamp,
    /// Whether a buyer has claimed it (claim codes).
    pub claimed: bool,
    /// Whether a shop marked it sold at the till.
    pub sold: bool,
}

/// What the signature check of a scanned code found, as the judge needs it
/// (`codes::CodeCheck::signature` says it of a real check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// Not a stamp code at all.
    Malformed,
    /// A key of the set has the code's kid, but the signature does not hold.
    Forged,
    /// No key of the set has the code's kid.
    UnknownKey,
    /// The signature holds under a trusted key.
    Holds,
    /// The signature holds under a revoked key, which stopped signing at
    /// `until` (none recorded: it vouches for nothing).
    /// It verifies under a revoked key.
    HoldsRevoked {
        /// When the key stopped signing, if the key set says.
        until: Option<jiff::Timestamp>,
    },
}

/// The verdict for a scan, before the repeat-scan rules.
///
/// Both checks must pass for a stamp to be genuine: the signature under a
/// key of the key set, and the registry's own copy of the code. A revoked
/// key: a stamp tem issued under it before the key stopped signing is
/// judged by the registry as before (the key's revocation does not make the
/// cooperative's printed stamps fake; a thief holding the key cannot add
/// rows to the registry), while anything else signed by it is `revoked-key`
/// (a code minted with the stolen key, or a row dated after the key's end).
pub fn judge(
    signature: Signature,
    registered: Option<&Registered>,
    today: jiff::civil::Date,
) -> Verdict {
    let (revoked, key_until) = match signature {
        Signature::Malformed => return Verdict::Malformed,
        Signature::Forged => return Verdict::Forged,
        Signature::UnknownKey => return Verdict::UnknownKey,
        Signature::Holds => (false, None),
        Signature::HoldsRevoked { until } => (true, until),
    };
    let r = match registered {
        // Key times are kept to the second.
        Some(r)
            if revoked
                && key_until.is_none_or(|until| r.issued_at.as_second() > until.as_second()) =>
        {
            return Verdict::RevokedKey;
        }
        Some(r) => r,
        None if revoked => return Verdict::RevokedKey,
        None => return Verdict::UnknownSerial,
    };
    if r.recalled {
        Verdict::Recalled
    } else if r.state == StampState::Voided {
        Verdict::Voided
    } else if r.state == StampState::Issued {
        Verdict::NotPrinted
    } else if r.expiry.is_some_and(|e| e < today) {
        Verdict::Expired
    } else if r.claimed {
        Verdict::Claimed
    } else if r.sold {
        Verdict::Sold
    } else {
        Verdict::Genuine
    }
}

/// Thresholds of the repeat-scan rules (config `[scan]`), with the defaults
/// the issue asks for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepeatRules {
    /// Warn when this many different devices have scanned the stamp.
    pub devices: u32,
    /// Warn when this many scans fall within 24 hours.
    pub scans_per_day: u32,
    /// Warn when this many scans fall within 7 days.
    pub scans_per_week: u32,
    /// Warn when two scans with a shared location are this far apart (km):
    /// a stamp cannot be in two distant provinces at once.
    pub distant_km: f64,
}

impl Default for RepeatRules {
    fn default() -> Self {
        RepeatRules {
            devices: 3,
            scans_per_day: 3,
            scans_per_week: 10,
            distant_km: 300.0,
        }
    }
}

/// One past scan, as kept with the stamp for the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentScan {
    /// The scan's id, so a location shared afterwards can be added.
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// A salted hash of the scanning device.
    pub device: String,
    /// Latitude, if the person shared a location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// Longitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
}

/// How many recent scans a stamp keeps: enough for the 7-day rule's default
/// of 10 and a margin.
pub const RECENT_KEPT: usize = 16;

/// Why a genuine-looking stamp may be a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RepeatReason {
    /// More devices than the rule allows.
    ManyDevices,
    /// More scans in 24 hours than the rule allows.
    ManyScansInADay,
    /// More scans in 7 days than the rule allows.
    ManyScansInAWeek,
    /// Scans from places too far apart.
    DistantPlaces,
}

impl RepeatReason {
    /// The reason's name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            RepeatReason::ManyDevices => "many-devices",
            RepeatReason::ManyScansInADay => "many-scans-in-a-day",
            RepeatReason::ManyScansInAWeek => "many-scans-in-a-week",
            RepeatReason::DistantPlaces => "distant-places",
        }
    }
}

/// Applies the rules to a stamp's recent scans (newest last, this scan included).
pub fn repeat_reasons(recent: &[RecentScan], now: i64, rules: &RepeatRules) -> Vec<RepeatReason> {
    let mut reasons = Vec::new();
    let mut devices: Vec<&str> = recent.iter().map(|s| s.device.as_str()).collect();
    devices.sort_unstable();
    devices.dedup();
    if rules.devices > 0 && devices.len() as u32 >= rules.devices {
        reasons.push(RepeatReason::ManyDevices);
    }
    let within = |seconds: i64| recent.iter().filter(|s| now - s.at < seconds).count() as u32;
    if rules.scans_per_day > 0 && within(86_400) >= rules.scans_per_day {
        reasons.push(RepeatReason::ManyScansInADay);
    }
    if rules.scans_per_week > 0 && within(7 * 86_400) >= rules.scans_per_week {
        reasons.push(RepeatReason::ManyScansInAWeek);
    }
    let located: Vec<(f64, f64)> = recent.iter().filter_map(|s| s.lat.zip(s.lon)).collect();
    let far = located.iter().enumerate().any(|(i, a)| {
        located[i + 1..]
            .iter()
            .any(|b| km(*a, *b) >= rules.distant_km)
    });
    if rules.distant_km > 0.0 && far {
        reasons.push(RepeatReason::DistantPlaces);
    }
    reasons
}

/// Great-circle distance in km (haversine).
pub fn km((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    6371.0 * 2.0 * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A printed stamp issued at second 1,000, nothing else on it.
    fn printed_at_1000() -> Registered {
        Registered {
            state: StampState::Printed,
            recalled: false,
            expiry: None,
            issued_at: jiff::Timestamp::from_second(1_000).unwrap(),
            claimed: false,
            sold: false,
        }
    }

    fn scan(at: i64, device: &str) -> RecentScan {
        RecentScan {
            id: at,
            at,
            device: device.into(),
            lat: None,
            lon: None,
        }
    }

    fn revoked_until(second: Option<i64>) -> Signature {
        Signature::HoldsRevoked {
            until: second.map(|s| jiff::Timestamp::from_second(s).unwrap()),
        }
    }

    #[test]
    fn registry_decides_in_order() {
        let today = jiff::civil::date(2026, 1, 1);
        let genuine = Signature::Holds;
        let printed = printed_at_1000();
        assert_eq!(judge(genuine, Some(&printed), today), Verdict::Genuine);
        assert_eq!(judge(genuine, None, today), Verdict::UnknownSerial);
        assert_eq!(
            judge(Signature::Forged, Some(&printed), today),
            Verdict::Forged
        );
        let issued = Registered {
            state: StampState::Issued,
            ..printed.clone()
        };
        assert_eq!(judge(genuine, Some(&issued), today), Verdict::NotPrinted);
        let claimed = Registered {
            claimed: true,
            ..printed.clone()
        };
        assert_eq!(judge(genuine, Some(&claimed), today), Verdict::Claimed);
        let sold = Registered {
            sold: true,
            ..printed.clone()
        };
        assert_eq!(judge(genuine, Some(&sold), today), Verdict::Sold);
        // A claim comes after the sale and says more.
        let sold_and_claimed = Registered {
            sold: true,
            ..claimed.clone()
        };
        assert_eq!(
            judge(genuine, Some(&sold_and_claimed), today),
            Verdict::Claimed
        );
        let claimed_then_recalled = Registered {
            recalled: true,
            ..claimed.clone()
        };
        assert_eq!(
            judge(genuine, Some(&claimed_then_recalled), today),
            Verdict::Recalled,
            "a recall outranks a claim"
        );
        let voided = Registered {
            state: StampState::Voided,
            ..printed.clone()
        };
        assert_eq!(judge(genuine, Some(&voided), today), Verdict::Voided);
        let recalled = Registered {
            recalled: true,
            ..voided
        };
        assert_eq!(judge(genuine, Some(&recalled), today), Verdict::Recalled);
        let old = Registered {
            expiry: Some(jiff::civil::date(2025, 12, 31)),
            ..printed.clone()
        };
        assert_eq!(judge(genuine, Some(&old), today), Verdict::Expired);
    }

    #[test]
    fn a_revoked_key_vouches_only_for_what_tem_issued_before_it_ended() {
        let today = jiff::civil::date(2026, 1, 1);
        let printed = printed_at_1000();
        // Issued at 1,000, the key stopped signing at 2,000: still genuine.
        let revoked = revoked_until(Some(2_000));
        assert_eq!(judge(revoked, Some(&printed), today), Verdict::Genuine);
        let recalled = Registered {
            recalled: true,
            ..printed.clone()
        };
        assert_eq!(judge(revoked, Some(&recalled), today), Verdict::Recalled);
        // Not in the registry: minted with the stolen key.
        assert_eq!(judge(revoked, None, today), Verdict::RevokedKey);
        // A row dated after the key's end was not written by tem's issuance.
        let late = revoked_until(Some(999));
        assert_eq!(judge(late, Some(&printed), today), Verdict::RevokedKey);
        // A revoked key with no end recorded vouches for nothing.
        let open = revoked_until(None);
        assert_eq!(judge(open, Some(&printed), today), Verdict::RevokedKey);
    }

    #[test]
    fn repeat_rules_follow_the_defaults() {
        let rules = RepeatRules::default();
        let now = 1_000_000;
        // A buyer scanning twice on one phone is normal.
        assert!(repeat_reasons(&[scan(now - 60, "a"), scan(now, "a")], now, &rules).is_empty());
        // Three devices.
        let three = [
            scan(now - 9 * 86_400, "a"),
            scan(now - 8 * 86_400, "b"),
            scan(now, "c"),
        ];
        assert_eq!(
            repeat_reasons(&three, now, &rules),
            [RepeatReason::ManyDevices]
        );
        // Three scans in a day.
        let day = [scan(now - 3600, "a"), scan(now - 60, "a"), scan(now, "a")];
        assert_eq!(
            repeat_reasons(&day, now, &rules),
            [RepeatReason::ManyScansInADay]
        );
        // Ten in a week, spread out.
        let week: Vec<RecentScan> = (0..10).map(|i| scan(now - i * 15 * 3600, "a")).collect();
        assert!(repeat_reasons(&week, now, &rules).contains(&RepeatReason::ManyScansInAWeek));
        // Trà Vinh and Hà Nội, 1,500 km apart.
        let far = [
            RecentScan {
                id: 1,
                at: now - 86_400 * 3,
                device: "a".into(),
                lat: Some(9.93),
                lon: Some(106.34),
            },
            RecentScan {
                id: 2,
                at: now,
                device: "a".into(),
                lat: Some(21.03),
                lon: Some(105.85),
            },
        ];
        assert_eq!(
            repeat_reasons(&far, now, &rules),
            [RepeatReason::DistantPlaces]
        );
    }

    #[test]
    fn distances() {
        let d = km((9.93, 106.34), (21.03, 105.85));
        assert!((1200.0..1300.0).contains(&d), "{d}");
        assert!(km((10.0, 106.0), (10.0, 106.0)) < 1e-9);
    }
}
