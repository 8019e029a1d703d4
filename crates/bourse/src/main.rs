//! `bourse`: the exchange server (`bourse serve`) and its offline tools (`bourse verify`,
//! `bourse audit verify`).

use bourse::config::{Config, JournalKind};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "bourse", version, about = "Bourse exchange server")]
struct Cli {
    /// Log lines as `text` (human) or `json` (one object per line, with the span
    /// fields such as `request_id`). Colours only when stderr is a terminal.
    #[arg(
        long,
        global = true,
        env = "BOURSE_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the exchange.
    Serve(ServeArgs),
    /// Replay the journal offline and print the state hash and the ledger check (JSON).
    Verify(CommonArgs),
    /// The audit trail's offline tools.
    Audit {
        #[command(subcommand)]
        command: AuditCmd,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Recompute the audit hash chain; print `{entries, head, first_bad}` (JSON) and exit
    /// non-zero naming the first entry that does not fit.
    Verify(AuditArgs),
}

#[derive(Args)]
struct AuditArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// `sqlite://…` or `postgres://…`; default: SQLite file in the data dir.
    #[arg(long, env = "BOURSE_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Args)]
struct CommonArgs {
    /// TOML config file; flags override it.
    #[arg(long, env = "BOURSE_CONFIG")]
    config: Option<PathBuf>,
    #[arg(long, env = "BOURSE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[arg(long, env = "BOURSE_JOURNAL")]
    journal: Option<JournalKind>,
    #[arg(long, env = "BOURSE_NATS_URL")]
    nats_url: Option<String>,
    /// JetStream stream of the journal (default `BOURSE_JOURNAL`).
    #[arg(long, env = "BOURSE_NATS_STREAM")]
    nats_stream: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on (port 0: any free port).
    #[arg(long, env = "BOURSE_LISTEN")]
    listen: Option<String>,
    /// `sqlite://…` or `postgres://…`; default: SQLite file in the data dir.
    #[arg(long, env = "BOURSE_DATABASE_URL")]
    database_url: Option<String>,
    /// Follow the NATS journal read-only (hot standby).
    #[arg(long)]
    follow: bool,
    /// Hot standby on the NATS journal: follows it, refuses writes naming the leader,
    /// and takes over (lease, drain, serve writes) when the leader's lease expires.
    #[arg(long)]
    standby: bool,
    /// Demo mode (markets, demo funds, market maker).
    #[arg(long, env = "BOURSE_DEMO")]
    demo: bool,
    /// Snapshot every N commands (0 = never).
    #[arg(long, env = "BOURSE_SNAPSHOT_EVERY")]
    snapshot_every: Option<u64>,
    /// Most commands per group commit.
    #[arg(long, env = "BOURSE_BATCH_LIMIT")]
    batch_limit: Option<usize>,
    /// Where rate-limit counters live: `memory` or `redis://host:port` (shared by every
    /// process pointing at it); `[limits] store`.
    #[arg(long, env = "BOURSE_RATE_LIMIT_STORE")]
    rate_limit_store: Option<String>,
}

fn load(common: &CommonArgs) -> Result<Config, String> {
    let mut c = match &common.config {
        Some(p) => Config::from_toml_file(p).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(v) = &common.data_dir {
        c.data_dir = v.clone();
    }
    if let Some(v) = common.journal {
        c.journal = v;
    }
    if let Some(v) = &common.nats_url {
        c.nats_url = v.clone();
    }
    if let Some(v) = &common.nats_stream {
        c.nats_stream = v.clone();
    }
    Ok(c)
}

fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Escape codes only for a person at a terminal, never into files or collectors.
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => fmt.init(),
        LogFormat::Json => fmt.json().with_span_list(true).init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let result = match cli.command {
        Cmd::Serve(args) => serve(args),
        Cmd::Verify(args) => verify(args),
        Cmd::Audit {
            command: AuditCmd::Verify(args),
        } => audit_verify(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bourse: {e}");
            ExitCode::FAILURE
        }
    }
}

fn verify(args: CommonArgs) -> Result<(), String> {
    let config = load(&args)?;
    let v = bourse_engine::recovery::verify(&config.engine()).map_err(|e| e.to_string())?;
    println!("{}", serde_json::to_string(&v).map_err(|e| e.to_string())?);
    if v.invariants != "ok" {
        return Err(format!("ledger invariants violated: {}", v.invariants));
    }
    Ok(())
}

fn audit_verify(args: AuditArgs) -> Result<(), String> {
    let mut config = load(&args.common)?;
    if let Some(v) = args.database_url {
        config.database_url = Some(v);
    } else if !config.data_dir.is_dir() {
        // Connecting would create an empty database there and call it intact.
        return Err(format!("no data dir at {}", config.data_dir.display()));
    }
    let url = config.database_url();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let v = rt.block_on(async move {
        let store = bourse_store::Store::connect(&url).await?;
        let v = store.verify_audit().await;
        store.close().await;
        v
    });
    let v = v.map_err(|e| e.to_string())?;
    let first_bad = v
        .first_bad
        .as_ref()
        .map(|(id, why)| serde_json::json!({"id": id, "reason": why}));
    let out = serde_json::json!({"entries": v.entries, "head": v.head, "first_bad": first_bad});
    println!("{out}");
    match v.first_bad {
        None => Ok(()),
        Some((id, why)) => Err(format!("audit chain broken at entry {id}: {why}")),
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let mut config = load(&args.common)?;
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if let Some(v) = args.database_url {
        config.database_url = Some(v);
    }
    config.follow |= args.follow;
    config.standby |= args.standby;
    config.demo |= args.demo;
    if let Some(v) = args.snapshot_every {
        config.snapshot_every = v;
    }
    if let Some(v) = args.batch_limit {
        config.batch_limit = v;
    }
    if let Some(v) = args.rate_limit_store {
        config.limits.store = v;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let app = bourse::start(config, Default::default())
            .await
            .map_err(|e| e.to_string())?;
        let mut out = std::io::stdout().lock();
        if let Some(p) = &app.generated_admin_password {
            let _ = writeln!(out, "admin password (shown once): {p}");
        }
        // Before the HTTP line, which scripts wait for: then both are known.
        if let Some(fix) = app.fix_addr {
            let _ = writeln!(out, "fix listening on {fix}");
        }
        let _ = writeln!(out, "listening on {}", app.addr);
        let _ = out.flush();
        drop(out);
        tokio::select! {
            _ = wait_for_signal() => {}
            leader = deposed(&app) => {
                // Not a graceful shutdown: nothing more may be written, and the lease is
                // another node's (the supervisor restarts this one as a standby).
                return Err(format!(
                    "deposed: another node took the leader lease ({}); this node stopped \
                     writing and exits; restart it with --standby",
                    leader.unwrap_or_else(|| "unknown".into())
                ));
            }
        }
        tracing::info!("shutting down");
        app.shutdown().await;
        Ok(())
    })
}

/// Resolves once another node took this node's lease (never on a node without one): the
/// new leader's URL.
async fn deposed(app: &bourse::RunningApp) -> Option<String> {
    let status = app.state.seq.status();
    loop {
        if status.deposed() {
            return status.leader_check().err().and_then(|e| match e {
                bourse_engine::sequencer::SequencerError::NotLeader(url) => url,
                _ => None,
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
