package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// TestClaimWaitsForTheRunningTwin: news about a ticket whose write-back is
// running queues a fresh job, which is not claimed while the running one
// holds its lease: two workers on one ticket would each miss what the other
// wrote. Once the lease has run out (a crashed worker) both are claimable.
func TestClaimWaitsForTheRunningTwin(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := t0
		s.Now = func() time.Time { return now }
		kinds := []string{recontact.JobWriteback}
		enqueue := func(key string) {
			t.Helper()
			if err := s.Enqueue(ctx, recontact.Job{Kind: recontact.JobWriteback, Key: key}); err != nil {
				t.Fatal(err)
			}
		}
		enqueue("zendesk:1")
		if jobs, err := s.Claim(ctx, kinds, 10, time.Minute); err != nil || len(jobs) != 1 {
			t.Fatalf("first claim: %v, %v", jobs, err)
		}
		enqueue("zendesk:1") // the twin
		enqueue("zendesk:2") // another ticket
		jobs, err := s.Claim(ctx, kinds, 10, time.Minute)
		if err != nil || len(jobs) != 1 || jobs[0].Key != "zendesk:2" {
			t.Fatalf("second claim: %+v, %v; want only zendesk:2", jobs, err)
		}
		now = now.Add(61 * time.Second)
		jobs, err = s.Claim(ctx, kinds, 10, time.Minute)
		if err != nil || len(jobs) != 3 {
			t.Fatalf("after the leases ran out: %+v, %v; want all three", jobs, err)
		}
	})
}

// TestDeferWriteback: only a contact not yet read from the API (no
// updated_at) is deferred.
func TestDeferWriteback(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for id, updated := range map[string]time.Time{"1": {}, "2": t0} {
			c := &recontact.Contact{Source: recontact.SourceFreshdesk, TicketID: id, CustomerEmail: "a@example.com",
				CreatedAt: t0.Add(-time.Hour), UpdatedAt: updated, Status: recontact.StatusOpen}
			if err := s.UpsertContact(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := s.DeferWriteback(ctx, recontact.SourceFreshdesk, "1", "waiting"); !ok || err != nil {
			t.Errorf("provisional contact: deferred %v, %v", ok, err)
		}
		if ok, err := s.DeferWriteback(ctx, recontact.SourceFreshdesk, "2", "waiting"); ok || err != nil {
			t.Errorf("contact read from the API: deferred %v, %v; want false", ok, err)
		}
		c, err := s.Contact(ctx, recontact.SourceFreshdesk, "1")
		if err != nil || c.Writeback != store.WritebackOff || c.WritebackError != "waiting" {
			t.Errorf("deferred contact: %+v, %v", c, err)
		}
	})
}

// TestHistoryIsNotWrittenBack: after a backfill marks history, a contact
// last updated before that instant and never written queues no write-back,
// however often it is evaluated; a recent one does; and the ticket's next
// live update makes the historic one current again.
func TestHistoryIsNotWrittenBack(t *testing.T) {
	opt := store.Options{Writeback: map[recontact.Source]bool{recontact.SourceZendesk: true}}
	storetest.Each(t, opt, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if err := s.MarkHistoryBefore(ctx, recontact.SourceZendesk, t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		put := func(id, email string, created, updated time.Time) {
			t.Helper()
			c := &recontact.Contact{Source: recontact.SourceZendesk, TicketID: id, CustomerEmail: email,
				CreatedAt: created, UpdatedAt: updated, Status: recontact.StatusOpen}
			if err := s.UpsertContact(ctx, c); err != nil {
				t.Fatal(err)
			}
			if _, err := s.EvaluateDirty(ctx, 100); err != nil {
				t.Fatal(err)
			}
		}
		queued := func() []string {
			t.Helper()
			jobs, err := s.Jobs(ctx, []string{recontact.JobWriteback}, "pending", 100)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, j := range jobs {
				keys = append(keys, j.Key)
			}
			return keys
		}
		old := t0.Add(-30 * 24 * time.Hour)
		put("1", "old@example.com", old, old.Add(time.Hour))
		put("2", "new@example.com", t0, t0)
		if got := queued(); len(got) != 1 || got[0] != "zendesk:2" {
			t.Fatalf("queued %v; want only the recent ticket zendesk:2", got)
		}
		c, err := s.Contact(ctx, recontact.SourceZendesk, "1")
		if err != nil || c.Writeback != "off" || c.WritebackError == "" {
			t.Fatalf("historic contact: %+v, %v; want writeback off with a reason", c, err)
		}
		// A second contact of the same customer re-judges ticket 1 (not_fcr
		// is not involved; the repeat flag of 3 is): 1 stays unwritten.
		put("3", "old@example.com", old.Add(2*time.Hour), old.Add(2*time.Hour))
		if got := queued(); len(got) != 1 {
			t.Fatalf("queued %v after more history; want still only zendesk:2", got)
		}
		// A live update of ticket 1.
		put("1", "old@example.com", old, t0)
		if got := queued(); len(got) != 2 || got[1] != "zendesk:1" && got[0] != "zendesk:1" {
			t.Fatalf("queued %v after a live update; want zendesk:1 too", got)
		}
	})
}
