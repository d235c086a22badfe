-- +goose Up
-- Evaluation marks live in their own table rather than in a contacts.dirty
-- column. With the flag in a partial index's predicate, every evaluation
-- rewrote its contacts and all seven of their index entries just to clear it,
-- even when no verdict changed (most evaluations: a new open ticket). Now an
-- evaluation writes only the verdicts that changed and deletes the marks it
-- read, by id: a mark added meanwhile has another id and survives, so the
-- change behind it is judged on the next pass.
CREATE TABLE marks (
    id         BIGSERIAL PRIMARY KEY,
    contact_id BIGINT NOT NULL
);
CREATE INDEX marks_contact ON marks (contact_id);
INSERT INTO marks (contact_id) SELECT id FROM contacts WHERE dirty = 1;
DROP INDEX contacts_dirty;
ALTER TABLE contacts DROP COLUMN dirty;

-- The contacts that followed a moved contact at its old place are marked.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION contacts_rollup_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO rollup_stale (day) VALUES (OLD.created_ms / 86400000);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.created_ms / 86400000 <> OLD.created_ms / 86400000) THEN
        INSERT INTO rollup_stale (day) VALUES (NEW.created_ms / 86400000);
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.created_ms, OLD.customer_key, OLD.partner) IS DISTINCT FROM (NEW.created_ms, NEW.customer_key, NEW.partner)) THEN
        INSERT INTO rollup_stale (day) SELECT c.created_ms / 86400000 FROM contacts c
        WHERE c.customer_key = OLD.customer_key AND c.partner = OLD.partner AND c.created_ms >= OLD.created_ms AND c.id <> OLD.id
        ORDER BY c.created_ms LIMIT 2;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (OLD.created_ms, OLD.customer_key, OLD.partner) IS DISTINCT FROM (NEW.created_ms, NEW.customer_key, NEW.partner)) THEN
        INSERT INTO rollup_stale (day) SELECT c.created_ms / 86400000 FROM contacts c
        WHERE c.customer_key = NEW.customer_key AND c.partner = NEW.partner AND c.created_ms >= NEW.created_ms AND c.id <> NEW.id
        ORDER BY c.created_ms LIMIT 2;
    END IF;
    -- The contacts that followed it at its old place keep cohort pointers
    -- (prev_ms) to it: have the evaluator redo them. Evaluation writes no
    -- column these triggers watch, so nothing recurses.
    IF TG_OP = 'UPDATE' AND (OLD.created_ms, OLD.customer_key) IS DISTINCT FROM (NEW.created_ms, NEW.customer_key) THEN
        INSERT INTO marks (contact_id)
            SELECT c.id FROM contacts c WHERE c.customer_key = OLD.customer_key AND c.created_ms >= OLD.created_ms AND c.id <> OLD.id
            ORDER BY c.created_ms LIMIT 2;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE contacts ADD COLUMN dirty SMALLINT NOT NULL DEFAULT 0;
UPDATE contacts SET dirty = 1 WHERE id IN (SELECT contact_id FROM marks);
CREATE INDEX contacts_dirty ON contacts (customer_key) WHERE dirty = 1;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION contacts_rollup_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO rollup_stale (day) VALUES (OLD.created_ms / 86400000);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.created_ms / 86400000 <> OLD.created_ms / 86400000) THEN
        INSERT INTO rollup_stale (day) VALUES (NEW.created_ms / 86400000);
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.created_ms, OLD.customer_key, OLD.partner) IS DISTINCT FROM (NEW.created_ms, NEW.customer_key, NEW.partner)) THEN
        INSERT INTO rollup_stale (day) SELECT c.created_ms / 86400000 FROM contacts c
        WHERE c.customer_key = OLD.customer_key AND c.partner = OLD.partner AND c.created_ms >= OLD.created_ms AND c.id <> OLD.id
        ORDER BY c.created_ms LIMIT 2;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (OLD.created_ms, OLD.customer_key, OLD.partner) IS DISTINCT FROM (NEW.created_ms, NEW.customer_key, NEW.partner)) THEN
        INSERT INTO rollup_stale (day) SELECT c.created_ms / 86400000 FROM contacts c
        WHERE c.customer_key = NEW.customer_key AND c.partner = NEW.partner AND c.created_ms >= NEW.created_ms AND c.id <> NEW.id
        ORDER BY c.created_ms LIMIT 2;
    END IF;
    -- The contacts that followed it at its old place keep cohort pointers
    -- (prev_ms) to it: have the evaluator redo them. Evaluation writes no
    -- column these triggers watch, so nothing recurses.
    IF TG_OP = 'UPDATE' AND (OLD.created_ms, OLD.customer_key) IS DISTINCT FROM (NEW.created_ms, NEW.customer_key) THEN
        UPDATE contacts SET dirty = 1, version = version + 1 WHERE id IN (
            SELECT c.id FROM contacts c WHERE c.customer_key = OLD.customer_key AND c.created_ms >= OLD.created_ms AND c.id <> OLD.id
            ORDER BY c.created_ms LIMIT 2);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
DROP TABLE marks;
