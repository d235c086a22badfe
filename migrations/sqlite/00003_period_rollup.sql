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
) WITHOUT ROWID;

-- contact_totals and booking_totals: the same for all partners together
-- (non-cancelled bookings from booking_days), so a year's totals read 365 rows.
CREATE TABLE contact_totals (
    day      BIGINT PRIMARY KEY,
    contacts BIGINT NOT NULL,
    resolved BIGINT NOT NULL,
    fcr      BIGINT NOT NULL,
    followed BIGINT NOT NULL
) WITHOUT ROWID;
CREATE TABLE booking_totals (
    day      BIGINT PRIMARY KEY,
    bookings BIGINT NOT NULL
) WITHOUT ROWID;

-- customer_links: contacts per day by the day of the customer's previous
-- contact (hops 1, prev_ms) and the one before it (hops 2, prev2_ms). For a
-- period starting on day F, links with since >= F are repeats inside it:
-- customers = contacts - links(1), repeat customers = links(1) - links(2).
CREATE TABLE customer_links (
    day   BIGINT   NOT NULL,
    hops  SMALLINT NOT NULL,
    since BIGINT   NOT NULL,
    n     BIGINT   NOT NULL,
    PRIMARY KEY (day, hops, since)
) WITHOUT ROWID;

-- partner_links: the same, counting only the customer's contacts with the
-- same partner, so per-partner customers need no GROUP BY over customers.
CREATE TABLE partner_links (
    day     BIGINT   NOT NULL,
    partner TEXT     NOT NULL,
    hops    SMALLINT NOT NULL,
    since   BIGINT   NOT NULL,
    n       BIGINT   NOT NULL,
    PRIMARY KEY (day, partner, hops, since)
) WITHOUT ROWID;
CREATE INDEX partner_links_partner ON partner_links (partner, day, hops, since, n);

-- The previous contacts of a customer with a partner (partner_links).
CREATE INDEX contacts_customer_partner ON contacts (customer_key, partner, created_ms);

-- rollup_stale: days whose rollup rows no longer match the contacts. The
-- triggers append in the writer's own transaction; a period query recomputes
-- the days it finds, so the rollups are exact whenever they are read.
CREATE TABLE rollup_stale (
    id   INTEGER PRIMARY KEY,
    day  BIGINT   NOT NULL,
    kind SMALLINT NOT NULL DEFAULT 0 -- 0 contacts, 1 bookings (booking_totals)
);

-- A change that moves a contact (time, customer, partner) also changes the
-- previous contacts of the next two of its customer with its partner.
-- +goose StatementBegin
CREATE TRIGGER contacts_rollup_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO rollup_stale (day) VALUES (NEW.created_ms / 86400000);
    INSERT INTO rollup_stale (day) SELECT created_ms / 86400000 FROM contacts
    WHERE customer_key = NEW.customer_key AND partner = NEW.partner AND created_ms >= NEW.created_ms AND id <> NEW.id
    ORDER BY created_ms LIMIT 2;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER contacts_rollup_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO rollup_stale (day) VALUES (OLD.created_ms / 86400000);
    INSERT INTO rollup_stale (day) SELECT created_ms / 86400000 FROM contacts
    WHERE customer_key = OLD.customer_key AND partner = OLD.partner AND created_ms >= OLD.created_ms
    ORDER BY created_ms LIMIT 2;
END;
-- +goose StatementEnd
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
-- +goose StatementBegin
CREATE TRIGGER contacts_rollup_verdict AFTER UPDATE OF resolved_ms, fcr, followed, prev_ms, prev2_ms ON contacts
WHEN OLD.resolved_ms IS NOT NEW.resolved_ms OR OLD.fcr IS NOT NEW.fcr OR OLD.followed IS NOT NEW.followed
    OR OLD.prev_ms IS NOT NEW.prev_ms OR OLD.prev2_ms IS NOT NEW.prev2_ms
BEGIN
    INSERT INTO rollup_stale (day) VALUES (NEW.created_ms / 86400000);
END;
-- +goose StatementEnd

-- booking_days changes in the booking's transaction; so does its day's mark.
-- +goose StatementBegin
CREATE TRIGGER booking_days_rollup AFTER UPDATE ON booking_days BEGIN
    INSERT INTO rollup_stale (day, kind) VALUES (CAST(julianday(NEW.day) - 2440587.5 AS INTEGER), 1);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER booking_days_rollup_insert AFTER INSERT ON booking_days BEGIN
    INSERT INTO rollup_stale (day, kind) VALUES (CAST(julianday(NEW.day) - 2440587.5 AS INTEGER), 1);
END;
-- +goose StatementEnd

-- Existing rows: every day is stale; the first period query fills it.
INSERT INTO rollup_stale (day) SELECT DISTINCT created_ms / 86400000 FROM contacts;
INSERT INTO rollup_stale (day, kind) SELECT DISTINCT CAST(julianday(day) - 2440587.5 AS INTEGER), 1 FROM booking_days;

-- +goose Down
DROP TRIGGER booking_days_rollup_insert;
DROP TRIGGER booking_days_rollup;
DROP TRIGGER contacts_rollup_verdict;
DROP TRIGGER contacts_rollup_move;
DROP TRIGGER contacts_rollup_delete;
DROP TRIGGER contacts_rollup_insert;
DROP TABLE rollup_stale;
DROP INDEX contacts_customer_partner;
DROP TABLE partner_links;
DROP TABLE customer_links;
DROP TABLE booking_totals;
DROP TABLE contact_totals;
DROP TABLE contact_days;
