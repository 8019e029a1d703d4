//! `[kyc.levels.N]`: what the users of each KYC level (0–2) may do.
//!
//! ```toml
//! [kyc.levels.0]
//! may_trade = false
//! may_withdraw = false
//! [kyc.levels.1]
//! daily_withdrawal_limit = { BTC = "0.5", USD = "10000" }
//! ```
//!
//! Defaults: every level may trade and withdraw without a limit (a level left out, or a
//! key left out of one, keeps that default), so a server that does not configure levels
//! behaves as before levels existed. Limits are decimal strings per asset symbol, per UTC
//! day; an asset not listed has no limit. Like `kyc_required`, the policy is journaled
//! core state: at start-up a policy that differs from the recovered one is journaled as
//! `SetKycLevels` (a level that loses `may_trade` has its users' orders canceled), so
//! changing the file never changes how old commands replay.

use bourse_model::{AssetLimit, KycLevel, LimitAmount, Symbol, KYC_MAX_LEVEL};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[kyc]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KycConfig {
    /// Keyed by level, `"0"` to `"2"`.
    pub levels: BTreeMap<String, KycLevelConfig>,
}

/// `[kyc.levels.N]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KycLevelConfig {
    pub may_trade: bool,
    pub may_withdraw: bool,
    /// Asset symbol → the most that may be requested per UTC day (decimal string).
    pub daily_withdrawal_limit: BTreeMap<String, String>,
}

impl Default for KycLevelConfig {
    fn default() -> Self {
        Self {
            may_trade: true,
            may_withdraw: true,
            daily_withdrawal_limit: BTreeMap::new(),
        }
    }
}

impl KycConfig {
    /// The core's policy, one entry per level; an error names the bad key.
    pub fn levels(&self) -> Result<Vec<KycLevel>, String> {
        let mut out = vec![KycLevel::open(); usize::from(KYC_MAX_LEVEL) + 1];
        for (key, level) in &self.levels {
            let n = key
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= KYC_MAX_LEVEL)
                .ok_or_else(|| format!("kyc.levels.{key}: levels are 0 to {KYC_MAX_LEVEL}"))?;
            let mut limits = Vec::new();
            for (asset, amount) in &level.daily_withdrawal_limit {
                let what = format!("kyc.levels.{key}.daily_withdrawal_limit.{asset}");
                limits.push(AssetLimit {
                    asset: Symbol::new(asset.clone()).map_err(|e| format!("{what}: {e}"))?,
                    amount: LimitAmount::parse(amount).map_err(|e| format!("{what}: {e}"))?,
                });
            }
            out[usize::from(n)] = KycLevel {
                may_trade: level.may_trade,
                may_withdraw: level.may_withdraw,
                daily_withdrawal_limits: limits,
            };
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_default_to_open_and_parse_exactly() {
        let c: KycConfig = toml::from_str(
            "[levels.0]\nmay_trade = false\n[levels.2]\ndaily_withdrawal_limit = { BTC = \"0.5\" }\n",
        )
        .unwrap();
        let l = c.levels().unwrap();
        assert!(!l[0].may_trade && l[0].may_withdraw);
        assert_eq!(l[1], KycLevel::open());
        let btc = Symbol::new("BTC").unwrap();
        assert_eq!(l[2].limit(&btc), Some(LimitAmount { units: 5, scale: 1 }));
        for bad in [
            "[levels.3]\n",
            "[levels.1]\ndaily_withdrawal_limit = { BTC = \"-1\" }\n",
            "[levels.1]\ndaily_withdrawal_limit = { btc = \"1\" }\n",
        ] {
            let c: KycConfig = toml::from_str(bad).unwrap();
            assert!(c.levels().is_err(), "{bad}");
        }
    }
}
