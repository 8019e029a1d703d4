-- Read models projected from core events. Every money/size column is an integer count of
-- ticks, lots or minor units; ids and times (ms since the epoch) are INTEGER.

CREATE TABLE projector_state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq  INTEGER NOT NULL
);
INSERT INTO projector_state (id, last_seq) VALUES (1, 0);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    tier           TEXT NOT NULL,
    kyc_verified   INTEGER NOT NULL,
    kill_switch    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE api_keys (
    key_id      TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    label       TEXT NOT NULL,
    secret_enc  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE assets (
    id          INTEGER PRIMARY KEY,
    symbol      TEXT NOT NULL UNIQUE,
    scale       INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE markets (
    id          INTEGER PRIMARY KEY,
    symbol      TEXT NOT NULL UNIQUE,
    base        INTEGER NOT NULL REFERENCES assets (id),
    quote       INTEGER NOT NULL REFERENCES assets (id),
    status      TEXT NOT NULL,
    spec        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE orders (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL REFERENCES users (id),
    market_id        INTEGER NOT NULL REFERENCES markets (id),
    side             TEXT NOT NULL,
    order_type       TEXT NOT NULL,
    price            INTEGER,
    qty              INTEGER,
    quote_qty        INTEGER,
    stop_price       INTEGER,
    tif              TEXT NOT NULL,
    expire_at        INTEGER,
    post_only        INTEGER NOT NULL,
    stp              TEXT NOT NULL,
    client_order_id  TEXT,
    status           TEXT NOT NULL,
    is_open          INTEGER NOT NULL,
    filled_qty       INTEGER NOT NULL,
    remaining_qty    INTEGER,
    filled_notional  INTEGER NOT NULL,
    fees             INTEGER NOT NULL,
    reason           TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX orders_client_id ON orders (user_id, client_order_id);
CREATE INDEX orders_user ON orders (user_id, id);
CREATE INDEX orders_user_open ON orders (user_id, is_open, id);
CREATE INDEX orders_user_market ON orders (user_id, market_id, id);

CREATE TABLE trades (
    id           INTEGER PRIMARY KEY,
    market_id    INTEGER NOT NULL REFERENCES markets (id),
    price        INTEGER NOT NULL,
    qty          INTEGER NOT NULL,
    notional     INTEGER NOT NULL,
    taker_side   TEXT NOT NULL,
    maker_order  INTEGER NOT NULL REFERENCES orders (id),
    maker_user   INTEGER NOT NULL REFERENCES users (id),
    taker_order  INTEGER NOT NULL REFERENCES orders (id),
    taker_user   INTEGER NOT NULL REFERENCES users (id),
    maker_fee    INTEGER NOT NULL,
    taker_fee    INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX trades_market ON trades (market_id, id);

-- One row per side of a trade; id = trade id * 2 + (0 maker | 1 taker).
CREATE TABLE fills (
    id          INTEGER PRIMARY KEY,
    trade_id    INTEGER NOT NULL REFERENCES trades (id),
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    user_id     INTEGER NOT NULL REFERENCES users (id),
    market_id   INTEGER NOT NULL REFERENCES markets (id),
    side        TEXT NOT NULL,
    price       INTEGER NOT NULL,
    qty         INTEGER NOT NULL,
    notional    INTEGER NOT NULL,
    fee         INTEGER NOT NULL,
    fee_asset   INTEGER NOT NULL REFERENCES assets (id),
    liquidity   TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX fills_user ON fills (user_id, id);
CREATE INDEX fills_order ON fills (order_id, id);

CREATE TABLE balances (
    user_id     INTEGER NOT NULL REFERENCES users (id),
    asset_id    INTEGER NOT NULL REFERENCES assets (id),
    available   INTEGER NOT NULL,
    held        INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, asset_id)
);

-- Every BalanceChanged: (seq, idx) = command sequence and event index within it.
CREATE TABLE balance_history (
    seq         INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    asset_id    INTEGER NOT NULL REFERENCES assets (id),
    available   INTEGER NOT NULL,
    held        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (seq, idx)
);
CREATE INDEX balance_history_user ON balance_history (user_id, seq, idx);

CREATE TABLE candles (
    market_id     INTEGER NOT NULL REFERENCES markets (id),
    period        TEXT NOT NULL,
    bucket        INTEGER NOT NULL,
    open          INTEGER NOT NULL,
    high          INTEGER NOT NULL,
    low           INTEGER NOT NULL,
    close         INTEGER NOT NULL,
    volume        INTEGER NOT NULL,
    quote_volume  INTEGER NOT NULL,
    trade_count   INTEGER NOT NULL,
    PRIMARY KEY (market_id, period, bucket)
);

CREATE TABLE deposits (
    seq         INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    asset_id    INTEGER NOT NULL REFERENCES assets (id),
    amount      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (seq, idx)
);
CREATE INDEX deposits_user ON deposits (user_id, seq, idx);

CREATE TABLE withdrawals (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    asset_id    INTEGER NOT NULL REFERENCES assets (id),
    amount      INTEGER NOT NULL,
    address     TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX withdrawals_user ON withdrawals (user_id, id);
CREATE INDEX withdrawals_status ON withdrawals (status, id);
