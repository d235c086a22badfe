// Package zendesktest is an in-process fake of the parts of the Zendesk
// Support API that recontact calls, for tests across the repository. It
// answers like the documentation in docs/zendesk.md (section numbers below
// refer to it): Basic token auth, tag semantics, background jobs, closed
// tickets, rate limits with 429 and Retry-After, and the incremental cursor
// export. Faults, latency and a fake clock let tests reach the unhappy paths.
//
// Build a client with zendesk.Config{BaseURL: s.URL, Email: s.Email,
// APIToken: s.Token}. The fake does not import the zendesk package, so that
// package's own tests can use it.
package zendesktest

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kind names a kind of API call, for counting and targeted faults.
type Kind string

const (
	KindUser         Kind = "user"          // GET /api/v2/users/{id}
	KindOrganization Kind = "organization"  // GET /api/v2/organizations/{id}
	KindTicket       Kind = "ticket"        // GET /api/v2/tickets/{id}
	KindTicketUpdate Kind = "ticket_update" // PUT /api/v2/tickets/{id}
	KindMetrics      Kind = "metrics"       // GET /api/v2/tickets/{id}/metrics
	KindAddTags      Kind = "tags_add"      // PUT /api/v2/tickets/{id}/tags
	KindRemoveTags   Kind = "tags_remove"   // DELETE /api/v2/tickets/{id}/tags
	KindSetTags      Kind = "tags_set"      // POST /api/v2/tickets/{id}/tags: replaces all; recontact must never call it
	KindUpdateMany   Kind = "update_many"   // PUT /api/v2/tickets/update_many?ids=
	KindJobStatus    Kind = "job_status"    // GET /api/v2/job_statuses/{id}
	KindExport       Kind = "export"        // GET /api/v2/incremental/tickets/cursor
)

// updates reports whether a call counts against the ticket-update limit: any
// PUT that updates tickets does (§9), and so, we assume, do the tag calls.
// update_many counts once however many tickets it names.
func (k Kind) updates() bool {
	switch k {
	case KindTicketUpdate, KindAddTags, KindRemoveTags, KindSetTags, KindUpdateMany:
		return true
	}
	return false
}

// Ticket is a seeded ticket. Ids are digits, as in Zendesk.
type Ticket struct {
	ID             string
	Status         string // API value: new, open, pending, hold, solved, closed (closed refuses every update, §8), deleted
	Tags           []string
	RequesterID    string
	OrganizationID string
	Via            string    // via.channel, e.g. "web_form"
	CreatedAt      time.Time // zero: now
	UpdatedAt      time.Time // zero: CreatedAt; every change sets it to now
	Replies        int
	Reopens        int
	SolvedAt       time.Time
	Comments       []Comment
}

// Comment is a comment added through the API or seeded.
type Comment struct {
	Body   string
	Public bool // Zendesk's default when the request leaves public out is true
	At     time.Time
}

// User is a seeded user.
type User struct {
	ID             string
	Email          string
	OrganizationID string
	Name           string
}

// Organization is a seeded organisation.
type Organization struct {
	ID         string
	Name       string
	ExternalID string
}

// Fault is an injected failure answered before authentication.
type Fault struct {
	Status     int           // e.g. 500 or 503
	RetryAfter time.Duration // sent as Retry-After in whole seconds when > 0
	Kind       Kind          // only calls of this kind; "" any
}

// Option configures a Server.
type Option func(*Server)

// WithCredentials sets the e-mail and API token the fake accepts.
func WithCredentials(email, token string) Option {
	return func(s *Server) { s.Email, s.Token = email, token }
}

// WithRequestsPerMinute sets the account limit (default 700, Enterprise; §9). 0 means none.
func WithRequestsPerMinute(n int) Option { return func(s *Server) { s.reqLimit = n } }

// WithTicketUpdatesPerMinute sets the ticket-update limit (default 100; §9). 0 means none.
func WithTicketUpdatesPerMinute(n int) Option { return func(s *Server) { s.updLimit = n } }

// WithExportsPerMinute sets the incremental export limit (default 10; §11). 0 means none.
func WithExportsPerMinute(n int) Option { return func(s *Server) { s.exportLimit = n } }

// WithWindow sets how long a rate-limit "minute" lasts, so tests can run the
// limits faster than real time: WithWindow(6*time.Second) is ten times faster.
// Retry-After and the reset headers count seconds of this clock.
func WithWindow(d time.Duration) Option { return func(s *Server) { s.window = d } }

// WithClock replaces the real clock, e.g. with a Clock's Now.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithExportPageSize caps export pages at n tickets (default 1000).
func WithExportPageSize(n int) Option { return func(s *Server) { s.pageSize = n } }

// WithJobPolls sets how many job_status polls answer "working" before a job
// completes (default 1). Until it completes its tickets are unchanged, as with
// Zendesk, where the work runs in the background (§5).
func WithJobPolls(n int) Option { return func(s *Server) { s.jobPolls = n } }

// Clock is a fake clock for WithClock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Server is a fake Zendesk. Its methods are safe for concurrent use; the
// seeding methods fail the test, so call those from the test's goroutine.
type Server struct {
	*httptest.Server
	Email string // accepted e-mail; default agent@example.com
	Token string // accepted API token

	t           testing.TB
	now         func() time.Time
	window      time.Duration
	reqLimit    int
	updLimit    int
	exportLimit int
	pageSize    int
	jobPolls    int

	mu        sync.Mutex
	tickets   map[string]*Ticket
	users     map[string]User
	orgs      map[string]Organization
	jobs      map[string]*job
	jobSeq    int
	calls     map[Kind]int
	throttled int
	faults    []Fault
	latency   time.Duration
	account   window
	updates   window
	exports   window
}

// New starts a fake Zendesk that stops when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		Email:       "agent@example.com",
		Token:       "fake-api-token",
		t:           t,
		now:         time.Now,
		window:      time.Minute,
		reqLimit:    700,
		updLimit:    100,
		exportLimit: 10,
		pageSize:    1000,
		jobPolls:    1,
		tickets:     map[string]*Ticket{},
		users:       map[string]User{},
		orgs:        map[string]Organization{},
		jobs:        map[string]*job{},
		calls:       map[Kind]int{},
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	s.route(mux, "GET /api/v2/users/{id}", KindUser, s.getUser)
	s.route(mux, "GET /api/v2/organizations/show_many", KindOrganizations, s.showOrganizations)
	s.route(mux, "GET /api/v2/organizations/{id}", KindOrganization, s.getOrganization)
	s.route(mux, "GET /api/v2/tickets/{id}", KindTicket, s.getTicket)
	s.route(mux, "PUT /api/v2/tickets/{id}", KindTicketUpdate, s.putTicket)
	s.route(mux, "GET /api/v2/tickets/{id}/metrics", KindMetrics, s.getMetrics)
	s.route(mux, "PUT /api/v2/tickets/{id}/tags", KindAddTags, s.tagsHandler(addTags))
	s.route(mux, "DELETE /api/v2/tickets/{id}/tags", KindRemoveTags, s.tagsHandler(removeTags))
	s.route(mux, "POST /api/v2/tickets/{id}/tags", KindSetTags, s.tagsHandler(setTags))
	s.route(mux, "PUT /api/v2/tickets/update_many", KindUpdateMany, s.updateMany)
	s.route(mux, "GET /api/v2/job_statuses/{id}", KindJobStatus, s.getJob)
	s.route(mux, "GET /api/v2/incremental/tickets/cursor", KindExport, s.export)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError("InvalidEndpoint", "Not found"))
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// AddTicket seeds or replaces a ticket.
func (s *Server) AddTicket(t Ticket) {
	s.t.Helper()
	if !isID(t.ID) || (t.RequesterID != "" && !isID(t.RequesterID)) || (t.OrganizationID != "" && !isID(t.OrganizationID)) {
		s.t.Fatalf("zendesktest: ticket ids must be digits: %+v", t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Status == "" {
		t.Status = "new"
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now()
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	t.Tags = slices.Clone(t.Tags)
	t.Comments = slices.Clone(t.Comments)
	s.tickets[t.ID] = &t
}

// AddUser seeds or replaces a user.
func (s *Server) AddUser(u User) {
	s.t.Helper()
	if !isID(u.ID) || (u.OrganizationID != "" && !isID(u.OrganizationID)) {
		s.t.Fatalf("zendesktest: user ids must be digits: %+v", u)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// AddOrganization seeds or replaces an organisation.
func (s *Server) AddOrganization(o Organization) {
	s.t.Helper()
	if !isID(o.ID) {
		s.t.Fatalf("zendesktest: organization ids must be digits: %+v", o)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orgs[o.ID] = o
}

// Ticket returns a copy of a ticket as it is now.
func (s *Server) Ticket(id string) (Ticket, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return Ticket{}, false
	}
	c := *t
	c.Tags = slices.Clone(t.Tags)
	c.Comments = slices.Clone(t.Comments)
	return c, true
}

// SetTags replaces a ticket's tags as an agent would in the UI, between or
// during a test's API calls. It counts as no API call.
func (s *Server) SetTags(id string, tags ...string) {
	s.agentEdit(id, func(t *Ticket) { t.Tags = setTags(nil, tags) })
}

// AddTagsAsAgent adds tags as an agent would in the UI.
func (s *Server) AddTagsAsAgent(id string, tags ...string) {
	s.agentEdit(id, func(t *Ticket) { t.Tags = addTags(t.Tags, tags) })
}

// SetStatus changes a ticket's status as an agent would, counting reopens
// and solves as Zendesk's metrics do.
func (s *Server) SetStatus(id, status string) {
	s.agentEdit(id, func(t *Ticket) { s.changeStatus(t, status) })
}

func (s *Server) agentEdit(id string, edit func(*Ticket)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		s.t.Errorf("zendesktest: no ticket %s", id)
		return
	}
	edit(t)
	t.UpdatedAt = s.now()
}

// Calls returns how many requests of a kind arrived, faults and refusals included.
func (s *Server) Calls(k Kind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[k]
}

// Throttled returns how many 429 answers the fake gave.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// FailNext makes the next n matching requests answer with f.
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// SetLatency delays every answer by d (0 for none); a client that gives up
// earlier gets no answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// RunJobs completes every pending job now, whatever WithJobPolls says.
func (s *Server) RunJobs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		s.complete(j)
	}
}

type handler func(w http.ResponseWriter, r *http.Request, body []byte)

// route wraps a handler with what every call goes through, in Zendesk's
// order as far as it shows: faults, authentication, then rate limits. The
// handler runs under the lock, so each call is atomic.
func (s *Server) route(mux *http.ServeMux, pattern string, kind Kind, h handler) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		s.calls[kind]++
		latency := s.latency
		fault, faulted := s.takeFault(kind)
		s.mu.Unlock()
		if latency > 0 {
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
				return
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case faulted:
			if fault.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(seconds(fault.RetryAfter)))
			}
			if fault.Status == http.StatusTooManyRequests {
				s.throttled++
			}
			writeJSON(w, fault.Status, apiError(strings.ReplaceAll(http.StatusText(fault.Status), " ", ""), "injected fault"))
		case !s.authorised(r):
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Couldn't authenticate you"})
		case s.admit(w, kind):
			h(w, r, body)
		}
	})
}

func (s *Server) takeFault(k Kind) (Fault, bool) {
	for i, f := range s.faults {
		if f.Kind == "" || f.Kind == k {
			s.faults = slices.Delete(s.faults, i, i+1)
			return f, true
		}
	}
	return Fault{}, false
}

// authorised checks API token auth: Basic base64("{email}/token:{token}") (§10).
func (s *Server) authorised(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	return ok &&
		subtle.ConstantTimeCompare([]byte(user), []byte(s.Email+"/token")) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.Token)) == 1
}

// window counts calls in fixed windows of the configured "minute".
type window struct {
	start time.Time
	n     int
}

// take admits one call if the limit allows; reset is the time left in the window.
func (c *window) take(now time.Time, length time.Duration, limit int) (ok bool, remaining int, reset time.Duration) {
	if start := now.Truncate(length); !start.Equal(c.start) {
		c.start, c.n = start, 0
	}
	reset = c.start.Add(length).Sub(now)
	if c.n >= limit {
		return false, 0, reset
	}
	c.n++
	return true, limit - c.n, reset
}

// admit applies the account, ticket-update and export limits and sets their
// headers (§9). A refused call gets 429 with Retry-After.
func (s *Server) admit(w http.ResponseWriter, kind Kind) bool {
	now, h := s.now(), w.Header()
	if s.reqLimit > 0 {
		ok, rem, reset := s.account.take(now, s.window, s.reqLimit)
		h.Set("X-Rate-Limit", strconv.Itoa(s.reqLimit))
		h.Set("X-Rate-Limit-Remaining", strconv.Itoa(rem))
		h.Set("Ratelimit-Limit", strconv.Itoa(s.reqLimit))
		h.Set("Ratelimit-Remaining", strconv.Itoa(rem))
		h.Set("Ratelimit-Reset", strconv.Itoa(seconds(reset)))
		if !ok {
			return s.tooMany(w, reset, "APIRateLimitExceeded")
		}
	}
	if kind.updates() && s.updLimit > 0 {
		ok, rem, reset := s.updates.take(now, s.window, s.updLimit)
		h.Set("Zendesk-RateLimit-tickets-update", fmt.Sprintf("total=%d; remaining=%d; resets=%d", s.updLimit, rem, seconds(reset)))
		if !ok {
			return s.tooMany(w, reset, "TicketUpdateRateLimitExceeded")
		}
	}
	if kind == KindExport && s.exportLimit > 0 {
		if ok, _, reset := s.exports.take(now, s.window, s.exportLimit); !ok {
			return s.tooMany(w, reset, "IncrementalExportRateLimitExceeded")
		}
	}
	return true
}

func (s *Server) tooMany(w http.ResponseWriter, reset time.Duration, code string) bool {
	s.throttled++
	w.Header().Set("Retry-After", strconv.Itoa(seconds(reset)))
	writeJSON(w, http.StatusTooManyRequests, apiError(code, "Rate limit exceeded"))
	return false
}

// seconds rounds up, so waiting Retry-After always reaches the next window.
func seconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, _ []byte) {
	u, ok := s.users[r.PathValue("id")]
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": userJSON(u)})
}

func userJSON(u User) map[string]any {
	return map[string]any{"id": number(u.ID), "email": u.Email, "name": u.Name, "organization_id": number(u.OrganizationID)}
}

func (s *Server) getOrganization(w http.ResponseWriter, r *http.Request, _ []byte) {
	o, ok := s.orgs[r.PathValue("id")]
	if !ok {
		notFound(w)
		return
	}
	var ext any // null when none, as Zendesk sends it
	if o.ExternalID != "" {
		ext = o.ExternalID
	}
	writeJSON(w, http.StatusOK, map[string]any{"organization": map[string]any{"id": number(o.ID), "name": o.Name, "external_id": ext}})
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request, _ []byte) {
	t, ok := s.tickets[r.PathValue("id")]
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket": ticketJSON(t)})
}

func ticketJSON(t *Ticket) map[string]any {
	return map[string]any{
		"id":              number(t.ID),
		"status":          t.Status,
		"requester_id":    number(t.RequesterID),
		"organization_id": number(t.OrganizationID),
		"via":             map[string]any{"channel": t.Via},
		"created_at":      stamp(t.CreatedAt),
		"updated_at":      stamp(t.UpdatedAt),
		"tags":            append([]string{}, t.Tags...),
		"subject":         "Ticket " + t.ID,
	}
}

func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request, _ []byte) {
	t, ok := s.tickets[r.PathValue("id")]
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket_metric": metricJSON(t)})
}

func metricJSON(t *Ticket) map[string]any {
	return map[string]any{
		"id": number(t.ID), "ticket_id": number(t.ID), "replies": t.Replies, "reopens": t.Reopens,
		"solved_at": stamp(t.SolvedAt), "created_at": stamp(t.CreatedAt), "updated_at": stamp(t.UpdatedAt),
		"reply_time_in_minutes": map[string]any{"calendar": nil, "business": nil},
	}
}

// putTicket updates a ticket (§6): a comment, a status, or tags, which here
// as in Zendesk replace the whole list. additional_tags and remove_tags are
// ignored silently, as Zendesk ignores attributes it does not know (§4).
func (s *Server) putTicket(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		Ticket *struct {
			Comment *struct {
				Body     string `json:"body"`
				HTMLBody string `json:"html_body"`
				Public   *bool  `json:"public"`
			} `json:"comment"`
			Status *string   `json:"status"`
			Tags   *[]string `json:"tags"`
		} `json:"ticket"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Ticket == nil {
		writeJSON(w, http.StatusBadRequest, apiError("InvalidParameter", "Parameter ticket is required"))
		return
	}
	t, ok := s.writable(w, r.PathValue("id"))
	if !ok {
		return
	}
	if c := in.Ticket.Comment; c != nil {
		text := c.Body
		if text == "" {
			text = c.HTMLBody
		}
		if text == "" {
			writeJSON(w, http.StatusUnprocessableEntity, recordInvalid("comment", "Comment: body can't be blank"))
			return
		}
		public := c.Public == nil || *c.Public
		t.Comments = append(t.Comments, Comment{Body: text, Public: public, At: s.now()})
	}
	if in.Ticket.Status != nil {
		s.changeStatus(t, *in.Ticket.Status)
	}
	if in.Ticket.Tags != nil {
		t.Tags = setTags(nil, *in.Ticket.Tags)
	}
	t.UpdatedAt = s.now()
	writeJSON(w, http.StatusOK, map[string]any{"ticket": ticketJSON(t), "audit": map[string]any{}})
}

// changeStatus sets a status and keeps the metrics Zendesk derives from it.
func (s *Server) changeStatus(t *Ticket, status string) {
	resolved := func(st string) bool { return st == "solved" || st == "closed" }
	switch {
	case resolved(t.Status) && !resolved(status) && status != "deleted":
		t.Reopens++
	case status == "solved" && t.Status != "solved":
		t.SolvedAt = s.now()
	}
	t.Status = status
}

// writable finds a ticket that may be updated: a closed one refuses (§8).
func (s *Server) writable(w http.ResponseWriter, id string) (*Ticket, bool) {
	t, ok := s.tickets[id]
	switch {
	case !ok:
		notFound(w)
	case t.Status == "closed":
		writeJSON(w, http.StatusUnprocessableEntity, recordInvalid("status", "Status: closed prevents ticket update"))
	default:
		return t, true
	}
	return nil, false
}

// tagsHandler serves the Tags API (§4): PUT adds, DELETE removes, POST sets.
// DELETE answers 204 with no body: the docs do not show its response, so the
// client must not rely on one.
func (s *Server) tagsHandler(op func(have, tags []string) []string) handler {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		var in struct {
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(body, &in); err != nil || len(in.Tags) == 0 {
			writeJSON(w, http.StatusBadRequest, apiError("InvalidParameter", "Parameter tags is required"))
			return
		}
		t, ok := s.writable(w, r.PathValue("id"))
		if !ok {
			return
		}
		if after := op(t.Tags, in.Tags); !slices.Equal(after, t.Tags) {
			t.Tags = after
			t.UpdatedAt = s.now()
		}
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"tags": append([]string{}, t.Tags...)})
	}
}

func addTags(have, tags []string) []string {
	out := slices.Clone(have)
	for _, tag := range tags {
		if !slices.Contains(out, tag) {
			out = append(out, tag)
		}
	}
	return out
}

func removeTags(have, tags []string) []string {
	return slices.DeleteFunc(slices.Clone(have), func(t string) bool { return slices.Contains(tags, t) })
}

func setTags(_, tags []string) []string { return addTags(nil, tags) }

// job is a background update_many job (§5).
type job struct {
	id     string
	ids    []string
	add    []string
	remove []string
	polls  int
	done   bool
	result []map[string]any
}

// updateMany queues a bulk tag change: ?ids= (up to 100) with
// {"ticket":{"additional_tags":…,"remove_tags":…}}, the only form confirmed
// to honour those fields (§5). Tag lists may be one string, as in one doc example.
func (s *Server) updateMany(w http.ResponseWriter, r *http.Request, body []byte) {
	raw := r.URL.Query().Get("ids")
	if raw == "" {
		writeJSON(w, http.StatusBadRequest, apiError("InvalidParameter", "zendesktest supports only update_many?ids="))
		return
	}
	ids := strings.Split(raw, ",")
	if len(ids) > 100 || slices.ContainsFunc(ids, func(id string) bool { return !isID(id) }) {
		writeJSON(w, http.StatusBadRequest, apiError("InvalidParameter", "ids must be up to 100 ticket ids"))
		return
	}
	var in struct {
		Ticket *struct {
			Add    stringList `json:"additional_tags"`
			Remove stringList `json:"remove_tags"`
		} `json:"ticket"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Ticket == nil {
		writeJSON(w, http.StatusBadRequest, apiError("InvalidParameter", "Parameter ticket is required"))
		return
	}
	s.jobSeq++
	j := &job{id: fmt.Sprintf("%032x", s.jobSeq), ids: ids, add: in.Ticket.Add, remove: in.Ticket.Remove}
	s.jobs[j.id] = j
	writeJSON(w, http.StatusOK, map[string]any{"job_status": s.jobJSON(r, j)})
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request, _ []byte) {
	j, ok := s.jobs[r.PathValue("id")]
	if !ok {
		notFound(w)
		return
	}
	if j.polls++; j.polls > s.jobPolls {
		s.complete(j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"job_status": s.jobJSON(r, j)})
}

// complete applies a job. A closed or missing ticket fails alone; the keys of
// a failed result are unconfirmed (§5), so the fake sends "errors".
func (s *Server) complete(j *job) {
	if j.done {
		return
	}
	j.done = true
	for _, id := range j.ids {
		res := map[string]any{"id": number(id), "action": "update"}
		t, ok := s.tickets[id]
		switch {
		case !ok:
			res["success"], res["status"], res["errors"] = false, "Failed", "Ticket "+id+" not found"
		case t.Status == "closed":
			res["success"], res["status"], res["errors"] = false, "Failed", "Status: closed prevents ticket update"
		default:
			if after := removeTags(addTags(t.Tags, j.add), j.remove); !slices.Equal(after, t.Tags) {
				t.Tags = after
				t.UpdatedAt = s.now()
			}
			res["success"], res["status"] = true, "Updated"
		}
		j.result = append(j.result, res)
	}
}

func (s *Server) jobJSON(r *http.Request, j *job) map[string]any {
	out := map[string]any{
		"id": j.id, "url": "http://" + r.Host + "/api/v2/job_statuses/" + j.id + ".json",
		"job_type": "ThirdPartyTicketUpdate", "total": len(j.ids), "progress": 0,
		"status": "queued", "message": nil, "results": nil,
	}
	switch {
	case j.done:
		out["status"], out["progress"], out["results"] = "completed", len(j.ids), j.result
		out["message"] = "Completed at " + s.now().UTC().Format("2006-01-02 15:04:05 -0700")
	case j.polls > 0:
		out["status"] = "working"
	}
	return out
}

// position is where an export cursor stands: after this updated_at and id.
type position struct {
	at time.Time
	id string // "" stands before every id
}

func (p position) before(t *Ticket) bool {
	if !t.UpdatedAt.Equal(p.at) {
		return p.at.Before(t.UpdatedAt)
	}
	return idLess(p.id, t.ID)
}

func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func (p position) cursor() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(p.at.UnixNano(), 10) + ":" + p.id))
}

func parseCursor(c string) (position, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return position{}, false
	}
	ns, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || (id != "" && !isID(id)) {
		return position{}, false
	}
	return position{at: time.Unix(0, n), id: id}, true
}

// export serves the incremental cursor export (§11): start_time on the first
// call, cursor after; tickets ordered by updated_at; include=metric_sets,users
// sideloads; per_page up to the page size.
func (s *Server) export(w http.ResponseWriter, r *http.Request, _ []byte) {
	q := r.URL.Query()
	var pos position
	switch start, cursor := q.Get("start_time"), q.Get("cursor"); {
	case (start == "") == (cursor == ""):
		writeJSON(w, http.StatusBadRequest, apiError("InvalidValue", "send either start_time or cursor"))
		return
	case cursor != "":
		var ok bool
		if pos, ok = parseCursor(cursor); !ok {
			writeJSON(w, http.StatusBadRequest, apiError("InvalidPaginationParameter", "invalid cursor"))
			return
		}
	default:
		sec, err := strconv.ParseInt(start, 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError("InvalidValue", "start_time must be a Unix time"))
			return
		}
		if pos.at = time.Unix(sec, 0); pos.at.After(s.now().Add(-time.Minute)) {
			writeJSON(w, http.StatusBadRequest, apiError("InvalidValue", "Too recent start_time. Use a start_time older than 1 minute"))
			return
		}
		pos.at = pos.at.Add(-1) // updated_at == start_time is included
	}
	size := s.pageSize
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 && n < size {
		size = n
	}
	var rest []*Ticket
	for _, t := range s.tickets {
		if pos.before(t) {
			rest = append(rest, t)
		}
	}
	slices.SortFunc(rest, func(a, b *Ticket) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		if idLess(a.ID, b.ID) {
			return -1
		}
		return 1
	})
	page := rest[:min(size, len(rest))]
	if len(page) > 0 {
		last := page[len(page)-1]
		pos = position{at: last.UpdatedAt, id: last.ID}
	}
	tickets, metrics, users := []any{}, []any{}, []any{}
	seen := map[string]bool{}
	for _, t := range page {
		tickets = append(tickets, ticketJSON(t))
		metrics = append(metrics, metricJSON(t))
		if u, ok := s.users[t.RequesterID]; ok && !seen[u.ID] {
			seen[u.ID] = true
			users = append(users, userJSON(u))
		}
	}
	out := map[string]any{
		"tickets":       tickets,
		"after_cursor":  pos.cursor(),
		"after_url":     "http://" + r.Host + r.URL.Path + "?cursor=" + pos.cursor(),
		"before_cursor": nil,
		"before_url":    nil,
		"end_of_stream": len(page) == len(rest),
	}
	include := strings.Split(q.Get("include"), ",")
	if slices.Contains(include, "metric_sets") {
		out["metric_sets"] = metrics
	}
	if slices.Contains(include, "users") {
		out["users"] = users
	}
	writeJSON(w, http.StatusOK, out)
}

// stringList reads a JSON array of strings or one string of space-separated tags.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = strings.Fields(one)
		return nil
	}
	return json.Unmarshal(b, (*[]string)(l))
}

func apiError(code, description string) map[string]any {
	return map[string]any{"error": code, "description": description}
}

// recordInvalid is Zendesk's 422 shape (§8).
func recordInvalid(field, description string) map[string]any {
	return map[string]any{
		"error": "RecordInvalid", "description": "Record validation errors",
		"details": map[string]any{field: []any{map[string]any{"description": description}}},
	}
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, apiError("RecordNotFound", "Not found"))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// number renders an id as the JSON number the REST API sends, or null.
func number(id string) any {
	if id == "" {
		return nil
	}
	return json.Number(id)
}

// stamp renders a time as the API does (second precision, UTC), or null.
func stamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func isID(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
