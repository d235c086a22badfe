package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/connectors/zendesk/zendesktest"
	"github.com/recontact/recontact/outbox"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
	"github.com/recontact/recontact/worker"
)

// TestLookupsShareTheLimiter: look-ups wait for the account's limiter, the
// one write-back uses, so a 429 that write-back saw also holds them back:
// rescheduled for the end of the pause, not sent.
func TestLookupsShareTheLimiter(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		zd := zendesktest.New(t)
		zd.AddUser(zendesktest.User{ID: "55", Email: "x@example.com"})
		lim := outbox.NewZendeskLimiter(200, 100, 0.5)
		client, err := zendesk.NewClient(zendesk.Config{BaseURL: zd.URL, Email: zd.Email, APIToken: zd.Token, OnRate: lim.ObserveZendesk})
		if err != nil {
			t.Fatal(err)
		}
		r := &worker.Runner{Store: s, Funcs: (&worker.Zendesk{Store: s, Client: client, Limiter: lim}).Funcs()}
		kinds := []string{recontact.JobZendeskRequester}
		if err := s.Enqueue(ctx, recontact.Job{Kind: recontact.JobZendeskRequester, Key: "55"}); err != nil {
			t.Fatal(err)
		}

		// A write-back call was answered 429, Retry-After 60.
		lim.ObserveZendesk(zendesk.RateInfo{Status: 429, RetryAfter: time.Minute, Limit: -1, Remaining: -1, UpdatesLimit: -1, UpdatesRemaining: -1})
		if n, err := r.RunOnce(ctx, kinds); n != 1 || err != nil {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		if n := zd.Calls(zendesktest.KindUser); n != 0 {
			t.Errorf("%d user look-ups during the pause, want 0", n)
		}
		pending, _ := s.Jobs(ctx, kinds, store.JobPending, 10)
		if len(pending) != 1 || pending[0].RunAt().Before(time.Now().Add(50*time.Second)) {
			t.Fatalf("pending %+v; want the look-up rescheduled for the end of the pause", pending)
		}

		// Once the pause is over (a fresh limiter here), the look-up runs.
		r.Funcs = (&worker.Zendesk{Store: s, Client: client, Limiter: outbox.NewZendeskLimiter(200, 100, 0.5)}).Funcs()
		if _, err := s.DB().Exec(s.DB().Rebind(`UPDATE jobs SET run_at_ms = 0 WHERE key = ?`), "55"); err != nil {
			t.Fatal(err)
		}
		if n, err := r.RunOnce(ctx, kinds); n != 1 || err != nil {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		if n := zd.Calls(zendesktest.KindUser); n != 1 {
			t.Errorf("%d user look-ups, want 1", n)
		}
	})
}
