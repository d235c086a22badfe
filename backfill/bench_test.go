package backfill_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact/backfill"
	"github.com/recontact/recontact/connectors/zendesk/zendesktest"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// TestBackfillBench measures a Zendesk backfill from the fake export, 1,000
// tickets a page:
//
//  1. with the export limit at ten times real speed (10 calls per 6 s),
//     against the time the limit alone allows;
//  2. with the limit lifted, records per second into SQLite and PostgreSQL.
//
// Run it on a quiet machine:
//
//	BACKFILL_BENCH=1 go test ./backfill -run TestBackfillBench -v -timeout 30m
//
// BACKFILL_BENCH_TICKETS (default 100000) scales it down for a quick check.
func TestBackfillBench(t *testing.T) {
	if os.Getenv("BACKFILL_BENCH") == "" {
		t.Skip("set BACKFILL_BENCH=1 to run the backfill benchmark")
	}
	n := 100_000
	if v := os.Getenv("BACKFILL_BENCH_TICKETS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			t.Fatalf("BACKFILL_BENCH_TICKETS=%q: want a whole number of at least 1000", v)
		}
	}
	const perPage, perWindow, window = 1000, 10, 6 * time.Second
	pages := (n + perPage - 1) / perPage
	var rows []string

	// 1. The limited run: pages calls at perWindow per window.
	{
		fake := benchFake(t, n, zendesktest.WithExportsPerMinute(perWindow), zendesktest.WithWindow(window))
		s := storetest.SQLite(t, store.Options{})
		z := newZendesk(t, s, fake)
		z.PerMinute, z.Window = perWindow, window
		sum, took := benchRun(t, z)
		allowed := time.Duration(pages) * window / perWindow
		rows = append(rows, fmt.Sprintf("| limited 10/6s | sqlite | %d | %d | %.1f s | %.1f s | %+.1f %% | %.0f | %d |",
			sum.Created, pages, took.Seconds(), allowed.Seconds(), 100*(took.Seconds()/allowed.Seconds()-1),
			float64(sum.Created)/took.Seconds(), fake.Throttled()))
	}
	// 2. The limit lifted: the store sets the pace.
	for _, db := range []string{"sqlite", "postgres"} {
		fake := benchFake(t, n, zendesktest.WithExportsPerMinute(0), zendesktest.WithRequestsPerMinute(0))
		var s *store.Store
		if db == "sqlite" {
			s = storetest.SQLite(t, store.Options{})
		} else {
			s = storetest.Postgres(t, store.Options{})
		}
		sum, took := benchRun(t, newZendesk(t, s, fake))
		start := time.Now()
		drain(t, s)
		eval := time.Since(start)
		rows = append(rows, fmt.Sprintf("| unlimited | %s | %d | %d | %.1f s | - | - | %.0f | %d (evaluation after: %.1f s) |",
			db, sum.Created, pages, took.Seconds(), float64(sum.Created)/took.Seconds(), fake.Throttled(), eval.Seconds()))
	}
	t.Log("\n| run | store | records | pages | time | limit alone allows | over | records/s | 429s |\n|---|---|---|---|---|---|---|---|---|\n" +
		strings.Join(rows, "\n"))
}

func benchFake(t *testing.T, n int, opts ...zendesktest.Option) *zendesktest.Server {
	t.Helper()
	fake := zendesktest.New(t, append(opts, zendesktest.WithExportPageSize(1000))...)
	for o := 1; o <= 50; o++ {
		fake.AddOrganization(zendesktest.Organization{ID: strconv.Itoa(500 + o), Name: fmt.Sprintf("Org %d", o), ExternalID: fmt.Sprintf("partner-%d", o)})
	}
	users := max(n/10, 1)
	for u := 1; u <= users; u++ {
		fake.AddUser(zendesktest.User{ID: strconv.Itoa(100_000 + u), Email: fmt.Sprintf("guest%d@example.com", u), OrganizationID: strconv.Itoa(501 + u%50)})
	}
	for i := 1; i <= n; i++ {
		created := t0.Add(time.Duration(i) * time.Minute)
		tk := zendesktest.Ticket{
			ID: strconv.Itoa(1_000_000 + i), Status: "solved", RequesterID: strconv.Itoa(100_001 + i%users),
			OrganizationID: strconv.Itoa(501 + i%50), Via: "web_form", CreatedAt: created,
			UpdatedAt: created.Add(time.Duration(5+i%50) * time.Minute), Replies: 1 + i%3, Reopens: i % 7 / 6,
		}
		if i%4 == 0 {
			tk.Status, tk.Replies = "open", 0
		} else {
			tk.SolvedAt = tk.UpdatedAt
		}
		fake.AddTicket(tk)
	}
	return fake
}

func benchRun(t *testing.T, z *backfill.Zendesk) (backfill.Summary, time.Duration) {
	t.Helper()
	start := time.Now()
	sum, err := z.Backfill(context.Background(), t0, backfill.Options{})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Done {
		t.Fatalf("backfill did not reach the end: %+v", sum)
	}
	return sum, took
}
