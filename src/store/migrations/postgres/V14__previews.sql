-- Link-preview fetchers and crawlers that opened a stamp URL (issue 17):
-- counted per batch and robot family, never recorded as scans.
CREATE TABLE previews (
    batch_id BIGINT NOT NULL,
    family   TEXT NOT NULL,   -- facebook, zalo, google, head…
    n        BIGINT NOT NULL,
    last_at  TEXT NOT NULL,
    PRIMARY KEY (batch_id, family)
);
