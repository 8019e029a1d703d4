//! The in-memory store: one governor keyed GCRA limiter (a sharded `DashMap` of one
//! 8-byte theoretical arrival time per key) per [`Class`].
//!
//! Why governor rather than the hand-written GCRA it replaced (a `Mutex<HashMap>`):
//! same algorithm and memory per key, but its map is sharded (no single lock on every
//! request), it has weighted checks (`check_key_n`) and the state snapshot the
//! `RateLimit-*` headers need, and it can drop idle keys (`retain_recent`) and give the
//! memory back (`shrink_to_fit`). A tier change moves a user to another class's limiter,
//! so it starts afresh under the new quota. Measured with 1 M distinct client IPs (the
//! test `a_million_ips_are_forgotten_once_idle`): the map grows to 1 M entries, and once
//! they have refilled one prune brings it back to 0.

use super::{Class, Decision, Key, Rate};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

type Limiter<C> = governor::RateLimiter<Key, DashMapStateStore<Key>, C, StateInformationMiddleware>;

struct Bucket<C: Clock> {
    rate: Rate,
    limiter: Limiter<C>,
}

pub struct MemoryStore<C: Clock = DefaultClock> {
    clock: C,
    buckets: HashMap<Class, Bucket<C>>,
}

impl MemoryStore<DefaultClock> {
    pub fn new(rates: &HashMap<Class, Rate>) -> Self {
        Self::with_clock(rates, DefaultClock::default())
    }
}

fn quota(rate: Rate) -> governor::Quota {
    let burst = NonZeroU32::new(rate.burst.max(1)).unwrap_or(NonZeroU32::MIN);
    governor::Quota::with_period(rate.interval.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MAX))
        .allow_burst(burst)
}

impl<C: Clock + Clone> MemoryStore<C> {
    pub fn with_clock(rates: &HashMap<Class, Rate>, clock: C) -> Self {
        let buckets = rates
            .iter()
            .map(|(class, rate)| {
                let limiter =
                    governor::RateLimiter::dashmap_with_clock(quota(*rate), clock.clone())
                        .with_middleware::<StateInformationMiddleware>();
                (
                    *class,
                    Bucket {
                        rate: *rate,
                        limiter,
                    },
                )
            })
            .collect();
        Self { clock, buckets }
    }

    /// `None` when `class` is unlimited.
    pub fn check(&self, class: Class, key: Key, weight: u32) -> Option<Decision> {
        let b = self.buckets.get(&class)?;
        let n = NonZeroU32::new(weight).unwrap_or(NonZeroU32::MIN);
        let t = b.rate.interval;
        let burst = b.rate.burst;
        Some(match b.limiter.check_key_n(&key, n) {
            Ok(Ok(snapshot)) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit: burst,
                    remaining,
                    reset: t * burst.saturating_sub(remaining),
                    retry_after: Duration::ZERO,
                }
            }
            Ok(Err(not_until)) => {
                let retry = not_until.wait_time_from(self.clock.now());
                Decision {
                    allowed: false,
                    limit: burst,
                    remaining: 0,
                    reset: retry + t * burst.saturating_sub(weight),
                    retry_after: retry,
                }
            }
            // Heavier than the whole bucket: it can never pass under this quota.
            Err(_) => Decision {
                allowed: false,
                limit: burst,
                remaining: 0,
                reset: t * burst,
                retry_after: t * burst,
            },
        })
    }

    pub fn prune(&self) {
        for b in self.buckets.values() {
            b.limiter.retain_recent();
            b.limiter.shrink_to_fit();
        }
    }

    pub fn len(&self) -> usize {
        self.buckets.values().map(|b| b.limiter.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
