package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// The seeded demo period: eight whole weeks, and the eight before it for the
// comparison.
var (
	demoTo   = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	demoFrom = demoTo.AddDate(0, 0, -56)
	demoQS   = "from=" + demoFrom.Format(time.DateOnly) + "&to=" + demoTo.Format(time.DateOnly)
)

// seedDemo fills a store with sixteen weeks of bookings and contacts for
// five partners of different contact ratios, through the real write and
// evaluation paths (UpsertContact, EvaluateDirty), so verdicts, stages and
// cohort pointers are the service's own. Deterministic.
func seedDemo(t testing.TB, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(2026, 11))
	partners := []struct {
		name    string
		perDay  int
		contact float64
	}{{"alpine-lodges", 6, 0.035}, {"city-hotels", 9, 0.085}, {"coastal-stays", 4, 0.19}, {"lakeside-inns", 3, 0.12}, {"mountain-huts", 2, 0.06}}
	channels := []string{"email", "email", "email", "chat", "chat", "phone", "phone", "web"}
	tags := []string{"billing", "wifi", "late-checkin", "refund", "parking", "cancellation", "room-change"}
	start := demoFrom.AddDate(0, 0, -56)
	var bookings []recontact.Booking
	var contacts []*recontact.Contact
	ticket := 1000
	addContact := func(email, partner string, at time.Time, repeatBias bool) {
		if !at.Before(demoTo) {
			return
		}
		ticket++
		c := &recontact.Contact{Source: recontact.SourceZendesk, TicketID: strconv.Itoa(ticket), CustomerEmail: email,
			Partner: partner, Channel: channels[rng.IntN(len(channels))], Status: recontact.StatusOpen, CreatedAt: at, UpdatedAt: at,
			Tags: []string{tags[rng.IntN(len(tags))]}}
		if ticket%3 == 0 {
			c.Source = recontact.SourceFreshdesk
		}
		if repeatBias && rng.IntN(2) == 0 {
			c.Tags = append(c.Tags, "refund")
		}
		if rng.Float64() < 0.85 {
			c.Status, c.ResolvedAt = recontact.StatusSolved, at.Add(time.Duration(1+rng.IntN(40))*time.Hour)
			c.UpdatedAt = c.ResolvedAt
			c.Replies = 1
			if rng.Float64() < 0.35 {
				c.Replies = 2 + rng.IntN(3)
			}
			if rng.Float64() < 0.07 {
				c.Reopens = 1
			}
		}
		contacts = append(contacts, c)
		if rng.Float64() < 0.12 { // a helpful answer, then another booking
			if partner == "" {
				partner = partners[rng.IntN(len(partners))].name
			}
			made := at.Add(time.Duration(12+rng.IntN(120)) * time.Hour)
			in := made.AddDate(0, 0, 10)
			bookings = append(bookings, recontact.Booking{ID: "bk-" + strconv.Itoa(len(bookings)), Partner: partner,
				CustomerEmail: email, CreatedAt: made, CheckIn: in.Format(time.DateOnly), CheckOut: in.AddDate(0, 0, 3).Format(time.DateOnly), Status: "confirmed"})
		}
	}
	for d := start; d.Before(demoTo); d = d.AddDate(0, 0, 1) {
		for _, p := range partners {
			for range p.perDay + rng.IntN(3) - 1 {
				made := d.Add(time.Duration(rng.IntN(24*60)) * time.Minute)
				email := fmt.Sprintf("guest%d@example.com", len(bookings))
				in := made.AddDate(0, 0, 3+rng.IntN(30))
				out := in.AddDate(0, 0, 2+rng.IntN(5))
				bookings = append(bookings, recontact.Booking{ID: "bk-" + strconv.Itoa(len(bookings)), Partner: p.name,
					CustomerEmail: email, CreatedAt: made, CheckIn: in.Format(time.DateOnly), CheckOut: out.Format(time.DateOnly), Status: "confirmed"})
				if rng.Float64() >= p.contact {
					continue
				}
				var at time.Time
				switch rng.IntN(3) {
				case 0: // before the stay
					at = made.Add(time.Duration(rng.Int64N(int64(in.Sub(made)))))
				case 1: // during
					at = in.Add(time.Duration(rng.Int64N(int64(out.Sub(in)))))
				default: // after
					at = out.Add(time.Duration(rng.IntN(5*24)) * time.Hour)
				}
				addContact(email, p.name, at, false)
				if rng.Float64() < 0.28 { // came back within days
					addContact(email, p.name, at.Add(time.Duration(6+rng.IntN(90))*time.Hour), true)
				}
			}
		}
		if rng.IntN(4) == 0 { // a question from someone without a booking
			addContact(fmt.Sprintf("visitor%d@example.com", d.YearDay()), "", d.Add(10*time.Hour), false)
		}
	}
	if err := s.LoadFixture(ctx, nil, bookings); err != nil {
		t.Fatal(err)
	}
	for _, c := range contacts {
		if err := s.UpsertContact(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for {
		n, err := s.EvaluateDirty(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	// Some write-back work queued, and one job given up on.
	var jobs []recontact.Job
	for i := range 3 {
		jobs = append(jobs, recontact.Job{Kind: recontact.JobWriteback, Key: "zendesk:" + strconv.Itoa(1001+i)})
	}
	jobs = append(jobs, recontact.Job{Kind: recontact.JobWriteback, Key: "freshdesk:1002", RunAt: time.Now().Add(-time.Minute)})
	if err := s.Enqueue(ctx, jobs...); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.Claim(ctx, []string{recontact.JobWriteback}, 1, time.Minute)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if err := s.Retry(ctx, &claimed[0], time.Now(), errors.New("422 from the helpdesk"), 1); err != nil {
		t.Fatal(err)
	}
}

var metricRe = regexp.MustCompile(`data-metric="([a-z_]+)" data-value="([^"]*)"`)

// apiTotals reads GET /api/v1/metrics for a query.
func apiTotals(t *testing.T, base, qs string) map[string]any {
	t.Helper()
	resp, body := getRaw(t, base+"/api/v1/metrics?"+qs, "Authorization", "Bearer "+adminToken)
	var m struct {
		Totals map[string]any `json:"totals"`
	}
	if err := json.Unmarshal([]byte(body), &m); resp.StatusCode != 200 || err != nil {
		t.Fatalf("metrics: %d %v %s", resp.StatusCode, err, body)
	}
	return m.Totals
}

// sameNumber compares a data-value attribute with the API's JSON value.
func sameNumber(attr string, api any) bool {
	if api == nil {
		return attr == ""
	}
	f, err := strconv.ParseFloat(attr, 64)
	return err == nil && f == api.(float64)
}

// TestDashboardMatchesAPI checks, without a browser, that the headline
// numbers are the metrics API's and that the panels render.
func TestDashboardMatchesAPI(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		seedDemo(t, s)
		_, srv := linkedServer(t, s)
		b := newBrowser(t, srv.URL)
		wantPage(t, b.signIn(adminToken), http.StatusSeeOther, "/")
		for _, qs := range []string{demoQS, demoQS + "&partner=coastal-stays"} {
			p := b.do(http.MethodGet, "/?"+qs, nil)
			wantPage(t, p, http.StatusOK, "Contact ratio by partner")
			api := apiTotals(t, srv.URL, qs)
			got := metricRe.FindAllStringSubmatch(p.body, -1)
			if len(got) != 5 {
				t.Fatalf("%s: %d headline numbers", qs, len(got))
			}
			for _, m := range got {
				if !sameNumber(m[2], api[m[1]]) {
					t.Errorf("%s: %s is %q on the page, %v in the API", qs, m[1], m[2], api[m[1]])
				}
			}
			for _, want := range []string{`class="line fcr"`, `class="line repeat"`, "in-destination", "Ticket tag",
				`data-queue="pending">3<`, `data-queue="failed" class="bad">1<`} {
				if !strings.Contains(p.body, want) {
					t.Errorf("%s: page lacks %s", qs, want)
				}
			}
		}
		// Worst first: the bars' ratios never increase down the chart.
		p := b.do(http.MethodGet, "/?"+demoQS, nil)
		prev := 1000.0
		for _, m := range regexp.MustCompile(`class="value" [^>]*>([0-9.]+) %<`).FindAllStringSubmatch(p.body, 5) {
			v, _ := strconv.ParseFloat(m[1], 64)
			if v > prev {
				t.Errorf("partner bars not sorted worst first: %v after %v", v, prev)
			}
			prev = v
		}
		for _, band := range []string{"band-low", "band-moderate", "band-high"} {
			if !strings.Contains(p.body, `<rect class="`+band) {
				t.Errorf("no %s bar in the seeded data", band)
			}
		}
	})
}

func TestDashboardEmptyAndSparse(t *testing.T) {
	s := storetest.SQLite(t, store.Options{})
	_, srv := linkedServer(t, s)
	b := newBrowser(t, srv.URL)
	wantPage(t, b.signIn(adminToken), http.StatusSeeOther, "/")
	p := b.do(http.MethodGet, "/", nil)
	wantPage(t, p, http.StatusOK, "Nothing to show for this period yet")
	if strings.Contains(p.body, "<svg class=\"chart\"") {
		t.Error("an empty period draws a chart")
	}
	// One contact, no bookings, a one-week period: explanations, not charts.
	load(t, s, fixtureContact(recontact.SourceZendesk, "1", "a@example.com", "p", d0.Add(time.Hour)))
	p = b.do(http.MethodGet, "/?from=2026-10-01&to=2026-10-05", nil)
	for _, want := range []string{"No partner had bookings", "at least two weeks", "No repeat contacts in this period",
		`data-metric="contact_ratio" data-value=""`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("sparse page lacks %q", want)
		}
	}
	wantPage(t, b.do(http.MethodGet, "/?from=2026-10-05&to=2026-10-01", nil), http.StatusBadRequest, "before")
}
