-- Notifications, price alerts and the notification dead-letter queue. Unlike the read
-- models these are server-side data, not projections: they are not rebuilt from the journal
-- (no foreign keys to the projected tables, which may be rebuilt or lag behind).

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    priority    TEXT NOT NULL,
    title       TEXT NOT NULL,
    message     TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    read_at     INTEGER
);
CREATE INDEX notifications_user ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE read_at IS NULL;

CREATE TABLE price_alerts (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    market_id   INTEGER NOT NULL,
    condition   TEXT NOT NULL,
    price       INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX price_alerts_user ON price_alerts (user_id, id);

CREATE TABLE notification_dead_letters (
    id               INTEGER PRIMARY KEY,
    notification_id  INTEGER NOT NULL,
    user_id          INTEGER NOT NULL,
    reason           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    last_attempt_at  INTEGER NOT NULL
);
