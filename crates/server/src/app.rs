//! Wiring: recovery → projector → sequencer → admin bootstrap → HTTP server, and the
//! orderly shutdown in reverse (stop accepting, finish in-flight requests, let the
//! sequencer finish its batch, drain the projector).

use crate::auth::{password, TokenKeys};
use crate::config::{Config, ConfigError, ServerKey};
use crate::error::AppError;
use crate::recovery::{recover, RecoveryError};
use crate::sequencer::{self, Outputs, Request, SequencerConfig, SequencerHandle};
use crate::state::{AppState, SharedState};
use crate::{api, projector};
use axum::serve::ListenerExt;
use bourse_journal::{FaultHook, JournalError};
use bourse_model::{CommandKind, Event, Role};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

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
    #[error("cannot apply the configured KYC policy: {0}")]
    KycPolicy(String),
    #[error("config [[markets.list]]: {0}")]
    Markets(String),
    #[error("demo mode: {0}")]
    Demo(#[from] crate::demo::DemoError),
}

/// A started server.
pub struct RunningApp {
    pub addr: SocketAddr,
    pub state: SharedState,
    /// Set when this start created the admin user with a generated password.
    pub generated_admin_password: Option<String>,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    sequencer: std::thread::JoinHandle<()>,
    projector: tokio::task::JoinHandle<()>,
    demo: Option<crate::demo::Demo>,
}

/// Recovers state and starts serving on `config.listen` (port 0 picks a free port).
pub async fn start(config: Config, options: StartOptions) -> Result<RunningApp, StartError> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
    let key = ServerKey::load_or_create(&config)?;
    let rec = recover(&config, options.journal_fault).await?;

    let (ptx, prx) = mpsc::unbounded_channel();
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
        },
        Outputs {
            projector: ptx,
            snapshots: Some(rec.snapshots),
        },
    )
    .map_err(StartError::Thread)?;
    if let Some(follower) = rec.follower {
        spawn_follower_bridge(follower, seq.raw_sender()).map_err(StartError::Thread)?;
    }

    let generated_admin_password = if seq.status().is_follower() {
        None
    } else {
        bootstrap_admin(&seq).await?
    };
    // The KYC policy is journaled core state; a config change becomes a command here.
    if !seq.status().is_follower() {
        crate::recovery::sync_kyc_policy(&seq, &config)
            .await
            .map_err(StartError::KycPolicy)?;
    }
    // The config's markets before the demo's: on a shared symbol the config's spec wins.
    if !seq.status().is_follower() {
        crate::market_setup::ensure_configured(&seq, &config.markets)
            .await
            .map_err(StartError::Markets)?;
    }

    let state = Arc::new(AppState {
        realtime: crate::ws::Realtime::spawn(seq.clone(), rec.store.clone(), config.ws.clone()),
        tokens: TokenKeys::new(&key, config.token_ttl_secs),
        auth: crate::auth::AuthState::new(&key),
        demo_credited: std::sync::OnceLock::new(),
        limiter: crate::limits::RateLimiter::new(),
        config,
        seq: seq.clone(),
        store: rec.store,
        projector,
        started_at: Instant::now(),
    });
    let listener = tokio::net::TcpListener::bind(&state.config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: state.config.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: state.config.listen.clone(),
        source,
    })?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    // Before serving: the demo's markets exist and no registration escapes its credit.
    let demo = if state.config.demo && !seq.status().is_follower() {
        let demo = crate::demo::start(&seq, &state.config.markets, shutdown_rx.clone()).await?;
        let _ = state.demo_credited.set(demo.credited.clone());
        Some(demo)
    } else {
        None
    };
    tokio::spawn(sequencer::expiry_timer(seq, shutdown_rx.clone()));
    let app = catch_panics(api::router(state.clone()));
    let mut stop = shutdown_rx;
    let server = tokio::spawn(async move {
        // Small frames (WebSocket market data, short JSON replies) go out at once: with
        // Nagle's algorithm a second small write waits for the peer's delayed ACK (~40 ms).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        // The peer address is what anonymous rate limits are keyed by.
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
    });
    tracing::info!(%addr, "listening");
    Ok(RunningApp {
        addr,
        state,
        generated_admin_password,
        shutdown,
        server,
        sequencer: sequencer_thread,
        projector: projector_task,
        demo,
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
        if let Some(demo) = self.demo {
            demo.stop().await;
        }
        self.state.seq.stop().await;
        let seq_thread = self.sequencer;
        let _ = tokio::task::spawn_blocking(move || seq_thread.join()).await;
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

/// Outermost layer: a handler or middleware that panics answers the contract's 500
/// `INTERNAL` error (detail logged, not sent) instead of hyper dropping the connection.
fn catch_panics(app: axum::Router) -> axum::Router {
    app.layer(tower_http::catch_panic::CatchPanicLayer::custom(
        panic_response,
    ))
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into());
    AppError::internal(format!("request handler panicked: {detail}")).into_response()
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
        .map_err(|e: AppError| StartError::Admin(e.to_string()))?;
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

/// Forwards the followed stream into the sequencer (follower mode).
fn spawn_follower_bridge(
    mut follower: bourse_journal::Follower,
    tx: mpsc::Sender<Request>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("bourse-follower".into())
        .spawn(move || {
            while let Some(item) = follower.recv() {
                let req = match item {
                    Ok((seq, command)) => Request::Replicated { seq, command },
                    Err(JournalError::Nats(e)) => {
                        tracing::warn!(error = %e, "following the journal: transient error");
                        continue;
                    }
                    Err(e) => Request::ReplicationFailed(e.to_string()),
                };
                let fatal = matches!(req, Request::ReplicationFailed(_));
                if tx.blocking_send(req).is_err() || fatal {
                    break;
                }
            }
            tracing::info!("stopped following the journal");
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request as HttpRequest, StatusCode};
    use tower::ServiceExt;

    async fn call(app: axum::Router, path: &str) -> (StatusCode, serde_json::Value) {
        let res = app
            .oneshot(HttpRequest::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// A route that panics exists only in this test router, wrapped by the same function
    /// `start` uses.
    #[tokio::test]
    async fn a_panicking_handler_answers_the_internal_error_shape() {
        let app = catch_panics(
            axum::Router::new()
                .route(
                    "/boom",
                    axum::routing::get(|| async {
                        if true {
                            panic!("secret detail");
                        }
                        "unreachable"
                    }),
                )
                .route("/fine", axum::routing::get(|| async { "{\"ok\":true}" })),
        );
        let (status, body) = call(app.clone(), "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "INTERNAL");
        assert_eq!(body["error"]["message"], "internal error");
        assert!(!body.to_string().contains("secret detail"));
        // The service keeps serving after a panic.
        let (status, body) = call(app, "/fine").await;
        assert_eq!(
            (status, &body["ok"]),
            (StatusCode::OK, &serde_json::json!(true))
        );
    }

    #[test]
    fn string_and_other_payloads_give_the_same_public_answer() {
        for payload in [
            Box::new(String::from("owned")) as Box<dyn std::any::Any + Send>,
            Box::new(42u8),
        ] {
            let res = panic_response(payload);
            assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(
                res.headers()[axum::http::header::CONTENT_TYPE],
                "application/json"
            );
        }
    }
}
