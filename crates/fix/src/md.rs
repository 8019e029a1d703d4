//! Market data: SecurityListRequest (x → y) and MarketDataRequest (V → W, X, or Y).
//!
//! # Rules
//! - y lists every market: Symbol (55), MinPriceIncrement (969) = tick size, RoundLot
//!   (561) = lot size, MinTradeVol (562) = minimum quantity, Bourse's custom tag
//!   **20010 MinNotional** (quote asset), Currency (15) = the quote asset; the same values
//!   as `GET /api/v1/markets`.
//! - V: MDReqID (262), SubscriptionRequestType (263) 0 snapshot, 1 snapshot + updates,
//!   2 unsubscribe (by MDReqID); MarketDepth (264) 0 = every level kept (1000), else
//!   1..=1000 per side; MDUpdateType (265) must be 1 (incremental) when given with 263=1;
//!   MDEntryType (269, in NoMDEntryTypes 267) 0 bid, 1 offer, 2 trade; Symbols (55, in
//!   NoRelatedSym 146). Anything else is a MarketDataRequestReject (Y) with
//!   MDReqRejReason (281) and Text; at most [`MAX_SUBSCRIPTIONS`] per session.
//! - W, one per symbol: the book's top `depth` levels per side from the read views (the
//!   book `GET /api/v1/markets/{symbol}/book` shows), MDBookSeq in custom tag **20011**.
//!   Trades have no snapshot: they come as updates.
//! - X, per command that changed a subscribed book or traded: price-level diffs of the
//!   top `depth` levels (MDUpdateAction 279: 0 new, 1 change, 2 delete; the size is the
//!   level's new total) and trades (279=0, 269=2, TradeID in 1003). The session follows
//!   each subscribed book from the views' snapshot with the feed's BookChanged events by
//!   their gap-free sequence; a gap (or a lag of the feed) takes a new snapshot and sends
//!   it as a W again, which replaces the client's book.

use crate::codec::Message;
use bourse_engine::sequencer::AppliedCommand;
use bourse_gateway::dto::MarketJson;
use bourse_gateway::market_info::MarketInfo;
use bourse_gateway::Gateway;
use bourse_model::{Event, Price, Qty, Side};
use std::collections::{BTreeMap, HashMap};

/// Subscriptions a session may hold at once.
pub const MAX_SUBSCRIPTIONS: usize = 16;
/// The deepest book kept (the read views' depth).
const MAX_DEPTH: usize = bourse_engine::views::BOOK_DEPTH;

/// Answers a SecurityListRequest.
pub fn security_list(gw: &Gateway, m: &Message) -> Message {
    let markets = gw.markets();
    let mut y = Message::new("y");
    y.push(320, m.get(320).unwrap_or("NONE"))
        .push(322, format!("sl-{}", bourse_engine::now_ms()))
        .push(560, "0")
        .push(146, markets.len().to_string());
    for info in &markets {
        let j = MarketJson::from(info);
        y.push(55, j.symbol)
            .push(15, j.quote)
            .push(561, j.lot_size)
            .push(562, j.min_quantity)
            .push(969, j.tick_size)
            .push(20010, j.min_notional);
    }
    y
}

struct Book {
    info: MarketInfo,
    sequence: u64,
    bids: BTreeMap<Price, Qty>,
    asks: BTreeMap<Price, Qty>,
}

/// The top levels of a book: (bids best first, asks best first).
type Top = (Vec<(Price, Qty)>, Vec<(Price, Qty)>);

struct Sub {
    id: String,
    books: Vec<Book>,
    depth: usize,
    levels: bool,
    trades: bool,
    /// The top levels last sent per book: (bids, asks).
    sent: Vec<Top>,
}

/// The session's subscriptions.
#[derive(Default)]
pub struct MarketData {
    subs: Vec<Sub>,
}

fn reject(m: &Message, reason: &str, text: &str) -> Message {
    Message::new("Y")
        .with(58, text)
        .with(262, m.get(262).unwrap_or("NONE"))
        .with(281, reason)
}

impl MarketData {
    /// Answers a MarketDataRequest.
    pub fn request(&mut self, gw: &Gateway, m: &Message) -> Vec<Message> {
        let Some(id) = m.get(262) else {
            return vec![reject(m, "0", "MDReqID (262) is required")];
        };
        let kind = m.get(263).unwrap_or("");
        if kind == "2" {
            let before = self.subs.len();
            self.subs.retain(|s| s.id != id);
            return if self.subs.len() < before {
                Vec::new()
            } else {
                vec![reject(m, "0", "no subscription with this MDReqID")]
            };
        }
        if kind != "0" && kind != "1" {
            return vec![reject(
                m,
                "4",
                "SubscriptionRequestType (263) must be 0, 1 or 2",
            )];
        }
        if kind == "1" && m.get(265).is_some_and(|t| t != "1") {
            return vec![reject(m, "6", "MDUpdateType (265) must be 1 (incremental)")];
        }
        if self.subs.iter().any(|s| s.id == id) {
            return vec![reject(m, "1", "this MDReqID is subscribed already")];
        }
        if kind == "1" && self.subs.len() >= MAX_SUBSCRIPTIONS {
            return vec![reject(m, "0", "too many subscriptions on this session")];
        }
        let depth = match m.get(264).map(str::parse::<usize>) {
            None | Some(Ok(0)) => MAX_DEPTH,
            Some(Ok(n)) if n <= MAX_DEPTH => n,
            _ => return vec![reject(m, "5", "MarketDepth (264) must be 0..=1000")],
        };
        let (mut levels, mut trades) = (false, false);
        for t in m.all(269) {
            match t {
                "0" | "1" => levels = true,
                "2" => trades = true,
                _ => {
                    return vec![reject(
                        m,
                        "8",
                        "MDEntryType (269) must be 0 (bid), 1 (offer) or 2 (trade)",
                    )]
                }
            }
        }
        if !levels && !trades {
            return vec![reject(
                m,
                "8",
                "give MDEntryType (269) in NoMDEntryTypes (267)",
            )];
        }
        let symbols: Vec<&str> = m.all(55).collect();
        if symbols.is_empty() {
            return vec![reject(m, "0", "give Symbol (55) in NoRelatedSym (146)")];
        }
        let mut books = Vec::new();
        for s in symbols {
            match snapshot(gw, s) {
                Some(b) => books.push(b),
                None => return vec![reject(m, "0", &format!("unknown symbol {s:?}"))],
            }
        }
        let mut sub = Sub {
            id: id.to_owned(),
            sent: vec![Default::default(); books.len()],
            books,
            depth,
            levels,
            trades,
        };
        let out = (0..sub.books.len()).map(|i| sub.full(i)).collect();
        if kind == "1" {
            self.subs.push(sub);
        }
        out
    }

    /// The updates of one applied command, appended to `out`.
    pub fn command(&mut self, gw: &Gateway, cmd: &AppliedCommand, out: &mut Vec<Message>) {
        for sub in &mut self.subs {
            for i in 0..sub.books.len() {
                let market = sub.books[i].info.id;
                let mut entries = Message::new("X");
                let mut changed = false;
                let mut gap = false;
                for ev in &cmd.events {
                    match ev {
                        Event::BookChanged {
                            market: mk,
                            sequence,
                            side,
                            price,
                            qty,
                        } if *mk == market => {
                            let b = &mut sub.books[i];
                            if *sequence <= b.sequence {
                                continue;
                            }
                            if *sequence != b.sequence + 1 {
                                gap = true;
                                continue;
                            }
                            b.sequence = *sequence;
                            let side = match side {
                                Side::Buy => &mut b.bids,
                                Side::Sell => &mut b.asks,
                            };
                            if qty.is_zero() {
                                side.remove(price);
                            } else {
                                side.insert(*price, *qty);
                            }
                            changed = true;
                        }
                        Event::Trade {
                            id,
                            market: mk,
                            price,
                            qty,
                            ..
                        } if *mk == market && sub.trades => {
                            let info = &sub.books[i].info;
                            entries
                                .push(279, "0")
                                .push(269, "2")
                                .push(55, info.symbol())
                                .push(270, info.price(*price))
                                .push(271, info.qty(*qty))
                                .push(1003, id.0.to_string());
                        }
                        _ => {}
                    }
                }
                if gap {
                    if let Some(b) = snapshot(gw, sub.books[i].info.symbol()) {
                        sub.books[i] = b;
                    }
                    out.push(sub.full(i));
                    continue;
                }
                if changed && sub.levels {
                    sub.diff(i, &mut entries);
                }
                let n = entries.fields.iter().filter(|(t, _)| *t == 279).count();
                if n > 0 {
                    let mut x = Message::new("X");
                    x.push(262, sub.id.as_str()).push(268, n.to_string());
                    x.fields.extend(entries.fields.into_iter().skip(1));
                    out.push(x);
                }
            }
        }
    }

    /// After a lag of the feed: every book again from the views, as snapshots.
    pub fn resync(&mut self, gw: &Gateway, out: &mut Vec<Message>) {
        for sub in &mut self.subs {
            for i in 0..sub.books.len() {
                if let Some(b) = snapshot(gw, sub.books[i].info.symbol()) {
                    sub.books[i] = b;
                }
                out.push(sub.full(i));
            }
        }
    }
}

impl Sub {
    fn top(&self, i: usize) -> Top {
        let b = &self.books[i];
        let bids = b
            .bids
            .iter()
            .rev()
            .take(self.depth)
            .map(|(p, q)| (*p, *q))
            .collect();
        let asks = b
            .asks
            .iter()
            .take(self.depth)
            .map(|(p, q)| (*p, *q))
            .collect();
        (bids, asks)
    }

    /// A W of book `i` (its levels if subscribed); remembers what it sent.
    fn full(&mut self, i: usize) -> Message {
        let mut w = Message::new("W");
        let info = &self.books[i].info;
        w.push(55, info.symbol())
            .push(262, self.id.as_str())
            .push(20011, self.books[i].sequence.to_string());
        let top = if self.levels {
            self.top(i)
        } else {
            Default::default()
        };
        w.push(268, (top.0.len() + top.1.len()).to_string());
        for (kind, levels) in [("0", &top.0), ("1", &top.1)] {
            for (p, q) in levels {
                w.push(269, kind)
                    .push(270, info.price(*p))
                    .push(271, info.qty(*q));
            }
        }
        self.sent[i] = top;
        w
    }

    /// The level changes of book `i` within the top `depth` since the last send.
    fn diff(&mut self, i: usize, x: &mut Message) {
        let now = self.top(i);
        let info = &self.books[i].info;
        let symbol = info.symbol();
        for (kind, old, new) in [
            ("0", &self.sent[i].0, &now.0),
            ("1", &self.sent[i].1, &now.1),
        ] {
            let old_map: HashMap<Price, Qty> = old.iter().copied().collect();
            let new_map: HashMap<Price, Qty> = new.iter().copied().collect();
            for (p, q) in old {
                if !new_map.contains_key(p) {
                    x.push(279, "2")
                        .push(269, kind)
                        .push(55, symbol)
                        .push(270, info.price(*p))
                        .push(271, info.qty(*q));
                }
            }
            for (p, q) in new {
                let action = match old_map.get(p) {
                    None => "0",
                    Some(o) if o != q => "1",
                    Some(_) => continue,
                };
                x.push(279, action)
                    .push(269, kind)
                    .push(55, symbol)
                    .push(270, info.price(*p))
                    .push(271, info.qty(*q));
            }
        }
        self.sent[i] = now;
    }
}

/// A market's book as the read views hold it now.
fn snapshot(gw: &Gateway, symbol: &str) -> Option<Book> {
    let s = gw.seq.views().market_by_symbol(symbol)?;
    Some(Book {
        info: s.info.clone(),
        sequence: s.info.sequence,
        bids: s.bids.iter().copied().collect(),
        asks: s.asks.iter().copied().collect(),
    })
}
