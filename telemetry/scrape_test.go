package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/bookings"
	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/handlers"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
	"github.com/recontact/recontact/telemetry"
)

func TestMain(m *testing.M) {
	code := m.Run()
	storetest.DropTemplates()
	os.Exit(code)
}

const (
	zdSecret     = "zd-secret"
	bookSecret   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	metricsToken = "scrape-token"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type rig struct {
	t   *testing.T
	srv *httptest.Server
}

func (r *rig) post(path string, h http.Header, body string) int {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+path, strings.NewReader(body))
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (r *rig) ticket(id, email string, created time.Time, secret string) int {
	body := fmt.Sprintf(`{"ticket_id":"%s","created_at":"%s","updated_at":"%s","status":"Open","via":"Mail","requester_email":"%s","org_external_id":"partner-a"}`,
		id, created.Format(time.RFC3339), created.Format(time.RFC3339), email)
	ts := time.Now().UTC().Format(time.RFC3339)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
	h.Set("X-Zendesk-Webhook-Signature", zendesk.Sign(secret, ts, []byte(body)))
	return r.post("/webhooks/zendesk", h, body)
}

func (r *rig) booking(id, email string, made time.Time) int {
	body := fmt.Sprintf(`{"type":"booking.created","data":{"id":"%s","partner_id":"partner-a","customer_email":"%s","created_at":"%s","check_in":"2027-01-10","check_out":"2027-01-12","status":"confirmed"}}`,
		id, email, made.Format(time.RFC3339))
	now := time.Now()
	sig, err := bookings.Sign(bookSecret, "msg-"+id, now, []byte(body))
	if err != nil {
		r.t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg-"+id)
	h.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
	h.Set("webhook-signature", sig)
	return r.post("/webhooks/bookings", h, body)
}

func (r *rig) scrape() string {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		r.t.Fatalf("scrape: %d %s", resp.StatusCode, body)
	}
	return string(body)
}

func wantLines(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(body, "\n"+l+"\n") {
			t.Errorf("scrape lacks %q", l)
		}
	}
}

// TestScrapeAfterDeliveries sends real signed webhooks through the HTTP
// handlers, on both stores, and reads the exposition text back.
func TestScrapeAfterDeliveries(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Now().UTC()}
		s.Now = clk.now
		m := telemetry.New(s, 7*24*time.Hour, slog.New(slog.DiscardHandler))
		bv, err := bookings.NewVerifier(bookSecret, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		zv := &zendesk.Verifier{Secret: zdSecret}
		h := handlers.New(handlers.Config{Store: s, AdminToken: "admin", Observer: m, Prometheus: m.Handler(), MetricsToken: metricsToken,
			Connectors: map[recontact.Source]handlers.Connector{
				recontact.SourceZendesk:  {Verify: zv.Verify, Parse: zendesk.Parse},
				recontact.SourceBookings: {Verify: bv.Verify, Parse: bookings.Parse},
			}})
		r := &rig{t: t, srv: httptest.NewServer(h)}
		defer r.srv.Close()

		made := clk.now().Add(-48 * time.Hour).Truncate(time.Second)
		for i := range 4 {
			if code := r.booking(fmt.Sprint("bk-", i), fmt.Sprintf("g%d@example.com", i), made); code != http.StatusOK {
				t.Fatalf("booking: %d", code)
			}
		}
		if r.ticket("1", "g1@example.com", made, zdSecret) != 200 || r.ticket("1", "g1@example.com", made, zdSecret) != 200 ||
			r.ticket("2", "g1@example.com", made.Add(time.Hour), zdSecret) != 200 || r.ticket("3", "g2@example.com", made, "wrong") != 401 {
			t.Fatal("deliveries not answered as expected")
		}
		if code := r.post("/webhooks/zendesk", http.Header{}, "{}"); code != 401 {
			t.Fatalf("unsigned: %d", code)
		}
		if err := drain(ctx, s); err != nil {
			t.Fatal(err)
		}
		// One alert dead-lettered.
		if err := s.Enqueue(ctx, recontact.Job{Kind: recontact.JobAlert, Key: "a"}); err != nil {
			t.Fatal(err)
		}
		jobs, err := s.Claim(ctx, []string{recontact.JobAlert}, 1, time.Minute)
		if err != nil || len(jobs) != 1 {
			t.Fatal(jobs, err)
		}
		if err := s.Retry(ctx, &jobs[0], clk.now(), errors.New("receiver down"), 1); err != nil {
			t.Fatal(err)
		}

		// One delivery waiting to be applied, one that could not be; one
		// changed contact waiting for evaluation.
		if _, err := s.DB().Exec(`INSERT INTO inbox (delivery, error) VALUES ('{}', ''), ('x', 'invalid character')`); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().Exec(`INSERT INTO marks (contact_id) SELECT id FROM contacts WHERE ticket_id = '1'`); err != nil {
			t.Fatal(err)
		}

		body := r.scrape()
		wantLines(t, body,
			`recontact_webhook_deliveries_total{outcome="accepted",source="zendesk"} 2`,
			`recontact_webhook_deliveries_total{outcome="duplicate",source="zendesk"} 1`,
			`recontact_webhook_deliveries_total{outcome="rejected_unauthorized",source="zendesk"} 2`,
			`recontact_webhook_deliveries_total{outcome="accepted",source="bookings"} 4`,
			`recontact_ingest_seconds_count{source="zendesk"} 5`,
			`recontact_ingest_seconds_count{source="bookings"} 4`,
			`recontact_dead_letters{kind="alert"} 1`,
			`recontact_dead_letters{kind="writeback"} 0`,
			`recontact_inbox{state="waiting"} 1`,
			`recontact_inbox{state="failed"} 1`,
			`recontact_evaluation_backlog 1`,
			`recontact_jobs{queue="alerts",state="failed"} 1`,
			// 2 contacts / 4 bookings; g1 came twice: 1 of 1 customer repeats.
			`recontact_rate{rate="contact_ratio"} 0.5`,
			`recontact_rate{rate="repeat_contact_rate"} 1`,
		)
		if strings.Contains(body, `rate="fcr_rate"`) {
			t.Error("fcr_rate shown with nothing resolved")
		}

		// A third contact: the cached rates stand until RatesTTL has passed.
		if r.ticket("4", "g3@example.com", made, zdSecret) != 200 {
			t.Fatal("ticket 4")
		}
		if err := drain(ctx, s); err != nil {
			t.Fatal(err)
		}
		wantLines(t, r.scrape(), `recontact_rate{rate="contact_ratio"} 0.5`, `recontact_evaluation_backlog 0`)
		clk.add(telemetry.RatesTTL + time.Second)
		wantLines(t, r.scrape(), `recontact_rate{rate="contact_ratio"} 0.75`, `recontact_rate{rate="repeat_contact_rate"} 0.5`)

		// METRICS_TOKEN guards the endpoint.
		resp, err := http.Get(r.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("scrape without token: %d", resp.StatusCode)
		}
	})
}

func drain(ctx context.Context, s *store.Store) error {
	for {
		n, err := s.EvaluateDirty(ctx, 100)
		if err != nil || n == 0 {
			return err
		}
	}
}
