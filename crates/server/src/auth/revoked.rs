//! Logged-out tokens: a set of `jti`s in memory, each kept until its token would have
//! expired anyway, persisted as an append-only file `revoked_tokens` in the data dir
//! (one `jti exp_secs` line per logout, fsynced before the logout is answered). Start-up
//! reads the file back and rewrites it without the expired entries.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub const FILE_NAME: &str = "revoked_tokens";

pub struct Revocations {
    path: PathBuf,
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    /// jti → expiry (seconds since the epoch).
    set: HashMap<String, u64>,
    file: std::fs::File,
}

impl Revocations {
    /// Loads `dir/revoked_tokens`, dropping entries expired at `now_secs`.
    pub fn open(dir: &Path, now_secs: u64) -> std::io::Result<Self> {
        let path = dir.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        // A torn last line (crash mid-append) is ignored: its logout was never answered.
        let set: HashMap<String, u64> = text
            .lines()
            .filter_map(|l| {
                let (jti, exp) = l.split_once(' ')?;
                let exp: u64 = exp.parse().ok()?;
                (exp > now_secs && !jti.is_empty()).then(|| (jti.to_owned(), exp))
            })
            .collect();
        let tmp = dir.join(format!("{FILE_NAME}.tmp"));
        {
            let mut f = std::fs::File::create(&tmp)?;
            for (jti, exp) in &set {
                writeln!(f, "{jti} {exp}")?;
            }
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        let file = std::fs::OpenOptions::new().append(true).open(&path)?;
        Ok(Self {
            path,
            inner: Arc::new(Mutex::new(Inner { set, file })),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_revoked(&self, jti: &str) -> bool {
        self.lock().set.contains_key(jti)
    }

    /// Revokes `jti` until `exp_secs`; durable when it returns `Ok`.
    pub async fn revoke(&self, jti: String, exp_secs: u64, now_secs: u64) -> std::io::Result<()> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut g = inner.lock().unwrap_or_else(|p| p.into_inner());
            if g.set.contains_key(&jti) {
                return Ok(());
            }
            writeln!(g.file, "{jti} {exp_secs}")?;
            g.file.sync_data()?;
            g.set.insert(jti, exp_secs);
            // Expired entries leave memory here and the file at the next start.
            if g.set.len().is_multiple_of(1024) {
                g.set.retain(|_, exp| *exp > now_secs);
            }
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)?
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn survives_reopen_and_forgets_expired() {
        let dir = tempfile::tempdir().unwrap();
        let r = Revocations::open(dir.path(), 100).unwrap();
        r.revoke("a".into(), 200, 100).await.unwrap();
        r.revoke("b".into(), 150, 100).await.unwrap();
        assert!(r.is_revoked("a") && r.is_revoked("b") && !r.is_revoked("c"));
        drop(r);
        let r = Revocations::open(dir.path(), 160).unwrap();
        assert!(r.is_revoked("a"));
        assert!(!r.is_revoked("b"), "expired entries are dropped");
        let text = std::fs::read_to_string(r.path()).unwrap();
        assert_eq!(text, "a 200\n");
    }

    #[test]
    fn torn_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "a 200\nb").unwrap();
        let r = Revocations::open(dir.path(), 100).unwrap();
        assert!(r.is_revoked("a"));
        assert!(!r.is_revoked("b"));
    }
}
