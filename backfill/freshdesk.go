package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/freshdesk"
	"github.com/recontact/recontact/store"
)

// FreshdeskCursorKey names the kv row holding the Freshdesk list's position.
const FreshdeskCursorKey = "backfill.freshdesk"

// freshdeskState is the saved position in the ticket list.
type freshdeskState struct {
	Since  time.Time `json:"since"`  // where the backfill began
	Window time.Time `json:"window"` // updated_since of the current window
	Page   int       `json:"page"`   // next page of that window
	Done   bool      `json:"done"`
}

// Credits per call (freshdesk.md §3.2, §5): 1, plus 2 per include.
const (
	listCredits   = 5 // include=stats,requester
	ticketCredits = 7 // include=stats,requester,company
	convCredits   = 1
)

// Freshdesk reads the ticket list ordered by updated_at (freshdesk.md §3.5),
// with the company names and conversation counts the metrics need. It is
// safe for one pass at a time.
type Freshdesk struct {
	Store  *store.Store
	Client *freshdesk.Client
	Log    *slog.Logger
	// PerMinute caps the API credits spent per Window (default a minute).
	// Freshdesk's budget is per account and shared with its own webhooks,
	// so leave room.
	PerMinute int
	Window    time.Duration
	Now       func() time.Time

	once      sync.Once
	applier   *applier
	companies map[string]string // company id → name, for the process's life
}

func (f *Freshdesk) init() {
	f.once.Do(func() {
		if f.Log == nil {
			f.Log = slog.New(slog.DiscardHandler)
		}
		if f.Now == nil {
			f.Now = time.Now
		}
		f.applier = newApplier(f.Store, recontact.SourceFreshdesk, "freshdesk-list")
		f.companies = map[string]string{}
	})
}

// Backfill reads every ticket updated at or after since; run again with the
// same since, it continues where it stopped.
func (f *Freshdesk) Backfill(ctx context.Context, since time.Time, opt Options) (Summary, error) {
	f.init()
	st, ok, err := f.state(ctx)
	if err != nil {
		return Summary{Source: recontact.SourceFreshdesk}, err
	}
	if !ok || !st.Since.Equal(since) {
		st = freshdeskState{Since: since, Window: since, Page: 1}
	} else {
		f.Log.Info("resuming freshdesk backfill from its saved position", slog.Time("since", since))
	}
	return f.run(ctx, st, opt)
}

// Reconcile reads what changed since the saved position; without one it
// starts lookback ago.
func (f *Freshdesk) Reconcile(ctx context.Context, lookback time.Duration, opt Options) (Summary, error) {
	f.init()
	st, ok, err := f.state(ctx)
	if err != nil {
		return Summary{Source: recontact.SourceFreshdesk}, err
	}
	if !ok {
		since := f.Now().Add(-lookback).Truncate(time.Second)
		st = freshdeskState{Since: since, Window: since, Page: 1}
	}
	return f.run(ctx, st, opt)
}

func (f *Freshdesk) state(ctx context.Context) (freshdeskState, bool, error) {
	var st freshdeskState
	v, ok, err := f.Store.KV(ctx, FreshdeskCursorKey)
	if err != nil || !ok {
		return st, false, err
	}
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		return st, false, fmt.Errorf("saved freshdesk position is unreadable: %w", err)
	}
	return st, true, nil
}

func (f *Freshdesk) run(ctx context.Context, st freshdeskState, opt Options) (Summary, error) {
	start := f.Now()
	p := Progress{Source: recontact.SourceFreshdesk, Since: st.Since, Through: st.Window}
	lim := limiter(f.PerMinute, f.Window, ticketCredits)
	done := func(err error) (Summary, error) {
		p.Elapsed = f.Now().Sub(start)
		return p, err
	}
	for {
		var tickets []*freshdesk.Ticket
		var hasNext bool
		err := call(ctx, lim, listCredits, &p.Calls, freshdeskLimited, f.Log, "ticket list", func() error {
			var err error
			tickets, hasNext, err = f.Client.ListUpdatedSince(ctx, st.Window, st.Page)
			return err
		})
		if err != nil {
			return done(err)
		}
		p.Records += len(tickets)
		recs, err := f.records(ctx, lim, tickets, &p)
		if err == nil {
			err = f.applier.apply(ctx, recs, &p)
		}
		if err != nil {
			return done(err)
		}
		// Each page starts a new window at the last updated_at seen, so tickets
		// updated meanwhile (which move to the end of the list) cannot shift an
		// unread one onto a page already read, and the 300-page cap is never
		// reached. The window opens a second early: whether updated_since is
		// inclusive is unconfirmed (freshdesk.md §3.5), and the tickets of that
		// second read again are duplicates. Only a page within two seconds
		// needs the next page instead.
		var next time.Time
		if len(tickets) > 0 {
			next = tickets[len(tickets)-1].Contact.UpdatedAt.Add(-time.Second)
		}
		switch {
		case next.After(st.Window):
			st.Window, st.Page = next, 1
		case hasNext:
			st.Page++
			if st.Page > freshdesk.MaxListPage {
				return done(fmt.Errorf("freshdesk: more than %d pages of tickets updated at %s", freshdesk.MaxListPage, st.Window))
			}
		}
		p.Through = st.Window
		p.Done = !hasNext
		st.Done = st.Done || p.Done
		if p.Done {
			st.Page = 1
		}
		b, _ := json.Marshal(st)
		if err := f.Store.SetKV(ctx, FreshdeskCursorKey, string(b)); err != nil {
			return done(err)
		}
		p.Elapsed = f.Now().Sub(start)
		if opt.OnProgress != nil {
			opt.OnProgress(p)
		}
		if p.Done {
			return done(nil)
		}
		if opt.Budget > 0 && f.Now().Sub(start) >= opt.Budget {
			return done(ErrBudget)
		}
	}
}

// records adds what a list page lacks: the company name (read once per
// company with a single-ticket read) and, for resolved tickets, the public
// agent replies from the conversations, as the enrichment job would.
func (f *Freshdesk) records(ctx context.Context, lim *rate.Limiter, tickets []*freshdesk.Ticket, p *Progress) ([]record, error) {
	recs := make([]record, 0, len(tickets))
	for _, t := range tickets {
		c := t.Contact
		if t.Spam || t.Deleted {
			p.Skipped++
			continue
		}
		if c.Partner == "" && c.OrgID != "" {
			name, ok := f.companies[c.OrgID]
			if !ok {
				err := call(ctx, lim, ticketCredits, &p.Calls, freshdeskLimited, f.Log, "ticket", func() error {
					full, err := f.Client.Ticket(ctx, c.TicketID)
					if err == nil {
						name = full.Contact.Partner
					}
					return err
				})
				if err != nil && recontact.ErrorCode(err) != recontact.ENotFound {
					return nil, err
				}
				f.companies[c.OrgID] = name
			}
			c.Partner = name
		}
		r := record{contact: c}
		if c.Status.Resolved() {
			var replies int
			// One credit per conversations page; most tickets have one page.
			err := call(ctx, lim, convCredits, &p.Calls, freshdeskLimited, f.Log, "conversations", func() error {
				var err error
				replies, err = f.Client.PublicAgentReplies(ctx, c.TicketID, c.RequesterID)
				return err
			})
			if err != nil && recontact.ErrorCode(err) != recontact.ENotFound {
				return nil, err
			}
			if err == nil {
				r.counts = &store.TicketCounts{TicketID: c.TicketID, UpdatedAt: c.UpdatedAt, Replies: replies,
					ReopensAtLeast: true, DoneJob: recontact.JobFreshdeskTicket}
				if !t.ReopenedAt.IsZero() {
					r.counts.Reopens = 1 // stats.reopened_at is unconfirmed; when present it proves one
				}
			}
		}
		recs = append(recs, r)
	}
	return recs, nil
}

func freshdeskLimited(err error) (time.Duration, bool) {
	var rl *freshdesk.RateLimitError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true
	}
	return 0, false
}
