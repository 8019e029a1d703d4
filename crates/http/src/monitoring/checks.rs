//! The dependency checks of `GET /health`: what each says, and the cache of the ones
//! that cost I/O.
//!
//! Answers name no paths or OS errors (`/health` is anonymous): a failed check says a
//! fixed word in `detail` and the reason goes to the server log.

use super::HealthSettings;
use bourse_store::Store;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One check. Fields that do not apply to it are left out.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Check {
    /// `false`: this dependency is failing (the top-level `status` says how bad that is).
    pub ok: bool,
    /// Why it fails, in fixed words (`unreachable`, `timeout`, `below minimum`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
    /// Round trip of the probe, in microseconds (database).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
    /// Commands committed but not yet in the read models (read model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<u64>,
    /// Free bytes in the data dir, and the configured minimum (disk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_free_bytes: Option<u64>,
}

impl Check {
    pub fn ok() -> Self {
        Self {
            ok: true,
            detail: None,
            latency_us: None,
            lag: None,
            free_bytes: None,
            min_free_bytes: None,
        }
    }

    pub fn failing(detail: &'static str) -> Self {
        Self {
            ok: false,
            detail: Some(detail),
            ..Self::ok()
        }
    }

    fn or_fail(ok: bool, detail: &'static str) -> Self {
        if ok {
            Self::ok()
        } else {
            Self::failing(detail)
        }
    }
}

/// Every check by name, as `checks` in the `/health` body.
pub type Checks = BTreeMap<&'static str, Check>;

/// The I/O checks of the last `cache_ms`. One caller at a time refreshes them; callers
/// arriving meanwhile wait for that answer instead of probing again.
#[derive(Debug, Default)]
pub struct HealthCache {
    last: tokio::sync::Mutex<Option<(Instant, Checks)>>,
}

impl HealthCache {
    /// `database` and `disk`, probed at most once per `cache_ms`.
    pub async fn io_checks(&self, store: &Store, settings: &HealthSettings) -> Checks {
        let mut last = self.last.lock().await;
        if let Some((at, checks)) = last.as_ref() {
            if at.elapsed() < Duration::from_millis(settings.cache_ms) {
                return checks.clone();
            }
        }
        let mut checks = Checks::new();
        checks.insert("database", database(store, settings).await);
        checks.insert("disk", disk(settings).await);
        *last = Some((Instant::now(), checks.clone()));
        checks
    }

    /// Drops the cached probes: the next call probes again.
    pub async fn forget(&self) {
        *self.last.lock().await = None;
    }
}

async fn database(store: &Store, settings: &HealthSettings) -> Check {
    let started = Instant::now();
    let timeout = Duration::from_millis(settings.db_timeout_ms);
    let mut check = match tokio::time::timeout(timeout, store.ping()).await {
        Ok(Ok(())) => Check::ok(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health: the read-model database does not answer");
            Check::failing("unreachable")
        }
        Err(_) => {
            tracing::warn!(?timeout, "health: the read-model database is too slow");
            Check::failing("timeout")
        }
    };
    check.latency_us = Some(started.elapsed().as_micros() as u64);
    check
}

async fn disk(settings: &HealthSettings) -> Check {
    let dir = settings.data_dir.clone();
    let min = settings.min_free_disk_mb.saturating_mul(1024 * 1024);
    // statvfs is a blocking call: off the async workers.
    match tokio::task::spawn_blocking(move || fs4::available_space(&dir)).await {
        Ok(Ok(free)) => Check {
            free_bytes: Some(free),
            min_free_bytes: Some(min),
            ..Check::or_fail(free >= min, "below minimum")
        },
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health: cannot read the free space of the data dir");
            Check::failing("unknown")
        }
        Err(_) => Check::failing("unknown"),
    }
}

/// The in-memory checks, read fresh.
pub fn journal(poisoned: bool) -> Check {
    Check::or_fail(!poisoned, "not writable")
}

/// The active's leader lease (`--journal nats`): without it the node takes no writes.
pub fn lease(held: bool) -> Check {
    Check::or_fail(held, "not the leader")
}

pub fn sequencer(running: bool) -> Check {
    Check::or_fail(running, "stopped")
}

pub fn read_model(lag: u64, degraded_at: u64, projector_failed: bool) -> Check {
    let mut check = if projector_failed {
        Check::failing("projector failed")
    } else {
        Check::or_fail(lag <= degraded_at, "behind")
    };
    check.lag = Some(lag);
    check
}

pub fn rate_limit_store(ok: bool) -> Check {
    Check::or_fail(ok, "unreachable")
}

/// The journal's NATS connection (the client's state: it reconnects by itself).
pub fn nats(connected: bool) -> Check {
    Check::or_fail(connected, "disconnected")
}
