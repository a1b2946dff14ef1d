-- The stamp lifecycle as events, in the spirit of GS1 EPCIS: what (a batch
-- and a range of its stamps), when, where, why and who. Written in the same
-- transaction as the change they describe; reports and the EPCIS export read
-- them, and the audit log will be built on them.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN ('commission', 'print', 'activate', 'void', 'recall', 'lift', 'alert')),
    batch_id  INTEGER NOT NULL REFERENCES batches (id),
    first_seq INTEGER,             -- the stamps concerned: first_seq..last_seq;
    last_seq  INTEGER,             -- both NULL: the whole batch
    count     INTEGER NOT NULL,    -- stamps that changed
    actor     TEXT NOT NULL,       -- "cli:USER", "token 3 (producer)", "scan"
    place     TEXT,                -- where, when known (the producer's province, a scan's network)
    reason    TEXT,
    detail    TEXT                 -- JSON: issuance id, print job, notice…
);
CREATE INDEX events_by_batch ON events (batch_id, id);
