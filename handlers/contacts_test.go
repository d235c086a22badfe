package handlers_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/handlers"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

var d0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func fixtureContact(src recontact.Source, id, email, partner string, created time.Time, tags ...string) store.FixtureContact {
	return store.FixtureContact{Contact: recontact.Contact{Source: src, TicketID: id, CustomerEmail: email,
		Partner: partner, Channel: "email", Status: recontact.StatusOpen, CreatedAt: created, Tags: tags}}
}

func load(t *testing.T, s *store.Store, cs ...store.FixtureContact) {
	t.Helper()
	if err := s.LoadFixture(context.Background(), cs, nil); err != nil {
		t.Fatal(err)
	}
}

func linkedServer(t *testing.T, s *store.Store) (*handlers.Handler, *httptest.Server) {
	h := handlers.New(handlers.Config{Store: s, AdminToken: adminToken, ZendeskSubdomain: "acme", FreshdeskDomain: "acmefd", Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

func getRaw(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp, buf.String()
}

func TestContactsExport(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		c1 := fixtureContact(recontact.SourceZendesk, "10", "Alice@Example.com", `Acme, "Ltd"`, d0.Add(time.Hour), "=cmd", "vip")
		c1.Contact.Status, c1.Contact.ResolvedAt, c1.Verdict.FCR = recontact.StatusSolved, d0.Add(2*time.Hour), metrics.FCRYes
		c2 := fixtureContact(recontact.SourceFreshdesk, "11", "bob@example.com", "", d0.Add(3*time.Hour))
		c2.Contact.Partner = "Multi\nLine"
		c2.Verdict.Repeat, c2.Verdict.Stage = true, metrics.StageInDestination
		c3 := fixtureContact(recontact.SourceZendesk, "12", "carol@example.com", "p", d0.AddDate(0, 2, 0))
		load(t, s, c1, c2, c3)
		_, srv := linkedServer(t, s)
		base := srv.URL + "/api/v1/contacts?from=2026-10-01&to=2026-11-01"
		auth := []string{"Authorization", "Bearer " + adminToken}

		resp, body := getRaw(t, base+"&format=csv", auth...)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
			!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("csv: %d %v\n%s", resp.StatusCode, resp.Header, body)
		}
		if strings.Contains(strings.ToLower(body), "alice@") || strings.Contains(body, "bob@") {
			t.Fatalf("export shows a full e-mail:\n%s", body)
		}
		if !strings.Contains(body, `"Acme, ""Ltd"""`) {
			t.Errorf("comma and quotes not escaped:\n%s", body)
		}
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("not CSV: %v\n%s", err, body)
		}
		wantHeader := []string{"source", "ticket_id", "customer", "partner", "channel", "status", "created_at",
			"resolved_at", "stage", "repeat_contact", "fcr", "followed_by_order", "tags"}
		if len(recs) != 3 || !slices.Equal(recs[0], wantHeader) {
			t.Fatalf("records %q", recs)
		}
		want1 := []string{"zendesk", "10", "a***@example.com", `Acme, "Ltd"`, "email", "solved", "2026-10-01T01:00:00Z",
			"2026-10-01T02:00:00Z", "", "false", "fcr", "false", "'=cmd vip"}
		want2 := []string{"freshdesk", "11", "b***@example.com", "Multi\nLine", "email", "open", "2026-10-01T03:00:00Z",
			"", "in-destination", "true", "pending", "false", ""}
		if !slices.Equal(recs[1], want1) || !slices.Equal(recs[2], want2) {
			t.Errorf("rows\n%q\n%q\nwant\n%q\n%q", recs[1], recs[2], want1, want2)
		}

		resp, body = getRaw(t, base+"&format=json&set=repeat", auth...)
		var rows []map[string]any
		if err := json.Unmarshal([]byte(body), &rows); resp.StatusCode != 200 || err != nil {
			t.Fatalf("json: %d %v\n%s", resp.StatusCode, err, body)
		}
		if len(rows) != 1 || rows[0]["ticket_id"] != "11" || rows[0]["customer"] != "b***@example.com" ||
			rows[0]["resolved_at"] != nil || rows[0]["stage"] != "in-destination" || rows[0]["repeat_contact"] != true {
			t.Errorf("json rows %v", rows)
		}

		// Nothing in the period: still a header, still valid JSON.
		_, body = getRaw(t, srv.URL+"/api/v1/contacts?from=2025-01-01&to=2025-02-01&format=csv", auth...)
		if body != strings.Join(wantHeader, ",")+"\n" {
			t.Errorf("empty csv %q", body)
		}
		_, body = getRaw(t, srv.URL+"/api/v1/contacts?from=2025-01-01&to=2025-02-01", auth...)
		if strings.TrimSpace(body) != "[]" {
			t.Errorf("empty json %q", body)
		}

		for q, msg := range map[string]string{
			"&format=xml":                      "format",
			"&set=everything":                  "set",
			"&stage=moon":                      "stage",
			"&partner=a&no_partner=1":          "partner",
			"&to=yesterday":                    "to",
			"&to=2026-09-01":                   "before",
			"&tag=" + strings.Repeat("x", 101): "tag",
		} {
			resp, body := getRaw(t, srv.URL+"/api/v1/contacts?from=2026-10-01"+q, auth...)
			var e map[string]string
			_ = json.Unmarshal([]byte(body), &e)
			if resp.StatusCode != 400 || !strings.Contains(e["error"], msg) {
				t.Errorf("%s: %d %s, want 400 naming %s", q, resp.StatusCode, body, msg)
			}
		}
		if resp, _ := getRaw(t, base); resp.StatusCode != 401 {
			t.Errorf("no token: %d", resp.StatusCode)
		}
	})
}

// flushRecorder notes how much of the body had been written at each flush.
type flushRecorder struct {
	*httptest.ResponseRecorder
	at []int
}

func (f *flushRecorder) Flush() {
	f.at = append(f.at, f.Body.Len())
	f.ResponseRecorder.Flush()
}

// TestContactsExportStreams checks the export goes out as it is read: many
// flushes, the first long before the end, rather than one buffered body.
func TestContactsExportStreams(t *testing.T) {
	s := storetest.SQLite(t, store.Options{})
	const n = 3000
	cs := make([]store.FixtureContact, n)
	for i := range cs {
		cs[i] = fixtureContact(recontact.SourceZendesk, strconv.Itoa(i+1), fmt.Sprintf("c%d@example.com", i), "p", d0.Add(time.Duration(i)*time.Minute))
	}
	load(t, s, cs...)
	h, _ := linkedServer(t, s)
	for _, format := range []string{"csv", "json"} {
		rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
		req := httptest.NewRequest(http.MethodGet, "/api/v1/contacts?from=2026-10-01&to=2026-11-01&format="+format, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", format, rec.Code, rec.Body.String())
		}
		total := rec.Body.Len()
		if len(rec.at) < n/300 || rec.at[0] > total/5 {
			t.Errorf("%s: %d flushes, first at %d of %d bytes: not streamed", format, len(rec.at), rec.at[0], total)
		}
		lines := strings.Count(rec.Body.String(), "\n")
		if lines < n {
			t.Errorf("%s: %d lines for %d contacts", format, lines, n)
		}
	}
}

var ticketRe = regexp.MustCompile(`data-ticket="([^"]+)"`)

func tickets(body string) []string {
	var ids []string
	for _, m := range ticketRe.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestDrillDownPages(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		var cs []store.FixtureContact
		for i := range 60 {
			cs = append(cs, fixtureContact(recontact.SourceZendesk, strconv.Itoa(100+i), fmt.Sprintf("guest%d@example.com", i), "partner-a", d0.Add(time.Duration(i)*time.Hour)))
		}
		fd := fixtureContact(recontact.SourceFreshdesk, "900", "zoe@example.com", "partner-b", d0.Add(time.Hour))
		fd.Verdict.Repeat = true
		cs = append(cs, fd)
		load(t, s, cs...)
		_, srv := linkedServer(t, s)
		b := newBrowser(t, srv.URL)
		wantPage(t, b.signIn(adminToken), http.StatusSeeOther, "/")

		p := b.do(http.MethodGet, "/contacts?from=2026-10-01&to=2026-11-01&partner=partner-a", nil)
		wantPage(t, p, http.StatusOK, "1–50 of 60")
		ids := tickets(p.body)
		if len(ids) != 50 || ids[0] != "100" || ids[49] != "149" {
			t.Fatalf("page 1 tickets %v", ids)
		}
		for _, want := range []string{`href="https://acme.zendesk.com/agent/tickets/100"`, "g***@example.com", `rel="next"`} {
			if !strings.Contains(p.body, want) {
				t.Errorf("page 1 lacks %s", want)
			}
		}
		if strings.Contains(p.body, "guest0@") {
			t.Error("drill-down shows a full e-mail")
		}
		p = b.do(http.MethodGet, "/contacts?from=2026-10-01&to=2026-11-01&partner=partner-a&page=2", nil)
		wantPage(t, p, http.StatusOK, "51–60 of 60")
		if ids := tickets(p.body); len(ids) != 10 || ids[0] != "150" || strings.Contains(p.body, `rel="next"`) {
			t.Errorf("page 2 tickets %v", ids)
		}

		p = b.do(http.MethodGet, "/contacts?from=2026-10-01&to=2026-11-01&set=repeat", nil)
		if ids := tickets(p.body); !slices.Equal(ids, []string{"900"}) || !strings.Contains(p.body, "https://acmefd.freshdesk.com/a/tickets/900") {
			t.Errorf("repeat drill-down %v", ids)
		}
		wantPage(t, b.do(http.MethodGet, "/contacts?from=2025-01-01&to=2025-02-01", nil), http.StatusOK, "No contacts match")
		wantPage(t, b.do(http.MethodGet, "/contacts?page=0", nil), http.StatusBadRequest, "page")
	})
}
