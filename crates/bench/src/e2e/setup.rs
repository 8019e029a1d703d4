//! Setup over the public HTTP API, as any client would do it: the admin logs in, creates
//! the market unless it exists, and funds the traders, who register and log in.
//!
//! Traders are funded far beyond what the load can hold or spend (1000 BTC and 100M USD
//! each: ~10 USD per resting buy), so that `INSUFFICIENT_BALANCE` is never an expected
//! answer. A failed setup step ends the run: the load would only measure the failure.

use super::http::{bearer, Answer, Conn};
use super::load::{User, MARKET};
use hyper::Method;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Mutex;

/// Every trader's password (8–128 characters).
const PASSWORD: &str = "e2e-bench-password";

fn expect(what: &str, a: &Answer, ok: &[u16]) -> Result<(), String> {
    if ok.contains(&a.status) {
        Ok(())
    } else {
        Err(format!(
            "setup: {what}: HTTP {} {}: {}",
            a.status,
            a.error_code(),
            a.error_message()
        ))
    }
}

async fn login(conn: &mut Conn, username: &str, password: &str) -> Result<String, String> {
    let a = conn
        .json(
            Method::POST,
            "/api/v1/auth/login",
            None,
            &json!({"username": username, "password": password}),
        )
        .await?;
    expect(&format!("login {username}"), &a, &[200])?;
    let v: serde_json::Value = serde_json::from_slice(&a.body).map_err(|e| e.to_string())?;
    v["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("setup: login {username}: no token in the answer"))
}

/// Trader names for this run: `prefix` + index. Against a running server the prefix
/// changes per run (seconds since the epoch) so that runs never share traders.
pub fn usernames(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Creates the market if missing, registers and funds `names`; their bearer tokens.
pub async fn run(
    addr: SocketAddr,
    admin_password: &str,
    names: &[String],
) -> Result<Vec<User>, String> {
    let mut conn = Conn::new(addr);
    let admin = bearer(&login(&mut conn, "admin", admin_password).await?)?;
    let market = json!({
        "symbol": MARKET, "base": "BTC", "quote": "USD",
        "tick_size": "0.01", "lot_size": "0.0001", "min_notional": "1",
    });
    let a = conn
        .json(Method::POST, "/api/v1/admin/markets", Some(&admin), &market)
        .await?;
    if a.status != 201 && a.error_code() != "MARKET_EXISTS" {
        expect("create market", &a, &[201])?;
    }
    let mut users = Vec::with_capacity(names.len());
    for name in names {
        let creds = json!({"username": name, "password": PASSWORD});
        let a = conn
            .json(Method::POST, "/api/v1/auth/register", None, &creds)
            .await?;
        expect(&format!("register {name}"), &a, &[201])?;
        let token = bearer(&login(&mut conn, name, PASSWORD).await?)?;
        for (asset, amount) in [("BTC", "1000"), ("USD", "100000000")] {
            let body = json!({"username": name, "asset": asset, "amount": amount});
            let a = conn
                .json(Method::POST, "/api/v1/admin/deposits", Some(&admin), &body)
                .await?;
            expect(&format!("deposit {asset} to {name}"), &a, &[201])?;
        }
        users.push(User {
            token,
            resting: Mutex::new(Vec::new()),
        });
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    #[test]
    fn usernames_follow_the_server_rules() {
        let names = super::usernames("e2e-66a1b2c3-", 12);
        assert_eq!(names.len(), 12);
        for n in &names {
            assert!((3..=32).contains(&n.len()), "{n}");
            assert!(n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)));
        }
    }
}
