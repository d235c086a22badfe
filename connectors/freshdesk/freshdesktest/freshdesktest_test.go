package freshdesktest

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type reply struct {
	status int
	header http.Header
	body   string
}

// call makes one request; key "" sends no auth.
func call(t *testing.T, s *Server, method, path, key, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.SetBasicAuth(key, "X")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func TestAuth(t *testing.T) {
	s := New(t, WithAPIKey("k1"))
	s.AddTicket(Ticket{ID: 1})
	for _, tt := range []struct {
		key  string
		want int
	}{{"", 401}, {"nope", 401}, {"k1", 200}} {
		if r := call(t, s, "GET", "/api/v2/tickets/1", tt.key, ""); r.status != tt.want {
			t.Errorf("key %q: %d %s, want %d", tt.key, r.status, r.body, tt.want)
		}
	}
	if n := s.Calls(KindTicket); n != 3 {
		t.Errorf("calls %d, want 3 (refused ones count)", n)
	}
}

func TestTicketReplies(t *testing.T) {
	s := New(t)
	s.AddTicket(Ticket{ID: 1, Status: 4, Source: 3, RequesterID: 5, RequesterEmail: "a@b.co", CompanyID: 9, CompanyName: "Acme",
		Tags: []string{"vip"}, CreatedAt: t0, UpdatedAt: t0.Add(time.Hour), ResolvedAt: t0.Add(time.Hour)})
	s.AddTicket(Ticket{ID: 2, Forbidden: true})
	s.AddTicket(Ticket{ID: 3, Deleted: true})

	r := call(t, s, "GET", "/api/v2/tickets/1?include=stats,requester,company", s.APIKey, "")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	want := map[string]any{
		"id": 1.0, "status": 4.0, "source": 3.0, "requester_id": 5.0, "company_id": 9.0, "tags": []any{"vip"},
		"created_at": "2026-10-01T08:00:00Z", "updated_at": "2026-10-01T09:00:00Z", "spam": false,
		"requester": map[string]any{"id": 5.0, "email": "a@b.co", "name": "Requester", "mobile": nil, "phone": nil},
		"company":   map[string]any{"id": 9.0, "name": "Acme"},
		"stats":     map[string]any{"resolved_at": "2026-10-01T09:00:00Z", "closed_at": nil, "first_responded_at": nil},
	}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if _, ok := got["deleted"]; ok {
		t.Error("deleted present on a live ticket")
	}
	if r := call(t, s, "GET", "/api/v2/tickets/3", s.APIKey, ""); !strings.Contains(r.body, `"deleted":true`) {
		t.Errorf("trashed ticket: %s, want deleted true", r.body)
	}
	if r := call(t, s, "GET", "/api/v2/tickets/2", s.APIKey, ""); r.status != 403 {
		t.Errorf("forbidden ticket: %d", r.status)
	}
	if r := call(t, s, "GET", "/api/v2/tickets/99", s.APIKey, ""); r.status != 404 || r.body != "" {
		t.Errorf("missing ticket: %d %q, want 404 with an empty body", r.status, r.body)
	}
	if r := call(t, s, "GET", "/api/v2/tickets/1?include=conversations", s.APIKey, ""); r.status != 400 {
		t.Errorf("unmodelled include: %d", r.status)
	}
}

func TestRateLimit(t *testing.T) {
	c := &clock{now: t0}
	s := New(t, WithRequestsPerMinute(4), WithClock(c.Now))
	s.AddTicket(Ticket{ID: 1})
	r := call(t, s, "GET", "/api/v2/tickets/1?include=stats", s.APIKey, "") // 3 credits
	if r.status != 200 || r.header.Get("X-RateLimit-Total") != "4" || r.header.Get("X-RateLimit-Remaining") != "1" ||
		r.header.Get("X-RateLimit-Used-CurrentRequest") != "3" {
		t.Fatalf("first call: %d %v", r.status, r.header)
	}
	c.Advance(20 * time.Second)
	r = call(t, s, "GET", "/api/v2/tickets/1?include=stats", s.APIKey, "")
	if r.status != 429 || r.header.Get("Retry-After") != "40" || r.header.Get("X-RateLimit-Remaining") != "1" {
		t.Fatalf("over the limit: %d Retry-After %q %v", r.status, r.header.Get("Retry-After"), r.header)
	}
	// A cheaper call still fits; unauthorised ones spend credits too.
	if r = call(t, s, "GET", "/api/v2/tickets/1", "", ""); r.status != 401 {
		t.Fatalf("unauthorised: %d", r.status)
	}
	if r = call(t, s, "GET", "/api/v2/tickets/1", s.APIKey, ""); r.status != 429 {
		t.Fatalf("budget spent by a 401: %d", r.status)
	}
	c.Advance(40 * time.Second)
	if r = call(t, s, "GET", "/api/v2/tickets/1?include=stats", s.APIKey, ""); r.status != 200 {
		t.Fatalf("next minute: %d", r.status)
	}
	if s.Throttled() != 2 {
		t.Errorf("throttled %d, want 2", s.Throttled())
	}
}

func TestConversationPaging(t *testing.T) {
	s := New(t)
	convs := make([]Conversation, 65)
	for i := range convs {
		convs[i].UserID = int64(i)
	}
	s.AddTicket(Ticket{ID: 1, Conversations: convs})
	var ids []float64
	path := "/api/v2/tickets/1/conversations"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("Link never ends")
		}
		r := call(t, s, "GET", path, s.APIKey, "")
		var page []map[string]any
		if err := json.Unmarshal([]byte(r.body), &page); err != nil {
			t.Fatal(r.body)
		}
		for _, c := range page {
			ids = append(ids, c["user_id"].(float64))
		}
		path = ""
		if link := r.header.Get("Link"); link != "" {
			target := link[strings.Index(link, "<")+1 : strings.Index(link, ">")]
			path = strings.TrimPrefix(target, s.URL)
		}
	}
	if len(ids) != 65 || ids[0] != 0 || ids[64] != 64 {
		t.Errorf("read %d conversations (%v...), want 65 in order over default pages of 30", len(ids), ids[:min(3, len(ids))])
	}
	for _, q := range []string{"per_page=101", "per_page=0", "page=0", "page=x"} {
		if r := call(t, s, "GET", "/api/v2/tickets/1/conversations?"+q, s.APIKey, ""); r.status != 400 {
			t.Errorf("%s: %d, want 400", q, r.status)
		}
	}
}

func TestList(t *testing.T) {
	c := &clock{now: t0}
	s := New(t, WithClock(c.Now))
	s.AddTicket(Ticket{ID: 1, Status: 3, CreatedAt: t0.Add(-40 * 24 * time.Hour), UpdatedAt: t0.Add(-time.Hour)})
	s.AddTicket(Ticket{ID: 2, Status: 2, CreatedAt: t0.Add(-2 * time.Hour), UpdatedAt: t0.Add(-3 * time.Hour)})
	s.AddTicket(Ticket{ID: 3, Status: 5, CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0.Add(-2 * time.Hour)})
	s.AddTicket(Ticket{ID: 4, Spam: true, CreatedAt: t0.Add(-time.Hour)})
	ids := func(q string) []float64 {
		t.Helper()
		r := call(t, s, "GET", "/api/v2/tickets?"+q, s.APIKey, "")
		var list []map[string]any
		if err := json.Unmarshal([]byte(r.body), &list); err != nil || r.status != 200 {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
		var out []float64
		for _, tk := range list {
			out = append(out, tk["id"].(float64))
		}
		return out
	}
	for q, want := range map[string][]float64{
		"":               {3, 2}, // last 30 days by creation, newest first; no spam
		"order_type=asc": {2, 3}, //
		"updated_since=2026-09-01T00:00:00Z&order_by=updated_at&order_type=asc": {2, 3, 1},
		"updated_since=2026-10-01T06:00:00Z&order_by=updated_at":                {1, 3}, // inclusive
		"updated_since=2026-09-01T00:00:00Z&order_by=status&order_type=asc":     {2, 1, 3},
		"updated_since=2026-09-01T00:00:00Z&per_page=2&page=2":                  {1},
	} {
		if got := ids(q); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: ids %v, want %v", q, got, want)
		}
	}
	for _, q := range []string{"include=company", "order_by=priority", "order_type=up", "updated_since=yesterday", "page=301"} {
		if r := call(t, s, "GET", "/api/v2/tickets?"+q, s.APIKey, ""); r.status != 400 || !strings.Contains(r.body, "Validation failed") {
			t.Errorf("%s: %d %s, want a 400 validation error", q, r.status, r.body)
		}
	}
}

func TestPutTags(t *testing.T) {
	c := &clock{now: t0}
	s := New(t, WithClock(c.Now))
	s.AddTicket(Ticket{ID: 1, Tags: []string{"a", "b"}, UpdatedAt: t0.Add(-time.Hour)})
	for body, want := range map[string]string{
		`{"tags":["x"],"status":4}`: `"code":"invalid_field"`,
		`{"tags":"x"}`:              `"code":"datatype_mismatch"`,
		`{"tags":null}`:             `"code":"datatype_mismatch"`,
		`tags=x`:                    `"code":"invalid_json"`,
	} {
		if r := call(t, s, "PUT", "/api/v2/tickets/1", s.APIKey, body); r.status != 400 || !strings.Contains(r.body, want) {
			t.Errorf("%s: %d %s, want 400 with %s", body, r.status, r.body, want)
		}
	}
	c.Advance(time.Minute)
	if r := call(t, s, "PUT", "/api/v2/tickets/1", s.APIKey, `{"tags":["c"]}`); r.status != 200 || !strings.Contains(r.body, `"tags":["c"]`) {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	got, _ := s.Ticket(1)
	if !reflect.DeepEqual(got.Tags, []string{"c"}) || !got.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("stored %q updated %v, want [c] at %v", got.Tags, got.UpdatedAt, t0.Add(time.Minute))
	}
}

func TestInterleave(t *testing.T) {
	s := New(t)
	s.AddTicket(Ticket{ID: 1, Tags: []string{"a"}})
	s.Interleave(1, AfterOurRead, func(tags []string) []string { return append(tags, "foreign") })
	if r := call(t, s, "GET", "/api/v2/tickets/1", s.APIKey, ""); !strings.Contains(r.body, `"tags":["a"]`) {
		t.Errorf("the read that triggers it shows the old tags: %s", r.body)
	}
	if got, _ := s.Ticket(1); !reflect.DeepEqual(got.Tags, []string{"a", "foreign"}) {
		t.Errorf("after the read: %q", got.Tags)
	}
	call(t, s, "GET", "/api/v2/tickets/1", s.APIKey, "")
	if got, _ := s.Ticket(1); len(got.Tags) != 2 {
		t.Errorf("fired twice: %q", got.Tags)
	}

	s.Interleave(1, AfterOurWrite, func(stale []string) []string { return append(stale, "late") })
	r := call(t, s, "PUT", "/api/v2/tickets/1", s.APIKey, `{"tags":["mine"]}`)
	if !strings.Contains(r.body, `"tags":["mine"]`) {
		t.Errorf("our PUT's reply: %s", r.body)
	}
	if got, _ := s.Ticket(1); !reflect.DeepEqual(got.Tags, []string{"a", "foreign", "late"}) {
		t.Errorf("after the stale write: %q, want the pre-PUT tags plus late", got.Tags)
	}
}

func TestNotes(t *testing.T) {
	s := New(t, WithAgentID(42))
	s.AddTicket(Ticket{ID: 1})
	for body, want := range map[string]Note{
		`{"body":"<p>a</p>"}`:                 {Body: "<p>a</p>", Private: true},
		`{"body":"<p>b</p>","private":true}`:  {Body: "<p>b</p>", Private: true, PrivateSent: true},
		`{"body":"<p>c</p>","private":false}`: {Body: "<p>c</p>", PrivateSent: true},
	} {
		if r := call(t, s, "POST", "/api/v2/tickets/1/notes", s.APIKey, body); r.status != 201 {
			t.Fatalf("%s: %d %s", body, r.status, r.body)
		}
		notes := s.Notes(1)
		got := notes[len(notes)-1]
		got.At = time.Time{}
		if got != want {
			t.Errorf("%s: stored %+v, want %+v", body, got, want)
		}
	}
	if r := call(t, s, "POST", "/api/v2/tickets/1/notes", s.APIKey, `{"private":true}`); r.status != 400 {
		t.Errorf("note without body: %d", r.status)
	}
	tk, _ := s.Ticket(1)
	notes := s.Notes(1)
	if len(tk.Conversations) != len(notes) {
		t.Fatalf("%d conversations for %d notes", len(tk.Conversations), len(notes))
	}
	for i, c := range tk.Conversations {
		if c.Source != 2 || c.UserID != 42 || c.Incoming || c.Private != notes[i].Private || c.Body != notes[i].Body {
			t.Errorf("note %d as a conversation: %+v, note %+v", i, c, notes[i])
		}
	}
}

func TestFaults(t *testing.T) {
	s := New(t)
	s.AddTicket(Ticket{ID: 1})
	s.FailNext(2, Fault{Status: 503, RetryAfter: 1500 * time.Millisecond, Kind: KindNote})
	if r := call(t, s, "GET", "/api/v2/tickets/1", s.APIKey, ""); r.status != 200 {
		t.Errorf("a note fault hit a GET: %d", r.status)
	}
	for i := range 2 {
		r := call(t, s, "POST", "/api/v2/tickets/1/notes", s.APIKey, `{"body":"x"}`)
		if r.status != 503 || r.header.Get("Retry-After") != "2" {
			t.Errorf("note %d: %d Retry-After %q, want 503 and 2", i, r.status, r.header.Get("Retry-After"))
		}
	}
	if r := call(t, s, "POST", "/api/v2/tickets/1/notes", s.APIKey, `{"body":"x"}`); r.status != 201 {
		t.Errorf("after the faults: %d", r.status)
	}
	if n := len(s.Notes(1)); n != 1 {
		t.Errorf("%d notes stored, want 1", n)
	}

	s.SetLatency(150 * time.Millisecond)
	start := time.Now()
	call(t, s, "GET", "/api/v2/tickets/1", s.APIKey, "")
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("latency %v, want at least 150ms", d)
	}
}
