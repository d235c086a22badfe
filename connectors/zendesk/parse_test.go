package zendesk

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact"
)

// eventExample is the literal example of zendesk.md §3.
const eventExample = `{
  "type": "zen:event-type:ticket.status_changed",
  "account_id": 22129848,
  "id": "cbe4028c-7239-495d-b020-f22348516046",
  "time": "2025-01-08T10:12:07.672717030Z",
  "zendesk_event_version": "2022-11-06",
  "subject": "zen:ticket:5158",
  "detail": {
    "actor_id": "8447388090494", "assignee_id": "8447388090494",
    "brand_id": "8447346621310", "created_at": "2025-01-08T10:12:07Z",
    "custom_status": "8447320465790", "description": "...", "external_id": null,
    "form_id": "8646151517822", "group_id": "8447320466430", "id": "5158",
    "is_public": true, "organization_id": "8447346622462", "priority": "LOW",
    "requester_id": "8447388090494", "status": "SOLVED", "subject": "...",
    "submitter_id": "8447388090494", "tags": ["vip"], "type": "TASK",
    "updated_at": "2025-01-08T10:12:07Z", "via": {"channel": "web_service"}
  },
  "event": {"current": "SOLVED", "previous": "OPEN",
            "meta": {"sequence": {"id": "...", "position": 1}}}
}`

// triggerExample is TriggerBody as Zendesk renders it for an English requester.
const triggerExample = `{"ticket_id":"42","created_at":"2026-10-05T09:58Z","updated_at":"2026-10-05T10:00Z","status":"Open","via":"Web form","requester_id":"7","requester_email":"Ann@Example.com","org_id":"9","org_external_id":"P-1","tags":"vip  repeat"}`

// event builds a ticket event of the given action around a detail and event object.
func event(action, detail, ev string) string {
	return `{"type":"zen:event-type:ticket.` + action + `","id":"ev-1","time":"2025-01-08T10:12:07Z",` +
		`"subject":"zen:ticket:5158","detail":` + detail + `,"event":` + ev + `}`
}

const detailOpen = `{"id":"5158","requester_id":"11","organization_id":"12","status":"OPEN",` +
	`"created_at":"2025-01-08T10:00:00Z","updated_at":"2025-01-08T10:12:07.5Z","tags":null,"via":{"channel":"mail"}}`

// trigger renders a trigger body from TriggerBody-like fields.
func trigger(fields string) string {
	return `{"ticket_id":"42","created_at":"2026-10-05T09:58Z","updated_at":"2026-10-05T10:00Z"` + fields + `}`
}

var (
	t0        = time.Date(2025, 1, 8, 10, 12, 7, 0, time.UTC)
	tCreated  = time.Date(2025, 1, 8, 10, 0, 0, 0, time.UTC)
	tHalf     = time.Date(2025, 1, 8, 10, 12, 7, 5e8, time.UTC)
	trCreated = time.Date(2026, 10, 5, 9, 58, 0, 0, time.UTC)
	trUpdated = time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC)
	received  = time.Date(2026, 10, 5, 10, 0, 30, 0, time.UTC)
	ticketJob = []recontact.Job{{Kind: recontact.JobZendeskTicket, Key: "42"}}
)

func eventContact(mod func(c *recontact.Contact)) *recontact.Contact {
	c := &recontact.Contact{Source: recontact.SourceZendesk, TicketID: "5158", RequesterID: "11", OrgID: "12",
		Channel: "email", Status: recontact.StatusOpen, CreatedAt: tCreated, UpdatedAt: tHalf}
	if mod != nil {
		mod(c)
	}
	return c
}

func triggerContact(mod func(c *recontact.Contact)) *recontact.Contact {
	c := &recontact.Contact{Source: recontact.SourceZendesk, TicketID: "42", Status: recontact.StatusUnknown,
		CreatedAt: trCreated, UpdatedAt: trUpdated}
	if mod != nil {
		mod(c)
	}
	return c
}

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		key      string // "" skips the check
		contact  *recontact.Contact
		activity recontact.Activity
		jobs     []recontact.Job
	}{
		{
			name: "event example of zendesk.md",
			body: eventExample,
			key:  "event:cbe4028c-7239-495d-b020-f22348516046",
			contact: &recontact.Contact{Source: recontact.SourceZendesk, TicketID: "5158", RequesterID: "8447388090494",
				OrgID: "8447346622462", Channel: "web_service", Status: recontact.StatusSolved, CreatedAt: t0, UpdatedAt: t0,
				ResolvedAt: t0, Tags: []string{"vip"}},
		},
		{
			name:     "public agent reply",
			body:     event("comment_added", detailOpen, `{"comment":{"id":"1","body":"hi","is_public":true,"author":{"id":"3","is_staff":true,"name":"A"}}}`),
			key:      "event:ev-1",
			contact:  eventContact(nil),
			activity: recontact.Activity{Replies: 1},
		},
		{
			name:    "internal agent note",
			body:    event("comment_added", detailOpen, `{"comment":{"is_public":false,"author":{"is_staff":true}}}`),
			contact: eventContact(nil),
		},
		{
			name:    "public end-user comment",
			body:    event("comment_added", detailOpen, `{"comment":{"is_public":true,"author":{"is_staff":false}}}`),
			contact: eventContact(nil),
		},
		{
			name:    "comment flags as strings are not trusted",
			body:    event("comment_added", detailOpen, `{"comment":{"is_public":"true","author":{"is_staff":"true"}}}`),
			contact: eventContact(nil),
		},
		{
			name:    "unexpected event shape costs only the activity",
			body:    event("comment_added", detailOpen, `{"comment":["surprise"]}`),
			contact: eventContact(nil),
		},
		{
			name:     "reopen from solved",
			body:     event("status_changed", detailOpen, `{"previous":"SOLVED","current":"OPEN"}`),
			contact:  eventContact(nil),
			activity: recontact.Activity{Reopens: 1},
		},
		{
			name:     "reopen from closed to hold",
			body:     event("status_changed", strings.Replace(detailOpen, `"OPEN"`, `"HOLD"`, 1), `{"previous":"CLOSED","current":"HOLD"}`),
			contact:  eventContact(func(c *recontact.Contact) { c.Status = recontact.StatusHold }),
			activity: recontact.Activity{Reopens: 1},
		},
		{
			name:    "open to pending is no reopen",
			body:    event("status_changed", strings.Replace(detailOpen, `"OPEN"`, `"PENDING"`, 1), `{"previous":"OPEN","current":"PENDING"}`),
			contact: eventContact(func(c *recontact.Contact) { c.Status = recontact.StatusPending }),
		},
		{
			name:    "solved to deleted is no reopen",
			body:    event("status_changed", strings.Replace(detailOpen, `"OPEN"`, `"DELETED"`, 1), `{"previous":"SOLVED","current":"DELETED"}`),
			contact: eventContact(func(c *recontact.Contact) { c.Status = recontact.StatusUnknown }),
			jobs:    []recontact.Job{{Kind: recontact.JobZendeskTicket, Key: "5158"}},
		},
		{
			name:    "soft-deleted ticket still parses",
			body:    event("soft_deleted", strings.Replace(detailOpen, `"OPEN"`, `"DELETED"`, 1), `{}`),
			contact: eventContact(func(c *recontact.Contact) { c.Status = recontact.StatusUnknown }),
			jobs:    []recontact.Job{{Kind: recontact.JobZendeskTicket, Key: "5158"}},
		},
		{
			name: "numeric ids, no event object, no via",
			body: `{"type":"zen:event-type:ticket.created","id":"ev-2","detail":{"id":5158,"requester_id":11,` +
				`"organization_id":null,"status":"NEW","updated_at":"2025-01-08T10:12:07Z","tags":["a","b"]}}`,
			key: "event:ev-2",
			contact: &recontact.Contact{Source: recontact.SourceZendesk, TicketID: "5158", RequesterID: "11",
				Status: recontact.StatusNew, UpdatedAt: t0, Tags: []string{"a", "b"}},
			jobs: []recontact.Job{{Kind: recontact.JobZendeskTicket, Key: "5158"}},
		},
		{
			name: "trigger with every field",
			body: triggerExample,
			key:  "trigger:42:2026-10-05T10:00Z:12410d0d18a978c8",
			contact: triggerContact(func(c *recontact.Contact) {
				c.Status, c.Channel = recontact.StatusOpen, "web_form"
				c.RequesterID, c.CustomerEmail, c.OrgID, c.Partner = "7", "Ann@Example.com", "9", "P-1"
				c.Tags = []string{"vip", "repeat"}
			}),
		},
		{
			name:    "trigger minimal: status and channel unknown",
			body:    trigger(``),
			contact: triggerContact(nil),
			jobs:    ticketJob,
		},
		{
			name:    "trigger RFC 3339 timestamps and numbers",
			body:    `{"ticket_id":42,"created_at":"2026-10-05T09:58:00Z","updated_at":"2026-10-05T12:00:00.25+02:00","requester_id":7}`,
			contact: triggerContact(func(c *recontact.Contact) { c.RequesterID, c.UpdatedAt = "7", trUpdated.Add(250*time.Millisecond) }),
			jobs:    ticketJob,
		},
		{
			name:    "trigger minute precision with offset",
			body:    `{"ticket_id":"42","created_at":"2026-10-05T11:58+02:00","updated_at":"2026-10-05T10:00Z","status":"Pending","via":"Mail"}`,
			contact: triggerContact(func(c *recontact.Contact) { c.Status, c.Channel = recontact.StatusPending, "email" }),
		},
		{
			name: "trigger solved sets resolved",
			body: trigger(`,"status":"solved","via":"Web service"`),
			contact: triggerContact(func(c *recontact.Contact) {
				c.Status, c.Channel, c.ResolvedAt = recontact.StatusSolved, "web_service", trUpdated
			}),
		},
		{
			name:    "trigger on-hold and phone",
			body:    trigger(`,"status":"On-hold","via":"Phone call"`),
			contact: triggerContact(func(c *recontact.Contact) { c.Status, c.Channel = recontact.StatusHold, "voice" }),
		},
		{
			name:    "trigger localised status asks the API",
			body:    trigger(`,"status":"Abierto","via":"Chat"`),
			contact: triggerContact(func(c *recontact.Contact) { c.Channel = "chat" }),
			jobs:    ticketJob,
		},
		{
			name:    "trigger localised via asks the API",
			body:    trigger(`,"status":"Closed","via":"Formulario web"`),
			contact: triggerContact(func(c *recontact.Contact) { c.Status, c.ResolvedAt = recontact.StatusClosed, trUpdated }),
			jobs:    ticketJob,
		},
		{
			name:    "trigger channel id sent as is",
			body:    trigger(`,"status":"New","via":"native_messaging"`),
			contact: triggerContact(func(c *recontact.Contact) { c.Status, c.Channel = recontact.StatusNew, "native_messaging" }),
		},
		{
			name: "trigger blank placeholders are absent; partner falls back to name",
			body: trigger(`,"status":"Open","via":"Messaging","requester_id":"","requester_email":" ","org_id":"9","org_external_id":"","org_name":"Acme Travel","booking_ref":"BK-7","tags":""`),
			contact: triggerContact(func(c *recontact.Contact) {
				c.Status, c.Channel, c.OrgID, c.Partner, c.BookingRef = recontact.StatusOpen, "native_messaging", "9", "Acme Travel", "BK-7"
			}),
		},
		{
			name: "trigger tags as array",
			body: trigger(`,"status":"Open","via":"Email","tags":["vip","", "late"]`),
			contact: triggerContact(func(c *recontact.Contact) {
				c.Status, c.Channel, c.Tags = recontact.StatusOpen, "email", []string{"vip", "late"}
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(http.Header{"Content-Type": {"application/json"}}, []byte(tt.body), received)
			if err != nil {
				t.Fatalf("Parse(%s) = %v", tt.body, err)
			}
			if d.Source != recontact.SourceZendesk || !d.ReceivedAt.Equal(received) || string(d.Body) != tt.body {
				t.Errorf("Parse: source %q, received %v, body %q; want zendesk, %v, the body", d.Source, d.ReceivedAt, d.Body, received)
			}
			if tt.key != "" && d.Key != tt.key {
				t.Errorf("Key = %q, want %q", d.Key, tt.key)
			}
			if !reflect.DeepEqual(d.Contact, tt.contact) {
				t.Errorf("Contact =\n%+v\nwant\n%+v", *d.Contact, *tt.contact)
			}
			if d.Activity != tt.activity {
				t.Errorf("Activity = %+v, want %+v", d.Activity, tt.activity)
			}
			if !reflect.DeepEqual(d.Jobs, tt.jobs) {
				t.Errorf("Jobs = %+v, want %+v", d.Jobs, tt.jobs)
			}
		})
	}
}

// A retry of the same trigger body dedupes; another update in the same minute does not.
func TestParseTriggerKey(t *testing.T) {
	a, err := Parse(nil, []byte(triggerExample), received)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Parse(nil, []byte(triggerExample), received.Add(time.Minute))
	other, err := Parse(nil, []byte(strings.Replace(triggerExample, `"Open"`, `"Pending"`, 1)), received)
	if err != nil {
		t.Fatal(err)
	}
	if a.Key != again.Key {
		t.Errorf("retry key %q != first key %q", again.Key, a.Key)
	}
	if a.Key == other.Key {
		t.Errorf("different content in the same minute got the same key %q", a.Key)
	}
}

// TriggerBody, rendered as Zendesk would, parses into a full contact.
func TestTriggerBodyRenders(t *testing.T) {
	body := strings.NewReplacer(
		"{{ticket.id}}", "42",
		"{{ticket.created_at_with_timestamp}}", "2026-10-05T09:58Z",
		"{{ticket.updated_at_with_timestamp}}", "2026-10-05T10:00Z",
		"{{ticket.status}}", "Solved",
		"{{ticket.via}}", "Web form",
		"{{ticket.requester.id}}", "7",
		"{{ticket.requester.email}}", "ann@example.com",
		"{{ticket.organization.id}}", "",
		"{{ticket.organization.external_id}}", "",
		"{{ticket.tags}}", "a b",
	).Replace(TriggerBody)
	if strings.Contains(body, "{{") {
		t.Fatalf("unrendered placeholder left in %s", body)
	}
	d, err := Parse(nil, []byte(body), received)
	if err != nil {
		t.Fatalf("Parse(rendered TriggerBody) = %v", err)
	}
	want := triggerContact(func(c *recontact.Contact) {
		c.Status, c.ResolvedAt, c.Channel = recontact.StatusSolved, trUpdated, "web_form"
		c.RequesterID, c.CustomerEmail, c.Tags = "7", "ann@example.com", []string{"a", "b"}
	})
	if !reflect.DeepEqual(d.Contact, want) || d.Jobs != nil {
		t.Fatalf("Parse(rendered TriggerBody) = %+v jobs %v, want %+v and no jobs", *d.Contact, d.Jobs, *want)
	}
}

func TestParseRejects(t *testing.T) {
	detail := func(s string) string { return event("created", s, `{}`) }
	tests := []struct {
		name, contentType, body, want string
	}{
		{"not JSON", "application/json", `{"ticket_id":`, "body is not valid JSON"},
		{"empty body", "", ``, "body is not valid JSON"},
		{"XML webhook", "application/xml; charset=utf-8", `<ticket><id>1</id></ticket>`, "body is application/xml; configure the webhook to send JSON"},
		{"form webhook", "application/x-www-form-urlencoded", `ticket_id=1`, "body is application/x-www-form-urlencoded; configure the webhook to send JSON"},
		{"array", "", `[{"ticket_id":"1"}]`, "body is not a JSON object"},
		{"null", "", `null`, "body is not a JSON object"},
		{"empty object", "", `{}`, "body is neither a ticket event nor a trigger payload"},
		{"unknown object", "", `{"hello":"world"}`, "body is neither a ticket event nor a trigger payload"},

		{"user event", "", `{"type":"zen:event-type:user.created","id":"e","detail":{}}`, `unsupported event type "zen:event-type:user.created"`},
		{"type not a string", "", `{"type":{"x":1}}`, "field type is not a string"},
		{"event without id", "", `{"type":"zen:event-type:ticket.created","detail":{"id":"1","updated_at":"2025-01-08T10:12:07Z"}}`, "missing field id"},
		{"event without detail", "", `{"type":"zen:event-type:ticket.created","id":"e"}`, "missing field detail"},
		{"event with null detail", "", `{"type":"zen:event-type:ticket.created","id":"e","detail":null}`, "missing field detail"},
		{"detail not an object", "", `{"type":"zen:event-type:ticket.created","id":"e","detail":"5158"}`, "field detail is not an object"},
		{"detail without id", "", detail(`{"updated_at":"2025-01-08T10:12:07Z"}`), "missing field detail.id"},
		{"detail id not an id", "", detail(`{"id":"zen:ticket:1","updated_at":"2025-01-08T10:12:07Z"}`), "field detail.id is not an id"},
		{"detail id negative", "", detail(`{"id":-1,"updated_at":"2025-01-08T10:12:07Z"}`), "field detail.id is not an id"},
		{"detail requester not an id", "", detail(`{"id":"1","requester_id":"me","updated_at":"2025-01-08T10:12:07Z"}`), "field detail.requester_id is not an id"},
		{"detail without updated_at", "", detail(`{"id":"1"}`), "missing field detail.updated_at"},
		{"detail bad updated_at", "", detail(`{"id":"1","updated_at":"January 8, 2025"}`), "field detail.updated_at is not a timestamp"},
		{"detail bad created_at", "", detail(`{"id":"1","created_at":"2025-01-08","updated_at":"2025-01-08T10:12:07Z"}`), "field detail.created_at is not a timestamp"},
		{"detail status object", "", detail(`{"id":"1","status":{},"updated_at":"2025-01-08T10:12:07Z"}`), "field detail.status is not a string"},
		{"detail tags string", "", detail(`{"id":"1","tags":"vip","updated_at":"2025-01-08T10:12:07Z"}`), "field detail.tags is not a list of tags"},
		{"detail via not an object", "", detail(`{"id":"1","via":"web","updated_at":"2025-01-08T10:12:07Z"}`), "field detail.via is not an object"},
		{"detail channel not a string", "", detail(`{"id":"1","via":{"channel":true},"updated_at":"2025-01-08T10:12:07Z"}`), "field detail.via.channel is not a string"},

		{"trigger without ticket_id", "", `{"created_at":"2026-10-05T09:58Z","updated_at":"2026-10-05T10:00Z"}`, "missing field ticket_id"},
		{"trigger blank ticket_id", "", `{"ticket_id":"","created_at":"2026-10-05T09:58Z","updated_at":"2026-10-05T10:00Z"}`, "missing field ticket_id"},
		{"trigger unrendered placeholder", "", `{"ticket_id":"{{ticket.id}}","updated_at":"2026-10-05T10:00Z"}`, "field ticket_id is not an id"},
		{"trigger ticket_id object", "", `{"ticket_id":{"id":1}}`, "field ticket_id is not a string"},
		{"trigger ticket_id fraction", "", `{"ticket_id":4.2}`, "field ticket_id is not an id"},
		{"trigger without updated_at", "", `{"ticket_id":"42","created_at":"2026-10-05T09:58Z"}`, "missing field updated_at"},
		{"trigger without created_at", "", `{"ticket_id":"42","updated_at":"2026-10-05T10:00Z"}`, "missing field created_at"},
		{"trigger human date", "", `{"ticket_id":"42","created_at":"2026-10-05T09:58Z","updated_at":"October 5, 2026"}`, "field updated_at is not a timestamp"},
		{"trigger minute without zone", "", `{"ticket_id":"42","created_at":"2026-10-05T09:58","updated_at":"2026-10-05T10:00Z"}`, "field created_at is not a timestamp"},
		{"trigger bad requester", "", trigger(`,"requester_id":"ann@example.com"`), "field requester_id is not an id"},
		{"trigger bad org", "", trigger(`,"org_id":"acme"`), "field org_id is not an id"},
		{"trigger status bool", "", trigger(`,"status":true`), "field status is not a string"},
		{"trigger tags number", "", trigger(`,"tags":5`), "field tags is not a list of tags"},
		{"trigger tags nested", "", trigger(`,"tags":[["a"]]`), "field tags is not a list of tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			d, err := Parse(h, []byte(tt.body), received)
			var e *recontact.Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%s) = %+v, %v; want EInvalid %q", tt.body, d, err, tt.want)
			}
			if e.Code != recontact.EInvalid || e.Message != tt.want {
				t.Fatalf("Parse(%s) = %s %q, want %s %q", tt.body, e.Code, e.Message, recontact.EInvalid, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		eventExample, triggerExample, trigger(`,"tags":["a"]`), `{"type":"zen:event-type:ticket.x","id":1,"detail":{}}`,
		event("comment_added", detailOpen, `{"comment":{"is_public":true,"author":{"is_staff":true}}}`),
		`{"ticket_id":1e3}`, `[]`, `"x"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := Parse(nil, body, received)
		if err != nil {
			if c := recontact.ErrorCode(err); c != recontact.EInvalid {
				t.Fatalf("Parse(%q) error code %s, want %s: %v", body, c, recontact.EInvalid, err)
			}
			return
		}
		c := d.Contact
		switch {
		case c == nil:
			t.Fatalf("Parse(%q) gave no contact", body)
		case !isID(c.TicketID) || (c.RequesterID != "" && !isID(c.RequesterID)) || (c.OrgID != "" && !isID(c.OrgID)):
			t.Fatalf("Parse(%q) ids %q %q %q are not ids", body, c.TicketID, c.RequesterID, c.OrgID)
		case c.UpdatedAt.IsZero():
			t.Fatalf("Parse(%q) gave no updated_at", body)
		case !strings.HasPrefix(d.Key, "event:") && !strings.HasPrefix(d.Key, "trigger:"+c.TicketID+":"):
			t.Fatalf("Parse(%q) key %q", body, d.Key)
		case c.Status.Resolved() != !c.ResolvedAt.IsZero():
			t.Fatalf("Parse(%q) status %q with resolved_at %v", body, c.Status, c.ResolvedAt)
		case (c.Status == recontact.StatusUnknown || c.Channel == "") != (len(d.Jobs) == 1):
			t.Fatalf("Parse(%q) status %q channel %q jobs %v", body, c.Status, c.Channel, d.Jobs)
		case d.Activity.Replies < 0 || d.Activity.Replies > 1 || d.Activity.Reopens < 0 || d.Activity.Reopens > 1:
			t.Fatalf("Parse(%q) activity %+v", body, d.Activity)
		}
	})
}

// FuzzScalar checks scalar's shortcut for strings without escapes against the
// decoder it skips: any JSON string must read the same both ways.
func FuzzScalar(f *testing.F) {
	for _, s := range []string{`""`, `"Open"`, `"a\"b"`, `"\u00e9t\u00e9"`, `"été"`, "\"\xff\xfe\"", `"tab\there"`, `"x\\"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want string
		if json.Unmarshal(raw, &want) != nil || len(bytes.TrimSpace(raw)) == 0 || bytes.TrimSpace(raw)[0] != '"' {
			return // only valid JSON strings reach scalar's shortcut
		}
		got, ok := scalar(raw)
		if !ok || got != want {
			t.Fatalf("scalar(%q) = %q, %v; the decoder reads %q", raw, got, ok, want)
		}
	})
}

// FuzzFlatObject checks the trigger body's shortcut against the decoder it
// skips: whatever flatObject accepts, encoding/json must read as the same map.
func FuzzFlatObject(f *testing.F) {
	for _, s := range []string{
		triggerExample, `{}`, ` { "a" : "b" , "c":"" } `, `{"a":"b","a":"c"}`, `{"a":"b",}`, `{"a":"b"} x`,
		`{"a":1}`, `{"a":"\u00e9"}`, "{\"a\":\"\xc3\xa9\"}", `{"a":"b"`, `{"a" "b"}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := flatObject(body)
		if !ok {
			return
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(body, &want); err != nil || want == nil {
			t.Fatalf("flatObject(%q) accepted what the decoder rejects: %v", body, err)
		}
		if len(got) != len(want) {
			t.Fatalf("flatObject(%q) = %d fields, the decoder reads %d", body, len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("flatObject(%q)[%q] = %q, the decoder reads %q", body, k, got[k], v)
			}
		}
	})
}

func TestFlatObjectLeavesTheRestToTheDecoder(t *testing.T) {
	for _, body := range []string{
		`{"ticket_id":123}`, `{"status":"Op\u0065n"}`, "{\"status\":\"\xc3\xa9\"}", `{"tags":["a"]}`,
		`{"a":"b",}`, `{"a":"b"} x`, `{"a":"b"`, "{\"a\":\"b\tc\"}", `[{"a":"b"}]`, `{"a":null}`,
	} {
		if _, ok := flatObject([]byte(body)); ok {
			t.Errorf("flatObject(%q) took the shortcut", body)
		}
	}
	m, ok := flatObject([]byte(" {\"ticket_id\" :\t\"35\",\r\n\"status\":\"Open\" } "))
	if !ok || string(m["ticket_id"]) != `"35"` || string(m["status"]) != `"Open"` || len(m) != 2 {
		t.Errorf("flatObject of a trigger body = %q, %v", m, ok)
	}
}
