//! Test helpers: a JSON HTTP client and an in-process server on port 0.
#![allow(dead_code)]

use bourse_server::{Config, RunningApp, StartOptions};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A JSON client for one server address.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

impl Client {
    pub fn new(addr: impl std::fmt::Display) -> Self {
        Client {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub async fn try_call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Result<(StatusCode, Value)> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await?;
        let status = res.status();
        let text = res.text().await?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, value))
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        self.try_call(method, path, token, body)
            .await
            .expect("request failed")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(&body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, token, None).await
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let (s, v) = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "login {username}: {v}");
        v["token"].as_str().unwrap().to_owned()
    }

    pub async fn admin(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Registers a trader and returns their token.
    pub async fn trader(&self, username: &str) -> String {
        let (s, v) = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": username, "password": "password123"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "register {username}: {v}");
        self.login(username, "password123").await
    }

    pub async fn create_btc_usd(&self, admin: &str) {
        let (s, v) = self
            .post(
                "/api/v1/admin/markets",
                Some(admin),
                json!({"symbol": "BTC-USD", "base": "BTC", "quote": "USD", "tick_size": "0.01",
                       "lot_size": "0.0001", "min_notional": "1"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "create market: {v}");
    }

    pub async fn deposit(&self, admin: &str, username: &str, asset: &str, amount: &str) {
        let (s, v) = self
            .post(
                "/api/v1/admin/deposits",
                Some(admin),
                json!({"username": username, "asset": asset, "amount": amount}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "deposit: {v}");
    }

    pub async fn balances(&self, token: &str) -> Value {
        let (s, v) = self.get("/api/v1/balances", Some(token)).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// Places a GTC limit order on BTC-USD (asserting 201) and returns the order.
    pub async fn limit_order(&self, token: &str, side: &str, price: &str, qty: &str) -> Value {
        let (s, v) = self
            .post(
                "/api/v1/orders",
                Some(token),
                json!({"market": "BTC-USD", "side": side, "type": "limit", "price": price,
                       "quantity": qty, "time_in_force": "gtc"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }
}

/// Runs `f` with the URL of a fresh PostgreSQL database named `{prefix}_{random}`, created
/// through `BOURSE_TEST_PG_URL` (default: the machine's `test` database) and dropped
/// afterwards, also when `f` panics (the panic is then re-raised).
pub async fn with_fresh_pg<F, Fut>(prefix: &str, f: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use sqlx::Connection;
    let admin_url = std::env::var("BOURSE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is required: {e}"));
    let name = format!("{prefix}_{}", rand::random::<u32>());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let result = tokio::spawn(f(format!("{base}/{name}"))).await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// A config for tests: port 0, the given data dir, small snapshots interval.
pub fn test_config(data_dir: &Path, database_url: Option<String>) -> Config {
    set_admin_password();
    Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.to_path_buf(),
        database_url,
        snapshot_every: 50,
        ..Config::default()
    }
}

pub fn set_admin_password() {
    // Every test in a binary uses the same value, so concurrent setters agree.
    std::env::set_var("BOURSE_ADMIN_PASSWORD", ADMIN_PASSWORD);
}

pub async fn start(config: Config) -> RunningApp {
    start_with(config, StartOptions::default()).await
}

pub async fn start_with(config: Config, options: StartOptions) -> RunningApp {
    // Server logs (warnings and errors) show up in a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    bourse_server::start(config, options)
        .await
        .expect("server starts")
}

/// The error code of an error body, asserting the contract's shape.
pub fn code(v: &Value) -> &str {
    let e = v
        .get("error")
        .unwrap_or_else(|| panic!("not an error body: {v}"));
    assert!(e["message"].is_string(), "error without message: {v}");
    e["code"]
        .as_str()
        .unwrap_or_else(|| panic!("error without code: {v}"))
}
