//! The notification service: events → notifications → inbox and live delivery.
//!
//! Rules:
//! - Exactly twelve kinds ([`Kind`]) and four priorities ([`Priority`]). Most are derived
//!   from the core's events ([`derive`]); `price_alert` from trades crossing a user's
//!   alert (a trade older than the alert never fires it, however late the service reads
//!   it); `system_announcement` from an admin broadcast; `risk_alert` from the kill
//!   switch and from limit breaches (an order refused for a risk limit).
//! - Every notification is written to the user's inbox (the store) first, then offered to
//!   the user's connections subscribed to `notifications`. An offline user gets the inbox
//!   only. Delivery never waits: a full connection queue is a slow consumer.
//! - Slow consumer: a `low` notification is dropped once the connection's queue is half
//!   full; anything that finds the queue full closes the connection (code 4008). Dropped
//!   notifications stay in the inbox. A non-low notification that reached none of the
//!   user's connections because they were full or closing goes to the dead-letter queue,
//!   which admins list and retry.
//! - Batching happens per connection (see `ws::conn`): critical at once, the rest up to 10
//!   per frame or 100 ms. `sent` and `batched_frames` count frames once written.
//! - Notifications are server-side data, not core state: they are not in the journal and
//!   are not rebuilt from it. A crash can lose the notifications of the last batches not
//!   yet written; a read-model rebuild does not bring old ones back.
//! - The inbox is complete: the service reads the sequencer's lossless feed
//!   ([`SequencerHandle::subscribe_all`]), not the lossy broadcast the WS fan-out reads,
//!   so no applied batch is skipped. Under load it falls behind instead — live delivery
//!   comes late and the feed buffers the backlog in memory — but trading is never slowed
//!   down for it.

mod derive;

use crate::push::{Out, Push, Sink, WsStats};
use bourse_engine::sequencer::{now_ms, SequencerHandle};
use bourse_model::{MarketId, Timestamp, UserId};
use bourse_store::{NotificationRow, PriceAlertRow, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The twelve notification kinds (`type` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    OrderAccepted,
    OrderPartiallyFilled,
    OrderFilled,
    /// `data.reason`: `user`, `expired`, `kill_switch`, `kyc_required` or `self_trade_prevention`.
    OrderCanceled,
    OrderRejected,
    StopTriggered,
    BalanceUpdated,
    DepositCredited,
    WithdrawalUpdated,
    PriceAlert,
    RiskAlert,
    SystemAnnouncement,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::OrderAccepted,
        Kind::OrderPartiallyFilled,
        Kind::OrderFilled,
        Kind::OrderCanceled,
        Kind::OrderRejected,
        Kind::StopTriggered,
        Kind::BalanceUpdated,
        Kind::DepositCredited,
        Kind::WithdrawalUpdated,
        Kind::PriceAlert,
        Kind::RiskAlert,
        Kind::SystemAnnouncement,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OrderAccepted => "order_accepted",
            Kind::OrderPartiallyFilled => "order_partially_filled",
            Kind::OrderFilled => "order_filled",
            Kind::OrderCanceled => "order_canceled",
            Kind::OrderRejected => "order_rejected",
            Kind::StopTriggered => "stop_triggered",
            Kind::BalanceUpdated => "balance_updated",
            Kind::DepositCredited => "deposit_credited",
            Kind::WithdrawalUpdated => "withdrawal_updated",
            Kind::PriceAlert => "price_alert",
            Kind::RiskAlert => "risk_alert",
            Kind::SystemAnnouncement => "system_announcement",
        }
    }
}

/// Delivery priority: `critical` is sent at once and alone; `low` is dropped first.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Critical,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }

    /// The priority named `s` (as stored in an inbox row).
    pub fn parse(s: &str) -> Option<Self> {
        [
            Priority::Low,
            Priority::Normal,
            Priority::High,
            Priority::Critical,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// A notification before it has an id.
#[derive(Debug, Clone)]
pub struct Draft {
    pub user: UserId,
    pub kind: Kind,
    pub priority: Priority,
    pub title: String,
    pub message: String,
    pub data: Value,
    pub ts: u64,
}

/// A notification as the inbox and the `notifications` channel show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": 7, "type": "order_filled", "priority": "high",
    "title": "Order filled", "message": "Buy 0.5000 BTC-USD filled",
    "data": {"order_id": 42, "market": "BTC-USD", "filled_quantity": "0.5000"},
    "created_at": 1_700_000_000_000_u64, "read_at": null}))]
pub struct NotificationJson {
    pub id: u64,
    #[serde(rename = "type")]
    #[schema(value_type = Kind)]
    pub kind: String,
    #[schema(value_type = Priority)]
    pub priority: String,
    pub title: String,
    pub message: String,
    /// Kind-specific details (decimal strings for amounts).
    #[schema(value_type = Object)]
    pub data: Value,
    /// ms since the epoch.
    pub created_at: u64,
    /// ms since the epoch; null while unread.
    pub read_at: Option<u64>,
}

impl From<&NotificationRow> for NotificationJson {
    fn from(r: &NotificationRow) -> Self {
        NotificationJson {
            id: r.id,
            kind: r.kind.clone(),
            priority: r.priority.clone(),
            title: r.title.clone(),
            message: r.message.clone(),
            data: serde_json::from_str(&r.data).unwrap_or(Value::Null),
            created_at: r.created_at.0,
            read_at: r.read_at.map(|t| t.0),
        }
    }
}

/// Counters for monitoring (monotonic).
#[derive(Debug, Default)]
pub struct NotifyStats {
    /// Written to an inbox.
    pub created: AtomicU64,
    /// Put on a connection's queue.
    pub queued: AtomicU64,
    /// Written to a socket.
    pub sent: AtomicU64,
    /// Frames written carrying notifications (one or more each).
    pub batched_frames: AtomicU64,
    /// Not delivered to a connection because it was slow (still in the inbox).
    pub dropped: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Inbox reads and writes that failed (each is retried until it succeeds).
    pub inbox_errors: AtomicU64,
}

/// A plain copy of [`NotifyStats`].
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct NotifyStatsSnapshot {
    pub created: u64,
    pub queued: u64,
    pub sent: u64,
    pub batched_frames: u64,
    pub dropped: u64,
    pub dead_lettered: u64,
    pub inbox_errors: u64,
    /// Committed commands not yet turned into notifications: how far the service lags
    /// (its feed is lossless, so a lag costs memory and delay, never a notification).
    pub backlog_commands: u64,
}

impl NotifyStats {
    fn snapshot(&self, backlog_commands: u64) -> NotifyStatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        NotifyStatsSnapshot {
            backlog_commands,
            created: g(&self.created),
            queued: g(&self.queued),
            sent: g(&self.sent),
            batched_frames: g(&self.batched_frames),
            dropped: g(&self.dropped),
            dead_lettered: g(&self.dead_lettered),
            inbox_errors: g(&self.inbox_errors),
        }
    }
}

/// What happened to one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Queued on at least one connection.
    Delivered,
    /// No connection subscribed: inbox only.
    Offline,
    /// Connections existed but none took it.
    Failed(&'static str),
}

pub struct Notifier {
    store: Store,
    seq: SequencerHandle,
    pub stats: NotifyStats,
    ws_stats: Arc<WsStats>,
    subs: Mutex<HashMap<UserId, Vec<Sink>>>,
    /// Next id to assign; loaded from the store on first use. Held across the insert so
    /// ids reach the inbox in order.
    next_id: tokio::sync::Mutex<Option<u64>>,
    alerts: tokio::sync::OnceCell<Mutex<HashMap<MarketId, Vec<PriceAlertRow>>>>,
    /// Journal sequence of the last batch turned into notifications.
    processed: watch::Sender<u64>,
}

impl Notifier {
    /// Subscribes to the sequencer's lossless feed now and starts the service task.
    pub(crate) fn spawn(
        seq: SequencerHandle,
        store: Store,
        ws_stats: Arc<WsStats>,
    ) -> Arc<Notifier> {
        let (start, rx) = seq.subscribe_all("notifications");
        let n = Arc::new(Notifier {
            store,
            seq,
            stats: NotifyStats::default(),
            ws_stats,
            subs: Mutex::new(HashMap::new()),
            next_id: tokio::sync::Mutex::new(None),
            alerts: tokio::sync::OnceCell::new(),
            processed: watch::channel(start).0,
        });
        tokio::spawn(n.clone().run(rx));
        n
    }

    async fn run(self: Arc<Self>, mut rx: bourse_engine::feed::FeedReceiver) {
        let mut catalog = derive::Catalog::default();
        // Group what queued meanwhile into one inbox write.
        let mut batches = Vec::with_capacity(64);
        while rx.recv_many(&mut batches, 64).await > 0 {
            let mut drafts = Vec::new();
            let mut last = 0;
            for b in &batches {
                for cmd in &b.commands {
                    if let Some(user) = crate::push::revokes_credentials_of(&cmd.kind) {
                        // Ahead of every notification of a later command, so a revoked
                        // session drops those (the fan-out's re-check may come later).
                        self.recheck(user);
                    }
                    if catalog.stale(&cmd.events) {
                        catalog.load(&self.seq);
                    }
                    derive::drafts(&catalog, cmd, &mut drafts);
                    self.price_alerts(&catalog, cmd, &mut drafts).await;
                    last = cmd.seq;
                }
            }
            self.publish(drafts).await;
            batches.clear();
            self.processed.send_if_modified(|done| {
                let newer = last > *done;
                *done = (*done).max(last);
                newer
            });
        }
    }

    /// The counters, and the backlog at this moment.
    pub fn stats(&self) -> NotifyStatsSnapshot {
        let committed = self.seq.status().committed_seq();
        self.stats
            .snapshot(committed.saturating_sub(*self.processed.borrow()))
    }

    /// Waits (bounded) until every committed command has been turned into notifications,
    /// so an inbox read after a write sees its notifications.
    pub async fn fence(&self, timeout: Duration) {
        let target = self.seq.status().committed_seq();
        let mut rx = self.processed.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|s| *s >= target)).await;
    }

    pub(crate) fn subscribe(&self, user: UserId, sink: Sink) {
        let mut subs = self.subs.lock().expect("notify subs lock");
        let list = subs.entry(user).or_default();
        if !list.iter().any(|s| s.id == sink.id) {
            list.push(sink);
        }
    }

    fn recheck(&self, user: UserId) {
        let sinks = self
            .subs
            .lock()
            .expect("notify subs lock")
            .get(&user)
            .cloned();
        for s in sinks.into_iter().flatten() {
            s.push(Out::Recheck, &self.ws_stats);
        }
    }

    pub(crate) fn unsubscribe(&self, user: UserId, conn: crate::push::ConnId) {
        let mut subs = self.subs.lock().expect("notify subs lock");
        if let Some(list) = subs.get_mut(&user) {
            list.retain(|s| s.id != conn);
            if list.is_empty() {
                subs.remove(&user);
            }
        }
    }

    /// Writes drafts to the inbox, then offers each to its user's connections.
    pub async fn publish(&self, drafts: Vec<Draft>) -> Vec<NotificationRow> {
        if drafts.is_empty() {
            return Vec::new();
        }
        let rows = {
            let mut next = self.next_id.lock().await;
            let first = match *next {
                Some(n) => n,
                None => {
                    let max = retry("read the inbox", &self.stats, || {
                        self.store.max_notification_id()
                    })
                    .await;
                    max + 1
                }
            };
            let rows: Vec<NotificationRow> = drafts
                .into_iter()
                .enumerate()
                .map(|(i, d)| NotificationRow {
                    id: first + i as u64,
                    user: d.user,
                    kind: d.kind.as_str().to_owned(),
                    priority: d.priority.as_str().to_owned(),
                    title: d.title,
                    message: d.message,
                    data: d.data.to_string(),
                    created_at: Timestamp(d.ts),
                    read_at: None,
                })
                .collect();
            *next = Some(first + rows.len() as u64);
            // Never dropped: retried until the database takes it. Meanwhile this service
            // falls behind, its feed fills, and /health says so (see bourse_engine::feed).
            retry("write the inbox", &self.stats, || {
                self.store.insert_notifications(&rows)
            })
            .await;
            self.stats
                .created
                .fetch_add(rows.len() as u64, Ordering::Relaxed);
            rows
        };
        for r in &rows {
            if let Delivery::Failed(reason) = self.deliver(r) {
                self.dead_letter(r, reason).await;
            }
        }
        rows
    }

    /// Offers one stored notification to the user's subscribed connections.
    pub fn deliver(&self, r: &NotificationRow) -> Delivery {
        let sinks = {
            let subs = self.subs.lock().expect("notify subs lock");
            match subs.get(&r.user) {
                Some(list) if !list.is_empty() => list.clone(),
                _ => return Delivery::Offline,
            }
        };
        let (outcome, gone) = offer(&sinks, r, &self.stats, &self.ws_stats);
        for conn in gone {
            self.unsubscribe(r.user, conn);
        }
        outcome
    }

    async fn dead_letter(&self, r: &NotificationRow, reason: &'static str) {
        match self
            .store
            .insert_dead_letter(r.id, r.user, reason, Timestamp(now_ms()))
            .await
        {
            Ok(_) => {
                self.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
                crate::metrics::notification_dead_lettered(&r.priority);
            }
            Err(e) => tracing::error!(error = %e, "notifications: dead-letter write failed"),
        }
    }

    /// Retries a dead letter: delivered → removed from the queue; otherwise its attempt
    /// count grows. `None` when there is no such dead letter.
    pub async fn retry(&self, id: u64) -> Result<Option<Delivery>, StoreError> {
        let Some(dl) = self.store.dead_letter(id).await? else {
            return Ok(None);
        };
        let Some(row) = self.store.notification(dl.notification_id).await? else {
            self.store.delete_dead_letter(id).await?;
            return Ok(Some(Delivery::Failed("the notification no longer exists")));
        };
        let outcome = self.deliver(&row);
        match outcome {
            Delivery::Delivered => {
                self.store.delete_dead_letter(id).await?;
            }
            Delivery::Offline => {
                self.store
                    .dead_letter_failed_again(id, "user offline", Timestamp(now_ms()))
                    .await?;
            }
            Delivery::Failed(reason) => {
                self.store
                    .dead_letter_failed_again(id, reason, Timestamp(now_ms()))
                    .await?;
            }
        }
        Ok(Some(outcome))
    }

    /// A system announcement to every user. Returns how many got it.
    pub async fn announce(
        &self,
        title: String,
        message: String,
        priority: Priority,
    ) -> Result<usize, crate::error::Error> {
        let users = self.seq.query(|core| core.user_count() as u64).await?;
        let ts = now_ms();
        let drafts: Vec<Draft> = (1..=users)
            .map(|u| Draft {
                user: UserId(u),
                kind: Kind::SystemAnnouncement,
                priority,
                title: title.clone(),
                message: message.clone(),
                data: Value::Object(Default::default()),
                ts,
            })
            .collect();
        let n = drafts.len();
        for chunk in drafts.chunks(1000) {
            self.publish(chunk.to_vec()).await;
        }
        Ok(n)
    }

    /// A risk alert for one user (also for other modules, e.g. limit checks).
    pub async fn risk_alert(&self, user: UserId, title: &str, message: &str, data: Value) {
        self.publish(vec![Draft {
            user,
            kind: Kind::RiskAlert,
            priority: Priority::Critical,
            title: title.to_owned(),
            message: message.to_owned(),
            data,
            ts: now_ms(),
        }])
        .await;
    }

    async fn alert_cache(&self) -> &Mutex<HashMap<MarketId, Vec<PriceAlertRow>>> {
        self.alerts
            .get_or_init(|| async {
                let mut map: HashMap<MarketId, Vec<PriceAlertRow>> = HashMap::new();
                match self.store.price_alerts(None).await {
                    Ok(rows) => {
                        for r in rows {
                            map.entry(r.market).or_default().push(r);
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "notifications: cannot load price alerts")
                    }
                }
                Mutex::new(map)
            })
            .await
    }

    /// Starts watching a stored alert.
    pub async fn watch_alert(&self, row: PriceAlertRow) {
        let cache = self.alert_cache().await;
        let mut map = cache.lock().expect("alerts lock");
        let list = map.entry(row.market).or_default();
        if !list.iter().any(|a| a.id == row.id) {
            list.push(row);
        }
    }

    pub async fn forget_alert(&self, id: u64) {
        let cache = self.alert_cache().await;
        let mut map = cache.lock().expect("alerts lock");
        for list in map.values_mut() {
            list.retain(|a| a.id != id);
        }
    }

    async fn price_alerts(
        &self,
        catalog: &derive::Catalog,
        cmd: &bourse_engine::sequencer::AppliedCommand,
        out: &mut Vec<Draft>,
    ) {
        let trades: Vec<_> = cmd
            .events
            .iter()
            .filter_map(|e| match e {
                bourse_model::Event::Trade { market, price, .. } => Some((*market, *price)),
                _ => None,
            })
            .collect();
        if trades.is_empty() {
            return;
        }
        // (alert, the trade price that fired it)
        let fired: Vec<(PriceAlertRow, bourse_model::Price)> = {
            let cache = self.alert_cache().await;
            let mut map = cache.lock().expect("alerts lock");
            let mut fired = Vec::new();
            for (market, price) in trades {
                if let Some(list) = map.get_mut(&market) {
                    // A trade older than the alert does not fire it: the service may
                    // reach a trade long after it happened, and the alert may have been
                    // created meanwhile.
                    let (hit, keep): (Vec<_>, Vec<_>) = list.drain(..).partition(|a| {
                        cmd.ts >= a.created_at
                            && ((a.condition == "above" && price >= a.price)
                                || (a.condition == "below" && price <= a.price))
                    });
                    *list = keep;
                    fired.extend(hit.into_iter().map(|a| (a, price)));
                }
            }
            fired
        };
        if fired.is_empty() {
            return;
        }
        let ids: Vec<u64> = fired.iter().map(|a| a.0.id).collect();
        if let Err(e) = self.store.delete_price_alerts(&ids).await {
            tracing::error!(error = %e, "notifications: cannot delete fired price alerts");
        }
        for (a, price) in fired {
            out.push(derive::price_alert(catalog, &a, price, cmd.ts.0));
        }
    }
}

/// Offers `r` to each of `sinks` (connections of its user subscribed to `notifications`):
/// the outcome, and the connections found gone.
///
/// A connection already closing (marked a slow consumer) writes no private frame any
/// more, so queueing there would be a silent loss: it counts as a failed delivery, like
/// a full queue. A `low` notification is not offered to a queue at least half full.
fn offer(
    sinks: &[Sink],
    r: &NotificationRow,
    stats: &NotifyStats,
    ws_stats: &WsStats,
) -> (Delivery, Vec<crate::push::ConnId>) {
    let priority = Priority::parse(&r.priority).unwrap_or(Priority::Normal);
    let low = priority == Priority::Low;
    let critical = priority == Priority::Critical;
    let json: axum::extract::ws::Utf8Bytes = serde_json::to_string(&NotificationJson::from(r))
        .unwrap_or_default()
        .into();
    let mut delivered = false;
    let mut failure = None;
    let mut gone = Vec::new();
    for s in sinks {
        if s.closing() {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            failure.get_or_insert("slow consumer");
            continue;
        }
        if low && s.room() < s.max_room() / 2 {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let out = Out::Notification {
            user: r.user,
            critical,
            priority: priority.as_str(),
            id: r.id,
            json: json.clone(),
        };
        match s.push(out, ws_stats) {
            Push::Queued => {
                delivered = true;
                stats.queued.fetch_add(1, Ordering::Relaxed);
                crate::metrics::notification_queued(&r.priority);
            }
            Push::Full => {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                failure = Some("slow consumer");
            }
            Push::Closed => {
                gone.push(s.id);
                failure.get_or_insert("connection closed");
            }
        }
    }
    let outcome = match (delivered, failure) {
        (true, _) => Delivery::Delivered,
        // A low-priority drop is by design: the inbox has it.
        (false, Some(reason)) if !low => Delivery::Failed(reason),
        _ => Delivery::Offline,
    };
    (outcome, gone)
}

/// Runs `op` until it succeeds, waiting longer after each failure (100 ms doubling to
/// 5 s); every failure is logged and counted in `inbox_errors`.
async fn retry<T, F, Fut>(what: &str, stats: &NotifyStats, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut wait = Duration::from_millis(100);
    loop {
        match op().await {
            Ok(v) => return v,
            Err(e) => {
                tracing::error!(error = %e, "notifications: cannot {what}; retrying in {wait:?}");
                stats.inbox_errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(priority: Priority) -> NotificationRow {
        NotificationRow {
            id: 1,
            user: UserId(7),
            kind: Kind::OrderAccepted.as_str().to_owned(),
            priority: priority.as_str().to_owned(),
            title: "t".into(),
            message: "m".into(),
            data: "{}".into(),
            created_at: Timestamp(0),
            read_at: None,
        }
    }

    fn offered(sinks: &[Sink], p: Priority) -> (Delivery, NotifyStatsSnapshot) {
        let stats = NotifyStats::default();
        let (d, _) = offer(sinks, &row(p), &stats, &WsStats::default());
        (d, stats.snapshot(0))
    }

    #[test]
    fn a_closing_connection_is_a_failed_delivery_not_a_delivered_one() {
        let (sink, mut rx) = Sink::for_test(1, 16);
        assert!(sink.close(crate::push::close_code::SLOW_CONSUMER));
        for p in [Priority::Normal, Priority::Critical] {
            let (d, st) = offered(std::slice::from_ref(&sink), p);
            assert_eq!(d, Delivery::Failed("slow consumer"), "{p:?}");
            assert_eq!((st.queued, st.dropped), (0, 1));
        }
        // Low: dropped by design, no dead letter.
        let (d, st) = offered(std::slice::from_ref(&sink), Priority::Low);
        assert_eq!((d, st.dropped), (Delivery::Offline, 1));
        assert!(
            rx.try_recv().is_err(),
            "nothing queued on a closing connection"
        );
        // Another, healthy connection of the same user still gets it.
        let (healthy, mut rx2) = Sink::for_test(2, 16);
        let (d, st) = offered(&[sink, healthy], Priority::Normal);
        assert_eq!((d, st.queued, st.dropped), (Delivery::Delivered, 1, 1));
        assert!(rx2.try_recv().is_ok());
    }

    #[test]
    fn low_priority_is_dropped_at_half_a_queue_the_rest_only_when_full() {
        let (sink, _rx) = Sink::for_test(1, 16);
        let sinks = std::slice::from_ref(&sink);
        // Up to half full (8 of 16 queued before it), low is queued...
        for _ in 0..9 {
            assert_eq!(offered(sinks, Priority::Low).0, Delivery::Delivered);
        }
        // ...past half it is dropped, while normal is still queued.
        let (d, st) = offered(sinks, Priority::Low);
        assert_eq!((d, st.dropped, st.queued), (Delivery::Offline, 1, 0));
        for _ in 0..7 {
            assert_eq!(offered(sinks, Priority::Normal).0, Delivery::Delivered);
        }
        // Full: a normal one fails and the connection is marked a slow consumer.
        let (d, st) = offered(sinks, Priority::Normal);
        assert_eq!((d, st.dropped), (Delivery::Failed("slow consumer"), 1));
        assert!(sink.closing());
    }
}
