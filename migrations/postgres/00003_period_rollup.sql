-- +goose Up
-- Period rollups: whole UTC days of contacts, so a year's report reads days
-- instead of a million rows. Days are created_ms / 86400000 (days since 1970).
--
-- contact_days: contacts per day and partner, and how many of them are
-- resolved, first-contact resolved and followed by an order.
CREATE TABLE contact_days (
    day      BIGINT NOT NULL,
    partner  TEXT   NOT NULL,
    contacts BIGINT NOT NULL,
    resolved BIGINT NOT NULL,
    fcr      BIGINT NOT NULL,
    followed BIGINT NOT NULL,
    PRIMARY KEY (day, partner)
);

-- contact_totals and booking_totals: the same for all partners together
-- (non-cancelled bookings from booking_days), so a year's totals read 365 rows.
CREATE TABLE contact_totals (
    day      BIGINT PRIMARY KEY,
    contacts BIGINT NOT NULL,
    resolved BIGINT NOT NULL,
    fcr      BIGINT NOT NULL,
    followed BIGINT NOT NULL
);
CREATE TABLE booking_totals (
    day      BIGINT PRIMARY KEY,
    bookings BIGINT NOT NULL
);

-- customer_links: contacts per day by the day of the customer's previous
-- contact (hops 1, prev_ms) and the one before it (hops 2, prev2_ms). For a
-- period starting on day F, links with since >= F are repeats inside it:
-- customers = contacts - links(1), repeat customers = links(1) - links(2).
CREATE TABLE customer_links (
    day   BIGINT   NOT NULL,
    hops  SMALLINT NOT NULL,
    since BIGINT   NOT NULL,
    n     BIGINT   NOT NULL,
    PRIMARY KEY (day, hops, since) INCLUDE (n)
);

-- partner_links: the same, counting only the customer's contacts with the
-- same partner, so per-partner customers need no GROUP BY over customers.
CREATE TABLE partner_links (
    day     BIGINT   NOT NULL,
    partner TEXT     NOT NULL,
    hops    SMALLINT NOT NULL,
    since   BIGINT   NOT NULL,
    n       BIGINT   NOT NULL,
    PRIMARY KEY (day, partner, hops, since) INCLUDE (n)
);
CREATE INDEX partner_links_partner ON partner_links (partner, day, hops, since) INCLUDE (n);

-- The previous contacts of a customer with a partner (partner_links).
CREATE INDEX contacts_customer_partner ON contacts (customer_key, partner, created_ms);

-- rollup_stale: days whose rollup rows no longer match the contacts. The
-- triggers append in the writer's own transaction (append only, so writers
-- never wait on each other here); a period query recomputes the days it
-- finds, so the rollups are exact whenever they are read.
CREATE TABLE rollup_stale (
    id   BIGSERIAL PRIMARY KEY,
    day  BIGINT   NOT NULL,
    kind SMALLINT NOT NULL DEFAULT 0 -- 0 contacts, 1 bookings (booking_totals)
);

-- A change that moves a contact (time, customer, partner) also changes the
-- previous contacts of the next two of its customer with its partner.
-- +goose StatementBegin
CREATE FUNCTION contacts_rollup_stale() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER contacts_rollup_write AFTER INSERT OR DELETE ON contacts
    FOR EACH ROW EXECUTE FUNCTION contacts_rollup_stale();
CREATE TRIGGER contacts_rollup_update AFTER UPDATE OF created_ms, customer_key, partner, resolved_ms, fcr, followed, prev_ms, prev2_ms ON contacts
    FOR EACH ROW WHEN ((OLD.created_ms, OLD.customer_key, OLD.partner, OLD.resolved_ms, OLD.fcr, OLD.followed, OLD.prev_ms, OLD.prev2_ms)
        IS DISTINCT FROM (NEW.created_ms, NEW.customer_key, NEW.partner, NEW.resolved_ms, NEW.fcr, NEW.followed, NEW.prev_ms, NEW.prev2_ms))
    EXECUTE FUNCTION contacts_rollup_stale();

-- booking_days changes in the booking's transaction; so does its day's mark.
-- +goose StatementBegin
CREATE FUNCTION booking_days_rollup_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_stale (day, kind) VALUES (NEW.day::date - DATE '1970-01-01', 1);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER booking_days_rollup AFTER INSERT OR UPDATE ON booking_days
    FOR EACH ROW EXECUTE FUNCTION booking_days_rollup_stale();

-- Existing rows: every day is stale; the first period query fills it.
INSERT INTO rollup_stale (day) SELECT DISTINCT created_ms / 86400000 FROM contacts;
INSERT INTO rollup_stale (day, kind) SELECT DISTINCT day::date - DATE '1970-01-01', 1 FROM booking_days;

-- +goose Down
DROP TRIGGER booking_days_rollup ON booking_days;
DROP FUNCTION booking_days_rollup_stale();
DROP TRIGGER contacts_rollup_update ON contacts;
DROP TRIGGER contacts_rollup_write ON contacts;
DROP FUNCTION contacts_rollup_stale();
DROP TABLE rollup_stale;
DROP INDEX contacts_customer_partner;
DROP TABLE partner_links;
DROP TABLE customer_links;
DROP TABLE booking_totals;
DROP TABLE contact_totals;
DROP TABLE contact_days;
