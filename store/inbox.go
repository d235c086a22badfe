package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goccy/go-json"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/recontact/recontact"
)

// With Options.GroupCommit a webhook's 2xx waits only for what makes it
// durable: its deliveries row (key and raw body) and an inbox row holding the
// normalised delivery, written for a whole batch of concurrent webhooks with
// a few multi-row statements and one commit. The applier then applies inbox
// rows to contacts, bookings and jobs in large batches, and deletes them in
// the transaction that applies them: each delivery is applied exactly once,
// after a crash too (the rows wait for the next start, or another instance).

// applyBatch is about how many deliveries one applier transaction takes;
// after a pass that applied any, the next waits applyCoalesce to gather more.
const (
	applyBatch    = 512
	applyCoalesce = 50 * time.Millisecond
)

type applier struct {
	s       *Store
	log     *slog.Logger
	wake    chan struct{}
	hurry   chan struct{} // a read waits for the next pass (Settle)
	applied chan struct{} // Store.Applied
	quit    chan struct{}
	done    chan struct{}
	acked   atomic.Int64 // the highest inbox id this store acknowledged
	perRow  int          // deliveries an inbox row held in the last pass (rowsFor)

	mu     sync.Mutex
	passed chan struct{} // closed after each pass, then replaced (Settle)

	stats sync.WaitGroup // analyzeYoung's loop
}

func newApplier(s *Store, log *slog.Logger) *applier {
	// perRow starts at a guess between a quiet and a busy batch: a first pass
	// over rows of a hundred deliveries each stays a few thousand.
	a := &applier{s: s, log: log, perRow: maxBatch / 4, wake: make(chan struct{}, 1), hurry: make(chan struct{}, 1), applied: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{}), passed: make(chan struct{})}
	go a.run()
	if s.dialect == Postgres {
		// Beside the applier, not in its loop: an ANALYZE under load took
		// long enough to hold contacts unreadable for over a second.
		a.stats.Go(a.analyzeLoop)
	}
	return a
}

func (a *applier) analyzeLoop() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-a.quit
		cancel()
	}()
	t := time.NewTicker(statsEvery)
	defer t.Stop()
	for {
		if err := a.s.analyzeYoung(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("analyze new tables", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ack records inbox rows up to id as acknowledged and asks for a pass.
func (a *applier) ack(id int64) {
	for {
		cur := a.acked.Load()
		if id <= cur || a.acked.CompareAndSwap(cur, id) {
			break
		}
	}
	signal(a.wake)
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// nextPass returns a channel closed when the pass after the current one ends.
func (a *applier) nextPass() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.passed
}

func (a *applier) endPass() {
	a.mu.Lock()
	close(a.passed)
	a.passed = make(chan struct{})
	a.mu.Unlock()
}

// drainFor bounds how long Close keeps applying before it gives up; what is
// left stays in the inbox for the next start.
const drainFor = 10 * time.Second

func (a *applier) run() {
	defer close(a.done)
	a.retryFailed()
	var drainUntil time.Time
	failures := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		rows := a.rowsFor(applyBatch)
		n, took, err := a.s.applyInbox(ctx, rows)
		cancel()
		a.learn(n, took)
		a.endPass()
		if n > 0 {
			signal(a.applied)
		}
		if err != nil {
			failures++
			if failures == 1 || failures%20 == 0 {
				a.log.Warn("apply acknowledged deliveries", slog.Any("err", err), slog.Int("failures", failures))
			}
		} else {
			failures = 0
		}
		if !drainUntil.IsZero() {
			if err != nil || took < rows || time.Now().After(drainUntil) {
				return
			}
			continue
		}
		// A backlog goes on at once. After a pass that applied something,
		// the next waits applyCoalesce for more, since one large transaction
		// costs far less per delivery than many small ones (at one sender, a
		// pass for every delivery took a millisecond of CPU each on SQLite and
		// halved the rate), unless a read is waiting for it (Settle); a failure
		// backs off; otherwise a wake-up or the poll (other instances'
		// leftovers) starts the next.
		wait, wake, hurry := 500*time.Millisecond, a.wake, a.hurry
		switch {
		case err != nil:
			wait, wake, hurry = min(100*time.Millisecond<<min(failures, 6), 5*time.Second), nil, nil
		case took == rows:
			wait = 0
		case n > 0:
			wait, wake = applyCoalesce, nil
		}
		if wait == 0 {
			select {
			case <-a.quit:
				drainUntil = time.Now().Add(drainFor)
			default:
			}
			continue
		}
		select {
		case <-wake:
		case <-hurry:
		case <-time.After(wait):
		case <-a.quit:
			drainUntil = time.Now().Add(drainFor)
		}
	}
}

// rowsFor is how many inbox rows to take for about n deliveries, by the
// deliveries a row held lately (a group commit's batch: one to a hundred).
func (a *applier) rowsFor(n int) int {
	return max(1, (n+a.perRow-1)/a.perRow)
}

func (a *applier) learn(deliveries, rows int) {
	if rows > 0 && deliveries > 0 {
		a.perRow = max(1, deliveries/rows)
	}
}

// statsEvery is how often the store looks for tables that outgrew their
// planner statistics (analyzeYoung).
const statsEvery = 2 * time.Second

// analyzeYoung runs ANALYZE on the busy tables that changed more since their
// last analysis than they held then: a new install's tables, mostly, whose
// first minute would otherwise run on plans made for an empty table
// (autovacuum looks once a minute). Without statistics PostgreSQL finds
// contacts by scanning every ticket of a source, which costs more with each
// delivery. Past that, autovacuum's own thresholds take over. The queues
// (inbox, jobs) are left out: rows come and go, so they would qualify every
// time, and they are read by primary key or a partial index anyway.
//
// These analyses sample youngStatsTarget×300 rows rather than the default
// 30,000: enough to plan the store's lookups, and a tenth of the work (an
// ANALYZE of 100,000 contacts took 35 ms rather than 415 ms, and a growing
// table is analysed about once per doubling). Autovacuum's later analyses
// use the server's full target.
func (s *Store) analyzeYoung(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var tables []string
	err := s.db.SelectContext(ctx, &tables, `SELECT t.relname FROM pg_stat_user_tables t JOIN pg_class c ON c.oid = t.relid
WHERE t.schemaname = current_schema() AND t.relname IN ('contacts', 'bookings', 'deliveries')
	AND t.n_mod_since_analyze >= 1000 AND t.n_mod_since_analyze > c.reltuples`)
	for _, t := range tables {
		if err == nil {
			err = s.inTx(ctx, func(tx *sqlx.Tx) error {
				if _, err := tx.ExecContext(ctx, fmt.Sprintf(`SET LOCAL default_statistics_target = %d`, youngStatsTarget)); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `ANALYZE `+pq.QuoteIdentifier(t))
				return err
			})
		}
	}
	return err
}

// youngStatsTarget is the statistics target of analyzeYoung's analyses.
const youngStatsTarget = 10

// retryFailed gives the deliveries that could not be applied another try
// when a process starts: a new version may have fixed what failed. Those
// that fail again are marked again.
func (a *applier) retryFailed() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := a.s.db.ExecContext(ctx, `UPDATE inbox SET error = '' WHERE error <> ''`)
	if err != nil {
		a.log.Warn("retry failed deliveries", slog.Any("err", err))
		return
	}
	if n, _ := res.RowsAffected(); n > 0 {
		a.log.Info("retrying deliveries that could not be applied before", slog.Int64("deliveries", n))
	}
}

// stop applies what is waiting (for up to drainFor) and stops.
func (a *applier) stop() {
	close(a.quit)
	<-a.done
	a.stats.Wait()
}

// Settle waits until every delivery this store acknowledged before the call
// has been applied, or ctx ends. Reads that must see a webhook just answered
// (the API) call it first. Without GroupCommit a delivery is applied before
// its answer, and Settle returns at once.
func (s *Store) Settle(ctx context.Context) error {
	a := s.applier
	if a == nil {
		return nil
	}
	target := a.acked.Load()
	for {
		next := a.nextPass()
		// The oldest waiting row, by the primary key (see inboxClaimSQL; with
		// LIMIT 1 the planner takes the index by itself).
		var oldest int64
		err := s.db.GetContext(ctx, &oldest, `SELECT id FROM inbox WHERE error = '' ORDER BY id LIMIT 1`)
		if errors.Is(err, sql.ErrNoRows) || err == nil && oldest > target {
			return nil
		}
		if err != nil {
			return classify(err)
		}
		signal(a.hurry)
		select {
		case <-next:
		case <-ctx.Done():
			return classify(ctx.Err())
		}
	}
}

// Applied is signalled after the applier applied deliveries, so the
// evaluator looks at the contacts they changed at once. Signals coalesce; it
// has one consumer. Without GroupCommit it is nil (never ready).
func (s *Store) Applied() <-chan struct{} {
	if s.applier == nil {
		return nil
	}
	return s.applier.applied
}

// InboxBacklog counts deliveries acknowledged but not applied yet, and those
// whose application failed for good (kept in the inbox, see the log).
func (s *Store) InboxBacklog(ctx context.Context) (waiting, failed int64, err error) {
	err = s.db.QueryRowxContext(ctx, `SELECT COALESCE(SUM(deliveries) FILTER (WHERE error = ''), 0),
	COALESCE(SUM(deliveries) FILTER (WHERE error <> ''), 0) FROM inbox`).
		Scan(&waiting, &failed)
	return waiting, failed, classify(err)
}

// encodeQueued is a delivery's inbox form: all of it but the raw body, which
// its deliveries row keeps. JSON, through goccy/go-json: every delivery is
// encoded on the acknowledgement path and decoded by the applier, and the
// standard library's decoder took 18 µs for one, goccy's 4 µs.
func encodeQueued(d *recontact.Delivery) ([]byte, error) {
	c := *d
	c.Body = nil
	return json.Marshal(&c)
}

func decodeQueued(b []byte) (*recontact.Delivery, error) {
	d := new(recontact.Delivery)
	if err := json.Unmarshal(b, d); err != nil {
		return nil, err
	}
	return d, nil
}

// acceptSet records a batch's keys and raw bodies and queues its fresh
// deliveries in the inbox, in batch order. It fills results like ingestSet
// and returns the highest inbox id it wrote.
func (s *Store) acceptSet(ctx context.Context, tx *sqlx.Tx, batch []*ingestReq, results []ingestResult) (int64, error) {
	live := s.liveRequests(batch, results)
	payloads := make(map[int][]byte, len(live))
	for _, i := range live {
		p, err := batch[i].inboxForm()
		if err != nil {
			return 0, err
		}
		payloads[i] = p
	}
	fresh, err := s.claimKeys(ctx, tx, batch, live)
	if err != nil {
		return 0, err
	}
	queue := make([][]byte, 0, len(live))
	for _, i := range live {
		results[i].duplicate = !fresh[i]
		if fresh[i] {
			queue = append(queue, payloads[i])
		}
	}
	return s.queueInbox(ctx, tx, queue)
}

// acceptOne is acceptSet for one delivery, for the per-delivery path.
func (s *Store) acceptOne(ctx context.Context, tx *sqlx.Tx, d *recontact.Delivery) (dup bool, id int64, err error) {
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = s.Now()
	}
	if err := validate(d); err != nil {
		return false, 0, err
	}
	p, err := encodeQueued(d)
	if err != nil {
		return false, 0, err
	}
	fresh, err := s.claimDelivery(ctx, tx, d)
	if err != nil || !fresh {
		return !fresh, 0, err
	}
	id, err = s.queueInbox(ctx, tx, [][]byte{p})
	return false, id, err
}

// queueInbox queues payloads (inbox forms, in order) as one inbox row and
// returns its id; none queues nothing and returns 0.
func (s *Store) queueInbox(ctx context.Context, tx *sqlx.Tx, payloads [][]byte) (int64, error) {
	if len(payloads) == 0 {
		return 0, nil
	}
	st, err := s.prepared(ctx, tx, tx.Rebind(`INSERT INTO inbox (delivery, deliveries) VALUES (?, ?) RETURNING id`))
	if err != nil {
		return 0, err
	}
	var id int64
	err = st.GetContext(ctx, &id, joinInbox(payloads), len(payloads))
	return id, err
}

// An inbox row holds the new deliveries of one group commit, as a JSON array
// of their inbox forms in the order they were acknowledged: one row to write,
// lock and delete for the batch rather than one for each delivery. Rows from
// before migration 00007 hold a single delivery, as a JSON object.
type inboxRow struct {
	ID       int64  `db:"id"`
	Delivery []byte `db:"delivery"`
}

func joinInbox(payloads [][]byte) []byte {
	n := 1 + len(payloads)
	for _, p := range payloads {
		n += len(p)
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, p := range payloads {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, p...)
	}
	return append(b, ']')
}

// splitInbox returns the inbox forms an inbox row holds.
func splitInbox(b []byte) ([]json.RawMessage, error) {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return []json.RawMessage{b}, nil
	}
	var forms []json.RawMessage
	if err := json.Unmarshal(b, &forms); err != nil {
		return nil, err
	}
	return forms, nil
}

// applyInbox applies up to rows inbox rows, oldest first, and reports how
// many deliveries they held and how many rows it took. The set path runs
// first; when it cannot finish, the same deliveries go one at a time, each
// under a savepoint, and one that fails for good is kept in the inbox with
// its error rather than retried forever.
func (s *Store) applyInbox(ctx context.Context, rows int) (deliveries, took int, err error) {
	deliveries, took, err = s.applyInboxTx(ctx, rows, false)
	if err == nil {
		return deliveries, took, nil
	}
	if code := recontact.ErrorCode(classify(err)); code == recontact.EUnavailable && !retryable(err) {
		return 0, 0, err
	}
	return s.applyInboxTx(ctx, rows, true)
}

// inboxClaimSQL takes the oldest inbox rows. The inbox is a queue: between
// two autovacuum runs (a minute) it holds the dead rows of every delivery
// applied since, a hundred times its live ones. Read through its primary
// key, those cost little (the first scan past a dead row marks its index
// entry, later ones skip it); but once a batch's LIMIT nears the rows the
// statistics count, PostgreSQL reads the whole table instead (16 ms for a
// minute's 56,000 dead rows, against 0.3 ms by the index). Likewise, locking
// a batch's 620 tickets by id read all 51,000 contacts of a young install
// (19 ms, against 1.9 ms by the unique index). Every statement of the
// applier finds its rows by key, so its transaction runs with sequential
// scans off (applierTx).
const inboxClaimSQL = `SELECT id, delivery FROM inbox WHERE error = '' ORDER BY id LIMIT ?`

// applierTx sets up an applier's transaction on PostgreSQL. A commit lost
// in a crash loses its inbox deletes with it, so the rows are applied again:
// the transaction need not wait for its fsync (on SQLite, the lazy pool's
// connections do not sync). Its statements find rows by key (inboxClaimSQL).
func (s *Store) applierTx(ctx context.Context, tx *sqlx.Tx) error {
	if s.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off; SET LOCAL enable_seqscan = off`)
	return err
}

// claimInbox takes up to limit of the oldest inbox rows for tx. SKIP LOCKED
// lets several PostgreSQL instances apply side by side.
func (s *Store) claimInbox(ctx context.Context, tx *sqlx.Tx, limit int) ([]inboxRow, error) {
	q := inboxClaimSQL
	if s.dialect == Postgres {
		q += ` FOR UPDATE SKIP LOCKED`
	}
	var rows []inboxRow
	err := tx.SelectContext(ctx, &rows, tx.Rebind(q), limit)
	return rows, err
}

func (s *Store) applyInboxTx(ctx context.Context, limit int, oneByOne bool) (deliveries, took int, err error) {
	tx, done, err := s.beginOn(ctx, s.lazy)
	if err != nil {
		return 0, 0, err
	}
	defer done()
	if err := s.applierTx(ctx, tx); err != nil {
		return 0, 0, err
	}
	rows, err := s.claimInbox(ctx, tx, limit)
	if err != nil || len(rows) == 0 {
		return 0, 0, err
	}
	// A row that cannot be read keeps its error; a delivery that cannot be
	// applied moves to a row of its own with its error, and the rest of its
	// row is applied.
	brokenRows := map[int64]error{}
	var kept []keptDelivery
	var reqs []*ingestReq
	forms := map[*ingestReq]json.RawMessage{}
	order := map[*ingestReq]int{} // the order of acknowledgement
	for _, r := range rows {
		fs, err := splitInbox(r.Delivery)
		if err != nil {
			brokenRows[r.ID] = err
			continue
		}
		deliveries += len(fs)
		for _, f := range fs {
			d, err := decodeQueued(f)
			if err == nil {
				err = validate(d)
			}
			if err != nil {
				kept = append(kept, keptDelivery{f, err})
				continue
			}
			req := &ingestReq{ctx: ctx, d: d}
			order[req] = len(order)
			forms[req] = f
			reqs = append(reqs, req)
		}
	}
	// Lock order, and within one ticket the order of acknowledgement.
	slices.SortStableFunc(reqs, func(a, b *ingestReq) int {
		return cmp.Or(cmp.Compare(a.d.Source, b.d.Source), cmp.Compare(rowKey(a.d), rowKey(b.d)), cmp.Compare(order[a], order[b]))
	})
	queued := 0
	if !oneByOne {
		all := make([]int, len(reqs))
		for i := range all {
			all[i] = i
		}
		if queued, err = s.applySet(ctx, tx, reqs, all); err != nil {
			return 0, 0, err
		}
	} else {
		for i, r := range reqs {
			if err := saved(ctx, tx, fmt.Sprintf("a%d", i), func() error { return s.applyOne(ctx, tx, r.d) }); err != nil {
				if recontact.ErrorCode(classify(err)) == recontact.EUnavailable {
					return 0, 0, err // the database, not the delivery: try again later
				}
				kept = append(kept, keptDelivery{forms[r], err})
			}
		}
		queued = 1 // a delivery may have queued jobs
	}
	if err := s.keepFailed(ctx, tx, kept, brokenRows); err != nil {
		return 0, 0, err
	}
	applied := make([]int64, 0, len(rows))
	for _, r := range rows {
		if _, broken := brokenRows[r.ID]; !broken {
			applied = append(applied, r.ID)
		}
	}
	if err := s.deleteInbox(ctx, tx, applied); err != nil {
		return 0, 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, err
	}
	if queued > 0 {
		s.notifyJobs()
	}
	return deliveries, len(rows), nil
}

// keptDelivery is a delivery that could not be applied, in its inbox form.
type keptDelivery struct {
	form json.RawMessage
	err  error
}

// keepFailed keeps what could not be applied in the inbox with its error:
// each delivery in a row of its own, each unreadable row where it is.
func (s *Store) keepFailed(ctx context.Context, tx *sqlx.Tx, kept []keptDelivery, brokenRows map[int64]error) error {
	for _, k := range kept {
		var id int64
		if err := tx.GetContext(ctx, &id, tx.Rebind(`INSERT INTO inbox (delivery, deliveries, error) VALUES (?, 1, ?) RETURNING id`),
			joinInbox([][]byte{k.form}), k.err.Error()); err != nil {
			return err
		}
		s.log.Error("delivery could not be applied; kept in the inbox", slog.Int64("inbox_id", id), slog.Any("err", k.err))
	}
	for id, err := range brokenRows {
		s.log.Error("inbox row could not be read; kept in the inbox", slog.Int64("inbox_id", id), slog.Any("err", err))
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE inbox SET error = ? WHERE id = ?`), err.Error(), id); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) deleteInbox(ctx context.Context, tx *sqlx.Tx, ids []int64) error {
	return s.deleteIDs(ctx, tx, "inbox", ids)
}

// deleteIDs deletes rows of table by id: on PostgreSQL in one prepared
// statement over an array, on SQLite in IN lists of rowsPerStatement.
func (s *Store) deleteIDs(ctx context.Context, tx *sqlx.Tx, table string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if s.dialect == Postgres {
		st, err := s.prepared(ctx, tx, `DELETE FROM `+table+` WHERE id = ANY($1::bigint[])`)
		if err != nil {
			return err
		}
		_, err = st.ExecContext(ctx, pq.Array(ids))
		return err
	}
	for part := range slices.Chunk(ids, rowsPerStatement) {
		q, args, err := sqlx.In(`DELETE FROM `+table+` WHERE id IN (?)`, part)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}
