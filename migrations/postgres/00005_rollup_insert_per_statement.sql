-- +goose Up
-- Inserted contacts mark their days stale once per statement rather than once
-- per row. The applier inserts hundreds of contacts per statement, and the
-- row trigger (a PL/pgSQL call and two inserts for each) cost about as much
-- as the insert itself. Deletes keep the row trigger (transition tables serve
-- one event per trigger, and deletes are rare); so do updates, which fire
-- only when a watched column changes.
DROP TRIGGER contacts_rollup_write ON contacts;
CREATE TRIGGER contacts_rollup_delete AFTER DELETE ON contacts
    FOR EACH ROW EXECUTE FUNCTION contacts_rollup_stale();
-- The same days the row trigger marked for an insert: the contact's own, and
-- those of the next two contacts of its customer with its partner.
-- +goose StatementBegin
CREATE FUNCTION contacts_rollup_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_stale (day)
    SELECT DISTINCT day FROM (
        SELECT n.created_ms / 86400000 AS day FROM inserted n
        UNION ALL
        SELECT next.created_ms / 86400000 FROM inserted n CROSS JOIN LATERAL (
            SELECT c.created_ms FROM contacts c
            WHERE c.customer_key = n.customer_key AND c.partner = n.partner AND c.created_ms >= n.created_ms AND c.id <> n.id
            ORDER BY c.created_ms LIMIT 2) next
    ) days;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER contacts_rollup_insert AFTER INSERT ON contacts REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_rollup_inserted();

-- +goose Down
DROP TRIGGER contacts_rollup_insert ON contacts;
DROP FUNCTION contacts_rollup_inserted();
DROP TRIGGER contacts_rollup_delete ON contacts;
CREATE TRIGGER contacts_rollup_write AFTER INSERT OR DELETE ON contacts
    FOR EACH ROW EXECUTE FUNCTION contacts_rollup_stale();
