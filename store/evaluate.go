package store

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
)

// EvaluateDirty re-evaluates up to limit customers with changed contacts or
// bookings and reports how many it did. Webhooks only mark contacts dirty, so
// the acknowledgement path stays two statements; this runs right behind it.
func (s *Store) EvaluateDirty(ctx context.Context, limit int) (int, error) {
	var keys []string
	err := s.db.SelectContext(ctx, &keys, s.db.Rebind(`SELECT DISTINCT customer_key FROM contacts WHERE dirty = 1 LIMIT ?`), limit)
	if err != nil {
		return 0, classify(err)
	}
	for _, key := range keys {
		if err := s.inTx(ctx, func(tx *sqlx.Tx) error { return s.evaluateCustomer(ctx, tx, key) }); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// window is the widest reach of any rule: no contact's verdict depends on a
// contact further than this from it (by created or resolved time).
func (s *Store) window() time.Duration {
	return max(s.settings.RepeatWindow, s.settings.FCRWindow, s.settings.OrderWindow)
}

// lockCustomer serialises evaluators of one customer across instances. SQLite
// transactions here already hold the single writer lock.
func (s *Store) lockCustomer(ctx context.Context, tx *sqlx.Tx, key string) error {
	if s.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, key)
	return err
}

// evaluateCustomer recomputes the verdicts that the customer's dirty contacts
// can affect. It reads only this customer's rows inside the windows around the
// changes (index contacts_customer), never the table.
func (s *Store) evaluateCustomer(ctx context.Context, tx *sqlx.Tx, key string) error {
	if err := s.lockCustomer(ctx, tx, key); err != nil {
		return err
	}
	var dirty []contactRow
	if err := tx.SelectContext(ctx, &dirty, tx.Rebind(`SELECT `+contactColumns+` FROM contacts WHERE customer_key = ? AND dirty = 1`), key); err != nil {
		return err
	}
	if len(dirty) == 0 {
		return nil
	}
	// Changes happened around [lo, hi]; verdicts within w of it may change and
	// each of those needs context within w on either side.
	w := s.window().Milliseconds()
	lo, hi := dirty[0].CreatedMS, dirty[0].CreatedMS
	for _, r := range dirty {
		lo = min(lo, r.CreatedMS)
		hi = max(hi, r.CreatedMS, r.ResolvedMS.Int64)
	}
	from, to := lo-2*w, hi+2*w
	rows, err := s.customerContacts(ctx, tx, key, from, to)
	if err != nil {
		return err
	}
	// A contact resolved late needs the contacts up to its resolution + w.
	if need := maxResolved(rows) + w; need > to {
		to = need
		if rows, err = s.customerContacts(ctx, tx, key, from, to); err != nil {
			return err
		}
	}
	// The cohort pointers (previous two contacts) need an unbroken run by
	// creation time: the two contacts before the span, all inside, two after.
	var before, after []contactRow
	if err := tx.SelectContext(ctx, &before, tx.Rebind(`SELECT `+contactColumns+` FROM contacts
WHERE customer_key = ? AND created_ms < ? ORDER BY created_ms DESC LIMIT 2`), key, from); err != nil {
		return err
	}
	if err := tx.SelectContext(ctx, &after, tx.Rebind(`SELECT `+contactColumns+` FROM contacts
WHERE customer_key = ? AND created_ms > ? ORDER BY created_ms LIMIT 2`), key, to); err != nil {
		return err
	}
	chain := slices.Clone(before)
	for _, r := range rows {
		if r.CreatedMS >= from {
			chain = append(chain, r)
		}
	}
	chain = appendNew(chain, after...)
	sortRows(chain)
	// With two rows before the span, those two lack their own predecessors.
	pointersFrom := 0
	if len(before) == 2 {
		pointersFrom = 2
	}
	prev := map[int64][2]sql.NullInt64{}
	for i := pointersFrom; i < len(chain); i++ {
		var p [2]sql.NullInt64
		if i >= 1 {
			p[0] = sql.NullInt64{Int64: chain[i-1].CreatedMS, Valid: true}
		}
		if i >= 2 {
			p[1] = sql.NullInt64{Int64: chain[i-2].CreatedMS, Valid: true}
		}
		prev[chain[i].ID] = p
	}

	all := appendNew(rows, chain...)
	sortRows(all)
	var brows []bookingRow
	if err := tx.SelectContext(ctx, &brows, tx.Rebind(`SELECT `+bookingColumns+` FROM bookings WHERE customer_key = ?`), key); err != nil {
		return err
	}
	bookings := make([]recontact.Booking, len(brows))
	for i := range brows {
		bookings[i] = brows[i].booking()
	}
	in := make([]metrics.Contact, len(all))
	for i, r := range all {
		in[i] = metrics.Contact{Source: recontact.Source(r.Source), TicketID: r.TicketID, Partner: r.Partner,
			Created: fromMS(r.CreatedMS), Resolved: fromNullMS(r.ResolvedMS), Replies: r.Replies,
			Reopens: r.Reopens, BookingRef: r.BookingRef}
	}
	verdicts := metrics.Evaluate(in, bookings, s.settings, s.Now())

	// Verdicts are trusted only where the loaded context covers the rules'
	// reach; elsewhere only the cohort pointers are refreshed.
	inZone := func(v int64) bool { return v >= lo-w && v <= hi+w }
	for i, old := range all {
		r := old
		if p, ok := prev[r.ID]; ok {
			r.PrevMS, r.Prev2MS = p[0], p[1]
		}
		judged := r.Dirty == 1 || inZone(r.CreatedMS) || (r.ResolvedMS.Valid && inZone(r.ResolvedMS.Int64))
		if judged {
			v := verdicts[i]
			r.RepeatContact = b2i(v.Repeat)
			r.Previous = refs(v.Previous)
			r.FCR = string(v.FCR)
			r.Stage = string(v.Stage)
			r.Followed = b2i(v.FollowedByOrder)
		}
		if r == old && old.Dirty == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`
UPDATE contacts SET repeat_contact = ?, previous = ?, fcr = ?, stage = ?, followed = ?, prev_ms = ?, prev2_ms = ?,
	dirty = CASE WHEN version = ? THEN 0 ELSE dirty END
WHERE id = ?`), r.RepeatContact, r.Previous, r.FCR, r.Stage, r.Followed, r.PrevMS, r.Prev2MS, old.Version, r.ID); err != nil {
			return err
		}
		if err := s.afterVerdict(ctx, tx, old, r); err != nil {
			return err
		}
	}
	return nil
}

// afterVerdict queues a write-back, in the evaluation's own transaction (the
// outbox), when what the ticket should carry may have changed. An echo of our
// own write changes no verdict, so it queues nothing.
func (s *Store) afterVerdict(ctx context.Context, tx *sqlx.Tx, old, r contactRow) error {
	if !s.writeback[recontact.Source(r.Source)] {
		return nil
	}
	if old.RepeatContact == r.RepeatContact && old.FCR == r.FCR && old.Stage == r.Stage && old.Writeback != "off" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE contacts SET writeback = 'pending' WHERE id = ?`), r.ID); err != nil {
		return err
	}
	return s.enqueue(ctx, tx, recontact.Job{Kind: recontact.JobWriteback, Key: r.Source + ":" + r.TicketID})
}

func (s *Store) customerContacts(ctx context.Context, tx *sqlx.Tx, key string, lo, hi int64) ([]contactRow, error) {
	var rows []contactRow
	err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT `+contactColumns+` FROM contacts
WHERE customer_key = ? AND ((created_ms BETWEEN ? AND ?) OR (resolved_ms BETWEEN ? AND ?))`), key, lo, hi, lo, hi)
	return rows, err
}

func maxResolved(rows []contactRow) int64 {
	var m int64
	for _, r := range rows {
		m = max(m, r.ResolvedMS.Int64)
	}
	return m
}

// appendNew appends rows whose id is not in dst yet.
func appendNew(dst []contactRow, rows ...contactRow) []contactRow {
	for _, r := range rows {
		if !slices.ContainsFunc(dst, func(d contactRow) bool { return d.ID == r.ID }) {
			dst = append(dst, r)
		}
	}
	return dst
}

// sortRows orders by creation, ties by source and ticket: the order every rule
// uses, so arrival order never matters.
func sortRows(rows []contactRow) {
	slices.SortFunc(rows, func(a, b contactRow) int {
		switch {
		case a.CreatedMS != b.CreatedMS:
			return int(max(-1, min(1, a.CreatedMS-b.CreatedMS)))
		case a.Source != b.Source:
			return strings.Compare(a.Source, b.Source)
		default:
			return strings.Compare(a.TicketID, b.TicketID)
		}
	})
}

func refs(rs []metrics.Ref) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r.Source) + ":" + r.TicketID
	}
	return strings.Join(parts, " ")
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
