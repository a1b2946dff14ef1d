-- Requests per client network (its reduced, hashed form) and minute, for
-- the scan rate limit when several tem nodes share one database. UNLOGGED:
-- no WAL for a counter that may be lost in a crash.
CREATE UNLOGGED TABLE rate_windows (
    network TEXT NOT NULL,
    minute  BIGINT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (network, minute)
);
