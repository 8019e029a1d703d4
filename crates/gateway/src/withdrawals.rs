//! Withdrawal requests for every channel: the one place that checks the caller may move
//! money out (the `withdraw` permission; a password session always may) before
//! `RequestWithdrawal` is submitted, and the one place a `WITHDRAWAL_LIMIT` refusal
//! becomes [`Error::WithdrawalLimit`] with the remaining allowance on the asset's scale.
//! Parsing the amount on the asset's scale, the address rules and the idempotent retry
//! stay with the channel.

use crate::auth::Caller;
use crate::error::Error;
use crate::Gateway;
use bourse_engine::Applied;
use bourse_model::{
    format_units, Amount, AssetId, ClientWithdrawalId, CommandKind, Event, Permission, RejectCode,
};

impl Gateway {
    /// Submits the caller's withdrawal request; the answer is the command's events (a
    /// refusal of the core among them, for the channel to read).
    pub async fn request_withdrawal(
        &self,
        caller: &Caller,
        asset: AssetId,
        amount: Amount,
        address: String,
        client_withdrawal_id: Option<ClientWithdrawalId>,
    ) -> Result<Applied, Error> {
        caller.require(Permission::Withdraw)?;
        let applied = self
            .seq
            .submit(CommandKind::RequestWithdrawal {
                user: caller.id,
                asset,
                amount,
                address,
                client_withdrawal_id,
            })
            .await?;
        if let Some(Event::Rejected {
            code: RejectCode::WithdrawalLimit,
            remaining: Some(left),
            ..
        }) = applied.events.first()
        {
            // The allowance is the core's, from the same command: exact, no second look.
            let catalog = self.seq.views().catalog();
            let a = catalog
                .asset(asset)
                .ok_or_else(|| Error::internal("a limited asset is not in the catalog"))?;
            return Err(Error::WithdrawalLimit {
                asset: a.symbol.to_string(),
                remaining: format_units(left.0, a.scale),
            });
        }
        Ok(applied)
    }
}
