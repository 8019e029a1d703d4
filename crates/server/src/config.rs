//! Server configuration: defaults, an optional TOML file, then command-line flags and
//! environment variables (flags win over the file, the file over the defaults).
//!
//! Secrets: the server key (JWT signing, and the root for any other key a module derives
//! with [`ServerKey::derive`]) comes from `server_key` in the config, else from the file
//! `server.key` in the data dir, which is generated (32 random bytes, hex, mode 0600) on
//! first start.

use crate::market_setup::{resolve_fees, MarketBody, TierFees, MAX_FEE_BPS};
use bourse_model::FeeSchedule;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Which journal backend the sequencer writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum JournalKind {
    #[default]
    File,
    Nats,
}

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
    /// Read-only hot standby following the NATS stream.
    pub follow: bool,
    pub demo: bool,
    /// Write a snapshot every this many commands (0 = never).
    pub snapshot_every: u64,
    /// Snapshots kept on disk.
    pub snapshots_keep: usize,
    /// Most commands the sequencer journals in one group commit.
    pub batch_limit: usize,
    /// Capacity of the gateways → sequencer channel (back-pressure beyond it).
    pub queue_capacity: usize,
    /// Hex server key; generated into the data dir when absent.
    pub server_key: Option<String>,
    pub token_ttl_secs: u64,
    /// Unverified users cannot trade or withdraw (`KYC_REQUIRED`). Not read by replay:
    /// the policy is journaled core state, and when this value differs from it at start-up
    /// the server journals `SetKycPolicy` before serving (turning it on cancels the open
    /// orders of unverified users), so changing it between restarts never changes how
    /// old commands replay.
    pub kyc_required: bool,
    /// Allowed browser origins (`*` = any). Empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// How long a read waits for the projector to catch up with the last write.
    pub fence_timeout_ms: u64,
    pub markets: MarketDefaults,
    /// API-key signatures (`[auth]`).
    pub auth: crate::auth::AuthConfig,
    /// Rate limits per tier and per IP (`[limits]`).
    pub limits: crate::limits::LimitsConfig,
    /// WebSocket limits and timings (`[ws]`).
    pub ws: crate::ws::WsConfig,
}

/// `[markets]`: defaults for markets created through the admin API or listed here, and
/// the list of markets to create at start-up (`[[markets.list]]`, see
/// `crate::market_setup`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarketDefaults {
    /// Decimals of a base asset created on the fly (raised to the size's decimals).
    pub base_scale: u8,
    /// Smallest decimals of a quote asset created on the fly; raised until the grid is
    /// exact (tick × lot a whole number of quote minor units).
    pub quote_scale: u8,
    /// Maker fee of every tier (default 10). Not together with `fees`.
    pub maker_fee_bps: Option<u32>,
    /// Taker fee of every tier (default 20). Not together with `fees`.
    pub taker_fee_bps: Option<u32>,
    /// Fees per tier (`[markets.fees.standard]`, `.premium`, `.broker`).
    pub fees: Option<TierFees>,
    pub max_open_orders: u32,
    /// Largest order, in lots.
    pub max_qty_lots: u64,
    pub market_slippage_bps: u32,
    pub price_band_bps: u32,
    /// Markets created at start-up when their symbol does not exist yet.
    pub list: Vec<MarketBody>,
}

impl MarketDefaults {
    /// The fees of a market that does not set its own: 10 bps maker and 20 bps taker for
    /// every tier unless configured.
    pub fn fee_schedule(&self) -> Result<[FeeSchedule; 3], String> {
        const BUILT_IN: FeeSchedule = FeeSchedule {
            maker_bps: 10,
            taker_bps: 20,
        };
        let fees = resolve_fees(
            self.maker_fee_bps,
            self.taker_fee_bps,
            self.fees.as_ref(),
            [BUILT_IN; 3],
        )
        .map_err(|e| format!("[markets]: {e}"))?;
        if fees
            .iter()
            .any(|f| f.maker_bps > MAX_FEE_BPS || f.taker_bps > MAX_FEE_BPS)
        {
            return Err(format!("[markets]: fees are at most {MAX_FEE_BPS} bps"));
        }
        Ok(fees)
    }
}

impl Default for MarketDefaults {
    fn default() -> Self {
        Self {
            base_scale: 8,
            quote_scale: 6,
            maker_fee_bps: None,
            taker_fee_bps: None,
            fees: None,
            max_open_orders: 1000,
            max_qty_lots: 1_000_000_000_000,
            market_slippage_bps: 500,
            price_band_bps: 0,
            list: Vec::new(),
        }
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
            follow: false,
            demo: false,
            snapshot_every: 100_000,
            snapshots_keep: 3,
            batch_limit: 1024,
            queue_capacity: 8192,
            server_key: None,
            token_ttl_secs: 24 * 3600,
            kyc_required: false,
            cors_origins: Vec::new(),
            body_limit: 64 * 1024,
            fence_timeout_ms: 2000,
            markets: MarketDefaults::default(),
            auth: Default::default(),
            limits: Default::default(),
            ws: Default::default(),
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
    #[error("server key: {0}")]
    Key(String),
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

    pub fn journal_dir(&self) -> PathBuf {
        self.data_dir.join("journal")
    }

    pub fn snapshot_dir(&self) -> PathBuf {
        self.data_dir.join("snapshots")
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
        if self.snapshots_keep == 0 {
            return Err(ConfigError::Invalid(
                "snapshots_keep must be positive".into(),
            ));
        }
        self.markets.fee_schedule().map_err(ConfigError::Invalid)?;
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
        Ok(())
    }
}

/// The server's secret root key.
#[derive(Clone)]
pub struct ServerKey([u8; 32]);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

impl ServerKey {
    /// From the config, else from (or newly into) `data_dir/server.key`.
    pub fn load_or_create(config: &Config) -> Result<Self, ConfigError> {
        if let Some(hex_key) = &config.server_key {
            return Self::from_hex(hex_key);
        }
        let path = config.data_dir.join("server.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_hex(text.trim()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                write_secret(&path, &hex::encode(key))
                    .map_err(|e| ConfigError::Key(format!("{}: {e}", path.display())))?;
                tracing::info!(path = %path.display(), "generated a new server key");
                Ok(Self(key))
            }
            Err(e) => Err(ConfigError::Key(format!("{}: {e}", path.display()))),
        }
    }

    fn from_hex(s: &str) -> Result<Self, ConfigError> {
        let bytes = hex::decode(s).map_err(|_| ConfigError::Key("not hex".into()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| ConfigError::Key("must be 32 bytes (64 hex digits)".into()))?;
        Ok(Self(key))
    }

    /// An independent 32-byte key for one purpose (e.g. `"bourse jwt v1"`,
    /// `"bourse api-key secrets v1"`).
    pub fn derive(&self, context: &str) -> [u8; 32] {
        blake3::derive_key(context, &self.0)
    }
}

fn write_secret(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../bourse.example.toml");

    fn parse(text: &str) -> Result<Config, String> {
        toml::from_str::<Config>(text).map_err(|e| e.to_string())
    }

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
        // The same symbol twice.
        let entry = "[[markets.list]]\nsymbol = \"A-B\"\nbase = \"A\"\nquote = \"B\"\n\
                     tick_size = \"1\"\nlot_size = \"1\"\nmin_notional = \"1\"\n";
        assert!(parse(entry).unwrap().validate().is_ok());
        let twice = parse(&format!("{entry}{entry}")).unwrap();
        assert!(twice.validate().unwrap_err().to_string().contains("twice"));
    }
}
