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

mod events;
mod reload;

use super::{ConnId, Out, Push, Realtime, Sink};
use crate::ws_protocol::{Channel, ChannelName};
use axum::extract::ws::Utf8Bytes;
use bourse_engine::sequencer::{AppliedBatch, AppliedCommand, SequencerHandle};
use bourse_gateway::market_info::MarketInfo;
use bourse_model::{
    format_units, AssetId, CommandKind, Event, MarketId, OrderStatus, Price, Qty, Side, UserId,
};
use bourse_store::{Candle, Interval, Store};
use events::{candle_json, ticker_json};
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
            let msg = crate::ws_protocol::error_frame(
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
}
