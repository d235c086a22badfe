package freshdesk

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseEvents(t *testing.T) {
	tests := []struct {
		in   string
		want []Event
	}{
		// Samples from Zulip's fixtures and parser (freshdesk.md §1.2).
		{"{ticket_action:created}", []Event{{Name: "ticket_action", Value: "created"}}},
		{"{status:{from:4,to:6}}", []Event{{Name: "status", From: "4", To: "6"}}},
		{"{priority:{from:1,to:2}}", []Event{{Name: "priority", From: "1", To: "2"}}},
		{"{note_type:private}", []Event{{Name: "note_type", Value: "private"}}},
		// Tolerated variations.
		{" { status : { from : 5 , to : 2 } } ", []Event{{Name: "status", From: "5", To: "2"}}},
		{`{"status":{"from":"4","to":"2"}}`, []Event{{Name: "status", From: "4", To: "2"}}},
		{"{status:{to:2,from:4,by:agent}}", []Event{{Name: "status", From: "4", To: "2"}}},
		{"{status:{from:Resolved,to:Waiting on Customer}}", []Event{{Name: "status", From: "Resolved", To: "Waiting on Customer"}}},
		{"{ticket_action:updated,status:{from:4,to:2}}", []Event{{Name: "ticket_action", Value: "updated"}, {Name: "status", From: "4", To: "2"}}},
	}
	for _, tt := range tests {
		got, err := ParseEvents(tt.in)
		if err != nil {
			t.Errorf("ParseEvents(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseEvents(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseEventsErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "want '{'"},
		{"ticket_action:created", "want '{'"},
		{"{}", "want a name or value"},
		{"{status}", "want ':' after \"status\""},
		{"{status:}", "want a name or value"},
		{"{:open}", "want a name or value"},
		{"{status:open", "want ',' or '}'"},
		{"{status:{from:4,to:2}", "want ',' or '}'"},
		{"{status:{from:4 to:2}}", "want ',' or '}'"},
		{"{status:{from:{x:1}}}", "want a name or value"},
		{"{a:b,}", "want a name or value"},
		{"{a:b}x", "unexpected text after '}'"},
		{"{a:b}{c:d}", "unexpected text after '}'"},
	}
	for _, tt := range tests {
		got, err := ParseEvents(tt.in)
		if err == nil {
			t.Errorf("ParseEvents(%q) = %+v, want error %q", tt.in, got, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseEvents(%q) error %q, want %q", tt.in, err, tt.want)
		}
	}
}

func TestEventReopen(t *testing.T) {
	tests := []struct {
		e    Event
		want bool
	}{
		{Event{Name: "status", From: "4", To: "2"}, true},
		{Event{Name: "status", From: "5", To: "3"}, true},
		{Event{Name: "status", From: "4", To: "6"}, true}, // into a custom status
		{Event{Name: "status", From: "Closed", To: "Open"}, true},
		{Event{Name: "status", From: "4", To: "5"}, false}, // resolved → closed
		{Event{Name: "status", From: "5", To: "4"}, false},
		{Event{Name: "status", From: "2", To: "3"}, false},
		{Event{Name: "status", From: "6", To: "2"}, false},
		{Event{Name: "status", From: "4"}, false},
		{Event{Name: "priority", From: "4", To: "2"}, false},
		{Event{Name: "ticket_action", Value: "created"}, false},
	}
	for _, tt := range tests {
		if got := tt.e.Reopen(); got != tt.want {
			t.Errorf("%+v.Reopen() = %v, want %v", tt.e, got, tt.want)
		}
	}
}

func FuzzParseEvents(f *testing.F) {
	f.Add("{status:{from:4,to:2}}")
	f.Add("{ticket_action:created}")
	f.Fuzz(func(t *testing.T, s string) {
		events, err := ParseEvents(s)
		if err != nil {
			return
		}
		if len(events) == 0 {
			t.Fatalf("%q: no error and no events", s)
		}
		for _, e := range events {
			// A name, and either the plain form's value or the change form.
			if e.Name == "" || (e.Value != "" && (e.From != "" || e.To != "")) {
				t.Fatalf("%q: malformed event %+v", s, e)
			}
			if e.Reopen() && (e.Name != "status" || e.To == "") {
				t.Fatalf("%q: reopen without a status change: %+v", s, e)
			}
		}
	})
}
