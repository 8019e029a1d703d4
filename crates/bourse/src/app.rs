//! Wiring: recovery → projector → sequencer → admin bootstrap → HTTP server and FIX listener, and the
//! orderly shutdown in reverse (stop accepting, finish in-flight requests, let the
//! sequencer finish its batch, drain the projector).

use crate::config::{Config, ConfigError};
use bourse_engine::leader::{LeaseError, LeaseHolder, LeaseSettings};
use bourse_engine::recovery::{recover, RecoveryError};
use bourse_engine::sequencer::{self, Outputs, SequencerConfig, SequencerHandle};
use bourse_engine::{follower, projector, standby, JournalKind};
use bourse_gateway::auth::{password, AuthState, TokenKeys};
use bourse_gateway::keys::ServerKey;
use bourse_gateway::{limits, markets, Gateway};
use bourse_http::{api, AppState, SharedState};
use bourse_journal::{FaultHook, Journal as _};
use bourse_model::{CommandKind, Event, Role};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Hooks only tests use (not reachable from the command line or HTTP).
#[derive(Default)]
pub struct StartOptions {
    /// Installed on the file journal: lets a test make writes or fsyncs fail.
    pub journal_fault: Option<FaultHook>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("recovery failed: {0}")]
    Recovery(#[from] RecoveryError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot start the sequencer: {0}")]
    Thread(std::io::Error),
    #[error("cannot create the admin user: {0}")]
    Admin(String),
    #[error("cannot create data dir {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("cannot apply the configured KYC policy or idempotency window: {0}")]
    KycPolicy(String),
    #[error("config [[markets.list]]: {0}")]
    Markets(String),
    #[error("{0}")]
    Tls(String),
    #[error(transparent)]
    Fix(#[from] bourse_fix::FixError),
    #[error("demo mode: {0}")]
    Demo(#[from] crate::demo::DemoError),
    #[error("{0}")]
    Lease(#[from] LeaseError),
}

/// A started server.
pub struct RunningApp {
    pub addr: SocketAddr,
    /// The FIX acceptor's address, when `[fix] listen` (or demo mode) turned it on.
    pub fix_addr: Option<SocketAddr>,
    pub state: SharedState,
    /// Set when this start created the admin user with a generated password.
    pub generated_admin_password: Option<String>,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    sequencer: std::thread::JoinHandle<()>,
    projector: tokio::task::JoinHandle<()>,
    demo: Option<crate::demo::Demo>,
    fix: Option<bourse_fix::FixServer>,
    /// The leader lease of an active on a NATS journal (released on shutdown).
    lease: Option<LeaseHolder>,
    /// A standby's lease, once it took over (released on shutdown).
    standby_lease: standby::HolderSlot,
    /// Keeps the process-wide recorder recording while this app runs.
    _metrics: Option<bourse_http::metrics::Active>,
}

/// Recovers state and starts serving on `config.listen` (port 0 picks a free port).
pub async fn start(config: Config, options: StartOptions) -> Result<RunningApp, StartError> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
    let key = ServerKey::load_or_create(config.server_key.as_deref(), &config.data_dir)
        .map_err(ConfigError::from)?;
    // Before the sequencer exists: it records from its first batch.
    let metrics = config.metrics.enabled.then(bourse_http::metrics::enable);
    let engine = config.engine();
    // The lease before recovery: once held, no other active writes this stream, so the
    // state replayed below is the whole of it (rules in `bourse_engine::leader`).
    let lease = if engine.journal == JournalKind::Nats && !engine.follow {
        let settings = LeaseSettings::for_journal(&engine, &config.listen);
        let held = tokio::task::spawn_blocking(move || LeaseHolder::acquire(settings))
            .await
            .map_err(|e| StartError::Thread(std::io::Error::other(e.to_string())))??;
        Some(held)
    } else {
        None
    };
    // A standby's gate: invalid (writes refused naming the leader) until it takes over.
    let standby_gate = config
        .standby
        .then(|| Arc::new(bourse_engine::leader::LeaderGate::standby()));
    let rec = match recover(&engine, options.journal_fault).await {
        Ok(rec) => rec,
        Err(e) => {
            // Nothing was written: let the next start (or a standby) in without the TTL.
            if let Some(lease) = lease {
                let _ = tokio::task::spawn_blocking(move || lease.release()).await;
            }
            return Err(e.into());
        }
    };
    // `/health` watches the journal's NATS connection (before the sequencer takes it).
    let nats = rec.journal.as_ref().and_then(|j| j.nats_link());

    let (ptx, prx) = bourse_engine::feed::channel("projector", config.feed_capacity);
    let (projector, projector_task) = projector::spawn(rec.store.clone(), prx, rec.last_seq);
    let (seq, sequencer_thread) = sequencer::spawn(
        rec.core,
        rec.journal,
        rec.last_seq,
        rec.last_ts,
        SequencerConfig {
            batch_limit: config.batch_limit,
            queue_capacity: config.queue_capacity,
            snapshot_every: config.snapshot_every,
            prune_journal: config.prune_journal,
            feed_capacity: config.feed_capacity,
            leader: lease
                .as_ref()
                .map(LeaseHolder::gate)
                .or(standby_gate.clone()),
        },
        Outputs {
            projector: ptx,
            snapshots: Some(rec.snapshots),
        },
    )
    .map_err(StartError::Thread)?;
    if let Some(follower) = rec.follower {
        follower::spawn_bridge(follower, seq.raw_sender()).map_err(StartError::Thread)?;
    }
    let standby_lease = standby::HolderSlot::default();
    if let Some(gate) = standby_gate {
        standby::spawn(
            LeaseSettings::for_journal(&engine, &config.listen),
            bourse_engine::recovery::nats_config(&engine),
            gate,
            seq.raw_sender(),
            standby_lease.clone(),
        )
        .map_err(StartError::Thread)?;
    }

    let generated_admin_password = if seq.status().is_follower() {
        None
    } else {
        bootstrap_admin(&seq).await?
    };
    // The KYC policy is journaled core state; a config change becomes a command here.
    if !seq.status().is_follower() {
        bourse_engine::recovery::sync_kyc_policy(&seq, config.kyc_required)
            .await
            .map_err(StartError::KycPolicy)?;
        bourse_engine::recovery::sync_idempotency_window(&seq, config.idempotency_window_ms)
            .await
            .map_err(StartError::KycPolicy)?;
        let levels = config.kyc.levels().map_err(StartError::KycPolicy)?;
        bourse_engine::recovery::sync_kyc_levels(&seq, levels)
            .await
            .map_err(StartError::KycPolicy)?;
    }
    // The config's markets before the demo's: on a shared symbol the config's spec wins.
    if !seq.status().is_follower() {
        markets::ensure_configured(&seq, &config.markets)
            .await
            .map_err(StartError::Markets)?;
    }

    let gateway = Arc::new(Gateway {
        config: config.gateway(),
        tokens: TokenKeys::new(&key, config.token_ttl_secs),
        auth: AuthState::new(&key, &config.auth),
        limiter: limits::RateLimiter::new(&config.limits).map_err(ConfigError::Invalid)?,
        seq: seq.clone(),
        store: rec.store.clone(),
        projector,
    });
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.listen.clone(),
        source,
    })?;
    // TLS files are read before serving: a bad one stops the start.
    let transport = bourse_http::server::Transport::new(&config.http).map_err(StartError::Tls)?;
    let state = Arc::new(AppState {
        realtime: bourse_http::ws::Realtime::spawn(
            seq.clone(),
            rec.store.clone(),
            config.ws.clone(),
        ),
        http: {
            let mut http = config.http(Some(addr));
            http.health.nats = nats;
            http
        },
        gateway,
        demo_credited: std::sync::OnceLock::new(),
        health_cache: Default::default(),
        monitor: Default::default(),
        started_at: Instant::now(),
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    // Before serving: the demo's markets exist and no registration escapes its credit.
    let demo = if config.demo && !seq.status().is_follower() {
        let demo = crate::demo::start(&seq, &config.markets, shutdown_rx.clone()).await?;
        let _ = state.demo_credited.set(demo.credited.clone());
        Some(demo)
    } else {
        None
    };
    tokio::spawn(sequencer::expiry_timer(seq, shutdown_rx.clone()));
    let fix_config = config.fix();
    let fix = match fix_config.listen.clone() {
        Some(listen) => {
            let started = bourse_fix::spawn(
                fix_config,
                &listen,
                state.gateway.clone(),
                &config.data_dir,
                shutdown_rx.clone(),
            )
            .await;
            match started {
                Ok(fix) => Some(fix),
                // Demo mode's own FIX port is a convenience: taken (another demo), it
                // runs without FIX. A configured listener that cannot bind stops the start.
                Err(e @ bourse_fix::FixError::Listen { .. }) if config.fix.listen.is_none() => {
                    tracing::warn!(error = %e, "demo mode runs without FIX");
                    None
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => None,
    };
    let mut router = api::router(state.clone());
    if metrics.is_some() {
        router = bourse_http::metrics::mount(router, state.clone());
    }
    // The Binance-compatible routes beside the API (they have no fallback).
    let feed = state.realtime.live_feed();
    let router =
        bourse_binance::router(state.gateway.clone(), feed, config.binance.clone()).merge(router);
    let server = bourse_http::server::spawn(listener, router, transport, shutdown_rx);
    tracing::info!(%addr, "listening");
    Ok(RunningApp {
        addr,
        fix_addr: fix.as_ref().map(|f| f.addr),
        state,
        generated_admin_password,
        shutdown,
        server,
        sequencer: sequencer_thread,
        projector: projector_task,
        demo,
        fix,
        lease,
        standby_lease,
        _metrics: metrics,
    })
}

impl RunningApp {
    /// Stops accepting, finishes in-flight requests, stops the sequencer after its
    /// current batch, and waits (bounded) for the projector to write what is left.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        match tokio::time::timeout(Duration::from_secs(10), self.server).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "server error during shutdown"),
            Err(_) => tracing::warn!("in-flight requests did not finish within 10 s"),
            _ => {}
        }
        // FIX sessions got the same signal: each sends a Logout and closes.
        if let Some(fix) = self.fix {
            fix.stopped().await;
        }
        if let Some(demo) = self.demo {
            demo.stop().await;
        }
        self.state.seq.stop().await;
        let seq_thread = self.sequencer;
        let _ = tokio::task::spawn_blocking(move || seq_thread.join()).await;
        // Only now: nothing more is written, and a standby need not wait out the TTL.
        let taken_over = self.standby_lease.lock().expect("holder slot").take();
        if let Some(lease) = self.lease.or(taken_over) {
            let _ = tokio::task::spawn_blocking(move || lease.release()).await;
        }
        if tokio::time::timeout(Duration::from_secs(10), self.projector)
            .await
            .is_err()
        {
            tracing::warn!("projector did not drain within 10 s; the next start re-projects");
        }
        self.state.store.close().await;
        tracing::info!("shut down");
    }
}

/// Creates `admin` on first start. Returns the password if it was generated.
async fn bootstrap_admin(seq: &SequencerHandle) -> Result<Option<String>, StartError> {
    let exists = seq
        .query(|core| core.user_by_name("admin").is_some())
        .await
        .map_err(|e| StartError::Admin(e.to_string()))?;
    if exists {
        return Ok(None);
    }
    let (password, generated) = match std::env::var("BOURSE_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (hex::encode(rand::random::<[u8; 12]>()), true),
    };
    let password_hash = password::hash_async(password.clone())
        .await
        .map_err(|e| StartError::Admin(e.to_string()))?;
    let applied = seq
        .submit(CommandKind::RegisterUser {
            username: "admin".into(),
            password_hash,
            role: Role::Admin,
        })
        .await
        .map_err(|e| StartError::Admin(e.to_string()))?;
    if let Some(Event::Rejected { code, .. }) = applied.events.first() {
        return Err(StartError::Admin(code.to_string()));
    }
    tracing::info!("created the admin user");
    Ok(generated.then_some(password))
}
