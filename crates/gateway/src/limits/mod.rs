//! Rate limits for every channel: request budgets in **weight** per caller, a separate
//! **order rate** per user, and the WebSocket's connection, message and auth-frame rates.
//! Over a limit the answer is [`Error::RateLimited`] (HTTP 429 `RATE_LIMITED` or
//! `ORDER_RATE_LIMITED` with `Retry-After`; a WebSocket error frame).
//!
//! Rules:
//! - Every check is one GCRA (generic cell rate algorithm) step on one `(class, key)`
//!   bucket: a [`Class`] says which quota applies (a tier, `anonymous`, `auth`, …), a
//!   [`Key`] whose bucket it is (a user, a client IP, a WebSocket connection). A request
//!   costs its route's weight ([`weights`]); a bucket holds `burst` units and refills at
//!   `per_second` units a second. A quota with `per_second = 0` is unlimited;
//!   `enabled = false` turns every limit off (benchmarks, schemathesis).
//! - A request is charged **before** its credential is checked: a request that carries a
//!   credential first costs 1 unit of its IP's `unverified` bucket; then the credential is
//!   checked; a verified caller pays the route's weight from the user bucket of their
//!   **current** tier (`admin` for admins); a failed check costs the IP's `unverified`
//!   bucket `failed_auth_weight` more and the request is charged as anonymous. A flood of
//!   made-up keys so meets its 429 before the server checks them.
//! - Anonymous requests pay the route's weight from their IP's `anonymous` bucket; login
//!   and registration always use the stricter per-IP `auth` bucket, token or not.
//! - Orders (any channel: the check is in [`Gateway::place`](crate::Gateway::place)) are
//!   limited per user by tier, per 10 s and per day ([`OrderLimits`]), on top of the
//!   request budget.
//! - IPv6 clients are keyed by their /64 (one host usually owns a whole /64, so keying by
//!   the full address would let it rotate through 2^64 buckets).
//! - Stores: `memory` (per process, [`memory`], governor's keyed GCRA) or `redis://…`
//!   ([`redis`], one Lua script per check), so several processes enforce one combined
//!   limit. If Redis cannot be reached, `redis_failure = "open"` lets requests through and
//!   `"closed"` refuses them (503 `RATE_LIMIT_UNAVAILABLE`); either way `/health` is
//!   degraded and names the store. WebSocket message rates are always in memory: a
//!   connection lives in one process, and a Redis round trip per frame buys nothing.
//! - Idle state expires: a bucket that has refilled is indistinguishable from a new one
//!   and is dropped (memory: [`RateLimiter::prune`], run every `prune_interval_ms`;
//!   Redis: every key has a TTL of its refill time).

pub mod memory;
pub mod redis;
pub mod weights;

/// Refusals answered to callers, by class (a Prometheus counter).
pub const RATE_LIMIT_REFUSALS: &str = "bourse_rate_limit_refusals_total";

use crate::auth::Caller;
use crate::error::Error;
use bourse_model::{Role, Tier, UserId};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Sustained rate and burst of one class of callers, in weight units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Units per second; 0 = unlimited.
    pub per_second: u32,
    /// Units a bucket holds (at least 1): how much may arrive at once.
    pub burst: u32,
}

impl Quota {
    pub const fn new(per_second: u32, burst: u32) -> Self {
        Self { per_second, burst }
    }

    fn rate(self) -> Option<Rate> {
        (self.per_second > 0).then(|| Rate {
            interval: Duration::from_secs(1) / self.per_second,
            burst: self.burst.max(1),
        })
    }
}

/// Orders one user of a tier may place, per 10 s and per day (0 = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderQuota {
    pub per_10s: u32,
    pub per_day: u32,
}

impl OrderQuota {
    pub const fn new(per_10s: u32, per_day: u32) -> Self {
        Self { per_10s, per_day }
    }
}

/// `[limits.orders]`: the order rate by tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrderLimits {
    pub standard: OrderQuota,
    pub premium: OrderQuota,
    pub broker: OrderQuota,
}

impl Default for OrderLimits {
    fn default() -> Self {
        Self {
            standard: OrderQuota::new(100, 200_000),
            premium: OrderQuota::new(300, 500_000),
            broker: OrderQuota::new(1000, 2_000_000),
        }
    }
}

impl OrderLimits {
    pub fn for_tier(&self, tier: Tier) -> OrderQuota {
        match tier {
            Tier::Standard => self.standard,
            Tier::Premium => self.premium,
            Tier::Broker => self.broker,
        }
    }
}

/// What to do when the shared store (Redis) cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FailureMode {
    /// Let requests through unlimited (availability first).
    #[default]
    Open,
    /// Refuse limited requests with 503 `RATE_LIMIT_UNAVAILABLE`.
    Closed,
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
    /// Per client IP, `POST /api/v1/auth/login` and `/register` (whatever credential).
    pub auth: Quota,
    /// Per client IP, every request that carries a credential, charged 1 before the
    /// credential is checked.
    pub unverified: Quota,
    /// What a refused credential costs its IP's `unverified` bucket on top.
    pub failed_auth_weight: u32,
    /// Weight of a route not in the table.
    pub default_weight: u32,
    /// `"METHOD /route/{template}" = weight`: overrides and additions to the built-in
    /// table ([`weights::DEFAULT_WEIGHTS`]).
    pub weights: BTreeMap<String, u32>,
    /// Orders per user by tier.
    pub orders: OrderLimits,
    /// Per client IP: WebSocket upgrade attempts.
    pub ws_connect: Quota,
    /// Per client IP: `auth` frames, charged before the credential is checked.
    pub ws_auth: Quota,
    /// Per connection: inbound frames.
    pub ws_messages: Quota,
    /// Refused frames in a row after which a connection is closed (4029); 0 = never.
    pub ws_abuse_strikes: u32,
    /// `memory` or `redis://host:port[/db]`.
    pub store: String,
    /// Prefix of every Redis key (several deployments or tests can share one Redis).
    pub redis_prefix: String,
    pub redis_failure: FailureMode,
    /// A Redis check that takes longer counts as a failure.
    pub redis_timeout_ms: u64,
    /// How often idle in-memory state is dropped.
    pub prune_interval_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            standard: Quota::new(50, 100),
            premium: Quota::new(250, 500),
            broker: Quota::new(1000, 2000),
            admin: Quota::new(2000, 4000),
            anonymous: Quota::new(20, 40),
            auth: Quota::new(5, 20),
            unverified: Quota::new(1000, 2000),
            failed_auth_weight: 50,
            default_weight: 1,
            weights: BTreeMap::new(),
            orders: OrderLimits::default(),
            ws_connect: Quota::new(10, 20),
            ws_auth: Quota::new(2, 10),
            ws_messages: Quota::new(20, 50),
            ws_abuse_strikes: 20,
            store: "memory".into(),
            redis_prefix: "bourse:rl:".into(),
            redis_failure: FailureMode::Open,
            redis_timeout_ms: 250,
            prune_interval_ms: 10_000,
        }
    }
}

impl LimitsConfig {
    /// The request-budget class of a verified caller.
    pub fn class_of(user: &Caller) -> Class {
        if user.role == Role::Admin {
            Class::Admin
        } else {
            Class::Tier(user.tier)
        }
    }

    fn quota(&self, class: Class) -> Option<Rate> {
        let per_10s = |q: OrderQuota| {
            (q.per_10s > 0).then(|| Rate {
                interval: Duration::from_secs(10) / q.per_10s,
                burst: q.per_10s,
            })
        };
        let per_day = |q: OrderQuota| {
            (q.per_day > 0).then(|| Rate {
                interval: Duration::from_secs(86_400) / q.per_day,
                burst: q.per_day,
            })
        };
        match class {
            Class::Tier(Tier::Standard) => self.standard.rate(),
            Class::Tier(Tier::Premium) => self.premium.rate(),
            Class::Tier(Tier::Broker) => self.broker.rate(),
            Class::Admin => self.admin.rate(),
            Class::Anonymous => self.anonymous.rate(),
            Class::Auth => self.auth.rate(),
            Class::Unverified => self.unverified.rate(),
            Class::Orders10s(t) => per_10s(self.orders.for_tier(t)),
            Class::OrdersDay(t) => per_day(self.orders.for_tier(t)),
            Class::WsConnect => self.ws_connect.rate(),
            Class::WsAuth => self.ws_auth.rate(),
            Class::WsMessages => self.ws_messages.rate(),
        }
    }

    /// Checks what serde cannot: the store URL and the weight table's keys.
    pub fn validate(&self) -> Result<(), String> {
        if self.store != "memory" && !self.store.starts_with("redis://") {
            return Err(format!(
                "[limits] store = {:?}: expected \"memory\" or \"redis://host:port\"",
                self.store
            ));
        }
        weights::Weights::new(self).map(|_| ())
    }
}

/// Which quota a bucket is under. Also part of its store key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Tier(Tier),
    Admin,
    Anonymous,
    Auth,
    Unverified,
    Orders10s(Tier),
    OrdersDay(Tier),
    WsConnect,
    WsAuth,
    WsMessages,
}

impl Class {
    pub const ALL: [Class; 16] = [
        Class::Tier(Tier::Standard),
        Class::Tier(Tier::Premium),
        Class::Tier(Tier::Broker),
        Class::Admin,
        Class::Anonymous,
        Class::Auth,
        Class::Unverified,
        Class::Orders10s(Tier::Standard),
        Class::Orders10s(Tier::Premium),
        Class::Orders10s(Tier::Broker),
        Class::OrdersDay(Tier::Standard),
        Class::OrdersDay(Tier::Premium),
        Class::OrdersDay(Tier::Broker),
        Class::WsConnect,
        Class::WsAuth,
        Class::WsMessages,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Tier(Tier::Standard) => "standard",
            Class::Tier(Tier::Premium) => "premium",
            Class::Tier(Tier::Broker) => "broker",
            Class::Admin => "admin",
            Class::Anonymous => "anonymous",
            Class::Auth => "auth",
            Class::Unverified => "unverified",
            Class::Orders10s(Tier::Standard) => "orders10s:standard",
            Class::Orders10s(Tier::Premium) => "orders10s:premium",
            Class::Orders10s(Tier::Broker) => "orders10s:broker",
            Class::OrdersDay(Tier::Standard) => "ordersday:standard",
            Class::OrdersDay(Tier::Premium) => "ordersday:premium",
            Class::OrdersDay(Tier::Broker) => "ordersday:broker",
            Class::WsConnect => "ws_connect",
            Class::WsAuth => "ws_auth",
            Class::WsMessages => "ws_messages",
        }
    }
}

/// Whose bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    User(u64),
    /// Built with [`Key::ip`] (IPv6 masked to its /64).
    Ip(IpAddr),
    /// One WebSocket connection.
    Conn(u64),
}

impl Key {
    pub fn ip(ip: IpAddr) -> Key {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Key::Ip(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    Key::Ip(IpAddr::V6(Ipv6Addr::from(bits)))
                }
            },
            v4 => Key::Ip(v4),
        }
    }

    pub fn user(user: UserId) -> Key {
        Key::User(user.0)
    }

    fn store_key(&self) -> String {
        match self {
            Key::User(u) => format!("u:{u}"),
            Key::Ip(ip) => format!("ip:{ip}"),
            Key::Conn(c) => format!("c:{c}"),
        }
    }
}

/// One quota in store terms: a unit is replenished every `interval`, a bucket holds `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub interval: Duration,
    pub burst: u32,
}

/// The outcome of one check (the numbers the `RateLimit-*` headers show).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The bucket's size (`burst`).
    pub limit: u32,
    /// Units left after this request.
    pub remaining: u32,
    /// Until the bucket is full again.
    pub reset: Duration,
    /// When refused: until this request's weight would pass.
    pub retry_after: Duration,
}

impl Decision {
    /// A check the store could not answer, let through (`redis_failure = "open"`).
    fn failed_open(rate: Rate) -> Decision {
        Decision {
            allowed: true,
            limit: rate.burst,
            remaining: rate.burst,
            reset: Duration::ZERO,
            retry_after: Duration::ZERO,
        }
    }
}

/// What `/health` says of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreHealth {
    /// `memory` or `redis`.
    pub kind: &'static str,
    pub ok: bool,
}

enum Store {
    Memory,
    Redis(redis::RedisStore),
}

/// The limiter every channel charges; see the module doc for the rules.
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    config: LimitsConfig,
    weights: weights::Weights,
    rates: HashMap<Class, Rate>,
    /// Always present: the `memory` store's buckets, and those of classes never shared.
    local: memory::MemoryStore,
    store: Store,
}

impl RateLimiter {
    /// Builds the limiter of `config`. With a runtime at hand, starts the task that drops
    /// idle state and probes Redis (it ends with the limiter).
    pub fn new(config: &LimitsConfig) -> Result<Self, String> {
        config.validate()?;
        let rates: HashMap<Class, Rate> = Class::ALL
            .iter()
            .filter_map(|c| config.quota(*c).map(|r| (*c, r)))
            .collect();
        // Limits off: nothing is charged, so no Redis connection either.
        let store = if config.store == "memory" || !config.enabled {
            Store::Memory
        } else {
            Store::Redis(redis::RedisStore::new(config)?)
        };
        let inner = Arc::new(Inner {
            weights: weights::Weights::new(config)?,
            local: memory::MemoryStore::new(&rates),
            rates,
            store,
            config: config.clone(),
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(maintain(Arc::downgrade(&inner)));
        }
        Ok(Self { inner })
    }

    pub fn enabled(&self) -> bool {
        self.inner.config.enabled
    }

    pub fn config(&self) -> &LimitsConfig {
        &self.inner.config
    }

    /// The weight of a route (`method` upper case, `template` as routed, e.g.
    /// `/api/v1/orders/{id}`).
    pub fn weight(&self, method: &str, template: &str) -> u32 {
        self.inner.weights.of(method, template)
    }

    /// Charges `weight` to `key`'s bucket of `class`. `Ok(None)`: not limited (limits
    /// off, or the class is unlimited). `Err` only when the store cannot be reached and
    /// `redis_failure = "closed"`.
    /// A refusal is counted in [`RATE_LIMIT_REFUSALS`] (every refusal a caller sees
    /// passes here; [`penalize`](Self::penalize)'s probing does not).
    pub async fn check(
        &self,
        class: Class,
        key: Key,
        weight: u32,
    ) -> Result<Option<Decision>, Error> {
        let decision = self.check_uncounted(class, key, weight).await;
        if let Ok(Some(d)) = &decision {
            if !d.allowed {
                metrics::counter!(RATE_LIMIT_REFUSALS, "class" => class.name()).increment(1);
            }
        }
        decision
    }

    async fn check_uncounted(
        &self,
        class: Class,
        key: Key,
        weight: u32,
    ) -> Result<Option<Decision>, Error> {
        let inner = &self.inner;
        if !inner.config.enabled {
            return Ok(None);
        }
        let Some(rate) = inner.rates.get(&class).copied() else {
            return Ok(None);
        };
        let weight = weight.max(1);
        match &inner.store {
            Store::Memory => Ok(inner.local.check(class, key, weight)),
            Store::Redis(_) if class == Class::WsMessages => {
                Ok(inner.local.check(class, key, weight))
            }
            Store::Redis(r) => match r.check(class, key, rate, weight).await {
                Ok(d) => Ok(Some(d)),
                Err(()) => match inner.config.redis_failure {
                    FailureMode::Open => Ok(Some(Decision::failed_open(rate))),
                    FailureMode::Closed => Err(Error::LimitStoreUnavailable),
                },
            },
        }
    }

    /// Like [`check`](Self::check), turning a refusal into [`Error::RateLimited`].
    pub async fn charge(
        &self,
        class: Class,
        key: Key,
        weight: u32,
        code: &'static str,
    ) -> Result<Option<Decision>, Error> {
        match self.check(class, key, weight).await? {
            Some(d) if !d.allowed => Err(Error::rate_limited(code, d.retry_after)),
            other => Ok(other),
        }
    }

    /// Takes `weight` units from a bucket, or all it holds if that is less (a plain check
    /// that does not fit takes nothing). Halving until a charge fits: a few checks, only
    /// on a penalty's rare path.
    pub async fn penalize(&self, class: Class, key: Key, weight: u32) -> Result<(), Error> {
        let Some(rate) = self.inner.rates.get(&class) else {
            return Ok(());
        };
        let mut left = weight.min(rate.burst);
        let mut w = left;
        while w > 0 {
            match self.check_uncounted(class, key, w).await? {
                Some(d) if !d.allowed => w /= 2,
                _ => {
                    left -= w;
                    w = w.min(left);
                }
            }
        }
        Ok(())
    }

    /// The order rate of `user` (tier `tier`): one order per 10 s window and per day.
    /// A refusal is `ORDER_RATE_LIMITED`; an order refused by the day window still
    /// counts in the 10 s one (like Binance, refused orders count).
    pub async fn check_order(&self, user: UserId, tier: Tier) -> Result<(), Error> {
        for class in [Class::Orders10s(tier), Class::OrdersDay(tier)] {
            self.charge(class, Key::user(user), 1, "ORDER_RATE_LIMITED")
                .await?;
        }
        Ok(())
    }

    pub fn store_health(&self) -> StoreHealth {
        match &self.inner.store {
            Store::Memory => StoreHealth {
                kind: "memory",
                ok: true,
            },
            Store::Redis(r) => StoreHealth {
                kind: "redis",
                ok: r.is_up(),
            },
        }
    }

    /// Drops the in-memory buckets that have refilled (indistinguishable from new ones).
    pub fn prune(&self) {
        self.inner.local.prune();
    }

    /// In-memory buckets held now (all classes).
    pub fn tracked_keys(&self) -> usize {
        self.inner.local.len()
    }
}

/// Every `prune_interval_ms`: drop idle buckets; probe Redis so `/health` notices an
/// outage (and a recovery) without waiting for traffic.
async fn maintain(inner: Weak<Inner>) {
    let every = match inner.upgrade() {
        Some(i) => Duration::from_millis(i.config.prune_interval_ms.max(100)),
        None => return,
    };
    let probe_every = Duration::from_secs(1).min(every);
    let mut since_prune = Duration::ZERO;
    loop {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if let Store::Redis(r) = &inner.store {
            r.probe().await;
        }
        if since_prune >= every {
            since_prune = Duration::ZERO;
            inner.local.prune();
        }
        drop(inner);
        tokio::time::sleep(probe_every).await;
        since_prune += probe_every;
    }
}

#[cfg(test)]
mod tests;
