//! Candle intervals and aggregation. Buckets are aligned to the Unix epoch (UTC): a trade at
//! time `t` belongs to the bucket starting at `t - t % interval`. A candle's volume is in
//! base lots, its quote volume in quote minor units (Σ trade notional), all exact.

use bourse_model::{Amount, Price, Qty, Timestamp};
use std::fmt;
use std::str::FromStr;

/// A candle width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Interval {
    M1,
    M5,
    M15,
    H1,
    H4,
    D1,
}

impl Interval {
    pub const ALL: [Interval; 6] = [
        Interval::M1,
        Interval::M5,
        Interval::M15,
        Interval::H1,
        Interval::H4,
        Interval::D1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::M1 => "1m",
            Interval::M5 => "5m",
            Interval::M15 => "15m",
            Interval::H1 => "1h",
            Interval::H4 => "4h",
            Interval::D1 => "1d",
        }
    }

    pub fn millis(self) -> u64 {
        const MIN: u64 = 60_000;
        match self {
            Interval::M1 => MIN,
            Interval::M5 => 5 * MIN,
            Interval::M15 => 15 * MIN,
            Interval::H1 => 60 * MIN,
            Interval::H4 => 240 * MIN,
            Interval::D1 => 1440 * MIN,
        }
    }

    /// Start of the bucket holding `ts`.
    pub fn bucket(self, ts: Timestamp) -> Timestamp {
        Timestamp(ts.0 - ts.0 % self.millis())
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of `1m 5m 15m 1h 4h 1d`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown candle interval (expected 1m, 5m, 15m, 1h, 4h or 1d)")]
pub struct UnknownInterval;

impl FromStr for Interval {
    type Err = UnknownInterval;
    fn from_str(s: &str) -> Result<Self, UnknownInterval> {
        Interval::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or(UnknownInterval)
    }
}

/// One OHLCV bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candle {
    /// Bucket start, ms since the epoch.
    pub start: Timestamp,
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    /// Base volume in lots.
    pub volume: Qty,
    /// Quote volume in quote minor units.
    pub quote_volume: Amount,
    pub trade_count: u64,
}

impl Candle {
    fn first(start: Timestamp, price: Price, qty: Qty, notional: Amount) -> Candle {
        Candle {
            start,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: qty,
            quote_volume: notional,
            trade_count: 1,
        }
    }

    /// The one candle aggregation (the projector's rows and the WebSocket's live candles):
    /// the `interval` candle after a trade at `ts`, that is `prev` extended when the trade
    /// falls in its bucket, else a new candle; `None` when a volume would overflow.
    pub fn after_trade(
        prev: Option<&Candle>,
        interval: Interval,
        ts: Timestamp,
        price: Price,
        qty: Qty,
        notional: Amount,
    ) -> Option<Candle> {
        let start = interval.bucket(ts);
        let Some(prev) = prev.filter(|c| c.start == start) else {
            return Some(Candle::first(start, price, qty, notional));
        };
        Some(Candle {
            start,
            open: prev.open,
            high: prev.high.max(price),
            low: prev.low.min(price),
            close: price,
            volume: Qty(prev.volume.0.checked_add(qty.0)?),
            quote_volume: prev.quote_volume.checked_add(notional)?,
            trade_count: prev.trade_count.checked_add(1)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_align_to_the_epoch() {
        let t = Timestamp(1_700_000_123_456);
        assert_eq!(Interval::M1.bucket(t), Timestamp(1_700_000_100_000));
        assert_eq!(Interval::D1.bucket(t), Timestamp(1_699_920_000_000));
        assert_eq!(
            Interval::H4.bucket(Timestamp(4 * 3_600_000)),
            Timestamp(4 * 3_600_000)
        );
        assert_eq!(
            Interval::H4.bucket(Timestamp(4 * 3_600_000 - 1)),
            Timestamp(0)
        );
    }

    #[test]
    fn interval_names_round_trip() {
        for i in Interval::ALL {
            assert_eq!(i.as_str().parse::<Interval>(), Ok(i));
        }
        assert_eq!("2m".parse::<Interval>(), Err(UnknownInterval));
    }

    #[test]
    fn candles_roll_over_and_accumulate() {
        let mut c = None;
        for (ts, price, qty) in [
            (60_000, 10, 1),
            (60_001, 10, 1),
            (60_002, 12, 2),
            (60_003, 9, 1),
        ] {
            let n = Amount(price * qty);
            c = Candle::after_trade(
                c.as_ref(),
                Interval::M1,
                Timestamp(ts),
                Price(price),
                Qty(qty),
                n,
            );
        }
        let k = c.unwrap();
        assert_eq!(
            (
                k.open,
                k.high,
                k.low,
                k.close,
                k.volume,
                k.quote_volume,
                k.trade_count
            ),
            (
                Price(10),
                Price(12),
                Price(9),
                Price(9),
                Qty(5),
                Amount(53),
                4
            )
        );
        let next = Candle::after_trade(
            Some(&k),
            Interval::M1,
            Timestamp(120_000),
            Price(11),
            Qty(3),
            Amount(33),
        )
        .unwrap();
        assert_eq!(
            (next.start, next.open, next.volume, next.trade_count),
            (Timestamp(120_000), Price(11), Qty(3), 1)
        );
        let full = Candle {
            volume: Qty(u64::MAX),
            ..k
        };
        assert_eq!(
            Candle::after_trade(
                Some(&full),
                Interval::M1,
                Timestamp(60_004),
                Price(9),
                Qty(1),
                Amount(9)
            ),
            None
        );
    }
}
