-- The PostgreSQL twin of internal/store/sqlite/migrations/0011_simulator_ledger.sql
-- (BIGINT, "C" collation for ids).
--
-- The built-in test acquirer's ledger (issue 18 point 6), shared by every
-- instance on this database: each simulator call is one transaction that
-- locks the authorization row it changes (SELECT … FOR UPDATE under READ
-- COMMITTED), and the unique constraints make a second authorization of one
-- merchant's reference, or a second refund under one reference, impossible.
-- Nothing in it is card data or derived from card data.
CREATE TABLE sim_authorizations (
    id              TEXT COLLATE "C" PRIMARY KEY,
    merchant_id     TEXT COLLATE "C" NOT NULL,
    reference       TEXT COLLATE "C",
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    auth_code       TEXT NOT NULL DEFAULT '',
    avs_result      TEXT NOT NULL DEFAULT '',
    cvc_result      TEXT NOT NULL DEFAULT '',
    decline_code    TEXT NOT NULL DEFAULT '',
    decline_reason  TEXT NOT NULL DEFAULT '',
    decline_message TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL CHECK (state IN ('authorized', 'captured', 'voided', 'declined')),
    capture_id      TEXT COLLATE "C" UNIQUE,
    captured        BIGINT NOT NULL DEFAULT 0,
    refunded        BIGINT NOT NULL DEFAULT 0,
    created         BIGINT NOT NULL,
    updated         BIGINT NOT NULL,
    UNIQUE (merchant_id, reference),
    CHECK ((state = 'captured') = (capture_id IS NOT NULL)),
    CHECK (captured >= 0 AND captured <= amount AND refunded >= 0 AND refunded <= captured)
);

CREATE TABLE sim_refunds (
    id               TEXT COLLATE "C" PRIMARY KEY,
    authorization_id TEXT COLLATE "C" NOT NULL REFERENCES sim_authorizations(id),
    capture_id       TEXT COLLATE "C" NOT NULL,
    reference        TEXT COLLATE "C",
    amount           BIGINT NOT NULL CHECK (amount > 0),
    created          BIGINT NOT NULL,
    UNIQUE (capture_id, reference)
);

CREATE TABLE sim_journal_imports (
    digest   TEXT COLLATE "C" PRIMARY KEY,
    imported BIGINT NOT NULL
);
