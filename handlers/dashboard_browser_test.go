package handlers_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

const chromium = "/usr/bin/chromium"

// TestDashboardInBrowser drives Debian's Chromium through the dashboard:
// sign in through the form, read the headline numbers off the page and
// compare them with GET /api/v1/metrics, follow the worst partner's bar to
// its tickets, check the phone layout, and save a screenshot
// (RECONTACT_SCREENSHOT=$PWD/docs/dashboard.png keeps it; the path is
// relative to the package folder, so pass an absolute one. Otherwise it goes
// to a temporary folder).
func TestDashboardInBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skip(chromium + " is absent: install Debian's chromium package (./scripts/test does) to run the browser test")
	}
	s := storetest.SQLite(t, store.Options{})
	seedDemo(t, s)
	_, srv := linkedServer(t, s)

	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	// The first Run starts the browser, which lives as long as ctx; later
	// steps get deadlines of their own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	step := func(d time.Duration) context.Context {
		c, cancel := context.WithTimeout(ctx, d)
		t.Cleanup(cancel)
		return c
	}

	// Signing in from a deep link comes back to it.
	err := chromedp.Do(step(30*time.Second),
		chromedp.Navigate(srv.URL+"/?"+demoQS),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), adminToken),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.kpis`)),
	)
	if err != nil {
		t.Fatalf("sign in and load: %v", err)
	}
	title, err := chromedp.Run(step(10*time.Second), chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	headlines, err := chromedp.Run(step(10*time.Second), chromedp.Evaluate[[][]string](
		`[...document.querySelectorAll('[data-metric]')].map(e => [e.dataset.metric, e.dataset.value])`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "Dashboard") || len(headlines) != 5 {
		t.Fatalf("title %q, headlines %v", title, headlines)
	}
	api := apiTotals(t, srv.URL, demoQS)
	for _, h := range headlines {
		if !sameNumber(h[1], api[h[0]]) {
			t.Errorf("%s: page says %q, API %v", h[0], h[1], api[h[0]])
		}
		if api[h[0]] == nil {
			t.Errorf("%s: the seeded data should define every rate", h[0])
		}
	}

	png, err := chromedp.Run(step(30*time.Second), chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	if p := os.Getenv("RECONTACT_SCREENSHOT"); p != "" {
		shot = p
	}
	if err := os.MkdirAll(filepath.Dir(shot), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))

	// The worst partner's bar opens that partner's tickets.
	first := chromedp.CSS(`svg a.bar`)
	label, err := chromedp.Run(step(10*time.Second), chromedp.AttributeValue(first, "data-label"))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(step(30*time.Second),
		chromedp.Click(chromedp.CSS(`svg a.bar rect`)),
		chromedp.WaitVisible(chromedp.CSS(`table.contacts`)),
	)
	if err != nil {
		t.Fatalf("drill-down: %v", err)
	}
	drillURL, err := chromedp.Run(step(10*time.Second), chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	ids, err := chromedp.Run(step(10*time.Second), chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('[data-ticket]')].map(e => e.dataset.ticket)`))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(drillURL)
	if u.Path != "/contacts" || u.Query().Get("partner") != label.Value {
		t.Fatalf("bar %q led to %s", label.Value, drillURL)
	}
	_, body := getRaw(t, srv.URL+"/api/v1/contacts?format=json&"+demoQS+"&partner="+url.QueryEscape(label.Value), "Authorization", "Bearer "+adminToken)
	var rows []struct {
		TicketID string `json:"ticket_id"`
	}
	if err := json.Unmarshal([]byte(body), &rows); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range rows {
		want = append(want, r.TicketID)
	}
	if len(want) > 50 {
		want = want[:50]
	}
	if len(ids) == 0 || !slices.Equal(ids, want) {
		t.Errorf("bar %s lists tickets %v, the API %v", label.Value, ids, want)
	}

	// On a phone the page reflows instead of scrolling sideways.
	err = chromedp.Do(step(30*time.Second),
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(srv.URL+"/?"+demoQS),
		chromedp.WaitVisible(chromedp.CSS(`.kpis`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	overflow, err := chromedp.Run(step(10*time.Second), chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow {
		t.Error("the dashboard scrolls sideways at 390 px")
	}
}
