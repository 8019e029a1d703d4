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
    pub(crate) fn first(start: Timestamp, price: Price, qty: Qty, notional: Amount) -> Candle {
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

    /// Adds a later trade; `None` on overflow.
    pub(crate) fn add(&mut self, price: Price, qty: Qty, notional: Amount) -> Option<()> {
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.close = price;
        self.volume = Qty(self.volume.0.checked_add(qty.0)?);
        self.quote_volume = self.quote_volume.checked_add(notional)?;
        self.trade_count = self.trade_count.checked_add(1)?;
        Some(())
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
}
