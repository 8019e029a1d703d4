//! Rough W1-like throughput of the full core: ~1,000 resting orders, 90% amend price ±1
//! tick, 2.5% cancel, 2.5% reduce, 5% IOC. `cargo run --release -p bourse-core --example w1`
//! (the real benchmark lives in bourse-bench).

use bourse_core::{Core, CoreConfig};
use bourse_model::*;

fn main() {
    let mut core = Core::new(CoreConfig::default());
    let mut ev = Vec::with_capacity(64);
    fn run(core: &mut Core, ev: &mut Vec<Event>, kind: CommandKind) -> bool {
        ev.clear();
        core.apply_into(&Command::new(0, kind), ev);
        !matches!(ev.first(), Some(Event::Rejected { .. }))
    }
    macro_rules! apply {
        ($core:expr, $kind:expr) => {
            run($core, &mut ev, $kind)
        };
    }
    let spec = MarketSpec {
        symbol: Symbol::new("B-Q").unwrap(),
        base: AssetId(0),
        quote: AssetId(1),
        base_scale: 0,
        quote_scale: 0,
        price_scale: 0,
        tick: 1,
        qty_scale: 0,
        lot: 1,
        min_qty: Qty(1),
        max_qty: Qty(1_000_000),
        min_notional: Amount(1),
        price_band_bps: 0,
        market_slippage_bps: 500,
        max_open_orders: 0,
        fees: [FeeSchedule {
            maker_bps: 10,
            taker_bps: 20,
        }; 3],
    };
    apply!(
        &mut core,
        CommandKind::CreateAsset {
            symbol: Symbol::new("B").unwrap(),
            scale: 0
        }
    );
    apply!(
        &mut core,
        CommandKind::CreateAsset {
            symbol: Symbol::new("Q").unwrap(),
            scale: 0
        }
    );
    apply!(&mut core, CommandKind::CreateMarket(Box::new(spec)));
    let users = 2_000u64;
    for u in 1..=users {
        apply!(
            &mut core,
            CommandKind::RegisterUser {
                username: format!("u{u}"),
                password_hash: String::new(),
                role: Role::Trader
            }
        );
        apply!(
            &mut core,
            CommandKind::Deposit {
                user: UserId(u),
                asset: AssetId(0),
                amount: Amount(1 << 40)
            }
        );
        apply!(
            &mut core,
            CommandKind::Deposit {
                user: UserId(u),
                asset: AssetId(1),
                amount: Amount(1 << 50)
            }
        );
    }
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut live: Vec<(OrderId, UserId)> = Vec::new();
    for i in 0..1_000u64 {
        let (side, price) = if i % 2 == 0 {
            (Side::Buy, 9_900 - i % 50)
        } else {
            (Side::Sell, 10_100 + i % 50)
        };
        let u = UserId(next() % users + 1);
        apply!(
            &mut core,
            CommandKind::PlaceOrder(Box::new(NewOrder::limit(
                u,
                MarketId(0),
                side,
                Price(price),
                Qty(10 + next() % 90)
            )))
        );
        live.push((OrderId(i + 1), u));
    }
    let n = 3_000_000u64;
    let mut cmds = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let r = next() % 1000;
        let slot = (next() % live.len() as u64) as usize;
        let (id, u) = live[slot];
        let kind = if r < 900 {
            CommandKind::AmendOrder {
                user: u,
                order: id,
                price: None,
                qty: None,
            }
        } else if r < 925 {
            CommandKind::CancelOrder { user: u, order: id }
        } else if r < 950 {
            CommandKind::AmendOrder {
                user: u,
                order: id,
                price: None,
                qty: Some(Qty(5)),
            }
        } else {
            let side = if next() % 2 == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let price = if side == Side::Buy { 10_200 } else { 9_800 };
            CommandKind::PlaceOrder(Box::new(NewOrder {
                tif: TimeInForce::Ioc,
                ..NewOrder::limit(
                    UserId(next() % users + 1),
                    MarketId(0),
                    side,
                    Price(price),
                    Qty(1 + next() % 20),
                )
            }))
        };
        cmds.push((slot, kind));
    }
    // Amend prices are resolved at run time (±1 tick from the current price) and
    // canceled/filled orders are replaced so the book stays ~1,000 deep.
    let start = std::time::Instant::now();
    let mut ok = 0u64;
    for (i, (slot, kind)) in cmds.into_iter().enumerate() {
        let kind = match kind {
            CommandKind::AmendOrder {
                user,
                price: None,
                qty: None,
                ..
            } => match core.order(live[slot].0) {
                Some(o) => {
                    let p = o.price.unwrap().0;
                    let np = if i % 2 == 0 { p + 1 } else { p - 1 };
                    let np = match o.side {
                        Side::Buy => np.min(9_990),
                        Side::Sell => np.max(10_010),
                    };
                    CommandKind::AmendOrder {
                        user: o.user,
                        order: o.id,
                        price: Some(Price(np)),
                        qty: None,
                    }
                }
                None => {
                    let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
                    let price = if side == Side::Buy { 9_950 } else { 10_050 };
                    CommandKind::PlaceOrder(Box::new(NewOrder::limit(
                        user,
                        MarketId(0),
                        side,
                        Price(price),
                        Qty(50),
                    )))
                }
            },
            CommandKind::CancelOrder { .. } => CommandKind::CancelOrder {
                user: live[slot].1,
                order: live[slot].0,
            },
            CommandKind::AmendOrder { qty: Some(q), .. } => CommandKind::AmendOrder {
                user: live[slot].1,
                order: live[slot].0,
                price: None,
                qty: Some(q),
            },
            k => k,
        };
        let placed = matches!(&kind, CommandKind::PlaceOrder(o) if o.tif == TimeInForce::Gtc);
        if apply!(&mut core, kind) {
            ok += 1;
        }
        if placed {
            if let Some(Event::OrderAccepted(info)) = ev.first() {
                if core.order(info.id).is_some() {
                    live[slot] = (info.id, info.user);
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} commands ({ok} accepted) in {secs:.2}s: {:.2}M ops/s, {:.0} ns/op; open orders {}",
        n as f64 / secs / 1e6,
        secs * 1e9 / n as f64,
        core.open_order_count()
    );
}
