//! KYC levels: what a user of each level may do.
//!
//! Every user has a level, 0 (the default) to [`KYC_MAX_LEVEL`]. The policy of each level
//! ([`KycLevel`]) says whether its users may trade, may withdraw, and how much of each
//! asset they may withdraw per UTC day (an asset not listed has no limit). The policy is
//! core state, changed only by `SetKycLevels`, so a replay never depends on the server's
//! config; [`KycLevel::open`] (everything allowed, no limit) is where a journal starts.
//!
//! A limit is written as an exact decimal ([`LimitAmount`]) rather than in an asset's
//! minor units, because the policy can name an asset that does not exist yet (its scale
//! is unknown until it is created). The core converts it when it checks a withdrawal:
//! digits finer than the asset's scale are dropped (the limit rounds down, never up).

use crate::decimal::{parse_units, DecimalError};
use crate::ids::Symbol;
use serde::{Deserialize, Serialize};

/// The highest level; levels are `0..=KYC_MAX_LEVEL`.
pub const KYC_MAX_LEVEL: u8 = 2;

/// The most characters (Unicode scalar values, as JSON Schema counts them) a user's
/// beneficial owner may have.
pub const BENEFICIAL_OWNER_MAX: usize = 64;

/// A non-negative exact decimal: `units × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitAmount {
    pub units: u64,
    pub scale: u8,
}

impl LimitAmount {
    /// Parses a decimal string with at most 18 fractional digits, keeping its own scale
    /// (`"1.50"` is 150 × 10^-2).
    pub fn parse(s: &str) -> Result<Self, DecimalError> {
        let scale = s.split_once('.').map_or(0, |(_, f)| f.len());
        let scale = u8::try_from(scale)
            .ok()
            .filter(|s| *s <= 18)
            .ok_or(DecimalError::TooPrecise(18))?;
        Ok(LimitAmount {
            units: parse_units(s, scale)?,
            scale,
        })
    }

    /// The amount in minor units of an asset with `asset_scale` decimals: rounded down
    /// if the limit is finer than the asset, `u64::MAX` (no practical limit) if it does
    /// not fit.
    pub fn to_units(self, asset_scale: u8) -> u64 {
        if asset_scale >= self.scale {
            10u64
                .checked_pow(u32::from(asset_scale - self.scale))
                .and_then(|f| self.units.checked_mul(f))
                .unwrap_or(u64::MAX)
        } else {
            10u64
                .checked_pow(u32::from(self.scale - asset_scale))
                .map_or(0, |f| self.units / f)
        }
    }
}

/// One asset's daily withdrawal limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetLimit {
    pub asset: Symbol,
    pub amount: LimitAmount,
}

/// What the users of one KYC level may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KycLevel {
    /// Place and amend orders. A level that may not trade keeps no open order: moving a
    /// user to it (or changing the policy) cancels theirs.
    pub may_trade: bool,
    /// Request withdrawals.
    pub may_withdraw: bool,
    /// Per asset (symbol, unique), the most the user may request per UTC day.
    pub daily_withdrawal_limits: Vec<AssetLimit>,
}

impl KycLevel {
    /// Everything allowed, no limit: the policy of every level until `SetKycLevels`.
    pub fn open() -> Self {
        KycLevel {
            may_trade: true,
            may_withdraw: true,
            daily_withdrawal_limits: Vec::new(),
        }
    }

    /// This level's limit for `asset`, if it has one.
    pub fn limit(&self, asset: &Symbol) -> Option<LimitAmount> {
        self.daily_withdrawal_limits
            .iter()
            .find(|l| &l.asset == asset)
            .map(|l| l.amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_convert_exactly_and_round_down() {
        let l = LimitAmount::parse("1.25").unwrap();
        assert_eq!(
            l,
            LimitAmount {
                units: 125,
                scale: 2
            }
        );
        assert_eq!(l.to_units(8), 125_000_000);
        assert_eq!(l.to_units(2), 125);
        assert_eq!(l.to_units(1), 12, "finer than the asset: rounded down");
        assert_eq!(l.to_units(0), 1);
        assert_eq!(
            LimitAmount::parse("5").unwrap().to_units(18),
            5 * 10u64.pow(18)
        );
        assert_eq!(LimitAmount::parse("100").unwrap().to_units(18), u64::MAX);
        assert!(LimitAmount::parse("-1").is_err());
        assert!(LimitAmount::parse("1e3").is_err());
        assert!(LimitAmount::parse("0.0000000000000000001").is_err());
    }
}
