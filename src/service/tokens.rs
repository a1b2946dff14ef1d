//! API tokens: created with a role, shown once, stored as a SHA-256 hash,
//! checked in constant time, expiring, revocable.

use sha2::{Digest, Sha256};

use super::ServiceResult;
use crate::domain::{DomainError, Grant};
pub use crate::store::TokenInfo;
use crate::store::{NewToken, Store};

/// Tokens live this long unless `--expires` says otherwise.
pub const DEFAULT_DAYS: i64 = 90;
/// The longest life a token may be given.
pub const MAX_DAYS: i64 = 3 * 366;

/// A new random token: 256 bits from the OS CSPRNG, base32, prefixed `tem_`
/// so that secret scanners and people can recognise it.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!(
        "tem_{}",
        data_encoding::BASE32_NOPAD
            .encode(&bytes)
            .to_ascii_lowercase()
    )
}

/// The SHA-256 of a token: what is stored and compared.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

/// When a token given `expires` ("90d", "12h" or a date "2027-06-30",
/// end of that day in Vietnam) stops working.
pub fn expiry(expires: Option<&str>, now: jiff::Timestamp) -> Result<jiff::Timestamp, DomainError> {
    let bad = || {
        DomainError::new(
            "expires",
            format!(
                "must be a number of days (\"90d\"), hours (\"12h\") or a date (\"2027-06-30\"), at most {MAX_DAYS} days ahead"
            ),
        )
    };
    let at = match expires.map(str::trim) {
        None => now + jiff::SignedDuration::from_hours(24 * DEFAULT_DAYS),
        Some(e) => {
            if let Some(d) = e.strip_suffix('d') {
                let d: i64 = d.parse().map_err(|_| bad())?;
                now + jiff::SignedDuration::from_hours(24 * d.clamp(0, MAX_DAYS + 1))
            } else if let Some(h) = e.strip_suffix('h') {
                let h: i64 = h.parse().map_err(|_| bad())?;
                now + jiff::SignedDuration::from_hours(h.clamp(0, 24 * (MAX_DAYS + 1)))
            } else {
                let date: jiff::civil::Date = e.parse().map_err(|_| bad())?;
                date.tomorrow()
                    .map_err(|_| bad())?
                    .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
                    .map_err(|_| bad())?
                    .timestamp()
            }
        }
    };
    if at <= now || at > now + jiff::SignedDuration::from_hours(24 * MAX_DAYS) {
        return Err(bad());
    }
    Ok(at)
}

/// Creates a token; returns it (the only time it exists outside the
/// caller's hands) and what was stored.
#[tracing::instrument(skip_all)]
pub fn create(
    store: &dyn Store,
    grant: Grant,
    label: Option<&str>,
    expires: Option<&str>,
    actor: &str,
) -> ServiceResult<(String, TokenInfo)> {
    let label =
        crate::domain::text::optional("label", label, 100, crate::domain::text::Lines::One)?;
    let expires_at = expiry(expires, jiff::Timestamp::now())?;
    let token = random_token();
    let info = store.create_token(
        &NewToken {
            hash: hash(&token),
            grant,
            label,
            expires_at,
        },
        actor,
    )?;
    Ok((token, info))
}

/// The dashboard's token form as typed: every field text, empty for none.
pub struct TokenForm {
    /// admin, producer or inspector.
    pub role: String,
    /// The producer's id, for producer tokens.
    pub producer: Option<String>,
    /// The province, for a province inspector.
    pub province: Option<String>,
    /// When it expires (YYYY-MM-DD, or a number of days).
    pub expires: Option<String>,
    /// A label, to recognise it.
    pub label: Option<String>,
    /// A seller's shop.
    pub shop: Option<String>,
}

/// Creates a token from the dashboard's form; a mistake names its field.
pub fn create_from_form(
    store: &dyn Store,
    f: TokenForm,
    actor: &str,
) -> ServiceResult<(String, TokenInfo)> {
    use crate::domain::{DomainError, ProducerId, Role};
    let nonempty = |o: Option<String>| o.filter(|s| !s.trim().is_empty());
    let role = Role::parse(&f.role)
        .ok_or_else(|| DomainError::new("role", "choose admin, producer, inspector or seller"))?;
    let choose = || DomainError::new("producer", "choose a producer");
    let producer = nonempty(f.producer)
        .map(|p| {
            p.trim()
                .parse::<i64>()
                .map(ProducerId)
                .map_err(|_| choose())
        })
        .transpose()?;
    let provinces: Vec<String> = nonempty(f.province).into_iter().collect();
    let grant = match role {
        // A seller sells for the producer chosen, or for all.
        Role::Seller => Grant::seller(
            nonempty(f.shop).as_deref().unwrap_or_default(),
            producer.into_iter().collect(),
        )?,
        _ => Grant::new(role, producer, &provinces)?,
    };
    if let Some(p) = grant.producer.or(grant.sells_for.first().copied())
        && store.producer(p)?.is_none()
    {
        return Err(choose().into());
    }
    let (label, expires) = (nonempty(f.label), nonempty(f.expires));
    create(store, grant, label.as_deref(), expires.as_deref(), actor)
}

/// Why a presented token is refused (all answered 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No such token.
    Unknown,
    /// It has expired.
    Expired,
    /// It was revoked.
    Revoked,
}

/// The grant of a presented token, if it is known, unexpired and not revoked.
pub fn authenticate(store: &dyn Store, token: &str) -> ServiceResult<Result<TokenInfo, Refused>> {
    let Some(info) = store.token_by_hash(&hash(token))? else {
        return Ok(Err(Refused::Unknown));
    };
    if info.revoked_at.is_some() {
        return Ok(Err(Refused::Revoked));
    }
    if info.expires_at <= jiff::Timestamp::now() {
        return Ok(Err(Refused::Expired));
    }
    Ok(Ok(info))
}

/// Every token (never their secrets).
pub fn list(store: &dyn Store) -> ServiceResult<Vec<TokenInfo>> {
    Ok(store.tokens()?)
}

/// Revokes a token.
#[tracing::instrument(skip_all)]
pub fn revoke(store: &dyn Store, id: i64, actor: &str) -> ServiceResult<()> {
    if store.revoke_token(id, actor)? {
        Ok(())
    } else if store.tokens()?.iter().any(|t| t.id == id) {
        Err(super::ServiceError::Conflict(format!(
            "token {id} is already revoked"
        )))
    } else {
        Err(super::not_found("token", id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_forms() {
        let now: jiff::Timestamp = "2026-11-27T00:00:00Z".parse().unwrap();
        assert_eq!(
            expiry(Some("30d"), now).unwrap().to_string(),
            "2026-12-27T00:00:00Z"
        );
        assert_eq!(
            expiry(Some("12h"), now).unwrap().to_string(),
            "2026-11-27T12:00:00Z"
        );
        // End of the day in Vietnam (UTC+7).
        assert_eq!(
            expiry(Some("2027-06-30"), now).unwrap().to_string(),
            "2027-06-30T17:00:00Z"
        );
        assert_eq!(
            expiry(None, now).unwrap().to_string(),
            "2027-02-25T00:00:00Z"
        );
        for bad in ["0d", "-1d", "5000d", "2026-11-01", "soon", "d"] {
            assert!(expiry(Some(bad), now).is_err(), "{bad}");
        }
    }
}
