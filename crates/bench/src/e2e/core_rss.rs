//! The core alone with the same resting orders as [`super::server::rss_with_resting`]:
//! how much of the server's RSS is the matching core's state and how much the rest
//! (read models, buffers, allocator slack).
//!
//! It runs in a child process (`bourse-bench e2e-core-rss`) so that neither measurement
//! starts on memory the other freed: an allocator reuses freed memory without it showing
//! in RSS, which would make the second delta too small.

use super::procfs;
use bourse_core::{Core, CoreConfig};
use bourse_model::{Amount, AssetId, Command, CommandKind, Event, Role, Side, Symbol, TimeInForce};
use std::process::Command as Process;

/// Users the orders are spread over, as in the server measurement.
const USERS: u64 = 16;

/// What the child prints: RSS in KiB before and after the orders were applied.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CoreRss {
    pub before_kib: u64,
    pub after_kib: u64,
}

/// `bourse-bench e2e-core-rss --orders N`: applies the setup and N resting orders to a
/// fresh core and prints one [`CoreRss`] line.
pub fn child_main(orders: u64) -> Result<(), String> {
    let mut core = Core::new(CoreConfig::default());
    let mut ts = 1_750_000_000_000u64;
    let mut apply = |core: &mut Core, kind: CommandKind| -> Result<Vec<Event>, String> {
        ts += 1;
        let events = core.apply(&Command::new(ts, kind));
        match events.first() {
            Some(Event::Rejected { code, .. }) => Err(format!("rejected: {code}")),
            _ => Ok(events),
        }
    };
    for (sym, scale) in [("BTC", 8u8), ("USD", 6)] {
        let symbol = Symbol::new(sym).map_err(|e| e.to_string())?;
        apply(&mut core, CommandKind::CreateAsset { symbol, scale })?;
    }
    let mut spec = crate::ws::spec();
    spec.max_open_orders = 0;
    apply(&mut core, CommandKind::CreateMarket(Box::new(spec)))?;
    let mut users = Vec::new();
    for i in 0..USERS {
        let kind = CommandKind::RegisterUser {
            username: format!("rss{i}"),
            password_hash: "x".into(),
            role: Role::Trader,
        };
        let user = apply(&mut core, kind)?
            .iter()
            .find_map(|e| match e {
                Event::UserRegistered { user, .. } => Some(*user),
                _ => None,
            })
            .ok_or("no user registered")?;
        for asset in [AssetId(0), AssetId(1)] {
            let amount = Amount(1 << 55);
            apply(
                &mut core,
                CommandKind::Deposit {
                    user,
                    asset,
                    amount,
                },
            )?;
        }
        users.push(user.0);
    }
    let before_kib = procfs::status_kib("VmRSS").ok_or("no VmRSS")?;
    for i in 0..orders {
        // The same orders as the server measurement places.
        let level = (i / 2) % 1000;
        let (side, price) = if i % 2 == 0 {
            (Side::Buy, 9_999 - level)
        } else {
            (Side::Sell, 10_001 + level)
        };
        let user = users[(i % USERS) as usize];
        apply(
            &mut core,
            crate::ws::order(user, side, price, 1, TimeInForce::Gtc),
        )?;
    }
    let after_kib = procfs::status_kib("VmRSS").ok_or("no VmRSS")?;
    std::hint::black_box(&core);
    let line = serde_json::to_string(&CoreRss {
        before_kib,
        after_kib,
    })
    .map_err(|e| e.to_string())?;
    println!("{line}");
    Ok(())
}

/// Runs the child and reads its line.
pub fn measure(orders: u64) -> Result<CoreRss, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Process::new(exe)
        .args(["e2e-core-rss", "--orders", &orders.to_string()])
        .output()
        .map_err(|e| format!("cannot start the core-alone process: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "core-alone process: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).map_err(|e| format!("core-alone report {text:?}: {e}"))
}
