//! Shared test helpers: varied commands and a walker over the documented file format.
#![allow(dead_code)]

use bourse_model::{
    Amount, AssetId, Command, CommandKind, MarketId, NewOrder, Price, Qty, Role, Side, UserId,
};

/// A deterministic command of varying kind and size, distinct for each `i`.
pub fn command(i: u64) -> Command {
    let kind = match i % 4 {
        0 => CommandKind::Deposit {
            user: UserId(i),
            asset: AssetId(1 + (i % 3) as u32),
            amount: Amount(1_000 + i),
        },
        1 => CommandKind::PlaceOrder(Box::new(NewOrder::limit(
            UserId(i),
            MarketId(1),
            if i % 8 == 1 { Side::Buy } else { Side::Sell },
            Price(10_000 + i),
            Qty(1 + i % 17),
        ))),
        2 => CommandKind::RegisterUser {
            username: format!("user{i}"),
            password_hash: "x".repeat((i % 50) as usize),
            role: Role::Trader,
        },
        _ => CommandKind::ExpireOrders,
    };
    Command::new(1_700_000_000_000 + i, kind)
}

pub fn commands(range: std::ops::Range<u64>) -> Vec<Command> {
    range.map(command).collect()
}

pub const SEGMENT_HEADER_LEN: usize = 24;
pub const RECORD_HEADER_LEN: usize = 16;

/// Start offsets of the records in a segment's bytes, read from their length fields.
pub fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut pos = SEGMENT_HEADER_LEN;
    while pos + RECORD_HEADER_LEN <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        out.push(pos);
        pos += RECORD_HEADER_LEN + len;
    }
    assert_eq!(
        pos,
        bytes.len(),
        "segment does not end on a record boundary"
    );
    out
}
