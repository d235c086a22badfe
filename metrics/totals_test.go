package metrics_test

import (
	"encoding/json"
	"testing"

	"github.com/recontact/recontact/metrics"
)

func TestBand(t *testing.T) {
	s := metrics.DefaultSettings()
	tests := []struct {
		ratio float64
		want  string
	}{
		{0, metrics.BandLow},
		{0.0499, metrics.BandLow},
		{0.05, metrics.BandModerate},
		{0.15, metrics.BandModerate},
		{0.1501, metrics.BandHigh},
		{2, metrics.BandHigh},
	}
	for _, tt := range tests {
		if got := metrics.Band(tt.ratio, s); got != tt.want {
			t.Errorf("Band(%v) = %q, want %q", tt.ratio, got, tt.want)
		}
	}
}

func TestDeriveJSON(t *testing.T) {
	s := metrics.DefaultSettings()
	tests := []struct {
		name   string
		totals metrics.Totals
		want   string
	}{
		{
			"nothing: every rate is null",
			metrics.Totals{},
			`{"contacts":0,"customers":0,"bookings":0,"resolved":0,"first_contact_resolved":0,"repeat_customers":0,"contacts_followed_by_order":0,` +
				`"contact_ratio":null,"contact_ratio_band":null,"contacts_per_customer":null,"fcr_rate":null,"repeat_contact_rate":null,"contact_to_order_rate":null}`,
		},
		{
			"no bookings and nothing resolved",
			metrics.Totals{Contacts: 3, Customers: 2, RepeatCustomers: 1},
			`{"contacts":3,"customers":2,"bookings":0,"resolved":0,"first_contact_resolved":0,"repeat_customers":1,"contacts_followed_by_order":0,` +
				`"contact_ratio":null,"contact_ratio_band":null,"contacts_per_customer":1.5,"fcr_rate":null,"repeat_contact_rate":0.5,"contact_to_order_rate":0}`,
		},
		{
			"rounded to 4 decimals, band from the rounded ratio",
			metrics.Totals{Contacts: 49999, Customers: 3, Bookings: 1000000, Resolved: 3, FirstContactResolved: 2, ContactsFollowedByOrder: 1},
			`{"contacts":49999,"customers":3,"bookings":1000000,"resolved":3,"first_contact_resolved":2,"repeat_customers":0,"contacts_followed_by_order":1,` +
				`"contact_ratio":0.05,"contact_ratio_band":"moderate","contacts_per_customer":16666.3333,"fcr_rate":0.6667,"repeat_contact_rate":0,"contact_to_order_rate":0}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.totals.Derive(s)
			got, err := json.Marshal(tt.totals)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestDeriveAgain checks that deriving after the counts change clears rates
// that lost their denominator.
func TestDeriveAgain(t *testing.T) {
	s := metrics.DefaultSettings()
	totals := metrics.Totals{Contacts: 1, Bookings: 10}
	totals.Derive(s)
	totals.Bookings = 0
	totals.Derive(s)
	if totals.ContactRatio != nil || totals.ContactRatioBand != nil {
		t.Errorf("got ratio %v band %v with no bookings, want both nil", totals.ContactRatio, totals.ContactRatioBand)
	}
}

func TestGroupJSON(t *testing.T) {
	g := metrics.Group{Totals: metrics.Totals{Contacts: 2}}
	got, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"key":null,"contacts":2,"customers":0,"bookings":0,"resolved":0,"first_contact_resolved":0,"repeat_customers":0,"contacts_followed_by_order":0,` +
		`"contact_ratio":null,"contact_ratio_band":null,"contacts_per_customer":null,"fcr_rate":null,"repeat_contact_rate":null,"contact_to_order_rate":null}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
