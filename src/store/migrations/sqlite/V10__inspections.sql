-- Inspections: an inspector's check of the stamps found in a shop or market
-- (codes typed, pasted or scanned, or photos), with place and time, a
-- verdict per stamp and duplicates flagged. Written once, in one
-- transaction with its audit entry; never edited.
CREATE TABLE inspections (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,          -- when the inspection took place
    place       TEXT NOT NULL,
    province    TEXT,
    lat         REAL,
    lon         REAL,
    note        TEXT,
    inspector   TEXT NOT NULL,          -- who submitted it (actor)
    source      TEXT NOT NULL,          -- 'online' or 'offline' (bundle sync)
    bundle_at   TEXT,                   -- offline: the bundle's creation time
    created_at  TEXT NOT NULL
);

CREATE TABLE inspection_items (
    inspection_id INTEGER NOT NULL REFERENCES inspections(id),
    n             INTEGER NOT NULL,     -- 1-based position in the list
    source        TEXT NOT NULL,        -- 'code', 'photo 2', or the offline check
    input         TEXT NOT NULL,        -- what was read, at most 400 bytes
    serial        TEXT,
    batch_id      INTEGER,
    verdict       TEXT NOT NULL,
    reason        TEXT,
    duplicate_of  INTEGER,              -- n of the first item with this serial
    offline_verdict TEXT,               -- what the offline kit said, if offline
    checked_at    TEXT,                 -- offline: when this stamp was checked
    PRIMARY KEY (inspection_id, n)
) WITHOUT ROWID;

CREATE INDEX inspections_by_province ON inspections (province, at);
