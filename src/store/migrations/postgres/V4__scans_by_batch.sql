-- Scans are read per batch (reports: scans per day, per province, the
-- history of suspicious stamps), never by serial alone: the stamp row keeps
-- its own count and recent scans. An index on (batch, time) grows at its end
-- as scans arrive, where one on the random serial touched a different page
-- for every scan.
DROP INDEX scans_by_serial;
CREATE INDEX scans_by_batch ON scans (batch_id, at);
