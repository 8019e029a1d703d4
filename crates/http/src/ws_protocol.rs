//! Client requests, channel names and the server's control frames (acks, errors).

use bourse_model::{MarketId, UserId};
use bourse_store::Interval;
use serde::{Deserialize, Serialize};

/// A client request. Unknown fields are refused like in the HTTP API.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Request {
    Subscribe {
        channels: Vec<String>,
    },
    Unsubscribe {
        channels: Vec<String>,
    },
    Auth {
        token: Option<String>,
        key: Option<String>,
        timestamp: Option<u64>,
        signature: Option<String>,
    },
    Ping,
}

/// Known ops, for telling "unknown op" from "bad fields".
const OPS: [&str; 4] = ["subscribe", "unsubscribe", "auth", "ping"];

/// Why a text frame was not a usable request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BadRequest {
    Json(String),
    UnknownOp(String),
    Invalid(String),
}

pub(crate) fn parse(text: &str) -> Result<Request, BadRequest> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| BadRequest::Json(e.to_string()))?;
    let op = value.get("op").and_then(|v| v.as_str()).map(str::to_owned);
    match op {
        None => return Err(BadRequest::UnknownOp("missing \"op\"".into())),
        Some(op) if !OPS.contains(&op.as_str()) => {
            return Err(BadRequest::UnknownOp(format!("unknown op {op:?}")))
        }
        Some(_) => {}
    }
    serde_json::from_value(value).map_err(|e| BadRequest::Invalid(e.to_string()))
}

/// A subscription target once resolved (market symbols → ids, private → the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Book(MarketId),
    Trades(MarketId),
    Ticker(MarketId),
    Candles(MarketId, Interval),
    Orders(UserId),
    Fills(UserId),
    Balances(UserId),
    Notifications(UserId),
}

impl Channel {
    /// Private channels carry one user's data.
    pub fn is_private(&self) -> bool {
        self.private_name().is_some()
    }

    /// The name a client subscribes a private channel by (each has exactly one).
    pub(crate) fn private_name(&self) -> Option<&'static str> {
        match self {
            Channel::Orders(_) => Some("orders"),
            Channel::Fills(_) => Some("fills"),
            Channel::Balances(_) => Some("balances"),
            Channel::Notifications(_) => Some("notifications"),
            Channel::Book(_) | Channel::Trades(_) | Channel::Ticker(_) | Channel::Candles(..) => {
                None
            }
        }
    }
}

/// A channel name as the client wrote it, before the market is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChannelName {
    Book(String),
    Trades(String),
    Ticker(String),
    Candles(String, Interval),
    Orders,
    Fills,
    Balances,
    Notifications,
}

impl ChannelName {
    pub fn parse(name: &str) -> Option<ChannelName> {
        Some(match name {
            "orders" => ChannelName::Orders,
            "fills" => ChannelName::Fills,
            "balances" => ChannelName::Balances,
            "notifications" => ChannelName::Notifications,
            _ => {
                let (kind, rest) = name.split_once('.')?;
                match kind {
                    "book" => ChannelName::Book(rest.to_owned()),
                    "trades" => ChannelName::Trades(rest.to_owned()),
                    "ticker" => ChannelName::Ticker(rest.to_owned()),
                    "candles" => {
                        let (symbol, interval) = rest.rsplit_once('.')?;
                        ChannelName::Candles(symbol.to_owned(), interval.parse().ok()?)
                    }
                    _ => return None,
                }
            }
        })
    }

    pub fn is_private(&self) -> bool {
        matches!(
            self,
            ChannelName::Orders
                | ChannelName::Fills
                | ChannelName::Balances
                | ChannelName::Notifications
        )
    }
}

#[derive(Serialize)]
struct ErrorFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
}

pub(crate) fn error_frame(code: &str, message: &str, channel: Option<&str>) -> String {
    serde_json::to_string(&ErrorFrame {
        kind: "error",
        code,
        message,
        channel,
    })
    .unwrap_or_default()
}

pub(crate) fn ack(kind: &str, channels: &[String]) -> String {
    serde_json::json!({"type": kind, "channels": channels}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names() {
        assert_eq!(
            ChannelName::parse("book.BTC-USD"),
            Some(ChannelName::Book("BTC-USD".into()))
        );
        assert_eq!(
            ChannelName::parse("candles.BTC-USD.15m"),
            Some(ChannelName::Candles("BTC-USD".into(), Interval::M15))
        );
        assert_eq!(ChannelName::parse("candles.BTC-USD.2m"), None);
        assert_eq!(ChannelName::parse("candles.BTC-USD"), None);
        assert_eq!(ChannelName::parse("depth.BTC-USD"), None);
        assert_eq!(ChannelName::parse("book"), None);
        assert!(ChannelName::parse("fills").unwrap().is_private());
        assert!(!ChannelName::parse("trades.X").unwrap().is_private());
        // A private channel's resolved form names the same subscription.
        for name in ["orders", "fills", "balances", "notifications"] {
            let ch = match ChannelName::parse(name).unwrap() {
                ChannelName::Orders => Channel::Orders(UserId(1)),
                ChannelName::Fills => Channel::Fills(UserId(1)),
                ChannelName::Balances => Channel::Balances(UserId(1)),
                ChannelName::Notifications => Channel::Notifications(UserId(1)),
                other => panic!("{other:?}"),
            };
            assert_eq!(ch.private_name(), Some(name));
        }
        assert!(!Channel::Trades(MarketId(1)).is_private());
    }

    #[test]
    fn requests() {
        assert!(matches!(
            parse(r#"{"op":"subscribe","channels":["book.A"]}"#),
            Ok(Request::Subscribe { .. })
        ));
        assert!(matches!(parse("{nope"), Err(BadRequest::Json(_))));
        assert!(matches!(
            parse(r#"{"op":"dance"}"#),
            Err(BadRequest::UnknownOp(_))
        ));
        assert!(matches!(
            parse(r#"{"channels":[]}"#),
            Err(BadRequest::UnknownOp(_))
        ));
        assert!(matches!(
            parse(r#"{"op":"subscribe","channels":["a"],"x":1}"#),
            Err(BadRequest::Invalid(_))
        ));
        assert!(matches!(parse(r#"{"op":"ping"}"#), Ok(Request::Ping)));
    }
}
