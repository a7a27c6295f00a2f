-- Webhooks: the endpoints merchants register, the deliveries of events to
-- them (and to sessions' callback URLs), and the log of each delivery's
-- attempts.
--
-- The events API lists a merchant's events of one type, newest first.
CREATE INDEX events_type ON events (merchant_id, type, seq);

-- events is a JSON array of event types (or "*"). secret_ct is the
-- vault-sealed signing secret; after a rotation previous_ct (NULL when there
-- is none) also signs until previous_until. deleted_at is NULL while the
-- endpoint is live: a deleted one is kept (its deliveries' log names it) but
-- no longer listed.
CREATE TABLE webhook_endpoints (
    id             TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL REFERENCES merchants(id),
    url            TEXT NOT NULL,
    events         TEXT NOT NULL DEFAULT '[]',
    secret_ct      BLOB,
    previous_ct    BLOB,
    previous_until INTEGER NOT NULL DEFAULT 0,
    description    TEXT NOT NULL DEFAULT '',
    created        INTEGER NOT NULL,
    updated        INTEGER NOT NULL,
    deleted_at     INTEGER
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, created, id);

-- One event on its way to one URL. endpoint_id is '' for a session's
-- callback_url, so it has no foreign key; the URL is copied in, so a delivery
-- goes where the endpoint pointed when the event happened.
CREATE TABLE deliveries (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants(id),
    event_id     TEXT NOT NULL REFERENCES events(id),
    endpoint_id  TEXT NOT NULL DEFAULT '',
    url          TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    last_status  INTEGER NOT NULL DEFAULT 0,
    created      INTEGER NOT NULL,
    updated      INTEGER NOT NULL
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
    id          TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries(id),
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    latency_ms  INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, attempt, id);
