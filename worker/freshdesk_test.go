package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/freshdesk"
	"github.com/recontact/recontact/connectors/freshdesk/freshdesktest"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
	"github.com/recontact/recontact/worker"
)

var fdKinds = []string{recontact.JobFreshdeskTicket}

// freshdeskSetup ingests a minimal Freshdesk webhook for ticket 42 (which
// queues the ticket read) and returns a runner for the Freshdesk jobs.
func freshdeskSetup(t *testing.T, s *store.Store, fake *freshdesktest.Server) *worker.Runner {
	t.Helper()
	client, err := freshdesk.NewClient(freshdesk.Config{BaseURL: fake.URL, APIKey: fake.APIKey, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	d, err := freshdesk.Parse(nil, []byte(`{"ticket_id": 42}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	return &worker.Runner{Store: s, Funcs: (&worker.Freshdesk{Store: s, Client: client}).Funcs()}
}

func TestFreshdeskTicketJob(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fake := freshdesktest.New(t)
		created := time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)
		resolved := created.Add(3 * time.Hour)
		fake.AddTicket(freshdesktest.Ticket{
			ID: 42, Status: 4, Source: 7, RequesterID: 77, RequesterEmail: "Ann@Example.com",
			CreatedAt: created, UpdatedAt: resolved.Add(time.Hour), ResolvedAt: resolved,
			Conversations: []freshdesktest.Conversation{
				{UserID: 9000, Source: 0},                      // agent reply
				{UserID: 77, Source: 0, Incoming: true},        // the customer's
				{UserID: 9000, Source: 2, Private: true},       // private note
				{UserID: 9001, Source: 0, CreatedAt: resolved}, // agent reply
			},
		})
		r := freshdeskSetup(t, s, fake)
		before, err := s.Contact(ctx, recontact.SourceFreshdesk, "42")
		if err != nil {
			t.Fatal(err)
		}
		if before.Status != recontact.StatusUnknown || before.Channel != "" {
			t.Fatalf("webhook alone gave status %q channel %q; the test needs a provisional contact", before.Status, before.Channel)
		}
		if n, err := r.RunOnce(ctx, fdKinds); err != nil || n != 1 {
			t.Fatalf("ran %d jobs, %v; want the ticket read", n, err)
		}
		c, err := s.Contact(ctx, recontact.SourceFreshdesk, "42")
		if err != nil {
			t.Fatal(err)
		}
		// created_at and stats.resolved_at from the API, not the receipt time;
		// the e-mail from include=requester.
		if !c.CreatedAt.Equal(created) || !c.ResolvedAt.Equal(resolved) {
			t.Errorf("created %v resolved %v; want %v and %v (stats)", c.CreatedAt, c.ResolvedAt, created, resolved)
		}
		if c.Status != recontact.StatusSolved || c.Channel != "chat" || c.CustomerKey != "ann@example.com" {
			t.Errorf("status %q channel %q customer %q; want solved, chat, ann@example.com", c.Status, c.Channel, c.CustomerKey)
		}
		if c.Replies != 2 {
			t.Errorf("replies = %d, want 2 public agent replies", c.Replies)
		}
		if got := fake.Calls(freshdesktest.KindTicket); got != 1 {
			t.Errorf("ticket reads = %d, want 1", got)
		}
		if got := fake.Calls(freshdesktest.KindConversations); got != 1 {
			t.Errorf("conversation reads = %d, want 1", got)
		}
	})
}

func TestFreshdeskTicketJobRateLimited(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fake := freshdesktest.New(t)
		fake.AddTicket(freshdesktest.Ticket{ID: 42, Status: 2})
		// Longer than the client waits inline: the job must be rescheduled.
		fake.FailNext(1, freshdesktest.Fault{Status: 429, RetryAfter: 10 * time.Minute, Kind: freshdesktest.KindTicket})
		r := freshdeskSetup(t, s, fake)
		if _, err := r.RunOnce(ctx, fdKinds); err != nil {
			t.Fatal(err)
		}
		jobs, err := s.Jobs(ctx, fdKinds, store.JobPending, 10)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("pending jobs %+v (%v); want the read rescheduled", jobs, err)
		}
		if due := jobs[0].RunAt(); due.Before(time.Now().Add(9*time.Minute)) || jobs[0].Attempts != 1 {
			t.Errorf("rescheduled for %v after %d attempts; want Retry-After (10 min) out, 1 attempt", due, jobs[0].Attempts)
		}
		if n, err := r.RunOnce(ctx, fdKinds); err != nil || n != 0 {
			t.Errorf("ran %d jobs (%v) before Retry-After", n, err)
		}
	})
}

func TestFreshdeskTicketJobGone(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fake := freshdesktest.New(t) // ticket 42 does not exist: 404
		r := freshdeskSetup(t, s, fake)
		if n, err := r.RunOnce(ctx, fdKinds); err != nil || n != 1 {
			t.Fatalf("ran %d jobs, %v", n, err)
		}
		for _, state := range []string{store.JobPending, store.JobRunning, store.JobFailed} {
			if jobs, err := s.Jobs(ctx, fdKinds, state, 10); err != nil || len(jobs) != 0 {
				t.Errorf("%s jobs %+v (%v); a deleted ticket's read is dropped, not retried", state, jobs, err)
			}
		}
		if _, err := s.Contact(ctx, recontact.SourceFreshdesk, "42"); err != nil {
			t.Errorf("the webhook's contact is kept: %v", err)
		}
	})
}
