-- +goose Up
-- An inbox row holds a whole group commit's new deliveries (a JSON array)
-- rather than one: the acknowledgement writes one inbox row, and the applier
-- locks and deletes one, for every batch instead of every delivery. Rows
-- written before hold one delivery, a JSON object; the applier reads both.
ALTER TABLE inbox ADD COLUMN deliveries INTEGER NOT NULL DEFAULT 1;

-- deliveries are inserted in arrival order, so a block-range index finds a
-- time range (retention, replay) as well as a B-tree at a fraction of the
-- upkeep: every acknowledged delivery paid for a B-tree entry.
DROP INDEX deliveries_received;
CREATE INDEX deliveries_received ON deliveries USING brin (received_ms);
-- +goose Down
DROP INDEX deliveries_received;
CREATE INDEX deliveries_received ON deliveries (received_ms);
ALTER TABLE inbox DROP COLUMN deliveries;
