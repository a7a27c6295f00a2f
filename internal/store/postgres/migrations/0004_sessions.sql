-- The PostgreSQL twin of internal/store/sqlite/migrations/0004_sessions.sql
-- (BIGINT, BYTEA, BOOLEAN, "C" collation for ids).
--
-- The ids a session points at (customer, payment, token, key) are '' when
-- there is none, as challenge_id is: they are written by UpdateSession as the
-- session goes along and always read back exactly as written. failure is JSON,
-- NULL when there is none; client_secret_hash is NULL when there is none.
CREATE TABLE sessions (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    merchant_id        TEXT COLLATE "C" NOT NULL REFERENCES merchants(id),
    mode               TEXT NOT NULL,
    status             TEXT NOT NULL,
    amount             BIGINT NOT NULL DEFAULT 0,
    currency           TEXT NOT NULL DEFAULT '',
    customer_id        TEXT COLLATE "C" NOT NULL DEFAULT '',
    save_card          TEXT NOT NULL DEFAULT '',
    show_saved_cards   BOOLEAN NOT NULL DEFAULT FALSE,
    capture_method     TEXT NOT NULL DEFAULT '',
    order_id           TEXT COLLATE "C" NOT NULL DEFAULT '',
    description        TEXT NOT NULL DEFAULT '',
    success_url        TEXT NOT NULL DEFAULT '',
    failure_url        TEXT NOT NULL DEFAULT '',
    expired_url        TEXT NOT NULL DEFAULT '',
    cancel_url         TEXT NOT NULL DEFAULT '',
    callback_url       TEXT NOT NULL DEFAULT '',
    client_secret_hash BYTEA,
    key_id             TEXT COLLATE "C" NOT NULL DEFAULT '',
    payment_id         TEXT COLLATE "C" NOT NULL DEFAULT '',
    token_id           TEXT COLLATE "C" NOT NULL DEFAULT '',
    attempts           BIGINT NOT NULL DEFAULT 0,
    failure            TEXT,
    metadata           TEXT NOT NULL DEFAULT '{}',
    confirming_until   BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    created            BIGINT NOT NULL,
    updated            BIGINT NOT NULL
);
-- The sweep only wants sessions still open or waiting for the card holder:
-- finished ones (nearly all of them, in time) stay out of the index, so it
-- stays as small as the work left. SweepableSessions repeats this predicate
-- word for word, with literals, so the planner can prove its WHERE implies it
-- (SQLite matches the expression, not its meaning).
CREATE INDEX sessions_sweep ON sessions (expires_at, id)
    WHERE status IN ('open', 'requires_action');

-- A merchant's small rotating set of session keys: CurrentSessionKey wants
-- the newest recent one (id breaks ties, so it is in the index too).
CREATE TABLE session_keys (
    id          TEXT COLLATE "C" PRIMARY KEY,
    merchant_id TEXT COLLATE "C" NOT NULL REFERENCES merchants(id),
    private_ct  BYTEA NOT NULL,
    public      BYTEA NOT NULL,
    created     BIGINT NOT NULL
);
CREATE INDEX session_keys_merchant ON session_keys (merchant_id, created, id);
