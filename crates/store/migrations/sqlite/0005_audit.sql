-- The audit trail: one hash-chained entry per audited request (crates/store/src/audit).
-- Owned data, not a projection: a read-model rebuild never truncates it. Entries derived
-- from journaled commands are written in the projector's transaction (so re-projecting
-- after a crash neither skips nor repeats one); entries for requests refused before the
-- journal exist only here.

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,   -- position in the chain: 1, 2, …
    ts          INTEGER NOT NULL,
    seq         INTEGER,               -- journal sequence; NULL before the journal
    channel     TEXT NOT NULL,
    actor_id    INTEGER,
    key_id      TEXT,
    ip          TEXT,
    request_id  TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    outcome     TEXT NOT NULL,         -- accepted | rejected
    code        TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_ts ON audit_log (ts, id);

-- The chain's head, moved in the same transaction as every append: a truncated tail (the
-- newest entries deleted) no longer matches it.
CREATE TABLE audit_head (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    last_id     INTEGER NOT NULL,
    last_hash   TEXT NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
