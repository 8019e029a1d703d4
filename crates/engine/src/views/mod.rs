//! Read views: what the gateways read without entering the writer's queue — the market
//! catalog with each market's top of book, an auth index (users, API keys, logged-out
//! tokens) and every user's balances.
//!
//! Rules:
//! - Only the sequencer thread writes them: after a batch is applied and **before** any
//!   caller of that batch is answered. A reply received means the views already show
//!   that command (read-your-writes without a query).
//! - Each entry is replaced whole (a new `Arc`), never changed in place: a reader sees one
//!   user's balances, one user's auth entry or the catalog as of one batch. Two entries
//!   read one after the other may be from different batches; a reader that needs one
//!   consistent picture of several users' state uses `SequencerHandle::query`.
//! - Updates cost what the batch changed, never the size of the state: the batch's
//!   events name what to re-read from the core (`BalanceChanged` → that user's balances,
//!   `BookChanged`/`Trade`/market events → that market, user and API-key events and
//!   `RevokeToken` → that user's auth entry).
//! - Not here: open orders by id (a million resting orders would be held twice), closed
//!   orders and history (the read models).

mod market;

pub use market::{asset_symbol, MarketInfo};

use crate::sequencer::AppliedBatch;
use arc_swap::ArcSwap;
use bourse_core::{AssetView, Core};
use bourse_model::{
    Amount, AssetId, CommandKind, Event, MarketId, Price, Qty, Role, Side, Tier, Timestamp, UserId,
};
use dashmap::DashMap;
use rustc_hash::FxHashSet;
use std::sync::Arc;

/// Price levels kept per side of each market: the deepest `GET …/book` can ask.
pub const BOOK_DEPTH: usize = 1000;

/// A market and its book's top levels, as of one batch.
#[derive(Debug, Clone)]
pub struct MarketSnapshot {
    pub info: MarketInfo,
    /// `(price, total size)` from the best outward, at most [`BOOK_DEPTH`] per side.
    pub bids: Vec<(Price, Qty)>,
    pub asks: Vec<(Price, Qty)>,
}

/// Every market (by id) and every asset (by id).
#[derive(Debug, Default)]
pub struct Catalog {
    pub markets: Vec<Arc<MarketSnapshot>>,
    pub assets: Arc<Vec<AssetView>>,
}

impl Catalog {
    pub fn market(&self, id: MarketId) -> Option<&Arc<MarketSnapshot>> {
        self.markets.get(id.0 as usize)
    }

    pub fn market_by_symbol(&self, symbol: &str) -> Option<&Arc<MarketSnapshot>> {
        self.markets.iter().find(|m| m.info.symbol() == symbol)
    }

    pub fn asset(&self, id: AssetId) -> Option<&AssetView> {
        self.assets.get(id.0 as usize)
    }
}

/// What authenticating a user needs.
#[derive(Debug, Clone)]
pub struct UserAuth {
    pub id: UserId,
    pub username: String,
    pub role: Role,
    pub tier: Tier,
    pub kyc_verified: bool,
    pub kill_switch: bool,
    /// PHC string of the current password (tokens carry a fingerprint of it).
    pub password_hash: String,
    /// Logged-out token ids and their expiry.
    pub revoked: Vec<([u8; 16], Timestamp)>,
    pub api_keys: usize,
}

impl UserAuth {
    pub fn token_revoked(&self, jti: &[u8; 16]) -> bool {
        self.revoked.iter().any(|(j, _)| j == jti)
    }
}

/// What verifying an API key's signature needs.
#[derive(Debug, Clone)]
pub struct ApiKeyAuth {
    pub user: UserId,
    /// The secret, sealed (the gateway opens it).
    pub secret_enc: String,
    pub label: String,
    /// Permissions and IP allow-list: the gateway enforces them on every request.
    pub scope: bourse_model::ApiKeyScope,
}

/// Every asset's `(asset, available, held)` of one user, by asset id.
pub type Balances = Vec<(AssetId, Amount, Amount)>;

/// The views (see the module doc). Cheap to share (`Arc<Views>`).
#[derive(Default)]
pub struct Views {
    catalog: ArcSwap<Catalog>,
    users: DashMap<UserId, Arc<UserAuth>>,
    names: DashMap<String, UserId>,
    api_keys: DashMap<String, Arc<ApiKeyAuth>>,
    balances: DashMap<UserId, Arc<Balances>>,
}

impl Views {
    /// Everything, from a recovered core (start-up).
    pub fn build(core: &Core) -> Self {
        let v = Views::default();
        for i in 1..=core.user_count() as u64 {
            v.refresh_user(core, UserId(i));
            v.refresh_balances(core, UserId(i));
        }
        v.refresh_catalog(core, &[], true);
        v
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    pub fn market_by_symbol(&self, symbol: &str) -> Option<Arc<MarketSnapshot>> {
        self.catalog.load().market_by_symbol(symbol).cloned()
    }

    pub fn user(&self, id: UserId) -> Option<Arc<UserAuth>> {
        self.users.get(&id).map(|u| u.clone())
    }

    pub fn user_by_name(&self, username: &str) -> Option<Arc<UserAuth>> {
        let id = *self.names.get(username)?;
        self.user(id)
    }

    pub fn api_key(&self, key_id: &str) -> Option<Arc<ApiKeyAuth>> {
        self.api_keys.get(key_id).map(|k| k.clone())
    }

    /// A user's balances; empty for an unknown user.
    pub fn balances(&self, user: UserId) -> Arc<Balances> {
        self.balances
            .get(&user)
            .map(|b| b.clone())
            .unwrap_or_default()
    }

    /// Brings the views up to date with `batch`, just applied to `core`.
    pub fn apply(&self, core: &Core, batch: &AppliedBatch) {
        let mut users = FxHashSet::default();
        let mut balances = FxHashSet::default();
        let mut markets = FxHashSet::default();
        let mut assets = false;
        for c in &batch.commands {
            if let CommandKind::RevokeToken { user, .. } = &c.kind {
                users.insert(*user);
            }
            for e in &c.events {
                match e {
                    Event::BalanceChanged { user, .. } => {
                        balances.insert(*user);
                    }
                    Event::BookChanged { market, .. }
                    | Event::Trade { market, .. }
                    | Event::MarketStatusChanged { market, .. }
                    | Event::MarketCreated { market, .. } => {
                        markets.insert(*market);
                    }
                    Event::AssetCreated { .. } => assets = true,
                    Event::UserRegistered { user, .. } => {
                        users.insert(*user);
                        // A new user sees every asset, zero.
                        balances.insert(*user);
                    }
                    Event::PasswordChanged { user, .. }
                    | Event::UserRoleChanged { user, .. }
                    | Event::UserFlagsChanged { user, .. }
                    | Event::UserComplianceChanged { user, .. } => {
                        users.insert(*user);
                    }
                    // The event has no scope (it is the core's): refreshing the user
                    // reads the new key, scope included, from the core.
                    Event::ApiKeyCreated { user, .. } => {
                        users.insert(*user);
                    }
                    Event::ApiKeyDeleted { user, key_id } => {
                        users.insert(*user);
                        self.api_keys.remove(key_id);
                    }
                    _ => {}
                }
            }
        }
        if assets {
            // Every user's balance list has one entry per asset.
            for i in 1..=core.user_count() as u64 {
                balances.insert(UserId(i));
            }
        }
        for u in users {
            self.refresh_user(core, u);
        }
        for u in balances {
            self.refresh_balances(core, u);
        }
        if assets || !markets.is_empty() {
            let markets: Vec<MarketId> = markets.into_iter().collect();
            self.refresh_catalog(core, &markets, assets);
        }
    }

    fn refresh_user(&self, core: &Core, id: UserId) {
        let Some(u) = core.user(id) else {
            return;
        };
        if !self.users.contains_key(&id) {
            self.names.insert(u.username.clone(), id);
        }
        for k in &u.api_keys {
            if !self.api_keys.contains_key(&k.key_id) {
                self.api_keys.insert(
                    k.key_id.clone(),
                    Arc::new(ApiKeyAuth {
                        user: id,
                        secret_enc: k.secret_enc.clone(),
                        label: k.label.clone(),
                        scope: k.scope.clone(),
                    }),
                );
            }
        }
        self.users.insert(
            id,
            Arc::new(UserAuth {
                id,
                username: u.username,
                role: u.role,
                tier: u.tier,
                kyc_verified: u.kyc_verified,
                kill_switch: u.kill_switch,
                password_hash: u.password_hash,
                revoked: core.revoked_tokens(id),
                api_keys: u.api_keys.len(),
            }),
        );
    }

    fn refresh_balances(&self, core: &Core, id: UserId) {
        self.balances.insert(id, Arc::new(core.balances(id)));
    }

    /// Re-reads `markets`; everything when `all` (start-up, a new asset: its symbol).
    fn refresh_catalog(&self, core: &Core, markets: &[MarketId], all: bool) {
        let old = self.catalog.load_full();
        let count = core.markets().len();
        let (assets, list) = if all || old.markets.len() != count {
            let list = MarketInfo::all(core)
                .into_iter()
                .map(|info| Arc::new(snapshot(core, info)))
                .collect();
            (Arc::new(core.assets()), list)
        } else {
            let mut list = old.markets.clone();
            for &id in markets {
                let (Some(slot), Some(m)) = (list.get_mut(id.0 as usize), core.market(id)) else {
                    continue;
                };
                let info = MarketInfo {
                    id,
                    spec: m.spec,
                    base: slot.info.base.clone(),
                    quote: slot.info.quote.clone(),
                    status: m.status,
                    last_price: m.last_price,
                    sequence: m.sequence,
                    quote_per_tick_lot: m.quote_per_tick_lot,
                };
                *slot = Arc::new(snapshot(core, info));
            }
            (old.assets.clone(), list)
        };
        self.catalog.store(Arc::new(Catalog {
            markets: list,
            assets,
        }));
    }
}

fn snapshot(core: &Core, info: MarketInfo) -> MarketSnapshot {
    MarketSnapshot {
        bids: core.depth(info.id, Side::Buy, BOOK_DEPTH),
        asks: core.depth(info.id, Side::Sell, BOOK_DEPTH),
        info,
    }
}
