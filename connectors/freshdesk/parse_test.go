package freshdesk

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact"
)

var received = time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	contact := func(edit func(c *recontact.Contact)) recontact.Contact {
		c := recontact.Contact{Source: recontact.SourceFreshdesk, TicketID: "42", CustomerEmail: "B@Example.com"}
		if edit != nil {
			edit(&c)
		}
		return c
	}
	tests := []struct {
		name            string
		body            string
		want            recontact.Contact
		wantReopens     int
		reportsActivity bool
	}{
		{"recommended minimal body, ticket created",
			`{"ticket_id": 42, "event": "{ticket_action:created}", "requester_email": "B@Example.com"}`,
			contact(nil), 0, false},
		{"quoted ticket id",
			`{"ticket_id": "42", "event": "{ticket_action:created}", "requester_email": "B@Example.com"}`,
			contact(nil), 0, false},
		{"reopen from resolved",
			`{"ticket_id": 42, "event": "{status:{from:4,to:2}}", "requester_email": "B@Example.com"}`,
			contact(func(c *recontact.Contact) { c.Status = recontact.StatusOpen }), 1, true},
		{"reopen from closed into a custom status",
			`{"ticket_id": 42, "triggered_event": "{status:{from:5,to:6}}", "requester_email": "B@Example.com"}`,
			contact(nil), 1, true},
		{"resolving is a status event without a reopen",
			`{"ticket_id": 42, "event": "{status:{from:2,to:4}}", "requester_email": "B@Example.com"}`,
			contact(func(c *recontact.Contact) { c.Status = recontact.StatusSolved }), 0, true},
		{"body status wins over the event's",
			`{"ticket_id": 42, "event": "{status:{from:4,to:3}}", "status": "Open", "requester_email": "B@Example.com"}`,
			contact(func(c *recontact.Contact) { c.Status = recontact.StatusOpen }), 1, true},
		{"note event says nothing about status",
			`{"ticket_id": 42, "event": "{note_type:public}", "requester_email": "B@Example.com"}`,
			contact(nil), 0, false},
		{"unreadable event is ignored, not fatal",
			`{"ticket_id": 42, "event": "ticket_action=created", "requester_email": "B@Example.com"}`,
			contact(nil), 0, false},
		{"richer body",
			`{"ticket_id": 42, "requester_email": "B@Example.com", "requester_id": "77", "status": "Resolved", "company": " Acme Hotels ",
			  "source": "Feedback Widget", "tags": "vip, billing ,,", "created_at": "2026-10-01T08:00:00Z", "updated_at": "2026-10-05T09:30:00+02:00"}`,
			contact(func(c *recontact.Contact) {
				c.RequesterID, c.Status, c.Partner, c.Channel = "77", recontact.StatusSolved, "Acme Hotels", "feedback_widget"
				c.Tags = []string{"vip", "billing"}
				c.CreatedAt = time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
				c.UpdatedAt = time.Date(2026, 10, 5, 7, 30, 0, 0, time.UTC)
				c.ResolvedAt = c.UpdatedAt
			}), 0, false},
		{"numbers for status and source, tags as an array",
			`{"ticket_id": 42, "requester_email": "B@Example.com", "status": 5, "source": 7, "tags": [" a ", "b"]}`,
			contact(func(c *recontact.Contact) {
				c.Status, c.Channel, c.Tags = recontact.StatusClosed, "chat", []string{"a", "b"}
			}), 0, false},
		{"custom status name is unknown",
			`{"ticket_id": 42, "requester_email": "B@Example.com", "status": "Waiting on Customer", "source": 13}`,
			contact(func(c *recontact.Contact) { c.Channel = "source_13" }), 0, false},
		{"custom status id is unknown",
			`{"ticket_id": 42, "requester_email": "B@Example.com", "status": "6"}`,
			contact(nil), 0, false},
		{"unreadable dates are dropped",
			`{"ticket_id": 42, "requester_email": "B@Example.com", "created_at": "yesterday", "updated_at": "Mon, 05 Oct 2026"}`,
			contact(nil), 0, false},
		{"empty placeholders",
			`{"ticket_id": 42, "event": "", "requester_email": "", "company": "", "tags": ""}`,
			contact(func(c *recontact.Contact) { c.CustomerEmail = "" }), 0, false},
		{"simple-mode wrapper: only the ticket id",
			`{"freshdesk_webhook": {"ticket_id": 42, "ticket_status": "Open"}}`,
			contact(func(c *recontact.Contact) { c.CustomerEmail = "" }), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(nil, []byte(tt.body), received)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(*d.Contact, tt.want) {
				t.Errorf("contact\n got %+v\nwant %+v", *d.Contact, tt.want)
			}
			if d.Activity != (recontact.Activity{Reopens: tt.wantReopens}) || d.ReportsActivity != tt.reportsActivity {
				t.Errorf("activity %+v reports=%v, want reopens %d reports=%v", d.Activity, d.ReportsActivity, tt.wantReopens, tt.reportsActivity)
			}
			sum := sha256.Sum256([]byte(tt.body))
			wantKey := "fd:42:" + hex.EncodeToString(sum[:])[:16]
			if d.Key != wantKey || d.DedupeWindow != 2*time.Hour || d.Source != recontact.SourceFreshdesk ||
				!d.ReceivedAt.Equal(received) || string(d.Body) != tt.body || d.Booking != nil {
				t.Errorf("delivery key %q window %v source %q received %v, want key %q, 2h, freshdesk, %v and the raw body",
					d.Key, d.DedupeWindow, d.Source, d.ReceivedAt, wantKey, received)
			}
			wantJobs := []recontact.Job{{Kind: recontact.JobFreshdeskTicket, Key: "42"}}
			if !reflect.DeepEqual(d.Jobs, wantJobs) {
				t.Errorf("jobs %+v, want %+v", d.Jobs, wantJobs)
			}
		})
	}
}

func TestParseKeyFollowsBody(t *testing.T) {
	a := `{"ticket_id": 42, "event": "{status:{from:4,to:2}}"}`
	b := `{"ticket_id": 42, "event": "{status:{from:2,to:4}}"}`
	da, _ := Parse(nil, []byte(a), received)
	da2, _ := Parse(nil, []byte(a), received.Add(35*time.Minute)) // Freshdesk's retry
	db, _ := Parse(nil, []byte(b), received)
	if da.Key != da2.Key {
		t.Errorf("a retry got a new key: %q, %q", da.Key, da2.Key)
	}
	if da.Key == db.Key {
		t.Errorf("different events share key %q", da.Key)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"ticket_id":`, "body is not a JSON object"},
		{`[42]`, "body is not a JSON object"},
		{`null`, "body is not a JSON object"},
		{``, "body is not a JSON object"},
		{`{"event":"{ticket_action:created}"}`, "missing field ticket_id"},
		{`{"ticket_id":null}`, "missing field ticket_id"},
		{`{"ticket_id":""}`, "missing field ticket_id"},
		{`{"freshdesk_webhook":{"ticket_status":"Open"}}`, "missing field ticket_id"},
		{`{"ticket_id":"abc"}`, "ticket_id: want a ticket number"},
		{`{"ticket_id":"{{ticket.id}}"}`, "ticket_id: want a ticket number"},
		{`{"ticket_id":0}`, "ticket_id: want a ticket number"},
		{`{"ticket_id":-3}`, "ticket_id: want a ticket number"},
		{`{"ticket_id":1.5}`, "ticket_id: want a ticket number"},
		{`{"ticket_id":true}`, "ticket_id: want a ticket number"},
		{`{"ticket_id":{"id":1}}`, "ticket_id: want a ticket number"},
		{`{"ticket_id":"12/../34"}`, "ticket_id: want a ticket number"},
	}
	for _, tt := range tests {
		d, err := Parse(nil, []byte(tt.body), received)
		if err == nil {
			t.Errorf("%s: got %+v, want error %q", tt.body, d, tt.want)
			continue
		}
		if c, msg := recontact.ErrorCode(err), recontact.ErrorMessage(err); c != recontact.EInvalid || msg != tt.want {
			t.Errorf("%s: got %s %q, want invalid %q", tt.body, c, msg, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"ticket_id": 42, "event": "{status:{from:4,to:2}}", "requester_email": "b@example.com"}`))
	f.Add([]byte(`{"ticket_id":"7","tags":["a"],"status":5,"source":"Email","updated_at":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"freshdesk_webhook":{"ticket_id":"0009"}}`))
	f.Add([]byte(`{"ticket_id":1,"event":"{a:b,status:{from:5,to:x},c:{from:4,to:2}}"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := Parse(nil, body, received)
		if err != nil {
			if c := recontact.ErrorCode(err); c != recontact.EInvalid {
				t.Fatalf("code %s, want invalid: %v", c, err)
			}
			return
		}
		c := d.Contact
		switch {
		case !validID(c.TicketID):
			t.Fatalf("ticket id %q is not canonical digits", c.TicketID)
		case !strings.HasPrefix(d.Key, "fd:"+c.TicketID+":") || len(d.Key) != len("fd:"+c.TicketID+":")+16:
			t.Fatalf("key %q for ticket %q", d.Key, c.TicketID)
		case len(d.Jobs) != 1 || !reflect.DeepEqual(d.Jobs[0], recontact.Job{Kind: recontact.JobFreshdeskTicket, Key: c.TicketID}):
			t.Fatalf("jobs %+v", d.Jobs)
		case d.DedupeWindow != RetryWindow:
			t.Fatalf("window %v", d.DedupeWindow)
		case d.Activity.Replies != 0 || d.Activity.Reopens < 0 || (d.Activity.Reopens > 0 && !d.ReportsActivity):
			t.Fatalf("activity %+v reports=%v", d.Activity, d.ReportsActivity)
		case !c.ResolvedAt.IsZero() && (!c.Status.Resolved() || !c.ResolvedAt.Equal(c.UpdatedAt)):
			t.Fatalf("resolved at %v with status %q updated %v", c.ResolvedAt, c.Status, c.UpdatedAt)
		}
		for _, tag := range c.Tags {
			if tag == "" || strings.TrimSpace(tag) != tag {
				t.Fatalf("tag %q not trimmed", tag)
			}
		}
	})
}
