package backfill_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/backfill"
	"github.com/recontact/recontact/connectors/freshdesk"
	"github.com/recontact/recontact/connectors/freshdesk/freshdesktest"
	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/connectors/zendesk/zendesktest"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
	"github.com/recontact/recontact/telemetry"
	"github.com/recontact/recontact/worker"
)

// t0 is where the seeded history starts; every timestamp is on a whole
// minute, as trigger webhooks render them.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// seedZendesk adds n tickets from 5 customers of 3 organisations. Every
// third ticket is open, the others solved; replies and reopens vary.
func seedZendesk(z *zendesktest.Server, n int) {
	for o := 1; o <= 3; o++ {
		z.AddOrganization(zendesktest.Organization{ID: strconv.Itoa(500 + o), Name: fmt.Sprintf("Org %d", o), ExternalID: fmt.Sprintf("partner-%d", o)})
	}
	for u := 1; u <= 5; u++ {
		z.AddUser(zendesktest.User{ID: strconv.Itoa(100 + u), Email: fmt.Sprintf("Customer%d@Example.com", u), OrganizationID: strconv.Itoa(500 + u%3 + 1)})
	}
	for i := 1; i <= n; i++ {
		z.AddTicket(zendeskTicket(i))
	}
}

func zendeskTicket(i int) zendesktest.Ticket {
	created := t0.Add(time.Duration(i) * 3 * time.Hour)
	t := zendesktest.Ticket{
		ID: strconv.Itoa(1000 + i), Status: "solved", RequesterID: strconv.Itoa(100 + i%5 + 1),
		OrganizationID: strconv.Itoa(500 + (i%5+1)%3 + 1), Via: "mail",
		CreatedAt: created, UpdatedAt: created.Add(time.Duration(10+i%7) * time.Minute),
		Replies: 1 + i%3, Reopens: i % 4 / 3,
	}
	if i%3 == 0 {
		t.Status, t.Replies, t.Reopens = "open", 0, 0
	} else {
		t.SolvedAt = t.UpdatedAt
	}
	return t
}

func newZendesk(t *testing.T, s *store.Store, fake *zendesktest.Server) *backfill.Zendesk {
	t.Helper()
	c, err := zendesk.NewClient(zendesk.Config{BaseURL: fake.URL, Email: fake.Email, APIToken: fake.Token, MaxRetryWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &backfill.Zendesk{Store: s, Client: c}
}

func drain(t *testing.T, s *store.Store) {
	t.Helper()
	if err := (&worker.Evaluator{Store: s}).Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func period(t *testing.T, s *store.Store) metrics.Totals {
	t.Helper()
	drain(t, s)
	tot, _, err := s.Period(context.Background(), store.PeriodQuery{From: t0.AddDate(0, 0, -1), To: t0.AddDate(0, 3, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return tot
}

func pendingJobs(t *testing.T, s *store.Store, kinds ...string) int {
	t.Helper()
	st, err := s.Queue(context.Background(), kinds)
	if err != nil {
		t.Fatal(err)
	}
	return st.Pending
}

func TestZendeskBackfill(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fake := zendesktest.New(t, zendesktest.WithExportPageSize(10), zendesktest.WithExportsPerMinute(0))
		seedZendesk(fake, 25)
		// A deleted ticket is listed by the export but is no contact.
		fake.AddTicket(zendesktest.Ticket{ID: "999", Status: "deleted", CreatedAt: t0, UpdatedAt: t0.Add(time.Hour)})
		z := newZendesk(t, s, fake)
		var pages int
		sum, err := z.Backfill(ctx, t0, backfill.Options{OnProgress: func(backfill.Progress) { pages++ }})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Records != 26 || sum.Created != 25 || sum.Skipped != 1 || sum.Updated != 0 || !sum.Done || pages != 3 {
			t.Errorf("summary %+v after %d pages, want 26 records, 25 created, 1 deleted skipped, in 3 pages", sum, pages)
		}
		if _, err := s.Contact(ctx, recontact.SourceZendesk, "999"); recontact.ErrorCode(err) != recontact.ENotFound {
			t.Errorf("deleted ticket: %v, want not stored", err)
		}
		if got := fake.Calls(zendesktest.KindExport); got != 3 || sum.Calls != 3+1 {
			t.Errorf("export calls %d (summary %d), want 3 exports + 1 organizations call", got, sum.Calls)
		}
		if got := fake.Calls(zendesktest.KindOrganizations); got != 1 {
			t.Errorf("organizations show_many calls %d, want 1 (bulk, cached)", got)
		}
		for i := 1; i <= 25; i++ {
			want := zendeskTicket(i)
			c, err := s.Contact(ctx, recontact.SourceZendesk, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			email := fmt.Sprintf("customer%d@example.com", i%5+1)
			partner := fmt.Sprintf("partner-%d", (i%5+1)%3+1)
			if c.CustomerKey != email || c.Partner != partner || c.Replies != want.Replies || c.Reopens != want.Reopens ||
				c.Channel != "email" || !c.UpdatedAt.Equal(want.UpdatedAt) {
				t.Errorf("ticket %s: got %s %s replies %d reopens %d channel %q updated %s, want %s %s %d %d email %s",
					want.ID, c.CustomerKey, c.Partner, c.Replies, c.Reopens, c.Channel, c.UpdatedAt, email, partner, want.Replies, want.Reopens, want.UpdatedAt)
			}
		}
		// The metric sets came with the export: no per-ticket look-ups queued.
		if n := pendingJobs(t, s, recontact.JobZendeskMetrics, recontact.JobZendeskOrg, recontact.JobZendeskRequester); n != 0 {
			t.Errorf("%d enrichment jobs pending after the backfill, want 0", n)
		}
		tot := period(t, s)
		if tot.Contacts != 25 || tot.Resolved != 17 || tot.Customers != 5 {
			t.Errorf("period %+v, want 25 contacts, 17 resolved, 5 customers", tot)
		}

		// Run again: nothing new, nothing counted twice.
		again, err := z.Backfill(ctx, t0, backfill.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if again.Created != 0 || again.Updated != 0 {
			t.Errorf("second run %+v, want nothing created or updated", again)
		}
		if got := period(t, s); !reflect.DeepEqual(got, tot) {
			t.Errorf("period after a second run %+v, want %+v", got, tot)
		}
	})
}

func TestZendeskBackfillResumes(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		fake := zendesktest.New(t, zendesktest.WithExportPageSize(10), zendesktest.WithExportsPerMinute(0))
		seedZendesk(fake, 45)
		z := newZendesk(t, s, fake)
		ctx, cancel := context.WithCancel(context.Background())
		first, err := z.Backfill(ctx, t0, backfill.Options{OnProgress: func(p backfill.Progress) {
			if p.Records >= 20 {
				cancel() // as Ctrl-C would, after two committed pages
			}
		}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run: err %v, want context.Canceled", err)
		}
		if first.Created != 20 {
			t.Errorf("interrupted run created %d, want 20", first.Created)
		}
		// A new process: fresh state, only the saved cursor carries over.
		second, err := newZendesk(t, s, fake).Backfill(context.Background(), t0, backfill.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if second.Records != 25 || second.Created != 25 {
			t.Errorf("resumed run %+v, want the remaining 25 records", second)
		}

		// The same figures as one uninterrupted run into a fresh store.
		ref := storetest.SQLite(t, store.Options{})
		if _, err := newZendesk(t, ref, fake).Backfill(context.Background(), t0, backfill.Options{}); err != nil {
			t.Fatal(err)
		}
		if got, want := period(t, s), period(t, ref); !reflect.DeepEqual(got, want) {
			t.Errorf("after resume %+v, want %+v", got, want)
		}
		for i := 1; i <= 45; i++ {
			id := zendeskTicket(i).ID
			got, _ := s.Contact(context.Background(), recontact.SourceZendesk, id)
			want, _ := ref.Contact(context.Background(), recontact.SourceZendesk, id)
			if got == nil || want == nil || got.Replies != want.Replies || got.Reopens != want.Reopens || got.FCR != want.FCR {
				t.Errorf("ticket %s: %+v, want %+v", id, got, want)
			}
		}
	})
}

// webhook ingests a trigger webhook for a seeded ticket as the handler would.
func webhook(t *testing.T, s *store.Store, tk zendesktest.Ticket, email, partner string) {
	t.Helper()
	status := strings.ToUpper(tk.Status[:1]) + tk.Status[1:]
	body := fmt.Sprintf(`{"ticket_id":"%s","created_at":"%s","updated_at":"%s","status":"%s","via":"Mail","requester_id":"%s","requester_email":"%s","org_id":"%s","org_external_id":"%s","tags":""}`,
		tk.ID, tk.CreatedAt.Format("2006-01-02T15:04Z"), tk.UpdatedAt.Format("2006-01-02T15:04Z"), status, tk.RequesterID, email, tk.OrganizationID, partner)
	d, err := zendesk.Parse(http.Header{}, []byte(body), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

// runJobs runs the enrichment queue until it is empty, as serve's runner would.
func runJobs(t *testing.T, s *store.Store, fake *zendesktest.Server) {
	t.Helper()
	c, _ := zendesk.NewClient(zendesk.Config{BaseURL: fake.URL, Email: fake.Email, APIToken: fake.Token})
	r := &worker.Runner{Store: s, Funcs: (&worker.Zendesk{Store: s, Client: c}).Funcs()}
	for {
		n, err := r.RunOnce(context.Background(), slicesOf(maps.Keys(r.Funcs)))
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func slicesOf[T any](seq func(func(T) bool)) []T {
	var out []T
	for v := range seq {
		out = append(out, v)
	}
	return out
}

func TestBackfillOverlappingWebhooksCountsOnce(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		fake := zendesktest.New(t, zendesktest.WithExportPageSize(7), zendesktest.WithExportsPerMinute(0))
		const n = 20
		seedZendesk(fake, n)
		deliverAll := func(s *store.Store, from, to int) {
			for i := from; i <= to; i++ {
				tk := zendeskTicket(i)
				webhook(t, s, tk, fmt.Sprintf("customer%d@example.com", i%5+1), fmt.Sprintf("partner-%d", (i%5+1)%3+1))
			}
		}
		// Webhooks alone, with the resolution look-ups they queue.
		alone := storetest.SQLite(t, store.Options{})
		deliverAll(alone, 1, n)
		runJobs(t, alone, fake)
		want := period(t, alone)

		// Half the webhooks, then the backfill, then every webhook again (the
		// late ones and retries of the early ones).
		deliverAll(s, 1, n/2)
		if _, err := newZendesk(t, s, fake).Backfill(context.Background(), t0, backfill.Options{}); err != nil {
			t.Fatal(err)
		}
		deliverAll(s, 1, n)
		runJobs(t, s, fake)
		if got := period(t, s); !reflect.DeepEqual(got, want) {
			t.Errorf("backfill beside webhooks %+v, want %+v (webhooks alone)", got, want)
		}
		for i := 1; i <= n; i++ {
			tk := zendeskTicket(i)
			c, err := s.Contact(context.Background(), recontact.SourceZendesk, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if c.Replies != tk.Replies || c.Reopens != tk.Reopens {
				t.Errorf("ticket %s: replies %d reopens %d, want %d %d", tk.ID, c.Replies, c.Reopens, tk.Replies, tk.Reopens)
			}
		}
	})
}

func TestReconcileFindsMissedWebhook(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fake := zendesktest.New(t, zendesktest.WithExportPageSize(10), zendesktest.WithExportsPerMinute(0))
		seedZendesk(fake, 12)
		z := newZendesk(t, s, fake)
		if _, err := z.Backfill(ctx, t0, backfill.Options{}); err != nil {
			t.Fatal(err)
		}
		// Two new tickets; only the first one's webhook arrives.
		delivered, lost := zendeskTicket(13), zendeskTicket(14)
		fake.AddTicket(delivered)
		fake.AddTicket(lost)
		webhook(t, s, delivered, "customer4@example.com", "partner-2")

		tm := telemetry.New(s, 7*24*time.Hour, slog.New(slog.DiscardHandler))
		r := &backfill.Reconciler{Store: s, Zendesk: z, Interval: 15 * time.Minute, Budget: time.Minute, Missed: tm.Reconciled}
		if err := r.Schedule(ctx); err != nil {
			t.Fatal(err)
		}
		jobs, err := s.Claim(ctx, []string{recontact.JobReconcile}, 10, time.Minute)
		if err != nil || len(jobs) != 1 || jobs[0].Key != "zendesk" {
			t.Fatalf("claimed %+v (%v), want the one zendesk reconciliation job", jobs, err)
		}
		// Another instance starting now must not queue a second pass.
		if err := r.Schedule(ctx); err != nil {
			t.Fatal(err)
		}
		if n := pendingJobs(t, s, recontact.JobReconcile); n != 0 {
			t.Errorf("%d reconciliation jobs pending beside the running one, want 0", n)
		}
		if err := r.Job(ctx, &jobs[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Contact(ctx, recontact.SourceZendesk, lost.ID); err != nil {
			t.Errorf("ticket whose webhook was lost: %v, want it stored after one pass", err)
		}
		if got := scrape(t, tm, `recontact_reconciled_missed_total{source="zendesk"}`); got != "1" {
			t.Errorf("reconciled counter %q, want 1 (only the lost ticket)", got)
		}
		// The next pass is queued an interval later.
		next, err := s.Jobs(ctx, []string{recontact.JobReconcile}, store.JobPending, 10)
		if err != nil || len(next) != 1 || next[0].RunAt().Before(time.Now().Add(14*time.Minute)) {
			t.Errorf("next pass %+v (%v), want one due in about 15 minutes", next, err)
		}
		if err := s.Complete(ctx, jobs[0].ID); err != nil {
			t.Fatal(err)
		}
		// A pass with nothing new counts nothing.
		if err := r.Job(ctx, &next[0]); err != nil {
			t.Fatal(err)
		}
		if got := scrape(t, tm, `recontact_reconciled_missed_total{source="zendesk"}`); got != "1" {
			t.Errorf("reconciled counter after a quiet pass %q, want still 1", got)
		}
	})
}

func scrape(t *testing.T, tm *telemetry.Metrics, series string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	tm.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

func TestZendeskRetryAfterHonoured(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		fake := zendesktest.New(t, zendesktest.WithExportPageSize(10), zendesktest.WithExportsPerMinute(0))
		seedZendesk(fake, 15)
		fake.FailNext(1, zendesktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second, Kind: zendesktest.KindExport})
		start := time.Now()
		sum, err := newZendesk(t, s, fake).Backfill(context.Background(), t0, backfill.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < 2*time.Second {
			t.Errorf("took %s, want at least the 2 s Retry-After", took)
		}
		if sum.Created != 15 || fake.Throttled() != 1 || fake.Calls(zendesktest.KindExport) != 3 {
			t.Errorf("created %d, throttled %d, export calls %d; want 15, 1, 3", sum.Created, fake.Throttled(), fake.Calls(zendesktest.KindExport))
		}
	})
}

func TestZendeskExportLimitKept(t *testing.T) {
	// Four pages against a limit of 2 calls per 1 s window: the client-side
	// limiter spaces the calls so the fake need not refuse one. Unspaced, at
	// least two of the four would be refused; one is tolerated, as a loaded
	// machine can delay a request across the fake's window edge.
	s := storetest.SQLite(t, store.Options{})
	fake := zendesktest.New(t, zendesktest.WithExportPageSize(5), zendesktest.WithExportsPerMinute(2), zendesktest.WithWindow(time.Second))
	seedZendesk(fake, 18)
	z := newZendesk(t, s, fake)
	z.PerMinute, z.Window = 2, time.Second
	start := time.Now()
	sum, err := z.Backfill(context.Background(), t0, backfill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Errorf("4 calls at 2 per second took %s, want at least 1.5 s", took)
	}
	if sum.Created != 18 || fake.Throttled() > 1 {
		t.Errorf("created %d, throttled %d; want 18, at most 1", sum.Created, fake.Throttled())
	}
}

func seedFreshdesk(f *freshdesktest.Server, n int) {
	for i := 1; i <= n; i++ {
		created := t0.Add(time.Duration(i) * 3 * time.Hour)
		tk := freshdesktest.Ticket{
			ID: int64(i), Status: 2, Source: 1, RequesterID: int64(100 + i%4), RequesterEmail: fmt.Sprintf("guest%d@example.com", i%4),
			CompanyID: int64(50 + i%2), CompanyName: fmt.Sprintf("Hotel %d", i%2),
			CreatedAt: created, UpdatedAt: created.Add(20 * time.Minute),
		}
		if i%2 == 0 {
			tk.Status, tk.ResolvedAt = 4, tk.UpdatedAt
			for r := 0; r < i%3+1; r++ {
				tk.Conversations = append(tk.Conversations, freshdesktest.Conversation{UserID: 9000, Source: 0, Body: "reply", CreatedAt: created.Add(time.Minute)})
			}
		}
		f.AddTicket(tk)
	}
}

func newFreshdesk(t *testing.T, s *store.Store, fake *freshdesktest.Server) *backfill.Freshdesk {
	t.Helper()
	c, err := freshdesk.NewClient(freshdesk.Config{BaseURL: fake.URL, APIKey: fake.APIKey, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	return &backfill.Freshdesk{Store: s, Client: c}
}

func TestFreshdeskBackfill(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fake := freshdesktest.New(t)
		seedFreshdesk(fake, 230) // three list pages of 100
		fake.FailNext(1, freshdesktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Kind: freshdesktest.KindList})
		f := newFreshdesk(t, s, fake)
		start := time.Now()
		ctx2, cancel := context.WithCancel(ctx)
		_, err := f.Backfill(ctx2, t0, backfill.Options{OnProgress: func(p backfill.Progress) {
			if p.Records >= 100 {
				cancel()
			}
		}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run: %v, want context.Canceled", err)
		}
		sum, err := newFreshdesk(t, s, fake).Backfill(ctx, t0, backfill.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !sum.Done || sum.Created != 130 {
			t.Errorf("resumed run %+v, want the other 130 created", sum)
		}
		// 2 calls for page 1 (429, then the retry), then two windows.
		if got := fake.Calls(freshdesktest.KindList); got != 4 || time.Since(start) < time.Second {
			t.Errorf("%d list calls in %s, want 4, with the 429 waited out for its 1 s Retry-After", got, time.Since(start))
		}
		// One company read per company, not per ticket.
		if got := fake.Calls(freshdesktest.KindTicket); got > 4 {
			t.Errorf("%d single-ticket reads, want one per company and run (at most 4)", got)
		}
		for _, i := range []int{1, 2, 4, 229, 230} {
			c, err := s.Contact(ctx, recontact.SourceFreshdesk, strconv.Itoa(i))
			if err != nil {
				t.Fatal(err)
			}
			wantReplies := 0
			if i%2 == 0 {
				wantReplies = i%3 + 1
			}
			if c.Partner != fmt.Sprintf("Hotel %d", i%2) || c.CustomerKey != fmt.Sprintf("guest%d@example.com", i%4) || c.Replies != wantReplies {
				t.Errorf("ticket %d: partner %q customer %q replies %d, want Hotel %d, guest%d@example.com, %d",
					i, c.Partner, c.CustomerKey, c.Replies, i%2, i%4, wantReplies)
			}
		}
		if n := pendingJobs(t, s, recontact.JobFreshdeskTicket); n != 0 {
			t.Errorf("%d freshdesk ticket jobs pending, want 0: the backfill read what they would", n)
		}
		if tot := period(t, s); tot.Contacts != 230 || tot.Resolved != 115 {
			t.Errorf("period %+v, want 230 contacts, 115 resolved", tot)
		}
	})
}

func TestBackfillNeverOverwritesNewer(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fake := zendesktest.New(t, zendesktest.WithExportsPerMinute(0))
		seedZendesk(fake, 1) // ticket 1001: solved, 2 replies, no reopens
		tk := zendeskTicket(1)
		// Live webhooks saw it solved and then reopened, after the export's
		// snapshot was taken (the export here still shows it solved).
		webhook(t, s, tk, "customer2@example.com", "partner-3")
		reopened := tk
		reopened.Status, reopened.UpdatedAt = "open", tk.UpdatedAt.Add(time.Hour)
		webhook(t, s, reopened, "customer2@example.com", "partner-3")
		if _, err := newZendesk(t, s, fake).Backfill(ctx, t0, backfill.Options{}); err != nil {
			t.Fatal(err)
		}
		c, err := s.Contact(ctx, recontact.SourceZendesk, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != recontact.StatusOpen || c.Reopens != 1 || !c.UpdatedAt.Equal(reopened.UpdatedAt) {
			t.Errorf("got %s, %d reopens, updated %s; want the newer webhook's open, 1 reopen, %s", c.Status, c.Reopens, c.UpdatedAt, reopened.UpdatedAt)
		}
	})
}
