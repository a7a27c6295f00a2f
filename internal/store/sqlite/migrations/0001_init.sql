CREATE TABLE merchants (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    secret_key_hash BLOB NOT NULL UNIQUE,
    publishable_key TEXT NOT NULL UNIQUE,
    hmac_secret_ct  BLOB NOT NULL,
    settings        TEXT NOT NULL,
    created         INTEGER NOT NULL
);

CREATE TABLE data_keys (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    purpose     TEXT NOT NULL,
    kek_version INTEGER NOT NULL,
    wrapped     BLOB NOT NULL,
    created     INTEGER NOT NULL
);
CREATE INDEX data_keys_merchant ON data_keys (merchant_id, purpose, created);

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    reference   TEXT,
    name        TEXT NOT NULL DEFAULT '',
    email       TEXT NOT NULL DEFAULT '',
    phone       TEXT NOT NULL DEFAULT '',
    metadata    TEXT NOT NULL DEFAULT '{}',
    created     INTEGER NOT NULL,
    deleted_at  INTEGER
);
CREATE UNIQUE INDEX customers_reference ON customers (merchant_id, reference)
    WHERE reference IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants(id),
    customer_id  TEXT REFERENCES customers(id),
    status       TEXT NOT NULL,
    brand        TEXT NOT NULL,
    bin          TEXT NOT NULL,
    last4        TEXT NOT NULL,
    mask         TEXT NOT NULL,
    exp_month    INTEGER NOT NULL,
    exp_year     INTEGER NOT NULL,
    holder_name  TEXT NOT NULL DEFAULT '',
    fingerprint  TEXT NOT NULL,
    card_ct      BLOB,
    verification TEXT NOT NULL,
    metadata     TEXT NOT NULL DEFAULT '{}',
    created      INTEGER NOT NULL,
    updated      INTEGER NOT NULL,
    deleted_at   INTEGER
);
CREATE INDEX tokens_merchant_created ON tokens (merchant_id, created, id);
CREATE INDEX tokens_customer ON tokens (merchant_id, customer_id, created);
-- One live token per card per customer: the database, not only the code, refuses a duplicate.
CREATE UNIQUE INDEX tokens_customer_card ON tokens (merchant_id, customer_id, fingerprint)
    WHERE customer_id IS NOT NULL AND deleted_at IS NULL AND status <> 'failed';

CREATE TABLE idempotency_keys (
    merchant_id  TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    state        TEXT NOT NULL,
    status_code  INTEGER NOT NULL DEFAULT 0,
    response     BLOB,
    created      INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, idem_key)
);
CREATE INDEX idempotency_created ON idempotency_keys (created);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    created     INTEGER NOT NULL
);
CREATE INDEX audit_object ON audit_log (merchant_id, object_id, created);
