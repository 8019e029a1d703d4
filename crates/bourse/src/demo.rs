//! Demo mode (`bourse serve --demo`): a live market for a newcomer within seconds.
//!
//! Rules:
//! - Everything goes through [`SequencerHandle::submit`] like any gateway: the demo is
//!   journaled, replayed and projected like real traffic, and the core stays pure.
//! - Start-up ([`start`], before the server listens) creates what is missing: assets USD,
//!   BTC, ETH, markets BTC-USD and ETH-USD ([`MARKETS`]), and the bot users `demo-mm`
//!   (market maker) and `demo-taker`. Existing markets and users are kept (a restart
//!   continues the same demo). Markets are created by `bourse_gateway::markets` like the
//!   admin API's, with the demo's per-tier [`FEES`] and the config's `[markets]` defaults
//!   for the rest.
//! - Every user registered while the demo runs, except admins, is credited
//!   [`DEMO_FUNDS`]. The credit task reads the sequencer's lossless feed
//!   (`subscribe_all`) for `UserRegistered` and credits users one at a time, in id order,
//!   so no user is missed or credited twice; after each it publishes the id on
//!   [`Demo::credited`]. The register endpoint waits (bounded) for its user's id there,
//!   so a newcomer's first balance read already shows the funds.
//! - The market maker re-quotes each market every ~0.8 s: its mid price does a random walk
//!   (a few basis points a step, integer ticks, kept within ½–2× the start price), and it
//!   keeps [`LEVELS`] bid and ask levels on a fixed price grid around the mid with random
//!   sizes, growing with depth. Only levels that left the window or were picked for a
//!   refresh are cancelled and replaced, so the book changes a little at a time.
//! - The taker sends a small market or IOC order every 1–3 s, so trades and candles move.
//! - Bots are topped up when their available balance falls below half of their funding.
//! - No floats: prices are ticks, sizes lots, amounts minor units.
//! - Tasks stop on shutdown ([`Demo::stop`]) before the sequencer does.

use bourse_engine::{Applied, SequencerError, SequencerHandle};
use bourse_gateway::auth::password;
use bourse_gateway::markets::{
    self as market_setup, MarketBody, MarketDefaults, TierFee, TierFees,
};
use bourse_model::{
    parse_units, Amount, AssetId, CommandKind, Event, MarketId, NewOrder, OrderType, Price, Qty,
    RejectCode, Role, Side, StpMode, Symbol, TimeInForce, UserId,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// One demo market and how the bots trade it. Decimals are strings parsed exactly.
pub struct DemoMarket {
    pub symbol: &'static str,
    pub base: &'static str,
    pub tick_size: &'static str,
    pub lot_size: &'static str,
    /// Smallest limit-order value, in USD.
    pub min_notional: &'static str,
    /// The mid price the market maker starts from when nothing has traded yet.
    pub start_price: &'static str,
    /// Market-maker size range at the inside level, in base units.
    pub quote_size: (&'static str, &'static str),
    /// Taker size range, in base units.
    pub take_size: (&'static str, &'static str),
}

pub const QUOTE: &str = "USD";
pub const QUOTE_SCALE: u8 = 6;
pub const BASE_SCALE: u8 = 8;

pub const MARKETS: [DemoMarket; 2] = [
    DemoMarket {
        symbol: "BTC-USD",
        base: "BTC",
        tick_size: "0.01",
        lot_size: "0.0001",
        min_notional: "10",
        start_price: "65000",
        quote_size: ("0.005", "0.25"),
        take_size: ("0.001", "0.05"),
    },
    DemoMarket {
        symbol: "ETH-USD",
        base: "ETH",
        tick_size: "0.01",
        lot_size: "0.001",
        min_notional: "10",
        start_price: "3200",
        quote_size: ("0.05", "4"),
        take_size: ("0.01", "0.5"),
    },
];

/// The demo markets' fees per tier.
pub const FEES: TierFees = TierFees {
    standard: TierFee {
        maker_bps: 10,
        taker_bps: 20,
    },
    premium: TierFee {
        maker_bps: 5,
        taker_bps: 15,
    },
    broker: TierFee {
        maker_bps: 2,
        taker_bps: 10,
    },
};

/// What every newly registered user receives.
pub const DEMO_FUNDS: [(&str, &str); 3] = [("USD", "100000"), ("BTC", "2"), ("ETH", "30")];
pub const MARKET_MAKER: &str = "demo-mm";
pub const TAKER: &str = "demo-taker";
const MM_FUNDS: [(&str, &str); 3] = [("USD", "50000000"), ("BTC", "1000"), ("ETH", "15000")];
const TAKER_FUNDS: [(&str, &str); 3] = [("USD", "5000000"), ("BTC", "100"), ("ETH", "1500")];

/// Price levels per side.
pub const LEVELS: usize = 15;
const REQUOTE_EVERY: Duration = Duration::from_millis(800);
/// Largest mid-price step per re-quote, in basis points.
const WALK_BPS: u64 = 4;
/// Distance between quoted levels, in basis points of the start price.
const LEVEL_GAP_BPS: u64 = 1;
/// Chance (per mille) that a quoted level is cancelled and re-posted with a new size.
const REFRESH_PER_MILLE: u32 = 120;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Sequencer(#[from] SequencerError),
    #[error("{what}: {code}")]
    Rejected { what: String, code: RejectCode },
    #[error("{0}")]
    Setup(String),
}

/// The running demo tasks.
pub struct Demo {
    tasks: Vec<JoinHandle<()>>,
    /// The highest user id whose registration the credit task has handled (credited, or
    /// skipped as an admin or a user from before the demo started).
    pub credited: watch::Receiver<u64>,
}

impl Demo {
    /// Waits (bounded) for the tasks to notice the shutdown signal and finish.
    pub async fn stop(self) {
        for t in self.tasks {
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                tracing::warn!("a demo task did not stop within 5 s");
            }
        }
    }
}

/// Asset ids the demo uses, by symbol.
#[derive(Clone)]
struct Assets(Vec<(String, AssetId, u8)>);

impl Assets {
    fn get(&self, symbol: &str) -> Option<(AssetId, u8)> {
        self.0
            .iter()
            .find(|(s, _, _)| s == symbol)
            .map(|(_, id, scale)| (*id, *scale))
    }

    /// `[(asset, amount)]` of a funding table.
    fn amounts(&self, table: &[(&str, &str)]) -> Result<Vec<(AssetId, Amount)>, DemoError> {
        table
            .iter()
            .map(|(sym, amount)| {
                let (id, scale) = self
                    .get(sym)
                    .ok_or_else(|| DemoError::Setup(format!("no asset {sym}")))?;
                let units = parse_units(amount, scale)
                    .map_err(|e| DemoError::Setup(format!("{sym} {amount}: {e}")))?;
                Ok((id, Amount(units)))
            })
            .collect()
    }
}

/// Creates the demo's assets, markets and bots if missing, subscribes to registrations
/// and starts the bots. Call before the server accepts requests (no registration is
/// missed) and not on a follower.
pub async fn start(
    seq: &SequencerHandle,
    defaults: &MarketDefaults,
    shutdown: watch::Receiver<bool>,
) -> Result<Demo, DemoError> {
    // Subscribe first: every registration after this point reaches the credit task.
    let (_, registrations) = seq.subscribe_all("demo credits");
    let assets = ensure_assets(seq).await?;
    let mut markets = Vec::new();
    for def in &MARKETS {
        markets.push(ensure_market(seq, defaults, def).await?);
    }
    let mm = ensure_bot(seq, MARKET_MAKER, &assets.amounts(&MM_FUNDS)?).await?;
    let taker = ensure_bot(seq, TAKER, &assets.amounts(&TAKER_FUNDS)?).await?;
    let known_users = seq.query(|core| core.user_count() as u64).await?;

    let (credited, credited_rx) = watch::channel(known_users);
    let credit = Credit {
        seq: seq.clone(),
        funds: assets.amounts(&DEMO_FUNDS)?,
        credited,
    };
    let mut tasks = vec![tokio::spawn(credit.run(registrations, shutdown.clone()))];
    let mut seed_rng = StdRng::from_entropy();
    for (id, def) in &markets {
        let quoter = Quoter::new(
            seq.clone(),
            mm,
            *id,
            def,
            &assets,
            StdRng::from_rng(&mut seed_rng).map_err(|e| DemoError::Setup(e.to_string()))?,
        )
        .await?;
        tasks.push(tokio::spawn(quoter.run(shutdown.clone())));
    }
    let taker = Taker {
        seq: seq.clone(),
        user: taker,
        markets: markets
            .iter()
            .map(|(id, def)| TakerMarket::new(*id, def))
            .collect::<Result<_, _>>()?,
        funds: assets.amounts(&TAKER_FUNDS)?,
        rng: StdRng::from_rng(&mut seed_rng).map_err(|e| DemoError::Setup(e.to_string()))?,
    };
    tasks.push(tokio::spawn(taker.run(shutdown)));
    tracing::info!(
        markets = MARKETS.len(),
        "demo mode: markets, demo funds and bots are live"
    );
    Ok(Demo {
        tasks,
        credited: credited_rx,
    })
}

fn rejected(what: impl Into<String>, applied: &Applied) -> Result<(), DemoError> {
    match applied.rejected() {
        Some((code, _)) => Err(DemoError::Rejected {
            what: what.into(),
            code,
        }),
        None => Ok(()),
    }
}

fn symbol(s: &str) -> Result<Symbol, DemoError> {
    Symbol::new(s).map_err(|e| DemoError::Setup(format!("{s}: {e}")))
}

async fn ensure_assets(seq: &SequencerHandle) -> Result<Assets, DemoError> {
    let wanted: Vec<(&str, u8)> = std::iter::once((QUOTE, QUOTE_SCALE))
        .chain(MARKETS.iter().map(|m| (m.base, BASE_SCALE)))
        .collect();
    let mut out = Vec::new();
    for (sym, scale) in wanted {
        let s = sym.to_owned();
        let existing = seq
            .query(move |core| core.asset_by_symbol(&s).and_then(|a| core.asset(a)))
            .await?;
        let (id, scale) = match existing {
            Some(a) => (a.id, a.scale),
            None => {
                let id = market_setup::create_asset(seq, symbol(sym)?, scale)
                    .await
                    .map_err(|e| DemoError::Setup(format!("asset {sym}: {e}")))?;
                (id, scale)
            }
        };
        out.push((sym.to_owned(), id, scale));
    }
    Ok(Assets(out))
}

/// `"0.01"` → (1, 2): units at the decimals written.
fn increment(s: &str) -> Result<(u64, u8), DemoError> {
    let scale = s.split_once('.').map_or(0, |(_, f)| f.len()) as u8;
    let units = parse_units(s, scale).map_err(|e| DemoError::Setup(format!("{s}: {e}")))?;
    Ok((units, scale))
}

/// The demo market as a market definition, created through the same code as the admin
/// API and the config file (`bourse_gateway::markets`). Its fees are [`FEES`], its largest
/// order 10,000 base units; the rest comes from the `[markets]` defaults.
fn market_body(def: &DemoMarket) -> MarketBody {
    MarketBody {
        symbol: def.symbol.into(),
        base: def.base.into(),
        quote: QUOTE.into(),
        tick_size: def.tick_size.into(),
        lot_size: def.lot_size.into(),
        min_notional: def.min_notional.into(),
        min_quantity: None,
        max_quantity: Some("10000".into()),
        maker_fee_bps: None,
        taker_fee_bps: None,
        fees: Some(FEES),
        price_band_bps: None,
        market_slippage_bps: None,
    }
}

async fn ensure_market(
    seq: &SequencerHandle,
    defaults: &MarketDefaults,
    def: &'static DemoMarket,
) -> Result<(MarketId, &'static DemoMarket), DemoError> {
    let market = market_setup::ensure(seq, defaults, &market_body(def), "demo mode")
        .await
        .map_err(|e| DemoError::Setup(format!("market {}: {e}", def.symbol)))?;
    Ok((market.id, def))
}

/// Registers a bot (random password: nobody logs in as it), verifies its KYC so it can
/// trade when KYC is required, and funds it on creation.
async fn ensure_bot(
    seq: &SequencerHandle,
    name: &'static str,
    funds: &[(AssetId, Amount)],
) -> Result<UserId, DemoError> {
    if let Some(id) = seq.query(move |core| core.user_by_name(name)).await? {
        return Ok(id);
    }
    let secret = hex::encode(rand::random::<[u8; 16]>());
    let password_hash = password::hash_async(secret)
        .await
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    let applied = seq
        .submit(CommandKind::RegisterUser {
            username: name.into(),
            password_hash,
            role: Role::Trader,
        })
        .await?;
    rejected(format!("register {name}"), &applied)?;
    let user = applied
        .events
        .iter()
        .find_map(|e| match e {
            Event::UserRegistered { user, .. } => Some(*user),
            _ => None,
        })
        .ok_or_else(|| DemoError::Setup("RegisterUser produced no UserRegistered".into()))?;
    let applied = seq
        .submit(CommandKind::SetUserFlags {
            user,
            kyc_verified: Some(true),
            kill_switch: None,
            tier: None,
        })
        .await?;
    rejected(format!("verify {name}"), &applied)?;
    deposit_all(seq, user, funds).await?;
    Ok(user)
}

/// Deposits every amount concurrently (one group commit).
async fn deposit_all(
    seq: &SequencerHandle,
    user: UserId,
    funds: &[(AssetId, Amount)],
) -> Result<(), DemoError> {
    let mut set = JoinSet::new();
    for &(asset, amount) in funds {
        let seq = seq.clone();
        set.spawn(async move {
            let applied = seq
                .submit(CommandKind::Deposit {
                    user,
                    asset,
                    amount,
                })
                .await?;
            rejected(format!("deposit to user {user}"), &applied)
        });
    }
    while let Some(r) = set.join_next().await {
        r.map_err(|e| DemoError::Setup(e.to_string()))??;
    }
    Ok(())
}

/// Credits demo funds to each newly registered non-admin user.
struct Credit {
    seq: SequencerHandle,
    funds: Vec<(AssetId, Amount)>,
    /// Highest user id handled; ids are dense and arrive in order. Starts at the users
    /// that existed before the demo (the bots among them), which are not credited.
    credited: watch::Sender<u64>,
}

impl Credit {
    async fn run(
        self,
        mut rx: bourse_engine::feed::FeedReceiver,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            let batch = tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                b = rx.recv() => match b {
                    Some(b) => b,
                    None => return,
                },
            };
            for cmd in &batch.commands {
                for e in &cmd.events {
                    let Event::UserRegistered { user, role, .. } = e else {
                        continue;
                    };
                    if user.0 <= *self.credited.borrow() {
                        continue;
                    }
                    if *role != Role::Admin {
                        match deposit_all(&self.seq, *user, &self.funds).await {
                            Ok(()) => tracing::debug!(%user, "demo funds credited"),
                            Err(e) => tracing::warn!(%user, error = %e, "demo funds not credited"),
                        }
                    }
                    self.credited.send_replace(user.0);
                }
            }
        }
    }
}

/// Parses a size in base units into lots of the market.
fn lots(def: &DemoMarket, s: &str) -> Result<u64, DemoError> {
    let (lot, qty_scale) = increment(def.lot_size)?;
    let units = parse_units(s, qty_scale).map_err(|e| DemoError::Setup(format!("{s}: {e}")))?;
    Ok((units / lot).max(1))
}

/// The market maker for one market.
struct Quoter {
    seq: SequencerHandle,
    user: UserId,
    market: MarketId,
    /// Mid price in ticks.
    mid: u64,
    bounds: (u64, u64),
    /// Distance between levels, in ticks.
    gap: u64,
    size: (u64, u64),
    funds: Vec<(AssetId, Amount)>,
    rng: StdRng,
}

impl Quoter {
    async fn new(
        seq: SequencerHandle,
        user: UserId,
        market: MarketId,
        def: &DemoMarket,
        assets: &Assets,
        rng: StdRng,
    ) -> Result<Self, DemoError> {
        let (tick, price_scale) = increment(def.tick_size)?;
        let start = parse_units(def.start_price, price_scale)
            .map_err(|e| DemoError::Setup(format!("start_price: {e}")))?
            / tick;
        let last = seq.query(move |core| core.last_price(market)).await?;
        let gap = (start * LEVEL_GAP_BPS / 10_000).max(1);
        let funds = assets
            .amounts(&MM_FUNDS)?
            .into_iter()
            .filter(|(a, _)| {
                [QUOTE, def.base]
                    .iter()
                    .any(|s| assets.get(s).map(|(id, _)| id) == Some(*a))
            })
            .collect();
        Ok(Self {
            seq,
            user,
            market,
            mid: last.map_or(start, |p| p.0).clamp(start / 2, start * 2),
            bounds: (start / 2, start * 2),
            gap,
            size: (lots(def, def.quote_size.0)?, lots(def, def.quote_size.1)?),
            funds,
            rng,
        })
    }

    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.requote().await {
                tracing::debug!(market = %self.market, error = %e, "demo market maker");
            }
            let jitter = self.rng.gen_range(0..=200);
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(REQUOTE_EVERY + Duration::from_millis(jitter)) => {}
            }
        }
    }

    /// The desired prices: `LEVELS` grid points strictly below the mid for bids and
    /// strictly above it for asks.
    fn targets(&self) -> (Vec<u64>, Vec<u64>) {
        let below = (self.mid - 1) / self.gap * self.gap;
        let above = (self.mid / self.gap + 1) * self.gap;
        let bids = (0..LEVELS as u64)
            .filter_map(|i| below.checked_sub(i * self.gap))
            .filter(|p| *p > 0)
            .collect();
        let asks = (0..LEVELS as u64).map(|i| above + i * self.gap).collect();
        (bids, asks)
    }

    async fn requote(&mut self) -> Result<(), DemoError> {
        let step = (self.mid * WALK_BPS / 10_000).max(1) as i64;
        let delta = self.rng.gen_range(-step..=step);
        self.mid = self
            .mid
            .saturating_add_signed(delta)
            .clamp(self.bounds.0, self.bounds.1);
        let (user, market) = (self.user, self.market);
        let funds = self.funds.clone();
        let (open, low) = self
            .seq
            .query(move |core| {
                let open: Vec<_> = core
                    .open_orders(user)
                    .into_iter()
                    .filter(|o| o.market == market)
                    .filter_map(|o| Some((o.id, o.side, o.price?.0)))
                    .collect();
                let low: Vec<_> = funds
                    .iter()
                    .filter(|(a, amount)| core.balance(user, *a).0 .0 < amount.0 / 2)
                    .copied()
                    .collect();
                (open, low)
            })
            .await?;
        if !low.is_empty() {
            deposit_all(&self.seq, user, &low).await?;
        }

        let (bids, asks) = self.targets();
        let mut kept: Vec<(Side, u64)> = Vec::new();
        let mut cancels = JoinSet::new();
        for (id, side, price) in open {
            let wanted = match side {
                Side::Buy => &bids,
                Side::Sell => &asks,
            };
            let keep = wanted.contains(&price)
                && !kept.contains(&(side, price))
                && self.rng.gen_range(0..1000) >= REFRESH_PER_MILLE;
            if keep {
                kept.push((side, price));
            } else {
                let seq = self.seq.clone();
                cancels.spawn(async move {
                    seq.submit(CommandKind::CancelOrder { user, order: id })
                        .await
                });
            }
        }
        while let Some(r) = cancels.join_next().await {
            if let Ok(Err(e)) = r {
                return Err(e.into());
            }
        }

        let mut places = JoinSet::new();
        let sides = [(Side::Buy, bids), (Side::Sell, asks)];
        for (side, prices) in sides {
            for (depth, price) in prices.into_iter().enumerate() {
                if kept.contains(&(side, price)) {
                    continue;
                }
                // Deeper levels are larger, as on a real book.
                let scale = 4 + depth as u64;
                let qty = self.rng.gen_range(self.size.0..=self.size.1) * scale / 4;
                let order = NewOrder {
                    stp: StpMode::ExpireTaker,
                    ..NewOrder::limit(user, market, side, Price(price), Qty(qty.max(1)))
                };
                let seq = self.seq.clone();
                places.spawn(
                    async move { seq.submit(CommandKind::PlaceOrder(Box::new(order))).await },
                );
            }
        }
        while let Some(r) = places.join_next().await {
            if let Ok(Err(e)) = r {
                return Err(e.into());
            }
        }
        Ok(())
    }
}

struct TakerMarket {
    id: MarketId,
    size: (u64, u64),
}

impl TakerMarket {
    fn new(id: MarketId, def: &DemoMarket) -> Result<Self, DemoError> {
        Ok(Self {
            id,
            size: (lots(def, def.take_size.0)?, lots(def, def.take_size.1)?),
        })
    }
}

/// Sends small market or IOC orders against the book now and then.
struct Taker {
    seq: SequencerHandle,
    user: UserId,
    markets: Vec<TakerMarket>,
    funds: Vec<(AssetId, Amount)>,
    rng: StdRng,
}

impl Taker {
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        // First trade soon after start: a newcomer should see one within seconds.
        let mut wait = Duration::from_millis(1200);
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(wait) => {}
            }
            if let Err(e) = self.trade().await {
                tracing::debug!(error = %e, "demo taker");
            }
            wait = Duration::from_millis(self.rng.gen_range(1000..=3000));
        }
    }

    async fn trade(&mut self) -> Result<(), DemoError> {
        if self.markets.is_empty() {
            return Ok(());
        }
        let m = &self.markets[self.rng.gen_range(0..self.markets.len())];
        let (market, user) = (m.id, self.user);
        let side = if self.rng.gen_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let qty = Qty(self.rng.gen_range(m.size.0..=m.size.1));
        let use_market = self.rng.gen_bool(0.5);
        let funds = self.funds.clone();
        let (best, low) = self
            .seq
            .query(move |core| {
                let best = match side {
                    Side::Buy => core.best_ask(market),
                    Side::Sell => core.best_bid(market),
                };
                let low: Vec<_> = funds
                    .iter()
                    .filter(|(a, amount)| core.balance(user, *a).0 .0 < amount.0 / 2)
                    .copied()
                    .collect();
                (best.map(|(p, _)| p), low)
            })
            .await?;
        if !low.is_empty() {
            deposit_all(&self.seq, user, &low).await?;
        }
        let Some(best) = best else { return Ok(()) };
        let order = if use_market {
            NewOrder {
                order_type: OrderType::Market,
                price: None,
                tif: TimeInForce::Ioc,
                ..NewOrder::limit(user, market, side, best, qty)
            }
        } else {
            NewOrder {
                tif: TimeInForce::Ioc,
                ..NewOrder::limit(user, market, side, best, qty)
            }
        };
        let applied = self
            .seq
            .submit(CommandKind::PlaceOrder(Box::new(order)))
            .await?;
        rejected("demo taker order", &applied)
    }
}
