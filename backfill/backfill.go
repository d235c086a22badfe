// Package backfill loads history from the helpdesks' export APIs and the
// booking system's files, and reconciles the store with the helpdesks when
// webhooks went missing. Every record takes the webhook's path through the
// store (deduplicated delivery, newer-wins merge, evaluation), and helpdesk
// counts are absolute, so a page read twice, or a backfill beside live
// webhooks, never counts anything twice.
package backfill

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
)

// Progress is the running state of one pass, reported after each committed
// page.
type Progress struct {
	Source  recontact.Source
	Records int // read from the helpdesk, re-reads included
	Created int // contacts the store did not have
	Updated int // contacts the store had in an older state
	Skipped int // deleted (or spam) tickets, not counted
	// Missed counts records no webhook had delivered: contacts the store did
	// not have, or whose status changed at a later minute than stored.
	Missed int
	Calls  int // API calls made, retries after a 429 included
	// Since and Through bound the updated_at range covered so far, for an ETA.
	Since, Through time.Time
	Elapsed        time.Duration
	Done           bool // the export reached its end
}

// Summary is the final Progress of a pass.
type Summary = Progress

// Options tune a pass.
type Options struct {
	// Budget stops a pass after this long, with its cursor saved (0: no
	// limit); reconciliation keeps each pass within its job's lease.
	Budget time.Duration
	// OnProgress, if set, is called after each committed page.
	OnProgress func(Progress)
}

// limiter spaces calls so that at most perMinute go out in any minute
// (window shortens the minute in tests and benchmarks). A burst of one keeps
// the calls evenly spaced, so a fixed-window limit on the server side is
// never exceeded either.
func limiter(perMinute int, window time.Duration, burst int) *rate.Limiter {
	if perMinute <= 0 {
		return rate.NewLimiter(rate.Inf, max(burst, 1))
	}
	if window <= 0 {
		window = time.Minute
	}
	// 2 % slack absorbs jitter between our clock and the server's window.
	return rate.NewLimiter(rate.Every(window*102/100/time.Duration(perMinute)), max(burst, 1))
}

// rateLimited reports how long the helpdesk asked us to wait, if it did.
type rateLimited func(err error) (time.Duration, bool)

// call runs fn under the limiter, waits out 429s for as long as Retry-After
// says, and retries other transient failures a few times with backoff. calls
// counts every attempt.
func call(ctx context.Context, lim *rate.Limiter, cost int, calls *int, limited rateLimited, log *slog.Logger, what string, fn func() error) error {
	transient := 0
	for {
		if err := lim.WaitN(ctx, cost); err != nil {
			return err
		}
		*calls++
		err := fn()
		if err == nil {
			return nil
		}
		wait, ok := limited(err)
		switch {
		case ok:
			if wait <= 0 {
				wait = 10 * time.Second
			}
			log.Info("rate limited; waiting", slog.String("call", what), slog.Duration("retry_after", wait))
		case recontact.ErrorCode(err) == recontact.EUnavailable && transient < 5:
			transient++
			wait = time.Duration(transient) * 2 * time.Second
			log.Warn("call failed; retrying", slog.String("call", what), slog.Duration("in", wait), slog.Any("err", err))
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// record is one snapshot read from a helpdesk with what else was read for it.
type record struct {
	contact *recontact.Contact
	counts  *store.TicketCounts // nil: the helpdesk's counts were not read
}

// applier commits pages of records to the store.
type applier struct {
	store   *store.Store
	source  recontact.Source
	keyTag  string // delivery key prefix, e.g. "zendesk-export"
	workers int    // batches committed side by side (PostgreSQL)
	batch   int    // records per transaction
	now     func() time.Time

	applied, analyzedAt int // records applied, and when statistics were last refreshed
}

func newApplier(s *store.Store, src recontact.Source, keyTag string) *applier {
	// SQLite has one writer: parallel batches would only queue, and cutting a
	// page would only add commits. PostgreSQL commits a page of 1,000 as four
	// batches side by side.
	a := &applier{store: s, source: src, keyTag: keyTag, workers: 1, batch: 1000, now: time.Now}
	if s.Dialect() == store.Postgres {
		a.workers, a.batch = 4, 250
	}
	return a
}

// apply commits a page and adds its outcome to p. Batches of a page commit
// side by side; the caller saves the cursor only after apply returns, so an
// interrupted page is read again, which changes nothing.
func (a *applier) apply(ctx context.Context, recs []record, p *Progress) error {
	// Refresh the planner's statistics each time the data applied has
	// doubled: a handful of times per backfill, cheap next to the scans
	// stale statistics cause.
	if a.applied >= 2000 && a.applied >= 2*a.analyzedAt {
		if err := a.store.RefreshStatistics(ctx); err != nil {
			return err
		}
		a.analyzedAt = a.applied
	}
	a.applied += len(recs)
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(a.workers)
	for lo := 0; lo < len(recs); lo += a.batch {
		batch := recs[lo:min(lo+a.batch, len(recs))]
		g.Go(func() error {
			created, updated, missed, err := a.applyBatch(ctx, batch)
			mu.Lock()
			p.Created, p.Updated, p.Missed = p.Created+created, p.Updated+updated, p.Missed+missed
			mu.Unlock()
			return err
		})
	}
	return g.Wait()
}

func (a *applier) applyBatch(ctx context.Context, recs []record) (created, updated, missed int, err error) {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.contact.TicketID
	}
	known, err := a.store.KnownContacts(ctx, a.source, ids)
	if err != nil {
		return 0, 0, 0, err
	}
	received := a.now()
	ds := make([]*recontact.Delivery, len(recs))
	var counts []store.TicketCounts
	for i, r := range recs {
		c := r.contact
		ds[i] = &recontact.Delivery{
			Source: a.source,
			// One key per ticket version: a page read again is a duplicate.
			Key:        a.keyTag + ":" + c.TicketID + ":" + strconv.FormatInt(c.UpdatedAt.UnixMilli(), 10),
			ReceivedAt: received,
			Contact:    c,
			// With the helpdesk's own counts applied below, a reopen must not
			// also be inferred from the snapshots.
			ReportsActivity: r.counts != nil,
		}
		if r.counts != nil {
			counts = append(counts, *r.counts)
		}
		k, ok := known[c.TicketID]
		switch {
		case !ok:
			if r.counts != nil {
				// A new contact takes its counts in its first write. Should a
				// webhook insert it first after all, ApplyCounts below
				// still sets the absolute figures.
				ds[i].Activity = recontact.Activity{Replies: r.counts.Replies, Reopens: r.counts.Reopens}
			}
			created++
			missed++
		case c.UpdatedAt.After(k.UpdatedAt):
			updated++
			// Trigger webhooks give updated_at to the minute, so only a later
			// minute is news; a change that left the status alone (our own tag
			// write-back, which triggers exclude) is no missed webhook; and a
			// stored contact without updated_at came from a webhook whose API
			// read is still queued.
			if !k.UpdatedAt.IsZero() && c.UpdatedAt.Truncate(time.Minute).After(k.UpdatedAt.Truncate(time.Minute)) &&
				c.Status != recontact.StatusUnknown && c.Status != k.Status {
				missed++
			}
		}
	}
	if _, err := a.store.IngestBatch(ctx, ds); err != nil {
		return 0, 0, 0, err
	}
	if err := a.store.ApplyCounts(ctx, a.source, counts); err != nil {
		return 0, 0, 0, err
	}
	return created, updated, missed, nil
}

// ErrBudget ends a pass that used up its Options.Budget, its cursor saved:
// call again to continue.
var ErrBudget = errors.New("backfill: pass budget used up")
