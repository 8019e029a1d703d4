//! The parameters of the Binance-compatible API, declared once: the handlers read every
//! parameter through these declarations ([`crate::params::Params::int`], `limit`,
//! `choice`, `text`), and `/binance/openapi.json` ([`crate::openapi`]) writes the same
//! bounds, defaults, enums and patterns into the document, so the two cannot drift.
//!
//! Rules (Binance's, where Bourse implements them):
//! - integers are decimal digits only (-1100 otherwise) within their [`Bounds`]: ids and
//!   cursors up to 2^63 − 1 (Binance's longs), times in ms up to the end of year 9999,
//!   `recvWindow` at most 60000 (-1131);
//! - `limit` is at least 1 and defaults per route; above the route's maximum it is
//!   clamped to it, as Binance does (not refused);
//! - enums are exact, upper case as Binance spells them; a value outside is refused with
//!   the parameter's code (-1116 order type, -1115 time in force, -1120 interval, -1100
//!   otherwise);
//! - `symbol` is Binance's `^[A-Z0-9_.-]{1,20}$` (-1100), then must name a market
//!   (-1121); `symbols` is a JSON array of such names, without spaces;
//! - client order ids follow Bourse's id rule ([`bourse_model::ClientOrderId`]);
//! - decimals are [`rules::POSITIVE_DECIMAL`]; the market's grid and scale are checked by
//!   the market (-1013 / -2010), which no schema can state;
//! - a declared parameter sent empty is refused (-1100; a required one is -1102 when
//!   absent); unknown parameters are ignored.

use std::sync::LazyLock;

use bourse_gateway::rules::{self, Bounds};
use regex::Regex;

use crate::error::BinanceError;

/// What one parameter must be.
pub enum Rule {
    /// `limit`: 1 up, `default` when absent, clamped to `max`.
    Limit { default: u32, max: u32 },
    /// An integer within the bounds.
    Int(Bounds),
    /// One of these values.
    Enum(&'static [&'static str]),
    /// A string matching the pattern (anchored).
    Pattern(&'static str, &'static LazyLock<Regex>),
    /// A non-empty string, checked by the handler against state.
    Any,
    /// A client order id ([`bourse_model::ClientOrderId`]).
    ClientId,
    /// A positive decimal string ([`rules::POSITIVE_DECIMAL`]), checked against the
    /// market's grid by the market.
    Decimal,
}

/// One parameter: its name, rule, description, and the Binance error a value outside the
/// rule gets (`None`: -1100 naming the parameter and its legal range).
pub struct Param {
    pub name: &'static str,
    pub rule: Rule,
    pub says: &'static str,
    pub refusal: Option<(i32, &'static str)>,
}

impl Param {
    /// The error for a value outside the rule.
    pub fn refused(&self) -> BinanceError {
        match self.refusal {
            Some((code, msg)) => BinanceError::new(code, msg),
            None => BinanceError::new(
                -1100,
                format!(
                    "Illegal characters found in parameter '{}'; legal range is '{}'.",
                    self.name,
                    self.legal_range()
                ),
            ),
        }
    }

    fn legal_range(&self) -> String {
        match &self.rule {
            Rule::Limit { .. } => format!("1..{}", ID.max),
            Rule::Int(b) => format!("{}..{}", b.min, b.max),
            Rule::Enum(values) => values.join(", "),
            Rule::Pattern(p, _) => (*p).to_owned(),
            Rule::ClientId => rules::client_id_pattern(),
            Rule::Decimal => rules::POSITIVE_DECIMAL.to_owned(),
            Rule::Any => "a non-empty string".to_owned(),
        }
    }
}

macro_rules! pattern {
    ($re:ident, $p:expr) => {
        static $re: LazyLock<Regex> =
            LazyLock::new(|| Regex::new($p).expect("a rule's pattern compiles"));
    };
}

/// Binance's symbol rule.
pub const SYMBOL_PATTERN: &str = "^[A-Z0-9_.-]{1,20}$";
pattern!(SYMBOL_RE, SYMBOL_PATTERN);
/// `symbols`: `["BTCUSD","ETHUSD"]`.
pub const SYMBOLS_PATTERN: &str = "^\\[\"[A-Z0-9_.-]{1,20}\"(,\"[A-Z0-9_.-]{1,20}\"){0,99}\\]$";
pattern!(SYMBOLS_RE, SYMBOLS_PATTERN);

pattern!(DECIMAL_RE_INNER, rules::POSITIVE_DECIMAL);
pub(crate) static DECIMAL_RE: &LazyLock<Regex> = &DECIMAL_RE_INNER;

/// Ids and cursors: what the read models hold (signed 64-bit).
pub const ID: Bounds = rules::CURSOR;
/// Times in ms since the epoch.
pub const TIME: Bounds = rules::TIME_MS;
/// Binance's largest `recvWindow`.
pub const RECV_WINDOW_MAX: u64 = 60_000;

pub static SYMBOL: Param = Param {
    name: "symbol",
    rule: Rule::Pattern(SYMBOL_PATTERN, &SYMBOL_RE),
    says: "A market as Binance spells it (Bourse's `BTC-USD` is `BTCUSD`): one of the \
           markets the server has when it serves this document (the `enum`); another name \
           of the pattern is -1121.",
    refusal: None,
};
pub static SYMBOLS: Param = Param {
    name: "symbols",
    rule: Rule::Pattern(SYMBOLS_PATTERN, &SYMBOLS_RE),
    says: "A JSON array of symbols, without spaces: `[\"BTCUSD\",\"ETHUSD\"]`. \
           Ignored when `symbol` is given; all markets without either.",
    refusal: None,
};

macro_rules! limit {
    ($name:ident, $default:expr, $max:expr, $says:expr) => {
        pub static $name: Param = Param {
            name: "limit",
            rule: Rule::Limit {
                default: $default,
                max: $max,
            },
            says: $says,
            refusal: None,
        };
    };
}
limit!(
    DEPTH_LIMIT,
    100,
    5000,
    "Levels per side. Default 100, at most 5000: a larger value is clamped to 5000 (as Binance does)."
);
limit!(
    TRADES_LIMIT,
    500,
    1000,
    "Rows. Default 500, at most 1000: a larger value is clamped to 1000 (as Binance does)."
);

macro_rules! int {
    ($name:ident, $field:expr, $bounds:expr, $says:expr) => {
        pub static $name: Param = Param {
            name: $field,
            rule: Rule::Int($bounds),
            says: $says,
            refusal: None,
        };
    };
}
int!(
    FROM_ID,
    "fromId",
    ID,
    "The first trade id to return (oldest first from it)."
);
int!(
    START_TIME,
    "startTime",
    TIME,
    "ms since the epoch, inclusive."
);
int!(END_TIME, "endTime", TIME, "ms since the epoch, inclusive.");
int!(
    ORDER_ID,
    "orderId",
    ID,
    "Bourse's order id (`/api/v1/orders/{id}`)."
);
int!(
    ALL_ORDERS_FROM,
    "orderId",
    ID,
    "Orders with this id or later."
);
int!(
    TRADES_OF_ORDER,
    "orderId",
    ID,
    "Only the fills of this order."
);
int!(
    CANCEL_ORDER_ID,
    "cancelOrderId",
    ID,
    "The order to cancel (or `cancelOrigClientOrderId`)."
);
int!(
    TIMESTAMP,
    "timestamp",
    TIME,
    "The request's time, ms since the epoch; outside the server's signature window \
     (`[auth] signature_window_ms`, 5 s by default, either side of the server's clock): -1021."
);
pub static RECV_WINDOW: Param = Param {
    name: "recvWindow",
    rule: Rule::Int(Bounds {
        min: 0,
        max: RECV_WINDOW_MAX,
    }),
    says: "At most 60000 (-1131 above). Accepted for compatibility: the server's own \
           signature window applies.",
    refusal: Some((-1131, "recvWindow must be less than 60000")),
};

pub static SIDE: Param = Param {
    name: "side",
    rule: Rule::Enum(&["BUY", "SELL"]),
    says: "",
    refusal: None,
};
pub static ORDER_TYPE: Param = Param {
    name: "type",
    rule: Rule::Enum(&[
        "LIMIT",
        "LIMIT_MAKER",
        "MARKET",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
    ]),
    says: "LIMIT, LIMIT_MAKER and STOP_LOSS_LIMIT need `price`; LIMIT and STOP_LOSS_LIMIT \
           `timeInForce`; STOP_LOSS and STOP_LOSS_LIMIT `stopPrice` (-1102 without). \
           TAKE_PROFIT and TAKE_PROFIT_LIMIT are Binance types that no Bourse market offers \
           (not in `exchangeInfo`): they are refused with -2010, as Binance refuses a type \
           the symbol lacks.",
    refusal: Some((-1116, "Invalid orderType.")),
};
pub static TIME_IN_FORCE: Param = Param {
    name: "timeInForce",
    rule: Rule::Enum(&["GTC", "IOC", "FOK"]),
    says: "Required for LIMIT and STOP_LOSS_LIMIT; a market order runs as IOC.",
    refusal: Some((-1115, "Invalid timeInForce.")),
};
pub static RESP_TYPE: Param = Param {
    name: "newOrderRespType",
    rule: Rule::Enum(&["ACK", "RESULT", "FULL"]),
    says: "The answer's detail; FULL (with the fills) by default.",
    refusal: None,
};
pub static STP_MODE: Param = Param {
    name: "selfTradePreventionMode",
    rule: Rule::Enum(&["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]),
    says: "EXPIRE_TAKER by default; NONE is taken as EXPIRE_TAKER.",
    refusal: None,
};
pub static INTERVAL: Param = Param {
    name: "interval",
    rule: Rule::Enum(&["1m", "5m", "15m", "1h", "4h", "1d"]),
    says: "The intervals Bourse keeps candles for; Binance's others are refused (-1120).",
    refusal: Some((-1120, "Invalid interval.")),
};
pub static TICKER_TYPE: Param = Param {
    name: "type",
    rule: Rule::Enum(&["FULL", "MINI"]),
    says: "FULL by default; MINI leaves out the book and last-quantity fields.",
    refusal: None,
};
pub static CANCEL_REPLACE_MODE: Param = Param {
    name: "cancelReplaceMode",
    rule: Rule::Enum(&["STOP_ON_FAILURE"]),
    says: "Only STOP_ON_FAILURE: a failed cancel places nothing. Binance's ALLOW_FAILURE \
           is refused (-1100).",
    refusal: None,
};
pub static COMPUTE_COMMISSION: Param = Param {
    name: "computeCommissionRates",
    rule: Rule::Enum(&["true", "false"]),
    says: "`true`: answer the commission rates the order would pay.",
    refusal: None,
};

macro_rules! client_id {
    ($name:ident, $field:expr, $says:expr) => {
        pub static $name: Param = Param {
            name: $field,
            rule: Rule::ClientId,
            says: $says,
            refusal: None,
        };
    };
}
client_id!(
    NEW_CLIENT_ORDER_ID,
    "newClientOrderId",
    "Your id for the order (idempotency key): 1–36 characters of `[A-Za-z0-9_.:-]` \
     (Binance also allows `/`, Bourse does not)."
);
client_id!(
    ORIG_CLIENT_ORDER_ID,
    "origClientOrderId",
    "The order's `newClientOrderId` (or `orderId`)."
);
client_id!(
    CANCEL_ORIG_CLIENT_ORDER_ID,
    "cancelOrigClientOrderId",
    "The `newClientOrderId` of the order to cancel (or `cancelOrderId`)."
);

macro_rules! decimal {
    ($name:ident, $field:expr, $says:expr) => {
        pub static $name: Param = Param {
            name: $field,
            rule: Rule::Decimal,
            says: $says,
            refusal: None,
        };
    };
}
decimal!(
    PRICE,
    "price",
    "On the market's tick grid (-1013 off it). Only for the limit types: sent with \
     MARKET or STOP_LOSS it is -1106."
);
decimal!(
    QUANTITY,
    "quantity",
    "Base quantity on the market's lot grid; required unless a MARKET order gives \
     `quoteOrderQty`."
);
decimal!(
    QUOTE_ORDER_QTY,
    "quoteOrderQty",
    "MARKET only (-1106 otherwise): spend (buy) or receive (sell) this much quote."
);
decimal!(
    STOP_PRICE,
    "stopPrice",
    "The trigger of STOP_LOSS and STOP_LOSS_LIMIT (-1106 with the other types)."
);

/// `listenKey`: what `POST /api/v3/userDataStream` answered.
pub static LISTEN_KEY: Param = Param {
    name: "listenKey",
    rule: Rule::Any,
    says: "What `POST /api/v3/userDataStream` answered; unknown or expired: -1125.",
    refusal: None,
};

/// What a new order takes (`order`, `order/test`, `order/cancelReplace`): each is checked
/// against its rule before the rules between them, as Binance does.
pub static ORDER_PARAMS: [&Param; 10] = [
    &SIDE,
    &ORDER_TYPE,
    &TIME_IN_FORCE,
    &QUANTITY,
    &QUOTE_ORDER_QTY,
    &PRICE,
    &STOP_PRICE,
    &NEW_CLIENT_ORDER_ID,
    &STP_MODE,
    &RESP_TYPE,
];
