package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/store"
)

// ZendeskCursorKey names the kv row holding the Zendesk export's position.
const ZendeskCursorKey = "backfill.zendesk"

// zendeskState is the saved position of the incremental export.
type zendeskState struct {
	Since  time.Time `json:"since"`  // the start_time the export began from
	Cursor string    `json:"cursor"` // after_cursor of the last committed page
	Done   bool      `json:"done"`   // reached end_of_stream at least once
}

// Zendesk reads the incremental ticket export (zendesk.md §11). It is safe
// for one pass at a time.
type Zendesk struct {
	Store  *store.Store
	Client *zendesk.Client
	Log    *slog.Logger
	// PerMinute caps export calls (Zendesk allows 10 a minute, 30 with High
	// Volume); Window is the length of that minute (tests shorten it).
	PerMinute int
	Window    time.Duration
	Now       func() time.Time

	once     sync.Once
	applier  *applier
	orgMu    sync.Mutex
	partners map[string]string // organisation id → partner key, for the process's life
}

func (z *Zendesk) init() {
	z.once.Do(func() {
		if z.Log == nil {
			z.Log = slog.New(slog.DiscardHandler)
		}
		if z.Now == nil {
			z.Now = time.Now
		}
		z.applier = newApplier(z.Store, recontact.SourceZendesk, "zendesk-export")
		z.partners = map[string]string{}
	})
}

// Backfill reads every ticket updated at or after since. Run again with the
// same since, it continues from the saved cursor; with another since, it
// starts over from there.
func (z *Zendesk) Backfill(ctx context.Context, since time.Time, opt Options) (Summary, error) {
	z.init()
	st, ok, err := z.state(ctx)
	if err != nil {
		return Summary{Source: recontact.SourceZendesk}, err
	}
	if !ok || !st.Since.Equal(since) {
		st = zendeskState{Since: since}
	} else {
		z.Log.Info("resuming zendesk backfill from its saved cursor", slog.Time("since", since))
	}
	return z.run(ctx, st, opt)
}

// Reconcile reads what changed since the saved cursor; without one it starts
// lookback ago. It reports how many records no webhook had delivered in
// Summary.Missed.
func (z *Zendesk) Reconcile(ctx context.Context, lookback time.Duration, opt Options) (Summary, error) {
	z.init()
	st, ok, err := z.state(ctx)
	if err != nil {
		return Summary{Source: recontact.SourceZendesk}, err
	}
	if !ok {
		st = zendeskState{Since: z.Now().Add(-lookback).Truncate(time.Second)}
	}
	return z.run(ctx, st, opt)
}

func (z *Zendesk) state(ctx context.Context) (zendeskState, bool, error) {
	var st zendeskState
	v, ok, err := z.Store.KV(ctx, ZendeskCursorKey)
	if err != nil || !ok {
		return st, false, err
	}
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		return st, false, fmt.Errorf("saved zendesk cursor is unreadable: %w", err)
	}
	return st, true, nil
}

func (z *Zendesk) save(ctx context.Context, st zendeskState) error {
	b, _ := json.Marshal(st)
	return z.Store.SetKV(ctx, ZendeskCursorKey, string(b))
}

// fetched is one export page, or why there is none.
type fetched struct {
	page zendesk.ExportPage
	err  error
}

func (z *Zendesk) run(ctx context.Context, st zendeskState, opt Options) (Summary, error) {
	start := z.Now()
	p := Progress{Source: recontact.SourceZendesk, Since: st.Since, Through: st.Since}
	var exportCalls atomic.Int64 // counted by the fetcher
	summary := func() Summary {
		s := p
		s.Calls += int(exportCalls.Load())
		s.Elapsed = z.Now().Sub(start)
		return s
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The next page is fetched while this one is committed: with the limit
	// lifted the store, not the API, sets the pace.
	pages := make(chan fetched, 1)
	go func() {
		defer close(pages)
		lim := limiter(z.PerMinute, z.Window, 1)
		cursor := st.Cursor
		for {
			var page zendesk.ExportPage
			var n int
			err := call(ctx, lim, 1, &n, zendeskLimited, z.Log, "ticket export", func() error {
				var err error
				page, err = z.Client.ExportTickets(ctx, st.Since, cursor)
				return err
			})
			exportCalls.Add(int64(n))
			select {
			case pages <- fetched{page, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || page.EndOfStream || page.AfterCursor == "" {
				return
			}
			cursor = page.AfterCursor
		}
	}()

	for f := range pages {
		if f.err != nil {
			return summary(), f.err
		}
		recs, err := z.records(ctx, f.page, &p)
		if err == nil {
			err = z.applier.apply(ctx, recs, &p)
		}
		if err != nil {
			return summary(), err
		}
		if f.page.AfterCursor != "" {
			st.Cursor = f.page.AfterCursor
		}
		st.Done = st.Done || f.page.EndOfStream
		// Saved after the commit: a crash in between reads this page again,
		// which the delivery keys and absolute counts make harmless.
		if err := z.save(ctx, st); err != nil {
			return summary(), err
		}
		p.Done = f.page.EndOfStream
		if opt.OnProgress != nil {
			opt.OnProgress(summary())
		}
		if p.Done {
			break
		}
		if opt.Budget > 0 && z.Now().Sub(start) >= opt.Budget {
			return summary(), ErrBudget
		}
	}
	return summary(), ctx.Err()
}

// records turns a page into store records: deleted tickets are skipped,
// partners filled from the organisations (read in bulk, once per process),
// and the metric sets become absolute counts.
func (z *Zendesk) records(ctx context.Context, page zendesk.ExportPage, p *Progress) ([]record, error) {
	p.Records += len(page.Tickets)
	if err := z.resolveOrgs(ctx, page.Tickets, p); err != nil {
		return nil, err
	}
	recs := make([]record, 0, len(page.Tickets))
	for _, c := range page.Tickets {
		if c.UpdatedAt.After(p.Through) {
			p.Through = c.UpdatedAt
		}
		// The export lists deleted (and archived) tickets too; their status
		// maps to nothing, and they are not contacts.
		if c.Status == recontact.StatusUnknown || c.TicketID == "" {
			p.Skipped++
			continue
		}
		if c.Partner == "" && c.OrgID != "" {
			z.orgMu.Lock()
			c.Partner = z.partners[c.OrgID]
			z.orgMu.Unlock()
		}
		r := record{contact: c}
		if m, ok := page.Metrics[c.TicketID]; ok {
			r.counts = &store.TicketCounts{TicketID: c.TicketID, UpdatedAt: c.UpdatedAt, Replies: m.Replies, Reopens: m.Reopens}
			if c.Status.Resolved() {
				// The metric set is what the resolution's metrics job would read.
				r.counts.DoneJob = recontact.JobZendeskMetrics
			}
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// resolveOrgs reads the organisations of a page not seen before, 100 per
// call, and caches their partner keys in the store too, so later webhooks of
// the same organisations need no look-up.
func (z *Zendesk) resolveOrgs(ctx context.Context, tickets []*recontact.Contact, p *Progress) error {
	var missing []string
	z.orgMu.Lock()
	for _, c := range tickets {
		if _, ok := z.partners[c.OrgID]; c.OrgID != "" && c.Partner == "" && !ok && !slices.Contains(missing, c.OrgID) {
			missing = append(missing, c.OrgID)
		}
	}
	z.orgMu.Unlock()
	for len(missing) > 0 {
		ids := missing[:min(len(missing), zendesk.MaxShowMany)]
		missing = missing[len(ids):]
		var orgs map[string]zendesk.Organization
		err := call(ctx, limiter(0, 0, 1), 1, &p.Calls, zendeskLimited, z.Log, "organizations", func() error {
			var err error
			orgs, err = z.Client.Organizations(ctx, ids)
			return err
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			o, ok := orgs[id]
			partner := o.ExternalID
			if partner == "" {
				partner = o.Name
			}
			z.orgMu.Lock()
			z.partners[id] = partner // "" for an organisation Zendesk no longer has
			z.orgMu.Unlock()
			if ok {
				if err := z.Store.SetOrg(ctx, recontact.SourceZendesk, id, partner); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func zendeskLimited(err error) (time.Duration, bool) {
	var rl *zendesk.RateLimitError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true
	}
	return 0, false
}
