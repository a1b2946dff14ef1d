-- The device (salted hash, as scans record it) that claimed a stamp: a later
-- scan of the claimed stamp from another device raises a `claimed-rescan`
-- alert in triage (issue 17).
ALTER TABLE claims ADD COLUMN device TEXT;
