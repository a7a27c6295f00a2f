-- Key-check values: for each KEK version, HMAC-SHA256 under that KEK of a
-- fixed label (a KCV). Recorded when a version is first used with this store,
-- so a command started with the wrong master key is refused before it writes
-- anything, even while the store holds no data key yet. It reveals nothing of
-- the key (a PRF output of a public input).
CREATE TABLE kek_checks (
    kek_version INTEGER PRIMARY KEY,
    check_value BLOB NOT NULL,
    created     INTEGER NOT NULL
);
-- One data key per KEK version in use is unwrapped at start-up as a second
-- check (and for stores that predate kek_checks): found through this index.
CREATE INDEX data_keys_kek ON data_keys (kek_version, id);

-- 3-D Secure guesses per card: a challenge remembers its card's fingerprint
-- ('' for challenges made before this), and wrong codes are counted per card
-- (per merchant, by fingerprint) across challenges, so opening new challenges
-- gives no new guesses. failures resets once 24 hours pass after
-- last_failure (or on a right code).
ALTER TABLE challenges ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
CREATE TABLE card_auth_failures (
    merchant_id  TEXT NOT NULL REFERENCES merchants(id),
    fingerprint  TEXT NOT NULL,
    failures     INTEGER NOT NULL,
    last_failure INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, fingerprint)
);
