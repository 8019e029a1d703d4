//! The leader lease (issue #15, first part): one key in a NATS KV bucket whose entries
//! expire after `ttl` (the bucket's `max_age`).
//!
//! Rules:
//! - Acquire = KV `create`: it succeeds only while the key is absent (never held, expired,
//!   or released), so at most one node holds it.
//! - Renew = KV `update` on the revision this holder last wrote (compare-and-set): once
//!   another node has taken the key, a renewal fails and never overwrites it.
//! - The holder counts its lease from the moment it *sent* the write that won or renewed it
//!   and treats it as lost at `sent + ttl × 2/3` without a successful renewal
//!   ([`Lease::valid`]): that is before the server can expire the key and let a standby in,
//!   so two holders never both believe they lead (as long as clocks run at the same rate).
//! - The value is the holder's advertised URL, so a standby can name the leader.
//!
//! `bourse serve --journal nats` holds it through `bourse_engine::leader`. Like the
//! journal, the methods block on an internal runtime: call them from plain threads.

use crate::JournalError;
use async_nats::jetstream::{self, kv};
use std::time::{Duration, Instant};

/// Where the lease lives.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Comma-separated server list, like the journal's.
    pub url: String,
    pub bucket: String,
    /// The key: one per journal stream.
    pub key: String,
    pub ttl: Duration,
    pub replicas: usize,
    pub timeout: Duration,
}

impl LeaseConfig {
    pub fn new(url: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            bucket: "BOURSE_LEADER".into(),
            key: key.into(),
            ttl: Duration::from_secs(3),
            replicas: 1,
            timeout: Duration::from_secs(2),
        }
    }
}

/// One node's handle on the lease.
pub struct Lease {
    runtime: Option<tokio::runtime::Runtime>,
    store: kv::Store,
    config: LeaseConfig,
    /// What this node writes: its advertised URL.
    holder: String,
    /// The revision this node last wrote, while it believes it holds the lease.
    revision: Option<u64>,
    valid_until: Option<Instant>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("config", &self.config)
            .field("holder", &self.holder)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

fn err(what: &str, e: impl std::fmt::Display) -> JournalError {
    JournalError::Nats(format!("lease: {what}: {e}"))
}

impl Lease {
    /// Connects and opens (or creates) the bucket.
    pub fn connect(config: LeaseConfig, holder: impl Into<String>) -> Result<Self, JournalError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bourse-lease")
            .enable_all()
            .build()
            .map_err(|e| JournalError::Nats(format!("lease runtime: {e}")))?;
        let store = rt.block_on(async {
            let store = Self::open_bucket(&config).await?;
            // The key expires after the *bucket's* max_age, whoever created it: a holder
            // that counted with a longer TTL would lead after the key expired.
            let max_age = store
                .status()
                .await
                .map_err(|e| err(&format!("bucket {} status", config.bucket), e))?
                .max_age();
            if max_age != config.ttl {
                return Err(JournalError::Config(format!(
                    "lease bucket {} expires keys after {max_age:?} but this node's lease TTL \
                     is {:?} ([nats] lease_ttl_ms): give every node the same TTL, or delete \
                     the bucket while no node runs",
                    config.bucket, config.ttl
                )));
            }
            Ok::<_, JournalError>(store)
        })?;
        Ok(Self {
            runtime: Some(rt),
            store,
            config,
            holder: holder.into(),
            revision: None,
            valid_until: None,
        })
    }

    /// Opens the bucket, creating it with `max_age = ttl` if missing.
    async fn open_bucket(config: &LeaseConfig) -> Result<kv::Store, JournalError> {
        {
            let servers: Vec<&str> = config.url.split(',').map(str::trim).collect();
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(config.timeout)
                .request_timeout(Some(config.timeout))
                .name("bourse-lease")
                .connect(servers)
                .await
                .map_err(|e| err(&format!("connecting to {}", config.url), e))?;
            let mut js = jetstream::new(client);
            js.set_timeout(config.timeout);
            if let Ok(store) = js.get_key_value(&config.bucket).await {
                return Ok(store);
            }
            // The bucket's stream, as a KV bucket is laid out, created directly: the
            // client's `create_key_value` sends settings a 2.9 server does not parse.
            js.get_or_create_stream(jetstream::stream::Config {
                name: format!("KV_{}", config.bucket),
                subjects: vec![format!("$KV.{}.>", config.bucket)],
                max_messages_per_subject: 1,
                max_age: config.ttl,
                num_replicas: config.replicas,
                storage: jetstream::stream::StorageType::File,
                discard: jetstream::stream::DiscardPolicy::New,
                allow_rollup: true,
                deny_delete: true,
                // Reads from the stream leader only: a replica's direct answer could be
                // stale, and a lease must not be judged on an old value.
                allow_direct: false,
                duplicate_window: config.ttl.min(Duration::from_secs(120)),
                ..Default::default()
            })
            .await
            .map_err(|e| err(&format!("bucket {}", config.bucket), e))?;
            js.get_key_value(&config.bucket)
                .await
                .map_err(|e| err(&format!("bucket {}", config.bucket), e))
        }
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime
            .as_ref()
            .expect("present until drop")
            .block_on(f)
    }

    /// Takes the lease if nobody holds it. `Ok(true)`: held now.
    pub fn try_acquire(&mut self) -> Result<bool, JournalError> {
        let sent = Instant::now();
        let value = bytes::Bytes::from(self.holder.clone().into_bytes());
        let r = self.block_on(self.store.create(&self.config.key, value));
        match r {
            Ok(revision) => {
                self.revision = Some(revision);
                self.valid_until = Some(sent + self.config.ttl * 2 / 3);
                Ok(true)
            }
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(err("create", e)),
        }
    }

    /// Renews a held lease by compare-and-set on its revision. `Err`: it is lost (taken by
    /// another node, or NATS unreachable past the validity): stop leading.
    pub fn renew(&mut self) -> Result<(), JournalError> {
        let Some(revision) = self.revision else {
            return Err(JournalError::Unavailable {
                reason: "lease not held".into(),
            });
        };
        let sent = Instant::now();
        let value = bytes::Bytes::from(self.holder.clone().into_bytes());
        let r = self.block_on(self.store.update(&self.config.key, value, revision));
        match r {
            Ok(revision) => {
                self.revision = Some(revision);
                self.valid_until = Some(sent + self.config.ttl * 2 / 3);
                Ok(())
            }
            Err(e) => {
                if !self.valid() {
                    self.revision = None;
                }
                Err(JournalError::Unavailable {
                    reason: format!("lease renewal failed: {e}"),
                })
            }
        }
    }

    /// Until when this node may act as the leader (`None`: not held).
    pub fn valid_until(&self) -> Option<Instant> {
        self.revision.and(self.valid_until)
    }

    /// Whether this node still has a revision to renew (it may have lapsed meanwhile).
    pub fn held(&self) -> bool {
        self.revision.is_some()
    }

    /// What this node writes into the key: its advertised URL.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Whether this node may still act as the leader (held and inside its validity).
    pub fn valid(&self) -> bool {
        self.revision.is_some() && self.valid_until.is_some_and(|t| Instant::now() < t)
    }

    /// The advertised URL of the current holder, if the key is held.
    pub fn leader(&self) -> Result<Option<String>, JournalError> {
        let v = self
            .block_on(self.store.get(&self.config.key))
            .map_err(|e| err("get", e))?;
        Ok(v.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Gives the lease up (a clean shutdown), so a standby need not wait for the TTL.
    pub fn release(&mut self) -> Result<(), JournalError> {
        if let Some(revision) = self.revision.take() {
            self.valid_until = None;
            self.block_on(
                self.store
                    .delete_expect_revision(&self.config.key, Some(revision)),
            )
            .map_err(|e| err("delete", e))?;
        }
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
