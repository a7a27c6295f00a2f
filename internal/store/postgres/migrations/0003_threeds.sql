-- The PostgreSQL twin of internal/store/sqlite/migrations/0003_threeds.sql
-- (BIGINT, BYTEA, BOOLEAN, "C" collation for ids).
ALTER TABLE payments ADD COLUMN authentication TEXT;
ALTER TABLE payments ADD COLUMN challenge_id TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN challenge_id TEXT COLLATE "C" NOT NULL DEFAULT '';

-- A challenge is found by id alone (the id is the card holder's capability),
-- so the primary key is its only lookup path besides the sweep.
CREATE TABLE challenges (
    id             TEXT COLLATE "C" PRIMARY KEY,
    merchant_id    TEXT COLLATE "C" NOT NULL REFERENCES merchants(id),
    object_type    TEXT NOT NULL,
    object_id      TEXT COLLATE "C" NOT NULL,
    status         TEXT NOT NULL,
    attempts       BIGINT NOT NULL DEFAULT 0,
    amount         BIGINT NOT NULL DEFAULT 0,
    currency       TEXT NOT NULL DEFAULT '',
    brand          TEXT NOT NULL DEFAULT '',
    mask           TEXT NOT NULL DEFAULT '',
    transaction_id TEXT NOT NULL DEFAULT '',
    version        TEXT NOT NULL DEFAULT '',
    return_url     TEXT NOT NULL DEFAULT '',
    verify         BOOLEAN NOT NULL DEFAULT FALSE,
    secret_ct      BYTEA,
    expires_at     BIGINT NOT NULL,
    created        BIGINT NOT NULL,
    updated        BIGINT NOT NULL
);
-- The sweep only wants challenges still pending or still holding sealed card
-- data: finished, erased ones (nearly all of them, in time) stay out of the
-- index, so it stays as small as the work left. SweepableChallenges repeats
-- this predicate word for word, with literals, so the planner can prove its
-- WHERE implies it (SQLite matches the expression, not its meaning).
CREATE INDEX challenges_sweep ON challenges (expires_at, id)
    WHERE status = 'pending' OR secret_ct IS NOT NULL;
