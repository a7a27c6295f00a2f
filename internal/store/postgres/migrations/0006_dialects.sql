-- The PostgreSQL twin of internal/store/sqlite/migrations/0006_dialects.sql
-- (BIGINT, BYTEA, "C" collation for ids): what the provider dialects need
-- from the core.
--
-- A session's callbacks may be rendered in a provider's shape (senangPay's
-- signed form, SensePass's Transaction entity, …): callback_format names it
-- ('' is Coffer's own signed JSON), and each delivery carries the format it
-- is sent in. forward_urls is a JSON array of further URLs a dialect's return
-- hop sends the card holder on to (the challenge page's form-action must
-- allow their origins).
ALTER TABLE sessions ADD COLUMN callback_format TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN forward_urls TEXT NOT NULL DEFAULT '[]';
ALTER TABLE deliveries ADD COLUMN format TEXT NOT NULL DEFAULT '';

-- A session may ask its token or payment for a 3-D Secure mode (required,
-- if_required, never; '' is if_required): senangPay's get-token page always
-- makes the card holder pass 3-D Secure.
ALTER TABLE sessions ADD COLUMN three_d_secure TEXT NOT NULL DEFAULT '';

-- Device keys: secondary credentials a merchant creates for its point-of-sale
-- devices (SensePass's deviceId). Only a keyed digest of the key is kept, like
-- the secret key's; revoked_at is NULL while the key works.
CREATE TABLE device_keys (
    id          TEXT COLLATE "C" PRIMARY KEY,
    merchant_id TEXT COLLATE "C" NOT NULL REFERENCES merchants(id),
    name        TEXT NOT NULL DEFAULT '',
    key_hash    BYTEA NOT NULL UNIQUE,
    last4       TEXT NOT NULL DEFAULT '',
    created     BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX device_keys_merchant ON device_keys (merchant_id, created, id);
