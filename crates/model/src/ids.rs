//! Newtype identifiers. Numeric ids are assigned by the core in command order, so they are
//! deterministic; string ids are validated once at construction (parse, don't validate).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

numeric_id!(
    /// A user; every user owns exactly one trading account.
    UserId(u64)
);
numeric_id!(
    /// An order, assigned by the core when the order is accepted.
    OrderId(u64)
);
numeric_id!(
    /// A market (order book), assigned by the core in creation order.
    MarketId(u32)
);
numeric_id!(
    /// An asset (BTC, USD, …), assigned by the core in creation order.
    AssetId(u32)
);
numeric_id!(
    /// A trade (one fill between a maker and a taker).
    TradeId(u64)
);
numeric_id!(
    /// A withdrawal request.
    WithdrawalId(u64)
);
numeric_id!(
    /// Milliseconds since the Unix epoch, stamped by the gateway/sequencer. The core never
    /// reads a clock: time is an input.
    Timestamp(u64)
);

/// Why a string id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be 1 to {max} characters long")]
    Length { max: usize },
    #[error("contains a character outside {allowed}")]
    Charset { allowed: &'static str },
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, max = $max:expr, allowed = $allowed:expr, $ok:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;
            /// The allowed characters, as a regular-expression class (the OpenAPI
            /// document's `pattern` is built from it).
            pub const CHARSET: &'static str = $allowed;

            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                if s.is_empty() || s.len() > $max {
                    return Err(IdError::Length { max: $max });
                }
                let ok: fn(u8) -> bool = $ok;
                if !s.bytes().all(ok) {
                    return Err(IdError::Charset { allowed: $allowed });
                }
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// A caller-chosen order id (idempotency key): unique per user while the core
    /// remembers it, that is for its idempotency window after use and as long as its order
    /// is open (see `SetIdempotencyWindow`). 1–36 characters of `[A-Za-z0-9_.:-]` (as
    /// exchanges commonly allow: `.` and `:` too).
    ClientOrderId,
    max = 36,
    allowed = "[A-Za-z0-9_.:-]",
    |b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b)
);
string_id!(
    /// A caller-chosen withdrawal id (idempotency key), with the rules of
    /// [`ClientOrderId`]: unique per user while the core remembers it (its idempotency
    /// window after use, and as long as the withdrawal is pending). 1–36 characters of
    /// `[A-Za-z0-9_.:-]`.
    ClientWithdrawalId,
    max = 36,
    allowed = "[A-Za-z0-9_.:-]",
    |b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b)
);
string_id!(
    /// An asset or market symbol such as `BTC` or `BTC-USD`: 1–20 characters of `[A-Z0-9-]`.
    Symbol,
    max = 20,
    allowed = "[A-Z0-9-]",
    |b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-'
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_order_id_is_validated() {
        assert!(ClientOrderId::new("abc-123_X").is_ok());
        assert!(ClientOrderId::new("web:2024.01").is_ok());
        assert_eq!(ClientOrderId::new(""), Err(IdError::Length { max: 36 }));
        assert!(ClientOrderId::new("x".repeat(37)).is_err());
        assert!(ClientOrderId::new("a b").is_err());
        assert!(serde_json::from_str::<ClientOrderId>("\"a/b\"").is_err());
    }

    #[test]
    fn client_withdrawal_id_has_the_client_order_id_rules() {
        for s in [
            "abc-123_X",
            "",
            "a b",
            "a/b",
            &"x".repeat(36),
            &"x".repeat(37),
        ] {
            assert_eq!(
                ClientWithdrawalId::new(s).is_ok(),
                ClientOrderId::new(s).is_ok(),
                "{s:?}"
            );
        }
        assert_eq!(ClientWithdrawalId::MAX_LEN, ClientOrderId::MAX_LEN);
        assert!(serde_json::from_str::<ClientWithdrawalId>("\"a/b\"").is_err());
    }

    #[test]
    fn symbol_is_upper_case() {
        assert!(Symbol::new("BTC-USD").is_ok());
        assert!(Symbol::new("btc").is_err());
    }
}
