//! What the person holding the pack is told, in one place for the page and
//! the JSON: the verdict's headline and sentence, and the warning.
//!
//! Two cases read differently from the verdict's own words: a claim stamp
//! not claimed yet turns the repeat-scan warning into the certain check
//! ("scratch and claim it": a right code proves the pack genuine), and a
//! scan of a claimed stamp from the device that claimed it is the buyer's
//! own, not a copy (and a claimed stamp carries no repeat-scan warning:
//! the claim says more).

use super::strings::Strings;
use crate::domain::scan::Verdict;
use crate::service::scan::ScanResult;

/// The words of one answer.
pub(crate) struct Told {
    pub headline: &'static str,
    pub detail: &'static str,
    /// The warning's code ("repeat-scan", "claim-to-check") and message.
    pub warning: Option<(&'static str, String)>,
    /// Claimed from this very device: the buyer scanning their own pack.
    pub claimed_here: bool,
}

/// The words for `result` in the language of `t`.
pub(crate) fn told(result: &ScanResult, t: &Strings) -> Told {
    let o = &result.outcome;
    let stamp = o.stamp.as_ref();
    let claimed_here = o.verdict == Verdict::Claimed && stamp.is_some_and(|s| s.claimed_here);
    let (headline, detail) = if claimed_here {
        t.claimed_here()
    } else {
        t.verdict(o.verdict)
    };
    let count = stamp.map_or(0, |s| s.scan_count);
    let claim_can_tell = stamp.is_some_and(|s| s.claimable && s.claimed_at.is_none());
    // Once claimed, the claim says more than any count: the buyer's own
    // phone is told it is theirs, any other that it is probably a copy.
    let warning = match (o.repeat.is_empty(), claim_can_tell) {
        _ if o.verdict == Verdict::Claimed => None,
        (true, _) => None,
        (false, true) => Some(("claim-to-check", t.claim_to_check(count))),
        (false, false) => Some(("repeat-scan", t.repeat_warning(count))),
    };
    Told {
        headline,
        detail,
        warning,
        claimed_here,
    }
}
