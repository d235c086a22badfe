package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/migrations"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	storetest.DropTemplates()
	os.Exit(code)
}

var t0 = time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC)

func contact(id, email string, created time.Time, status recontact.Status) *recontact.Contact {
	return &recontact.Contact{Source: recontact.SourceZendesk, TicketID: id, CustomerEmail: email,
		Status: status, CreatedAt: created, UpdatedAt: created, Channel: "email"}
}

func delivery(key string, c *recontact.Contact) *recontact.Delivery {
	return &recontact.Delivery{Source: c.Source, Key: key, Body: []byte(`{}`), Contact: c, ReceivedAt: t0}
}

func mustIngest(t *testing.T, s *store.Store, d *recontact.Delivery) bool {
	t.Helper()
	dup, err := s.Ingest(context.Background(), d)
	if err != nil {
		t.Fatalf("ingest %s: %v", d.Key, err)
	}
	return dup
}

func mustContact(t *testing.T, s *store.Store, id string) *store.StoredContact {
	t.Helper()
	c, err := s.Contact(context.Background(), recontact.SourceZendesk, id)
	if err != nil {
		t.Fatalf("contact %s: %v", id, err)
	}
	return c
}

func drain(t *testing.T, s *store.Store) {
	t.Helper()
	for {
		n, err := s.EvaluateDirty(context.Background(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func TestMigrationsMatch(t *testing.T) {
	names := func(dir string) []string {
		entries, err := fs.ReadDir(migrations.FS, dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	if pg, lite := names("postgres"), names("sqlite"); !slices.Equal(pg, lite) {
		t.Fatalf("migration versions differ: postgres %v, sqlite %v", pg, lite)
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		dialect store.Dialect
		wantErr bool
	}{
		{"", store.SQLite, false},
		{"sqlite:data/x.db", store.SQLite, false},
		{"postgres://u:p@h/db", store.Postgres, false},
		{"postgresql://h/db", store.Postgres, false},
		{"sqlite:", "", true},
		{"mysql://u:secret@h/db", "", true},
	} {
		d, _, err := store.ParseURL(tc.url)
		if (err != nil) != tc.wantErr || d != tc.dialect {
			t.Errorf("ParseURL(%q) = %q, %v; want %q, error %v", tc.url, d, err, tc.dialect, tc.wantErr)
		}
		if err != nil && tc.url != "" && containsSecret(err.Error()) {
			t.Errorf("ParseURL(%q) error shows the password: %v", tc.url, err)
		}
	}
}

func containsSecret(s string) bool { return len(s) > 0 && (contains(s, "secret")) }

func contains(s, sub string) bool {
	return len(s) >= len(sub) && (s == sub || len(sub) == 0 || indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestIngestDuplicate(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		d := delivery("event:1", contact("1", "A@Example.com ", t0, recontact.StatusOpen))
		d.Activity = recontact.Activity{Replies: 1}
		d.ReportsActivity = true
		if mustIngest(t, s, d) {
			t.Fatal("first delivery reported as duplicate")
		}
		if !mustIngest(t, s, d) {
			t.Fatal("second delivery of the same key not reported as duplicate")
		}
		c := mustContact(t, s, "1")
		if c.Replies != 1 {
			t.Errorf("replies = %d after a duplicate, want 1", c.Replies)
		}
		if c.CustomerKey != "a@example.com" {
			t.Errorf("customer key = %q, want a@example.com", c.CustomerKey)
		}
	})
}

func TestIngestDedupeWindow(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		d := delivery("fd:1:abc", contact("1", "a@example.com", t0, recontact.StatusOpen))
		d.DedupeWindow = 2 * time.Hour
		mustIngest(t, s, d)
		d.ReceivedAt = t0.Add(95 * time.Minute) // Freshdesk's last retry
		if !mustIngest(t, s, d) {
			t.Error("retry inside the window not treated as duplicate")
		}
		d.ReceivedAt = t0.Add(5 * time.Hour)
		if mustIngest(t, s, d) {
			t.Error("same body after the window treated as duplicate; it is a new event")
		}
	})
}

func TestOlderUpdateNeverOverwrites(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		newer := contact("7", "a@example.com", t0, recontact.StatusSolved)
		newer.UpdatedAt = t0.Add(2 * time.Hour)
		newer.Channel = "chat"
		older := contact("7", "a@example.com", t0, recontact.StatusOpen)
		older.UpdatedAt = t0.Add(time.Hour)
		older.Channel = "email"
		mustIngest(t, s, delivery("k2", newer))
		mustIngest(t, s, delivery("k1", older))
		c := mustContact(t, s, "7")
		if c.Status != recontact.StatusSolved || c.Channel != "chat" {
			t.Errorf("got status %s channel %s, want the newer solved/chat", c.Status, c.Channel)
		}
		if !c.ResolvedAt.Equal(t0.Add(2 * time.Hour)) {
			t.Errorf("resolved_at = %v, want %v", c.ResolvedAt, t0.Add(2*time.Hour))
		}
	})
}

func TestReopenInferredFromSnapshots(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		for i, st := range []recontact.Status{recontact.StatusOpen, recontact.StatusSolved, recontact.StatusOpen, recontact.StatusSolved} {
			c := contact("9", "a@example.com", t0, st)
			c.UpdatedAt = t0.Add(time.Duration(i) * time.Hour)
			mustIngest(t, s, delivery(fmt.Sprintf("t%d", i), c))
		}
		if c := mustContact(t, s, "9"); c.Reopens != 1 {
			t.Errorf("reopens = %d, want 1", c.Reopens)
		}
	})
}

func TestUnknownStatusKeepsKnownOne(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		mustIngest(t, s, delivery("a", contact("3", "a@example.com", t0, recontact.StatusPending)))
		c := contact("3", "a@example.com", t0, recontact.StatusUnknown)
		c.UpdatedAt = t0.Add(time.Minute)
		mustIngest(t, s, delivery("b", c))
		if got := mustContact(t, s, "3").Status; got != recontact.StatusPending {
			t.Errorf("status = %q, want pending kept", got)
		}
	})
}

func TestRestartKeepsSQLiteFile(t *testing.T) {
	url := storetest.SQLiteURL(t)
	ctx := context.Background()
	s, err := store.Open(ctx, url, store.Options{GroupCommit: true})
	if err != nil {
		t.Fatal(err)
	}
	mustIngest(t, s, delivery("k", contact("1", "a@example.com", t0, recontact.StatusOpen)))
	s.Close()
	s, err = store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustContact(t, s, "1")
	if !mustIngest(t, s, delivery("k", contact("1", "a@example.com", t0, recontact.StatusOpen))) {
		t.Error("after restart the delivery key was forgotten")
	}
}

func TestGroupCommitConcurrent(t *testing.T) {
	storetest.Each(t, store.Options{GroupCommit: true}, func(t *testing.T, s *store.Store) {
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for i := range 200 {
			wg.Go(func() {
				// Every delivery twice: exactly one of each pair is new.
				d := delivery(fmt.Sprintf("k%d", i%100), contact(fmt.Sprint(i%100), fmt.Sprintf("c%d@example.com", i%7), t0.Add(time.Duration(i%100)*time.Minute), recontact.StatusOpen))
				if _, err := s.Ingest(context.Background(), d); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var n int
		if err := s.DB().Get(&n, `SELECT COUNT(*) FROM deliveries`); err != nil || n != 100 {
			t.Fatalf("deliveries = %d (%v), want 100", n, err)
		}
		if err := s.Settle(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.DB().Get(&n, `SELECT COUNT(*) FROM contacts`); err != nil || n != 100 {
			t.Fatalf("contacts = %d (%v), want 100", n, err)
		}
	})
}

func TestGroupCommitIsolatesBadDelivery(t *testing.T) {
	storetest.Each(t, store.Options{GroupCommit: true}, func(t *testing.T, s *store.Store) {
		var wg sync.WaitGroup
		var bad, good int
		var mu sync.Mutex
		for i := range 40 {
			wg.Go(func() {
				c := contact(fmt.Sprint(i), "a@example.com", t0, recontact.StatusOpen)
				if i%4 == 0 {
					c.TicketID = "" // invalid: must fail alone
				}
				_, err := s.Ingest(context.Background(), delivery(fmt.Sprintf("k%d", i), c))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					bad++
				} else {
					good++
				}
			})
		}
		wg.Wait()
		if err := s.Settle(context.Background()); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s.DB().Get(&n, `SELECT COUNT(*) FROM contacts`); err != nil {
			t.Fatal(err)
		}
		if bad != 10 || good != 30 || n != 30 {
			t.Fatalf("bad %d good %d stored %d; want 10, 30, 30", bad, good, n)
		}
	})
}

func TestBookingsAndDays(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		b := &recontact.Booking{ID: "b1", Partner: "p1", CustomerKey: "a@example.com", CreatedAt: t0, CheckIn: "2026-10-10", CheckOut: "2026-10-12", Status: "confirmed", UpdatedAt: t0}
		if err := s.UpsertBooking(ctx, b); err != nil {
			t.Fatal(err)
		}
		from, to := t0.Truncate(24*time.Hour), t0.Truncate(24*time.Hour).AddDate(0, 0, 1)
		count := func() int {
			tot, _, err := s.Period(ctx, store.PeriodQuery{From: from.AddDate(0, 0, -1), To: to.AddDate(0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			return tot.Bookings
		}
		if n := count(); n != 1 {
			t.Fatalf("bookings = %d, want 1", n)
		}
		stale := *b
		stale.Status = recontact.BookingCancelled
		stale.UpdatedAt = t0.Add(-time.Hour) // older than stored: ignored
		if err := s.UpsertBooking(ctx, &stale); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Fatalf("after an older cancellation bookings = %d, want 1", n)
		}
		stale.UpdatedAt = t0.Add(time.Hour)
		if err := s.UpsertBooking(ctx, &stale); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 0 {
			t.Fatalf("after cancellation bookings = %d, want 0", n)
		}
	})
}

// TestPeriodMatchesOracle ingests random contacts and bookings in shuffled
// order and checks every grouping against metrics.Summarize over
// metrics.Evaluate: the optimised SQL must agree with the definitions.
func TestPeriodMatchesOracle(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(1, 2))
		start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
		var contacts []*recontact.Contact
		var books []*recontact.Booking
		for i := range 400 {
			cust := fmt.Sprintf("c%d@example.com", r.IntN(60))
			created := start.Add(time.Duration(r.Int64N(int64(60 * 24 * time.Hour))))
			c := contact(fmt.Sprint(i), cust, created, recontact.StatusOpen)
			c.Partner = []string{"", "p1", "p2", "p3"}[r.IntN(4)]
			c.Channel = []string{"email", "chat", "web_form"}[r.IntN(3)]
			if r.IntN(3) > 0 {
				c.Status = recontact.StatusSolved
				c.UpdatedAt = created.Add(time.Duration(r.Int64N(int64(5 * 24 * time.Hour))))
				c.ResolvedAt = c.UpdatedAt
				c.Replies = r.IntN(3)
				c.Reopens = r.IntN(4) / 3
			}
			contacts = append(contacts, c)
		}
		for i := range 300 {
			created := start.Add(time.Duration(r.Int64N(int64(60 * 24 * time.Hour))))
			in := created.AddDate(0, 0, r.IntN(20)-5)
			b := &recontact.Booking{ID: fmt.Sprintf("b%d", i), Partner: []string{"p1", "p2", "p3", "p4"}[r.IntN(4)],
				CustomerKey: fmt.Sprintf("c%d@example.com", r.IntN(60)), CreatedAt: created,
				CheckIn: in.Format(time.DateOnly), CheckOut: in.AddDate(0, 0, 1+r.IntN(5)).Format(time.DateOnly),
				Status: "confirmed", UpdatedAt: created}
			if r.IntN(10) == 0 {
				b.Status = recontact.BookingCancelled
			}
			books = append(books, b)
		}
		r.Shuffle(len(contacts), func(i, j int) { contacts[i], contacts[j] = contacts[j], contacts[i] })
		for i, c := range contacts {
			d := delivery(fmt.Sprintf("k%d", i), c)
			d.Activity = recontact.Activity{Replies: c.Replies, Reopens: c.Reopens}
			d.ReportsActivity = true
			mustIngest(t, s, d)
			if i%50 == 0 {
				drain(t, s) // evaluate part-way too: later arrivals must re-judge earlier ones
			}
		}
		for _, b := range books {
			if err := s.UpsertBooking(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		drain(t, s)

		rows, brows := oracleRows(contacts, books, s.Settings(), s.Now())
		for _, q := range []store.PeriodQuery{
			{From: start, To: start.AddDate(0, 2, 0)},
			{From: start.AddDate(0, 0, 10), To: start.AddDate(0, 0, 40), GroupBy: "partner"},
			{From: start.Add(36 * time.Hour), To: start.AddDate(0, 0, 30).Add(5 * time.Hour), GroupBy: "channel"},
			{From: start, To: start.AddDate(0, 2, 0), GroupBy: "stage"},
			{From: start, To: start.AddDate(0, 2, 0), GroupBy: "month"},
			{From: start.AddDate(0, 0, 3), To: start.AddDate(0, 0, 50), GroupBy: "week"},
			{From: start, To: start.AddDate(0, 0, 20), GroupBy: "day"},
			{From: start, To: start.AddDate(0, 2, 0), Partner: "p2", GroupBy: "week"},
		} {
			gotT, gotG, err := s.Period(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var rs []metrics.Row
			for _, row := range rows {
				if q.Partner == "" || row.Partner == q.Partner {
					rs = append(rs, row)
				}
			}
			var bs []metrics.BookingRow
			for _, b := range brows {
				if q.Partner == "" || b.Partner == q.Partner {
					bs = append(bs, b)
				}
			}
			wantT, wantG, err := metrics.Summarize(rs, bs, q.From, q.To, q.GroupBy, s.Settings())
			if err != nil {
				t.Fatal(err)
			}
			if q.GroupBy == "partner" {
				wantG = slices.DeleteFunc(wantG, func(g metrics.Group) bool { return g.Contacts == 0 && g.Bookings == 0 })
			}
			if got, want := js(t, gotT), js(t, wantT); got != want {
				t.Errorf("%+v totals:\n got %s\nwant %s", q, got, want)
			}
			if got, want := js(t, gotG), js(t, wantG); got != want {
				t.Errorf("%+v groups:\n got %s\nwant %s", q, got, want)
			}
		}
	})
}

// oracleRows evaluates each customer's whole history with metrics.Evaluate.
func oracleRows(cs []*recontact.Contact, bs []*recontact.Booking, set metrics.Settings, now time.Time) ([]metrics.Row, []metrics.BookingRow) {
	byCustomer := map[string][]*recontact.Contact{}
	for _, c := range cs {
		byCustomer[c.CustomerKey()] = append(byCustomer[c.CustomerKey()], c)
	}
	bookingsOf := map[string][]recontact.Booking{}
	var brows []metrics.BookingRow
	for _, b := range bs {
		bookingsOf[b.CustomerKey] = append(bookingsOf[b.CustomerKey], *b)
		brows = append(brows, metrics.BookingRow{Partner: b.Partner, Created: b.CreatedAt, Cancelled: b.Cancelled()})
	}
	var rows []metrics.Row
	for key, list := range byCustomer {
		in := make([]metrics.Contact, len(list))
		for i, c := range list {
			in[i] = metrics.Contact{Source: c.Source, TicketID: c.TicketID, Partner: c.Partner, Created: c.CreatedAt,
				Resolved: c.ResolvedAt, Replies: c.Replies, Reopens: c.Reopens}
		}
		vs := metrics.Evaluate(in, bookingsOf[key], set, now)
		for i, c := range list {
			rows = append(rows, metrics.Row{CustomerKey: key, Partner: c.Partner, Channel: c.Channel, Stage: vs[i].Stage,
				Created: c.CreatedAt, Resolved: !c.ResolvedAt.IsZero(), FCR: vs[i].FCR, FollowedByOrder: vs[i].FollowedByOrder})
		}
	}
	return rows, brows
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReplay re-applies kept raw bodies through a fixed parser: the contact
// is corrected, and activity counted at arrival is not counted again.
func TestReplay(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := contact("1", "a@example.com", t0, recontact.StatusOpen)
		c.Channel = "" // the "buggy" parser lost the channel
		d := delivery("k1", c)
		d.Body = []byte(`{"channel":"chat"}`)
		d.Activity = recontact.Activity{Replies: 1}
		d.ReportsActivity = true
		mustIngest(t, s, d)
		st, err := s.Replay(ctx, t0.Add(-time.Hour), func(src recontact.Source, key string, received time.Time, body []byte) (*recontact.Delivery, error) {
			fixed := contact("1", "a@example.com", t0, recontact.StatusOpen)
			fixed.Channel = "chat"
			return &recontact.Delivery{Source: src, Key: key, Body: body, Contact: fixed, ReceivedAt: received,
				Activity: recontact.Activity{Replies: 1}, ReportsActivity: true}, nil
		})
		if err != nil || st.Applied != 1 {
			t.Fatalf("replay: %+v, %v", st, err)
		}
		got := mustContact(t, s, "1")
		if got.Channel != "chat" || got.Replies != 1 {
			t.Errorf("after replay channel %q replies %d; want chat, 1", got.Channel, got.Replies)
		}
		if n, err := s.PruneDeliveries(ctx, t0.Add(time.Hour)); err != nil || n != 1 {
			t.Errorf("prune: %d, %v", n, err)
		}
	})
}

// TestNamelessContactsAreSeparateCustomers: contacts without e-mail or
// requester id are not lumped into one customer.
func TestNamelessContactsAreSeparateCustomers(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		mustIngest(t, s, delivery("a", contact("1", "", t0, recontact.StatusOpen)))
		mustIngest(t, s, delivery("b", contact("2", "", t0.Add(time.Hour), recontact.StatusOpen)))
		drain(t, s)
		if c := mustContact(t, s, "2"); c.Repeat {
			t.Error("a nameless contact was judged a repeat of another nameless one")
		}
		named := contact("2", "n@example.com", t0.Add(time.Hour), recontact.StatusOpen)
		named.UpdatedAt = t0.Add(2 * time.Hour)
		mustIngest(t, s, delivery("c", named))
		if c := mustContact(t, s, "2"); c.CustomerKey != "n@example.com" {
			t.Errorf("customer key %q after the e-mail arrived, want n@example.com", c.CustomerKey)
		}
	})
}

// TestChangeDuringEvaluationIsJudgedAgain changes a contact after an
// evaluation read it and before it wrote its verdicts (SQLite reads on a
// snapshot beside the writer; PostgreSQL instances apply beside each other's
// evaluations). The stale verdict may land, but the contact must stay due for
// evaluation, and the next pass must judge the change.
func TestChangeDuringEvaluationIsJudgedAgain(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		open := contact("1", "alice@example.com", t0, recontact.StatusOpen)
		mustIngest(t, s, delivery("open", open))
		solved := *open
		solved.Status, solved.ResolvedAt, solved.UpdatedAt = recontact.StatusSolved, t0.Add(time.Hour), t0.Add(time.Hour)
		var once sync.Once
		s.OnJudged(func() {
			once.Do(func() {
				d := delivery("solved", &solved)
				d.Activity, d.ReportsActivity = recontact.Activity{Replies: 1}, true
				mustIngest(t, s, d)
			})
		})
		if n, err := s.EvaluateDirty(context.Background(), 10); err != nil || n != 1 {
			t.Fatalf("EvaluateDirty = %d, %v; want 1 customer", n, err)
		}
		if c := mustContact(t, s, "1"); c.Status != recontact.StatusSolved || c.Evaluated {
			t.Fatalf("after the racing pass: status %s, evaluated %v; want solved and still due", c.Status, c.Evaluated)
		}
		drain(t, s)
		if c := mustContact(t, s, "1"); !c.Evaluated || c.FCR != string(metrics.FCRYes) {
			t.Errorf("after the next pass: evaluated %v, fcr %q; want evaluated and %q", c.Evaluated, c.FCR, metrics.FCRYes)
		}
	})
}

// TestLateResolutionKeepsItsContext adds a contact before one that was
// resolved weeks after it was created. Judging that one again needs the
// customer's contacts up to its resolution plus the FCR window: further than
// the new contact's span reaches, and further than the two contacts after it.
// Both stores run it reading short histories whole and, with the limit
// lowered, through the span and neighbour reads.
func TestLateResolutionKeepsItsContext(t *testing.T) {
	for _, limit := range []int{64, 2} {
		t.Run(fmt.Sprint("history ", limit), func(t *testing.T) {
			store.LimitHistory(t, limit)
			storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
				day := 24 * time.Hour
				late := contact("late", "alice@example.com", t0.Add(5*day), recontact.StatusSolved)
				late.ResolvedAt, late.UpdatedAt = t0.Add(40*day), t0.Add(40*day)
				during1 := contact("during1", "alice@example.com", t0.Add(20*day), recontact.StatusOpen)
				during2 := contact("during2", "alice@example.com", t0.Add(25*day), recontact.StatusOpen)
				back := contact("back", "alice@example.com", t0.Add(45*day), recontact.StatusOpen) // 5 days after the resolution
				first := contact("first", "alice@example.com", t0, recontact.StatusOpen)
				all := []*recontact.Contact{late, during1, during2, back, first}
				for i, c := range all {
					d := delivery("k"+c.TicketID, c)
					d.Activity, d.ReportsActivity = recontact.Activity{Replies: c.Replies}, true
					mustIngest(t, s, d)
					if i == len(all)-2 {
						drain(t, s) // all judged; then "first" arrives alone
					}
				}
				drain(t, s)
				want, _ := oracleRows(all, nil, s.Settings(), s.Now())
				if want[0].FCR != metrics.FCRNo {
					t.Fatalf("oracle: FCR of the late one %q; the scenario needs %q", want[0].FCR, metrics.FCRNo)
				}
				for i, c := range all {
					if got := mustContact(t, s, c.TicketID); got.FCR != string(want[i].FCR) {
						t.Errorf("%s: fcr %q, want %q", c.TicketID, got.FCR, want[i].FCR)
					}
				}
			})
		})
	}
}

// TestLateResolutionKeepsItsRepeats judges a contact again for its
// resolution, weeks after its creation, when a new contact arrives near that
// resolution. Its repeat verdict counts contacts from before its creation,
// which that evaluation does not read past the two nearest: it must keep
// them all rather than shrink to the ones it read.
func TestLateResolutionKeepsItsRepeats(t *testing.T) {
	for _, limit := range []int{64, 2} {
		t.Run(fmt.Sprint("history ", limit), func(t *testing.T) {
			store.LimitHistory(t, limit)
			storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
				day := 24 * time.Hour
				var all []*recontact.Contact
				for i := range 3 {
					all = append(all, contact(fmt.Sprint("before", i), "bob@example.com", t0.Add(time.Duration(i)*day), recontact.StatusOpen))
				}
				late := contact("late", "bob@example.com", t0.Add(3*day), recontact.StatusSolved)
				late.ResolvedAt, late.UpdatedAt = t0.Add(40*day), t0.Add(40*day)
				all = append(all, late)
				for _, c := range all {
					mustIngest(t, s, delivery("k"+c.TicketID, c))
				}
				drain(t, s)
				back := contact("back", "bob@example.com", t0.Add(42*day), recontact.StatusOpen) // 2 days after the resolution
				all = append(all, back)
				mustIngest(t, s, delivery("kback", back))
				drain(t, s)
				want, _ := oracleRows(all, nil, s.Settings(), s.Now())
				if want[3].FCR != metrics.FCRNo {
					t.Fatalf("oracle: FCR of the late one %q; the scenario needs %q", want[3].FCR, metrics.FCRNo)
				}
				// Within the 7-day repeat window: each "before" follows the
				// earlier ones, "late" follows all three, "back" none.
				previous := []int{0, 1, 2, 3, 0}
				for i, c := range all {
					got := mustContact(t, s, c.TicketID)
					if len(got.Previous) != previous[i] || got.FCR != string(want[i].FCR) {
						t.Errorf("%s: previous %v, fcr %q; want %d previous, fcr %q", c.TicketID, got.Previous, got.FCR, previous[i], want[i].FCR)
					}
				}
			})
		})
	}
}
