package bookings

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact"
)

var received = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func hookHeaders(id, ts string) http.Header {
	h := http.Header{}
	if id != "" {
		h.Set(HeaderID, id)
	}
	if ts != "" {
		h.Set(HeaderTimestamp, ts)
	}
	return h
}

const fullData = `{"id":"B-1","partner_id":"hotel-9","customer_email":" Ann@Example.COM ","created_at":"2025-05-20T08:30:00+02:00","check_in":"2025-06-10","check_out":"2025-06-12","status":"Confirmed"}`

func TestParse(t *testing.T) {
	base := recontact.Booking{
		ID: "B-1", Partner: "hotel-9", CustomerEmail: "Ann@Example.COM", CustomerKey: "ann@example.com",
		CreatedAt: time.Date(2025, 5, 20, 6, 30, 0, 0, time.UTC),
		CheckIn:   "2025-06-10", CheckOut: "2025-06-12", Status: "confirmed",
		UpdatedAt: time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC),
	}
	with := func(edit func(b *recontact.Booking)) recontact.Booking {
		b := base
		edit(&b)
		return b
	}
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   recontact.Booking
	}{
		{"created with event time", hookHeaders("msg_1", "1748772000"),
			`{"type":"booking.created","timestamp":"2025-06-01T10:00:00Z","data":` + fullData + `}`, base},
		{"event time wins over attempt time", hookHeaders("msg_1", "1999999999"),
			`{"type":"booking.updated","timestamp":"2025-06-01T12:00:00+02:00","data":` + fullData + `}`, base},
		{"no event time: webhook-timestamp", hookHeaders("msg_1", "1748772000"),
			`{"type":"booking.updated","data":` + fullData + `}`, base},
		{"blank event time: webhook-timestamp", hookHeaders("msg_1", "1748772000"),
			`{"type":"booking.updated","timestamp":"","data":` + fullData + `}`, base},
		{"no times at all: received", hookHeaders("msg_1", ""),
			`{"type":"booking.updated","data":` + fullData + `}`, with(func(b *recontact.Booking) { b.UpdatedAt = received })},
		{"cancelled event whatever the status", hookHeaders("msg_1", "1748772000"),
			`{"type":"booking.cancelled","data":` + fullData + `}`, with(func(b *recontact.Booking) { b.Status = recontact.BookingCancelled })},
		{"status canceled (US)", hookHeaders("msg_1", "1748772000"),
			`{"type":"booking.updated","data":{"id":"B-1","partner_id":"hotel-9","customer_email":"Ann@Example.COM","created_at":"2025-05-20T06:30:00Z","check_in":"2025-06-10","check_out":"2025-06-12","status":"Canceled"}}`,
			with(func(b *recontact.Booking) { b.Status = recontact.BookingCancelled })},
		{"other status kept lower-cased", hookHeaders("msg_1", "1748772000"),
			`{"type":"booking.updated","data":{"id":"B-1","partner_id":"hotel-9","customer_email":"Ann@Example.COM","created_at":"2025-05-20T06:30:00Z","check_in":"2025-06-10","check_out":"2025-06-12","status":"No-Show"}}`,
			with(func(b *recontact.Booking) { b.Status = "no-show" })},
		{"order without dates, numeric ids, no status", hookHeaders("msg_2", "1748772000"),
			`{"type":"booking.created","data":{"id":42,"partner_id":7,"customer_email":"ann@example.com","created_at":"2025-05-20"}}`,
			recontact.Booking{ID: "42", Partner: "7", CustomerEmail: "ann@example.com", CustomerKey: "ann@example.com",
				CreatedAt: time.Date(2025, 5, 20, 0, 0, 0, 0, time.UTC), Status: DefaultStatus, UpdatedAt: base.UpdatedAt}},
		{"RFC 3339 stay dates keep their local day", hookHeaders("msg_1", "1748772000"),
			`{"type":"booking.created","data":{"id":"B-1","partner_id":"hotel-9","customer_email":"Ann@Example.COM","created_at":"2025-05-20T06:30:00.123Z","check_in":"2025-06-10T00:30:00+02:00","check_out":"2025-06-12T11:00:00-07:00"}}`,
			with(func(b *recontact.Booking) { b.CreatedAt = b.CreatedAt.Add(123 * time.Millisecond) })},
		{"one-day stay", hookHeaders("msg_1", "1748772000"),
			`{"type":"booking.created","data":{"id":"B-1","partner_id":"hotel-9","customer_email":"Ann@Example.COM","created_at":"2025-05-20T06:30:00Z","check_in":"2025-06-10","check_out":"2025-06-10"}}`,
			with(func(b *recontact.Booking) { b.CheckOut = "2025-06-10" })},
		{"unknown fields ignored", hookHeaders("msg_1", "1748772000"),
			`{"type":"booking.created","version":3,"data":{"id":"B-1","partner_id":"hotel-9","customer_email":"Ann@Example.COM","created_at":"2025-05-20T06:30:00Z","check_in":"2025-06-10","check_out":"2025-06-12","guests":2}}`,
			base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(tt.header, []byte(tt.body), received)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d.Source != recontact.SourceBookings || d.Key != tt.header.Get(HeaderID) || !d.ReceivedAt.Equal(received) || string(d.Body) != tt.body {
				t.Errorf("delivery = %+v, want source bookings, key %q, received %v, raw body", d, tt.header.Get(HeaderID), received)
			}
			if d.Contact != nil || len(d.Jobs) != 0 || d.DedupeWindow != 0 {
				t.Errorf("delivery carries contact/jobs/window: %+v", d)
			}
			if !reflect.DeepEqual(*d.Booking, tt.want) {
				t.Errorf("booking\n got %+v\nwant %+v", *d.Booking, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	ok := hookHeaders("msg_1", "1748772000")
	data := func(edit string) string {
		return `{"type":"booking.created","data":` + edit + `}`
	}
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   string
	}{
		{"no webhook-id", hookHeaders("", "1748772000"), data(fullData), "missing webhook-id header"},
		{"not JSON", ok, `type=booking.created`, "body is not a JSON object"},
		{"JSON array", ok, `[]`, "body is not a JSON object"},
		{"trailing garbage", ok, data(fullData) + "x", "body is not a JSON object"},
		{"no type", ok, `{"data":` + fullData + `}`, "missing field type"},
		{"type not a string", ok, `{"type":1,"data":` + fullData + `}`, "type: want a string"},
		{"event time not a string", ok, `{"type":"booking.created","timestamp":1748772000,"data":` + fullData + `}`, "timestamp: want a string"},
		{"unknown type", ok, `{"type":"booking.deleted","data":` + fullData + `}`, `type: unknown event type "booking.deleted"`},
		{"no data", ok, `{"type":"booking.created"}`, "missing field data"},
		{"null data", ok, `{"type":"booking.created","data":null}`, "missing field data"},
		{"data not an object", ok, data(`"B-1"`), "data is not a JSON object"},
		{"bad event time", ok, `{"type":"booking.created","timestamp":"1 June 2025","data":` + fullData + `}`, "timestamp: want RFC 3339"},
		{"bad webhook-timestamp", hookHeaders("msg_1", "soon"), data(fullData), "webhook-timestamp header: want Unix seconds"},
		{"no id", ok, data(`{"partner_id":"p","customer_email":"a@b.co","created_at":"2025-05-20"}`), "missing field data.id"},
		{"null id", ok, data(`{"id":null,"partner_id":"p","customer_email":"a@b.co","created_at":"2025-05-20"}`), "missing field data.id"},
		{"blank id", ok, data(`{"id":"  ","partner_id":"p","customer_email":"a@b.co","created_at":"2025-05-20"}`), "missing field data.id"},
		{"id an object", ok, data(`{"id":{"v":1},"partner_id":"p","customer_email":"a@b.co","created_at":"2025-05-20"}`), "data.id: want a string or number"},
		{"no partner", ok, data(`{"id":"B","customer_email":"a@b.co","created_at":"2025-05-20"}`), "missing field data.partner_id"},
		{"no email", ok, data(`{"id":"B","partner_id":"p","created_at":"2025-05-20"}`), "missing field data.customer_email"},
		{"email with display name", ok, data(`{"id":"B","partner_id":"p","customer_email":"Ann <a@b.co>","created_at":"2025-05-20"}`), "data.customer_email: not a plain e-mail address"},
		{"email junk", ok, data(`{"id":"B","partner_id":"p","customer_email":"n/a","created_at":"2025-05-20"}`), "data.customer_email: not a plain e-mail address"},
		{"no created_at", ok, data(`{"id":"B","partner_id":"p","customer_email":"a@b.co"}`), "missing field data.created_at"},
		{"bad created_at", ok, data(`{"id":"B","partner_id":"p","customer_email":"a@b.co","created_at":"20/05/2025"}`), "data.created_at: want YYYY-MM-DD or RFC 3339"},
		{"bad check_in", ok, data(`{"id":"B","partner_id":"p","customer_email":"a@b.co","created_at":"2025-05-20","check_in":"2025-02-30","check_out":"2025-03-02"}`), "data.check_in: want YYYY-MM-DD or RFC 3339"},
		{"bad check_out", ok, data(`{"id":"B","partner_id":"p","customer_email":"a@b.co","created_at":"2025-05-20","check_in":"2025-03-01","check_out":"tomorrow"}`), "data.check_out: want YYYY-MM-DD or RFC 3339"},
		{"check_out before check_in", ok, data(`{"id":"B","partner_id":"p","customer_email":"a@b.co","created_at":"2025-05-20","check_in":"2025-03-02","check_out":"2025-03-01"}`), "data.check_out: before check_in"},
		{"check_in alone", ok, data(`{"id":"B","partner_id":"p","customer_email":"a@b.co","created_at":"2025-05-20","check_in":"2025-03-02"}`), "missing field data.check_out (required with check_in)"},
		{"check_out alone", ok, data(`{"id":"B","partner_id":"p","customer_email":"a@b.co","created_at":"2025-05-20","check_out":"2025-03-02"}`), "missing field data.check_in (required with check_out)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(tt.header, []byte(tt.body), received)
			if err == nil {
				t.Fatalf("Parse = %+v, want error %q", d, tt.want)
			}
			if c := recontact.ErrorCode(err); c != recontact.EInvalid {
				t.Errorf("code = %s, want invalid (%v)", c, err)
			}
			if msg := recontact.ErrorMessage(err); msg != tt.want {
				t.Errorf("message = %q, want %q", msg, tt.want)
			}
		})
	}
}

// TestRecordAndRowAgree proves the three entry points share one validation:
// the same values give the same booking or the same error, with field names
// unprefixed outside the webhook envelope.
func TestRecordAndRowAgree(t *testing.T) {
	tests := []struct {
		name    string
		row     map[string]string
		wantErr string
	}{
		{"full", map[string]string{"id": "B-1", "partner_id": "p", "customer_email": "A@B.co", "created_at": "2025-05-20T06:30:00Z", "check_in": "2025-06-10", "check_out": "2025-06-12", "status": "CANCELLED"}, ""},
		{"minimal", map[string]string{"id": "B-2", "partner_id": "p", "customer_email": "a@b.co", "created_at": "2025-05-20"}, ""},
		{"empty cells are missing", map[string]string{"id": "B-2", "partner_id": "", "customer_email": "a@b.co", "created_at": "2025-05-20", "check_in": "", "check_out": ""}, "missing field partner_id"},
		{"bad email", map[string]string{"id": "B-2", "partner_id": "p", "customer_email": "a@", "created_at": "2025-05-20"}, "customer_email: not a plain e-mail address"},
		{"reversed stay", map[string]string{"id": "B-2", "partner_id": "p", "customer_email": "a@b.co", "created_at": "2025-05-20", "check_in": "2025-06-12", "check_out": "2025-06-10"}, "check_out: before check_in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fromRow, rowErr := FromFields(tt.row)
			js, _ := json.Marshal(tt.row)
			fromJSON, jsonErr := ParseRecord(js)
			for what, err := range map[string]error{"FromFields": rowErr, "ParseRecord": jsonErr} {
				if got := errText(err); got != tt.wantErr {
					t.Errorf("%s error = %q, want %q", what, got, tt.wantErr)
				}
			}
			if !reflect.DeepEqual(fromRow, fromJSON) {
				t.Errorf("FromFields = %+v, ParseRecord = %+v", fromRow, fromJSON)
			}
		})
	}
	if _, err := ParseRecord([]byte(`"x"`)); errText(err) != "record is not a JSON object" {
		t.Errorf("ParseRecord(string) error = %v", err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return recontact.ErrorMessage(err)
}

var dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func FuzzParse(f *testing.F) {
	f.Add("msg_1", "1748772000", []byte(`{"type":"booking.created","data":`+fullData+`}`))
	f.Add("msg_2", "", []byte(`{"type":"booking.cancelled","timestamp":"2025-06-01T10:00:00Z","data":{"id":1,"partner_id":2,"customer_email":"a@b.co","created_at":"2025-05-20","check_in":"2025-06-10T23:00:00-05:00","check_out":"2025-06-11"}}`))
	f.Add("", "x", []byte(`{"type":"booking.updated","data":null}`))
	f.Add("msg_3", "1", []byte(`{"data":{"id":[1]}}`))
	f.Fuzz(func(t *testing.T, id, ts string, body []byte) {
		h := hookHeaders(id, ts)
		d, err := Parse(h, body, received)
		if err != nil {
			if c := recontact.ErrorCode(err); c != recontact.EInvalid {
				t.Fatalf("code = %s, want invalid: %v", c, err)
			}
			if recontact.ErrorMessage(err) == "" {
				t.Fatal("error without a message")
			}
			return
		}
		b := d.Booking
		switch {
		case d.Key != id || d.Key == "":
			t.Fatalf("Key = %q, want the webhook-id %q", d.Key, id)
		case b.ID == "" || b.Partner == "" || b.CreatedAt.IsZero() || b.UpdatedAt.IsZero():
			t.Fatalf("required value missing: %+v", b)
		case b.CustomerKey == "" || b.CustomerKey != recontact.NormaliseEmail(b.CustomerEmail):
			t.Fatalf("CustomerKey %q from %q", b.CustomerKey, b.CustomerEmail)
		case (b.CheckIn == "") != (b.CheckOut == ""):
			t.Fatalf("half a stay: %q..%q", b.CheckIn, b.CheckOut)
		case b.CheckIn != "" && (!dateRE.MatchString(b.CheckIn) || !dateRE.MatchString(b.CheckOut) || b.CheckOut < b.CheckIn):
			t.Fatalf("bad stay %q..%q", b.CheckIn, b.CheckOut)
		case b.Status == "" || b.Status != strings.ToLower(b.Status) || b.Status == "canceled":
			t.Fatalf("status %q not normalised", b.Status)
		case b.CreatedAt.Location() != time.UTC || b.UpdatedAt.Location() != time.UTC:
			t.Fatalf("times not UTC: %v %v", b.CreatedAt, b.UpdatedAt)
		}
		// The data object alone parses to the same booking, bar the event's
		// own contributions.
		var env struct{ Data json.RawMessage }
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatal(err)
		}
		rec, err := ParseRecord(env.Data)
		if err != nil {
			t.Fatalf("ParseRecord rejects the data Parse accepted: %v", err)
		}
		rec.UpdatedAt = b.UpdatedAt
		if b.Status == recontact.BookingCancelled {
			rec.Status = b.Status
		}
		if !reflect.DeepEqual(*rec, *b) {
			t.Fatalf("ParseRecord = %+v, Parse = %+v", *rec, *b)
		}
	})
}
