//! Assets and markets, written as their events come; each market's quote asset (the fee
//! asset of its fills), cached for the batch.

use super::{expect_one, i, s, Pending};
use crate::db::{Arg, Tx};
use crate::error::{Result, StoreError};
use crate::rows::{name, RawQuote};
use bourse_model::{AssetId, Event, MarketId, MarketStatus};

impl Pending {
    /// `AssetCreated`, `MarketCreated`, `MarketStatusChanged`.
    pub(super) async fn project_market(
        &mut self,
        tx: &mut Tx,
        t: Arg<'static>,
        event: &Event,
    ) -> Result<()> {
        match event {
            Event::AssetCreated {
                asset,
                symbol,
                scale,
            } => {
                tx.exec(
                    "INSERT INTO assets (id, symbol, scale, created_at) VALUES ($1, $2, $3, $4)",
                    &[
                        i(u64::from(asset.0))?,
                        s(symbol.as_str()),
                        i(u64::from(*scale))?,
                        t,
                    ],
                )
                .await?;
            }
            Event::MarketCreated { market, spec } => {
                let json = serde_json::to_string(spec)
                    .map_err(|_| StoreError::Inconsistent("market spec".into()))?;
                tx.exec(
                    "INSERT INTO markets (id, symbol, base, quote, status, spec, created_at, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                    &[
                        i(u64::from(market.0))?,
                        s(spec.symbol.as_str()),
                        i(u64::from(spec.base.0))?,
                        i(u64::from(spec.quote.0))?,
                        s(name(&MarketStatus::Open)),
                        s(json),
                        t,
                    ],
                )
                .await?;
                self.quotes.insert(*market, spec.quote);
            }
            Event::MarketStatusChanged { market, status } => {
                let n = tx
                    .exec(
                        "UPDATE markets SET status = $2, updated_at = $3 WHERE id = $1",
                        &[i(u64::from(market.0))?, s(name(status)), t],
                    )
                    .await?;
                expect_one(n, "market", market.0)?;
            }
            _ => unreachable!("Pending::apply routes only asset and market events here"),
        }
        Ok(())
    }

    pub(super) async fn quote(&mut self, tx: &mut Tx, market: MarketId) -> Result<AssetId> {
        if let Some(q) = self.quotes.get(&market) {
            return Ok(*q);
        }
        let raw: Option<RawQuote> = tx
            .fetch_optional(
                "SELECT quote FROM markets WHERE id = $1",
                &[i(u64::from(market.0))?],
            )
            .await?;
        let raw =
            raw.ok_or_else(|| StoreError::Inconsistent(format!("unknown market {market}")))?;
        let q = AssetId(u32::try_from(raw.quote).map_err(|_| StoreError::Corrupt("markets"))?);
        self.quotes.insert(market, q);
        Ok(q)
    }
}
