//! Balances: the last value of each (user, asset) in the batch, upserted once, and every
//! change as a history row.

use super::{i, Pending};
use crate::db::{insert_many, Tx};
use crate::error::Result;
use crate::rows::{BalanceHistoryRow, BalanceRow, EventPos};
use bourse_model::{Event, Timestamp};

impl Pending {
    /// `BalanceChanged`.
    pub(super) fn project_balance(&mut self, pos: EventPos, ts: Timestamp, event: &Event) {
        match event {
            Event::BalanceChanged {
                user,
                asset,
                available,
                held,
            } => {
                self.balances.insert(
                    (*user, *asset),
                    BalanceRow {
                        user: *user,
                        asset: *asset,
                        available: *available,
                        held: *held,
                        updated_at: ts,
                    },
                );
                self.history.push(BalanceHistoryRow {
                    pos,
                    user: *user,
                    asset: *asset,
                    available: *available,
                    held: *held,
                    created_at: ts,
                });
            }
            _ => unreachable!("Pending::apply routes only balance events here"),
        }
    }

    pub(super) async fn flush_balances(&mut self, tx: &mut Tx) -> Result<()> {
        let mut flat = Vec::with_capacity(self.balances.len() * 5);
        for b in self.balances.values() {
            flat.extend([
                i(b.user.0)?,
                i(u64::from(b.asset.0))?,
                i(b.available.0)?,
                i(b.held.0)?,
                i(b.updated_at.0)?,
            ]);
        }
        insert_many(
            tx,
            "INSERT INTO balances (user_id, asset_id, available, held, updated_at) VALUES",
            " ON CONFLICT (user_id, asset_id) DO UPDATE SET available = excluded.available, \
             held = excluded.held, updated_at = excluded.updated_at",
            5,
            &flat,
        )
        .await?;

        let mut flat = Vec::with_capacity(self.history.len() * 7);
        for h in &self.history {
            flat.extend([
                i(h.pos.seq)?,
                i(u64::from(h.pos.idx))?,
                i(h.user.0)?,
                i(u64::from(h.asset.0))?,
                i(h.available.0)?,
                i(h.held.0)?,
                i(h.created_at.0)?,
            ]);
        }
        insert_many(
            tx,
            "INSERT INTO balance_history (seq, idx, user_id, asset_id, available, held, \
             created_at) VALUES",
            "",
            7,
            &flat,
        )
        .await?;
        Ok(())
    }
}
