//! Request weights, Binance style: what one request of a route costs its caller's budget,
//! keyed by `"METHOD /route/{template}"` (the template as routed, not the concrete path,
//! so `/api/v1/orders/7` and `/api/v1/orders/8` are one route).
//!
//! The built-in table ([`DEFAULT_WEIGHTS`]) follows what a request costs the server:
//! public market data from the read views 1, a caller's own reads 2, SQL lists and
//! histories 5–10, admin overviews 10–20; placing, amending and canceling an order 1
//! (orders also pay the separate order rate). A route not in the table weighs
//! `default_weight`; `[limits.weights]` in the config overrides or adds entries.

use super::LimitsConfig;
use std::collections::HashMap;

/// The built-in weights (routes not listed weigh `default_weight`, 1 by default).
pub const DEFAULT_WEIGHTS: &[(&str, u32)] = &[
    ("GET /api/v1/markets/{symbol}/trades", 2),
    ("GET /api/v1/markets/{symbol}/candles", 2),
    ("GET /api/v1/auth/me", 2),
    ("GET /api/v1/balances", 2),
    ("GET /api/v1/orders/{id}", 2),
    ("GET /api/v1/api-keys", 2),
    ("GET /api/v1/price-alerts", 2),
    ("GET /api/v1/orders", 10),
    ("GET /api/v1/fills", 10),
    ("GET /api/v1/deposits", 5),
    ("GET /api/v1/withdrawals", 5),
    ("GET /api/v1/notifications", 5),
    ("DELETE /api/v1/orders", 5),
    ("POST /api/v1/withdrawals", 5),
    ("POST /api/v1/api-keys", 5),
    ("POST /api/v1/auth/password", 5),
    ("GET /api/v1/admin/users", 10),
    ("GET /api/v1/admin/withdrawals", 10),
    ("GET /api/v1/admin/notifications/dead-letters", 10),
    ("GET /api/v1/admin/state", 20),
];

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The effective table: built-in entries, then the config's.
#[derive(Debug, Clone)]
pub struct Weights {
    table: HashMap<String, u32>,
    default: u32,
}

impl Weights {
    pub fn new(config: &LimitsConfig) -> Result<Self, String> {
        let mut table: HashMap<String, u32> = DEFAULT_WEIGHTS
            .iter()
            .map(|(k, w)| ((*k).to_owned(), *w))
            .collect();
        for (route, w) in &config.weights {
            let ok = route
                .split_once(' ')
                .is_some_and(|(m, p)| METHODS.contains(&m) && p.starts_with('/'));
            if !ok {
                return Err(format!(
                    "[limits.weights] {route:?}: expected \"METHOD /path/{{template}}\", e.g. \"GET /api/v1/orders\""
                ));
            }
            if *w == 0 {
                return Err(format!(
                    "[limits.weights] {route:?}: a weight is at least 1"
                ));
            }
            table.insert(route.clone(), *w);
        }
        Ok(Self {
            table,
            default: config.default_weight.max(1),
        })
    }

    pub fn of(&self, method: &str, template: &str) -> u32 {
        // Rare enough (one lookup per request) that building the key costs nothing
        // measurable next to the request itself.
        self.table
            .get(&format!("{method} {template}"))
            .copied()
            .unwrap_or(self.default)
    }
}
