package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
)

// Reconciler polls the helpdesk exports from the saved cursors and applies
// what webhooks missed. It runs as a job of the durable queue (kind
// recontact.JobReconcile, key = the source), one pending job per source: on
// PostgreSQL the queue's SKIP LOCKED claim gives the job to one instance.
type Reconciler struct {
	Store     *store.Store
	Zendesk   *Zendesk   // nil: Zendesk is not reconciled
	Freshdesk *Freshdesk // nil: Freshdesk is not reconciled
	Log       *slog.Logger
	// Interval between passes that reached the end of the export.
	Interval time.Duration
	// Budget bounds one pass, so that a long catch-up never outlives the
	// job's lease (and is then continued by the next pass right away).
	Budget time.Duration
	// Missed, if set, receives the records no webhook had delivered
	// (telemetry's reconciled counter).
	Missed func(src recontact.Source, n int)
}

// Schedule queues the first pass of each configured source unless one is
// pending or running already; every instance calls it at start.
func (r *Reconciler) Schedule(ctx context.Context) error {
	for _, src := range r.sources() {
		if _, err := r.Store.EnsureJob(ctx, recontact.Job{Kind: recontact.JobReconcile, Key: string(src)}); err != nil {
			return fmt.Errorf("schedule %s reconciliation: %w", src, err)
		}
	}
	return nil
}

func (r *Reconciler) sources() []recontact.Source {
	var out []recontact.Source
	if r.Zendesk != nil && r.Zendesk.Client.Configured() {
		out = append(out, recontact.SourceZendesk)
	}
	if r.Freshdesk != nil && r.Freshdesk.Client.Configured() {
		out = append(out, recontact.SourceFreshdesk)
	}
	return out
}

// Job runs one pass for the source named by the job's key and queues the
// next: right away when the budget ran out before the end of the export,
// else after Interval. It has the signature of worker.Func.
func (r *Reconciler) Job(ctx context.Context, j *store.QueuedJob) error {
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opt := Options{Budget: r.Budget}
	// Without a saved cursor, start one interval back (plus a margin for the
	// export's one-minute lag): older history is a backfill's job.
	lookback := r.Interval + 5*time.Minute
	var sum Summary
	var err error
	switch recontact.Source(j.Key) {
	case recontact.SourceZendesk:
		if r.Zendesk == nil {
			return r.drop(log, j)
		}
		sum, err = r.Zendesk.Reconcile(ctx, lookback, opt)
	case recontact.SourceFreshdesk:
		if r.Freshdesk == nil {
			return r.drop(log, j)
		}
		sum, err = r.Freshdesk.Reconcile(ctx, lookback, opt)
	default:
		return r.drop(log, j)
	}
	if sum.Missed > 0 {
		if r.Missed != nil {
			r.Missed(sum.Source, sum.Missed)
		}
		log.Warn("reconciliation found records no webhook delivered", slog.String("source", j.Key),
			slog.Int("missed", sum.Missed), slog.Int("records", sum.Records))
	}
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: the lease brings the job back
	}
	next := time.Now().Add(r.Interval)
	switch {
	case errors.Is(err, ErrBudget):
		next = time.Now()
	case err != nil:
		// Try again next interval rather than dead-letter the singleton: the
		// cursor holds what was done, and a helpdesk outage ends by itself.
		log.Warn("reconciliation pass failed", slog.String("source", j.Key), slog.Any("err", err))
	}
	// This job is running, not pending, so the next one can be queued beside it.
	return r.Store.Enqueue(ctx, recontact.Job{Kind: recontact.JobReconcile, Key: j.Key, RunAt: next})
}

// drop completes a job for a source this instance cannot read: retrying
// cannot help, and Schedule queues it again where credentials are set.
func (r *Reconciler) drop(log *slog.Logger, j *store.QueuedJob) error {
	log.Info("reconciliation job dropped: no API credentials for this source", slog.String("source", j.Key))
	return nil
}
