-- Client order ids expire after the core's idempotency window (24 h by default) and may
-- then be reused by a new order of the same user: the pair is no longer unique. Look-ups
-- by client id answer the newest order that has it.
DROP INDEX orders_client_id;
CREATE INDEX orders_client_id ON orders (user_id, client_order_id);
