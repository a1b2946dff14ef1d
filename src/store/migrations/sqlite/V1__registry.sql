-- The registry: producers, products, batches, stages, signing keys and stamps.
-- Times are RFC 3339 UTC text, dates ISO 8601 text.

CREATE TABLE producers (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('household', 'cooperative', 'cooperative-group', 'enterprise')),
    name            TEXT NOT NULL,
    registration_no TEXT,
    street          TEXT,
    commune         TEXT NOT NULL,
    district        TEXT,
    province        TEXT NOT NULL,
    phone           TEXT,
    email           TEXT,
    created_at      TEXT NOT NULL
);

CREATE TABLE products (
    id                 INTEGER PRIMARY KEY,
    producer_id        INTEGER NOT NULL REFERENCES producers (id),
    name               TEXT NOT NULL,
    ocop_group         TEXT,
    ocop_stars         INTEGER CHECK (ocop_stars BETWEEN 3 AND 5),
    ocop_decision_no   TEXT,
    ocop_decision_date TEXT,
    gtin               TEXT,
    description        TEXT,
    created_at         TEXT NOT NULL,
    CHECK ((ocop_stars IS NULL) = (ocop_decision_no IS NULL) AND (ocop_stars IS NULL) = (ocop_decision_date IS NULL))
);
CREATE INDEX products_by_producer ON products (producer_id);

CREATE TABLE product_images (
    product_id INTEGER NOT NULL REFERENCES products (id),
    position   INTEGER NOT NULL,
    ref        TEXT NOT NULL,
    PRIMARY KEY (product_id, position)
) WITHOUT ROWID;

CREATE TABLE certifications (
    product_id  INTEGER NOT NULL REFERENCES products (id),
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    issuer      TEXT,
    number      TEXT,
    valid_until TEXT,
    PRIMARY KEY (product_id, position)
) WITHOUT ROWID;

-- Batch ids travel inside stamp codes as 32 bits.
CREATE TABLE batches (
    id                INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 4294967295),
    product_id        INTEGER NOT NULL REFERENCES products (id),
    lot_code          TEXT NOT NULL,
    production_date   TEXT NOT NULL,
    expiry_date       TEXT,
    shelf_life_days   INTEGER,
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit              TEXT,
    raw_material_area TEXT,
    created_at        TEXT NOT NULL,
    UNIQUE (product_id, lot_code)
);

CREATE TABLE stages (
    batch_id INTEGER NOT NULL REFERENCES batches (id),
    position INTEGER NOT NULL,
    name     TEXT NOT NULL,
    place    TEXT,
    time     TEXT NOT NULL,
    note     TEXT,
    PRIMARY KEY (batch_id, position)
) WITHOUT ROWID;

-- Public keys that signed stamps here; status lives in the key ring.
CREATE TABLE signing_keys (
    id         INTEGER PRIMARY KEY,
    kid        TEXT NOT NULL UNIQUE,
    public_key BLOB NOT NULL CHECK (length(public_key) = 32)
);

CREATE TABLE issuances (
    id         INTEGER PRIMARY KEY,
    uuid       TEXT NOT NULL UNIQUE,
    batch_id   INTEGER NOT NULL REFERENCES batches (id),
    key_id     INTEGER NOT NULL REFERENCES signing_keys (id),
    first_seq  INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX issuances_by_batch ON issuances (batch_id);

-- One row per issued serial, clustered by batch and number: issuance appends
-- at the end of the table, and sheets read ranges of numbers in order. The
-- serial (64 random bits, stored as a signed integer) has its own unique
-- index, small enough to stay in cache while a million random keys go in.
-- state: 0 issued, 1 printed, 2 activated, 3 voided.
CREATE TABLE stamps (
    batch_id    INTEGER NOT NULL REFERENCES batches (id),
    seq         INTEGER NOT NULL CHECK (seq > 0),
    serial      INTEGER NOT NULL,
    issuance_id INTEGER NOT NULL REFERENCES issuances (id),
    state       INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 3),
    signature   BLOB NOT NULL CHECK (length(signature) = 64),
    PRIMARY KEY (batch_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX stamps_by_serial ON stamps (serial);

-- Stamp counts per batch and state, kept in step with `stamps` in the same
-- transactions, so dashboards never count a million rows.
CREATE TABLE batch_stamp_counts (
    batch_id INTEGER NOT NULL REFERENCES batches (id),
    state    INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),
    n        INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (batch_id, state)
) WITHOUT ROWID;
