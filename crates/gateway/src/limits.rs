//! Rate limits: a keyed GCRA (generic cell rate algorithm) per caller, answered with 429
//! `RATE_LIMITED` and a `Retry-After` header (whole seconds) in the standard error shape.
//!
//! Rules:
//! - Only `/api/…` is limited; operations (`/health`, `/ready`, `/metrics`) and the docs
//!   are not, so probes and the docs page never starve.
//! - An authenticated caller (bearer token or signed request, see the HTTP crate's auth layer) is
//!   limited per user with the quota of their **current** tier (read from the core on each
//!   request, so a tier change applies to the next request): `standard`, `premium`,
//!   `broker`; admins use the `admin` quota whatever their tier.
//! - Anyone else is limited per client IP with the `anonymous` quota. A request with a
//!   bad credential counts as anonymous.
//! - `POST /api/v1/auth/login` and `/register` always use the stricter per-IP `auth`
//!   quota, with or without a valid credential (a token in hand must not lift it); the
//!   login's own back-off per account and IP is `crate::auth::login`.
//! - A quota is `per_second` (sustained) and `burst` (how many may arrive at once).
//!   `per_second = 0` means unlimited for that class; `enabled = false` turns every limit
//!   off (benchmarks, schemathesis).
//!
//! GCRA keeps one number per key, the theoretical arrival time `tat`: a request at `t`
//! is allowed when `tat - t <= (burst - 1) · T` (with `T = 1 / per_second`), and then
//! `tat = max(tat, t) + T`. A key whose quota changed (a tier change) starts afresh
//! under the new quota, so an upgrade helps at once. Limits are per process
//! (docs/scaling.md: shared limits would need Redis); the IP is the TCP peer (no
//! `X-Forwarded-For` trust).

use crate::auth::Caller;
use bourse_model::{Role, Tier};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;
#[cfg(test)]
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sustained rate and burst of one class of callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Requests per second; 0 = unlimited.
    pub per_second: u32,
    /// Requests allowed at once (at least 1).
    pub burst: u32,
}

impl Quota {
    pub const fn new(per_second: u32, burst: u32) -> Self {
        Self { per_second, burst }
    }
}

/// `[limits]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub enabled: bool,
    pub standard: Quota,
    pub premium: Quota,
    pub broker: Quota,
    pub admin: Quota,
    /// Per client IP, unauthenticated requests.
    pub anonymous: Quota,
    /// Per client IP, `POST /api/v1/auth/login` and `/register`.
    pub auth: Quota,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            standard: Quota::new(20, 40),
            premium: Quota::new(100, 200),
            broker: Quota::new(500, 1000),
            admin: Quota::new(1000, 2000),
            anonymous: Quota::new(20, 40),
            auth: Quota::new(5, 20),
        }
    }
}

impl LimitsConfig {
    pub fn for_user(&self, user: &Caller) -> Quota {
        if user.role == Role::Admin {
            return self.admin;
        }
        match user.tier {
            Tier::Standard => self.standard,
            Tier::Premium => self.premium,
            Tier::Broker => self.broker,
        }
    }
}

/// Who a request is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    User(u64),
    Ip(IpAddr),
    AuthIp(IpAddr),
}

/// Keyed GCRA state: `tat` in nanoseconds since `origin`.
pub struct RateLimiter {
    origin: Instant,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Theoretical arrival time and the quota it was computed under.
    tat: HashMap<Key, (u64, Quota)>,
    checks: u64,
}

/// Stale entries are dropped every this many checks.
const PRUNE_EVERY: u64 = 4096;

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Counts one request of `key` now; `Err(wait)` when it must be refused.
    pub fn check(&self, key: Key, quota: Quota) -> Result<(), Duration> {
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.check_at(key, quota, now)
    }

    /// [`check`](Self::check) at an explicit time (ns since the limiter's origin).
    pub fn check_at(&self, key: Key, quota: Quota, now: u64) -> Result<(), Duration> {
        if quota.per_second == 0 {
            return Ok(());
        }
        let interval = 1_000_000_000 / u64::from(quota.per_second);
        let tolerance = interval.saturating_mul(u64::from(quota.burst.max(1) - 1));
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.checks += 1;
        if inner.checks.is_multiple_of(PRUNE_EVERY) {
            inner.tat.retain(|_, (tat, _)| *tat > now);
        }
        let tat = match inner.tat.get(&key) {
            Some((tat, q)) if *q == quota => (*tat).max(now),
            _ => now,
        };
        if tat - now > tolerance {
            return Err(Duration::from_nanos(tat - now - tolerance));
        }
        inner.tat.insert(key, (tat.saturating_add(interval), quota));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn burst_then_sustained_rate() {
        let l = RateLimiter::new();
        let q = Quota::new(10, 3); // one per 100 ms, 3 at once
        let k = Key::User(1);
        for _ in 0..3 {
            assert!(l.check_at(k, q, 0).is_ok());
        }
        let wait = l.check_at(k, q, 0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        assert!(l.check_at(k, q, 99 * MS).is_err());
        assert!(l.check_at(k, q, 100 * MS).is_ok());
        assert!(l.check_at(k, q, 100 * MS).is_err());
        // Other keys are independent.
        assert!(l.check_at(Key::User(2), q, 100 * MS).is_ok());
    }

    #[test]
    fn a_changed_quota_applies_at_once() {
        let l = RateLimiter::new();
        let k = Key::User(7);
        let small = Quota::new(1, 2);
        assert!(l.check_at(k, small, 0).is_ok());
        assert!(l.check_at(k, small, 0).is_ok());
        assert!(l.check_at(k, small, 0).is_err());
        let large = Quota::new(100, 200);
        for _ in 0..200 {
            assert!(l.check_at(k, large, 0).is_ok());
        }
        assert!(l.check_at(k, large, 0).is_err());
        assert!(
            l.check_at(k, small, 0).is_ok(),
            "back down: a fresh small burst"
        );
        assert!(l.check_at(k, small, 0).is_ok());
        assert!(l.check_at(k, small, 0).is_err());
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let l = RateLimiter::new();
        for _ in 0..10_000 {
            assert!(l.check_at(Key::User(1), Quota::new(0, 0), 0).is_ok());
        }
    }

    #[test]
    fn sustained_rate_never_exceeds_the_quota() {
        // Requests every 1 ms for 2 s at 50/s burst 5: at most 5 + 2 × 50 pass.
        let l = RateLimiter::new();
        let q = Quota::new(50, 5);
        let passed = (0..2000u64)
            .filter(|t| {
                l.check_at(Key::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)), q, t * MS)
                    .is_ok()
            })
            .count();
        assert!((100..=105).contains(&passed), "{passed}");
    }
}
