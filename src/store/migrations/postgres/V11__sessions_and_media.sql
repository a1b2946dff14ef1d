-- Dashboard sessions: the cookie holds a random id, the database its
-- SHA-256. A session stands for the token it was opened with (NULL: the
-- configured admin token, identified by the hash of that token), so
-- revoking the token ends its sessions at once. Kept in the database so any
-- node can serve any request.
CREATE TABLE sessions (
    hash        BYTEA PRIMARY KEY CHECK (octet_length(hash) = 32),
    token_id    BIGINT REFERENCES api_tokens(id),
    admin_hash  BYTEA,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

-- Images uploaded from the dashboard (product photos), resized and
-- re-encoded (no metadata), named by the SHA-256 of their bytes.
CREATE TABLE media (
    name         TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    created_at   TEXT NOT NULL
);
