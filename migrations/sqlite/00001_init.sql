-- +goose Up
-- Instants are BIGINT Unix milliseconds in both dialects; dates are TEXT YYYY-MM-DD.

-- deliveries: one row per accepted webhook; the key is the idempotency key and
-- the body is kept for replay until RAW_RETENTION prunes it.
CREATE TABLE deliveries (
    source      TEXT   NOT NULL,
    dedupe_key  TEXT   NOT NULL,
    received_ms BIGINT NOT NULL,
    body        BLOB,
    PRIMARY KEY (source, dedupe_key)
);
CREATE INDEX deliveries_received ON deliveries (received_ms);

CREATE TABLE contacts (
    id            INTEGER PRIMARY KEY,
    source        TEXT     NOT NULL,
    ticket_id     TEXT     NOT NULL,
    customer_key  TEXT     NOT NULL DEFAULT '',
    requester_id  TEXT     NOT NULL DEFAULT '',
    org_id        TEXT     NOT NULL DEFAULT '',
    partner       TEXT     NOT NULL DEFAULT '',
    channel       TEXT     NOT NULL DEFAULT '',
    status        TEXT     NOT NULL DEFAULT '',
    created_ms    BIGINT   NOT NULL,
    updated_ms    BIGINT   NOT NULL,
    resolved_ms   BIGINT,
    replies       INTEGER  NOT NULL DEFAULT 0,
    reopens       INTEGER  NOT NULL DEFAULT 0,
    booking_ref   TEXT     NOT NULL DEFAULT '',
    tags          TEXT     NOT NULL DEFAULT '',
    version       BIGINT   NOT NULL DEFAULT 1,
    dirty         SMALLINT NOT NULL DEFAULT 1,
    -- evaluation (metrics.Verdict), kept so period queries need no joins
    repeat_contact SMALLINT NOT NULL DEFAULT 0,
    previous       TEXT     NOT NULL DEFAULT '',
    fcr            TEXT     NOT NULL DEFAULT 'pending',
    stage          TEXT     NOT NULL DEFAULT '',
    followed       SMALLINT NOT NULL DEFAULT 0,
    -- created_ms of the customer's previous two contacts: a contact opens its
    -- customer's cohort in [from,to) when prev_ms < from, so distinct and repeat
    -- customers are sums instead of a GROUP BY over customers.
    prev_ms        BIGINT,
    prev2_ms       BIGINT,
    UNIQUE (source, ticket_id)
);
CREATE INDEX contacts_customer ON contacts (customer_key, created_ms);
CREATE INDEX contacts_requester ON contacts (source, requester_id);
CREATE INDEX contacts_period ON contacts (created_ms, partner, resolved_ms, fcr, followed, prev_ms, prev2_ms);
CREATE INDEX contacts_dirty ON contacts (customer_key) WHERE dirty = 1;

CREATE TABLE bookings (
    id           TEXT   PRIMARY KEY,
    partner      TEXT   NOT NULL DEFAULT '',
    customer_key TEXT   NOT NULL,
    created_ms   BIGINT NOT NULL,
    check_in     TEXT   NOT NULL DEFAULT '',
    check_out    TEXT   NOT NULL DEFAULT '',
    status       TEXT   NOT NULL DEFAULT '',
    updated_ms   BIGINT NOT NULL
);
CREATE INDEX bookings_customer ON bookings (customer_key, created_ms);
CREATE INDEX bookings_created ON bookings (created_ms);

-- booking_days: non-cancelled bookings per UTC day and partner, kept in step in
-- the same transaction as each booking so period queries read days, not rows.
CREATE TABLE booking_days (
    day      TEXT   NOT NULL,
    partner  TEXT   NOT NULL,
    bookings BIGINT NOT NULL,
    PRIMARY KEY (day, partner)
);

-- requesters and orgs cache what helpdesk APIs told us, so each is fetched once.
CREATE TABLE requesters (
    source       TEXT   NOT NULL,
    requester_id TEXT   NOT NULL,
    customer_key TEXT   NOT NULL,
    org_id       TEXT   NOT NULL DEFAULT '',
    fetched_ms   BIGINT NOT NULL,
    PRIMARY KEY (source, requester_id)
);
CREATE TABLE orgs (
    source     TEXT   NOT NULL,
    org_id     TEXT   NOT NULL,
    partner    TEXT   NOT NULL,
    fetched_ms BIGINT NOT NULL,
    PRIMARY KEY (source, org_id)
);

-- jobs: the durable queue (enrichment, write-back, alerts, reconciliation).
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    payload         TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    run_at_ms       BIGINT  NOT NULL,
    locked_until_ms BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_ms      BIGINT  NOT NULL,
    updated_ms      BIGINT  NOT NULL
);
-- One pending job per (kind, key): a burst of events for a ticket coalesces.
-- A running job is not 'pending', so news arriving meanwhile queues a fresh one.
CREATE UNIQUE INDEX jobs_pending ON jobs (kind, key) WHERE state = 'pending';
CREATE INDEX jobs_due ON jobs (state, run_at_ms);

-- kv: cursors and settings fingerprints.
CREATE TABLE kv (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE kv;
DROP TABLE jobs;
DROP TABLE orgs;
DROP TABLE requesters;
DROP TABLE booking_days;
DROP TABLE bookings;
DROP TABLE contacts;
DROP TABLE deliveries;
