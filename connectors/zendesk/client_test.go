package zendesk

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/zendesk/zendesktest"
)

var day0 = time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC)

// newClient builds a client for the fake with short retry waits.
func newClient(t *testing.T, s *zendesktest.Server, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: s.URL, Email: s.Email, APIToken: s.Token}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	c.http.RetryWaitMin = 10 * time.Millisecond
	return c
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, what string, err error, code recontact.Code) {
	t.Helper()
	if err == nil || recontact.ErrorCode(err) != code {
		t.Fatalf("%s: err = %v (code %s), want code %s", what, err, recontact.ErrorCode(err), code)
	}
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		wantErr    bool
		configured bool
		base       string
	}{
		{"empty is valid but unconfigured", Config{}, false, false, ""},
		{"subdomain", Config{Subdomain: "acme", Email: "a@b.c", APIToken: "tok"}, false, true, "https://acme.zendesk.com"},
		{"base URL wins", Config{Subdomain: "acme", BaseURL: "http://127.0.0.1:1/", Email: "a@b.c", APIToken: "tok"}, false, true, "http://127.0.0.1:1"},
		{"full host as subdomain", Config{Subdomain: "acme.zendesk.com", Email: "a@b.c", APIToken: "tok"}, true, false, ""},
		{"no subdomain", Config{Email: "a@b.c", APIToken: "tok"}, true, false, ""},
		{"no token", Config{Subdomain: "acme", Email: "a@b.c"}, true, false, ""},
		{"no email", Config{Subdomain: "acme", APIToken: "tok-XYZ"}, true, false, ""},
		{"bad base URL", Config{BaseURL: "acme.zendesk.com", Email: "a@b.c", APIToken: "tok"}, true, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.cfg)
			if tt.wantErr {
				wantCode(t, "NewClient", err, recontact.EInvalid)
				if tt.cfg.APIToken != "" && strings.Contains(err.Error(), tt.cfg.APIToken) {
					t.Fatalf("error %q shows the token", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient = %v", err)
			}
			if c.Configured() != tt.configured || c.base != tt.base {
				t.Fatalf("Configured() = %v, base %q; want %v, %q", c.Configured(), c.base, tt.configured, tt.base)
			}
		})
	}
	// §10: Basic base64("{email}/token:{token}").
	c, _ := NewClient(Config{Subdomain: "acme", Email: "jdoe@example.com", APIToken: "6wiI"})
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("jdoe@example.com/token:6wiI")); c.auth != want {
		t.Fatalf("auth = %q, want %q", c.auth, want)
	}
	unset, _ := NewClient(Config{})
	_, err := unset.Ticket(t.Context(), "1")
	if !errors.Is(err, ErrNotConfigured) || recontact.ErrorCode(err) != recontact.EUnavailable {
		t.Fatalf("unconfigured Ticket = %v, want EUnavailable wrapping ErrNotConfigured", err)
	}
}

func TestClientReads(t *testing.T) {
	s := zendesktest.New(t)
	s.AddUser(zendesktest.User{ID: "7", Email: "ann@example.com", OrganizationID: "9"})
	s.AddOrganization(zendesktest.Organization{ID: "9", Name: "Acme Travel", ExternalID: "P-1"})
	s.AddTicket(zendesktest.Ticket{ID: "42", Status: "solved", Tags: []string{"vip"}, RequesterID: "7", OrganizationID: "9",
		Via: "web_form", CreatedAt: day0, UpdatedAt: day0.Add(time.Hour), Replies: 2, Reopens: 1, SolvedAt: day0.Add(30 * time.Minute)})
	s.AddTicket(zendesktest.Ticket{ID: "43", Status: "deleted", Via: "mail", CreatedAt: day0})
	c := newClient(t, s, nil)
	ctx := t.Context()

	u, err := c.User(ctx, "7")
	if want := (User{ID: "7", Email: "ann@example.com", OrganizationID: "9"}); err != nil || u != want {
		t.Errorf("User(7) = %+v, %v; want %+v", u, err, want)
	}
	o, err := c.Organization(ctx, "9")
	if want := (Organization{ID: "9", Name: "Acme Travel", ExternalID: "P-1"}); err != nil || o != want {
		t.Errorf("Organization(9) = %+v, %v; want %+v", o, err, want)
	}
	got, err := c.Ticket(ctx, "42")
	want := &recontact.Contact{Source: recontact.SourceZendesk, TicketID: "42", RequesterID: "7", OrgID: "9", Channel: "web_form",
		Status: recontact.StatusSolved, CreatedAt: day0, UpdatedAt: day0.Add(time.Hour), ResolvedAt: day0.Add(time.Hour), Tags: []string{"vip"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Ticket(42) = %+v, %v; want %+v", got, err, want)
	}
	got, err = c.Ticket(ctx, "43")
	if err != nil || got.Status != recontact.StatusUnknown || got.Channel != "email" || got.RequesterID != "" {
		t.Errorf("Ticket(43) = %+v, %v; want unknown status, channel email, no requester", got, err)
	}
	m, err := c.TicketMetrics(ctx, "42")
	if want := (Metrics{Replies: 2, Reopens: 1, SolvedAt: day0.Add(30 * time.Minute)}); err != nil || m != want {
		t.Errorf("TicketMetrics(42) = %+v, %v; want %+v", m, err, want)
	}

	_, err = c.Ticket(ctx, "404")
	wantCode(t, "Ticket(404)", err, recontact.ENotFound)
	_, err = c.User(ctx, "../tickets/42")
	wantCode(t, "User(path)", err, recontact.EInvalid)
	if n := s.Calls(zendesktest.KindUser); n != 1 {
		t.Errorf("user calls = %d, want 1: an invalid id must not reach Zendesk", n)
	}

	bad := newClient(t, s, func(c *Config) { c.APIToken = "wrong" })
	_, err = bad.Ticket(ctx, "42")
	wantCode(t, "Ticket with a wrong token", err, recontact.EUnauthorized)
	if msg := recontact.ErrorMessage(err); msg != "zendesk rejected credentials" {
		t.Errorf("message %q, want %q", msg, "zendesk rejected credentials")
	}
}

func TestClientTags(t *testing.T) {
	s := zendesktest.New(t)
	s.AddTicket(zendesktest.Ticket{ID: "1", Status: "open", Tags: []string{"vip"}, CreatedAt: day0})
	c := newClient(t, s, nil)
	ctx := t.Context()

	all, err := c.AddTags(ctx, "1", []string{"rc_repeat", "rc_fcr_no"})
	if want := []string{"vip", "rc_repeat", "rc_fcr_no"}; err != nil || !slices.Equal(all, want) {
		t.Fatalf("AddTags = %v, %v; want %v", all, err, want)
	}
	s.AddTagsAsAgent("1", "escalated") // an agent edits between our calls
	if err := c.RemoveTags(ctx, "1", []string{"rc_fcr_no", "not_there"}); err != nil {
		t.Fatalf("RemoveTags = %v", err)
	}
	tk, _ := s.Ticket("1")
	if want := []string{"vip", "rc_repeat", "escalated"}; !slices.Equal(tk.Tags, want) {
		t.Fatalf("tags after = %v, want %v: only our tags may change", tk.Tags, want)
	}
	if n := s.Calls(zendesktest.KindSetTags) + s.Calls(zendesktest.KindTicketUpdate); n != 0 {
		t.Fatalf("%d calls that replace all tags, want 0", n)
	}
	for _, tags := range [][]string{nil, {""}, {"two words"}, {"a,b"}} {
		_, err := c.AddTags(ctx, "1", tags)
		wantCode(t, fmt.Sprintf("AddTags(%q)", tags), err, recontact.EInvalid)
	}
}

func TestClientInternalNote(t *testing.T) {
	s := zendesktest.New(t)
	s.AddTicket(zendesktest.Ticket{ID: "1", Status: "open", CreatedAt: day0})
	c := newClient(t, s, nil)
	if err := c.AddInternalNote(t.Context(), "1", "recontact: repeat contact"); err != nil {
		t.Fatalf("AddInternalNote = %v", err)
	}
	tk, _ := s.Ticket("1")
	if len(tk.Comments) != 1 || tk.Comments[0].Body != "recontact: repeat contact" || tk.Comments[0].Public {
		t.Fatalf("comments = %+v, want one private note", tk.Comments)
	}
	wantCode(t, "empty note", c.AddInternalNote(t.Context(), "1", " "), recontact.EInvalid)

	// A note is not idempotent: a 500 is not replayed inside the call.
	s.FailNext(1, zendesktest.Fault{Status: http.StatusInternalServerError})
	wantCode(t, "note on 500", c.AddInternalNote(t.Context(), "1", "again"), recontact.EUnavailable)
	if n := s.Calls(zendesktest.KindTicketUpdate); n != 2 {
		t.Fatalf("ticket update calls = %d, want 2 (no retry after the 500)", n)
	}
	// A 429 with a short Retry-After proves Zendesk took nothing: retried.
	s.FailNext(1, zendesktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	if err := c.AddInternalNote(t.Context(), "1", "third"); err != nil {
		t.Fatalf("note after a short 429 = %v", err)
	}
	if tk, _ = s.Ticket("1"); len(tk.Comments) != 2 {
		t.Fatalf("comments = %+v, want 2", tk.Comments)
	}
}

func TestClientClosedTicket(t *testing.T) {
	s := zendesktest.New(t)
	s.AddTicket(zendesktest.Ticket{ID: "1", Status: "closed", Tags: []string{"vip"}, CreatedAt: day0})
	c := newClient(t, s, nil)
	ctx := t.Context()
	_, addErr := c.AddTags(ctx, "1", []string{"rc_repeat"})
	for name, err := range map[string]error{
		"AddTags":         addErr,
		"RemoveTags":      c.RemoveTags(ctx, "1", []string{"vip"}),
		"AddInternalNote": c.AddInternalNote(ctx, "1", "note"),
	} {
		if !errors.Is(err, ErrClosed) || recontact.ErrorCode(err) != recontact.EConflict {
			t.Errorf("%s on a closed ticket = %v, want EConflict wrapping ErrClosed", name, err)
		}
	}
	if tk, _ := s.Ticket("1"); !slices.Equal(tk.Tags, []string{"vip"}) || len(tk.Comments) != 0 {
		t.Errorf("closed ticket changed: %+v", tk)
	}
}

func TestClientUpdateManyTags(t *testing.T) {
	s := zendesktest.New(t, zendesktest.WithJobPolls(1))
	s.AddTicket(zendesktest.Ticket{ID: "1", Status: "open", Tags: []string{"rc_old"}, CreatedAt: day0})
	s.AddTicket(zendesktest.Ticket{ID: "2", Status: "pending", Tags: []string{"agent_tag"}, CreatedAt: day0})
	s.AddTicket(zendesktest.Ticket{ID: "3", Status: "closed", CreatedAt: day0})
	var mu sync.Mutex
	var rates []RateInfo
	c := newClient(t, s, func(c *Config) {
		c.OnRate = func(r RateInfo) { mu.Lock(); rates = append(rates, r); mu.Unlock() }
	})
	ctx := t.Context()

	jobID, err := c.UpdateManyTags(ctx, []string{"1", "2", "3"}, []string{"rc_new"}, []string{"rc_old"})
	if err != nil || jobID == "" {
		t.Fatalf("UpdateManyTags = %q, %v", jobID, err)
	}
	mu.Lock()
	if last := rates[len(rates)-1]; last.UpdatesLimit != 100 || last.UpdatesRemaining != 99 {
		t.Errorf("after one update_many of 3 tickets: %+v, want 99 of 100 ticket updates left", last)
	}
	mu.Unlock()
	js, err := c.JobStatus(ctx, jobID)
	if err != nil || js.Done() || js.Status != "working" {
		t.Fatalf("first JobStatus = %+v, %v; want working", js, err)
	}
	if tk, _ := s.Ticket("1"); !slices.Equal(tk.Tags, []string{"rc_old"}) {
		t.Fatalf("tags changed before the job ran: %v", tk.Tags)
	}
	js, err = c.JobStatus(ctx, jobID)
	want := JobStatus{ID: jobID, Status: "completed", Total: 3, Progress: 3, Message: js.Message, Results: []JobResult{
		{ID: "1", Success: true, Status: "Updated"},
		{ID: "2", Success: true, Status: "Updated"},
		{ID: "3", Success: false, Status: "Failed", Error: "Status: closed prevents ticket update"},
	}}
	if err != nil || !js.Done() || !reflect.DeepEqual(js, want) {
		t.Fatalf("JobStatus = %+v, %v; want %+v", js, err, want)
	}
	for id, tags := range map[string][]string{"1": {"rc_new"}, "2": {"agent_tag", "rc_new"}, "3": nil} {
		if tk, _ := s.Ticket(id); !slices.Equal(tk.Tags, tags) {
			t.Errorf("ticket %s tags = %v, want %v", id, tk.Tags, tags)
		}
	}

	_, err = c.UpdateManyTags(ctx, nil, []string{"a"}, nil)
	wantCode(t, "no ids", err, recontact.EInvalid)
	_, err = c.UpdateManyTags(ctx, make([]string, 101), []string{"a"}, nil)
	wantCode(t, "101 ids", err, recontact.EInvalid)
	_, err = c.UpdateManyTags(ctx, []string{"1"}, nil, nil)
	wantCode(t, "no change", err, recontact.EInvalid)
	_, err = c.JobStatus(ctx, "../tickets")
	wantCode(t, "bad job id", err, recontact.EInvalid)
	_, err = c.JobStatus(ctx, "ffff")
	wantCode(t, "unknown job", err, recontact.ENotFound)
	if n := s.Calls(zendesktest.KindUpdateMany); n != 1 {
		t.Errorf("update_many calls = %d, want 1", n)
	}
}

func TestClientRateLimits(t *testing.T) {
	clock := zendesktest.NewClock(day0)
	s := zendesktest.New(t, zendesktest.WithClock(clock.Now), zendesktest.WithTicketUpdatesPerMinute(2))
	s.AddTicket(zendesktest.Ticket{ID: "1", Status: "open", CreatedAt: day0})
	var mu sync.Mutex
	var remaining []int
	c := newClient(t, s, func(c *Config) {
		c.OnRate = func(r RateInfo) { mu.Lock(); remaining = append(remaining, r.UpdatesRemaining); mu.Unlock() }
	})
	c.now = clock.Now
	ctx := t.Context()

	clock.Advance(15 * time.Second) // 45 s left in the window
	for _, tag := range []string{"a", "b"} {
		if _, err := c.AddTags(ctx, "1", []string{tag}); err != nil {
			t.Fatalf("AddTags(%s) = %v", tag, err)
		}
	}
	_, err := c.AddTags(ctx, "1", []string{"c"})
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 45*time.Second || rl.Status != http.StatusTooManyRequests {
		t.Fatalf("third AddTags = %v, want *RateLimitError{45s, 429}", err)
	}
	wantCode(t, "rate limited", err, recontact.EUnavailable)
	if n, th := s.Calls(zendesktest.KindAddTags), s.Throttled(); n != 3 || th != 1 {
		t.Fatalf("calls %d, 429s %d; want 3 and 1: a long Retry-After is not waited out", n, th)
	}
	mu.Lock()
	if want := []int{1, 0, 0}; !slices.Equal(remaining, want) {
		t.Errorf("UpdatesRemaining seen = %v, want %v", remaining, want)
	}
	mu.Unlock()

	// Reads are not ticket updates.
	if _, err := c.Ticket(ctx, "1"); err != nil {
		t.Fatalf("Ticket while updates are limited = %v", err)
	}
	clock.Advance(45 * time.Second)
	if _, err := c.AddTags(ctx, "1", []string{"c"}); err != nil {
		t.Fatalf("AddTags in the next window = %v", err)
	}
}

func TestClientRetries(t *testing.T) {
	s := zendesktest.New(t)
	s.AddTicket(zendesktest.Ticket{ID: "1", Status: "open", CreatedAt: day0})
	c := newClient(t, s, nil)
	ctx := t.Context()

	s.FailNext(2, zendesktest.Fault{Status: http.StatusBadGateway})
	if _, err := c.Ticket(ctx, "1"); err != nil {
		t.Fatalf("Ticket after two 502s = %v, want success on the third try", err)
	}
	s.FailNext(3, zendesktest.Fault{Status: http.StatusInternalServerError})
	_, err := c.Ticket(ctx, "1")
	wantCode(t, "Ticket after three 500s", err, recontact.EUnavailable)
	if n := s.Calls(zendesktest.KindTicket); n != 6 {
		t.Fatalf("ticket calls = %d, want 6 (1 + RetryMax 2, twice)", n)
	}

	start := time.Now()
	s.FailNext(1, zendesktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Kind: zendesktest.KindMetrics})
	if _, err := c.TicketMetrics(ctx, "1"); err != nil {
		t.Fatalf("TicketMetrics after a 1s 429 = %v", err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Fatalf("retried after %s, want Retry-After's 1s honoured", waited)
	}

	s.FailNext(1, zendesktest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: 30 * time.Second})
	_, err = c.Ticket(ctx, "1")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 30*time.Second || rl.Status != http.StatusServiceUnavailable {
		t.Fatalf("Ticket after 503 Retry-After 30 = %v, want *RateLimitError{30s, 503}", err)
	}

	s.SetLatency(3 * time.Second)
	slow := newClient(t, s, func(c *Config) { c.Timeout = 100 * time.Millisecond })
	start = time.Now()
	_, err = slow.Ticket(ctx, "1")
	wantCode(t, "Ticket past the deadline", err, recontact.EUnavailable)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("call took %s, want it cut at the 100ms deadline", d)
	}
}

func TestClientExport(t *testing.T) {
	clock := zendesktest.NewClock(day0)
	s := zendesktest.New(t, zendesktest.WithClock(clock.Now), zendesktest.WithExportPageSize(2), zendesktest.WithExportsPerMinute(4))
	s.AddUser(zendesktest.User{ID: "7", Email: "ann@example.com"})
	for i, id := range []string{"5", "3", "10", "4", "2"} {
		s.AddTicket(zendesktest.Ticket{ID: id, Status: "solved", RequesterID: "7", CreatedAt: day0.Add(-time.Hour),
			UpdatedAt: day0.Add(time.Duration(i-10) * time.Minute), Replies: i, SolvedAt: day0.Add(-time.Hour)})
	}
	s.AddTicket(zendesktest.Ticket{ID: "99", Status: "open", UpdatedAt: day0.Add(-2 * time.Hour)}) // before start
	c := newClient(t, s, nil)
	c.now = clock.Now
	ctx := t.Context()

	_, err := c.ExportTickets(ctx, day0, "")
	wantCode(t, "export from now", err, recontact.EInvalid)

	var ids []string
	cursor := ""
	for page := 0; ; page++ {
		p, err := c.ExportTickets(ctx, day0.Add(-time.Hour), cursor)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		for _, tk := range p.Tickets {
			ids = append(ids, tk.TicketID)
			m := p.Metrics[tk.TicketID]
			if tk.CustomerEmail != "ann@example.com" || tk.Replies != m.Replies || tk.ResolvedAt != day0.Add(-time.Hour) {
				t.Errorf("ticket %+v, metrics %+v: want the sideloaded e-mail, replies and solve time", tk, m)
			}
		}
		if p.Users["7"].Email != "ann@example.com" {
			t.Errorf("page %d users = %+v", page, p.Users)
		}
		cursor = p.AfterCursor
		if p.EndOfStream {
			break
		}
		if page > 3 {
			t.Fatal("export does not end")
		}
	}
	if want := []string{"5", "3", "10", "4", "2"}; !slices.Equal(ids, want) {
		t.Fatalf("exported %v, want %v (by updated_at)", ids, want)
	}

	// The kept cursor resumes: only the ticket changed since comes back.
	clock.Advance(time.Minute) // a new export window
	s.SetStatus("3", "open")
	p, err := c.ExportTickets(ctx, time.Time{}, cursor)
	if err != nil || len(p.Tickets) != 1 || p.Tickets[0].TicketID != "3" || p.Tickets[0].Status != recontact.StatusOpen || p.Metrics["3"].Reopens != 1 {
		t.Fatalf("resumed export = %+v, %v; want ticket 3 reopened", p, err)
	}
	for range 4 { // the limit is 4 a window and one call was made
		_, err = c.ExportTickets(ctx, time.Time{}, cursor)
	}
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Minute {
		t.Fatalf("fifth export in a window = %v, want *RateLimitError{1m}", err)
	}
}

// TestClientStatusErrors maps Zendesk's answers, as documented, to codes.
func TestClientStatusErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		code       recontact.Code
		msg        string // "" skips the check
		closed     bool
		retryAfter time.Duration // -1: no RateLimitError
	}{
		{"404", 404, nil, `{"error":"RecordNotFound","description":"Not found"}`, recontact.ENotFound, "zendesk has no ticket 1", false, -1},
		{"401", 401, nil, `{"error":"Couldn't authenticate you"}`, recontact.EUnauthorized, "zendesk rejected credentials", false, -1},
		{"403", 403, nil, `{"error":"Forbidden","description":"You do not have access to this page."}`, recontact.EUnauthorized, "zendesk rejected credentials", false, -1},
		{"closed in details.status", 422, nil,
			`{"error":"RecordInvalid","description":"Record validation errors","details":{"status":[{"description":"Status: closed prevents ticket update"}]}}`,
			recontact.EConflict, "ticket 1 is closed", true, -1},
		{"closed in details.base", 422, nil,
			`{"error":"RecordInvalid","details":{"base":[{"description":"Status: Closed prevents ticket update","error":"ClosedTicket"}]}}`,
			recontact.EConflict, "ticket 1 is closed", true, -1},
		{"other 422", 422, nil,
			`{"error":"RecordInvalid","description":"Record validation errors","details":{"base":[{"description":"Ticket has 5000 comments"}]}}`,
			recontact.EInvalid, "zendesk rejected the request for ticket 1: RecordInvalid; Record validation errors; Ticket has 5000 comments", false, -1},
		{"400 error object", 400, nil, `{"error":{"title":"Invalid attribute","message":"You passed an invalid value"}}`,
			recontact.EInvalid, "zendesk rejected the request for ticket 1: Invalid attribute; You passed an invalid value", false, -1},
		{"400 not JSON", 400, nil, "<html>\n bad   request</html>", recontact.EInvalid, "zendesk rejected the request for ticket 1: <html> bad request</html>", false, -1},
		{"409", 409, nil, `{"error":"UpdateConflict"}`, recontact.EConflict, "", false, -1},
		{"429", 429, http.Header{"Retry-After": {"93"}}, `{"error":"APIRateLimitExceeded"}`, recontact.EUnavailable, "", false, 93 * time.Second},
		{"429 without Retry-After", 429, nil, ``, recontact.EUnavailable, "", false, 0},
		{"503 with long Retry-After", 503, http.Header{"Retry-After": {"60"}}, ``, recontact.EUnavailable, "", false, time.Minute},
		{"503 without Retry-After", 503, nil, ``, recontact.EUnavailable, "zendesk answered 503 (ticket 1)", false, -1},
		{"500", 500, nil, `oops`, recontact.EUnavailable, "zendesk answered 500 (ticket 1)", false, -1},
		{"2xx with bad JSON", 200, nil, `{"ticket":`, recontact.EUnavailable, "zendesk sent an unreadable answer (ticket 1)", false, -1},
		{"2xx without the object", 200, nil, `{"tickets":[]}`, recontact.EUnavailable, "zendesk answer has no ticket", false, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header()[k] = v
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c, err := NewClient(Config{BaseURL: srv.URL, Email: "a@example.com", APIToken: "tok", RetryMax: -1})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Ticket(t.Context(), "1")
			wantCode(t, "Ticket", err, tt.code)
			if tt.msg != "" && recontact.ErrorMessage(err) != tt.msg {
				t.Errorf("message %q, want %q", recontact.ErrorMessage(err), tt.msg)
			}
			if errors.Is(err, ErrClosed) != tt.closed {
				t.Errorf("errors.Is(ErrClosed) = %v, want %v", !tt.closed, tt.closed)
			}
			var rl *RateLimitError
			if got := errors.As(err, &rl); got != (tt.retryAfter >= 0) || (got && rl.RetryAfter != tt.retryAfter) {
				t.Errorf("RateLimitError = %v (%+v), want retry after %s", got, rl, tt.retryAfter)
			}
		})
	}
}

// Job results are read tolerantly: ids as strings or numbers, unknown keys, any error key.
func TestClientJobStatusShapes(t *testing.T) {
	const body = `{"job_status":{"id":"82de0b044094f0c67893ac9fe64f1a99","url":"x","job_type":"BulkUpdate","status":"completed",
		"total":2,"progress":null,"message":"Completed","new_key":{"a":1},
		"results":[{"action":"update","id":244,"status":"Updated","success":true,"extra":[1]},
		           {"action":"update","id":"245","success":false,"error":"TicketLocked"},
		           {"id":246,"success":false,"details":{"base":["x"]}}]}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	defer srv.Close()
	c, _ := NewClient(Config{BaseURL: srv.URL, Email: "a@example.com", APIToken: "tok"})
	js, err := c.JobStatus(t.Context(), "82de0b044094f0c67893ac9fe64f1a99")
	want := JobStatus{ID: "82de0b044094f0c67893ac9fe64f1a99", Status: "completed", Total: 2, Message: "Completed", Results: []JobResult{
		{ID: "244", Success: true, Status: "Updated"},
		{ID: "245", Error: "TicketLocked"},
		{ID: "246", Error: `{"base":["x"]}`},
	}}
	if err != nil || !reflect.DeepEqual(js, want) {
		t.Fatalf("JobStatus = %+v, %v\nwant %+v", js, err, want)
	}
}

func TestRateInfo(t *testing.T) {
	resp := &http.Response{StatusCode: 429, Header: http.Header{}}
	resp.Header.Set("x-rate-limit", "700")
	resp.Header.Set("x-rate-limit-remaining", "0")
	resp.Header.Set("ratelimit-reset", "41")
	resp.Header.Set("zendesk-ratelimit-tickets-update", "total=100; remaining=99; resets=41")
	resp.Header.Set("Retry-After", "41")
	got, ok := rateInfo(resp, day0)
	want := RateInfo{Status: 429, Limit: 700, Remaining: 0, Reset: 41 * time.Second, UpdatesLimit: 100, UpdatesRemaining: 99,
		UpdatesReset: 41 * time.Second, RetryAfter: 41 * time.Second}
	if !ok || got != want {
		t.Fatalf("rateInfo = %+v, %v; want %+v", got, ok, want)
	}
	if _, ok := rateInfo(&http.Response{StatusCode: 200, Header: http.Header{}}, day0); ok {
		t.Fatal("rateInfo without headers reported something")
	}
	resp = &http.Response{StatusCode: 200, Header: http.Header{"Ratelimit-Limit": {"400"}, "Ratelimit-Remaining": {"12"}}}
	if got, _ := rateInfo(resp, day0); got.Limit != 400 || got.Remaining != 12 || got.UpdatesRemaining != -1 {
		t.Fatalf("rateInfo(ratelimit-*) = %+v, want 400/12 and updates unknown", got)
	}
	h := http.Header{"Retry-After": {day0.Add(90 * time.Second).Format(http.TimeFormat)}}
	if d, ok := retryAfter(h, day0); !ok || d != 90*time.Second {
		t.Fatalf("retryAfter(HTTP date) = %s, %v; want 90s", d, ok)
	}
}

// recorder is a LeveledLogger that keeps everything logged.
type recorder struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (r *recorder) log(msg string, kv ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(&r.buf, msg, kv)
}
func (r *recorder) Error(msg string, kv ...any) { r.log(msg, kv...) }
func (r *recorder) Info(msg string, kv ...any)  { r.log(msg, kv...) }
func (r *recorder) Debug(msg string, kv ...any) { r.log(msg, kv...) }
func (r *recorder) Warn(msg string, kv ...any)  { r.log(msg, kv...) }

func TestClientLogsNoSecrets(t *testing.T) {
	s := zendesktest.New(t, zendesktest.WithCredentials("admin@example.com", "s3cret-token"))
	s.AddUser(zendesktest.User{ID: "7", Email: "ann@example.com"})
	var rec recorder
	c := newClient(t, s, func(c *Config) { c.Logger = &rec })
	s.FailNext(1, zendesktest.Fault{Status: http.StatusBadGateway})
	if _, err := c.User(t.Context(), "7"); err != nil {
		t.Fatal(err)
	}
	dead, _ := NewClient(Config{BaseURL: "http://127.0.0.1:1", Email: "admin@example.com", APIToken: "s3cret-token", Logger: &rec, RetryMax: -1})
	_, err := dead.User(t.Context(), "7")
	wantCode(t, "unreachable", err, recontact.EUnavailable)
	logs := rec.buf.String() + err.Error()
	if !strings.Contains(logs, "retrying") {
		t.Fatalf("logger saw no retry; logs: %s", logs)
	}
	for _, secret := range []string{"s3cret-token", "admin@example.com", "ann@example.com", base64.StdEncoding.EncodeToString([]byte("admin@example.com/token:s3cret-token"))} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs or errors contain %q:\n%s", secret, logs)
		}
	}
}
