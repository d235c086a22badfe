package demo_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/demo"
	"github.com/recontact/recontact/handlers"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
	"github.com/recontact/recontact/worker"
)

func TestMain(m *testing.M) {
	code := m.Run()
	storetest.DropTemplates()
	os.Exit(code)
}

type metricsReply struct {
	Totals metrics.Totals  `json:"totals"`
	Groups []metrics.Group `json:"groups"`
}

func get(t *testing.T, srv *httptest.Server, query string) metricsReply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/metrics?"+query, nil)
	req.Header.Set("Authorization", "Bearer demo")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r metricsReply
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&r) != nil {
		t.Fatalf("metrics?%s: %d", query, resp.StatusCode)
	}
	return r
}

func between(t *testing.T, name string, v *float64, lo, hi float64) {
	t.Helper()
	if v == nil || *v < lo || *v > hi {
		t.Errorf("%s = %v, want between %v and %v", name, deref(v), lo, hi)
	}
}

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

// TestSeed seeds the full demo into SQLite (as `recontact demo` does, within
// its time budget), checks the API shows plausible figures, and seeds again
// to see nothing change.
func TestSeed(t *testing.T) {
	ctx := context.Background()
	s := storetest.SQLite(t, store.Options{GroupCommit: true})
	now := time.Now().UTC()
	start := time.Now()
	st, err := demo.Seed(ctx, s, now, demo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&worker.Evaluator{Store: s}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("seeded %d bookings and %d contacts in %s", st.Bookings, st.Contacts, took.Round(time.Millisecond))
	// On a quiet machine this takes 10-20 s. The bound is loose because the
	// suite runs packages side by side; it still catches losing the group
	// commit (one fsync per delivery: minutes).
	if took > 90*time.Second {
		t.Errorf("seeding took %s; `recontact demo` promises well under a minute", took)
	}
	if st.Duplicates != 0 || st.Bookings < 30000 || st.Contacts < 1500 {
		t.Errorf("stats %+v", st)
	}

	// The demo's tickets are in no helpdesk: no API look-ups are left queued.
	q, err := s.Queue(ctx, []string{recontact.JobZendeskMetrics, recontact.JobFreshdeskTicket})
	if err != nil || q.Pending+q.Running != 0 {
		t.Errorf("look-ups left queued: %+v %v", q, err)
	}

	srv := httptest.NewServer(handlers.New(handlers.Config{Store: s, AdminToken: "demo"}))
	defer srv.Close()
	// The seed's own 30 days, not the clock's: the window must not slide
	// between the two reads below.
	window := "to=" + now.Format(time.RFC3339Nano)
	all := get(t, srv, window)
	tot := all.Totals
	if tot.Bookings < 5000 || tot.Contacts < 500 || tot.RepeatCustomers == 0 || tot.Resolved == 0 || tot.ContactsFollowedByOrder == 0 {
		t.Errorf("last 30 days: %+v", tot)
	}
	between(t, "contact ratio", tot.ContactRatio, 0.05, 0.2)
	between(t, "FCR rate", tot.FCRRate, 0.3, 0.9)
	between(t, "repeat contact rate", tot.RepeatContactRate, 0.03, 0.5)

	bands := map[string]int{}
	for _, g := range get(t, srv, window+"&group_by=partner").Groups {
		if g.ContactRatioBand != nil {
			bands[*g.ContactRatioBand]++
		}
	}
	if bands[metrics.BandHigh] < 1 || bands[metrics.BandLow] < 1 || bands[metrics.BandModerate] < 4 {
		t.Errorf("partner bands %v, want some of each", bands)
	}
	stages := map[string]bool{}
	for _, g := range get(t, srv, window+"&group_by=stage").Groups {
		if g.Key != nil {
			stages[*g.Key] = true
		}
	}
	if !stages["pre-check-in"] || !stages["in-destination"] || !stages["post-check-out"] {
		t.Errorf("stages %v", stages)
	}
	if n := len(get(t, srv, window+"&group_by=channel").Groups); n < 5 {
		t.Errorf("%d channels", n)
	}

	// Again, even a day later: every delivery is a duplicate.
	again, err := demo.Seed(ctx, s, now.Add(24*time.Hour), demo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Duplicates != again.Bookings+again.Contacts {
		t.Errorf("second seed: %+v, want all duplicates", again)
	}
	if after := get(t, srv, window).Totals; after.Contacts != tot.Contacts || after.Bookings != tot.Bookings {
		t.Errorf("totals changed on re-seed: %+v, then %+v", tot, after)
	}
}

// TestSeedPostgres seeds a twentieth of the demo into PostgreSQL.
func TestSeedPostgres(t *testing.T) {
	ctx := context.Background()
	s := storetest.Postgres(t, store.Options{GroupCommit: true})
	st, err := demo.Seed(ctx, s, time.Now(), demo.Options{Scale: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&worker.Evaluator{Store: s}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tot, _, err := s.Period(ctx, store.PeriodQuery{From: now.AddDate(0, 0, -90), To: now})
	if err != nil {
		t.Fatal(err)
	}
	if tot.Contacts != st.Contacts || tot.Bookings == 0 || tot.Bookings > st.Bookings {
		t.Errorf("seeded %+v, period shows %+v", st, tot)
	}
}
