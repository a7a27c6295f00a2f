-- 3-D Secure: the result recorded on a payment (JSON, NULL when none ran),
-- the challenge a payment or token waits for ('' when it needed none), and
-- the challenges themselves.
ALTER TABLE payments ADD COLUMN authentication TEXT;
ALTER TABLE payments ADD COLUMN challenge_id TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN challenge_id TEXT NOT NULL DEFAULT '';

-- A challenge is found by id alone (the id is the card holder's capability),
-- so the primary key is its only lookup path besides the sweep.
CREATE TABLE challenges (
    id             TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL REFERENCES merchants(id),
    object_type    TEXT NOT NULL,
    object_id      TEXT NOT NULL,
    status         TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    amount         INTEGER NOT NULL DEFAULT 0,
    currency       TEXT NOT NULL DEFAULT '',
    brand          TEXT NOT NULL DEFAULT '',
    mask           TEXT NOT NULL DEFAULT '',
    transaction_id TEXT NOT NULL DEFAULT '',
    version        TEXT NOT NULL DEFAULT '',
    return_url     TEXT NOT NULL DEFAULT '',
    verify         INTEGER NOT NULL DEFAULT 0,
    secret_ct      BLOB,
    expires_at     INTEGER NOT NULL,
    created        INTEGER NOT NULL,
    updated        INTEGER NOT NULL
);
-- The sweep only wants challenges still pending or still holding sealed card
-- data: finished, erased ones (nearly all of them, in time) stay out of the
-- index, so it stays as small as the work left. SweepableChallenges repeats
-- this predicate word for word, with literals, so the planner can prove its
-- WHERE implies it (SQLite matches the expression, not its meaning).
CREATE INDEX challenges_sweep ON challenges (expires_at, id)
    WHERE status = 'pending' OR secret_ct IS NOT NULL;
