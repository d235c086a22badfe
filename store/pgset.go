package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/recontact/recontact"
)

// On PostgreSQL the set path's statements take arrays (unnest) rather than a
// VALUES row per delivery: their text is fixed whatever the batch size, so
// each is prepared once per connection. A prepared statement runs in one
// round trip (lib/pq sends an unprepared one with parameters in two) and
// reuses its plan, which matters as much on a busy server.
const (
	pgClaimSQL = `INSERT INTO deliveries (source, dedupe_key, received_ms, body)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[])
ON CONFLICT (source, dedupe_key) DO NOTHING
RETURNING source, dedupe_key`
	pgClaimWindowSQL = `INSERT INTO deliveries (source, dedupe_key, received_ms, body)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[])
ON CONFLICT (source, dedupe_key) DO UPDATE SET received_ms = excluded.received_ms, body = excluded.body
WHERE deliveries.received_ms < excluded.received_ms - $5
RETURNING source, dedupe_key`
	// pgAcceptSQL is the acknowledge path on PostgreSQL in one statement, so
	// one round trip and its own commit: the keys and raw bodies, in key
	// order, and one inbox row holding the deliveries whose keys were new, in
	// batch order (see inboxRow).
	pgAcceptSQL = `WITH d AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::bytea[])
		WITH ORDINALITY AS d(source, dedupe_key, received_ms, body, delivery, n)
), claimed AS (
	INSERT INTO deliveries (source, dedupe_key, received_ms, body)
	SELECT source, dedupe_key, received_ms, body FROM d ORDER BY source, dedupe_key
	ON CONFLICT (source, dedupe_key) DO NOTHING
	RETURNING source, dedupe_key
), queued AS (
	INSERT INTO inbox (delivery, deliveries)
	SELECT '['::bytea || string_agg(d.delivery, ','::bytea ORDER BY d.n) || ']'::bytea, count(*)
	FROM d JOIN claimed USING (source, dedupe_key)
	HAVING count(*) > 0
	RETURNING id
)
SELECT source, dedupe_key, (SELECT max(id) FROM queued) FROM claimed`
	pgLockSQL = `SELECT ` + contactColumns + ` FROM contacts WHERE source = $1 AND ticket_id = ANY($2::text[])
ORDER BY ticket_id FOR UPDATE`
	// pgWriteSQL upserts contacts and marks those it wrote, in one round trip.
	pgWriteSQL = `WITH written AS (
INSERT INTO contacts (source, ticket_id, customer_key, requester_id, org_id, partner, channel, status,
	created_ms, updated_ms, resolved_ms, replies, reopens, booking_ref, tags, version)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
	$9::bigint[], $10::bigint[], $11::bigint[], $12::int[], $13::int[], $14::text[], $15::text[], $16::bigint[])
` + contactUpsertTail + `
), marked AS (
	INSERT INTO marks (contact_id) SELECT id FROM written
)
SELECT id FROM written`
	pgJobsSQL = `INSERT INTO jobs (kind, key, payload, state, run_at_ms, created_ms, updated_ms)
SELECT k, y, p, 'pending', r, $5, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS j(k, y, p, r)
ON CONFLICT (kind, key) WHERE state = 'pending' DO NOTHING
RETURNING id`
)

// contactUpsertTail updates a conflicting contact only over the version that
// was read (see writeContacts).
const contactUpsertTail = `ON CONFLICT (source, ticket_id) DO UPDATE SET customer_key = excluded.customer_key, requester_id = excluded.requester_id,
	org_id = excluded.org_id, partner = excluded.partner, channel = excluded.channel, status = excluded.status,
	created_ms = excluded.created_ms, updated_ms = excluded.updated_ms, resolved_ms = excluded.resolved_ms,
	replies = excluded.replies, reopens = excluded.reopens, booking_ref = excluded.booking_ref, tags = excluded.tags,
	version = excluded.version
WHERE contacts.version = excluded.version - 1
RETURNING id`

// prepared returns q prepared on tx's connection, preparing it for the pool
// the first time.
func (s *Store) prepared(ctx context.Context, tx *sqlx.Tx, q string) (*sqlx.Stmt, error) {
	st, err := s.poolStmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return tx.StmtxContext(ctx, st), nil
}

// poolStmt returns q prepared for the pool (database/sql prepares it on each
// connection as it is used there), caching it for the store's life.
func (s *Store) poolStmt(ctx context.Context, q string) (*sqlx.Stmt, error) {
	if v, ok := s.stmts.Load(q); ok {
		return v.(*sqlx.Stmt), nil
	}
	st, err := s.db.PreparexContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if v, loaded := s.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sqlx.Stmt), nil
	}
	return st, nil
}

func (s *Store) pgClaim(ctx context.Context, tx *sqlx.Tx, ds []*recontact.Delivery, window time.Duration, claimed map[deliveryKey]bool) error {
	n := len(ds)
	src, key, recv, body := make([]string, n), make([]string, n), make([]int64, n), make([][]byte, n)
	for i, d := range ds {
		src[i], key[i], recv[i], body[i] = string(d.Source), d.Key, ms(d.ReceivedAt), d.Body
	}
	q, args := pgClaimSQL, []any{pq.Array(src), pq.Array(key), pq.Array(recv), pq.Array(body)}
	if window > 0 {
		q, args = pgClaimWindowSQL, append(args, window.Milliseconds())
	}
	st, err := s.prepared(ctx, tx, q)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k deliveryKey
		if err := rows.Scan(&k.src, &k.key); err != nil {
			return err
		}
		claimed[k] = true
	}
	return rows.Err()
}

// pgAccept runs the acknowledge path for a batch whose deliveries have no
// dedupe window and distinct keys (webhooks with ids: nearly every batch) as
// one statement; ok is false for the other batches, which take acceptSet.
// After an error the caller runs the batch again: had the statement committed
// after all (its answer lost), its keys come back as duplicates, still 2xx.
func (s *Store) pgAccept(ctx context.Context, batch []*ingestReq, results []ingestResult) (top int64, ok bool, err error) {
	live := s.liveRequests(batch, results)
	seen := make(map[deliveryKey]bool, len(live))
	for _, i := range live {
		d := batch[i].d
		k := deliveryKey{d.Source, d.Key}
		if d.DedupeWindow > 0 || seen[k] {
			return 0, false, nil
		}
		seen[k] = true
	}
	n := len(live)
	src, key, recv, body, queued := make([]string, n), make([]string, n), make([]int64, n), make([][]byte, n), make([][]byte, n)
	for j, i := range live {
		d := batch[i].d
		if queued[j], err = batch[i].inboxForm(); err != nil {
			return 0, true, err
		}
		src[j], key[j], recv[j], body[j] = string(d.Source), d.Key, ms(d.ReceivedAt), d.Body
	}
	if n == 0 {
		return 0, true, nil
	}
	st, err := s.poolStmt(ctx, pgAcceptSQL)
	if err != nil {
		return 0, true, err
	}
	rows, err := st.QueryContext(ctx, pq.Array(src), pq.Array(key), pq.Array(recv), pq.Array(body), pq.Array(queued))
	if err != nil {
		return 0, true, err
	}
	defer rows.Close()
	claimed := make(map[deliveryKey]bool, n)
	for rows.Next() {
		var k deliveryKey
		var id sql.NullInt64
		if err := rows.Scan(&k.src, &k.key, &id); err != nil {
			return 0, true, err
		}
		claimed[k] = true
		top = max(top, id.Int64)
	}
	if err := rows.Err(); err != nil {
		return 0, true, err
	}
	for _, i := range live {
		d := batch[i].d
		results[i].duplicate = !claimed[deliveryKey{d.Source, d.Key}]
	}
	return top, true, nil
}

func (s *Store) pgLock(ctx context.Context, tx *sqlx.Tx, src recontact.Source, ids []string) ([]contactRow, error) {
	st, err := s.prepared(ctx, tx, pgLockSQL)
	if err != nil {
		return nil, err
	}
	var rows []contactRow
	err = st.SelectContext(ctx, &rows, src, pq.Array(ids))
	return rows, err
}

func (s *Store) pgWrite(ctx context.Context, tx *sqlx.Tx, rows []contactRow) (int, error) {
	n := len(rows)
	var (
		src, ticket, key, req, org, partner = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		channel, status, ref, tags          = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		created, updated, version           = make([]int64, n), make([]int64, n), make([]int64, n)
		resolved                            = make([]sql.NullInt64, n)
		replies, reopens                    = make([]int64, n), make([]int64, n)
	)
	for i, r := range rows {
		src[i], ticket[i], key[i], req[i], org[i], partner[i] = r.Source, r.TicketID, r.CustomerKey, r.RequesterID, r.OrgID, r.Partner
		channel[i], status[i], ref[i], tags[i] = r.Channel, r.Status, r.BookingRef, r.Tags
		created[i], updated[i], version[i], resolved[i] = r.CreatedMS, r.UpdatedMS, r.Version, r.ResolvedMS
		replies[i], reopens[i] = int64(r.Replies), int64(r.Reopens)
	}
	st, err := s.prepared(ctx, tx, pgWriteSQL)
	if err != nil {
		return 0, err
	}
	var ids []int64
	err = st.SelectContext(ctx, &ids, pq.Array(src), pq.Array(ticket), pq.Array(key), pq.Array(req), pq.Array(org),
		pq.Array(partner), pq.Array(channel), pq.Array(status), pq.Array(created), pq.Array(updated), pq.Array(resolved),
		pq.Array(replies), pq.Array(reopens), pq.Array(ref), pq.Array(tags), pq.Array(version))
	return len(ids), err
}

func (s *Store) pgJobs(ctx context.Context, tx *sqlx.Tx, jobs []recontact.Job, now int64) (int, error) {
	n := len(jobs)
	kind, key, payload, at := make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	for i, j := range jobs {
		kind[i], key[i], payload[i], at[i] = j.Kind, j.Key, string(j.Payload), now
		if !j.RunAt.IsZero() {
			at[i] = ms(j.RunAt)
		}
	}
	st, err := s.prepared(ctx, tx, pgJobsSQL)
	if err != nil {
		return 0, err
	}
	var ids []int64
	err = st.SelectContext(ctx, &ids, pq.Array(kind), pq.Array(key), pq.Array(payload), pq.Array(at), now)
	return len(ids), err
}
