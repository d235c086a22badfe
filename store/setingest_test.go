package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// The set path takes a whole batch in a few statements: a bad delivery fails
// alone, a key twice is a duplicate, an older snapshot after a newer one of
// the same ticket changes nothing, stored contacts merge, jobs are queued.
func TestSetPath(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		mustIngest(t, s, delivery("seen", contact("1", "a@example.com", t0, recontact.StatusOpen)))
		// Keys with a dedupe window (Freshdesk): a retry inside it is a
		// duplicate, the same body after it a new event.
		windowed := func(key, ticket string, at time.Time) *recontact.Delivery {
			d := delivery(key, contact(ticket, "w@example.com", t0, recontact.StatusOpen))
			d.DedupeWindow, d.ReceivedAt = 2*time.Hour, at
			return d
		}
		mustIngest(t, s, windowed("retry", "7", t0))
		mustIngest(t, s, windowed("again", "8", t0))

		solved := contact("1", "a@example.com", t0, recontact.StatusSolved)
		solved.UpdatedAt = t0.Add(time.Hour)
		newer := contact("2", "b@example.com", t0, recontact.StatusSolved)
		newer.UpdatedAt = t0.Add(2 * time.Hour)
		older := contact("2", "b@example.com", t0, recontact.StatusOpen)
		older.UpdatedAt = t0.Add(time.Hour)
		event := &recontact.Contact{Source: recontact.SourceZendesk, TicketID: "3", RequesterID: "55", Status: recontact.StatusOpen, CreatedAt: t0, UpdatedAt: t0}
		ds := []*recontact.Delivery{
			delivery("solve-1", solved),
			delivery("new", newer),
			delivery("old", older),
			delivery("new", newer),
			delivery("bad", contact("", "c@example.com", t0, recontact.StatusOpen)),
			delivery("event", event),
			delivery("seen", contact("1", "a@example.com", t0, recontact.StatusOpen)),
			windowed("retry", "7", t0.Add(95*time.Minute)),
			windowed("again", "8", t0.Add(5*time.Hour)),
		}
		dup, errs, err := s.SetPath(ctx, ds)
		if err != nil {
			t.Fatalf("set path declined the batch: %v", err)
		}
		if want := []bool{false, false, false, true, false, false, true, true, false}; !slices.Equal(dup, want) {
			t.Errorf("dup = %v, want %v", dup, want)
		}
		for i, e := range errs {
			if (e != nil) != (i == 4) || i == 4 && recontact.ErrorCode(e) != recontact.EInvalid {
				t.Errorf("delivery %d: err %v; want EInvalid for the one without ticket id only", i, e)
			}
		}
		if c := mustContact(t, s, "1"); c.Status != recontact.StatusSolved || c.Evaluated {
			t.Errorf("ticket 1: status %s evaluated %v; want solved and due for evaluation", c.Status, c.Evaluated)
		}
		if c := mustContact(t, s, "2"); c.Status != recontact.StatusSolved || !c.ResolvedAt.Equal(newer.UpdatedAt) {
			t.Errorf("ticket 2: status %s resolved %v; the older snapshot overwrote the newer", c.Status, c.ResolvedAt)
		}
		if c := mustContact(t, s, "3"); c.CustomerKey != "zendesk:55" {
			t.Errorf("ticket 3 customer %q, want zendesk:55 until the look-up", c.CustomerKey)
		}
		kinds := []string{recontact.JobZendeskMetrics, recontact.JobZendeskRequester}
		jobs, err := s.Jobs(ctx, kinds, store.JobPending, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, j := range jobs {
			got = append(got, j.Kind+":"+j.Key)
		}
		slices.Sort(got)
		if want := []string{recontact.JobZendeskMetrics + ":1", recontact.JobZendeskMetrics + ":2", recontact.JobZendeskRequester + ":55"}; !slices.Equal(got, want) {
			t.Errorf("jobs %v, want %v", got, want)
		}
		var n int
		if err := s.DB().Get(&n, `SELECT COUNT(*) FROM deliveries`); err != nil || n != 7 {
			t.Errorf("deliveries = %d (%v), want 7", n, err)
		}
	})
}

// A batch the set path declines (one key twice, further apart than its
// dedupe window) goes through the per-delivery path: the bad delivery still
// fails alone and the others commit.
func TestSetPathFallsBack(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		first := delivery("fd:9", contact("9", "a@example.com", t0, recontact.StatusOpen))
		first.DedupeWindow = 2 * time.Hour
		again := delivery("fd:9", contact("9", "a@example.com", t0, recontact.StatusOpen))
		again.DedupeWindow, again.ReceivedAt = 2*time.Hour, t0.Add(3*time.Hour)
		ds := []*recontact.Delivery{first, again,
			delivery("other", contact("10", "b@example.com", t0, recontact.StatusOpen)),
			delivery("bad", contact("", "c@example.com", t0, recontact.StatusOpen)),
		}
		if _, _, err := s.SetPath(ctx, ds); !errors.Is(err, store.ErrSlowPath) {
			t.Fatalf("set path err = %v, want it to decline", err)
		}
		_, errs, err := s.CommitBatch(ctx, ds)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range errs {
			if (e != nil) != (i == 3) {
				t.Errorf("delivery %d: err %v; want an error for the bad one only", i, e)
			}
		}
		mustContact(t, s, "9")
		mustContact(t, s, "10")
	})
}

// A contact another writer created after the set path read it as missing is
// not overwritten: the write reports the race, and the batch is redone per
// delivery, merging into that row.
func TestSetPathDetectsRace(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		mustIngest(t, s, delivery("k", contact("5", "a@example.com", t0, recontact.StatusOpen)))
		if err := s.WriteNewContact(context.Background(), recontact.SourceZendesk, "5"); !errors.Is(err, store.ErrSlowPath) {
			t.Fatalf("err = %v, want the race reported", err)
		}
		if c := mustContact(t, s, "5"); c.CustomerKey != "a@example.com" {
			t.Errorf("customer %q: the stored contact was overwritten", c.CustomerKey)
		}
	})
}
