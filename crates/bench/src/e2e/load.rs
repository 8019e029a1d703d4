//! The load: what each request is ([`plan`]), and the two drivers that send them
//! ([`run_phase`]: closed loop or open loop).
//!
//! Orders (all in one market, prices on a 0.01 tick around a fixed mid of 10000.00):
//! - **place** (resting): a GTC limit order of one lot multiple ([`QTY`]), buy 0.01 to
//!   [`BAND`] ticks below the mid or sell as far above it, never crossing the other side
//!   (which only ever rests on its own side of the mid). The new id goes on the user's list
//!   when the answer says it rests.
//! - **cancel**: `DELETE /api/v1/orders/{id}` of a random id from the user's own list
//!   (taken off the list before sending, so that two tasks of one user never cancel the
//!   same order). With an empty list the request is a place instead.
//! - **cross**: an IOC limit at [`BAND`] + 1 ticks beyond the mid on the other side: it
//!   takes the best resting order of the opposite side (any user's; on its own order the
//!   default self-trade prevention expires it instead). Its size is one resting order's.
//!
//! Fills are not reported to the maker's owner (an order's fills do not name the other
//! order), so an owner's list keeps ids that a cross has filled; cancelling one answers
//! `404 UNKNOWN_ORDER`, which the report counts as an expected error.
//!
//! With `--max-resting N` a user whose list holds N ids cancels instead of placing: for a
//! server whose markets cap open orders per user (1000 by default); the in-process server
//! has no cap, and then the 70/20/10 mix is sent as drawn.

use super::http::{Answer, Conn};
use super::report::Tally;
use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::Method;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The market every order goes to.
pub const MARKET: &str = "BTC-USD";
/// The mid price in ticks of 0.01 (10000.00).
pub const MID: u64 = 1_000_000;
/// How far from the mid resting orders go, in ticks (50.00): a deep book of many levels.
pub const BAND: u64 = 5_000;
/// Every order's size: 10 lots of 0.0001, a notional of ~10 (the market's minimum is 1).
pub const QTY: &str = "0.0010";

/// What one request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Place,
    Cancel,
    Cross,
    Health,
    Book,
    Balances,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Place => "place",
            Op::Cancel => "cancel",
            Op::Cross => "cross",
            Op::Health => "health",
            Op::Book => "book",
            Op::Balances => "balances",
        }
    }
}

/// Percentages of place / cancel / cross; they add up to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mix {
    pub place: u32,
    pub cancel: u32,
    pub cross: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            place: 70,
            cancel: 20,
            cross: 10,
        }
    }
}

impl FromStr for Mix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<u32> = s
            .split(',')
            .map(|p| p.trim().parse::<u32>().map_err(|e| format!("{p:?}: {e}")))
            .collect::<Result<_, _>>()?;
        let [place, cancel, cross] = parts[..] else {
            return Err(format!(
                "{s:?}: expected three percentages place,cancel,cross"
            ));
        };
        if place + cancel + cross != 100 {
            return Err(format!(
                "{s:?}: the percentages add up to {}, not 100",
                place + cancel + cross
            ));
        }
        Ok(Mix {
            place,
            cancel,
            cross,
        })
    }
}

impl Mix {
    /// The op for a roll in `0..100`.
    pub fn pick(&self, roll: u32) -> Op {
        if roll < self.place {
            Op::Place
        } else if roll < self.place + self.cancel {
            Op::Cancel
        } else {
            Op::Cross
        }
    }
}

/// xorshift64*: deterministic per task, and costs nothing next to a request.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform enough in `0..n` (n > 0) for choosing prices and list entries.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

/// One planned request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Place { side: Side, ticks: u64 },
    Cancel { id: u64 },
    Cross { side: Side },
    Health,
    Book,
    Balances,
}

impl Request {
    pub fn op(&self) -> Op {
        match self {
            Request::Place { .. } => Op::Place,
            Request::Cancel { .. } => Op::Cancel,
            Request::Cross { .. } => Op::Cross,
            Request::Health => Op::Health,
            Request::Book => Op::Book,
            Request::Balances => Op::Balances,
        }
    }
}

/// The request for a drawn `op`, given the user's list of resting ids (a cancel takes its
/// id off the list). A cancel with nothing to cancel becomes a place; a place at the
/// `max_resting` cap becomes a cancel.
pub fn plan(op: Op, rng: &mut Rng, resting: &mut Vec<u64>, max_resting: Option<usize>) -> Request {
    let side = if rng.below(2) == 0 {
        Side::Buy
    } else {
        Side::Sell
    };
    let op = match op {
        Op::Cancel if resting.is_empty() => Op::Place,
        Op::Place if max_resting.is_some_and(|m| resting.len() >= m) && !resting.is_empty() => {
            Op::Cancel
        }
        op => op,
    };
    match op {
        Op::Place => {
            let away = 1 + rng.below(BAND);
            let ticks = match side {
                Side::Buy => MID - away,
                Side::Sell => MID + away,
            };
            Request::Place { side, ticks }
        }
        Op::Cancel => {
            let i = rng.below(resting.len() as u64) as usize;
            Request::Cancel {
                id: resting.swap_remove(i),
            }
        }
        Op::Cross => Request::Cross { side },
        Op::Health => Request::Health,
        Op::Book => Request::Book,
        Op::Balances => Request::Balances,
    }
}

/// `1000000` ticks → `"10000.00"`.
pub fn price(ticks: u64) -> String {
    format!("{}.{:02}", ticks / 100, ticks % 100)
}

fn order_body(side: Side, ticks: u64, tif: &str) -> Bytes {
    let side = match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    };
    Bytes::from(format!(
        r#"{{"market":"{MARKET}","side":"{side}","type":"limit","price":"{}","quantity":"{QTY}","time_in_force":"{tif}"}}"#,
        price(ticks)
    ))
}

/// A trader the load acts for.
pub struct User {
    pub token: HeaderValue,
    /// Ids of this user's orders that rested (some may have been filled since).
    pub resting: Mutex<Vec<u64>>,
}

/// What every task of a phase shares.
pub struct Ctx {
    pub addr: SocketAddr,
    pub users: Vec<User>,
    pub mix: Mix,
    pub max_resting: Option<usize>,
}

/// Which requests a phase sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Orders,
    Read(Op),
}

/// When a phase ends: after this many seconds of sending, or this many requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    Seconds(f64),
    Count(u64),
}

/// Closed loop (each task sends when its previous answer is in) or open loop (requests
/// due at fixed intervals, at most `concurrency` in flight).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    Closed,
    Open { rate: f64 },
}

/// Sends one request and records it; a resting place's id goes on the user's list.
async fn execute(conn: &mut Conn, user: &User, req: Request) -> Result<Answer, String> {
    let path_cancel;
    let (method, path, token, body) = match req {
        Request::Place { side, ticks } => (
            Method::POST,
            "/api/v1/orders",
            Some(&user.token),
            Some(order_body(side, ticks, "gtc")),
        ),
        Request::Cross { side } => {
            // Beyond every resting order of the other side: it takes the best one.
            let ticks = match side {
                Side::Buy => MID + BAND + 1,
                Side::Sell => MID - BAND - 1,
            };
            (
                Method::POST,
                "/api/v1/orders",
                Some(&user.token),
                Some(order_body(side, ticks, "ioc")),
            )
        }
        Request::Cancel { id } => {
            path_cancel = format!("/api/v1/orders/{id}");
            (
                Method::DELETE,
                path_cancel.as_str(),
                Some(&user.token),
                None,
            )
        }
        Request::Health => (Method::GET, "/health", None, None),
        Request::Book => (
            Method::GET,
            "/api/v1/markets/BTC-USD/book?depth=10",
            None,
            None,
        ),
        Request::Balances => (Method::GET, "/api/v1/balances", Some(&user.token), None),
    };
    let answer = conn.send(method, path, token, body).await?;
    if let (Request::Place { .. }, true) = (req, answer.ok()) {
        if let Some(id) = resting_id(&answer.body) {
            user.resting.lock().expect("resting lock").push(id);
        }
    }
    Ok(answer)
}

/// The id of a placed order whose answer says it rests on the book.
pub fn resting_id(body: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Placed<'a> {
        id: u64,
        #[serde(borrow)]
        status: &'a str,
    }
    let p: Placed<'_> = serde_json::from_slice(body).ok()?;
    matches!(p.status, "new" | "open" | "partially_filled").then_some(p.id)
}

/// Where a phase stands, for its progress bar.
pub struct Progress {
    pub sent: AtomicU64,
}

/// Runs one phase with `concurrency` tasks on the current runtime; the merged tally and
/// the phase's wall time (first send to last answer).
pub async fn run_phase(
    ctx: Arc<Ctx>,
    kind: Kind,
    concurrency: usize,
    schedule: Schedule,
    budget: Budget,
    progress: Arc<Progress>,
) -> Result<(Tally, Duration), String> {
    let concurrency = concurrency.max(1);
    // Every task connects first; the clock starts when all are connected.
    let barrier = Arc::new(tokio::sync::Barrier::new(concurrency + 1));
    let start_cell: Arc<std::sync::OnceLock<Instant>> = Arc::default();
    let mut joins = Vec::with_capacity(concurrency);
    for task in 0..concurrency {
        let (ctx, barrier, start_cell, progress) = (
            ctx.clone(),
            barrier.clone(),
            start_cell.clone(),
            progress.clone(),
        );
        joins.push(tokio::spawn(async move {
            let mut conn = Conn::new(ctx.addr);
            let warm = conn.send(Method::GET, "/health", None, None).await;
            barrier.wait().await;
            warm?;
            let start = *start_cell.get().expect("set before the barrier opens");
            let user = &ctx.users[task % ctx.users.len()];
            let mut rng = Rng::new(task as u64 + 1);
            let mut tally = Tally::new();
            loop {
                let n = progress.sent.fetch_add(1, Ordering::Relaxed);
                // When the latency clock starts: now (closed) or when due (open loop:
                // a request that waited for a free task counts that wait).
                let due = match schedule {
                    Schedule::Closed => None,
                    Schedule::Open { rate } => {
                        Some(start + Duration::from_secs_f64(n as f64 / rate))
                    }
                };
                let over = match budget {
                    Budget::Count(max) => n >= max,
                    Budget::Seconds(s) => {
                        due.unwrap_or_else(Instant::now) >= start + Duration::from_secs_f64(s)
                    }
                };
                if over {
                    break;
                }
                if let Some(due) = due {
                    tokio::time::sleep_until(due.into()).await;
                }
                let req = match kind {
                    Kind::Orders => {
                        let op = ctx.mix.pick(rng.below(100) as u32);
                        let mut list = user.resting.lock().expect("resting lock");
                        plan(op, &mut rng, &mut list, ctx.max_resting)
                    }
                    Kind::Read(op) => plan(op, &mut rng, &mut Vec::new(), None),
                };
                let t0 = due.unwrap_or_else(Instant::now);
                let result = execute(&mut conn, user, req).await;
                let us = t0.elapsed().as_micros() as u64;
                match result {
                    Ok(a) => tally.answer(req.op(), &a, us),
                    Err(e) => tally.transport(req.op(), &e),
                }
            }
            Ok::<_, String>(tally)
        }));
    }
    let _ = start_cell.set(Instant::now());
    barrier.wait().await;
    let start = *start_cell.get().expect("just set");
    let mut total = Tally::new();
    let mut first_err = None;
    for j in joins {
        match j.await.map_err(|e| e.to_string())? {
            Ok(t) => total.merge(t),
            Err(e) => first_err = first_err.or(Some(e)),
        }
    }
    if let Some(e) = first_err {
        return Err(format!("a load task could not connect: {e}"));
    }
    Ok((total, start.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_and_picks_by_percentage() {
        let m: Mix = "70,20,10".parse().unwrap();
        assert_eq!(m, Mix::default());
        let counts = (0..100).fold([0; 3], |mut c, r| {
            c[m.pick(r) as usize] += 1;
            c
        });
        assert_eq!(counts, [70, 20, 10]);
        assert!("70,20".parse::<Mix>().is_err());
        assert!("70,20,20".parse::<Mix>().is_err());
        assert!("a,b,c".parse::<Mix>().is_err());
        assert_eq!("0,0,100".parse::<Mix>().unwrap().pick(0), Op::Cross);
    }

    #[test]
    fn drawn_ops_follow_the_mix() {
        let m = Mix::default();
        let mut rng = Rng::new(7);
        let n = 100_000;
        let mut c = [0u32; 3];
        for _ in 0..n {
            c[m.pick(rng.below(100) as u32) as usize] += 1;
        }
        for (got, want) in c.iter().zip([70.0, 20.0, 10.0]) {
            let pct = f64::from(*got) * 100.0 / f64::from(n);
            assert!((pct - want).abs() < 1.0, "{c:?}");
        }
    }

    #[test]
    fn places_rest_away_from_the_touch_and_cancels_take_own_ids() {
        let mut rng = Rng::new(1);
        let mut list = vec![11, 12];
        for _ in 0..1000 {
            match plan(Op::Place, &mut rng, &mut list, None) {
                Request::Place {
                    side: Side::Buy,
                    ticks,
                } => {
                    assert!((MID - BAND..MID).contains(&ticks))
                }
                Request::Place {
                    side: Side::Sell,
                    ticks,
                } => {
                    assert!((MID + 1..=MID + BAND).contains(&ticks))
                }
                r => panic!("{r:?}"),
            }
        }
        let Request::Cancel { id } = plan(Op::Cancel, &mut rng, &mut list, None) else {
            panic!("a cancel");
        };
        assert!(id == 11 || id == 12);
        assert_eq!(list.len(), 1);
        plan(Op::Cancel, &mut rng, &mut list, None);
        // Nothing left to cancel: a place instead.
        assert!(matches!(
            plan(Op::Cancel, &mut rng, &mut list, None),
            Request::Place { .. }
        ));
        // At the cap a place becomes a cancel.
        let mut full = vec![1, 2, 3];
        assert!(matches!(
            plan(Op::Place, &mut rng, &mut full, Some(3)),
            Request::Cancel { .. }
        ));
    }

    #[test]
    fn bodies_and_prices() {
        assert_eq!(price(MID), "10000.00");
        assert_eq!(price(MID - 7), "9999.93");
        let b = order_body(Side::Sell, MID + 1, "gtc");
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["price"], "10000.01");
        assert_eq!(v["side"], "sell");
        assert_eq!(v["quantity"], QTY);
        assert_eq!(resting_id(br#"{"id":5,"status":"open","x":1}"#), Some(5));
        assert_eq!(resting_id(br#"{"id":6,"status":"filled"}"#), None);
        assert_eq!(resting_id(b"garbage"), None);
    }
}
