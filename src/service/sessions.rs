//! Dashboard sessions: a person signs in once with a token and gets a
//! random session id in an HttpOnly cookie. The database keeps the id's
//! SHA-256, the token it stands for, a CSRF secret and an expiry; every
//! request checks the token again, so revoking it ends its sessions.

use subtle::ConstantTimeEq;

use super::ServiceResult;
use super::tokens::{self, Refused};
use crate::domain::Grant;
use crate::store::Store;

/// A session lasts a working day at most (and never past its token).
pub const SESSION_HOURS: i64 = 12;

/// A session just opened: the cookie value and the CSRF secret.
pub struct Opened {
    /// The session id (the cookie's value; stored hashed).
    pub id: String,
    /// The form token of the session.
    pub csrf: String,
}

/// Who a session stands for.
#[derive(Debug, Clone)]
pub struct Session {
    /// What the session may touch.
    pub grant: Grant,
    /// As records name it ("token 3 (producer)", "admin token").
    pub actor: String,
    /// The token's label, to show who is signed in.
    pub label: Option<String>,
    /// The form token every form of the session carries.
    pub csrf: String,
    /// The name of the producer a producer token acts for, to show.
    pub producer_name: Option<String>,
}

/// The outcome of signing in with a token.
pub enum SignIn {
    /// Signed in.
    Opened(Opened),
    /// Refused (why).
    Refused(Refused),
}

/// Signs in with `token`: the configured admin token (given as its hash)
/// or a stored token that is neither expired nor revoked.
#[tracing::instrument(skip_all)]
pub fn sign_in(
    store: &dyn Store,
    token: &str,
    admin_hash: Option<[u8; 32]>,
) -> ServiceResult<SignIn> {
    let now = jiff::Timestamp::now();
    let longest = now + jiff::SignedDuration::from_hours(SESSION_HOURS);
    let presented = tokens::hash(token);
    let (token_id, admin, expires_at) = match admin_hash {
        Some(h) if bool::from(h.ct_eq(&presented)) => (None, Some(h), longest),
        _ => match tokens::authenticate(store, token)? {
            Ok(info) => (Some(info.id), None, info.expires_at.min(longest)),
            Err(why) => return Ok(SignIn::Refused(why)),
        },
    };
    let id = tokens::random_token();
    let csrf = data_encoding::HEXLOWER.encode(&tokens::hash(&tokens::random_token()));
    store.create_session(
        &tokens::hash(&id),
        token_id,
        admin.as_ref(),
        &csrf,
        expires_at,
    )?;
    Ok(SignIn::Opened(Opened { id, csrf }))
}

/// The session behind a cookie value, if it is still good: not expired,
/// its token not revoked or expired, the admin token unchanged.
pub fn resolve(
    store: &dyn Store,
    id: &str,
    admin_hash: Option<[u8; 32]>,
) -> ServiceResult<Option<Session>> {
    let Some(s) = store.session(&tokens::hash(id))? else {
        return Ok(None);
    };
    let now = jiff::Timestamp::now();
    if s.expires_at <= now {
        return Ok(None);
    }
    let session = match (s.token, s.admin_hash) {
        (Some(t), _) => {
            if t.revoked_at.is_some() || t.expires_at <= now {
                return Ok(None);
            }
            Session {
                actor: format!("token {} ({})", t.id, t.grant.role.as_str()),
                grant: t.grant,
                label: t.label,
                csrf: s.csrf,
                producer_name: None,
            }
        }
        (None, Some(stored)) => {
            let still = admin_hash.is_some_and(|h| bool::from(h[..].ct_eq(&stored[..])));
            if !still {
                return Ok(None);
            }
            Session {
                grant: Grant::admin(),
                actor: "admin token".into(),
                label: None,
                csrf: s.csrf,
                producer_name: None,
            }
        }
        (None, None) => return Ok(None),
    };
    let producer_name = match session.grant.producer {
        Some(p) => store.producer(p)?.map(|p| p.name),
        None => None,
    };
    Ok(Some(Session {
        producer_name,
        ..session
    }))
}

/// Ends a session.
#[tracing::instrument(skip_all)]
pub fn sign_out(store: &dyn Store, id: &str) -> ServiceResult<()> {
    Ok(store.delete_session(&tokens::hash(id))?)
}

/// Whether a form's CSRF field is the session's (constant time).
pub fn csrf_ok(session: &Session, presented: &str) -> bool {
    session.csrf.len() == presented.len()
        && bool::from(session.csrf.as_bytes().ct_eq(presented.as_bytes()))
}
