-- Batch verifications (issue 9): every run of `tem verify --batch` or
-- POST /api/v1/batches/{id}/verification, with the signed report it gave.
CREATE TABLE verifications (
    id        TEXT PRIMARY KEY,   -- the report's uuid
    batch_id  BIGINT NOT NULL,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    verdict   TEXT NOT NULL,      -- clean | findings | compromised
    report    TEXT NOT NULL       -- the signed report (JSON)
);
CREATE INDEX verifications_by_batch ON verifications (batch_id, at);
