package store

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-json"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
)

// EvaluateDirty evaluates the customers of up to limit of the oldest marks
// (see mark) and reports how many marks it took: limit means more may wait,
// 0 that none did. Applying a delivery only marks its contacts, so the
// applier stays a few set statements; this runs right behind it.
func (s *Store) EvaluateDirty(ctx context.Context, limit int) (int, error) {
	ms, err := s.takeMarks(ctx, limit)
	if err != nil {
		return 0, classify(err)
	}
	byKey := map[string][]mark{}
	var gone []int64
	for _, m := range ms {
		if !m.Customer.Valid {
			gone = append(gone, m.ID)
			continue
		}
		byKey[m.Customer.String] = append(byKey[m.Customer.String], m)
	}
	if len(gone) > 0 {
		if err := s.inLazyTx(ctx, func(tx *sqlx.Tx) error { return s.dropMarks(ctx, tx, gone) }); err != nil {
			return 0, err
		}
	}
	// Many customers per transaction: one commit (one fsync, and on SQLite
	// one turn of the write lock) for a burst. Sorted, so evaluators on
	// several instances take the customers' advisory locks in one order.
	keys := slices.Sorted(maps.Keys(byKey))
	for part := range slices.Chunk(keys, evalPerTx) {
		err := s.evaluate(ctx, part, byKey)
		if err != nil && len(part) > 1 {
			// One customer's failure must not hold back the others.
			for _, key := range part {
				if err = s.evaluate(ctx, []string{key}, byKey); err != nil {
					break
				}
			}
		}
		if err != nil {
			return 0, err
		}
	}
	return len(ms), nil
}

// evalPerTx is how many customers one evaluation transaction takes: large
// enough to amortise the commit and its five statements' fixed costs (at 64,
// with 200 marks a pass, the service and PostgreSQL spent 5-6 % more CPU per
// delivery at 32 senders), small enough to hold locks briefly.
const evalPerTx = 256

// window is the widest reach of any rule: no contact's verdict depends on a
// contact further than this from it (by created or resolved time).
func (s *Store) window() time.Duration {
	return max(s.settings.RepeatWindow, s.settings.FCRWindow, s.settings.OrderWindow)
}

// lockCustomers serialises evaluators of the same customers across
// instances, taking the advisory locks in sorted order so two evaluators
// cannot deadlock. SQLite transactions here already hold the single writer
// lock.
func (s *Store) lockCustomers(ctx context.Context, tx *sqlx.Tx, keys []string) error {
	if s.dialect != Postgres {
		return nil
	}
	// The sorted subquery fixes the order the outer aggregate takes them in.
	// Verdicts are derived data: an evaluation lost in a crash leaves its
	// marks (they are deleted in the same transaction), so they are judged
	// again. Its commit need not wait for the WAL flush, which
	// is most of a single evaluation's time. Its reads are prepared and
	// index-bound whatever the keys, so a generic plan is as good as a custom
	// one and saves planning each of them on every call.
	st, err := s.prepared(ctx, tx, `SELECT set_config('synchronous_commit', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true),
	(SELECT COUNT(pg_advisory_xact_lock(hashtext(k))) FROM (SELECT k FROM unnest($1::text[]) AS k ORDER BY k) sorted)`)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, pq.Array(keys))
	return err
}

// span is the part of one customer's history an evaluation reads: changes
// happened around [lo, hi], and rows in [from, to] give them their context.
type span struct {
	key              string
	lo, hi, from, to int64
}

// evaluate recomputes the verdicts that these customers' marked contacts can
// affect and deletes their marks, in a lazy transaction: a lost evaluation
// leaves its marks, so it is redone.
//
// On PostgreSQL it reads, judges and writes in one transaction that holds
// the customers' advisory locks, since several instances evaluate. SQLite has
// one evaluator and one writer at a time, and the evaluator held that writer
// longer than the acknowledgements and the applier together: so it reads and
// judges on a snapshot beside the writer, and takes the writer only to store
// the verdicts. A contact that changed in between has a new mark, which this
// evaluation did not read and so does not delete: the next pass judges it.
func (s *Store) evaluate(ctx context.Context, keys []string, byKey map[string][]mark) error {
	if s.dialect == Postgres {
		return s.inLazyTx(ctx, func(tx *sqlx.Tx) error {
			if err := s.lockCustomers(ctx, tx, keys); err != nil {
				return err
			}
			vs, done, err := s.judgeCustomers(ctx, tx, keys, byKey)
			if err != nil {
				return err
			}
			s.judged()
			if err := s.writeVerdicts(ctx, tx, vs); err != nil {
				return err
			}
			return s.dropMarks(ctx, tx, done)
		})
	}
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true}) // a deferred BEGIN: no write lock
	if err != nil {
		return classify(err)
	}
	vs, done, err := s.judgeCustomers(ctx, tx, keys, byKey)
	_ = tx.Rollback()
	if err != nil || len(vs)+len(done) == 0 {
		return classify(err)
	}
	s.judged()
	return s.inLazyTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.writeVerdicts(ctx, tx, vs); err != nil {
			return err
		}
		return s.dropMarks(ctx, tx, done)
	})
}

// judgeCustomers works out the verdicts of these customers' contacts that
// their marked contacts can affect, and which marks that covers (done). It
// reads customers' rows by index (contacts_customer), never the table: the
// whole history of most (historyLimit), only the windows around the changes
// of the others; with one query per kind of read for all of them (SQLite
// runs the span reads per customer).
func (s *Store) judgeCustomers(ctx context.Context, tx *sqlx.Tx, keys []string, byKey map[string][]mark) (vs []verdict, done []int64, err error) {
	want := map[int64]bool{}
	for _, key := range keys {
		for _, m := range byKey[key] {
			want[m.ContactID] = true
		}
	}
	// Most customers' whole histories are short: one read gives the marked
	// contacts and all the context their verdicts need.
	hist, err := s.histories(ctx, tx, keys)
	if err != nil {
		return nil, nil, err
	}
	// A contact judged here under the customer it has now: its marks are
	// done. One that moved to a customer outside keys since the marks were
	// read keeps them, and is judged with that customer.
	dirty := map[string][]contactRow{}
	isMarked := make(map[int64]bool, len(want))
	for key, rows := range hist {
		for _, r := range rows {
			if want[r.ID] {
				dirty[key] = append(dirty[key], r)
				isMarked[r.ID] = true
			}
		}
	}
	// The rest belong to customers with long histories, or moved.
	var rest []int64
	for id := range want {
		if !isMarked[id] {
			rest = append(rest, id)
		}
	}
	slices.Sort(rest)
	if len(rest) > 0 {
		marked, err := s.contactsByID(ctx, tx, rest)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range marked {
			// Under a customer whose history was read without it, it moved
			// after that read: its marks wait for the next pass.
			if _, read := hist[r.CustomerKey]; !read && slices.Contains(keys, r.CustomerKey) {
				dirty[r.CustomerKey] = append(dirty[r.CustomerKey], r)
				isMarked[r.ID] = true
			}
		}
	}
	for _, key := range keys {
		for _, m := range byKey[key] {
			if isMarked[m.ContactID] {
				done = append(done, m.ID)
			}
		}
	}
	// Verdicts within w of a change may change and each of those needs
	// context within w on either side.
	w := s.window().Milliseconds()
	var spans []span
	for _, key := range keys {
		d := dirty[key]
		if len(d) == 0 {
			continue
		}
		sp := span{key: key, lo: d[0].CreatedMS, hi: d[0].CreatedMS}
		for _, r := range d {
			sp.lo = min(sp.lo, r.CreatedMS)
			sp.hi = max(sp.hi, r.CreatedMS, r.ResolvedMS.Int64)
		}
		sp.from, sp.to = sp.lo-2*w, sp.hi+2*w
		spans = append(spans, sp)
	}
	if len(spans) == 0 {
		return nil, done, nil
	}
	bookings, err := selectByKey(ctx, s, tx, `SELECT `+bookingColumns+` FROM bookings WHERE customer_key IN (?)`, keys,
		func(b bookingRow) string { return b.CustomerKey })
	if err != nil {
		return nil, nil, err
	}
	var long []span
	for _, sp := range spans {
		all, read := hist[sp.key]
		if !read {
			long = append(long, sp)
			continue
		}
		rows, before, after := cut(all, sp, w)
		vs = s.judge(sp, rows, before, after, bookings[sp.key], isMarked, vs)
	}
	if spans = long; len(spans) == 0 {
		return vs, done, nil
	}
	rows, err := s.spanContacts(ctx, tx, spans)
	if err != nil {
		return nil, nil, err
	}
	// A contact resolved late needs the contacts up to its resolution + w.
	var wider []span
	for i := range spans {
		if need := maxResolved(rows[spans[i].key]) + w; need > spans[i].to {
			spans[i].to = need
			wider = append(wider, spans[i])
		}
	}
	if len(wider) > 0 {
		more, err := s.spanContacts(ctx, tx, wider)
		if err != nil {
			return nil, nil, err
		}
		for _, sp := range wider {
			rows[sp.key] = more[sp.key]
		}
	}
	// The cohort pointers (previous two contacts) need an unbroken run by
	// creation time: the two contacts before the span, all inside, two after.
	before, err := s.neighbours(ctx, tx, spans, true)
	if err != nil {
		return nil, nil, err
	}
	after, err := s.neighbours(ctx, tx, spans, false)
	if err != nil {
		return nil, nil, err
	}
	for _, sp := range spans {
		vs = s.judge(sp, rows[sp.key], before[sp.key], after[sp.key], bookings[sp.key], isMarked, vs)
	}
	return vs, done, nil
}

// histories reads the whole histories, oldest first, of those customers
// that have fewer than historyLimit contacts; a customer with more is left
// out of the map, and its spans are read instead (spanContacts, neighbours).
func (s *Store) histories(ctx context.Context, tx *sqlx.Tx, keys []string) (map[string][]contactRow, error) {
	if s.dialect != Postgres {
		return s.sqliteHistories(ctx, tx, keys)
	}
	out, err := s.groupRows(ctx, tx, pgHistorySQL, pq.Array(keys), historyLimit)
	if err != nil {
		return nil, err
	}
	for _, key := range keys {
		switch {
		case len(out[key]) >= historyLimit:
			delete(out, key)
		case out[key] == nil:
			out[key] = []contactRow{} // read, and empty
		}
	}
	return out, nil
}

// sqliteHistories is histories without a lateral join: one statement finds
// the customers with short histories, a second reads those. The keys go in
// as one JSON array, so both statements are prepared once rather than parsed
// for every batch or run once per customer.
func (s *Store) sqliteHistories(ctx context.Context, tx *sqlx.Tx, keys []string) (map[string][]contactRow, error) {
	var short []string
	if err := s.selectJSON(ctx, tx, &short, sqliteShortSQL, keys, historyLimit); err != nil {
		return nil, err
	}
	out := make(map[string][]contactRow, len(short))
	if len(short) == 0 {
		return out, nil
	}
	var rows []contactRow
	if err := s.selectJSON(ctx, tx, &rows, sqliteHistoriesSQL, short); err != nil {
		return nil, err
	}
	for _, key := range short {
		out[key] = []contactRow{}
	}
	for _, r := range rows {
		out[r.CustomerKey] = append(out[r.CustomerKey], r)
	}
	return out, nil
}

// selectJSON runs prepared statement q with list as its first parameter, a
// JSON array (for json_each), and args after it.
func (s *Store) selectJSON(ctx context.Context, tx *sqlx.Tx, dst any, q string, list any, args ...any) error {
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	st, err := s.prepared(ctx, tx, q)
	if err != nil {
		return err
	}
	// As text: SQLite reads a BLOB argument as its binary JSONB.
	return st.SelectContext(ctx, dst, append([]any{string(b)}, args...)...)
}

// historyLimit is how many contacts of a customer an evaluation reads whole:
// most customers have fewer, and for them one read replaces four (the marked
// contacts by id, the span, two before, two after), which were a fifth of the
// service's CPU at 32 senders. A customer with more takes those four. Tests
// lower it.
var historyLimit = 64

// pgHistorySQL reads up to historyLimit ($2) of each customer's contacts,
// oldest first; SQLite takes sqliteShortSQL and sqliteHistoriesSQL instead.
const (
	pgHistorySQL = `SELECT c.* FROM unnest($1::text[]) AS k(key)
CROSS JOIN LATERAL (SELECT ` + contactColumns + ` FROM contacts WHERE customer_key = k.key ORDER BY created_ms LIMIT $2) c`
	// sqliteShortSQL counts no further than the limit.
	sqliteShortSQL = `SELECT k.value FROM json_each(?1) k
WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM contacts WHERE customer_key = k.value LIMIT ?2)) < ?2`
	sqliteHistoriesSQL = `SELECT ` + contactColumns + ` FROM contacts
WHERE customer_key IN (SELECT value FROM json_each(?)) ORDER BY customer_key, created_ms`
)

// cut takes from a customer's whole history, oldest first, what spanContacts
// and neighbours would read for sp: the contacts created or resolved in the
// span (widened to a late resolution), and the two created just before it
// (newest first) and just after it.
func cut(all []contactRow, sp span, w int64) (rows, before, after []contactRow) {
	in := func(v, from, to int64) bool { return v >= from && v <= to }
	inSpan := func() []contactRow {
		var out []contactRow
		for _, r := range all {
			if in(r.CreatedMS, sp.from, sp.to) || (r.ResolvedMS.Valid && in(r.ResolvedMS.Int64, sp.from, sp.to)) {
				out = append(out, r)
			}
		}
		return out
	}
	rows = inSpan()
	if need := maxResolved(rows) + w; need > sp.to {
		sp.to = need
		rows = inSpan()
	}
	for i := len(all) - 1; i >= 0 && len(before) < 2; i-- {
		if all[i].CreatedMS < sp.from {
			before = append(before, all[i])
		}
	}
	for _, r := range all {
		if r.CreatedMS > sp.to && len(after) < 2 {
			after = append(after, r)
		}
	}
	return rows, before, after
}

// contactsByID reads contacts by id.
func (s *Store) contactsByID(ctx context.Context, tx *sqlx.Tx, ids []int64) ([]contactRow, error) {
	var rows []contactRow
	if s.dialect == Postgres {
		st, err := s.prepared(ctx, tx, `SELECT `+contactColumns+` FROM contacts WHERE id = ANY($1::bigint[])`)
		if err != nil {
			return nil, err
		}
		err = st.SelectContext(ctx, &rows, pq.Array(ids))
		return rows, err
	}
	for part := range slices.Chunk(ids, rowsPerStatement) {
		q, args, err := sqlx.In(`SELECT `+contactColumns+` FROM contacts WHERE id IN (?)`, part)
		if err != nil {
			return nil, err
		}
		var got []contactRow
		if err := tx.SelectContext(ctx, &got, q, args...); err != nil {
			return nil, err
		}
		rows = append(rows, got...)
	}
	return rows, nil
}

// selectByKey runs q, which has one "IN (?)" for keys, and groups the rows.
// PostgreSQL takes the keys as one array parameter instead, so the statement
// is prepared once and not re-planned per batch size.
func selectByKey[T any](ctx context.Context, s *Store, tx *sqlx.Tx, q string, keys []string, key func(T) string) (map[string][]T, error) {
	out := map[string][]T{}
	group := func(rows []T) {
		for _, r := range rows {
			out[key(r)] = append(out[key(r)], r)
		}
	}
	if s.dialect == Postgres {
		st, err := s.prepared(ctx, tx, strings.Replace(q, "IN (?)", "= ANY($1::text[])", 1))
		if err != nil {
			return nil, err
		}
		var rows []T
		if err := st.SelectContext(ctx, &rows, pq.Array(keys)); err != nil {
			return nil, err
		}
		group(rows)
		return out, nil
	}
	for part := range slices.Chunk(keys, rowsPerStatement) {
		q, args, err := sqlx.In(q, part)
		if err != nil {
			return nil, err
		}
		var rows []T
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), args...); err != nil {
			return nil, err
		}
		group(rows)
	}
	return out, nil
}

// The span reads, one customer at a time. PostgreSQL runs them for all
// customers in one statement (a lateral join over arrays: one round trip, one
// plan); SQLite, in process, runs one prepared statement per customer.
const (
	spanSQL = `SELECT ` + contactColumns + ` FROM contacts
WHERE customer_key = ? AND ((created_ms BETWEEN ? AND ?) OR (resolved_ms BETWEEN ? AND ?))`
	beforeSQL = `SELECT ` + contactColumns + ` FROM contacts WHERE customer_key = ? AND created_ms < ? ORDER BY created_ms DESC LIMIT 2`
	afterSQL  = `SELECT ` + contactColumns + ` FROM contacts WHERE customer_key = ? AND created_ms > ? ORDER BY created_ms LIMIT 2`

	pgSpanSQL = `SELECT c.* FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS s(key, lo, hi)
CROSS JOIN LATERAL (SELECT ` + contactColumns + ` FROM contacts
	WHERE customer_key = s.key AND ((created_ms BETWEEN s.lo AND s.hi) OR (resolved_ms BETWEEN s.lo AND s.hi))) c`
	pgBeforeSQL = `SELECT c.* FROM unnest($1::text[], $2::bigint[]) AS s(key, at)
CROSS JOIN LATERAL (SELECT ` + contactColumns + ` FROM contacts
	WHERE customer_key = s.key AND created_ms < s.at ORDER BY created_ms DESC LIMIT 2) c`
	pgAfterSQL = `SELECT c.* FROM unnest($1::text[], $2::bigint[]) AS s(key, at)
CROSS JOIN LATERAL (SELECT ` + contactColumns + ` FROM contacts
	WHERE customer_key = s.key AND created_ms > s.at ORDER BY created_ms LIMIT 2) c`
)

// spanContacts reads each span's customer's contacts created or resolved in
// [from, to].
func (s *Store) spanContacts(ctx context.Context, tx *sqlx.Tx, spans []span) (map[string][]contactRow, error) {
	if s.dialect == Postgres {
		keys, from, to := make([]string, len(spans)), make([]int64, len(spans)), make([]int64, len(spans))
		for i, sp := range spans {
			keys[i], from[i], to[i] = sp.key, sp.from, sp.to
		}
		return s.groupRows(ctx, tx, pgSpanSQL, pq.Array(keys), pq.Array(from), pq.Array(to))
	}
	return perSpan(ctx, tx, spanSQL, spans, func(sp span) []any { return []any{sp.key, sp.from, sp.to, sp.from, sp.to} })
}

// neighbours reads, per span, the customer's two contacts created just
// before from (before) or just after to.
func (s *Store) neighbours(ctx context.Context, tx *sqlx.Tx, spans []span, before bool) (map[string][]contactRow, error) {
	at := func(sp span) int64 {
		if before {
			return sp.from
		}
		return sp.to
	}
	if s.dialect == Postgres {
		keys, ats := make([]string, len(spans)), make([]int64, len(spans))
		for i, sp := range spans {
			keys[i], ats[i] = sp.key, at(sp)
		}
		q := pgAfterSQL
		if before {
			q = pgBeforeSQL
		}
		return s.groupRows(ctx, tx, q, pq.Array(keys), pq.Array(ats))
	}
	q := afterSQL
	if before {
		q = beforeSQL
	}
	return perSpan(ctx, tx, q, spans, func(sp span) []any { return []any{sp.key, at(sp)} })
}

// groupRows runs one query and groups its contacts by customer. The query is
// prepared once per connection: re-planning the lateral joins on every call
// cost PostgreSQL more than running them.
func (s *Store) groupRows(ctx context.Context, tx *sqlx.Tx, q string, args ...any) (map[string][]contactRow, error) {
	st, err := s.prepared(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	var rows []contactRow
	if err := st.SelectContext(ctx, &rows, args...); err != nil {
		return nil, err
	}
	out := map[string][]contactRow{}
	for _, r := range rows {
		out[r.CustomerKey] = append(out[r.CustomerKey], r)
	}
	return out, nil
}

// perSpan runs prepared statement q once per span.
func perSpan(ctx context.Context, tx *sqlx.Tx, q string, spans []span, args func(span) []any) (map[string][]contactRow, error) {
	st, err := tx.PreparexContext(ctx, tx.Rebind(q))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	out := map[string][]contactRow{}
	for _, sp := range spans {
		var rows []contactRow
		if err := st.SelectContext(ctx, &rows, args(sp)...); err != nil {
			return nil, err
		}
		out[sp.key] = rows
	}
	return out, nil
}

// judge evaluates one customer's span and returns the contacts whose
// verdicts changed, and the marked ones that still need a write-back queued.
func (s *Store) judge(sp span, rows, before, after []contactRow, brows []bookingRow, marked map[int64]bool, out []verdict) []verdict {
	w := s.window().Milliseconds()
	lo, hi, from := sp.lo, sp.hi, sp.from
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

	all := appendNew(slices.Clone(rows), chain...)
	sortRows(all)
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
		createdIn := inZone(r.CreatedMS)
		if createdIn || (r.ResolvedMS.Valid && inZone(r.ResolvedMS.Int64)) {
			v := verdicts[i]
			// A contact created before the zone is here for its resolution:
			// the contacts before it, which its repeat verdict counts, were
			// not all read, and no change in the zone can alter that verdict.
			if createdIn {
				r.RepeatContact = b2i(v.Repeat)
				r.Previous = refs(v.Previous)
			}
			r.FCR = string(v.FCR)
			r.Stage = string(v.Stage)
			r.Followed = b2i(v.FollowedByOrder)
		}
		if r == old && !(marked[r.ID] && s.firstWriteback(r)) {
			continue
		}
		out = append(out, verdict{old, r})
	}
	return out
}

// verdict is a contact before and after evaluation.
type verdict struct{ old, r contactRow }

// A verdict overwrites only the evaluation's columns, so a change the
// applier made after the evaluation's reads stays, and its mark has the next
// pass judge it.
const (
	verdictSQL   = `UPDATE contacts SET repeat_contact = ?, previous = ?, fcr = ?, stage = ?, followed = ?, prev_ms = ?, prev2_ms = ? WHERE id = ?`
	pgVerdictSQL = `UPDATE contacts SET repeat_contact = v.repeat_contact, previous = v.previous, fcr = v.fcr, stage = v.stage,
	followed = v.followed, prev_ms = v.prev_ms, prev2_ms = v.prev2_ms
FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::text[], $5::text[], $6::smallint[], $7::bigint[], $8::bigint[])
	AS v(id, repeat_contact, previous, fcr, stage, followed, prev_ms, prev2_ms)
WHERE contacts.id = v.id`
)

// firstWriteback reports whether r's source writes back and r has never
// been queued for it: its first evaluation queues one even when its verdict
// is the default (afterVerdict).
func (s *Store) firstWriteback(r contactRow) bool {
	return s.writeback[recontact.Source(r.Source)] && r.Writeback == "off"
}

// writeVerdicts stores the verdicts that changed (in one statement on
// PostgreSQL, a prepared one per row on SQLite) and queues the write-backs
// they imply.
func (s *Store) writeVerdicts(ctx context.Context, tx *sqlx.Tx, vs []verdict) error {
	var changed []contactRow
	for _, v := range vs {
		if v.r != v.old {
			changed = append(changed, v.r)
		}
	}
	if s.dialect == Postgres && len(changed) > 0 {
		n := len(changed)
		ids, rep, prev, fcr, stage, fol := make([]int64, n), make([]int, n), make([]string, n), make([]string, n), make([]string, n), make([]int, n)
		p1, p2 := make([]sql.NullInt64, n), make([]sql.NullInt64, n)
		for i, r := range changed {
			ids[i], rep[i], prev[i], fcr[i], stage[i], fol[i] = r.ID, r.RepeatContact, r.Previous, r.FCR, r.Stage, r.Followed
			p1[i], p2[i] = r.PrevMS, r.Prev2MS
		}
		st, err := s.prepared(ctx, tx, pgVerdictSQL)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, pq.Array(ids), pq.Array(rep), pq.Array(prev), pq.Array(fcr),
			pq.Array(stage), pq.Array(fol), pq.Array(p1), pq.Array(p2)); err != nil {
			return err
		}
	} else if len(changed) > 0 {
		st, err := tx.PreparexContext(ctx, verdictSQL)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range changed {
			if _, err := st.ExecContext(ctx, r.RepeatContact, r.Previous, r.FCR, r.Stage, r.Followed, r.PrevMS, r.Prev2MS, r.ID); err != nil {
				return err
			}
		}
	}
	hist := historyHorizons{}
	for _, v := range vs {
		if err := s.afterVerdict(ctx, tx, hist, v.old, v.r); err != nil {
			return err
		}
	}
	return nil
}

// afterVerdict queues a write-back, in the evaluation's own transaction (the
// outbox), when what the ticket should carry may have changed. An echo of our
// own write changes no verdict, so it queues nothing.
func (s *Store) afterVerdict(ctx context.Context, tx *sqlx.Tx, hist historyHorizons, old, r contactRow) error {
	if !s.writeback[recontact.Source(r.Source)] {
		return nil
	}
	if old.RepeatContact == r.RepeatContact && old.FCR == r.FCR && old.Stage == r.Stage && !s.firstWriteback(old) {
		return nil
	}
	if old.Writeback == "off" && r.UpdatedMS > 0 {
		before, err := hist.get(ctx, tx, recontact.Source(r.Source))
		if err != nil {
			return err
		}
		if r.UpdatedMS < before {
			return s.markHistoric(ctx, tx, r)
		}
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE contacts SET writeback = 'pending' WHERE id = ?`), r.ID); err != nil {
		return err
	}
	return s.enqueue(ctx, tx, recontact.Job{Kind: recontact.JobWriteback, Key: r.Source + ":" + r.TicketID})
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
