//! The alerts a scan of a claimed or sold stamp can raise, beside the
//! repeat-scan rules: `claimed-rescan` (another device than the buyer's) and
//! `sold-many-devices` (more devices since the sale than one household has).

use super::lifecycle::RecallNotice;
use crate::domain::scan::{RecentScan, RepeatRules};

/// What the scan lookup knows of a registered stamp besides its row.
pub(super) struct ClaimFlags {
    pub recall: Option<RecallNotice>,
    pub claimed_at: Option<jiff::Timestamp>,
    pub claimable: bool,
    pub claim_device: Option<String>,
    pub claim_province: Option<String>,
    pub sold: Option<(jiff::Timestamp, String)>,
}

/// A claimed stamp scanned from a device other than the one that claimed
/// it, the first time that device scans it since the claim: someone holds a
/// pack whose stamp a buyer already claimed (a copy, or a resold pack).
/// `recent` ends with this scan.
pub(super) fn claimed_rescan(flags: &ClaimFlags, device_now: &str, recent: &[RecentScan]) -> bool {
    let (Some(at), Some(device)) = (flags.claimed_at, &flags.claim_device) else {
        return false;
    };
    let since = at.as_second();
    device_now != device
        && !recent[..recent.len().saturating_sub(1)]
            .iter()
            .any(|r| r.at >= since && r.device == device_now)
}

/// Whether this scan (last in `recent`) is the one that brings the devices
/// scanning a stamp since its sale to the rules' device count: a pack sold
/// once is in one household's hands, not many.
pub(super) fn sold_many_devices(
    sold_at: jiff::Timestamp,
    recent: &[RecentScan],
    rules: &RepeatRules,
) -> bool {
    let since = sold_at.as_second();
    let devices = |scans: &[RecentScan]| {
        let mut d: Vec<&str> = scans
            .iter()
            .filter(|r| r.at >= since)
            .map(|r| r.device.as_str())
            .collect();
        d.sort_unstable();
        d.dedup();
        d.len() as u32
    };
    rules.devices > 0
        && devices(recent) >= rules.devices
        && devices(&recent[..recent.len().saturating_sub(1)]) < rules.devices
}

/// Whether the stamp was claimed from `device`.
pub(super) fn claimed_at_is(flags: &ClaimFlags, device: &str) -> bool {
    flags.claimed_at.is_some() && flags.claim_device.as_deref() == Some(device)
}
