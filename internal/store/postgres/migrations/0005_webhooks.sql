-- The PostgreSQL twin of internal/store/sqlite/migrations/0005_webhooks.sql
-- (BIGINT, BYTEA, "C" collation for ids).
--
-- The events API lists a merchant's events of one type, newest first.
CREATE INDEX events_type ON events (merchant_id, type, seq);

-- events is a JSON array of event types (or "*"). secret_ct is the
-- vault-sealed signing secret; after a rotation previous_ct (NULL when there
-- is none) also signs until previous_until. deleted_at is NULL while the
-- endpoint is live: a deleted one is kept (its deliveries' log names it) but
-- no longer listed.
CREATE TABLE webhook_endpoints (
    id             TEXT COLLATE "C" PRIMARY KEY,
    merchant_id    TEXT COLLATE "C" NOT NULL REFERENCES merchants(id),
    url            TEXT NOT NULL,
    events         TEXT NOT NULL DEFAULT '[]',
    secret_ct      BYTEA,
    previous_ct    BYTEA,
    previous_until BIGINT NOT NULL DEFAULT 0,
    description    TEXT NOT NULL DEFAULT '',
    created        BIGINT NOT NULL,
    updated        BIGINT NOT NULL,
    deleted_at     BIGINT
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, created, id);

-- One event on its way to one URL. endpoint_id is '' for a session's
-- callback_url, so it has no foreign key; the URL is copied in, so a delivery
-- goes where the endpoint pointed when the event happened.
CREATE TABLE deliveries (
    id           TEXT COLLATE "C" PRIMARY KEY,
    merchant_id  TEXT COLLATE "C" NOT NULL REFERENCES merchants(id),
    event_id     TEXT COLLATE "C" NOT NULL REFERENCES events(id),
    endpoint_id  TEXT COLLATE "C" NOT NULL DEFAULT '',
    url          TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    next_attempt BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    last_status  BIGINT NOT NULL DEFAULT 0,
    created      BIGINT NOT NULL,
    updated      BIGINT NOT NULL
);
CREATE INDEX deliveries_event ON deliveries (merchant_id, event_id, created, id);
-- The dispatcher only wants pending deliveries: finished ones (nearly all of
-- them, in time) stay out of the index, so it stays as small as the work
-- left. DueDeliveries repeats this predicate word for word, with its literal,
-- so the planner can prove its WHERE implies it (SQLite matches the
-- expression, not its meaning).
CREATE INDEX deliveries_due ON deliveries (next_attempt, id) WHERE status = 'pending';

-- The delivery log: one row per try. error says why it failed ('' on
-- success); response bodies are never stored.
CREATE TABLE delivery_attempts (
    id          TEXT COLLATE "C" PRIMARY KEY,
    delivery_id TEXT COLLATE "C" NOT NULL REFERENCES deliveries(id),
    attempt     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    status_code BIGINT NOT NULL DEFAULT 0,
    latency_ms  BIGINT NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, attempt, id);

-- Event numbers come from a sequence: the merchant's MAX(seq)+1 made every
-- two concurrent SERIALIZABLE writers of one merchant conflict. Numbers stay
-- unique and increasing per merchant, with gaps.
CREATE SEQUENCE event_seq;
SELECT setval('event_seq', COALESCE((SELECT MAX(seq) FROM events), 0) + 1, false);
