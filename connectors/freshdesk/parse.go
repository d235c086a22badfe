package freshdesk

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/recontact/recontact"
)

// RetryWindow is how long an identical body counts as a retry: Freshdesk
// retries at +5, +35 and +95 minutes and sends no delivery id (§1.1), so the
// same body later is a new event.
const RetryWindow = 2 * time.Hour

// webhookBody is the Advanced body the README documents, and the richer form.
// Placeholders render text, so every scalar is read leniently.
type webhookBody struct {
	TicketID       id              `json:"ticket_id"`
	Event          string          `json:"event"`
	TriggeredEvent string          `json:"triggered_event"`
	RequesterEmail string          `json:"requester_email"`
	Status         json.RawMessage `json:"status"`
	Company        string          `json:"company"`
	Source         json.RawMessage `json:"source"`
	CreatedAt      string          `json:"created_at"`
	UpdatedAt      string          `json:"updated_at"`
	Tags           json.RawMessage `json:"tags"`
}

// Parse turns an authentic Freshdesk automation webhook into a Delivery. The
// webhook is only a trigger: the delivery always queues a read of the ticket
// from the API, which is the source of truth (§1.1). What the body says is
// kept as a provisional contact that API data overrides.
func Parse(h http.Header, body []byte, received time.Time) (*recontact.Delivery, error) {
	var b webhookBody
	if err := json.Unmarshal(body, &b); err != nil {
		if json.Valid(body) {
			return nil, recontact.Wrap(recontact.EInvalid, "ticket_id: want a ticket number", err)
		}
		return nil, recontact.Errorf(recontact.EInvalid, "body is not valid JSON")
	}
	if b.TicketID == "" {
		return nil, recontact.Errorf(recontact.EInvalid, "missing field ticket_id")
	}
	ticket := string(b.TicketID)
	c := &recontact.Contact{
		Source: recontact.SourceFreshdesk, TicketID: ticket,
		CustomerEmail: b.RequesterEmail, Partner: strings.TrimSpace(b.Company),
		Status: webhookStatus(scalar(b.Status)), Channel: webhookChannel(scalar(b.Source)),
		Tags: splitTags(b.Tags),
	}
	var err error
	if c.CreatedAt, err = optTime(b.CreatedAt, "created_at"); err != nil {
		return nil, err
	}
	if c.UpdatedAt, err = optTime(b.UpdatedAt, "updated_at"); err != nil {
		return nil, err
	}
	if c.Status.Resolved() && !c.UpdatedAt.IsZero() {
		c.ResolvedAt = c.UpdatedAt
	}
	d := &recontact.Delivery{
		Source: recontact.SourceFreshdesk, Key: "fd:" + ticket + ":" + digest(body), DedupeWindow: RetryWindow,
		ReceivedAt: received, Body: body, Contact: c,
		Jobs: []recontact.Job{{Kind: recontact.JobFreshdeskTicket, Key: ticket}},
	}
	event := b.Event
	if event == "" {
		event = b.TriggeredEvent
	}
	if strings.TrimSpace(event) != "" {
		events, err := ParseEvents(event)
		if err != nil {
			return nil, recontact.Wrap(recontact.EInvalid, "event: not Freshdesk's {{triggered_event}} form", err)
		}
		for _, e := range events {
			if e.Reopen() {
				d.Activity.Reopens++
			}
		}
		d.ReportsActivity = true // a reopen is reported by the event, not inferred
	}
	return d, nil
}

func digest(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:8])
}

// scalar reads a JSON string or number as text; anything else is "".
func scalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// splitTags reads tags as a comma-separated string (what {{ticket.tags}}
// renders, §1.2) or an array; nil when absent.
func splitTags(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil || strings.TrimSpace(s) == "" {
			return nil
		}
		list = strings.Split(s, ",")
	}
	out := make([]string, 0, len(list))
	for _, t := range list {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func optTime(s, field string) (time.Time, error) {
	if s = strings.TrimSpace(s); s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, recontact.Errorf(recontact.EInvalid, field+": want RFC 3339, got "+truncate(s))
	}
	return t.UTC(), nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return `"` + s[:40] + `…"`
	}
	return `"` + s + `"`
}
