-- Dashboard users: people of a merchant's team who sign in at /dashboard
-- with an e-mail (unique across merchants: sign-in asks no merchant) and a
-- password kept only as an argon2id hash in PHC form, its salt and
-- parameters inside it.
CREATE TABLE dashboard_users (
    id            TEXT PRIMARY KEY,
    merchant_id   TEXT NOT NULL REFERENCES merchants(id),
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created       INTEGER NOT NULL
);
CREATE INDEX dashboard_users_merchant ON dashboard_users (merchant_id);

-- Signed-in sessions, by the SHA-256 of the random id the cookie holds (a
-- stolen database gives no usable cookie).
CREATE TABLE dashboard_sessions (
    id_hash     BLOB PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES dashboard_users(id),
    created     INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);

-- Who did it: the dashboard user behind an audited action ('' for the API).
ALTER TABLE audit_log ADD COLUMN actor TEXT NOT NULL DEFAULT '';
