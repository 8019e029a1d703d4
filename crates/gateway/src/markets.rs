//! Creating markets: one validation and one journaled path shared by the admin API
//! (`POST /api/v1/admin/markets`), the config file's `[[markets.list]]` and demo mode.
//!
//! - [`plan`] checks a [`MarketBody`] against the core's assets and the config's
//!   `[markets]` defaults and yields the `MarketSpec` it would create, without changing
//!   anything: a body that fails here leaves no trace.
//! - [`create`] journals what is missing through the sequencer (base asset, quote asset,
//!   then the market), like any other command: replayed and projected like real traffic.
//! - [`ensure`] is the start-up form: a market whose symbol exists already is kept as it
//!   is. When its spec differs from the entry, the difference is logged as a warning and
//!   the server starts anyway: markets cannot be edited after creation (open orders and
//!   fills depend on the grid), the journal is the source of truth, and refusing to start
//!   would turn a config edit into an outage.
//!
//! Fees: a body gives either `maker_fee_bps` / `taker_fee_bps` (every tier, each one
//! optional, the other falling back to the defaults tier by tier) or `fees`, the whole
//! per-tier schedule ([`TierFees`]); both at once is `VALIDATION_ERROR`, an unknown tier
//! `UNKNOWN_FIELD`, a fee above 10000 bps `INVALID_MARKET_SPEC`. The defaults come from
//! `[markets]` the same way ([`MarketDefaults::fee_schedule`]).
//!
//! Missing assets: the base gets `max(markets.base_scale, decimals of lot_size)` decimals,
//! the quote the smallest number of decimals ≥ `markets.quote_scale` for which one tick ×
//! one lot is a whole number of quote minor units (the grid rule of `MarketSpec`).
//! Existing assets keep their scale; a grid they cannot carry is `INVALID_MARKET_SPEC`.

use crate::error::Error;
use crate::market_info::{decimal_error, GridParse, MarketInfo, MAX_UNITS};
use bourse_engine::SequencerHandle;
use bourse_model::{
    parse_units, Amount, AssetId, CommandKind, Event, FeeSchedule, MarketId, MarketSpec, Qty,
    RejectCode, Symbol, Tier,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The largest fee `MarketSpec::validate` accepts: 100 %.
pub const MAX_FEE_BPS: u32 = 10_000;

/// A market to create: the body of `POST /api/v1/admin/markets` and one
/// `[[markets.list]]` entry of the config file (decimals are strings there too).
/// Missing assets are created (see the module doc of `market_setup.rs` for their
/// decimals).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"symbol": "BTC-USD", "base": "BTC", "quote": "USD",
    "tick_size": "0.01", "lot_size": "0.0001", "min_notional": "1",
    "fees": {"standard": {"maker_bps": 10, "taker_bps": 20},
             "premium": {"maker_bps": 5, "taker_bps": 15},
             "broker": {"maker_bps": 2, "taker_bps": 10}}}))]
pub struct MarketBody {
    #[schema(example = "BTC-USD")]
    pub symbol: String,
    #[schema(example = "BTC")]
    pub base: String,
    #[schema(example = "USD")]
    pub quote: String,
    /// Price increment; its decimals are the price's decimals.
    #[schema(example = "0.01")]
    pub tick_size: String,
    /// Size increment; its decimals are the size's decimals.
    #[schema(example = "0.0001")]
    pub lot_size: String,
    /// Smallest limit-order value in the quote asset.
    #[schema(example = "1")]
    pub min_notional: String,
    /// Optional; default one lot.
    pub min_quantity: Option<String>,
    /// Optional; default `markets.max_qty_lots` lots.
    pub max_quantity: Option<String>,
    /// Maker fee of every tier, at most 10000. Optional; default from the config. Not
    /// together with `fees`.
    pub maker_fee_bps: Option<u32>,
    /// Taker fee of every tier, at most 10000. Optional; default from the config. Not
    /// together with `fees`.
    pub taker_fee_bps: Option<u32>,
    /// The fees of each tier (all three). Not together with `maker_fee_bps` /
    /// `taker_fee_bps`.
    pub fees: Option<TierFees>,
    /// Limit prices more than this many bps from the last trade are refused
    /// (`PRICE_OUT_OF_BAND`); 0 = no band. Optional; default `markets.price_band_bps`
    /// (1000).
    #[schema(maximum = 10000)]
    pub price_band_bps: Option<u32>,
    /// A market order (by size or by quote amount) stops this many bps from the best
    /// opposite price; its remainder expires with reason `price_protection`. Optional;
    /// default `markets.market_slippage_bps` (500).
    #[schema(maximum = 10000)]
    pub market_slippage_bps: Option<u32>,
}

/// One tier's fees in basis points (1 bp = 0.01 %), charged in the quote asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"maker_bps": 10, "taker_bps": 20}))]
pub struct TierFee {
    /// Paid by the resting order's owner. At most 10000.
    #[schema(example = 10)]
    pub maker_bps: u32,
    /// Paid by the incoming order's owner. At most 10000.
    #[schema(example = 20)]
    pub taker_bps: u32,
}

/// Fees per user tier (a user's tier is set by an admin: `PATCH
/// /api/v1/admin/users/{username}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"standard": {"maker_bps": 10, "taker_bps": 20},
    "premium": {"maker_bps": 5, "taker_bps": 15}, "broker": {"maker_bps": 2, "taker_bps": 10}}))]
pub struct TierFees {
    pub standard: TierFee,
    pub premium: TierFee,
    pub broker: TierFee,
}

impl TierFees {
    /// The core's form, indexed by `Tier::index`.
    pub fn schedule(&self) -> [FeeSchedule; 3] {
        Tier::ALL.map(|t| {
            let f = match t {
                Tier::Standard => self.standard,
                Tier::Premium => self.premium,
                Tier::Broker => self.broker,
            };
            FeeSchedule {
                maker_bps: f.maker_bps,
                taker_bps: f.taker_bps,
            }
        })
    }

    pub fn from_schedule(fees: &[FeeSchedule; 3]) -> Self {
        let tier = |t: Tier| TierFee {
            maker_bps: fees[t.index()].maker_bps,
            taker_bps: fees[t.index()].taker_bps,
        };
        TierFees {
            standard: tier(Tier::Standard),
            premium: tier(Tier::Premium),
            broker: tier(Tier::Broker),
        }
    }
}

/// The schedule from either the all-tier values (each falling back to `fallback` tier by
/// tier) or the per-tier object. `Err`: both were given.
pub fn resolve_fees(
    maker_bps: Option<u32>,
    taker_bps: Option<u32>,
    per_tier: Option<&TierFees>,
    fallback: [FeeSchedule; 3],
) -> Result<[FeeSchedule; 3], &'static str> {
    match per_tier {
        Some(_) if maker_bps.is_some() || taker_bps.is_some() => {
            Err("give either fees (per tier) or maker_fee_bps/taker_fee_bps (all tiers), not both")
        }
        Some(fees) => Ok(fees.schedule()),
        None => Ok(fallback.map(|f| FeeSchedule {
            maker_bps: maker_bps.unwrap_or(f.maker_bps),
            taker_bps: taker_bps.unwrap_or(f.taker_bps),
        })),
    }
}

/// What [`plan`] found: the spec to create and what is missing for it.
pub struct MarketPlan {
    /// Asset ids of assets still to create are placeholders until [`create`].
    pub spec: MarketSpec,
    new_base: Option<(Symbol, u8)>,
    new_quote: Option<(Symbol, u8)>,
    /// The market that already has this symbol.
    pub existing: Option<MarketInfo>,
}

/// `"0.01"` → (1, 2): units at the decimals written.
fn increment(field: &str, s: &str) -> Result<(u64, u8), Error> {
    let scale = s.split_once('.').map_or(0, |(_, f)| f.len());
    let scale = u8::try_from(scale)
        .ok()
        .filter(|s| *s <= 18)
        .ok_or_else(|| Error::validation(format!("{field}: at most 18 decimals")))?;
    let units = parse_units(s, scale).map_err(|e| decimal_error(field, e))?;
    if units > MAX_UNITS {
        return Err(decimal_error(field, bourse_model::DecimalError::Overflow));
    }
    if units == 0 {
        return Err(Error::validation(format!("{field}: must be positive")));
    }
    Ok((units, scale))
}

fn symbol(field: &str, s: &str) -> Result<Symbol, Error> {
    Symbol::new(s).map_err(|e| Error::validation(format!("{field}: {e}")))
}

fn invalid_spec(e: bourse_model::MarketSpecError) -> Error {
    Error::invalid("INVALID_MARKET_SPEC", e.to_string())
}

/// A per-market basis-point setting, or the default; at most 100 %.
fn bps(field: &str, value: Option<u32>, default: u32) -> Result<u32, Error> {
    let v = crate::rules::BPS.check_or(field, value.map(u64::from), u64::from(default))?;
    Ok(u32::try_from(v).expect("at most 10000"))
}

/// Validates `body` against the core's assets and `defaults`; changes nothing.
pub async fn plan(
    seq: &SequencerHandle,
    defaults: &MarketDefaults,
    body: &MarketBody,
) -> Result<MarketPlan, Error> {
    let market_symbol = symbol("symbol", &body.symbol)?;
    let base_sym = symbol("base", &body.base)?;
    let quote_sym = symbol("quote", &body.quote)?;
    if base_sym == quote_sym {
        return Err(crate::rules::BASE_NOT_QUOTE.error());
    }
    let (tick, price_scale) = increment("tick_size", &body.tick_size)?;
    let (lot, qty_scale) = increment("lot_size", &body.lot_size)?;
    // The defaults were checked by `Config::validate` at start.
    let default_fees = defaults.fee_schedule().map_err(Error::internal)?;
    let fees = resolve_fees(
        body.maker_fee_bps,
        body.taker_fee_bps,
        body.fees.as_ref(),
        default_fees,
    )
    .map_err(Error::validation)?;
    let (b, q, ms) = (
        base_sym.to_string(),
        quote_sym.to_string(),
        market_symbol.to_string(),
    );
    let (base, quote, existing) = seq
        .query(move |core| {
            let get = |s: &str| core.asset_by_symbol(s).and_then(|a| core.asset(a));
            let existing = core
                .market_by_symbol(&ms)
                .and_then(|id| MarketInfo::all(core).into_iter().find(|m| m.id == id));
            (get(&b), get(&q), existing)
        })
        .await?;
    let base_scale = base
        .as_ref()
        .map_or(defaults.base_scale.max(qty_scale), |a| a.scale);
    let mut spec = MarketSpec {
        symbol: market_symbol,
        base: base.as_ref().map_or(AssetId(u32::MAX - 1), |a| a.id),
        quote: quote.as_ref().map_or(AssetId(u32::MAX), |a| a.id),
        base_scale,
        quote_scale: 0,
        price_scale,
        tick,
        qty_scale,
        lot,
        min_qty: Qty(1),
        max_qty: Qty(defaults.max_qty_lots),
        min_notional: Amount(0),
        price_band_bps: bps(
            "price_band_bps",
            body.price_band_bps,
            defaults.price_band_bps,
        )?,
        market_slippage_bps: bps(
            "market_slippage_bps",
            body.market_slippage_bps,
            defaults.market_slippage_bps,
        )?,
        max_open_orders: defaults.max_open_orders,
        fees,
    };
    spec.quote_scale = match &quote {
        Some(a) => a.scale,
        None => (defaults.quote_scale..=18)
            .find(|s| {
                MarketSpec {
                    quote_scale: *s,
                    ..spec.clone()
                }
                .validate()
                .is_ok()
            })
            .ok_or(Error::Rejected(RejectCode::InvalidMarketSpec))?,
    };
    spec.validate().map_err(invalid_spec)?;
    // Parsing against the grid needs a market; this one is never stored.
    let scratch = MarketInfo {
        id: MarketId(0),
        spec: spec.clone(),
        base: String::new(),
        quote: String::new(),
        status: Default::default(),
        last_price: None,
        sequence: 0,
        quote_per_tick_lot: 0,
    };
    spec.min_notional = scratch.parse_quote("min_notional", &body.min_notional)?;
    if let Some(s) = &body.min_quantity {
        spec.min_qty = scratch.parse_qty("min_quantity", s)?;
    }
    if let Some(s) = &body.max_quantity {
        spec.max_qty = scratch.parse_qty("max_quantity", s)?;
    }
    spec.validate().map_err(invalid_spec)?;
    Ok(MarketPlan {
        new_base: base.is_none().then_some((base_sym, spec.base_scale)),
        new_quote: quote.is_none().then_some((quote_sym, spec.quote_scale)),
        spec,
        existing,
    })
}

/// Journals the planned market (and its missing assets). `MARKET_EXISTS` if its symbol
/// is taken.
pub async fn create(seq: &SequencerHandle, plan: MarketPlan) -> Result<MarketInfo, Error> {
    if plan.existing.is_some() {
        return Err(Error::Rejected(RejectCode::MarketExists));
    }
    let mut spec = plan.spec;
    if let Some((symbol, scale)) = plan.new_base {
        spec.base = create_asset(seq, symbol, scale).await?;
    }
    if let Some((symbol, scale)) = plan.new_quote {
        spec.quote = create_asset(seq, symbol, scale).await?;
    }
    let applied = seq
        .submit(CommandKind::CreateMarket(Box::new(spec)))
        .await?;
    if let Some((code, _)) = applied.rejected() {
        return Err(Error::Rejected(code));
    }
    let id = applied
        .events
        .iter()
        .find_map(|e| match e {
            Event::MarketCreated { market, .. } => Some(*market),
            _ => None,
        })
        .ok_or_else(|| Error::internal("CreateMarket produced no MarketCreated"))?;
    seq.query(move |core| MarketInfo::all(core).into_iter().find(|m| m.id == id))
        .await?
        .ok_or_else(|| Error::internal("created market not found"))
}

/// Creates an asset; its id, or the core's reject code.
pub async fn create_asset(
    seq: &SequencerHandle,
    symbol: Symbol,
    scale: u8,
) -> Result<AssetId, Error> {
    let applied = seq
        .submit(CommandKind::CreateAsset { symbol, scale })
        .await?;
    for e in &applied.events {
        match e {
            Event::AssetCreated { asset, .. } => return Ok(*asset),
            Event::Rejected { code, .. } => return Err(Error::Rejected(*code)),
            _ => {}
        }
    }
    Err(Error::internal("CreateAsset produced no AssetCreated"))
}

/// Creates the market unless its symbol exists; the market either way. An existing
/// market whose spec differs from `body` is kept, with a warning naming `origin` and
/// the differing fields (see the module doc for why it is not refused).
pub async fn ensure(
    seq: &SequencerHandle,
    defaults: &MarketDefaults,
    body: &MarketBody,
    origin: &str,
) -> Result<MarketInfo, Error> {
    let mut plan = plan(seq, defaults, body).await?;
    let Some(existing) = plan.existing.take() else {
        let created = create(seq, plan).await?;
        tracing::info!(market = %created.symbol(), origin, "created market");
        return Ok(created);
    };
    let differs = differences(&existing.spec, &plan.spec);
    if !differs.is_empty() {
        tracing::warn!(
            market = %existing.symbol(),
            origin,
            fields = %differs.join(", "),
            "the existing market differs from its definition; kept unchanged \
             (markets cannot be edited once created)"
        );
    }
    Ok(existing)
}

/// The markets of `[[markets.list]]`, created if missing (see [`ensure`]). Call before
/// the server listens, and not on a follower.
pub async fn ensure_configured(
    seq: &SequencerHandle,
    defaults: &MarketDefaults,
) -> Result<(), String> {
    for body in &defaults.list {
        ensure(seq, defaults, body, "config [[markets.list]]")
            .await
            .map_err(|e| {
                let (_, code) = e.kind_and_code();
                format!("market {}: {code}: {e}", body.symbol)
            })?;
    }
    Ok(())
}

/// Names of the fields where `a` and `b` differ.
fn differences(a: &MarketSpec, b: &MarketSpec) -> Vec<&'static str> {
    let checks = [
        ("base", a.base == b.base),
        ("quote", a.quote == b.quote),
        ("base_decimals", a.base_scale == b.base_scale),
        ("quote_decimals", a.quote_scale == b.quote_scale),
        (
            "tick_size",
            (a.tick, a.price_scale) == (b.tick, b.price_scale),
        ),
        ("lot_size", (a.lot, a.qty_scale) == (b.lot, b.qty_scale)),
        ("min_quantity", a.min_qty == b.min_qty),
        ("max_quantity", a.max_qty == b.max_qty),
        ("min_notional", a.min_notional == b.min_notional),
        ("price_band_bps", a.price_band_bps == b.price_band_bps),
        (
            "market_slippage_bps",
            a.market_slippage_bps == b.market_slippage_bps,
        ),
        ("max_open_orders", a.max_open_orders == b.max_open_orders),
        ("fees", a.fees == b.fees),
    ];
    checks
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FALLBACK: [FeeSchedule; 3] = [
        FeeSchedule {
            maker_bps: 10,
            taker_bps: 20,
        },
        FeeSchedule {
            maker_bps: 5,
            taker_bps: 15,
        },
        FeeSchedule {
            maker_bps: 2,
            taker_bps: 10,
        },
    ];

    #[test]
    fn all_tier_values_override_each_tier_and_keep_the_rest() {
        let fees = resolve_fees(Some(0), None, None, FALLBACK).unwrap();
        assert_eq!(
            fees.map(|f| (f.maker_bps, f.taker_bps)),
            [(0, 20), (0, 15), (0, 10)]
        );
        assert_eq!(resolve_fees(None, None, None, FALLBACK).unwrap(), FALLBACK);
    }

    #[test]
    fn per_tier_object_maps_to_tier_indices_and_excludes_the_single_values() {
        let per_tier = TierFees::from_schedule(&FALLBACK);
        assert_eq!(per_tier.premium.maker_bps, 5);
        assert_eq!(per_tier.broker.taker_bps, 10);
        let uniform = [FeeSchedule {
            maker_bps: 1,
            taker_bps: 1,
        }; 3];
        assert_eq!(
            resolve_fees(None, None, Some(&per_tier), uniform).unwrap(),
            FALLBACK
        );
        assert!(resolve_fees(Some(1), None, Some(&per_tier), uniform).is_err());
        assert!(resolve_fees(None, Some(1), Some(&per_tier), uniform).is_err());
    }
}

/// `[markets]`: defaults for markets created through the admin API or listed here, and
/// the list of markets to create at start-up (`[[markets.list]]`, see
/// `crate::market_setup`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarketDefaults {
    /// Decimals of a base asset created on the fly (raised to the size's decimals).
    pub base_scale: u8,
    /// Smallest decimals of a quote asset created on the fly; raised until the grid is
    /// exact (tick × lot a whole number of quote minor units).
    pub quote_scale: u8,
    /// Maker fee of every tier (default 10). Not together with `fees`.
    pub maker_fee_bps: Option<u32>,
    /// Taker fee of every tier (default 20). Not together with `fees`.
    pub taker_fee_bps: Option<u32>,
    /// Fees per tier (`[markets.fees.standard]`, `.premium`, `.broker`).
    pub fees: Option<TierFees>,
    pub max_open_orders: u32,
    /// Largest order, in lots.
    pub max_qty_lots: u64,
    pub market_slippage_bps: u32,
    pub price_band_bps: u32,
    /// Markets created at start-up when their symbol does not exist yet.
    pub list: Vec<MarketBody>,
}

impl MarketDefaults {
    /// The fees of a market that does not set its own: 10 bps maker and 20 bps taker for
    /// every tier unless configured.
    pub fn fee_schedule(&self) -> Result<[FeeSchedule; 3], String> {
        const BUILT_IN: FeeSchedule = FeeSchedule {
            maker_bps: 10,
            taker_bps: 20,
        };
        let fees = resolve_fees(
            self.maker_fee_bps,
            self.taker_fee_bps,
            self.fees.as_ref(),
            [BUILT_IN; 3],
        )
        .map_err(|e| format!("[markets]: {e}"))?;
        if fees
            .iter()
            .any(|f| f.maker_bps > MAX_FEE_BPS || f.taker_bps > MAX_FEE_BPS)
        {
            return Err(format!("[markets]: fees are at most {MAX_FEE_BPS} bps"));
        }
        Ok(fees)
    }
}

impl Default for MarketDefaults {
    fn default() -> Self {
        Self {
            base_scale: 8,
            quote_scale: 6,
            maker_fee_bps: None,
            taker_fee_bps: None,
            fees: None,
            max_open_orders: 1000,
            max_qty_lots: 1_000_000_000_000,
            market_slippage_bps: 500,
            // A limit price more than 10% from the last trade (a fat finger) is refused
            // unless the market opts out.
            price_band_bps: 1000,
            list: Vec::new(),
        }
    }
}
