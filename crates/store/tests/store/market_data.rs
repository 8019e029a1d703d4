//! Candles and the 24-hour ticker, from the projected trades.

use crate::both;
use crate::common::fixtures::*;
use crate::T0;
use bourse_model::*;
use bourse_store::*;

both!(
    candles_aggregate_across_intervals_and_batches,
    ticker_covers_the_last_24_hours,
);

/// Reference candles: group trades by bucket the slow way.
fn reference_candles(trades: &[(u64, u64, u64)], iv: Interval) -> Vec<Candle> {
    let mut out: Vec<Candle> = Vec::new();
    for &(ts, price, qty) in trades {
        let start = ts - ts % iv.millis();
        match out.last_mut() {
            Some(c) if c.start.0 == start => {
                c.high = c.high.max(Price(price));
                c.low = c.low.min(Price(price));
                c.close = Price(price);
                c.volume.0 += qty;
                c.quote_volume.0 += price * qty;
                c.trade_count += 1;
            }
            _ => out.push(Candle {
                start: Timestamp(start),
                open: Price(price),
                high: Price(price),
                low: Price(price),
                close: Price(price),
                volume: Qty(qty),
                quote_volume: Amount(price * qty),
                trade_count: 1,
            }),
        }
    }
    out
}

async fn candles_aggregate_across_intervals_and_batches(s: Store) {
    let mut j = Journal::setup(2, T0);
    let mut rng = Rng::new(42);
    let mut ts = 1_699_999_000_000; // not aligned to any bucket
    let mut trades = Vec::new();
    for n in 1..=400u64 {
        ts += rng.below(if n % 50 == 0 { 20_000_000 } else { 200_000 });
        let price = 900 + rng.below(200);
        let qty = 1 + rng.below(9);
        let (maker, taker) = (2 * n - 1, 2 * n);
        j.push(
            ts,
            vec![accepted(info(
                maker,
                1,
                BTC_USD,
                Side::Sell,
                price,
                qty,
                ts,
            ))],
        );
        j.push(
            ts,
            vec![
                accepted(info(taker, 2, BTC_USD, Side::Buy, price, qty, ts)),
                trade(n, BTC_USD, price, qty, Side::Buy, (maker, 1), (taker, 2)),
            ],
        );
        trades.push((ts, price, qty));
    }
    // Uneven batches, so buckets are merged both in memory and with stored candles.
    let mut at = 0;
    let mut size = 1;
    while at < j.cmds.len() {
        let end = (at + size).min(j.cmds.len());
        s.project(&j.cmds[at..end]).await.unwrap();
        at = end;
        size = size * 3 % 97 + 1;
    }
    for iv in Interval::ALL {
        let expected = reference_candles(&trades, iv);
        let mut got = Vec::new();
        let mut from = Timestamp(0);
        loop {
            let page = s
                .candles(BTC_USD, iv, from, Timestamp(ts), 100)
                .await
                .unwrap();
            let done = page.len() < 100;
            if let Some(last) = page.last() {
                from = Timestamp(last.start.0 + 1);
            }
            got.extend(page);
            if done {
                break;
            }
        }
        assert_eq!(got, expected, "{iv}");
        // A range in the middle is exact at both ends.
        if expected.len() > 4 {
            let (a, b) = (expected[1].start, expected[3].start);
            assert_eq!(
                s.candles(BTC_USD, iv, a, b, 1000).await.unwrap(),
                expected[1..=3].to_vec(),
                "{iv}"
            );
        }
    }
    let total: u64 = trades.iter().map(|t| t.2).sum();
    let days = s
        .candles(BTC_USD, Interval::D1, Timestamp(0), Timestamp(ts), 1000)
        .await
        .unwrap();
    assert_eq!(days.iter().map(|c| c.volume.0).sum::<u64>(), total);
    assert!(s
        .candles(ETH_USD, Interval::M1, Timestamp(0), Timestamp(ts), 1000)
        .await
        .unwrap()
        .is_empty());
}

async fn ticker_covers_the_last_24_hours(s: Store) {
    const H: u64 = 3_600_000;
    let mut j = Journal::setup(2, T0);
    // (hours after T0, price, qty)
    let points = [
        (0, 500, 1),
        (10, 300, 2),
        (26, 400, 3),
        (30, 700, 4),
        (49, 600, 5),
    ];
    for (n, &(h, price, qty)) in points.iter().enumerate() {
        let n = n as u64 + 1;
        let ts = T0 + h * H;
        j.push(
            ts,
            vec![accepted(info(
                2 * n - 1,
                1,
                BTC_USD,
                Side::Sell,
                price,
                qty,
                ts,
            ))],
        );
        j.push(
            ts,
            vec![
                accepted(info(2 * n, 2, BTC_USD, Side::Buy, price, qty, ts)),
                trade(
                    n,
                    BTC_USD,
                    price,
                    qty,
                    Side::Buy,
                    (2 * n - 1, 1),
                    (2 * n, 2),
                ),
            ],
        );
    }
    s.project(&j.cmds).await.unwrap();
    // Trades after `now` are not seen, not even as the last price.
    let t = s.ticker_24h(BTC_USD, Timestamp(T0 + 31 * H)).await.unwrap();
    assert_eq!(t.last_price, Some(Price(700)));
    let w = t.window.unwrap();
    assert_eq!(
        (w.open, w.high, w.low, w.close),
        (Price(300), Price(700), Price(300), Price(700))
    );
    assert_eq!(
        (w.volume, w.quote_volume, w.trade_count),
        (Qty(9), Amount(300 * 2 + 400 * 3 + 700 * 4), 3)
    );
    // The window is exact to the minute: 24 h after the 10 h trade it is still in, two
    // minutes later it is out.
    let w = s
        .ticker_24h(BTC_USD, Timestamp(T0 + 34 * H))
        .await
        .unwrap()
        .window
        .unwrap();
    assert_eq!((w.open, w.trade_count), (Price(300), 3));
    let w = s
        .ticker_24h(BTC_USD, Timestamp(T0 + 34 * H + 120_000))
        .await
        .unwrap()
        .window
        .unwrap();
    assert_eq!(
        (w.open, w.high, w.low, w.close),
        (Price(400), Price(700), Price(400), Price(700))
    );
    assert_eq!(
        (w.volume, w.quote_volume, w.trade_count),
        (Qty(7), Amount(400 * 3 + 700 * 4), 2)
    );
    // 60 h: only the trade at 49 h; 80 h: none in the window, last price still known.
    let w = s
        .ticker_24h(BTC_USD, Timestamp(T0 + 60 * H))
        .await
        .unwrap()
        .window
        .unwrap();
    assert_eq!(
        (w.open, w.close, w.trade_count),
        (Price(600), Price(600), 1)
    );
    let t = s.ticker_24h(BTC_USD, Timestamp(T0 + 80 * H)).await.unwrap();
    assert_eq!((t.window, t.last_price), (None, Some(Price(600))));
    let t = s.ticker_24h(ETH_USD, Timestamp(T0 + 80 * H)).await.unwrap();
    assert_eq!((t.window, t.last_price), (None, None));
}
