//! Accounts and auth against the app on port 0: register / login / logout / password
//! change (with restarts: revocation is durable), API keys and signed requests, rate
//! limits, and the admin user switches (role, tier, KYC, kill switch).

#[path = "../common/mod.rs"]
mod common;

mod admin_switches;
mod api_keys;
mod rate_limits;
mod sessions;

use bourse::Config;
use common::{test_config, Client};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;

fn config(dir: &Path) -> Config {
    let mut c = test_config(dir, None);
    c.limits.enabled = false;
    c
}

fn now_ms() -> u64 {
    bourse_engine::sequencer::now_ms()
}

async fn register(c: &Client, username: &str, password: &str) -> (StatusCode, Value) {
    c.post(
        "/api/v1/auth/register",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}

async fn login(c: &Client, username: &str, password: &str) -> (StatusCode, Value) {
    c.post(
        "/api/v1/auth/login",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}
