//! Reference data, users and funding commands.

use crate::ledger::{Account, Balance};
use crate::push_event;
use crate::state::{ApiKey, AssetState, MarketState, Params, UserState, Withdrawal};
use crate::{BookOps, Check, Core, Reject};
use bourse_model::{
    Amount, AssetId, CancelReason, ClientWithdrawalId, Event, MarketId, MarketSpec, MarketStatus,
    RejectCode, Role, Symbol, Tier, Timestamp, UserId, WithdrawalId,
};
use std::collections::BTreeSet;

impl<B: BookOps> Core<B> {
    pub(crate) fn create_asset(
        &mut self,
        symbol: &Symbol,
        scale: u8,
        out: &mut Vec<Event>,
    ) -> Check {
        if self.asset_ids.contains_key(symbol) {
            return Err(RejectCode::AssetExists.into());
        }
        if scale > 18 {
            // 10^19 minor units no longer fit the u64 amounts.
            return Err(RejectCode::InvalidAssetSpec.into());
        }
        let id = self.ledger.add_asset();
        self.assets.push(AssetState {
            symbol: symbol.clone(),
            scale,
        });
        self.asset_ids.insert(symbol.clone(), id);
        push_event(out, || Event::AssetCreated {
            asset: id,
            symbol: symbol.clone(),
            scale,
        });
        Ok(())
    }

    pub(crate) fn create_market(&mut self, spec: &MarketSpec, out: &mut Vec<Event>) -> Check {
        if self.market_ids.contains_key(&spec.symbol) {
            return Err(RejectCode::MarketExists.into());
        }
        let (base, quote) = match (
            self.assets.get(spec.base.0 as usize),
            self.assets.get(spec.quote.0 as usize),
        ) {
            (Some(b), Some(q)) => (b, q),
            _ => return Err(RejectCode::UnknownAsset.into()),
        };
        let (quote_per_tick_lot, base_per_lot) =
            spec.validate().map_err(|_| RejectCode::InvalidMarketSpec)?;
        if base.scale != spec.base_scale || quote.scale != spec.quote_scale {
            return Err(RejectCode::InvalidMarketSpec.into());
        }
        let id = MarketId(self.markets.len() as u32);
        self.markets.push(MarketState {
            spec: spec.clone(),
            params: Params {
                quote_per_tick_lot,
                base_per_lot,
                base: spec.base,
                quote: spec.quote,
            },
            status: MarketStatus::Open,
            book: B::empty(),
            sequence: 0,
            last_price: None,
            buy_stops: BTreeSet::new(),
            sell_stops: BTreeSet::new(),
        });
        self.market_ids.insert(spec.symbol.clone(), id);
        push_event(out, || Event::MarketCreated {
            market: id,
            spec: Box::new(spec.clone()),
        });
        Ok(())
    }

    pub(crate) fn set_market_status(
        &mut self,
        market: MarketId,
        status: MarketStatus,
        out: &mut Vec<Event>,
    ) -> Check {
        if self.market_state(market)?.status == status {
            return Err(RejectCode::MarketAlreadyInState.into());
        }
        self.markets[market.0 as usize].status = status;
        push_event(out, || Event::MarketStatusChanged { market, status });
        Ok(())
    }

    pub(crate) fn register_user(
        &mut self,
        username: &str,
        password_hash: &str,
        role: Role,
        out: &mut Vec<Event>,
    ) -> Check {
        if self.user_ids.contains_key(username) {
            return Err(RejectCode::UsernameTaken.into());
        }
        self.users.push(UserState::new(
            username.to_owned(),
            password_hash.to_owned(),
            role,
        ));
        let user = UserId(self.users.len() as u64);
        self.user_ids.insert(username.to_owned(), user);
        push_event(out, || Event::UserRegistered {
            user,
            username: username.to_owned(),
            password_hash: password_hash.to_owned(),
            role,
        });
        Ok(())
    }

    pub(crate) fn set_password(&mut self, user: UserId, hash: &str, out: &mut Vec<Event>) -> Check {
        self.user_state(user)?;
        self.user_mut(user).password_hash = hash.to_owned();
        push_event(out, || Event::PasswordChanged {
            user,
            password_hash: hash.to_owned(),
        });
        Ok(())
    }

    pub(crate) fn set_role(&mut self, user: UserId, role: Role, out: &mut Vec<Event>) -> Check {
        self.user_state(user)?;
        self.user_mut(user).role = role;
        push_event(out, || Event::UserRoleChanged { user, role });
        Ok(())
    }

    pub(crate) fn set_flags(
        &mut self,
        user: UserId,
        kyc: Option<bool>,
        kill: Option<bool>,
        tier: Option<Tier>,
        out: &mut Vec<Event>,
    ) -> Check {
        self.user_state(user)?;
        let u = self.user_mut(user);
        if let Some(k) = kyc {
            u.kyc_verified = k;
        }
        if let Some(k) = kill {
            u.kill_switch = k;
        }
        if let Some(t) = tier {
            u.tier = t;
        }
        let (kyc_verified, kill_switch, tier) = (u.kyc_verified, u.kill_switch, u.tier);
        push_event(out, || Event::UserFlagsChanged {
            user,
            kyc_verified,
            kill_switch,
            tier,
        });
        if kill == Some(true) {
            self.cancel_user_orders(user, None, CancelReason::KillSwitch, out);
        }
        if !self.may_trade(&self.users[user.0 as usize - 1]) {
            // Revoked (or never given): an uncleared user keeps no order that could trade.
            self.cancel_user_orders(user, None, CancelReason::KycRequired, out);
        }
        Ok(())
    }

    pub(crate) fn create_api_key(
        &mut self,
        user: UserId,
        key_id: &str,
        secret_enc: &str,
        label: &str,
        scope: bourse_model::ApiKeyScope,
        out: &mut Vec<Event>,
    ) -> Check {
        if self.user_state(user)?.api_keys.contains_key(key_id) {
            return Err(RejectCode::ApiKeyExists.into());
        }
        let key = ApiKey {
            secret_enc: secret_enc.to_owned(),
            label: label.to_owned(),
            scope,
        };
        self.user_mut(user).api_keys.insert(key_id.to_owned(), key);
        push_event(out, || Event::ApiKeyCreated {
            user,
            key_id: key_id.to_owned(),
            secret_enc: secret_enc.to_owned(),
            label: label.to_owned(),
        });
        Ok(())
    }

    pub(crate) fn delete_api_key(
        &mut self,
        user: UserId,
        key_id: &str,
        out: &mut Vec<Event>,
    ) -> Check {
        if !self.user_state(user)?.api_keys.contains_key(key_id) {
            return Err(RejectCode::UnknownApiKey.into());
        }
        self.user_mut(user).api_keys.remove(key_id);
        push_event(out, || Event::ApiKeyDeleted {
            user,
            key_id: key_id.to_owned(),
        });
        Ok(())
    }

    pub(crate) fn revoke_token(
        &mut self,
        user: UserId,
        jti: [u8; 16],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Check {
        self.user_state(user)?;
        let revoked = &mut self.user_mut(user).revoked_tokens;
        // An expired token is refused as expired; remembering it would only grow the list.
        revoked.retain(|_, exp| *exp > now);
        if expires_at > now {
            revoked.insert(jti, expires_at);
        }
        Ok(())
    }

    fn check_asset(&self, asset: AssetId) -> Check {
        if (asset.0 as usize) < self.assets.len() {
            Ok(())
        } else {
            Err(RejectCode::UnknownAsset.into())
        }
    }

    pub(crate) fn deposit(
        &mut self,
        user: UserId,
        asset: AssetId,
        amount: Amount,
        out: &mut Vec<Event>,
    ) -> Check {
        self.user_state(user)?;
        self.check_asset(asset)?;
        if amount.0 == 0 {
            return Err(RejectCode::InvalidAmount.into());
        }
        self.ledger
            .transfer(asset, Account::External, Account::Available(user), amount.0)
            .map_err(|_| RejectCode::InvalidAmount)?;
        push_event(out, || Event::Deposited {
            user,
            asset,
            amount,
        });
        self.emit_balance(user, asset, out);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)] // the command's fields, plus time and output
    pub(crate) fn request_withdrawal(
        &mut self,
        user: UserId,
        asset: AssetId,
        amount: Amount,
        address: &str,
        key: Option<&ClientWithdrawalId>,
        ts: Timestamp,
        out: &mut Vec<Event>,
    ) -> Check {
        let u = self.user_state(user)?;
        self.check_asset(asset)?;
        if let Some(orig) = key.and_then(|k| self.live_client_withdrawal(user, k, ts)) {
            // Before KYC and balance: a retry must find its withdrawal whatever changed.
            return Err(Reject {
                withdrawal: Some(orig),
                ..RejectCode::DuplicateClientWithdrawalId.into()
            });
        }
        if amount.0 == 0 {
            return Err(RejectCode::InvalidAmount.into());
        }
        self.check_withdrawal_kyc(u, user, asset, amount, ts)?;
        self.ledger
            .transfer(
                asset,
                Account::Available(user),
                Account::Held(user),
                amount.0,
            )
            .map_err(|_| RejectCode::InsufficientBalance)?;
        self.count_withdrawal(user, asset, amount.0, ts);
        let id = WithdrawalId(self.next_withdrawal);
        self.next_withdrawal += 1;
        let w = Withdrawal {
            user,
            asset,
            amount: amount.0,
            address: address.to_owned(),
            client_id: key.cloned(),
            requested_at: ts,
        };
        if let Some(k) = key {
            self.remember_client_withdrawal(k, id, &w, ts);
        }
        self.withdrawals.insert(id, w);
        push_event(out, || Event::WithdrawalRequested {
            id,
            user,
            asset,
            amount,
            address: address.to_owned(),
        });
        self.emit_balance(user, asset, out);
        Ok(())
    }

    /// Completes (held → external) or rejects (held → available) a pending withdrawal.
    pub(crate) fn finish_withdrawal(
        &mut self,
        id: WithdrawalId,
        complete: bool,
        out: &mut Vec<Event>,
    ) -> Check {
        let Some(w) = self.withdrawals.remove(&id) else {
            return Err(if id.0 >= 1 && id.0 < self.next_withdrawal {
                RejectCode::WithdrawalNotPending.into()
            } else {
                RejectCode::UnknownWithdrawal.into()
            });
        };
        let to = if complete {
            Account::External
        } else {
            Account::Available(w.user)
        };
        self.ledger
            .transfer(w.asset, Account::Held(w.user), to, w.amount)
            .expect("a pending withdrawal is held");
        if !complete {
            self.uncount_withdrawal(w.user, w.asset, w.amount, w.requested_at);
        }
        self.withdrawal_ended(id, &w);
        let (user, asset, amount) = (w.user, w.asset, Amount(w.amount));
        push_event(out, || {
            if complete {
                Event::WithdrawalCompleted {
                    id,
                    user,
                    asset,
                    amount,
                }
            } else {
                Event::WithdrawalRejected {
                    id,
                    user,
                    asset,
                    amount,
                }
            }
        });
        self.emit_balance(user, asset, out);
        Ok(())
    }

    #[inline]
    pub(crate) fn emit_balance(&self, user: UserId, asset: AssetId, out: &mut Vec<Event>) {
        push_event(out, || {
            balance_event(user, asset, self.ledger.balance(user, asset))
        });
    }
}

#[inline]
pub(crate) fn balance_event(user: UserId, asset: AssetId, b: Balance) -> Event {
    Event::BalanceChanged {
        user,
        asset,
        available: Amount(b.available),
        held: Amount(b.held),
    }
}
