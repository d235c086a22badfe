package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/recontact/recontact"
)

// KV reads a value of the kv table (cursors); ok is false when it is unset.
func (s *Store) KV(ctx context.Context, name string) (value string, ok bool, err error) {
	err = s.db.GetContext(ctx, &value, s.db.Rebind(`SELECT value FROM kv WHERE name = ?`), name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return value, err == nil, classify(err)
}

// SetKV writes a value of the kv table.
func (s *Store) SetKV(ctx context.Context, name, value string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO kv (name, value) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET value = excluded.value`), name, value)
	return classify(err)
}

// KnownContact is what the store holds of a ticket before a snapshot of it
// is applied.
type KnownContact struct {
	UpdatedAt time.Time
	Status    recontact.Status
}

// KnownContacts reads the stored updated_at and status of some tickets of a
// source; tickets not stored are absent from the map.
func (s *Store) KnownContacts(ctx context.Context, src recontact.Source, ticketIDs []string) (map[string]KnownContact, error) {
	out := make(map[string]KnownContact, len(ticketIDs))
	if len(ticketIDs) == 0 {
		return out, nil
	}
	q, args, err := sqlx.In(`SELECT ticket_id, updated_ms, status FROM contacts WHERE source = ? AND ticket_id IN (?)`, src, ticketIDs)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		TicketID  string `db:"ticket_id"`
		UpdatedMS int64  `db:"updated_ms"`
		Status    string `db:"status"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(q), args...); err != nil {
		return nil, classify(err)
	}
	for _, r := range rows {
		k := KnownContact{Status: recontact.Status(r.Status)}
		if r.UpdatedMS > 0 {
			k.UpdatedAt = fromMS(r.UpdatedMS)
		}
		out[r.TicketID] = k
	}
	return out, nil
}

// TicketCounts are a ticket's reply and reopen counts as the helpdesk
// computes them, read together with the snapshot updated at UpdatedAt.
type TicketCounts struct {
	TicketID  string
	UpdatedAt time.Time
	Replies   int
	Reopens   int
	// ReopensAtLeast keeps a higher stored reopen count: the helpdesk's figure
	// is only a lower bound (Freshdesk's stats.reopened_at proves one reopen).
	ReopensAtLeast bool
	// DoneJob names the enrichment job kind this read made redundant; a
	// pending one for the ticket is dropped, so the worker does not read the
	// same figures from the API again.
	DoneJob string
}

// ApplyCounts sets absolute counts read from a helpdesk's export, in one
// transaction. A ticket whose stored state is newer than the snapshot keeps
// its counts: an older read never overwrites newer state. Applying the same
// counts twice changes nothing, so a re-read page is harmless.
func (s *Store) ApplyCounts(ctx context.Context, src recontact.Source, counts []TicketCounts) error {
	if len(counts) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if s.dialect == SQLite {
			return s.applyCountsEach(ctx, tx, src, counts)
		}
		for lo := 0; lo < len(counts); lo += countsPerStatement {
			if err := s.applyCounts(ctx, tx, src, counts[lo:min(lo+countsPerStatement, len(counts))]); err != nil {
				return err
			}
		}
		return nil
	})
}

// The guards of ApplyCounts for one ticket. The reopen count given is a lower
// bound when the flag is set (Freshdesk's stats.reopened_at proves one).
const (
	setCountsSQL = `
UPDATE contacts SET replies = ?, reopens = CASE WHEN ? = 1 AND reopens > ? THEN reopens ELSE ? END,
	version = version + 1
WHERE source = ? AND ticket_id = ? AND updated_ms <= ?
	AND (replies <> ? OR reopens <> CASE WHEN ? = 1 AND reopens > ? THEN reopens ELSE ? END)
RETURNING id`
	dropDoneJobSQL = `
DELETE FROM jobs WHERE kind = ? AND key = ? AND state = 'pending'
	AND EXISTS (SELECT 1 FROM contacts WHERE source = ? AND ticket_id = ? AND updated_ms <= ?)`
)

// applyCountsEach runs one prepared statement per ticket: in-process SQLite
// does that in a ninth of the time it takes to compile and run one statement
// over a VALUES list of the whole batch.
func (s *Store) applyCountsEach(ctx context.Context, tx *sqlx.Tx, src recontact.Source, counts []TicketCounts) error {
	set, err := tx.PreparexContext(ctx, setCountsSQL)
	if err != nil {
		return err
	}
	defer set.Close()
	drop, err := tx.PreparexContext(ctx, dropDoneJobSQL)
	if err != nil {
		return err
	}
	defer drop.Close()
	for _, c := range counts {
		at, atLeast := ms(c.UpdatedAt), b2i(c.ReopensAtLeast)
		var id int64
		err := set.QueryRowxContext(ctx, c.Replies, atLeast, c.Reopens, c.Reopens, src, c.TicketID, at,
			c.Replies, atLeast, c.Reopens, c.Reopens).Scan(&id)
		if err == nil {
			err = s.markContacts(ctx, tx, id)
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if c.DoneJob != "" {
			if _, err := drop.ExecContext(ctx, c.DoneJob, c.TicketID, src, c.TicketID, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// countsPerStatement bounds the arrays of one PostgreSQL statement.
const countsPerStatement = 1000

// applyCounts is two statements for a whole batch, not two per ticket, which
// saves PostgreSQL a round trip per ticket. The ANY(ids) condition lets the
// planner probe the unique (source, ticket_id) index: without it, it hashes
// every contact of the source for each batch.
func (s *Store) applyCounts(ctx context.Context, tx *sqlx.Tx, src recontact.Source, counts []TicketCounts) error {
	n := len(counts)
	ids, ats, replies, reopens, atLeast := make([]string, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]bool, n)
	var jobKinds, jobKeys []string
	var jobAts []int64
	for i, c := range counts {
		ids[i], ats[i], replies[i], reopens[i], atLeast[i] = c.TicketID, ms(c.UpdatedAt), int64(c.Replies), int64(c.Reopens), c.ReopensAtLeast
		if c.DoneJob != "" {
			jobKinds, jobKeys, jobAts = append(jobKinds, c.DoneJob), append(jobKeys, c.TicketID), append(jobAts, ms(c.UpdatedAt))
		}
	}
	const reopenSQL = `CASE WHEN v.at_least AND c.reopens > v.reopens THEN c.reopens ELSE v.reopens END`
	_, err := tx.ExecContext(ctx, `WITH updated AS (
UPDATE contacts c SET replies = v.replies, reopens = `+reopenSQL+`, version = c.version + 1
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::boolean[]) AS v(ticket_id, at_ms, replies, reopens, at_least)
WHERE c.source = $6 AND c.ticket_id = ANY($1::text[]) AND c.ticket_id = v.ticket_id AND c.updated_ms <= v.at_ms
	AND (c.replies <> v.replies OR c.reopens <> `+reopenSQL+`)
RETURNING c.id)
INSERT INTO marks (contact_id) SELECT id FROM updated`,
		pq.Array(ids), pq.Array(ats), pq.Array(replies), pq.Array(reopens), pq.Array(atLeast), src)
	if err != nil || len(jobKeys) == 0 {
		return err
	}
	// The job goes only where the snapshot is the stored state: where a newer
	// webhook came in, its own look-up stays queued.
	_, err = tx.ExecContext(ctx, `
DELETE FROM jobs USING unnest($1::text[], $2::text[], $3::bigint[]) AS v(kind, key, at_ms), contacts c
WHERE jobs.state = 'pending' AND jobs.kind = v.kind AND jobs.key = v.key
	AND c.source = $4 AND c.ticket_id = ANY($2::text[]) AND c.ticket_id = v.key AND c.updated_ms <= v.at_ms`,
		pq.Array(jobKinds), pq.Array(jobKeys), pq.Array(jobAts), src)
	return err
}

// ImportBookings applies many bookings in one transaction: all or none.
// Each merges like a webhook's (an older version never overwrites a newer
// one), so importing the same file again changes nothing.
func (s *Store) ImportBookings(ctx context.Context, bs []*recontact.Booking) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		for _, b := range bs {
			if err := s.upsertBooking(ctx, tx, b); err != nil {
				return err
			}
		}
		return nil
	})
}

// EnsureJob queues j unless a job of the same kind and key is pending or
// running: a singleton such as reconciliation, scheduled by every instance
// at start, then runs on one instance at a time.
func (s *Store) EnsureJob(ctx context.Context, j recontact.Job) (queued bool, err error) {
	now := s.Now()
	at := j.RunAt
	if at.IsZero() {
		at = now
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`
INSERT INTO jobs (kind, key, payload, state, run_at_ms, created_ms, updated_ms)
SELECT ?, ?, ?, 'pending', ?, ?, ?
WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = ? AND key = ? AND state IN ('pending', 'running'))
ON CONFLICT (kind, key) WHERE state = 'pending' DO NOTHING`),
		j.Kind, j.Key, string(j.Payload), ms(at), ms(now), ms(now), j.Kind, j.Key)
	if err != nil {
		return false, classify(err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RefreshStatistics updates PostgreSQL's planner statistics of the tables a
// backfill grows. A fresh installation's tables grow from empty faster than
// autovacuum re-analyses them, and a planner that believes contacts has a
// few dozen rows hashes all of it for every batch instead of probing its
// unique index, so each batch gets slower as the table grows. SQLite plans by
// its indexes without statistics; there it does nothing.
func (s *Store) RefreshStatistics(ctx context.Context) error {
	if s.dialect != Postgres {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `ANALYZE contacts, deliveries, jobs`)
	return classify(err)
}
