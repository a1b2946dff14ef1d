//! A per-network rate limit on verification (fixed one-minute windows), so
//! nobody can walk the serial space or flood the scan log. Per node: with
//! several nodes the effective limit is the sum, which is fine for abuse
//! protection; scan counts themselves live in the database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<u128, (u64, u32)>>,
}

impl RateLimiter {
    /// `per_minute` = 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request from `ip`'s network (IPv4 /24, IPv6 /48); false when over the limit.
    pub fn allow(&self, ip: Option<IpAddr>) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let key = match ip {
            Some(IpAddr::V4(v4)) => u128::from(u32::from(v4) & 0xffff_ff00),
            Some(IpAddr::V6(v6)) => u128::from(v6) & !((1u128 << 80) - 1),
            None => 0,
        };
        let minute = jiff::Timestamp::now().as_second().max(0) as u64 / 60;
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

    #[test]
    fn limits_per_network_not_per_address() {
        let l = RateLimiter::new(3);
        let a: IpAddr = "203.113.1.10".parse().unwrap();
        let b: IpAddr = "203.113.1.99".parse().unwrap();
        let c: IpAddr = "203.113.2.10".parse().unwrap();
        assert!(l.allow(Some(a)) && l.allow(Some(b)) && l.allow(Some(a)));
        assert!(!l.allow(Some(b)), "the fourth from the same /24 is refused");
        assert!(l.allow(Some(c)), "another network is not affected");
        assert!(RateLimiter::new(0).allow(Some(a)));
    }
}
