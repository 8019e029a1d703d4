//! The input rules of the API, declared once: the validators call these rules, and the
//! HTTP channel's OpenAPI finishing step writes the same numbers and patterns into the
//! document (`minimum`/`maximum`, `minLength`/`maxLength`, `pattern`), so the schema and
//! what the server enforces cannot drift apart. Each rule answers `VALIDATION_ERROR` with a
//! message that states it.
//!
//! Rules:
//! - [`Bounds`]: an integer in `min..=max` (page sizes, book depth, cursors, times).
//! - [`Text`]: a string of `min..=max` characters (Unicode scalar values, as JSON Schema
//!   counts them) matching `pattern` (a regular expression both Rust's `regex` and the
//!   ECMA-262 dialect of JSON Schema read alike; unanchored, as JSON Schema applies it).
//! - [`DECIMAL`]: the syntax of every decimal string (`123`, `0.5`), and
//!   [`POSITIVE_DECIMAL`] where zero is refused (prices, sizes, amounts, increments);
//!   whether it fits the market's or asset's grid is a rule of that market
//!   (`INVALID_DECIMAL`, `OFF_GRID`), which no market-independent schema can state.
//! - [`Relation`]: a rule between two fields (or a field and state) that JSON Schema
//!   cannot state; the document names it in the operation's description and in the
//!   operation's `x-beyond-schema` list, which the schemathesis run reads to tell a
//!   documented refusal from a schema gap.

use std::sync::LazyLock;

use regex::Regex;

use crate::error::Error;
use crate::market_info::MAX_UNITS;

/// An integer in `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub min: u64,
    pub max: u64,
}

impl Bounds {
    /// `v`, or `VALIDATION_ERROR` naming `field` and the range.
    pub fn check(&self, field: &str, v: u64) -> Result<u64, Error> {
        if (self.min..=self.max).contains(&v) {
            Ok(v)
        } else {
            Err(Error::validation(format!(
                "{field}: {} to {}",
                self.min, self.max
            )))
        }
    }

    /// An optional query value: `default` when absent.
    pub fn check_or(&self, field: &str, v: Option<u64>, default: u64) -> Result<u64, Error> {
        v.map_or(Ok(default), |v| self.check(field, v))
    }
}

/// A string rule; see the module doc.
pub struct Text {
    pub min: usize,
    pub max: usize,
    /// The JSON Schema `pattern`, if any.
    pub pattern: Option<&'static str>,
    /// The rule in words, as the error message and the schema description state it.
    pub says: &'static str,
    regex: LazyLock<Option<Regex>>,
}

impl Text {
    /// `s` if it holds the rule, else `VALIDATION_ERROR` with "`field`: `says`".
    pub fn check(&self, field: &str, s: &str) -> Result<(), Error> {
        let n = s.chars().count();
        let matches = self.regex.as_ref().is_none_or(|r| r.is_match(s));
        if (self.min..=self.max).contains(&n) && matches {
            Ok(())
        } else {
            Err(Error::validation(format!("{field}: {}", self.says)))
        }
    }
}

macro_rules! text {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $pattern:expr, $says:expr) => {
        $(#[$doc])*
        pub static $name: Text = Text {
            min: $min,
            max: $max,
            pattern: $pattern,
            says: $says,
            regex: LazyLock::new(|| {
                let p: Option<&str> = $pattern;
                p.map(|p| Regex::new(p).expect("a rule's pattern compiles"))
            }),
        };
    };
}

/// Page size of the lists (`limit`), up to what the read models return in one query.
pub const PAGE_LIMIT: Bounds = Bounds {
    min: 1,
    max: bourse_store::MAX_PAGE as u64,
};
/// Page size of the admin's user list.
pub const USER_PAGE_LIMIT: Bounds = Bounds { min: 1, max: 500 };
/// Levels per side of `GET /markets/{symbol}/book`.
pub const BOOK_DEPTH: Bounds = Bounds { min: 1, max: 1000 };
/// Candles per request.
pub const CANDLE_LIMIT: Bounds = Bounds { min: 1, max: 1000 };
/// Page size of the inbox and the price alerts.
pub const NOTIFICATION_PAGE_LIMIT: Bounds = Bounds { min: 1, max: 200 };
/// Cursors and ids: what the read models hold (signed 64-bit integers).
pub const CURSOR: Bounds = Bounds {
    min: 0,
    max: MAX_UNITS,
};
/// Basis-point settings of a market (fees, price band, slippage): at most 100 %.
pub const BPS: Bounds = Bounds {
    min: 0,
    max: 10_000,
};
/// Times in ms since the epoch, up to the end of year 9999.
pub const TIME_MS: Bounds = Bounds {
    min: 0,
    max: 253_402_300_799_999,
};

text!(
    /// Account names.
    USERNAME,
    3,
    32,
    Some("^[A-Za-z0-9_.-]{3,32}$"),
    "3 to 32 characters of A-Z, a-z, 0-9, _ . -"
);
text!(
    /// Passwords: any characters.
    PASSWORD,
    8,
    128,
    None,
    "8 to 128 characters"
);
text!(
    /// Withdrawal destinations: printable ASCII without spaces.
    ADDRESS,
    1,
    128,
    Some("^[\\x21-\\x7E]*$"),
    "1 to 128 printable ASCII characters without spaces"
);
text!(
    /// API key labels: no control characters (Unicode category Cc).
    API_KEY_LABEL,
    1,
    64,
    Some("^[^\\x00-\\x1F\\x7F-\\x9F]*$"),
    "1 to 64 characters, no control characters"
);
text!(
    /// Announcement titles: not only whitespace.
    ANNOUNCEMENT_TITLE,
    1,
    200,
    Some("\\S"),
    "1 to 200 characters, not only whitespace"
);
text!(
    /// Announcement messages: not only whitespace.
    ANNOUNCEMENT_MESSAGE,
    1,
    4000,
    Some("\\S"),
    "1 to 4000 characters, not only whitespace"
);

text!(
    /// A user's beneficial owner (surveillance groups accounts by it): the core's limit,
    /// no control characters.
    BENEFICIAL_OWNER,
    1,
    bourse_model::BENEFICIAL_OWNER_MAX,
    Some("^[^\\x00-\\x1F\\x7F-\\x9F]*$"),
    "1 to 64 characters, no control characters"
);
/// KYC levels ([`bourse_model::KYC_MAX_LEVEL`]).
pub const KYC_LEVEL: Bounds = Bounds {
    min: 0,
    max: bourse_model::KYC_MAX_LEVEL as u64,
};

text!(
    /// The `cursor` of `GET /withdrawals`: a withdrawal id as returned in `next_cursor`
    /// (18 digits at most: ids never come near 10^18, and every such number is a valid id).
    WITHDRAWAL_CURSOR,
    1,
    18,
    Some("^[0-9]*$"),
    "not a cursor this API returned (1 to 18 digits)"
);
text!(
    /// The `cursor` of `GET /deposits`: `<seq>_<index>` as returned in `next_cursor`.
    DEPOSIT_CURSOR,
    3,
    28,
    Some("^[0-9]{1,18}_[0-9]{1,9}$"),
    "not a cursor this API returned (`<seq>_<index>`, 1 to 18 and 1 to 9 digits)"
);

/// Entries of an API key's `allow_ips`: the characters of an IPv4 or IPv6 address with an
/// optional `/prefix` (39 characters of IPv6 and `/128` at most). Whether it parses is
/// [`ALLOW_IP_ENTRY`].
pub const ALLOW_IP: &str = "^[0-9A-Fa-f:.]{2,39}(/[0-9]{1,3})?$";

/// `status` of `GET /orders`, as the handler matches it.
pub const ORDER_STATUS: [&str; 3] = ["open", "closed", "all"];
/// `status` of `GET /admin/withdrawals`: the only list there is.
pub const PENDING_STATUS: [&str; 1] = ["pending"];

/// The syntax of a decimal string: digits, optionally a point and more digits (no sign,
/// exponent or spaces).
pub const DECIMAL: &str = "^[0-9]+(\\.[0-9]+)?$";
/// [`DECIMAL`] with a non-zero digit somewhere: what a price, size, amount or increment
/// must be (zero is refused by the grid check, `OFF_GRID` / `VALIDATION_ERROR`).
pub const POSITIVE_DECIMAL: &str = "^([0-9]*[1-9][0-9]*(\\.[0-9]+)?|[0-9]+\\.[0-9]*[1-9][0-9]*)$";

/// A rule between fields that JSON Schema cannot state: the validator answers
/// `VALIDATION_ERROR` with [`Relation::message`], and the document states [`Relation::says`]
/// on the operations that enforce it.
pub struct Relation {
    pub field: &'static str,
    pub says: &'static str,
}

impl Relation {
    /// `"field: says"`, the message of the refusal (and its prefix when detail follows).
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.says)
    }

    pub fn error(&self) -> Error {
        Error::validation(self.message())
    }

    /// The refusal with the detail of what broke it (`"field: detail"`).
    pub fn error_with(&self, detail: impl std::fmt::Display) -> Error {
        Error::validation(format!("{}: {detail}", self.field))
    }
}

/// `GET /markets/{symbol}/candles`.
pub const START_NOT_AFTER_END: Relation = Relation {
    field: "start",
    says: "must not be after end",
};
/// `POST /api-keys`: each entry must parse as an address or a CIDR block without host bits;
/// the schema states the characters and the length only.
pub const ALLOW_IP_ENTRY: Relation = Relation {
    field: "allow_ips",
    says: "each entry an IP address or a CIDR block without host bits",
};
/// `POST /api-keys`: a key with `admin` must have an IP allow-list.
pub const ADMIN_NEEDS_ALLOW_IPS: Relation = Relation {
    field: "permissions",
    says: "`admin` needs a non-empty allow_ips",
};
/// API keys one user may hold at a time ([`KEYS_PER_USER`]).
pub const MAX_API_KEYS: usize = 20;
/// Price alerts one user may have at a time ([`ALERTS_PER_USER`]).
pub const MAX_PRICE_ALERTS: usize = 100;
/// `POST /api-keys`: a state limit.
pub const KEYS_PER_USER: Relation = Relation {
    field: "api_keys",
    says: "at most 20 API keys per user; delete one first",
};
/// `POST /price-alerts`: a state limit.
pub const ALERTS_PER_USER: Relation = Relation {
    field: "price_alerts",
    says: "at most 100 price alerts per user",
};
/// `PATCH /admin/users/{username}`: the caller's own account.
pub const OWN_ROLE: Relation = Relation {
    field: "role",
    says: "an admin cannot change their own role",
};
/// `POST /admin/markets`.
pub const BASE_NOT_QUOTE: Relation = Relation {
    field: "quote",
    says: "base and quote must differ",
};

/// Caller-chosen ids (`client_order_id`, `client_withdrawal_id`): their rule lives with
/// the id types of the model ([`bourse_model::ClientOrderId`]); this is its pattern.
pub fn client_id_pattern() -> String {
    use bourse_model::ClientOrderId as C;
    format!("^{}{{1,{}}}$", C::CHARSET, C::MAX_LEN)
}

/// Asset and market symbols ([`bourse_model::Symbol`]), as a pattern.
pub fn symbol_pattern() -> String {
    use bourse_model::Symbol as S;
    format!("^{}{{1,{}}}$", S::CHARSET, S::MAX_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules_count_characters_and_match_the_pattern() {
        assert!(USERNAME.check("u", "abc").is_ok());
        assert!(USERNAME.check("u", "ab").is_err());
        assert!(USERNAME.check("u", &"a".repeat(33)).is_err());
        assert!(USERNAME.check("u", "a b").is_err());
        assert!(PASSWORD.check("p", &"é".repeat(8)).is_ok());
        assert!(ADDRESS.check("a", "").is_err());
        assert!(ADDRESS.check("a", "a b").is_err());
        assert!(ADDRESS.check("a", "bank:DE89~").is_ok());
        assert!(API_KEY_LABEL.check("l", "bot ü").is_ok());
        assert!(API_KEY_LABEL.check("l", "a\u{85}").is_err());
        assert!(ANNOUNCEMENT_TITLE.check("t", "  ").is_err());
        assert!(ANNOUNCEMENT_TITLE.check("t", &"é".repeat(200)).is_ok());
    }

    #[test]
    fn bounds_are_inclusive() {
        assert_eq!(BOOK_DEPTH.check("d", 1).unwrap(), 1);
        assert!(BOOK_DEPTH.check("d", 0).is_err());
        assert!(BOOK_DEPTH.check("d", 1001).is_err());
        assert_eq!(PAGE_LIMIT.check_or("l", None, 7).unwrap(), 7);
    }

    #[test]
    fn limits_are_stated_with_their_numbers() {
        assert!(KEYS_PER_USER.says.contains(&MAX_API_KEYS.to_string()));
        assert!(ALERTS_PER_USER.says.contains(&MAX_PRICE_ALERTS.to_string()));
    }

    #[test]
    fn positive_decimals_have_a_non_zero_digit() {
        let r = Regex::new(POSITIVE_DECIMAL).unwrap();
        for ok in ["1", "0.01", "10", "007.5", "0.10"] {
            assert!(r.is_match(ok), "{ok}");
        }
        for bad in ["0", "0.0", "00.000", ".5", "1.", "-1", "1e3", ""] {
            assert!(!r.is_match(bad), "{bad}");
        }
    }

    #[test]
    fn id_patterns_come_from_the_model() {
        assert_eq!(client_id_pattern(), "^[A-Za-z0-9_.:-]{1,36}$");
        assert_eq!(symbol_pattern(), "^[A-Z0-9-]{1,20}$");
    }
}
