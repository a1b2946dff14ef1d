-- Claim codes (issue 17): an issuance may give its stamps claim codes
-- (derived from the claim key, never stored); the first right code claims
-- the stamp. Wrong codes are counted per stamp (locked at five) and per
-- client network and hour.
ALTER TABLE issuances ADD COLUMN claim_codes INTEGER NOT NULL DEFAULT 0;
CREATE TABLE claims (
    serial     BIGINT PRIMARY KEY,      -- the stamp
    batch_id   BIGINT NOT NULL,
    claimed_at TEXT,                    -- when the right code came
    province   TEXT,                    -- where, if the buyer shared it
    failures   BIGINT NOT NULL DEFAULT 0,
    locked_at  TEXT                     -- five wrong codes: no more tries
);
CREATE TABLE claim_windows (
    network TEXT NOT NULL,
    hour    BIGINT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (network, hour)
);
