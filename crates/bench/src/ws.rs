//! `bourse-bench ws`: WebSocket fan-out under load.
//!
//! An in-process server (loopback only, temp data dir) gets one busy market; N clients
//! subscribe to `book.BTC-USD` and `trades.BTC-USD`; a driver submits a maker/taker pair
//! per step at a fixed rate (each pair: two book updates and one trade). Reported:
//! messages delivered per second (all clients), and trade-to-client latency — from the
//! moment the sequencer published the batch holding the trade (seen on the same broadcast
//! the fan-out reads) to the moment a client read the trades frame — p50/p99/max over
//! every (trade, client) pair. Clients parse only what they need (the trade ids).

use bourse_model::{
    Amount, AssetId, CommandKind, Event, FeeSchedule, MarketId, MarketSpec, NewOrder, Price, Qty,
    Role, Side, Symbol, TimeInForce, UserId,
};
use bourse_server::{Config, StartOptions};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

pub struct WsArgs {
    pub clients: Vec<usize>,
    pub seconds: f64,
    /// Maker/taker pairs per second.
    pub pairs_per_sec: u64,
}

#[derive(Debug, serde::Serialize)]
pub struct WsResult {
    pub clients: usize,
    pub connected: usize,
    pub seconds: f64,
    pub trades: u64,
    pub messages: u64,
    pub messages_per_sec: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    pub latency_samples: u64,
    pub slow_consumers_closed: u64,
}

fn spec() -> MarketSpec {
    MarketSpec {
        symbol: Symbol::new("BTC-USD").expect("symbol"),
        base: AssetId(0),
        quote: AssetId(1),
        base_scale: 8,
        quote_scale: 6,
        price_scale: 2,
        tick: 1,
        qty_scale: 4,
        lot: 1,
        min_qty: Qty(1),
        max_qty: Qty(1_000_000),
        min_notional: Amount(1),
        price_band_bps: 0,
        market_slippage_bps: 500,
        max_open_orders: 10_000,
        fees: [FeeSchedule {
            maker_bps: 10,
            taker_bps: 20,
        }; 3],
    }
}

/// Raises the open-files limit as far as allowed (each client and its server side is a
/// socket).
fn raise_fd_limit(want: u64) -> u64 {
    match rlimit::increase_nofile_limit(want) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("bourse-bench ws: cannot raise the open-files limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

pub fn run(args: &WsArgs) -> Result<Vec<WsResult>, String> {
    let max = args.clients.iter().copied().max().unwrap_or(0) as u64;
    let limit = raise_fd_limit(2 * max + 256);
    if limit < 2 * max + 64 {
        return Err(format!(
            "open-files limit {limit} is too low for {max} clients (need ~{})",
            2 * max + 64
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut out = Vec::new();
        for &n in &args.clients {
            out.push(one(n, args).await?);
        }
        Ok(out)
    })
}

async fn submit(app: &bourse_server::RunningApp, kind: CommandKind) -> Result<Vec<Event>, String> {
    let a = app
        .state
        .seq
        .submit(kind)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(Event::Rejected { code, .. }) = a.events.first() {
        return Err(format!("setup command rejected: {code}"));
    }
    Ok(a.events)
}

fn order(user: u64, side: Side, price: u64, qty: u64, tif: TimeInForce) -> CommandKind {
    let mut o = NewOrder::limit(UserId(user), MarketId(0), side, Price(price), Qty(qty));
    o.tif = tif;
    CommandKind::PlaceOrder(Box::new(o))
}

async fn one(n: usize, args: &WsArgs) -> Result<WsResult, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::env::set_var("BOURSE_ADMIN_PASSWORD", "bench-admin-password");
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        snapshot_every: 0,
        ..Config::default()
    };
    config.limits.enabled = false;
    config.ws.max_connections_per_ip = n + 16;
    let app = bourse_server::start(config, StartOptions::default())
        .await
        .map_err(|e| e.to_string())?;

    // Market, two users with funds, a 20-level book on each side.
    for (sym, scale) in [("BTC", 8u8), ("USD", 6)] {
        submit(
            &app,
            CommandKind::CreateAsset {
                symbol: Symbol::new(sym).expect("sym"),
                scale,
            },
        )
        .await?;
    }
    let events = submit(&app, CommandKind::CreateMarket(Box::new(spec()))).await?;
    let market = events
        .iter()
        .find_map(|e| match e {
            Event::MarketCreated { market, .. } => Some(*market),
            _ => None,
        })
        .ok_or("no market created")?;
    if market != MarketId(0) {
        return Err(format!("expected market 0, got {market}"));
    }
    let mut users = Vec::new();
    for name in ["maker", "taker"] {
        let ev = submit(
            &app,
            CommandKind::RegisterUser {
                username: name.into(),
                password_hash: "x".into(),
                role: Role::Trader,
            },
        )
        .await?;
        let user = ev
            .iter()
            .find_map(|e| match e {
                Event::UserRegistered { user, .. } => Some(*user),
                _ => None,
            })
            .ok_or("no user")?;
        for asset in [AssetId(0), AssetId(1)] {
            submit(
                &app,
                CommandKind::Deposit {
                    user,
                    asset,
                    amount: Amount(1 << 60),
                },
            )
            .await?;
        }
        users.push(user.0);
    }
    let (maker, taker) = (users[0], users[1]);
    for i in 0..20 {
        submit(
            &app,
            order(maker, Side::Sell, 10_000 + i, 2, TimeInForce::Gtc),
        )
        .await?;
        submit(
            &app,
            order(maker, Side::Buy, 9_990 - i, 2, TimeInForce::Gtc),
        )
        .await?;
    }

    // Clients.
    let stop = Arc::new(AtomicBool::new(false));
    let messages = Arc::new(AtomicU64::new(0));
    let url = format!("ws://{}/ws", app.addr);
    let mut handles = Vec::with_capacity(n);
    let mut connected = 0usize;
    for _ in 0..n {
        let (mut ws, _) = match tokio_tungstenite::connect_async(&url).await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("bourse-bench ws: connect failed after {connected}: {e}");
                break;
            }
        };
        let sub = r#"{"op":"subscribe","channels":["book.BTC-USD","trades.BTC-USD"]}"#;
        ws.send(Message::text(sub))
            .await
            .map_err(|e| e.to_string())?;
        connected += 1;
        let (stop, messages) = (stop.clone(), messages.clone());
        handles.push(tokio::spawn(async move {
            let mut seen: Vec<(u64, Instant)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let msg = match tokio::time::timeout(Duration::from_millis(200), ws.next()).await {
                    Err(_) => continue,
                    Ok(None) | Ok(Some(Err(_))) => break,
                    Ok(Some(Ok(m))) => m,
                };
                let now = Instant::now();
                if let Message::Text(t) = msg {
                    messages.fetch_add(1, Ordering::Relaxed);
                    let s = t.as_str();
                    if s.starts_with(r#"{"channel":"trades."#) {
                        trade_ids(s, |id| seen.push((id, now)));
                    }
                }
            }
            seen
        }));
    }
    // Let snapshots drain before measuring.
    tokio::time::sleep(Duration::from_millis(500 + n as u64 / 5)).await;

    // When each trade was published (the fan-out's input).
    let published: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let mut feed = app.state.seq.subscribe();
    let rec = {
        let published = published.clone();
        tokio::spawn(async move {
            while let Ok(batch) = feed.recv().await {
                let now = Instant::now();
                let mut p = published.lock().expect("published lock");
                for c in &batch.commands {
                    for e in &c.events {
                        if let Event::Trade { id, .. } = e {
                            p.insert(id.0, now);
                        }
                    }
                }
            }
        })
    };

    let m0 = messages.load(Ordering::Relaxed);
    let t0 = Instant::now();
    let period = Duration::from_secs_f64(1.0 / args.pairs_per_sec.max(1) as f64);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut step = 0u64;
    while t0.elapsed().as_secs_f64() < args.seconds {
        tick.tick().await;
        // A new ask behind the others, then a taker that lifts the best one.
        submit(
            &app,
            order(maker, Side::Sell, 10_000 + step % 20, 2, TimeInForce::Gtc),
        )
        .await?;
        submit(&app, order(taker, Side::Buy, 10_019, 2, TimeInForce::Ioc)).await?;
        step += 1;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered = messages.load(Ordering::Relaxed) - m0;
    stop.store(true, Ordering::Relaxed);
    let mut hist =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
    let mut trades = 0;
    let seen: Vec<Vec<(u64, Instant)>> = futures_util::future::join_all(handles)
        .await
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    {
        let p = published.lock().expect("published lock");
        trades = trades.max(p.len() as u64);
        for client in &seen {
            for (id, at) in client {
                if let Some(t) = p.get(id) {
                    let us = at.saturating_duration_since(*t).as_micros() as u64;
                    let _ = hist.record(us.max(1));
                }
            }
        }
    }
    rec.abort();
    let slow = app.state.realtime.stats.snapshot().slow_consumers_closed;
    app.shutdown().await;
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Ok(WsResult {
        clients: n,
        connected,
        seconds: elapsed,
        trades,
        messages: delivered,
        messages_per_sec: delivered as f64 / elapsed,
        latency_p50_ms: ms(0.5),
        latency_p99_ms: ms(0.99),
        latency_max_ms: hist.max() as f64 / 1000.0,
        latency_samples: hist.len(),
        slow_consumers_closed: slow,
    })
}

/// Calls `f` with each `"id":N` in a trades frame.
fn trade_ids(s: &str, mut f: impl FnMut(u64)) {
    let mut rest = s;
    while let Some(i) = rest.find(r#""id":"#) {
        rest = &rest[i + 5..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if let Ok(id) = rest[..end].parse() {
            f(id);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_trade_ids() {
        let mut ids = Vec::new();
        super::trade_ids(
            r#"{"channel":"trades.X","data":[{"id":17,"price":"1"},{"id":18}]}"#,
            |i| ids.push(i),
        );
        assert_eq!(ids, vec![17, 18]);
    }
}
