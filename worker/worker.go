// Package worker runs what happens after a webhook is acknowledged: the
// evaluator that re-judges changed customers, and the durable job queue
// (API look-ups, write-back, alerts) with backoff and a dead letter.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
)

// Func does one job. Returning nil completes it; an error retries it later
// (Retry-After when the error carries one), and Drop completes it with a log.
type Func func(ctx context.Context, j *store.QueuedJob) error

// Drop wraps an error that retrying cannot fix (a deleted ticket, a closed
// one): the job is completed and the reason logged.
func Drop(err error) error { return &dropError{err} }

type dropError struct{ err error }

func (e *dropError) Error() string { return e.err.Error() }
func (e *dropError) Unwrap() error { return e.err }

// RetryAfter is implemented by errors that know when to try again (a 429).
type RetryAfter interface{ RetryDelay() time.Duration }

// Runner claims due jobs of its kinds and runs them.
type Runner struct {
	Store       *store.Store
	Log         *slog.Logger
	Funcs       map[string]Func
	MaxAttempts int           // then the dead letter
	Lease       time.Duration // a crashed worker's jobs return after this
	Poll        time.Duration
	Batch       int
	Concurrency int

	wakeOnce sync.Once
	wake     chan struct{}
}

func (r *Runner) init() {
	r.wakeOnce.Do(func() {
		r.wake = make(chan struct{}, 1)
		if r.Lease == 0 {
			r.Lease = 2 * time.Minute
		}
		if r.Poll == 0 {
			r.Poll = time.Second
		}
		if r.Batch == 0 {
			r.Batch = 32
		}
		if r.Concurrency == 0 {
			r.Concurrency = 4
		}
		if r.MaxAttempts == 0 {
			r.MaxAttempts = 10
		}
		if r.Log == nil {
			r.Log = slog.New(slog.DiscardHandler)
		}
	})
}

// Wake asks the runner to look for work now instead of at the next poll.
func (r *Runner) Wake() {
	r.init()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	r.init()
	kinds := make([]string, 0, len(r.Funcs))
	for k := range r.Funcs {
		kinds = append(kinds, k)
	}
	for ctx.Err() == nil {
		n, err := r.RunOnce(ctx, kinds)
		if err != nil && ctx.Err() == nil {
			r.Log.Warn("claim jobs", slog.Any("err", err))
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-r.Store.JobsQueued():
		case <-time.After(r.Poll):
		}
	}
}

// RunOnce claims one batch and runs it, reporting how many jobs it ran.
func (r *Runner) RunOnce(ctx context.Context, kinds []string) (int, error) {
	r.init()
	jobs, err := r.Store.Claim(ctx, kinds, r.Batch, r.Lease)
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	sem := make(chan struct{}, r.Concurrency)
	var wg sync.WaitGroup
	for i := range jobs {
		sem <- struct{}{}
		wg.Add(1)
		go func(j *store.QueuedJob) {
			defer func() { <-sem; wg.Done() }()
			r.run(ctx, j)
		}(&jobs[i])
	}
	wg.Wait()
	return len(jobs), nil
}

func (r *Runner) run(ctx context.Context, j *store.QueuedJob) {
	log := r.Log.With(slog.String("job", j.Kind), slog.String("key", j.Key), slog.Int64("job_id", j.ID))
	err := r.Funcs[j.Kind](ctx, j)
	var drop *dropError
	switch {
	case err == nil:
		err = r.Store.Complete(ctx, j.ID)
	case errors.As(err, &drop):
		log.Info("job dropped", slog.Any("reason", err))
		err = r.Store.Complete(ctx, j.ID)
	default:
		at := time.Now().Add(Backoff(j.Attempts))
		var ra RetryAfter
		if errors.As(err, &ra) {
			at = time.Now().Add(ra.RetryDelay())
		}
		if j.Attempts >= r.MaxAttempts {
			log.Error("job failed for good", slog.Int("attempts", j.Attempts), slog.Any("err", err))
		} else {
			log.Warn("job will retry", slog.Int("attempts", j.Attempts), slog.Time("at", at), slog.Any("err", err))
		}
		err = r.Store.Retry(ctx, j, at, err, r.MaxAttempts)
	}
	if err != nil && ctx.Err() == nil {
		log.Error("record job outcome", slog.Any("err", err))
	}
}

// Backoff is exponential from 2 s, capped at 10 min, with full jitter on the
// upper half so a burst of failures does not retry in lockstep.
func Backoff(attempt int) time.Duration {
	d := 2 * time.Second << min(max(attempt-1, 0), 9)
	d = min(d, 10*time.Minute)
	return d/2 + rand.N(d/2+1)
}

// Evaluator re-evaluates customers whose contacts or bookings changed.
type Evaluator struct {
	Store *store.Store
	Log   *slog.Logger
	Poll  time.Duration
	// Evaluated, when set, is called after each pass that evaluated someone:
	// the pass may have queued write-backs, so it wakes the outbox.
	Evaluated func()
	// Coalesce is how long a wake-up waits before its pass while deliveries
	// come in bursts (the last pass found at least burst customers), so they
	// are evaluated in a few large transactions rather than one small pass
	// each. A lone delivery is evaluated at once. Default 20 ms.
	Coalesce time.Duration

	once sync.Once
	wake chan struct{}
}

func (e *Evaluator) init() {
	e.once.Do(func() {
		e.wake = make(chan struct{}, 1)
		if e.Poll == 0 {
			e.Poll = 500 * time.Millisecond
		}
		if e.Coalesce == 0 {
			e.Coalesce = 20 * time.Millisecond
		}
		if e.Log == nil {
			e.Log = slog.New(slog.DiscardHandler)
		}
	})
}

// evalLimit is how many marks (changed contacts) one pass takes; burst is
// when passes start to coalesce wake-ups.
const (
	evalLimit = 1000
	burst     = 16
)

// Wake asks for an evaluation pass soon.
func (e *Evaluator) Wake() {
	e.init()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Follow wakes the evaluator on every signal from c (the store's Applied)
// until ctx ends.
func (e *Evaluator) Follow(ctx context.Context, c <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c:
			e.Wake()
		}
	}
}

// Run evaluates until ctx ends.
func (e *Evaluator) Run(ctx context.Context) {
	e.init()
	for ctx.Err() == nil {
		n, err := e.Store.EvaluateDirty(ctx, evalLimit)
		if err != nil && ctx.Err() == nil {
			e.Log.Warn("evaluate", slog.Any("err", err))
		}
		if n > 0 && e.Evaluated != nil {
			e.Evaluated()
		}
		// A backlog, or a small pass: look again at once. After a burst, let
		// the next one gather.
		if err == nil && (n == evalLimit || n > 0 && n < burst) {
			continue
		}
		select {
		case <-ctx.Done():
		case <-e.wake:
			if n >= burst {
				select {
				case <-ctx.Done():
				case <-time.After(e.Coalesce):
				}
			}
		case <-time.After(e.Poll):
		}
	}
}

// Drain evaluates until nothing is dirty (tests, backfill, demo).
func (e *Evaluator) Drain(ctx context.Context) error {
	for {
		n, err := e.Store.EvaluateDirty(ctx, 500)
		if err != nil || n == 0 {
			return err
		}
	}
}

// codeIs reports whether err carries code.
func codeIs(err error, code recontact.Code) bool { return recontact.ErrorCode(err) == code }
