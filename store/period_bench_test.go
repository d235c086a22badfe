package store_test

import (
	"context"
	"database/sql"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/bench/metricsgen"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// The benchmark's periods: a 30-day month in the busy season, and the year.
var (
	month = store.PeriodQuery{From: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), GroupBy: metrics.GroupPartner}
	year  = store.PeriodQuery{From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), GroupBy: metrics.GroupMonth}
)

// plainPartnerSQL is what a first version would write for the 30-day partner
// report: aggregate the raw rows of the period. Distinct customers by
// COUNT(DISTINCT), repeat customers by grouping each partner's contacts per
// customer, contact-to-order by a correlated EXISTS against bookings, and
// bookings counted from the bookings table. It still reads the stored FCR
// verdict (computing FCR from raw rows too would only make it slower), and it
// computes no overall totals, which Store.Period does as well: the
// comparison is conservative.
const plainPartnerSQL = `
WITH c AS (
	SELECT partner, COUNT(*) AS contacts, COUNT(DISTINCT customer_key) AS customers,
		SUM(CASE WHEN resolved_ms IS NOT NULL THEN 1 ELSE 0 END) AS resolved,
		SUM(CASE WHEN fcr = 'fcr' THEN 1 ELSE 0 END) AS first_contact_resolved,
		SUM(CASE WHEN EXISTS (
			SELECT 1 FROM bookings b
			WHERE b.customer_key = c.customer_key AND b.status <> 'cancelled'
				AND b.created_ms > c.created_ms AND b.created_ms <= c.created_ms + ?)
			THEN 1 ELSE 0 END) AS followed
	FROM contacts c
	WHERE c.created_ms >= ? AND c.created_ms < ?
	GROUP BY partner
), r AS (
	SELECT partner, COUNT(*) AS repeat_customers FROM (
		SELECT partner, customer_key FROM contacts
		WHERE created_ms >= ? AND created_ms < ?
		GROUP BY partner, customer_key HAVING COUNT(*) >= 2
	) x GROUP BY partner
), b AS (
	SELECT partner, COUNT(*) AS bookings FROM bookings
	WHERE status <> 'cancelled' AND created_ms >= ? AND created_ms < ?
	GROUP BY partner
)
SELECT p.partner, COALESCE(c.contacts, 0) AS contacts, COALESCE(c.customers, 0) AS customers,
	COALESCE(r.repeat_customers, 0) AS repeat_customers, COALESCE(c.resolved, 0) AS resolved,
	COALESCE(c.first_contact_resolved, 0) AS first_contact_resolved,
	COALESCE(c.followed, 0) AS followed, COALESCE(b.bookings, 0) AS bookings
FROM (SELECT partner FROM c UNION SELECT partner FROM b) p
LEFT JOIN c ON c.partner = p.partner
LEFT JOIN r ON r.partner = p.partner
LEFT JOIN b ON b.partner = p.partner
ORDER BY p.partner`

// partnerCounts is one partner's counts, as both the plain SQL and
// Store.Period give them.
type partnerCounts struct {
	Partner              string `db:"partner"`
	Contacts             int    `db:"contacts"`
	Customers            int    `db:"customers"`
	RepeatCustomers      int    `db:"repeat_customers"`
	Resolved             int    `db:"resolved"`
	FirstContactResolved int    `db:"first_contact_resolved"`
	Followed             int    `db:"followed"`
	Bookings             int    `db:"bookings"`
}

func plainPartners(ctx context.Context, s *store.Store, q store.PeriodQuery) ([]partnerCounts, error) {
	from, to := q.From.UnixMilli(), q.To.UnixMilli()
	var rows []partnerCounts
	err := s.DB().SelectContext(ctx, &rows, s.DB().Rebind(plainPartnerSQL),
		s.Settings().OrderWindow.Milliseconds(), from, to, from, to, from, to)
	return rows, err
}

func periodPartners(ctx context.Context, s *store.Store, q store.PeriodQuery) ([]partnerCounts, error) {
	_, groups, err := s.Period(ctx, q)
	rows := make([]partnerCounts, len(groups))
	for i, g := range groups {
		rows[i] = partnerCounts{Contacts: g.Contacts, Customers: g.Customers, RepeatCustomers: g.RepeatCustomers,
			Resolved: g.Resolved, FirstContactResolved: g.FirstContactResolved, Followed: g.ContactsFollowedByOrder,
			Bookings: g.Bookings}
		if g.Key != nil {
			rows[i].Partner = *g.Key
		}
	}
	slices.SortFunc(rows, func(a, b partnerCounts) int { return cmpString(a.Partner, b.Partner) })
	return rows, err
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var (
	fixtureMu sync.Mutex
	fixtures  = map[float64]*metricsgen.Fixture{}
)

// fixture builds the history at scale once per process (about 30 s and
// 2.7 GB at scale 1) and shares it between stores and -count runs.
func fixture(tb testing.TB, scale float64) *metricsgen.Fixture {
	tb.Helper()
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if f := fixtures[scale]; f != nil {
		return f
	}
	start := time.Now()
	f, err := metricsgen.Build(metricsgen.Default().Scaled(scale))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("fixture generated in %.1fs: %s", time.Since(start).Seconds(), f.Stats)
	fixtures[scale] = f
	return f
}

func load(tb testing.TB, s *store.Store, f *metricsgen.Fixture) {
	tb.Helper()
	start := time.Now()
	if err := s.LoadFixture(context.Background(), f.Contacts, f.Bookings); err != nil {
		tb.Fatalf("load fixture into %s: %v", s.Dialect(), err)
	}
	// One line the bench-metrics script picks up.
	tb.Logf("fixture-load store=%s contacts=%d bookings=%d seconds=%.1f",
		s.Dialect(), len(f.Contacts), len(f.Bookings), time.Since(start).Seconds())
}

var stores = []struct {
	name string
	open func(testing.TB, store.Options) *store.Store
}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}}

// BenchmarkPeriod times the period queries against a year of data (1M
// contacts from 300k customers, 500 partners, 5M bookings at scale 1), on
// SQLite and PostgreSQL, beside the plain SQL a first version would run. It
// loads the history once per store (minutes), so it runs only when asked:
//
//	RECONTACT_BENCH_SCALE=1 go test ./store -run '^$' -bench BenchmarkPeriod -benchtime 3s
//
// A smaller scale (0.1) keeps the shape for a quick look; scripts/bench-metrics
// runs the whole thing and prints the table for the README.
func BenchmarkPeriod(b *testing.B) {
	scale, _ := strconv.ParseFloat(os.Getenv("RECONTACT_BENCH_SCALE"), 64)
	if scale <= 0 {
		b.Skip("set RECONTACT_BENCH_SCALE=1 to load 1M contacts and 5M bookings and time the period queries")
	}
	f := fixture(b, scale)
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			ctx := context.Background()
			s := st.open(b, store.Options{Settings: f.Config.Settings})
			load(b, s, f)

			b.Run("30d_partner", func(b *testing.B) {
				benchPeriod(b, s, month)
			})
			b.Run("365d_month", func(b *testing.B) {
				benchPeriod(b, s, year)
			})
			b.Run("evaluate_one", func(b *testing.B) {
				var id int64
				if err := s.DB().GetContext(ctx, &id, s.DB().Rebind(`SELECT id FROM contacts WHERE source = ? AND ticket_id = ?`),
					f.Typical.Source, f.Typical.TicketID); err != nil {
					b.Fatalf("typical contact %v: %v", f.Typical, err)
				}
				mark := s.DB().Rebind(`INSERT INTO marks (contact_id) VALUES (?)`)
				for b.Loop() {
					// Marking is the webhook's work, not the evaluation's.
					b.StopTimer()
					if _, err := s.DB().ExecContext(ctx, mark, id); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if n, err := s.EvaluateDirty(ctx, 1); err != nil || n != 1 {
						b.Fatalf("EvaluateDirty = %d, %v; want 1 customer", n, err)
					}
				}
			})
			b.Run("plain_30d_partner", func(b *testing.B) {
				rows, err := plainPartners(ctx, s, month) // warm, as Period's is
				if err != nil || len(rows) == 0 {
					b.Fatalf("plain SQL: %d rows, %v", len(rows), err)
				}
				for b.Loop() {
					if _, err := plainPartners(ctx, s, month); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func benchPeriod(b *testing.B, s *store.Store, q store.PeriodQuery) {
	ctx := context.Background()
	t, groups, err := s.Period(ctx, q) // warm the caches once, untimed
	if err != nil || len(groups) == 0 {
		b.Fatalf("Period(%+v): %d groups, %v", q, len(groups), err)
	}
	b.Logf("%d groups; %d contacts, %d customers, %d bookings", len(groups), t.Contacts, t.Customers, t.Bookings)
	for b.Loop() {
		if _, _, err := s.Period(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFixtureAgreesWithStore loads a small history (20k contacts) and checks
// what the benchmark relies on: the plain SQL and Store.Period give the same
// partner counts (so their timings compare like with like), and the
// generator's verdicts and pointers are what the store computes, both when a
// sample of customers arrives through Ingest in a shuffled order and when
// loaded contacts are re-evaluated (so the fixture is a state live traffic
// could reach).
func TestFixtureAgreesWithStore(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 20k contacts per store")
	}
	f := fixture(t, 0.02)
	storetest.Each(t, store.Options{Settings: f.Config.Settings}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		load(t, s, f)
		t.Run("plain_sql", func(t *testing.T) {
			for _, q := range []store.PeriodQuery{month, {From: month.From.Add(90 * time.Minute), To: month.To.AddDate(0, 0, 9), GroupBy: metrics.GroupPartner}} {
				want, err := plainPartners(ctx, s, q)
				if err != nil {
					t.Fatal(err)
				}
				got, err := periodPartners(ctx, s, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(want) < 10 {
					t.Fatalf("%v: only %d partners in the period; the fixture is too thin to compare", q.From, len(want))
				}
				if !slices.Equal(got, want) {
					for i := range max(len(got), len(want)) {
						if i >= len(got) || i >= len(want) || got[i] != want[i] {
							t.Fatalf("%v..%v partner row %d:\nPeriod    %+v\nplain SQL %+v", q.From, q.To, i, at(got, i), at(want, i))
						}
					}
				}
			}
		})
		t.Run("ingest", func(t *testing.T) {
			fresh := storetest.SQLite(t, store.Options{Settings: f.Config.Settings})
			if s.Dialect() == store.Postgres {
				fresh = storetest.Postgres(t, store.Options{Settings: f.Config.Settings})
			}
			ingestedAgree(t, s, fresh, f)
		})
		t.Run("evaluation", func(t *testing.T) {
			type verdict struct {
				ID            int64         `db:"id"`
				RepeatContact int           `db:"repeat_contact"`
				Previous      string        `db:"previous"`
				FCR           string        `db:"fcr"`
				Stage         string        `db:"stage"`
				Followed      int           `db:"followed"`
				PrevMS        sql.NullInt64 `db:"prev_ms"`
				Prev2MS       sql.NullInt64 `db:"prev2_ms"`
			}
			snapshot := func() map[int64]verdict {
				var rows []verdict
				if err := s.DB().SelectContext(ctx, &rows, `SELECT id, repeat_contact, previous, fcr, stage, followed, prev_ms, prev2_ms FROM contacts`); err != nil {
					t.Fatal(err)
				}
				out := map[int64]verdict{}
				for _, r := range rows {
					out[r.ID] = r
				}
				return out
			}
			before := snapshot()
			// One customer in ten, heavy ones included, re-evaluated from scratch.
			res, err := s.DB().ExecContext(ctx, `INSERT INTO marks (contact_id) SELECT id FROM contacts WHERE customer_key LIKE '%3@example.com'`)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n < 1000 {
				t.Fatalf("marked %d contacts dirty; want a real sample", n)
			}
			for {
				n, err := s.EvaluateDirty(ctx, 100)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			after := snapshot()
			diffs := 0
			for _, id := range slices.Sorted(maps.Keys(before)) {
				if before[id] != after[id] {
					if diffs++; diffs <= 5 {
						t.Errorf("contact %d:\nfixture          %+v\nstore evaluation %+v", id, before[id], after[id])
					}
				}
			}
			if diffs > 0 {
				t.Fatalf("%d of %d contacts differ", diffs, len(before))
			}
		})
	})
}

// ingestedAgree replays a sample of the fixture's customers through the
// webhook path (Ingest with one delivery per contact and per booking, in a
// shuffled order, evaluating part-way as the live evaluator would) into a
// fresh store, and checks each contact's verdict and cohort pointers equal
// what LoadFixture stored in loaded.
func ingestedAgree(t *testing.T, loaded, fresh *store.Store, f *metricsgen.Fixture) {
	ctx := context.Background()
	// One customer in fifty (one delivery is one commit, slow on
	// PostgreSQL): per-customer evaluation makes any subset of customers a
	// complete history of its own.
	sampled := func(key string) bool {
		return strings.HasSuffix(key, "07@example.com") || strings.HasSuffix(key, "57@example.com")
	}
	var events []*recontact.Delivery
	for i := range f.Contacts {
		fc := &f.Contacts[i]
		if !sampled(fc.CustomerKey) {
			continue
		}
		c := fc.Contact
		events = append(events, &recontact.Delivery{Source: c.Source, Key: "c:" + c.TicketID, Body: []byte(`{}`),
			Contact: &c, Activity: recontact.Activity{Replies: c.Replies, Reopens: c.Reopens}, ReportsActivity: true})
	}
	contacts := len(events)
	for i := range f.Bookings {
		if b := f.Bookings[i]; sampled(b.CustomerKey) {
			events = append(events, &recontact.Delivery{Source: recontact.SourceBookings, Key: "b:" + b.ID, Body: []byte(`{}`), Booking: &b})
		}
	}
	if contacts < 300 {
		t.Fatalf("sampled %d contacts; want a real sample", contacts)
	}
	r := rand.New(rand.NewPCG(4, 2))
	r.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	for i, d := range events {
		if _, err := fresh.Ingest(ctx, d); err != nil {
			t.Fatalf("ingest %s: %v", d.Key, err)
		}
		if i%500 == 499 {
			evaluateAll(t, fresh)
		}
	}
	evaluateAll(t, fresh)

	want, got := verdicts(t, loaded, sampled), verdicts(t, fresh, sampled)
	if len(got) != contacts || len(want) != contacts {
		t.Fatalf("%d contacts ingested, %d loaded; want %d", len(got), len(want), contacts)
	}
	diffs := 0
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			if diffs++; diffs <= 5 {
				t.Errorf("%s:\nfixture  %+v\ningested %+v", k, want[k], got[k])
			}
		}
	}
	if diffs > 0 {
		t.Fatalf("%d of %d contacts differ", diffs, contacts)
	}
}

// storedVerdict is what evaluation writes on a contact.
type storedVerdict struct {
	RepeatContact int           `db:"repeat_contact"`
	Previous      string        `db:"previous"`
	FCR           string        `db:"fcr"`
	Stage         string        `db:"stage"`
	Followed      int           `db:"followed"`
	PrevMS        sql.NullInt64 `db:"prev_ms"`
	Prev2MS       sql.NullInt64 `db:"prev2_ms"`
}

// verdicts reads the stored verdicts of the customers keep selects, by
// source:ticket_id.
func verdicts(t *testing.T, s *store.Store, keep func(customerKey string) bool) map[string]storedVerdict {
	t.Helper()
	var rows []struct {
		Source      string `db:"source"`
		TicketID    string `db:"ticket_id"`
		CustomerKey string `db:"customer_key"`
		storedVerdict
	}
	if err := s.DB().SelectContext(context.Background(), &rows, `SELECT source, ticket_id, customer_key,
	repeat_contact, previous, fcr, stage, followed, prev_ms, prev2_ms FROM contacts`); err != nil {
		t.Fatal(err)
	}
	out := map[string]storedVerdict{}
	for _, r := range rows {
		if keep(r.CustomerKey) {
			out[r.Source+":"+r.TicketID] = r.storedVerdict
		}
	}
	return out
}

func evaluateAll(t *testing.T, s *store.Store) {
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

func at(rows []partnerCounts, i int) any {
	if i < len(rows) {
		return rows[i]
	}
	return "(none)"
}
