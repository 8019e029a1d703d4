//! FIX 4.4 acceptor on the gateway services (plain tokio TCP; no HTTP).
//!
//! A channel like REST or WebSocket: FIX messages are translated into gateway calls and
//! back. This crate holds the wire codec ([`codec`]), the session layer ([`session`]),
//! the per-session sequence store ([`store`]) and the listener ([`spawn`]).
//!
//! # Why no FIX crate
//! The maintained Rust FIX engines are either initiator-side or bring their own runtime,
//! store and config files; what Bourse needs from the session layer (API-key logon,
//! per-user identities, the data dir, the orderly shutdown) would be fought against
//! rather than configured. The tag=value codec is 200 lines, and the session rules are
//! checked against the QuickFIX acceptance definitions (`crates/bourse/tests/fix_conformance.rs`).
//!
//! # Session state machine
//! ```text
//! connected ──Logon ok──► logged on ──Logout (either side) / timeout / error──► closed
//!     │                      │  ▲
//!     └─ anything else ──────┼──┼──► closed (a refused Logon gets a Logout with the reason)
//!                            └──┘ Logon with ResetSeqNumFlag=Y: both numbers back to 1
//! ```
//! - **TLS** (`tls = true`): the connection's first bytes must be a TLS handshake, done
//!   within `logon_timeout_secs`; a failed or late one (a plain-TCP client, a client that
//!   does not trust the certificate) closes that connection without a FIX message, in its
//!   own task, so the listener and other sessions carry on. Then the same session.
//! - **Before logon** the first frame must be a valid Logon within `logon_timeout_secs`;
//!   a garbled frame, another message type, a wrong BeginString or TargetCompID closes the
//!   connection without a reply. A Logon that names a session but is refused (bad
//!   signature, unknown key, replayed signature, SendingTime out of the window, HeartBtInt
//!   outside `heartbeat_min_secs..=heartbeat_max_secs`, the identity already logged on,
//!   MsgSeqNum too low) gets a Logout whose Text (58) says why, and nothing else changes.
//! - **Identities.** TargetCompID `comp_id` (default `BOURSE`): an API-key session,
//!   identity = (key owner, SenderCompID). TargetCompID = the test session's
//!   `sender_comp_id`: the credential-less test session, only with its
//!   `target_comp_id` as SenderCompID. One logon per identity at a time.
//! - **Inbound checks, in order**, on every frame after logon: garbled → ignored (no reply,
//!   no number consumed); BeginString other than `FIX.4.4` → Logout, close; wrong
//!   CompIDs → Reject (373=9) + Logout; SendingTime missing or more than
//!   `sending_time_window_secs` away → Reject (373=10) + Logout; over
//!   `max_messages_per_second` → Reject + Logout. Then sequence numbers: Logout,
//!   ResendRequest and SequenceReset-Reset are processed whatever their MsgSeqNum; for the
//!   others a number above the expected one sends one ResendRequest (`7=expected 16=0`)
//!   for the whole gap and drops the message (the peer resends it), one below it is
//!   ignored with PossDupFlag=Y and ends the session (Logout) without.
//! - **Outbound**: header fields in ascending tag order after 8, 9, 35; a ResendRequest is
//!   answered from the store (application messages with PossDupFlag=Y and
//!   OrigSendingTime, runs of admin or no-longer-kept messages as one
//!   SequenceReset-GapFill).
//! - **Timers** (the QuickFIX rules): a Heartbeat after HeartBtInt without sending; a
//!   TestRequest after 1.2 × HeartBtInt without receiving; disconnect after 2.4 ×
//!   HeartBtInt without receiving.
//! - Application messages on API-key sessions: [`app`] (which ones, drop copy, cancel on
//!   disconnect), [`orders`] (order entry), [`exec`] (ExecutionReports from the feed),
//!   [`md`] (security list, market data). On the test session every one gets a
//!   BusinessMessageReject (35=j, 380=3 unsupported message type).

pub mod app;
pub mod codec;
pub mod exec;
pub mod md;
pub mod orders;
pub mod session;
pub mod store;
pub mod time;

use bourse_gateway::tls::{TlsAcceptor, TlsFiles};
use bourse_gateway::Gateway;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The only BeginString accepted.
pub const BEGIN_STRING: &str = "FIX.4.4";

/// `[fix]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FixConfig {
    /// `host:port`; `None` (the default) runs no FIX listener (demo mode: 127.0.0.1:9878).
    pub listen: Option<String>,
    /// The exchange's CompID: the TargetCompID of API-key sessions.
    pub comp_id: String,
    /// The credential-less session for the conformance suite (loopback listeners only).
    pub test_session: Option<TestSession>,
    /// How far SendingTime may be from the server clock, either way.
    pub sending_time_window_secs: u64,
    pub heartbeat_min_secs: u64,
    pub heartbeat_max_secs: u64,
    /// The largest BodyLength accepted; a larger frame is garbled.
    pub max_message_bytes: usize,
    /// Inbound messages per second per session; over it, a Reject and a Logout.
    pub max_messages_per_second: u32,
    /// How long a new connection has to send its Logon (a TLS handshake included).
    pub logon_timeout_secs: u64,
    /// TLS on the listener (the initiator's QuickFIX `SocketUseSSL=Y`): with
    /// `tls_cert_file`/`tls_key_file`, or, when both are unset, `[http.tls]`'s files (the
    /// binary fills them in). A TLS listener speaks only TLS.
    pub tls: bool,
    /// PEM certificate chain (leaf first) for the FIX listener alone.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
}

impl Default for FixConfig {
    fn default() -> Self {
        Self {
            listen: None,
            comp_id: "BOURSE".into(),
            test_session: None,
            sending_time_window_secs: 120,
            heartbeat_min_secs: 1,
            heartbeat_max_secs: 300,
            max_message_bytes: 8192,
            max_messages_per_second: 100,
            logon_timeout_secs: 10,
            tls: false,
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
}

/// `[fix.test_session]`: CompIDs as the acceptor sees them (QuickFIX's convention):
/// `sender_comp_id` is ours, `target_comp_id` the client's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSession {
    pub sender_comp_id: String,
    pub target_comp_id: String,
    /// Both sequence numbers start at 1 on every logon (the suite expects it).
    #[serde(default = "yes")]
    pub reset_on_logon: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("[fix] {0}")]
    Config(String),
    /// The TLS files cannot be used (which file, and why).
    #[error("[fix] tls: {0}")]
    Tls(String),
    #[error("cannot listen for FIX on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

impl FixConfig {
    /// The TLS files, when `tls` is on (checked by [`validate`](Self::validate)).
    pub fn tls_files(&self) -> Option<TlsFiles> {
        match (self.tls, &self.tls_cert_file, &self.tls_key_file) {
            (true, Some(cert_file), Some(key_file)) => Some(TlsFiles {
                cert_file: cert_file.clone(),
                key_file: key_file.clone(),
            }),
            _ => None,
        }
    }

    /// Checks the settings; `listen` must be a loopback address when a test session is set.
    pub fn validate(&self) -> Result<(), FixError> {
        let bad = |m: &str| Err(FixError::Config(m.into()));
        if !valid_comp_id(&self.comp_id) {
            return bad("comp_id must be 1-32 characters of A-Z a-z 0-9 _ . -");
        }
        if self.heartbeat_min_secs == 0 || self.heartbeat_max_secs < self.heartbeat_min_secs {
            return bad("heartbeat_min_secs must be positive and at most heartbeat_max_secs");
        }
        if self.max_message_bytes < 256 || self.max_messages_per_second == 0 {
            return bad(
                "max_message_bytes must be at least 256 and max_messages_per_second positive",
            );
        }
        match (self.tls, &self.tls_cert_file, &self.tls_key_file) {
            (_, Some(_), None) | (_, None, Some(_)) => {
                return bad("tls_cert_file and tls_key_file go together");
            }
            (false, Some(_), Some(_)) => {
                return bad(
                    "tls_cert_file and tls_key_file are set but tls is not: set tls = true",
                );
            }
            (true, None, None) => {
                return bad(
                    "tls = true needs tls_cert_file and tls_key_file, or [http.tls] to share",
                );
            }
            _ => {}
        }
        if let Some(t) = &self.test_session {
            if !valid_comp_id(&t.sender_comp_id) || !valid_comp_id(&t.target_comp_id) {
                return bad("test_session CompIDs must be 1-32 characters of A-Z a-z 0-9 _ . -");
            }
            if t.sender_comp_id == self.comp_id {
                return bad("test_session.sender_comp_id must differ from comp_id");
            }
            let loopback = self
                .listen
                .as_deref()
                .and_then(|l| l.parse::<std::net::SocketAddr>().ok())
                .is_some_and(|a| a.ip().is_loopback());
            if !loopback {
                return bad("test_session needs `listen` on a loopback address (e.g. 127.0.0.1:9878): it logs on without credentials");
            }
        }
        Ok(())
    }
}

/// CompIDs name files in the data dir: a small alphabet keeps that safe.
pub fn valid_comp_id(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// What every session shares.
pub struct Context {
    pub config: FixConfig,
    pub gateway: Arc<Gateway>,
    /// `<data dir>/fix`: the sequence files.
    pub dir: PathBuf,
    /// Identities logged on now.
    active: Mutex<HashSet<String>>,
    /// Stores of sessions not logged on now, with their kept messages (a reconnect
    /// resends from them); opened from the sequence file when absent.
    idle: Mutex<HashMap<String, store::SessionStore>>,
}

impl Context {
    /// Claims `identity`; `None` when it is logged on already. The guard frees it.
    fn claim(self: &Arc<Self>, identity: &str) -> Option<Claim> {
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        active.insert(identity.to_owned()).then(|| Claim {
            ctx: self.clone(),
            identity: identity.to_owned(),
        })
    }
}

impl Context {
    /// The store of a claimed identity: the idle one, else opened from its file.
    fn checkout(&self, identity: &str) -> std::io::Result<store::SessionStore> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(identity);
        match idle {
            Some(s) => Ok(s),
            None => store::SessionStore::open(&self.dir, identity),
        }
    }

    fn checkin(&self, identity: &str, store: store::SessionStore) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.insert(identity.to_owned(), store);
    }
}

/// An identity held by one connection.
struct Claim {
    ctx: Arc<Context>,
    identity: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut active = self.ctx.active.lock().unwrap_or_else(|p| p.into_inner());
        active.remove(&self.identity);
    }
}

/// A running listener.
pub struct FixServer {
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl FixServer {
    /// Waits (bounded) for the listener and its sessions after the shutdown signal.
    pub async fn stopped(self) {
        if tokio::time::timeout(std::time::Duration::from_secs(10), self.task)
            .await
            .is_err()
        {
            tracing::warn!("FIX sessions did not close within 10 s");
        }
    }
}

/// Binds `listen` and serves FIX until `shutdown` turns true; sessions then get a Logout.
pub async fn spawn(
    config: FixConfig,
    listen: &str,
    gateway: Arc<Gateway>,
    data_dir: &std::path::Path,
    shutdown: watch::Receiver<bool>,
) -> Result<FixServer, FixError> {
    config.validate()?;
    let listen_err = |source| FixError::Listen {
        addr: listen.to_owned(),
        source,
    };
    // Read before binding: a bad file stops the start, as for HTTP.
    let tls = config
        .tls_files()
        .map(|files| bourse_gateway::tls::acceptor(&files, &[]))
        .transpose()
        .map_err(FixError::Tls)?;
    let listener = TcpListener::bind(listen).await.map_err(listen_err)?;
    let addr = listener.local_addr().map_err(listen_err)?;
    let tls_on = tls.is_some();
    let ctx = Arc::new(Context {
        config,
        gateway,
        dir: data_dir.join("fix"),
        active: Mutex::new(HashSet::new()),
        idle: Mutex::new(HashMap::new()),
    });
    let task = tokio::spawn(accept_loop(listener, ctx, tls, shutdown));
    tracing::info!(%addr, tls = tls_on, "FIX listening");
    Ok(FixServer { addr, task })
}

async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<Context>,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let (ctx, shutdown) = (ctx.clone(), shutdown.clone());
                    match &tls {
                        None => {
                            let (r, w) = stream.into_split();
                            sessions.spawn(session::run((Box::new(r), Box::new(w)), peer, ctx, shutdown));
                        }
                        // The handshake runs in the session's task: a slow or failed one
                        // holds up no other connection.
                        Some(tls) => {
                            sessions.spawn(tls_session(tls.clone(), stream, peer, ctx, shutdown));
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "FIX accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            _ = stopped(&mut shutdown) => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}

/// A TLS connection: the handshake within the logon timeout, then the session. A peer
/// that is not speaking TLS (a plain FIX Logon, say) fails the handshake and is closed
/// without a FIX word.
async fn tls_session(
    tls: TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    ctx: Arc<Context>,
    shutdown: watch::Receiver<bool>,
) {
    let wait = std::time::Duration::from_secs(ctx.config.logon_timeout_secs);
    let mut stop = shutdown.clone();
    // A handshake in progress does not hold up the shutdown.
    let handshake = tokio::select! {
        r = tokio::time::timeout(wait, tls.accept(stream)) => r,
        _ = stopped(&mut stop) => return,
    };
    match handshake {
        Ok(Ok(io)) => {
            let (r, w) = tokio::io::split(io);
            session::run((Box::new(r), Box::new(w)), peer, ctx, shutdown).await;
        }
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "FIX TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "FIX TLS handshake timed out"),
    }
}

/// Resolves once `shutdown` is true (or its sender is gone); holds no borrow across awaits.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}
