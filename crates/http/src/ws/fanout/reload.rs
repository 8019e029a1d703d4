//! (Re)loading the fan-out's mirrors from the core, and seeding candles and the ticker
//! from the read models (see the rules in the parent module).

use super::*;

impl FanOut {
    /// Reloads markets and assets from the core; with `books`, also every mirror, the
    /// candles and the last trade (and sends fresh book, ticker and candle snapshots to
    /// their subscribers).
    pub(super) async fn reload(&mut self, books: bool) {
        // What was published before the reload goes out before its snapshots.
        self.flush();
        let handle = self.seq.clone();
        let loaded = self
            .seq
            .query(move |core| Loaded {
                // Queries run between batches: this is the last applied one.
                seq: handle.status().committed_seq(),
                markets: MarketInfo::all(core)
                    .into_iter()
                    .map(|m| {
                        let mut mirror = Mirror {
                            sequence: m.sequence,
                            ..Mirror::default()
                        };
                        if books {
                            mirror.bids = core
                                .depth(m.id, Side::Buy, usize::MAX)
                                .into_iter()
                                .collect();
                            mirror.asks = core
                                .depth(m.id, Side::Sell, usize::MAX)
                                .into_iter()
                                .collect();
                        }
                        let last = m.last_price;
                        (m, mirror, last)
                    })
                    .collect(),
                assets: core
                    .assets()
                    .into_iter()
                    .map(|a| (a.id, a.symbol.to_string(), a.scale))
                    .collect(),
            })
            .await;
        let Ok(loaded) = loaded else {
            return; // the sequencer stopped: nothing more will come
        };
        for (id, symbol, scale) in loaded.assets {
            self.assets.insert(id, (symbol, scale));
        }
        for (info, mirror, last) in loaded.markets {
            let id = info.id;
            self.by_symbol.insert(info.symbol().to_owned(), id);
            match self.markets.get_mut(&id) {
                Some(m) if !books => m.info = info,
                Some(m) => {
                    m.info = info;
                    m.mirror = mirror;
                    m.snapshot_cache = None;
                }
                None => {
                    // Seen through its `MarketCreated` event: the book starts empty at
                    // sequence 0 and its changes follow in the stream (the query may
                    // already be ahead of this batch).
                    let (mirror, last) = if books {
                        (mirror, last)
                    } else {
                        (Mirror::default(), None)
                    };
                    self.markets.insert(
                        id,
                        Market {
                            info,
                            mirror,
                            ticker: Ticker {
                                last: last.map(|p| (p, Qty(0))),
                                ..Ticker::default()
                            },
                            ticker_sent: Ticker::default(),
                            candles: HashMap::new(),
                            live_from: 0,
                            snapshot_cache: None,
                        },
                    );
                }
            }
        }
        if books {
            let ids: Vec<MarketId> = self.markets.keys().copied().collect();
            for id in ids {
                self.seed_live(id, loaded.seq).await;
                self.refresh_ticker(id, false);
                self.send_snapshots(Channel::Book(id));
                self.send_snapshots(Channel::Ticker(id));
                for interval in Interval::ALL {
                    self.send_snapshots(Channel::Candles(id, interval));
                }
            }
        }
        self.flush();
    }

    /// Seeds a market's candles and the ticker's last trade from the read models, which
    /// keep them across restarts (the core does not), once they reflect at least
    /// journal sequence `at` (waiting at most [`SEED_WAIT`]). Trades of commands up to
    /// the sequence read are skipped from then on: they are in the seed.
    pub(super) async fn seed_live(&mut self, id: MarketId, at: u64) {
        let deadline = Instant::now() + SEED_WAIT;
        let live = loop {
            match self.store.live_market(id).await {
                Ok(live) if live.seq >= at || Instant::now() >= deadline => break live,
                Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                Err(e) => {
                    tracing::error!(error = %e, "ws fan-out: cannot read candles; keeping its own");
                    return;
                }
            }
        };
        if live.seq < at {
            tracing::warn!(
                projected = live.seq,
                core = at,
                "ws fan-out: read models behind; candles may miss trades until they roll over"
            );
        }
        let Some(m) = self.markets.get_mut(&id) else {
            return;
        };
        m.candles = live.candles.iter().copied().collect();
        if let Some(last) = live.last_trade {
            m.ticker.last = Some(last);
        }
        m.live_from = live.seq;
    }
}
