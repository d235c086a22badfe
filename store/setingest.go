package store

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recontact/recontact"
)

// errSlowPath sends a batch to the per-delivery path: a concurrent writer
// created one of its contacts, or the batch holds a case the set statements
// do not model (one key twice, further apart than its dedupe window).
var errSlowPath = errors.New("batch needs the per-delivery path")

// rowsPerStatement keeps multi-row statements under both databases' bind
// parameter limits (PostgreSQL 65535, SQLite 32766) at 17 columns a row.
const rowsPerStatement = 1000

// validate rejects what no database write could fix, before any is made.
func validate(d *recontact.Delivery) error {
	switch {
	case d.Key == "":
		return recontact.Errorf(recontact.EInvalid, "delivery has no idempotency key")
	case d.Contact != nil && d.Contact.TicketID == "":
		return recontact.Errorf(recontact.EInvalid, "missing field ticket_id")
	case d.Booking != nil && d.Booking.ID == "":
		return recontact.Errorf(recontact.EInvalid, "missing field data.id")
	}
	return nil
}

// ingestSet applies a lock-ordered batch with a few multi-row statements
// (keys, contacts read for update, contacts written, jobs) instead of a
// handful of round trips per delivery. It fills results for each delivery,
// including the invalid ones it skipped, and reports how many jobs it queued.
// Any error leaves tx unusable for the batch: the caller rolls back.
func (s *Store) ingestSet(ctx context.Context, tx *sqlx.Tx, batch []*ingestReq, results []ingestResult) (int, error) {
	live := s.liveRequests(batch, results)
	fresh, err := s.claimKeys(ctx, tx, batch, live)
	if err != nil {
		return 0, err
	}
	var apply []int
	for _, i := range live {
		results[i].duplicate = !fresh[i]
		if fresh[i] {
			apply = append(apply, i)
		}
	}
	return s.applySet(ctx, tx, batch, apply)
}

// liveRequests fails the requests whose caller gave up or whose delivery is
// invalid, stamps the rest with the receipt time, and returns their indexes.
func (s *Store) liveRequests(batch []*ingestReq, results []ingestResult) []int {
	now := s.Now()
	live := make([]int, 0, len(batch))
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i].err = classify(err)
			continue
		}
		if err := validate(r.d); err != nil {
			results[i].err = err
			continue
		}
		if r.d.ReceivedAt.IsZero() {
			r.d.ReceivedAt = now
		}
		live = append(live, i)
	}
	return live
}

// applySet applies the deliveries batch[idx] (claimed, in lock order) to
// contacts, bookings and jobs, and reports how many jobs it queued.
func (s *Store) applySet(ctx context.Context, tx *sqlx.Tx, batch []*ingestReq, idx []int) (int, error) {
	var contacts, bookings []int
	var jobs []recontact.Job
	for _, i := range idx {
		if batch[i].d.Contact != nil {
			contacts = append(contacts, i)
		}
		if batch[i].d.Booking != nil {
			bookings = append(bookings, i)
		}
	}
	if len(contacts) > 0 {
		js, err := s.upsertContacts(ctx, tx, batch, contacts)
		if err != nil {
			return 0, err
		}
		jobs = append(jobs, js...)
	}
	for _, i := range bookings {
		if err := s.upsertBooking(ctx, tx, batch[i].d.Booking); err != nil {
			return 0, err
		}
	}
	for _, i := range idx {
		jobs = append(jobs, batch[i].d.Jobs...)
	}
	return s.enqueueAll(ctx, tx, jobs)
}

type deliveryKey struct {
	src recontact.Source
	key string
}

// claimKeys records the live deliveries' keys and bodies, one statement per
// dedupe window, and reports which deliveries are new. A key repeated inside
// the batch is a duplicate of its first occurrence, as it would be in turn.
func (s *Store) claimKeys(ctx context.Context, tx *sqlx.Tx, batch []*ingestReq, live []int) (map[int]bool, error) {
	first := map[deliveryKey]int{}
	byWindow := map[time.Duration][]int{}
	for _, i := range live {
		d := batch[i].d
		k := deliveryKey{d.Source, d.Key}
		if j, ok := first[k]; ok {
			if d.DedupeWindow > 0 && d.ReceivedAt.Sub(batch[j].d.ReceivedAt).Abs() >= d.DedupeWindow {
				return nil, errSlowPath
			}
			continue
		}
		first[k] = i
		byWindow[d.DedupeWindow] = append(byWindow[d.DedupeWindow], i)
	}
	claimed := map[deliveryKey]bool{}
	for _, w := range slices.Sorted(maps.Keys(byWindow)) {
		idx := byWindow[w]
		// One order for every writer: concurrent batches wait on each other's
		// keys without deadlocking.
		slices.SortFunc(idx, func(a, b int) int {
			return cmp.Or(cmp.Compare(batch[a].d.Source, batch[b].d.Source), cmp.Compare(batch[a].d.Key, batch[b].d.Key))
		})
		for part := range slices.Chunk(idx, rowsPerStatement) {
			if s.dialect == Postgres {
				ds := make([]*recontact.Delivery, len(part))
				for n, i := range part {
					ds[n] = batch[i].d
				}
				if err := s.pgClaim(ctx, tx, ds, w, claimed); err != nil {
					return nil, err
				}
				continue
			}
			var q strings.Builder
			q.WriteString(`INSERT INTO deliveries (source, dedupe_key, received_ms, body) VALUES `)
			args := make([]any, 0, 4*len(part)+1)
			for n, i := range part {
				if n > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?)")
				d := batch[i].d
				args = append(args, d.Source, d.Key, ms(d.ReceivedAt), d.Body)
			}
			if w > 0 {
				// Past the window the same key is a new event: refresh the row.
				q.WriteString(` ON CONFLICT (source, dedupe_key) DO UPDATE SET received_ms = excluded.received_ms, body = excluded.body
WHERE deliveries.received_ms < excluded.received_ms - ?`)
				args = append(args, w.Milliseconds())
			} else {
				q.WriteString(` ON CONFLICT (source, dedupe_key) DO NOTHING`)
			}
			q.WriteString(` RETURNING source, dedupe_key`)
			rows, err := s.queryMaybePrepared(ctx, tx, q.String(), len(part), args...)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var k deliveryKey
				if err := rows.Scan(&k.src, &k.key); err != nil {
					rows.Close()
					return nil, err
				}
				claimed[k] = true
			}
			if err := rows.Err(); err != nil {
				return nil, err
			}
		}
	}
	fresh := make(map[int]bool, len(live))
	for _, i := range live {
		d := batch[i].d
		k := deliveryKey{d.Source, d.Key}
		fresh[i] = first[k] == i && claimed[k]
	}
	return fresh, nil
}

type ticketRef struct {
	src recontact.Source
	id  string
}

// upsertContacts merges the new deliveries' snapshots into their contacts:
// one read of all of them for update, the merge in Go (several snapshots of
// one ticket fold in turn), one multi-row write. It returns the jobs the
// snapshots imply.
func (s *Store) upsertContacts(ctx context.Context, tx *sqlx.Tx, batch []*ingestReq, idx []int) ([]recontact.Job, error) {
	cs := make([]*recontact.Contact, len(idx))
	byTicket := map[ticketRef][]int{}
	var refs []ticketRef
	for n, i := range idx {
		c := batch[i].d.Contact
		cs[n] = c
		ref := ticketRef{c.Source, c.TicketID}
		if _, ok := byTicket[ref]; !ok {
			refs = append(refs, ref)
		}
		byTicket[ref] = append(byTicket[ref], i)
	}
	jobs, err := s.resolveCustomers(ctx, tx, cs)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(refs, func(a, b ticketRef) int { return cmp.Or(cmp.Compare(a.src, b.src), cmp.Compare(a.id, b.id)) })
	stored, err := s.lockContacts(ctx, tx, refs)
	if err != nil {
		return nil, err
	}
	var writes []contactRow
	for _, ref := range refs {
		old, found := stored[ref]
		cur := old
		ds := byTicket[ref]
		if !found {
			// As upsertContact: a snapshot without created_at stands at its receipt.
			d := batch[ds[0]].d
			c := *d.Contact
			if c.CreatedAt.IsZero() {
				c.CreatedAt = d.ReceivedAt
			}
			cur, _ = merge(contactRow{Source: string(ref.src), TicketID: ref.id, CreatedMS: ms(c.CreatedAt), FCR: "pending"},
				&c, d.Activity, !d.ReportsActivity)
			jobs = append(jobs, changeJobs(contactRow{}, cur)...)
			ds = ds[1:]
		}
		for _, i := range ds {
			d := batch[i].d
			next, changed := merge(cur, d.Contact, d.Activity, !d.ReportsActivity)
			if changed {
				jobs = append(jobs, changeJobs(cur, next)...)
				cur = next
			}
		}
		if found && cur == old {
			continue
		}
		// One version step per write: the update applies only over the
		// version this batch read.
		cur.Version = old.Version + 1
		writes = append(writes, cur)
	}
	for part := range slices.Chunk(writes, rowsPerStatement) {
		if err := s.writeContacts(ctx, tx, part); err != nil {
			return nil, err
		}
	}
	return jobs, nil
}

// lockContacts reads the contacts of refs (sorted), locking them on
// PostgreSQL in that order; SQLite's immediate transaction already holds the
// only write lock.
func (s *Store) lockContacts(ctx context.Context, tx *sqlx.Tx, refs []ticketRef) (map[ticketRef]contactRow, error) {
	out := make(map[ticketRef]contactRow, len(refs))
	for part := range slices.Chunk(refs, rowsPerStatement) {
		for src, group := range groupBySource(part) {
			if s.dialect == Postgres {
				rows, err := s.pgLock(ctx, tx, src, group)
				if err != nil {
					return nil, err
				}
				for _, r := range rows {
					out[ticketRef{recontact.Source(r.Source), r.TicketID}] = r
				}
				continue
			}
			q, args, err := sqlx.In(`SELECT `+contactColumns+` FROM contacts WHERE source = ? AND ticket_id IN (?) ORDER BY ticket_id`, src, group)
			if err != nil {
				return nil, err
			}
			var rows []contactRow
			if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), args...); err != nil {
				return nil, err
			}
			for _, r := range rows {
				out[ticketRef{recontact.Source(r.Source), r.TicketID}] = r
			}
		}
	}
	return out, nil
}

// groupBySource splits sorted refs into ticket ids per source, in order.
func groupBySource(refs []ticketRef) func(func(recontact.Source, []string) bool) {
	return func(yield func(recontact.Source, []string) bool) {
		for len(refs) > 0 {
			n := 1
			for n < len(refs) && refs[n].src == refs[0].src {
				n++
			}
			ids := make([]string, n)
			for i := range n {
				ids[i] = refs[i].id
			}
			if !yield(refs[0].src, ids) {
				return
			}
			refs = refs[n:]
		}
	}
}

// writeContacts inserts new contacts and updates locked ones in one
// statement. The update applies only over the version that was read: a row a
// concurrent batch inserted after our read is left alone, and the missing
// RETURNING row sends the batch to the per-delivery path, which merges into it.
func (s *Store) writeContacts(ctx context.Context, tx *sqlx.Tx, rows []contactRow) error {
	if s.dialect == Postgres {
		n, err := s.pgWrite(ctx, tx, rows)
		if err == nil && n != len(rows) {
			err = errSlowPath
		}
		return err
	}
	var q strings.Builder
	q.WriteString(`INSERT INTO contacts (source, ticket_id, customer_key, requester_id, org_id, partner, channel, status,
	created_ms, updated_ms, resolved_ms, replies, reopens, booking_ref, tags, version) VALUES `)
	args := make([]any, 0, 16*len(rows))
	for n, r := range rows {
		if n > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, r.Source, r.TicketID, r.CustomerKey, r.RequesterID, r.OrgID, r.Partner, r.Channel,
			r.Status, r.CreatedMS, r.UpdatedMS, r.ResolvedMS, r.Replies, r.Reopens, r.BookingRef, r.Tags, r.Version)
	}
	q.WriteString("\n" + contactUpsertTail)
	var ids []int64
	if err := tx.SelectContext(ctx, &ids, tx.Rebind(q.String()), args...); err != nil {
		return err
	}
	if len(ids) != len(rows) {
		return errSlowPath
	}
	return s.markContacts(ctx, tx, ids...)
}

// enqueueAll queues jobs (the first of each kind and key) in one statement
// and reports how many were new.
func (s *Store) enqueueAll(ctx context.Context, tx *sqlx.Tx, jobs []recontact.Job) (int, error) {
	type jobKey struct{ kind, key string }
	seen := map[jobKey]bool{}
	uniq := jobs[:0:0]
	for _, j := range jobs {
		if k := (jobKey{j.Kind, j.Key}); !seen[k] {
			seen[k] = true
			uniq = append(uniq, j)
		}
	}
	slices.SortFunc(uniq, func(a, b recontact.Job) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Key, b.Key)) })
	now := ms(s.Now())
	queued := 0
	for part := range slices.Chunk(uniq, rowsPerStatement) {
		if s.dialect == Postgres {
			n, err := s.pgJobs(ctx, tx, part, now)
			if err != nil {
				return 0, err
			}
			queued += n
			continue
		}
		var q strings.Builder
		q.WriteString(`INSERT INTO jobs (kind, key, payload, state, run_at_ms, created_ms, updated_ms) VALUES `)
		args := make([]any, 0, 6*len(part))
		for n, j := range part {
			if n > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, 'pending', ?, ?, ?)")
			at := now
			if !j.RunAt.IsZero() {
				at = ms(j.RunAt)
			}
			args = append(args, j.Kind, j.Key, string(j.Payload), at, now, now)
		}
		q.WriteString(` ON CONFLICT (kind, key) WHERE state = 'pending' DO NOTHING RETURNING id`)
		var ids []int64
		if err := tx.SelectContext(ctx, &ids, tx.Rebind(q.String()), args...); err != nil {
			return 0, err
		}
		queued += len(ids)
	}
	return queued, nil
}

// queryMaybePrepared runs a SQLite statement of n VALUES rows. A group
// commit's batch has at most maxBatch rows, so its statements come in at most
// that many texts, and parsing one under the write lock cost more than
// running it: those are prepared once per text and connection. Larger ones
// (imports) are parsed each time rather than cached forever.
func (s *Store) queryMaybePrepared(ctx context.Context, tx *sqlx.Tx, q string, n int, args ...any) (*sqlx.Rows, error) {
	if n > maxBatch {
		return tx.QueryxContext(ctx, q, args...)
	}
	st, err := s.prepared(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryxContext(ctx, args...)
}
