package handlers_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact/handlers"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see each 303.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values, header ...string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (b *browser) signIn(token string) page {
	b.t.Helper()
	return b.do(http.MethodPost, "/signin", url.Values{"token": {token}, "next": {"/"}})
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) csrf() string {
	b.t.Helper()
	p := b.do(http.MethodGet, "/", nil)
	m := csrfRe.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		b.t.Fatalf("dashboard %d without a CSRF token: %.300s", p.status, p.body)
	}
	return m[1]
}

func wantPage(t *testing.T, p page, status int, contains string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d; body %.400s", p.status, status, p.body)
	}
	if !strings.Contains(p.body, contains) && !strings.Contains(p.header.Get("Location"), contains) {
		t.Fatalf("response does not mention %q: Location %q, body %.400s", contains, p.header.Get("Location"), p.body)
	}
}

func TestSignInAndOut(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t, store.Options{}))
	b := newBrowser(t, e.srv.URL)

	// Pages send a stranger to the form and bring them back afterwards.
	wantPage(t, b.do(http.MethodGet, "/contacts?set=repeat", nil), http.StatusSeeOther, "/signin?next=%2Fcontacts%3Fset%3Drepeat")
	wantPage(t, b.do(http.MethodGet, "/signin", nil), http.StatusOK, `type="password"`)

	wrong := b.signIn("not-the-token")
	wantPage(t, wrong, http.StatusUnauthorized, "not the admin token")
	if len(wrong.header.Values("Set-Cookie")) != 0 {
		t.Fatal("a wrong token got a cookie")
	}

	ok := b.signIn(adminToken)
	wantPage(t, ok, http.StatusSeeOther, "/")
	ck := ok.header.Get("Set-Cookie")
	for _, want := range []string{"recontact_session=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("cookie %q lacks %s", ck, want)
		}
	}
	if strings.Contains(ck, "Secure") || strings.Contains(ck, adminToken) {
		t.Errorf("cookie %q: Secure over plain HTTP, or carries the token", ck)
	}
	// The session opens the pages and the admin API alike.
	wantPage(t, b.do(http.MethodGet, "/", nil), http.StatusOK, "Write-back queue")
	wantPage(t, b.do(http.MethodGet, "/api/v1/metrics", nil), http.StatusOK, `"totals"`)
	// Already signed in: the form passes straight on.
	wantPage(t, b.do(http.MethodGet, "/signin?next=/contacts", nil), http.StatusSeeOther, "/contacts")

	// A change made with the cookie needs the session's CSRF token.
	csrf := b.csrf()
	wantPage(t, b.do(http.MethodPost, "/signout", url.Values{}), http.StatusForbidden, "CSRF")
	wantPage(t, b.do(http.MethodPost, "/signout", url.Values{"csrf": {csrf + "x"}}), http.StatusForbidden, "CSRF")
	wantPage(t, b.do(http.MethodPost, "/signout", nil, "X-CSRF-Token", "forged"), http.StatusForbidden, "CSRF")

	// Keep a copy of the cookie to check sign-out revokes it, not just drops it.
	u, _ := url.Parse(e.srv.URL)
	kept := b.c.Jar.Cookies(u)
	out := b.do(http.MethodPost, "/signout", url.Values{"csrf": {csrf}})
	wantPage(t, out, http.StatusSeeOther, "/signin")
	if !strings.Contains(out.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("sign-out cookie %q does not expire", out.header.Get("Set-Cookie"))
	}
	wantPage(t, b.do(http.MethodGet, "/", nil), http.StatusSeeOther, "/signin")
	b.c.Jar.SetCookies(u, kept)
	wantPage(t, b.do(http.MethodGet, "/api/v1/metrics", nil), http.StatusUnauthorized, "session")
}

func TestSignInRedirectStaysLocal(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t, store.Options{}))
	for _, next := range []string{"//evil.example/", "https://evil.example/", `/\evil.example`, ""} {
		b := newBrowser(t, e.srv.URL)
		p := b.do(http.MethodPost, "/signin", url.Values{"token": {adminToken}, "next": {next}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
			t.Errorf("next=%q: %d to %q, want 303 to /", next, p.status, p.header.Get("Location"))
		}
	}
}

func TestSessionCookieSecureBehindTLS(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t, store.Options{}))
	b := newBrowser(t, e.srv.URL)
	p := b.do(http.MethodPost, "/signin", url.Values{"token": {adminToken}}, "X-Forwarded-Proto", "https")
	if ck := p.header.Get("Set-Cookie"); !strings.Contains(ck, "; Secure") {
		t.Errorf("cookie %q is not Secure behind an HTTPS proxy", ck)
	}
}

// TestSessionExpiryAndTampering: a session ends after 12 hours, a changed
// cookie is refused, and a new admin token signs everybody out.
func TestSessionExpiryAndTampering(t *testing.T) {
	s := storetest.SQLite(t, store.Options{})
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	srv := httptest.NewServer(handlers.New(handlers.Config{Store: s, AdminToken: adminToken, Now: clock}))
	t.Cleanup(srv.Close)
	b := newBrowser(t, srv.URL)
	wantPage(t, b.signIn(adminToken), http.StatusSeeOther, "/")
	wantPage(t, b.do(http.MethodGet, "/api/v1/metrics", nil), http.StatusOK, "totals")

	u, _ := url.Parse(srv.URL)
	ck := b.c.Jar.Cookies(u)[0]
	forged := *ck
	forged.Value = strings.Replace(ck.Value, ".", ".9", 1) // push the expiry out
	fb := newBrowser(t, srv.URL)
	fb.c.Jar.SetCookies(u, []*http.Cookie{&forged})
	wantPage(t, fb.do(http.MethodGet, "/api/v1/metrics", nil), http.StatusUnauthorized, "session")

	// The same cookie under another admin token is worthless.
	other := httptest.NewServer(handlers.New(handlers.Config{Store: s, AdminToken: "rotated", Now: clock}))
	t.Cleanup(other.Close)
	ob := newBrowser(t, other.URL)
	ou, _ := url.Parse(other.URL)
	ob.c.Jar.SetCookies(ou, []*http.Cookie{{Name: ck.Name, Value: ck.Value}})
	wantPage(t, ob.do(http.MethodGet, "/api/v1/metrics", nil), http.StatusUnauthorized, "session")

	now = now.Add(12*time.Hour + time.Second)
	wantPage(t, b.do(http.MethodGet, "/api/v1/metrics", nil), http.StatusUnauthorized, "session")
}

// TestEveryAdminRouteNeedsAuth walks the routing table, so routes added later
// are covered too: API routes answer 401 JSON, pages redirect to sign-in.
func TestEveryAdminRouteNeedsAuth(t *testing.T) {
	s := storetest.SQLite(t, store.Options{})
	h := handlers.New(handlers.Config{Store: s, AdminToken: adminToken})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	public := map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /signin": true,
		"POST /signin": true, "GET /assets/dashboard.css": true, "GET /metrics": true}
	param := regexp.MustCompile(`[:*][a-z_]+`)
	checked := 0
	for _, r := range h.Engine().Routes() {
		if public[r.Method+" "+r.Path] || strings.HasPrefix(r.Path, "/webhooks/") {
			continue
		}
		path := param.ReplaceAllString(r.Path, "x")
		for _, tc := range []struct{ name, auth string }{{"none", ""}, {"wrong token", "Bearer wrong"}} {
			req, _ := http.NewRequest(r.Method, srv.URL+path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page := !strings.HasPrefix(r.Path, "/api/")
			switch {
			case page && r.Method == http.MethodGet:
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
					t.Errorf("%s %s (%s): %d to %q, want 303 to /signin", r.Method, path, tc.name, resp.StatusCode, resp.Header.Get("Location"))
				}
			default:
				if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"error"`) {
					t.Errorf("%s %s (%s): %d %s, want 401 JSON", r.Method, path, tc.name, resp.StatusCode, body)
				}
			}
		}
		checked++
	}
	if checked < 6 {
		t.Fatalf("only %d admin routes checked; the routing table changed shape", checked)
	}

	// With a session, every API change needs the CSRF token: 403 without it,
	// past the guard (whatever the handler then says) with it.
	b := newBrowser(t, srv.URL)
	wantPage(t, b.signIn(adminToken), http.StatusSeeOther, "/")
	csrf := b.csrf()
	for _, r := range h.Engine().Routes() {
		if !strings.HasPrefix(r.Path, "/api/") || r.Method == http.MethodGet {
			continue
		}
		path := param.ReplaceAllString(r.Path, "1")
		if p := b.do(r.Method, path, nil); p.status != http.StatusForbidden || !strings.Contains(p.body, "CSRF") {
			t.Errorf("%s %s with a session, no CSRF token: %d %s", r.Method, path, p.status, p.body)
		}
		if p := b.do(r.Method, path, nil, "X-CSRF-Token", csrf); p.status == http.StatusForbidden || p.status == http.StatusUnauthorized {
			t.Errorf("%s %s with session and CSRF token: %d %s", r.Method, path, p.status, p.body)
		}
	}
}
