//! The shared store: every check is one Lua script run atomically by Redis (GCRA, the
//! same algorithm as the memory store), so any number of Bourse processes pointing at one
//! Redis enforce one combined limit.
//!
//! Rules:
//! - One key per bucket, `{redis_prefix}{class}:{key}`, holding the theoretical arrival
//!   time in µs of Redis's own clock (`TIME`): the processes' clocks never matter.
//! - Every key has a TTL of its refill time: an idle bucket disappears by itself.
//! - A check that fails or takes longer than `redis_timeout_ms` is an outage: the caller
//!   applies `redis_failure`, and the store is down for `/health` until a check or the
//!   one-second probe (`PING`) succeeds again. Connection attempts are lazy and retried
//!   by redis' `ConnectionManager`, so a start with Redis down still serves.

use super::{Class, Decision, Key, LimitsConfig, Rate};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// GCRA with weight. KEYS[1] = bucket; ARGV = interval (µs per unit), burst, weight.
/// Returns `{allowed, remaining, retry_after_us, reset_us}`. Numbers are written with
/// `%.0f`: Lua's default number format keeps 14 digits and a µs clock has 16.
const GCRA: &str = r"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local new_tat = tat + n * interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  local left = math.floor((now + burst * interval - tat) / interval)
  if left < 0 then left = 0 end
  return {0, left, allow_at - now, tat - now}
end
local ttl = math.ceil((new_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', ttl))
return {1, math.floor((now + burst * interval - new_tat) / interval), 0, new_tat - now}
";

pub struct RedisStore {
    conn: ConnectionManager,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
    up: AtomicBool,
}

impl RedisStore {
    pub fn new(config: &LimitsConfig) -> Result<Self, String> {
        let client = redis::Client::open(config.store.as_str())
            .map_err(|e| format!("[limits] store = {:?}: {e}", config.store))?;
        let timeout = Duration::from_millis(config.redis_timeout_ms.max(1));
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| format!("[limits] store = {:?}: {e}", config.store))?;
        Ok(Self {
            conn,
            script: redis::Script::new(GCRA),
            prefix: config.redis_prefix.clone(),
            timeout,
            up: AtomicBool::new(true),
        })
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    fn mark(&self, up: bool, why: &dyn std::fmt::Display) {
        if self.up.swap(up, Ordering::Relaxed) != up {
            if up {
                tracing::info!("rate-limit store (redis) reachable again");
            } else {
                tracing::warn!(error = %why, "rate-limit store (redis) unreachable");
            }
        }
    }

    /// `Err(())` on an outage (already logged and recorded for `/health`).
    pub async fn check(
        &self,
        class: Class,
        key: Key,
        rate: Rate,
        weight: u32,
    ) -> Result<Decision, ()> {
        let bucket = format!("{}{}:{}", self.prefix, class.name(), key.store_key());
        let interval_us = u64::try_from(rate.interval.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut conn = self.conn.clone();
        let mut call = self.script.key(bucket);
        call.arg(interval_us).arg(rate.burst).arg(weight);
        let result = tokio::time::timeout(
            self.timeout,
            call.invoke_async::<(i64, i64, i64, i64)>(&mut conn),
        )
        .await;
        let (allowed, remaining, retry_us, reset_us) = match result {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                self.mark(false, &e);
                return Err(());
            }
            Err(_) => {
                self.mark(false, &"timed out");
                return Err(());
            }
        };
        self.mark(true, &"");
        let us = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        Ok(Decision {
            allowed: allowed == 1,
            limit: rate.burst,
            remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
            reset: us(reset_us),
            retry_after: us(retry_us),
        })
    }

    /// `PING`: notices an outage, and the end of one, without traffic.
    pub async fn probe(&self) {
        let mut conn = self.conn.clone();
        let ping = redis::cmd("PING");
        match tokio::time::timeout(self.timeout, ping.query_async::<String>(&mut conn)).await {
            Ok(Ok(_)) => self.mark(true, &""),
            Ok(Err(e)) => self.mark(false, &e),
            Err(_) => self.mark(false, &"timed out"),
        }
    }
}
