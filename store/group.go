package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recontact/recontact"
)

// groupCommitter turns concurrent Ingest calls into one transaction per batch:
// one commit (one fsync) acknowledges many deliveries, written with a few set
// statements (see commitAccept); a bad delivery fails alone, and each caller
// returns only after the commit that holds its delivery.
type groupCommitter struct {
	s    *Store
	reqs chan *ingestReq
	quit chan struct{}
	wg   sync.WaitGroup
}

type ingestReq struct {
	ctx    context.Context
	d      *recontact.Delivery
	queued []byte            // d's inbox form, encoded by the caller (see inboxForm)
	res    chan ingestResult // buffered: the committer never blocks on a caller that gave up
}

// inboxForm is the delivery as its inbox row holds it. The caller encodes it
// before it queues, in parallel with the others, rather than the committer
// for the whole batch while the batch waits.
func (r *ingestReq) inboxForm() ([]byte, error) {
	if r.queued != nil {
		return r.queued, nil
	}
	return encodeQueued(r.d)
}

type ingestResult struct {
	duplicate bool
	err       error
}

const maxBatch = 128

func newGroupCommitter(s *Store) *groupCommitter {
	g := &groupCommitter{s: s, reqs: make(chan *ingestReq), quit: make(chan struct{})}
	// One committer on both stores: SQLite has one writer anyway, and on
	// PostgreSQL the deliveries that arrive while a commit waits for its fsync
	// make the next batch larger, which measured faster than several
	// committers taking small batches side by side.
	g.wg.Add(1)
	go g.run()
	return g
}

func (g *groupCommitter) stop() {
	close(g.quit)
	g.wg.Wait()
}

var errStopped = recontact.Errorf(recontact.EUnavailable, "store is shutting down")

func (g *groupCommitter) submit(ctx context.Context, d *recontact.Delivery) (bool, error) {
	r := &ingestReq{ctx: ctx, d: d, res: make(chan ingestResult, 1)}
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = g.s.Now()
	}
	if validate(d) == nil { // an invalid one fails in the batch, as the others do
		var err error
		if r.queued, err = encodeQueued(d); err != nil {
			return false, err
		}
	}
	select {
	case g.reqs <- r:
	case <-ctx.Done():
		return false, classify(ctx.Err())
	case <-g.quit:
		return false, errStopped
	}
	// Wait for the outcome even if ctx ends: an answer must never claim less
	// than what was committed.
	res := <-r.res
	return res.duplicate, res.err
}

func (g *groupCommitter) run() {
	defer g.wg.Done()
	batch := make([]*ingestReq, 0, maxBatch)
	for {
		select {
		case r := <-g.reqs:
			batch = append(batch[:0], r)
		case <-g.quit:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		g.commit(batch)
	}
}

// lockOrder is the order a batch takes row locks in: by the contact or
// booking a delivery writes, then its key. Two batches taking locks in one
// global order cannot deadlock on each other.
func lockOrder(a, b *ingestReq) int {
	return cmp.Or(cmp.Compare(a.d.Source, b.d.Source), cmp.Compare(rowKey(a.d), rowKey(b.d)), cmp.Compare(a.d.Key, b.d.Key))
}

func rowKey(d *recontact.Delivery) string {
	switch {
	case d.Contact != nil:
		return d.Contact.TicketID
	case d.Booking != nil:
		return d.Booking.ID
	}
	return ""
}

func (g *groupCommitter) commit(batch []*ingestReq) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	results, err := g.s.commitAccept(ctx, batch)
	if err != nil {
		fail(batch, results, classify(err))
		return
	}
	for i, r := range batch {
		r.res <- results[i]
	}
}

// commitBatch sorts batch into lock order and commits it in one transaction;
// results follow the sorted order. A non-nil error means nothing committed.
// With atomic, one invalid delivery fails the whole batch; otherwise it fails
// alone. The set path (a few multi-row statements for the whole batch) runs
// first; when it cannot finish, the per-delivery path runs the batch again.
func (s *Store) commitBatch(ctx context.Context, batch []*ingestReq, atomic bool) ([]ingestResult, error) {
	slices.SortFunc(batch, lockOrder)
	results, queued, err := s.commitSet(ctx, batch, atomic)
	if err == nil {
		if queued > 0 {
			s.notifyJobs()
		}
		return results, nil
	}
	if atomic {
		for _, r := range results {
			if r.err != nil {
				return results, r.err
			}
		}
	}
	// The database is gone or the caller's time is up: the slow path would
	// fail the same way. A deadlock or a race goes on to it.
	if code := recontact.ErrorCode(classify(err)); code == recontact.EUnavailable && !retryable(err) {
		return results, err
	}
	results, err = s.commitSavepoints(ctx, batch, atomic, s.ingest)
	if err == nil {
		s.notifyJobs()
	}
	return results, err
}

// commitSet runs the set path in a transaction of its own.
func (s *Store) commitSet(ctx context.Context, batch []*ingestReq, atomic bool) ([]ingestResult, int, error) {
	results := make([]ingestResult, len(batch))
	tx, done, err := s.beginTx(ctx)
	if err != nil {
		return results, 0, err
	}
	defer done()
	queued, err := s.ingestSet(ctx, tx, batch, results)
	if err != nil {
		return results, 0, err
	}
	if atomic {
		for _, r := range results {
			if r.err != nil {
				return results, 0, r.err
			}
		}
	}
	return results, queued, tx.Commit()
}

// commitSavepoints runs each on the batch's deliveries one at a time, each
// under its own savepoint, so a delivery that fails (or deadlocks and is
// retried) undoes only its own writes.
func (s *Store) commitSavepoints(ctx context.Context, batch []*ingestReq, atomic bool,
	each func(context.Context, *sqlx.Tx, *recontact.Delivery) (dup bool, err error)) ([]ingestResult, error) {
	results := make([]ingestResult, len(batch))
	tx, done, err := s.beginTx(ctx)
	if err != nil {
		return results, err
	}
	defer done()
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i].err = classify(err)
			continue
		}
		err := saved(ctx, tx, fmt.Sprintf("d%d", i), func() (err error) {
			results[i].duplicate, err = each(ctx, tx, r.d)
			return err
		})
		if errors.Is(err, errTxBroken) {
			return results, err // nothing of this batch commits
		}
		if err != nil {
			results[i] = ingestResult{err: classify(err)}
			if atomic {
				return results, results[i].err
			}
		}
	}
	return results, tx.Commit()
}

// commitAccept commits a batch on the acknowledge path (see accept) and
// hands its inbox row to the applier.
func (s *Store) commitAccept(ctx context.Context, batch []*ingestReq) ([]ingestResult, error) {
	results, top, err := s.accept(ctx, batch)
	if err == nil && top > 0 {
		s.applier.ack(top)
	}
	return results, err
}

// accept commits a batch's keys, raw bodies and inbox row in one
// transaction, set path first (on PostgreSQL one statement), and returns the
// highest inbox id it wrote.
func (s *Store) accept(ctx context.Context, batch []*ingestReq) ([]ingestResult, int64, error) {
	results := make([]ingestResult, len(batch))
	top, err := func() (int64, error) {
		if s.dialect == Postgres {
			top, ok, err := s.pgAccept(ctx, batch, results)
			if ok {
				return top, err
			}
			clear(results)
		}
		tx, done, err := s.beginTx(ctx)
		if err != nil {
			return 0, err
		}
		defer done()
		top, err := s.acceptSet(ctx, tx, batch, results)
		if err != nil {
			return 0, err
		}
		return top, tx.Commit()
	}()
	if err == nil {
		return results, top, nil
	}
	if code := recontact.ErrorCode(classify(err)); code == recontact.EUnavailable && !retryable(err) {
		return results, 0, err
	}
	results, err = s.commitSavepoints(ctx, batch, false, func(ctx context.Context, tx *sqlx.Tx, d *recontact.Delivery) (bool, error) {
		dup, id, err := s.acceptOne(ctx, tx, d)
		top = max(top, id)
		return dup, err
	})
	return results, top, err
}

// errTxBroken marks a savepoint statement that failed: the transaction is
// unusable, which is the database's trouble, not the delivery's.
var errTxBroken = errors.New("transaction unusable")

// saved runs fn under savepoint sp, so a failure undoes only fn's writes; a
// deadlock with another transaction undid only the savepoint, so fn runs
// again (up to three times). A failing savepoint statement returns an
// EUnavailable error wrapping errTxBroken.
func saved(ctx context.Context, tx *sqlx.Tx, sp string, fn func() error) error {
	exec := func(q string) error {
		if _, err := tx.ExecContext(ctx, q+sp); err != nil {
			return recontact.Wrap(recontact.EUnavailable, "store unavailable", errors.Join(errTxBroken, err))
		}
		return nil
	}
	if err := exec("SAVEPOINT "); err != nil {
		return err
	}
	err := fn()
	for attempt := 0; retryable(err) && attempt < 3; attempt++ {
		if rbErr := exec("ROLLBACK TO SAVEPOINT "); rbErr != nil {
			return rbErr
		}
		err = fn()
	}
	if err != nil {
		if rbErr := exec("ROLLBACK TO SAVEPOINT "); rbErr != nil {
			return rbErr
		}
		return err
	}
	return exec("RELEASE SAVEPOINT ")
}

// fail answers every request of a batch that did not commit.
func fail(batch []*ingestReq, results []ingestResult, err error) {
	for i, r := range batch {
		if results[i].err == nil {
			results[i] = ingestResult{err: err}
		}
		r.res <- results[i]
	}
}
