//! The answers checked against the REST API: after the FIX phase, every order a session
//! heard of (its own and fills of its resting orders by other users) must have, in its
//! latest ExecutionReport, the numbers `GET /api/v1/orders/{id}` gives: OrdStatus for the
//! status, CumQty = `filled_quantity`, LeavesQty = `remaining_quantity`, AvgPx =
//! `average_price` ("0" when none) — exact strings, no float parsing.
//!
//! Reports of the last commands may still be on their way, and the read models may be a
//! batch behind, so a mismatch is looked at again (sessions drained once more) until
//! [`SETTLE`] has passed; what still differs then is a failure.

use super::client::{Client, Seen};
use crate::e2e::http::Conn;
use crate::e2e::load::User;
use hyper::Method;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long reports and read models get to agree.
const SETTLE: Duration = Duration::from_secs(10);
/// Quiet time that ends a session's drain.
const QUIET: Duration = Duration::from_millis(300);

/// What the check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Orders compared (every one a session heard of, or the first `limit` per session).
    pub orders: u64,
    /// ExecutionReports the sessions read, own and unsolicited.
    pub reports: u64,
    /// The orders whose report and REST order still differed, first few.
    pub mismatches: Vec<String>,
    pub ok: bool,
}

/// The REST status an OrdStatus (39) stands for (`bourse_fix::orders::report`'s mapping).
fn rest_status(ord_status: &str) -> &'static [&'static str] {
    match ord_status {
        "0" => &["new", "open"],
        "1" => &["partially_filled"],
        "2" => &["filled"],
        "4" => &["canceled"],
        "8" => &["rejected"],
        "C" => &["expired"],
        _ => &[],
    }
}

/// `None` when the REST order `o` has the report's numbers, else what differs.
pub fn differs(id: u64, seen: &Seen, o: &serde_json::Value) -> Option<String> {
    let s = |k: &str| o[k].as_str().unwrap_or("");
    let avg = o["average_price"].as_str().unwrap_or("0");
    let same = rest_status(&seen.status).contains(&s("status"))
        && seen.cum == s("filled_quantity")
        && seen.leaves == s("remaining_quantity")
        && seen.avg == avg;
    (!same).then(|| {
        format!(
            "order {id}: report 39={} 14={} 151={} 6={}; REST status={} filled={} remaining={} average={}",
            seen.status,
            seen.cum,
            seen.leaves,
            seen.avg,
            s("status"),
            s("filled_quantity"),
            s("remaining_quantity"),
            avg
        )
    })
}

/// Compares up to `limit` orders per session (client `i` is `users[i]`'s).
pub async fn run(
    addr: SocketAddr,
    users: &[User],
    clients: &mut [Client],
    limit: usize,
) -> Result<Check, String> {
    let mut conn = Conn::new(addr);
    let deadline = Instant::now() + SETTLE;
    loop {
        for c in clients.iter_mut() {
            c.drain(QUIET).await?;
        }
        let mut orders = 0;
        let mut mismatches = Vec::new();
        for (c, user) in clients.iter().zip(users) {
            let mut ids: Vec<u64> = c.latest.keys().copied().collect();
            ids.sort_unstable();
            ids.truncate(limit);
            for id in ids {
                orders += 1;
                let path = format!("/api/v1/orders/{id}");
                let a = conn
                    .send(Method::GET, &path, Some(&user.token), None)
                    .await?;
                let o: serde_json::Value = if a.status == 200 {
                    serde_json::from_slice(&a.body).map_err(|e| e.to_string())?
                } else {
                    mismatches.push(format!(
                        "order {id}: GET answered {} {}",
                        a.status,
                        a.error_code()
                    ));
                    continue;
                };
                if let Some(d) = differs(id, &c.latest[&id], &o) {
                    mismatches.push(d);
                }
            }
        }
        if mismatches.is_empty() || Instant::now() >= deadline {
            let reports = clients.iter().map(|c| c.reports).sum();
            let ok = mismatches.is_empty() && orders > 0;
            mismatches.truncate(10);
            return Ok(Check {
                orders,
                reports,
                mismatches,
                ok,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seen(status: &str, cum: &str, leaves: &str, avg: &str) -> Seen {
        Seen {
            status: status.into(),
            cum: cum.into(),
            leaves: leaves.into(),
            avg: avg.into(),
        }
    }

    #[test]
    fn a_report_matches_only_the_same_numbers() {
        let open = json!({"status": "open", "filled_quantity": "0.0000",
            "remaining_quantity": "0.0010", "average_price": null});
        assert_eq!(differs(1, &seen("0", "0.0000", "0.0010", "0"), &open), None);
        // A fill the session did not hear of, or a status it got wrong: reported.
        assert!(differs(1, &seen("2", "0.0010", "0.0000", "100.00"), &open).is_some());
        assert!(differs(1, &seen("0", "0.0000", "0.0009", "0"), &open).is_some());
        let filled = json!({"status": "filled", "filled_quantity": "0.0010",
            "remaining_quantity": "0.0000", "average_price": "10050.01"});
        assert_eq!(
            differs(2, &seen("2", "0.0010", "0.0000", "10050.01"), &filled),
            None
        );
        // "10050.01" and "10050.010" are different strings: no float comparison.
        assert!(differs(2, &seen("2", "0.0010", "0.0000", "10050.010"), &filled).is_some());
    }
}
