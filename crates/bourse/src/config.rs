//! Server configuration, the one place it is assembled: defaults, an optional TOML file,
//! then command-line flags and environment variables (flags win over the file, the file
//! over the defaults). Each crate defines its own settings; [`Config::engine`],
//! [`Config::gateway`] and [`Config::http`] hand each its part.
//!
//! Secrets: the server key (`bourse_gateway::keys::ServerKey`) comes from `server_key`
//! in the config, else from the file `server.key` in the data dir, generated on first
//! start.

use bourse_engine::EngineConfig;
pub use bourse_engine::JournalKind;
use bourse_gateway::markets::MarketDefaults;
use bourse_gateway::GatewayConfig;
use bourse_http::HttpConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Everything `bourse serve` can be told. Field names are the TOML keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    /// `None`: `sqlite://{data_dir}/bourse.db?mode=rwc`.
    pub database_url: Option<String>,
    pub journal: JournalKind,
    pub nats_url: String,
    /// JetStream stream holding the journal (`--journal nats`).
    pub nats_stream: String,
    /// Subject of that stream. `None`: `bourse.journal` for the default stream, else
    /// `bourse.journal.{stream}` (two streams may not share a subject).
    pub nats_subject: Option<String>,
    /// The NATS stream's replicas, placement, timeouts and retries (`[nats]`).
    pub nats: bourse_engine::config::NatsSettings,
    /// Read-only hot standby following the NATS stream.
    pub follow: bool,
    /// Hot standby that takes the leader lease when it expires and then serves writes
    /// (`bourse_engine::standby`).
    pub standby: bool,
    pub demo: bool,
    /// Write a snapshot every this many commands (0 = never).
    pub snapshot_every: u64,
    /// Snapshots kept on disk.
    pub snapshots_keep: usize,
    /// Journal retention: once a snapshot is written, delete the file journal's segments
    /// wholly before the oldest snapshot kept. Disk stays bounded, but the read-model
    /// database can then only be rebuilt from its own backups, not from the journal
    /// (archive the segments first if you need the full history).
    pub prune_journal: bool,
    /// The file journal rolls to a new segment past this many bytes.
    pub journal_segment_bytes: u64,
    /// Most commands the sequencer journals in one group commit.
    pub batch_limit: usize,
    /// Capacity of the gateways → sequencer channel (back-pressure beyond it).
    pub queue_capacity: usize,
    /// Commands a lossless feed (projector, notifications) may fall behind by: past half,
    /// `/health` is degraded; at the capacity new commands get 503 `OVERLOADED`.
    pub feed_capacity: usize,
    /// Hex server key; generated into the data dir when absent.
    pub server_key: Option<String>,
    pub token_ttl_secs: u64,
    /// Unverified users cannot trade or withdraw (`KYC_REQUIRED`). Not read by replay:
    /// the policy is journaled core state, and when this value differs from it at start-up
    /// the server journals `SetKycPolicy` before serving (turning it on cancels the open
    /// orders of unverified users), so changing it between restarts never changes how
    /// old commands replay.
    pub kyc_required: bool,
    /// What each KYC level may do (`[kyc.levels.N]`, see [`crate::kyc`]). Journaled core
    /// state like `kyc_required`.
    pub kyc: crate::kyc::KycConfig,
    /// How long a `client_order_id` or `client_withdrawal_id` stays a duplicate (ms); an
    /// id whose order is open or whose withdrawal is pending never expires. Journaled core
    /// state like `kyc_required`: a changed value becomes a command at the next start.
    pub idempotency_window_ms: u64,
    /// How long a read waits for the projector to catch up with the last write.
    pub fence_timeout_ms: u64,
    pub markets: MarketDefaults,
    /// API-key signatures (`[auth]`).
    pub auth: bourse_gateway::auth::AuthConfig,
    /// Rate limits: request weights per tier and per IP, order rates, WebSocket rates,
    /// the store (`[limits]`, `--rate-limit-store`).
    pub limits: bourse_gateway::limits::LimitsConfig,
    /// WebSocket limits and timings (`[ws]`).
    pub ws: bourse_http::ws::WsConfig,
    /// The HTTP transport's guard rails (`[http]`): timeouts, connection caps, body
    /// limits, trusted proxies and hosts, CORS, security headers, TLS.
    pub http: bourse_http::security::HttpSettings,
    /// The FIX 4.4 acceptor (`[fix]`): off unless `listen` is set (demo mode: 127.0.0.1:9878).
    pub fix: bourse_fix::FixConfig,
    /// `/health`: free-disk minimum, check cache and timeouts (`[health]`).
    pub health: bourse_http::monitoring::HealthSettings,
    /// Prometheus metrics (`[metrics]`).
    pub metrics: MetricsConfig,
    /// The Binance-compatible API (`[binance]`): listen-key lifetime, stream message rates.
    pub binance: bourse_binance::config::BinanceConfig,
}

/// `[metrics]`: `enabled` (default true) serves `GET /metrics` and records; off, the
/// route is not there (404) and recording is a no-op (see `bourse_http::metrics`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            journal: JournalKind::File,
            nats_url: "nats://127.0.0.1:4222".into(),
            nats_stream: Self::DEFAULT_NATS_STREAM.into(),
            nats_subject: None,
            nats: Default::default(),
            follow: false,
            standby: false,
            demo: false,
            snapshot_every: 100_000,
            snapshots_keep: 3,
            prune_journal: true,
            journal_segment_bytes: 64 * 1024 * 1024,
            batch_limit: 1024,
            queue_capacity: 8192,
            feed_capacity: 1 << 18,
            server_key: None,
            token_ttl_secs: 24 * 3600,
            kyc_required: false,
            kyc: Default::default(),
            idempotency_window_ms: bourse_core::CoreConfig::DEFAULT_IDEMPOTENCY_WINDOW_MS,
            fence_timeout_ms: 2000,
            markets: MarketDefaults::default(),
            auth: Default::default(),
            limits: Default::default(),
            ws: Default::default(),
            http: Default::default(),
            fix: Default::default(),
            health: Default::default(),
            metrics: Default::default(),
            binance: Default::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(transparent)]
    Key(#[from] bourse_gateway::keys::KeyError),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    pub const DEFAULT_NATS_STREAM: &'static str = "BOURSE_JOURNAL";

    pub fn nats_subject(&self) -> String {
        match &self.nats_subject {
            Some(s) => s.clone(),
            None if self.nats_stream == Self::DEFAULT_NATS_STREAM => "bourse.journal".into(),
            None => format!("bourse.journal.{}", self.nats_stream),
        }
    }

    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("bourse.db").display()
            ),
        }
    }

    /// The engine's part: journal, snapshots, database, batching.
    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url(),
            journal: self.journal,
            nats_url: self.nats_url.clone(),
            nats_stream: self.nats_stream.clone(),
            nats_subject: self.nats_subject(),
            nats: self.nats.clone(),
            // A standby recovers and follows as a follower until it is promoted.
            follow: self.follow || self.standby,
            snapshot_every: self.snapshot_every,
            snapshots_keep: self.snapshots_keep,
            prune_journal: self.prune_journal,
            segment_bytes: self.journal_segment_bytes,
            batch_limit: self.batch_limit,
            queue_capacity: self.queue_capacity,
        }
    }

    /// The gateway's part: auth, rate limits, market defaults, the read fence.
    pub fn gateway(&self) -> GatewayConfig {
        GatewayConfig {
            fence_timeout_ms: self.fence_timeout_ms,
            auth: self.auth.clone(),
            limits: self.limits.clone(),
            markets: self.markets.clone(),
        }
    }

    /// The HTTP crate's part, for a server bound to `bound` (its address is a trusted
    /// Host name, port 0 resolved).
    pub fn http(&self, bound: Option<std::net::SocketAddr>) -> HttpConfig {
        HttpConfig {
            settings: self.http.clone(),
            listen: self.listen.clone(),
            bound,
            ws: self.ws.clone(),
            health: bourse_http::monitoring::HealthSettings {
                data_dir: self.data_dir.clone(),
                ..self.health.clone()
            },
        }
    }

    /// The FIX acceptor's part; demo mode turns it on at 127.0.0.1:9878 unless set.
    /// `[fix] tls = true` without files of its own shares `[http.tls]`'s certificate.
    pub fn fix(&self) -> bourse_fix::FixConfig {
        let mut fix = self.fix.clone();
        if fix.listen.is_none() && self.demo {
            fix.listen = Some("127.0.0.1:9878".into());
        }
        let own = fix.tls_cert_file.is_some() || fix.tls_key_file.is_some();
        if let (true, false, Some(http)) = (fix.tls, own, &self.http.tls) {
            fix.tls_cert_file = Some(http.cert_file.clone());
            fix.tls_key_file = Some(http.key_file.clone());
        }
        fix
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.batch_limit == 0 || self.queue_capacity == 0 {
            return Err(ConfigError::Invalid(
                "batch_limit and queue_capacity must be positive".into(),
            ));
        }
        if self.follow && self.journal != JournalKind::Nats {
            return Err(ConfigError::Invalid("--follow needs --journal nats".into()));
        }
        if self.standby && (self.journal != JournalKind::Nats || self.follow) {
            return Err(ConfigError::Invalid(
                "--standby needs --journal nats and cannot be combined with --follow".into(),
            ));
        }
        self.nats.validate().map_err(ConfigError::Invalid)?;
        self.kyc.levels().map_err(ConfigError::Invalid)?;
        if self.auth.login_backoff_base_ms == 0
            || self.auth.login_backoff_max_ms < self.auth.login_backoff_base_ms
        {
            return Err(ConfigError::Invalid(
                "[auth] login_backoff_base_ms must be positive and at most login_backoff_max_ms"
                    .into(),
            ));
        }
        if self.auth.login_throttle_entries == 0 {
            return Err(ConfigError::Invalid(
                "[auth] login_throttle_entries must be positive".into(),
            ));
        }
        if self.snapshots_keep == 0 {
            return Err(ConfigError::Invalid(
                "snapshots_keep must be positive".into(),
            ));
        }
        self.markets.fee_schedule().map_err(ConfigError::Invalid)?;
        self.limits.validate().map_err(ConfigError::Invalid)?;
        self.http.validate().map_err(ConfigError::Invalid)?;
        self.fix()
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let mut symbols = std::collections::HashSet::new();
        if let Some(dup) = self
            .markets
            .list
            .iter()
            .find(|m| !symbols.insert(m.symbol.as_str()))
        {
            return Err(ConfigError::Invalid(format!(
                "[[markets.list]]: {} is listed twice",
                dup.symbol
            )));
        }
        // Before anything starts: a bad `[fix]` (TLS settings included) stops the start
        // while nothing is running yet.
        let fix = self.fix();
        if fix.listen.is_some() {
            fix.validate()
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../bourse.example.toml");

    fn parse(text: &str) -> Result<Config, String> {
        toml::from_str::<Config>(text).map_err(|e| e.to_string())
    }

    use bourse_model::FeeSchedule;

    fn bps(fees: [FeeSchedule; 3]) -> [(u32, u32); 3] {
        fees.map(|f| (f.maker_bps, f.taker_bps))
    }

    #[test]
    fn example_config_is_valid_and_its_markets_are_read() {
        let c = parse(EXAMPLE).unwrap();
        c.validate().unwrap();
        assert_eq!(
            bps(c.markets.fee_schedule().unwrap()),
            [(10, 20), (5, 15), (2, 10)]
        );
        let list = &c.markets.list;
        assert_eq!(
            list.iter().map(|m| m.symbol.as_str()).collect::<Vec<_>>(),
            ["SOL-USD", "EUR-USD"]
        );
        assert_eq!(
            list[0].fees.map(|f| bps(f.schedule())),
            Some([(8, 16), (4, 12), (0, 8)])
        );
        assert_eq!(
            (list[1].maker_fee_bps, list[1].taker_fee_bps, list[1].fees),
            (Some(0), Some(5), None)
        );
    }

    /// The example documents the defaults: every value it shows outside `[markets]` is
    /// the built-in one (a changed default must change the example too).
    #[test]
    fn example_config_shows_the_defaults() {
        let mut c = parse(EXAMPLE).unwrap();
        let defaults = MarketDefaults::default();
        assert_eq!(
            format!(
                "{:?}",
                (
                    c.markets.base_scale,
                    c.markets.quote_scale,
                    c.markets.max_open_orders,
                    c.markets.max_qty_lots,
                    c.markets.market_slippage_bps,
                    c.markets.price_band_bps
                )
            ),
            format!(
                "{:?}",
                (
                    defaults.base_scale,
                    defaults.quote_scale,
                    defaults.max_open_orders,
                    defaults.max_qty_lots,
                    defaults.market_slippage_bps,
                    defaults.price_band_bps
                )
            )
        );
        c.markets = defaults;
        assert_eq!(format!("{c:?}"), format!("{:?}", Config::default()));
    }

    #[test]
    fn default_fees_are_one_pair_for_every_tier_unless_configured() {
        assert_eq!(
            bps(Config::default().markets.fee_schedule().unwrap()),
            [(10, 20); 3]
        );
        let c = parse("[markets]\ntaker_fee_bps = 30\n").unwrap();
        assert_eq!(bps(c.markets.fee_schedule().unwrap()), [(10, 30); 3]);
    }

    #[test]
    fn bad_market_settings_are_refused() {
        let per_tier = "[markets.fees]\nstandard = { maker_bps = 1, taker_bps = 2 }\n\
                        premium = { maker_bps = 1, taker_bps = 2 }\n\
                        broker = { maker_bps = 1, taker_bps = 2 }\n";
        // Both forms at once.
        let both = parse(&format!("[markets]\nmaker_fee_bps = 1\n{per_tier}")).unwrap();
        assert!(both.validate().is_err());
        assert!(parse(per_tier).unwrap().validate().is_ok());
        // Above 100 %.
        let high = parse("[markets]\ntaker_fee_bps = 10001\n").unwrap();
        assert!(high.validate().is_err());
        // An unknown tier, a missing tier.
        let gold = per_tier.replace("broker", "gold");
        assert!(parse(&gold).unwrap_err().contains("unknown field `gold`"));
        let two = per_tier.replace("broker = { maker_bps = 1, taker_bps = 2 }\n", "");
        assert!(parse(&two).unwrap_err().contains("missing field `broker`"));
        // Rate limits: a bad store URL or weight key.
        assert!(parse("[limits]\nstore = \"mysql://x\"\n")
            .unwrap()
            .validate()
            .is_err());
        let w = parse("[limits.weights]\n\"GET /api/v1/orders\" = 20\n").unwrap();
        assert!(w.validate().is_ok());
        let w = parse("[limits.weights]\n\"orders\" = 20\n").unwrap();
        assert!(w.validate().is_err());
        assert!(parse("[limits]\nredis_failure = \"maybe\"\n").is_err());
        // The same symbol twice.
        let entry = "[[markets.list]]\nsymbol = \"A-B\"\nbase = \"A\"\nquote = \"B\"\n\
                     tick_size = \"1\"\nlot_size = \"1\"\nmin_notional = \"1\"\n";
        assert!(parse(entry).unwrap().validate().is_ok());
        let twice = parse(&format!("{entry}{entry}")).unwrap();
        assert!(twice.validate().unwrap_err().to_string().contains("twice"));
    }
}
