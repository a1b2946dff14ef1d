-- Sold at the till (issue 17): seller tokens (shops, distributors) mark
-- stamps sold. A seller token names its shop and the producers it sells
-- for (JSON array of ids; empty = all). SQLite cannot change a CHECK
-- constraint in place, so api_tokens is rebuilt; dashboard sessions opened
-- with a token end (their holders sign in again; admin sessions stay).
DELETE FROM sessions WHERE token_id IS NOT NULL;
CREATE TABLE api_tokens_v17 (
    id          INTEGER PRIMARY KEY,
    lookup      TEXT NOT NULL UNIQUE,
    hash        BLOB NOT NULL CHECK (length(hash) = 32),
    role        TEXT NOT NULL CHECK (role IN ('admin', 'producer', 'inspector', 'seller')),
    producer_id INTEGER REFERENCES producers (id),
    provinces   TEXT NOT NULL DEFAULT '[]',   -- JSON array; empty = all provinces
    label       TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT,
    sells_for   TEXT NOT NULL DEFAULT '[]',   -- JSON array of producer ids; empty = all
    shop        TEXT,                         -- a seller's shop, as scans name it
    CHECK ((role = 'producer') = (producer_id IS NOT NULL)),
    CHECK ((role = 'seller') = (shop IS NOT NULL))
);
INSERT INTO api_tokens_v17 (id, lookup, hash, role, producer_id, provinces, label, created_at, expires_at, revoked_at)
    SELECT id, lookup, hash, role, producer_id, provinces, label, created_at, expires_at, revoked_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_v17 RENAME TO api_tokens;

-- A stamp sold at the till: by which seller (the token's actor name, who
-- alone may undo it within ten days) and shop, and when.
CREATE TABLE sales (
    serial   BIGINT PRIMARY KEY,
    batch_id BIGINT NOT NULL,
    seq      BIGINT NOT NULL,
    sold_at  TEXT NOT NULL,
    seller   TEXT NOT NULL,
    shop     TEXT NOT NULL
);
CREATE INDEX sales_batch ON sales (batch_id);
