//! KYC levels: the trading gate and the daily withdrawal limits.
//!
//! Rules (see `bourse_model::KycLevel` for the policy itself):
//! * A user may trade (place, amend) when KYC is not required or they are verified, *and*
//!   their level has `may_trade`. Otherwise places and amends are `KYC_REQUIRED`, and the
//!   user keeps no open order: a change that takes trading away (`SetUserFlags`,
//!   `SetKycPolicy`, `SetKycLevels`, `SetUserCompliance`) cancels theirs with
//!   `CancelReason::KycRequired`. So a stop never triggers for a user who may not trade.
//! * A withdrawal request needs the same verification and `may_withdraw`
//!   (`KYC_REQUIRED`), then the daily limit: the *day* is the UTC day of the command's own
//!   `ts` (`ts / 86 400 000`), never a clock, so a replay gives the same answers. Per user
//!   and asset the core keeps the day and the sum of that day's accepted requests; a
//!   request is accepted if `used + amount <= limit` (so exactly the limit passes) and
//!   refused with `WITHDRAWAL_LIMIT` and `remaining = limit - used` otherwise, changing
//!   nothing. A new day starts from zero. An admin's rejection of a withdrawal requested
//!   on the day still being counted gives its amount back; a completed one stays used.
//!   Requests are counted whatever the level's limits, so a limit set (or a level
//!   changed) during a day counts that day's earlier requests.

use crate::state::UserState;
use crate::{BookOps, Check, Core, Reject};
use bourse_model::{
    Amount, AssetId, CancelReason, Event, KycLevel, RejectCode, Timestamp, UserId,
    BENEFICIAL_OWNER_MAX, KYC_MAX_LEVEL,
};

/// Milliseconds per UTC day.
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// One asset's withdrawals on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DayUsage {
    pub day: u64,
    pub amount: u64,
}

/// The policy of every level until `SetKycLevels`: everything allowed, no limit.
pub fn open_levels() -> Vec<KycLevel> {
    vec![KycLevel::open(); usize::from(KYC_MAX_LEVEL) + 1]
}

impl<B: BookOps> Core<B> {
    fn level(&self, u: &UserState) -> &KycLevel {
        // Levels are checked on the way in and the policy always has them all.
        &self.config.kyc_levels[usize::from(u.kyc_level)]
    }

    fn verified_enough(&self, u: &UserState) -> bool {
        !self.config.kyc_required || u.kyc_verified
    }

    /// Whether the user may place and amend orders (see the module doc).
    pub(crate) fn may_trade(&self, u: &UserState) -> bool {
        self.verified_enough(u) && self.level(u).may_trade
    }

    /// Cancels the open orders of every user who may no longer trade.
    fn cancel_untradable(&mut self, out: &mut Vec<Event>) {
        for i in 0..self.users.len() {
            if !self.users[i].orders.is_empty() && !self.may_trade(&self.users[i]) {
                let user = UserId(i as u64 + 1);
                self.cancel_user_orders(user, None, CancelReason::KycRequired, out);
            }
        }
    }

    pub(crate) fn set_kyc_policy(&mut self, required: bool, out: &mut Vec<Event>) -> Check {
        self.config.kyc_required = required;
        self.cancel_untradable(out);
        Ok(())
    }

    pub(crate) fn set_kyc_levels(&mut self, levels: &[KycLevel], out: &mut Vec<Event>) -> Check {
        let unique = levels.iter().all(|l| {
            let limits = &l.daily_withdrawal_limits;
            limits
                .iter()
                .enumerate()
                .all(|(i, a)| limits[..i].iter().all(|b| b.asset != a.asset))
        });
        if levels.len() != usize::from(KYC_MAX_LEVEL) + 1 || !unique {
            return Err(RejectCode::InvalidKycPolicy.into());
        }
        self.config.kyc_levels = levels.to_vec();
        self.cancel_untradable(out);
        Ok(())
    }

    pub(crate) fn set_user_compliance(
        &mut self,
        user: UserId,
        level: Option<u8>,
        owner: Option<&Option<String>>,
        out: &mut Vec<Event>,
    ) -> Check {
        self.user_state(user)?;
        if level.is_some_and(|l| l > KYC_MAX_LEVEL) {
            return Err(RejectCode::InvalidKycLevel.into());
        }
        if owner.is_some_and(|o| {
            o.as_ref()
                .is_some_and(|o| o.chars().count() > BENEFICIAL_OWNER_MAX)
        }) {
            return Err(RejectCode::InvalidBeneficialOwner.into());
        }
        let u = self.user_mut(user);
        if let Some(l) = level {
            u.kyc_level = l;
        }
        if let Some(o) = owner {
            u.beneficial_owner = o.clone();
        }
        let (kyc_level, beneficial_owner) = (u.kyc_level, u.beneficial_owner.clone());
        out.push(Event::UserComplianceChanged {
            user,
            kyc_level,
            beneficial_owner,
        });
        if !self.may_trade(&self.users[user.0 as usize - 1]) {
            self.cancel_user_orders(user, None, CancelReason::KycRequired, out);
        }
        Ok(())
    }

    /// What `user` may still withdraw of `asset` on the day of `ts`: `None` without a
    /// limit (it does not say whether they may withdraw at all).
    pub fn withdrawal_allowance(&self, user: UserId, asset: AssetId, ts: Timestamp) -> Option<u64> {
        let u = self.user_state(user).ok()?;
        let a = self.assets.get(asset.0 as usize)?;
        let limit = self.level(u).limit(&a.symbol)?.to_units(a.scale);
        let used = match u.withdrawn.get(&asset) {
            Some(d) if d.day == ts.0 / DAY_MS => d.amount,
            _ => 0,
        };
        Some(limit.saturating_sub(used))
    }

    /// The KYC checks of a withdrawal request (before the balance check).
    pub(crate) fn check_withdrawal_kyc(
        &self,
        u: &UserState,
        user: UserId,
        asset: AssetId,
        amount: Amount,
        ts: Timestamp,
    ) -> Check {
        if !self.verified_enough(u) || !self.level(u).may_withdraw {
            return Err(RejectCode::KycRequired.into());
        }
        match self.withdrawal_allowance(user, asset, ts) {
            Some(left) if amount.0 > left => Err(Reject {
                remaining: Some(left),
                ..RejectCode::WithdrawalLimit.into()
            }),
            _ => Ok(()),
        }
    }

    /// Counts an accepted request against its day.
    pub(crate) fn count_withdrawal(
        &mut self,
        user: UserId,
        asset: AssetId,
        amount: u64,
        ts: Timestamp,
    ) {
        let day = ts.0 / DAY_MS;
        let d = self
            .user_mut(user)
            .withdrawn
            .entry(asset)
            .or_insert(DayUsage { day, amount: 0 });
        if d.day != day {
            *d = DayUsage { day, amount: 0 };
        }
        // Bounded by the user's balance, itself below the asset's supply (`i64::MAX`).
        d.amount = d.amount.saturating_add(amount);
    }

    /// An admin rejected a withdrawal: a request of the day still counted is given back.
    pub(crate) fn uncount_withdrawal(
        &mut self,
        user: UserId,
        asset: AssetId,
        amount: u64,
        requested: Timestamp,
    ) {
        if let Some(d) = self.user_mut(user).withdrawn.get_mut(&asset) {
            if d.day == requested.0 / DAY_MS {
                d.amount = d.amount.saturating_sub(amount);
            }
        }
    }
}
