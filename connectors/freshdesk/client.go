package freshdesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/recontact/recontact"
)

// Defaults for Config's zero values.
const (
	DefaultRetryMax = 2
	DefaultTimeout  = 30 * time.Second
)

// maxInlineWait is the longest Retry-After we sleep through inside a call.
// Longer waits return a *RateLimitError so the durable queue reschedules the
// job instead of holding a worker (style.md: retryablehttp's DefaultBackoff
// would sleep as long as the server says).
const maxInlineWait = 5 * time.Second

// defaultRateWait is assumed when a 429 carries no Retry-After: Freshdesk's
// limits are per minute (freshdesk.md §5).
const defaultRateWait = time.Minute

// maxResponse bounds what we read of one reply; a page of 100 tickets with
// stats and requester is far smaller.
const maxResponse = 16 << 20

// ErrGone marks a ticket we must stop working on: Freshdesk answered 404, 403
// (soft-deleted tickets have answered 403) or 405, or the ticket is spam or
// deleted (freshdesk.md §7). Such errors carry code ENotFound; test with
// errors.Is and do not retry.
var ErrGone = errors.New("freshdesk ticket gone (deleted, spam, missing or forbidden)")

// ErrNotConfigured is wrapped, with code EUnavailable as zendesk does, in the
// error of every call of a client built from an empty Config. Check
// Configured before queueing API work.
var ErrNotConfigured = errors.New("freshdesk client is not configured")

// Config configures a Client. A zero Config gives a client that is not
// Configured.
type Config struct {
	Domain   string // account name: "acme" → https://acme.freshdesk.com
	APIKey   string // an agent's API key; use a dedicated integration agent (freshdesk.md §2)
	BaseURL  string // overrides Domain, e.g. a freshdesktest server
	Logger   retryablehttp.LeveledLogger
	RetryMax int           // retries after the first attempt; 0: DefaultRetryMax, < 0: none
	Timeout  time.Duration // per call, retries included; 0: DefaultTimeout
	OnRate   func(RateInfo)
}

// RateInfo is the rate-limit state Freshdesk reported on one response
// (freshdesk.md §5). The limit is per account, per minute, and shared with
// Freshdesk's own outgoing webhooks, so read it rather than hard-coding a
// plan. Counts are -1 when their header was missing. Field names follow
// zendesk.RateInfo so one limiter can observe both.
type RateInfo struct {
	Status     int
	Limit      int           // X-RateLimit-Total: credits per minute
	Remaining  int           // X-RateLimit-Remaining
	Used       int           // X-RateLimit-Used-CurrentRequest: 1, plus 2 per include
	RetryAfter time.Duration // on 429 and 503; 0 when not given
}

// RateLimitError says Freshdesk asked us to wait (429, or 503 with
// Retry-After) longer than a call may block. It is wrapped in a
// recontact.Error with code EUnavailable; find it with errors.As and
// reschedule the job RetryAfter from now.
type RateLimitError struct {
	Status     int
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("freshdesk: HTTP %d, retry after %s", e.Status, e.RetryAfter)
}

// Client calls Freshdesk API v2. It is safe for concurrent use.
type Client struct {
	base    string // scheme://host without a trailing slash; "" when not configured
	apiKey  string
	timeout time.Duration
	http    *retryablehttp.Client
}

var accountName = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)

// NewClient checks cfg and builds a client. A config with neither Domain nor
// BaseURL nor APIKey is valid and gives an unconfigured client; a partial one
// is an error, so a typo stops the start.
func NewClient(cfg Config) (*Client, error) {
	c := &Client{apiKey: strings.TrimSpace(cfg.APIKey), timeout: cfg.Timeout}
	switch {
	case cfg.BaseURL != "":
		u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("freshdesk: BaseURL %q: want http(s)://host[/path]", cfg.BaseURL)
		}
		c.base = u.String()
	case cfg.Domain != "":
		// Only Freshdesk's own domains serve the API, not custom CNAMEs
		// (freshdesk.md §2), so the account name is all we need.
		d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(cfg.Domain)), ".freshdesk.com")
		if !accountName.MatchString(d) {
			return nil, fmt.Errorf("freshdesk: Domain %q: want the account name, e.g. acme for acme.freshdesk.com", cfg.Domain)
		}
		c.base = "https://" + d + ".freshdesk.com"
	case c.apiKey != "":
		return nil, errors.New("freshdesk: APIKey set without Domain")
	default:
		return c, nil // not configured
	}
	if c.apiKey == "" {
		return nil, errors.New("freshdesk: Domain set without APIKey")
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}

	hc := retryablehttp.NewClient()
	hc.Logger = nil
	if cfg.Logger != nil {
		hc.Logger = cfg.Logger
	}
	switch {
	case cfg.RetryMax == 0:
		hc.RetryMax = DefaultRetryMax
	case cfg.RetryMax < 0:
		hc.RetryMax = 0
	default:
		hc.RetryMax = cfg.RetryMax
	}
	hc.RetryWaitMin = 200 * time.Millisecond
	hc.RetryWaitMax = 2 * time.Second
	hc.CheckRetry = checkRetry
	// DefaultBackoff honours Retry-After on 429/503; checkRetry has already
	// refused waits longer than maxInlineWait, so its sleep stays short.
	hc.Backoff = retryablehttp.DefaultBackoff
	// Hand us the last response, so we can classify it, instead of an
	// opaque "giving up after n attempts" error.
	hc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	if cfg.OnRate != nil {
		// The response hook sees every attempt, so the limiter also learns
		// from 429s that a retry then got past.
		hc.ResponseLogHook = func(_ retryablehttp.Logger, resp *http.Response) {
			if ri, ok := rateInfo(resp); ok {
				cfg.OnRate(ri)
			}
		}
	}
	c.http = hc
	return c, nil
}

// Configured reports whether the client has an account to talk to.
func (c *Client) Configured() bool { return c != nil && c.base != "" }

type unsafeKey struct{}

// noRetryUnlessRefused marks a non-idempotent request (a note): a timeout or
// 5xx may have created it already, so only a 429, which Freshdesk answers
// before doing anything, is retried.
func noRetryUnlessRefused(ctx context.Context) context.Context {
	return context.WithValue(ctx, unsafeKey{}, true)
}

func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	unsafe, _ := ctx.Value(unsafeKey{}).(bool)
	if err != nil {
		if unsafe {
			return false, nil
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if unsafe && code != http.StatusTooManyRequests {
			return false, nil
		}
		wait, ok := retryAfter(resp.Header)
		if ok && wait > maxInlineWait {
			return false, nil
		}
		if dl, has := ctx.Deadline(); has && time.Until(dl) < wait {
			return false, nil // waiting would only end in a timeout
		}
		return true, nil
	case code >= 500 && code != http.StatusNotImplemented:
		return !unsafe, nil
	}
	return false, nil
}

// retryAfter reads Retry-After: whole seconds from Freshdesk (freshdesk.md
// §5), or an HTTP date from anything in between.
func retryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

func rateInfo(resp *http.Response) (RateInfo, bool) {
	num := func(k string) int {
		n, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get(k)))
		if err != nil {
			return -1
		}
		return n
	}
	r := RateInfo{
		Status:    resp.StatusCode,
		Limit:     num("X-RateLimit-Total"),
		Remaining: num("X-RateLimit-Remaining"),
		Used:      num("X-RateLimit-Used-CurrentRequest"),
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		r.RetryAfter, _ = retryAfter(resp.Header)
	}
	return r, r.Limit >= 0 || r.Remaining >= 0 || r.Used >= 0 || r.RetryAfter > 0
}

// request is one API call.
type request struct {
	method string
	url    string // absolute
	body   any    // JSON-encoded when non-nil
	out    any    // decoded from a 2xx reply when non-nil
	unsafe bool   // not idempotent: see noRetryUnlessRefused
}

func (c *Client) endpoint(path string, q url.Values) string {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// do runs r under the client's timeout and returns the reply's headers. Every
// failure is a *recontact.Error.
func (c *Client) do(ctx context.Context, r request) (http.Header, error) {
	if !c.Configured() {
		return nil, recontact.Wrap(recontact.EUnavailable, "freshdesk is not configured", ErrNotConfigured)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if r.unsafe {
		ctx = noRetryUnlessRefused(ctx)
	}
	var body any
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, recontact.Wrap(recontact.EInternal, "encode freshdesk request", err)
		}
		body = b
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, recontact.Wrap(recontact.EInternal, "build freshdesk request", err)
	}
	// API key as the user, any password; "X" is the convention (freshdesk.md §2).
	req.SetBasicAuth(c.apiKey, "X")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "recontact")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	what := r.method + " " + pathOf(r.url)
	resp, err := c.http.Do(req)
	if resp == nil {
		if err == nil {
			err = errors.New("no response")
		}
		if ctx.Err() != nil {
			return nil, recontact.Wrap(recontact.EUnavailable, "freshdesk: "+what+": timed out or cancelled", err)
		}
		return nil, recontact.Wrap(recontact.EUnavailable, "freshdesk: "+what+": request failed", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, recontact.Wrap(recontact.EUnavailable, "freshdesk: "+what+": reading reply", err)
	}
	if len(data) > maxResponse {
		return nil, recontact.Errorf(recontact.EUnavailable, "freshdesk: "+what+": reply larger than 16 MiB")
	}
	if err := classify(what, resp, data); err != nil {
		return nil, err
	}
	if r.out != nil {
		if err := json.Unmarshal(data, r.out); err != nil {
			// A 2xx that is not our JSON is a proxy or maintenance page more
			// often than a changed API: retry later.
			return nil, recontact.Wrap(recontact.EUnavailable, "freshdesk: "+what+": unexpected reply", err)
		}
	}
	return resp.Header, nil
}

// classify maps a reply's status to our error codes (freshdesk.md §6, §7).
func classify(what string, resp *http.Response, body []byte) error {
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests:
		wait, ok := retryAfter(resp.Header)
		if !ok {
			wait = defaultRateWait
		}
		return recontact.Wrap(recontact.EUnavailable, fmt.Sprintf("freshdesk: %s: rate limited, retry after %s", what, wait),
			&RateLimitError{Status: code, RetryAfter: wait})
	case code == http.StatusServiceUnavailable:
		if wait, ok := retryAfter(resp.Header); ok {
			return recontact.Wrap(recontact.EUnavailable, fmt.Sprintf("freshdesk: %s: unavailable, retry after %s", what, wait),
				&RateLimitError{Status: code, RetryAfter: wait})
		}
		return recontact.Errorf(recontact.EUnavailable, fmt.Sprintf("freshdesk: %s: HTTP %d", what, code))
	case code == http.StatusUnauthorized:
		return recontact.Errorf(recontact.EUnauthorized, fmt.Sprintf("freshdesk: %s: API key refused (HTTP 401)%s", what, describe(body)))
	case code == http.StatusForbidden || code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
		return recontact.Wrap(recontact.ENotFound, fmt.Sprintf("freshdesk: %s: HTTP %d%s", what, code, describe(body)), ErrGone)
	case code >= 400 && code < 500:
		return recontact.Errorf(recontact.EInvalid, fmt.Sprintf("freshdesk: %s: HTTP %d%s", what, code, describe(body)))
	default: // 5xx, and 3xx left over after redirects
		return recontact.Errorf(recontact.EUnavailable, fmt.Sprintf("freshdesk: %s: HTTP %d", what, code))
	}
}

// describe renders Freshdesk's error body: {"description", "errors":[{field,
// message, code}]} for validation, or top-level code and message
// (freshdesk.md §6). 404 bodies may be empty.
func describe(body []byte) string {
	var e struct {
		Code        string `json:"code"`
		Message     string `json:"message"`
		Description string `json:"description"`
		Errors      []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
			Code    string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	var parts []string
	for _, s := range []string{e.Description, e.Message} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if e.Code != "" && len(e.Errors) == 0 {
		parts = append(parts, "("+e.Code+")")
	}
	for _, fe := range e.Errors {
		s := fe.Message
		if fe.Field != "" {
			s = fe.Field + ": " + s
		}
		if fe.Code != "" {
			s += " (" + fe.Code + ")"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return ""
	}
	s := strings.Join(parts, "; ")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return ": " + s
}

// pathOf names a URL in messages without its host or query.
func pathOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Path
	}
	return raw
}

// nextLink returns the rel="next" target of a Link header, resolved against
// the current URL, if it points at our own account: the API key must never
// follow a link elsewhere.
func (c *Client) nextLink(h http.Header, current string) (string, bool, error) {
	target, ok := nextTarget(strings.Join(h.Values("Link"), ","))
	if !ok {
		return "", false, nil
	}
	cur, err := url.Parse(current)
	if err != nil {
		return "", false, recontact.Wrap(recontact.EInternal, "parse our own URL", err)
	}
	next, err := cur.Parse(target)
	if err != nil {
		return "", false, recontact.Wrap(recontact.EUnavailable, "freshdesk: unreadable Link header", err)
	}
	base, _ := url.Parse(c.base)
	if next.Scheme != base.Scheme || next.Host != base.Host {
		return "", false, recontact.Errorf(recontact.EUnavailable, "freshdesk: Link header points to another host: "+next.Host)
	}
	return next.String(), true, nil
}

// nextTarget finds the URL with rel="next" in a Link header value
// (RFC 8288: <url>; rel="next", <url>; rel="prev"). URLs are delimited by
// angle brackets rather than split on commas, since our own query strings
// contain commas (include=stats,requester).
func nextTarget(v string) (string, bool) {
	for {
		open := strings.IndexByte(v, '<')
		if open < 0 {
			return "", false
		}
		end := strings.IndexByte(v[open:], '>')
		if end < 0 {
			return "", false
		}
		target := v[open+1 : open+end]
		v = v[open+end+1:]
		params := v
		if i := strings.IndexByte(v, '<'); i >= 0 {
			params = v[:i]
		}
		for _, p := range strings.Split(params, ";") {
			k, val, _ := strings.Cut(strings.Trim(p, " ,\t"), "=")
			if !strings.EqualFold(strings.TrimSpace(k), "rel") {
				continue
			}
			for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
				if strings.EqualFold(rel, "next") {
					return target, true
				}
			}
		}
	}
}

// gone builds the error for a ticket we read but must not write to.
func gone(ticketID, why string) error {
	return recontact.Wrap(recontact.ENotFound, "freshdesk ticket "+ticketID+" is "+why, ErrGone)
}

func invalidID(ticketID string) error {
	return recontact.Errorf(recontact.EInvalid, fmt.Sprintf("freshdesk ticket id %q: want digits", ticketID))
}
