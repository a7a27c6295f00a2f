-- The PostgreSQL twin of internal/store/sqlite/migrations/0010_processor_accounts.sql
-- (BIGINT, BYTEA, "C" collation for ids).
--
-- A merchant's accounts at real acquirers. The credentials are sealed under
-- the merchant's data key like card data (purpose processor_credentials) and
-- never read back out through the API. A deleted account keeps its row:
-- payments made through it are still captured, refunded and reconciled there.
CREATE TABLE processor_accounts (
    id             TEXT COLLATE "C" PRIMARY KEY,
    merchant_id    TEXT COLLATE "C" NOT NULL REFERENCES merchants(id),
    type           TEXT NOT NULL,
    name           TEXT NOT NULL DEFAULT '',
    mode           TEXT NOT NULL,
    currencies     TEXT NOT NULL DEFAULT '[]',
    priority       INTEGER NOT NULL DEFAULT 0,
    base_url       TEXT NOT NULL DEFAULT '',
    credentials_ct BYTEA NOT NULL,
    created        BIGINT NOT NULL,
    deleted_at     BIGINT
);
CREATE INDEX processor_accounts_merchant ON processor_accounts (merchant_id, priority, created, id);
