// Package freshdesktest is an in-process fake of the Freshdesk API v2 calls
// recontact makes, answering as docs/freshdesk.md describes: Basic auth with
// the API key, whole-list tag replacement on PUT, private notes, paginated
// conversations and ticket lists with Link headers, per-minute credits with
// 429 + Retry-After and X-RateLimit-* headers, and 403/404 for gone tickets.
// Faults, latency and a foreign tag write racing ours can be injected. It is
// safe for concurrent use.
//
// Where Freshdesk's behaviour is unconfirmed the fake picks one and says so.
package freshdesktest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kind names an endpoint, for counters and targeted faults.
type Kind string

const (
	KindTicket        Kind = "ticket"        // GET /api/v2/tickets/{id}
	KindTicketUpdate  Kind = "ticket_update" // PUT /api/v2/tickets/{id}
	KindNote          Kind = "note"          // POST /api/v2/tickets/{id}/notes
	KindConversations Kind = "conversations" // GET /api/v2/tickets/{id}/conversations
	KindList          Kind = "list"          // GET /api/v2/tickets
)

// Ticket is a seeded ticket. Zero values get defaults when added.
type Ticket struct {
	ID             int64
	Status         int   // 2 open, 3 pending, 4 resolved, 5 closed, ≥ 6 custom; 0: 2
	Source         int   // 1 email, 2 portal, 3 phone, 7 chat, ...; 0: 1
	RequesterID    int64 // 0: 1
	RequesterEmail string
	CompanyID      int64 // 0: no company (company_id null)
	CompanyName    string
	Tags           []string
	CreatedAt      time.Time // zero: now
	UpdatedAt      time.Time // zero: CreatedAt; tag writes set it to now
	// Stats (include=stats). Zero is null; ReopenedAt, an unconfirmed key, is
	// left out entirely when zero.
	ResolvedAt, ClosedAt, FirstRespondedAt, ReopenedAt time.Time
	Spam, Deleted                                      bool
	// Forbidden answers 403 to every call on the ticket, as soft-deleted
	// tickets have been seen to (freshdesk.md §7).
	Forbidden     bool
	Conversations []Conversation
}

// Conversation is a reply or note on a ticket (freshdesk.md §4.1).
type Conversation struct {
	ID        int64 // 0: assigned
	UserID    int64
	Source    int // 0 reply, 2 note, ...
	Incoming  bool
	Private   bool
	Body      string
	CreatedAt time.Time // zero: now
}

// Note is a note received through POST /notes.
type Note struct {
	Body        string
	Private     bool // as stored: Freshdesk's default when left out is true
	PrivateSent bool // the request carried "private" explicitly
	At          time.Time
}

// Fault is an injected failure.
type Fault struct {
	Status     int           // e.g. 500, 503, 405
	RetryAfter time.Duration // sent as Retry-After in whole seconds when > 0
	Kind       Kind          // only calls of this kind; "" any
}

// When places a foreign tag write relative to the client's calls; see
// Interleave.
type When int

const (
	// AfterOurRead lands right after the next GET of the ticket is answered:
	// between a read-merge-write's GET and its PUT, so the PUT, built from
	// the older read, overwrites it.
	AfterOurRead When = iota
	// AfterOurWrite lands right after the next PUT of the ticket's tags, from
	// a view that predates that PUT (an agent saving a form opened earlier),
	// so it drops what the PUT added.
	AfterOurWrite
)

// Option configures a Server.
type Option func(*Server)

// WithAPIKey sets the accepted API key (default "test-key").
func WithAPIKey(key string) Option { return func(s *Server) { s.APIKey = key } }

// WithRequestsPerMinute sets the account's credits per minute (default 0: no
// limit). A call costs 1 credit plus 2 per include (freshdesk.md §3.2), and
// refused or unauthorised calls count too (§5).
func WithRequestsPerMinute(n int) Option { return func(s *Server) { s.limit = n } }

// WithMinute shortens the rate-limit window, so tests need not wait a real
// minute. Retry-After is the time left of it, rounded up to whole seconds.
func WithMinute(d time.Duration) Option { return func(s *Server) { s.minute = d } }

// WithClock replaces time.Now for timestamps and the rate-limit window.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithAgentID sets the user id notes are written as (default 9000).
func WithAgentID(id int64) Option { return func(s *Server) { s.agentID = id } }

// Server is a fake Freshdesk account. Point freshdesk.Config.BaseURL at URL.
type Server struct {
	URL    string // base URL, for freshdesk.Config.BaseURL
	APIKey string // the accepted key, for freshdesk.Config.APIKey

	srv     *httptest.Server
	now     func() time.Time
	limit   int
	minute  time.Duration
	agentID int64

	mu          sync.Mutex
	tickets     map[int64]*Ticket
	notes       map[int64][]Note
	calls       map[Kind]int
	throttled   int
	winStart    time.Time
	winUsed     int
	faults      []Fault
	latency     time.Duration
	interleaves map[int64][]interleave
	nextConvID  int64
}

type interleave struct {
	when When
	edit func([]string) []string
}

// New starts a fake and stops it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		APIKey:      "test-key",
		now:         time.Now,
		minute:      time.Minute,
		agentID:     9000,
		tickets:     map[int64]*Ticket{},
		notes:       map[int64][]Note{},
		calls:       map[Kind]int{},
		interleaves: map[int64][]interleave{},
		nextConvID:  1,
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	s.route(mux, "GET /api/v2/tickets/{id}", KindTicket, s.getTicket)
	s.route(mux, "PUT /api/v2/tickets/{id}", KindTicketUpdate, s.putTicket)
	s.route(mux, "POST /api/v2/tickets/{id}/notes", KindNote, s.postNote)
	s.route(mux, "GET /api/v2/tickets/{id}/conversations", KindConversations, s.getConversations)
	s.route(mux, "GET /api/v2/tickets", KindList, s.listTickets)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// AddTicket seeds or replaces a ticket.
func (s *Server) AddTicket(t Ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	if t.Status == 0 {
		t.Status = 2
	}
	if t.Source == 0 {
		t.Source = 1
	}
	if t.RequesterID == 0 {
		t.RequesterID = 1
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	t.Tags = slices.Clone(t.Tags)
	t.Conversations = slices.Clone(t.Conversations)
	for i := range t.Conversations {
		if t.Conversations[i].ID == 0 {
			t.Conversations[i].ID = s.nextConvID
			s.nextConvID++
		}
		if t.Conversations[i].CreatedAt.IsZero() {
			t.Conversations[i].CreatedAt = now
		}
	}
	s.tickets[t.ID] = &t
}

// Ticket returns a copy of a ticket's current state.
func (s *Server) Ticket(id int64) (Ticket, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return Ticket{}, false
	}
	c := *t
	c.Tags = slices.Clone(t.Tags)
	c.Conversations = slices.Clone(t.Conversations)
	return c, true
}

// Update edits a ticket as an agent would; UpdatedAt becomes now unless edit
// sets it.
func (s *Server) Update(id int64, edit func(*Ticket)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		panic(fmt.Sprintf("freshdesktest: no ticket %d", id))
	}
	before := t.UpdatedAt
	edit(t)
	if t.UpdatedAt.Equal(before) {
		t.UpdatedAt = s.now().UTC()
	}
}

// SetTags replaces a ticket's tags as an agent would.
func (s *Server) SetTags(id int64, tags ...string) {
	s.Update(id, func(t *Ticket) { t.Tags = slices.Clone(tags) })
}

// Notes returns the notes posted to a ticket, oldest first.
func (s *Server) Notes(id int64) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.notes[id])
}

// Calls counts requests of a kind, including refused, throttled and faulted
// ones: every attempt, so retries show.
func (s *Server) Calls(k Kind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[k]
}

// Throttled counts 429 answers given by the rate limit.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// FailNext answers the next n matching calls with f.
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Interleave makes a foreign writer change ticket id's tags once, at the
// given moment. edit gets the tags the writer sees, the current ones for
// AfterOurRead and the ones from before our PUT for AfterOurWrite, and
// returns the tags it stores (a whole-list write, like ours).
func (s *Server) Interleave(id int64, when When, edit func(tags []string) []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.interleaves[id] = append(s.interleaves[id], interleave{when: when, edit: edit})
}

type handler func(w http.ResponseWriter, r *http.Request) (status int, body any)

// route wraps a handler with what every call goes through, in Freshdesk's
// order as far as it is known: the rate limit counts every request, even
// unauthorised ones (freshdesk.md §5), then auth, then injected faults.
func (s *Server) route(mux *http.ServeMux, pattern string, kind Kind, h handler) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[kind]++
		delay := s.latency
		s.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}

		s.mu.Lock()
		cost := 1 + 2*len(includes(r))
		ok, remaining, reset := s.take(cost)
		if s.limit > 0 {
			w.Header().Set("X-RateLimit-Total", strconv.Itoa(s.limit))
			w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
			used := cost
			if !ok {
				used = 0
			}
			w.Header().Set("X-RateLimit-Used-CurrentRequest", strconv.Itoa(used))
		}
		if !ok {
			s.throttled++
			s.mu.Unlock()
			w.Header().Set("Retry-After", strconv.Itoa(seconds(reset)))
			writeJSON(w, http.StatusTooManyRequests, apiError{Code: "rate_limit_exceeded", Message: "Rate limit exceeded"})
			return
		}
		fault, faulted := s.takeFault(kind)
		s.mu.Unlock()

		if user, _, basic := r.BasicAuth(); !basic || user != s.APIKey {
			writeJSON(w, http.StatusUnauthorized, apiError{Code: "invalid_credentials", Message: "You have to be logged in to perform this action."})
			return
		}
		if faulted {
			if fault.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(seconds(fault.RetryAfter)))
			}
			writeJSON(w, fault.Status, apiError{Code: "injected", Message: http.StatusText(fault.Status)})
			return
		}
		status, body := h(w, r)
		writeJSON(w, status, body)
	})
}

// take spends cost credits of the current window. Called with mu held.
func (s *Server) take(cost int) (ok bool, remaining int, reset time.Duration) {
	if s.limit <= 0 {
		return true, 0, 0
	}
	now := s.now()
	if s.winStart.IsZero() || now.Sub(s.winStart) >= s.minute {
		s.winStart, s.winUsed = now, 0
	}
	reset = s.minute - now.Sub(s.winStart)
	if s.winUsed+cost > s.limit {
		return false, s.limit - s.winUsed, reset
	}
	s.winUsed += cost
	return true, s.limit - s.winUsed, reset
}

// takeFault pops the first fault for kind. Called with mu held.
func (s *Server) takeFault(k Kind) (Fault, bool) {
	for i, f := range s.faults {
		if f.Kind == "" || f.Kind == k {
			s.faults = slices.Delete(s.faults, i, i+1)
			return f, true
		}
	}
	return Fault{}, false
}

func seconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

func includes(r *http.Request) []string {
	v := r.URL.Query().Get("include")
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// apiError is Freshdesk's error body (freshdesk.md §6).
type apiError struct {
	Code        string       `json:"code,omitempty"`
	Message     string       `json:"message,omitempty"`
	Description string       `json:"description,omitempty"`
	Errors      []fieldError `json:"errors,omitempty"`
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Code    string `json:"code"`
}

func validation(field, message, code string) (int, any) {
	return http.StatusBadRequest, apiError{Description: "Validation failed", Errors: []fieldError{{field, message, code}}}
}

// noBody marks a reply without a body: Freshdesk's 404s may be empty (§6).
type noBody struct{}

func writeJSON(w http.ResponseWriter, status int, body any) {
	if _, empty := body.(noBody); empty {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// lookup finds the ticket of the {id} path value. Called with mu held.
func (s *Server) lookup(r *http.Request) (*Ticket, int, any) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	t, ok := s.tickets[id]
	switch {
	case err != nil || !ok:
		return nil, http.StatusNotFound, noBody{}
	case t.Forbidden:
		return nil, http.StatusForbidden, apiError{Code: "access_denied", Message: "You are not authorized to perform this action."}
	}
	return t, 0, nil
}

func (s *Server) getTicket(_ http.ResponseWriter, r *http.Request) (int, any) {
	inc, status, body := checkIncludes(r, "stats", "requester", "company")
	if status != 0 {
		return status, body
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, status, body := s.lookup(r)
	if t == nil {
		return status, body
	}
	reply := ticketJSON(t, inc)
	s.interfere(t, AfterOurRead, t.Tags)
	return http.StatusOK, reply
}

func (s *Server) putTicket(_ http.ResponseWriter, r *http.Request) (int, any) {
	var req map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return http.StatusBadRequest, apiError{Code: "invalid_json", Message: "Request body has invalid json format"}
	}
	// Only tags are modelled; other fields answer like an unknown field would.
	for k := range req {
		if k != "tags" {
			return validation(k, "Unexpected/invalid field in request", "invalid_field")
		}
	}
	var tags []string
	if raw, ok := req["tags"]; ok {
		if err := json.Unmarshal(raw, &tags); err != nil || tags == nil {
			return validation("tags", "It should be an Array", "datatype_mismatch")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, status, body := s.lookup(r)
	if t == nil {
		return status, body
	}
	if _, ok := req["tags"]; !ok {
		return http.StatusOK, ticketJSON(t, nil)
	}
	stale := slices.Clone(t.Tags)
	// tags replaces the whole list (freshdesk.md §3.3).
	t.Tags = slices.Clone(tags)
	t.UpdatedAt = s.now().UTC()
	reply := ticketJSON(t, nil)
	s.interfere(t, AfterOurWrite, stale)
	return http.StatusOK, reply
}

// interfere runs and removes the foreign writes due at when; seen is the tag
// list the foreign writer starts from. Called with mu held.
func (s *Server) interfere(t *Ticket, when When, seen []string) {
	var rest []interleave
	for _, il := range s.interleaves[t.ID] {
		if il.when != when {
			rest = append(rest, il)
			continue
		}
		t.Tags = nonNil(il.edit(slices.Clone(seen)))
		t.UpdatedAt = s.now().UTC()
		seen = t.Tags
	}
	s.interleaves[t.ID] = rest
}

func (s *Server) postNote(_ http.ResponseWriter, r *http.Request) (int, any) {
	var req struct {
		Body    *string `json:"body"`
		Private *bool   `json:"private"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return http.StatusBadRequest, apiError{Code: "invalid_json", Message: "Request body has invalid json format"}
	}
	if req.Body == nil || *req.Body == "" {
		return validation("body", "It should be a/an String", "missing_field")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, status, body := s.lookup(r)
	if t == nil {
		return status, body
	}
	// private defaults to true (freshdesk.md §4.2). Whether a note changes
	// updated_at is unconfirmed; the fake leaves it alone.
	n := Note{Body: *req.Body, Private: req.Private == nil || *req.Private, PrivateSent: req.Private != nil, At: s.now().UTC()}
	s.notes[t.ID] = append(s.notes[t.ID], n)
	c := Conversation{ID: s.nextConvID, UserID: s.agentID, Source: 2, Private: n.Private, Body: n.Body, CreatedAt: n.At}
	s.nextConvID++
	t.Conversations = append(t.Conversations, c)
	return http.StatusCreated, map[string]any{
		"id": c.ID, "body": c.Body, "private": c.Private, "incoming": false,
		"user_id": c.UserID, "ticket_id": t.ID, "created_at": stamp(c.CreatedAt),
	}
}

func (s *Server) getConversations(w http.ResponseWriter, r *http.Request) (int, any) {
	page, per, status, body := paging(r, 30)
	if status != 0 {
		return status, body
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, status, body := s.lookup(r)
	if t == nil {
		return status, body
	}
	items := pageOf(t.Conversations, page, per)
	out := make([]map[string]any, len(items))
	for i, c := range items {
		out[i] = map[string]any{
			"id": c.ID, "body": c.Body, "body_text": c.Body, "incoming": c.Incoming, "private": c.Private,
			"user_id": c.UserID, "source": c.Source, "ticket_id": t.ID,
			"created_at": stamp(c.CreatedAt), "updated_at": stamp(c.CreatedAt),
		}
	}
	if page*per < len(t.Conversations) {
		setNext(w, r, page)
	}
	return http.StatusOK, out
}

// maxPage is the list's page cap (freshdesk.md §3.5). What Freshdesk answers
// past it is unconfirmed; the fake answers 400.
const maxPage = 300

func (s *Server) listTickets(w http.ResponseWriter, r *http.Request) (int, any) {
	q := r.URL.Query()
	inc, status, body := checkIncludes(r, "stats", "requester", "description")
	if status != 0 {
		return status, body
	}
	page, per, status, body := paging(r, 30)
	if status != 0 {
		return status, body
	}
	if page > maxPage {
		return validation("page", "Page number exceeds the maximum of 300", "invalid_value")
	}
	orderBy := cmp.Or(q.Get("order_by"), "created_at")
	if !slices.Contains([]string{"created_at", "updated_at", "due_by", "status"}, orderBy) {
		return validation("order_by", "It should be one of these values: 'created_at,due_by,updated_at,status'", "invalid_value")
	}
	orderType := cmp.Or(q.Get("order_type"), "desc")
	if orderType != "asc" && orderType != "desc" {
		return validation("order_type", "It should be one of these values: 'asc,desc'", "invalid_value")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Without updated_since only tickets created in the last 30 days are
	// listed; spam and deleted never are (freshdesk.md §3.5).
	since, field := s.now().Add(-30*24*time.Hour), func(t *Ticket) time.Time { return t.CreatedAt }
	if v := q.Get("updated_since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return validation("updated_since", "It should be in the 'valid date time' format", "invalid_date")
		}
		// Inclusive: whether Freshdesk's updated_since is ≥ or > is unconfirmed.
		since, field = t, func(t *Ticket) time.Time { return t.UpdatedAt }
	}
	var list []*Ticket
	for _, t := range s.tickets {
		if !t.Spam && !t.Deleted && !t.Forbidden && !field(t).Before(since) {
			list = append(list, t)
		}
	}
	key := func(t *Ticket) int64 {
		switch orderBy {
		case "updated_at":
			return t.UpdatedAt.UnixNano()
		case "status":
			return int64(t.Status)
		}
		return t.CreatedAt.UnixNano() // due_by is not modelled
	}
	slices.SortStableFunc(list, func(a, b *Ticket) int {
		c := cmp.Compare(key(a), key(b))
		if c == 0 {
			c = cmp.Compare(a.ID, b.ID)
		}
		if orderType == "desc" {
			c = -c
		}
		return c
	})
	items := pageOf(list, page, per)
	out := make([]map[string]any, len(items))
	for i, t := range items {
		out[i] = ticketJSON(t, inc)
	}
	if page*per < len(list) && page < maxPage {
		setNext(w, r, page)
	}
	return http.StatusOK, out
}

func checkIncludes(r *http.Request, allowed ...string) (map[string]bool, int, any) {
	inc := map[string]bool{}
	for _, v := range includes(r) {
		if !slices.Contains(allowed, v) {
			status, body := validation("include", "It should be one of these values: '"+strings.Join(allowed, ",")+"'", "invalid_value")
			return nil, status, body
		}
		inc[v] = true
	}
	return inc, 0, nil
}

// paging reads page (from 1) and per_page (at most 100, freshdesk.md §2).
func paging(r *http.Request, defaultPer int) (page, per, status int, body any) {
	q := r.URL.Query()
	page, per = 1, defaultPer
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			status, body = validation("page", "It should be a/an Positive Integer", "datatype_mismatch")
			return
		}
		page = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			status, body = validation("per_page", "It should be a/an Positive Integer less than or equal to 100", "invalid_value")
			return
		}
		per = n
	}
	return page, per, 0, nil
}

func pageOf[T any](all []T, page, per int) []T {
	start := (page - 1) * per
	if start >= len(all) {
		return []T{}
	}
	return all[start:min(start+per, len(all))]
}

// setNext adds the Link header Freshdesk sends when another page exists.
func setNext(w http.ResponseWriter, r *http.Request, page int) {
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
	q := r.URL.Query()
	q.Set("page", strconv.Itoa(page+1))
	u.RawQuery = q.Encode()
	w.Header().Set("Link", "<"+u.String()+`>; rel="next"`)
}

func ticketJSON(t *Ticket, inc map[string]bool) map[string]any {
	m := map[string]any{
		"id": t.ID, "subject": "Ticket " + strconv.FormatInt(t.ID, 10), "status": t.Status, "priority": 1,
		"source": t.Source, "requester_id": t.RequesterID, "company_id": nil, "tags": slices.Clone(nonNil(t.Tags)),
		"spam": t.Spam, "custom_fields": map[string]any{},
		"created_at": stamp(t.CreatedAt), "updated_at": stamp(t.UpdatedAt),
	}
	if t.CompanyID != 0 {
		m["company_id"] = t.CompanyID
	}
	if t.Deleted {
		m["deleted"] = true // present when trashed (freshdesk.md §3.2)
	}
	if inc["requester"] {
		m["requester"] = map[string]any{"id": t.RequesterID, "email": t.RequesterEmail, "name": "Requester", "mobile": nil, "phone": nil}
	}
	if inc["company"] && t.CompanyID != 0 {
		m["company"] = map[string]any{"id": t.CompanyID, "name": t.CompanyName}
	}
	if inc["stats"] {
		st := map[string]any{
			"resolved_at": stampOrNil(t.ResolvedAt), "closed_at": stampOrNil(t.ClosedAt),
			"first_responded_at": stampOrNil(t.FirstRespondedAt),
		}
		if !t.ReopenedAt.IsZero() {
			st["reopened_at"] = stamp(t.ReopenedAt)
		}
		m["stats"] = st
	}
	return m
}

// stamp writes Freshdesk's timestamp form: UTC with a Z (freshdesk.md §2).
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func stampOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return stamp(t)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
