package freshdesk

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact"
)

var received = time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	d, err := Parse(nil, []byte(`{"ticket_id": 42, "event": "{status:{from:4,to:2}}", "requester_email": "B@Example.com", "company": "Acme", "status": "Open", "source": 7, "tags": "vip, billing"}`), received)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Contact
	if c.TicketID != "42" || c.CustomerKey() != "b@example.com" || c.Partner != "Acme" || c.Status != recontact.StatusOpen || c.Channel != "chat" {
		t.Errorf("contact %+v", c)
	}
	if strings.Join(c.Tags, "|") != "vip|billing" {
		t.Errorf("tags %q", c.Tags)
	}
	if d.Activity.Reopens != 1 || !d.ReportsActivity {
		t.Errorf("status 4→2 must report one reopen, got %+v", d.Activity)
	}
	if len(d.Jobs) != 1 || d.Jobs[0].Kind != recontact.JobFreshdeskTicket || d.Jobs[0].Key != "42" {
		t.Errorf("jobs %+v, want one ticket read", d.Jobs)
	}
	if d.DedupeWindow != RetryWindow || !strings.HasPrefix(d.Key, "fd:42:") {
		t.Errorf("key %q window %v", d.Key, d.DedupeWindow)
	}
	// The same ticket id as a string, minimal body: same ticket.
	d2, err := Parse(nil, []byte(`{"ticket_id":"42","event":"{ticket_action:created}","requester_email":""}`), received)
	if err != nil || d2.Contact.TicketID != "42" || d2.Activity.Reopens != 0 || !d2.Contact.UpdatedAt.IsZero() {
		t.Errorf("minimal body: %+v, %v", d2, err)
	}
}

func TestParseErrors(t *testing.T) {
	for body, want := range map[string]string{
		`{"ticket_id":`:                               "not valid JSON",
		`{"event":"{ticket_action:created}"}`:         "missing field ticket_id",
		`{"ticket_id":"abc"}`:                         "ticket_id",
		`{"ticket_id":1,"created_at":"yesterday"}`:    "created_at",
		`{"ticket_id":1,"event":"ticket_action=new"}`: "event",
	} {
		_, err := Parse(nil, []byte(body), received)
		var re *recontact.Error
		if !errors.As(err, &re) || re.Code != recontact.EInvalid || !strings.Contains(re.Message, want) {
			t.Errorf("%s: got %v, want invalid mentioning %q", body, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"ticket_id": 42, "event": "{status:{from:4,to:2}}", "requester_email": "b@example.com"}`))
	f.Add([]byte(`{"ticket_id":"7","tags":["a"],"status":5,"source":"Email"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := Parse(nil, body, received)
		if err == nil && (d.Contact == nil || d.Contact.TicketID == "" || len(d.Jobs) != 1) {
			t.Fatalf("accepted %q without a ticket and its read job", body)
		}
	})
}
