-- The PostgreSQL twin of internal/store/sqlite/migrations/0001_init.sql: the
-- same tables, columns and indexes (including the partial unique indexes),
-- with BYTEA for BLOB and BIGINT for every integer (timestamps are Unix
-- microseconds, written by internal/store/sqlstore). Identifier columns use the
-- "C" collation so they compare and sort byte-wise, as SQLite does, whatever
-- the database's locale: ListDataKeys pages and ListTokens breaks ties by id.
CREATE TABLE merchants (
    id              TEXT COLLATE "C" PRIMARY KEY,
    name            TEXT NOT NULL,
    secret_key_hash BYTEA NOT NULL UNIQUE,
    publishable_key TEXT NOT NULL UNIQUE,
    hmac_secret_ct  BYTEA NOT NULL,
    settings        TEXT NOT NULL,
    created         BIGINT NOT NULL
);

CREATE TABLE data_keys (
    id          TEXT COLLATE "C" PRIMARY KEY,
    merchant_id TEXT COLLATE "C" NOT NULL REFERENCES merchants(id),
    purpose     TEXT NOT NULL,
    kek_version BIGINT NOT NULL,
    wrapped     BYTEA NOT NULL,
    created     BIGINT NOT NULL
);
CREATE INDEX data_keys_merchant ON data_keys (merchant_id, purpose, created);

CREATE TABLE customers (
    id          TEXT COLLATE "C" PRIMARY KEY,
    merchant_id TEXT COLLATE "C" NOT NULL REFERENCES merchants(id),
    reference   TEXT,
    name        TEXT NOT NULL DEFAULT '',
    email       TEXT NOT NULL DEFAULT '',
    phone       TEXT NOT NULL DEFAULT '',
    metadata    TEXT NOT NULL DEFAULT '{}',
    created     BIGINT NOT NULL,
    deleted_at  BIGINT
);
CREATE UNIQUE INDEX customers_reference ON customers (merchant_id, reference)
    WHERE reference IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    merchant_id  TEXT COLLATE "C" NOT NULL REFERENCES merchants(id),
    customer_id  TEXT COLLATE "C" REFERENCES customers(id),
    status       TEXT NOT NULL,
    brand        TEXT NOT NULL,
    bin          TEXT NOT NULL,
    last4        TEXT NOT NULL,
    mask         TEXT NOT NULL,
    exp_month    BIGINT NOT NULL,
    exp_year     BIGINT NOT NULL,
    holder_name  TEXT NOT NULL DEFAULT '',
    fingerprint  TEXT NOT NULL,
    card_ct      BYTEA,
    verification TEXT NOT NULL,
    metadata     TEXT NOT NULL DEFAULT '{}',
    created      BIGINT NOT NULL,
    updated      BIGINT NOT NULL,
    deleted_at   BIGINT
);
CREATE INDEX tokens_merchant_created ON tokens (merchant_id, created, id);
CREATE INDEX tokens_customer ON tokens (merchant_id, customer_id, created);
-- One live token per card per customer: the database, not only the code, refuses a duplicate.
CREATE UNIQUE INDEX tokens_customer_card ON tokens (merchant_id, customer_id, fingerprint)
    WHERE customer_id IS NOT NULL AND deleted_at IS NULL AND status <> 'failed';

CREATE TABLE idempotency_keys (
    merchant_id  TEXT COLLATE "C" NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    state        TEXT NOT NULL,
    status_code  BIGINT NOT NULL DEFAULT 0,
    response     BYTEA,
    created      BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, idem_key)
);
CREATE INDEX idempotency_created ON idempotency_keys (created);

CREATE TABLE audit_log (
    id          TEXT COLLATE "C" PRIMARY KEY,
    merchant_id TEXT COLLATE "C" NOT NULL,
    action      TEXT NOT NULL,
    object_id   TEXT COLLATE "C" NOT NULL,
    purpose     TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    created     BIGINT NOT NULL
);
CREATE INDEX audit_object ON audit_log (merchant_id, object_id, created);
