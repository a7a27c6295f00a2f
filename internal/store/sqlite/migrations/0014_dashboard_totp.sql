-- Optional TOTP for dashboard users. The secret is sealed like every other
-- secret at rest (the merchant's data key, bound to the user's id), never
-- stored plain; it is kept while the user sets TOTP up, and sign-in asks
-- for a code only once totp_enabled is set (after a first right code).
-- totp_last_step is the newest 30-second step a code was accepted for: a
-- code of that step or an older one is refused (a replay).
ALTER TABLE dashboard_users ADD COLUMN totp_secret BLOB;
ALTER TABLE dashboard_users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dashboard_users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;

-- Sign-ins waiting for their code: the right password was given, but no
-- session exists until the code is right. Known by the SHA-256 of the
-- random id a short-lived cookie holds, like sessions.
CREATE TABLE dashboard_pending_signins (
    id_hash     BLOB PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES dashboard_users(id),
    created     INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX dashboard_pending_signins_expiry ON dashboard_pending_signins (expires_at);
