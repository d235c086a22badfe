-- +goose Up
-- An inbox row holds a whole group commit's new deliveries (a JSON array)
-- rather than one: the acknowledgement writes one inbox row, and the applier
-- deletes one, for every batch instead of every delivery. Rows written
-- before hold one delivery, a JSON object; the applier reads both.
ALTER TABLE inbox ADD COLUMN deliveries INTEGER NOT NULL DEFAULT 1;
-- +goose Down
ALTER TABLE inbox DROP COLUMN deliveries;
