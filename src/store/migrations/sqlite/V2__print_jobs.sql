-- Every printable file handed out: who, when, which layout and format, which
-- stamps. Reprints are allowed and counted.
CREATE TABLE print_jobs (
    id         INTEGER PRIMARY KEY,
    uuid       TEXT NOT NULL UNIQUE,
    batch_id   INTEGER NOT NULL REFERENCES batches (id),
    actor      TEXT NOT NULL,
    layout     TEXT NOT NULL,
    format     TEXT NOT NULL,
    first_seq  INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL,
    -- Stamp numbers as a JSON array when they are not first_seq..last_seq.
    seqs       TEXT,
    stamps     INTEGER NOT NULL CHECK (stamps > 0),
    -- How many of them had been printed before.
    reprinted  INTEGER NOT NULL CHECK (reprinted >= 0),
    created_at TEXT NOT NULL
);
CREATE INDEX print_jobs_by_batch ON print_jobs (batch_id);
