package handlers_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/bookings"
	"github.com/recontact/recontact/connectors/freshdesk"
	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/handlers"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	storetest.DropTemplates()
	os.Exit(code)
}

const (
	zdSecret    = "zd-signing-secret"
	fdSecret    = "fd-shared-secret"
	bookSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	adminToken  = "admin-token-for-tests"
	triggerBody = `{"ticket_id":"101","created_at":"2026-10-05T10:00Z","updated_at":"2026-10-05T10:02Z","status":"Open","via":"Mail","requester_id":"55","requester_email":"Alice@Example.com","org_id":"","org_external_id":"partner-a","tags":"vip billing"}`
)

type env struct {
	t     *testing.T
	srv   *httptest.Server
	store *store.Store
	now   time.Time
}

func newEnv(t *testing.T, s *store.Store) *env {
	now := time.Now().UTC()
	zv := &zendesk.Verifier{Secret: zdSecret}
	bv, err := bookings.NewVerifier(bookSecret, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	fv := &freshdesk.Verifier{Secret: fdSecret}
	h := handlers.New(handlers.Config{
		Store: s, AdminToken: adminToken,
		Connectors: map[recontact.Source]handlers.Connector{
			recontact.SourceZendesk:   {Verify: zv.Verify, Parse: zendesk.Parse},
			recontact.SourceBookings:  {Verify: bv.Verify, Parse: bookings.Parse},
			recontact.SourceFreshdesk: {Verify: fv.Verify, Parse: freshdesk.Parse},
		},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, store: s, now: now}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) do(req *http.Request) reply {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		e.t.Fatalf("%s %s answered %d with non-JSON %q", req.Method, req.URL.Path, resp.StatusCode, raw)
	}
	return r
}

func (e *env) zendesk(body string, mutate ...func(http.Header)) reply {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/zendesk", strings.NewReader(body))
	ts := time.Now().UTC().Format(time.RFC3339)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
	req.Header.Set("X-Zendesk-Webhook-Signature", zendesk.Sign(zdSecret, ts, []byte(body)))
	for _, m := range mutate {
		m(req.Header)
	}
	return e.do(req)
}

func (e *env) booking(id, body string, mutate ...func(http.Header)) reply {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/bookings", strings.NewReader(body))
	now := time.Now()
	sig, err := bookings.Sign(bookSecret, id, now, []byte(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
	req.Header.Set("webhook-signature", sig)
	for _, m := range mutate {
		m(req.Header)
	}
	return e.do(req)
}

func (e *env) get(path string, token string) reply {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.do(req)
}

func wantStatus(t *testing.T, r reply, status int, errContains string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
	if errContains != "" {
		msg, _ := r.body["error"].(string)
		if !strings.Contains(msg, errContains) {
			t.Fatalf("error %q, want it to mention %q", msg, errContains)
		}
	}
}

func TestZendeskTriggerEndToEnd(t *testing.T) {
	storetest.Each(t, store.Options{GroupCommit: true}, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		wantStatus(t, e.zendesk(triggerBody), http.StatusOK, "")
		r := e.zendesk(triggerBody)
		wantStatus(t, r, http.StatusOK, "")
		if r.body["status"] != "duplicate" {
			t.Errorf("second delivery status %v, want duplicate", r.body["status"])
		}
		got := e.get("/api/v1/tickets/zendesk/101", adminToken)
		wantStatus(t, got, http.StatusOK, "")
		want := map[string]any{
			"source": "zendesk", "ticket_id": "101", "customer": "a***@example.com", "partner": "partner-a",
			"channel": "email", "status": "open", "created_at": "2026-10-05T10:00:00Z", "resolved_at": nil,
		}
		for k, v := range want {
			if got.body[k] != v {
				t.Errorf("%s = %#v, want %#v", k, got.body[k], v)
			}
		}
		if strings.Contains(got.raw, "alice") || strings.Contains(got.raw, "Alice") {
			t.Errorf("full e-mail leaked: %s", got.raw)
		}
	})
}

func TestZendeskEventEndToEnd(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		ev := func(id, typ, status, updated, event string) string {
			return `{"type":"zen:event-type:ticket.` + typ + `","account_id":22129848,"id":"` + id + `","time":"` + updated + `",
"zendesk_event_version":"2022-11-06","subject":"zen:ticket:5158","detail":{"actor_id":"1","assignee_id":"1",
"created_at":"2025-01-08T10:12:07Z","id":"5158","organization_id":null,"priority":"LOW","requester_id":"8447388090494",
"status":"` + status + `","subject":"x","tags":null,"type":"TASK","updated_at":"` + updated + `","via":{"channel":"web_service"}},"event":` + event + `}`
		}
		wantStatus(t, e.zendesk(ev("e1", "created", "NEW", "2025-01-08T10:12:07Z", `{}`)), http.StatusOK, "")
		reply := `{"comment":{"id":1,"body":"hi","is_public":true,"author":{"id":"2","is_staff":true,"name":"A"}}}`
		wantStatus(t, e.zendesk(ev("e2", "comment_added", "OPEN", "2025-01-08T10:20:00Z", reply)), http.StatusOK, "")
		wantStatus(t, e.zendesk(ev("e2", "comment_added", "OPEN", "2025-01-08T10:20:00Z", reply)), http.StatusOK, "") // retried
		wantStatus(t, e.zendesk(ev("e3", "status_changed", "SOLVED", "2025-01-08T11:00:00Z", `{"current":"SOLVED","previous":"OPEN"}`)), http.StatusOK, "")
		got := e.get("/api/v1/tickets/zendesk/5158", adminToken)
		wantStatus(t, got, http.StatusOK, "")
		if got.body["status"] != "solved" || got.body["replies"] != 1.0 || got.body["resolved_at"] != "2025-01-08T11:00:00Z" {
			t.Errorf("got status %v replies %v resolved_at %v; want solved, 1, 2025-01-08T11:00:00Z", got.body["status"], got.body["replies"], got.body["resolved_at"])
		}
		// Events carry no e-mail: until the requester is looked up the customer
		// is keyed by the requester id (metrics.md).
		if got.body["customer"] != "zendesk:8447388090494" {
			t.Errorf("customer = %v, want zendesk:8447388090494", got.body["customer"])
		}
	})
}

func TestZendeskRejections(t *testing.T) {
	s := storetest.SQLite(t, store.Options{})
	e := newEnv(t, s)
	for _, tc := range []struct {
		name   string
		body   string
		mutate func(http.Header)
		status int
		msg    string
	}{
		{"missing signature", triggerBody, func(h http.Header) { h.Del("X-Zendesk-Webhook-Signature") }, 401, "X-Zendesk-Webhook-Signature"},
		{"wrong signature", triggerBody, func(h http.Header) {
			h.Set("X-Zendesk-Webhook-Signature", zendesk.Sign("other", h.Get("X-Zendesk-Webhook-Signature-Timestamp"), []byte(triggerBody)))
		}, 401, "signature"},
		{"stale timestamp", triggerBody, func(h http.Header) {
			ts := time.Now().Add(-6 * time.Minute).UTC().Format(time.RFC3339)
			h.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
			h.Set("X-Zendesk-Webhook-Signature", zendesk.Sign(zdSecret, ts, []byte(triggerBody)))
		}, 401, "timestamp"},
		{"not JSON", `{"ticket_id":`, nil, 400, "JSON"},
		{"missing ticket id", `{"created_at":"2026-10-05T10:00Z","updated_at":"2026-10-05T10:00Z","requester_email":"a@example.com"}`, nil, 400, "ticket_id"},
		{"bad timestamp", `{"ticket_id":"1","created_at":"yesterday","updated_at":"2026-10-05T10:00Z"}`, nil, 400, "created_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m []func(http.Header)
			if tc.mutate != nil {
				m = append(m, tc.mutate)
			}
			wantStatus(t, e.zendesk(tc.body, m...), tc.status, tc.msg)
		})
	}
	var n int
	if err := s.DB().Get(&n, `SELECT COUNT(*) FROM deliveries`); err != nil || n != 0 {
		t.Errorf("rejected deliveries stored: %d (%v)", n, err)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t, store.Options{}))
	big := `{"ticket_id":"1","pad":"` + strings.Repeat("x", handlers.MaxBody) + `"}`
	wantStatus(t, e.zendesk(big), http.StatusRequestEntityTooLarge, "1 MiB")
	// Without a Content-Length the limit still holds while reading.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/bookings", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	wantStatus(t, e.do(req), http.StatusRequestEntityTooLarge, "1 MiB")
}

func TestBookingWebhook(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		body := `{"type":"booking.created","data":{"id":"bk1","partner_id":"partner-a","customer_email":"a@example.com","created_at":"2026-10-01T09:00:00Z","check_in":"2026-10-10","check_out":"2026-10-12","status":"confirmed"}}`
		wantStatus(t, e.booking("msg_1", body), http.StatusOK, "")
		r := e.booking("msg_1", body)
		if r.body["status"] != "duplicate" {
			t.Errorf("retry of msg_1: %v, want duplicate", r.body["status"])
		}
		wantStatus(t, e.booking("msg_2", body, func(h http.Header) { h.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=") }), 401, "")
		wantStatus(t, e.booking("msg_3", body, func(h http.Header) { h.Del("webhook-id") }), 401, "")
		wantStatus(t, e.booking("msg_4", `{"type":"booking.created","data":{"id":"bk2","customer_email":"a@example.com","created_at":"2026-10-01","check_in":"2026-10-10","check_out":"2026-10-12"}}`), 400, "partner_id")
		m := e.get("/api/v1/metrics?from=2026-10-01&to=2026-11-01", adminToken)
		wantStatus(t, m, http.StatusOK, "")
		if tot := m.body["totals"].(map[string]any); tot["bookings"] != 1.0 {
			t.Errorf("bookings = %v, want 1", tot["bookings"])
		}
	})
}

func TestFreshdeskWebhookAuth(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t, store.Options{}))
	body := `{"ticket_id": 42, "event": "{ticket_action:created}", "requester_email": "b@example.com"}`
	post := func(set func(*http.Request)) reply {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/freshdesk", strings.NewReader(body))
		set(req)
		return e.do(req)
	}
	wantStatus(t, post(func(r *http.Request) { r.Header.Set("X-Recontact-Secret", fdSecret) }), 200, "")
	wantStatus(t, post(func(r *http.Request) { r.SetBasicAuth("freshdesk", fdSecret) }), 200, "")
	wantStatus(t, post(func(r *http.Request) { r.Header.Set("X-Recontact-Secret", "nope") }), 401, "secret")
	wantStatus(t, post(func(r *http.Request) {}), 401, "secret")
}

func TestAdminAPI(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t, store.Options{}))
	wantStatus(t, e.get("/api/v1/tickets/zendesk/1", ""), 401, "admin token")
	wantStatus(t, e.get("/api/v1/tickets/zendesk/1", "wrong"), 401, "admin token")
	wantStatus(t, e.get("/api/v1/tickets/zendesk/404", adminToken), 404, "404")
	wantStatus(t, e.get("/api/v1/tickets/jira/1", adminToken), 400, "source")
	wantStatus(t, e.get("/api/v1/metrics", ""), 401, "")
	wantStatus(t, e.get("/api/v1/metrics?from=2026-11-01&to=2026-10-01", adminToken), 400, "before")
	wantStatus(t, e.get("/api/v1/metrics?from=last+week", adminToken), 400, "from")
	wantStatus(t, e.get("/api/v1/metrics?group_by=colour", adminToken), 400, "group_by")
	wantStatus(t, e.get("/api/v1/metrics?from=2000-01-01&to=2026-01-01&group_by=day", adminToken), 400, "buckets")
	wantStatus(t, e.get("/healthz", ""), 200, "")
	wantStatus(t, e.get("/readyz", ""), 200, "")
	wantStatus(t, e.get("/nowhere", ""), 404, "")
}

// TestStoreDown answers 503 with Retry-After when PostgreSQL goes away, so
// the sender retries instead of losing the delivery.
func TestStoreDown(t *testing.T) {
	url := storetest.PostgresURL(t)
	s, err := store.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := newEnv(t, s)
	admin, err := sql.Open("postgres", storetest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := url[strings.LastIndex(url, "/")+1:]
	name = strings.SplitN(name, "?", 2)[0]
	if _, err := admin.Exec(`DROP DATABASE ` + name + ` WITH (FORCE)`); err != nil {
		t.Fatal(err)
	}
	r := e.zendesk(triggerBody)
	wantStatus(t, r, http.StatusServiceUnavailable, "")
	if r.header.Get("Retry-After") != "30" {
		t.Errorf("Retry-After = %q, want 30", r.header.Get("Retry-After"))
	}
	wantStatus(t, e.get("/readyz", ""), http.StatusServiceUnavailable, "")
}
