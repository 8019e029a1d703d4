//! Binance stream names and the `/ws` channels each one is translated from.
//!
//! | Binance stream | from |
//! |---|---|
//! | `<symbol>@depth`, `@depth@100ms`, `@depth@1000ms` (diffs) | `book.<SYMBOL>` |
//! | `<symbol>@depth5`/`10`/`20` (+ `@100ms`/`@1000ms`): partial book | `book.<SYMBOL>` (top levels from the read views) |
//! | `<symbol>@trade`, `<symbol>@aggTrade` | `trades.<SYMBOL>` |
//! | `<symbol>@kline_<1m 5m 15m 1h 4h 1d>` | `candles.<SYMBOL>.<interval>` |
//! | `<symbol>@ticker`, `@miniTicker`, `@bookTicker` | `ticker.<SYMBOL>` |
//! | `!ticker@arr`, `!miniTicker@arr` | `ticker.*` of every market at subscription |
//!
//! The symbol is Binance's (`btcusd`, any case); names are kept as the client wrote them.

use crate::params::{binance_symbol, market};
use bourse_gateway::market_info::MarketInfo;
use bourse_store::Interval;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `depthUpdate` diffs.
    Diff,
    /// The top levels, whole.
    Partial(usize),
    Trade,
    AggTrade,
    Kline(Interval),
    Ticker {
        mini: bool,
    },
    BookTicker,
    /// `!ticker@arr`, `!miniTicker@arr`.
    AllTickers {
        mini: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Stream {
    pub name: String,
    /// `None` for the all-market streams.
    pub market: Option<MarketInfo>,
    pub kind: Kind,
}

impl Stream {
    /// The stream `name` names, or `None` (unknown stream or market).
    pub fn parse(name: &str, markets: &[MarketInfo]) -> Option<Stream> {
        let all = match name {
            "!ticker@arr" => Some(Kind::AllTickers { mini: false }),
            "!miniTicker@arr" => Some(Kind::AllTickers { mini: true }),
            _ => None,
        };
        if let Some(kind) = all {
            return Some(Stream {
                name: name.to_owned(),
                market: None,
                kind,
            });
        }
        let (symbol, rest) = name.split_once('@')?;
        let m = market(markets, symbol).ok()?.clone();
        let kind = match rest {
            "depth" | "depth@100ms" | "depth@1000ms" => Kind::Diff,
            "trade" => Kind::Trade,
            "aggTrade" => Kind::AggTrade,
            "ticker" => Kind::Ticker { mini: false },
            "miniTicker" => Kind::Ticker { mini: true },
            "bookTicker" => Kind::BookTicker,
            _ => {
                if let Some(iv) = rest.strip_prefix("kline_") {
                    Kind::Kline(iv.parse().ok()?)
                } else {
                    let levels = rest.strip_prefix("depth")?;
                    let levels = levels
                        .strip_suffix("@100ms")
                        .or_else(|| levels.strip_suffix("@1000ms"))
                        .unwrap_or(levels);
                    match levels {
                        "5" => Kind::Partial(5),
                        "10" => Kind::Partial(10),
                        "20" => Kind::Partial(20),
                        _ => return None,
                    }
                }
            }
        };
        Some(Stream {
            name: name.to_owned(),
            market: Some(m),
            kind,
        })
    }

    /// The `/ws` channels this stream is made from.
    pub fn channels(&self, markets: &[MarketInfo]) -> Vec<String> {
        let Some(m) = &self.market else {
            return markets
                .iter()
                .map(|m| format!("ticker.{}", m.symbol()))
                .collect();
        };
        let s = m.symbol();
        vec![match self.kind {
            Kind::Diff | Kind::Partial(_) => format!("book.{s}"),
            Kind::Trade | Kind::AggTrade => format!("trades.{s}"),
            Kind::Kline(iv) => format!("candles.{s}.{iv}"),
            Kind::Ticker { .. } | Kind::BookTicker | Kind::AllTickers { .. } => {
                format!("ticker.{s}")
            }
        }]
    }

    /// Binance's `s` of this stream's events.
    pub fn symbol(&self) -> String {
        self.market.as_ref().map(binance_symbol).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(Stream::parse("nope", &[]).is_none());
        assert!(
            Stream::parse("btcusd@trade", &[]).is_none(),
            "no such market"
        );
        let all = Stream::parse("!miniTicker@arr", &[]).unwrap();
        assert_eq!(all.kind, Kind::AllTickers { mini: true });
        assert!(all.channels(&[]).is_empty());
    }
}
