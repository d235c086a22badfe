package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// trigger is a Zendesk trigger body for one ticket.
func trigger(id, email, partner, status string, created, updated time.Time) string {
	return fmt.Sprintf(`{"ticket_id":"%s","created_at":"%s","updated_at":"%s","status":"%s","via":"Mail","requester_email":"%s","org_external_id":"%s"}`,
		id, created.UTC().Format(time.RFC3339), updated.UTC().Format(time.RFC3339), status, email, partner)
}

func (e *env) bookingMade(id, email, partner string, made time.Time, status string) {
	e.t.Helper()
	typ := "booking.created"
	if status == "cancelled" {
		typ = "booking.cancelled"
	}
	in := made.AddDate(0, 0, 14).Format(time.DateOnly)
	out := made.AddDate(0, 0, 17).Format(time.DateOnly)
	body := fmt.Sprintf(`{"type":"%s","timestamp":"%s","data":{"id":"%s","partner_id":"%s","customer_email":"%s","created_at":"%s","check_in":"%s","check_out":"%s","status":"%s"}}`,
		typ, time.Now().UTC().Format(time.RFC3339Nano), id, partner, email, made.UTC().Format(time.RFC3339), in, out, status)
	wantStatus(e.t, e.booking("msg-"+id+"-"+status, body), http.StatusOK, "")
}

func (e *env) ticketMade(id, email, partner, status string, created, updated time.Time) {
	e.t.Helper()
	wantStatus(e.t, e.zendesk(trigger(id, email, partner, status, created, updated)), http.StatusOK, "")
}

func (e *env) evaluate() {
	e.t.Helper()
	if err := e.store.Settle(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	for {
		n, err := e.store.EvaluateDirty(context.Background(), 500)
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func (e *env) metrics(query string) map[string]any {
	e.t.Helper()
	r := e.get("/api/v1/metrics?"+query, adminToken)
	wantStatus(e.t, r, http.StatusOK, "")
	return r.body
}

func (e *env) ticketJSON(id string) map[string]any {
	e.t.Helper()
	r := e.get("/api/v1/tickets/zendesk/"+id, adminToken)
	wantStatus(e.t, r, http.StatusOK, "")
	return r.body
}

func wantField(t *testing.T, where string, m map[string]any, key string, want any) {
	t.Helper()
	if got := m[key]; got != want {
		t.Errorf("%s: %s = %#v, want %#v", where, key, got, want)
	}
}

// TestWorkedExamples runs every worked example of metrics.md through the
// webhooks and the metrics API, on both stores.
func TestWorkedExamples(t *testing.T) {
	storetest.Each(t, store.Options{GroupCommit: true}, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		oct := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

		// 1. A partner with 1,000 bookings and 100 tickets in a month: 10 %,
		// moderate; with 40: 4 %, low; with 160: 16 %, high.
		for n, p := range []string{"partner-a", "partner-b", "partner-c"} {
			tickets := []int{100, 40, 160}[n]
			for i := range 1000 {
				e.bookingMade(fmt.Sprintf("%s-b%d", p, i), fmt.Sprintf("guest%d@%s.example", i, p), p, oct.Add(time.Duration(i)*40*time.Minute), "confirmed")
			}
			for i := range tickets {
				at := oct.Add(time.Duration(i) * 4 * time.Hour)
				e.ticketMade(fmt.Sprintf("1%d%04d", n, i), fmt.Sprintf("c%d@%s.example", i, p), p, "Open", at, at)
			}
		}
		e.evaluate()
		m := e.metrics("from=2026-10-01&to=2026-11-01&group_by=partner")
		want := map[string][2]any{"partner-a": {0.1, "moderate"}, "partner-b": {0.04, "low"}, "partner-c": {0.16, "high"}}
		groups := m["groups"].([]any)
		if len(groups) != 3 {
			t.Fatalf("got %d partner groups, want 3: %v", len(groups), groups)
		}
		for _, g := range groups {
			g := g.(map[string]any)
			w := want[g["key"].(string)]
			wantField(t, "example 1 "+g["key"].(string), g, "bookings", 1000.0)
			wantField(t, "example 1 "+g["key"].(string), g, "contact_ratio", w[0])
			wantField(t, "example 1 "+g["key"].(string), g, "contact_ratio_band", w[1])
		}

		// 2. 100 customers contacted in a month and 20 of them more than once:
		// repeat contact rate 20 %.
		nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for i := range 100 {
			at := nov.Add(time.Duration(i) * 5 * time.Hour)
			e.ticketMade(fmt.Sprintf("2%04d", i), fmt.Sprintf("r%d@example.com", i), "", "Open", at, at)
			if i < 20 {
				e.ticketMade(fmt.Sprintf("3%04d", i), fmt.Sprintf("r%d@example.com", i), "", "Open", at.Add(time.Hour), at.Add(time.Hour))
			}
		}
		// 3. 250 contacts from 200 customers: 1.25 contacts per customer.
		dec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		for i := range 250 {
			at := dec.Add(time.Duration(i) * 2 * time.Hour)
			e.ticketMade(fmt.Sprintf("4%04d", i), fmt.Sprintf("p%d@example.com", i%200), "", "Open", at, at)
		}
		e.evaluate()
		tot := e.metrics("from=2026-11-01&to=2026-12-01")["totals"].(map[string]any)
		wantField(t, "example 2", tot, "customers", 100.0)
		wantField(t, "example 2", tot, "repeat_customers", 20.0)
		wantField(t, "example 2", tot, "repeat_contact_rate", 0.2)
		tot = e.metrics("from=2026-12-01&to=2027-01-01")["totals"].(map[string]any)
		wantField(t, "example 3", tot, "contacts", 250.0)
		wantField(t, "example 3", tot, "customers", 200.0)
		wantField(t, "example 3", tot, "contacts_per_customer", 1.25)
	})
}

// TestWorkedExamplesFCRAndOrders: examples 4 and 5 of metrics.md.
func TestWorkedExamplesFCRAndOrders(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		jan := time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC)
		// 4. 10 tickets resolved; 7 one-touch; for one of those 7 the customer
		// opens a new ticket 3 days later: FCR rate 6/10.
		for i := range 10 {
			created := jan.Add(time.Duration(i) * time.Hour)
			id := fmt.Sprintf("5%03d", i)
			email := fmt.Sprintf("f%d@example.com", i)
			e.ticketMade(id, email, "", "Open", created, created)
			replies := 1
			if i >= 7 {
				replies = 2 // multi-touch
			}
			for r := range replies {
				e.zendeskReply(id, fmt.Sprintf("%s-r%d", id, r), created, created.Add(time.Duration(r+1)*time.Minute))
			}
			e.ticketMade(id, email, "", "Solved", created, created.Add(30*time.Minute))
		}
		e.ticketMade("5100", "f0@example.com", "", "Open", jan.Add(30*time.Minute+72*time.Hour), jan.Add(30*time.Minute+72*time.Hour))
		e.evaluate()
		tot := e.metrics("from=2027-01-04&to=2027-01-11")["totals"].(map[string]any)
		wantField(t, "example 4", tot, "resolved", 10.0)
		wantField(t, "example 4", tot, "first_contact_resolved", 6.0)
		wantField(t, "example 4", tot, "fcr_rate", 0.6)
		wantField(t, "example 4 ticket 5000", e.ticketJSON("5000"), "fcr", "not_fcr")
		wantField(t, "example 4 ticket 5001", e.ticketJSON("5001"), "fcr", "fcr")

		// 5. 200 contacts, 24 followed within 7 days by a booking from the same
		// customer: contact-to-order rate 12 %.
		feb := time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
		for i := range 200 {
			at := feb.Add(time.Duration(i) * 3 * time.Hour)
			email := fmt.Sprintf("o%d@example.com", i)
			e.ticketMade(fmt.Sprintf("6%04d", i), email, "", "Open", at, at)
			switch {
			case i < 24:
				e.bookingMade(fmt.Sprintf("ob%d", i), email, "partner-a", at.Add(6*24*time.Hour), "confirmed")
			case i < 30: // 8 days later: outside the order window
				e.bookingMade(fmt.Sprintf("ob%d", i), email, "partner-a", at.Add(8*24*time.Hour), "confirmed")
			}
		}
		e.evaluate()
		tot = e.metrics("from=2027-02-01&to=2027-03-01")["totals"].(map[string]any)
		wantField(t, "example 5", tot, "contacts", 200.0)
		wantField(t, "example 5", tot, "contacts_followed_by_order", 24.0)
		wantField(t, "example 5", tot, "contact_to_order_rate", 0.12)
	})
}

// zendeskReply sends a comment_added event: a public reply by an agent.
func (e *env) zendeskReply(ticket, eventID string, created, at time.Time) {
	e.t.Helper()
	body := fmt.Sprintf(`{"type":"zen:event-type:ticket.comment_added","account_id":1,"id":"%s","time":"%s","subject":"zen:ticket:%s",
"detail":{"id":"%s","created_at":"%s","updated_at":"%s","status":"OPEN","requester_id":"1","via":{"channel":"mail"},"tags":null},
"event":{"comment":{"id":1,"body":"x","is_public":true,"author":{"id":"2","is_staff":true,"name":"Agent"}}}}`,
		eventID, at.UTC().Format(time.RFC3339), ticket, ticket, created.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	wantStatus(e.t, e.zendesk(body), http.StatusOK, "")
}

// TestEvaluationEdges covers arrival order, reopens, window edges, a customer
// in two helpdesks and a booking cancelled after the contact.
func TestEvaluationEdges(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		t0 := time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC)
		week := 7 * 24 * time.Hour

		// Out of order: the later-created contact arrives first.
		e.ticketMade("801", "ooo@example.com", "", "Open", t0.Add(48*time.Hour), t0.Add(48*time.Hour))
		e.evaluate()
		wantField(t, "801 alone", e.ticketJSON("801"), "repeat_contact", false)
		e.ticketMade("800", "ooo@example.com", "", "Open", t0, t0)
		e.evaluate()
		wantField(t, "801 after 800 arrived", e.ticketJSON("801"), "repeat_contact", true)
		wantField(t, "800", e.ticketJSON("800"), "repeat_contact", false)
		if prev := e.ticketJSON("801")["previous_contacts"].([]any); len(prev) != 1 || prev[0] != "800" {
			t.Errorf("801 previous_contacts = %v, want [800]", prev)
		}

		// Repeat window edges: exactly 7 days after is inside, a minute more is not.
		e.ticketMade("810", "edge@example.com", "", "Open", t0, t0)
		e.ticketMade("811", "edge@example.com", "", "Open", t0.Add(week), t0.Add(week))
		e.ticketMade("820", "edge2@example.com", "", "Open", t0, t0)
		e.ticketMade("821", "edge2@example.com", "", "Open", t0.Add(week+time.Minute), t0.Add(week+time.Minute))
		e.evaluate()
		wantField(t, "just inside", e.ticketJSON("811"), "repeat_contact", true)
		wantField(t, "just outside", e.ticketJSON("821"), "repeat_contact", false)

		// FCR window edges: a new contact exactly 7 days after the resolution
		// turns it not_fcr; one a minute later leaves it fcr.
		solved := t0.Add(time.Hour)
		e.ticketMade("830", "fcr1@example.com", "", "Solved", t0, solved)
		e.ticketMade("831", "fcr1@example.com", "", "Open", solved.Add(week), solved.Add(week))
		e.ticketMade("840", "fcr2@example.com", "", "Solved", t0, solved)
		e.ticketMade("841", "fcr2@example.com", "", "Open", solved.Add(week+time.Minute), solved.Add(week+time.Minute))
		e.evaluate()
		wantField(t, "FCR just inside", e.ticketJSON("830"), "fcr", "not_fcr")
		wantField(t, "FCR just outside", e.ticketJSON("840"), "fcr", "fcr")
		wantField(t, "FCR final after the window", e.ticketJSON("840"), "fcr_final", true)

		// A reopen after resolution: not first-contact.
		e.ticketMade("850", "re@example.com", "", "Solved", t0, t0.Add(time.Hour))
		e.evaluate()
		wantField(t, "before reopen", e.ticketJSON("850"), "fcr", "fcr")
		e.ticketMade("850", "re@example.com", "", "Open", t0, t0.Add(2*time.Hour))
		e.ticketMade("850", "re@example.com", "", "Solved", t0, t0.Add(3*time.Hour))
		e.evaluate()
		tk := e.ticketJSON("850")
		wantField(t, "after reopen", tk, "reopens", 1.0)
		wantField(t, "after reopen", tk, "fcr", "not_fcr")

		// One customer in two helpdesks, joined by e-mail.
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/freshdesk",
			stringsReader(`{"ticket_id": 77, "event": "{ticket_action:created}", "requester_email": "Both@Example.com", "created_at": "2026-10-05T12:00:00Z", "updated_at": "2026-10-05T12:00:00Z", "status": 2}`))
		req.Header.Set("X-Recontact-Secret", fdSecret)
		wantStatus(t, e.do(req), http.StatusOK, "")
		e.ticketMade("860", "both@example.com", "", "Open", t0.Add(4*time.Hour), t0.Add(4*time.Hour))
		e.evaluate()
		tk = e.ticketJSON("860")
		wantField(t, "cross-helpdesk", tk, "repeat_contact", true)
		if prev := tk["previous_contacts"].([]any); len(prev) != 1 || prev[0] != "freshdesk:77" {
			t.Errorf("860 previous_contacts = %v, want [freshdesk:77]", prev)
		}

		// A booking cancelled after the contact: stage and order drop away.
		e.ticketMade("870", "stay@example.com", "partner-x", "Open", t0, t0)
		e.bookingMade("stay-1", "stay@example.com", "partner-x", t0.Add(-24*time.Hour), "confirmed") // stay starts 13 days later
		e.evaluate()
		wantField(t, "booked", e.ticketJSON("870"), "stage", "pre-check-in")
		e.bookingMade("stay-1", "stay@example.com", "partner-x", t0.Add(-24*time.Hour), "cancelled")
		e.evaluate()
		wantField(t, "cancelled", e.ticketJSON("870"), "stage", nil)
		tot := e.metrics("from=2026-10-01&to=2026-11-01&partner=partner-x")["totals"].(map[string]any)
		wantField(t, "cancelled booking", tot, "bookings", 0.0)
		wantField(t, "cancelled booking", tot, "contact_ratio", nil)
	})
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
