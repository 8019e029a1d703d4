//! Notifications (the users' inbox), price alerts and the notification dead-letter queue.
//!
//! Unlike every other table here these are *not* projections of the journal: the server's
//! notification service writes them, and they are not rebuilt when the read models are
//! rebuilt from the journal (a lost database loses the inbox; trading state is unaffected).
//!
//! Notification ids are assigned by the caller (one writer per database: the server's
//! notification service, which starts from [`Store::max_notification_id`]) so a batch can
//! be inserted in one statement and delivered with its ids without reading them back.
//! Kinds and priorities are stored as the server's wire names; the store does not
//! interpret them.

use crate::db::{insert_many, int, uint, Arg};
use crate::error::{Result, StoreError};
use crate::Store;
use bourse_model::{MarketId, Price, Timestamp, UserId};

/// One inbox entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub id: u64,
    pub user: UserId,
    pub kind: String,
    pub priority: String,
    pub title: String,
    pub message: String,
    /// JSON object with the kind's details.
    pub data: String,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct RawNotification {
    id: i64,
    user_id: i64,
    kind: String,
    priority: String,
    title: String,
    message: String,
    data: String,
    created_at: i64,
    read_at: Option<i64>,
}

impl TryFrom<RawNotification> for NotificationRow {
    type Error = StoreError;
    fn try_from(r: RawNotification) -> Result<Self> {
        const T: &str = "notifications";
        Ok(NotificationRow {
            id: uint(r.id, T)?,
            user: UserId(uint(r.user_id, T)?),
            kind: r.kind,
            priority: r.priority,
            title: r.title,
            message: r.message,
            data: r.data,
            created_at: Timestamp(uint(r.created_at, T)?),
            read_at: r.read_at.map(|t| uint(t, T).map(Timestamp)).transpose()?,
        })
    }
}

/// A user's price alert: fires once when a trade in `market` reaches `price` from the
/// side given by `condition` (`above`: trade price ≥ price, `below`: ≤ price).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceAlertRow {
    pub id: u64,
    pub user: UserId,
    pub market: MarketId,
    pub condition: String,
    pub price: Price,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct RawPriceAlert {
    id: i64,
    user_id: i64,
    market_id: i64,
    condition: String,
    price: i64,
    created_at: i64,
}

impl TryFrom<RawPriceAlert> for PriceAlertRow {
    type Error = StoreError;
    fn try_from(r: RawPriceAlert) -> Result<Self> {
        const T: &str = "price_alerts";
        Ok(PriceAlertRow {
            id: uint(r.id, T)?,
            user: UserId(uint(r.user_id, T)?),
            market: MarketId(u32::try_from(r.market_id).map_err(|_| StoreError::Corrupt(T))?),
            condition: r.condition,
            price: Price(uint(r.price, T)?),
            created_at: Timestamp(uint(r.created_at, T)?),
        })
    }
}

/// A notification whose delivery failed, kept for an admin to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterRow {
    pub id: u64,
    pub notification_id: u64,
    pub user: UserId,
    pub reason: String,
    pub attempts: u32,
    pub created_at: Timestamp,
    pub last_attempt_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct RawDeadLetter {
    id: i64,
    notification_id: i64,
    user_id: i64,
    reason: String,
    attempts: i64,
    created_at: i64,
    last_attempt_at: i64,
}

impl TryFrom<RawDeadLetter> for DeadLetterRow {
    type Error = StoreError;
    fn try_from(r: RawDeadLetter) -> Result<Self> {
        const T: &str = "notification_dead_letters";
        Ok(DeadLetterRow {
            id: uint(r.id, T)?,
            notification_id: uint(r.notification_id, T)?,
            user: UserId(uint(r.user_id, T)?),
            reason: r.reason,
            attempts: u32::try_from(r.attempts).map_err(|_| StoreError::Corrupt(T))?,
            created_at: Timestamp(uint(r.created_at, T)?),
            last_attempt_at: Timestamp(uint(r.last_attempt_at, T)?),
        })
    }
}

#[derive(sqlx::FromRow)]
struct RawMax {
    max_id: Option<i64>,
}

fn i(v: u64) -> Result<Arg<'static>> {
    Ok(Arg::I64(int(v, "notification value")?))
}

fn page(limit: u32) -> Arg<'static> {
    Arg::I64(i64::from(limit.clamp(1, crate::MAX_PAGE)))
}

impl Store {
    async fn exec(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64> {
        let mut tx = self.backend.begin().await?;
        let n = tx.exec(sql, args).await?;
        tx.commit().await?;
        Ok(n)
    }

    // ---- inbox ----

    /// The largest notification id stored (0 when empty).
    pub async fn max_notification_id(&self) -> Result<u64> {
        let row = self
            .backend
            .fetch_optional::<RawMax>("SELECT MAX(id) AS max_id FROM notifications", &[])
            .await?;
        row.and_then(|r| r.max_id)
            .map_or(Ok(0), |v| uint(v, "notifications"))
    }

    /// Inserts notifications (ids chosen by the caller) in one transaction.
    pub async fn insert_notifications(&self, rows: &[NotificationRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut flat = Vec::with_capacity(rows.len() * 9);
        for r in rows {
            flat.extend([
                i(r.id)?,
                i(r.user.0)?,
                Arg::Str(r.kind.as_str().into()),
                Arg::Str(r.priority.as_str().into()),
                Arg::Str(r.title.as_str().into()),
                Arg::Str(r.message.as_str().into()),
                Arg::Str(r.data.as_str().into()),
                i(r.created_at.0)?,
                Arg::OptI64(r.read_at.map(|t| int(t.0, "read_at")).transpose()?),
            ]);
        }
        let mut tx = self.backend.begin().await?;
        insert_many(
            &mut tx,
            "INSERT INTO notifications (id, user_id, kind, priority, title, message, data, \
             created_at, read_at) VALUES",
            "",
            9,
            &flat,
        )
        .await?;
        tx.commit().await
    }

    /// A user's notifications, newest first; `before` is the last id of the previous page.
    pub async fn notifications(
        &self,
        user: UserId,
        unread_only: bool,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<NotificationRow>> {
        let mut sql = String::from("SELECT * FROM notifications WHERE user_id = $1");
        let mut args = vec![i(user.0)?];
        if unread_only {
            sql.push_str(" AND read_at IS NULL");
        }
        if let Some(b) = before {
            args.push(i(b)?);
            sql.push_str(&format!(" AND id < ${}", args.len()));
        }
        args.push(page(limit));
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", args.len()));
        self.backend
            .fetch_all::<RawNotification>(&sql, &args)
            .await?
            .into_iter()
            .map(NotificationRow::try_from)
            .collect()
    }

    pub async fn notification(&self, id: u64) -> Result<Option<NotificationRow>> {
        self.backend
            .fetch_optional::<RawNotification>(
                "SELECT * FROM notifications WHERE id = $1",
                &[i(id)?],
            )
            .await?
            .map(NotificationRow::try_from)
            .transpose()
    }

    /// Unread notifications of a user.
    pub async fn unread_notifications(&self, user: UserId) -> Result<u64> {
        let row = self
            .backend
            .fetch_optional::<RawMax>(
                "SELECT COUNT(*) AS max_id FROM notifications WHERE user_id = $1 AND read_at IS NULL",
                &[i(user.0)?],
            )
            .await?;
        row.and_then(|r| r.max_id)
            .map_or(Ok(0), |v| uint(v, "notifications"))
    }

    /// Marks one of `user`'s notifications read (keeps the first read time). `false` when
    /// there is no such notification of that user.
    pub async fn mark_notification_read(
        &self,
        user: UserId,
        id: u64,
        at: Timestamp,
    ) -> Result<bool> {
        let n = self
            .exec(
                "UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3",
                &[i(at.0)?, i(id)?, i(user.0)?],
            )
            .await?;
        Ok(n > 0)
    }

    /// Marks every unread notification of `user` read; returns how many changed.
    pub async fn mark_all_notifications_read(&self, user: UserId, at: Timestamp) -> Result<u64> {
        self.exec(
            "UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL",
            &[i(at.0)?, i(user.0)?],
        )
        .await
    }

    // ---- price alerts ----

    pub async fn insert_price_alert(
        &self,
        user: UserId,
        market: MarketId,
        condition: &str,
        price: Price,
        created_at: Timestamp,
    ) -> Result<PriceAlertRow> {
        let row = self
            .backend
            .fetch_optional::<RawPriceAlert>(
                "INSERT INTO price_alerts (user_id, market_id, condition, price, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING *",
                &[
                    i(user.0)?,
                    Arg::I64(i64::from(market.0)),
                    Arg::Str(condition.to_owned().into()),
                    i(price.0)?,
                    i(created_at.0)?,
                ],
            )
            .await?
            .ok_or(StoreError::Corrupt("price_alerts"))?;
        PriceAlertRow::try_from(row)
    }

    /// Price alerts of one user, or of everyone (`None`), in id order.
    pub async fn price_alerts(&self, user: Option<UserId>) -> Result<Vec<PriceAlertRow>> {
        let rows = match user {
            Some(u) => {
                self.backend
                    .fetch_all::<RawPriceAlert>(
                        "SELECT * FROM price_alerts WHERE user_id = $1 ORDER BY id",
                        &[i(u.0)?],
                    )
                    .await?
            }
            None => {
                self.backend
                    .fetch_all::<RawPriceAlert>("SELECT * FROM price_alerts ORDER BY id", &[])
                    .await?
            }
        };
        rows.into_iter().map(PriceAlertRow::try_from).collect()
    }

    /// Deletes one of `user`'s alerts; `false` when there is no such alert of that user.
    pub async fn delete_price_alert(&self, user: UserId, id: u64) -> Result<bool> {
        let n = self
            .exec(
                "DELETE FROM price_alerts WHERE id = $1 AND user_id = $2",
                &[i(id)?, i(user.0)?],
            )
            .await?;
        Ok(n > 0)
    }

    /// Deletes alerts that fired.
    pub async fn delete_price_alerts(&self, ids: &[u64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.backend.begin().await?;
        for id in ids {
            tx.exec("DELETE FROM price_alerts WHERE id = $1", &[i(*id)?])
                .await?;
        }
        tx.commit().await
    }

    // ---- dead letters ----

    pub async fn insert_dead_letter(
        &self,
        notification_id: u64,
        user: UserId,
        reason: &str,
        at: Timestamp,
    ) -> Result<DeadLetterRow> {
        let row = self
            .backend
            .fetch_optional::<RawDeadLetter>(
                "INSERT INTO notification_dead_letters (notification_id, user_id, reason, \
                 attempts, created_at, last_attempt_at) VALUES ($1, $2, $3, 1, $4, $4) RETURNING *",
                &[
                    i(notification_id)?,
                    i(user.0)?,
                    Arg::Str(reason.to_owned().into()),
                    i(at.0)?,
                ],
            )
            .await?
            .ok_or(StoreError::Corrupt("notification_dead_letters"))?;
        DeadLetterRow::try_from(row)
    }

    /// Dead letters, newest first; `before` is the last id of the previous page.
    pub async fn dead_letters(
        &self,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<DeadLetterRow>> {
        let rows = match before {
            Some(b) => {
                self.backend
                    .fetch_all::<RawDeadLetter>(
                        "SELECT * FROM notification_dead_letters WHERE id < $1 ORDER BY id DESC LIMIT $2",
                        &[i(b)?, page(limit)],
                    )
                    .await?
            }
            None => {
                self.backend
                    .fetch_all::<RawDeadLetter>(
                        "SELECT * FROM notification_dead_letters ORDER BY id DESC LIMIT $1",
                        &[page(limit)],
                    )
                    .await?
            }
        };
        rows.into_iter().map(DeadLetterRow::try_from).collect()
    }

    pub async fn dead_letter(&self, id: u64) -> Result<Option<DeadLetterRow>> {
        self.backend
            .fetch_optional::<RawDeadLetter>(
                "SELECT * FROM notification_dead_letters WHERE id = $1",
                &[i(id)?],
            )
            .await?
            .map(DeadLetterRow::try_from)
            .transpose()
    }

    /// Removes a dead letter (its retry was delivered).
    pub async fn delete_dead_letter(&self, id: u64) -> Result<bool> {
        Ok(self
            .exec(
                "DELETE FROM notification_dead_letters WHERE id = $1",
                &[i(id)?],
            )
            .await?
            > 0)
    }

    /// Records another failed attempt.
    pub async fn dead_letter_failed_again(
        &self,
        id: u64,
        reason: &str,
        at: Timestamp,
    ) -> Result<()> {
        self.exec(
            "UPDATE notification_dead_letters SET attempts = attempts + 1, reason = $1, \
             last_attempt_at = $2 WHERE id = $3",
            &[Arg::Str(reason.to_owned().into()), i(at.0)?, i(id)?],
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, user: u64, priority: &str) -> NotificationRow {
        NotificationRow {
            id,
            user: UserId(user),
            kind: "order_accepted".into(),
            priority: priority.into(),
            title: "Order accepted".into(),
            message: format!("order {id}"),
            data: "{}".into(),
            created_at: Timestamp(1000 + id),
            read_at: None,
        }
    }

    #[tokio::test]
    async fn inbox_pages_filters_and_marks_read() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("n.db").display());
        let s = Store::connect(&url).await.unwrap();
        assert_eq!(s.max_notification_id().await.unwrap(), 0);
        let rows: Vec<_> = (1..=45).map(|n| row(n, 1 + n % 2, "normal")).collect();
        s.insert_notifications(&rows).await.unwrap();
        assert_eq!(s.max_notification_id().await.unwrap(), 45);

        // User 2 owns the odd ids: 23 of them, paged 10 at a time, newest first.
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = s.notifications(UserId(2), false, before, 10).await.unwrap();
            if page.is_empty() {
                break;
            }
            before = page.last().map(|r| r.id);
            seen.extend(page.into_iter().map(|r| r.id));
        }
        let want: Vec<u64> = (1..=45).rev().filter(|n| n % 2 == 1).collect();
        assert_eq!(seen, want);

        assert!(s
            .mark_notification_read(UserId(2), 45, Timestamp(5))
            .await
            .unwrap());
        assert!(
            !s.mark_notification_read(UserId(1), 45, Timestamp(6))
                .await
                .unwrap(),
            "not the owner"
        );
        assert!(!s
            .mark_notification_read(UserId(2), 999, Timestamp(6))
            .await
            .unwrap());
        let n45 = s.notification(45).await.unwrap().unwrap();
        assert_eq!(n45.read_at, Some(Timestamp(5)));
        assert_eq!(s.unread_notifications(UserId(2)).await.unwrap(), 22);
        let unread = s.notifications(UserId(2), true, None, 100).await.unwrap();
        assert_eq!(unread.len(), 22);
        assert!(unread.iter().all(|r| r.read_at.is_none() && r.id != 45));
        assert_eq!(
            s.mark_all_notifications_read(UserId(2), Timestamp(7))
                .await
                .unwrap(),
            22
        );
        assert_eq!(s.unread_notifications(UserId(2)).await.unwrap(), 0);
        assert_eq!(s.unread_notifications(UserId(1)).await.unwrap(), 22);

        let a = s
            .insert_price_alert(UserId(1), MarketId(1), "above", Price(100), Timestamp(1))
            .await
            .unwrap();
        let b = s
            .insert_price_alert(UserId(2), MarketId(1), "below", Price(90), Timestamp(1))
            .await
            .unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(
            s.price_alerts(None).await.unwrap(),
            vec![a.clone(), b.clone()]
        );
        assert_eq!(
            s.price_alerts(Some(UserId(2))).await.unwrap(),
            vec![b.clone()]
        );
        assert!(
            !s.delete_price_alert(UserId(2), a.id).await.unwrap(),
            "not the owner"
        );
        assert!(s.delete_price_alert(UserId(1), a.id).await.unwrap());
        s.delete_price_alerts(&[b.id]).await.unwrap();
        assert!(s.price_alerts(None).await.unwrap().is_empty());

        let d = s
            .insert_dead_letter(3, UserId(2), "slow consumer", Timestamp(9))
            .await
            .unwrap();
        assert_eq!(d.attempts, 1);
        s.dead_letter_failed_again(d.id, "offline", Timestamp(10))
            .await
            .unwrap();
        let d2 = s.dead_letter(d.id).await.unwrap().unwrap();
        assert_eq!((d2.attempts, d2.reason.as_str()), (2, "offline"));
        assert_eq!(s.dead_letters(None, 10).await.unwrap(), vec![d2]);
        assert!(s.delete_dead_letter(d.id).await.unwrap());
        assert!(s.dead_letters(None, 10).await.unwrap().is_empty());
    }
}
