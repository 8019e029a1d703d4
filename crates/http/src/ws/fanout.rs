//! The fan-out task: applied batches → channel messages → connection queues.
//!
//! Rules:
//! - One task owns the subscriptions, a mirror of every book, the current candles and
//!   tickers. Subscribing goes through its control channel, so a book snapshot is taken
//!   from the mirror *between* two updates and queued in order with them: no update is
//!   missed or repeated after a snapshot.
//! - Each message is serialized once and shared (`Utf8Bytes` is reference-counted);
//!   pushing is `try_send` into a bounded queue — the task never waits for a connection.
//! - A batch's messages are queued at its end, grouped per connection (each connection's
//!   share back to back, in publish order): one wake and one socket write per connection
//!   per batch, however many channels it touched.
//! - Candles and the ticker's last trade are not core state: on a (re)load they are seeded
//!   from the read models once those reflect the core's sequence (bounded wait), and
//!   trades of commands the seed already holds are skipped (`Market::live_from`).
//! - The mirror starts from the core (a query, which runs between batches) and skips book
//!   changes whose sequence it already has. A gap in a market's sequence, or the task
//!   lagging behind the broadcast, reloads the books from the core and re-sends a
//!   snapshot to every book and ticker subscriber. After a lag the subscribers of the
//!   other public and private channels get an `UPDATES_LOST` error frame instead: their
//!   missed updates (trades, fills, …) cannot be rebuilt from a mirror.

use super::protocol::{Channel, ChannelName};
use super::{ConnId, Out, Push, Realtime, Sink};
use axum::extract::ws::Utf8Bytes;
use bourse_engine::sequencer::{AppliedBatch, AppliedCommand, SequencerHandle};
use bourse_gateway::market_info::MarketInfo;
use bourse_model::{
    format_units, AssetId, CommandKind, Event, MarketId, OrderStatus, Price, Qty, Side, UserId,
};
use bourse_store::{Interval, Store};
use rustc_hash::FxHashMap;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Why a subscription was refused: (error code, message).
pub(crate) type Refusal = (&'static str, String);

pub(crate) enum Control {
    /// Subscribe `sink` (already authenticated as `user` for private channels). Snapshots
    /// are queued before the reply.
    Subscribe {
        sink: Sink,
        name: ChannelName,
        user: Option<UserId>,
        reply: oneshot::Sender<Result<Channel, Refusal>>,
    },
    Unsubscribe {
        conn: ConnId,
        channels: Vec<Channel>,
    },
}

#[derive(Serialize)]
struct Msg<'a, T: Serialize> {
    channel: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    sequence: u64,
    data: T,
}

fn frame<T: Serialize>(channel: &str, kind: &'static str, sequence: u64, data: T) -> Utf8Bytes {
    serde_json::to_string(&Msg {
        channel,
        kind,
        sequence,
        data,
    })
    .unwrap_or_default()
    .into()
}

/// One command's changes to one market's book: (market, sequence, changed levels).
type BookChanges = (MarketId, u64, Vec<(Side, Price, Qty)>);

#[derive(Default, Clone)]
struct Mirror {
    sequence: u64,
    bids: BTreeMap<Price, Qty>,
    asks: BTreeMap<Price, Qty>,
}

impl Mirror {
    fn side(&mut self, side: Side) -> &mut BTreeMap<Price, Qty> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn set(&mut self, side: Side, price: Price, qty: Qty) {
        if qty.is_zero() {
            self.side(side).remove(&price);
        } else {
            self.side(side).insert(price, qty);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Candle {
    start: u64,
    open: Price,
    high: Price,
    low: Price,
    close: Price,
    volume: u64,
    quote_volume: u64,
    trades: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Ticker {
    last: Option<(Price, Qty)>,
    bid: Option<(Price, Qty)>,
    ask: Option<(Price, Qty)>,
}

struct Market {
    info: MarketInfo,
    mirror: Mirror,
    ticker: Ticker,
    /// The ticker as last published.
    ticker_sent: Ticker,
    candles: HashMap<Interval, Candle>,
    /// Journal sequence the candles and the ticker's last trade were seeded at from the
    /// read models: trades of commands up to it are in them already.
    live_from: u64,
    snapshot_cache: Option<(u64, Utf8Bytes)>,
}

struct FanOut {
    seq: SequencerHandle,
    /// The read models, for the candles and last trade the core does not keep.
    store: Store,
    rt: Arc<Realtime>,
    markets: HashMap<MarketId, Market>,
    by_symbol: HashMap<String, MarketId>,
    assets: HashMap<AssetId, (String, u8)>,
    subs: HashMap<Channel, Vec<Sink>>,
    /// Published but not yet queued (see [`FanOut::flush`]); at most [`GROUP_MAX`].
    pending: Vec<(Channel, Utf8Bytes)>,
    /// Scratch for `flush`: connection → bit set of the pending messages it wants. Fx:
    /// ids are server counters, and SipHash was the largest cost of grouping a batch for
    /// thousands of connections.
    targets: FxHashMap<ConnId, u64>,
}

/// Messages grouped per connection at most (one bit each in a `u64`).
const GROUP_MAX: usize = 64;

pub(crate) fn spawn(
    seq: SequencerHandle,
    store: Store,
    rt: Arc<Realtime>,
    control: mpsc::Receiver<Control>,
) {
    // Subscribe before loading the books, so nothing between the load and the first
    // batch is missed (what is already in the load is skipped by sequence).
    let rx = seq.subscribe();
    tokio::spawn(async move {
        let mut f = FanOut {
            seq,
            store,
            rt,
            markets: HashMap::new(),
            by_symbol: HashMap::new(),
            assets: HashMap::new(),
            subs: HashMap::new(),
            pending: Vec::with_capacity(GROUP_MAX),
            targets: FxHashMap::default(),
        };
        f.reload(true).await;
        f.run(rx, control).await;
    });
}

/// Everything about the markets the fan-out needs, read in one query.
struct Loaded {
    markets: Vec<(MarketInfo, Mirror, Option<Price>)>,
    assets: Vec<(AssetId, String, u8)>,
    /// The journal sequence of the core state read.
    seq: u64,
}

/// The longest a reload waits for the read models to catch up with the core before it
/// seeds candles from them anyway.
const SEED_WAIT: Duration = Duration::from_secs(2);

impl FanOut {
    async fn run(
        &mut self,
        mut rx: broadcast::Receiver<Arc<AppliedBatch>>,
        mut control: mpsc::Receiver<Control>,
    ) {
        loop {
            tokio::select! {
                batch = rx.recv() => match batch {
                    Ok(b) => self.batch(&b).await,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "ws fan-out lagged; resending book snapshots");
                        self.rt.stats.resyncs.fetch_add(1, Ordering::Relaxed);
                        // A missed batch may have revoked any credential.
                        self.recheck(None);
                        self.reload(true).await;
                        self.signal_lost();
                    }
                    Err(RecvError::Closed) => return,
                },
                c = control.recv() => match c {
                    Some(c) => self.control(c),
                    None => return,
                },
            }
        }
    }

    /// Reloads markets and assets from the core; with `books`, also every mirror, the
    /// candles and the last trade (and sends fresh book, ticker and candle snapshots to
    /// their subscribers).
    async fn reload(&mut self, books: bool) {
        // What was published before the reload goes out before its snapshots.
        self.flush();
        let handle = self.seq.clone();
        let loaded = self
            .seq
            .query(move |core| Loaded {
                // Queries run between batches: this is the last applied one.
                seq: handle.status().committed_seq(),
                markets: MarketInfo::all(core)
                    .into_iter()
                    .map(|m| {
                        let mut mirror = Mirror {
                            sequence: m.sequence,
                            ..Mirror::default()
                        };
                        if books {
                            mirror.bids = core
                                .depth(m.id, Side::Buy, usize::MAX)
                                .into_iter()
                                .collect();
                            mirror.asks = core
                                .depth(m.id, Side::Sell, usize::MAX)
                                .into_iter()
                                .collect();
                        }
                        let last = m.last_price;
                        (m, mirror, last)
                    })
                    .collect(),
                assets: core
                    .assets()
                    .into_iter()
                    .map(|a| (a.id, a.symbol.to_string(), a.scale))
                    .collect(),
            })
            .await;
        let Ok(loaded) = loaded else {
            return; // the sequencer stopped: nothing more will come
        };
        for (id, symbol, scale) in loaded.assets {
            self.assets.insert(id, (symbol, scale));
        }
        for (info, mirror, last) in loaded.markets {
            let id = info.id;
            self.by_symbol.insert(info.symbol().to_owned(), id);
            match self.markets.get_mut(&id) {
                Some(m) if !books => m.info = info,
                Some(m) => {
                    m.info = info;
                    m.mirror = mirror;
                    m.snapshot_cache = None;
                }
                None => {
                    // Seen through its `MarketCreated` event: the book starts empty at
                    // sequence 0 and its changes follow in the stream (the query may
                    // already be ahead of this batch).
                    let (mirror, last) = if books {
                        (mirror, last)
                    } else {
                        (Mirror::default(), None)
                    };
                    self.markets.insert(
                        id,
                        Market {
                            info,
                            mirror,
                            ticker: Ticker {
                                last: last.map(|p| (p, Qty(0))),
                                ..Ticker::default()
                            },
                            ticker_sent: Ticker::default(),
                            candles: HashMap::new(),
                            live_from: 0,
                            snapshot_cache: None,
                        },
                    );
                }
            }
        }
        if books {
            let ids: Vec<MarketId> = self.markets.keys().copied().collect();
            for id in ids {
                self.seed_live(id, loaded.seq).await;
                self.refresh_ticker(id, false);
                self.send_snapshots(Channel::Book(id));
                self.send_snapshots(Channel::Ticker(id));
                for interval in Interval::ALL {
                    self.send_snapshots(Channel::Candles(id, interval));
                }
            }
        }
        self.flush();
    }

    /// Seeds a market's candles and the ticker's last trade from the read models, which
    /// keep them across restarts (the core does not), once they reflect at least
    /// journal sequence `at` (waiting at most [`SEED_WAIT`]). Trades of commands up to
    /// the sequence read are skipped from then on: they are in the seed.
    async fn seed_live(&mut self, id: MarketId, at: u64) {
        let deadline = Instant::now() + SEED_WAIT;
        let live = loop {
            match self.store.live_market(id).await {
                Ok(live) if live.seq >= at || Instant::now() >= deadline => break live,
                Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                Err(e) => {
                    tracing::error!(error = %e, "ws fan-out: cannot read candles; keeping its own");
                    return;
                }
            }
        };
        if live.seq < at {
            tracing::warn!(
                projected = live.seq,
                core = at,
                "ws fan-out: read models behind; candles may miss trades until they roll over"
            );
        }
        let Some(m) = self.markets.get_mut(&id) else {
            return;
        };
        m.candles = live
            .candles
            .iter()
            .map(|(interval, c)| {
                (
                    *interval,
                    Candle {
                        start: c.start.0,
                        open: c.open,
                        high: c.high,
                        low: c.low,
                        close: c.close,
                        volume: c.volume.0,
                        quote_volume: c.quote_volume.0,
                        trades: c.trade_count,
                    },
                )
            })
            .collect();
        if let Some(last) = live.last_trade {
            m.ticker.last = Some(last);
        }
        m.live_from = live.seq;
    }

    fn control(&mut self, c: Control) {
        match c {
            Control::Subscribe {
                sink,
                name,
                user,
                reply,
            } => {
                let result = self.resolve(&name, user);
                if let Ok(ch) = result {
                    let list = self.subs.entry(ch).or_default();
                    if !list.iter().any(|s| s.id == sink.id) {
                        list.push(sink.clone());
                    }
                    // A repeated subscribe is how a client asks for a fresh snapshot.
                    if let Some(snap) = self.snapshot(ch) {
                        sink.push(Out::Frame(snap), &self.rt.stats);
                    }
                }
                let _ = reply.send(result);
            }
            Control::Unsubscribe { conn, channels } => {
                for ch in channels {
                    if let Some(list) = self.subs.get_mut(&ch) {
                        list.retain(|s| s.id != conn);
                        if list.is_empty() {
                            self.subs.remove(&ch);
                        }
                    }
                }
            }
        }
    }

    fn resolve(&self, name: &ChannelName, user: Option<UserId>) -> Result<Channel, Refusal> {
        let market = |symbol: &str| {
            self.by_symbol
                .get(symbol)
                .copied()
                .ok_or(("UNKNOWN_CHANNEL", format!("unknown market {symbol:?}")))
        };
        let user = || user.ok_or(("UNAUTHORIZED", "authenticate first (op auth)".to_owned()));
        Ok(match name {
            ChannelName::Book(s) => Channel::Book(market(s)?),
            ChannelName::Trades(s) => Channel::Trades(market(s)?),
            ChannelName::Ticker(s) => Channel::Ticker(market(s)?),
            ChannelName::Candles(s, i) => Channel::Candles(market(s)?, *i),
            ChannelName::Orders => Channel::Orders(user()?),
            ChannelName::Fills => Channel::Fills(user()?),
            ChannelName::Balances => Channel::Balances(user()?),
            ChannelName::Notifications => Channel::Notifications(user()?),
        })
    }

    /// The snapshot a new subscriber of `ch` gets first, if the channel has one.
    fn snapshot(&mut self, ch: Channel) -> Option<Utf8Bytes> {
        match ch {
            Channel::Book(id) => {
                let m = self.markets.get_mut(&id)?;
                if let Some((seq, snap)) = &m.snapshot_cache {
                    if *seq == m.mirror.sequence {
                        return Some(snap.clone());
                    }
                }
                let level = |(p, q): (&Price, &Qty)| [m.info.price(*p), m.info.qty(*q)];
                let bids: Vec<_> = m.mirror.bids.iter().rev().map(level).collect();
                let asks: Vec<_> = m.mirror.asks.iter().map(level).collect();
                let snap = frame(
                    &format!("book.{}", m.info.symbol()),
                    "snapshot",
                    m.mirror.sequence,
                    json!({"bids": bids, "asks": asks}),
                );
                m.snapshot_cache = Some((m.mirror.sequence, snap.clone()));
                Some(snap)
            }
            Channel::Ticker(id) => {
                let m = self.markets.get(&id)?;
                Some(frame(
                    &format!("ticker.{}", m.info.symbol()),
                    "snapshot",
                    m.mirror.sequence,
                    ticker_json(&m.info, &m.ticker),
                ))
            }
            Channel::Candles(id, interval) => {
                let m = self.markets.get(&id)?;
                let data = m.candles.get(&interval).map(|c| candle_json(&m.info, c));
                Some(frame(
                    &format!("candles.{}.{}", m.info.symbol(), interval),
                    "snapshot",
                    0,
                    data,
                ))
            }
            _ => None,
        }
    }

    /// After a lag: the channels whose missed updates no snapshot rebuilds (trades,
    /// candles, orders, fills, balances) get an `UPDATES_LOST` error frame naming the
    /// channel, so a client knows to refetch that state through the REST API. (Book and
    /// ticker subscribers got fresh snapshots; notifications come from a lossless feed.)
    fn signal_lost(&mut self) {
        let lossy: Vec<Channel> = self
            .subs
            .keys()
            .copied()
            .filter(|ch| {
                !matches!(
                    ch,
                    Channel::Book(_) | Channel::Ticker(_) | Channel::Notifications(_)
                )
            })
            .collect();
        for ch in lossy {
            let Some(name) = self.channel_name(ch) else {
                continue;
            };
            let msg = super::protocol::error_frame(
                "UPDATES_LOST",
                "the server fell behind and updates of this channel were lost; refetch its \
                 state through the REST API (the updates that follow are newer)",
                Some(&name),
            );
            self.publish(ch, msg.into());
        }
        self.flush();
    }

    /// The name a client subscribes `ch` by.
    fn channel_name(&self, ch: Channel) -> Option<String> {
        if let Some(name) = ch.private_name() {
            return Some(name.to_owned());
        }
        let symbol = |id: &MarketId| self.markets.get(id).map(|m| m.info.symbol().to_owned());
        Some(match ch {
            Channel::Book(id) => format!("book.{}", symbol(&id)?),
            Channel::Trades(id) => format!("trades.{}", symbol(&id)?),
            Channel::Ticker(id) => format!("ticker.{}", symbol(&id)?),
            Channel::Candles(id, interval) => format!("candles.{}.{interval}", symbol(&id)?),
            _ => return None,
        })
    }

    fn send_snapshots(&mut self, ch: Channel) {
        if !self.subs.contains_key(&ch) {
            return;
        }
        if let Some(snap) = self.snapshot(ch) {
            self.publish(ch, snap);
        }
    }

    /// Queues `msg` for every subscriber of `ch` at the next [`Self::flush`].
    fn publish(&mut self, ch: Channel, msg: Utf8Bytes) {
        if !self.subs.contains_key(&ch) {
            return;
        }
        if self.pending.len() == GROUP_MAX {
            self.flush();
        }
        self.pending.push((ch, msg));
    }

    /// Hands the pending messages to their subscribers, in order. Each connection gets
    /// all of its messages back to back, so its task wakes once and writes them with
    /// one syscall — not once per channel (a trade is a book update and a trades frame).
    /// Forgets connections that are gone.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let stats = &self.rt.stats;
        let mut gone: Vec<ConnId> = Vec::new();
        let mut push_all = |s: &Sink, mask: u64| {
            for (i, (ch, msg)) in pending.iter().enumerate() {
                if mask & (1 << i) == 0 {
                    continue;
                }
                // Tagged with its channel, so the connection can drop it once that
                // subscription ended (de-authenticated) without parsing it.
                let out = if ch.is_private() {
                    Out::Private(*ch, msg.clone())
                } else {
                    Out::Frame(msg.clone())
                };
                if s.push(out, stats) == Push::Closed {
                    gone.push(s.id);
                    return;
                }
            }
        };
        if pending.iter().all(|(ch, _)| *ch == pending[0].0) {
            // One channel: its subscribers get everything, no grouping needed.
            for s in self.subs.get(&pending[0].0).into_iter().flatten() {
                push_all(s, u64::MAX);
            }
        } else {
            // Which messages each connection wants (bit i = pending[i])...
            let targets = &mut self.targets;
            targets.clear();
            for (i, (ch, _)) in pending.iter().enumerate() {
                for s in self.subs.get(ch).into_iter().flatten() {
                    *targets.entry(s.id).or_insert(0) |= 1 << i;
                }
            }
            // ...then each connection served once, at the first list it is in.
            for (ch, _) in &pending {
                for s in self.subs.get(ch).into_iter().flatten() {
                    if let Some(mask) = targets.remove(&s.id) {
                        push_all(s, mask);
                    }
                }
            }
        }
        if !gone.is_empty() {
            for (ch, _) in &pending {
                if let Some(list) = self.subs.get_mut(ch) {
                    list.retain(|s| !gone.contains(&s.id));
                    if list.is_empty() {
                        self.subs.remove(ch);
                    }
                }
            }
        }
        self.pending = pending;
        self.pending.clear();
    }

    fn has(&self, ch: Channel) -> bool {
        self.subs.contains_key(&ch)
    }

    async fn batch(&mut self, batch: &AppliedBatch) {
        for cmd in &batch.commands {
            self.command(cmd).await;
        }
        self.flush();
    }

    /// Asks every connection authenticated as `user` (or as anyone) to check its
    /// credential again. What earlier commands published goes out first; what later ones
    /// publish is queued behind the request, so the connection drops it if the check
    /// fails. A full queue closes the connection (slow consumer): either way no private
    /// frame of a later command reaches a revoked session.
    fn recheck(&mut self, user: Option<UserId>) {
        self.flush();
        for s in self.rt.authenticated(user) {
            s.push(Out::Recheck, &self.rt.stats);
        }
    }

    async fn command(&mut self, cmd: &AppliedCommand) {
        if let Some(user) = super::revokes_credentials_of(&cmd.kind) {
            self.recheck(Some(user));
        }
        // Book changes of this command per market: (sequence, changed levels).
        let mut books: Vec<BookChanges> = Vec::new();
        let mut trades: Vec<(MarketId, Value)> = Vec::new();
        let mut resync = false;
        for ev in &cmd.events {
            match ev {
                Event::AssetCreated { .. }
                | Event::MarketCreated { .. }
                | Event::MarketStatusChanged { .. } => self.reload(false).await,
                Event::BookChanged {
                    market,
                    sequence,
                    side,
                    price,
                    qty,
                } => {
                    let Some(m) = self.markets.get(market) else {
                        resync = true;
                        continue;
                    };
                    if *sequence <= m.mirror.sequence {
                        continue; // already in the loaded book
                    }
                    if *sequence != m.mirror.sequence + 1 {
                        resync = true;
                        continue;
                    }
                    match books.iter_mut().find(|b| b.0 == *market) {
                        Some(b) => match b.2.iter_mut().find(|l| l.0 == *side && l.1 == *price) {
                            Some(l) => l.2 = *qty,
                            None => b.2.push((*side, *price, *qty)),
                        },
                        None => books.push((*market, *sequence, vec![(*side, *price, *qty)])),
                    }
                }
                Event::Trade {
                    id,
                    market,
                    price,
                    qty,
                    notional,
                    taker_side,
                    maker_order,
                    maker_user,
                    taker_order,
                    taker_user,
                    maker_fee,
                    taker_fee,
                } => {
                    let Some(m) = self.markets.get_mut(market) else {
                        continue;
                    };
                    // (Older trades are in the candles seeded from the read models.)
                    if cmd.seq > m.live_from {
                        m.ticker.last = Some((*price, *qty));
                        for interval in Interval::ALL {
                            add_trade(&mut m.candles, interval, cmd.ts.0, *price, *qty, notional.0);
                        }
                    }
                    let info = &m.info;
                    if self.subs.contains_key(&Channel::Trades(*market)) {
                        trades.push((
                            *market,
                            json!({"id": id.0, "price": info.price(*price),
                                   "quantity": info.qty(*qty), "side": taker_side,
                                   "created_at": cmd.ts.0}),
                        ));
                    }
                    let fill = |order: &bourse_model::OrderId,
                                side: Side,
                                fee: &bourse_model::Amount,
                                liq: &str| {
                        json!({"trade_id": id.0, "order_id": order.0, "market": info.symbol(),
                               "side": side, "price": info.price(*price),
                               "quantity": info.qty(*qty), "fee": info.quote_amount(*fee),
                               "fee_asset": info.quote, "liquidity": liq,
                               "created_at": cmd.ts.0})
                    };
                    let maker = (
                        Channel::Fills(*maker_user),
                        fill(maker_order, taker_side.opposite(), maker_fee, "maker"),
                    );
                    let taker = (
                        Channel::Fills(*taker_user),
                        fill(taker_order, *taker_side, taker_fee, "taker"),
                    );
                    for (ch, data) in [maker, taker] {
                        if self.has(ch) {
                            self.publish(ch, frame("fills", "update", cmd.seq, data));
                        }
                    }
                }
                Event::BalanceChanged {
                    user,
                    asset,
                    available,
                    held,
                } => {
                    let ch = Channel::Balances(*user);
                    if self.has(ch) {
                        if let Some((symbol, scale)) = self.assets.get(asset) {
                            let data = json!({"asset": symbol,
                                "available": format_units(available.0, *scale),
                                "held": format_units(held.0, *scale)});
                            self.publish(ch, frame("balances", "update", cmd.seq, data));
                        }
                    }
                }
                Event::Rejected { code, order, .. } => {
                    if let CommandKind::PlaceOrder(o) = &cmd.kind {
                        let ch = Channel::Orders(o.user);
                        if self.has(ch) {
                            let data = json!({"event": "rejected", "order_id": order.map(|o| o.0),
                                "client_order_id": o.client_order_id, "status": OrderStatus::Rejected,
                                "code": code.as_str()});
                            self.publish(ch, frame("orders", "update", cmd.seq, data));
                        }
                    }
                }
                _ => {
                    if let Some((user, data)) = self.order_update(ev) {
                        let ch = Channel::Orders(user);
                        if self.has(ch) {
                            self.publish(ch, frame("orders", "update", cmd.seq, data));
                        }
                    }
                }
            }
        }
        for (market, sequence, levels) in books {
            let Some(m) = self.markets.get_mut(&market) else {
                continue;
            };
            for (side, price, qty) in &levels {
                m.mirror.set(*side, *price, *qty);
            }
            m.mirror.sequence = sequence;
            let ch = Channel::Book(market);
            if self.subs.contains_key(&ch) {
                let info = &m.info;
                let side_levels = |want: Side| {
                    levels
                        .iter()
                        .filter(|l| l.0 == want)
                        .map(|l| [info.price(l.1), info.qty(l.2)])
                        .collect::<Vec<_>>()
                };
                let msg = frame(
                    &format!("book.{}", info.symbol()),
                    "update",
                    sequence,
                    json!({"bids": side_levels(Side::Buy), "asks": side_levels(Side::Sell)}),
                );
                self.publish(ch, msg);
            }
            self.refresh_ticker(market, true);
        }
        let mut traded: Vec<MarketId> = trades.iter().map(|t| t.0).collect();
        traded.dedup();
        for market in traded {
            let list: Vec<&Value> = trades
                .iter()
                .filter(|t| t.0 == market)
                .map(|t| &t.1)
                .collect();
            if let Some(m) = self.markets.get(&market) {
                let msg = frame(
                    &format!("trades.{}", m.info.symbol()),
                    "update",
                    cmd.seq,
                    list,
                );
                self.publish(Channel::Trades(market), msg);
            }
        }
        self.publish_candles(cmd);
        if resync {
            tracing::warn!("ws fan-out saw a book sequence gap; reloading books");
            self.rt.stats.resyncs.fetch_add(1, Ordering::Relaxed);
            self.reload(true).await;
        }
    }

    fn publish_candles(&mut self, cmd: &AppliedCommand) {
        let mut markets: Vec<MarketId> = Vec::new();
        for ev in &cmd.events {
            if let Event::Trade { market, .. } = ev {
                let seeded = self
                    .markets
                    .get(market)
                    .is_some_and(|m| cmd.seq <= m.live_from);
                if !markets.contains(market) && !seeded {
                    markets.push(*market);
                }
            }
        }
        for market in markets {
            for interval in Interval::ALL {
                let ch = Channel::Candles(market, interval);
                if !self.has(ch) {
                    continue;
                }
                let Some(m) = self.markets.get(&market) else {
                    continue;
                };
                let Some(c) = m.candles.get(&interval) else {
                    continue;
                };
                let msg = frame(
                    &format!("candles.{}.{}", m.info.symbol(), interval),
                    "update",
                    cmd.seq,
                    candle_json(&m.info, c),
                );
                self.publish(ch, msg);
            }
        }
    }

    /// Recomputes the ticker's top of book from the mirror; publishes if it changed.
    fn refresh_ticker(&mut self, market: MarketId, publish: bool) {
        let Some(m) = self.markets.get_mut(&market) else {
            return;
        };
        m.ticker.bid = m.mirror.bids.iter().next_back().map(|(p, q)| (*p, *q));
        m.ticker.ask = m.mirror.asks.iter().next().map(|(p, q)| (*p, *q));
        let ch = Channel::Ticker(market);
        if publish && m.ticker_sent != m.ticker && self.subs.contains_key(&ch) {
            m.ticker_sent = m.ticker;
            let msg = frame(
                &format!("ticker.{}", m.info.symbol()),
                "update",
                m.mirror.sequence,
                ticker_json(&m.info, &m.ticker),
            );
            self.publish(ch, msg);
        }
    }

    /// An order lifecycle event as the owner's `orders` update.
    fn order_update(&self, ev: &Event) -> Option<(UserId, Value)> {
        let sym = |market: &MarketId| self.markets.get(market).map(|m| &m.info);
        Some(match ev {
            Event::OrderAccepted(o) => {
                let info = sym(&o.market)?;
                let status = if o.order_type.is_stop() {
                    OrderStatus::New
                } else {
                    OrderStatus::Open
                };
                (
                    o.user,
                    json!({"event": "accepted", "order_id": o.id.0, "client_order_id": o.client_order_id,
                        "market": info.symbol(), "side": o.side, "type": o.order_type,
                        "price": o.price.map(|p| info.price(p)),
                        "stop_price": o.stop_price.map(|p| info.price(p)),
                        "quantity": o.qty.map(|q| info.qty(q)),
                        "time_in_force": o.tif, "status": status, "created_at": o.created_at.0}),
                )
            }
            Event::OrderPartiallyFilled {
                order,
                user,
                market,
                filled,
                remaining,
            } => {
                let info = sym(market)?;
                (
                    *user,
                    json!({"event": "partially_filled", "order_id": order.0, "market": info.symbol(),
                    "status": OrderStatus::PartiallyFilled, "filled_quantity": info.qty(*filled),
                    "remaining_quantity": info.qty(*remaining)}),
                )
            }
            Event::OrderFilled {
                order,
                user,
                market,
                filled,
            } => {
                let info = sym(market)?;
                (
                    *user,
                    json!({"event": "filled", "order_id": order.0, "market": info.symbol(),
                    "status": OrderStatus::Filled, "filled_quantity": info.qty(*filled),
                    "remaining_quantity": info.qty(Qty(0))}),
                )
            }
            Event::OrderCanceled {
                order,
                user,
                market,
                filled,
                remaining,
                reason,
            } => {
                let info = sym(market)?;
                (
                    *user,
                    json!({"event": "canceled", "order_id": order.0, "market": info.symbol(),
                    "status": OrderStatus::Canceled, "reason": reason,
                    "filled_quantity": info.qty(*filled), "remaining_quantity": info.qty(*remaining)}),
                )
            }
            Event::OrderExpired {
                order,
                user,
                market,
                filled,
                remaining,
                reason,
            } => {
                let info = sym(market)?;
                (
                    *user,
                    json!({"event": "expired", "order_id": order.0, "market": info.symbol(),
                    "status": OrderStatus::Expired, "reason": reason,
                    "filled_quantity": info.qty(*filled), "remaining_quantity": info.qty(*remaining)}),
                )
            }
            Event::OrderAmended {
                order,
                user,
                market,
                price,
                qty,
                remaining,
                kept_priority,
            } => {
                let info = sym(market)?;
                (
                    *user,
                    json!({"event": "amended", "order_id": order.0, "market": info.symbol(),
                    "price": price.map(|p| info.price(p)), "quantity": info.qty(*qty),
                    "remaining_quantity": info.qty(*remaining), "kept_priority": kept_priority}),
                )
            }
            Event::StopTriggered {
                order,
                user,
                market,
                last_price,
            } => {
                let info = sym(market)?;
                (
                    *user,
                    json!({"event": "triggered", "order_id": order.0, "market": info.symbol(),
                    "last_price": info.price(*last_price)}),
                )
            }
            _ => return None,
        })
    }
}

fn add_trade(
    candles: &mut HashMap<Interval, Candle>,
    interval: Interval,
    ts: u64,
    price: Price,
    qty: Qty,
    notional: u64,
) {
    let start = ts - ts % interval.millis();
    let fresh = Candle {
        start,
        open: price,
        high: price,
        low: price,
        close: price,
        volume: qty.0,
        quote_volume: notional,
        trades: 1,
    };
    let c = match candles.get_mut(&interval) {
        Some(c) if c.start == start => c,
        _ => {
            candles.insert(interval, fresh);
            return;
        }
    };
    // Volumes are sums of exact integers; on overflow the candle keeps its last good value
    // (the REST candles from the read models stay authoritative).
    let (Some(v), Some(qv), Some(n)) = (
        c.volume.checked_add(qty.0),
        c.quote_volume.checked_add(notional),
        c.trades.checked_add(1),
    ) else {
        return;
    };
    c.high = c.high.max(price);
    c.low = c.low.min(price);
    c.close = price;
    c.volume = v;
    c.quote_volume = qv;
    c.trades = n;
}

fn candle_json(info: &MarketInfo, c: &Candle) -> Value {
    json!({"start": c.start, "open": info.price(c.open), "high": info.price(c.high),
        "low": info.price(c.low), "close": info.price(c.close), "volume": info.qty(Qty(c.volume)),
        "quote_volume": info.quote_amount(bourse_model::Amount(c.quote_volume)),
        "trade_count": c.trades})
}

fn ticker_json(info: &MarketInfo, t: &Ticker) -> Value {
    let p = |x: Option<(Price, Qty)>| x.map(|(p, _)| info.price(p));
    let q = |x: Option<(Price, Qty)>| x.map(|(_, q)| info.qty(q));
    json!({"symbol": info.symbol(), "last_price": p(t.last), "last_quantity": q(t.last),
        "best_bid": p(t.bid), "best_bid_quantity": q(t.bid),
        "best_ask": p(t.ask), "best_ask_quantity": q(t.ask)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candles_roll_over_and_accumulate() {
        let mut c = HashMap::new();
        add_trade(&mut c, Interval::M1, 60_000, Price(10), Qty(1), 10);
        add_trade(&mut c, Interval::M1, 60_001, Price(10), Qty(1), 10);
        add_trade(&mut c, Interval::M1, 60_002, Price(12), Qty(2), 24);
        add_trade(&mut c, Interval::M1, 60_003, Price(9), Qty(1), 9);
        let k = c[&Interval::M1];
        assert_eq!(
            (
                k.open,
                k.high,
                k.low,
                k.close,
                k.volume,
                k.quote_volume,
                k.trades
            ),
            (Price(10), Price(12), Price(9), Price(9), 5, 53, 4)
        );
        add_trade(&mut c, Interval::M1, 120_000, Price(11), Qty(3), 33);
        let k = c[&Interval::M1];
        assert_eq!(
            (k.start, k.open, k.volume, k.trades),
            (120_000, Price(11), 3, 1)
        );
    }
}
