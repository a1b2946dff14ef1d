-- Scans, recalls, voids and consumer reports: what the scan page needs.

-- Per-stamp scan summary, kept in step with `scans` in the same transaction,
-- so the page never counts rows: total, first time, and the last few scans
-- (time, device, location) that the repeat-scan rules look at.
ALTER TABLE stamps ADD COLUMN scan_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stamps ADD COLUMN first_scan_at TEXT;
-- JSON array of the most recent scans: [{"at": unix seconds, "device": "…", "lat": …, "lon": …}]
ALTER TABLE stamps ADD COLUMN recent_scans TEXT;
ALTER TABLE stamps ADD COLUMN void_reason TEXT;

-- Every verification request, whatever its verdict. No raw IP address: the
-- client network is reduced (IPv4 /24, IPv6 /48) and hashed with a secret salt.
CREATE TABLE scans (
    id       INTEGER PRIMARY KEY,
    serial   INTEGER,              -- from the code, even when forged; NULL when malformed
    batch_id INTEGER,              -- from the code, not checked
    at       TEXT NOT NULL,
    verdict  TEXT NOT NULL,
    network  TEXT,
    device   TEXT,
    agent    TEXT,
    lat      REAL,
    lon      REAL
);
CREATE INDEX scans_by_serial ON scans (serial, at);

-- A recall of a whole batch (first_seq/last_seq NULL) or of a range of its stamps.
CREATE TABLE recalls (
    id          INTEGER PRIMARY KEY,
    batch_id    INTEGER NOT NULL REFERENCES batches (id),
    first_seq   INTEGER,
    last_seq    INTEGER,
    reason      TEXT NOT NULL,
    notice      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    lifted_at   TEXT,
    lift_reason TEXT
);
CREATE INDEX recalls_by_batch ON recalls (batch_id);

-- What consumers tell us from the scan page.
CREATE TABLE consumer_reports (
    id       INTEGER PRIMARY KEY,
    serial   INTEGER,
    batch_id INTEGER,
    at       TEXT NOT NULL,
    kind     TEXT NOT NULL,
    message  TEXT,
    place    TEXT,
    network  TEXT
);
CREATE INDEX consumer_reports_by_batch ON consumer_reports (batch_id);

-- Service-wide values every node must share (e.g. the network-hash salt).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
