-- The built-in test acquirer's ledger (issue 18 point 6). It used to live in
-- memory, made durable by a journal file per process, so a second instance
-- on the same PostgreSQL database could not capture what the first had
-- authorized. Here every instance sees one ledger, and each simulator call is
-- one transaction. Nothing in it is card data or derived from card data: no
-- PAN, no part or hash of one, no CVC, no expiry, no holder; the results kept
-- (auth code, AVS and CVC results, decline codes) are the issuer's answers.
--
-- One row per authorization processed, approved or declined (a decline's id
-- is internal), with its one capture and the sum of that capture's refunds,
-- so capture, void and refund each lock one row. reference is NULL when the
-- caller gave none: NULLs never collide, so only a real reference is unique
-- per merchant (the acquirer's idempotency). The checks are the ledger's
-- rules, kept by the database as well as by the simulator.
CREATE TABLE sim_authorizations (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL,
    reference       TEXT,
    amount          INTEGER NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    auth_code       TEXT NOT NULL DEFAULT '',
    avs_result      TEXT NOT NULL DEFAULT '',
    cvc_result      TEXT NOT NULL DEFAULT '',
    decline_code    TEXT NOT NULL DEFAULT '',
    decline_reason  TEXT NOT NULL DEFAULT '',
    decline_message TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL CHECK (state IN ('authorized', 'captured', 'voided', 'declined')),
    capture_id      TEXT UNIQUE,
    captured        INTEGER NOT NULL DEFAULT 0,
    refunded        INTEGER NOT NULL DEFAULT 0,
    created         INTEGER NOT NULL,
    updated         INTEGER NOT NULL,
    UNIQUE (merchant_id, reference),
    CHECK ((state = 'captured') = (capture_id IS NOT NULL)),
    CHECK (captured >= 0 AND captured <= amount AND refunded >= 0 AND refunded <= captured)
);

CREATE TABLE sim_refunds (
    id               TEXT PRIMARY KEY,
    authorization_id TEXT NOT NULL REFERENCES sim_authorizations(id),
    capture_id       TEXT NOT NULL,
    reference        TEXT,
    amount           INTEGER NOT NULL CHECK (amount > 0),
    created          INTEGER NOT NULL,
    UNIQUE (capture_id, reference)
);

-- Journal files of older versions imported at start, by the SHA-256 of their
-- complete lines: the import and this row commit together, so a start that
-- dies before renaming the file does not import it twice.
CREATE TABLE sim_journal_imports (
    digest   TEXT PRIMARY KEY,
    imported INTEGER NOT NULL
);
