//! Who may call tem: API tokens (stored as hashes), dashboard sessions, and the
//! per-network request counter that rate limits hold across nodes.

use super::backend::{Backend, now};
use super::conn::{Conn, args};
use super::journal::audit_append;
use super::registry::load_producer;
use super::rows::{bad_value, not_found, timestamp, ts};
use super::{StoreError, StoreResult};
use crate::domain::ProducerId;

// The SQL of this file, named, so that rustfmt formats the code around it.
const INSERT_TOKEN: &str = "INSERT INTO api_tokens (lookup, hash, role, producer_id, provinces, label, created_at, expires_at, sells_for, shop)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
const TOKEN_BY_LOOKUP: &str = "SELECT id, hash FROM api_tokens WHERE lookup = ?1";
const REVOKE_TOKEN: &str =
    "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL";
const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at < ?1";
const INSERT_SESSION: &str = "INSERT INTO sessions (hash, token_id, admin_hash, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const SESSION_BY_HASH: &str =
    "SELECT token_id, admin_hash, csrf, expires_at FROM sessions WHERE hash = ?1";
const DELETE_SESSION: &str = "DELETE FROM sessions WHERE hash = ?1";
const COUNT_IN_WINDOW: &str = "INSERT INTO rate_windows (network, minute, n) VALUES (?1, ?2, 1)
     ON CONFLICT (network, minute) DO UPDATE SET n = rate_windows.n + 1 RETURNING n";
const DELETE_NETWORK_OLD_WINDOWS: &str =
    "DELETE FROM rate_windows WHERE network = ?1 AND minute < ?2";
const DELETE_OLD_WINDOWS: &str = "DELETE FROM rate_windows WHERE minute < ?1";
const SELECT_TOKENS: &str = "SELECT id, role, producer_id, provinces, label, created_at, expires_at, revoked_at, sells_for, shop FROM api_tokens
     WHERE CAST(?1 AS BIGINT) IS NULL OR id = ?1 ORDER BY id";

/// An API token as stored: its grant and life, never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// Its id.
    pub id: i64,
    /// What it grants.
    #[serde(flatten)]
    pub grant: crate::domain::Grant,
    /// Its label.
    pub label: Option<String>,
    /// When it was made.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    /// When it expires.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: jiff::Timestamp,
    /// When it was revoked, if it was.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<jiff::Timestamp>,
}

/// A dashboard session as stored: the token it stands for (with its current
/// state), or the configured admin token's hash.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// The token it was opened with, if any.
    pub token: Option<TokenInfo>,
    /// The admin token's hash it was opened with, if that.
    pub admin_hash: Option<Vec<u8>>,
    /// Its form token.
    pub csrf: String,
    /// When it expires.
    pub expires_at: jiff::Timestamp,
}

/// A token to store: the SHA-256 of the secret and what it grants.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The token's SHA-256.
    pub hash: [u8; 32],
    /// What it grants.
    pub grant: crate::domain::Grant,
    /// Its label.
    pub label: Option<String>,
    /// When it expires.
    pub expires_at: jiff::Timestamp,
}

/// Tokens, sessions and the shared request counter.
pub trait AccessStore {
    /// Stores a token; its producer must exist (`NotFound` otherwise).
    fn create_token(&self, new: &NewToken, actor: &str) -> StoreResult<TokenInfo>;
    /// The token whose hash is `hash` (looked up by its first 8 bytes, then
    /// compared in full in constant time), revoked or expired ones included.
    fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenInfo>>;
    /// Every token.
    fn tokens(&self) -> StoreResult<Vec<TokenInfo>>;
    /// Marks a token revoked; false if there is no such token or it already was.
    fn revoke_token(&self, id: i64, actor: &str) -> StoreResult<bool>;
    /// Opens a dashboard session (and forgets expired ones).
    fn create_session(
        &self,
        hash: &[u8; 32],
        token_id: Option<i64>,
        admin_hash: Option<&[u8; 32]>,
        csrf: &str,
        expires_at: jiff::Timestamp,
    ) -> StoreResult<()>;
    /// A session by its id's hash.
    fn session(&self, hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>>;
    /// Forgets a session.
    fn delete_session(&self, hash: &[u8; 32]) -> StoreResult<()>;
    /// Counts one request from `network` in `minute` and returns the count
    /// so far, for rate limits that hold across nodes. Not serialised with
    /// other writes.
    fn count_request(&self, network: &str, minute: i64) -> StoreResult<u64>;
}

impl<B: Backend> AccessStore for B {
    fn create_token(&self, t: &NewToken, actor: &str) -> StoreResult<TokenInfo> {
        self.write(|tx| {
            if let Some(p) = t.grant.producer
                && load_producer(tx, p)?.is_none()
            {
                return Err(not_found("producer", p));
            }
            let provinces = serde_json::to_string(&t.grant.provinces)
                .map_err(|e| StoreError::database(e.to_string()))?;
            let sells_for: Vec<i64> = t.grant.sells_for.iter().map(|p| p.0).collect();
            for p in &t.grant.sells_for {
                if load_producer(tx, *p)?.is_none() {
                    return Err(not_found("producer", p));
                }
            }
            let sells_for = serde_json::to_string(&sells_for)
                .map_err(|e| StoreError::database(e.to_string()))?;
            let id = tx.insert(
                INSERT_TOKEN,
                args![
                    token_lookup(&t.hash),
                    &t.hash[..],
                    t.grant.role.as_str(),
                    t.grant.producer.map(|p| p.0),
                    provinces,
                    t.label,
                    now(),
                    t.expires_at.to_string(),
                    sells_for,
                    t.grant.shop
                ],
            )?;
            let info = load_tokens(tx, Some(id))?
                .pop()
                .ok_or_else(|| not_found("token", id))?;
            audit_append(
                tx,
                actor,
                "token.create",
                &format!("token:{id}"),
                None,
                serde_json::to_value(&info).ok(),
            )?;
            Ok(info)
        })
    }

    fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenInfo>> {
        use subtle::ConstantTimeEq;
        self.read(|c| {
            let stored: Option<(i64, Vec<u8>)> =
                c.query_opt(TOKEN_BY_LOOKUP, args![token_lookup(hash)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            match stored {
                Some((id, h)) if bool::from(h.as_slice().ct_eq(&hash[..])) => {
                    Ok(load_tokens(c, Some(id))?.pop())
                }
                _ => Ok(None),
            }
        })
    }

    fn tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        self.read(|c| load_tokens(c, None))
    }

    fn revoke_token(&self, id: i64, actor: &str) -> StoreResult<bool> {
        self.write(|tx| {
            let revoked = tx.execute(REVOKE_TOKEN, args![id, now()])? == 1;
            if revoked {
                audit_append(
                    tx,
                    actor,
                    "token.revoke",
                    &format!("token:{id}"),
                    None,
                    None,
                )?;
            }
            Ok(revoked)
        })
    }

    fn create_session(
        &self,
        hash: &[u8; 32],
        token_id: Option<i64>,
        admin_hash: Option<&[u8; 32]>,
        csrf: &str,
        expires_at: jiff::Timestamp,
    ) -> StoreResult<()> {
        self.write(|tx| {
            let now = now();
            tx.execute(DELETE_EXPIRED_SESSIONS, args![now])?;
            tx.execute(
                INSERT_SESSION,
                args![
                    &hash[..],
                    token_id,
                    admin_hash.map(|h| &h[..]),
                    csrf,
                    now,
                    expires_at.to_string()
                ],
            )?;
            Ok(())
        })
    }

    fn session(&self, hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>> {
        self.read(|c| {
            type Row = (Option<i64>, Option<Vec<u8>>, String, String);
            let row: Option<Row> = c.query_opt(SESSION_BY_HASH, args![&hash[..]], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            let Some((token_id, admin_hash, csrf, expires_at)) = row else {
                return Ok(None);
            };
            let token = match token_id {
                Some(id) => Some(
                    load_tokens(c, Some(id))?
                        .pop()
                        .ok_or_else(|| not_found("token", id))?,
                ),
                None => None,
            };
            Ok(Some(SessionRecord {
                token,
                admin_hash,
                csrf,
                expires_at: timestamp(&expires_at)?,
            }))
        })
    }

    fn delete_session(&self, hash: &[u8; 32]) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(DELETE_SESSION, args![&hash[..]])?;
            Ok(())
        })
    }

    fn count_request(&self, network: &str, minute: i64) -> StoreResult<u64> {
        self.counter_write(|tx| {
            let n: i64 = tx.query_row(COUNT_IN_WINDOW, args![network, minute], |r| r.get(0))?;
            if n == 1 {
                // A network's first request of a minute drops its old windows,
                // and one in sixteen also drops every window over an hour old.
                tx.execute(DELETE_NETWORK_OLD_WINDOWS, args![network, minute])?;
                if network.ends_with('0') {
                    tx.execute(DELETE_OLD_WINDOWS, args![minute - 60])?;
                }
            }
            Ok(n.max(0) as u64)
        })
    }
}

/// The indexed part of a token hash: its first 8 bytes, hex.
pub(super) fn token_lookup(hash: &[u8; 32]) -> String {
    data_encoding::HEXLOWER.encode(&hash[..8])
}

/// Every token, or the one with id `id`.
pub(super) fn load_tokens(c: &dyn Conn, id: Option<i64>) -> StoreResult<Vec<TokenInfo>> {
    c.query_map(SELECT_TOKENS, args![id], |r| {
        let role: String = r.get(1)?;
        let provinces: String = r.get(3)?;
        let sells_for: String = r.get(8)?;
        let sells_for: Vec<i64> =
            serde_json::from_str(&sells_for).map_err(|_| bad_value("sells_for", &sells_for))?;
        Ok(TokenInfo {
            id: r.get(0)?,
            grant: crate::domain::Grant {
                role: crate::domain::Role::parse(&role).ok_or_else(|| bad_value("role", &role))?,
                producer: r.get::<Option<i64>>(2)?.map(ProducerId),
                provinces: serde_json::from_str(&provinces)
                    .map_err(|_| bad_value("provinces", &provinces))?,
                sells_for: sells_for.into_iter().map(ProducerId).collect(),
                shop: r.get(9)?,
            },
            label: r.get(4)?,
            created_at: ts(r, 5)?,
            expires_at: ts(r, 6)?,
            revoked_at: r
                .get::<Option<String>>(7)?
                .as_deref()
                .map(timestamp)
                .transpose()?,
        })
    })
}
