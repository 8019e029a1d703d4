//! The FIX phase: one closed-loop task per session, the same requests as the HTTP phase
//! (`e2e::load::plan` over the same mix, prices and sizes), sent as FIX:
//! - place → NewOrderSingle (D), GTC limit;
//! - cross → NewOrderSingle, IOC limit beyond the other side's resting orders;
//! - cancel → OrderCancelRequest (F) by OrderID.
//!
//! Each request has its own ClOrdID; its latency runs from the write to the first
//! ExecutionReport (or, for F, OrderCancelReject) carrying that ClOrdID — the FIX
//! counterpart of "the HTTP answer's last byte". A refusal is counted under the REST code
//! its Text starts with, so the same codes are expected as over HTTP (a cancel of an order
//! filled meanwhile). No answer within [`ANSWER_WITHIN`] ends that session's loop as a
//! transport failure: an unanswered order is what the bench exists to catch.

use super::client::{refusal_code, Client};
use crate::e2e::load::{self, Budget, Ctx, Request, Rng, Side, BAND, MARKET, MID, QTY};
use crate::e2e::report::Tally;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long a request may wait for its answer before the run calls it lost.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

fn side_tag(side: Side) -> &'static str {
    match side {
        Side::Buy => "1",
        Side::Sell => "2",
    }
}

/// The FIX message for `req`, with ClOrdID `cl`.
fn message(c: &mut Client, req: Request, cl: &str) -> bourse_fix::codec::Message {
    let limit = |c: &mut Client, side: Side, ticks: u64, tif: &str| {
        c.header("D")
            .with(11, cl)
            .with(38, QTY)
            .with(40, "2")
            .with(44, load::price(ticks))
            .with(54, side_tag(side))
            .with(55, MARKET)
            .with(59, tif)
            .with(60, bourse_fix::time::format(bourse_engine::now_ms()))
    };
    match req {
        Request::Place { side, ticks } => limit(c, side, ticks, "1"),
        Request::Cross { side } => {
            let ticks = match side {
                Side::Buy => MID + BAND + 1,
                Side::Sell => MID - BAND - 1,
            };
            limit(c, side, ticks, "3")
        }
        Request::Cancel { id } => c
            .header("F")
            .with(11, cl)
            .with(37, id.to_string())
            .with(55, MARKET),
        // Reads are not part of this mode (plan never draws them from an order mix).
        Request::Health | Request::Book | Request::Balances => {
            unreachable!("order mixes plan orders only")
        }
    }
}

/// What a request's answer counts as: `None` ok, else (code, text).
fn outcome(req: Request, answer: &bourse_fix::codec::Message) -> Option<(String, String)> {
    let refused = match answer.msg_type() {
        "9" => true,
        "8" => answer.get(150) == Some("8"),
        other => return Some((format!("FIX_35_{other}"), String::new())),
    };
    // A cancel is answered 150=4; a place or cross with anything but a reject.
    let wrong = matches!(req, Request::Cancel { .. }) && !refused && answer.get(150) != Some("4");
    if wrong {
        return Some((
            "FIX_WRONG_EXEC_TYPE".into(),
            format!("cancel answered 150={}", answer.get(150).unwrap_or("")),
        ));
    }
    refused.then(|| refusal_code(answer))
}

/// Runs the phase on `clients` (client `i` is user `i`'s session); the merged tally, the
/// wall time (first send to last answer) and the clients back, for the check.
pub async fn run_phase(
    ctx: Arc<Ctx>,
    clients: Vec<Client>,
    budget: Budget,
    sent: Arc<AtomicU64>,
) -> Result<(Tally, Duration, Vec<Client>), String> {
    let n = clients.len();
    let barrier = Arc::new(tokio::sync::Barrier::new(n + 1));
    let start_cell: Arc<OnceLock<Instant>> = Arc::default();
    let mut joins = Vec::with_capacity(n);
    for (task, mut client) in clients.into_iter().enumerate() {
        let (ctx, barrier, start_cell, sent) = (
            ctx.clone(),
            barrier.clone(),
            start_cell.clone(),
            sent.clone(),
        );
        joins.push(tokio::spawn(async move {
            barrier.wait().await;
            let start = *start_cell.get().expect("set before the barrier opens");
            let user = &ctx.users[task % ctx.users.len()];
            // Other draws than the HTTP phase's tasks (seeded task + 1), same distribution.
            let mut rng = Rng::new(((task as u64) << 32) + 1);
            let mut tally = Tally::new();
            let mut i = 0u64;
            loop {
                let k = sent.fetch_add(1, Ordering::Relaxed);
                let over = match budget {
                    Budget::Count(max) => k >= max,
                    Budget::Seconds(s) => start.elapsed() >= Duration::from_secs_f64(s),
                };
                if over {
                    break;
                }
                let req = {
                    let op = ctx.mix.pick(rng.below(100) as u32);
                    let mut list = user.resting.lock().expect("resting lock");
                    load::plan(op, &mut rng, &mut list, ctx.max_resting)
                };
                i += 1;
                let cl = format!("b{task}-{i}");
                let m = message(&mut client, req, &cl);
                let t0 = Instant::now();
                let answer = match client.send(&m).await {
                    Ok(()) => client.answer(&cl, ANSWER_WITHIN).await,
                    Err(e) => Err(e),
                };
                let us = t0.elapsed().as_micros() as u64;
                match answer {
                    Ok(a) => {
                        let error = outcome(req, &a);
                        let rests = matches!(a.get(39), Some("0" | "1"));
                        if let (Request::Place { .. }, None, true) = (req, &error, rests) {
                            if let Some(id) = a.get(37).and_then(|v| v.parse().ok()) {
                                user.resting.lock().expect("resting lock").push(id);
                            }
                        }
                        tally.outcome(req.op(), us, error);
                    }
                    Err(e) => {
                        // The session is out of step: stop it, the report shows why.
                        tally.transport(req.op(), &e);
                        break;
                    }
                }
            }
            (tally, client)
        }));
    }
    let _ = start_cell.set(Instant::now());
    barrier.wait().await;
    let start = *start_cell.get().expect("just set");
    let mut total = Tally::new();
    let mut back = Vec::with_capacity(n);
    for j in joins {
        let (t, c) = j.await.map_err(|e| e.to_string())?;
        total.merge(t);
        back.push(c);
    }
    Ok((total, start.elapsed(), back))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bourse_fix::codec::Message;

    fn er(exec: &str, status: &str) -> Message {
        Message::new("8").with(150, exec).with(39, status)
    }

    #[test]
    fn answers_are_counted_like_http_ones() {
        let place = Request::Place {
            side: Side::Buy,
            ticks: MID - 1,
        };
        let cancel = Request::Cancel { id: 7 };
        assert_eq!(outcome(place, &er("0", "0")), None);
        let refused = er("8", "8").with(58, "INSUFFICIENT_BALANCE: not enough");
        assert_eq!(outcome(place, &refused).unwrap().0, "INSUFFICIENT_BALANCE");
        assert_eq!(outcome(cancel, &er("4", "4")), None);
        assert_eq!(
            outcome(cancel, &er("0", "0")).unwrap().0,
            "FIX_WRONG_EXEC_TYPE"
        );
        let rej = Message::new("9").with(58, "UNKNOWN_ORDER: no such order");
        let (code, _) = outcome(cancel, &rej).unwrap();
        // The same code the HTTP phase counts as expected for a cancel.
        assert!(crate::e2e::report::is_expected(load::Op::Cancel, &code));
        assert!(outcome(place, &Message::new("j")).is_some());
    }
}
