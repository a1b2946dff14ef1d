-- Perfect subtrees of the audit log's Merkle tree above the leaves: node
-- (level, idx) is the hash of leaves idx·2^level .. (idx+1)·2^level − 1,
-- written when its last leaf is appended. Heads and proofs then cost
-- O(log n) reads instead of rehashing the whole log. `tem audit verify`
-- never trusts these: it recomputes everything from the entries.
CREATE TABLE audit_nodes (
    level BIGINT NOT NULL CHECK (level >= 1),
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (level, idx)
);
