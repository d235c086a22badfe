package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// Three instances on one PostgreSQL database evaluate side by side while
// changes keep arriving through all of them: once everything is applied and
// evaluated, every verdict is the one the whole history gives, and no mark is
// left behind.
func TestInstancesEvaluateSideBySide(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	var stores []*store.Store
	for range 3 {
		s := openAt(t, url, store.Options{GroupCommit: true})
		defer s.Close()
		stores = append(stores, s)
	}
	// Five customers, 40 tickets an hour apart; each opens, then is solved
	// an hour later, and the two deliveries go to different instances.
	const tickets = 40
	final := make([]*recontact.Contact, tickets)
	var deliveries []*recontact.Delivery
	for i := range tickets {
		created := t0.Add(time.Duration(i) * time.Hour)
		email := fmt.Sprintf("c%d@example.com", i%5)
		open := contact(fmt.Sprint(i), email, created, recontact.StatusOpen)
		solved := contact(fmt.Sprint(i), email, created, recontact.StatusSolved)
		solved.UpdatedAt, solved.ResolvedAt = created.Add(time.Hour), created.Add(time.Hour)
		final[i] = solved
		deliveries = append(deliveries, delivery(fmt.Sprintf("open%d", i), open), delivery(fmt.Sprintf("solved%d", i), solved))
	}

	var done atomic.Bool
	var evaluators sync.WaitGroup
	errs := make(chan error, len(stores)+len(deliveries))
	for _, s := range stores {
		evaluators.Go(func() {
			for !done.Load() {
				if _, err := s.EvaluateDirty(ctx, 7); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var senders sync.WaitGroup
	for i, d := range deliveries {
		senders.Go(func() {
			if _, err := stores[i%len(stores)].Ingest(ctx, d); err != nil {
				errs <- err
			}
		})
	}
	senders.Wait()
	for _, s := range stores {
		waitApplied(t, s)
	}
	done.Store(true)
	evaluators.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	drain(t, stores[1])

	var left int
	if err := stores[0].DB().GetContext(ctx, &left, `SELECT COUNT(*) FROM marks`); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d marks left after draining; want 0", left)
	}
	want := map[string]metrics.FCR{} // by ticket, from each customer's whole history
	for k := range 5 {
		var in []metrics.Contact
		for _, c := range final[k:] {
			if c.CustomerKey() == final[k].CustomerKey() {
				in = append(in, metrics.Contact{Source: c.Source, TicketID: c.TicketID, Created: c.CreatedAt, Resolved: c.ResolvedAt})
			}
		}
		for i, v := range metrics.Evaluate(in, nil, stores[0].Settings(), stores[0].Now()) {
			want[in[i].TicketID] = v.FCR
		}
	}
	for _, c := range final {
		got := mustContact(t, stores[2], c.TicketID)
		if !got.Evaluated || got.FCR != string(want[c.TicketID]) {
			t.Errorf("ticket %s: evaluated %v, fcr %q; want evaluated, %q", c.TicketID, got.Evaluated, got.FCR, want[c.TicketID])
		}
	}
}

// A pass takes up to a thousand marks; once the statistics count about as
// many, reading their customers must still look contacts up by id rather
// than read them all.
func TestTakingMarksReadsContactsByID(t *testing.T) {
	ctx := context.Background()
	s := storetest.Postgres(t, store.Options{})
	for _, q := range []string{
		`INSERT INTO contacts (source, ticket_id, customer_key, created_ms, updated_ms)
SELECT 'zendesk', g::text, 'c' || g || '@example.com', 1791100000000, 1791100000000 FROM generate_series(1, 60000) g`,
		`INSERT INTO marks (contact_id) SELECT id FROM contacts`,
		`DELETE FROM marks`,
		`INSERT INTO marks (contact_id) SELECT id FROM contacts ORDER BY id DESC LIMIT 1500`, // the newest, as marks are
		`ANALYZE contacts`,
		`ANALYZE marks`,
	} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	seq, err := s.TakeMarksScans(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if seq != 0 {
		t.Errorf("taking 1,000 marks read all contacts %d times, want look-ups by id", seq)
	}
}
