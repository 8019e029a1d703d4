//! Deposits and withdrawals, written as their events come.

use super::{expect_one, i, s};
use crate::db::{Arg, Tx};
use crate::error::Result;
use crate::rows::EventPos;
use bourse_model::Event;

/// `Deposited`, `WithdrawalRequested`, `WithdrawalCompleted`, `WithdrawalRejected`.
pub(super) async fn project(
    tx: &mut Tx,
    pos: EventPos,
    t: Arg<'static>,
    event: &Event,
) -> Result<()> {
    match event {
        Event::Deposited {
            user,
            asset,
            amount,
        } => {
            tx.exec(
                "INSERT INTO deposits (seq, idx, user_id, asset_id, amount, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    i(pos.seq)?,
                    i(u64::from(pos.idx))?,
                    i(user.0)?,
                    i(u64::from(asset.0))?,
                    i(amount.0)?,
                    t,
                ],
            )
            .await?;
        }
        Event::WithdrawalRequested {
            id,
            user,
            asset,
            amount,
            address,
        } => {
            tx.exec(
                "INSERT INTO withdrawals (id, user_id, asset_id, amount, address, status, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'requested', $6, $6)",
                &[
                    i(id.0)?,
                    i(user.0)?,
                    i(u64::from(asset.0))?,
                    i(amount.0)?,
                    s(address.as_str()),
                    t,
                ],
            )
            .await?;
        }
        Event::WithdrawalCompleted { id, .. } | Event::WithdrawalRejected { id, .. } => {
            let status = if matches!(event, Event::WithdrawalCompleted { .. }) {
                "completed"
            } else {
                "rejected"
            };
            let n = tx
                .exec(
                    "UPDATE withdrawals SET status = $2, updated_at = $3 WHERE id = $1 \
                     AND status = 'requested'",
                    &[i(id.0)?, s(status), t],
                )
                .await?;
            expect_one(n, "pending withdrawal", id.0)?;
        }
        _ => unreachable!("Pending::apply routes only deposit and withdrawal events here"),
    }
    Ok(())
}
