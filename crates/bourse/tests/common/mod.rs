//! Test helpers: a JSON HTTP client and an in-process server on port 0.
#![allow(dead_code)]

use bourse::{Config, RunningApp, StartOptions};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

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

/// The database server tests create their databases on: `BOURSE_TEST_PG_URL`, default
/// the machine's `test` database.
pub fn pg_admin_url() -> String {
    std::env::var("BOURSE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The URL of database `name` on the server of [`pg_admin_url`].
fn pg_url(name: &str) -> String {
    let admin_url = pg_admin_url();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

async fn pg_admin() -> sqlx::PgConnection {
    use sqlx::Connection;
    let admin_url = pg_admin_url();
    sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is required: {e}"))
}

/// Runs `f` with the URL of a fresh PostgreSQL database named `{prefix}_{random}`, created
/// through `BOURSE_TEST_PG_URL` (default: the machine's `test` database) and dropped
/// afterwards, also when `f` panics (the panic is then re-raised).
pub async fn with_fresh_pg<F, Fut>(prefix: &str, f: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut conn = pg_admin().await;
    let name = format!("{prefix}_{}", rand::random::<u32>());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let result = tokio::spawn(f(pg_url(&name))).await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// A config for tests: port 0, the given data dir, small snapshots interval.
///
/// With `database_url: None` the read models are SQLite in the data dir, unless
/// `BOURSE_TEST_BACKEND=postgres`: then [`start`] gives the data dir its own fresh
/// PostgreSQL database (see [`pg_backend`]), so the same suites run on both backends.
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

/// [`test_config`] with the rate limits off: for suites that send many quick requests
/// (the OpenAPI probes), where a 429 would hide the answer under test.
pub fn no_limits_config(data_dir: &Path) -> Config {
    let mut c = test_config(data_dir, None);
    c.limits.enabled = false;
    c
}

/// The probes of an integer bound `min..=max` a document states: `(value, inside)` for
/// both ends and just outside each (below `min` only if there is a value below).
pub fn bound_probes(min: u64, max: u64) -> Vec<(u64, bool)> {
    let mut probes = vec![(min, true), (max, true), (max + 1, false)];
    if min > 0 {
        probes.push((min - 1, false));
    }
    probes
}

/// Hex HMAC-SHA256 of `payload` keyed with `secret`: the signature of `X-API-SIGNATURE`
/// and of the Binance API's `signature`.
pub fn hmac_hex(secret: &str, payload: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Per-data-dir PostgreSQL databases for `BOURSE_TEST_BACKEND=postgres`.
///
/// A database stands in for the SQLite file of the default backend: a restart on the
/// same data dir (shutdown, then `start` again) finds the same database. It is dropped
/// when the test ends, passed or panicked: the thread that created it (the test's own
/// thread, which libtest joins before going on) owns it through a thread-local guard.
/// What a killed run left behind is dropped by the first test of a later run: databases
/// are named `bourse_api_{pid}_{n}`, and one whose process is gone is stale.
pub mod pg_backend {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Mutex, Once};
    use std::time::Duration;

    const PREFIX: &str = "bourse_api_";

    /// `BOURSE_TEST_BACKEND`: `sqlite` (default) or `postgres`.
    pub fn selected() -> bool {
        match std::env::var("BOURSE_TEST_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("sqlite") => false,
            Ok("postgres") => true,
            Ok(other) => panic!("BOURSE_TEST_BACKEND={other}: expected sqlite or postgres"),
        }
    }

    /// Data dir → database, for the databases of this process not yet dropped. Global,
    /// so that a restart finds the database whichever thread it runs on.
    static DATABASES: Mutex<Option<HashMap<PathBuf, String>>> = Mutex::new(None);
    static SWEEP: Once = Once::new();

    /// The databases created on this thread, dropped when the thread ends.
    struct Owned(Vec<(PathBuf, String)>);

    impl Drop for Owned {
        fn drop(&mut self) {
            let owned = std::mem::take(&mut self.0);
            if let Some(map) = DATABASES.lock().unwrap().as_mut() {
                for (dir, _) in &owned {
                    map.remove(dir);
                }
            }
            let names: Vec<String> = owned.into_iter().map(|(_, name)| name).collect();
            if !block_on(drop_all(names.clone())) {
                eprintln!("could not drop test databases {names:?}");
            }
        }
    }

    thread_local! {
        static OWNED: RefCell<Owned> = const { RefCell::new(Owned(Vec::new())) };
    }

    /// The URL of `data_dir`'s database, created on first use.
    pub async fn database_for(data_dir: &Path) -> String {
        SWEEP.call_once(|| {
            assert!(
                block_on(drop_stale()),
                "PostgreSQL at {} is required",
                super::pg_admin_url()
            );
        });
        let known = DATABASES
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .get(data_dir)
            .cloned();
        if let Some(name) = known {
            return super::pg_url(&name);
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{PREFIX}{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut super::pg_admin().await)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        OWNED.with(|o| o.borrow_mut().0.push((data_dir.to_owned(), name.clone())));
        DATABASES
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .insert(data_dir.to_owned(), name.clone());
        super::pg_url(&name)
    }

    /// Drops the databases of processes that no longer run.
    async fn drop_stale() {
        let mut conn = super::pg_admin().await;
        let names: Vec<String> =
            sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
                .bind(PREFIX)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        for name in names.iter().filter(|n| is_stale(n)) {
            drop_database(&mut conn, name).await;
        }
    }

    /// A database of a process that no longer runs. Only decidable with `/proc`; without
    /// it nothing is stale (better a leak than dropping a live run's database).
    fn is_stale(name: &str) -> bool {
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
        else {
            return false;
        };
        Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists()
    }

    async fn drop_all(names: Vec<String>) {
        if names.is_empty() {
            return;
        }
        let mut conn = super::pg_admin().await;
        for name in &names {
            drop_database(&mut conn, name).await;
        }
    }

    /// Best effort: a concurrent run may be dropping the same stale database. `FORCE`
    /// ends the connections of a server the test did not shut down.
    async fn drop_database(conn: &mut sqlx::PgConnection, name: &str) {
        if let Err(e) = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(conn)
            .await
        {
            eprintln!("DROP DATABASE {name}: {e}");
        }
    }

    /// Runs `f` on a runtime of its own on a thread of its own: callable from inside a
    /// test's runtime (where blocking on another runtime would panic) and from a
    /// thread-local destructor (where a panic would abort). Whether `f` completed: a
    /// panic in `f` or a hang past 30 s is `false`, not re-raised.
    fn block_on(f: impl std::future::Future<Output = ()> + Send + 'static) -> bool {
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                // The timer must be made inside the runtime.
                .block_on(async { tokio::time::timeout(Duration::from_secs(30), f).await })
                .is_ok()
        })
        .join()
        .unwrap_or(false)
    }
}

pub fn set_admin_password() {
    // Every test in a binary uses the same value, so concurrent setters agree.
    std::env::set_var("BOURSE_ADMIN_PASSWORD", ADMIN_PASSWORD);
}

pub async fn start(config: Config) -> RunningApp {
    start_with(config, StartOptions::default()).await
}

pub async fn start_with(mut config: Config, options: StartOptions) -> RunningApp {
    if config.database_url.is_none() && pg_backend::selected() {
        config.database_url = Some(pg_backend::database_for(&config.data_dir).await);
    }
    // Server logs (warnings and errors) show up in a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    bourse::start(config, options).await.expect("server starts")
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

/// `(available, held)` of `asset` in a `GET /api/v1/balances` answer.
pub fn balance(balances: &Value, asset: &str) -> (String, String) {
    let b = balances
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["asset"] == asset)
        .unwrap_or_else(|| panic!("no {asset} in {balances}"));
    (
        b["available"].as_str().unwrap().to_owned(),
        b["held"].as_str().unwrap().to_owned(),
    )
}

/// `(available, held)` as `balance` returns it.
pub fn pair(a: &str, h: &str) -> (String, String) {
    (a.to_owned(), h.to_owned())
}

/// Polls `f` until it gives `Some`, for at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The address a spawned `bourse serve` prints as `listening on ADDR`, if it does within
/// `within`. The rest of its stdout is read and dropped, so the child never blocks on a
/// full pipe.
pub fn listening_addr(
    stdout: std::process::ChildStdout,
    within: Duration,
) -> Result<String, std::sync::mpsc::RecvTimeoutError> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    rx.recv_timeout(within)
}
