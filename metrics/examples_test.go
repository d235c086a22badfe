package metrics_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
)

// October 2026, the month of every worked example.
var (
	october   = date("2026-10-01")
	november  = date("2026-11-01")
	afterward = date("2026-12-15") // every window of an October contact has passed
)

// customerKey names the i-th customer of a fixture.
func customerKey(i int) string { return fmt.Sprintf("c%d@example.com", i) }

// contactRows returns one contact for each of customers [0, n), created in
// October an hour apart, then a second contact for customers [0, twice).
func contactRows(n, twice int, partner string) []metrics.Row {
	var rows []metrics.Row
	for i := range n {
		rows = append(rows, metrics.Row{CustomerKey: customerKey(i), Partner: partner, Created: october.Add(time.Duration(i) * time.Hour)})
	}
	for i := range twice {
		rows = append(rows, metrics.Row{CustomerKey: customerKey(i), Partner: partner, Created: october.Add(20 * day)})
	}
	return rows
}

func bookingRows(n int, partner string) []metrics.BookingRow {
	rows := make([]metrics.BookingRow, n)
	for i := range rows {
		rows[i] = metrics.BookingRow{Partner: partner, Created: october.Add(time.Duration(i) * time.Minute)}
	}
	return rows
}

// history is one customer's tickets and bookings, before evaluation.
type history struct {
	contacts []metrics.Contact
	bookings []recontact.Booking
}

// evaluate runs Evaluate per customer, as the store does, and returns the rows
// Summarize reads, so the worked examples test the whole chain.
func evaluate(customers []history) []metrics.Row {
	var rows []metrics.Row
	for i, h := range customers {
		verdicts := metrics.Evaluate(h.contacts, h.bookings, metrics.DefaultSettings(), afterward)
		for j, v := range verdicts {
			c := h.contacts[j]
			rows = append(rows, metrics.Row{
				CustomerKey: customerKey(i), Partner: c.Partner, Stage: v.Stage, Created: c.Created,
				Resolved: !c.Resolved.IsZero(), FCR: v.FCR, FollowedByOrder: v.FollowedByOrder,
			})
		}
	}
	return rows
}

// fcrExample is worked example 4: 10 tickets resolved, 7 of them one-touch,
// and one of those 7 customers opens a new ticket 3 days later.
func fcrExample() []metrics.Row {
	customers := make([]history, 10)
	for i := range customers {
		created := october.Add(time.Duration(i) * time.Hour)
		replies := 1
		if i >= 7 {
			replies = 3
		}
		c := solved(zd(fmt.Sprint(i), created), created.Add(30*time.Minute), replies)
		customers[i].contacts = []metrics.Contact{c}
	}
	comeback := zd("back", customers[0].contacts[0].Resolved.Add(3*day)) // still open
	customers[0].contacts = append(customers[0].contacts, comeback)
	return evaluate(customers)
}

// orderExample is worked example 5: 200 contacts, 24 followed within 7 days by
// a booking from the same customer. 10 more book after 8 days and 6 book and
// cancel, which must not count.
func orderExample() []metrics.Row {
	customers := make([]history, 200)
	for i := range customers {
		created := october.Add(time.Duration(i) * time.Hour)
		customers[i].contacts = []metrics.Contact{zd(fmt.Sprint(i), created)}
		b := recontact.Booking{ID: fmt.Sprint("B", i), CustomerKey: customerKey(i)}
		switch {
		case i < 24:
			b.CreatedAt = created.Add(3 * day)
		case i < 34:
			b.CreatedAt = created.Add(8 * day)
		case i < 40:
			b.CreatedAt, b.Status = created.Add(day), recontact.BookingCancelled
		default:
			continue
		}
		customers[i].bookings = []recontact.Booking{b}
	}
	return evaluate(customers)
}

// TestWorkedExamples holds every worked example of metrics.md. want lists
// fields of the totals' JSON (numbers as JSON decodes them, float64); for the
// contact ratio, which metrics.md states per partner, it is checked on the
// partner's group.
func TestWorkedExamples(t *testing.T) {
	acme := append(bookingRows(1000, "acme"), bookingRows(500, "other")...)
	tests := []struct {
		name     string
		rows     []metrics.Row
		bookings []metrics.BookingRow
		partner  string // check the group_by=partner group of this partner
		want     map[string]any
	}{
		{
			"1. 100 tickets for 1,000 bookings", contactRows(100, 0, "acme"), acme, "acme",
			map[string]any{"contacts": 100.0, "bookings": 1000.0, "contact_ratio": 0.1, "contact_ratio_band": "moderate"},
		},
		{
			"1. 40 tickets for 1,000 bookings", contactRows(40, 0, "acme"), acme, "acme",
			map[string]any{"contacts": 40.0, "bookings": 1000.0, "contact_ratio": 0.04, "contact_ratio_band": "low"},
		},
		{
			"1. 160 tickets for 1,000 bookings", contactRows(160, 0, "acme"), acme, "acme",
			map[string]any{"contacts": 160.0, "bookings": 1000.0, "contact_ratio": 0.16, "contact_ratio_band": "high"},
		},
		{
			"2. 100 customers, 20 more than once", contactRows(100, 20, ""), nil, "",
			map[string]any{"customers": 100.0, "repeat_customers": 20.0, "repeat_contact_rate": 0.2},
		},
		{
			"3. 250 contacts from 200 customers", contactRows(200, 50, ""), nil, "",
			map[string]any{"contacts": 250.0, "customers": 200.0, "contacts_per_customer": 1.25},
		},
		{
			"4. 10 resolved, 7 one-touch, one customer back 3 days later", fcrExample(), nil, "",
			map[string]any{"resolved": 10.0, "first_contact_resolved": 6.0, "fcr_rate": 0.6},
		},
		{
			"5. 200 contacts, 24 followed by a booking within 7 days", orderExample(), nil, "",
			map[string]any{"contacts": 200.0, "contacts_followed_by_order": 24.0, "contact_to_order_rate": 0.12},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			groupBy := metrics.GroupNone
			if tt.partner != "" {
				groupBy = metrics.GroupPartner
			}
			totals, groups, err := metrics.Summarize(tt.rows, tt.bookings, october, november, groupBy, metrics.DefaultSettings())
			if err != nil {
				t.Fatal(err)
			}
			var checked any = totals
			if tt.partner != "" {
				i := slices.IndexFunc(groups, func(g metrics.Group) bool { return g.Key != nil && *g.Key == tt.partner })
				if i < 0 {
					t.Fatalf("no group for partner %q", tt.partner)
				}
				checked = groups[i]
			}
			got := jsonFields(t, checked)
			for field, want := range tt.want {
				if got[field] != want {
					t.Errorf("%s: got %v, want %v", field, got[field], want)
				}
			}
		})
	}
}

func jsonFields(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	return fields
}
