package store

import (
	"context"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/recontact/recontact"
)

// ErrSlowPath lets tests see that the set path declined a batch.
var ErrSlowPath = errSlowPath

// SetPath runs ds through the set path alone, as a group-commit batch does,
// and returns each delivery's outcome in the order of ds.
func (s *Store) SetPath(ctx context.Context, ds []*recontact.Delivery) (dup []bool, errs []error, err error) {
	reqs, back := requests(ctx, ds)
	results, _, err := s.commitSet(ctx, reqs, false)
	dup, errs = outcomes(reqs, back, results)
	return dup, errs, err
}

// CommitBatch commits ds as one group-commit batch (set path, else the
// per-delivery path).
func (s *Store) CommitBatch(ctx context.Context, ds []*recontact.Delivery) (dup []bool, errs []error, err error) {
	reqs, back := requests(ctx, ds)
	results, err := s.commitBatch(ctx, reqs, false)
	dup, errs = outcomes(reqs, back, results)
	return dup, errs, err
}

// WriteNewContact writes a contact the set path believes new.
func (s *Store) WriteNewContact(ctx context.Context, src recontact.Source, ticketID string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		return s.writeContacts(ctx, tx, []contactRow{{Source: string(src), TicketID: ticketID, CustomerKey: "x@example.com", Version: 1}})
	})
}

func requests(ctx context.Context, ds []*recontact.Delivery) ([]*ingestReq, map[*ingestReq]int) {
	reqs := make([]*ingestReq, len(ds))
	back := map[*ingestReq]int{}
	for i, d := range ds {
		reqs[i] = &ingestReq{ctx: ctx, d: d}
		back[reqs[i]] = i
	}
	return reqs, back
}

func outcomes(reqs []*ingestReq, back map[*ingestReq]int, results []ingestResult) ([]bool, []error) {
	dup, errs := make([]bool, len(reqs)), make([]error, len(reqs))
	for j, r := range reqs {
		dup[back[r]], errs[back[r]] = results[j].duplicate, results[j].err
	}
	return dup, errs
}

// AcceptOnly commits ds as one batch on the acknowledge path (keys, raw
// bodies, the inbox row) and leaves them unapplied, as a process killed right
// after its 2xx.
func (s *Store) AcceptOnly(ctx context.Context, ds []*recontact.Delivery) (dup []bool, err error) {
	reqs, back := requests(ctx, ds)
	results, _, err := s.accept(ctx, reqs)
	if err != nil {
		return nil, err
	}
	dup, errs := outcomes(reqs, back, results)
	return dup, errors.Join(errs...)
}

// OnJudged runs f between each evaluation's reads and its writes.
func (s *Store) OnJudged(f func()) { s.judgedHook = f }

// LimitHistory sets how many contacts of a customer an evaluation reads
// whole, until the test ends.
func LimitHistory(t interface{ Cleanup(func()) }, n int) {
	old := historyLimit
	historyLimit = n
	t.Cleanup(func() { historyLimit = old })
}

// AnalyzeYoung runs one round of the young-table analysis.
func (s *Store) AnalyzeYoung(ctx context.Context) error { return s.analyzeYoung(ctx) }

// ApplierScans runs the applier's claim of limit rows and its lock of
// tickets in a transaction set up as the applier's and rolled back, and
// reports how many sequential and index scans of each table they took.
func (s *Store) ApplierScans(ctx context.Context, limit int, tickets []string) (seq, index map[string]int64, err error) {
	return scansOf(ctx, s, func(tx *sqlx.Tx) error {
		if err := s.applierTx(ctx, tx); err != nil {
			return err
		}
		if _, err := s.claimInbox(ctx, tx, limit); err != nil {
			return err
		}
		_, err := s.pgLock(ctx, tx, recontact.SourceZendesk, tickets)
		return err
	})
}

// TakeMarksScans runs the evaluator's read of limit marks in a transaction it
// rolls back, and reports how many sequential scans of contacts it took.
func (s *Store) TakeMarksScans(ctx context.Context, limit int) (int64, error) {
	seq, _, err := scansOf(ctx, s, func(tx *sqlx.Tx) error {
		var ms []mark
		return tx.SelectContext(ctx, &ms, tx.Rebind(takeMarksSQL), limit)
	})
	return seq["contacts"], err
}

// scansOf runs fn in a transaction it rolls back and counts the sequential
// and index scans fn took of each table. The view also counts what the
// connection did before that is not yet reported (PostgreSQL 15), so fn's
// scans are the difference.
func scansOf(ctx context.Context, s *Store, fn func(*sqlx.Tx) error) (seq, index map[string]int64, err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	scans := func() (seq, index map[string]int64, err error) {
		seq, index = map[string]int64{}, map[string]int64{}
		rows, err := tx.QueryxContext(ctx, `SELECT relname, COALESCE(seq_scan, 0), COALESCE(idx_scan, 0)
FROM pg_stat_xact_user_tables WHERE schemaname = current_schema()`)
		if err != nil {
			return nil, nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var sq, ix int64
			if err := rows.Scan(&name, &sq, &ix); err != nil {
				return nil, nil, err
			}
			seq[name], index[name] = sq, ix
		}
		return seq, index, rows.Err()
	}
	seq0, index0, err := scans()
	if err != nil {
		return nil, nil, err
	}
	if err := fn(tx); err != nil {
		return nil, nil, err
	}
	if seq, index, err = scans(); err != nil {
		return nil, nil, err
	}
	for name := range seq {
		seq[name] -= seq0[name]
		index[name] -= index0[name]
	}
	return seq, index, nil
}
