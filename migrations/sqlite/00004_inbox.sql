-- +goose Up
-- inbox: deliveries acknowledged but not yet applied to contacts, bookings
-- and jobs. A webhook's 2xx commits its deliveries row and its inbox row in
-- one transaction; the applier applies inbox rows in batches and deletes them
-- in the transaction that applies them, so each is applied exactly once.
CREATE TABLE inbox (
    id       INTEGER PRIMARY KEY,
    delivery BLOB NOT NULL,          -- the normalised delivery as JSON, without the raw body
    error    TEXT NOT NULL DEFAULT '' -- why applying it failed for good; kept, not retried
);
-- +goose Down
DROP TABLE inbox;
