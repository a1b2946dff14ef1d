//! A per-network rate limit on verification (fixed one-minute windows), so
//! nobody can walk the serial space or flood the scan log. One node counts
//! in memory; nodes that share a database (PostgreSQL) count there, so the
//! limit holds across them whichever node a request reaches.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use sha2::Digest;

use super::Context;
use crate::store::Store;

/// Counts verification requests per network and minute.
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<u128, (u64, u32)>>,
    /// The shared database, when other nodes count too.
    shared: Option<Arc<dyn Store>>,
}

impl RateLimiter {
    /// `per_minute` = 0 turns the limit off. A store that other nodes share
    /// holds the counts.
    pub fn new(per_minute: u32, ctx: &Context) -> Self {
        RateLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
            shared: ctx.store().shared().then(|| ctx.shared_store()),
        }
    }

    /// Counts a request from `ip`'s network (IPv4 /24, IPv6 /48); false when over the limit.
    pub async fn allow(&self, ip: Option<IpAddr>) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let key = match ip {
            Some(IpAddr::V4(v4)) => u128::from(u32::from(v4) & 0xffff_ff00),
            Some(IpAddr::V6(v6)) => u128::from(v6) & !((1u128 << 80) - 1),
            None => 0,
        };
        let minute = jiff::Timestamp::now().as_second().max(0) as u64 / 60;
        if let Some(store) = &self.shared {
            // The database sees a hash of the network, not the network.
            let network =
                data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(key.to_be_bytes())[..12]);
            let store = store.clone();
            let counted =
                tokio::task::spawn_blocking(move || store.count_request(&network, minute as i64))
                    .await;
            match counted {
                Ok(Ok(n)) => return n <= u64::from(self.per_minute),
                // Counting in memory beats refusing scans while the
                // database is away; the scan itself will say so anyway.
                Ok(Err(e)) => tracing::warn!(error = %e, "shared rate count failed"),
                Err(e) => tracing::warn!(error = %e, "shared rate count failed"),
            }
        }
        self.allow_here(key, minute)
    }

    fn allow_here(&self, key: u128, minute: u64) -> bool {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (m, _)| *m == minute);
        }
        let entry = windows.entry(key).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32) -> (tempfile::TempDir, RateLimiter) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(crate::store::SqliteStore::open(&dir.path().join("t.db")).unwrap());
        let ctx = Context::new(store, dir.path().join("keys"), String::new());
        (dir, RateLimiter::new(per_minute, &ctx))
    }

    #[actix_web::test]
    async fn limits_per_network_not_per_address() {
        let (_dir, l) = limiter(3);
        let a: IpAddr = "203.113.1.10".parse().unwrap();
        let b: IpAddr = "203.113.1.99".parse().unwrap();
        let c: IpAddr = "203.113.2.10".parse().unwrap();
        assert!(l.allow(Some(a)).await && l.allow(Some(b)).await && l.allow(Some(a)).await);
        assert!(
            !l.allow(Some(b)).await,
            "the fourth from the same /24 is refused"
        );
        assert!(l.allow(Some(c)).await, "another network is not affected");
        assert!(limiter(0).1.allow(Some(a)).await);
    }
}
