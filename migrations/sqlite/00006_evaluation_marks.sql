-- +goose Up
-- Evaluation marks live in their own table rather than in a contacts.dirty
-- column (see the PostgreSQL migration): an evaluation writes only the
-- verdicts that changed and deletes the marks it read, by id.
CREATE TABLE marks (
    id         INTEGER PRIMARY KEY,
    contact_id BIGINT NOT NULL
);
CREATE INDEX marks_contact ON marks (contact_id);
INSERT INTO marks (contact_id) SELECT id FROM contacts WHERE dirty = 1;
DROP INDEX contacts_dirty;
-- The trigger names the column, so it goes before the column does.
DROP TRIGGER contacts_rollup_move;
ALTER TABLE contacts DROP COLUMN dirty;
-- +goose StatementBegin
CREATE TRIGGER contacts_rollup_move AFTER UPDATE OF created_ms, customer_key, partner ON contacts
WHEN OLD.created_ms IS NOT NEW.created_ms OR OLD.customer_key IS NOT NEW.customer_key OR OLD.partner IS NOT NEW.partner
BEGIN
    INSERT INTO rollup_stale (day) VALUES (OLD.created_ms / 86400000), (NEW.created_ms / 86400000);
    INSERT INTO rollup_stale (day) SELECT created_ms / 86400000 FROM contacts
    WHERE customer_key = OLD.customer_key AND partner = OLD.partner AND created_ms >= OLD.created_ms AND id <> OLD.id
    ORDER BY created_ms LIMIT 2;
    INSERT INTO rollup_stale (day) SELECT created_ms / 86400000 FROM contacts
    WHERE customer_key = NEW.customer_key AND partner = NEW.partner AND created_ms >= NEW.created_ms AND id <> NEW.id
    ORDER BY created_ms LIMIT 2;
    -- The contacts that followed it at its old place keep cohort pointers
    -- (prev_ms) to it: have the evaluator redo them. Evaluation writes no
    -- column this trigger watches, so nothing recurses.
    INSERT INTO marks (contact_id)
        SELECT id FROM contacts WHERE customer_key = OLD.customer_key AND created_ms >= OLD.created_ms AND id <> OLD.id
        AND (OLD.customer_key IS NOT NEW.customer_key OR OLD.created_ms IS NOT NEW.created_ms)
        ORDER BY created_ms LIMIT 2;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER contacts_rollup_move;
ALTER TABLE contacts ADD COLUMN dirty SMALLINT NOT NULL DEFAULT 0;
UPDATE contacts SET dirty = 1 WHERE id IN (SELECT contact_id FROM marks);
CREATE INDEX contacts_dirty ON contacts (customer_key) WHERE dirty = 1;
-- +goose StatementBegin
CREATE TRIGGER contacts_rollup_move AFTER UPDATE OF created_ms, customer_key, partner ON contacts
WHEN OLD.created_ms IS NOT NEW.created_ms OR OLD.customer_key IS NOT NEW.customer_key OR OLD.partner IS NOT NEW.partner
BEGIN
    INSERT INTO rollup_stale (day) VALUES (OLD.created_ms / 86400000), (NEW.created_ms / 86400000);
    INSERT INTO rollup_stale (day) SELECT created_ms / 86400000 FROM contacts
    WHERE customer_key = OLD.customer_key AND partner = OLD.partner AND created_ms >= OLD.created_ms AND id <> OLD.id
    ORDER BY created_ms LIMIT 2;
    INSERT INTO rollup_stale (day) SELECT created_ms / 86400000 FROM contacts
    WHERE customer_key = NEW.customer_key AND partner = NEW.partner AND created_ms >= NEW.created_ms AND id <> NEW.id
    ORDER BY created_ms LIMIT 2;
    -- The contacts that followed it at its old place keep cohort pointers
    -- (prev_ms) to it: have the evaluator redo them. Evaluation writes no
    -- column this trigger watches, so nothing recurses.
    UPDATE contacts SET dirty = 1, version = version + 1 WHERE id IN (
        SELECT id FROM contacts WHERE customer_key = OLD.customer_key AND created_ms >= OLD.created_ms AND id <> OLD.id
        ORDER BY created_ms LIMIT 2)
    AND (OLD.customer_key IS NOT NEW.customer_key OR OLD.created_ms IS NOT NEW.created_ms);
END;
-- +goose StatementEnd
DROP TABLE marks;
