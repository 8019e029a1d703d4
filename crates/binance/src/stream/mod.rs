//! Binance's WebSocket streams, translated from the `/ws` fan-out
//! (`bourse_gateway::live`): no book, candle or ticker is kept here.
//!
//! - `GET /binance/ws[/<anything>]`: raw streams. Path segments that name a stream
//!   (`/binance/ws/btcusd@trade`) are subscribed at connect, a listen key's segment opens
//!   that user's data stream, anything else (`/binance/ws/3`) is ignored.
//! - `GET /binance/stream?streams=a/b`: the same, every frame wrapped
//!   `{"stream": <name>, "data": <event>}`.
//! - Requests: `{"method": "SUBSCRIBE"|"UNSUBSCRIBE", "params": [names], "id": n}` →
//!   `{"result": null, "id": n}`; `LIST_SUBSCRIPTIONS` → `{"result": [names], "id": n}`;
//!   `SET_PROPERTY ["combined", bool]`, `GET_PROPERTY ["combined"]`. A bad request is
//!   Binance's error frame `{"error": {"code", "msg"}, "id"}`: code 3 for invalid JSON,
//!   2 for an invalid request (unknown method, a name that is no stream); nothing of a
//!   refused SUBSCRIBE is subscribed.
//! - The server pings every 20 s and answers pings; a connection silent for 60 s is
//!   closed. Depth diffs are continuous (`U` = previous `u` + 1): if the fan-out had to
//!   resynchronise a book (a gap, or it lagged), or lost updates of a channel, the
//!   connection is closed (code 1011) rather than send a broken sequence — a Binance
//!   client reconnects and starts from a REST snapshot.
//! - `@ticker`/`@miniTicker`/`!…@arr` are sent at most once a second per market (as
//!   Binance does), from `ticker/24hr`'s answer; the others as the fan-out sends them.
//! - The inbound message rate, the message size limit and the end of a listen key's
//!   stream are the connection loop's (`endpoint`).

mod endpoint;
mod market;
pub mod names;
pub mod user;

pub use endpoint::{combined, raw, run, ws_api};

use crate::config::BinanceConfig;
use crate::listen_key::ListenKeys;
use crate::Gw;
use bourse_gateway::live::{LiveFeed, LiveMsg, LiveSession};
use bourse_model::MarketId;
use names::{Kind, Stream};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use user::UserData;

/// What the stream endpoints share.
pub struct WsState {
    pub gw: Gw,
    pub feed: Arc<dyn LiveFeed>,
    pub keys: ListenKeys,
    pub cfg: BinanceConfig,
}

/// The most streams one connection may have (Binance's limit).
const MAX_STREAMS: usize = 1024;
const PING_EVERY: Duration = Duration::from_secs(20);
const IDLE_LIMIT: Duration = Duration::from_secs(60);
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the 24-hour tickers are sent.
const TICKER_EVERY: Duration = Duration::from_secs(1);
/// Close code when the connection cannot continue a consistent stream.
const RESYNC_CLOSE: u16 = 1011;

/// The endpoint a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/binance/ws…` (`combined` for `/binance/stream`, or after `SET_PROPERTY`).
    Streams { combined: bool },
    /// `/binance/ws-api/v3`: requests with `method`/`params`, user data wrapped
    /// `{"subscriptionId", "event"}`.
    WsApi,
}

struct Subscribed {
    s: Stream,
    /// Diff streams: the last book sequence sent (or seen in the snapshot).
    last_u: Option<u64>,
    /// `bookTicker`: what was sent last, to send only changes.
    last_top: Option<Value>,
}

/// One connection's translation state.
pub struct Conn {
    pub st: Arc<WsState>,
    pub endpoint: Endpoint,
    session: Box<dyn LiveSession>,
    streams: Vec<Subscribed>,
    /// `/ws` channel → how many of this connection's streams use it.
    channels: HashMap<String, usize>,
    pub user: Option<UserData>,
    /// The user data stream's id (`subscriptionId`) or listen key (combined `stream`).
    pub user_tag: Value,
    /// The listen key the user data stream was opened with (it ends with the key).
    pub listen_key: Option<String>,
    /// Markets whose 24-hour ticker is due.
    tickers_due: BTreeSet<MarketId>,
    /// The last trade's size by market, from the `ticker` frames (`@ticker`'s `Q`: the
    /// read models' 24-hour ticker does not keep it). The read models can be a moment
    /// ahead of the live ticker: a ticker sent in between shows the previous trade's
    /// size, the next one (due when the live ticker arrives) the new one.
    last_qty: HashMap<MarketId, Value>,
    /// Set when the connection must end (after the frames already built).
    pub closing: Option<(u16, &'static str)>,
    /// The client's address (API keys with an allow-list check it).
    pub ip: Option<IpAddr>,
    /// User data subscriptions opened so far (the next `subscriptionId`).
    opened: u64,
}

/// What a request handler answers: frames to send, in order.
pub type Replies = Vec<String>;

pub fn error_frame(id: &Value, code: i32, msg: &str) -> String {
    json!({"error": {"code": code, "msg": msg}, "id": id}).to_string()
}

impl Conn {
    pub fn new(
        st: Arc<WsState>,
        endpoint: Endpoint,
        session: Box<dyn LiveSession>,
        ip: Option<IpAddr>,
    ) -> Self {
        Self {
            ip,
            opened: 0,
            st,
            endpoint,
            session,
            streams: Vec::new(),
            channels: HashMap::new(),
            user: None,
            user_tag: Value::Null,
            listen_key: None,
            tickers_due: BTreeSet::new(),
            last_qty: HashMap::new(),
            closing: None,
        }
    }

    /// Subscribes the `/ws` channels behind `s` and records it.
    async fn add(&mut self, s: Stream) -> Result<(), String> {
        if self.streams.iter().any(|x| x.s.name == s.name) {
            return Ok(());
        }
        let markets = self.st.gw.markets();
        for ch in s.channels(&markets) {
            if !self.channels.contains_key(&ch) {
                self.session.subscribe(&ch, None).await?;
            }
            *self.channels.entry(ch).or_insert(0) += 1;
        }
        if let Some(m) = &s.market {
            if matches!(s.kind, Kind::Ticker { .. }) {
                self.tickers_due.insert(m.id);
            }
        } else {
            self.tickers_due.extend(markets.iter().map(|m| m.id));
        }
        self.streams.push(Subscribed {
            s,
            last_u: None,
            last_top: None,
        });
        Ok(())
    }

    fn remove(&mut self, name: &str) {
        let Some(i) = self.streams.iter().position(|x| x.s.name == name) else {
            return;
        };
        let gone = self.streams.remove(i);
        for ch in gone.s.channels(&self.st.gw.markets()) {
            if let Some(n) = self.channels.get_mut(&ch) {
                *n -= 1;
                if *n == 0 {
                    self.channels.remove(&ch);
                    self.session.unsubscribe(&ch);
                }
            }
        }
    }

    /// Subscribes the private channels of `user` (the user data stream).
    pub async fn open_user(&mut self, user: UserData, tag: Value) -> Result<(), String> {
        for ch in ["orders", "fills", "balances"] {
            self.session.subscribe(ch, Some(user.user)).await?;
        }
        self.user = Some(user);
        self.user_tag = tag;
        Ok(())
    }

    pub fn next_subscription(&mut self) -> u64 {
        self.opened += 1;
        self.opened - 1
    }

    pub fn close_user(&mut self) {
        self.listen_key = None;
        if self.user.take().is_some() {
            for ch in ["orders", "fills", "balances"] {
                self.session.unsubscribe(ch);
            }
        }
    }

    /// Subscribes the streams named in a path or `streams=` list; names that are no
    /// stream are ignored (clients put a number there).
    pub async fn subscribe_names<'a>(&mut self, names: impl Iterator<Item = &'a str>) {
        let markets = self.st.gw.markets();
        for name in names {
            if let Some(s) = Stream::parse(name, &markets) {
                let _ = self.add(s).await;
            }
        }
    }

    /// A request on a streams connection.
    async fn request(&mut self, text: &str) -> Replies {
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return vec![error_frame(&Value::Null, 3, &format!("Invalid JSON: {e}"))],
        };
        let id = v.get("id").cloned().unwrap_or(Value::Null);
        if !(id.is_u64() || id.is_string() || id.is_null()) {
            return vec![error_frame(
                &Value::Null,
                2,
                "Invalid request: request ID must be an unsigned integer",
            )];
        }
        let invalid = |msg: &str| vec![error_frame(&id, 2, &format!("Invalid request: {msg}"))];
        let Some(method) = v.get("method").and_then(Value::as_str) else {
            return invalid("missing field `method`");
        };
        let params: Vec<&str> = match v.get("params") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => match a.iter().map(Value::as_str).collect::<Option<_>>() {
                Some(p) => p,
                None if method == "SET_PROPERTY" => Vec::new(),
                None => return invalid("property name must be a string"),
            },
            Some(_) => return invalid("params must be an array"),
        };
        let ok = |result: Value| vec![json!({"result": result, "id": id}).to_string()];
        match method {
            "SUBSCRIBE" => {
                let markets = self.st.gw.markets();
                let parsed: Option<Vec<Stream>> =
                    params.iter().map(|n| Stream::parse(n, &markets)).collect();
                let Some(parsed) = parsed else {
                    return invalid("invalid stream");
                };
                if self.streams.len() + parsed.len() > MAX_STREAMS {
                    return invalid("too many subscriptions");
                }
                for s in parsed {
                    if let Err(e) = self.add(s).await {
                        return vec![error_frame(&id, 2, &format!("Invalid request: {e}"))];
                    }
                }
                ok(Value::Null)
            }
            "UNSUBSCRIBE" => {
                for n in params {
                    self.remove(n);
                }
                ok(Value::Null)
            }
            "LIST_SUBSCRIPTIONS" => ok(self.streams.iter().map(|x| json!(x.s.name)).collect()),
            "SET_PROPERTY" => {
                let arr = v.get("params").and_then(Value::as_array);
                match arr.map(|a| {
                    (
                        a.first().and_then(Value::as_str),
                        a.get(1).and_then(Value::as_bool),
                    )
                }) {
                    Some((Some("combined"), Some(b))) => {
                        self.endpoint = Endpoint::Streams { combined: b };
                        ok(Value::Null)
                    }
                    _ => invalid("invalid property"),
                }
            }
            "GET_PROPERTY" => match params.first() {
                Some(&"combined") => {
                    ok(json!(self.endpoint == Endpoint::Streams { combined: true }))
                }
                _ => invalid("invalid property"),
            },
            other => invalid(&format!(
                "unknown variant `{other}`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, \
                 `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"
            )),
        }
    }

    /// A stream's event as this connection sends it.
    fn wrap(&self, stream: &str, data: Value) -> String {
        match self.endpoint {
            Endpoint::Streams { combined: true } => json!({"stream": stream, "data": data}),
            _ => data,
        }
        .to_string()
    }

    fn wrap_user(&self, event: Value) -> String {
        match self.endpoint {
            Endpoint::WsApi => json!({"subscriptionId": self.user_tag, "event": event}),
            Endpoint::Streams { combined: true } => json!({"stream": self.user_tag, "data": event}),
            Endpoint::Streams { combined: false } => event,
        }
        .to_string()
    }

    /// Translates what the feed delivered (one wake's worth) into frames to send.
    async fn translate(&mut self, msgs: Vec<LiveMsg>) -> Replies {
        let mut out = Vec::new();
        let mut events = Vec::new();
        for msg in msgs {
            let text = match msg {
                LiveMsg::Recheck => {
                    self.recheck(&mut out);
                    continue;
                }
                LiveMsg::Frame(t) => t,
            };
            let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let channel = frame.get("channel").and_then(Value::as_str).unwrap_or("");
            if frame.get("type").and_then(Value::as_str) == Some("error") {
                // UPDATES_LOST: what was missed cannot be rebuilt for a Binance client.
                self.closing = Some((RESYNC_CLOSE, "updates lost; reconnect"));
                break;
            }
            if matches!(channel, "orders" | "fills" | "balances") {
                let gw = self.st.gw.clone();
                if let Some(u) = self.user.as_mut() {
                    u.frame(&gw, &frame, &mut events).await;
                }
                continue;
            }
            self.public(&frame, &mut out);
        }
        if let Some(u) = self.user.as_mut() {
            u.flush(&mut events);
        }
        out.extend(events.into_iter().map(|e| self.wrap_user(e)));
        out
    }

    /// A deleted API key ends its user data stream (Binance's `eventStreamTerminated`).
    fn recheck(&mut self, out: &mut Replies) {
        let Some(u) = &self.user else {
            return;
        };
        if self.st.gw.seq.views().api_key(&u.key_id).is_none() {
            out.push(
                self.wrap_user(json!({"e": "eventStreamTerminated", "E": bourse_engine::now_ms()})),
            );
            self.st.keys.forget_key(&u.key_id);
            self.close_user();
        }
    }

    fn public(&mut self, frame: &Value, out: &mut Replies) {
        let channel = frame.get("channel").and_then(Value::as_str).unwrap_or("");
        let snapshot = frame.get("type").and_then(Value::as_str) == Some("snapshot");
        let seq = frame.get("sequence").and_then(Value::as_u64).unwrap_or(0);
        let null = Value::Null;
        let data = frame.get("data").unwrap_or(&null);
        let markets = self.st.gw.markets();
        let mut sends: Vec<(String, Value)> = Vec::new();
        for i in 0..self.streams.len() {
            if !self.streams[i]
                .s
                .channels(&markets)
                .iter()
                .any(|c| c == channel)
            {
                continue;
            }
            let x = &mut self.streams[i];
            match x.s.kind {
                Kind::Diff => {
                    if snapshot {
                        match x.last_u {
                            None => x.last_u = Some(seq),
                            Some(u) if u == seq => {}
                            Some(_) => {
                                self.closing =
                                    Some((RESYNC_CLOSE, "book resynchronised; reconnect"))
                            }
                        }
                    } else {
                        if x.last_u.is_some_and(|u| seq != u + 1) {
                            self.closing = Some((RESYNC_CLOSE, "book sequence gap; reconnect"));
                        }
                        x.last_u = Some(seq);
                        sends.push((x.s.name.clone(), market::depth_update(&x.s, seq, data)));
                    }
                }
                Kind::Partial(levels) => {
                    if let Some(v) = market::partial_book(&self.st.gw, &x.s, levels) {
                        sends.push((x.s.name.clone(), v));
                    }
                }
                Kind::Trade | Kind::AggTrade if !snapshot => {
                    let agg = x.s.kind == Kind::AggTrade;
                    for t in market::trades(&x.s, agg, data) {
                        sends.push((x.s.name.clone(), t));
                    }
                }
                Kind::Kline(iv) => {
                    if let Some(k) = market::kline(&x.s, iv, data) {
                        sends.push((x.s.name.clone(), k));
                    }
                }
                Kind::BookTicker => {
                    let v = market::book_ticker(&x.s, seq, data);
                    let top = json!([v["b"], v["B"], v["a"], v["A"]]);
                    if x.last_top.as_ref() != Some(&top) {
                        x.last_top = Some(top);
                        sends.push((x.s.name.clone(), v));
                    }
                }
                Kind::Ticker { .. } | Kind::AllTickers { .. } => {
                    if let Some(m) = markets
                        .iter()
                        .find(|m| channel == format!("ticker.{}", m.symbol()))
                    {
                        self.tickers_due.insert(m.id);
                        if let Some(q) = data.get("last_quantity").filter(|q| q.is_string()) {
                            self.last_qty.insert(m.id, q.clone());
                        }
                    }
                }
                Kind::Trade | Kind::AggTrade => {}
            }
        }
        out.extend(sends.into_iter().map(|(s, v)| self.wrap(&s, v)));
    }

    /// The 24-hour tickers that are due.
    async fn tickers(&mut self) -> Replies {
        if self.tickers_due.is_empty() {
            return Vec::new();
        }
        let due = std::mem::take(&mut self.tickers_due);
        let markets = self.st.gw.markets();
        let mut rest: HashMap<(MarketId, bool), Value> = HashMap::new();
        let mut out = Vec::new();
        let gw = self.st.gw.clone();
        for x in &self.streams {
            let (mini, ids): (bool, Vec<MarketId>) = match (&x.s.kind, &x.s.market) {
                (Kind::Ticker { mini }, Some(m)) if due.contains(&m.id) => (*mini, vec![m.id]),
                (Kind::AllTickers { mini }, None) => (*mini, due.iter().copied().collect()),
                _ => continue,
            };
            let mut list = Vec::new();
            for id in ids {
                let Some(m) = markets.iter().find(|m| m.id == id) else {
                    continue;
                };
                let r = match rest.get(&(id, mini)) {
                    Some(r) => r.clone(),
                    None => match crate::public::ticker_of(&gw, m, !mini).await {
                        Ok(r) => {
                            rest.insert((id, mini), r.clone());
                            r
                        }
                        Err(_) => continue,
                    },
                };
                let mut t = market::ticker(&r, mini);
                if let Some(q) = self.last_qty.get(&id).filter(|_| !mini) {
                    t["Q"] = q.clone();
                }
                list.push(t);
            }
            match x.s.kind {
                Kind::AllTickers { .. } if !list.is_empty() => {
                    out.push(self.wrap(&x.s.name, Value::Array(list)))
                }
                Kind::Ticker { .. } => {
                    out.extend(list.into_iter().map(|v| self.wrap(&x.s.name, v)))
                }
                _ => {}
            }
        }
        out
    }
}
