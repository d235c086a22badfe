package metrics

import (
	"cmp"
	"slices"
	"sort"
	"time"

	"github.com/recontact/recontact"
)

// Evaluate gives the verdict of each of one customer's contacts: verdict i is
// for cs[i]. Pass every contact of the customer, in any order: a contact that
// arrives late can change the verdict of an earlier one (a new ticket inside
// the FCR window turns a provisional FCR into not-FCR), so each verdict is
// computed against the whole set.
//
// A contact with no customer key cannot be linked to any other: evaluate it
// alone. bookings are taken as the customer's: pass the bookings with the
// customer's key plus those the contacts name by BookingRef (metrics.md: the
// customer or the ticket's booking reference matches). Cancelled bookings are
// ignored. now only decides whether a one-touch FCR is final yet.
//
// Contacts are ordered by Created, then Source, then TicketID (compared as
// strings), so of two contacts created in the same instant the second is a
// repeat of the first. The repeat window includes its far end: a contact
// exactly RepeatWindow earlier makes a repeat.
//
// Cost, for n contacts and m bookings: O(n log n + m log m) to sort, then per
// contact O(k) for the k contacts in its repeat window (which are copied into
// Previous anyway), O(log n) for the FCR window, O(log m) for the order window
// and O(m) for the stage. One customer has tens of contacts and bookings at
// most, so the linear stage scan is cheaper than building an interval index.
func Evaluate(cs []Contact, bookings []recontact.Booking, s Settings, now time.Time) []Verdict {
	order := make([]int, len(cs)) // indexes into cs, oldest first; cs itself is the caller's
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return compareContacts(cs[a], cs[b]) })
	created := make([]time.Time, len(order))
	for pos, i := range order {
		created[pos] = cs[i].Created
	}
	orders := bookingTimes(bookings)
	stays := parseStays(bookings)

	out := make([]Verdict, len(cs))
	first := 0 // position of the oldest contact inside the current repeat window
	for pos, i := range order {
		c := cs[i]
		windowStart := c.Created.Add(-s.RepeatWindow)
		for first < pos && created[first].Before(windowStart) {
			first++ // created only grows with pos, so first never moves back
		}
		v := &out[i]
		for _, j := range order[first:pos] {
			v.Previous = append(v.Previous, Ref{Source: cs[j].Source, TicketID: cs[j].TicketID})
		}
		v.Repeat = len(v.Previous) > 0
		v.FCR, v.FCRFinal = fcr(c, pos, created, s.FCRWindow, now)
		v.Stage = stage(c, stays)
		v.FollowedByOrder = anyIn(orders, c.Created, c.Created.Add(s.OrderWindow))
	}
	return out
}

func compareContacts(a, b Contact) int {
	return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Source, b.Source), cmp.Compare(a.TicketID, b.TicketID))
}

// fcr applies metrics.md to the contact at position pos of created (the
// customer's contact times, ascending). A one-touch resolution stays
// provisional until the window has passed; every not-FCR is final, because
// neither a reply, a reopen nor a later contact can be undone.
func fcr(c Contact, pos int, created []time.Time, window time.Duration, now time.Time) (FCR, bool) {
	switch {
	case c.Resolved.IsZero():
		return FCRPending, false
	case c.Replies > 1 || c.Reopens > 0:
		return FCRNo, true
	}
	end := c.Resolved.Add(window)
	// The customer came back in (Resolved, end]. The contact itself only falls
	// there if its clocks disagree (created after resolved); it must not count.
	k := sort.Search(len(created), func(k int) bool { return created[k].After(c.Resolved) })
	if k == pos {
		k++
	}
	if k < len(created) && !created[k].After(end) {
		return FCRNo, true
	}
	return FCRYes, !now.Before(end)
}

// bookingTimes returns when the non-cancelled bookings were made, ascending.
func bookingTimes(bs []recontact.Booking) []time.Time {
	var ts []time.Time
	for _, b := range bs {
		if !b.Cancelled() {
			ts = append(ts, b.CreatedAt)
		}
	}
	slices.SortFunc(ts, time.Time.Compare)
	return ts
}

// anyIn reports whether ts, ascending, holds a time in (after, until].
func anyIn(ts []time.Time, after, until time.Time) bool {
	k := sort.Search(len(ts), func(k int) bool { return ts[k].After(after) })
	return k < len(ts) && !ts[k].After(until)
}

// stay is a non-cancelled booking with usable dates.
type stay struct {
	id      string
	created time.Time
	in, out time.Time // midnight UTC of the check-in and check-out dates
}

// parseStays keeps the bookings that can give a stage: not cancelled, with
// both dates and check-out not before check-in (metrics.md: "a booking with
// check-in and check-out dates").
func parseStays(bs []recontact.Booking) []stay {
	var stays []stay
	for _, b := range bs {
		if b.Cancelled() {
			continue
		}
		in, errIn := time.Parse(time.DateOnly, b.CheckIn)
		out, errOut := time.Parse(time.DateOnly, b.CheckOut)
		if errIn != nil || errOut != nil || out.Before(in) {
			continue
		}
		stays = append(stays, stay{id: b.ID, created: b.CreatedAt, in: in, out: out})
	}
	return stays
}

// stage places the contact's UTC creation date against the stay it matches:
// the booking its BookingRef names, else the stay nearest that date (0 days
// inside a stay), ties going to the most recently made booking and then to
// the greater ID so the input order never decides.
func stage(c Contact, stays []stay) Stage {
	y, m, d := c.Created.UTC().Date()
	date := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	best := -1
	if c.BookingRef != "" {
		best = slices.IndexFunc(stays, func(st stay) bool { return st.id == c.BookingRef })
	}
	if best < 0 {
		for k, st := range stays {
			if best < 0 || closer(date, st, stays[best]) {
				best = k
			}
		}
	}
	switch {
	case best < 0:
		return StageNone
	case date.Before(stays[best].in):
		return StagePreCheckIn
	case date.After(stays[best].out):
		return StagePostCheckOut
	default:
		return StageInDestination
	}
}

// closer reports whether a is a better match than b for a contact created on date.
func closer(date time.Time, a, b stay) bool {
	return cmp.Or(
		cmp.Compare(distance(date, a), distance(date, b)),
		b.created.Compare(a.created), // later made wins
		cmp.Compare(b.id, a.id),
	) < 0
}

func distance(date time.Time, st stay) time.Duration {
	switch {
	case date.Before(st.in):
		return st.in.Sub(date)
	case date.After(st.out):
		return date.Sub(st.out)
	}
	return 0
}
