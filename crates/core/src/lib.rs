//! The Bourse exchange core: a pure, deterministic state machine.
//!
//! [`Core::apply`] turns one [`Command`] into the [`Event`]s it caused. There is no I/O,
//! no clock (time is `Command::ts`) and no randomness, so the same commands always give
//! the same events and the same [`Core::state_hash`]. A rejected command is exactly one
//! `Event::Rejected` and changes nothing: every check runs before the
//! first mutation.
//!
//! # Ids
//! Assigned sequentially by the core: `AssetId` and `MarketId` from 0 in creation order;
//! `UserId`, `OrderId`, `TradeId` and `WithdrawalId` from 1. Rejected commands consume no
//! id.
//!
//! # Reference data and users
//! * `CreateAsset { symbol, scale }`: unique symbol (`ASSET_EXISTS`), scale ≤ 18
//!   (`INVALID_ASSET_SPEC`).
//! * `CreateMarket`: unique symbol (`MARKET_EXISTS`), both assets exist (`UNKNOWN_ASSET`),
//!   `spec.validate()` passes and `base_scale`/`quote_scale` equal the assets' scales
//!   (`INVALID_MARKET_SPEC`). `max_open_orders == 0` means no limit.
//! * `RegisterUser`: unique username (`USERNAME_TAKEN`). Every other user command needs an
//!   existing user (`UNKNOWN_USER`). Users carry `kyc_verified` (default false),
//!   `kill_switch` and a fee `tier`. Turning the kill switch on cancels all the user's
//!   orders (`CancelReason::KillSwitch`); while on, new orders are refused
//!   (`KILL_SWITCH_ACTIVE`). Passwords, roles and API keys (key id unique per user,
//!   `API_KEY_EXISTS` / `UNKNOWN_API_KEY`) are stored and echoed as events.
//! * KYC policy ([`CoreConfig::kyc_required`]) is state like any other: it starts `false`
//!   and only `SetKycPolicy { required }` changes it (no event; the journal records it),
//!   so a replay never depends on a setting outside the journal. The server journals
//!   that command at start-up when its config disagrees with the recovered state. While
//!   required, places, amends and withdrawal requests of unverified users are refused
//!   (`KYC_REQUIRED`), and no unverified user has an open order: turning the policy on
//!   cancels the open orders (resting and untriggered stops) of every unverified user,
//!   and a `SetUserFlags` that leaves a user unverified cancels theirs, both with
//!   `CancelReason::KycRequired` (after the kill switch's cancels, if both apply). So a
//!   stop can never trigger for an unverified user. Pending withdrawals stay.
//! * KYC levels ([`kyc`]): every user has a level 0–2 (`SetUserCompliance`, which also
//!   sets the beneficial owner); the policy of each level ([`CoreConfig::kyc_levels`],
//!   changed only by `SetKycLevels`, no event) says whether it may trade and withdraw and
//!   its daily withdrawal limit per asset, counted by the UTC day of each command's `ts`.
//!   A level that may not trade is refused like an unverified user (`KYC_REQUIRED`, and
//!   its open orders are canceled); over the limit is `WITHDRAWAL_LIMIT` with `remaining`.
//! * `RevokeToken { user, jti, expires_at }` (logout): [`Core::token_revoked`] answers true
//!   for that token until `expires_at`. It emits no event (read models do not keep
//!   sessions); each one prunes the user's entries that expired by the command's time, so
//!   the list holds only live tokens.
//!
//! # Idempotency keys ([`idempotency`])
//! A `client_order_id` (a `client_withdrawal_id`) is unique per user while the core
//! remembers it: from its use (the accepting command's `ts`) for the idempotency window,
//! and for as long as its order is open (its withdrawal pending), whichever is longer.
//! Inside that, a retry is `DUPLICATE_CLIENT_ORDER_ID` with `order: Some(original)`
//! (`DUPLICATE_CLIENT_WITHDRAWAL_ID` with `withdrawal: Some(original)`), whatever the
//! retry's other fields; after it the id can be used again. A withdrawal key keeps the
//! original request ([`Core::withdrawal_by_client_id`]) so that a gateway can answer a
//! retry with the same body with the original and a different body with a conflict.
//! The window
//! ([`CoreConfig::idempotency_window_ms`], 24 h to start with) is state like the KYC
//! policy: only `SetIdempotencyWindow { ms }` changes it (no event), so a replay never
//! depends on a setting outside the journal; a new window applies at once to every key
//! still waiting for its window (an open order's key that already passed it is forgotten
//! when the order ends). Forgetting happens after each accepted command, by the
//! command's time; until then a key past its window is remembered but no longer a
//! duplicate. The work is amortized O(1) per command.
//!
//! # Ledger ([`ledger`])
//! Double-entry: each user's (available, held) per asset, a fee account and an external
//! account per asset; every movement is a transfer of one amount between two accounts,
//! so per asset the sum over all accounts is always 0. Deposit: external → available
//! (refused with `INVALID_AMOUNT` if 0 or if the asset's supply would pass `i64::MAX`, the
//! read models' column range).
//! Withdrawal request (checks: user exists, asset exists, duplicate client withdrawal id
//! (see above), amount not 0 (`INVALID_AMOUNT`), KYC and the level's daily limit
//! (`WITHDRAWAL_LIMIT`), available balance): available →
//! held; complete: held → external; reject: held → available. Each user's `held` always equals the holds of their open orders plus their
//! pending withdrawals.
//!
//! # Orders
//! Checks, in this order, each with its reject code: user exists, market exists,
//! duplicate client order id of this user, while remembered (`DUPLICATE_CLIENT_ORDER_ID`
//! with `order: Some(original)`, so a retry finds its order), market open (`MARKET_HALTED`),
//! kill switch, KYC, field combination (see `NewOrder`; `INVALID_PRICE`,
//! `INVALID_QUANTITY`, `INVALID_ORDER`: `expire_at` iff GTD, post-only only on GTC/GTD
//! limit orders, market orders are IOC (GTC is read as IOC) or FOK, FOK not by quote
//! amount), GTD `expire_at > ts` (`EXPIRE_AT_IN_PAST`), min/max size, min notional of
//! limit prices and of quote amounts (`quote_qty < min_notional`: `NOTIONAL_TOO_SMALL`;
//! overflow: `NOTIONAL_TOO_LARGE`), price band
//! around the last trade price (limit prices; none before the first trade), a stop that
//! would trigger at once (`STOP_WOULD_TRIGGER_IMMEDIATELY`), open-order count for orders
//! that can rest (resting + untriggered stops), balance (`INSUFFICIENT_BALANCE`), FOK
//! fillability (`FOK_CANNOT_FILL`), post-only crossing (`POST_ONLY_WOULD_TAKE`).
//!
//! ## Holds (see [`money`] for the arithmetic)
//! Fees are charged in the quote asset; an order's fee rates are those of the user's tier
//! when it is accepted. Amounts: notional = `price × qty × quote_per_tick_lot`, base =
//! `qty × base_per_lot`, fee = `floor(notional × bps / 10⁴)`.
//! * Sell by size: the base amount. Sell by quote amount (market): all the user's
//!   available base, in whole lots (capped at `max_qty`); it stops once the gross quote
//!   received would pass `quote_qty`.
//! * Buy with a price: notional at that price plus the fee at `max(maker, taker)` bps
//!   (a resting buy may pay either). Market buy by size: the price is the cap
//!   `best ask × (1 + market_slippage_bps)` rounded down to a tick; with no asks the
//!   order is accepted and expires at once, unfilled. Stop-market buy by size: the cap is
//!   `stop × (1 + slippage)`. Market sells get the floor `best bid (or stop) ×
//!   (1 − slippage)` rounded up.
//! * Buy by quote amount: `quote_qty`; fills are cut so notional + taker fee ≤ it.
//!
//! After each fill a priced buy's hold is recomputed for what is left (a fill below the
//! limit releases the surplus), so a hold is always exactly what the rest could still
//! cost; an order's end (filled, canceled, expired) releases whatever is left.
//!
//! ## Matching (see `bourse_book` for price-time priority, STP and lazy GTD expiry)
//! GTC and GTD rest their remainder (GTD until `expire_at`: `ExpireOrders` sweeps every
//! order with `expire_at <= ts`; a visited maker past it is expired during matching);
//! IOC and market orders expire it (`ExpireReason::ImmediateOrCancel`); FOK is checked
//! with `can_fill` first. Self-trade prevention cancels the taker remainder and/or the
//! maker with `CancelReason::SelfTradePrevention`. Fill settlement: buyer's held quote →
//! seller (notional) and → fee account (buyer's fee); seller's held base → buyer;
//! seller's fee from the proceeds.
//!
//! ## Stops
//! Triggered by the market's last trade price: buy stops when last ≥ stop, sell stops
//! when last ≤ stop. After every command that traded, due stops trigger one at a time
//! (buy stops by ascending stop price, sell stops by descending, ties and the choice
//! between a due buy and a due sell stop by lower order id), each emitting
//! `StopTriggered` and then running as a limit (stop-limit) or market (stop-market)
//! order, until none is due. A triggered FOK stop that cannot fill expires
//! (`ExpireReason::FillOrKill`).
//!
//! ## Amend, cancel
//! Open orders (resting or untriggered stops) of the caller can be amended (checks: user
//! exists, KYC as for placing, the caller's open order (`UNKNOWN_ORDER` for others' or
//! closed orders), market open, not quote-sized (`ORDER_NOT_AMENDABLE`)). The new total
//! size must exceed what is filled and respect min/max size and min notional; a new
//! price the band and post-only. A pure size decrease keeps queue priority; a price
//! change or size increase re-enters at the back and may trade as a taker. The hold is
//! adjusted to the new cost (`INSUFFICIENT_BALANCE` if the increase is not available).
//! Halted markets refuse places and amends; cancels, cancel-all and expiry work.
//!
//! # Events
//! In the order things happened: for an order `OrderAccepted`, the hold's
//! `BalanceChanged`, then per fill `Trade`, the maker's fill event, the taker's
//! `OrderPartiallyFilled` (not for quote-sized orders), the four balance changes (buyer
//! quote, buyer base, seller base, seller quote); then `BookChanged` for each level the
//! step changed, then the taker's terminal event and its hold release. `BookChanged`
//! carries the level's new total and the market's book sequence, incremented once per
//! command that changed that book. Quote-sized orders report `remaining: 0` in their
//! terminal event.
//!
//! # State
//! The core keeps open orders only (closed ones live in the read side), plus the client
//! order ids it still remembers, each with its time of use. [`Core::snapshot`] is a
//! canonical postcard encoding and [`Core::state_hash`] its blake3 hash;
//! [`Core::restore`] rebuilds the same state.

mod admin;
mod amend;
mod book_ops;
mod exec;
mod idempotency;
mod invariants;
pub mod kyc;
pub mod ledger;
pub mod money;
mod orders;
mod query;
mod snapshot;
mod state;

#[cfg(test)]
mod tests;

pub use book_ops::BookOps;
pub use query::{ApiKeyView, AssetView, MarketView, OrderView, UserView, WithdrawalView};

use bourse_book::{MatchEvent, OrderBook};
use bourse_model::{
    AssetId, ClientOrderId, Command, CommandKind, Event, MarketId, OrderId, RejectCode, Symbol,
    UserId, WithdrawalId,
};
use idempotency::KeyQueue;
use ledger::Ledger;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use state::{AssetState, MarketState, Order, UserState, Withdrawal};
use std::collections::{BTreeMap, BTreeSet};

/// Exchange-wide settings; part of the state (and of the hash and snapshot). A journal
/// is replayed from `CoreConfig::default()` and changes it only by command
/// (`SetKycPolicy`, `SetIdempotencyWindow`); other starting values are for tests and
/// benchmarks that build a core directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreConfig {
    /// Orders, amends and withdrawals need `kyc_verified` (see the module doc).
    pub kyc_required: bool,
    /// How long a client order id stays a duplicate after its use, in ms of command time
    /// (see the module doc, "Idempotency keys").
    pub idempotency_window_ms: u64,
    /// The policy of each KYC level, index = level (see [`kyc`]); always
    /// `KYC_MAX_LEVEL + 1` entries.
    pub kyc_levels: Vec<bourse_model::KycLevel>,
}

impl CoreConfig {
    /// 24 hours.
    pub const DEFAULT_IDEMPOTENCY_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            kyc_required: false,
            idempotency_window_ms: Self::DEFAULT_IDEMPOTENCY_WINDOW_MS,
            kyc_levels: kyc::open_levels(),
        }
    }
}

/// The core's one error type: only snapshot decoding can fail.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("snapshot cannot be decoded: {0}")]
    Decode(String),
    #[error("snapshot is inconsistent: {0}")]
    Corrupt(String),
}

/// Why a command was refused (becomes `Event::Rejected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reject {
    pub code: RejectCode,
    /// The original order of a duplicate client order id.
    pub order: Option<OrderId>,
    /// The original withdrawal of a duplicate client withdrawal id.
    pub withdrawal: Option<WithdrawalId>,
    /// What is left of the day's allowance, for `WITHDRAWAL_LIMIT`.
    pub remaining: Option<u64>,
}

impl From<RejectCode> for Reject {
    fn from(code: RejectCode) -> Self {
        Reject {
            code,
            order: None,
            withdrawal: None,
            remaining: None,
        }
    }
}

pub(crate) type Check<T = ()> = Result<T, Reject>;

/// Appends the event `ev` builds. Unlike `out.push(event)`, which builds the event on the
/// stack and then copies it (reading back bytes just written, which stalls store
/// forwarding), this makes room first and then writes the fields straight into the buffer.
#[inline(always)]
pub(crate) fn push_event(out: &mut Vec<Event>, ev: impl FnOnce() -> Event) {
    out.extend(std::iter::once_with(ev));
}

/// Buffers reused across commands so the hot path does not allocate. Not state.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub matches: Vec<MatchEvent>,
    /// Book levels changed by the current step (see `exec::level_key`).
    pub touched: Vec<u128>,
    /// Markets whose book sequence the current command already incremented.
    pub bumped: Vec<MarketId>,
    pub ids: Vec<OrderId>,
}

/// The exchange state machine. `B` is the order book implementation (the fast
/// [`OrderBook`] unless a test plugs in the reference book).
pub struct Core<B: BookOps = OrderBook> {
    pub(crate) config: CoreConfig,
    pub(crate) assets: Vec<AssetState>,
    pub(crate) markets: Vec<MarketState<B>>,
    /// Index `id - 1`.
    pub(crate) users: Vec<UserState>,
    pub(crate) ledger: Ledger,
    /// Open orders: resting in a book, or untriggered stops.
    pub(crate) orders: FxHashMap<OrderId, Order>,
    pub(crate) withdrawals: BTreeMap<WithdrawalId, Withdrawal>,
    /// GTD orders (resting or untriggered) by expiry.
    pub(crate) gtd: BTreeSet<(bourse_model::Timestamp, OrderId)>,
    /// Remembered client order ids in use order, for pruning (derived, see
    /// [`idempotency`]).
    pub(crate) keys: KeyQueue,
    pub(crate) next_order: u64,
    pub(crate) next_trade: u64,
    pub(crate) next_withdrawal: u64,
    // Lookups derived from the state above (rebuilt on restore).
    pub(crate) asset_ids: FxHashMap<Symbol, AssetId>,
    pub(crate) market_ids: FxHashMap<Symbol, MarketId>,
    pub(crate) user_ids: FxHashMap<String, UserId>,
    pub(crate) scratch: Scratch,
}

impl Core<OrderBook> {
    pub fn new(config: CoreConfig) -> Self {
        Self::with_book(config)
    }
}

impl<B: BookOps> Core<B> {
    /// An empty core over any book implementation.
    pub fn with_book(config: CoreConfig) -> Self {
        Core {
            config,
            assets: Vec::new(),
            markets: Vec::new(),
            users: Vec::new(),
            ledger: Ledger::new(),
            orders: FxHashMap::default(),
            withdrawals: BTreeMap::new(),
            gtd: BTreeSet::new(),
            keys: KeyQueue::default(),
            next_order: 1,
            next_trade: 1,
            next_withdrawal: 1,
            asset_ids: FxHashMap::default(),
            market_ids: FxHashMap::default(),
            user_ids: FxHashMap::default(),
            scratch: Scratch::default(),
        }
    }

    /// Applies one command and returns its events.
    pub fn apply(&mut self, cmd: &Command) -> Vec<Event> {
        let mut out = Vec::new();
        self.apply_into(cmd, &mut out);
        out
    }

    /// Applies one command, appending its events to `out`.
    pub fn apply_into(&mut self, cmd: &Command, out: &mut Vec<Event>) {
        self.scratch.bumped.clear();
        self.scratch.touched.clear();
        let start = out.len();
        let ts = cmd.ts;
        let result = match &cmd.kind {
            CommandKind::CreateAsset { symbol, scale } => self.create_asset(symbol, *scale, out),
            CommandKind::CreateMarket(spec) => self.create_market(spec, out),
            CommandKind::SetMarketStatus { market, status } => {
                self.set_market_status(*market, *status, out)
            }
            CommandKind::RegisterUser {
                username,
                password_hash,
                role,
            } => self.register_user(username, password_hash, *role, out),
            CommandKind::SetPassword {
                user,
                password_hash,
            } => self.set_password(*user, password_hash, out),
            CommandKind::SetUserRole { user, role } => self.set_role(*user, *role, out),
            CommandKind::SetUserFlags {
                user,
                kyc_verified,
                kill_switch,
                tier,
            } => self.set_flags(*user, *kyc_verified, *kill_switch, *tier, out),
            CommandKind::CreateApiKey {
                user,
                key_id,
                secret_enc,
                label,
            } => self.create_api_key(
                *user,
                key_id,
                secret_enc,
                label,
                bourse_model::ApiKeyScope::legacy(),
                out,
            ),
            CommandKind::CreateScopedApiKey {
                user,
                key_id,
                secret_enc,
                label,
                scope,
            } => self.create_api_key(*user, key_id, secret_enc, label, scope.clone(), out),
            CommandKind::DeleteApiKey { user, key_id } => self.delete_api_key(*user, key_id, out),
            CommandKind::Deposit {
                user,
                asset,
                amount,
            } => self.deposit(*user, *asset, *amount, out),
            CommandKind::RequestWithdrawal {
                user,
                asset,
                amount,
                address,
                client_withdrawal_id,
            } => {
                let key = client_withdrawal_id.as_ref();
                self.request_withdrawal(*user, *asset, *amount, address, key, ts, out)
            }
            CommandKind::CompleteWithdrawal { id } => self.finish_withdrawal(*id, true, out),
            CommandKind::RejectWithdrawal { id } => self.finish_withdrawal(*id, false, out),
            CommandKind::PlaceOrder(order) => self.place(order, ts, out),
            CommandKind::CancelOrder { user, order } => self.cancel(*user, *order, out),
            CommandKind::CancelAll { user, market } => self.cancel_all(*user, *market, out),
            CommandKind::AmendOrder {
                user,
                order,
                price,
                qty,
            } => self.amend(*user, *order, *price, *qty, ts, out),
            CommandKind::ExpireOrders => {
                self.expire_orders(ts, out);
                Ok(())
            }
            CommandKind::RevokeToken {
                user,
                jti,
                expires_at,
            } => self.revoke_token(*user, *jti, *expires_at, ts),
            CommandKind::SetKycPolicy { required } => self.set_kyc_policy(*required, out),
            CommandKind::SetIdempotencyWindow { ms } => {
                self.config.idempotency_window_ms = *ms;
                Ok(())
            }
            CommandKind::SetKycLevels { levels } => self.set_kyc_levels(levels, out),
            CommandKind::SetUserCompliance {
                user,
                kyc_level,
                beneficial_owner,
            } => self.set_user_compliance(*user, *kyc_level, beneficial_owner.as_ref(), out),
        };
        if let Err(r) = result {
            debug_assert_eq!(out.len(), start, "a rejection must come before any event");
            out.truncate(start);
            out.push(Event::Rejected {
                code: r.code,
                order: r.order,
                withdrawal: r.withdrawal,
                remaining: r.remaining.map(bourse_model::Amount),
            });
        } else {
            self.flush_book(out);
            self.prune_keys(ts);
        }
    }

    pub(crate) fn user_state(&self, user: UserId) -> Check<&UserState> {
        (user.0 as usize)
            .checked_sub(1)
            .and_then(|i| self.users.get(i))
            .ok_or_else(|| RejectCode::UnknownUser.into())
    }

    pub(crate) fn user_mut(&mut self, user: UserId) -> &mut UserState {
        &mut self.users[user.0 as usize - 1]
    }

    pub(crate) fn market_state(&self, market: MarketId) -> Check<&MarketState<B>> {
        self.markets
            .get(market.0 as usize)
            .ok_or_else(|| RejectCode::UnknownMarket.into())
    }

    pub(crate) fn client_order(&self, user: UserId, id: &ClientOrderId) -> Option<OrderId> {
        Some(self.user_state(user).ok()?.client_ids.get(id)?.target)
    }
}
