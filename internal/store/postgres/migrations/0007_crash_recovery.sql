-- The PostgreSQL twin of internal/store/sqlite/migrations/0007_crash_recovery.sql
-- (BIGINT, "C" collation for ids): recovery from a crash mid-request.
--
-- owner is the server instance running a keyed request: a duplicate takes
-- the key over as soon as that instance stops beating in instances, instead
-- of waiting out the lease.
ALTER TABLE idempotency_keys ADD COLUMN owner TEXT COLLATE "C" NOT NULL DEFAULT '';

CREATE TABLE instances (
    id      TEXT COLLATE "C" PRIMARY KEY,
    started BIGINT NOT NULL,
    beat    BIGINT NOT NULL
);

-- op_key is a digest of the keyed request that took a payment's latest
-- capture or cancel claim, so a retry after a crash recognises its own
-- operation, finished or interrupted, instead of answering invalid_state.
ALTER TABLE payments ADD COLUMN op_key TEXT NOT NULL DEFAULT '';
