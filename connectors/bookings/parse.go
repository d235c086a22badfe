package bookings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/recontact/recontact"
)

// Event types the booking system sends. Its real event names are not
// documented yet (standard-webhooks.md §5 item 4); these are the contract
// agreed for recontact.
const (
	TypeCreated   = "booking.created"
	TypeUpdated   = "booking.updated"
	TypeCancelled = "booking.cancelled"
)

// Field names of a booking record: the keys of the webhook's data object, of
// a JSONL import line and the header of an import CSV.
const (
	FieldID            = "id"
	FieldPartnerID     = "partner_id"
	FieldCustomerEmail = "customer_email"
	FieldCreatedAt     = "created_at"
	FieldCheckIn       = "check_in"
	FieldCheckOut      = "check_out"
	FieldStatus        = "status"
)

var fields = []string{FieldID, FieldPartnerID, FieldCustomerEmail, FieldCreatedAt, FieldCheckIn, FieldCheckOut, FieldStatus}

// DefaultStatus is the status of a booking that states none.
const DefaultStatus = "confirmed"

const dateLayout = "2006-01-02"

// envelope is the Standard Webhooks recommended payload shape
// (standard-webhooks.md §2, "Payload structure").
type envelope struct {
	Type      json.RawMessage `json:"type"`
	Timestamp json.RawMessage `json:"timestamp"` // event time, unlike webhook-timestamp (attempt time)
	Data      json.RawMessage `json:"data"`
}

// Parse turns an authentic booking webhook into a delivery. Call it only
// after Verify has accepted the same headers and body.
func Parse(h http.Header, body []byte, received time.Time) (*recontact.Delivery, error) {
	key := h.Get(HeaderID)
	if key == "" {
		return nil, invalid("missing " + HeaderID + " header")
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, recontact.Wrap(recontact.EInvalid, "body is not a JSON object", err)
	}
	typ, err := optString(env.Type, "type")
	if err != nil {
		return nil, err
	}
	switch typ {
	case TypeCreated, TypeUpdated, TypeCancelled:
	case "":
		return nil, invalid("missing field type")
	default:
		return nil, invalid(fmt.Sprintf("type: unknown event type %q", typ))
	}
	eventTime, err := optString(env.Timestamp, "timestamp")
	if err != nil {
		return nil, err
	}
	if isNull(env.Data) {
		return nil, invalid("missing field data")
	}
	b, err := parseRecord(env.Data, "data.")
	if err != nil {
		return nil, err
	}
	if typ == TypeCancelled {
		b.Status = recontact.BookingCancelled
	}

	// UpdatedAt orders updates of one booking: the store keeps the newest.
	// The envelope's event time is the right clock. webhook-timestamp is the
	// time of this *attempt*, so a late retry of an old event would look new;
	// it is only a fallback for producers that send no event time.
	switch {
	case eventTime != "":
		t, err := time.Parse(time.RFC3339, eventTime)
		if err != nil {
			return nil, invalid("timestamp: want RFC 3339")
		}
		b.UpdatedAt = t.UTC()
	case h.Get(HeaderTimestamp) != "":
		t, err := parseTimestamp(h.Get(HeaderTimestamp))
		if err != nil {
			return nil, invalid(HeaderTimestamp + " header: want Unix seconds")
		}
		b.UpdatedAt = t.UTC()
	default:
		b.UpdatedAt = received.UTC()
	}

	return &recontact.Delivery{
		Source:     recontact.SourceBookings,
		Key:        key, // stays the same across retries (standard-webhooks.md §1.1)
		ReceivedAt: received,
		Body:       body,
		Booking:    b,
	}, nil
}

// ParseRecord parses one booking object, the webhook's data object on its
// own (for example a line of a JSONL import). Values may be strings, or
// numbers for the ids; errors name the field. UpdatedAt is left zero for the
// caller to set.
func ParseRecord(data []byte) (*recontact.Booking, error) { return parseRecord(data, "") }

func parseRecord(data []byte, path string) (*recontact.Booking, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		what := strings.TrimSuffix(path, ".")
		if what == "" {
			what = "record"
		}
		return nil, invalid(what + " is not a JSON object")
	}
	m := make(map[string]string, len(fields))
	for _, f := range fields {
		v, ok := raw[f]
		if !ok || isNull(v) {
			continue
		}
		s, err := scalar(v)
		if err != nil {
			return nil, invalid(path + f + ": want a string or number")
		}
		m[f] = s
	}
	return fromFields(m, path)
}

// FromFields builds a booking from a row keyed by the field names (a CSV
// import with those column names). Empty values count as missing. UpdatedAt
// is left zero for the caller to set.
func FromFields(row map[string]string) (*recontact.Booking, error) { return fromFields(row, "") }

// fromFields is the one validation path of webhooks, JSON records and rows;
// path prefixes field names in errors ("data." for webhooks).
func fromFields(row map[string]string, path string) (*recontact.Booking, error) {
	get := func(f string) string { return strings.TrimSpace(row[f]) }
	for _, f := range []string{FieldID, FieldPartnerID, FieldCustomerEmail, FieldCreatedAt} {
		if get(f) == "" {
			return nil, invalid("missing field " + path + f)
		}
	}
	b := &recontact.Booking{
		ID:            get(FieldID),
		Partner:       get(FieldPartnerID),
		CustomerEmail: get(FieldCustomerEmail),
		CustomerKey:   recontact.NormaliseEmail(get(FieldCustomerEmail)),
	}
	if b.CustomerKey == "" {
		return nil, invalid(path + FieldCustomerEmail + ": not a plain e-mail address")
	}
	var err error
	if b.CreatedAt, err = parseInstant(get(FieldCreatedAt)); err != nil {
		return nil, invalid(path + FieldCreatedAt + ": want YYYY-MM-DD or RFC 3339")
	}
	if b.CheckIn, err = parseDate(get(FieldCheckIn)); err != nil {
		return nil, invalid(path + FieldCheckIn + ": want YYYY-MM-DD or RFC 3339")
	}
	if b.CheckOut, err = parseDate(get(FieldCheckOut)); err != nil {
		return nil, invalid(path + FieldCheckOut + ": want YYYY-MM-DD or RFC 3339")
	}
	// Dates are optional (an order has none) but come as a pair: the stage of a
	// contact needs both ends of the stay.
	switch {
	case b.CheckIn != "" && b.CheckOut == "":
		return nil, invalid("missing field " + path + FieldCheckOut + " (required with " + FieldCheckIn + ")")
	case b.CheckOut != "" && b.CheckIn == "":
		return nil, invalid("missing field " + path + FieldCheckIn + " (required with " + FieldCheckOut + ")")
	case b.CheckOut < b.CheckIn: // YYYY-MM-DD compares as text
		return nil, invalid(path + FieldCheckOut + ": before " + FieldCheckIn)
	}
	b.Status = normaliseStatus(get(FieldStatus))
	return b, nil
}

func normaliseStatus(s string) string {
	switch s = strings.ToLower(s); s {
	case "":
		return DefaultStatus
	case "cancelled", "canceled":
		return recontact.BookingCancelled
	default:
		return s
	}
}

// parseInstant reads an RFC 3339 time, or a date as midnight UTC.
func parseInstant(s string) (time.Time, error) {
	if t, err := time.Parse(dateLayout, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	return t.UTC(), err
}

// parseDate normalises to YYYY-MM-DD. An RFC 3339 value keeps the date as
// written in its own offset: a check-in at 00:30+02:00 is that local day,
// not the previous day in UTC.
func parseDate(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if _, err := time.Parse(dateLayout, s); err == nil {
		return s, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return "", err
	}
	return t.Format(dateLayout), nil
}

// optString reads an optional JSON string: "" when absent or null.
func optString(v json.RawMessage, field string) (string, error) {
	if isNull(v) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", invalid(field + ": want a string")
	}
	return strings.TrimSpace(s), nil
}

// scalar reads a JSON string, or a number kept as its literal text (ids may
// arrive as numbers).
func scalar(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}

func isNull(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || string(v) == "null"
}

func invalid(msg string) error { return recontact.Errorf(recontact.EInvalid, msg) }
