//! The double-entry settlement ledger.
//!
//! Accounts, per asset:
//! * every user's `available` and `held` (unsigned: they can never go negative);
//! * one fee account (unsigned) that collects trading fees;
//! * one external account (signed), the outside world: a deposit moves money from it, a
//!   completed withdrawal back to it, so it is always `<= 0`.
//!
//! Every movement is one [`Ledger::transfer`]: the same amount leaves one account and
//! enters another, so per asset the sum over all accounts is zero at all times.
//! `transfer` refuses (and changes nothing) if the source does not hold the amount.
//!
//! Total supply bound: the external account never goes below `-MAX_SUPPLY` (`i64::MAX`),
//! so no account (each holds a part of the supply), order hold or trade notional can pass
//! `i64::MAX` — the largest value the read models' signed 64-bit SQL columns hold.

use bourse_model::{AssetId, UserId};
use serde::{Deserialize, Serialize};

/// One account of the ledger, for one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    Available(UserId),
    Held(UserId),
    Fee,
    External,
}

/// A user's balance of one asset, in the asset's minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Balance {
    pub available: u64,
    pub held: u64,
}

/// Why a posting was refused. The core validates before posting, so outside tests this
/// is a bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("account {account:?} of asset {asset} holds less than {amount}")]
    Insufficient {
        asset: AssetId,
        account: Account,
        amount: u64,
    },
    #[error("asset {asset}: total supply would exceed i64::MAX")]
    SupplyOverflow { asset: AssetId },
    #[error("unknown asset {0}")]
    UnknownAsset(AssetId),
}

/// All accounts of all assets.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Every user's balances in one flat table, `users[user × assets + asset]` (one
    /// lookup, no pointer to chase per user); users past the end have zero balances.
    users: Vec<Balance>,
    fee: Vec<u64>,
    external: Vec<i128>,
}

/// The most minor units of one asset that can exist (deposited and not withdrawn).
pub const MAX_SUPPLY: u64 = i64::MAX as u64;
const MIN_EXTERNAL: i128 = -(MAX_SUPPLY as i128);

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens the fee and external accounts of the next asset (ids are dense from 0).
    pub fn add_asset(&mut self) -> AssetId {
        let (old, new) = (self.fee.len(), self.fee.len() + 1);
        if let Some(rows) = self.users.len().checked_div(old) {
            // Re-lay the table with one more column (assets are created rarely).
            let mut users = Vec::with_capacity(rows * new);
            for row in self.users.chunks_exact(old) {
                users.extend_from_slice(row);
                users.push(Balance::default());
            }
            self.users = users;
        }
        self.fee.push(0);
        self.external.push(0);
        AssetId(old as u32)
    }

    /// Where `(user, asset)` lives in `users`, if the asset exists (the slot itself may
    /// be past the end).
    #[inline]
    fn slot(&self, user: UserId, asset: AssetId) -> Option<usize> {
        let (u, a, n) = (user.0 as usize, asset.0 as usize, self.fee.len());
        if a >= n {
            return None;
        }
        u.checked_mul(n)?.checked_add(a)
    }

    pub fn asset_count(&self) -> usize {
        self.fee.len()
    }

    #[inline]
    pub fn balance(&self, user: UserId, asset: AssetId) -> Balance {
        self.slot(user, asset)
            .and_then(|i| self.users.get(i))
            .copied()
            .unwrap_or_default()
    }

    pub fn fee(&self, asset: AssetId) -> u64 {
        self.fee.get(asset.0 as usize).copied().unwrap_or(0)
    }

    pub fn external(&self, asset: AssetId) -> i128 {
        self.external.get(asset.0 as usize).copied().unwrap_or(0)
    }

    /// The balance if its row exists (missing rows are all zero).
    #[inline]
    fn existing_mut(&mut self, user: UserId, asset: AssetId) -> Option<&mut Balance> {
        let i = self.slot(user, asset)?;
        self.users.get_mut(i)
    }

    /// The balance of an existing asset (the caller checked `asset`).
    #[inline]
    fn balance_mut(&mut self, user: UserId, asset: AssetId) -> &mut Balance {
        let i = self
            .slot(user, asset)
            .expect("known asset, bounded user id");
        if i >= self.users.len() {
            self.grow(user);
        }
        &mut self.users[i]
    }

    /// Adds the (zero) rows up to `user`'s; off the hot path, where rows exist after a
    /// user's first deposit.
    #[cold]
    fn grow(&mut self, user: UserId) {
        let rows = user.0 as usize + 1;
        self.users.resize(rows * self.fee.len(), Balance::default());
    }

    /// Moves `amount` of `asset` from `from` to `to`. Refuses, changing nothing, if `from`
    /// cannot give it.
    pub fn transfer(
        &mut self,
        asset: AssetId,
        from: Account,
        to: Account,
        amount: u64,
    ) -> Result<(), LedgerError> {
        let a = asset.0 as usize;
        if a >= self.fee.len() {
            return Err(LedgerError::UnknownAsset(asset));
        }
        if amount == 0 {
            return Ok(());
        }
        let insufficient = LedgerError::Insufficient {
            asset,
            account: from,
            amount,
        };
        // Debit first: a refused debit has changed nothing. A user account that can give
        // `amount > 0` has a row already.
        match from {
            Account::Available(u) => {
                let b = self.existing_mut(u, asset).ok_or(insufficient)?;
                b.available = b.available.checked_sub(amount).ok_or(insufficient)?;
            }
            Account::Held(u) => {
                let b = self.existing_mut(u, asset).ok_or(insufficient)?;
                b.held = b.held.checked_sub(amount).ok_or(insufficient)?;
            }
            Account::Fee => self.fee[a] = self.fee[a].checked_sub(amount).ok_or(insufficient)?,
            Account::External => {
                if self.external[a] - MIN_EXTERNAL < i128::from(amount) {
                    return Err(LedgerError::SupplyOverflow { asset });
                }
                self.external[a] -= i128::from(amount);
            }
        }
        // The supply bound makes the additions below overflow-free.
        match to {
            Account::Available(u) => self.balance_mut(u, asset).available += amount,
            Account::Held(u) => self.balance_mut(u, asset).held += amount,
            Account::Fee => self.fee[a] += amount,
            Account::External => self.external[a] += i128::from(amount),
        }
        Ok(())
    }

    /// Moves `amount` of one user's `asset` from available to held (`to_held`) or back, as
    /// `transfer` between `Available(user)` and `Held(user)` would, and returns the new
    /// balance (the hot path of holds, which publishes it right away).
    #[inline]
    pub fn shift(
        &mut self,
        user: UserId,
        asset: AssetId,
        to_held: bool,
        amount: u64,
    ) -> Result<Balance, LedgerError> {
        let Some(b) = self.existing_mut(user, asset) else {
            return if asset.0 as usize >= self.fee.len() {
                Err(LedgerError::UnknownAsset(asset))
            } else if amount == 0 {
                Ok(Balance::default())
            } else {
                Err(LedgerError::Insufficient {
                    asset,
                    account: if to_held {
                        Account::Available(user)
                    } else {
                        Account::Held(user)
                    },
                    amount,
                })
            };
        };
        let (from, to, account) = if to_held {
            (&mut b.available, &mut b.held, Account::Available(user))
        } else {
            (&mut b.held, &mut b.available, Account::Held(user))
        };
        *from = from.checked_sub(amount).ok_or(LedgerError::Insufficient {
            asset,
            account,
            amount,
        })?;
        *to += amount;
        Ok(*b)
    }

    /// Σ over every account of `asset` (always 0; see the module docs).
    pub fn sum(&self, asset: AssetId) -> i128 {
        let a = asset.0 as usize;
        let n = self.fee.len();
        let users: i128 = if a < n {
            self.users
                .iter()
                .skip(a)
                .step_by(n)
                .map(|b| i128::from(b.available) + i128::from(b.held))
                .sum()
        } else {
            0
        };
        users + i128::from(self.fee(asset)) + self.external(asset)
    }

    /// Every non-zero user balance as `(user, asset, balance)`, sorted: the canonical form
    /// used by snapshots and the state hash.
    pub fn user_balances(&self) -> Vec<(UserId, AssetId, Balance)> {
        let mut out = Vec::new();
        let n = self.fee.len().max(1);
        for (u, row) in self.users.chunks_exact(n).enumerate() {
            for (a, b) in row.iter().enumerate() {
                if *b != Balance::default() {
                    out.push((UserId(u as u64), AssetId(a as u32), *b));
                }
            }
        }
        out
    }

    /// Rebuilds a ledger from its canonical parts (see [`Ledger::user_balances`]) for
    /// users `1..=users`. The parts come from a snapshot file, so anything that would make
    /// the rebuild itself fail (a user id past `users`, which would size the balance table
    /// by it, an external account out of its range) is refused; the caller checks the
    /// rest with the invariants.
    pub fn from_parts(
        fee: Vec<u64>,
        external: Vec<i128>,
        balances: &[(UserId, AssetId, Balance)],
        users: u64,
    ) -> Result<Self, String> {
        if fee.len() != external.len() {
            return Err("fee and external account counts differ".into());
        }
        if let Some(e) = external.iter().find(|e| !(MIN_EXTERNAL..=0).contains(*e)) {
            return Err(format!("external account {e} out of range"));
        }
        let mut ledger = Ledger {
            users: Vec::new(),
            fee,
            external,
        };
        for (u, a, b) in balances {
            if a.0 as usize >= ledger.fee.len() {
                return Err(format!("balance of unknown asset {a}"));
            }
            if u.0 == 0 || u.0 > users {
                return Err(format!("balance of unknown user {u}"));
            }
            *ledger.balance_mut(*u, *a) = *b;
        }
        Ok(ledger)
    }

    pub fn fee_accounts(&self) -> &[u64] {
        &self.fee
    }

    pub fn external_accounts(&self) -> &[i128] {
        &self.external
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const U1: UserId = UserId(1);
    const U2: UserId = UserId(2);

    fn ledger() -> (Ledger, AssetId) {
        let mut l = Ledger::new();
        let a = l.add_asset();
        (l, a)
    }

    #[test]
    fn deposit_hold_settle_withdraw() {
        let (mut l, a) = ledger();
        l.transfer(a, Account::External, Account::Available(U1), 100)
            .unwrap();
        assert_eq!(l.external(a), -100);
        l.transfer(a, Account::Available(U1), Account::Held(U1), 60)
            .unwrap();
        l.transfer(a, Account::Held(U1), Account::Available(U2), 50)
            .unwrap();
        l.transfer(a, Account::Held(U1), Account::Fee, 10).unwrap();
        assert_eq!(
            l.balance(U1, a),
            Balance {
                available: 40,
                held: 0
            }
        );
        assert_eq!(
            l.balance(U2, a),
            Balance {
                available: 50,
                held: 0
            }
        );
        assert_eq!(l.fee(a), 10);
        l.transfer(a, Account::Available(U2), Account::External, 50)
            .unwrap();
        assert_eq!(l.sum(a), 0);
        assert_eq!(l.external(a), -50);
    }

    #[test]
    fn overdraft_is_refused_and_changes_nothing() {
        let (mut l, a) = ledger();
        l.transfer(a, Account::External, Account::Available(U1), 10)
            .unwrap();
        let err = l
            .transfer(a, Account::Available(U1), Account::Held(U1), 11)
            .unwrap_err();
        assert_eq!(
            err,
            LedgerError::Insufficient {
                asset: a,
                account: Account::Available(U1),
                amount: 11
            }
        );
        assert_eq!(
            l.balance(U1, a),
            Balance {
                available: 10,
                held: 0
            }
        );
        assert!(l.transfer(a, Account::Held(U1), Account::Fee, 1).is_err());
        assert!(l
            .transfer(AssetId(9), Account::External, Account::Fee, 1)
            .is_err());
    }

    #[test]
    fn supply_is_bounded_by_i64() {
        let (mut l, a) = ledger();
        l.transfer(a, Account::External, Account::Available(U1), MAX_SUPPLY)
            .unwrap();
        assert_eq!(
            l.transfer(a, Account::External, Account::Available(U2), 1),
            Err(LedgerError::SupplyOverflow { asset: a })
        );
        l.transfer(
            a,
            Account::Available(U1),
            Account::Available(U2),
            MAX_SUPPLY,
        )
        .unwrap();
        assert_eq!(l.balance(U2, a).available, MAX_SUPPLY);
        assert_eq!(l.sum(a), 0);
    }

    #[test]
    fn adding_an_asset_keeps_every_balance() {
        let (mut l, a) = ledger();
        l.transfer(a, Account::External, Account::Available(U2), 7)
            .unwrap();
        l.transfer(a, Account::Available(U2), Account::Held(U2), 3)
            .unwrap();
        let b = l.add_asset();
        l.transfer(b, Account::External, Account::Available(U1), 5)
            .unwrap();
        let c = l.add_asset();
        assert_eq!(
            l.balance(U2, a),
            Balance {
                available: 4,
                held: 3
            }
        );
        assert_eq!(l.balance(U1, b).available, 5);
        assert_eq!(l.balance(U2, c), Balance::default());
        assert_eq!((l.sum(a), l.sum(b), l.sum(c)), (0, 0, 0));
        assert_eq!(l.user_balances().len(), 2);
    }

    #[test]
    fn parts_round_trip() {
        let (mut l, a) = ledger();
        let b = l.add_asset();
        l.transfer(a, Account::External, Account::Available(U2), 7)
            .unwrap();
        l.transfer(b, Account::External, Account::Held(U1), 3)
            .unwrap();
        let parts = l.user_balances();
        assert_eq!(parts.len(), 2);
        let r = Ledger::from_parts(l.fee.clone(), l.external.clone(), &parts, 2).unwrap();
        assert_eq!(r.user_balances(), parts);
        assert_eq!(r.external(b), -3);
        // A user id past the user count would size the table by it: refused.
        let err = Ledger::from_parts(l.fee.clone(), l.external.clone(), &parts, 1);
        assert!(err.unwrap_err().contains("unknown user"));
        let mut huge = parts.clone();
        huge[0].0 = UserId(u64::MAX);
        assert!(Ledger::from_parts(l.fee.clone(), l.external.clone(), &huge, 2).is_err());
        let positive = vec![1, l.external[1]];
        assert!(Ledger::from_parts(l.fee.clone(), positive, &parts, 2).is_err());
    }

    proptest! {
        /// `shift` is exactly `transfer` between a user's available and held, and returns
        /// the balance `balance` then reports (refusals included).
        #[test]
        fn shift_is_transfer_between_available_and_held(
            moves in proptest::collection::vec((1u64..4, 0u32..3, any::<bool>(), 0u64..300, 0u64..200), 1..60)
        ) {
            let (mut a, _) = ledger();
            a.add_asset();
            let mut b = a.clone();
            for (u, asset, to_held, amount, deposit) in moves {
                let (user, asset) = (UserId(u), AssetId(asset));
                let d = (
                    a.transfer(asset, Account::External, Account::Available(user), deposit),
                    b.transfer(asset, Account::External, Account::Available(user), deposit),
                );
                prop_assert_eq!(d.0, d.1);
                let (from, to) = if to_held {
                    (Account::Available(user), Account::Held(user))
                } else {
                    (Account::Held(user), Account::Available(user))
                };
                let got = a.shift(user, asset, to_held, amount);
                let want = b.transfer(asset, from, to, amount).map(|()| b.balance(user, asset));
                prop_assert_eq!(got, want);
                prop_assert_eq!(a.user_balances(), b.user_balances());
            }
        }

        #[test]
        fn random_transfers_keep_the_sum_zero(
            moves in proptest::collection::vec((0u8..8, 0u8..8, 0u64..1_000), 1..60)
        ) {
            let (mut l, a) = ledger();
            let acct = |i: u8| match i {
                0 => Account::External,
                1 => Account::Fee,
                2..=4 => Account::Available(UserId(u64::from(i))),
                _ => Account::Held(UserId(u64::from(i) - 3)),
            };
            for (f, t, amt) in moves {
                let before = l.clone();
                let ok = l.transfer(a, acct(f), acct(t), amt).is_ok();
                if !ok {
                    prop_assert_eq!(l.user_balances(), before.user_balances());
                    prop_assert_eq!(l.fee(a), before.fee(a));
                }
                prop_assert_eq!(l.sum(a), 0);
                prop_assert!(l.external(a) <= 0);
            }
        }
    }
}
