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
