package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

func TestIngestBatch(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustIngest(t, s, delivery("seen", contact("1", "a@example.com", t0, recontact.StatusOpen)))

		newer := contact("2", "b@example.com", t0, recontact.StatusSolved)
		newer.UpdatedAt = t0.Add(2 * time.Hour)
		older := contact("2", "b@example.com", t0, recontact.StatusOpen)
		older.UpdatedAt = t0.Add(time.Hour)
		ds := []*recontact.Delivery{
			delivery("seen", contact("1", "a@example.com", t0, recontact.StatusOpen)), // committed before
			delivery("new", newer),
			delivery("old", older), // older after newer, same ticket
			delivery("new", newer), // the same key twice in one batch
			delivery("three", contact("3", "c@example.com", t0, recontact.StatusOpen)),
		}
		dup, err := s.IngestBatch(ctx, ds)
		if err != nil {
			t.Fatal(err)
		}
		if want := []bool{true, false, false, true, false}; !slices.Equal(dup, want) {
			t.Errorf("dup = %v, want %v", dup, want)
		}
		if c := mustContact(t, s, "2"); c.Status != recontact.StatusSolved || !c.ResolvedAt.Equal(newer.UpdatedAt) {
			t.Errorf("ticket 2: status %s resolved %v; the older snapshot overwrote the newer", c.Status, c.ResolvedAt)
		}
		mustContact(t, s, "3")
		// Resolving a Zendesk ticket queues its metrics read, as Ingest does.
		jobs, err := s.Jobs(ctx, []string{recontact.JobZendeskMetrics}, store.JobPending, 10)
		if err != nil || len(jobs) != 1 || jobs[0].Key != "2" {
			t.Errorf("metrics jobs %+v (%v); want one for ticket 2", jobs, err)
		}
	})
}

func TestIngestBatchAllOrNothing(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		bad := contact("", "b@example.com", t0, recontact.StatusOpen)
		_, err := s.IngestBatch(context.Background(), []*recontact.Delivery{
			delivery("a", contact("1", "a@example.com", t0, recontact.StatusOpen)),
			delivery("b", bad),
		})
		if recontact.ErrorCode(err) != recontact.EInvalid {
			t.Fatalf("err = %v, want EInvalid naming the bad delivery", err)
		}
		var n int
		if err := s.DB().Get(&n, `SELECT COUNT(*) FROM deliveries`); err != nil || n != 0 {
			t.Fatalf("deliveries = %d (%v) after a failed batch, want 0", n, err)
		}
		// The keys were not burnt: the good delivery is new next time.
		if mustIngest(t, s, delivery("a", contact("1", "a@example.com", t0, recontact.StatusOpen))) {
			t.Error("delivery of a failed batch counted as duplicate")
		}
	})
}
