-- The PostgreSQL twin of internal/store/sqlite/migrations/0012_api_keys.sql
-- (BIGINT, BYTEA, "C" collation for ids).
--
-- Keys beside a merchant's current three (which stay on the merchant row,
-- the fast path of every request):
--   restricted  rk_ keys that may do only what their scopes list, revocable;
--   secret, publishable, hmac  keys a roll retired, which keep working until
--     expires_at so that the merchant's systems can change over.
-- Keys are kept as SHA-256 digests (random keys of 128 bits and more need no
-- slow hash) and their last four characters; a retired HMAC secret, which
-- inbound checks need in clear, is sealed like card data (no digest).
CREATE TABLE api_keys (
    id          TEXT COLLATE "C" PRIMARY KEY,
    merchant_id TEXT COLLATE "C" NOT NULL REFERENCES merchants(id),
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    key_hash    BYTEA UNIQUE,
    secret_ct   BYTEA,
    last4       TEXT NOT NULL DEFAULT '',
    scopes      TEXT NOT NULL DEFAULT '[]',
    created     BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id, kind, created, id);

-- When each key (by digest: current, retired or restricted) was last used.
-- Written at most about once a minute per key, off the request path.
CREATE TABLE key_uses (
    key_hash    BYTEA PRIMARY KEY,
    merchant_id TEXT COLLATE "C" NOT NULL REFERENCES merchants(id),
    last_used   BIGINT NOT NULL
);

-- The current secret key's last four characters, for lists that must tell
-- keys apart without showing them ('' for keys made before this).
ALTER TABLE merchants ADD COLUMN secret_key_last4 TEXT NOT NULL DEFAULT '';
