-- +goose Up
-- Nothing on SQLite: it has only row triggers, and they run in its own
-- engine rather than as a procedure call each, so the per-statement form
-- PostgreSQL's migration 00005 introduces has no counterpart here. The file
-- keeps the two dialects' versions in step.
SELECT 1;
-- +goose Down
SELECT 1;
