//! A buyer claiming a stamp with the code under its scratch-off panel
//! (`codes::claim`). The scanned code must verify (a forged code claims
//! nothing); the code typed is checked against the one derived from the
//! claim key, in constant time; the store counts wrong codes per stamp and
//! per network and records the claim.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Client, Scanner};
use crate::codes::CodeVerdict;
use crate::codes::claim::ClaimKey;
use crate::service::{ServiceError, ServiceResult, not_found};
use crate::store::{ClaimAttempt, ClaimOutcome};

/// What a claim came to, as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ClaimAnswer {
    /// claimed, already-claimed, wrong-code or locked.
    pub result: &'static str,
    /// When the stamp was claimed (now, or before).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub claimed_at: Option<jiff::Timestamp>,
    /// Where it was claimed, if the buyer shared it (already-claimed).
    pub province: Option<String>,
    /// Tries left before the stamp locks (wrong-code).
    pub tries_left: Option<u32>,
}

/// Where a buyer says they are, if they choose to: a province by name, or a
/// shared location. Only one of the 34 provinces is ever recorded (later
/// scans show it), never free text.
#[derive(Debug, Clone, Default)]
pub struct ClaimPlace {
    /// A province as typed ("Vĩnh Long", "TP Hồ Chí Minh").
    pub province: Option<String>,
    /// A shared location: latitude and longitude in degrees.
    pub location: Option<(f64, f64)>,
}

impl ClaimPlace {
    /// The province to record: the one the location falls in (none abroad
    /// or at sea), or the one named; a name that is no province is refused.
    fn province(&self) -> ServiceResult<Option<String>> {
        use crate::domain::{DomainError, geo};
        if let Some((lat, lon)) = self.location {
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(
                    DomainError::new("lat", "must be a latitude and longitude in degrees").into(),
                );
            }
            return Ok(geo::province_of(lat, lon).map(String::from));
        }
        match self.province.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(name) if name.len() > 100 => {
                Err(DomainError::new("province", "at most 100 bytes").into())
            }
            Some(name) => geo::province_named(name)
                .map(|p| Some(p.to_string()))
                .ok_or_else(|| {
                    DomainError::new(
                        "province",
                        "must be one of Vietnam's 34 provinces (for example \"Vĩnh Long\"), or left out",
                    )
                    .into()
                }),
        }
    }
}

impl Scanner {
    /// Claims the stamp of the scanned `text` with the code `typed`.
    pub async fn claim(
        &self,
        text: &str,
        typed: &str,
        place: &ClaimPlace,
        client: &Client,
    ) -> ServiceResult<ClaimAnswer> {
        let province = place.province()?;
        let device = self.device_hash(client);
        let check = self.check(text);
        let Some(code) = check.code.filter(|_| check.verdict == CodeVerdict::Genuine) else {
            return Err(not_found("stamp", "with this code"));
        };
        let dir = self.keys.dir.clone();
        let store = self.store.clone();
        let attempt_network = self.network_hash(client.ip);
        let typed = typed.to_string();
        let outcome = tokio::task::spawn_blocking(move || -> ServiceResult<ClaimOutcome> {
            // No claim key: no stamp of this service has a claim code.
            let right = match ClaimKey::open(&dir)? {
                Some(key) => key.accepts(code.serial, code.batch, &typed),
                None => false,
            };
            Ok(store.claim(&ClaimAttempt {
                serial: code.serial,
                batch: code.batch,
                right,
                network: attempt_network,
                province,
                device,
            })?)
        })
        .await
        .map_err(crate::service::internal)??;
        let answer = |result, claimed_at, province, tries_left| ClaimAnswer {
            result,
            claimed_at,
            province,
            tries_left,
        };
        Ok(match outcome {
            ClaimOutcome::NoSuchStamp => return Err(not_found("stamp", code.serial)),
            ClaimOutcome::NotClaimable => {
                return Err(ServiceError::Conflict(
                    "this stamp was issued without a claim code".into(),
                ));
            }
            ClaimOutcome::Claimed { at } => answer("claimed", Some(at), None, None),
            ClaimOutcome::AlreadyClaimed { at, province } => {
                answer("already-claimed", Some(at), province, None)
            }
            ClaimOutcome::WrongCode { left } => answer("wrong-code", None, None, Some(left)),
            ClaimOutcome::Locked => answer("locked", None, None, Some(0)),
        })
    }
}
