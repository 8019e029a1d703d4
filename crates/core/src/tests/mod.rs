//! Tests of the core's rules (`rules`, `idempotency`) and random command sequences
//! (`props`, the idempotency model check in `idempotency`, the order fold in `fold`).

mod fold;
mod idempotency;
mod props;
mod rules;

use crate::{BookOps, Core, CoreConfig};
use bourse_model::*;

pub(crate) fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

/// A market on a trivial grid: 1 tick = 1 quote unit, 1 lot = 1 base unit (both assets
/// scale 0), maker 10 bps, taker 20 bps.
pub(crate) fn toy_spec(symbol: &str, base: u32, quote: u32) -> MarketSpec {
    MarketSpec {
        symbol: sym(symbol),
        base: AssetId(base),
        quote: AssetId(quote),
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
        fees: [
            FeeSchedule {
                maker_bps: 10,
                taker_bps: 20,
            },
            FeeSchedule {
                maker_bps: 0,
                taker_bps: 5,
            },
            FeeSchedule {
                maker_bps: 0,
                taker_bps: 0,
            },
        ],
    }
}

pub(crate) const B: AssetId = AssetId(0);
pub(crate) const Q: AssetId = AssetId(1);
pub(crate) const M: MarketId = MarketId(0);
pub(crate) const ALICE: UserId = UserId(1);
pub(crate) const BOB: UserId = UserId(2);
pub(crate) const CAROL: UserId = UserId(3);

/// A core with assets B and Q, market B-Q (toy grid), and three funded users. Every
/// command applied through it is checked: invariants hold, and a rejection is a single
/// event that leaves the state hash unchanged.
pub(crate) struct Fx<Bk: BookOps = bourse_book::OrderBook> {
    pub core: Core<Bk>,
    pub ts: u64,
}

impl Fx {
    pub fn new() -> Self {
        Self::with(CoreConfig::default(), toy_spec("B-Q", 0, 1))
    }

    pub fn with(config: CoreConfig, spec: MarketSpec) -> Self {
        let mut fx = Fx {
            core: Core::new(config),
            ts: 1_000,
        };
        fx.ok(CommandKind::CreateAsset {
            symbol: sym("B"),
            scale: spec.base_scale,
        });
        fx.ok(CommandKind::CreateAsset {
            symbol: sym("Q"),
            scale: spec.quote_scale,
        });
        fx.ok(CommandKind::CreateMarket(Box::new(spec)));
        for name in ["alice", "bob", "carol"] {
            fx.ok(CommandKind::RegisterUser {
                username: name.into(),
                password_hash: "h".into(),
                role: Role::Trader,
            });
        }
        for u in [ALICE, BOB, CAROL] {
            fx.ok(CommandKind::Deposit {
                user: u,
                asset: B,
                amount: Amount(1_000_000),
            });
            fx.ok(CommandKind::Deposit {
                user: u,
                asset: Q,
                amount: Amount(100_000_000),
            });
        }
        fx
    }
}

impl<Bk: BookOps> Fx<Bk> {
    pub fn apply(&mut self, kind: CommandKind) -> Vec<Event> {
        self.ts += 1;
        let before = self.core.state_hash();
        let events = self.core.apply(&Command::new(self.ts, kind));
        self.core.check_invariants().unwrap();
        if let Some(Event::Rejected { .. }) = events.first() {
            assert_eq!(events.len(), 1);
            assert_eq!(
                self.core.state_hash(),
                before,
                "a rejection changed the state"
            );
        }
        events
    }

    /// Applies and asserts it was not rejected.
    pub fn ok(&mut self, kind: CommandKind) -> Vec<Event> {
        let ev = self.apply(kind.clone());
        assert!(
            !matches!(ev.first(), Some(Event::Rejected { .. })),
            "{kind:?} -> {ev:?}"
        );
        ev
    }

    /// Applies and returns the reject code (panics if accepted).
    pub fn rej(&mut self, kind: CommandKind) -> RejectCode {
        match self.apply(kind.clone()).as_slice() {
            [Event::Rejected { code, .. }] => *code,
            ev => panic!("{kind:?} was accepted: {ev:?}"),
        }
    }

    pub fn place(&mut self, o: NewOrder) -> Vec<Event> {
        self.apply(CommandKind::PlaceOrder(Box::new(o)))
    }

    /// Places and returns the new order id.
    pub fn place_ok(&mut self, o: NewOrder) -> OrderId {
        let ev = self.ok(CommandKind::PlaceOrder(Box::new(o)));
        match &ev[0] {
            Event::OrderAccepted(info) => info.id,
            e => panic!("{e:?}"),
        }
    }

    pub fn place_rej(&mut self, o: NewOrder) -> RejectCode {
        self.rej(CommandKind::PlaceOrder(Box::new(o)))
    }

    pub fn bal(&self, u: UserId, a: AssetId) -> (u64, u64) {
        let (av, h) = self.core.balance(u, a);
        (av.0, h.0)
    }
}

pub(crate) fn limit(u: UserId, side: Side, price: u64, qty: u64) -> NewOrder {
    NewOrder::limit(u, M, side, Price(price), Qty(qty))
}

pub(crate) fn market(u: UserId, side: Side, qty: Option<u64>, quote: Option<u64>) -> NewOrder {
    NewOrder {
        order_type: OrderType::Market,
        price: None,
        qty: qty.map(Qty),
        quote_qty: quote.map(Amount),
        tif: TimeInForce::Ioc,
        ..limit(u, side, 1, 1)
    }
}

pub(crate) fn trades(ev: &[Event]) -> Vec<(u64, u64, OrderId, OrderId)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Trade {
                price,
                qty,
                maker_order,
                taker_order,
                ..
            } => Some((price.0, qty.0, *maker_order, *taker_order)),
            _ => None,
        })
        .collect()
}
