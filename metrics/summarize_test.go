package metrics_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// describe renders a group's counts so a whole grouping compares as strings.
func describe(g metrics.Group) string {
	key := "<nil>"
	if g.Key != nil {
		key = *g.Key
	}
	return fmt.Sprintf("%s contacts=%d customers=%d repeat=%d bookings=%d", key, g.Contacts, g.Customers, g.RepeatCustomers, g.Bookings)
}

func TestSummarizeCohort(t *testing.T) {
	from, to := date("2026-10-01"), date("2026-11-01")
	rows := []metrics.Row{
		{CustomerKey: "a", Created: from.Add(-time.Nanosecond)}, // before the period
		{CustomerKey: "a", Created: from, Resolved: true, FCR: metrics.FCRYes, FollowedByOrder: true},
		{CustomerKey: "b", Created: to.Add(-time.Nanosecond), Resolved: true, FCR: metrics.FCRNo},
		{CustomerKey: "b", Created: to}, // after the period
		{CustomerKey: "", Created: from.Add(day)},
		{CustomerKey: "", Created: from.Add(2 * day)},
	}
	bookings := []metrics.BookingRow{
		{Created: from.Add(-time.Nanosecond)},
		{Created: from},
		{Created: from.Add(day), Cancelled: true},
		{Created: to.Add(-time.Nanosecond)},
		{Created: to},
	}
	got, groups, err := metrics.Summarize(rows, bookings, from, to, metrics.GroupNone, metrics.DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	want := metrics.Totals{
		Contacts: 4, Customers: 4, Bookings: 2, Resolved: 2, FirstContactResolved: 1, RepeatCustomers: 0, ContactsFollowedByOrder: 1,
	}
	want.Derive(metrics.DefaultSettings())
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if *got.ContactRatio != 2 || *got.FCRRate != 0.5 {
		t.Errorf("got contact ratio %v, fcr rate %v, want 2 and 0.5", *got.ContactRatio, *got.FCRRate)
	}
	if groups != nil {
		t.Errorf("got groups %v without a grouping, want none", groups)
	}
}

func TestSummarizeGroups(t *testing.T) {
	// 1 October 2026 is a Thursday; weeks start on Mondays 28 September, 5 and 12 October.
	from, to := date("2026-10-01"), date("2026-10-15")
	rows := []metrics.Row{
		{CustomerKey: "a", Partner: "acme", Channel: "email", Stage: metrics.StagePreCheckIn, Created: date("2026-10-01").Add(10 * time.Hour)},
		{CustomerKey: "a", Partner: "acme", Channel: "chat", Stage: metrics.StageInDestination, Created: date("2026-10-02").Add(10 * time.Hour)},
		{CustomerKey: "b", Partner: "beta", Channel: "email", Created: date("2026-10-06").Add(10 * time.Hour)},
		{CustomerKey: "c", Stage: metrics.StagePostCheckOut, Created: date("2026-10-13").Add(10 * time.Hour)},
		{CustomerKey: "a", Partner: "acme", Channel: "email", Created: to}, // outside
	}
	bookings := []metrics.BookingRow{
		{Partner: "acme", Created: date("2026-10-01")},
		{Partner: "acme", Created: date("2026-10-03")},
		{Partner: "beta", Created: date("2026-10-07")},
		{Partner: "beta", Created: date("2026-10-07"), Cancelled: true},
		{Partner: "gamma", Created: date("2026-10-08")},
		{Partner: "acme", Created: date("2026-09-30")}, // outside
	}
	tests := []struct {
		groupBy string
		want    []string
	}{
		{metrics.GroupPartner, []string{
			"acme contacts=2 customers=1 repeat=1 bookings=2",
			"beta contacts=1 customers=1 repeat=0 bookings=1",
			"gamma contacts=0 customers=0 repeat=0 bookings=1", // bookings but no contacts: still a group
			"<nil> contacts=1 customers=1 repeat=0 bookings=0",
		}},
		{metrics.GroupChannel, []string{ // bookings have no channel: each group gets the period's
			"chat contacts=1 customers=1 repeat=0 bookings=4",
			"email contacts=2 customers=2 repeat=0 bookings=4",
			"<nil> contacts=1 customers=1 repeat=0 bookings=4",
		}},
		{metrics.GroupStage, []string{
			"in-destination contacts=1 customers=1 repeat=0 bookings=4",
			"post-check-out contacts=1 customers=1 repeat=0 bookings=4",
			"pre-check-in contacts=1 customers=1 repeat=0 bookings=4",
			"<nil> contacts=1 customers=1 repeat=0 bookings=4",
		}},
		{metrics.GroupDay, []string{ // a's two contacts fall on different days: no repeat within a day
			"2026-10-01 contacts=1 customers=1 repeat=0 bookings=1",
			"2026-10-02 contacts=1 customers=1 repeat=0 bookings=0",
			"2026-10-03 contacts=0 customers=0 repeat=0 bookings=1",
			"2026-10-04 contacts=0 customers=0 repeat=0 bookings=0",
			"2026-10-05 contacts=0 customers=0 repeat=0 bookings=0",
			"2026-10-06 contacts=1 customers=1 repeat=0 bookings=0",
			"2026-10-07 contacts=0 customers=0 repeat=0 bookings=1",
			"2026-10-08 contacts=0 customers=0 repeat=0 bookings=1",
			"2026-10-09 contacts=0 customers=0 repeat=0 bookings=0",
			"2026-10-10 contacts=0 customers=0 repeat=0 bookings=0",
			"2026-10-11 contacts=0 customers=0 repeat=0 bookings=0",
			"2026-10-12 contacts=0 customers=0 repeat=0 bookings=0",
			"2026-10-13 contacts=1 customers=1 repeat=0 bookings=0",
			"2026-10-14 contacts=0 customers=0 repeat=0 bookings=0",
		}},
		{metrics.GroupWeek, []string{
			"2026-09-28 contacts=2 customers=1 repeat=1 bookings=2",
			"2026-10-05 contacts=1 customers=1 repeat=0 bookings=2",
			"2026-10-12 contacts=1 customers=1 repeat=0 bookings=0",
		}},
		{metrics.GroupMonth, []string{
			"2026-10 contacts=4 customers=3 repeat=1 bookings=4",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.groupBy, func(t *testing.T) {
			totals, groups, err := metrics.Summarize(rows, bookings, from, to, tt.groupBy, metrics.DefaultSettings())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := describe(metrics.Group{Totals: totals}), "<nil> contacts=4 customers=3 repeat=1 bookings=4"; got != want {
				t.Errorf("totals: got %s, want %s", got, want)
			}
			if len(groups) != len(tt.want) {
				t.Fatalf("got %d groups, want %d", len(groups), len(tt.want))
			}
			for i, g := range groups {
				if got := describe(g); got != tt.want[i] {
					t.Errorf("group %d: got %s, want %s", i, got, tt.want[i])
				}
				if g.Contacts > 0 && g.ContactsPerCustomer == nil {
					t.Errorf("group %s: rates not derived", describe(g))
				}
			}
		})
	}
}

func TestSummarizeMonthsAcrossYear(t *testing.T) {
	from, to := date("2026-11-15"), date("2027-02-01")
	_, groups, err := metrics.Summarize(nil, nil, from, to, metrics.GroupMonth, metrics.DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range groups {
		got = append(got, *g.Key)
	}
	if want := "[2026-11 2026-12 2027-01]"; fmt.Sprint(got) != want {
		t.Errorf("got months %v, want %s", got, want)
	}
}

func TestSummarizeInvalid(t *testing.T) {
	from, to := date("2026-10-01"), date("2026-11-01")
	tests := []struct {
		name     string
		from, to time.Time
		groupBy  string
	}{
		{"unknown grouping", from, to, "customer"},
		{"grouping in capitals", from, to, "Day"},
		{"to before from", to, from, metrics.GroupNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := metrics.Summarize(nil, nil, tt.from, tt.to, tt.groupBy, metrics.DefaultSettings())
			if code := recontact.ErrorCode(err); code != recontact.EInvalid {
				t.Errorf("got error %v (code %q), want code %q", err, code, recontact.EInvalid)
			}
		})
	}
}

func TestValidGroupBy(t *testing.T) {
	for _, g := range []string{"", "partner", "channel", "stage", "day", "week", "month"} {
		if !metrics.ValidGroupBy(g) {
			t.Errorf("ValidGroupBy(%q) = false, want true", g)
		}
	}
	for _, g := range []string{"year", "customer", " day", "WEEK"} {
		if metrics.ValidGroupBy(g) {
			t.Errorf("ValidGroupBy(%q) = true, want false", g)
		}
	}
}

func TestBuckets(t *testing.T) {
	cest := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		t       time.Time
		groupBy string
		start   string
		key     string
	}{
		{time.Date(2026, 10, 5, 23, 59, 59, 0, time.UTC), metrics.GroupDay, "2026-10-05", "2026-10-05"},
		{time.Date(2026, 10, 6, 1, 0, 0, 0, cest), metrics.GroupDay, "2026-10-05", "2026-10-05"},          // 23:00 UTC the day before
		{time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC), metrics.GroupWeek, "2026-10-05", "2026-10-05"},     // a Monday
		{time.Date(2026, 10, 11, 23, 59, 59, 0, time.UTC), metrics.GroupWeek, "2026-10-05", "2026-10-05"}, // the Sunday after
		{time.Date(2026, 10, 5, 1, 0, 0, 0, cest), metrics.GroupWeek, "2026-09-28", "2026-09-28"},         // Sunday in UTC
		{time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC), metrics.GroupWeek, "2026-12-28", "2026-12-28"},     // week across the year
		{time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC), metrics.GroupMonth, "2026-10-01", "2026-10"},
		{time.Date(2026, 11, 1, 0, 30, 0, 0, cest), metrics.GroupMonth, "2026-10-01", "2026-10"},
	}
	for _, tt := range tests {
		start := metrics.BucketStart(tt.t, tt.groupBy)
		if got := start.Format(time.DateOnly); got != tt.start || start.Location() != time.UTC || start != date(tt.start) {
			t.Errorf("BucketStart(%v, %s) = %v, want %s UTC midnight", tt.t, tt.groupBy, start, tt.start)
		}
		if got := metrics.BucketKey(tt.t, tt.groupBy); got != tt.key {
			t.Errorf("BucketKey(%v, %s) = %q, want %q", tt.t, tt.groupBy, got, tt.key)
		}
	}
	if got := metrics.BucketStart(t0, metrics.GroupPartner); !got.IsZero() {
		t.Errorf("BucketStart(partner) = %v, want the zero time", got)
	}
	if got := metrics.BucketKey(t0, metrics.GroupPartner); got != "" {
		t.Errorf("BucketKey(partner) = %q, want empty", got)
	}
}

func TestBucketsClipped(t *testing.T) {
	from, to := date("2026-10-01").Add(6*time.Hour), date("2026-10-15")
	got := fmt.Sprint(metrics.Buckets(from, to, metrics.GroupWeek))
	want := fmt.Sprint([]metrics.Bucket{
		{From: from, To: date("2026-10-05"), Key: "2026-09-28"}, // starts mid-week: clipped to the period
		{From: date("2026-10-05"), To: date("2026-10-12"), Key: "2026-10-05"},
		{From: date("2026-10-12"), To: to, Key: "2026-10-12"},
	})
	if got != want {
		t.Errorf("weeks: got %s, want %s", got, want)
	}
	if got := metrics.Buckets(from, to, metrics.GroupPartner); got != nil {
		t.Errorf("partner: got %v, want no buckets", got)
	}
	if got := metrics.Buckets(from, from, metrics.GroupDay); got != nil {
		t.Errorf("empty period: got %v, want no buckets", got)
	}
}

func TestSummarizeEmptyPeriod(t *testing.T) {
	from := date("2026-10-01").Add(6 * time.Hour)
	totals, groups, err := metrics.Summarize(nil, nil, from, from, metrics.GroupDay, metrics.DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	if totals.Contacts != 0 || len(groups) != 0 {
		t.Errorf("got %d contacts in %d groups, want none", totals.Contacts, len(groups))
	}
}
