-- The inspectors' triage queue: scan alerts (events with action 'alert') and
-- consumer reports, each resolved once with an outcome and a note.
CREATE TABLE triage_resolutions (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('alert', 'report')),
    item_id     INTEGER NOT NULL,      -- events.id for alerts, consumer_reports.id for reports
    outcome     TEXT NOT NULL CHECK (outcome IN ('process-error', 'confirmed-counterfeit', 'no-action', 'other')),
    note        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    resolved_at TEXT NOT NULL,
    UNIQUE (kind, item_id)
);
