package freshdesk

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/recontact/recontact"
)

// RetryWindow is how long an identical body counts as a retry: Freshdesk
// retries at +5, +35 and +95 minutes and sends no delivery id (freshdesk.md
// §1.1), so the same body later is a new event (a second reopen, say).
const RetryWindow = 2 * time.Hour

// Parse turns an authentic Freshdesk automation webhook into a delivery. It
// accepts the minimal body freshdesk.md §1.2 recommends,
//
//	{"ticket_id": {{ticket.id}}, "event": "{{triggered_event}}", "requester_email": "{{ticket.requester.email}}"}
//
// and optional richer fields: status (name or id), company, source, tags
// (comma-separated or an array), created_at, updated_at, requester_id, and
// triggered_event as another name for event.
//
// The webhook is only a trigger (freshdesk.md §1.1): every delivery queues a
// JobFreshdeskTicket read, and the Contact is provisional. Its UpdatedAt stays
// zero unless the body has one, so it never overwrites what the API said.
// Only a missing or malformed ticket_id is an error: refusing a delivery for
// an unexpected event text or date would lose the trigger, and Freshdesk
// would retry the same body three times and then e-mail the admins.
func Parse(_ http.Header, body []byte, received time.Time) (*recontact.Delivery, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, recontact.Errorf(recontact.EInvalid, "body is not a JSON object")
	}
	f := fields{m: top}
	// Simple-mode rules may wrap ticket_-prefixed keys in a freshdesk_webhook
	// object (freshdesk.md §1, unconfirmed). Only the ticket id is taken from
	// that shape; the ticket job reads the rest.
	if w, ok := top["freshdesk_webhook"]; ok && !f.has("ticket_id") {
		var inner map[string]json.RawMessage
		if json.Unmarshal(w, &inner) == nil && inner["ticket_id"] != nil {
			f = fields{m: map[string]json.RawMessage{"ticket_id": inner["ticket_id"]}}
		}
	}

	var ticket id
	if raw, ok := f.m["ticket_id"]; ok {
		if err := json.Unmarshal(raw, &ticket); err != nil {
			return nil, recontact.Errorf(recontact.EInvalid, "ticket_id: want a ticket number")
		}
	}
	switch {
	case ticket == "" && f.text("ticket_id") != "": // 0
		return nil, recontact.Errorf(recontact.EInvalid, "ticket_id: want a ticket number")
	case ticket == "":
		return nil, recontact.Errorf(recontact.EInvalid, "missing field ticket_id")
	}

	c := &recontact.Contact{
		Source:        recontact.SourceFreshdesk,
		TicketID:      string(ticket),
		CustomerEmail: f.text("requester_email"), // as received; CustomerKey normalises
		Partner:       f.text("company"),
		Status:        webhookStatus(f.text("status")),
		Channel:       webhookChannel(f.text("source")),
		Tags:          f.tags("tags"),
		// The date placeholders' format is unconfirmed (freshdesk.md §1.2): an
		// unreadable value is dropped, never fatal.
		CreatedAt: f.time("created_at"),
		UpdatedAt: f.time("updated_at"),
	}
	var requester id
	if raw, ok := f.m["requester_id"]; ok && json.Unmarshal(raw, &requester) == nil {
		c.RequesterID = string(requester)
	}

	d := &recontact.Delivery{
		Source:       recontact.SourceFreshdesk,
		Key:          "fd:" + string(ticket) + ":" + digest(body),
		DedupeWindow: RetryWindow,
		ReceivedAt:   received,
		Body:         body,
		Contact:      c,
		Jobs:         []recontact.Job{{Kind: recontact.JobFreshdeskTicket, Key: string(ticket)}},
	}

	eventText := f.text("event")
	if eventText == "" {
		eventText = f.text("triggered_event")
	}
	// An unreadable event is ignored: its format is known only from samples.
	events, _ := ParseEvents(eventText)
	for _, e := range events {
		if e.Name != "status" {
			continue
		}
		// A status change says itself whether it reopened the ticket, so the
		// store must not infer a second reopen from this delivery's snapshot.
		// Other events say nothing about status: inference stays on.
		d.ReportsActivity = true
		if e.Reopen() {
			d.Activity.Reopens++
		}
		// The body's status wins; the event's new status id is next best.
		if c.Status == recontact.StatusUnknown && e.To != "" {
			c.Status = webhookStatus(e.To)
		}
	}
	if c.Status.Resolved() && !c.UpdatedAt.IsZero() {
		c.ResolvedAt = c.UpdatedAt // provisional: the ticket job reads stats.resolved_at
	}
	return d, nil
}

// digest is the first 16 hex digits of the body's SHA-256: Freshdesk's
// retries resend the same bytes.
func digest(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:8])
}

// fields reads the loosely typed body: admins write the template and
// placeholders render text, so a value may be a string or a number.
type fields struct{ m map[string]json.RawMessage }

func (f fields) has(k string) bool {
	_, ok := f.m[k]
	return ok
}

// text returns a trimmed string, or the literal of a number; "" otherwise.
func (f fields) text(k string) string {
	raw := bytes.TrimSpace(f.m[k])
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// tags reads {{ticket.tags}}, one comma-separated string (whether a space
// follows each comma is unconfirmed, freshdesk.md §1.2), or a JSON array.
func (f fields) tags(k string) []string {
	var list []string
	if json.Unmarshal(f.m[k], &list) != nil {
		list = strings.Split(f.text(k), ",")
	}
	var out []string
	for _, t := range list {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func (f fields) time(k string) time.Time {
	t, err := time.Parse(time.RFC3339, f.text(k))
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
