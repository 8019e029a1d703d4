//! Withdrawal requests for every channel: the one place that checks the caller may move
//! money out (the `withdraw` permission; a password session always may) before
//! `RequestWithdrawal` is submitted. Parsing the amount on the asset's scale, the
//! address rules and the idempotent retry stay with the channel.

use crate::auth::Caller;
use crate::error::Error;
use crate::Gateway;
use bourse_engine::Applied;
use bourse_model::{Amount, AssetId, ClientWithdrawalId, CommandKind, Permission};

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
        Ok(self
            .seq
            .submit(CommandKind::RequestWithdrawal {
                user: caller.id,
                asset,
                amount,
                address,
                client_withdrawal_id,
            })
            .await?)
    }
}
