-- The PostgreSQL twin of internal/store/sqlite/migrations/0014_dashboard_totp.sql
-- (BIGINT, BYTEA, BOOLEAN, "C" collation for ids).
--
-- Optional TOTP for dashboard users. The secret is sealed like every other
-- secret at rest (the merchant's data key, bound to the user's id), never
-- stored plain; it is kept while the user sets TOTP up, and sign-in asks
-- for a code only once totp_enabled is set (after a first right code).
-- totp_last_step is the newest 30-second step a code was accepted for: a
-- code of that step or an older one is refused (a replay).
ALTER TABLE dashboard_users ADD COLUMN totp_secret BYTEA;
ALTER TABLE dashboard_users ADD COLUMN totp_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE dashboard_users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

-- Sign-ins waiting for their code: the right password was given, but no
-- session exists until the code is right. Known by the SHA-256 of the
-- random id a short-lived cookie holds, like sessions.
CREATE TABLE dashboard_pending_signins (
    id_hash     BYTEA PRIMARY KEY,
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES dashboard_users(id),
    created     BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX dashboard_pending_signins_expiry ON dashboard_pending_signins (expires_at);
