-- +goose Up
-- What recontact last wrote to the ticket, so a write-back job sends only the
-- difference and an echoed webhook (tags already right) causes no write.
ALTER TABLE contacts ADD COLUMN tags_written TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN note_written SMALLINT NOT NULL DEFAULT 0;
-- off | pending | done | failed | dry-run
ALTER TABLE contacts ADD COLUMN writeback TEXT NOT NULL DEFAULT 'off';
ALTER TABLE contacts ADD COLUMN writeback_error TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE contacts DROP COLUMN writeback_error;
ALTER TABLE contacts DROP COLUMN writeback;
ALTER TABLE contacts DROP COLUMN note_written;
ALTER TABLE contacts DROP COLUMN tags_written;
