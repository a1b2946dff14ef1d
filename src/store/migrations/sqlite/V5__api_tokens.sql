-- API tokens. Only a SHA-256 of each token is kept: `lookup` (its first 8
-- bytes, hex) finds the row, and the whole hash is then compared in constant
-- time. The token itself is shown once, when it is created.
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    lookup      TEXT NOT NULL UNIQUE,
    hash        BLOB NOT NULL CHECK (length(hash) = 32),
    role        TEXT NOT NULL CHECK (role IN ('admin', 'producer', 'inspector')),
    producer_id INTEGER REFERENCES producers (id),
    provinces   TEXT NOT NULL DEFAULT '[]',   -- JSON array; empty = all provinces
    label       TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT,
    CHECK ((role = 'producer') = (producer_id IS NOT NULL))
);
