use super::*;
use governor::clock::FakeRelativeClock;
use std::net::Ipv4Addr;

fn rates(class: Class, q: Quota) -> HashMap<Class, Rate> {
    HashMap::from([(class, q.rate().unwrap())])
}

const C: Class = Class::Anonymous;

#[test]
fn weights_are_charged_and_the_numbers_add_up() {
    let clock = FakeRelativeClock::default();
    // 10 units a second (one per 100 ms), 20 at once.
    let store = memory::MemoryStore::with_clock(&rates(C, Quota::new(10, 20)), clock.clone());
    let k = Key::User(1);
    let d = store.check(C, k, 5).unwrap();
    assert!(d.allowed);
    assert_eq!((d.limit, d.remaining), (20, 15));
    assert_eq!(d.reset, Duration::from_millis(500));
    for _ in 0..3 {
        assert!(store.check(C, k, 5).unwrap().allowed);
    }
    let d = store.check(C, k, 5).unwrap();
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    assert_eq!(
        d.retry_after,
        Duration::from_millis(500),
        "5 units at 100 ms each"
    );
    assert_eq!(d.reset, Duration::from_secs(2));
    // A light request fits sooner than a heavy one.
    clock.advance(Duration::from_millis(100));
    assert!(store.check(C, k, 1).unwrap().allowed);
    assert!(!store.check(C, k, 1).unwrap().allowed);
    // Heavier than the bucket: never.
    assert!(!store.check(C, Key::User(2), 21).unwrap().allowed);
    // Other keys are independent; unlisted classes are unlimited.
    assert!(store.check(C, Key::User(3), 20).unwrap().allowed);
    assert!(store.check(Class::Auth, k, 1).is_none());
}

#[test]
fn sustained_rate_never_exceeds_the_quota() {
    // A request every 1 ms for 2 s at 50/s burst 5: at most 5 + 2 × 50 pass.
    let clock = FakeRelativeClock::default();
    let store = memory::MemoryStore::with_clock(&rates(C, Quota::new(50, 5)), clock.clone());
    let key = Key::ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut passed = 0;
    for _ in 0..2000 {
        passed += usize::from(store.check(C, key, 1).unwrap().allowed);
        clock.advance(Duration::from_millis(1));
    }
    assert!((100..=105).contains(&passed), "{passed}");
}

#[test]
fn ipv6_clients_share_their_slash_64() {
    let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
    let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(Key::ip(a), Key::ip(b));
    assert_ne!(Key::ip(a), Key::ip(other));
    let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
    assert_eq!(Key::ip(mapped), Key::Ip("10.0.0.1".parse().unwrap()));
}

/// Memory stays bounded: a million distinct client IPs make a million entries, and once
/// their buckets have refilled a prune forgets all of them (and gives the map's memory
/// back). The RSS figures are printed for the record (`--nocapture`).
#[test]
fn a_million_ips_are_forgotten_once_idle() {
    let clock = FakeRelativeClock::default();
    let store = memory::MemoryStore::with_clock(&rates(C, Quota::new(20, 40)), clock.clone());
    let rss_before = rss_kib();
    for i in 0..1_000_000u32 {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        assert!(store.check(C, Key::ip(ip), 1).unwrap().allowed);
    }
    assert_eq!(store.len(), 1_000_000);
    let rss_full = rss_kib();
    // Not yet refilled: nothing may be forgotten (that would reset their budgets).
    store.prune();
    assert_eq!(store.len(), 1_000_000);
    // 1 unit at 20/s refills in 50 ms; governor forgets a key one interval after that.
    clock.advance(Duration::from_millis(101));
    store.prune();
    assert_eq!(store.len(), 0);
    let rss_after = rss_kib();
    println!(
        "1M IPs: RSS {rss_before} KiB → {rss_full} KiB with every key → {rss_after} KiB after prune"
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn weight_overrides_are_checked() {
    let mut c = LimitsConfig::default();
    let w = weights::Weights::new(&c).unwrap();
    assert_eq!(w.of("GET", "/api/v1/orders"), 10);
    assert_eq!(w.of("GET", "/api/v1/markets"), 1);
    assert_eq!(w.of("POST", "/api/v1/orders"), 1);
    c.weights.insert("POST /api/v1/orders".into(), 3);
    c.default_weight = 2;
    let w = weights::Weights::new(&c).unwrap();
    assert_eq!(w.of("POST", "/api/v1/orders"), 3);
    assert_eq!(w.of("GET", "/api/v1/markets"), 2);
    c.weights.insert("orders".into(), 3);
    assert!(c.validate().unwrap_err().contains("METHOD"));
    c.weights.clear();
    c.weights.insert("GET /x".into(), 0);
    assert!(c.validate().is_err());
    c.weights.clear();
    c.store = "redis:/oops".into();
    assert!(c.validate().is_err());
}

#[tokio::test]
async fn disabled_limits_and_zero_quotas_never_refuse() {
    let mut c = LimitsConfig {
        enabled: false,
        ..LimitsConfig::default()
    };
    let l = RateLimiter::new(&c).unwrap();
    assert_eq!(l.check(C, Key::User(1), 1000).await.unwrap(), None);
    c.enabled = true;
    c.anonymous = Quota::new(0, 0);
    let l = RateLimiter::new(&c).unwrap();
    for _ in 0..1000 {
        assert_eq!(l.check(C, Key::User(1), 1000).await.unwrap(), None);
    }
}

#[tokio::test]
async fn orders_are_limited_per_10s_and_per_day_by_tier() {
    let c = LimitsConfig {
        orders: OrderLimits {
            standard: OrderQuota::new(3, 1000),
            premium: OrderQuota::new(100, 4),
            broker: OrderQuota::new(0, 0),
        },
        ..LimitsConfig::default()
    };
    let l = RateLimiter::new(&c).unwrap();
    let u = UserId(9);
    for _ in 0..3 {
        l.check_order(u, Tier::Standard).await.unwrap();
    }
    let e = l.check_order(u, Tier::Standard).await.unwrap_err();
    assert_eq!(e.code(), "ORDER_RATE_LIMITED");
    let retry = e.retry_after().unwrap();
    assert!(
        retry > Duration::from_secs(3) && retry <= Duration::from_secs(4),
        "{retry:?}"
    );
    // Premium: the day window binds (4 a day: the next in 6 h).
    for _ in 0..4 {
        l.check_order(UserId(10), Tier::Premium).await.unwrap();
    }
    let e = l.check_order(UserId(10), Tier::Premium).await.unwrap_err();
    assert!(e.retry_after().unwrap() > Duration::from_secs(5 * 3600));
    // Broker: unlimited.
    for _ in 0..500 {
        l.check_order(UserId(11), Tier::Broker).await.unwrap();
    }
}

/// Two limiters (two processes) on one Redis and one prefix enforce one limit; a
/// closed port fails open or closed as configured. Needs Redis on 127.0.0.1:6379.
#[tokio::test]
async fn redis_store_is_shared_and_fails_as_configured() {
    let prefix = format!(
        "bourse-test:{}:{}:",
        std::process::id(),
        rand::random::<u32>()
    );
    let c = LimitsConfig {
        store: "redis://127.0.0.1:6379".into(),
        redis_prefix: prefix,
        anonymous: Quota::new(1, 10),
        ..LimitsConfig::default()
    };
    let a = RateLimiter::new(&c).unwrap();
    let b = RateLimiter::new(&c).unwrap();
    let key = Key::ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    let mut allowed = 0;
    for i in 0..30 {
        let l = if i % 2 == 0 { &a } else { &b };
        let d = l
            .check(C, key, 1)
            .await
            .unwrap()
            .expect("limited (is Redis running on 127.0.0.1:6379?)");
        assert_eq!(d.limit, 10);
        allowed += usize::from(d.allowed);
    }
    assert!((10..=11).contains(&allowed), "{allowed}");
    assert!(a.store_health().ok);

    for (mode, closed) in [(FailureMode::Open, false), (FailureMode::Closed, true)] {
        let down = RateLimiter::new(&LimitsConfig {
            store: "redis://127.0.0.1:1".into(),
            redis_failure: mode,
            redis_timeout_ms: 200,
            ..c.clone()
        })
        .unwrap();
        let r = down.check(C, key, 1).await;
        if closed {
            assert_eq!(r.unwrap_err().code(), "RATE_LIMIT_UNAVAILABLE");
        } else {
            assert!(r.unwrap().unwrap().allowed);
        }
        assert_eq!(
            down.store_health(),
            StoreHealth {
                kind: "redis",
                ok: false
            }
        );
    }
}

#[tokio::test]
async fn a_penalty_empties_what_is_left() {
    let c = LimitsConfig {
        unverified: Quota::new(1, 60),
        ..LimitsConfig::default()
    };
    let l = RateLimiter::new(&c).unwrap();
    let k = Key::User(1);
    let check = || l.check(Class::Unverified, k, 1);
    assert_eq!(check().await.unwrap().unwrap().remaining, 59);
    l.penalize(Class::Unverified, k, 50).await.unwrap();
    assert_eq!(check().await.unwrap().unwrap().remaining, 8);
    // 7 left: a penalty of 50 takes all of it (a plain check would take nothing).
    l.penalize(Class::Unverified, k, 50).await.unwrap();
    assert!(!check().await.unwrap().unwrap().allowed);
}
