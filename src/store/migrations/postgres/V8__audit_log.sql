-- The audit log: one entry per change (who, what, when, before and after),
-- appended in the transaction of the change. Entry `seq` is leaf seq − 1 of
-- an RFC 6962 Merkle tree; `leaf` is the hash of the entry's canonical JSON.
-- Signed tree heads let anyone check later that no entry was edited,
-- deleted, inserted or reordered (docs/audit-log.md).
CREATE TABLE audit_log (
    seq    BIGINT PRIMARY KEY,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    before TEXT,
    after  TEXT,
    leaf   BYTEA NOT NULL CHECK (octet_length(leaf) = 32)
);

CREATE TABLE audit_heads (
    size      BIGINT PRIMARY KEY,
    root      BYTEA NOT NULL CHECK (octet_length(root) = 32),
    at        TEXT NOT NULL,
    kid       TEXT NOT NULL,
    signature BYTEA NOT NULL CHECK (octet_length(signature) = 64)
);
