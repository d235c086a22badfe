package metrics

import (
	"slices"
	"strings"
	"time"

	"github.com/recontact/recontact"
)

// Groupings Summarize accepts (the HTTP layer's group_by). GroupNone reports
// the totals only.
const (
	GroupNone    = ""
	GroupPartner = "partner"
	GroupChannel = "channel"
	GroupStage   = "stage"
	GroupDay     = "day"
	GroupWeek    = "week"
	GroupMonth   = "month"
)

// ValidGroupBy reports whether Summarize accepts groupBy, GroupNone included.
func ValidGroupBy(groupBy string) bool {
	switch groupBy {
	case GroupNone, GroupPartner, GroupChannel, GroupStage, GroupDay, GroupWeek, GroupMonth:
		return true
	}
	return false
}

func isTimeGroup(groupBy string) bool {
	return groupBy == GroupDay || groupBy == GroupWeek || groupBy == GroupMonth
}

// BucketStart returns the start of the UTC day, ISO week (Monday) or month
// holding t, for groupBy day, week or month; for any other groupBy it returns
// the zero time.
func BucketStart(t time.Time, groupBy string) time.Time {
	y, m, d := t.UTC().Date()
	switch groupBy {
	case GroupDay:
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	case GroupWeek:
		back := (int(t.UTC().Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-back, 0, 0, 0, 0, time.UTC)
	case GroupMonth:
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Time{}
}

// BucketKey names the bucket holding t: its start date ("2026-10-05") for day
// and week, "2026-10" for month, "" for any other groupBy. Keys sort as their
// buckets do.
func BucketKey(t time.Time, groupBy string) string {
	switch groupBy {
	case GroupDay, GroupWeek:
		return BucketStart(t, groupBy).Format(time.DateOnly)
	case GroupMonth:
		return BucketStart(t, groupBy).Format("2006-01")
	}
	return ""
}

func nextBucket(start time.Time, groupBy string) time.Time {
	switch groupBy {
	case GroupWeek:
		return start.AddDate(0, 0, 7)
	case GroupMonth:
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}

// Row is one evaluated contact as Summarize needs it.
type Row struct {
	CustomerKey     string
	Partner         string
	Channel         string
	Stage           Stage
	Created         time.Time
	Resolved        bool
	FCR             FCR
	FollowedByOrder bool
}

// BookingRow is one booking as Summarize needs it.
type BookingRow struct {
	Partner   string
	Created   time.Time
	Cancelled bool
}

// Group is one group's totals. Key is nil for the group of contacts with no
// partner, channel or stage.
type Group struct {
	Key *string `json:"key"`
	Totals
}

// Summarize computes metrics.md's rates over the cohort of a period: the
// contacts created in [from, to) and the bookings made in it that are not
// cancelled. It is the reference the store's SQL is tested against, so it
// favours plain counting over speed.
//
// Counts: resolved counts Resolved rows; first_contact_resolved counts FCRYes,
// provisional ones included; customers are distinct CustomerKeys, except that
// each contact with an empty key is a customer of its own (someone unknown,
// never a repeat); repeat_customers have 2 or more contacts in the cohort, and
// within the group when grouped.
//
// Groups: partner groups are every partner with a contact or a booking in the
// period (a partner without contacts has ratio 0, the best case, and must not
// vanish), each with its own bookings. Channel and stage groups are those of
// the contacts, and carry the whole period's bookings: a booking has neither,
// so their contact ratio compares a slice of contacts with all bookings.
// Day, week and month groups are those of Buckets: every UTC bucket
// overlapping [from, to), empty ones included, keyed by BucketKey, the first
// and last possibly partial.
// Time groups sort by key; the others by key with the nil key last.
func Summarize(rows []Row, bookings []BookingRow, from, to time.Time, groupBy string, s Settings) (Totals, []Group, error) {
	if !ValidGroupBy(groupBy) {
		return Totals{}, nil, recontact.Errorf(recontact.EInvalid, "group_by must be one of partner, channel, stage, day, week, month")
	}
	if to.Before(from) {
		return Totals{}, nil, recontact.Errorf(recontact.EInvalid, "to is before from")
	}
	inPeriod := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }

	all := newTally()
	groups := map[groupKey]*tally{}
	group := func(k groupKey) *tally {
		if groups[k] == nil {
			groups[k] = newTally()
		}
		return groups[k]
	}
	for _, b := range Buckets(from, to, groupBy) {
		group(groupKey{name: b.Key}) // every bucket is reported, empty or not
	}

	for _, r := range rows {
		if !inPeriod(r.Created) {
			continue
		}
		all.add(r)
		switch groupBy {
		case GroupPartner:
			group(keyOf(r.Partner)).add(r)
		case GroupChannel:
			group(keyOf(r.Channel)).add(r)
		case GroupStage:
			group(keyOf(string(r.Stage))).add(r)
		case GroupDay, GroupWeek, GroupMonth:
			group(groupKey{name: BucketKey(r.Created, groupBy)}).add(r)
		}
	}
	for _, b := range bookings {
		if b.Cancelled || !inPeriod(b.Created) {
			continue
		}
		all.Bookings++
		switch groupBy {
		case GroupPartner:
			group(keyOf(b.Partner)).Bookings++
		case GroupDay, GroupWeek, GroupMonth:
			group(groupKey{name: BucketKey(b.Created, groupBy)}).Bookings++
		}
	}

	totals := all.totals(s)
	if groupBy == GroupNone {
		return totals, nil, nil
	}
	out := make([]Group, 0, len(groups))
	for k, t := range groups {
		if groupBy == GroupChannel || groupBy == GroupStage {
			t.Bookings = totals.Bookings
		}
		g := Group{Totals: t.totals(s)}
		if !k.none {
			g.Key = &k.name
		}
		out = append(out, g)
	}
	slices.SortFunc(out, compareGroups)
	return totals, out, nil
}

// groupKey tells the nil key (none) from the empty string, which no group
// uses but keeps the map honest.
type groupKey struct {
	name string
	none bool
}

func keyOf(value string) groupKey {
	return groupKey{name: value, none: value == ""}
}

// compareGroups orders by key, nil last. Time keys are ISO dates or months,
// so ordering them as strings is ordering them in time.
func compareGroups(a, b Group) int {
	switch {
	case a.Key == nil && b.Key == nil:
		return 0
	case a.Key == nil:
		return 1
	case b.Key == nil:
		return -1
	}
	return strings.Compare(*a.Key, *b.Key)
}

// tally counts one set of contacts; customers are settled by totals.
type tally struct {
	Totals
	contactsOf map[string]int // contacts per known customer key
}

func newTally() *tally { return &tally{contactsOf: map[string]int{}} }

func (t *tally) add(r Row) {
	t.Contacts++
	if r.Resolved {
		t.Resolved++
	}
	if r.FCR == FCRYes {
		t.FirstContactResolved++
	}
	if r.FollowedByOrder {
		t.ContactsFollowedByOrder++
	}
	if r.CustomerKey == "" {
		t.Customers++ // unknown requester: cannot be matched to another contact
		return
	}
	t.contactsOf[r.CustomerKey]++
}

func (t *tally) totals(s Settings) Totals {
	out := t.Totals
	out.Customers += len(t.contactsOf)
	for _, n := range t.contactsOf {
		if n >= 2 {
			out.RepeatCustomers++
		}
	}
	out.Derive(s)
	return out
}
