//! The live channels (books, trades, tickers, candles, and a user's orders, fills and
//! balances) as any channel can subscribe to them, without knowing who produces them.
//!
//! The HTTP crate's WebSocket fan-out implements [`LiveFeed`]: it keeps the book mirrors,
//! the live candles and tickers, and builds every frame once. Another channel (the
//! Binance-compatible streams) opens a [`LiveSession`] — its own bounded queue in that
//! fan-out — subscribes to channels by their `/ws` names (`book.BTC-USD`,
//! `trades.BTC-USD`, `ticker.BTC-USD`, `candles.BTC-USD.1m`, `orders`, `fills`,
//! `balances`) and translates the frames it receives (`/ws` JSON:
//! `{"channel","type","sequence","data"}`) into its own wire format. The rules of
//! ordering, snapshots and slow consumers are the fan-out's (see `/ws`'s module doc):
//! a book snapshot is queued in order with the updates, so its sequence is exactly the
//! one before the next update's.

use bourse_model::UserId;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a session receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveMsg {
    /// One `/ws` data or error frame, as JSON text.
    Frame(String),
    /// A command that may have revoked a credential of the session's user was applied
    /// (logout, password change, API-key deletion): a session with private channels
    /// checks its credential again before it forwards anything received after this.
    Recheck,
}

/// The producer of the live channels.
pub trait LiveFeed: Send + Sync {
    /// A new subscriber from `ip`, counted in the per-address connection cap like a `/ws`
    /// connection: `None` when that address has too many.
    fn open(&self, ip: IpAddr) -> Option<Box<dyn LiveSession>>;
}

/// One subscriber's queue in the feed. Dropping it ends every subscription.
pub trait LiveSession: Send {
    /// Subscribes `channel` (a `/ws` channel name); private channels are `user`'s.
    /// A channel's snapshot, if it has one, is queued before this returns. `Err` is the
    /// refusal's message (unknown market, private channel without a user).
    fn subscribe<'a>(
        &'a mut self,
        channel: &'a str,
        user: Option<UserId>,
    ) -> BoxFuture<'a, Result<(), String>>;

    /// Ends the subscription to `channel` (a name given to [`LiveSession::subscribe`]).
    fn unsubscribe(&mut self, channel: &str);

    /// The next message; `None` once the feed closed this session (its queue filled up:
    /// a slow consumer) or stopped.
    fn recv(&mut self) -> BoxFuture<'_, Option<LiveMsg>>;

    /// The next message if one is queued already.
    fn try_recv(&mut self) -> Option<LiveMsg>;
}
