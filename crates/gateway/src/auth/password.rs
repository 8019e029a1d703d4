//! Password hashing (argon2id, PHC string format, random salt per hash), and the
//! [`HashPool`] that bounds how many hashes run at once.
//!
//! Each argon2id hash (the crate's defaults: m = 19 MiB, t = 2, p = 1) allocates 19 MiB
//! for its duration, so without a bound a burst of logins on the 512-thread blocking pool
//! would take gigabytes. Requests (register, login, password change) hash through the
//! pool: at most `hash_concurrency` at once (default: the number of cores), so hashing
//! takes at most `hash_concurrency × 19 MiB`; a request that finds no free slot within
//! `hash_wait_ms` is refused with 503 `BUSY` and `Retry-After`. A slot is held until the
//! hash itself ends, even if the client has gone, so the bound holds for the CPU work,
//! not only for the requests. Start-up work (the admin account, the demo) hashes outside
//! the pool.

use crate::error::{Error, Kind};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Hashes a password. CPU-heavy (tens of ms): call it from `spawn_blocking`.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a password against a PHC hash; a malformed hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Runs [`hash`] on the blocking pool.
pub async fn hash_async(password: String) -> Result<String, crate::error::Error> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(crate::error::Error::internal)?
        .map_err(crate::error::Error::internal)
}

/// Runs [`verify`] on the blocking pool.
pub async fn verify_async(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&password, &phc))
        .await
        .unwrap_or(false)
}

/// Memory of one hash, in MiB (argon2's default `m_cost`, 19 456 KiB).
pub const HASH_MIB: usize = 19;

/// At most `size` hashes at once; see the module doc.
pub struct HashPool {
    permits: Arc<Semaphore>,
    size: usize,
    wait: Duration,
}

impl HashPool {
    /// `size` 0 means the number of cores.
    pub fn new(size: usize, wait: Duration) -> Self {
        let size = if size == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            size
        };
        Self {
            permits: Arc::new(Semaphore::new(size)),
            size,
            wait,
        }
    }

    /// How many hashes may run at once.
    pub fn size(&self) -> usize {
        self.size
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let permit =
            match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
                Ok(Ok(p)) => p,
                _ => {
                    return Err(Error::Later {
                        kind: Kind::Unavailable,
                        code: "BUSY",
                        message: "the server is busy hashing passwords; retry shortly".into(),
                        retry_after: Duration::from_secs(1),
                    })
                }
            };
        tokio::task::spawn_blocking(move || {
            let _slot = permit;
            work()
        })
        .await
        .map_err(Error::internal)
    }

    /// [`hash`] in the pool.
    pub async fn hash(&self, password: String) -> Result<String, Error> {
        self.run(move || hash(&password))
            .await?
            .map_err(Error::internal)
    }

    /// [`verify`] in the pool.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, Error> {
        self.run(move || verify(&password, &phc)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pool_refuses_what_it_cannot_start_in_time() {
        let pool = Arc::new(HashPool::new(1, Duration::from_millis(20)));
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.hash("correct horse".into()).await })
            })
            .collect();
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(h) => assert!(verify("correct horse", &h)),
                Err(e) => {
                    assert_eq!(e.code(), "BUSY");
                    assert!(e.retry_after().is_some());
                    busy += 1;
                }
            }
        }
        assert!((1..6).contains(&busy), "{busy} of 6 refused");
    }

    #[test]
    fn round_trip() {
        let h = hash("correct horse").unwrap();
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("correct horse", "not a hash"));
    }
}
