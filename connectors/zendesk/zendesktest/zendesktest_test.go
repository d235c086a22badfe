package zendesktest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var day0 = time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC)

// call sends one request with the server's credentials unless auth is false.
func call(t *testing.T, s *Server, method, path, body string, auth bool) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth(s.Email+"/token", s.Token)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp, out
}

func TestAuth(t *testing.T) {
	s := New(t, WithCredentials("bot@example.com", "t0k"))
	s.AddTicket(Ticket{ID: "1"})
	tests := []struct {
		name      string
		user, pwd string
		want      int
	}{
		{"token auth", "bot@example.com/token", "t0k", 200},
		{"password-style user", "bot@example.com", "t0k", 401},
		{"wrong token", "bot@example.com/token", "t0k2", 401},
		{"other user", "eve@example.com/token", "t0k", 401},
	}
	for _, tt := range tests {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL+"/api/v2/tickets/1", nil)
		req.SetBasicAuth(tt.user, tt.pwd)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
	if resp, _ := call(t, s, "GET", "/api/v2/tickets/1", "", false); resp.StatusCode != 401 {
		t.Errorf("no auth: status %d, want 401", resp.StatusCode)
	}
}

func TestRateHeadersAndLimits(t *testing.T) {
	clock := NewClock(day0.Add(20 * time.Second))
	s := New(t, WithClock(clock.Now), WithRequestsPerMinute(3), WithTicketUpdatesPerMinute(1))
	s.AddTicket(Ticket{ID: "1", Status: "open"})

	resp, _ := call(t, s, "PUT", "/api/v2/tickets/1/tags", `{"tags":["a"]}`, true)
	h := resp.Header
	if h.Get("X-Rate-Limit") != "3" || h.Get("X-Rate-Limit-Remaining") != "2" || h.Get("Ratelimit-Reset") != "40" ||
		h.Get("Zendesk-RateLimit-tickets-update") != "total=1; remaining=0; resets=40" {
		t.Fatalf("headers after one update: %v", h)
	}
	resp, body := call(t, s, "PUT", "/api/v2/tickets/1/tags", `{"tags":["b"]}`, true)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "40" || body["error"] != "TicketUpdateRateLimitExceeded" {
		t.Fatalf("second update: %d Retry-After %q %v; want 429 after 40", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, _ = call(t, s, "GET", "/api/v2/tickets/1", "", true); resp.StatusCode != 200 {
		t.Fatalf("read while updates are limited: %d", resp.StatusCode)
	}
	if resp, _ = call(t, s, "GET", "/api/v2/tickets/1", "", true); resp.StatusCode != 429 {
		t.Fatalf("fourth request of 3 a minute: %d, want 429", resp.StatusCode)
	}
	if s.Throttled() != 2 || s.Calls(KindAddTags) != 2 || s.Calls(KindTicket) != 2 {
		t.Fatalf("throttled %d, tag calls %d, reads %d; want 2, 2, 2", s.Throttled(), s.Calls(KindAddTags), s.Calls(KindTicket))
	}
	clock.Advance(40 * time.Second)
	if resp, _ = call(t, s, "PUT", "/api/v2/tickets/1/tags", `{"tags":["b"]}`, true); resp.StatusCode != 200 {
		t.Fatalf("update in the next window: %d", resp.StatusCode)
	}
}

func TestWindowRunsFasterThanAMinute(t *testing.T) {
	s := New(t, WithWindow(time.Second), WithRequestsPerMinute(1))
	s.AddTicket(Ticket{ID: "1"})
	deadline := time.Now().Add(3 * time.Second)
	ok := 0
	for time.Now().Before(deadline) && ok < 2 {
		resp, _ := call(t, s, "GET", "/api/v2/tickets/1", "", true)
		switch resp.StatusCode {
		case 200:
			ok++
		case 429:
			if ra := resp.Header.Get("Retry-After"); ra != "1" {
				t.Fatalf("Retry-After %q in a 1s window, want 1", ra)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if ok < 2 {
		t.Fatalf("%d successes in 3s with a 1s window of 1 request, want 2", ok)
	}
}

func TestTicketWrites(t *testing.T) {
	s := New(t)
	s.AddTicket(Ticket{ID: "1", Status: "solved", Tags: []string{"a", "b"}, UpdatedAt: day0})

	// A ticket PUT with tags replaces them all (§4); the fake must show that
	// misuse rather than hide it.
	resp, _ := call(t, s, "PUT", "/api/v2/tickets/1", `{"ticket":{"tags":["c"],"additional_tags":["x"],"status":"open","comment":{"body":"hi"}}}`, true)
	tk, _ := s.Ticket("1")
	if resp.StatusCode != 200 || !slices.Equal(tk.Tags, []string{"c"}) || tk.Status != "open" || tk.Reopens != 1 || !tk.UpdatedAt.After(day0) {
		t.Fatalf("after PUT ticket: %d %+v", resp.StatusCode, tk)
	}
	if len(tk.Comments) != 1 || !tk.Comments[0].Public {
		t.Fatalf("comment without public: %+v, want public as Zendesk defaults", tk.Comments)
	}
	resp, body := call(t, s, "POST", "/api/v2/tickets/1/tags", `{"tags":["d"]}`, true)
	if resp.StatusCode != 200 || s.Calls(KindSetTags) != 1 || body["tags"].([]any)[0] != "d" {
		t.Fatalf("POST tags: %d %v, set-tags calls %d", resp.StatusCode, body, s.Calls(KindSetTags))
	}
	resp, _ = call(t, s, "DELETE", "/api/v2/tickets/1/tags", `{"tags":["d"]}`, true)
	if tk, _ = s.Ticket("1"); resp.StatusCode != 204 || len(tk.Tags) != 0 {
		t.Fatalf("DELETE tags: %d, tags %v", resp.StatusCode, tk.Tags)
	}
	for _, body := range []string{``, `{}`, `{"tags":[]}`} {
		if resp, _ = call(t, s, "PUT", "/api/v2/tickets/1/tags", body, true); resp.StatusCode != 400 {
			t.Errorf("PUT tags %q: %d, want 400", body, resp.StatusCode)
		}
	}
	if resp, _ = call(t, s, "PUT", "/api/v2/tickets/update_many", `{"tickets":[{"id":1}]}`, true); resp.StatusCode != 400 {
		t.Errorf("batch-form update_many: %d, want 400", resp.StatusCode)
	}
	if resp, _ = call(t, s, "GET", "/api/v2/nope", "", true); resp.StatusCode != 404 {
		t.Errorf("unknown endpoint: %d, want 404", resp.StatusCode)
	}
}

func TestFaultsAndLatency(t *testing.T) {
	s := New(t)
	s.AddTicket(Ticket{ID: "1"})
	s.FailNext(1, Fault{Status: 503, RetryAfter: 2500 * time.Millisecond, Kind: KindMetrics})
	if resp, _ := call(t, s, "GET", "/api/v2/tickets/1", "", true); resp.StatusCode != 200 {
		t.Fatalf("fault for metrics hit a ticket read: %d", resp.StatusCode)
	}
	resp, _ := call(t, s, "GET", "/api/v2/tickets/1/metrics", "", false)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("faulted metrics: %d Retry-After %q; want 503 before auth, 3", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	s.SetLatency(150 * time.Millisecond)
	start := time.Now()
	call(t, s, "GET", "/api/v2/tickets/1", "", true)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("answer after %s, want the 150ms latency", d)
	}
}

func TestJobsAndExportEdges(t *testing.T) {
	s := New(t, WithJobPolls(5))
	s.AddTicket(Ticket{ID: "1", Tags: []string{"x"}})
	_, body := call(t, s, "PUT", "/api/v2/tickets/update_many?ids=1", `{"ticket":{"additional_tags":"a b","remove_tags":["x"]}}`, true)
	job := body["job_status"].(map[string]any)
	if job["status"] != "queued" {
		t.Fatalf("new job %v, want queued", job)
	}
	s.RunJobs()
	if tk, _ := s.Ticket("1"); !slices.Equal(tk.Tags, []string{"a", "b"}) {
		t.Fatalf("tags after RunJobs = %v, want [a b]", tk.Tags)
	}
	_, body = call(t, s, "GET", "/api/v2/job_statuses/"+job["id"].(string), "", true)
	if body["job_status"].(map[string]any)["status"] != "completed" {
		t.Fatalf("job after RunJobs: %v", body)
	}
	tooRecent := "?start_time=" + strconv.FormatInt(time.Now().Add(-30*time.Second).Unix(), 10)
	for _, q := range []string{"", "?start_time=1&cursor=x", "?cursor=!!", "?start_time=abc", tooRecent} {
		if resp, _ := call(t, s, "GET", "/api/v2/incremental/tickets/cursor"+q, "", true); resp.StatusCode != 400 {
			t.Errorf("export %q: %d, want 400", q, resp.StatusCode)
		}
	}
}

// Concurrent API writes and agent edits lose nothing (run with -race).
func TestConcurrentTagWrites(t *testing.T) {
	s := New(t, WithTicketUpdatesPerMinute(0))
	s.AddTicket(Ticket{ID: "1"})
	var wg sync.WaitGroup
	for i := range 20 {
		tag := "t" + strings.Repeat("x", i)
		wg.Go(func() {
			if i%2 == 0 {
				s.AddTagsAsAgent("1", tag)
				return
			}
			req, _ := http.NewRequest("PUT", s.URL+"/api/v2/tickets/1/tags", strings.NewReader(`{"tags":["`+tag+`"]}`))
			req.SetBasicAuth(s.Email+"/token", s.Token)
			if resp, err := s.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if tk, _ := s.Ticket("1"); len(tk.Tags) != 20 {
		t.Fatalf("%d tags after 20 concurrent adds, want 20: %v", len(tk.Tags), tk.Tags)
	}
}
