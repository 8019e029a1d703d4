//! Password login for every channel, with throttling per account and per client IP.
//!
//! Rules:
//! - **Every attempt counts as a failure until it succeeds.** [`LoginThrottle::begin`]
//!   records the attempt before the password is checked, so a burst of parallel guesses
//!   cannot all pass the check before the first failure is recorded; a success resets the
//!   account's count and takes the attempt back from the IP's.
//! - **Back-off**: the first `login_free_failures` consecutive failures of an account cost
//!   nothing; each later one locks the account for `login_backoff_base_ms · 2^k`
//!   (k = 0, 1, 2 …: 1 s, 2 s, 4 s … by default), at most `login_backoff_max_ms`
//!   (15 min). An attempt while locked is answered 429 `LOGIN_THROTTLED` with
//!   `Retry-After`, without checking the password (no argon2 work) and without counting.
//!   The count is forgotten once the account has had no failure for the lock plus
//!   `login_backoff_max_ms`.
//! - **Per IP** the same, with `login_ip_free_failures` free failures (password spraying
//!   over many usernames from one address), except that a success does not reset it.
//! - **No username oracle**: the account key is the username as typed, whether or not
//!   the user exists; an unknown username costs the same argon2 work and is throttled the
//!   same way, with the same answers.
//! - A password change checks the current password the same way
//!   ([`Gateway::check_current_password`]): a stolen token does not make guessing free.
//! - These throttles are not the rate limiter: no token or key changes them (the HTTP
//!   crate also charges the login route to the per-IP `auth` quota whoever calls it).
//! - **Bounded state**: two LRU maps (`hashlink::LruCache`), accounts and IPs, each of at
//!   most `login_throttle_entries` entries (~100 bytes each: 100 000 entries ≈ 10 MB per
//!   map). When full, the least recently failed entry is dropped (it restarts from zero);
//!   an attacker who wants to reset a target account that way must fail on that many
//!   other accounts first, which the per-IP throttle slows.
//! - Trade-off: anyone can lock an account for up to `login_backoff_max_ms` by failing
//!   on it (as with any per-account lockout); the cap keeps that short.

/// Refused logins, by reason (a Prometheus counter).
pub const LOGIN_FAILURES: &str = "bourse_login_failures_total";

use super::password::HashPool;
use super::AuthConfig;
use crate::error::{Error, Kind};
use crate::Gateway;
use bourse_model::{Role, UserId};
use hashlink::LruCache;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A user whose password matched.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub id: UserId,
    pub role: Role,
    /// The hash the password matched (tokens carry a fingerprint of it).
    pub password_hash: String,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Instant,
}

/// The throttle's settings, from `[auth]`.
#[derive(Debug, Clone, Copy)]
struct Rules {
    free: u32,
    ip_free: u32,
    base: Duration,
    max: Duration,
}

impl Rules {
    fn lock_for(&self, count: u32, free: u32) -> Duration {
        if count <= free {
            return Duration::ZERO;
        }
        let doublings = (count - free - 1).min(40);
        self.base
            .saturating_mul(1u32 << doublings.min(31))
            .min(self.max)
    }
}

/// Per-account and per-IP failure counts (see the module doc).
pub struct LoginThrottle {
    rules: Rules,
    accounts: Mutex<LruCache<[u8; 16], Failures>>,
    ips: Mutex<LruCache<IpAddr, Failures>>,
}

fn account_key(username: &str) -> [u8; 16] {
    // A fixed-size key whatever the length of what was typed.
    let h = blake3::hash(username.as_bytes());
    h.as_bytes()[..16].try_into().expect("16 bytes")
}

impl LoginThrottle {
    pub fn new(config: &AuthConfig) -> Self {
        let cap = config.login_throttle_entries.max(1);
        Self {
            rules: Rules {
                free: config.login_free_failures,
                ip_free: config.login_ip_free_failures,
                base: Duration::from_millis(config.login_backoff_base_ms),
                max: Duration::from_millis(config.login_backoff_max_ms),
            },
            accounts: Mutex::new(LruCache::new(cap)),
            ips: Mutex::new(LruCache::new(cap)),
        }
    }

    /// Starts an attempt: `Err(wait)` if the account or the IP is locked; otherwise the
    /// attempt is counted as a failure (until [`success`](Self::success)).
    pub fn begin(&self, username: &str, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = account_key(username);
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        let mut ips = self.ips.lock().unwrap_or_else(|p| p.into_inner());
        let wait_a = self.locked(&mut accounts, &key, now);
        let wait_i = self.locked(&mut ips, &ip, now);
        let wait = wait_a.max(wait_i);
        if !wait.is_zero() {
            return Err(wait);
        }
        self.fail(&mut accounts, key, self.rules.free, now);
        self.fail(&mut ips, ip, self.rules.ip_free, now);
        Ok(())
    }

    /// The attempt begun for `username` from `ip` succeeded.
    pub fn success(&self, username: &str, ip: IpAddr) {
        let key = account_key(username);
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts.remove(&key);
        drop(accounts);
        let mut ips = self.ips.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = ips.get_mut(&ip) {
            f.count = f.count.saturating_sub(1);
            if f.count <= self.rules.ip_free {
                f.locked_until = f.last;
            }
        }
    }

    /// How long `key` is still locked; forgets an entry whose failures are old enough.
    fn locked<K: Hash + Eq + Copy>(
        &self,
        map: &mut LruCache<K, Failures>,
        key: &K,
        now: Instant,
    ) -> Duration {
        let Some(f) = map.peek(key).copied() else {
            return Duration::ZERO;
        };
        if now >= f.locked_until.max(f.last) + self.rules.max {
            map.remove(key);
            return Duration::ZERO;
        }
        f.locked_until.saturating_duration_since(now)
    }

    fn fail<K: Hash + Eq + Copy>(
        &self,
        map: &mut LruCache<K, Failures>,
        key: K,
        free: u32,
        now: Instant,
    ) {
        let count = map.get(&key).map_or(0, |f| f.count).saturating_add(1);
        let lock = self.rules.lock_for(count, free);
        map.insert(
            key,
            Failures {
                count,
                last: now,
                locked_until: now + lock,
            },
        );
    }

    /// Entries held (accounts, IPs).
    pub fn len(&self) -> (usize, usize) {
        let a = self
            .accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len();
        let i = self.ips.lock().unwrap_or_else(|p| p.into_inner()).len();
        (a, i)
    }
}

fn throttled(wait: Duration) -> Error {
    Error::Later {
        kind: Kind::TooManyRequests,
        code: "LOGIN_THROTTLED",
        message: "too many failed logins for this account or address; retry later".into(),
        retry_after: wait,
    }
}

/// argon2id hash of a random string, for the unknown-user path.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YqFh4ODt7n3Lq4YQ1mEJxNqgr3Ck0cK3kI8Q3pOa2Zk";

impl Gateway {
    /// Checks a username and password (see the module doc for the throttling): the user,
    /// or `INVALID_CREDENTIALS` (unknown user and wrong password are not told apart),
    /// `LOGIN_THROTTLED`, `BUSY`. `ip` is the client's address as the channel knows it.
    pub async fn login(
        &self,
        username: &str,
        password: String,
        ip: Option<IpAddr>,
    ) -> Result<LoggedIn, Error> {
        let ip = ip.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let throttle = &self.auth.login;
        throttle
            .begin(username, ip, Instant::now())
            .map_err(|wait| {
                metrics::counter!(LOGIN_FAILURES, "reason" => "throttled").increment(1);
                throttled(wait)
            })?;
        let user = self.seq.views().user_by_name(username);
        // Same work for an unknown user as for a wrong password, so timing does not
        // reveal usernames.
        let phc = user
            .as_ref()
            .map_or_else(|| DUMMY_HASH.to_owned(), |u| u.password_hash.clone());
        let ok = self.auth.hasher.verify(password, phc).await?;
        match user {
            Some(u) if ok => {
                throttle.success(username, ip);
                Ok(LoggedIn {
                    id: u.id,
                    role: u.role,
                    password_hash: u.password_hash.clone(),
                })
            }
            _ => {
                metrics::counter!(LOGIN_FAILURES, "reason" => "invalid_credentials").increment(1);
                Err(Error::InvalidCredentials)
            }
        }
    }

    /// Checks the current password of a signed-in user (a password change), throttled
    /// like a login of that account.
    pub async fn check_current_password(
        &self,
        id: UserId,
        password: String,
        ip: Option<IpAddr>,
    ) -> Result<(), Error> {
        let user = self
            .seq
            .views()
            .user(id)
            .ok_or_else(|| Error::Unauthorized("invalid token".into()))?;
        self.login(&user.username, password, ip).await.map(|_| ())
    }

    /// The password-hashing pool (register and password change hash through it too).
    pub fn hasher(&self) -> &HashPool {
        &self.auth.hasher
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(free: u32, ip_free: u32) -> LoginThrottle {
        LoginThrottle::new(&AuthConfig {
            login_free_failures: free,
            login_ip_free_failures: ip_free,
            login_backoff_base_ms: 1000,
            login_backoff_max_ms: 900_000,
            login_throttle_entries: 3,
            ..AuthConfig::default()
        })
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const S: Duration = Duration::from_secs(1);

    #[test]
    fn back_off_doubles_after_the_free_failures_and_is_capped() {
        let t = throttle(3, 1000);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(t.begin("alice", IP, t0).is_ok());
        }
        assert!(
            t.begin("alice", IP, t0).is_ok(),
            "the 4th attempt, then 1 s"
        );
        assert_eq!(t.begin("alice", IP, t0), Err(S));
        assert!(t.begin("alice", IP, t0 + S).is_ok());
        assert_eq!(t.begin("alice", IP, t0 + S), Err(2 * S));
        assert!(t.begin("alice", IP, t0 + 3 * S).is_ok());
        assert_eq!(t.begin("alice", IP, t0 + 3 * S), Err(4 * S));
        // Refused attempts do not count: still 4 s after the 6th failure.
        assert_eq!(t.begin("alice", IP, t0 + 4 * S), Err(3 * S));
        let rules = t.rules;
        assert_eq!(rules.lock_for(100, 3), Duration::from_secs(900), "capped");
        // Another account is independent.
        assert!(t.begin("bob", IP, t0 + 3 * S).is_ok());
    }

    #[test]
    fn success_resets_the_account_not_the_ip() {
        let t = throttle(1, 2);
        let t0 = Instant::now();
        assert!(t.begin("alice", IP, t0).is_ok());
        assert!(t.begin("alice", IP, t0).is_ok());
        assert!(t.begin("alice", IP, t0).is_err(), "locked");
        assert!(t.begin("alice", IP, t0 + S).is_ok());
        t.success("alice", IP);
        assert!(t.begin("alice", IP, t0 + S).is_ok(), "reset");
        t.success("alice", IP);
        // The IP kept its two failures (its free ones): the next failure locks it.
        assert!(t.begin("x", IP, t0 + S).is_ok());
        assert!(t.begin("y", IP, t0 + S).is_err(), "the IP is locked");
    }

    #[test]
    fn state_is_bounded_and_forgets() {
        let t = throttle(0, 1000);
        let t0 = Instant::now();
        for name in ["a", "b", "c", "d", "e"] {
            assert!(t.begin(name, IP, t0).is_ok());
        }
        assert_eq!(t.len(), (3, 1), "at most 3 entries per map");
        // "e" is locked for 1 s; after the lock and the cap of quiet it is forgotten.
        assert!(t.begin("e", IP, t0).is_err());
        let later = t0 + S + Duration::from_secs(900);
        assert!(t.begin("e", IP, later).is_ok());
        assert!(
            t.begin("e", IP, later).is_err(),
            "counted afresh: 1 failure, 1 s"
        );
    }
}
