//! Connection caps: `max_connections` in all, `max_connections_per_ip` per peer
//! address (trusted proxies exempt: every client behind one shares its address). A slot
//! is held by a [`Slot`] for the connection's life, upgraded WebSockets included, and
//! given back when it drops; per-IP entries are removed at zero, so memory follows the
//! open connections, not the addresses ever seen.

use crate::security::IpRange;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug)]
pub struct Caps {
    global: Arc<Semaphore>,
    per_ip_max: usize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    exempt: Vec<IpRange>,
}

/// Which cap refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Global,
    PerIp,
}

/// One open connection's place under the caps.
#[derive(Debug)]
pub struct Slot {
    caps: Arc<Caps>,
    ip: Option<IpAddr>,
    _global: OwnedSemaphorePermit,
}

impl Caps {
    pub fn new(global: usize, per_ip: usize, exempt: Vec<IpRange>) -> Arc<Self> {
        Arc::new(Self {
            global: Arc::new(Semaphore::new(global)),
            per_ip_max: per_ip,
            per_ip: Mutex::new(HashMap::new()),
            exempt,
        })
    }

    fn per_ip(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.per_ip.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        let permit = self
            .global
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Global)?;
        let counted = if crate::security::proxy::is_trusted(&self.exempt, ip) {
            None
        } else {
            let mut map = self.per_ip();
            let n = map.entry(ip).or_insert(0);
            if *n >= self.per_ip_max {
                return Err(Refused::PerIp);
            }
            *n += 1;
            Some(ip)
        };
        Ok(Slot {
            caps: self.clone(),
            ip: counted,
            _global: permit,
        })
    }

    /// Addresses with an open connection (for tests and metrics).
    pub fn tracked_ips(&self) -> usize {
        self.per_ip().len()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            let mut map = self.caps.per_ip();
            if let Some(n) = map.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_and_give_back() {
        let proxy: IpRange = "10.0.0.1".parse().unwrap();
        let caps = Caps::new(4, 2, vec![proxy]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let s1 = caps.acquire(a).unwrap();
        let s2 = caps.acquire(a).unwrap();
        assert_eq!(caps.acquire(a).unwrap_err(), Refused::PerIp);
        drop(s1);
        let s3 = caps.acquire(a).unwrap();
        // The proxy is exempt from the per-IP cap, not from the global one.
        let p1 = caps.acquire(proxy.0.addr()).unwrap();
        let p2 = caps.acquire(proxy.0.addr()).unwrap();
        assert_eq!(
            caps.acquire("192.0.2.9".parse().unwrap()).unwrap_err(),
            Refused::Global
        );
        drop((s2, s3, p1, p2));
        assert_eq!(caps.tracked_ips(), 0, "entries go at zero");
    }
}
