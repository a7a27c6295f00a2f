-- The PostgreSQL twin of internal/store/sqlite/migrations/0008_key_checks_card_auth.sql
-- (BIGINT, BYTEA, "C" collation for ids).
CREATE TABLE kek_checks (
    kek_version BIGINT PRIMARY KEY,
    check_value BYTEA NOT NULL,
    created     BIGINT NOT NULL
);
CREATE INDEX data_keys_kek ON data_keys (kek_version, id);

ALTER TABLE challenges ADD COLUMN fingerprint TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE TABLE card_auth_failures (
    merchant_id  TEXT COLLATE "C" NOT NULL REFERENCES merchants(id),
    fingerprint  TEXT COLLATE "C" NOT NULL,
    failures     BIGINT NOT NULL,
    last_failure BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, fingerprint)
);
