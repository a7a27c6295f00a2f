-- Recovery from a crash mid-request (issue 15).
--
-- owner is the server instance running a keyed request ('' when the server
-- runs alone, as with SQLite): a duplicate takes the key over as soon as that
-- instance stops beating in instances, instead of waiting out the lease.
ALTER TABLE idempotency_keys ADD COLUMN owner TEXT NOT NULL DEFAULT '';

CREATE TABLE instances (
    id      TEXT PRIMARY KEY,
    started INTEGER NOT NULL,
    beat    INTEGER NOT NULL
);

-- op_key is a digest of the keyed request that took a payment's latest
-- capture or cancel claim, so a retry after a crash recognises its own
-- operation, finished or interrupted, instead of answering invalid_state.
ALTER TABLE payments ADD COLUMN op_key TEXT NOT NULL DEFAULT '';
