package metrics_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
)

const day = 24 * time.Hour

// t0 is a Monday morning in the middle of October 2026.
var t0 = time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)

func zd(id string, created time.Time) metrics.Contact {
	return metrics.Contact{Source: recontact.SourceZendesk, TicketID: id, Created: created}
}

// solved returns c resolved at the given time with the given public replies.
func solved(c metrics.Contact, at time.Time, replies int) metrics.Contact {
	c.Resolved, c.Replies = at, replies
	return c
}

func ref(c metrics.Contact) metrics.Ref { return metrics.Ref{Source: c.Source, TicketID: c.TicketID} }

func booking(id string, created time.Time, checkIn, checkOut string) recontact.Booking {
	return recontact.Booking{ID: id, CustomerKey: "a@example.com", CreatedAt: created, CheckIn: checkIn, CheckOut: checkOut}
}

func cancelled(b recontact.Booking) recontact.Booking {
	b.Status = recontact.BookingCancelled
	return b
}

func TestEvaluateRepeat(t *testing.T) {
	s := metrics.DefaultSettings()
	a := zd("1", t0)
	fd := metrics.Contact{Source: recontact.SourceFreshdesk, TicketID: "9", Created: t0}
	tests := []struct {
		name string
		cs   []metrics.Contact
		want [][]metrics.Ref // Previous per contact; Repeat is whether it is non-empty
	}{
		{"single contact", []metrics.Contact{a}, [][]metrics.Ref{nil}},
		{
			"exactly the window before is inside",
			[]metrics.Contact{a, zd("2", t0.Add(7*day))},
			[][]metrics.Ref{nil, {ref(a)}},
		},
		{
			"just over the window before is outside",
			[]metrics.Contact{a, zd("2", t0.Add(7*day+time.Nanosecond))},
			[][]metrics.Ref{nil, nil},
		},
		{
			"out of order input, previous oldest first",
			[]metrics.Contact{zd("3", t0.Add(2*day)), a, zd("2", t0.Add(day))},
			[][]metrics.Ref{{ref(a), ref(zd("2", t0))}, nil, {ref(a)}},
		},
		{
			"window slides past old contacts",
			[]metrics.Contact{a, zd("2", t0.Add(5*day)), zd("3", t0.Add(10*day))},
			[][]metrics.Ref{nil, {ref(a)}, {ref(zd("2", t0))}},
		},
		{
			"same instant: source then ticket id decides which is the repeat",
			[]metrics.Contact{a, fd},
			[][]metrics.Ref{{ref(fd)}, nil},
		},
		{
			"same instant and source: ticket ids compare as strings",
			[]metrics.Contact{zd("2", t0), zd("10", t0)},
			[][]metrics.Ref{{ref(zd("10", t0))}, nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := metrics.Evaluate(tt.cs, nil, s, t0)
			for i, v := range got {
				if !slices.Equal(v.Previous, tt.want[i]) || v.Repeat != (len(tt.want[i]) > 0) {
					t.Errorf("contact %s: got repeat %v previous %v, want previous %v", tt.cs[i].TicketID, v.Repeat, v.Previous, tt.want[i])
				}
			}
		})
	}
}

func TestEvaluateFCR(t *testing.T) {
	s := metrics.DefaultSettings()
	resolved := t0.Add(2 * time.Hour)
	end := resolved.Add(7 * day) // end of the FCR window
	later := end.Add(30 * day)   // long after every window
	oneTouch := solved(zd("1", t0), resolved, 1)
	type fcr struct {
		FCR   metrics.FCR
		Final bool
	}
	pending := fcr{metrics.FCRPending, false}
	tests := []struct {
		name string
		cs   []metrics.Contact
		now  time.Time
		want []fcr
	}{
		{"unresolved is pending", []metrics.Contact{zd("1", t0)}, later, []fcr{pending}},
		{"two replies", []metrics.Contact{solved(zd("1", t0), resolved, 2)}, t0, []fcr{{metrics.FCRNo, true}}},
		{
			"reopened after resolution",
			[]metrics.Contact{func() metrics.Contact { c := oneTouch; c.Reopens = 1; return c }()},
			t0,
			[]fcr{{metrics.FCRNo, true}},
		},
		{"one touch, window open", []metrics.Contact{oneTouch}, end.Add(-time.Nanosecond), []fcr{{metrics.FCRYes, false}}},
		{"one touch, window just closed", []metrics.Contact{oneTouch}, end, []fcr{{metrics.FCRYes, true}}},
		{"resolved without a public reply", []metrics.Contact{solved(zd("1", t0), resolved, 0)}, later, []fcr{{metrics.FCRYes, true}}},
		{
			"new contact exactly at the window's end",
			[]metrics.Contact{oneTouch, zd("2", end)},
			t0,
			[]fcr{{metrics.FCRNo, true}, pending},
		},
		{
			"new contact just after the window",
			[]metrics.Contact{oneTouch, zd("2", end.Add(time.Nanosecond))},
			later,
			[]fcr{{metrics.FCRYes, true}, pending},
		},
		{
			"late arrival listed first flips the earlier contact",
			[]metrics.Contact{zd("2", resolved.Add(3*day)), oneTouch},
			later,
			[]fcr{pending, {metrics.FCRNo, true}},
		},
		{
			"contact before the resolution is not a comeback",
			[]metrics.Contact{oneTouch, zd("2", t0.Add(time.Hour))},
			later,
			[]fcr{{metrics.FCRYes, true}, pending},
		},
		{
			"contact at the resolution instant is not a comeback",
			[]metrics.Contact{oneTouch, zd("2", resolved)},
			later,
			[]fcr{{metrics.FCRYes, true}, pending},
		},
		{
			"a contact created after its own resolution does not undo itself",
			[]metrics.Contact{solved(zd("1", resolved.Add(time.Minute)), resolved, 1)},
			later,
			[]fcr{{metrics.FCRYes, true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := metrics.Evaluate(tt.cs, nil, s, tt.now)
			for i, v := range got {
				if g := (fcr{v.FCR, v.FCRFinal}); g != tt.want[i] {
					t.Errorf("contact %s: got %+v, want %+v", tt.cs[i].TicketID, g, tt.want[i])
				}
			}
		})
	}
}

func TestEvaluateStage(t *testing.T) {
	s := metrics.DefaultSettings()
	stay := booking("A", t0, "2026-10-10", "2026-10-14")
	at := func(date string, clock string) time.Time {
		tm, err := time.Parse(time.DateOnly+" 15:04:05", date+" "+clock)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name     string
		created  time.Time
		ref      string
		bookings []recontact.Booking
		want     metrics.Stage
	}{
		{"no bookings", at("2026-10-11", "12:00:00"), "", nil, metrics.StageNone},
		{"only a cancelled booking", at("2026-10-11", "12:00:00"), "", []recontact.Booking{cancelled(stay)}, metrics.StageNone},
		{"booking without dates", at("2026-10-11", "12:00:00"), "", []recontact.Booking{booking("A", t0, "", "")}, metrics.StageNone},
		{"last second before check-in", at("2026-10-09", "23:59:59"), "", []recontact.Booking{stay}, metrics.StagePreCheckIn},
		{"the check-in date itself", at("2026-10-10", "00:00:00"), "", []recontact.Booking{stay}, metrics.StageInDestination},
		{"the check-out date itself", at("2026-10-14", "23:59:59"), "", []recontact.Booking{stay}, metrics.StageInDestination},
		{"the day after check-out", at("2026-10-15", "00:00:00"), "", []recontact.Booking{stay}, metrics.StagePostCheckOut},
		{
			"the UTC date counts, not the local one",
			time.Date(2026, 10, 10, 1, 0, 0, 0, time.FixedZone("EEST", 3*60*60)), // 9 October 22:00 UTC
			"", []recontact.Booking{stay}, metrics.StagePreCheckIn,
		},
		{
			"booking reference beats the stay around the contact",
			at("2026-10-12", "12:00:00"), "B",
			[]recontact.Booking{stay, booking("B", t0, "2026-11-20", "2026-11-22")},
			metrics.StagePreCheckIn,
		},
		{
			"reference to a cancelled booking falls back to the nearest stay",
			at("2026-10-12", "12:00:00"), "B",
			[]recontact.Booking{stay, cancelled(booking("B", t0, "2026-11-20", "2026-11-22"))},
			metrics.StageInDestination,
		},
		{
			"nearest stay",
			at("2026-10-30", "12:00:00"), "",
			[]recontact.Booking{stay, booking("B", t0, "2026-11-02", "2026-11-05")},
			metrics.StagePreCheckIn,
		},
		{
			"equally near: the later booking wins",
			at("2026-10-20", "12:00:00"), "",
			[]recontact.Booking{booking("B", t0.Add(time.Hour), "2026-10-25", "2026-10-28"), booking("A", t0, "2026-10-10", "2026-10-15")},
			metrics.StagePreCheckIn,
		},
		{
			"equally near: the later booking wins, whichever it is",
			at("2026-10-20", "12:00:00"), "",
			[]recontact.Booking{booking("B", t0, "2026-10-25", "2026-10-28"), booking("A", t0.Add(time.Hour), "2026-10-10", "2026-10-15")},
			metrics.StagePostCheckOut,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := zd("1", tt.created)
			c.BookingRef = tt.ref
			if got := metrics.Evaluate([]metrics.Contact{c}, tt.bookings, s, t0)[0].Stage; got != tt.want {
				t.Errorf("got stage %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEvaluateFollowedByOrder(t *testing.T) {
	s := metrics.DefaultSettings()
	tests := []struct {
		name     string
		bookings []recontact.Booking
		want     bool
	}{
		{"no bookings", nil, false},
		{"booked before the contact", []recontact.Booking{booking("A", t0.Add(-time.Hour), "", "")}, false},
		{"booked in the contact's instant", []recontact.Booking{booking("A", t0, "", "")}, false},
		{"booked just after", []recontact.Booking{booking("A", t0.Add(time.Nanosecond), "", "")}, true},
		{"booked exactly at the window's end", []recontact.Booking{booking("A", t0.Add(7*day), "", "")}, true},
		{"booked just after the window", []recontact.Booking{booking("A", t0.Add(7*day+time.Nanosecond), "", "")}, false},
		{"cancelled booking", []recontact.Booking{cancelled(booking("A", t0.Add(day), "", ""))}, false},
		{
			"one of several bookings in the window",
			[]recontact.Booking{booking("A", t0.Add(-day), "", ""), booking("B", t0.Add(9*day), "", ""), booking("C", t0.Add(2*day), "", "")},
			true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := metrics.Evaluate([]metrics.Contact{zd("1", t0)}, tt.bookings, s, t0)[0].FollowedByOrder; got != tt.want {
				t.Errorf("got followed by order %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEvaluateWhole checks every field at once on an out-of-order history, and
// that the caller's slice is left as it was.
func TestEvaluateWhole(t *testing.T) {
	s := metrics.DefaultSettings()
	first := solved(zd("100", t0), t0.Add(time.Hour), 1)
	first.BookingRef = "B1"
	second := zd("101", t0.Add(2*day)) // back inside the FCR window, a day after B1's stay
	third := solved(zd("102", t0.Add(20*day)), t0.Add(20*day+time.Hour), 1)
	cs := []metrics.Contact{third, first, second}
	input := slices.Clone(cs)
	bookings := []recontact.Booking{
		booking("B1", t0.Add(-30*day), "2026-10-04", "2026-10-06"),
		booking("B2", t0.Add(3*day), "2026-11-01", "2026-11-03"),
	}
	now := t0.Add(22 * day) // third's FCR window is still open

	got := metrics.Evaluate(cs, bookings, s, now)
	want := []metrics.Verdict{
		{FCR: metrics.FCRYes, FCRFinal: false, Stage: metrics.StagePreCheckIn},
		{FCR: metrics.FCRNo, FCRFinal: true, Stage: metrics.StageInDestination, FollowedByOrder: true},
		{Repeat: true, Previous: []metrics.Ref{ref(first)}, FCR: metrics.FCRPending, Stage: metrics.StagePostCheckOut, FollowedByOrder: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if !slices.Equal(cs, input) {
		t.Errorf("Evaluate reordered its input: got %v, want %v", cs, input)
	}
	if got := metrics.Evaluate(nil, bookings, s, now); len(got) != 0 {
		t.Errorf("no contacts: got %d verdicts, want 0", len(got))
	}
}
