package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// waitApplied polls until the inbox is empty of waiting rows: deliveries
// acknowledged by another process are not Settle's to wait for.
func waitApplied(t *testing.T, s *store.Store) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		waiting, _, err := s.InboxBacklog(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%d deliveries still waiting in the inbox", waiting)
		}
	}
}

// openAt opens the store at url; the test closes it.
func openAt(t *testing.T, url string, opt store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A process killed between its 2xx and the applier's turn leaves the
// deliveries in the inbox; the next start applies them, once.
func TestAcknowledgedIsAppliedAfterCrash(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		s := openAt(t, url, store.Options{})
		older := contact("7", "a@example.com", t0, recontact.StatusOpen)
		newer := contact("7", "a@example.com", t0, recontact.StatusSolved)
		newer.UpdatedAt = t0.Add(time.Hour)
		reply := delivery("reply", contact("8", "b@example.com", t0, recontact.StatusOpen))
		reply.Activity = recontact.Activity{Replies: 1}
		booking := &recontact.Delivery{Source: recontact.SourceBookings, Key: "bk", Body: []byte(`{}`), ReceivedAt: t0,
			Booking: &recontact.Booking{ID: "B1", CustomerEmail: "a@example.com", CustomerKey: "a@example.com", Partner: "p1",
				CreatedAt: t0, CheckIn: "2026-10-10", CheckOut: "2026-10-12", Status: "confirmed", UpdatedAt: t0}}
		// The newer snapshot is acknowledged first: the order must not matter.
		if _, err := s.AcceptOnly(ctx, []*recontact.Delivery{delivery("n", newer), delivery("o", older), reply, booking}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Contact(ctx, recontact.SourceZendesk, "7"); recontact.ErrorCode(err) != recontact.ENotFound {
			t.Fatalf("before any applier ran: got %v, want not found", err)
		}
		s.Close()

		s = openAt(t, url, store.Options{GroupCommit: true})
		defer s.Close()
		waitApplied(t, s)
		if got := mustContact(t, s, "7").Status; got != recontact.StatusSolved {
			t.Errorf("ticket 7 status = %q, want solved (the newer snapshot)", got)
		}
		if got := mustContact(t, s, "8").Replies; got != 1 {
			t.Errorf("ticket 8 replies = %d, want 1", got)
		}
		var bookings int
		if err := s.DB().Get(&bookings, `SELECT COUNT(*) FROM bookings`); err != nil || bookings != 1 {
			t.Errorf("bookings = %d (%v), want 1", bookings, err)
		}
		// The keys were claimed before the crash: a retry is a duplicate.
		if !mustIngest(t, s, reply) {
			t.Error("a retried delivery acknowledged before the crash was taken as new")
		}
		if err := s.Settle(ctx); err != nil {
			t.Fatal(err)
		}
		if got := mustContact(t, s, "8").Replies; got != 1 {
			t.Errorf("after the retry ticket 8 replies = %d, want 1", got)
		}
	})
}

// An inbox row holds a group commit's deliveries. One of them that cannot be
// applied moves to a row of its own with its error; the rest of its row is
// applied. A row written before migration 00007 (one delivery, a JSON
// object) is applied as well.
func TestInboxRowsOfManyAndOfOne(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		s := openAt(t, url, store.Options{})
		accept := func(ids ...string) {
			t.Helper()
			var ds []*recontact.Delivery
			for _, id := range ids {
				ds = append(ds, delivery("k"+id, contact(id, "c"+id+"@example.com", t0, recontact.StatusOpen)))
			}
			if _, err := s.AcceptOnly(ctx, ds); err != nil {
				t.Fatal(err)
			}
		}
		accept("1", "3")
		accept("2")
		accept("1") // a duplicate: no row
		var rows []struct {
			ID         int64  `db:"id"`
			Delivery   []byte `db:"delivery"`
			Deliveries int    `db:"deliveries"`
		}
		if err := s.DB().Select(&rows, `SELECT id, delivery, deliveries FROM inbox ORDER BY id`); err != nil || len(rows) != 2 {
			t.Fatalf("inbox rows: %d (%v); want one a batch, 2", len(rows), err)
		}
		first, second := rows[0].Delivery, rows[1].Delivery
		if first[0] != '[' || first[len(first)-1] != ']' || rows[0].Deliveries != 2 || rows[1].Deliveries != 1 {
			t.Fatalf("inbox rows hold %d and %d deliveries, the first %q; want 2 and 1, in JSON arrays", rows[0].Deliveries, rows[1].Deliveries, first)
		}
		// The first batch's row gains a delivery without a key; the second
		// is rewritten as before migration 00007.
		mixed := append(append([]byte{}, first[:len(first)-1]...), []byte(`,{}]`)...)
		if _, err := s.DB().Exec(s.DB().Rebind(`UPDATE inbox SET delivery = ?, deliveries = 3 WHERE id = ?`), mixed, rows[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().Exec(s.DB().Rebind(`UPDATE inbox SET delivery = ? WHERE id = ?`), second[1:len(second)-1], rows[1].ID); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = openAt(t, url, store.Options{GroupCommit: true})
		defer s.Close()
		waitApplied(t, s)
		for _, id := range []string{"1", "2", "3"} {
			mustContact(t, s, id)
		}
		waiting, failed, err := s.InboxBacklog(ctx)
		if err != nil || waiting != 0 || failed != 1 {
			t.Errorf("inbox: %d waiting, %d failed (%v); want 0 and 1", waiting, failed, err)
		}
		var kept string
		if err := s.DB().Get(&kept, `SELECT error FROM inbox`); err != nil || !strings.Contains(kept, "no idempotency key") {
			t.Errorf("kept row's error %q (%v); want the delivery's own", kept, err)
		}
	})
}

// A delivery that cannot be applied is kept with its error, counted, and
// does not hold back the others; the next start tries it again.
func TestInboxKeepsWhatCannotBeApplied(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		s := openAt(t, url, store.Options{})
		if _, err := s.DB().Exec(`INSERT INTO inbox (delivery) VALUES ('not json')`); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcceptOnly(ctx, []*recontact.Delivery{delivery("k", contact("1", "a@example.com", t0, recontact.StatusOpen))}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = openAt(t, url, store.Options{GroupCommit: true})
		waitApplied(t, s)
		mustContact(t, s, "1")
		waiting, failed, err := s.InboxBacklog(ctx)
		if err != nil || waiting != 0 || failed != 1 {
			t.Errorf("inbox: %d waiting, %d failed (%v); want 0 and 1", waiting, failed, err)
		}
		// A version that can apply it: here, the row is made valid.
		s.Close()
		s = openAt(t, url, store.Options{})
		if _, err := s.AcceptOnly(ctx, []*recontact.Delivery{delivery("k2", contact("2", "b@example.com", t0, recontact.StatusOpen))}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().Exec(`UPDATE inbox SET delivery = (SELECT delivery FROM inbox WHERE error = ''), error = 'earlier failure' WHERE error <> ''`); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().Exec(`DELETE FROM inbox WHERE error = ''`); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = openAt(t, url, store.Options{GroupCommit: true})
		defer s.Close()
		// The start resets the mark in the background: wait for the contact.
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, err := s.Contact(ctx, recontact.SourceZendesk, "2"); err == nil {
				break
			} else if time.Now().After(end) {
				t.Fatalf("the delivery that failed before was not applied after a restart: %v", err)
			}
		}
		if waiting, failed, err := s.InboxBacklog(ctx); err != nil || waiting != 0 || failed != 0 {
			t.Errorf("after a restart: %d waiting, %d failed (%v); want 0 and 0", waiting, failed, err)
		}
	})
}

// Several instances on one PostgreSQL database accept and apply side by side:
// every delivery counts once, whichever instance applied it. On SQLite that
// is a misconfiguration (one process owns a file), and still nothing may
// count twice: the applier reads its batch before taking the write lock.
func TestInstancesShareTheInbox(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) { instancesShareTheInbox(t, url) })
}

func instancesShareTheInbox(t *testing.T, url string) {
	ctx := context.Background()
	var stores []*store.Store
	for range 3 {
		s := openAt(t, url, store.Options{GroupCommit: true})
		defer s.Close()
		stores = append(stores, s)
	}
	const tickets, perTicket = 20, 30
	var wg sync.WaitGroup
	errs := make(chan error, tickets*perTicket)
	for i := range tickets * perTicket {
		wg.Go(func() {
			c := contact(fmt.Sprint(i%tickets), fmt.Sprintf("c%d@example.com", i%tickets), t0, recontact.StatusOpen)
			c.UpdatedAt = t0.Add(time.Duration(i) * time.Second)
			d := delivery(fmt.Sprintf("k%d", i), c)
			d.Activity = recontact.Activity{Replies: 1}
			// Each delivery is sent to two instances, as a retry after a
			// lost answer would be.
			for j := range 2 {
				if _, err := stores[(i+j)%len(stores)].Ingest(ctx, d); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := errors.Join(func() (out []error) {
		for err := range errs {
			out = append(out, err)
		}
		return out
	}()...); err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		if err := s.Settle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitApplied(t, stores[0])
	for id := range tickets {
		if got := mustContact(t, stores[0], fmt.Sprint(id)).Replies; got != perTicket {
			t.Errorf("ticket %d replies = %d, want %d", id, got, perTicket)
		}
	}
}

// A young table is analysed once it has outgrown its statistics, from a small
// sample: a histogram of at most eleven bounds (target 10), not a hundred.
func TestYoungTablesAreAnalysedCheaply(t *testing.T) {
	ctx := context.Background()
	s := storetest.Postgres(t, store.Options{})
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO contacts (source, ticket_id, customer_key, created_ms, updated_ms)
SELECT 'zendesk', g::text, 'c' || g || '@example.com', 1791100000000 + g * 1000, 1791100000000 + g * 1000
FROM generate_series(1, 5000) g`); err != nil {
		t.Fatal(err)
	}
	// Table statistics reach pg_stat_user_tables within a second or so; the
	// store looks every statsEvery.
	var analysed int
	for end := time.Now().Add(10 * time.Second); analysed == 0 && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if err := s.AnalyzeYoung(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.DB().GetContext(ctx, &analysed, `SELECT analyze_count FROM pg_stat_user_tables
WHERE relname = 'contacts' AND schemaname = current_schema()`); err != nil {
			t.Fatal(err)
		}
	}
	if analysed != 1 {
		t.Fatalf("contacts analysed %d times, want once", analysed)
	}
	var bounds int
	if err := s.DB().GetContext(ctx, &bounds, `SELECT COALESCE(array_length(histogram_bounds::text::text[], 1), 0)
FROM pg_stats WHERE tablename = 'contacts' AND schemaname = current_schema() AND attname = 'created_ms'`); err != nil {
		t.Fatal(err)
	}
	if bounds == 0 || bounds > 11 {
		t.Errorf("created_ms histogram has %d bounds, want 1 to 11 (a sample of target 10)", bounds)
	}
}

// The applier finds rows by key. The inbox is a queue: between autovacuum
// runs it holds far more dead rows than live ones, and a young install has
// few contacts for a batch's many tickets: either made a sequential scan look
// cheaper to the planner, and it costs more with each delivery.
func TestApplierReadsByIndex(t *testing.T) {
	ctx := context.Background()
	s := storetest.Postgres(t, store.Options{})
	for _, q := range []string{
		`INSERT INTO inbox (delivery) SELECT '{}'::bytea FROM generate_series(1, 60000)`,
		`DELETE FROM inbox`,
		`INSERT INTO inbox (delivery, error) SELECT '{}'::bytea, 'kept' FROM generate_series(1, 1500)`,
		`INSERT INTO contacts (source, ticket_id, customer_key, created_ms, updated_ms)
SELECT 'zendesk', g::text, 'c' || g || '@example.com', 1791100000000, 1791100000000 FROM generate_series(1, 20000) g`,
		`ANALYZE inbox`,
		`ANALYZE contacts`,
	} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	tickets := make([]string, 1024)
	for i := range tickets {
		tickets[i] = strconv.Itoa(100000 + i) // new tickets: none of them stored yet
	}
	seq, index, err := s.ApplierScans(ctx, 1024, tickets)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"inbox", "contacts"} {
		if seq[table] != 0 || index[table] == 0 {
			t.Errorf("%s: %d sequential and %d index scans, want only index scans", table, seq[table], index[table])
		}
	}
}
