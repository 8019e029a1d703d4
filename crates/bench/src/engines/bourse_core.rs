//! Bourse's full exchange core (`bourse-core`): risk checks and holds, matching, fees and
//! the double-entry ledger, driven with the real `Command`s a gateway would send.
//!
//! Setup (untimed): one quote asset (`USD`, 6 decimals) and one base asset per market
//! (8 decimals), markets on a grid where one tick × one lot is one quote minor unit,
//! maker/taker fees of 10/20 bp, no price band and no open-order limit; every user
//! registered, buyers (even users) funded with quote and sellers (odd users) with every
//! market's base, far more than the stream can spend.
//!
//! Timed: place → `PlaceOrder` (GTC limit), IOC → `PlaceOrder` (IOC limit), move →
//! `AmendOrder { price }`, reduce → `AmendOrder { qty }` with the new *total* size
//! (`filled + new remaining`, the core's amend semantics, from the stream's `filled`
//! hint), cancel → `CancelOrder`. Each command goes through `Core::apply_into` with one
//! reused event buffer; building the command (one `Box` per order, as the API takes it)
//! is part of the measured cost. The core assigns order ids 1, 2, … to accepted orders,
//! which is the stream's own numbering as long as nothing is rejected: the adapter
//! checks every command's first event for that.

use super::Engine;
use crate::workload::{Level, MarketIx, Op, Order, Spec, Step};
use bourse_core::{Core, CoreConfig};
use bourse_model::{
    Amount, AssetId, Command, CommandKind, Event, FeeSchedule, MarketId, MarketSpec, NewOrder,
    OrderId, Price, Qty, Role, Side, Symbol, TimeInForce, Timestamp, UserId,
};

/// Deposit per funded user and asset, in minor units: 10⁸ USD or 10⁶ base units per user.
const FUNDS: u64 = 100_000_000_000_000;

pub struct BourseCore {
    core: Core,
    markets: u32,
    out: Vec<Event>,
}

fn user_id(u: u32) -> UserId {
    UserId(u64::from(u) + 1)
}

fn symbol(s: &str) -> Symbol {
    Symbol::new(s).expect("static symbols are valid")
}

fn market_spec(i: u32) -> MarketSpec {
    MarketSpec {
        symbol: symbol(&format!("B{i}-USD")),
        base: AssetId(i + 1),
        quote: AssetId(0),
        base_scale: 8,
        quote_scale: 6,
        price_scale: 2,
        tick: 1,
        qty_scale: 4,
        lot: 1,
        min_qty: Qty(1),
        max_qty: Qty(1_000_000_000),
        min_notional: Amount(0),
        price_band_bps: 0,
        market_slippage_bps: 500,
        max_open_orders: 0,
        fees: [FeeSchedule {
            maker_bps: 10,
            taker_bps: 20,
        }; 3],
    }
}

impl BourseCore {
    /// Applies an untimed setup command and insists it was accepted.
    fn admin(&mut self, kind: CommandKind) {
        self.out.clear();
        self.core.apply_into(
            &Command {
                ts: Timestamp(1),
                kind,
                origin: None,
            },
            &mut self.out,
        );
        if let Some(Event::Rejected { code, .. }) = self.out.first() {
            panic!("bourse-core refused setup: {code}");
        }
    }

    #[inline]
    fn run(&mut self, kind: CommandKind) -> &[Event] {
        self.out.clear();
        self.core.apply_into(
            &Command {
                ts: Timestamp(1),
                kind,
                origin: None,
            },
            &mut self.out,
        );
        if let Some(Event::Rejected { code, order, .. }) = self.out.first() {
            panic!("bourse-core rejected a valid command: {code} (order {order:?})");
        }
        &self.out
    }

    #[inline]
    fn place(&mut self, market: MarketIx, o: Order, tif: TimeInForce) {
        let events = self.run(order_command(market, o, tif));
        match events.first() {
            Some(Event::OrderAccepted(info)) if info.id == OrderId(o.id) => {}
            other => panic!("bourse-core numbered order {} differently: {other:?}", o.id),
        }
    }
}

/// The untimed setup as commands: assets, markets, users and their deposits (see the
/// module doc). Users are `UserId(1..=spec.users)`.
pub fn setup_commands(spec: &Spec) -> Vec<CommandKind> {
    let mut out = vec![CommandKind::CreateAsset {
        symbol: symbol("USD"),
        scale: 6,
    }];
    for i in 0..spec.markets {
        out.push(CommandKind::CreateAsset {
            symbol: symbol(&format!("B{i}")),
            scale: 8,
        });
        out.push(CommandKind::CreateMarket(Box::new(market_spec(i))));
    }
    for u in 0..spec.users {
        out.push(CommandKind::RegisterUser {
            username: format!("user{u}"),
            password_hash: String::new(),
            role: Role::Trader,
        });
        let assets: Vec<AssetId> = if u % 2 == 0 {
            vec![AssetId(0)]
        } else {
            (0..spec.markets).map(|m| AssetId(m + 1)).collect()
        };
        for asset in assets {
            out.push(CommandKind::Deposit {
                user: user_id(u),
                asset,
                amount: Amount(FUNDS),
            });
        }
    }
    out
}

fn order_command(market: MarketIx, o: Order, tif: TimeInForce) -> CommandKind {
    let mut order = NewOrder::limit(
        user_id(o.user),
        MarketId(market),
        o.side,
        Price(o.price),
        Qty(o.qty),
    );
    order.tif = tif;
    CommandKind::PlaceOrder(Box::new(order))
}

/// The command a gateway would send for one workload step (see the module doc).
pub fn step_command(step: &Step) -> CommandKind {
    match step.op {
        Op::Place(o) => order_command(step.market, o, TimeInForce::Gtc),
        Op::Ioc(o) => order_command(step.market, o, TimeInForce::Ioc),
        Op::Move {
            id,
            user,
            new_price,
            ..
        } => CommandKind::AmendOrder {
            user: user_id(user),
            order: OrderId(id),
            price: Some(Price(new_price)),
            qty: None,
        },
        Op::Reduce {
            id,
            user,
            new_qty,
            filled,
            ..
        } => CommandKind::AmendOrder {
            user: user_id(user),
            order: OrderId(id),
            price: None,
            qty: Some(Qty(filled + new_qty)),
        },
        Op::Cancel { id, user, .. } => CommandKind::CancelOrder {
            user: user_id(user),
            order: OrderId(id),
        },
    }
}

impl Engine for BourseCore {
    fn new(spec: &Spec) -> Self {
        let mut e = BourseCore {
            core: Core::new(CoreConfig::default()),
            markets: spec.markets,
            out: Vec::new(),
        };
        for kind in setup_commands(spec) {
            e.admin(kind);
        }
        e
    }

    #[inline]
    fn apply(&mut self, step: &Step) {
        match step.op {
            Op::Place(o) => self.place(step.market, o, TimeInForce::Gtc),
            Op::Ioc(o) => self.place(step.market, o, TimeInForce::Ioc),
            _ => {
                self.run(step_command(step));
            }
        }
    }

    fn levels(&self) -> Vec<Level> {
        let mut out = Vec::new();
        for m in 0..self.markets {
            for side in [Side::Buy, Side::Sell] {
                for (price, qty) in self.core.depth(MarketId(m), side, usize::MAX) {
                    out.push(Level {
                        market: m,
                        side,
                        price: price.0,
                        qty: qty.0,
                    });
                }
            }
        }
        out
    }
}
