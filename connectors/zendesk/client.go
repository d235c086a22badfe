package zendesk

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/recontact/recontact"
)

// Defaults for Config's zero values.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultRetryMax     = 2
	DefaultMaxRetryWait = 3 * time.Second
)

const (
	retryWaitMin = 500 * time.Millisecond
	retryWaitMax = 5 * time.Second
	// An export page of 1,000 tickets with sideloads runs to a few MB.
	maxResponseBody = 64 << 20
	maxErrorBody    = 64 << 10
	// maxUpdateMany is the most ids one update_many call takes (§5).
	maxUpdateMany = 100
)

// ErrClosed reports that Zendesk refused to change a closed ticket (§8). It is
// terminal: retrying cannot succeed. Test with errors.Is.
var ErrClosed = errors.New("zendesk ticket is closed")

// ErrNotConfigured is returned by every call of a Client built without
// credentials.
var ErrNotConfigured = errors.New("zendesk client is not configured")

// RateLimitError reports a 429 (or a 503 with Retry-After) that was not worth
// waiting out inside the call: the durable queue should reschedule the job for
// RetryAfter instead of holding a worker. Calls return it wrapped in an
// EUnavailable *recontact.Error; find it with errors.As.
type RateLimitError struct {
	RetryAfter time.Duration // 0 when Zendesk named no time: use your own backoff
	Status     int
}

func (e *RateLimitError) Error() string {
	if e.RetryAfter == 0 {
		return fmt.Sprintf("zendesk answered %d", e.Status)
	}
	return fmt.Sprintf("zendesk answered %d, retry after %s", e.Status, e.RetryAfter)
}

// RateInfo is what one response said about the rate limits (§9). Counts are
// -1 when the header was not sent, so a missing header never reads as "none left".
type RateInfo struct {
	Status    int
	Limit     int           // X-Rate-Limit, else ratelimit-limit: account requests per minute
	Remaining int           // X-Rate-Limit-Remaining, else ratelimit-remaining
	Reset     time.Duration // ratelimit-reset
	// Ticket updates per minute, from Zendesk-RateLimit-tickets-update.
	UpdatesLimit     int
	UpdatesRemaining int
	UpdatesReset     time.Duration
	RetryAfter       time.Duration // on 429 and 503
}

// Config configures a Client. The zero Config gives a Client that is not
// Configured, so a deployment without Zendesk still starts.
type Config struct {
	Subdomain string // "acme" for https://acme.zendesk.com
	Email     string // the agent the token belongs to; an admin for ExportTickets (§10)
	APIToken  string
	BaseURL   string                      // overrides https://{Subdomain}.zendesk.com, e.g. a fake's URL
	Logger    retryablehttp.LeveledLogger // may be nil; sees methods and URLs, never credentials
	RetryMax  int                         // retries inside one call; 0 means DefaultRetryMax, <0 none
	Timeout   time.Duration               // deadline of one call, retries included; 0 means DefaultTimeout
	// MaxRetryWait is the longest Retry-After a call waits out itself; a longer
	// one returns a *RateLimitError. 0 means DefaultMaxRetryWait.
	MaxRetryWait time.Duration
	// OnRate, if set, receives the rate-limit headers of every response so a
	// shared limiter can slow down. It runs on the calling goroutine: keep it quick.
	OnRate func(RateInfo)
}

// Client calls the Zendesk Support API. It is safe for concurrent use.
type Client struct {
	base    string
	auth    string // the Authorization header; never logged
	http    *retryablehttp.Client
	timeout time.Duration
	maxWait time.Duration
	onRate  func(RateInfo)
	now     func() time.Time
}

// NewClient checks cfg and builds a Client. An entirely empty cfg is valid and
// gives a Client whose calls fail with ErrNotConfigured.
func NewClient(cfg Config) (*Client, error) {
	c := &Client{
		timeout: orDefault(cfg.Timeout, DefaultTimeout),
		maxWait: orDefault(cfg.MaxRetryWait, DefaultMaxRetryWait),
		onRate:  cfg.OnRate,
		now:     time.Now,
	}
	if cfg.Subdomain == "" && cfg.BaseURL == "" && cfg.Email == "" && cfg.APIToken == "" {
		return c, nil
	}
	base, err := baseURL(cfg.Subdomain, cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Email == "" || cfg.APIToken == "" {
		return nil, recontact.Errorf(recontact.EInvalid, "zendesk needs both an e-mail and an API token")
	}
	c.base = base
	// API token authentication (§10): the e-mail with "/token" as the user name.
	c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Email+"/token:"+cfg.APIToken))

	retryMax := cfg.RetryMax
	switch {
	case retryMax == 0:
		retryMax = DefaultRetryMax
	case retryMax < 0:
		retryMax = 0
	}
	h := retryablehttp.NewClient()
	h.Logger = cfg.Logger // nil silences the library's default stderr logger
	h.RetryMax = retryMax
	h.RetryWaitMin = retryWaitMin
	h.RetryWaitMax = retryWaitMax
	h.CheckRetry = c.checkRetry
	// DefaultBackoff sleeps for Retry-After uncapped; checkRetry only retries
	// when that is at most maxWait, so the sleep stays short.
	h.Backoff = retryablehttp.DefaultBackoff
	// Hand back the last response after the retries, so its status maps to a code.
	h.ErrorHandler = retryablehttp.PassthroughErrorHandler
	h.ResponseLogHook = func(_ retryablehttp.Logger, resp *http.Response) { c.noteRate(resp) }
	c.http = h
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func baseURL(subdomain, override string) (string, error) {
	if override != "" {
		u, err := url.Parse(override)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "", recontact.Errorf(recontact.EInvalid, "zendesk base URL must be an http(s) URL")
		}
		return strings.TrimRight(override, "/"), nil
	}
	if subdomain == "" {
		return "", recontact.Errorf(recontact.EInvalid, "zendesk needs a subdomain or a base URL")
	}
	for _, r := range subdomain {
		if !(r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return "", recontact.Errorf(recontact.EInvalid, "zendesk subdomain must be the bare name (acme, not acme.zendesk.com)")
		}
	}
	return "https://" + subdomain + ".zendesk.com", nil
}

// Configured reports whether the client has credentials.
func (c *Client) Configured() bool { return c != nil && c.auth != "" }

// User is a Zendesk user as recontact needs it.
type User struct {
	ID             string
	Email          string
	OrganizationID string
}

// Organization is a Zendesk organisation; ExternalID, else Name, is the partner key.
type Organization struct {
	ID         string
	Name       string
	ExternalID string
}

// Metrics are a ticket's counts as Zendesk computes them (§7).
type Metrics struct {
	Replies  int // public agent replies
	Reopens  int
	SolvedAt time.Time // latest solve; zero while never solved
}

// JobStatus is the state of a background job such as update_many (§5).
type JobStatus struct {
	ID       string
	Status   string // queued, working, failed, completed (killed also seen)
	Total    int
	Progress int
	Message  string
	Results  []JobResult
}

// Done reports whether the job will change no further.
func (j JobStatus) Done() bool {
	return j.Status == "completed" || j.Status == "failed" || j.Status == "killed"
}

// JobResult is the outcome for one ticket of a job. The keys of a failed item
// are unconfirmed (§5); Error holds whatever error text Zendesk sent.
type JobResult struct {
	ID      string
	Success bool
	Status  string
	Error   string
}

// ExportPage is one page of the incremental ticket export (§11).
type ExportPage struct {
	// Tickets carry Replies, Reopens and ResolvedAt from the metric sets, and the
	// requester's e-mail from the users sideload, where those were present.
	Tickets     []*recontact.Contact
	Metrics     map[string]Metrics // by ticket id
	Users       map[string]User    // by user id
	AfterCursor string             // pass to the next call, also after EndOfStream
	EndOfStream bool
}

// User reads a user: GET /api/v2/users/{id}.
func (c *Client) User(ctx context.Context, id string) (User, error) {
	if err := checkID("user", id); err != nil {
		return User{}, err
	}
	var out struct {
		User *apiUser `json:"user"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v2/users/"+id, "user "+id, nil, &out); err != nil {
		return User{}, err
	}
	if out.User == nil {
		return User{}, noObject("user")
	}
	return out.User.user(), nil
}

// Organization reads an organisation: GET /api/v2/organizations/{id}.
func (c *Client) Organization(ctx context.Context, id string) (Organization, error) {
	if err := checkID("organization", id); err != nil {
		return Organization{}, err
	}
	var out struct {
		Organization *struct {
			ID         text `json:"id"`
			Name       text `json:"name"`
			ExternalID text `json:"external_id"`
		} `json:"organization"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v2/organizations/"+id, "organization "+id, nil, &out); err != nil {
		return Organization{}, err
	}
	o := out.Organization
	if o == nil {
		return Organization{}, noObject("organization")
	}
	return Organization{ID: string(o.ID), Name: string(o.Name), ExternalID: string(o.ExternalID)}, nil
}

// Ticket reads a ticket as a contact: GET /api/v2/tickets/{id}. ResolvedAt is
// updated_at while resolved, as in Parse; TicketMetrics has the solve time.
func (c *Client) Ticket(ctx context.Context, id string) (*recontact.Contact, error) {
	if err := checkID("ticket", id); err != nil {
		return nil, err
	}
	var out struct {
		Ticket *apiTicket `json:"ticket"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v2/tickets/"+id, "ticket "+id, nil, &out); err != nil {
		return nil, err
	}
	if out.Ticket == nil {
		return nil, noObject("ticket")
	}
	return out.Ticket.contact(), nil
}

// TicketMetrics reads a ticket's metrics: GET /api/v2/tickets/{id}/metrics.
func (c *Client) TicketMetrics(ctx context.Context, id string) (Metrics, error) {
	if err := checkID("ticket", id); err != nil {
		return Metrics{}, err
	}
	var out struct {
		Metric *apiMetrics `json:"ticket_metric"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v2/tickets/"+id+"/metrics", "metrics of ticket "+id, nil, &out); err != nil {
		return Metrics{}, err
	}
	if out.Metric == nil {
		return Metrics{}, noObject("ticket_metric")
	}
	return out.Metric.metrics(), nil
}

// AddTags adds tags to a ticket, keeping the others, and returns all its tags
// after: PUT /api/v2/tickets/{id}/tags (§4). recontact owns only its own tags,
// so it never sets the whole list.
func (c *Client) AddTags(ctx context.Context, id string, tags []string) ([]string, error) {
	if err := checkID("ticket", id); err != nil {
		return nil, err
	}
	if err := checkTags(tags, false); err != nil {
		return nil, err
	}
	var out struct {
		Tags []string `json:"tags"`
	}
	err := c.do(ctx, http.MethodPut, "/api/v2/tickets/"+id+"/tags", "ticket "+id, tagList{tags}, &out)
	return out.Tags, err
}

// RemoveTags removes only the listed tags: DELETE /api/v2/tickets/{id}/tags
// with a JSON body (§4). The response body is not used: whether it has one is
// not documented.
func (c *Client) RemoveTags(ctx context.Context, id string, tags []string) error {
	if err := checkID("ticket", id); err != nil {
		return err
	}
	if err := checkTags(tags, false); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, "/api/v2/tickets/"+id+"/tags", "ticket "+id, tagList{tags}, nil)
}

// UpdateManyTags adds and removes tags on up to 100 tickets in one background
// job and returns the job's id for JobStatus: PUT
// /api/v2/tickets/update_many?ids=… (§5). Only this ids= form is confirmed to
// honour additional_tags and remove_tags, so tickets are grouped by change.
func (c *Client) UpdateManyTags(ctx context.Context, ids []string, add, remove []string) (string, error) {
	if len(ids) == 0 || len(ids) > maxUpdateMany {
		return "", recontact.Errorf(recontact.EInvalid, fmt.Sprintf("update_many takes 1 to %d tickets, got %d", maxUpdateMany, len(ids)))
	}
	for _, id := range ids {
		if err := checkID("ticket", id); err != nil {
			return "", err
		}
	}
	if len(add) == 0 && len(remove) == 0 {
		return "", recontact.Errorf(recontact.EInvalid, "update_many needs tags to add or remove")
	}
	if err := checkTags(add, true); err != nil {
		return "", err
	}
	if err := checkTags(remove, true); err != nil {
		return "", err
	}
	type change struct {
		Add    []string `json:"additional_tags,omitempty"`
		Remove []string `json:"remove_tags,omitempty"`
	}
	in := struct {
		Ticket change `json:"ticket"`
	}{change{add, remove}}
	var out struct {
		Job *apiJob `json:"job_status"`
	}
	path := "/api/v2/tickets/update_many?ids=" + strings.Join(ids, ",")
	if err := c.do(ctx, http.MethodPut, path, fmt.Sprintf("%d tickets", len(ids)), in, &out); err != nil {
		return "", err
	}
	if out.Job == nil || out.Job.ID == "" {
		return "", noObject("job_status")
	}
	return string(out.Job.ID), nil
}

// JobStatus reads a background job: GET /api/v2/job_statuses/{id}. Zendesk
// keeps job data for a day (§5).
func (c *Client) JobStatus(ctx context.Context, id string) (JobStatus, error) {
	if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool {
		return !(r == '-' || r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
	}) {
		return JobStatus{}, recontact.Errorf(recontact.EInvalid, "invalid job id")
	}
	var out struct {
		Job *apiJob `json:"job_status"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v2/job_statuses/"+id, "job "+id, nil, &out); err != nil {
		return JobStatus{}, err
	}
	if out.Job == nil {
		return JobStatus{}, noObject("job_status")
	}
	return out.Job.status(), nil
}

// AddInternalNote adds a private comment: PUT /api/v2/tickets/{id} (§6).
// public:false is always sent, because a comment otherwise inherits the
// visibility the ticket was created with. A note is not idempotent, so only
// answers that prove Zendesk did not take it (429, 503) are retried here.
func (c *Client) AddInternalNote(ctx context.Context, id, body string) error {
	if err := checkID("ticket", id); err != nil {
		return err
	}
	if strings.TrimSpace(body) == "" {
		return recontact.Errorf(recontact.EInvalid, "internal note is empty")
	}
	type comment struct {
		Body   string `json:"body"`
		Public bool   `json:"public"` // no omitempty: false must be sent
	}
	in := struct {
		Ticket struct {
			Comment comment `json:"comment"`
		} `json:"ticket"`
	}{}
	in.Ticket.Comment = comment{Body: body}
	return c.do(context.WithValue(ctx, noReplayKey{}, true), http.MethodPut, "/api/v2/tickets/"+id, "ticket "+id, in, nil)
}

// ExportTickets reads one page of the incremental cursor export with metric
// sets and users (§11): from startTime on the first call (cursor ""), from
// cursor afterwards. Zendesk allows 10 calls a minute and needs an admin.
func (c *Client) ExportTickets(ctx context.Context, startTime time.Time, cursor string) (ExportPage, error) {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	} else {
		// Zendesk refuses a start_time less than a minute old (§11).
		if startTime.IsZero() || startTime.After(c.now().Add(-time.Minute)) {
			return ExportPage{}, recontact.Errorf(recontact.EInvalid, "export start time must be at least a minute in the past")
		}
		q.Set("start_time", strconv.FormatInt(startTime.Unix(), 10))
	}
	q.Set("include", "metric_sets,users")
	// per_page is unconfirmed for the cursor endpoint (§11); 1,000 is the
	// common maximum and Zendesk ignores what it does not know.
	q.Set("per_page", "1000")
	var out struct {
		Tickets     []apiTicket  `json:"tickets"`
		MetricSets  []apiMetrics `json:"metric_sets"`
		Users       []apiUser    `json:"users"`
		AfterCursor text         `json:"after_cursor"`
		EndOfStream bool         `json:"end_of_stream"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v2/incremental/tickets/cursor?"+q.Encode(), "ticket export", nil, &out); err != nil {
		return ExportPage{}, err
	}
	page := ExportPage{
		Metrics:     make(map[string]Metrics, len(out.MetricSets)),
		Users:       make(map[string]User, len(out.Users)),
		AfterCursor: string(out.AfterCursor),
		EndOfStream: out.EndOfStream,
	}
	for _, m := range out.MetricSets {
		if m.TicketID != "" {
			page.Metrics[string(m.TicketID)] = m.metrics()
		}
	}
	for _, u := range out.Users {
		if u.ID != "" {
			page.Users[string(u.ID)] = u.user()
		}
	}
	for i := range out.Tickets {
		t := out.Tickets[i].contact()
		if m, ok := page.Metrics[t.TicketID]; ok {
			t.Replies, t.Reopens = m.Replies, m.Reopens
			if t.Status.Resolved() && !m.SolvedAt.IsZero() {
				t.ResolvedAt = m.SolvedAt
			}
		}
		if u, ok := page.Users[t.RequesterID]; ok {
			t.CustomerEmail = u.Email
		}
		page.Tickets = append(page.Tickets, t)
	}
	return page, nil
}

// noReplayKey marks a request that must not be sent twice unless Zendesk
// proved it refused the first attempt.
type noReplayKey struct{}

// do sends one call with its deadline and retries and decodes a 2xx answer
// into out. what names the object in error messages ("ticket 42").
func (c *Client) do(ctx context.Context, method, path, what string, in, out any) error {
	if !c.Configured() {
		return recontact.Wrap(recontact.EUnavailable, "zendesk is not configured", ErrNotConfigured)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body any // a nil interface: no body at all
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return recontact.Wrap(recontact.EInternal, "encode zendesk request", err)
		}
		body = b
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return recontact.Wrap(recontact.EInternal, "build zendesk request", err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "recontact")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if resp != nil { // the pass-through error handler can return both
			resp.Body.Close()
		}
		if ctx.Err() == context.DeadlineExceeded {
			return recontact.Wrap(recontact.EUnavailable, fmt.Sprintf("zendesk did not answer within %s (%s)", c.timeout, what), err)
		}
		return recontact.Wrap(recontact.EUnavailable, "zendesk unreachable ("+what+")", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.statusError(resp, what)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBody)).Decode(out); err != nil {
		return recontact.Wrap(recontact.EUnavailable, "zendesk sent an unreadable answer ("+what+")", err)
	}
	return nil
}

// checkRetry retries what is worth retrying within one call: refusals whose
// Retry-After is short, network errors and 5xx. A longer Retry-After ends the
// call, and statusError turns it into a *RateLimitError for the queue.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if wait, ok := retryAfter(resp.Header, c.now()); ok {
			return wait <= c.maxWait, nil
		}
		return true, nil
	}
	if noReplay, _ := ctx.Value(noReplayKey{}).(bool); noReplay {
		return false, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// statusError maps a non-2xx answer to a coded error.
func (c *Client) statusError(resp *http.Response, what string) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	status := resp.StatusCode
	cause := fmt.Errorf("HTTP %d: %s", status, errorText(body))
	switch {
	case status == http.StatusTooManyRequests,
		status == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
		wait, _ := retryAfter(resp.Header, c.now())
		return recontact.Wrap(recontact.EUnavailable, "zendesk rate limit reached ("+what+")", &RateLimitError{RetryAfter: wait, Status: status})
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return recontact.Wrap(recontact.EUnauthorized, "zendesk rejected credentials", cause)
	case status == http.StatusNotFound:
		return recontact.Wrap(recontact.ENotFound, "zendesk has no "+what, cause)
	case status == http.StatusUnprocessableEntity && bytes.Contains(bytes.ToLower(body), []byte("closed prevents ticket update")):
		// Matched on text: the error key varies between RecordInvalid and ClosedTicket (§8).
		return recontact.Wrap(recontact.EConflict, what+" is closed", fmt.Errorf("%w: %w", ErrClosed, cause))
	case status == http.StatusConflict:
		// A safe update lost a race (§4): re-read, recompute, retry.
		return recontact.Wrap(recontact.EConflict, "zendesk refused a conflicting update of "+what, cause)
	case status >= 400 && status < 500:
		return recontact.Wrap(recontact.EInvalid, "zendesk rejected the request for "+what+": "+errorText(body), cause)
	}
	return recontact.Wrap(recontact.EUnavailable, fmt.Sprintf("zendesk answered %d (%s)", status, what), cause)
}

// errorText extracts Zendesk's error text, e.g. {"error":"RecordInvalid",
// "description":"…","details":{"status":[{"description":"…"}]}} (§8), or some
// of a body that is not JSON. Each part is read on its own: shapes vary.
func errorText(body []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return clip(strings.Join(strings.Fields(string(body)), " "), 300)
	}
	var parts []string
	add := func(raw json.RawMessage) {
		if s, ok := scalar(raw); ok && s != "" {
			parts = append(parts, s)
		}
	}
	add(top["error"])
	var obj map[string]json.RawMessage // {"error":{"title":…,"message":…}} on some endpoints
	if json.Unmarshal(top["error"], &obj) == nil {
		add(obj["title"])
		add(obj["message"])
	}
	add(top["description"])
	var details map[string][]map[string]json.RawMessage
	if json.Unmarshal(top["details"], &details) == nil {
		for _, field := range slices.Sorted(maps.Keys(details)) {
			for _, d := range details[field] {
				add(d["description"])
			}
		}
	}
	return clip(strings.Join(parts, "; "), 300)
}

// noteRate passes the rate-limit headers of every response to OnRate.
func (c *Client) noteRate(resp *http.Response) {
	if c.onRate == nil || resp == nil {
		return
	}
	if info, ok := rateInfo(resp, c.now()); ok {
		c.onRate(info)
	}
}

func rateInfo(resp *http.Response, now time.Time) (RateInfo, bool) {
	h := resp.Header
	info := RateInfo{Status: resp.StatusCode, Limit: -1, Remaining: -1, UpdatesLimit: -1, UpdatesRemaining: -1}
	found := false
	num := func(dst *int, names ...string) {
		for _, n := range names {
			if v, err := strconv.Atoi(strings.TrimSpace(h.Get(n))); err == nil {
				*dst, found = v, true
				return
			}
		}
	}
	num(&info.Limit, "X-Rate-Limit", "Ratelimit-Limit")
	num(&info.Remaining, "X-Rate-Limit-Remaining", "Ratelimit-Remaining")
	var reset int
	if num(&reset, "Ratelimit-Reset"); reset > 0 {
		info.Reset = time.Duration(reset) * time.Second
	}
	// "total=100; remaining=99; resets=41" (§9)
	if v := h.Get("Zendesk-RateLimit-Tickets-Update"); v != "" {
		for _, kv := range strings.Split(v, ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil {
				continue
			}
			switch strings.ToLower(k) {
			case "total":
				info.UpdatesLimit, found = n, true
			case "remaining":
				info.UpdatesRemaining, found = n, true
			case "resets":
				info.UpdatesReset, found = time.Duration(n)*time.Second, true
			}
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if wait, ok := retryAfter(h, now); ok {
			info.RetryAfter, found = wait, true
		}
	}
	return info, found
}

// retryAfter reads Retry-After in seconds (what Zendesk sends, §9) or as an
// HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 24*3600 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// API shapes. Ids are numbers in the REST API, but text reads strings too.

// text is a JSON string, number (kept as its literal, so long ids keep every
// digit) or null.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	s, ok := scalar(b)
	if !ok {
		return fmt.Errorf("want a string or number, got %.20s", b)
	}
	*t = text(s)
	return nil
}

// apiTime is an RFC 3339 timestamp that may be null or "".
type apiTime struct{ time.Time }

func (t *apiTime) UnmarshalJSON(b []byte) error {
	s, ok := scalar(b)
	if !ok {
		return fmt.Errorf("want a timestamp, got %.20s", b)
	}
	if s == "" {
		return nil
	}
	v, ok := parseTime(s)
	if !ok {
		return fmt.Errorf("want a timestamp, got %q", s)
	}
	t.Time = v
	return nil
}

type apiUser struct {
	ID             text `json:"id"`
	Email          text `json:"email"`
	OrganizationID text `json:"organization_id"`
}

func (u apiUser) user() User {
	return User{ID: string(u.ID), Email: string(u.Email), OrganizationID: string(u.OrganizationID)}
}

type apiTicket struct {
	ID             text     `json:"id"`
	Status         text     `json:"status"`
	RequesterID    text     `json:"requester_id"`
	OrganizationID text     `json:"organization_id"`
	CreatedAt      apiTime  `json:"created_at"`
	UpdatedAt      apiTime  `json:"updated_at"`
	Tags           []string `json:"tags"`
	Via            *struct {
		Channel text `json:"channel"`
	} `json:"via"`
}

func (t *apiTicket) contact() *recontact.Contact {
	c := &recontact.Contact{
		Source:      recontact.SourceZendesk,
		TicketID:    string(t.ID),
		RequesterID: string(t.RequesterID),
		OrgID:       string(t.OrganizationID),
		Status:      apiStatus(string(t.Status)),
		CreatedAt:   t.CreatedAt.Time,
		UpdatedAt:   t.UpdatedAt.Time,
		Tags:        nilIfEmpty(t.Tags),
	}
	if t.Via != nil {
		c.Channel = apiChannel(string(t.Via.Channel))
	}
	if c.Status.Resolved() {
		c.ResolvedAt = c.UpdatedAt
	}
	return c
}

type apiMetrics struct {
	TicketID text    `json:"ticket_id"`
	Replies  *int    `json:"replies"`
	Reopens  *int    `json:"reopens"`
	SolvedAt apiTime `json:"solved_at"`
}

func (m apiMetrics) metrics() Metrics {
	out := Metrics{SolvedAt: m.SolvedAt.Time}
	if m.Replies != nil {
		out.Replies = *m.Replies
	}
	if m.Reopens != nil {
		out.Reopens = *m.Reopens
	}
	return out
}

type apiJob struct {
	ID       text `json:"id"`
	Status   text `json:"status"`
	Total    *int `json:"total"`
	Progress *int `json:"progress"`
	Message  text `json:"message"`
	Results  []struct {
		ID      text            `json:"id"`
		Success bool            `json:"success"`
		Status  text            `json:"status"`
		Error   json.RawMessage `json:"error"`
		Errors  json.RawMessage `json:"errors"`
		Details json.RawMessage `json:"details"`
	} `json:"results"`
}

func (j *apiJob) status() JobStatus {
	s := JobStatus{ID: string(j.ID), Status: string(j.Status), Message: string(j.Message)}
	if j.Total != nil {
		s.Total = *j.Total
	}
	if j.Progress != nil {
		s.Progress = *j.Progress
	}
	for _, r := range j.Results {
		res := JobResult{ID: string(r.ID), Success: r.Success, Status: string(r.Status)}
		// Which key carries a failure's text is unconfirmed (§5): take the first sent.
		for _, raw := range []json.RawMessage{r.Error, r.Errors, r.Details} {
			if len(raw) == 0 || isNull(raw) {
				continue
			}
			if s, ok := scalar(raw); ok {
				res.Error = s
			} else {
				res.Error = string(raw)
			}
			break
		}
		s.Results = append(s.Results, res)
	}
	return s
}

type tagList struct {
	Tags []string `json:"tags"`
}

func checkID(kind, id string) error {
	if !isID(id) {
		return recontact.Errorf(recontact.EInvalid, "invalid zendesk "+kind+" id "+strconv.Quote(clip(id, 80)))
	}
	return nil
}

// checkTags rejects tags Zendesk would split or ignore: a tag has no spaces.
func checkTags(tags []string, emptyOK bool) error {
	if len(tags) == 0 && !emptyOK {
		return recontact.Errorf(recontact.EInvalid, "no tags given")
	}
	for _, t := range tags {
		if t == "" || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == ',' }) {
			return recontact.Errorf(recontact.EInvalid, "invalid tag "+strconv.Quote(clip(t, 80)))
		}
	}
	return nil
}

func noObject(name string) error {
	return recontact.Errorf(recontact.EUnavailable, "zendesk answer has no "+name)
}
