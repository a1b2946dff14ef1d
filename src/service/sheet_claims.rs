//! The claim codes of a print job: the real ones (made with the claim key
//! for a file that is printed and recorded), a preview's mask, or none; and
//! the rule that claim stamps printed before are reprinted only on request.

use super::{ServiceError, ServiceResult};
use crate::codes::claim::ClaimKey;
use crate::domain::StampState;
use crate::store::StoredStamp;

/// What the scratch panels of claim stamps show.
pub(super) enum ClaimCodes {
    /// No stamp of the job has a claim code.
    None,
    /// The real codes, made with the claim key.
    Real(ClaimKey),
    /// A preview's mask: the panel, without the secret.
    Masked,
}

impl std::fmt::Debug for ClaimCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClaimCodes::None => "None",
            ClaimCodes::Real(_) => "Real(…)",
            ClaimCodes::Masked => "Masked",
        })
    }
}

impl ClaimCodes {
    /// The claim key, when any stamp of the job has a claim code.
    pub(super) fn load(ctx: &super::Context, stamps: &[StoredStamp]) -> ServiceResult<ClaimCodes> {
        if !stamps.iter().any(|s| s.claimable) {
            return Ok(ClaimCodes::None);
        }
        let key = ClaimKey::open(ctx.keys_dir())?.ok_or_else(|| {
            ServiceError::Conflict(format!(
                "these stamps have claim codes, but the claim key ({}/claim.key) is missing: restore it from the backup of the key directory",
                ctx.keys_dir().display()
            ))
        })?;
        Ok(ClaimCodes::Real(key))
    }

    /// What stamp `s`'s scratch panel shows.
    pub(super) fn shown(&self, s: &StoredStamp) -> Option<String> {
        if !s.claimable {
            return None;
        }
        match self {
            ClaimCodes::None => None,
            ClaimCodes::Real(key) => Some(key.code(s.serial, s.batch).grouped()),
            ClaimCodes::Masked => Some(crate::render::claim_panel::MASK.into()),
        }
    }
}

/// Claim stamps printed before are printed again only when asked for: a
/// reprint is a second copy of each secret.
pub(super) fn check_reprints(asked: bool, stamps: &[StoredStamp]) -> ServiceResult<()> {
    let again: Vec<u32> = stamps
        .iter()
        .filter(|s| s.claimable && s.state != StampState::Issued)
        .map(|s| s.seq)
        .collect();
    if again.is_empty() || asked {
        return Ok(());
    }
    let shown: Vec<String> = again.iter().take(10).map(u32::to_string).collect();
    Err(ServiceError::Conflict(format!(
        "{} selected stamp(s) have claim codes and were printed before (number {}{}): a reprint puts a second copy of each code into the world. If the first print was destroyed, ask for it explicitly (tem sheet --reprint-claim-codes, or reprint_claim_codes=true); the reprint is recorded",
        again.len(),
        shown.join(", "),
        if again.len() > 10 { ", …" } else { "" }
    )))
}
