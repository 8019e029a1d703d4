-- Read models projected from core events. Every money/size column is an integer count of
-- ticks, lots or minor units; ids and times (ms since the epoch) are BIGINT.

CREATE TABLE projector_state (
    id        SMALLINT PRIMARY KEY CHECK (id = 1),
    last_seq  BIGINT NOT NULL
);
INSERT INTO projector_state (id, last_seq) VALUES (1, 0);

CREATE TABLE users (
    id             BIGINT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    tier           TEXT NOT NULL,
    kyc_verified   BOOLEAN NOT NULL,
    kill_switch    BOOLEAN NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE api_keys (
    key_id      TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    label       TEXT NOT NULL,
    secret_enc  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE assets (
    id          BIGINT PRIMARY KEY,
    symbol      TEXT NOT NULL UNIQUE,
    scale       BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE markets (
    id          BIGINT PRIMARY KEY,
    symbol      TEXT NOT NULL UNIQUE,
    base        BIGINT NOT NULL REFERENCES assets (id),
    quote       BIGINT NOT NULL REFERENCES assets (id),
    status      TEXT NOT NULL,
    spec        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE orders (
    id               BIGINT PRIMARY KEY,
    user_id          BIGINT NOT NULL REFERENCES users (id),
    market_id        BIGINT NOT NULL REFERENCES markets (id),
    side             TEXT NOT NULL,
    order_type       TEXT NOT NULL,
    price            BIGINT,
    qty              BIGINT,
    quote_qty        BIGINT,
    stop_price       BIGINT,
    tif              TEXT NOT NULL,
    expire_at        BIGINT,
    post_only        BOOLEAN NOT NULL,
    stp              TEXT NOT NULL,
    client_order_id  TEXT,
    status           TEXT NOT NULL,
    is_open          BOOLEAN NOT NULL,
    filled_qty       BIGINT NOT NULL,
    remaining_qty    BIGINT,
    filled_notional  BIGINT NOT NULL,
    fees             BIGINT NOT NULL,
    reason           TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX orders_client_id ON orders (user_id, client_order_id);
CREATE INDEX orders_user ON orders (user_id, id);
CREATE INDEX orders_user_open ON orders (user_id, is_open, id);
CREATE INDEX orders_user_market ON orders (user_id, market_id, id);

CREATE TABLE trades (
    id           BIGINT PRIMARY KEY,
    market_id    BIGINT NOT NULL REFERENCES markets (id),
    price        BIGINT NOT NULL,
    qty          BIGINT NOT NULL,
    notional     BIGINT NOT NULL,
    taker_side   TEXT NOT NULL,
    maker_order  BIGINT NOT NULL REFERENCES orders (id),
    maker_user   BIGINT NOT NULL REFERENCES users (id),
    taker_order  BIGINT NOT NULL REFERENCES orders (id),
    taker_user   BIGINT NOT NULL REFERENCES users (id),
    maker_fee    BIGINT NOT NULL,
    taker_fee    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX trades_market ON trades (market_id, id);

-- One row per side of a trade; id = trade id * 2 + (0 maker | 1 taker).
CREATE TABLE fills (
    id          BIGINT PRIMARY KEY,
    trade_id    BIGINT NOT NULL REFERENCES trades (id),
    order_id    BIGINT NOT NULL REFERENCES orders (id),
    user_id     BIGINT NOT NULL REFERENCES users (id),
    market_id   BIGINT NOT NULL REFERENCES markets (id),
    side        TEXT NOT NULL,
    price       BIGINT NOT NULL,
    qty         BIGINT NOT NULL,
    notional    BIGINT NOT NULL,
    fee         BIGINT NOT NULL,
    fee_asset   BIGINT NOT NULL REFERENCES assets (id),
    liquidity   TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX fills_user ON fills (user_id, id);
CREATE INDEX fills_order ON fills (order_id, id);

CREATE TABLE balances (
    user_id     BIGINT NOT NULL REFERENCES users (id),
    asset_id    BIGINT NOT NULL REFERENCES assets (id),
    available   BIGINT NOT NULL,
    held        BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, asset_id)
);

-- Every BalanceChanged: (seq, idx) = command sequence and event index within it.
CREATE TABLE balance_history (
    seq         BIGINT NOT NULL,
    idx         BIGINT NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    asset_id    BIGINT NOT NULL REFERENCES assets (id),
    available   BIGINT NOT NULL,
    held        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (seq, idx)
);
CREATE INDEX balance_history_user ON balance_history (user_id, seq, idx);

CREATE TABLE candles (
    market_id     BIGINT NOT NULL REFERENCES markets (id),
    period        TEXT NOT NULL,
    bucket        BIGINT NOT NULL,
    open          BIGINT NOT NULL,
    high          BIGINT NOT NULL,
    low           BIGINT NOT NULL,
    close         BIGINT NOT NULL,
    volume        BIGINT NOT NULL,
    quote_volume  BIGINT NOT NULL,
    trade_count   BIGINT NOT NULL,
    PRIMARY KEY (market_id, period, bucket)
);

CREATE TABLE deposits (
    seq         BIGINT NOT NULL,
    idx         BIGINT NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    asset_id    BIGINT NOT NULL REFERENCES assets (id),
    amount      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (seq, idx)
);
CREATE INDEX deposits_user ON deposits (user_id, seq, idx);

CREATE TABLE withdrawals (
    id          BIGINT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    asset_id    BIGINT NOT NULL REFERENCES assets (id),
    amount      BIGINT NOT NULL,
    address     TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX withdrawals_user ON withdrawals (user_id, id);
CREATE INDEX withdrawals_status ON withdrawals (status, id);
