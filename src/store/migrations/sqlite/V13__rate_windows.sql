-- Requests per client network (its reduced, hashed form) and minute, for
-- the scan rate limit when several tem nodes share one database. A single
-- SQLite node counts in memory and leaves this table empty.
CREATE TABLE rate_windows (
    network TEXT NOT NULL,
    minute  INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (network, minute)
) WITHOUT ROWID;
