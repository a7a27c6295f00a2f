CREATE TABLE payments (
    id                TEXT PRIMARY KEY,
    merchant_id       TEXT NOT NULL REFERENCES merchants(id),
    status            TEXT NOT NULL,
    amount            INTEGER NOT NULL,
    amount_capturable INTEGER NOT NULL DEFAULT 0,
    amount_captured   INTEGER NOT NULL DEFAULT 0,
    amount_refunded   INTEGER NOT NULL DEFAULT 0,
    currency          TEXT NOT NULL,
    capture_method    TEXT NOT NULL,
    token_id          TEXT,
    customer_id       TEXT,
    order_id          TEXT,
    description       TEXT NOT NULL DEFAULT '',
    metadata          TEXT NOT NULL DEFAULT '{}',
    card              TEXT NOT NULL,
    processor         TEXT NOT NULL,
    failure           TEXT,
    pending_op        TEXT NOT NULL DEFAULT '',
    pending_until     INTEGER NOT NULL DEFAULT 0,
    created           INTEGER NOT NULL,
    updated           INTEGER NOT NULL
);
CREATE INDEX payments_merchant_created ON payments (merchant_id, created, id);
CREATE INDEX payments_order ON payments (merchant_id, order_id);
CREATE INDEX payments_customer ON payments (merchant_id, customer_id, created);
-- Only attempts still processing are ever looked up (reconciliation): a
-- partial index keeps every other status change from rewriting index pages.
CREATE INDEX payments_processing ON payments (updated) WHERE status = 'processing';
CREATE INDEX payments_claims ON payments (pending_until) WHERE pending_op <> '';

CREATE TABLE refunds (
    id            TEXT PRIMARY KEY,
    merchant_id   TEXT NOT NULL REFERENCES merchants(id),
    payment_id    TEXT NOT NULL REFERENCES payments(id),
    amount        INTEGER NOT NULL,
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    processor_ref TEXT NOT NULL DEFAULT '',
    failure       TEXT,
    created       INTEGER NOT NULL,
    updated       INTEGER NOT NULL
);
CREATE INDEX refunds_payment ON refunds (merchant_id, payment_id, created);
CREATE INDEX refunds_pending ON refunds (updated) WHERE status = 'pending';

-- The transactional outbox: every state change writes its event in the same
-- transaction as the change; delivery reads from here.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    seq         INTEGER NOT NULL,
    type        TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    data        TEXT NOT NULL,
    created     INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_merchant_seq ON events (merchant_id, seq);
CREATE INDEX events_object ON events (merchant_id, object_id, seq);
